//! What a client on a slow link is spared, over HTTP against a real server: answers gzipped
//! when it accepts gzip, and the console's files and a session's plan and state revalidated
//! by their entity tags (304 without a body). The test client sends no `Accept-Encoding` of
//! its own and never decodes, so each test sees the bytes on the wire.

use crate::common::server::{call, Resp, Server};
use crate::common::session::{create_session, events, read_sse, two_teams_session};
use serde_json::{json, Value};
use std::io::{BufReader, Read};
use std::time::Duration;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip stream");
    out
}

fn get_with(s: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    call("GET", &s.url(path), headers, None)
}

/// A scenario of `n` needs around one team, so its plan and state run to many KiB of JSON.
fn many_needs(n: usize) -> Value {
    let needs: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("need-{i}"), "kind": "medical", "lat": 45.0, "lon": 7.0,
                   "demand": {"team_h": 1}})
        })
        .collect();
    json!({"resources": [{"id": "team", "kind": "medical", "lat": 45.0, "lon": 7.0,
                          "capacity": {"team_h": 50}}],
           "needs": needs})
}

#[test]
fn json_answers_are_gzipped_when_the_client_accepts_gzip() {
    let s = Server::in_temp_dir(&[]);
    let id = create_session(&s, &many_needs(200));
    for path in [
        "/openapi.json".to_string(),
        format!("/v1/sessions/{id}/plan"),
        format!("/v1/sessions/{id}/state"),
    ] {
        let plain = get_with(&s, &path, &[]);
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert!(
            plain.body.len() > 4096,
            "{path}: {} bytes",
            plain.body.len()
        );
        let gz = get_with(&s, &path, &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(gz.status, 200, "{path}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
        assert!(gz.varies_by("accept-encoding"), "{path}: {:?}", gz.headers);
        assert_eq!(
            gz.header("content-type"),
            plain.header("content-type"),
            "{path}"
        );
        // The same document, a fraction of the bytes (the plan repeats its field names).
        assert_eq!(gunzip(&gz.body), plain.body, "{path}");
        assert!(
            gz.body.len() * 3 < plain.body.len(),
            "{path}: {} of {} bytes",
            gz.body.len(),
            plain.body.len()
        );
        // gzip refused, or only codings this server does not write: the plain answer.
        for accept in ["gzip;q=0", "br", "identity"] {
            let r = get_with(&s, &path, &[("Accept-Encoding", accept)]);
            assert_eq!(
                (r.status, r.header("content-encoding")),
                (200, None),
                "{path} {accept}"
            );
            assert_eq!(r.body, plain.body, "{path} {accept}");
        }
    }
    // A short answer stays plain: the gzip frame would outweigh what it saves. It still
    // says that it varies by encoding, as longer answers of its route are gzipped.
    let r = get_with(&s, "/healthz", &[("Accept-Encoding", "gzip")]);
    assert_eq!((r.status, r.header("content-encoding")), (200, None));
    assert!(r.varies_by("accept-encoding"), "{:?}", r.headers);
    // So does an error body; the refusal reads the same either way.
    let r = get_with(&s, "/v1/sessions/nope/plan", &[("Accept-Encoding", "gzip")]);
    assert_eq!((r.status, r.header("content-encoding")), (404, None));
    assert_eq!(r.code(), "not_found");
}

#[test]
fn the_event_stream_and_parquet_are_never_gzipped() {
    let s = Server::in_temp_dir(&[]);
    let id = two_teams_session(&s, None);
    // An event stream gzipped would hold each event back until a block filled: the client
    // that accepts gzip reads the plan change as soon as it is made, as plain text.
    let stream = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(20))
        .build()
        .get(&s.url(&format!("/v1/sessions/{id}/stream")))
        .set("Accept-Encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(stream.header("content-encoding"), None);
    assert!(stream
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let mut reader = BufReader::new(stream.into_reader());
    let r = events(
        &s,
        &id,
        json!([{"type": "need_added", "need": {"id": "n1", "kind": "medical",
            "lat": 45.0, "lon": 7.0, "demand": {"team_h": 2}}}]),
    );
    assert_eq!(r.status, 200);
    let got = read_sse(&mut reader, 1);
    assert_eq!(got[0].0, r.json()["seq"].as_i64().unwrap());
    // An Arrow answer (uncompressed buffers) is gzipped like text; Parquet, compressed
    // already, goes as written.
    let scenario = many_needs(200);
    let solve = |accept: &str, encodings: &str| {
        call(
            "POST",
            &s.url("/v1/solve"),
            &[
                ("Content-Type", "application/json"),
                ("Accept", accept),
                ("Accept-Encoding", encodings),
            ],
            Some(scenario.to_string().as_bytes()),
        )
    };
    let arrow = "application/vnd.apache.arrow.stream";
    let (plain, gz) = (solve(arrow, "identity"), solve(arrow, "gzip"));
    assert_eq!((plain.status, gz.status), (200, 200));
    assert_eq!(gz.header("content-type"), Some(arrow));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), plain.body);
    let parquet = "application/vnd.apache.parquet";
    let r = solve(parquet, "gzip");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(parquet));
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.body.len() > 1024, "{} bytes", r.body.len());
}

