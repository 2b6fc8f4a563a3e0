"""Solving from Python against the CLI on the same scenario: the `urban` generator at scale 200
(the city: ~19,000 needs), solved by `commonsnet solve FILE` (wall time of the process), by
`commonsnet.solve(text)` (the same JSON text, in-process), and by `commonsnet.solve(scenario)`
with the generator's tables. Medians of --reps runs; the engine's own `solve_ms` is printed
beside each so the overhead is the difference.

    python benches/python_overhead.py COMMONSNET_BIN --reps 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import commonsnet


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--scale", type=float, default=200)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.json"
        subprocess.run([a.binary, "generate", "urban", "--seed", "1", "--scale", str(a.scale), "--out", str(path)], check=True, capture_output=True)
        text = path.read_text()
        needs = len(json.loads(text)["needs"])
        tables = commonsnet.generate("urban", seed=1, scale=a.scale)
        rows = {"cli": [], "python text": [], "python tables": []}
        engine = {k: [] for k in rows}
        for _ in range(a.reps):
            start = time.perf_counter()
            out = subprocess.run([a.binary, "solve", str(path)], check=True, capture_output=True, text=True)
            rows["cli"].append(time.perf_counter() - start)
            engine["cli"].append(json.loads(out.stdout)["solve_ms"] / 1e3)
            start = time.perf_counter()
            r = commonsnet.solve(text)
            rows["python text"].append(time.perf_counter() - start)
            engine["python text"].append(r.summary["solve_ms"] / 1e3)
            start = time.perf_counter()
            r2 = commonsnet.solve(tables)
            rows["python tables"].append(time.perf_counter() - start)
            engine["python tables"].append(r2.summary["solve_ms"] / 1e3)
            assert r.summary["objective"] == r2.summary["objective"] == json.loads(out.stdout)["objective"]
        for k in rows:
            print(f"{k:14} {needs} needs: median {statistics.median(rows[k]):.2f} s end to end, "
                  f"{statistics.median(engine[k]):.2f} s in the solver")


if __name__ == "__main__":
    main()
