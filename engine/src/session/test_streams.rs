//! Random needs and resources for the session's unit tests: two kinds in a small area,
//! one community.

use super::Session;
use crate::input::scenario_from_value;
use crate::model::Scenario;
use crate::seeds::SplitMix64;
use serde_json::{json, Value};

fn place(rng: &mut SplitMix64) -> (f64, f64) {
    (45.0 + rng.unit() * 0.2, 7.6 + rng.unit() * 0.2)
}

fn kind(rng: &mut SplitMix64) -> &'static str {
    ["a", "b"][rng.int(0, 1) as usize]
}

/// A need of one to four hours.
pub(super) fn need(rng: &mut SplitMix64, id: &str) -> Value {
    let (lat, lon) = place(rng);
    let kind = kind(rng);
    json!({"id": id, "community": "c", "kind": kind,
        "lat": lat, "lon": lon, "demand": {"h": rng.int(1, 4)}, "priority": rng.int(1, 3)})
}

/// A resource of up to six hours (none at times).
pub(super) fn resource(rng: &mut SplitMix64, id: &str) -> Value {
    let (lat, lon) = place(rng);
    let kind = kind(rng);
    json!({"id": id, "community": "c", "kind": kind,
        "lat": lat, "lon": lon, "capacity": {"h": rng.int(0, 6)}})
}

/// A session of six random resources (`r0`..) and ten random needs (`n0`..), linked within
/// 9 km, with the scenario it started from.
pub(super) fn session(rng: &mut SplitMix64) -> (Scenario, Session) {
    let resources: Vec<Value> = (0..6).map(|i| resource(rng, &format!("r{i}"))).collect();
    let needs: Vec<Value> = (0..10).map(|i| need(rng, &format!("n{i}"))).collect();
    let init = scenario_from_value(&json!({"resources": resources, "needs": needs,
        "policy": {"max_distance_km": 9}}))
    .expect("valid");
    let s = Session::new(&init).expect("session");
    (init, s)
}
