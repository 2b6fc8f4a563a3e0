//! The reliability defects of issue 16 that live in the service, each as its repro over real
//! HTTP on 127.0.0.1: exact status, error body, and the state that must not have changed.

use crate::common::server::{call, get, post_json, solve_multipart, Server};
use crate::common::session::{events, read_sse, stream_after, two_teams_session};
use serde_json::{json, Value};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn need(id: &str, kind: &str, hours: u32, priority: u32) -> Value {
    json!({"id": id, "kind": kind, "lat": 45.01, "lon": 7.02, "demand": {"team_h": hours},
        "priority": priority})
}

fn plan(s: &Server, id: &str) -> Value {
    let r = get(s, &format!("/v1/sessions/{id}/plan"), None);
    assert_eq!(r.status, 200);
    let mut v = r.json();
    // Timing is the only field that may differ between two reads of the same plan.
    v["summary"]["solve_ms"] = json!(null);
    v
}

/// Defects 1, 2 and the empty batch of 11: a refused batch changes nothing (memory, log,
/// seen ids, stream, numbering), also across SIGKILL and restart.
#[test]
fn a_refused_batch_changes_nothing_even_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let id = two_teams_session(&s, None);
    let r = events(
        &s,
        &id,
        json!([{"type": "need_added", "event_id": "n1", "need": need("i1", "medical", 3, 5)}]),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["seq"], 1);
    let before = plan(&s, &id);
    let team = before["allocations"][0]["resource"]
        .as_str()
        .unwrap()
        .to_string();
    let why = get(&s, &format!("/v1/sessions/{id}/needs/i1/why"), None).json();

    // Withdraw i1, add it again as another kind, dispatch it to its old team: the dispatch is
    // not a match of the re-planned plan, so the whole batch is refused.
    let batch = json!([
        {"type": "need_withdrawn", "id": "i1", "event_id": "A1"},
        {"type": "need_added", "event_id": "A2", "need": need("i1", "fire", 7, 9)},
        {"type": "dispatched", "need": "i1", "resource": team, "event_id": "A3"}]);
    for attempt in 0..2 {
        let r = events(&s, &id, batch.clone());
        assert_eq!(
            (r.status, r.code().as_str()),
            (409, "event_rejected"),
            "attempt {attempt}"
        );
        let d = &r.json()["error"]["details"][0];
        assert_eq!((&d["table"], &d["row"]), (&json!("events"), &json!(2)));
        assert_eq!(plan(&s, &id), before, "attempt {attempt}");
        let w = get(&s, &format!("/v1/sessions/{id}/needs/i1/why"), None).json();
        assert_eq!(w, why, "attempt {attempt}");
    }
    // Capacity taken away, then a dispatch on it (defect 2): refused, nothing committed.
    let r = events(
        &s,
        &id,
        json!([{"type": "resource_updated", "resource": {"id": team, "kind": "medical",
                "lat": 45.0, "lon": 7.0, "capacity": {"team_h": 0}}},
               {"type": "dispatched", "need": "i1", "resource": team}]),
    );
    assert_eq!((r.status, r.code().as_str()), (409, "event_rejected"));
    assert_eq!(plan(&s, &id), before);
    // An empty batch is answered with the current number and is neither logged nor streamed.
    let r = events(&s, &id, json!([]));
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json()["seq"].clone(), r.json()["applied"].clone()),
        (json!(1), json!(0))
    );
    // The next accepted batch is number 2: nothing refused consumed a number.
    let r = events(
        &s,
        &id,
        json!([{"type": "dispatched", "need": "i1", "resource": team, "event_id": "d1"}]),
    );
    r.assert_status(200);
    assert_eq!(r.json()["seq"], 2);
    let committed = plan(&s, &id);
    // The stream's backlog holds exactly the two accepted batches.
    let mut reader = BufReader::new(stream_after(&s, &id, "0").into_reader());
    let ids: Vec<i64> = read_sse(&mut reader, 2).iter().map(|e| e.0).collect();
    assert_eq!(ids, vec![1, 2]);
    drop(reader);

    // SIGKILL and restart: the log replays to the plan memory held.
    s.kill();
    let s = Server::start(dir.path(), &[]);
    assert_eq!(plan(&s, &id), committed);
    // The refused batch's ids were never seen: sent again, it is refused again, not skipped.
    let r = events(&s, &id, batch);
    assert_eq!(r.status, 409);
}

/// Defect 6: SIGTERM with an event stream open ends the stream and the process promptly.
#[test]
fn sigterm_ends_open_streams_and_exits() {
    let mut s = Server::in_temp_dir(&[]);
    let id = two_teams_session(&s, None);
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(30))
        .build();
    let resp = agent
        .get(&s.url(&format!("/v1/sessions/{id}/stream")))
        .call()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut sink = Vec::new();
        let start = Instant::now();
        let _ = resp.into_reader().read_to_end(&mut sink);
        start.elapsed()
    });
    std::thread::sleep(Duration::from_millis(300));
    s.terminate();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM with a stream open"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(reader.join().unwrap() < Duration::from_secs(10));
}

/// Defect 7 over HTTP: the cap answers 429 with the JSON error; DELETE removes a session.
#[test]
fn session_cap_and_delete() {
    let s = Server::in_temp_dir(&["--max-sessions", "2"]);
    let a = two_teams_session(&s, None);
    let _b = two_teams_session(&s, None);
    let r = post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": {"resources": [], "needs": []}}),
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (429, "too_many_sessions"));
    assert_eq!(r.header("retry-after"), Some("5"));
    let r = call("DELETE", &s.url(&format!("/v1/sessions/{a}")), &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(get(&s, &format!("/v1/sessions/{a}/plan"), None).status, 404);
    let r = call("DELETE", &s.url(&format!("/v1/sessions/{a}")), &[], None);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    // The freed place serves a new session.
    two_teams_session(&s, None);
    let metrics = String::from_utf8(get(&s, "/metrics", None).body).unwrap();
    assert!(metrics.contains("commonsnet_sessions_live 2"), "{metrics}");
}

