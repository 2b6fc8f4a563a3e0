#!/usr/bin/env python3
"""Allocation over time at the sizes issue 19 names: optimal plan vs first-come-first-served.

usage: timed.py BINARY [--reps N] [--seed S] [--out DIR] [--itemized] [--together] [--solver lp]
                [--only NAME,...]

Writes three seeded scenarios into DIR (default: a temporary folder) and solves each with the
release binary, `--reps` times (default 3) for the optimum and once for FCFS (greedy), then
prints a Markdown table of medians for benches/RESULTS.md:

- tool library: 500 items of 40 kinds in pools at 4 sites (one resource per site and kind,
  capacity = its items), 3,000 loan requests over 28 days: loans of 1-5 days, 0-7 days of
  slack, starts on whole days (`slot_h` 24), one item each (indivisible), 2 h to check a
  returned tool; popularity of kinds falls like 1/rank. `--itemized` lists the 500 items one
  by one (the engine pools identical unit items again).
- shelter: 40 sites of 20-80 beds, 3,000 families of 1-6 people arriving on an evening of the
  first 13 days for a fixed stay of 1-14 nights (bed-nights), meals consumable; within 15 km.
  Fixed stays are an LP (SPEC): a family may be split across shelters here. Kept together
  (`--together`: indivisible), it is a MIP of ~113,000 binaries that HiGHS does not close in
  minutes (benches/RESULTS.md).
- harvest: 12 combines, 150 farms, one job each of 1-3 days within a ripening window of 4-8
  days in a three-week season, starts every 12 h, the trip to the next farm (4-8 h) as the
  combine's turnaround; `mip_gap` 0.01 and a 60 s limit, as the target states.
- car share: 12 sites with pools of 3-8 cars, 3,000 fixed bookings of 1-8 h in one week,
  each at its own site (one resource, one start, one car each): interval scheduling, which
  the engine solves as a flow along each pool's timeline. `--solver lp` sends every scenario
  to HiGHS instead (here the MIP), to compare the two routes.
"""
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

DAY = 24
TOGETHER = "--together" in sys.argv
ITEMIZED = "--itemized" in sys.argv


def city(rng, n, spread):
    lat0, lon0 = 59.33, 18.06
    return [(round(lat0 + rng.gauss(0, spread), 5), round(lon0 + rng.gauss(0, 2 * spread), 5)) for _ in range(n)]


def tool_library(seed):
    rng = random.Random(seed)
    sites = city(rng, 4, 0.02)
    kinds = [f"tool{k:02d}" for k in range(40)]
    weights = [1 / (k + 1) for k in range(40)]
    # 500 items: every kind at least once, the rest by popularity, each at a random site.
    items = {}
    for k in kinds:
        items[(rng.randrange(4), k)] = items.get((rng.randrange(4), k), 0) + 1
    while sum(items.values()) < 500:
        k = rng.choices(kinds, weights)[0]
        key = (rng.randrange(4), k)
        items[key] = items.get(key, 0) + 1
    if ITEMIZED:
        # Each item its own resource, as a catalogue lists them: the engine pools them again.
        resources = [
            {"id": f"site{s}-{k}-{i}", "community": f"site{s}", "kind": k, "lat": sites[s][0],
             "lon": sites[s][1], "capacity": {"loans": 1}, "turnaround_h": 2}
            for (s, k), c in sorted(items.items()) for i in range(c)
        ]
    else:
        resources = [
            {"id": f"site{s}-{k}", "community": f"site{s}", "kind": k, "lat": sites[s][0], "lon": sites[s][1],
             "capacity": {"loans": c}, "turnaround_h": 2}
            for (s, k), c in sorted(items.items())
        ]
    needs = []
    for i in range(3000):
        home = rng.randrange(4)
        lat, lon = sites[home]
        start = DAY * rng.randint(0, 27)
        needs.append({"id": f"req{i}", "community": f"site{home}", "kind": rng.choices(kinds, weights)[0],
                      "lat": round(lat + rng.gauss(0, 0.01), 5), "lon": round(lon + rng.gauss(0, 0.02), 5),
                      "demand": {"loans": 1}, "indivisible": True, "priority": 1,
                      "duration_h": DAY * rng.randint(1, 5), "earliest": start,
                      "deadline": start + DAY * rng.randint(0, 7)})
    policy = {"reusable": ["loans"], "slot_h": DAY, "cost_per_km": 1.0, "max_distance_km": 15}
    return {"name": f"tool-library-s{seed}", "resources": resources, "needs": needs, "policy": policy}


def shelter(seed):
    rng = random.Random(seed)
    sites = city(rng, 40, 0.04)
    resources = []
    for s, (lat, lon) in enumerate(sites):
        beds = 10 * rng.randint(2, 8)
        resources.append({"id": f"shelter{s}", "community": f"district{s % 8}", "kind": "shelter",
                          "lat": lat, "lon": lon, "capacity": {"beds": beds, "meals": 3 * beds * 14}})
    needs = []
    for i in range(3000):
        lat, lon = sites[rng.randrange(40)]
        people = rng.choices([1, 2, 3, 4, 5, 6], [30, 30, 18, 15, 5, 2])[0]
        nights = rng.randint(1, 14)
        arrival = DAY * rng.randint(0, max(0, 13 - nights)) + 18
        needs.append({"id": f"family{i}", "community": f"district{i % 8}", "kind": "shelter",
                      "lat": round(lat + rng.gauss(0, 0.02), 5), "lon": round(lon + rng.gauss(0, 0.04), 5),
                      "demand": {"beds": people, "meals": 3 * people * nights}, "indivisible": TOGETHER,
                      "priority": people, "duration_h": DAY * nights, "earliest": arrival})
    policy = {"reusable": ["beds"], "max_distance_km": 15, "speed_kmh": 30, "cost_per_km": 0.5}
    return {"name": f"shelter-s{seed}", "resources": resources, "needs": needs, "policy": policy}


