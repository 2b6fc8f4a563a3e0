//! Answers gzipped for clients that accept it, and the console's files revalidated by their
//! entity tags, over HTTP against a real server. The test client sends no `Accept-Encoding`
//! of its own and never decodes, so each test sees the bytes on the wire.

use crate::common::server::{call, post_json, Resp, Server};
use crate::common::session::{events, read_sse, two_teams_session};
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

fn vary_names_accept_encoding(r: &Resp) -> bool {
    r.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("vary")
            && v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
    })
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
    let created = post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": many_needs(200)}),
        None,
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_string();
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
        assert!(vary_names_accept_encoding(&gz), "{path}: {:?}", gz.headers);
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
    // A short answer stays plain: the gzip frame would outweigh what it saves.
    let r = get_with(&s, "/healthz", &[("Accept-Encoding", "gzip")]);
    assert_eq!((r.status, r.header("content-encoding")), (200, None));
    // So does an error body; the refusal reads the same either way.
    let r = get_with(&s, "/v1/sessions/nope/plan", &[("Accept-Encoding", "gzip")]);
    assert_eq!((r.status, r.header("content-encoding")), (404, None));
    assert_eq!(r.code(), "not_found");
}

#[test]
fn the_event_stream_and_binary_tables_are_never_gzipped() {
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
    // Arrow and Parquet answers are binary (Parquet is compressed already): as written.
    let scenario = many_needs(200);
    for accept in [
        "application/vnd.apache.arrow.stream",
        "application/vnd.apache.parquet",
    ] {
        let r = call(
            "POST",
            &s.url("/v1/solve"),
            &[
                ("Content-Type", "application/json"),
                ("Accept", accept),
                ("Accept-Encoding", "gzip"),
            ],
            Some(scenario.to_string().as_bytes()),
        );
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-type"), Some(accept));
        assert_eq!(r.header("content-encoding"), None, "{accept}");
        assert!(r.body.len() > 1024, "{accept}: {} bytes", r.body.len());
    }
}

#[test]
fn console_files_are_revalidated_by_their_entity_tags() {
    let s = Server::in_temp_dir(&[]);
    let page = get_with(&s, "/", &[]);
    assert_eq!(page.status, 200);
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
        }
        // Another tag (a console of another build): the file itself.
        let other = get_with(&s, path, &[("If-None-Match", "W/\"0000000000000000\"")]);
        assert_eq!(other.status, 200, "{path}");
        assert_eq!(other.body, r.body, "{path}");
        // The script is gzipped for a browser, the same bytes unpacked; the page is short
        // (about 500 bytes) and stays plain.
        let gz = get_with(&s, path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("etag"), Some(tag.as_str()), "{path}");
        if path == "/" {
            assert_eq!(gz.header("content-encoding"), None);
            assert_eq!(gz.body, r.body);
        } else {
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
            assert_eq!(gunzip(&gz.body), r.body, "{path}");
        }
    }
}
