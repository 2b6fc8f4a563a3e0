#!/usr/bin/env python3
"""Write a synthetic city-scale crisis scenario as JSON (for timing the CLI at scale).

usage: make_scenario.py NEEDS RESOURCES SEED OUT.json [RADIUS_KM] [one-dim]

Needs and resources are spread over a ~30 km city with denser clusters (flooded districts);
three dimensions (beds, meals, volunteer_h), four kinds, a 6 km radius, and priorities 1-5.
The numbers are for load, not realism: the dataset generators issue brings realistic ones.
"""
import json
import random
import sys

n_needs, n_res, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
radius = float(sys.argv[5]) if len(sys.argv) > 5 else 6.0
one_dim = len(sys.argv) > 6 and sys.argv[6] == "one-dim"
rng = random.Random(seed)
kinds = {"shelter": ["beds", "meals"], "food": ["meals"], "medical": ["volunteer_h"], "sandbags": ["volunteer_h"]}
if one_dim:
    # The transportation shape: one dimension (teams' hours), for the flow fast path.
    kinds = {k: ["volunteer_h"] for k in kinds}
communities = [f"district-{i}" for i in range(12)]
centres = [(59.33 + rng.uniform(-0.12, 0.12), 18.06 + rng.uniform(-0.25, 0.25)) for _ in communities]


def place(i):
    lat, lon = centres[i]
    return round(lat + rng.gauss(0, 0.03), 6), round(lon + rng.gauss(0, 0.06), 6)


def place_item(prefix, i, amounts, lo, hi):
    """One resource or need: a kind, a community, a place near its centre and amounts per dimension."""
    kind = rng.choice(list(kinds))
    c = rng.randrange(len(communities))
    lat, lon = place(c)
    return {"id": f"{prefix}{i}", "community": communities[c], "kind": kind, "lat": lat, "lon": lon,
            amounts: {d: rng.randint(lo, hi) for d in kinds[kind]}}


resources = [dict(place_item("r", i, "capacity", 20, 200), cost=rng.randint(0, 5)) for i in range(n_res)]
needs = [dict(place_item("n", i, "demand", 1, 12), priority=rng.randint(1, 5)) for i in range(n_needs)]
scenario = {"name": f"city-{n_needs}x{n_res}-s{seed}", "resources": resources, "needs": needs,
            "policy": {"objective": "coverage", "max_distance_km": radius, "speed_kmh": 30, "cost_per_km": 0.2}}
with open(out, "w") as f:
    json.dump(scenario, f)
