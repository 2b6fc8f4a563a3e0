//! Criterion benches of the solvers alone, on seeded instances generated here (no files, no
//! other crate): network simplex and cost scaling on a NETGEN-8-like network and on a
//! transportation shape with hubs, network simplex on a dense transportation problem, and the
//! assignment solver (dense LAPJV, the same instance as a flow, sparse and rectangular), and
//! a re-solve after one small change three ways: network simplex cold, network simplex from
//! the last basis, and `IncrementalFlow` from the last optimum.
//!
//! `cargo bench -p commonsnet-solvers` (a release build of this crate only, seconds). The
//! published instance files and the peer comparison's generators are benched by the root
//! `cargo bench --bench solvers`.

use commonsnet_solvers::{
    solve_assignment, AssignmentProblem, CostScaling, FlowProblem, IncrementalFlow, NetworkSimplex,
    WarmStart,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::time::Duration;

/// SplitMix64, so the generated instances are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (the modulo bias is far below what a bench instance notices).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// A dense `k x k` transportation problem (k^2 arcs), balanced supplies, costs in [1, 1000].
fn transportation(k: usize, seed: u64) -> FlowProblem {
    let mut rng = Rng(seed);
    let mut p = FlowProblem::new(2 * k);
    let mut total = 0;
    for i in 0..k {
        let s = 1 + rng.below(100) as i64;
        p.supply[i] = s;
        total += s;
    }
    // Spread the same total over the demand side.
    for j in 0..k {
        p.supply[k + j] = -(total / k as i64);
    }
    p.supply[k] -= total % k as i64;
    for i in 0..k {
        for j in 0..k {
            p.add_arc(i, k + j, 0, i64::MAX, 1 + rng.below(1000) as i64);
        }
    }
    p
}

/// NETGEN-8's shape: `2^k` nodes, 8 arcs per node with costs in [1, 10,000] and capacities in
/// [1, 1,000], `2^(k/2)` sources of 1,000 units and as many sinks; a ring of arcs at the
/// highest cost that can carry everything keeps it feasible, as NETGEN's skeleton does.
fn netgen_like(k: u32, seed: u64) -> FlowProblem {
    let mut rng = Rng(seed);
    let n = 1usize << k;
    let ends = 1usize << (k / 2);
    let total = 1000 * ends as i64;
    let mut p = FlowProblem::new(n);
    for s in 0..ends {
        p.supply[s] = 1000;
        p.supply[n - 1 - s] = -1000;
    }
    for u in 0..n {
        p.add_arc(u, (u + 1) % n, 0, total, 10_000);
        for _ in 0..7 {
            let v = (u + 1 + rng.below(n as u64 - 1) as usize) % n;
            p.add_arc(u, v, 0, rng.range(1, 1000), rng.range(1, 10_000));
        }
    }
    p
}

/// Stations supplying incidents (the shape the engine's transportation parts take): each
/// incident demands 1 to 5 units from `links` random stations at costs in [1, 1,000]; the
/// stations hold 20% more than needed, the spare going to a dummy node at cost 0. Stations
/// have `incidents * links / stations` arcs each: hubs.
fn stations(stations: usize, incidents: usize, links: usize, seed: u64) -> FlowProblem {
    let mut rng = Rng(seed);
    let dummy = stations + incidents;
    let mut p = FlowProblem::new(dummy + 1);
    let mut total = 0;
    for i in 0..incidents {
        let demand = rng.range(1, 5);
        total += demand;
        p.supply[stations + i] = -demand;
        for _ in 0..links {
            let j = rng.below(stations as u64) as usize;
            p.add_arc(j, stations + i, 0, demand, rng.range(1, 1000));
        }
    }
    let spare = total / 5;
    for _ in 0..total + spare {
        p.supply[rng.below(stations as u64) as usize] += 1;
    }
    p.supply[dummy] = -spare;
    for j in 0..stations {
        let s = p.supply[j];
        p.add_arc(j, dummy, 0, s, 0);
    }
    p
}

fn flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("network_simplex");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let t = transportation(1000, 7);
    g.bench_function("transportation_1000x1000", |b| {
        b.iter(|| NetworkSimplex::solve(&t).unwrap().cost)
    });
    let p = netgen_like(12, 1);
    g.bench_function("netgen_like_12", |b| {
        b.iter(|| NetworkSimplex::solve(&p).unwrap().cost)
    });
    let s = stations(400, 10_000, 20, 1);
    g.bench_function("stations_400x10000", |b| {
        b.iter(|| NetworkSimplex::solve(&s).unwrap().cost)
    });
    g.finish();

    // Cost scaling below and above the size where `MinCostFlow` hands it the network.
    let mut g = c.benchmark_group("cost_scaling");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for k in [12, 15] {
        let p = netgen_like(k, 1);
        g.bench_function(format!("netgen_like_{k}"), |b| {
            b.iter(|| CostScaling::solve(&p).unwrap().cost)
        });
    }
    // Where the transposed problem and the hubs' lists of residual arcs carry the speed.
    let s = stations(1000, 25_000, 20, 1);
    g.bench_function("stations_1000x25000", |b| {
        b.iter(|| CostScaling::solve(&s).unwrap().cost)
    });
    g.finish();
}

