//! The routes the web console stands on, over HTTP against a real server: the console's files
//! with their security headers, the session list and state, the generators, CSV and Parquet
//! table parts, and the Parquet answer of `/v1/solve`. The console itself is tested in a real
//! browser by `web/e2e/run.mjs`.

use crate::common::server::{call, get, post_json, solve_multipart, Server, ALICE, BOB};
use commonsnet_datasets::TableFormat;
use serde_json::{json, Value};

fn example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/examples/flood-north.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_console_is_served_at_the_root_with_a_strict_policy() {
    let s = Server::in_temp_dir(&[]);
    let r = get(&s, "/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(r.body.clone()).unwrap();
    assert!(html.contains("<title>CommonsNet</title>"), "{html}");
    // No inline script: every script is a file from this server, and each one it names is
    // served with its media type and a long cache life (the names carry the content's hash).
    assert!(!html.contains("<script>"), "{html}");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|p| p.starts_with("/assets/"))
        .collect();
    assert_eq!(commonsnet_api::console::built(), !assets.is_empty());
    for a in assets {
        let r = get(&s, a, None);
        assert_eq!(r.status, 200, "{a}");
        let want = if a.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(r.header("content-type"), Some(want), "{a}");
        assert!(r.header("cache-control").unwrap().contains("immutable"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    // The service worker is at the root (a worker's scope is its script's folder), a script,
    // checked on every load (not named by its content) so that a new binary's worker is taken.
    let r = get(&s, "/sw.js", None);
    if commonsnet_api::console::built() {
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        let script = String::from_utf8(r.body.clone()).unwrap();
        assert!(script.contains("commonsnet-console-v1"), "{script}");
        // A classic script: it imports nothing (`offline.ts` is built into it).
        assert!(!script.contains("import "), "{script}");
    } else {
        assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    }
    // The API keeps its JSON 404 and 405; only GET and HEAD reach the console's files.
    let r = get(&s, "/v1/nothing", None);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = get(&s, "/assets/nothing.js", None);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = call("POST", &s.url("/"), &[], Some(b"{}"));
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
}

#[test]
fn sessions_are_listed_per_tenant_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with_tenants(dir.path());
    let (alice, bob) = (Some(ALICE), Some(BOB));
    let scenario = json!({
        "name": "ward-7",
        "resources": [{"id": "truck", "kind": "water", "capacity": {"l": 100}, "lat": 59.3, "lon": 18.0}],
        "needs": [{"id": "a", "kind": "water", "demand": {"l": 60}, "lat": 59.31, "lon": 18.0, "priority": 2}],
        "policy": {"max_distance_km": 20}
    });
    let r = post_json(&s, "/v1/sessions", &json!({ "scenario": scenario }), alice);
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = post_json(
        &s,
        &format!("/v1/sessions/{id}/events"),
        &json!({"events": [
            {"type": "need_added", "need": {"id": "b", "kind": "water", "demand": {"l": 30}, "lat": 59.3, "lon": 18.01}},
            {"type": "dispatched", "need": "a", "resource": "truck"}
        ]}),
        alice,
    );
    r.assert_status(200);

    let list = get(&s, "/v1/sessions", alice).json();
    let listed = &list["sessions"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "ward-7");
    assert_eq!(listed[0]["seq"], 1);
    assert!(listed[0]["created_ms"].as_i64().unwrap() > 0);
    assert_eq!(get(&s, "/v1/sessions", bob).json(), json!({"sessions": []}));
    assert_eq!(get(&s, "/v1/sessions", None).status, 401);

    let e = get(&s, &format!("/v1/sessions/{id}/state"), alice).json();
    // The plan of the same read: `b` proposed to the truck's 40 l left, `a` dispatched.
    assert_eq!(e["seq"], 1);
    assert_eq!(
        e["plan"],
        get(&s, &format!("/v1/sessions/{id}/plan"), alice).json()
    );
    let proposed: Vec<(&str, &str)> = e["plan"]["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["resource"].as_str().unwrap(), a["need"].as_str().unwrap()))
        .collect();
    assert_eq!(proposed, [("truck", "b")]);
    assert_eq!(e["plan"]["dispatched"][0]["need"], "a");
    let ids = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = e[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("needs"), ["a", "b"]);
    assert_eq!(ids("resources"), ["truck"]);
    // `a` is dispatched in full, `b` is all open.
    assert_eq!(e["open"], json!({"a": 0.0, "b": 1.0}));
    let a = e["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "a")
        .unwrap();
    assert_eq!(
        (a["priority"].as_f64(), a["demand"]["l"].as_f64()),
        (Some(2.0), Some(60.0))
    );
    let r = get(&s, &format!("/v1/sessions/{id}/state"), bob);
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
}

#[test]
fn generators_answer_the_scenario_the_library_makes() {
    let s = Server::in_temp_dir(&[]);
    let r = get(&s, "/v1/generators/disaster?seed=7&scale=0.5", None);
    assert_eq!(r.status, 200);
    let want = commonsnet_datasets::generate::generate("disaster", 0.5, 7).unwrap();
    assert_eq!(r.json(), want);
    let timed = get(&s, "/v1/generators/urban?seed=3&timed=true", None).json();
    let want = commonsnet_datasets::generate::Generator::Urban
        .generate_with(1.0, 3, commonsnet_datasets::generate::Clock::Timed)
        .unwrap();
    assert_eq!(timed, want);
    for (path, status, code) in [
        ("/v1/generators/volcano", 404, "not_found"),
        ("/v1/generators/urban?scale=0", 400, "bad_query"),
        ("/v1/generators/urban?scale=21", 400, "bad_query"),
        ("/v1/generators/urban?seed=-1", 400, "bad_query"),
        ("/v1/generators/urban?colour=red", 400, "bad_query"),
    ] {
        let r = get(&s, path, None);
        assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
    }
    // A scale out of range is named as a query parameter, as `limit` is (it was a 422 with
    // empty details).
    let r = get(&s, "/v1/generators/urban?scale=21", None);
    assert_eq!(r.json()["error"]["details"][0]["field"], "scale");
}

#[test]
fn csv_and_parquet_parts_solve_like_json_and_parquet_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"), &[]);
    let scenario = commonsnet_engine::scenario_from_value(&example()).unwrap();
    let t = commonsnet_engine::tables::scenario_to_tables(&scenario).unwrap();
    let via_json = post_json(&s, "/v1/solve", &example(), None).json();
    for format in [TableFormat::Csv, TableFormat::Parquet] {
        let out = dir.path().join(format.extension());
        commonsnet_datasets::write_scenario_tables(
            &out,
            &t.resources,
            &t.needs,
            None,
            None,
            format,
        )
        .unwrap();
        let read = |name: &str| std::fs::read(out.join(format!("{name}.{}", format.extension())));
        let (res, needs) = (read("resources").unwrap(), read("needs").unwrap());
        // CSV is told by the part's media type; Parquet by its magic bytes.
        let ctype = if format == TableFormat::Csv {
            "text/csv"
        } else {
            "application/octet-stream"
        };
        let policy = t.policy.to_string();
        let r = solve_multipart(
            &s,
            &[
                ("resources", ctype, &res),
                ("needs", ctype, &needs),
                ("policy", "application/json", policy.as_bytes()),
                ("name", "text/plain", b"flood-north"),
            ],
        );
        r.assert_status(200);
        let via_tables = r.json();
        for k in ["status", "objective", "needs_served", "input_digest"] {
            assert_eq!(
                via_tables["summary"][k], via_json["summary"][k],
                "{format:?} {k}"
            );
        }
        assert_eq!(
            via_tables["allocations"], via_json["allocations"],
            "{format:?}"
        );
    }

    let r = call(
        "POST",
        &s.url("/v1/solve"),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/vnd.apache.parquet"),
        ],
        Some(example().to_string().as_bytes()),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.apache.parquet")
    );
    assert_eq!(r.header("x-commonsnet-status"), Some("optimal"));
    let batches = commonsnet_datasets::read_batches_from_bytes(&r.body).unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, via_json["allocations"].as_array().unwrap().len());
}
