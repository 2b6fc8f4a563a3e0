"""The cost of getting tables into the engine from Python: a scenario of N needs passed as pyarrow
tables (the Arrow C data interface: the engine's table reader reads Python's buffers, with no
copy of them and no bytes in between) against the same scenario passed as JSON text (built
from Python dicts, as a caller without Arrow would). Each mode runs in its own process, so its peak memory (max
RSS) is its own; medians of --reps runs.

    python benches/python_io.py --needs 200000 --reps 3

Needs ask for a kind no resource offers, so the solve itself is empty and the figures are the
input path: crossing the boundary, validation, the model, and the (empty) answer."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def tables(n: int):
    import pyarrow as pa

    needs = pa.table(
        {
            "id": [f"n{i}" for i in range(n)],
            "kind": ["water"] * n,
            "lat": [59.0 + (i % 1000) * 1e-3 for i in range(n)],
            "lon": [18.0 + (i // 1000) * 1e-3 for i in range(n)],
            "priority": [1.0 + i % 3 for i in range(n)],
            "dem_l": [10.0 + i % 7 for i in range(n)],
        }
    )
    resources = pa.table(
        {
            "id": [f"r{i}" for i in range(500)],
            "kind": ["shelter"] * 500,
            "lat": [59.0 + i * 1e-3 for i in range(500)],
            "lon": [18.0] * 500,
            "cap_beds": [50.0] * 500,
        }
    )
    return resources, needs


def child(mode: str, n: int) -> None:
    import commonsnet

    resources, needs = tables(n)
    policy = {"max_distance_km": 5}
    if mode == "json":
        scenario = {
            "resources": [
                {"id": r["id"], "kind": r["kind"], "lat": r["lat"], "lon": r["lon"], "capacity": {"beds": r["cap_beds"]}}
                for r in resources.to_pylist()
            ],
            "needs": [
                {"id": x["id"], "kind": x["kind"], "lat": x["lat"], "lon": x["lon"], "priority": x["priority"], "demand": {"l": x["dem_l"]}}
                for x in needs.to_pylist()
            ],
            "policy": policy,
        }
        start = time.perf_counter()
        text = json.dumps(scenario)
        result = commonsnet.solve(text)
    else:
        start = time.perf_counter()
        result = commonsnet.solve(resources=resources, needs=needs, policy=policy)
    secs = time.perf_counter() - start
    assert result.needs.num_rows == n
    print(json.dumps({"secs": secs, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--needs", type=int, default=200_000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--child", choices=["arrow", "json"])
    a = p.parse_args()
    if a.child:
        child(a.child, a.needs)
        return
    for mode in ["arrow", "json"]:
        runs = []
        for _ in range(a.reps):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--needs", str(a.needs)], capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout))
        secs = statistics.median(r["secs"] for r in runs)
        rss = statistics.median(r["max_rss_mib"] for r in runs)
        print(f"{mode:5}  {a.needs} needs: median {secs:.2f} s to solve from Python, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
