"""Research sweeps on a Ray cluster (SPEC section 6): the runs of ``commonsnet.simulate`` as Ray
tasks, on whatever cluster ``ray.init()`` connected to.

Each task runs a contiguous chunk of run indices with one engine thread; a run is made from its
index alone (scenario, policy and replicate, with the seeds the CLI derives), so any split of
the indices, any order of the tasks and any retry give the same rows. A run that fails is a row
with status ``error``; a task whose worker dies is retried by Ray (``max_retries``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pyarrow as pa

from . import _commonsnet, _spec


def _run_chunk(spec: str, start: int, end: int) -> pa.Table:
    from commonsnet import _commonsnet as engine

    return pa.Table.from_batches([engine.simulate_runs(spec, start, end, 1)])


# Runs per task at most: a retried task repeats at most this many runs.
MAX_CHUNK = 10_000


def sweep(
    generator: str | None = None,
    *,
    scenario: Mapping[str, Any] | None = None,
    scenarios: int = 10,
    scale: float = 1.0,
    seed: int = 0,
    timed: bool = False,
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
    runs). Rows are in run order. A task whose worker dies is retried ``max_retries`` times;
    a chunk that still fails, or is lost in any other way Ray reports (out of memory, a node
    or object lost), is retried run by run, and a run that kills its worker every time
    is a row with status ``error``. With ``out``, the table is also written there as Parquet."""
    import ray

    if not ray.is_initialized():
        ray.init()
    spec = _spec(generator, scenario, scenarios, scale, seed, timed, policies, replicates, perturb, time_limit_s, explain)
    total = _commonsnet.simulate_total(spec)
    if chunk is None:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        chunk = math.ceil(total / (4 * cpus))
    if not 1 <= chunk <= MAX_CHUNK:
        chunk = max(1, min(chunk, MAX_CHUNK))
    task = ray.remote(num_cpus=1, max_retries=max_retries)(_run_chunk)
    # One copy of the spec in the object store, not one per task.
    spec_ref = ray.put(spec)
    ranges = [(start, min(start + chunk, total)) for start in range(0, total, chunk)]
    refs = [task.remote(spec_ref, a, b) for a, b in ranges]
    parts: list[pa.Table] = []
    for (a, b), ref in zip(ranges, refs):
        try:
            parts.append(ray.get(ref))
        except ray.exceptions.RayError:
            parts.append(_run_by_run(task, spec, spec_ref, a, b))
    table = pa.concat_tables(parts) if parts else _commonsnet_empty(spec)
    if out is not None:
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    return table


def _run_by_run(task: Any, spec: str, spec_ref: Any, start: int, end: int) -> pa.Table:
    """A chunk whose task failed every time, run one run per task; a run that still fails is an
    error row."""
    import ray

    refs = [task.remote(spec_ref, i, i + 1) for i in range(start, end)]
    rows = []
    for i, ref in zip(range(start, end), refs):
        try:
            rows.append(ray.get(ref))
        except ray.exceptions.RayError as e:
            message = f"the run's worker failed every time: {type(e).__name__}"
            rows.append(pa.Table.from_batches([_commonsnet.simulate_error_rows(spec, i, i + 1, message)]))
    return pa.concat_tables(rows)


def _commonsnet_empty(spec: str) -> pa.Table:
    return pa.Table.from_batches([_commonsnet.simulate_runs(spec, 0, 0, 1)])
