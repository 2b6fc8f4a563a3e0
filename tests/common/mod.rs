//! Helpers shared by the integration tests: a seeded generator of small random scenarios.

#![allow(dead_code)]

pub mod alloc;
pub mod pg;
pub mod process;
pub mod server;
pub mod session;

use commonsnet_engine::seeds::SplitMix64;
use commonsnet_engine::{Report, Scenario};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `n` one-unit needs free to start at any hour of [0, 999] on `n` one-unit items of one
/// kind, hourly slots: a time model of `n x n x 1,000` (link, start) pairs, a MIP (each need
/// chooses its start). 32 make a part past the engine's MIP bound; 80 pass the pairs' bound.
pub fn hourly_loans(n: usize) -> Value {
    json!({
        "resources": (0..n)
            .map(|i| json!({"id": format!("r{i}"), "kind": "k", "capacity": {"u": 1}}))
            .collect::<Vec<_>>(),
        "needs": (0..n)
            .map(|i| json!({"id": format!("n{i}"), "kind": "k", "demand": {"u": 1},
                "duration_h": 1, "earliest": 0, "deadline": 999}))
            .collect::<Vec<_>>(),
        "policy": {"reusable": ["u"], "slot_h": 1}})
}

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

impl Shape {
    /// At most `resources` resources and `needs` needs over `dims` dimensions: divisible needs
    /// without `min_fill`, links built by the policy's rules; the `with_*` calls add the rest.
    pub const fn new(resources: u64, needs: u64, dims: usize) -> Shape {
        Shape {
            resources,
            needs,
            explicit_links: false,
            indivisible: false,
            min_fill: false,
            dims,
        }
    }
    /// Explicit links (some with `use` overrides and travel times) where `on`.
    pub const fn with_links(self, on: bool) -> Shape {
        Shape {
            explicit_links: on,
            ..self
        }
    }
    /// Some indivisible needs where `on`.
    pub const fn with_indivisible(self, on: bool) -> Shape {
        Shape {
            indivisible: on,
            ..self
        }
    }
    /// Some needs with a `min_fill` where `on`.
    pub const fn with_min_fill(self, on: bool) -> Shape {
        Shape {
            min_fill: on,
            ..self
        }
    }
}

/// Random amounts of the first `shape_dims` of `dims`, each present with probability `p`, on
/// the grid `lo..=hi`: a resource's capacity or a need's demand.
fn random_amounts(
    rng: &mut Rng,
    dims: &[&str],
    shape_dims: usize,
    p: f64,
    lo: u64,
    hi: u64,
) -> serde_json::Map<String, Value> {
    let mut amounts = serde_json::Map::new();
    for d in dims.iter().take(shape_dims) {
        if rng.chance(p) {
            amounts.insert((*d).into(), json!(rng.grid(lo, hi)));
        }
    }
    amounts
}

/// A site near (59.3, 18.0) for four in five resources or needs; the others have none (their
/// links have no distance).
fn maybe_site(rng: &mut Rng, item: &mut Value) {
    if rng.chance(0.8) {
        item["lat"] = json!(59.3 + rng.range(-0.2, 0.2));
        item["lon"] = json!(18.0 + rng.range(-0.3, 0.3));
    }
}

