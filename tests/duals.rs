//! Shadow prices and marginal values, checked against hand-computed values and by finite
//! difference: an LP optimum is concave in a capacity, so every optimal dual lies between the
//! one-sided derivatives (left >= price >= right). On the exact routes (one dimension, no
//! fairness) a price is the right derivative: what one more unit gains, as SPEC reads it.

use crate::common::*;
use crate::fairness::Naive;
use commonsnet_engine::model::{Objective, Scenario};
use commonsnet_engine::{scenario_from_value, solve_report, Report, Status};
use serde_json::{json, Value};

fn report(v: &Value) -> Report {
    solve_report(&scenario_from_value(v).unwrap())
}

/// A plan without duals prices nothing: greedy's, and an infeasible scenario's, marginal
/// values and shadow prices are null, not 0 (a mean over a batch's runs took the zeros for
/// prices); the summary says `duals: "none"`. The LP plan of the same rows has them.
#[test]
fn a_plan_without_duals_prices_nothing() {
    use arrow_array::Array;
    let rows = |policy: Value| {
        json!({
            "resources": [{"id": "hall", "kind": "shelter", "capacity": {"beds": 5}}],
            "needs": [{"id": "a", "kind": "shelter", "demand": {"beds": 10}, "min_fill": 0.4}],
            "policy": policy
        })
    };
    let lp = report(&rows(json!({})));
    assert_eq!(lp.summary.duals, commonsnet_engine::solve::Duals::Lp);
    assert!((lp.resources[0].shadow_price[0].unwrap() - 0.1).abs() < 1e-9);
    assert_eq!(lp.needs[0].marginal_value, Some(0.0));
    let greedy = report(&rows(json!({"solver": "greedy"})));
    let mut infeasible = rows(json!({}));
    infeasible["needs"][0]["min_fill"] = json!(1.0);
    let infeasible = report(&infeasible);
    assert_eq!(infeasible.summary.status, Status::Infeasible);
    for r in [greedy, infeasible] {
        assert_eq!(r.summary.duals, commonsnet_engine::solve::Duals::None);
        assert_eq!(r.needs[0].marginal_value, None);
        assert_eq!(r.resources[0].shadow_price, [None]);
        let needs = r.tables().unwrap().needs;
        let column = needs.column_by_name("marginal_value").unwrap();
        assert_eq!(column.null_count(), 1);
    }
}

#[test]
fn scarce_beds_have_the_value_of_the_best_need_per_bed() {
    let v = json!({
        "resources": [{"id": "hall", "kind": "shelter", "capacity": {"beds": 5}}],
        "needs": [{"id": "a", "kind": "shelter", "demand": {"beds": 10}, "priority": 3},
                  {"id": "b", "kind": "shelter", "demand": {"beds": 10}, "priority": 1}]
    });
    let r = report(&v);
    assert_eq!(r.summary.status, Status::Optimal);
    assert!((r.summary.coverage_value - 1.5).abs() < 1e-9);
    // One more bed serves 1/10 more of need a, worth 3: 0.3 per bed.
    assert!(
        (r.resources[0].shadow_price[0].unwrap() - 0.3).abs() < 1e-9,
        "{:?}",
        r.resources
    );
    assert_eq!(r.needs[0].marginal_value, Some(0.0));
}

#[test]
fn an_unconstrained_need_is_worth_its_priority() {
    let v = json!({
        "resources": [{"id": "hall", "kind": "shelter", "capacity": {"beds": 50}}],
        "needs": [{"id": "a", "kind": "shelter", "demand": {"beds": 10}, "priority": 3}]
    });
    let r = report(&v);
    assert!(
        (r.needs[0].marginal_value.unwrap() - 3.0).abs() < 1e-9,
        "{:?}",
        r.needs
    );
    assert_eq!(r.resources[0].shadow_price[0].unwrap(), 0.0);
}

