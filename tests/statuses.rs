//! Statuses other than optimal: infeasible with the needs and groups at fault, time limits.

use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_engine::{scenario_from_value, solve_report, Status};
use serde_json::json;
use std::path::Path;

#[test]
fn infeasible_min_share_names_the_group() {
    let v = json!({
        "resources": [{"id": "r", "community": "north", "kind": "k", "capacity": {"x": 10}}],
        "needs": [
            {"id": "a", "community": "north", "kind": "k", "demand": {"x": 5}},
            {"id": "b", "community": "south", "kind": "k", "demand": {"x": 100}},
            {"id": "c", "community": "west", "kind": "other", "demand": {"x": 1}}
        ],
        "policy": {"fairness": {"min_share": 0.5}}
    });
    let r = solve_report(&scenario_from_value(&v).unwrap());
    assert_eq!(r.summary.status, Status::Infeasible);
    let inf = r.summary.infeasibility.unwrap();
    // south can reach at most 10/100 of its need; west has no resource of its kind at all.
    assert_eq!(inf.groups, vec!["south".to_string(), "west".to_string()]);
    assert!(inf.needs.is_empty());
    assert!(inf.message.contains("south"), "{}", inf.message);
    assert_eq!(r.summary.objective, None);
    assert!(r.allocations.is_empty());
}

#[test]
fn infeasible_min_fill_names_only_the_needs_at_fault() {
    let v = json!({
        "resources": [{"id": "r1", "kind": "k", "capacity": {"x": 4}},
                      {"id": "r2", "kind": "j", "capacity": {"x": 4}}],
        "needs": [
            {"id": "ok", "kind": "k", "demand": {"x": 2}, "min_fill": 1},
            {"id": "big", "kind": "j", "demand": {"x": 10}, "min_fill": 0.5},
            {"id": "fine", "kind": "j", "demand": {"x": 1}}
        ]
    });
    let r = solve_report(&scenario_from_value(&v).unwrap());
    assert_eq!(r.summary.status, Status::Infeasible);
    assert_eq!(
        r.summary.infeasibility.unwrap().needs,
        vec!["big".to_string()]
    );
}

#[test]
fn a_mip_stopped_by_its_time_limit_reports_time_limit_and_its_gap() {
    // chu1997 d20200: an open instance (no proven optimum), far beyond a 0.3 s budget.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/gap/chu1997/d20200");
    let inst = parse_gap(&std::fs::read(path).unwrap()).unwrap();
    let mut v = inst[0].to_scenario(Sense::Min, "d20200");
    v["policy"]["time_limit_s"] = json!(0.3);
    let r = solve_report(&scenario_from_value(&v).unwrap());
    assert_eq!(r.summary.status, Status::TimeLimit);
    match r.summary.objective {
        // An incumbent: a full assignment no better than the best known 12,230 lower bound.
        Some(c) => {
            assert!(c >= 12230.0, "{c}");
            assert!(r.summary.gap.unwrap() > 0.0);
            assert_eq!(r.summary.needs_served, 200);
        }
        None => assert!(r.allocations.is_empty()),
    }
}

/// The assignment route keeps the time limit: a one-to-one part of 300 needs and teams with
/// no time left answers `time_limit` without a plan (a review's 2,000 x 2,000 took 15 s in a
/// debug build under a limit of 2 s; a client gone is checked at the same points); with time,
/// the same part is optimal, by the assignment solver, every need served.
#[test]
fn the_assignment_route_stops_at_the_time_limit() {
    let n = 300;
    let scenario = |limit: Option<f64>| {
        let mut v = json!({
            "resources": (0..n).map(|i| json!({"id": format!("r{i}"), "kind": "k",
                "capacity": {"u": 1}, "cost": i % 7})).collect::<Vec<_>>(),
            "needs": (0..n).map(|i| json!({"id": format!("n{i}"), "kind": "k",
                "demand": {"u": 1}})).collect::<Vec<_>>(),
            "policy": {}});
        if let Some(t) = limit {
            v["policy"]["time_limit_s"] = json!(t);
        }
        scenario_from_value(&v).unwrap()
    };
    let r = solve_report(&scenario(None));
    assert_eq!(
        (
            r.summary.status,
            r.summary.solver.to_string(),
            r.summary.needs_served
        ),
        (Status::Optimal, "assignment".to_string(), n)
    );
    let r = solve_report(&scenario(Some(1e-9)));
    assert_eq!(r.summary.status, Status::TimeLimit);
    assert!(r.allocations.is_empty());
    assert_eq!(r.summary.gap, None);
}