/// With probability `p`, `row[key] = value(rng)`: an optional field, present in some rows.
pub fn sometimes(
    rng: &mut Rng,
    row: &mut Value,
    p: f64,
    key: &str,
    value: impl FnOnce(&mut Rng) -> f64,
) {
    if rng.chance(p) {
        row[key] = json!(value(rng));
    }
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
        let cap = random_amounts(rng, &dims, shape.dims, 0.85, 0, 12);
        let mut r = json!({"id": format!("r{i}"), "community": comms[rng.below(3) as usize],
            "kind": kinds[rng.below(2) as usize], "capacity": cap, "cost": rng.grid(0, 5)});
        maybe_site(rng, &mut r);
        let sk: Vec<&str> = skills.iter().copied().filter(|_| rng.chance(0.5)).collect();
        r["skills"] = json!(sk);
        sometimes(rng, &mut r, 0.3, "available_from", |rng| rng.grid(0, 3));
        sometimes(rng, &mut r, 0.3, "available_until", |rng| rng.grid(3, 10));
        resources.push(r);
    }
    let mut needs = Vec::new();
    for i in 0..nn {
        let mut dem = random_amounts(rng, &dims, shape.dims, 0.7, 1, 8);
        if dem.is_empty() {
            dem.insert(dims[0].into(), json!(rng.grid(1, 8)));
        }
        let mut n = json!({"id": format!("n{i}"), "community": comms[rng.below(3) as usize],
            "kind": kinds[rng.below(2) as usize], "demand": dem, "priority": rng.grid(1, 5)});
        maybe_site(rng, &mut n);
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
        sometimes(rng, &mut n, 0.3, "earliest", |rng| rng.grid(0, 4));
        sometimes(rng, &mut n, 0.3, "deadline", |rng| rng.grid(4, 9));
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
                    sometimes(rng, &mut l, 0.5, "time", |rng| rng.grid(0, 3));
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
    sometimes(rng, &mut p, 0.6, "max_distance_km", |rng| rng.grid(5, 40));
    sometimes(rng, &mut p, 0.6, "speed_kmh", |rng| rng.grid(10, 60));
    sometimes(rng, &mut p, 0.5, "cost_weight", |rng| rng.range(0.0, 1.0));
    p
}

/// The scenario's main objective as a gain (V, or -C under the cost objective), `None` when
/// it has no optimal plan: what a shadow price predicts the change of.
pub fn objective_gain(s: &Scenario) -> Option<f64> {
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

/// Asserts that every shadow price of `report`, the plan of `s` (whose objective gain is
/// `g0`), lies between the one-sided derivatives of the gain in its capacity, taken by
/// finite differences of `step`, to `tol`: an LP optimum is concave in a capacity, so every
/// optimal dual does (`left >= price >= right`). Capacities under one step are passed over
/// (the step down would be negative), and so is the left side where the smaller capacity
/// leaves no optimal plan. The prices checked.
#[track_caller]
pub fn assert_prices_between_derivatives(
    s: &Scenario,
    report: &Report,
    g0: f64,
    step: f64,
    tol: f64,
    label: &str,
) -> Vec<f64> {
    let mut checked = Vec::new();
    for (ri, row) in report.resources.iter().enumerate() {
        for (d, dim) in report.dims.iter().enumerate() {
            let cap = s.resources()[ri].capacity.get(dim).copied().unwrap_or(0.0);
            if cap < step {
                continue;
            }
            let price = row.shadow_price[d].expect("a capacity held is priced");
            let up = s.with_capacity(ri, dim, cap + step).unwrap();
            let right = (objective_gain(&up).unwrap() - g0) / step;
            assert!(
                price >= right - tol,
                "{label} {}.{dim}: price {price} < right derivative {right}",
                row.id
            );
            let down = s.with_capacity(ri, dim, cap - step).unwrap();
            if let Some(gd) = objective_gain(&down) {
                let left = (g0 - gd) / step;
                assert!(
                    price <= left + tol,
                    "{label} {}.{dim}: price {price} > left derivative {left}",
                    row.id
                );
            }
            checked.push(price);
        }
    }
    checked
}

/// Writes each `(name, contents)` of `files` into the folder `dir`, replacing what was there.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents).unwrap();
    }
}

/// Why the scenario folder `dir`, which must be refused, is refused.
pub fn scenario_dir_error(dir: &Path) -> String {
    commonsnet_datasets::read_scenario_dir(dir)
        .unwrap_err()
        .to_string()
}

/// A fresh temporary folder with one file in it, `name`, of `contents`: the folder (removed
/// when dropped, so keep it while the file is used) and the file's path.
pub fn temp_file(name: &str, contents: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}
