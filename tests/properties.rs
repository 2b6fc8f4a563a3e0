//! Property tests: spatial links == all-pairs links; components == whole; greedy <= optimal;
//! 1 thread == N threads.

use crate::common::*;
use commonsnet_engine::graph::{haversine_km, LinkBuilder};
use commonsnet_engine::{scenario_from_value, solve_with, Report, Scenario, SolveOptions, Status};
use proptest::prelude::{any, prop_assert_eq, proptest, ProptestConfig};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn located(rng: &mut Rng, centre: (f64, f64), spread: f64) -> (Option<f64>, Option<f64>) {
    if rng.chance(0.1) {
        return (None, None);
    }
    let lat = (centre.0 + rng.range(-spread, spread)).clamp(-90.0, 90.0);
    let mut lon = centre.1 + rng.range(-2.0 * spread, 2.0 * spread);
    if lon > 180.0 {
        lon -= 360.0;
    }
    if lon < -180.0 {
        lon += 360.0;
    }
    (Some(lat), Some(lon))
}

/// Skills from a pool of 70 (more than one 64-bit word of the link builder's bit sets), each
/// with probability `p`.
fn some_skills(rng: &mut Rng, p: f64) -> BTreeSet<String> {
    (0..70)
        .filter(|_| rng.chance(p))
        .map(|i| format!("s{i}"))
        .collect()
}

/// Each of `dims` with probability `p`, in 0..=`hi`.
fn some_quantities(rng: &mut Rng, dims: &[&str], p: f64, hi: u64) -> BTreeMap<String, f64> {
    let mut q = BTreeMap::new();
    for d in dims {
        if rng.chance(p) {
            let v = rng.grid(0, hi);
            q.insert(d.to_string(), v);
        }
    }
    q
}

/// `value` with `key` set when `v` is some.
fn put(value: &mut serde_json::Value, key: &str, v: Option<f64>) {
    if let Some(v) = v {
        value[key] = json!(v);
    }
}

/// A random scenario for the link builder, made by the validator like any input (the model's
/// types cannot be built outside the engine).
fn random_sets(seed: u64) -> Scenario {
    let mut rng = Rng::new(seed);
    // Near the poles and the antimeridian as well as in town.
    let centre = [(59.3, 18.0), (89.0, 0.0), (0.0, 179.5), (-45.0, -179.9)][rng.below(4) as usize];
    let spread = [0.05, 1.0, 10.0][rng.below(3) as usize];
    let kinds = ["a", "b"];
    let resources: Vec<_> = (0..rng.below(300) + 1)
        .map(|i| {
            let (lat, lon) = located(&mut rng, centre, spread);
            let mut r = json!({
                "id": format!("r{i}"),
                "community": (["x", "y"][rng.below(2) as usize]),
                "kind": (kinds[rng.below(2) as usize]),
                "capacity": some_quantities(&mut rng, &["u", "v", "w"], 0.8, 3),
                "skills": some_skills(&mut rng, 0.5),
                "cost": rng.grid(0, 3),
            });
            put(&mut r, "lat", lat);
            put(&mut r, "lon", lon);
            put(
                &mut r,
                "available_from",
                rng.chance(0.3).then(|| rng.grid(0, 5)),
            );
            put(
                &mut r,
                "available_until",
                rng.chance(0.3).then(|| rng.grid(5, 9)),
            );
            r
        })
        .collect();
    let needs: Vec<_> = (0..rng.below(200) + 1)
        .map(|i| {
            let (lat, lon) = located(&mut rng, centre, spread);
            // "t": a dimension no resource has; a zero demand passes rule 3 anywhere. A need
            // demands something (the validator's rule), so one with only zeros gets one unit.
            let mut demand: BTreeMap<String, f64> =
                some_quantities(&mut rng, &["u", "v", "w"], 0.6, 1)
                    .into_iter()
                    .chain(rng.chance(0.1).then(|| ("t".to_string(), 1.0)))
                    .collect();
            if demand.values().all(|&d| d <= 0.0) {
                let dim = ["u", "v", "w"][rng.below(3) as usize];
                demand.insert(dim.to_string(), 1.0);
            }
            let mut n = json!({
                "id": format!("n{i}"),
                // "z": a community no resource belongs to.
                "community": (["x", "y", "z"][rng.below(3) as usize]),
                "kind": (kinds[rng.below(2) as usize]),
                "demand": demand,
                "required_skills": some_skills(&mut rng, 0.02),
            });
            put(&mut n, "lat", lat);
            put(&mut n, "lon", lon);
            put(&mut n, "earliest", rng.chance(0.3).then(|| rng.grid(0, 7)));
            put(&mut n, "deadline", rng.chance(0.3).then(|| rng.grid(7, 12)));
            n
        })
        .collect();
    let mut policy = json!({
        "cost_per_km": rng.grid(0, 2),
        "cross_community": rng.chance(0.5),
    });
    let radius = rng
        .chance(0.9)
        .then(|| [0.5, 5.0, 50.0, 500.0, 30000.0][rng.below(5) as usize]);
    put(&mut policy, "max_distance_km", radius);
    put(
        &mut policy,
        "speed_kmh",
        rng.chance(0.5).then(|| rng.grid(5, 100)),
    );
    scenario_from_value(&json!({"resources": resources, "needs": needs, "policy": policy}))
        .expect("random link-builder scenarios are valid")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn spatial_links_equal_all_pairs(seed in any::<u64>()) {
        let s = random_sets(seed);
        let fast = LinkBuilder::new(s.resources(), s.policy()).build(s.needs());
        let slow = LinkBuilder::all_pairs(s.resources(), s.needs(), s.policy());
        prop_assert_eq!(fast, slow);
    }
}