/// The greedy baseline's fit of an indivisible need is relative: 100 needs of 1e-9 on a
/// capacity of 1e-9 serve one (an absolute 1e-9 let every one of them fit).
#[test]
fn greedy_does_not_overfill_a_tiny_capacity() {
    let needs: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            json!({"id": format!("n{i}"), "kind": "k", "demand": {"u": 1e-9},
            "indivisible": true})
        })
        .collect();
    let s = scenario_from_value(&json!({
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1e-9}}],
        "needs": needs, "policy": {"solver": "greedy"}}))
    .unwrap();
    let r = solve_report(&s);
    let served = r.needs.iter().filter(|n| n.coverage > 0.0).count();
    assert_eq!(served, 1);
}

/// The assignment route's size check cannot overflow: a one-to-one part of 2,500 needs with
/// a priority of 1e12 beside one of 0.001 and link costs of 1e12 and 1/3 took it past
/// i128 (a panic with overflow checks, a wrapped weight without). It now declines the route
/// and the part is solved by another.
#[test]
fn the_assignment_size_check_does_not_overflow() {
    let mut needs = Vec::new();
    let mut links = Vec::new();
    for i in 0..2500 {
        let priority = match i {
            0 => 1e12,
            1 => 0.001,
            _ => 1.0,
        };
        needs.push(
            json!({"id": format!("n{i}"), "kind": "k", "demand": {"u": 1},
            "priority": priority}),
        );
        for (r, cost) in [("a", 1e12), ("b", 1.0 / 3.0)] {
            links.push(json!({"resource": r, "need": format!("n{i}"), "cost": cost}));
        }
    }
    let s = scenario_from_value(&json!({
        "resources": [{"id": "a", "kind": "k", "capacity": {"u": 1}},
                      {"id": "b", "kind": "k", "capacity": {"u": 1}}],
        "needs": needs, "links": links}))
    .unwrap();
    let r = solve_report(&s);
    let used = serde_json::to_value(&r.summary.solver).unwrap();
    assert!(!used.to_string().contains("assignment"), "{used}");
}

/// Coefficients over some fifteen orders of magnitude made HiGHS's simplex end in SolveError
/// on two-need scenarios (an error, no plan); the stage is solved again by the interior point
/// method, and the plan is the optimum within the solver's tolerance.
#[test]
fn wide_coefficient_ranges_still_get_a_plan() {
    let tiny_beside_huge = json!({
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": 12}}],
        "needs": [{"id": "a", "kind": "k", "demand": {"u": 2.5e-6}, "priority": 1e12},
                  {"id": "b", "kind": "k", "demand": {"u": 8e9}}]});
    let r = solve_report(&scenario_from_value(&tiny_beside_huge).unwrap());
    assert_eq!(r.summary.status, Status::Optimal);
    assert!(r.needs[0].coverage > 1.0 - 1e-6, "{}", r.needs[0].coverage);
    let dear_link = json!({
        "resources": [{"id": "r0", "kind": "k", "capacity": {"u": 3}},
                      {"id": "r1", "kind": "k", "capacity": {"u": 90}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 123456.789}, "priority": 10}],
        "links": [{"resource": "r0", "need": "n", "cost": 1e12},
                  {"resource": "r1", "need": "n", "cost": 0}]});
    let r = solve_report(&scenario_from_value(&dear_link).unwrap());
    assert_eq!(r.summary.status, Status::Optimal);
    // Both resources in full: coverage first, then the cost, which SPEC lets give up 1e-7 of
    // the value (the dear link's share is what goes).
    let best = 10.0 * 93.0 / 123456.789;
    let v = r.summary.coverage_value;
    assert!(
        v <= best + 1e-12 && v >= best - 1e-7 - 1e-12,
        "{v} against {best}"
    );
}
