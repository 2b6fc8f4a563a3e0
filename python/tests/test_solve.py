"""`commonsnet.solve` and `generate` from every input kind, against the CLI on the same
scenario; errors with their details; threads; a panic inside the engine."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import commonsnet
from commonsnet import _commonsnet

from conftest import FLOOD

SUMMARY_KEYS = ["status", "objective", "coverage_value", "cost", "needs_served", "needs_partly_served", "solver", "input_digest"]


def cli_solve(cli: Any, path: Path, out: Path) -> tuple[dict[str, Any], pa.Table]:
    summary = json.loads(cli("solve", str(path), "--out", str(out)))
    with ipc.open_file(out / "allocations.arrow") as f:
        allocations = f.read_all()
    return summary, allocations


def same_plan(result: commonsnet.Result, summary: dict[str, Any], allocations: pa.Table) -> None:
    for k in SUMMARY_KEYS:
        assert result.summary[k] == summary[k], k
    assert result.allocations.equals(allocations), (result.allocations, allocations)


def test_the_flood_scenario_as_a_dict_and_as_text_equals_the_cli(cli: Any, flood: dict[str, Any], tmp_path: Path) -> None:
    summary, allocations = cli_solve(cli, FLOOD, tmp_path)
    by_dict = commonsnet.solve(flood)
    by_text = commonsnet.solve(FLOOD.read_text())
    for r in (by_dict, by_text):
        same_plan(r, summary, allocations)
    assert by_dict.status == "optimal"
    assert by_dict.objective == summary["objective"]
    assert by_dict.needs.num_rows == len(flood["needs"])
    assert by_dict.resources.num_rows == len(flood["resources"])


@pytest.mark.parametrize("kind", ["scenario", "pyarrow", "batches", "polars", "pandas"])
def test_generated_tables_of_every_kind_equal_the_cli(cli: Any, tmp_path: Path, kind: str) -> None:
    scenario = commonsnet.generate("disaster", seed=3, scale=0.5)
    path = tmp_path / "disaster.json"
    cli("generate", "disaster", "--seed", "3", "--scale", "0.5", "--out", str(path))
    summary, allocations = cli_solve(cli, path, tmp_path / "out")
    r, n = scenario.resources, scenario.needs
    convert = {
        "scenario": None,
        "pyarrow": lambda t: t,
        "batches": lambda t: t.to_batches()[0],
        "polars": pl.from_arrow,
        "pandas": lambda t: t.to_pandas(),
    }[kind]
    if convert is None:
        result = commonsnet.solve(scenario)
    else:
        result = commonsnet.solve(resources=convert(r), needs=convert(n), policy=scenario.policy, name=scenario.name)
    same_plan(result, summary, allocations)
    assert result.to_polars("needs").height == n.num_rows


def test_pandas_frames_with_an_index_of_their_own(cli: Any, tmp_path: Path) -> None:
    scenario = commonsnet.generate("disaster", seed=3, scale=0.5)
    whole = commonsnet.solve(scenario)
    needs = scenario.needs.to_pandas()
    # A filtered frame keeps its rows' labels; an indexed one has a named index.
    filtered = needs[needs["priority"] >= 0]
    indexed = scenario.resources.to_pandas().set_index("kind", drop=False)
    r = commonsnet.solve(resources=indexed, needs=filtered.iloc[::-1].sort_index(), policy=scenario.policy, name=scenario.name)
    assert r.allocations.equals(whole.allocations)


def test_generate_equals_the_cli_and_validates(cli: Any, tmp_path: Path) -> None:
    for name in ["urban", "rural", "intentional", "disaster"]:
        s = commonsnet.generate(name, seed=7, scale=0.3, timed=name == "urban")
        path = tmp_path / f"{name}.json"
        args = ["generate", name, "--seed", "7", "--scale", "0.3", "--out", str(path)]
        if name == "urban":
            args.append("--timed")
        cli(*args)
        want = json.loads(path.read_text())
        assert s.name == want["name"]
        assert s.needs.num_rows == len(want["needs"])
        assert s.resources.num_rows == len(want["resources"])
        assert s.needs.column("id").to_pylist() == [x["id"] for x in want["needs"]]
    with pytest.raises(commonsnet.InvalidArgument, match="unknown generator") as e:
        commonsnet.generate("volcano")
    assert isinstance(e.value, commonsnet.CommonsNetError) and isinstance(e.value, ValueError)


def test_a_timed_scenario_has_bookings() -> None:
    loans = {
        "resources": [{"id": "drill", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [
            {"id": f"loan-{i}", "kind": "drill", "demand": {"units": 1}, "duration_h": 24, "deadline": 72}
            for i in range(3)
        ],
        "policy": {"reusable": ["units"], "slot_h": 24},
    }
    r = commonsnet.solve(loans)
    starts = sorted(r.allocations.column("start_h").to_pylist())
    assert starts == [0.0, 24.0, 48.0]


def test_invalid_input_raises_with_every_detail(flood: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(flood))
    bad["needs"][2]["demand"] = {"beds": -1}
    bad["resources"][1]["lat"] = 123
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad)
    details = e.value.details
    assert isinstance(e.value, ValueError)
    where = {(d["table"], d["row"]) for d in details}
    assert ("needs", 2) in where and ("resources", 1) in where, details
    assert all(set(d) == {"table", "row", "field", "message"} for d in details)
    assert any(d["field"] and "lat" in d["field"] for d in details)

    # Tables: a column of the wrong type names the table and the column.
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    needs = s.needs.set_column(s.needs.schema.get_field_index("priority"), "priority", pa.array(["high"] * s.needs.num_rows))
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(resources=s.resources, needs=needs, policy=s.policy)
    assert any(d["table"] == "needs" and d["field"] == "priority" for d in e.value.details), e.value.details

    with pytest.raises(commonsnet.InvalidScenario):
        commonsnet.solve("{not json")
    with pytest.raises(commonsnet.InvalidArgument, match="resources: expected a pyarrow Table"):
        commonsnet.solve(resources=[1, 2], needs=s.needs)
    with pytest.raises(TypeError):
        commonsnet.solve(flood, resources=s.resources)


def test_threads_solve_at_once_and_the_gil_is_released() -> None:
    scenarios = [commonsnet.generate("disaster", seed=i, scale=0.5) for i in range(6)]
    alone = [commonsnet.solve(s) for s in scenarios]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda s: commonsnet.solve(s, threads=1), scenarios))
    for a, b in zip(alone, together):
        assert a.summary["input_digest"] == b.summary["input_digest"]
        assert a.allocations.equals(b.allocations)

    # While one thread is inside the engine, another Python thread runs: the GIL is free.
    big = commonsnet.generate("disaster", seed=1, scale=3)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    before = ticks
    started = time.perf_counter()
    # Solve for at least 0.3 s in all, whatever the build's speed.
    while time.perf_counter() - started < 0.3:
        commonsnet.solve(big)
    elapsed = time.perf_counter() - started
    during = ticks - before
    stop.set()
    t.join()
    # A thread sleeping 1 ms per tick gets well over a quarter of its ticks while the engine
    # runs; with the GIL held it would get none.
    assert during > 0.25 * elapsed * 1000 * 0.5, (during, elapsed)


def test_a_panic_in_the_engine_is_an_exception_and_python_goes_on(flood: dict[str, Any]) -> None:
    with pytest.raises(commonsnet.EngineError, match="boom"):
        _commonsnet._panic_inside_the_engine("boom")
    assert commonsnet.solve(flood).status == "optimal"


def _solve_in_child(scenario: dict[str, Any], out: Any) -> None:
    r = commonsnet.solve(scenario)
    out.put((r.summary, r.allocations.to_pylist()))


def test_a_forked_child_solves_after_the_parent_did(flood: dict[str, Any]) -> None:
    """A child forked after the parent solved with the default threads (multiprocessing,
    ProcessPoolExecutor on Linux) solves too: its solve waited forever for the threads of
    rayon's global pool, which a forked child does not have."""
    import multiprocessing
    import queue

    # Components solved in parallel: the pool's threads are started in the parent.
    scenario = {**flood, "policy": {**flood.get("policy", {})}}
    parent = commonsnet.solve(scenario)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_solve_in_child, args=(scenario, out))
    child.start()
    try:
        summary, allocations = out.get(timeout=120)
    except queue.Empty:
        pytest.fail("the forked child's solve did not end in 120 s")
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    for k in SUMMARY_KEYS:
        assert summary[k] == parent.summary[k], k
    assert allocations == parent.allocations.to_pylist()