/// A capacity of 0 is not priced where the link rules build the links (one more unit would
/// bring links the plan does not have: SPEC's rule 3), and is where the links are given (its
/// row bounds them at 0).
#[test]
fn a_capacity_of_zero_is_priced_only_under_given_links() {
    let mut v = json!({
        "resources": [{"id": "van", "kind": "k", "capacity": {"seats": 4}},
                      {"id": "hall", "kind": "k", "capacity": {"beds": 5, "seats": 0}}],
        "needs": [{"id": "a", "kind": "k", "demand": {"seats": 8}}]
    });
    let prices = |v: &serde_json::Value| {
        let r = report(v);
        let at = |dim: &str| r.dims.iter().position(|d| d == dim).unwrap();
        let (beds, seats) = (at("beds"), at("seats"));
        r.resources
            .iter()
            .map(|x| (x.shadow_price[beds], x.shadow_price[seats]))
            .collect::<Vec<_>>()
    };
    // One more seat on the van serves 1/8 more of the need, worth 1.
    assert_eq!(
        prices(&v),
        [(None, Some(0.125)), (Some(0.0), None)],
        "rule links"
    );
    v["links"] = json!([{"resource": "van", "need": "a"}, {"resource": "hall", "need": "a"}]);
    let given = prices(&v);
    assert_eq!(
        (given[0], given[1].0),
        ((Some(0.0), Some(0.125)), Some(0.0))
    );
    assert!(given[1].1.is_some(), "{given:?}");
}

#[test]
fn cheap_capacity_saves_cost_under_the_cost_objective() {
    // 0.4 of the need through the cheap depot (cost 1), 0.6 through the dear one (cost 5):
    // one more unit at the cheap depot moves 0.1 of the need, saving 0.1 * 4 = 0.4.
    let v = json!({
        "resources": [{"id": "cheap", "kind": "water", "capacity": {"l": 4}, "cost": 1},
                      {"id": "dear", "kind": "water", "capacity": {"l": 100}, "cost": 5}],
        "needs": [{"id": "a", "kind": "water", "demand": {"l": 10}, "min_fill": 1}],
        "policy": {"objective": "cost"}
    });
    let r = report(&v);
    assert!((r.summary.cost - 3.4).abs() < 1e-9);
    assert!(
        (r.resources[0].shadow_price[0].unwrap() - 0.4).abs() < 1e-9,
        "{:?}",
        r.resources
    );
    assert_eq!(r.resources[1].shadow_price[0].unwrap(), 0.0);
}

#[test]
fn shadow_prices_lie_between_the_one_sided_derivatives() {
    let mut checked = 0;
    for seed in 0..60u64 {
        let mut rng = Rng::new(seed + 123_000);
        let objective = if seed % 2 == 0 { "coverage" } else { "cost" };
        let policy = json!({"objective": objective, "max_distance_km": 30});
        let shape = Shape::new(4, 6, 2)
            .with_links(seed % 3 == 0)
            .with_min_fill(seed % 2 == 1);
        let v = random_scenario(&mut rng, shape, policy);
        let s = scenario_from_value(&v).unwrap();
        let base = solve_report(&s);
        if base.summary.status != Status::Optimal {
            continue;
        }
        let g0 = objective_gain(&s).unwrap();
        let label = format!("seed {seed}");
        checked += assert_prices_between_derivatives(&s, &base, g0, 1e-3, 1e-4, &label).len();
    }
    assert!(checked > 50, "only {checked} prices checked");
}

/// A capacity that exactly meets the demand it serves: one more bed serves nothing, so it
/// is worth 0, whatever the degenerate basis priced it at, and so is one more unit of the
/// need's bound (no bed is left for it). With two more beds and a second need served by
/// them, one more bed is worth what that need gains from it, and one more unit of the first
/// need's bound takes beds from the second (3/10 gained, 1/5 lost per bed, 10 beds a need).
#[test]
fn an_exact_fit_is_worth_what_one_more_unit_gains() {
    let hall = json!({"id": "hall", "kind": "shelter", "capacity": {"beds": 10}});
    let a = json!({"id": "a", "kind": "shelter", "demand": {"beds": 10}, "priority": 3});
    let b = json!({"id": "b", "kind": "shelter", "demand": {"beds": 5}, "priority": 1});
    let r = report(&json!({"resources": [hall], "needs": [a]}));
    assert_eq!(r.summary.coverage_value, 3.0);
    assert_eq!(
        r.resources[0].shadow_price[0].unwrap(),
        0.0,
        "{:?}",
        r.resources
    );
    assert_eq!(r.needs[0].marginal_value, Some(0.0), "{:?}", r.needs);
    let hall = json!({"id": "hall", "kind": "shelter", "capacity": {"beds": 12}});
    let r = report(&json!({"resources": [hall], "needs": [a, b]}));
    assert!(
        (r.resources[0].shadow_price[0].unwrap() - 0.2).abs() < 1e-9,
        "{:?}",
        r.resources
    );
    assert!(
        (r.needs[0].marginal_value.unwrap() - 1.0).abs() < 1e-9,
        "{:?}",
        r.needs
    );
    assert_eq!(r.needs[1].marginal_value, Some(0.0), "{:?}", r.needs);
}

