//! Shadow prices and marginal values, checked against hand-computed values and by finite
//! difference: an LP optimum is concave in a capacity, so every optimal dual lies between the
//! one-sided derivatives (left >= price >= right).

use crate::common::*;
use commonsnet_engine::{scenario_from_value, solve_report, Report, Status};
use serde_json::{json, Value};

fn report(v: &Value) -> Report {
    solve_report(&scenario_from_value(v).unwrap())
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
        (r.resources[0].shadow_price[0] - 0.3).abs() < 1e-9,
        "{:?}",
        r.resources
    );
    assert_eq!(r.needs[0].marginal_value, 0.0);
}

#[test]
fn an_unconstrained_need_is_worth_its_priority() {
    let v = json!({
        "resources": [{"id": "hall", "kind": "shelter", "capacity": {"beds": 50}}],
        "needs": [{"id": "a", "kind": "shelter", "demand": {"beds": 10}, "priority": 3}]
    });
    let r = report(&v);
    assert!(
        (r.needs[0].marginal_value - 3.0).abs() < 1e-9,
        "{:?}",
        r.needs
    );
    assert_eq!(r.resources[0].shadow_price[0], 0.0);
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
        (r.resources[0].shadow_price[0] - 0.4).abs() < 1e-9,
        "{:?}",
        r.resources
    );
    assert_eq!(r.resources[1].shadow_price[0], 0.0);
}

#[test]
fn shadow_prices_lie_between_the_one_sided_derivatives() {
    let mut checked = 0;
    for seed in 0..60u64 {
        let mut rng = Rng::new(seed + 123_000);
        let objective = if seed % 2 == 0 { "coverage" } else { "cost" };
        let policy = json!({"objective": objective, "max_distance_km": 30});
        let shape = Shape {
            resources: 4,
            needs: 6,
            explicit_links: seed % 3 == 0,
            indivisible: false,
            min_fill: seed % 2 == 1,
            dims: 2,
        };
        let v = random_scenario(&mut rng, shape, policy);
        let s = scenario_from_value(&v).unwrap();
        let base = solve_report(&s);
        if base.summary.status != Status::Optimal {
            continue;
        }
        let g0 = objective_gain(&s).unwrap();
        for (ri, row) in base.resources.iter().enumerate() {
            for (d, dim) in base.dims.iter().enumerate() {
                let cap = s.resources()[ri].capacity.get(dim).copied().unwrap_or(0.0);
                if cap <= 0.0 {
                    continue;
                }
                let price = row.shadow_price[d];
                let delta = 1e-3;
                let up = s.with_capacity(ri, dim, cap + delta).unwrap();
                let right = (objective_gain(&up).unwrap() - g0) / delta;
                assert!(
                    price >= right - 1e-4,
                    "seed {seed} {}.{dim}: price {price} < right derivative {right}",
                    row.id
                );
                let down = s.with_capacity(ri, dim, cap - delta).unwrap();
                if let Some(gd) = objective_gain(&down) {
                    let left = (g0 - gd) / delta;
                    assert!(
                        price <= left + 1e-4,
                        "seed {seed} {}.{dim}: price {price} > left derivative {left}",
                        row.id
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} prices checked");
}