/// The engine's haversine (the sines and cosines of half of each site's latitude and
/// longitude kept, so no sine is taken per pair) against the formula with the differences
/// taken first: equal up to rounding at every scale from centimetres to antipodes, near the
/// poles and across the antimeridian.
#[test]
fn haversine_from_half_angles_matches_the_textbook_formula() {
    fn textbook(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (a, b) = (lat1.to_radians(), lat2.to_radians());
        let h = ((b - a) / 2.0).sin().powi(2)
            + a.cos() * b.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
        2.0 * 6371.0088 * h.sqrt().min(1.0).asin()
    }
    let mut rng = Rng::new(3);
    let mut worst = 0.0f64;
    for i in 0..200_000 {
        let (lat1, lon1) = (rng.range(-90.0, 90.0), rng.range(-180.0, 180.0));
        // Offsets of 10^-7 to 10^2 degrees, wrapped into range.
        let scale = 10f64.powi(2 - (i % 10));
        let lat2 = (lat1 + rng.range(-scale, scale)).clamp(-90.0, 90.0);
        let lon2 = (lon1 + rng.range(-scale, scale) + 540.0).rem_euclid(360.0) - 180.0;
        let (ours, reference) = (
            haversine_km(lat1, lon1, lat2, lon2),
            textbook(lat1, lon1, lat2, lon2),
        );
        // Products of sines and cosines near 1 round to ~1e-16 absolute: some nanometres.
        let tolerance = 1e-9 * reference + 1e-11;
        assert!(
            (ours - reference).abs() <= tolerance,
            "({lat1}, {lon1}) to ({lat2}, {lon2}): {ours} against {reference}"
        );
        assert_eq!(ours, haversine_km(lat2, lon2, lat1, lon1), "not symmetric");
        worst = worst.max((ours - reference).abs());
    }
    assert!(
        worst > 0.0,
        "the two formulas never differed: the test compares nothing"
    );
}

/// More needs than one of the builder's waves (16,384), so several waves are appended in
/// turn: the result must still equal every pair compared, in order.
#[test]
fn link_building_over_several_waves_equals_all_pairs() {
    let value = commonsnet_datasets::instances::allocation_value(40_000, 60, 2, 8.0, 11);
    let s = scenario_from_value(&value).expect("valid scenario");
    let fast = LinkBuilder::new(s.resources(), s.policy()).build(s.needs());
    let slow = LinkBuilder::all_pairs(s.resources(), s.needs(), s.policy());
    assert!(slow.len() > 20_000, "{} links", slow.len());
    assert!(slow.iter().any(|e| e.need() > 35_000));
    assert_eq!(fast, slow);
}

fn lp_shape() -> Shape {
    Shape::new(8, 12, 2)
        .with_indivisible(true)
        .with_min_fill(true)
}

#[test]
fn solving_by_components_equals_solving_whole() {
    for seed in 0..80u64 {
        let mut rng = Rng::new(seed + 50_000);
        let mut policy = random_policy(&mut rng);
        policy["fairness"] = json!("none");
        let s = scenario_from_value(&random_scenario(&mut rng, lp_shape(), policy)).unwrap();
        let split = Report::new(&solve_with(&s, &SolveOptions::default()));
        let whole = Report::new(&solve_with(
            &s,
            &SolveOptions {
                split_components: false,
                ..SolveOptions::default()
            },
        ));
        assert_eq!(split.summary.status, whole.summary.status, "seed {seed}");
        assert!(
            close(
                split.summary.coverage_value,
                whole.summary.coverage_value,
                1e-6
            ),
            "seed {seed}"
        );
        assert!(
            close(split.summary.cost, whole.summary.cost, 1e-5),
            "seed {seed}"
        );
        assert_eq!(
            split.summary.infeasibility.as_ref().map(|i| &i.needs),
            whole.summary.infeasibility.as_ref().map(|i| &i.needs),
            "seed {seed}"
        );
    }
}