/// The main objective's optimum as a gain (V, -C, or V - wC) by the naive model of
/// `tests/fairness.rs`, with need `n`'s bound raised to `y <= bound` where given.
fn naive_gain(s: &Scenario, bound: Option<(usize, f64)>) -> Option<f64> {
    let w = s.policy().cost_weight;
    let objective = s.policy().objective;
    let naive = match bound {
        Some((n, b)) => Naive::new(s).with_y_bound(n, b),
        None => Naive::new(s),
    };
    let best = naive.maximise(0, |e, _| {
        let goal = match objective {
            Objective::Cost => -e.cost.clone(),
            Objective::Weighted => e.value.clone() - w * e.cost.clone(),
            _ => e.value.clone(),
        };
        (goal, Vec::new())
    })?;
    Some(match objective {
        Objective::Cost => -best.cost,
        Objective::Weighted => best.value - w * best.cost,
        _ => best.value,
    })
}

/// One dimension without fairness goes to the exact routes (network simplex, and assignment
/// where every demand and capacity is 1),
/// whose prices and marginal values are the right derivatives: the naive model's gain from
/// one more small step of a capacity or of a need's bound, per unit (integer data: the
/// optimum is linear between breakpoints far wider than the step).
#[test]
fn exact_routes_price_one_more_unit_as_the_naive_model_gains() {
    let step = 1e-3;
    let (mut prices, mut positive, mut marginals, mut assignments) = (0, 0, 0, 0);
    for seed in 0..150u64 {
        let mut rng = Rng::new(seed + 555_000);
        let objective = ["coverage", "cost", "weighted"][seed as usize % 3];
        let policy = json!({"objective": objective, "cost_weight": 0.5, "cost_per_km": 0,
                            "max_distance_km": 30});
        let shape = Shape::new(5, 7, 1).with_min_fill(seed % 2 == 1);
        let mut v = random_scenario(&mut rng, shape, policy);
        if seed % 4 == 3 && objective != "weighted" {
            // Unit demands and capacities, min_fill 0 or 1: the assignment route.
            for n in v["needs"].as_array_mut().unwrap() {
                n["demand"] = json!({"beds": 1});
                if n.get("min_fill").is_some() {
                    n["min_fill"] = json!(1);
                }
            }
            for r in v["resources"].as_array_mut().unwrap() {
                r["capacity"] = json!({"beds": 1});
            }
        }
        let s = scenario_from_value(&v).unwrap();
        let r = solve_report(&s);
        if r.summary.status != Status::Optimal {
            continue;
        }
        let solver = r.summary.solver.to_string();
        assignments += usize::from(solver.contains("assignment"));
        if solver.contains("highs") {
            // A part no flow takes (here: parts without links, planned empty by the LP).
            continue;
        }
        let g0 = naive_gain(&s, None).unwrap();
        let close_to = |price: f64, right: f64| (price - right).abs() <= 1e-3 * (1.0 + right.abs());
        for (ri, row) in r.resources.iter().enumerate() {
            let dim = &r.dims[0];
            let cap = s.resources()[ri].capacity.get(dim).copied().unwrap_or(0.0);
            if cap == 0.0 {
                // No capacity: no links either (SPEC's link rules), which one unit changes.
                continue;
            }
            let up = s.with_capacity(ri, dim, cap + step).unwrap();
            let right = (naive_gain(&up, None).unwrap() - g0) / step;
            let price = row.shadow_price[0].unwrap();
            assert!(
                close_to(price, right),
                "seed {seed} ({solver}) {}: price {price}, one more unit gains {right}\n{v}",
                row.id
            );
            prices += 1;
            positive += usize::from(price > 1e-6);
        }
        for (n, row) in r.needs.iter().enumerate() {
            let right = (naive_gain(&s, Some((n, 1.0 + step))).unwrap() - g0) / step;
            assert!(
                row.marginal_value.is_some_and(|m| close_to(m, right)),
                "seed {seed} ({solver}) {}: marginal value {:?}, one more unit gains {right}\n{v}",
                row.id,
                row.marginal_value
            );
            marginals += 1;
        }
    }
    assert!(
        prices > 200 && positive > 40 && marginals > 300 && assignments > 10,
        "{prices} {positive} {marginals} {assignments}"
    );
}

