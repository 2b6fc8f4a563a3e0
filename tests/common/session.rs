//! Live sessions over HTTP: create one, send it event batches, read its event stream.

use super::server::{post_json, Resp, Server};
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::Duration;

/// Create a session from `scenario` (it must be accepted); its id.
pub fn create_session(s: &Server, scenario: &Value) -> String {
    let r = post_json(s, "/v1/sessions", &json!({"scenario": scenario}), None);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_string()
}

/// A session of two medical teams (4 hours each, near 45 N 7 E) and no needs yet; its id.
pub fn two_teams_session(s: &Server, name: Option<&str>) -> String {
    let mut scenario = json!({"resources": [
            {"id": "team1", "kind": "medical", "lat": 45.0, "lon": 7.0, "capacity": {"team_h": 4}},
            {"id": "team2", "kind": "medical", "lat": 45.1, "lon": 7.1, "capacity": {"team_h": 4}}],
        "needs": [], "policy": {"max_distance_km": 30, "speed_kmh": 40}});
    if let Some(name) = name {
        scenario["name"] = json!(name);
    }
    create_session(s, &scenario)
}

pub fn events(s: &Server, id: &str, evs: Value) -> Resp {
    post_json(
        s,
        &format!("/v1/sessions/{id}/events"),
        &json!({"events": evs}),
        None,
    )
}

/// The session's event stream from after event `last_event_id`; a read waits 20 s at most.
pub fn stream_after(s: &Server, id: &str, last_event_id: &str) -> ureq::Response {
    ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(20))
        .build()
        .get(&s.url(&format!("/v1/sessions/{id}/stream")))
        .set("Last-Event-ID", last_event_id)
        .call()
        .unwrap()
}

/// Read SSE events (id, data) from a streaming response until `n` have arrived.
pub fn read_sse(reader: &mut impl BufRead, n: usize) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    let (mut id, mut data) = (None, None);
    let mut line = String::new();
    while out.len() < n {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended");
        let l = line.trim_end();
        if let Some(v) = l.strip_prefix("id:") {
            id = Some(v.trim().parse::<i64>().unwrap());
        } else if let Some(v) = l.strip_prefix("data:") {
            data = Some(serde_json::from_str::<Value>(v.trim()).unwrap());
        } else if l.is_empty() {
            if let (Some(i), Some(d)) = (id.take(), data.take()) {
                out.push((i, d));
            }
        }
    }
    out
}
