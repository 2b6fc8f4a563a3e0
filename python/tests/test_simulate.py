"""`commonsnet.simulate` against `commonsnet simulate`, and `commonsnet.ray.sweep` on a local Ray
cluster of 2 workers against `simulate`, also with a worker killed mid-sweep."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import commonsnet
from commonsnet import _commonsnet

# Everything but the measured time of each run.
MEASURED = ["solve_ms"]


def without_timing(t: pa.Table) -> pa.Table:
    return t.drop_columns([c for c in MEASURED if c in t.column_names])


ARGS: dict[str, Any] = dict(
    scenarios=3, scale=0.3, seed=11, policies=["greedy", "coverage", "maxmin"], replicates=2,
    perturb={"demand": 0.2, "failures": 0.05, "travel_time": 0.1},
)


def test_simulate_equals_the_cli_parquet(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    cli(
        "simulate", "--generator", "urban", "--scenarios", "3", "--scale", "0.3", "--seed", "11",
        "--policies", "greedy,coverage,maxmin", "--replicates", "2",
        "--perturb", "demand=0.2,failures=0.05,travel_time=0.1", "--out", str(out),
    )
    want = pq.read_table(out)
    got = commonsnet.simulate("urban", **ARGS)
    assert got.num_rows == 18
    assert without_timing(got).equals(without_timing(want)), (got.schema, want.schema)
    # The table does not depend on the threads.
    assert without_timing(commonsnet.simulate("urban", threads=1, **ARGS)).equals(without_timing(got))


def test_simulate_of_a_given_scenario_and_bad_arguments(flood: dict[str, Any]) -> None:
    t = commonsnet.simulate(scenario=flood, policies=["greedy", "coverage"], replicates=3, perturb={"demand": 0.1})
    assert t.num_rows == 6
    assert set(t.column("status").to_pylist()) <= {"optimal", "feasible"}
    with pytest.raises(commonsnet.InvalidArgument, match="neither a generator .* nor a scenario file or folder"):
        commonsnet.simulate("volcano")
    with pytest.raises(commonsnet.InvalidArgument, match="too many runs"):
        commonsnet.simulate("urban", scenarios=2**63, replicates=2)
    # No scenarios is refused, as `commonsnet simulate --scenarios 0` refuses it.
    with pytest.raises(commonsnet.InvalidArgument, match="scenarios must be a whole number of at least 1"):
        commonsnet.simulate("urban", scenarios=0)
    with pytest.raises(commonsnet.InvalidArgument, match="scenarios must be a whole number of at least 1"):
        commonsnet.simulate(scenario=flood, scenarios=0)
    with pytest.raises(ValueError, match="perturb"):
        commonsnet.simulate("urban", perturb={"hail": 0.1})
    with pytest.raises(ValueError):
        commonsnet.simulate("urban", policies=["fastest"])
    with pytest.raises(TypeError):
        commonsnet.simulate()
    # Whole numbers named with their ranges, as the CLI names them.
    for seed in (2**64, -1, True, 1.5):
        with pytest.raises(commonsnet.InvalidArgument, match=r"seed must be a whole number in \[0, 2\^64\)"):
            commonsnet.simulate("urban", seed=seed)
    for what in ("scenarios", "replicates"):
        for bad in (-1, 0, True, 2**80):
            with pytest.raises(commonsnet.InvalidArgument, match=f"{what} must be a whole number of at least 1"):
                commonsnet.simulate("urban", **{what: bad})
    # Past 2^64 said as given (it reached the engine as a float, and was named as one).
    with pytest.raises(commonsnet.InvalidArgument, match=r"below 2\^64\), not 1208925819614629174706176"):
        commonsnet.simulate("urban", replicates=2**80)
    # A set of policies in the order of their names, whatever the hash seed.
    assert without_timing(commonsnet.simulate(scenario=flood, policies={"greedy", "coverage"})).equals(
        without_timing(commonsnet.simulate(scenario=flood, policies=["coverage", "greedy"]))
    )
    # The CLI's comma-separated policies.
    assert without_timing(commonsnet.simulate(scenario=flood, policies="greedy, coverage")).equals(
        without_timing(commonsnet.simulate(scenario=flood, policies=["greedy", "coverage"]))
    )


def test_simulate_takes_a_scenarios_path_and_tables_as_the_cli_does(cli: Any, tmp_path: Path) -> None:
    """A scenario's folder of tables or JSON file (the CLI's `--generator PATH`) and a
    `Scenario` of tables give the CLI's run table (a path was taken for an unknown generator,
    and tables were refused: a researcher editing tables in polars could not simulate them)."""
    folder = tmp_path / "disaster"
    cli("generate", "disaster", "--seed", "3", "--scale", "0.5", "--out", str(folder))
    args = dict(policies=["greedy", "maxmin"], replicates=3, seed=5, perturb={"demand": 0.2})
    out = tmp_path / "runs.parquet"
    cli(
        "simulate", "--generator", str(folder), "--policies", "greedy,maxmin", "--replicates", "3",
        "--seed", "5", "--perturb", "demand=0.2", "--out", str(out),
    )
    want = without_timing(pq.read_table(out))
    assert want.num_rows == 6
    assert without_timing(commonsnet.simulate(folder, **args)).equals(want)
    assert without_timing(commonsnet.simulate(str(folder), **args)).equals(want)
    # The same tables given as a Scenario (generate's equal the CLI's), named as the folder.
    generated = commonsnet.generate("disaster", seed=3, scale=0.5)
    tables = dataclasses.replace(generated, name=want.column("scenario")[0].as_py())
    assert without_timing(commonsnet.simulate(scenario=tables, **args)).equals(want)
    # A table's problem is named by its table, row and column, as `solve` names it.
    bad = commonsnet.Scenario(
        name="bad", resources=tables.resources,
        needs=tables.needs.set_column(0, "id", pa.array([""] * tables.needs.num_rows)),
        policy=tables.policy,
    )
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.simulate(scenario=bad, **args)
    assert (e.value.details[0]["table"], e.value.details[0]["row"]) == ("needs", 0), e.value.details
    with pytest.raises(commonsnet.InvalidArgument, match="scale and timed apply to generators"):
        commonsnet.simulate(folder, scale=2.0)
    with pytest.raises(commonsnet.InvalidArgument, match="scenarios, scale and timed apply to generators"):
        commonsnet.simulate(folder, scenarios=3)


def test_scenarios_scale_and_timed_are_refused_with_a_given_scenario(cli: Any, flood: dict[str, Any], tmp_path: Path) -> None:
    """A given scenario is one scenario with its own size and policy: an explicit scenarios,
    scale or timed is said to be wrong, as the CLI says it for a file, not silently ignored."""
    path = tmp_path / "flood.json"
    path.write_text(json.dumps(flood))
    with pytest.raises(subprocess.CalledProcessError) as e:
        cli("simulate", "--generator", str(path), "--scale", "5", "--out", str(tmp_path / "r.parquet"))
    assert "--scale and --timed apply to generators" in e.value.stderr
    for bad in (dict(scale=5.0), dict(scale=1.0), dict(timed=True), dict(timed=False), dict(scenarios=5), dict(scenarios=10)):
        with pytest.raises(commonsnet.InvalidArgument, match="scale and timed apply to generators"):
            commonsnet.simulate(scenario=flood, policies=["greedy"], **bad)
    # Not given, they are the generator's defaults.
    assert commonsnet.simulate(scenario=flood, policies=["greedy"]).num_rows == 1
    assert without_timing(commonsnet.simulate("urban", scenarios=1, scale=1.0, timed=False, policies=["greedy"])).equals(
        without_timing(commonsnet.simulate("urban", scenarios=1, policies=["greedy"]))
    )


def test_the_run_bound_is_the_clis(cli: Any, tmp_path: Path) -> None:
    """At most 10,000,000 runs a call, as `commonsnet simulate`: counted before any run."""
    out = str(tmp_path / "r.parquet")
    with pytest.raises(subprocess.CalledProcessError) as e:
        cli("simulate", "--generator", "urban", "--scenarios", "10000001", "--policies", "greedy", "--out", out)
    assert "more than 10000000 runs in one call" in e.value.stderr
    assert _commonsnet.simulate_total(json.dumps({"generator": "urban", "scenarios": 10_000_000, "policies": ["greedy"]})) == 10_000_000
    for scenarios, policies in ((10_000_001, ["greedy"]), (5_000_001, ["greedy", "maxmin"]), (10**13, ["greedy"])):
        with pytest.raises(commonsnet.InvalidArgument, match="more than 10000000 runs in one call"):
            commonsnet.simulate("urban", scenarios=scenarios, policies=policies)
        with pytest.raises(commonsnet.InvalidArgument, match="more than 10000000 runs in one call"):
            _commonsnet.simulate_total(json.dumps({"generator": "urban", "scenarios": scenarios, "policies": policies}))


def test_ctrl_c_stops_a_long_simulate(flood: dict[str, Any]) -> None:
    """SIGINT during one engine call (one chunk of up to 100,000 runs) raises KeyboardInterrupt
    within about a tenth of a second, not once every run of the chunk is done."""
    args: dict[str, Any] = dict(scenario=flood, policies=["greedy"], threads=1)
    start = time.perf_counter()
    commonsnet.simulate(replicates=20, **args)
    per_run = (time.perf_counter() - start) / 20
    # A run count the whole call would take about 30 s with (within one chunk).
    runs = max(20, min(100_000, int(30 / per_run)))
    full = runs * per_run
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        timer.start()
        commonsnet.simulate(replicates=runs, **args)
    took = time.perf_counter() - start
    timer.join()
    assert took < min(full / 4, 0.5 + 5), (took, full)


def test_an_interpreter_that_exits_during_a_call_prints_no_panic() -> None:
    """A long call on a daemon thread when the main thread ends: the watch for Ctrl-C attached
    to an interpreter shutting down, and a Rust panic was printed at exit."""
    script = (
        "import threading, time, commonsnet\n"
        "t = threading.Thread(target=lambda: (commonsnet.simulate('urban', scenarios=1000, "
        "policies=['coverage'], threads=1), print('returned')), daemon=True)\n"
        "t.start(); time.sleep(1.0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "panicked" not in done.stderr, done.stderr
    # The call was still running at the end (it was called off, not finished).
    assert "returned" not in done.stdout


@pytest.fixture(scope="module")
def local_ray() -> Any:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_sweep_checks_its_arguments_before_ray_starts() -> None:
    """A bad chunk or policy is refused at once, with no cluster started for it (a typo left
    a Ray cluster running; a chunk of 0 or 10**9 was clamped without a word)."""
    ray = pytest.importorskip("ray")
    from commonsnet.ray import sweep

    if ray.is_initialized():
        pytest.skip("a Ray cluster is already running in this process")
    for chunk in (0, -3, 10**9, 1.5, "2"):
        with pytest.raises(commonsnet.InvalidArgument, match="chunk must be a whole number"):
            sweep("urban", scenarios=1, chunk=chunk)  # type: ignore[arg-type]
    with pytest.raises(commonsnet.InvalidArgument, match="gredy"):
        sweep("urban", scenarios=1, policies=["gredy"])
    with pytest.raises(commonsnet.InvalidArgument, match="max_retries"):
        sweep("urban", scenarios=1, max_retries=-1)
    assert not ray.is_initialized()


def test_a_sweep_stops_the_ray_it_started() -> None:
    """Without a running Ray the sweep starts one and shuts it down when it ends (a bare
    `ray.init()` kept every CPU's workers after the sweep had returned)."""
    ray = pytest.importorskip("ray")
    from commonsnet.ray import sweep

    if ray.is_initialized():
        pytest.skip("a Ray cluster is already running in this process")
    got = sweep("urban", scenarios=1, policies=["greedy"], seed=4)
    assert not ray.is_initialized()
    assert without_timing(got).equals(without_timing(commonsnet.simulate("urban", scenarios=1, policies=["greedy"], seed=4)))


def test_a_ray_sweep_equals_simulate(local_ray: Any) -> None:
    from commonsnet.ray import sweep

    want = without_timing(commonsnet.simulate("urban", **ARGS))
    for chunk in (None, 1, 5, 100):
        got = sweep("urban", chunk=chunk, **ARGS)
        assert without_timing(got).equals(want), chunk


def test_a_ray_sweep_checks_out_before_it_runs_and_writes_it_whole(local_ray: Any, tmp_path: Path) -> None:
    # Refused before any run (a missing folder was found after the whole sweep; a .csv name
    # got Parquet bytes).
    from commonsnet.ray import sweep
    import pyarrow.parquet as pq

    for out, says in [(tmp_path / "no" / "x.parquet", "does not exist"), (tmp_path / "x.csv", ".parquet")]:
        with pytest.raises(commonsnet.InvalidArgument, match=says):
            sweep("urban", out=str(out), **ARGS)
    out = tmp_path / "runs.parquet"
    out.write_bytes(b"an older table")
    got = sweep("urban", out=str(out), **ARGS)
    assert without_timing(pq.read_table(out)).equals(without_timing(got))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.parquet"]


def test_a_ray_sweep_runs_a_chunk_lost_to_memory_run_by_run(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk whose result Ray reports lost (out of memory here; a node or an object lost the
    same) is run again run by run: no finished chunk is thrown away."""
    from commonsnet.ray import sweep

    want = without_timing(commonsnet.simulate("urban", **ARGS))
    real_get = local_ray.get
    calls = []

    def get(ref: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(ref)
        if len(calls) == 2:
            raise local_ray.exceptions.OutOfMemoryError("the node ran out of memory")
        return real_get(ref, *args, **kwargs)

    monkeypatch.setattr(local_ray, "get", get)
    got = sweep("urban", chunk=2, **ARGS)
    assert len(calls) > 2
    assert without_timing(got).equals(want)


def test_a_ray_sweep_survives_a_killed_worker(local_ray: Any, tmp_path: Path) -> None:
    from commonsnet.ray import sweep

    args = dict(ARGS, scenarios=8, scale=0.6)
    want = without_timing(commonsnet.simulate("rural", **args))
    killed: list[int] = []

    def ours(pid: int) -> bool:
        """Whether `pid` descends from this test process (this session's Ray workers do)."""
        while pid > 1:
            if pid == os.getpid():
                return True
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
        return False

    def kill_one_worker() -> None:
        # Ray names a process running a task `ray::<function>`: kill the first one of this
        # session seen.
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for d in Path("/proc").iterdir():
                if not d.name.isdigit():
                    continue
                try:
                    title = (d / "cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                if b"ray::_run_chunk" in title and ours(int(d.name)):
                    os.kill(int(d.name), signal.SIGKILL)
                    killed.append(int(d.name))
                    break
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    out = tmp_path / "sweep.parquet"
    got = sweep("rural", chunk=4, max_retries=5, out=str(out), **args)
    killer.join()
    assert killed, "no worker was running a task to kill"
    assert without_timing(got).equals(want)
    assert without_timing(pq.read_table(out)).equals(want)


def test_a_ray_sweep_raises_an_error_of_the_task_itself(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception of the task's own code (an ImportError on a worker) is no lost run: it is
    raised as it is, not turned into error rows nor run again run by run."""
    import commonsnet.ray as cray

    def failing(spec: str, start: int, end: int) -> pa.Table:
        raise ImportError("no module named commonsnet on this worker")

    monkeypatch.setattr(cray, "_run_chunk", failing)
    with pytest.raises(ImportError, match="no module named commonsnet"):
        cray.sweep("urban", chunk=2, **ARGS)


def test_a_ray_sweep_keeps_a_bounded_window_and_cancels_on_ctrl_c(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks go to Ray a window at a time (TASKS_PER_CPU per CPU), not all at once; Ctrl-C
    cancels those in flight."""
    from commonsnet.ray import TASKS_PER_CPU, sweep

    window = TASKS_PER_CPU * 2
    in_flight: list[int] = []
    real_wait = local_ray.wait

    def wait(refs: list[Any], *args: Any, **kwargs: Any) -> Any:
        in_flight.append(len(refs))
        return real_wait(refs, *args, **kwargs)

    monkeypatch.setattr(local_ray, "wait", wait)
    want = without_timing(commonsnet.simulate("urban", **ARGS))
    got = sweep("urban", chunk=1, **ARGS)  # 18 tasks
    assert without_timing(got).equals(want)
    assert max(in_flight) == window, in_flight
    assert len(in_flight) >= 18 - window

    cancelled: list[Any] = []
    real_cancel = local_ray.cancel

    def interrupted(refs: list[Any], *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    def cancel(ref: Any, *args: Any, **kwargs: Any) -> Any:
        cancelled.append(ref)
        return real_cancel(ref, *args, **kwargs)

    monkeypatch.setattr(local_ray, "wait", interrupted)
    monkeypatch.setattr(local_ray, "cancel", cancel)
    with pytest.raises(KeyboardInterrupt):
        sweep("urban", chunk=1, **ARGS)
    assert len(cancelled) == window


def test_a_lost_run_row_carries_rays_message(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run lost every time is an error row whose message is Ray's, not only its class name."""
    from commonsnet.ray import sweep

    def get(ref: Any, *args: Any, **kwargs: Any) -> Any:
        raise local_ray.exceptions.OutOfMemoryError("the node ran out of memory")

    monkeypatch.setattr(local_ray, "get", get)
    got = sweep("urban", chunk=3, **dict(ARGS, scenarios=1, replicates=1))
    assert got.column("status").to_pylist() == ["error"] * 3
    for m in got.column("error").to_pylist():
        assert "OutOfMemoryError: the node ran out of memory" in m, m
