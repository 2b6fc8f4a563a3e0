//! The engine against a deliberately naive model of SPEC: links by comparing every pair with
//! the rules re-written here, and one LP per stage written straight from the formulas with
//! good_lp (a different modelling layer from the engine's row builder; the feasible set is
//! `tests/fairness.rs`'s `Naive`).

use crate::common::*;
use crate::fairness::Naive;
use commonsnet_engine::model::{Fairness, Objective, Scenario};
use commonsnet_engine::solve::SolverUsed;
use commonsnet_engine::{scenario_from_value, solve, Report, Status};
use good_lp::{constraint, Expression};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Clone)]
pub(crate) struct NaiveLink {
    pub(crate) r: usize,
    pub(crate) n: usize,
    pub(crate) cost: f64,
    pub(crate) uses: BTreeMap<String, f64>,
}

fn naive_haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6371.0088_f64;
    let (a, b) = (lat1.to_radians(), lat2.to_radians());
    let h = ((b - a) / 2.0).sin().powi(2)
        + a.cos() * b.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

pub(crate) fn naive_links(s: &Scenario) -> Vec<NaiveLink> {
    let mut out = Vec::new();
    if let Some(links) = s.links() {
        for l in links {
            let r = s
                .resources()
                .iter()
                .position(|x| x.id == l.resource)
                .unwrap();
            let n = s.needs().iter().position(|x| x.id == l.need).unwrap();
            let mut uses = s.needs()[n].demand.clone();
            for (k, v) in &l.use_ {
                uses.insert(k.clone(), *v);
            }
            out.push(NaiveLink {
                r,
                n,
                cost: l.cost,
                uses,
            });
        }
        return out;
    }
    let p = &s.policy();
    for (n, need) in s.needs().iter().enumerate() {
        for (r, res) in s.resources().iter().enumerate() {
            if res.kind != need.kind {
                continue;
            }
            if !p.cross_community && res.community != need.community {
                continue;
            }
            if !need.required_skills.iter().all(|k| res.skills.contains(k)) {
                continue;
            }
            if need
                .demand
                .iter()
                .any(|(d, &q)| q > 0.0 && res.capacity.get(d).copied().unwrap_or(0.0) <= 0.0)
            {
                continue;
            }
            let dist = match (res.lat, res.lon, need.lat, need.lon) {
                (Some(a), Some(b), Some(c), Some(d)) => Some(naive_haversine(a, b, c, d)),
                _ => None,
            };
            if let (Some(d), Some(m)) = (dist, p.max_distance_km) {
                if d > m {
                    continue;
                }
            }
            let time = match (dist, p.speed_kmh) {
                (Some(d), Some(v)) => d / v,
                _ => 0.0,
            };
            if let Some(dl) = need.deadline {
                if res.available_from.unwrap_or(0.0) + time > dl {
                    continue;
                }
            }
            if let (Some(u), Some(e)) = (res.available_until, need.earliest) {
                if u < e {
                    continue;
                }
            }
            out.push(NaiveLink {
                r,
                n,
                cost: res.cost + p.cost_per_km * dist.unwrap_or(0.0),
                uses: need.demand.clone(),
            });
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Goal {
    MaxV,
    MinC,
    MaxW,
    MaxT,
}

/// One stage of the naive model (`tests/fairness.rs`'s `Naive`, one more variable `t`);
/// `(V, C, t)`, `None` when infeasible.
fn naive_stage(
    s: &Scenario,
    goal: Goal,
    hold_v: Option<f64>,
    hold_t: Option<f64>,
) -> Option<(f64, f64, f64)> {
    let w = s.policy().cost_weight;
    let fairness = s.policy().fairness;
    let best = Naive::new(s).maximise(1, |e, extra| {
        let t = extra[0];
        let objective = match goal {
            Goal::MaxV => e.value.clone(),
            Goal::MinC => -e.cost.clone(),
            Goal::MaxW => e.value.clone() - w * e.cost.clone(),
            Goal::MaxT => Expression::from(t),
        };
        let mut more = vec![constraint!(t >= 0.0), constraint!(t <= 1.0)];
        // Group ratios.
        if fairness != Fairness::None {
            for ratio in &e.ratio {
                if goal == Goal::MaxT {
                    more.push(constraint!(ratio.clone() >= t));
                }
                if let Some(h) = hold_t {
                    more.push(constraint!(ratio.clone() >= h));
                }
                if let Fairness::MinShare(m) = fairness {
                    more.push(constraint!(ratio.clone() >= m));
                }
            }
        }
        if let Some(h) = hold_v {
            more.push(constraint!(e.value.clone() >= h));
        }
        (objective, more)
    })?;
    Some((best.value, best.cost, best.extra[0]))
}

/// `(V, C)` of the naive model, `None` when infeasible.
fn naive_solve(s: &Scenario) -> Option<(f64, f64)> {
    let mut hold_t = None;
    if s.policy().fairness == Fairness::Maxmin {
        let (_, _, t) = naive_stage(s, Goal::MaxT, None, None)?;
        hold_t = Some((t - 1e-7).max(0.0));
    }
    let (v, c, _) = match s.policy().objective {
        Objective::Coverage => {
            let (v, _, _) = naive_stage(s, Goal::MaxV, None, hold_t)?;
            naive_stage(s, Goal::MinC, Some(v - 1e-7 * v.abs().max(1.0)), hold_t)?
        }
        Objective::Cost => naive_stage(s, Goal::MinC, None, hold_t)?,
        Objective::Weighted => naive_stage(s, Goal::MaxW, None, hold_t)?,
        other => unreachable!("random_policy does not pick {other:?} (tests/fairness.rs does)"),
    };
    Some((v, c))
}

fn check(seed: u64, shape: Shape) {
    let mut rng = Rng::new(seed);
    let policy = random_policy(&mut rng);
    let value = random_scenario(&mut rng, shape, policy);
    let s = scenario_from_value(&value).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let report = Report::new(&solve(&s));
    let sum = &report.summary;
    match naive_solve(&s) {
        None => assert_eq!(
            sum.status,
            Status::Infeasible,
            "seed {seed}: oracle infeasible\n{value}"
        ),
        Some((v, c)) => {
            assert_eq!(
                sum.status,
                Status::Optimal,
                "seed {seed}: {:?}\n{value}",
                sum.infeasibility
            );
            let tol = 1e-5;
            // V is pinned under coverage, C under cost (and coverage), V - wC under weighted.
            if s.policy().objective == Objective::Coverage {
                assert!(
                    close(sum.coverage_value, v, tol),
                    "seed {seed}: V engine {} oracle {v}\n{value}",
                    sum.coverage_value
                );
            }
            match s.policy().objective {
                Objective::Weighted => {
                    let w = s.policy().cost_weight;
                    assert!(
                        close(sum.coverage_value - w * sum.cost, v - w * c, tol),
                        "seed {seed}: V - wC engine {} oracle {}\n{value}",
                        sum.coverage_value - w * sum.cost,
                        v - w * c
                    );
                }
                _ => assert!(
                    close(sum.cost, c, 1e-4),
                    "seed {seed}: C engine {} oracle {c}\n{value}",
                    sum.cost
                ),
            }
        }
    }
}

#[test]
fn rule_built_divisible_scenarios_match_the_naive_model() {
    let shape = Shape::new(6, 8, 2).with_min_fill(true);
    for seed in 0..150 {
        check(seed, shape);
    }
}

#[test]
fn explicit_links_with_use_overrides_match_the_naive_model() {
    let shape = Shape::new(5, 7, 2).with_links(true).with_min_fill(true);
    for seed in 1000..1150 {
        check(seed, shape);
    }
}

#[test]
fn indivisible_needs_match_the_naive_mip() {
    let shape = Shape::new(5, 8, 3)
        .with_indivisible(true)
        .with_min_fill(true);
    for seed in 2000..2120 {
        check(seed, shape);
    }
    let shape = shape.with_links(true);
    for seed in 3000..3120 {
        check(seed, shape);
    }
}

/// Max-min over one group adds nothing to the coverage objective
/// (`Policy::fairness_implied`): such scenarios (one community, or one kind under `group_by:
/// kind`) are solved as coverage, components apart, on the same routes as without the rule,
/// and still match the naive model's three stages (max `t`, then max `V` and min `C` under
/// SPEC's holds); leximin, whose one level is that `t`, matches it too. The greedy baseline
/// under the rule keeps its price of fairness against the coverage optimum. With needs in two
/// groups the rule binds and the scenario stays on HiGHS.
#[test]
fn max_min_over_one_group_is_solved_as_coverage_and_matches_the_naive_model() {
    let shape = Shape::new(6, 10, 1).with_min_fill(true);
    let (mut on_flow, mut on_lp, mut greedy_short) = (0, 0, 0);
    for seed in 4000..4150 {
        let mut rng = Rng::new(seed);
        let policy = json!({"fairness": "maxmin", "cross_community": true});
        let mut value = random_scenario(&mut rng, shape, policy);
        if rng.chance(0.7) {
            let (field, group) = if rng.chance(0.5) {
                ("community", "north")
            } else {
                value["policy"]["group_by"] = json!("kind");
                ("kind", "shelter")
            };
            for n in value["needs"].as_array_mut().unwrap() {
                n[field] = json!(group);
            }
        }
        let s = scenario_from_value(&value).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let groups: std::collections::BTreeSet<&str> =
            s.needs().iter().map(|n| s.policy().group_of(n)).collect();
        let Some((v, c)) = naive_solve(&s) else {
            let sum = Report::new(&solve(&s)).summary;
            assert_eq!(sum.status, Status::Infeasible, "seed {seed}\n{value}");
            continue;
        };
        let with = |key: &str, x: Value| {
            let mut w = value.clone();
            w["policy"][key] = x;
            Report::new(&solve(&scenario_from_value(&w).unwrap())).summary
        };
        let rules = if groups.len() == 1 {
            vec!["maxmin", "leximin"]
        } else {
            vec!["maxmin"]
        };
        for rule in rules {
            let sum = with("fairness", json!(rule));
            assert_eq!(sum.status, Status::Optimal, "seed {seed} {rule}\n{value}");
            assert!(
                close(sum.coverage_value, v, 1e-5),
                "seed {seed} {rule}: V engine {} oracle {v}\n{value}",
                sum.coverage_value
            );
            assert!(
                close(sum.cost, c, 1e-4),
                "seed {seed} {rule}: C engine {} oracle {c}\n{value}",
                sum.cost
            );
            let flow = sum.solver.contains(SolverUsed::NetworkSimplex);
            if groups.len() == 1 {
                // The routes of the same scenario without the rule.
                let plain = with("fairness", json!("none"));
                assert_eq!(sum.solver, plain.solver, "seed {seed} {rule}");
                assert_eq!(sum.price_of_fairness, Some(0.0), "seed {seed} {rule}");
                on_flow += usize::from(flow);
            } else {
                assert!(!flow, "seed {seed}: {:?}", sum.solver);
                on_lp += 1;
            }
        }
        let greedy = with("solver", json!("greedy"));
        // SPEC's price of fairness of a greedy plan (one that keeps every min_fill): against
        // the best coverage value.
        if groups.len() == 1 && greedy.status != Status::Infeasible {
            let price = ((v - greedy.coverage_value) / v).max(0.0);
            let got = greedy.price_of_fairness;
            assert!(
                got.is_some_and(|p| (p - price).abs() <= 1e-6) || v <= 0.0,
                "seed {seed}: greedy price {got:?}, want {price}\n{value}"
            );
            greedy_short += usize::from(price > 1e-6);
        }
    }
    assert!(
        on_flow > 80 && on_lp > 20 && greedy_short > 5,
        "{on_flow} on the flow, {on_lp} on HiGHS, {greedy_short} greedy plans short of V*"
    );
}

/// Scenarios whose capacities, demands, priorities and link costs each span `orders` orders
/// of magnitude (`10^u`, `u` uniform in `[-orders/2, orders/2]`), two dimensions, needs in
/// three communities, explicit links.
pub(crate) fn wide_scenario(seed: u64, orders: f64, fairness: &str) -> Value {
    let mut rng = Rng::new(seed);
    let mag = move |rng: &mut Rng| 10f64.powf(rng.range(-orders / 2.0, orders / 2.0));
    let communities = ["a", "b", "c"];
    let resources: Vec<Value> = (0..4)
        .map(|i| {
            let community = communities[rng.below(3) as usize];
            json!({"id": format!("r{i}"), "community": community, "kind": "k",
                   "capacity": {"u": mag(&mut rng), "v": mag(&mut rng)}})
        })
        .collect();
    let needs: Vec<Value> = (0..6)
        .map(|j| {
            let community = communities[rng.below(3) as usize];
            json!({"id": format!("n{j}"), "community": community, "kind": "k",
                   "priority": mag(&mut rng), "demand": {"u": mag(&mut rng), "v": mag(&mut rng)}})
        })
        .collect();
    let mut links = Vec::new();
    for j in 0..6 {
        for i in 0..4 {
            if rng.chance(0.7) {
                links.push(json!({"need": format!("n{j}"), "resource": format!("r{i}"),
                                  "cost": mag(&mut rng)}));
            }
        }
    }
    json!({"resources": resources, "needs": needs, "links": links,
           "policy": {"fairness": fairness}})
}

/// Values spanning four to nine orders of magnitude (a demand of 1e-3 beside one of 1e3,
/// priorities alike) left HiGHS's dual simplex at `Unknown`, or calling a later stage
/// infeasible that the previous plan satisfies, and the solve failed (a 500 over HTTP).
/// The rescues (`lp::SubModel::rescue`, `Stages::run_stage`) solve them: an optimum whose
/// V and smallest group ratio are the naive model's (V to 1e-4, 1e-3 under max-min at nine
/// orders; the ratio to 2e-6). At these spans the later stages hang on the holds' last
/// digits, so V is compared more loosely than in `check` (seed 74: the smallest ratio
/// 6.5e-8 under `t* - 1e-7`, within HiGHS's tolerance, gave V 2.3e-5 higher; seed 238: the
/// naive model's own V moves by 3e-4 between feasibility tolerances 1e-7 and 1e-9) and C
/// not at all (seed 84: 15.8 against 13.9 for plans whose V
/// agree to 1e-9; a looser hold even gave the naive model a dearer plan, through a higher V*).
#[test]
fn values_spanning_many_orders_solve_as_the_naive_model_does() {
    let (mut checked, mut unchecked) = (0, 0);
    for (orders, fairness, seeds, v_tol) in [
        (6.0, "maxmin", 0..120u64, 1e-4),
        (9.0, "maxmin", 200..260, 1e-3),
        (9.0, "none", 300..360, 1e-4),
    ] {
        for seed in seeds {
            let value = wide_scenario(seed, orders, fairness);
            let s = scenario_from_value(&value).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let report = Report::new(&solve(&s));
            let sum = &report.summary;
            // Nothing here is a hard floor (no `min_fill`, no `min_share`): the empty plan
            // is feasible, so the answer is an optimum.
            assert_eq!(
                sum.status,
                Status::Optimal,
                "seed {seed} ({orders} orders, {fairness}): {:?}\n{value}",
                report.summary.infeasibility
            );
            // The naive model runs on HiGHS too, as it comes, and meets the same trouble on
            // a few of these (`Unknown`, or "infeasible"): those seeds are not compared.
            let naive = std::panic::catch_unwind(|| {
                let t = (fairness == "maxmin")
                    .then(|| naive_stage(&s, Goal::MaxT, None, None).map(|(_, _, t)| t));
                (naive_solve(&s), t.flatten())
            });
            let Ok((Some((v, _)), t)) = naive else {
                unchecked += 1;
                continue;
            };
            assert!(
                close(sum.coverage_value, v, v_tol),
                "seed {seed}: V engine {} oracle {v}\n{value}",
                sum.coverage_value
            );
            if let Some(t) = t {
                assert!(
                    sum.min_group_ratio >= t - 2e-6,
                    "seed {seed}: smallest ratio {} below the naive t {t}\n{value}",
                    sum.min_group_ratio
                );
            }
            checked += 1;
        }
    }
    assert!(
        unchecked <= 10,
        "the naive model failed on {unchecked} seeds"
    );
    assert!(checked >= 220, "only {checked} seeds compared");
}