/// A MIP plan reports the duals of its LP with the integer choices fixed (`duals:
/// "fixed_mip"`): checked by finite difference on that LP, written as a scenario (each chosen
/// indivisible need becomes a divisible one with `min_fill` 1 and only its chosen link; an
/// unchosen one loses its links).
#[test]
fn mip_prices_lie_between_the_derivatives_of_the_fixed_lp() {
    let (mut checked, mut positive) = (0, 0);
    for seed in 0..80u64 {
        let mut rng = Rng::new(seed + 321_000);
        let policy = json!({"objective": "coverage"});
        let shape = Shape::new(4, 6, 2).with_links(true).with_indivisible(true);
        let v = random_scenario(&mut rng, shape, policy);
        let s = scenario_from_value(&v).unwrap();
        let mip = solve_report(&s);
        // Only plans a MIP made (an indivisible need without links leaves an LP).
        let by_mip = mip.summary.solver.to_string().contains("mip");
        if mip.summary.status != Status::Optimal || !by_mip {
            continue;
        }
        assert_eq!(
            serde_json::to_value(mip.summary.duals).unwrap(),
            "fixed_mip"
        );
        let mut fixed = v.clone();
        let chosen: Vec<(String, String)> = mip
            .allocations
            .iter()
            .map(|a| (a.resource.clone(), a.need.clone()))
            .collect();
        let is_indivisible = |id: &str| s.needs().iter().any(|n| n.id == id && n.indivisible);
        fixed["links"].as_array_mut().unwrap().retain(|l| {
            let (r, n) = (l["resource"].as_str().unwrap(), l["need"].as_str().unwrap());
            !is_indivisible(n) || chosen.contains(&(r.to_string(), n.to_string()))
        });
        for n in fixed["needs"].as_array_mut().unwrap() {
            if n["indivisible"] == json!(true) {
                n["indivisible"] = json!(false);
                let served = chosen.iter().any(|(_, id)| n["id"] == json!(id));
                n["min_fill"] = json!(if served { 1.0 } else { 0.0 });
            }
        }
        let f = scenario_from_value(&fixed).unwrap();
        let g0 = objective_gain(&f).unwrap();
        assert!(close(g0, mip.summary.coverage_value, 1e-6), "seed {seed}");
        let label = format!("seed {seed}");
        let prices = assert_prices_between_derivatives(&f, &mip, g0, 1e-3, 1e-4, &label);
        checked += prices.len();
        positive += prices.iter().filter(|&&price| price > 1e-6).count();
    }
    assert!(checked > 30, "only {checked} prices checked");
    // (Before fixed-MIP duals every MIP price was 0.)
    assert!(positive > 5, "only {positive} positive prices");
}

/// Gains are never negative, not even -0 (the needs table of a disaster scenario printed
/// `marginal_value` -0.0).
#[test]
fn gains_are_never_negative_zero() {
    for seed in 0..=1 {
        let v = commonsnet_datasets::generate::generate("disaster", 1.0, seed).unwrap();
        let r = solve_report(&scenario_from_value(&v).unwrap());
        assert!(
            r.needs
                .iter()
                .all(|n| n.marginal_value.is_some_and(|m| !m.is_sign_negative())),
            "seed {seed}"
        );
        assert!(r.resources.iter().all(|x| x
            .shadow_price
            .iter()
            .flatten()
            .all(|p| !p.is_sign_negative())));
    }
}
