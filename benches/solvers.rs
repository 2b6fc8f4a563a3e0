//! Criterion benches of the solvers on the published instance files (NETGEN, OR-Library) and
//! on the peer comparison's generators (NETGEN-8, crisis transport; `commonsnet-datasets`),
//! and of link building through the spatial index. The solvers on their own seeded shapes are
//! benched in their crate: `cargo bench -p commonsnet-solvers`.
//!
//! `cargo bench --bench solvers` (release build; the first build compiles HiGHS).

use commonsnet_datasets::dimacs::{parse_min, parse_orlib_assign};
use commonsnet_solvers::{solve_assignment, CostScaling, NetworkSimplex};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::time::Duration;

fn instances() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/instances"))
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
            LinkBuilder::new(s.resources(), s.policy())
                .build(s.needs())
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
    g.finish();
}

criterion_group!(benches, flow, assignment, links);
criterion_main!(benches);