#[test]
fn greedy_value_never_exceeds_the_optimum() {
    let mut compared = 0;
    for seed in 0..150u64 {
        let mut rng = Rng::new(seed + 70_000);
        let policy =
            json!({"objective": "coverage", "max_distance_km": rng.grid(5, 40), "speed_kmh": 30});
        let mut v = random_scenario(&mut rng, lp_shape(), policy);
        let s = scenario_from_value(&v).unwrap();
        v["policy"]["solver"] = json!("greedy");
        let g = scenario_from_value(&v).unwrap();
        let opt = Report::new(&solve_with(&s, &SolveOptions::default()));
        let greedy = Report::new(&solve_with(&g, &SolveOptions::default()));
        assert_eq!(greedy.summary.solver.to_string(), "greedy");
        // A greedy plan that meets every min_fill is feasible for the model, so it cannot beat it.
        if greedy.summary.status == Status::Feasible {
            assert_eq!(opt.summary.status, Status::Optimal, "seed {seed}");
            assert!(
                // The cost stage may give up to 1e-7 relative of V (SPEC's lexicographic hold).
                greedy.summary.coverage_value <= opt.summary.coverage_value * (1.0 + 1e-7) + 1e-7,
                "seed {seed}: greedy {} > optimal {}",
                greedy.summary.coverage_value,
                opt.summary.coverage_value
            );
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} comparable runs");
}

#[test]
fn results_are_identical_with_one_and_many_threads() {
    for seed in 0..40u64 {
        let mut rng = Rng::new(seed + 90_000);
        let policy = random_policy(&mut rng);
        let shape = Shape {
            resources: 30,
            needs: 40,
            ..lp_shape()
        };
        let s = scenario_from_value(&random_scenario(&mut rng, shape, policy)).unwrap();
        let on_threads = |threads: usize| {
            Report::new(&solve_with(
                &s,
                &SolveOptions {
                    split_components: true,
                    threads: Some(threads),
                    ..SolveOptions::default()
                },
            ))
        };
        let (one, many) = (on_threads(1), on_threads(4));
        assert_eq!(one.allocations, many.allocations, "seed {seed}");
        assert_eq!(one.needs, many.needs, "seed {seed}");
        assert_eq!(one.resources, many.resources, "seed {seed}");
        assert_eq!(one.summary.status, many.summary.status);
        assert_eq!(one.summary.components, many.summary.components);
    }
}

#[test]
fn greedy_follows_the_spec_order_on_a_hand_example() {
    // One van with 10 seats; needs by priority: b (3) first, then a and c (2) by earliest.
    let v = json!({
        "resources": [{"id": "van", "kind": "ride", "capacity": {"seats": 10}, "cost": 1},
                      {"id": "bus", "kind": "ride", "capacity": {"seats": 4}, "cost": 0}],
        "needs": [
            {"id": "a", "kind": "ride", "demand": {"seats": 6}, "priority": 2, "earliest": 5},
            {"id": "b", "kind": "ride", "demand": {"seats": 8}, "priority": 3},
            {"id": "c", "kind": "ride", "demand": {"seats": 4}, "priority": 2, "earliest": 1, "indivisible": true}
        ],
        "policy": {"solver": "greedy"}
    });
    let s = scenario_from_value(&v).unwrap();
    let r = Report::new(&solve_with(&s, &SolveOptions::default()));
    let got: Vec<(String, String, f64)> = r
        .allocations
        .iter()
        .map(|a| (a.resource.clone(), a.need.clone(), a.share))
        .collect();
    // b: bus (cheapest) 4/8, then van 4/8 -> van has 6 left. c (earliest 1): bus full, van 4 in
    // full -> van 2 left. a: bus full, van 2/6.
    // Allocations are listed in link order (need, then resource).
    assert_eq!(
        got,
        vec![
            ("van".into(), "a".into(), 2.0 / 6.0),
            ("van".into(), "b".into(), 0.5),
            ("bus".into(), "b".into(), 0.5),
            ("van".into(), "c".into(), 1.0),
        ]
    );
    assert_eq!(r.summary.status, Status::Feasible);
}
