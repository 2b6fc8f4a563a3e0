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
    of ``chunk`` runs each (default: about four tasks per CPU of the cluster). Rows are in run
    order. With ``out``, the table is also written there as Parquet."""
    import ray

    if not ray.is_initialized():
        ray.init()
    spec = _spec(generator, scenario, scenarios, scale, seed, timed, policies, replicates, perturb, time_limit_s, explain)
    total = _commonsnet.simulate_total(spec)
    if total == 0:
        raise ValueError("no runs")
    if chunk is None:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        chunk = max(1, math.ceil(total / (4 * cpus)))
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    task = ray.remote(num_cpus=1, max_retries=max_retries)(_run_chunk)
    refs = [task.remote(spec, start, min(start + chunk, total)) for start in range(0, total, chunk)]
    table = pa.concat_tables(ray.get(refs))
    if out is not None:
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    return table
