#!/usr/bin/env python3
"""Solve times of the fair policies (issue 20): maxmin, leximin and proportional on the same
scenarios, with the release binary.

usage: fair_policies.py BINARY [--reps N] [--limit S] [--out DIR] [--only POLICY,...]
                         [--scenarios city,disaster10]

Scenarios (written into DIR, default a temporary folder):
- city: `make_scenario.py 20000 2000 1 city.json 3` (20,000 needs, 3 dimensions, 3 km
  radius, 12 communities as groups): one LP per component, coupled by the groups.
- disaster10: `commonsnet generate disaster --scale 10 --seed 1` with every need made
  divisible (an LP; as generated it has 1,143 indivisible needs, whose MIP presolve alone
  runs for minutes in HiGHS whatever the policy).

Each policy gets `time_limit_s` = --limit (default 300) and `cross_community: true`; prints a
Markdown table of medians over --reps runs (default 1): solve time, status, smallest group
ratio and the price of fairness.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
POLICIES = {
    "maxmin": {"fairness": "maxmin"},
    "leximin": {"fairness": "leximin"},
    "proportional": {"objective": "proportional"},
}


def arg(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def city(binary, out):
    path = os.path.join(out, "city-base.json")
    subprocess.run([sys.executable, os.path.join(HERE, "make_scenario.py"), "20000", "2000", "1", path, "3"], check=True)
    with open(path) as f:
        return json.load(f)


def disaster10(binary, out):
    path = os.path.join(out, "disaster10-base.json")
    subprocess.run([binary, "generate", "disaster", "--scale", "10", "--seed", "1", "--out", path],
                   check=True)
    with open(path) as f:
        scenario = json.load(f)
    for need in scenario["needs"]:
        need["indivisible"] = False
    return scenario


def solve(binary, path):
    out = subprocess.run([binary, "solve", path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[0])


def main():
    args = sys.argv[1:]
    binary = args[0]
    reps = int(arg(args, "--reps", "1"))
    limit = float(arg(args, "--limit", "300"))
    out = arg(args, "--out", None) or tempfile.mkdtemp()
    only = arg(args, "--only", None)
    os.makedirs(out, exist_ok=True)
    print("| scenario | policy | solve (s) | status | smallest group ratio | price of fairness |")
    print("|---|---|---|---|---|---|")
    wanted = arg(args, "--scenarios", "city,disaster10").split(",")
    for make in (city, disaster10):
        if make.__name__ not in wanted:
            continue
        base = make(binary, out)
        for name, policy in POLICIES.items():
            if only and name not in only.split(","):
                continue
            scenario = dict(base)
            scenario["policy"] = {**base.get("policy", {}), **policy,
                                  "cross_community": True, "time_limit_s": limit}
            path = os.path.join(out, f"{make.__name__}-{name}.json")
            with open(path, "w") as f:
                json.dump(scenario, f)
            runs = [solve(binary, path) for _ in range(reps)]
            s = runs[-1]
            secs = statistics.median(r["solve_ms"] for r in runs) / 1000
            pof = s.get("price_of_fairness")
            pof = "null" if pof is None else f"{pof:.5f}"
            print(f"| {make.__name__} | {name} | {secs:.1f} | {s['status']} | "
                  f"{s.get('min_group_ratio', float('nan')):.4f} | {pof} |", flush=True)


if __name__ == "__main__":
    main()