fn assignment(c: &mut Criterion) {
    let mut g = c.benchmark_group("assignment");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let mut rng = Rng(11);
    let n = 2000;
    let dense = AssignmentProblem::dense(
        n,
        n,
        (0..n * n)
            .map(|_| 1 + rng.below(1_000_000) as i64)
            .collect(),
    );
    g.bench_function("dense_2000x2000", |b| {
        b.iter(|| solve_assignment(&dense).unwrap().cost)
    });
    // The same instance as a min-cost flow, to choose between the two solvers by speed.
    let mut f = FlowProblem::new(2 * n);
    for i in 0..n {
        f.supply[i] = 1;
        f.supply[n + i] = -1;
        for j in 0..n {
            f.add_arc(i, n + j, 0, 1, dense.cost[i * n + j]);
        }
    }
    g.bench_function("dense_2000x2000_as_flow", |b| {
        b.iter(|| NetworkSimplex::solve(&f).unwrap().cost)
    });
    // Sparse and rectangular (shortest augmenting paths): 2,000 rows of 20 allowed columns
    // out of 4,000, the engine's one-to-one shape with an "unserved" column per row.
    let (rows, cols) = (2000, 4000);
    let mut sparse = AssignmentProblem::sparse(rows, cols).unwrap();
    for r in 0..rows {
        for _ in 0..20 {
            let c = rng.below(rows as u64) as usize;
            sparse.add(r, c, rng.range(1, 1_000_000));
        }
        sparse.add(r, rows + r, 2_000_000);
    }
    g.bench_function("sparse_2000x4000", |b| {
        b.iter(|| solve_assignment(&sparse).unwrap().cost)
    });
    g.finish();
}

/// One change of a session's component, applied to the network and to a kept
/// `IncrementalFlow` alike.
#[derive(Clone, Copy)]
enum Change {
    /// A new customer demanding 3 units with links from `links` random stations.
    NeedAdded { links: usize },
    /// Customer 0 demands one unit more.
    NeedUpdated,
    /// Station 0 holds two units less.
    StationShrunk,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::NeedAdded { .. } => "need_added",
            Change::NeedUpdated => "need_updated",
            Change::StationShrunk => "station_shrunk",
        }
    }

    /// The changed network (the spare going to the dummy node shrinks or grows to keep the
    /// supplies balanced; a new customer is the last node) and the arcs added, as
    /// `(from, upper, cost)` into the new customer.
    fn apply(
        self,
        p: &FlowProblem,
        stations: usize,
        rng: &mut Rng,
    ) -> (FlowProblem, Vec<(usize, i64, i64)>) {
        let mut q = p.clone();
        let dummy = p.nodes - 1;
        let mut added = Vec::new();
        match self {
            Change::NeedAdded { links } => {
                let need = q.nodes;
                q.nodes += 1;
                q.supply.push(-3);
                q.supply[dummy] += 3;
                for _ in 0..links {
                    let arc = (rng.below(stations as u64) as usize, 3, rng.range(1, 1000));
                    q.add_arc(arc.0, need, 0, arc.1, arc.2);
                    added.push(arc);
                }
            }
            Change::NeedUpdated => {
                q.supply[stations] -= 1;
                q.supply[dummy] += 1;
                for a in 0..q.arcs() {
                    if q.target[a] == stations {
                        q.upper[a] += 1;
                    }
                }
            }
            Change::StationShrunk => {
                q.supply[0] -= 2;
                q.supply[dummy] += 2;
            }
        }
        (q, added)
    }
}

