//! Criterion benches of the solvers on the published instance files (NETGEN, OR-Library) and
//! on the peer comparison's generators (NETGEN-8, crisis transport; `commonsnet-datasets`),
//! and of link building through the spatial index. The solvers on their own seeded shapes are
//! benched in their crate: `cargo bench -p commonsnet-solvers`.
//!
//! `cargo bench --bench solvers` (release build; the first build compiles HiGHS).

use commonsnet_datasets::dimacs::{parse_min, parse_orlib_assign};
use commonsnet_solvers::{solve_assignment, CostScaling, FlowProblem, NetworkSimplex};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::path::Path;
use std::time::Duration;

fn instances() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/instances"))
}

/// A group of ten samples measured over 10 s, for all these benches: criterion's default of
/// 100 samples would take long on instances of this size.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g
}

/// The crisis transportation network of the peer comparison: `stations` x `incidents`, each
/// incident linked to its 20 nearest stations (seed 1).
fn crisis(stations: usize, incidents: usize) -> FlowProblem {
    commonsnet_datasets::instances::crisis_transport(stations, incidents, 20, 1)
        .unwrap()
        .flow
}

fn flow(c: &mut Criterion) {
    let mut g = group(c, "network_simplex");
    for name in ["netgen_8_10a", "netgen_8_12a"] {
        let p = parse_min(
            &std::fs::read(instances().join(format!("mincostflow/netgen/{name}.min"))).unwrap(),
        )
        .unwrap();
        g.bench_function(name, |b| b.iter(|| NetworkSimplex::solve(&p).unwrap().cost));
    }
    let crisis_400 = crisis(400, 10_000);
    g.bench_function("crisis_400x10000", |b| {
        b.iter(|| NetworkSimplex::solve(&crisis_400).unwrap().cost)
    });
    g.finish();

    // Cost scaling on the NETGEN-8 shape where it takes over (2^15 nodes) and below it.
    let mut g = group(c, "cost_scaling");
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
    let crisis_1000 = crisis(1000, 25_000);
    g.bench_function("crisis_1000x25000", |b| {
        b.iter(|| CostScaling::solve(&crisis_1000).unwrap().cost)
    });
    g.finish();
}

fn links(c: &mut Criterion) {
    use commonsnet_engine::graph::LinkBuilder;
    let mut g = group(c, "link_builder");
    let value = commonsnet_datasets::instances::allocation_value(50_000, 5_000, 3, 1.5, 7);
    let s = commonsnet_engine::scenario_from_value(&value).unwrap();
    g.bench_function("needs_50000_resources_5000", |b| {
        b.iter(|| {
            LinkBuilder::new(s.resources(), s.policy())
                .build(s.needs())
                .len()
        })
    });
    g.finish();
}

fn assignment(c: &mut Criterion) {
    let mut g = group(c, "assignment");
    let p = parse_orlib_assign(&std::fs::read(instances().join("assign/assign800.txt")).unwrap())
        .unwrap();
    g.bench_function("orlib_assign800", |b| {
        b.iter(|| solve_assignment(&p).unwrap().cost)
    });
    g.finish();
}

criterion_group!(benches, flow, assignment, links);
criterion_main!(benches);
