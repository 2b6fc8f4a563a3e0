"""Would a need's served share as a column of its own (`y_n`, with `sum_r x_nr - y_n = 0`, the
value objective and the value hold over the `y` columns) make HiGHS's simplex cheaper than the
engine's model, whose value terms sit on every allocation column `x_nr`? A synthetic
transportation LP like a warm session's sifted model (5,000 needs, 1,000 resources, 8 links a
need, two dimensions): the value stage, then the cost stage under `V >= V* - 1e-7 max(1, V*)`,
cold and then on one kept model after events that bind (a binding capacity halved, a need's
demand doubled). Needs highspy (benches/peers/requirements.txt).

    python3 benches/lp_need_columns.py [SEED]
"""
import sys, time, numpy as np, highspy
rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N, R, K, D = 5000, 1000, 8, 2
dem = rng.integers(1, 6, size=(N, D)).astype(float)
cap = rng.integers(5, 16, size=(R, D)).astype(float)
pri = rng.integers(1, 6, size=N).astype(float)
links = [(n, r) for n in range(N) for r in rng.choice(R, size=K, replace=False)]
cost = rng.uniform(1, 100, size=len(links)).round(1)
inf = highspy.kHighsInf

def build(aggregate, stage):
    # rows: need rows [0,N), cap rows [N, N+R*D), value row last (stage 2)
    cols = []  # list of (cost, lb, ub, [(row, a)])
    for j, (n, r) in enumerate(links):
        ent = [(n, 1.0)] + [(N + r * D + d, dem[n, d]) for d in range(D)]
        if not aggregate and stage == 2:
            ent.append((N + R * D, pri[n]))
        c = cost[j] if stage == 2 else (0.0 if aggregate else -pri[n])
        cols.append((c, 0.0, inf, ent))
    if aggregate:
        for n in range(N):
            ent = [(n, -1.0)]
            if stage == 2:
                ent.append((N + R * D, pri[n]))
            cols.append((0.0 if stage == 2 else -pri[n], 0.0, 1.0, ent))
    rows_lo = [0.0] * N + [-inf] * (R * D)
    rows_hi = [1.0 if not aggregate else 0.0] * N + list(cap.reshape(-1))
    return cols, rows_lo, rows_hi

def model(aggregate, stage, vstar=None):
    cols, lo, hi = build(aggregate, stage)
    if stage == 2:
        lo = lo + [vstar - 1e-7 * max(1, abs(vstar))]
        hi = hi + [inf]
    h = highspy.Highs(); h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex"); h.setOptionValue("presolve", "off")
    lp = highspy.HighsLp(); lp.num_col_ = len(cols); lp.num_row_ = len(lo)
    lp.col_cost_ = np.array([c[0] for c in cols]); lp.col_lower_ = np.array([c[1] for c in cols]); lp.col_upper_ = np.array([c[2] for c in cols])
    lp.row_lower_ = np.array(lo); lp.row_upper_ = np.array(hi)
    starts, idx, val = [0], [], []
    for c in cols:
        for (i, a) in c[3]:
            idx.append(i); val.append(a)
        starts.append(len(idx))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts); lp.a_matrix_.index_ = np.array(idx); lp.a_matrix_.value_ = np.array(val)
    h.passModel(lp)
    return h

def run(h):
    t = time.perf_counter(); h.run(); dt = time.perf_counter() - t
    info = h.getInfo()
    return dt, info.simplex_iteration_count, h.getInfo().objective_function_value, h.getModelStatus()

cap0 = cap.copy()
for aggregate in [False, True]:
    cap[:] = cap0
    ev_rng = np.random.default_rng(99)
    name = "y columns" if aggregate else "x only"
    h1 = model(aggregate, 1)
    dt1, it1, v1, st1 = run(h1)
    vstar = -v1
    h2 = model(aggregate, 2, vstar)
    dt2, it2, c2, st2 = run(h2)
    print(f"{name}: cold value {dt1:.2f}s {it1} it V={vstar:.4f}; cost {dt2:.2f}s {it2} it C={c2:.4f} {st2}")
    # warm: events that bind: a binding capacity halved, or a need's demand doubled
    w = []
    for ev in range(8):
        if ev % 2 == 0:
            duals = h1.getSolution().row_dual
            rows = [N + i for i in range(R * D)]
            row = max(rows, key=lambda i: abs(duals[i]))
            r, d = divmod(row - N, D)
            cap[r, d] = cap[r, d] / 2
            h1.changeRowBounds(row, -inf, cap[r, d]); h2.changeRowBounds(row, -inf, cap[r, d])
        else:
            n = int(ev_rng.integers(N))
            for j in range(n * K, n * K + K):
                r = links[j][1]
                for d in range(D):
                    h1.changeCoeff(N + r * D + d, j, 2 * dem[n, d]); h2.changeCoeff(N + r * D + d, j, 2 * dem[n, d])
            if not aggregate:
                for j in range(n * K, n * K + K):
                    h2.changeCoeff(N + R * D, j, pri[n])
        a1 = run(h1); vs = -a1[2]
        h2.changeRowBounds(N + R * D, vs - 1e-7 * max(1, abs(vs)), inf)
        a2 = run(h2)
        w.append((a1[0], a1[1], a2[0], a2[1], vs, a2[2]))
    print(f"{name}: warm (value s, it | cost s, it | V, C): " + "; ".join(f"{a:.3f} {b} | {c:.3f} {d} | {v:.2f} {c2:.2f}" for a, b, c, d, v, c2 in w))
