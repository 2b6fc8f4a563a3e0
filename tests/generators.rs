//! The pilot generators and the batch runner's perturbations.

use commonsnet_datasets::generate::{generate, generate_scenario, GENERATORS};
use commonsnet_engine::batch::{perturb, run_one, BatchSettings, Perturbation, PolicySpec};
use commonsnet_engine::graph::Network;
use commonsnet_engine::Status;

#[test]
fn generators_are_deterministic_valid_and_scale() {
    for name in GENERATORS {
        let a = generate(name, 1.0, 42).unwrap();
        assert_eq!(
            a,
            generate(name, 1.0, 42).unwrap(),
            "{name} is not deterministic"
        );
        assert_ne!(
            a,
            generate(name, 1.0, 43).unwrap(),
            "{name} ignores its seed"
        );
        let small = generate_scenario(name, 1.0, 42).unwrap();
        let large = generate_scenario(name, 4.0, 42).unwrap();
        assert!(
            small.needs().len() >= 20,
            "{name}: {} needs",
            small.needs().len()
        );
        assert!(!small.resources().is_empty());
        assert!(
            large.needs().len() > 2 * small.needs().len(),
            "{name}: scale 4 has {} needs vs {}",
            large.needs().len(),
            small.needs().len()
        );
        assert!(
            !Network::build(&small).edges.is_empty(),
            "{name} has no links"
        );
    }
    assert!(generate("moon", 1.0, 1).is_err());
    assert!(generate("urban", 0.0, 1).is_err());
}

#[test]
fn generated_scenarios_solve_and_optimal_beats_greedy() {
    for name in GENERATORS {
        for seed in 0..2 {
            let s = generate_scenario(name, 1.0, seed).unwrap();
            let settings = BatchSettings::default();
            let greedy = run_one(
                0,
                &s,
                name,
                &PolicySpec::Named("greedy".into()),
                0,
                1,
                &settings,
            );
            let opt = run_one(
                1,
                &s,
                name,
                &PolicySpec::Named("coverage".into()),
                0,
                1,
                &settings,
            );
            assert_eq!(greedy.status, Status::Feasible, "{name}/{seed}: {greedy:?}");
            assert_eq!(opt.status, Status::Optimal, "{name}/{seed}: {opt:?}");
            let (g, o) = (greedy.coverage_value.unwrap(), opt.coverage_value.unwrap());
            assert!(
                o >= g - 1e-6 * g.max(1.0),
                "{name}/{seed}: optimal {o} < greedy {g}"
            );
            assert!(o > 0.0);
        }
    }
}

#[test]
fn perturbations_are_seeded_and_do_what_they_say() {
    let s = generate_scenario("disaster", 1.0, 3).unwrap();
    let p = Perturbation {
        demand: 0.3,
        failures: 0.2,
        travel_time: 0.25,
    };
    let a = perturb(&s, &p, 9);
    assert_eq!(a, perturb(&s, &p, 9));
    assert_ne!(a, perturb(&s, &p, 10));
    // Demand: every need scaled by one factor within [0.7, 1.3].
    for (n0, n1) in s.needs().iter().zip(a.needs()) {
        let f: Vec<f64> = n0.demand.iter().map(|(d, q)| n1.demand[d] / q).collect();
        assert!(f.iter().all(|x| (0.7 - 1e-12..=1.3 + 1e-12).contains(x)));
        assert!(f.iter().all(|x| (x - f[0]).abs() < 1e-12));
    }
    // Failures: a fraction of resources removed, the rest untouched.
    assert!(a.resources().len() < s.resources().len());
    assert!(a.resources().iter().all(|r| s.resources().contains(r)));
    let all_fail = perturb(
        &s,
        &Perturbation {
            failures: 1.0,
            ..Default::default()
        },
        1,
    );
    assert!(all_fail.resources().is_empty());
    // Travel time: links become explicit with times within +-25% of the rule-built ones, and
    // no link breaks a deadline.
    let only_time = perturb(
        &s,
        &Perturbation {
            travel_time: 0.25,
            ..Default::default()
        },
        5,
    );
    let base = Network::build(&s);
    let links = only_time.links().unwrap();
    assert!(links.len() <= base.edges.len() && links.len() * 10 >= base.edges.len() * 9);
    let by_pair: std::collections::HashMap<(String, String), f64> = base
        .edges
        .iter()
        .map(|e| {
            (
                (
                    s.resources()[e.resource()].id.clone(),
                    s.needs()[e.need()].id.clone(),
                ),
                e.time().unwrap(),
            )
        })
        .collect();
    let needs: std::collections::HashMap<&str, &commonsnet_engine::model::Need> =
        s.needs().iter().map(|n| (n.id.as_str(), n)).collect();
    let res: std::collections::HashMap<&str, &commonsnet_engine::model::Resource> =
        s.resources().iter().map(|r| (r.id.as_str(), r)).collect();
    for l in links {
        let t0 = by_pair[&(l.resource.clone(), l.need.clone())];
        let t = l.time.unwrap();
        assert!(t >= 0.75 * t0 - 1e-12 && t <= 1.25 * t0 + 1e-12);
        if let Some(d) = needs[l.need.as_str()].deadline {
            assert!(res[l.resource.as_str()].available_from.unwrap_or(0.0) + t <= d);
        }
    }
    // No perturbation: the scenario itself.
    assert_eq!(perturb(&s, &Perturbation::default(), 5), s);
}