def harvest(seed):
    rng = random.Random(seed)
    farms = city(rng, 150, 0.15)
    depots = city(rng, 12, 0.1)
    resources = [{"id": f"combine{c}", "kind": "harvest", "lat": lat, "lon": lon, "capacity": {"machines": 1},
                  "turnaround_h": rng.randint(4, 8), "cost": 60} for c, (lat, lon) in enumerate(depots)]
    needs = []
    for f, (lat, lon) in enumerate(farms):
        ha = rng.uniform(20, 150)
        days = min(3, max(1, math.ceil(ha / 2.5 / 10)))
        ripe = rng.randint(0, 14)
        window = rng.randint(4, 8)
        needs.append({"id": f"farm{f}", "community": f"village{f % 5}", "kind": "harvest", "lat": lat, "lon": lon,
                      "demand": {"machines": 1}, "indivisible": True, "priority": round(ha / 20, 1),
                      "duration_h": DAY * days, "earliest": DAY * ripe,
                      "deadline": DAY * (ripe + window - days)})
    policy = {"reusable": ["machines"], "slot_h": 12, "speed_kmh": 40, "cost_per_km": 1.5,
              "mip_gap": 0.01, "time_limit_s": 60}
    return {"name": f"harvest-s{seed}", "resources": resources, "needs": needs, "policy": policy}


def car_share(seed):
    rng = random.Random(seed)
    sites = city(rng, 12, 0.03)
    resources = [{"id": f"cars{s}", "community": f"site{s}", "kind": f"car-site{s}", "lat": lat, "lon": lon,
                  "capacity": {"cars": rng.randint(3, 8)}, "turnaround_h": 1}
                 for s, (lat, lon) in enumerate(sites)]
    needs = []
    for i in range(3000):
        s = rng.randrange(12)
        lat, lon = sites[s]
        hours = rng.randint(1, 8)
        needs.append({"id": f"booking{i}", "community": f"site{s}", "kind": f"car-site{s}",
                      "lat": round(lat + rng.gauss(0, 0.01), 5), "lon": round(lon + rng.gauss(0, 0.02), 5),
                      "demand": {"cars": 1}, "indivisible": True, "priority": rng.choice([1, 1, 2, 3]),
                      "duration_h": hours, "earliest": rng.randint(0, 7 * DAY - hours)})
    policy = {"reusable": ["cars"], "cost_per_km": 0.3, "max_distance_km": 10}
    return {"name": f"car-share-s{seed}", "resources": resources, "needs": needs, "policy": policy}


def solve(binary, path):
    t = time.perf_counter()
    out = subprocess.run([binary, "solve", path], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    return json.loads(out.stdout.splitlines()[0]), wall


def main():
    args = sys.argv[1:]
    binary = args[0]
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    out = args[args.index("--out") + 1] if "--out" in args else tempfile.mkdtemp()
    os.makedirs(out, exist_ok=True)
    print("| instance | needs | solver | status | gap | optimal solve (s) | end to end (s) | served: optimal | served: FCFS |")
    print("|---|---|---|---|---|---|---|---|---|")
    makers = (tool_library, shelter, harvest, car_share)
    if "--only-tools" in args:
        makers = (tool_library,)
    if "--only" in args:
        names = args[args.index("--only") + 1].split(",")
        makers = tuple(m for m in makers if m.__name__ in names)
    forced = args[args.index("--solver") + 1] if "--solver" in args else None
    for make in makers:
        scenario = make(seed)
        if forced:
            scenario["policy"]["solver"] = forced
        path = os.path.join(out, f"{make.__name__}.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        runs = [solve(binary, path) for _ in range(reps)]
        summary = runs[-1][0]
        scenario["policy"]["solver"] = "greedy"
        greedy_path = os.path.join(out, f"{make.__name__}-fcfs.json")
        with open(greedy_path, "w") as f:
            json.dump(scenario, f)
        fcfs, _ = solve(binary, greedy_path)
        n = len(scenario["needs"])
        solve_s = statistics.median(r[0]["solve_ms"] for r in runs) / 1000
        wall = statistics.median(r[1] for r in runs)
        gap = summary.get("gap")
        print(f"| {make.__name__} | {n} | {summary['solver']} | {summary['status']} | "
              f"{'' if gap is None else f'{gap:.4f}'} | {solve_s:.2f} | {wall:.2f} | "
              f"{summary['needs_served'] / n:.3f} ({summary['coverage_ratio']:.3f} of priority) | "
              f"{fcfs['needs_served'] / n:.3f} ({fcfs['coverage_ratio']:.3f}) |", flush=True)


if __name__ == "__main__":
    main()
