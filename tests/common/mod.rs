//! Helpers shared by the integration tests: a seeded generator of small random scenarios.

#![allow(dead_code)]

pub mod pg;
pub mod server;
pub mod session;

use commonsnet_engine::seeds::SplitMix64;
use serde_json::{json, Value};

/// The engine's seeded generator, with its own seed mixing, so the tests' streams stay theirs.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03,
        ))
    }
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n.max(1))
    }
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        self.0.range(lo, hi)
    }
    /// A value on a coarse grid, so ties and degenerate cases occur.
    pub fn grid(&mut self, lo: u64, hi: u64) -> f64 {
        (lo + self.below(hi - lo + 1)) as f64
    }
}

/// What the random scenario may contain.
#[derive(Clone, Copy)]
pub struct Shape {
    pub resources: u64,
    pub needs: u64,
    pub explicit_links: bool,
    pub indivisible: bool,
    pub min_fill: bool,
    pub dims: usize,
}

/// A small random scenario (JSON) with the given policy.
pub fn random_scenario(rng: &mut Rng, shape: Shape, policy: Value) -> Value {
    let dims = ["beds", "meals", "hours"];
    let kinds = ["shelter", "van"];
    let comms = ["north", "south", "east"];
    let skills = ["wheelchair", "medical"];
    let nr = 1 + rng.below(shape.resources);
    let nn = 1 + rng.below(shape.needs);
    let mut resources = Vec::new();
    for i in 0..nr {
        let mut cap = serde_json::Map::new();
        for d in dims.iter().take(shape.dims) {
            if rng.chance(0.85) {
                cap.insert((*d).into(), json!(rng.grid(0, 12)));
            }
        }
        let mut r = json!({"id": format!("r{i}"), "community": comms[rng.below(3) as usize],
            "kind": kinds[rng.below(2) as usize], "capacity": cap, "cost": rng.grid(0, 5)});
        if rng.chance(0.8) {
            r["lat"] = json!(59.3 + rng.range(-0.2, 0.2));
            r["lon"] = json!(18.0 + rng.range(-0.3, 0.3));
        }
        let sk: Vec<&str> = skills.iter().copied().filter(|_| rng.chance(0.5)).collect();
        r["skills"] = json!(sk);
        if rng.chance(0.3) {
            r["available_from"] = json!(rng.grid(0, 3));
        }
        if rng.chance(0.3) {
            r["available_until"] = json!(rng.grid(3, 10));
        }
        resources.push(r);
    }
    let mut needs = Vec::new();
    for i in 0..nn {
        let mut dem = serde_json::Map::new();
        for d in dims.iter().take(shape.dims) {
            if rng.chance(0.7) {
                dem.insert((*d).into(), json!(rng.grid(1, 8)));
            }
        }
        if dem.is_empty() {
            dem.insert(dims[0].into(), json!(rng.grid(1, 8)));
        }
        let mut n = json!({"id": format!("n{i}"), "community": comms[rng.below(3) as usize],
            "kind": kinds[rng.below(2) as usize], "demand": dem, "priority": rng.grid(1, 5)});
        if rng.chance(0.8) {
            n["lat"] = json!(59.3 + rng.range(-0.2, 0.2));
            n["lon"] = json!(18.0 + rng.range(-0.3, 0.3));
        }
        if rng.chance(0.25) {
            n["required_skills"] = json!([skills[rng.below(2) as usize]]);
        }
        if shape.indivisible && rng.chance(0.35) {
            n["indivisible"] = json!(true);
        }
        if shape.min_fill && rng.chance(0.2) {
            let fill = [0.25, 0.5, 1.0][rng.below(3) as usize];
            n["min_fill"] = json!(fill);
        }
        if rng.chance(0.3) {
            n["earliest"] = json!(rng.grid(0, 4));
        }
        if rng.chance(0.3) {
            n["deadline"] = json!(rng.grid(4, 9));
        }
        needs.push(n);
    }
    let mut s = json!({"name": "random", "resources": resources, "needs": needs, "policy": policy});
    if shape.explicit_links {
        let mut links = Vec::new();
        for i in 0..nr {
            for j in 0..nn {
                if rng.chance(0.5) {
                    let mut l = json!({"resource": format!("r{i}"), "need": format!("n{j}"),
                                       "cost": rng.grid(0, 9)});
                    let demanded: Vec<String> = needs[j as usize]["demand"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect();
                    if rng.chance(0.3) {
                        let d = demanded[rng.below(demanded.len() as u64) as usize].clone();
                        l["use"] = json!({ d: rng.grid(0, 9) });
                    }
                    if rng.chance(0.5) {
                        l["time"] = json!(rng.grid(0, 3));
                    }
                    links.push(l);
                }
            }
        }
        s["links"] = json!(links);
    }
    s
}

/// A random policy for the oracle tests.
pub fn random_policy(rng: &mut Rng) -> Value {
    let objective = ["coverage", "cost", "weighted"][rng.below(3) as usize];
    let mut p = json!({
        "objective": objective,
        "cross_community": rng.chance(0.7),
        "cost_per_km": rng.grid(0, 2),
    });
    match rng.below(3) {
        0 => {}
        1 => p["fairness"] = json!("maxmin"),
        _ => {
            let share = [0.1, 0.3][rng.below(2) as usize];
            p["fairness"] = json!({ "min_share": share });
        }
    }
    if rng.chance(0.5) {
        let by = ["community", "kind"][rng.below(2) as usize];
        p["group_by"] = json!(by);
    }
    if rng.chance(0.6) {
        p["max_distance_km"] = json!(rng.grid(5, 40));
    }
    if rng.chance(0.6) {
        p["speed_kmh"] = json!(rng.grid(10, 60));
    }
    if rng.chance(0.5) {
        p["cost_weight"] = json!(rng.range(0.0, 1.0));
    }
    p
}

/// The scenario's main objective as a gain (V, or -C under the cost objective), `None` when
/// it has no optimal plan: what a shadow price predicts the change of.
pub fn objective_gain(s: &commonsnet_engine::Scenario) -> Option<f64> {
    use commonsnet_engine::model::Objective;
    let r = commonsnet_engine::solve_report(s);
    (r.summary.status == commonsnet_engine::Status::Optimal).then(|| match s.policy().objective {
        Objective::Cost => -r.summary.cost,
        Objective::Weighted => r.summary.coverage_value - s.policy().cost_weight * r.summary.cost,
        _ => r.summary.coverage_value,
    })
}

pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}