def test_polars_sets_of_categoricals_are_read_as_sets() -> None:
    """A polars set column of categoricals (`List(Categorical)`: Arrow lists of dictionary
    encoded strings) is read as its strings, as `List(String)` is."""
    s = commonsnet.generate("urban", seed=3, scale=0.3)
    want = commonsnet.solve(s)

    def categorical(t: pa.Table) -> pl.DataFrame:
        df = pl.from_arrow(t)
        assert isinstance(df, pl.DataFrame)
        lists = [c for c, d in df.schema.items() if d == pl.List(pl.String)]
        assert lists, df.schema
        return df.with_columns([pl.col(c).cast(pl.List(pl.Categorical)) for c in lists])

    needs, resources = categorical(s.needs), categorical(s.resources)
    assert any(isinstance(d, pl.List) and d.inner == pl.Categorical for d in needs.schema.values())
    got = commonsnet.solve(resources=resources, needs=needs, policy=s.policy, name=s.name)
    for k in SUMMARY_KEYS:
        assert got.summary[k] == want.summary[k], k
    assert got.allocations.equals(want.allocations)


def test_ctrl_c_calls_a_long_solve_off() -> None:
    """SIGINT during a long LP solve (the disaster generator at five times its size under
    max-min: about 40 s in a dev build) raises KeyboardInterrupt within seconds: the solve is
    called off at HiGHS's next iteration, where before Ctrl-C was seen only once it returned.
    The interpreter goes on: the next solve answers."""
    import os
    import signal

    scenario = commonsnet.generate("disaster", seed=0, scale=5)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        timer.start()
        commonsnet.solve(scenario, policy={"fairness": "maxmin"}, threads=1)
    took = time.perf_counter() - start
    timer.join()
    assert took < 10, took
    small = commonsnet.generate("urban", seed=1, scale=0.2)
    assert commonsnet.solve(small).summary["status"] == "optimal"
