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

A batch simulation of the `disaster` generator through `commonsnet simulate`: 8 scenarios,
3 policies, 2 Monte Carlo replicates with demand, failure and travel-time perturbations.
Results are one row per run (Parquet), aggregated here with polars.
"""),
    ("code", COMMON),
    ("code", r'''
table = OUT / "disaster.parquet"
run = subprocess.run([BIN, "simulate", "--generator", "disaster", "--scenarios", "8", "--replicates", "2",
                      "--seed", "7", "--policies", "greedy,coverage,maxmin",
                      "--perturb", "demand=0.2,failures=0.05,travel_time=0.1", "--out", str(table)],
                     capture_output=True, text=True, check=True)
print(run.stdout.splitlines()[0])
runs = pl.read_parquet(table)
assert runs.height == 8 * 3 * 2, runs.height
runs.select("scenario", "policy", "replicate", "status", "coverage_ratio", "min_group_ratio", "cost").head()
'''),
    ("code", r'''
summary = (runs.group_by("policy", maintain_order=True)
           .agg([pl.col(c).mean().alias(f"{c}_mean") for c in
                 ["coverage_ratio", "min_group_ratio", "jain_index", "cost", "mean_access_time_h", "duplication_avoided"]]
                + [pl.col("coverage_ratio").quantile(q).alias(f"coverage_p{int(q*100)}") for q in (0.1, 0.5, 0.9)]))
print(summary)
# The optimal policies never serve less value than the greedy baseline on the same perturbed scenario.
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
axes[0].set(xlabel="cost", ylabel="coverage ratio", title="Coverage vs cost")
axes[1].set(xlabel="coverage ratio (efficiency)", ylabel="worst district ratio (fairness)", title="Fairness vs efficiency")
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
long = prices.unpivot(index="id", variable_name="dimension", value_name="price")
fig, ax = plt.subplots(figsize=(8, 4))
for dim, g in long.group_by("dimension", maintain_order=True):
    ax.bar([f"{i}\n{dim[0].removeprefix('shadow_price_')}" for i in g["id"]], g["price"])
ax.set(ylabel="value per extra unit of capacity", title="Shadow prices of the flood scenario")
fig.tight_layout()
fig.savefig(OUT / "shadow_prices.png", dpi=100)
server.terminate()
server.wait(timeout=30)
'''),
])

for name, book in [("policies", policies), ("service", service)]:
    (HERE / f"{name}.ipynb").write_text(json.dumps(book, indent=1) + "\n")
