//! Session events applied to a live session (two water trucks, two needs, a drill lent over
//! time), batch by batch: the input is a JSON list of batches (or one batch). Each batch is
//! all or nothing: a refused one leaves the state (needs, resources, dispatches, plan) as it
//! was; after every accepted one, the session rebuilt from its initial scenario and log holds
//! the same state ("what memory holds equals what the durable log replays to").
#![no_main]

use commonsnet_engine::session::{parse_events, Applied, Session};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// The session's state as a comparable value: its residual scenario (needs with their open
/// parts, resources less what is dispatched) and its dispatches.
fn state(s: &Session) -> (commonsnet_engine::Scenario, String) {
    (
        s.residual_scenario(),
        serde_json::to_string(s.dispatches()).unwrap_or_default(),
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = commonsnet_engine::input::parse_json(data) else {
        return;
    };
    let batches: Vec<Value> = match &v {
        Value::Array(items) if items.iter().all(Value::is_array) => items.clone(),
        Value::Object(m) if m.contains_key("events") => vec![m["events"].clone()],
        other => vec![other.clone()],
    };
    let init = commonsnet_engine::scenario_from_value(&json!({
        "resources": [
            {"id": "t1", "kind": "water", "capacity": {"water_l": 100}, "lat": 59.33, "lon": 18.06},
            {"id": "t2", "kind": "water", "capacity": {"water_l": 50}, "lat": 59.34, "lon": 18.07},
            {"id": "d1", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [
            {"id": "n1", "kind": "water", "demand": {"water_l": 60}, "lat": 59.331, "lon": 18.06},
            {"id": "n2", "kind": "water", "demand": {"water_l": 30}, "priority": 2},
            {"id": "loan", "kind": "drill", "demand": {"units": 1}, "duration_h": 4,
             "earliest": 0, "deadline": 24}],
        "policy": {"reusable": ["units"], "max_distance_km": 30}
    }))
    .expect("the fuzz session's scenario is valid");
    let Ok(mut s) = Session::new(&init) else {
        return;
    };
    let mut log: Vec<Applied> = Vec::new();
    for batch in batches.iter().take(8) {
        let Ok(events) = parse_events(batch) else {
            continue;
        };
        let before = (state(&s), s.plan().clone());
        match s.apply(&events) {
            Ok((_, applied)) => {
                log.extend(applied);
                let rebuilt = Session::rebuilt(&init, false, 0, &log)
                    .expect("an accepted batch's log replays");
                assert_eq!(
                    state(&rebuilt),
                    state(&s),
                    "the log replays to another state"
                );
            }
            Err(_) => {
                assert_eq!(
                    (state(&s), s.plan().clone()),
                    before,
                    "a refused batch changed the session"
                );
            }
        }
    }
});