/// Defect 9: a client that sends no complete head, or no complete body, is cut off after the
/// timeouts (the body with a JSON 408), and the connection limit makes others wait, not fail.
#[test]
fn slow_clients_are_timed_out_and_do_not_starve_healthz() {
    let s = Server::in_temp_dir(&[
        "--header-timeout-s",
        "1",
        "--body-timeout-s",
        "1",
        "--max-connections",
        "8",
    ]);
    let addr = s.base.trim_start_matches("http://").to_string();
    // Twenty half-open connections: more than the limit, each sends part of a head.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
                .unwrap();
            c
        })
        .collect();
    let start = Instant::now();
    let r = get(&s, "/healthz", None);
    assert_eq!(r.status, 200);
    assert!(start.elapsed() < Duration::from_secs(15));
    // Each half-open connection was closed by the server.
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        assert!(
            buf.is_empty() || String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
    }
    // A body that stops half way: 408 with the JSON error.
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"POST /v1/solve HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"res",
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"body_timeout\""), "{text}");
}

/// Defect 11: 414 and 431 carry the JSON error; the auth scheme is case-insensitive; an
/// encoded body is 415; a truncated body is 400 on jobs as on solve; OpenAPI lists the
/// statuses the routes answer.
#[test]
fn small_contract_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "acme 0123456789abcdef0123\n").unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--tokens", tokens.to_str().unwrap()],
    );
    let long = format!("/healthz?q={}", "x".repeat(9000));
    let r = call("GET", &s.url(&long), &[], None);
    assert_eq!((r.status, r.code().as_str()), (414, "uri_too_long"));
    let big = "y".repeat(70_000);
    let r = call("GET", &s.url("/healthz"), &[("X-Big", &big)], None);
    assert_eq!((r.status, r.code().as_str()), (431, "headers_too_large"));
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} 0123456789abcdef0123");
        let r = call("GET", &s.url("/v1/jobs"), &[("Authorization", &auth)], None);
        assert_eq!(r.status, 200, "{scheme}");
    }
    let auth = [("Authorization", "Bearer 0123456789abcdef0123")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h = auth.to_vec();
        h.push(("Content-Type", "application/json"));
        h.extend_from_slice(extra);
        h
    };
    let r = call(
        "POST",
        &s.url("/v1/solve"),
        &with(&[("Content-Encoding", "gzip")]),
        Some(&[0x1f, 0x8b, 8, 0]),
    );
    assert_eq!((r.status, r.code().as_str()), (415, "unsupported_encoding"));
    for path in ["/v1/solve", "/v1/jobs", "/v1/sessions"] {
        let r = call("POST", &s.url(path), &with(&[]), Some(b"{\"scenarios\": ["));
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalid_json"),
            "{path}"
        );
    }
    // Defect 10: a key given twice anywhere in a body is refused with its path, not last-wins.
    let dup = br#"{"resources": [{"id": "r", "kind": "k", "capacity": {"u": 10, "u": 0}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]}"#;
    let r = call("POST", &s.url("/v1/solve"), &with(&[]), Some(dup));
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    // Named as the CLI names it: table, row and field.
    let d = &r.json()["error"]["details"][0];
    assert_eq!(
        (&d["table"], &d["row"], &d["field"]),
        (&json!("resources"), &json!(0), &json!("capacity.u"))
    );
    let job = br#"{"scenarios": [{"resources": [], "needs": [], "policy": {"objective": "cost",
        "objective": "coverage"}}]}"#;
    let r = call("POST", &s.url("/v1/jobs"), &with(&[]), Some(job));
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    assert_eq!(
        r.json()["error"]["details"][0]["field"],
        "scenarios[0].policy.objective"
    );
    let doc = get(&s, "/openapi.json", None).json();
    let responses = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    for (path, method) in [
        ("/v1/jobs", "post"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/{id}/events", "post"),
    ] {
        let codes = responses(path, method);
        for code in ["400", "408", "413", "415", "422"] {
            assert!(
                codes.contains(&code.to_string()),
                "{method} {path}: {codes:?}"
            );
        }
    }
    assert!(responses("/v1/sessions/{id}/stream", "get").contains(&"400".to_string()));
    assert!(responses("/v1/sessions/{id}", "delete").contains(&"204".to_string()));
}

/// The crafted Parquet page that made polars-parquet abort the process (an allocation of
/// ~2^61 bytes) is a 422 naming the part over HTTP, and the server keeps serving.
#[test]
fn a_parquet_part_claiming_exabytes_is_refused_and_the_server_lives() {
    let mut s = Server::in_temp_dir(&[]);
    let bad = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/parquet/polars-parquet-page-validity-huge-allocation.parquet"),
    )
    .unwrap();
    let parquet = "application/vnd.apache.parquet";
    let r = solve_multipart(
        &s,
        &[("resources", parquet, &bad), ("needs", parquet, &bad)],
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("\"resources\"") && msg.contains("not a readable Parquet file"),
        "{msg}"
    );
    // The details name the table, as every other refusal does (they were empty).
    let d = &r.json()["error"]["details"];
    assert_eq!(d.as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(
        (&d[0]["table"], &d[0]["row"]),
        (&json!("resources"), &Value::Null)
    );
    assert!(
        d[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("not a readable Parquet file")),
        "{d}"
    );
    assert!(s.alive());
    assert_eq!(get(&s, "/healthz", None).status, 200);
}