#[test]
fn console_files_are_revalidated_by_their_entity_tags() {
    let s = Server::in_temp_dir(&[]);
    let page = get_with(&s, "/", &[]);
    assert_eq!(page.status, 200);
    // CI builds the console before the tests (scripts/setup.sh), so this test never passes
    // there without checking the tags.
    assert!(
        commonsnet_api::console::built() || std::env::var_os("CI").is_none(),
        "CI runs the tests with the console built"
    );
    if !commonsnet_api::console::built() {
        // The page that says how to build the console has no file and no tag.
        assert_eq!(page.header("etag"), None);
        return;
    }
    let html = String::from_utf8(page.body.clone()).unwrap();
    let script = html
        .split(['"', '\''])
        .find(|p| p.starts_with("/assets/") && p.ends_with(".js"))
        .expect("the page names its script")
        .to_string();
    for path in ["/", script.as_str()] {
        let r = get_with(&s, path, &[]);
        let tag = r.header("etag").expect("a tag").to_string();
        assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
        // The client holds this file: 304, no body, the same tag and cache rule.
        for held in [tag.clone(), format!("\"x\", {tag}"), "*".to_string()] {
            let again = get_with(&s, path, &[("If-None-Match", &held)]);
            assert_eq!(again.status, 304, "{path} {held}");
            assert!(again.body.is_empty(), "{path}");
            assert_eq!(again.header("etag"), Some(tag.as_str()), "{path}");
            assert_eq!(
                again.header("cache-control"),
                r.header("cache-control"),
                "{path}"
            );
            // A 304 names what its 200 varies by (the script is gzipped for some clients).
            assert_eq!(again.header("vary"), r.header("vary"), "{path}");
        }
        // Another tag (a console of another build): the file itself.
        let other = get_with(&s, path, &[("If-None-Match", "W/\"0000000000000000\"")]);
        assert_eq!(other.status, 200, "{path}");
        assert_eq!(other.body, r.body, "{path}");
        // Both vary by encoding, the short page too (its type is one the service gzips).
        assert!(r.varies_by("accept-encoding"), "{path}: {:?}", r.headers);
        // The script is gzipped for a browser, the same bytes unpacked; the page is short
        // (about 500 bytes) and stays plain.
        let gz = get_with(&s, path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("etag"), Some(tag.as_str()), "{path}");
        if path == "/" {
            assert_eq!(gz.header("content-encoding"), None);
            assert_eq!(gz.body, r.body);
        } else {
            assert!(r.varies_by("accept-encoding"), "{path}: {:?}", r.headers);
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
            assert_eq!(gunzip(&gz.body), r.body, "{path}");
        }
    }
}

