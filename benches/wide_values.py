"""How often a solve fails on values that span many orders of magnitude.

Random scenarios of 4 resources and 6 needs over two dimensions, needs in three communities,
explicit links (each pair with probability 0.7); every capacity, demand, priority and link
cost is 10^u with u uniform in [-span/2, span/2]. Each is solved by `BIN solve` under no
fairness, max-min and leximin; the table counts the runs that end in an error (HiGHS's
numerical trouble), per span. benches/RESULTS.md, "Numerical trouble".

    python3 benches/wide_values.py BIN [--seeds 40] [--spans 6,9,12,15,21]
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path


def scenario(seed: int, span: float, fairness: str) -> dict:
    rng = random.Random(seed)

    def mag() -> float:
        return 10 ** rng.uniform(-span / 2, span / 2)

    communities = ["a", "b", "c"]
    resources = [
        {"id": f"r{i}", "community": rng.choice(communities), "kind": "k",
         "capacity": {"u": mag(), "v": mag()}, "cost": 0}
        for i in range(4)
    ]
    needs = [
        {"id": f"n{j}", "community": rng.choice(communities), "kind": "k",
         "priority": mag(), "demand": {"u": mag(), "v": mag()}}
        for j in range(6)
    ]
    links = [
        {"need": n["id"], "resource": r["id"], "cost": mag()}
        for n in needs for r in resources if rng.random() < 0.7
    ]
    policy = {} if fairness == "none" else {"fairness": fairness}
    return {"resources": resources, "needs": needs, "links": links, "policy": policy}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--spans", default="6,9,12,15,21")
    args = ap.parse_args()
    print("| orders | none | maxmin | leximin |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.json"
        for span in (float(x) for x in args.spans.split(",")):
            row = []
            for fairness in ("none", "maxmin", "leximin"):
                failed = 0
                for seed in range(1, args.seeds + 1):
                    path.write_text(json.dumps(scenario(seed, span, fairness)))
                    run = subprocess.run([args.bin, "solve", str(path)], capture_output=True, timeout=600)
                    failed += run.returncode != 0
                row.append(f"{failed}/{args.seeds}")
            print(f"| {span:g} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