/// Re-solving a session's component after one change (issue 23, point 4): network simplex
/// cold, network simplex from the last optimum's basis, and the `IncrementalFlow` the
/// sessions keep. 400 stations each linked to 1,500 customers (600,000 arcs), the shape of
/// issue 18's smaller session.
fn resolve(c: &mut Criterion) {
    let mut g = c.benchmark_group("resolve");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let stations_n = 400;
    let base = stations(stations_n, 1500, stations_n, 3);
    let first = NetworkSimplex::solve(&base).unwrap();
    let basis = first.basis.clone().unwrap();
    let costs: Vec<i128> = base.cost.iter().map(|&c| c as i128).collect();
    let kept =
        IncrementalFlow::from_optimum(&base, costs, first.flow.clone(), first.potential.clone())
            .unwrap();
    for change in [
        Change::NeedAdded { links: stations_n },
        Change::NeedUpdated,
        Change::StationShrunk,
    ] {
        let mut rng = Rng(5);
        let (q, added) = change.apply(&base, stations_n, &mut rng);
        // Nodes and arcs added come after the earlier ones: the last optimum is the start.
        let start = WarmStart {
            basis: &basis,
            flow: &first.flow,
        };
        let cold = NetworkSimplex::solve(&q).unwrap();
        let warm = NetworkSimplex::solve_from(&q, &start).unwrap();
        assert_eq!(cold.cost, warm.cost);
        g.bench_function(format!("{}/network_simplex_cold", change.name()), |b| {
            b.iter(|| NetworkSimplex::solve(&q).unwrap().cost)
        });
        g.bench_function(format!("{}/network_simplex_warm", change.name()), |b| {
            b.iter(|| NetworkSimplex::solve_from(&q, &start).unwrap().cost)
        });
        let need_arcs: Vec<usize> = (0..base.arcs())
            .filter(|&a| base.target[a] == stations_n)
            .collect();
        let update = |f: &mut IncrementalFlow| {
            let dummy = base.nodes - 1;
            match change {
                Change::NeedAdded { .. } => {
                    let need = f.add_node();
                    f.add_supply(need, -3).unwrap();
                    f.add_supply(dummy, 3).unwrap();
                    for &(from, upper, cost) in &added {
                        f.add_arc(from, need, 0, upper, cost as i128).unwrap();
                    }
                }
                Change::NeedUpdated => {
                    f.add_supply(stations_n, -1).unwrap();
                    f.add_supply(dummy, 1).unwrap();
                    for &a in &need_arcs {
                        let (lo, up) = f.bounds(a);
                        f.set_bounds(a, lo, up + 1).unwrap();
                    }
                }
                Change::StationShrunk => {
                    f.add_supply(0, -2).unwrap();
                    f.add_supply(dummy, 2).unwrap();
                }
            }
            f.reoptimize().unwrap();
            f.objective().unwrap()
        };
        assert_eq!(update(&mut kept.clone()), cold.cost);
        g.bench_function(format!("{}/incremental", change.name()), |b| {
            b.iter_batched(
                || kept.clone(),
                |mut f| update(&mut f),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, flow, assignment, resolve);
criterion_main!(benches);