#[test]
fn a_session_plan_and_state_are_revalidated_by_the_batch_they_follow() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let id = two_teams_session(&s, None);
    let need = |id: &str| {
        json!([{"type": "need_added", "need": {"id": id, "kind": "medical",
            "lat": 45.0, "lon": 7.0, "demand": {"team_h": 2}}}])
    };
    events(&s, &id, need("n1")).assert_status(200);
    let (plan_path, state_path) = (
        format!("/v1/sessions/{id}/plan"),
        format!("/v1/sessions/{id}/state"),
    );
    let tag_of = |r: &Resp| r.header("etag").expect("a tag").to_string();
    let plan = get_with(&s, &plan_path, &[]);
    plan.assert_status(200);
    let plan_tag = tag_of(&plan);
    assert!(plan_tag.starts_with("W/\""), "{plan_tag}");
    assert_eq!(plan.header("cache-control"), Some("private, no-cache"));
    // The client holds this plan: 304, no body, the same tag.
    let held = get_with(&s, &plan_path, &[("If-None-Match", &plan_tag)]);
    assert_eq!(held.status, 304);
    assert!(held.body.is_empty());
    assert_eq!(tag_of(&held), plan_tag);
    assert!(held.varies_by("accept-encoding"), "{:?}", held.headers);
    assert!(plan.varies_by("accept-encoding"), "{:?}", plan.headers);
    // The state and the Arrow plan have tags of their own: the JSON plan's does not pass.
    let state = get_with(&s, &state_path, &[]);
    let state_tag = tag_of(&state);
    // The plan names the batch it follows, as the state does: the `Last-Event-ID` from
    // which a client that read it opens the stream.
    assert_eq!(plan.json()["seq"], state.json()["seq"]);
    assert_eq!(state.json()["plan"]["seq"], state.json()["seq"]);
    assert_ne!(state_tag, plan_tag);
    let r = get_with(&s, &state_path, &[("If-None-Match", &plan_tag)]);
    assert_eq!((r.status, r.body.clone()), (200, state.body.clone()));
    assert_eq!(
        get_with(&s, &state_path, &[("If-None-Match", &state_tag)]).status,
        304
    );
    let arrow = "application/vnd.apache.arrow.stream";
    let r = get_with(
        &s,
        &plan_path,
        &[("Accept", arrow), ("If-None-Match", &plan_tag)],
    );
    assert_eq!((r.status, r.header("content-type")), (200, Some(arrow)));
    let arrow_tag = tag_of(&r);
    assert_ne!(arrow_tag, plan_tag);
    let r = get_with(
        &s,
        &plan_path,
        &[("Accept", arrow), ("If-None-Match", &arrow_tag)],
    );
    assert_eq!(r.status, 304);
    // A batch applied: the held tags no longer stand, the new plan comes whole.
    events(&s, &id, need("n2")).assert_status(200);
    let plan2 = get_with(&s, &plan_path, &[("If-None-Match", &plan_tag)]);
    plan2.assert_status(200);
    let plan2_tag = tag_of(&plan2);
    assert_ne!(plan2_tag, plan_tag);
    assert_eq!(
        plan2.json()["seq"].as_i64(),
        plan.json()["seq"].as_i64().map(|seq| seq + 1)
    );
    assert!(String::from_utf8_lossy(&plan2.body).contains("\"n2\""));
    let state2 = get_with(&s, &state_path, &[("If-None-Match", &state_tag)]);
    state2.assert_status(200);
    let state2_tag = tag_of(&state2);
    // Rebuilt from its log after a crash, the session's answers keep their tags.
    s.kill();
    let s = Server::start(dir.path(), &[]);
    let r = get_with(&s, &plan_path, &[("If-None-Match", &plan2_tag)]);
    assert_eq!(r.status, 304);
    let r = get_with(&s, &state_path, &[("If-None-Match", &state2_tag)]);
    assert_eq!(r.status, 304);
    // And what it answers whole then is what it answered before.
    let r = get_with(&s, &plan_path, &[]);
    assert_eq!((tag_of(&r), r.body), (plan2_tag, plan2.body));
}
