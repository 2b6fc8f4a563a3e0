"""Writes the notebooks from the cells below (no outputs), so that their source is reviewable
as plain Python and they are committed stripped. Run: python3 notebooks/make_notebooks.py"""
import json
from pathlib import Path

HERE = Path(__file__).parent


def nb(cells):
    return {
        "cells": [
            {"cell_type": kind, "id": f"cell-{i}", "metadata": {},
             "source": src.strip("\n").splitlines(keepends=True),
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for i, (kind, src) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


COMMON = r'''
import os, subprocess, json
from pathlib import Path
import commonsnet
import polars as pl
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(os.environ.get("COMMONSNET_ROOT", Path.cwd()))
BIN = os.environ.get("COMMONSNET_BIN", str(ROOT / "target" / "debug" / "commonsnet"))
OUT = Path(os.environ.get("NOTEBOOK_OUT", ROOT / "notebooks" / "out"))
OUT.mkdir(parents=True, exist_ok=True)
'''

policies = nb([
    ("markdown", """
# Policies compared: greedy, coverage, maxmin

A batch simulation of the `disaster` generator with `commonsnet.simulate` (the engine
in-process, the same run table as `commonsnet simulate`): 8 scenarios, 3 policies, 2 Monte
Carlo replicates with demand, failure and travel-time perturbations. Results are one row per
run (an Arrow table), aggregated here with polars.
"""),
    ("code", COMMON),
    ("code", r'''
table = commonsnet.simulate("disaster", scenarios=8, replicates=2, seed=7,
                            policies=["greedy", "coverage", "maxmin"],
                            perturb={"demand": 0.2, "failures": 0.05, "travel_time": 0.1})
runs = pl.from_arrow(table)
runs.write_parquet(OUT / "disaster.parquet")
assert runs.height == 8 * 3 * 2, runs.height
runs.select("scenario", "policy", "replicate", "status", "coverage_ratio", "min_group_ratio", "cost").head()
'''),
    ("code", r'''
summary = (runs.group_by("policy", maintain_order=True)
           .agg([pl.col(c).mean().alias(f"{c}_mean") for c in
                 ["coverage_ratio", "min_group_ratio", "jain_index", "cost", "mean_access_time_h", "duplication_avoided"]]
                + [pl.col("coverage_ratio").quantile(q).alias(f"coverage_p{int(q*100)}") for q in (0.1, 0.5, 0.9)]))
print(summary)
# The coverage optimum never serves less value than the greedy baseline on the same perturbed
# scenario (maxmin may: it trades value for the worst group's ratio).
wide = runs.pivot(on="policy", index=["scenario", "replicate"], values="coverage_value")
assert (wide["coverage"] >= wide["greedy"] - 1e-6 * wide["greedy"].abs().clip(lower_bound=1)).all()
'''),
    ("code", r'''
colors = {"greedy": "tab:gray", "coverage": "tab:blue", "maxmin": "tab:green"}
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for p, g in runs.group_by("policy", maintain_order=True):
    name = p[0]
    axes[0].scatter(g["cost"], g["coverage_ratio"], label=name, color=colors[name])
    axes[1].scatter(g["coverage_ratio"], g["min_group_ratio"], label=name, color=colors[name])
    axes[2].hist(g["mean_access_time_h"].drop_nulls(), bins=10, alpha=0.5, label=name, color=colors[name])
axes[0].set(xlabel="cost (the scenario's cost units)", ylabel="coverage ratio", title="Coverage vs cost")
axes[1].set(xlabel="coverage ratio (efficiency)", ylabel="worst community ratio (fairness)", title="Fairness vs efficiency")
axes[2].set(xlabel="mean access time (h)", ylabel="runs", title="Access time")
for a in axes:
    a.legend()
fig.tight_layout()
fig.savefig(OUT / "policies.png", dpi=100)
'''),
])

service = nb([
    ("markdown", """
# The HTTP service: a scenario, its allocations and shadow prices

Starts `commonsnet serve` on a free local port, sends the bundled flood scenario to
`POST /v1/solve`, and reads the answer's tables with polars.
"""),
    ("code", COMMON),
    ("code", r'''
import tempfile, urllib.request
data = tempfile.mkdtemp()
server = subprocess.Popen([BIN, "serve", "--addr", "127.0.0.1:0", "--data", data],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
base = "http://" + json.loads(server.stdout.readline())["listening"]
scenario = (ROOT / "datasets" / "examples" / "flood-north.json").read_bytes()
req = urllib.request.Request(base + "/v1/solve", data=scenario, headers={"Content-Type": "application/json"})
answer = json.load(urllib.request.urlopen(req))
print({k: answer["summary"][k] for k in ["status", "objective", "coverage_ratio", "min_group_ratio", "solver"]})
'''),
    ("code", r'''
allocations = pl.DataFrame(answer["allocations"])
resources = pl.DataFrame(answer["resources"])
needs = pl.DataFrame(answer["needs"])
assert answer["summary"]["status"] == "optimal"
print(allocations.select("resource", "need", "share", "cost").head(10))
prices = resources.select(["id"] + [c for c in resources.columns if c.startswith("shadow_price_")])
print(prices)
'''),
    ("code", r'''
# Only the capacities that bind, ranked: the planner's "what would one more unit buy?".
long = (prices.unpivot(index="id", variable_name="dimension", value_name="price")
        .filter(pl.col("price") > 1e-9)
        .with_columns(pl.col("dimension").str.strip_prefix("shadow_price_"))
        .sort("price", descending=True))
print(f"duals: {answer['summary']['duals']}")
assert long.height > 0, "the flood plan has binding capacities"
labels = [f"{r} · {d}" for r, d in zip(long["id"], long["dimension"])]
fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
ax.barh(labels[::-1], long["price"].to_list()[::-1], color="tab:blue")
ax.set(xlabel="value served per extra unit of capacity", title="Binding capacities of the flood scenario, ranked")
fig.tight_layout()
fig.savefig(OUT / "shadow_prices.png", dpi=100)
server.terminate()
server.wait(timeout=30)
'''),
])

fairness = nb([
    ("markdown", """
# Fairness compared: none, maxmin, leximin, proportional, deprivation

Four `disaster` scenarios with their demands tripled (so that capacity is scarce and the
policies differ), each solved under five policies with `commonsnet solve --explain`: group
coverage ratios, Gini, the price of fairness, and why needs go short.
"""),
    ("code", COMMON),
    ("code", r'''
from collections import Counter
POLICIES = {
    "none": {"objective": "coverage", "fairness": "none"},
    "maxmin": {"objective": "coverage", "fairness": "maxmin"},
    "leximin": {"objective": "coverage", "fairness": "leximin"},
    "proportional": {"objective": "proportional", "fairness": "none"},
    "deprivation": {"objective": "deprivation", "fairness": "none", "cost_weight": 0.001,
                    "deprivation": [[0, 0], [0.5, 1], [1, 4]]},
}
rows, ratios = [], []
for seed in range(1, 5):
    scenario = commonsnet.generate("disaster", seed=seed)
    # Three times the demand: scarcity, where fairness has a price.
    needs = pl.from_arrow(scenario.needs)
    needs = needs.with_columns([pl.col(c) * 3 for c in needs.columns if c.startswith("dem_")])
    for name, policy in POLICIES.items():
        result = commonsnet.solve(resources=scenario.resources, needs=needs, name=scenario.name,
                                  policy={**scenario.policy, **policy}, explain=True)
        summary = result.summary
        reasons = Counter(result.why.column("reason").to_pylist())
        rows.append({"seed": seed, "policy": name, "coverage_ratio": summary["coverage_ratio"],
                     "min_group_ratio": summary["min_group_ratio"], "gini": summary["gini"],
                     "atkinson_0_5": summary["atkinson_0_5"], "price_of_fairness": summary["price_of_fairness"],
                     "solve_ms": summary["solve_ms"], **{f"why_{k}": v for k, v in reasons.items()}})
        ratios += [{"seed": seed, "policy": name, "group": g, "ratio": r} for g, r in summary["groups"].items()]
runs = pl.DataFrame(rows).fill_null(0)
groups = pl.DataFrame(ratios)
print(runs.group_by("policy", maintain_order=True).agg(pl.all().exclude("seed").mean()))
'''),
    ("code", r'''
# What the definitions promise, checked on these runs.
by = {p: runs.filter(pl.col("policy") == p).sort("seed") for p in POLICIES}
assert (by["none"]["price_of_fairness"] == 0).all()  # null without fairness, filled with 0 above
assert ((by["maxmin"]["min_group_ratio"] - by["leximin"]["min_group_ratio"]).abs() < 1e-6).all()
assert ((runs["price_of_fairness"] >= 0) & (runs["price_of_fairness"] <= 1)).all()
assert (by["leximin"]["gini"] <= by["none"]["gini"] + 1e-9).all()
'''),
    ("code", r'''
colors = {"none": "tab:gray", "maxmin": "tab:green", "leximin": "tab:olive", "proportional": "tab:purple",
          "deprivation": "tab:red"}
fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
names = list(POLICIES)
axes[0].boxplot([groups.filter(pl.col("policy") == p)["ratio"].to_list() for p in names], tick_labels=names)
axes[0].set(ylabel="group coverage ratio", title="Group ratios (4 scenarios)")
for p in names:
    g = runs.filter(pl.col("policy") == p)
    axes[1].scatter(g["price_of_fairness"], g["gini"], label=p, color=colors[p])
axes[1].set(xlabel="price of fairness", ylabel="Gini of group ratios", title="Equality vs its price")
axes[1].legend()
reasons = [c for c in runs.columns if c.startswith("why_")]
totals = runs.group_by("policy", maintain_order=True).agg([pl.col(c).sum() for c in reasons])
bottom = [0] * len(names)
for c in reasons:
    values = [totals.filter(pl.col("policy") == p)[c][0] for p in names]
    axes[2].bar(names, values, bottom=bottom, label=c.removeprefix("why_"))
    bottom = [b + v for b, v in zip(bottom, values)]
axes[2].set(ylabel="needs not served in full", title="Why needs go short")
for a in (axes[0], axes[2]):
    a.tick_params(axis="x", rotation=20)
axes[2].legend()
fig.tight_layout()
fig.savefig(OUT / "fairness.png", dpi=100)
'''),
])


lending = nb([
    ("markdown", """
# Lending over time: optimal plan vs first-come-first-served

Tool loans from the `urban` generator with the time model (`timed=True`): loans of 1-5 days over
four weeks with 0-7 days of slack, tool-library items pooled by kind and site. Each scenario is
solved twice: by the optimiser, and first-come-first-served (`solver: greedy`, SPEC's greedy
with time: each request, in order, takes its earliest start with room), the practice of
tool-library software. Compared: loans served, how idle the items stay, how long a borrower
waits past the first day asked for; then a Gantt chart of the first week (every library's
items, each a row).
"""),
    ("code", COMMON),
    ("code", r'''
rows, bookings = [], {}
for seed in range(1, 4):
    scenario = commonsnet.generate("urban", seed=seed, scale=2, timed=True)
    # A busy month: only the tool libraries lend (no neighbours' tools), one item of each kind.
    resources = (pl.from_arrow(scenario.resources)
                 .filter((pl.col("kind") != "tool") | (pl.col("cost") == 1))
                 .with_columns(pl.when(pl.col("kind") == "tool").then(1.0).otherwise(pl.col("cap_loans"))
                               .alias("cap_loans")))
    needs = pl.from_arrow(scenario.needs)
    items = {r["id"]: r for r in resources.filter(pl.col("kind") == "tool").iter_rows(named=True)}
    loans = {n["id"]: n for n in needs.filter(pl.col("kind") == "tool").iter_rows(named=True)}
    horizon = max(n["deadline"] + n["duration_h"] for n in loans.values())
    for plan in ["optimal", "fcfs"]:
        policy = dict(scenario.policy, solver="greedy" if plan == "fcfs" else "auto")
        result = commonsnet.solve(resources=resources, needs=needs, policy=policy, name=scenario.name)
        alloc = result.to_polars("allocations").filter(pl.col("resource").is_in(list(items)))
        booked = sum((e - st + (items[r]["turnaround_h"] or 0)) * a
                     for r, st, e, a in alloc.select("resource", "start_h", "end_h", "amt_loans").iter_rows())
        available = sum(r["cap_loans"] for r in items.values()) * horizon
        waits = [st - loans[n]["earliest"] for n, st in alloc.select("need", "start_h").iter_rows()]
        rows.append({"seed": seed, "plan": plan, "status": result.status, "requests": len(loans),
                     "served": alloc["need"].n_unique(), "idle": 1 - booked / available,
                     "mean_wait_h": sum(waits) / max(1, len(waits)),
                     "coverage_value": result.summary["coverage_value"]})
        bookings[(seed, plan)] = alloc
runs = pl.DataFrame(rows)
runs
'''),
    ("code", r'''
# What the definitions promise, checked on these runs.
for seed in range(1, 4):
    by = {p: runs.filter((pl.col("seed") == seed) & (pl.col("plan") == p)).row(0, named=True) for p in ["optimal", "fcfs"]}
    assert by["optimal"]["status"] == "optimal" and by["fcfs"]["status"] == "feasible"
    # Optimal within SPEC's lexicographic hold (V may give up 1e-7 of itself to cost less).
    assert by["optimal"]["coverage_value"] >= by["fcfs"]["coverage_value"] * (1 - 1e-6)
summary = runs.group_by("plan", maintain_order=True).agg(
    (pl.col("served").sum() / pl.col("requests").sum()).alias("share_served"),
    pl.col("idle").mean(), pl.col("mean_wait_h").mean())
summary
'''),
    ("code", r'''
# The first week of seed 1: each library item a row, each loan a bar (the 2 h check after a
# return is not drawn).
items = sorted(set(bookings[(1, "optimal")]["resource"]) | set(bookings[(1, "fcfs")]["resource"]),
               key=lambda r: int(r[1:]))
fig, axes = plt.subplots(1, 2, figsize=(15, 0.35 * len(items) + 1.5), sharey=True)
for ax, plan, color in zip(axes, ["optimal", "fcfs"], ["tab:blue", "tab:orange"]):
    week = bookings[(1, plan)].filter(pl.col("start_h") < 168)
    for r, need, st, e in week.select("resource", "need", "start_h", "end_h").iter_rows():
        ax.barh(items.index(r), e - st, left=st, height=0.6, color=color)
        ax.text(st + 1, items.index(r), need, va="center", fontsize=7, color="white")
    ax.set(xlabel="hour", xlim=(0, 168 + 5 * 24), title=f"{plan}: {week.height} loans start in week 1")
axes[0].set_yticks(range(len(items)), items)
axes[0].set_ylabel("library item")
fig.tight_layout()
fig.savefig(OUT / "lending.png", dpi=100)
'''),
])

sweep = nb([
    ("markdown", """
# A sweep on a Ray cluster

`commonsnet.ray.sweep` runs the runs of `commonsnet.simulate` as Ray tasks on whatever cluster
`ray.init()` connects to; here a local cluster of 2 CPUs. Every run is made from its index (its
scenario, policy and replicate, seeded as the CLI seeds them), so the table is the same as
`commonsnet.simulate` on one machine, row for row, but for the measured `solve_ms`.
"""),
    ("code", COMMON),
    ("code", r'''
import time
import ray
import commonsnet.ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
ARGS = dict(scenarios=6, scale=0.5, seed=3, replicates=2, policies=["greedy", "coverage", "maxmin", "leximin"],
            perturb={"demand": 0.2, "failures": 0.05, "travel_time": 0.1})
start = time.perf_counter()
table = commonsnet.ray.sweep("urban", **ARGS)
on_ray = time.perf_counter() - start
start = time.perf_counter()
local = commonsnet.simulate("urban", **ARGS)
on_one = time.perf_counter() - start
assert table.drop_columns(["solve_ms"]).equals(local.drop_columns(["solve_ms"]))
print(f"{table.num_rows} runs: {on_ray:.1f} s as Ray tasks, {on_one:.1f} s with simulate; the same table")
ray.shutdown()
'''),
    ("code", r'''
runs = pl.from_arrow(table)
by = runs.group_by("policy", maintain_order=True).agg(
    pl.col("coverage_ratio").mean(), pl.col("min_group_ratio").mean(), pl.col("cost").mean())
print(by)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].bar(by["policy"], by["coverage_ratio"], color="tab:blue")
axes[0].set(ylabel="mean coverage ratio", title="Efficiency")
axes[1].bar(by["policy"], by["min_group_ratio"], color="tab:green")
axes[1].set(ylabel="mean worst group ratio", title="Fairness")
fig.tight_layout()
fig.savefig(OUT / "sweep.png", dpi=100)
'''),
])

for name, book in [("policies", policies), ("service", service), ("fairness", fairness), ("lending", lending),
                   ("sweep", sweep)]:
    (HERE / f"{name}.ipynb").write_text(json.dumps(book, indent=1) + "\n")
