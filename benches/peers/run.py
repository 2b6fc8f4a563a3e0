"""Side-by-side timings of CommonsNet and its peers on the same instance files.

    bash benches/peers/setup.sh                      # the pinned virtualenv
    $VENV/bin/python benches/peers/run.py [--reps 3] [--bin target/release/commonsnet]

Every measurement runs in a fresh process (its peak memory is that process's max RSS), solve
time is timed around the solve call only, end-to-end time includes reading the file. Medians of
--reps repetitions. Objectives must agree, or the run fails. Writes benches/RESULTS.md.
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("PEERS_WORK", Path.home() / ".cache" / "commonsnet-peers"))


# ---------------------------------------------------------------- instance files (seeded)
def lcg(seed):
    x = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield x >> 11


def crisis_transport(path, stations=2000, incidents=50000, candidates=20, seed=1):
    """Stations supply teams, incidents demand 1-5 team units; each incident links to its
    `candidates` nearest stations on a 100 x 100 km grid (cost = km, rounded); a dummy node takes
    the unused supply at cost 0 so the instance is balanced."""
    import numpy as np
    rng = np.random.default_rng(seed)
    sx, sy = rng.uniform(0, 100, stations), rng.uniform(0, 100, stations)
    ix, iy = rng.uniform(0, 100, incidents), rng.uniform(0, 100, incidents)
    demand = rng.integers(1, 6, incidents)
    total = int(demand.sum())
    supply = rng.multinomial(int(total * 1.2), np.full(stations, 1 / stations))
    lines = []
    n = stations + incidents + 1
    dummy = n
    arcs = []
    cell = 10.0  # a grid of 10 km cells to find the nearest stations
    buckets = {}
    for j in range(stations):
        buckets.setdefault((int(sx[j] // cell), int(sy[j] // cell)), []).append(j)
    for i in range(incidents):
        cx, cy = int(ix[i] // cell), int(iy[i] // cell)
        r = 1
        while True:
            near = [j for dx in range(-r, r + 1) for dy in range(-r, r + 1)
                    for j in buckets.get((cx + dx, cy + dy), [])]
            if len(near) >= candidates * 2 or r > 10:
                break
            r += 1
        near = np.array(near)
        d = np.hypot(sx[near] - ix[i], sy[near] - iy[i])
        for j, dist in zip(near[np.argsort(d)[:candidates]], np.sort(d)[:candidates]):
            arcs.append((j + 1, stations + i + 1, int(demand[i]), int(round(dist * 10))))
    for j in range(stations):
        arcs.append((j + 1, dummy, int(supply[j]), 0))
    lines.append(f"c crisis transport: {stations} stations x {incidents} incidents, {candidates} candidates, seed {seed}")
    lines.append(f"p min {n} {len(arcs)}")
    for j in range(stations):
        lines.append(f"n {j + 1} {int(supply[j])}")
    for i in range(incidents):
        lines.append(f"n {stations + i + 1} {-int(demand[i])}")
    lines.append(f"n {dummy} {-(int(supply.sum()) - total)}")
    lines.extend(f"a {u} {v} 0 {c} {w}" for u, v, c, w in arcs)
    path.write_text("\n".join(lines) + "\n")


def dense_assignment(path, n, seed=1):
    import numpy as np
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 10**6 + 1, (n, n))
    with open(path, "w") as f:
        f.write(f"c dense assignment {n} x {n}, costs in [1, 1e6], seed {seed}\n")
        f.write(f"p asn {2 * n} {n * n}\n")
        f.write("".join(f"n {i + 1}\n" for i in range(n)))
        rows, cols = np.indices((n, n))
        block = np.stack([rows.ravel() + 1, cols.ravel() + n + 1, cost.ravel()], axis=1)
        np.savetxt(f, block, fmt="a %d %d %d")


# ---------------------------------------------------------------- parsers (for peers)
def dimacs_lines(path, tag):
    """The numbers of every line starting with `tag`, as an int64 matrix."""
    import numpy as np
    lines = path.read_bytes().split(b"\n")
    body = b" ".join(l[2:] for l in lines if l.startswith(tag + b" "))
    return np.fromstring(body.decode(), dtype=np.int64, sep=" ")


def problem_line(path):
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"p "):
                return line.split()


def parse_min(path):
    nodes = int(problem_line(path)[2])
    n = dimacs_lines(path, b"n").reshape(-1, 2)
    arc = dimacs_lines(path, b"a").reshape(-1, 5)
    if (arc[:, 2] != 0).any():
        raise SystemExit("lower bounds are not supported by this peer harness")
    return nodes, n[:, 0], n[:, 1], arc


def parse_asn(path):
    nodes = int(problem_line(path)[2])
    return nodes, dimacs_lines(path, b"a").reshape(-1, 3)


# ---------------------------------------------------------------- workers (one process each)
def worker(kind, path):
    path = Path(path)
    t0 = time.perf_counter()
    if kind == "ortools-mcf":
        import numpy as np
        from ortools.graph.python import min_cost_flow
        nodes, nid, sup, arc = parse_min(path)
        f = min_cost_flow.SimpleMinCostFlow()
        f.add_arcs_with_capacity_and_unit_cost(arc[:, 0], arc[:, 1], arc[:, 3], arc[:, 4])
        supplies = np.zeros(nodes + 1, dtype=np.int64)
        supplies[nid] = sup
        f.set_nodes_supplies(np.arange(nodes + 1), supplies)
        t1 = time.perf_counter()
        status = f.solve()
        t2 = time.perf_counter()
        assert status == f.OPTIMAL, status
        obj = f.optimal_cost()
    elif kind == "networkx-mcf":
        import networkx as nx
        nodes, nid, sup, arc = parse_min(path)
        g = nx.MultiDiGraph()
        g.add_nodes_from(range(1, nodes + 1), demand=0)
        for i, s in zip(nid, sup):
            g.nodes[int(i)]["demand"] = -int(s)
        for u, v, _, c, w in arc.tolist():
            g.add_edge(u, v, capacity=c, weight=w)
        t1 = time.perf_counter()
        obj, _ = nx.network_simplex(g)
        t2 = time.perf_counter()
    elif kind in ("scipy-lsa", "ortools-lsa"):
        import numpy as np
        nodes, arc = parse_asn(path)
        n = nodes // 2
        if kind == "scipy-lsa":
            from scipy.optimize import linear_sum_assignment
            m = np.full((n, n), np.iinfo(np.int64).max // 4, dtype=np.int64)
            m[arc[:, 0] - 1, arc[:, 1] - n - 1] = arc[:, 2]
            t1 = time.perf_counter()
            r, c = linear_sum_assignment(m)
            t2 = time.perf_counter()
            obj = int(m[r, c].sum())
        else:
            from ortools.graph.python import linear_sum_assignment
            a = linear_sum_assignment.SimpleLinearSumAssignment()
            a.add_arcs_with_cost(arc[:, 0] - 1, arc[:, 1] - n - 1, arc[:, 2])
            t1 = time.perf_counter()
            status = a.solve()
            t2 = time.perf_counter()
            assert status == a.OPTIMAL, status
            obj = a.optimal_cost()
    else:
        raise SystemExit(f"unknown worker {kind}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"solve_s": t2 - t1, "total_s": t2 - t0, "objective": int(obj), "rss_kib": rss}))


def measure(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{cmd}: {out.stderr}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, rss


def ours(binary, path):
    v, wall, _ = measure(["/usr/bin/time", "-f", "%M", "-o", str(WORK / "rss.txt"), binary, "solve", str(path)])
    rss = int((WORK / "rss.txt").read_text().split()[-1])
    assert v["status"] == "optimal", v
    return {"solve_s": v["solve_ms"] / 1e3, "total_s": wall, "objective": int(v["objective"]), "rss_kib": rss,
            "solver": v.get("solver")}


def peer(kind, path):
    v, wall, _ = measure(["/usr/bin/time", "-f", "%M", "-o", str(WORK / "rss.txt"),
                          sys.executable, __file__, "--worker", kind, str(path)])
    v["total_s"] = wall  # process start and imports included, as a user would see it
    v["rss_kib"] = int((WORK / "rss.txt").read_text().split()[-1])
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "commonsnet"))
    ap.add_argument("--worker", nargs=2)
    args = ap.parse_args()
    if args.worker:
        return worker(*args.worker)
    WORK.mkdir(parents=True, exist_ok=True)
    files = {
        "netgen_8_12a": ROOT / "datasets/instances/mincostflow/netgen/netgen_8_12a.min",
        "crisis_2000x50000": WORK / "crisis_2000x50000.min",
        "dense_assign_2000": WORK / "dense_2000.asn",
    }
    if not files["crisis_2000x50000"].exists():
        crisis_transport(files["crisis_2000x50000"])
    if not files["dense_assign_2000"].exists():
        dense_assignment(files["dense_assign_2000"], 2000)
    workloads = [
        ("netgen_8_12a", "min-cost flow, NETGEN 2^12 nodes (bundled)", ["ortools-mcf", "networkx-mcf"]),
        ("crisis_2000x50000", "crisis transport as min-cost flow, 2,000 x 50,000, 20 candidates (~1M arcs)", ["ortools-mcf"]),
        ("dense_assign_2000", "dense assignment 2,000 x 2,000, costs in [1, 1e6]", ["scipy-lsa", "ortools-lsa"]),
    ]
    med = lambda xs: statistics.median(xs)
    sections = []
    for key, title, peers in workloads:
        path = files[key]
        rows = []
        runs = [ours(args.bin, path) for _ in range(args.reps)]
        base = {"tool": f"commonsnet ({runs[0]['solver']})", "solve": med([r["solve_s"] for r in runs]),
                "total": med([r["total_s"] for r in runs]), "obj": runs[0]["objective"],
                "rss": max(r["rss_kib"] for r in runs)}
        rows.append(base)
        for p in peers:
            reps = 1 if p == "networkx-mcf" else args.reps
            pr = [peer(p, path) for _ in range(reps)]
            rows.append({"tool": p, "solve": med([r["solve_s"] for r in pr]), "total": med([r["total_s"] for r in pr]),
                         "obj": pr[0]["objective"], "rss": max(r["rss_kib"] for r in pr)})
        for r in rows:
            if r["obj"] != base["obj"]:
                raise SystemExit(f"{key}: objectives disagree: {rows}")
        lines = [f"### {title}", "", f"File: `{path.name}`; objective {base['obj']} (all agree).", "",
                 "| tool | solve (s) | ours/peer solve | end to end (s) | ours/peer end to end | peak RSS (MiB) |",
                 "|---|---|---|---|---|---|"]
        for r in rows:
            ratio = "" if r is base else f"{base['solve'] / r['solve']:.2f}"
            ratio_t = "" if r is base else f"{base['total'] / r['total']:.2f}"
            lines.append(f"| {r['tool']} | {r['solve']:.4f} | {ratio} | {r['total']:.3f} | {ratio_t} | {r['rss'] / 1024:.0f} |")
        sections.append("\n".join(lines))
        print(sections[-1], flush=True)
    import importlib.metadata as md
    versions = ", ".join(f"{p} {md.version(p)}" for p in ["ortools", "scipy", "networkx", "numpy"])
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    text = "\n".join([
        "# Peer comparison",
        "",
        f"Generated by `python benches/peers/run.py --reps {args.reps}` (see README). Machine: {cpu}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; Python {platform.python_version()}; {versions}.",
        "Medians of the repetitions (NetworkX: one run). `solve` is the solver call alone (ours: the engine's `solve_ms`);",
        "`end to end` is the whole process: start, reading the file, building, solving (for Python peers, interpreter start",
        "and imports included). Ratios are ours / peer: below 1 means we are faster.",
        "",
    ] + sections) + "\n"
    (ROOT / "benches" / "RESULTS.md").write_text(text)
    print("wrote benches/RESULTS.md")


if __name__ == "__main__":
    main()