/// `--timed` scenarios use the time model, solve to optimality, and first-come-first-served
/// never serves more; their snapshot part is the generator's snapshot (same entities).
#[test]
fn timed_generators_make_timed_scenarios_that_solve() {
    use commonsnet_datasets::generate::{generate_scenario_with, Clock};
    for name in GENERATORS {
        let s = generate_scenario_with(name, 1.0, 5, Clock::Timed).unwrap();
        let snapshot = generate_scenario(name, 1.0, 5).unwrap();
        assert!(s.is_timed(), "{name}");
        assert!(!snapshot.is_timed(), "{name}");
        let ids = |s: &commonsnet_engine::Scenario| -> Vec<String> {
            s.needs().iter().map(|n| n.id.clone()).collect()
        };
        assert_eq!(ids(&s), ids(&snapshot), "{name}");
        let settings = BatchSettings::default();
        let run = |policy: &str| {
            run_one(
                0,
                &s,
                name,
                &PolicySpec::Named(policy.into()),
                0,
                1,
                &settings,
            )
        };
        let (fcfs, opt) = (run("greedy"), run("coverage"));
        assert_eq!(opt.status, Status::Optimal, "{name}");
        assert_eq!(fcfs.status, Status::Feasible, "{name}");
        let (f, o) = (fcfs.coverage_value.unwrap(), opt.coverage_value.unwrap());
        assert!(f <= o * (1.0 + 1e-6), "{name}: {f} > {o}");
    }
}

/// Travel-time noise may bring a link in as well as take one out: a need the nominal time
/// misses by 5% is reached in the replicates whose factor is below 0.95 (37.5% of them under
/// +-20%), as one the nominal time makes by 5% is lost in those above 1.05 (37.5%). The links
/// were built with the deadlines first, so the first need was never reached.
#[test]
fn travel_time_noise_brings_links_in_and_takes_them_out_alike() {
    use commonsnet_engine::scenario_from_value;
    use serde_json::json;
    let scenario = |deadlines: [Option<f64>; 2]| {
        scenario_from_value(&json!({
            "resources": [{"id": "r", "kind": "van", "capacity": {"u": 2}, "lat": 0.0, "lon": 0.0}],
            "needs": [
                {"id": "late", "kind": "van", "demand": {"u": 1}, "lat": 0.5, "lon": 0.0,
                 "deadline": deadlines[0]},
                {"id": "early", "kind": "van", "demand": {"u": 1}, "lat": 0.0, "lon": 0.5,
                 "deadline": deadlines[1]}],
            "policy": {"speed_kmh": 50}}))
        .unwrap()
    };
    let base = Network::build(&scenario([None, None]));
    let t: Vec<f64> = base.edges.iter().map(|e| e.time().unwrap()).collect();
    let s = scenario([Some(0.95 * t[0]), Some(1.05 * t[1])]);
    let p = Perturbation {
        travel_time: 0.2,
        ..Default::default()
    };
    let replicates = 400;
    let mut reached = [0usize; 2];
    for seed in 0..replicates {
        for l in perturb(&s, &p, seed).links().unwrap() {
            reached[usize::from(l.need == "early")] += 1;
        }
    }
    let share = |k: usize| reached[k] as f64 / replicates as f64;
    assert!((share(0) - 0.375).abs() < 0.08, "late reached {}", share(0));
    assert!(
        (share(1) - 0.625).abs() < 0.08,
        "early reached {}",
        share(1)
    );
}

/// `served_within_1h` is a share of all needs: 0 when every resource failed and nothing is
/// served, not null (a policy's mean left such runs out); null only where the scenario knows
/// no travel time.
#[test]
fn served_within_an_hour_is_zero_when_nothing_is_served() {
    let s = generate_scenario("disaster", 1.0, 3).unwrap();
    let run = |failures: f64| {
        let settings = BatchSettings {
            perturbation: Perturbation {
                failures,
                ..Default::default()
            },
            ..Default::default()
        };
        let policy = PolicySpec::Named("coverage".into());
        run_one(0, &s, "disaster", &policy, 0, 1, &settings).metrics
    };
    assert!(run(0.0).served_within_1h.unwrap() > 0.0);
    assert_eq!(run(1.0).served_within_1h, Some(0.0));
    let no_times = commonsnet_engine::scenario_from_value(&serde_json::json!({
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]}))
    .unwrap();
    let settings = BatchSettings::default();
    let row = run_one(
        0,
        &no_times,
        "s",
        &PolicySpec::Named("coverage".into()),
        0,
        1,
        &settings,
    );
    assert_eq!(row.metrics.served_within_1h, None);
}
