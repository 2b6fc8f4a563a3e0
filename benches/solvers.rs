//! Criterion benches guarding the hot paths: the network simplex on NETGEN, on a dense
//! transportation instance and on the crisis shape, cost scaling on NETGEN-8 and the crisis
//! shape, the assignment
//! solver (JV and sparse), and link building through the spatial index.
//!
//! `cargo bench --bench solvers` (release build; the first build compiles HiGHS).

use commonsnet_datasets::dimacs::{parse_min, parse_orlib_assign};
use commonsnet_engine::assignment::{solve_assignment, AssignmentProblem};
use commonsnet_engine::cost_scaling::CostScaling;
use commonsnet_engine::flow::{FlowProblem, NetworkSimplex};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::time::Duration;

fn instances() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/instances"))
}

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
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A dense `k x k` transportation problem (k^2 arcs), balanced supplies, costs in [1, 1000].
pub fn transportation(k: usize, seed: u64) -> FlowProblem {
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

fn flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("network_simplex");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for name in ["netgen_8_10a", "netgen_8_12a"] {
        let p = parse_min(
            &std::fs::read(instances().join(format!("mincostflow/netgen/{name}.min"))).unwrap(),
        )
        .unwrap();
        g.bench_function(name, |b| b.iter(|| NetworkSimplex::solve(&p).unwrap().cost));
    }
    let t = transportation(1000, 7);
    g.bench_function("transportation_1000x1000", |b| {
        b.iter(|| NetworkSimplex::solve(&t).unwrap().cost)
    });
    let crisis = commonsnet_datasets::instances::crisis_transport(400, 10_000, 20, 1)
        .unwrap()
        .flow;
    g.bench_function("crisis_400x10000", |b| {
        b.iter(|| NetworkSimplex::solve(&crisis).unwrap().cost)
    });
    g.finish();

    // Cost scaling on the NETGEN-8 shape where it takes over (2^15 nodes) and below it.
    let mut g = c.benchmark_group("cost_scaling");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for k in [12, 15] {
        let p = commonsnet_datasets::instances::netgen(
            &commonsnet_datasets::instances::NetgenParams::netgen8(k, 1),
        )
        .unwrap();
        g.bench_function(format!("netgen8_{k}"), |b| {
            b.iter(|| CostScaling::solve(&p).unwrap().cost)
        });
    }
    // The crisis shape, where the transposed problem and the hubs' lists of residual arcs
    // carry the speed (the stations have ~500 arcs each).
    let crisis = commonsnet_datasets::instances::crisis_transport(1000, 25_000, 20, 1)
        .unwrap()
        .flow;
    g.bench_function("crisis_1000x25000", |b| {
        b.iter(|| CostScaling::solve(&crisis).unwrap().cost)
    });
    g.finish();
}

fn links(c: &mut Criterion) {
    use commonsnet_engine::graph::LinkBuilder;
    let mut g = c.benchmark_group("link_builder");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let value = commonsnet_datasets::instances::allocation_value(50_000, 5_000, 3, 1.5, 7);
    let s = commonsnet_engine::scenario_from_value(&value).unwrap();
    g.bench_function("needs_50000_resources_5000", |b| {
        b.iter(|| {
            LinkBuilder::new(&s.resources, &s.policy)
                .build(&s.needs)
                .len()
        })
    });
    g.finish();
}

fn assignment(c: &mut Criterion) {
    let mut g = c.benchmark_group("assignment");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let p = parse_orlib_assign(&std::fs::read(instances().join("assign/assign800.txt")).unwrap())
        .unwrap();
    g.bench_function("orlib_assign800", |b| {
        b.iter(|| solve_assignment(&p).unwrap().cost)
    });
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
    g.finish();
}

criterion_group!(benches, flow, assignment, links);
criterion_main!(benches);
