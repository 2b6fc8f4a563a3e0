"""Research sweeps on a Ray cluster (SPEC section 6): the runs of ``commonsnet.simulate`` as Ray
tasks, on whatever cluster ``ray.init()`` connected to.

Each task runs a contiguous chunk of run indices with one engine thread; a run is made from its
index alone (scenario, policy and replicate, with the seeds the CLI derives), so any split of
the indices, any order of the tasks and any retry give the same rows. A run that fails is a row
with status ``error``; a task whose worker dies is retried by Ray (``max_retries``). An exception
raised by the task's own code (an ImportError on a worker, say) is no loss: it is raised here.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa
import pyarrow.ipc

from . import Scenario, _commonsnet, _spec, _whole
from .errors import InvalidArgument


def _run_chunk(spec: str, start: int, end: int) -> pa.Table:
    from commonsnet import _commonsnet as engine

    return pa.Table.from_batches([engine.simulate_runs(spec, start, end, 1)])


# Runs per task at most: a retried task repeats at most this many runs.
MAX_CHUNK = 10_000

# Tasks in flight per CPU of the cluster: enough to keep every CPU busy, few enough that a
# sweep of millions of runs does not hold millions of task specs and results at once.
TASKS_PER_CPU = 2


def _losses() -> tuple[type[BaseException], ...]:
    """Ray's errors for a task lost with its worker, node, memory or result, as opposed to an
    exception of the task's own (``RayTaskError``) or of the caller (cancelled, timed out):
    only these become runs run again one by one and, failing still, error rows."""
    import ray.exceptions as x

    names = (
        "WorkerCrashedError",
        "OutOfMemoryError",
        "ObjectLostError",  # and its kinds: owner died, reconstruction failed, fetch timed out
        "NodeDiedError",
        "LocalRayletDiedError",
        "ObjectStoreFullError",
        "OutOfDiskError",
    )
    return tuple(getattr(x, n) for n in names if hasattr(x, n))


def sweep(
    generator: str | os.PathLike[str] | None = None,
    *,
    scenario: Mapping[str, Any] | Scenario | None = None,
    scenarios: int | None = None,
    scale: float | None = None,
    seed: int = 0,
    timed: bool | None = None,
    policies: Sequence[str] = ("greedy", "coverage", "maxmin"),
    replicates: int = 1,
    perturb: Mapping[str, float] | None = None,
    time_limit_s: float = 60.0,
    explain: bool = False,
    chunk: int | None = None,
    max_retries: int = 3,
    out: str | None = None,
) -> pa.Table:
    """The run table of ``commonsnet.simulate`` with the same arguments, computed by Ray tasks
    of ``chunk`` runs each (default: about four tasks per CPU of the cluster, at most 10,000
    runs), at most ``TASKS_PER_CPU`` per CPU in flight at once. Rows are in run order. A task
    whose worker dies is retried ``max_retries`` times; a chunk that still fails, or is lost in
    any other way Ray reports (out of memory, a node or object lost), is retried run by run,
    and a run lost every time is a row with status ``error`` carrying Ray's message. An
    exception of the task's own code is raised here (its cause, not Ray's wrapper), and on any
    exception or Ctrl-C the tasks still in flight are cancelled. With ``out``, the table is
    also written there as Parquet. A scenario's file or folder (``generator=PATH``) is read by
    each task: on a cluster of several machines, a path they all see. Without a running Ray
    (``ray.init`` not called), the sweep starts a local one and shuts it down when it ends."""
    import ray

    # Every argument is checked before Ray starts: a typo is refused at once, and no cluster
    # is left running for it.
    if out is not None:
        _check_out(out)
    if chunk is not None:
        whole = _whole(chunk)
        if whole is None or not 1 <= whole <= MAX_CHUNK:
            raise InvalidArgument(f"chunk must be a whole number in [1, {MAX_CHUNK}], not {chunk!r}")
        chunk = whole
    retries = _whole(max_retries)
    if retries is None or retries < 0:
        raise InvalidArgument(f"max_retries must be a whole number >= 0, not {max_retries!r}")
    spec = _spec(generator, scenario, scenarios, scale, seed, timed, policies, replicates, perturb, time_limit_s, explain)
    total = _commonsnet.simulate_total(spec)
    if ray.is_initialized():
        return _sweep_on_ray(spec, total, chunk, retries, out)
    # Started here, so stopped here: a bare `ray.init()` kept its workers (every CPU) after
    # the sweep had returned.
    ray.init()
    try:
        table = _sweep_on_ray(spec, total, chunk, retries, out)
        # Out of Ray's object store before it goes: a chunk's table may share its memory.
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return pa.ipc.open_stream(sink.getvalue()).read_all()
    finally:
        ray.shutdown()


def _sweep_on_ray(spec: str, total: int, chunk: int | None, retries: int, out: str | None) -> pa.Table:
    """``sweep`` once its arguments are checked and Ray is running."""
    import ray

    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if chunk is None:
        chunk = min(max(1, math.ceil(total / (4 * cpus))), MAX_CHUNK)
    task = ray.remote(num_cpus=1, max_retries=retries)(_run_chunk)
    # One copy of the spec in the object store, not one per task.
    spec_ref = ray.put(spec)
    window = TASKS_PER_CPU * cpus
    ranges = [(start, min(start + chunk, total)) for start in range(0, total, chunk)]

    def run_by_run(a: int, b: int, lost: BaseException) -> pa.Table:
        # A chunk lost every time, one run per task; a run lost still is an error row.
        def error_row(i: int, _: int, e: BaseException) -> pa.Table:
            message = f"the run's worker failed every time: {type(e).__name__}: {e}"
            return pa.Table.from_batches([_commonsnet.simulate_error_rows(spec, i, i + 1, message)])

        return pa.concat_tables(_gather(task, spec_ref, [(i, i + 1) for i in range(a, b)], window, error_row))

    parts = _gather(task, spec_ref, ranges, window, run_by_run)
    table = pa.concat_tables(parts)
    if out is not None:
        import pyarrow.parquet as pq

        # Whole or not at all: a file of the same name is replaced only once this one is
        # written (it was written in place, so an interrupted write left half a file).
        folder = os.path.dirname(os.path.abspath(out))
        fd, tmp = tempfile.mkstemp(prefix=".sweep-", suffix=".parquet", dir=folder)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, out)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    return table


def _check_out(out: str) -> None:
    """Refuse an ``out`` the table cannot be written to before any run (a missing folder
    was found only after the whole sweep had run, and a ``.csv`` name got Parquet bytes)."""
    if not str(out).endswith(".parquet"):
        raise InvalidArgument(f"out {out!r}: the sweep writes Parquet; name the file .parquet")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise InvalidArgument(f"out {out!r}: the folder {folder} does not exist")
    if os.path.isdir(out):
        raise InvalidArgument(f"out {out!r}: is a folder, not a file")


def _gather(
    task: Any,
    spec_ref: Any,
    ranges: list[tuple[int, int]],
    window: int,
    on_loss: Callable[[int, int, BaseException], pa.Table],
) -> list[pa.Table]:
    """The tables of ``task`` over ``ranges``, in their order, with at most ``window`` tasks in
    flight (submitted as earlier ones finish, ``ray.wait``). A task lost (``_losses``) is
    ``on_loss(start, end, error)``; an exception of the task's own code is raised as its cause;
    on any exception, Ctrl-C included, the tasks in flight are cancelled."""
    import ray

    losses = _losses()
    results: list[pa.Table | None] = [None] * len(ranges)
    pending: dict[Any, int] = {}
    todo = iter(enumerate(ranges))
    try:
        while True:
            for i, (a, b) in todo:
                pending[task.remote(spec_ref, a, b)] = i
                if len(pending) >= window:
                    break
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except losses as e:
                    results[i] = on_loss(*ranges[i], e)
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    if isinstance(cause, BaseException):
                        raise cause from e
                    raise
    except BaseException:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # a task that ended meanwhile
                pass
        raise
    return [r for r in results if r is not None]
