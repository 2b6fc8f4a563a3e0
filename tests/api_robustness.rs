//! The HTTP service's answers to odd requests: ids that are no ids, bodies of the wrong shape,
//! parts given twice, a `Last-Event-ID` from the future, a body limit beyond the address
//! space. Each is a 4xx naming what is wrong (or a refusal to start), never a 500 or a guess.

use crate::common::pg::PgServer;
use crate::common::server::{
    call, call_with_header, get, get_as, post_json, refused_start, solve_multipart, Resp, Server,
};
use crate::common::session::{create_session, events, read_sse, stream_after, two_teams_session};
use commonsnet_engine::Status;
use serde_json::{json, Value};
use std::io::BufReader;
use std::time::{Duration, Instant};

/// `(status, code, message)` of an error answer.
fn error(r: &Resp) -> (u16, String, String) {
    let v = r.json();
    (
        r.status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
        v["error"]["message"].as_str().unwrap_or("").to_string(),
    )
}

/// Every session route answers an id that is not 32 hex digits with 404 `session not found`
/// before it goes near the store (a NUL was a 500 on PostgreSQL, which refuses it in text);
/// a path parameter that is not UTF-8 is a 404 in the same JSON body, not axum's plain 400.
fn odd_session_ids_are_not_found(s: &Server) {
    let valid = two_teams_session(s, None);
    let odd = [
        "%00".to_string(),
        format!("{}%00", &valid[..31]),
        "0123".to_string(),
        format!("{valid}0"),
        "%C3%A9".to_string(),
        "x".repeat(4000),
    ];
    for id in &odd {
        let base = format!("/v1/sessions/{id}");
        for (method, path, body) in [
            ("GET", format!("{base}/plan"), None),
            ("GET", format!("{base}/state"), None),
            ("GET", format!("{base}/stream"), None),
            ("GET", format!("{base}/needs/n1/why"), None),
            ("POST", format!("{base}/events"), Some(br#"{"events": []}"#)),
            ("DELETE", base.clone(), None),
        ] {
            let h = [("Content-Type", "application/json")];
            let r = call(method, &s.url(&path), &h, body.map(|b| &b[..]));
            assert_eq!(
                error(&r),
                (404, "not_found".into(), "session not found".into()),
                "{method} {path:.80}"
            );
        }
    }
    // Jobs too.
    let r = get(s, "/v1/jobs/%00", None);
    assert_eq!(error(&r), (404, "not_found".into(), "job not found".into()));
    // A parameter that is not UTF-8 once percent-decoded names nothing either, and says which.
    for (method, path, message) in [
        (
            "GET",
            "/v1/sessions/%FF/plan".to_string(),
            "session not found: `id` is not UTF-8",
        ),
        (
            "DELETE",
            "/v1/sessions/%FF".into(),
            "session not found: `id` is not UTF-8",
        ),
        (
            "GET",
            format!("/v1/sessions/{valid}/needs/%FF/why"),
            "need not found: `need` is not UTF-8",
        ),
        (
            "GET",
            "/v1/jobs/%FF/result".into(),
            "job not found: `id` is not UTF-8",
        ),
        (
            "DELETE",
            "/v1/jobs/%FF".into(),
            "job not found: `id` is not UTF-8",
        ),
        (
            "GET",
            "/v1/generators/%FF".into(),
            "generator not found: `name` is not UTF-8",
        ),
    ] {
        let r = call(method, &s.url(&path), &[], None);
        assert_eq!(
            error(&r),
            (404, "not_found".into(), message.into()),
            "{method} {path}"
        );
    }
    // The well-formed id still works.
    assert_eq!(
        get(s, &format!("/v1/sessions/{valid}/state"), None).status,
        200
    );
}

#[test]
fn odd_session_ids_are_404_on_sqlite() {
    odd_session_ids_are_not_found(&Server::in_temp_dir(&[]));
}

#[test]
fn odd_session_ids_are_404_on_postgres() {
    let Some(pg) = PgServer::start() else { return };
    let url = pg.database();
    odd_session_ids_are_not_found(&Server::in_temp_dir(&["--store", &url]));
}

/// A JSON body of the wrong shape is a 422 whose detail names the field's path.
#[test]
fn a_mistyped_body_field_is_named_by_its_path() {
    let s = Server::in_temp_dir(&[]);
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban", "count": "three"}}),
        None,
    );
    let expected = r#"invalid type: string "three", expected usize"#;
    assert_eq!(
        error(&r),
        (
            422,
            "invalid_input".into(),
            format!("generator.count: {expected}")
        )
    );
    assert_eq!(
        r.json()["error"]["details"],
        json!([{"table": "body", "row": null, "field": "generator.count", "message": expected}])
    );
    let r = post_json(&s, "/v1/jobs", &json!({"replicates": -1}), None);
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    assert_eq!(r.json()["error"]["details"][0]["field"], "replicates");
    // A session's body too.
    let r = post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": {}, "extra": 1}),
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let d = &r.json()["error"]["details"][0];
    assert_eq!(d["table"], "body");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `extra`"),
        "{d}"
    );
    // Nothing was accepted.
    assert_eq!(get(&s, "/v1/jobs", None).json(), json!([]));
}

/// A multipart part given twice is refused, not overwritten by the second.
#[test]
fn a_multipart_part_given_twice_is_refused() {
    let s = Server::in_temp_dir(&[]);
    let resources = b"id,kind,cap_beds\nr1,shelter,40\n";
    let needs = b"id,kind,dem_beds\nn1,shelter,4\n";
    let other = b"id,kind,dem_beds\nn2,shelter,400\n";
    let r = solve_multipart(
        &s,
        &[
            ("resources", "text/csv", resources),
            ("needs", "text/csv", needs),
        ],
    );
    r.assert_status(200);
    for (twice, parts) in [
        (
            "needs",
            vec![
                ("resources", "text/csv", &resources[..]),
                ("needs", "text/csv", &needs[..]),
                ("needs", "text/csv", &other[..]),
            ],
        ),
        (
            "policy",
            vec![
                ("policy", "application/json", &b"{}"[..]),
                ("resources", "text/csv", &resources[..]),
                ("needs", "text/csv", &needs[..]),
                (
                    "policy",
                    "application/json",
                    &br#"{"objective": "cost"}"#[..],
                ),
            ],
        ),
        (
            "name",
            vec![
                ("name", "text/plain", &b"a"[..]),
                ("name", "text/plain", &b"b"[..]),
            ],
        ),
    ] {
        let r = solve_multipart(&s, &parts);
        assert_eq!(
            error(&r),
            (
                400,
                "bad_multipart".into(),
                format!("part \"{twice}\" given twice")
            )
        );
    }
}

/// CSV parts' cells not of their column's type are each listed with its row, field and line,
/// as the CLI lists a folder's, beside the validator's problems (the first bad cell was the
/// whole answer, without a row or field, and called the table unreadable). A CRLF file's
/// lines are its own.
#[test]
fn multipart_csv_cells_are_each_named() {
    let s = Server::in_temp_dir(&[]);
    let resources = b"id,kind,cap_beds\r\nr1,shelter,40\r\n";
    let needs = b"id,kind,dem_beds,priority,min_fill\r\nn1,shelter,4,abc,0\r\n\
        n2,shelter,4,1,0\r\nn3,shelter,-4,1,zz\r\n";
    let r = solve_multipart(
        &s,
        &[
            ("resources", "text/csv", resources),
            ("needs", "text/csv", needs),
        ],
    );
    r.assert_status(422);
    let details: Vec<(Value, Value, Value)> = r.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["table"].clone(), d["row"].clone(), d["field"].clone()))
        .collect();
    for want in [
        (json!("needs"), json!(0), json!("priority")),
        (json!("needs"), json!(2), json!("min_fill")),
        (json!("needs"), json!(2), json!("dem_beds")),
    ] {
        assert!(details.contains(&want), "{want:?} in {}", r.json());
    }
    let messages = r.json()["error"]["details"].to_string();
    assert!(
        messages.contains("\\\"abc\\\" is not a finite number (line 2) in part \\\"needs\\\""),
        "{messages}"
    );
    assert!(messages.contains("(line 4)"), "{messages}");
}

/// A list longer than its route takes is refused as it is read, naming where it is: a
/// scenario's table past five million rows (25 million took 5.5 GB and 26 s); a batch of
/// 100,000 events is read (past it: `a_batch_of_bad_events_gets_a_bounded_answer`).
#[test]
fn a_list_past_its_bound_is_refused_while_read() {
    let s = Server::in_temp_dir(&[]);
    let id = create_session(&s, &json!({"resources": [], "needs": []}));
    let events = format!("/v1/sessions/{id}/events");
    // A body posted to `path`, refused: its first detail.
    let refused = |path: &str, body: String| {
        let r = call(
            "POST",
            &s.url(path),
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        let text = String::from_utf8_lossy(&r.body[..r.body.len().min(500)]).to_string();
        assert_eq!(r.status, 422, "{text}");
        r.json()["error"]["details"][0].clone()
    };
    // 100,000 are read (and refused for what they are, not for their number).
    let d = refused(
        &events,
        format!("{{\"events\": [{}5]}}", "5,".repeat(99_999)),
    );
    assert_eq!(d["message"], "expected an object", "{d}");
    let d = refused(
        "/v1/solve",
        format!(
            "{{\"resources\": [], \"needs\": [{}1]}}",
            "1,".repeat(5_000_000)
        ),
    );
    assert_eq!(
        (&d["table"], &d["row"], &d["field"]),
        (&json!("scenario"), &json!(null), &json!("needs"))
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("more than 5000000 items in one list"),
        "{d}"
    );
    // Lists each within the bound, together past it: refused too (five lists of five million
    // took 3.5 GB). An events body's, a million items in all: eleven lists of 100,000.
    let list = format!("[{}1]", "1,".repeat(99_999));
    let d = refused(
        &events,
        format!("{{\"events\": [{}]}}", [list.as_str(); 11].join(",")),
    );
    assert_eq!(
        (&d["table"], &d["row"], &d["field"]),
        (&json!("body"), &json!(null), &json!("events[9]"))
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("more than 1000000 list items in all"),
        "{d}"
    );
}

/// A multipart `explain` part that is not `true` or `false` is refused quoting its text (it
/// was reported as null).
#[test]
fn a_multipart_explain_part_is_quoted_when_refused() {
    let s = Server::in_temp_dir(&[]);
    let parts = |explain: &'static [u8]| {
        vec![
            (
                "resources",
                "text/csv",
                &b"id,kind,cap_beds\nr1,shelter,40\n"[..],
            ),
            (
                "needs",
                "text/csv",
                &b"id,kind,dem_beds\nn1,shelter,4\n"[..],
            ),
            ("explain", "text/plain", explain),
        ]
    };
    let r = solve_multipart(&s, &parts(b"yes"));
    assert_eq!(
        error(&r),
        (
            422,
            "invalid_input".into(),
            "part \"explain\" must be true or false, not \"yes\"".into()
        )
    );
    let r = solve_multipart(&s, &parts(b" true\n"));
    r.assert_status(200);
    assert!(r.json()["why"].is_array(), "{}", r.json());
}

/// A `Last-Event-ID` the session never gave out (ahead of its last change) is a 400; ids it
/// gave out, and 0, resume the stream after them.
#[test]
fn a_last_event_id_ahead_of_the_session_is_refused() {
    let s = Server::in_temp_dir(&[]);
    let id = two_teams_session(&s, None);
    let stream = |last: &str| {
        call_with_header(
            &s,
            "GET",
            &format!("/v1/sessions/{id}/stream"),
            ("Last-Event-ID", last),
        )
    };
    let ahead = |last: i64, current: i64| {
        (
            400,
            "bad_last_event_id".to_string(),
            format!(
                "Last-Event-ID {last} is ahead of the session's last change ({current}); \
                 reconnect without it to follow the session from now"
            ),
        )
    };
    assert_eq!(error(&stream("1")), ahead(1, 0));
    for (i, need) in ["a", "b"].iter().enumerate() {
        let r = events(
            &s,
            &id,
            json!([{"type": "need_added", "need": {"id": need, "kind": "medical",
                "lat": 45.0, "lon": 7.0, "demand": {"team_h": 1}}}]),
        );
        r.assert_status(200);
        assert_eq!(r.json()["seq"], i + 1);
    }
    assert_eq!(error(&stream("3")), ahead(3, 2));
    assert_eq!(error(&stream("9000000000")), ahead(9_000_000_000, 2));
    for (last, first) in [("0", 1), ("1", 2)] {
        let resp = stream_after(&s, &id, last);
        assert_eq!(resp.status(), 200);
        let got = read_sse(&mut BufReader::new(resp.into_reader()), 1);
        assert_eq!(got[0].0, first, "after {last}");
        assert_eq!(got[0].1["seq"], first);
    }
    // Caught up (2 of 2): the stream is open, waiting for the next change.
    let resp = stream_after(&s, &id, "2");
    assert_eq!(resp.status(), 200);
    let r = events(&s, &id, json!([{"type": "need_withdrawn", "id": "a"}]));
    assert_eq!(r.status, 200);
    let got = read_sse(&mut BufReader::new(resp.into_reader()), 1);
    assert_eq!(got[0].0, 3);
}

/// A batch of many bad events is answered with the first problems listed and the rest
/// counted, not one detail each (a body of a million `0`s made an 82 MB answer and a
/// gigabyte of server memory); a batch past the events bound is refused whole; a long id and
/// a key given twice are named as what they are.
#[test]
fn a_batch_of_bad_events_gets_a_bounded_answer() {
    let s = Server::in_temp_dir(&[]);
    let id = two_teams_session(&s, None);
    let post = |body: String| {
        call(
            "POST",
            &s.url(&format!("/v1/sessions/{id}/events")),
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    };
    let zeros = |n: usize| format!("{{\"events\": [{}]}}", vec!["0"; n].join(","));
    let r = post(zeros(30_000));
    assert_eq!(r.status, 422);
    let details = r.json()["error"]["details"].as_array().unwrap().clone();
    assert_eq!(
        details.len(),
        10_001,
        "the first 10,000 problems and a count"
    );
    assert_eq!(
        (&details[0]["table"], &details[0]["row"]),
        (&json!("events"), &json!(0))
    );
    assert_eq!(details[0]["message"], "expected an object");
    assert_eq!(
        details[10_000]["message"],
        "20000 more problem(s) not listed (the first 10000 are)"
    );
    assert_eq!(
        error(&r).2,
        "malformed events; first: events[0]: expected an object"
    );
    assert!(r.body.len() < 2_000_000, "{} bytes", r.body.len());

    // Past the bound the list is refused as it is read, before it is held (ten million took
    // 2.7 GB when the bound was checked after), naming where it is.
    let r = post(zeros(100_001));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["error"]["details"],
        json!([{"table": "body", "row": null, "field": "events",
            "message": "more than 100000 events in one batch (line 1, column 200014): split the batch"}])
    );

    let long = "n".repeat(1025);
    let r = events(&s, &id, json!([{"type": "need_withdrawn", "id": long}]));
    assert_eq!(
        error(&r),
        (
            422,
            "invalid_input".to_string(),
            "malformed events; first: events[0].id: 1025 bytes long: ids and names are at most \
             1024 bytes"
                .to_string()
        )
    );
    let r = events(&s, &id, json!([{"type": 5}]));
    assert_eq!(
        error(&r).2,
        "malformed events; first: events[0].type: expected a string, got a number"
    );
    let r = post(r#"{"events": [{"type": "need_withdrawn", "id": "a", "id": "b"}]}"#.into());
    assert_eq!(
        error(&r),
        (
            422,
            "invalid_input".to_string(),
            "events[0].id: duplicate key (line 1, column 54): a key may appear only once in an \
             object"
                .to_string()
        )
    );
    // Nothing was applied by any of them.
    let state = get(&s, &format!("/v1/sessions/{id}/state"), None).json();
    assert_eq!(state["seq"], 0);
}

/// A job's inline scenarios share one bound on the problems listed: each scenario listed up
/// to 10,000 of its own, so 1,000 scenarios of empty needs (a 16 MiB body) answered with ten
/// million details. Three scenarios of 4,000 empty needs have 12,000 problems each.
#[test]
fn a_job_of_many_bad_scenarios_gets_a_bounded_answer() {
    let s = Server::in_temp_dir(&[]);
    let scenario = json!({"resources": [], "needs": vec![json!({}); 4_000]});
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"scenarios": [scenario, scenario, scenario]}),
        None,
    );
    assert_eq!(r.status, 422);
    let v = r.json();
    assert_eq!(
        v["error"]["message"],
        "36000 problem(s) in the job's scenarios"
    );
    let details = v["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 10_001);
    assert_eq!(
        (&details[0]["table"], &details[0]["row"]),
        (&json!("scenarios[0].needs"), &json!(0))
    );
    // The first scenario's own count line is not a problem listed: its rows go on to the
    // bound and the count is of every scenario's.
    assert!(details[..10_000]
        .iter()
        .all(|d| d["table"] == "scenarios[0].needs"));
    assert_eq!(
        details[10_000],
        json!({"table": "scenarios", "row": null, "field": null,
            "message": "26000 more problem(s) not listed (the first 10000 are)"})
    );
    assert_eq!(get(&s, "/v1/jobs", None).json(), json!([]));
}

/// A `--body-limit-mib` whose bytes overflow is refused at start, not wrapped to a tiny limit.
#[test]
fn serve_refuses_a_body_limit_beyond_the_address_space() {
    let dir = tempfile::tempdir().unwrap();
    // 2^44 MiB is 2^64 bytes: one more than a 64-bit usize holds (wrapped, 0).
    let mib = (1u64 << 44).to_string();
    let stderr = refused_start(&["--body-limit-mib", &mib]);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: --body-limit-mib {mib} is more bytes than this machine can address (at most {} MiB)",
            usize::MAX >> 20
        )
    );
    // The largest that fits is taken.
    let ok = (usize::MAX >> 20).to_string();
    let mut s = Server::start(dir.path(), &["--body-limit-mib", &ok]);
    assert!(s.alive());
    assert_eq!(get(&s, "/healthz", None).json()["status"], "ok");
}

/// Settings of 0 that leave the server useless are refused at start, naming the flag: a body
/// limit of 0 started a server that refused every POST, and 0 connections or a timeout of 0 s
/// were taken as 1 without a word.
#[test]
fn serve_refuses_settings_of_zero() {
    for flag in [
        "--body-limit-mib",
        "--max-connections",
        "--header-timeout-s",
        "--body-timeout-s",
        "--write-timeout-s",
        "--session-idle-s",
    ] {
        let stderr = refused_start(&[flag, "0"]);
        assert!(
            stderr.contains(&format!("invalid value '0' for '{flag}")) && stderr.contains("1.."),
            "{flag}: {stderr}"
        );
    }
}

/// A job's policy is checked against the rows it runs on, as the scenario's own policy was:
/// one that takes an inline scenario, or the generator's first, past the model's bounds is a
/// 422 naming scenario, policy, row and field (a later generated scenario's runs under it
/// would be `error` rows saying so). (The generated case made the server allocate 1.1 GB of
/// starts and abort; on restart the job resumed and aborted it again.)
#[test]
fn a_jobs_policy_is_held_to_the_bounds_of_the_rows() {
    let s = Server::in_temp_dir(&[]);
    let scenario = json!({
        "resources": [{"id": "r", "kind": "tool", "capacity": {"loans": 1}}],
        "needs": [{"id": "n", "kind": "tool", "demand": {"loans": 1}, "duration_h": 1,
                   "deadline": 10}],
        "policy": {"reusable": ["loans"]}});
    let fine_slots = json!({"objective": "coverage", "reusable": ["loans"], "slot_h": 0.001});
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"scenarios": [scenario], "policies": ["coverage", fine_slots]}),
        None,
    );
    r.assert_invalid_field(
        "scenarios[0] under policies[1].needs",
        "deadline",
        "policy.max_starts",
    );
    let details = r.json()["error"]["details"].clone();
    assert_eq!(details.as_array().map(Vec::len), Some(1), "{details}");
    assert_eq!(details[0]["row"], 0);
    assert_eq!(get(&s, "/v1/jobs", None).json(), json!([]));

    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban", "scale": 1, "count": 1, "timed": true},
                "policies": ["coverage", fine_slots]}),
        None,
    );
    // Checked against the generator's first scenario before it is accepted (it was a job
    // marked done whose every run under the policy was an error row).
    r.assert_invalid_field(
        "generator scenario[0] under policies[1].needs",
        "deadline",
        "policy.max_starts",
    );
    assert_eq!(get(&s, "/v1/jobs", None).json(), json!([]));
    // Under its own slots the same generator runs.
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban", "scale": 1, "count": 1, "timed": true},
                "policies": ["coverage"]}),
        None,
    );
    r.assert_status(202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    crate::http::wait_job(&s, &id, None, 120, crate::http::done);
    let rows = crate::http::rows_of(&s, &id);
    assert_eq!(
        rows[0].status,
        Status::Optimal,
        "its own slots: {:?}",
        rows[0]
    );
    assert_eq!(get(&s, "/healthz", None).status, 200, "the server is up");
}

/// A method HTTP does not define is counted and logged as `OTHER`: the client's own string
/// (of any length, 200 KB was taken) made one metrics series per request.
#[test]
fn an_unknown_method_is_one_metrics_label() {
    let s = Server::in_temp_dir(&[]);
    for i in 0..3 {
        let method = format!("BREW{i}{}", "X".repeat(1000));
        let r = call(&method, &s.url("/healthz"), &[], None);
        assert_eq!(r.status, 405);
    }
    let metrics = String::from_utf8(get(&s, "/metrics", None).body).unwrap();
    assert!(
        !metrics.contains("BREW"),
        "the client's method became a label"
    );
    assert!(metrics.contains(r#"method="OTHER""#), "{metrics}");
}

/// A client that pipelines requests and never reads the answers holds its connection only for
/// the write timeout: with one connection allowed, another client is served after it (it
/// waited in the backlog for as long as the first kept its socket open).
#[test]
fn a_client_that_never_reads_is_closed_after_the_write_timeout() {
    use std::io::Write;
    let s = Server::in_temp_dir(&["--max-connections", "1", "--write-timeout-s", "1"]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut hog = std::net::TcpStream::connect(&addr).unwrap();
    let request = format!("GET /openapi.json HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // Tens of megabytes of answers, far beyond what the sockets buffer; none is read.
    for _ in 0..300 {
        if hog.write_all(request.as_bytes()).is_err() {
            break;
        }
    }
    let start = Instant::now();
    let r = get(&s, "/healthz", None);
    assert_eq!(r.status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "served after {:?}",
        start.elapsed()
    );
    drop(hog);
}

/// `--max-connections-per-ip 2`: one address holds two connections at most (a review held
/// every connection of a server with one client trickling its heads); a third is answered 429
/// with the error body and `Retry-After`, without a request read, and closed; once one of
/// the two closes, the address is served again.
#[test]
fn one_address_holds_at_most_its_connections() {
    use std::io::{Read, Write};
    let s = Server::in_temp_dir(&["--max-connections-per-ip", "2"]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // Both accepted (the server answers on each), then left idle.
    for c in &mut held {
        write!(c, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
    }
    let mut third = std::net::TcpStream::connect(&addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(third, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"error": {"code": "queue_full",
            "message": "2 connections from this address are open already \
                (--max-connections-per-ip); close one or retry later",
            "details": []}})
    );
    drop(held.pop());
    let start = Instant::now();
    loop {
        let r = call("GET", &s.url("/healthz"), &[], None);
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 429);
        assert!(start.elapsed() < Duration::from_secs(10), "never served");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Large bodies are decoded within a budget (`serve --decode-budget-mib`, its waiting is
/// unit-tested in `DecodeBudget`): a body larger than the whole budget takes all of it and is
/// served, and so are small ones beside it.
#[test]
fn a_body_larger_than_the_decode_budget_is_served() {
    let s = Server::in_temp_dir(&["--decode-budget-mib", "1"]);
    let scenario = json!({"resources": [{"id": "r", "kind": "water", "capacity": {"l": 5}}],
        "needs": [{"id": "n", "kind": "water", "demand": {"l": 3}}]});
    // JSON allows the blanks: 2.5 MB that decode to a two-row scenario.
    let large = format!("{}{}", " ".repeat(2_500_000), scenario);
    let r = call(
        "POST",
        &s.url("/v1/solve"),
        &[("Content-Type", "application/json")],
        Some(large.as_bytes()),
    );
    r.assert_status(200);
    assert_eq!(r.json()["summary"]["status"], "optimal");
    let r = post_json(&s, "/v1/solve", &scenario, None);
    assert_eq!(r.status, 200);
}

/// A key given twice in a solve's scenario is named by table, row and field, as the CLI names
/// it (it was field `resources[0].id` of table `body`); in a policy part, by the policy's field.
#[test]
fn a_key_given_twice_in_a_scenario_is_named_by_table_row_and_field() {
    let s = Server::in_temp_dir(&[]);
    let body = r#"{"resources": [{"id": "r", "id": "s", "kind": "water", "capacity": {"l": 1}}],
        "needs": []}"#;
    let r = call(
        "POST",
        &s.url("/v1/solve"),
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 422);
    let d = &r.json()["error"]["details"][0];
    assert_eq!(
        (&d["table"], &d["row"], &d["field"]),
        (&json!("resources"), &json!(0), &json!("id"))
    );
    let r = solve_multipart(
        &s,
        &[
            ("resources", "text/csv", b"id,kind,cap_l\nr,water,1\n"),
            ("needs", "text/csv", b"id,kind,dem_l\nn,water,1\n"),
            (
                "policy",
                "application/json",
                br#"{"objective": "coverage", "objective": "cost"}"#,
            ),
        ],
    );
    r.assert_status(422);
    let d = &r.json()["error"]["details"][0];
    assert_eq!(
        (&d["table"], &d["field"]),
        (&json!("policy"), &json!("objective"))
    );
}

/// A job's policy object names every problem in it, each by its field (one detail said "3
/// problem(s); first: ..."); more than 1,000 policies are refused up front (validation was
/// quadratic in them); the job listing takes `limit` and refuses other query parameters
/// (`?status=done` was ignored, answering every job).
#[test]
fn job_policies_and_listings_are_checked_field_by_field() {
    let s = Server::in_temp_dir(&[]);
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban"},
                "policies": ["greedy", {"fairnes": "maxmin", "objectve": "cost", "max_distance_km": -3}]}),
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let details = r.json()["error"]["details"].clone();
    let fields: Vec<(&str, &str)> = details
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["table"].as_str().unwrap(), d["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("policies[1]", "fairnes"),
            ("policies[1]", "objectve"),
            ("policies[1]", "max_distance_km")
        ],
        "{details}"
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("policies[1]: 3 problem(s); first: "),
        "{message}"
    );

    let many: Vec<Value> = (0..1001)
        .map(|i| json!(format!("min_share={}", i as f64 / 2000.0)))
        .collect();
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban"}, "policies": many}),
        None,
    );
    assert_eq!((r.status, r.code().as_str()), (422, "job_too_large"));
    assert_eq!(r.json()["error"]["details"][0]["field"], "policies");

    for id in 0..2 {
        let r = post_json(
            &s,
            "/v1/jobs",
            &json!({"generator": {"name": "urban", "count": 1}, "policies": ["greedy"], "seed": id}),
            None,
        );
        assert_eq!(r.status, 202);
    }
    assert_eq!(
        get(&s, "/v1/jobs?limit=1", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(&s, "/v1/jobs", None).json().as_array().unwrap().len(),
        2
    );
    for bad in [
        "/v1/jobs?status=done",
        "/v1/jobs?limit=0",
        "/v1/jobs?limit=x",
        // The sessions' list takes the same parameter, and refuses what it does not know.
        "/v1/sessions?limit=x",
        "/v1/sessions?limit=0",
        "/v1/sessions?limit=501",
        "/v1/sessions?state=open",
    ] {
        let r = get(&s, bad, None);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_query"), "{bad}");
    }
    // A parameter that does not parse, or is out of range, is named in the details (it was
    // only inside the message).
    for (bad, says) in [
        ("/v1/jobs?limit=-1", "invalid digit"),
        ("/v1/jobs?limit=99999999999999999999", "too large"),
        ("/v1/jobs?limit=0", "0 is not in 1..="),
        ("/v1/sessions?limit=x", "invalid digit"),
        ("/v1/jobs?limit=1&limit=2", "given twice"),
    ] {
        let r = get(&s, bad, None);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_query"), "{bad}");
        let d = &r.json()["error"]["details"][0];
        assert_eq!(
            (d["table"].as_str(), d["field"].as_str()),
            (Some("query"), Some("limit")),
            "{bad}: {d}"
        );
        assert!(d["message"].as_str().unwrap().contains(says), "{bad}: {d}");
    }
    let scenario = json!({"resources": [], "needs": []});
    for _ in 0..2 {
        let r = post_json(&s, "/v1/sessions", &json!({"scenario": scenario}), None);
        assert_eq!(r.status, 201);
    }
    let listed = |q: &str| {
        let r = get(&s, &format!("/v1/sessions{q}"), None);
        assert_eq!(r.status, 200);
        r.json()["sessions"].as_array().unwrap().len()
    };
    assert_eq!(
        (listed("?limit=1"), listed(""), listed("?limit=500")),
        (1, 2, 2)
    );
    // A parameter the route does not take is named too (it was `.`), on every /v1 route:
    // those without parameters ignored it (a typo such as `?explian=true` was silently a solve
    // without explanations).
    let sid = create_session(&s, &json!({"resources": [], "needs": []}));
    let jid = get(&s, "/v1/jobs", None).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path) in [
        ("GET", "/v1/jobs?limit=2&lmit=3".to_string()),
        ("GET", "/v1/sessions?lmit=3".to_string()),
        ("POST", "/v1/solve?lmit=3".to_string()),
        ("POST", "/v1/jobs?lmit=3".to_string()),
        ("POST", "/v1/sessions?lmit=3".to_string()),
        ("GET", format!("/v1/jobs/{jid}?lmit=3")),
        ("GET", format!("/v1/jobs/{jid}/result?lmit=3")),
        ("DELETE", format!("/v1/jobs/{jid}?lmit=3")),
        ("GET", format!("/v1/sessions/{sid}/plan?lmit=3")),
        ("GET", format!("/v1/sessions/{sid}/state?lmit=3")),
        ("GET", format!("/v1/sessions/{sid}/stream?lmit=3")),
        ("GET", format!("/v1/sessions/{sid}/needs/n1/why?lmit=3")),
        ("POST", format!("/v1/sessions/{sid}/events?lmit=3")),
        ("DELETE", format!("/v1/sessions/{sid}?lmit=3")),
        ("GET", "/v1/generators/urban?lmit=3".to_string()),
    ] {
        let body = (method == "POST").then_some(&b"{}"[..]);
        let r = call(method, &s.url(&path), &[], body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "bad_query"),
            "{method} {path}"
        );
        let d = &r.json()["error"]["details"][0];
        assert_eq!(d["field"], "lmit", "{method} {path}: {d}");
    }
    // Nothing was deleted by the refused calls.
    assert_eq!(
        get(&s, &format!("/v1/sessions/{sid}/state"), None).status,
        200
    );
    // `explain: null` is no explanation, as null is absent for every optional field (the
    // document said null was allowed; the server refused it 422).
    let r = post_json(
        &s,
        "/v1/solve",
        &json!({"resources": [], "needs": [], "explain": null}),
        None,
    );
    assert_eq!(r.status, 200);
    assert!(
        r.json().get("why").is_none_or(Value::is_null),
        "{}",
        r.json()
    );
}

/// Small files that asked for gigabytes (a review's findings): each is refused 422 naming
/// what to change, and the server goes on serving.
/// - 3,000 resources each in a dimension of its own (166 KB of JSON): 27,000,000 cells of
///   per-dimension tables; the server passed 4.5 GB and aborted.
/// - 32 needs x 32 resources of one unit, each free to start at any of 1,000 hours: a MIP of
///   1,024,000 (link, start) columns (1.7 GB in HiGHS, then no plan within the time limit).
/// - 80 x 80 of them: 6,400,000 pairs, refused before any is made.
#[test]
fn small_files_that_ask_for_gigabytes_are_refused() {
    let s = Server::in_temp_dir(&[]);
    let wide = json!({
        "resources": (0..3000)
            .map(|i| json!({"id": format!("r{i}"), "kind": "k", "capacity": {format!("d{i}"): 1}}))
            .collect::<Vec<_>>(),
        "needs": [{"id": "n", "kind": "k", "demand": {"d0": 1}}]});
    let r = post_json(&s, "/v1/solve", &wide, None);
    r.assert_invalid_field("resources", "capacity", "make 27003000 cells");
    let timed = crate::common::hourly_loans;
    let r = post_json(&s, "/v1/solve", &timed(32), None);
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        m.contains("is a MIP") && m.contains("of 1024000 columns, more than 500000"),
        "{m}"
    );
    let r = post_json(&s, "/v1/solve", &timed(80), None);
    r.assert_invalid_field("policy", "slot_h", "6400000 (link, start) pairs");
    // The same scenario with a day's slots is a small model, and is solved.
    let mut daily = timed(32);
    daily["policy"]["slot_h"] = json!(24);
    let r = post_json(&s, "/v1/solve", &daily, None);
    r.assert_status(200);
    assert_eq!(r.json()["summary"]["needs_served"], 32);
}

/// A CSV table part sent without a `.csv` file name or `text/csv` is answered by what to
/// change (it was read as Arrow and refused as "a message of 1663853673 bytes does not fit
/// the stream"); named so, the same bytes are read.
#[test]
fn a_csv_part_without_its_name_or_type_is_told_so() {
    let s = Server::in_temp_dir(&[]);
    let resources: &[u8] = b"id,kind,cap_l\nr,water,1\n";
    let needs: &[u8] = b"id,kind,dem_l\nn,water,1\n";
    let r = solve_multipart(
        &s,
        &[
            ("resources", "text/csv", resources),
            ("needs", "application/octet-stream", needs),
        ],
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        m.contains("part \"needs\" looks like CSV text: send it with a .csv file name or Content-Type text/csv"),
        "{m}"
    );
    assert_eq!(r.json()["error"]["details"][0]["table"], "needs");
    let r = solve_multipart(
        &s,
        &[
            ("resources", "text/csv", resources),
            ("needs", "text/csv", needs),
        ],
    );
    r.assert_status(200);
}

/// `/healthz` answers 503 while the data directory takes no writes, and 200 again once it
/// does: SQLite's own check reads, so a full disk was reported healthy while every write
/// failed (a store review). The probe's file is made unwritable by a folder in its place.
#[test]
fn healthz_says_when_the_data_directory_takes_no_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    assert_eq!(get(&s, "/healthz", None).status, 200);
    let probe = dir.path().join("results").join(".write-probe");
    std::fs::create_dir(&probe).unwrap();
    // A probe's answer stands for a second.
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&s, "/healthz", None);
    r.assert_status(503);
    assert_eq!(r.json()["store_ok"], false);
    assert_eq!(r.header("retry-after"), Some("5"));
    std::fs::remove_dir(&probe).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&s, "/healthz", None).status, 200);
}

/// What a server killed mid-write leaves in the results folder (a result table's temporary
/// file, the health check's probe) is removed at the next start; result files stay.
#[test]
fn leftovers_of_a_killed_server_are_swept_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let leftovers = [".0a1b.parquet.4242.0.tmp", ".write-probe"];
    for name in leftovers.iter().chain(&["kept.parquet"]) {
        std::fs::write(results.join(name), b"x").unwrap();
    }
    // Started: listening, so past the store's opening (no health check: its probe would
    // remove its own file).
    let _s = Server::start(dir.path(), &[]);
    for name in leftovers {
        assert!(!results.join(name).exists(), "{name}");
    }
    assert!(results.join("kept.parquet").exists());
}

/// A done job's Parquet result is served from its stored runs when its file is cut short or
/// gone (it was streamed damaged, or answered 500): the same rows either way.
#[test]
fn a_damaged_or_missing_result_file_is_rebuilt_from_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--job-threads", "1"]);
    let r = post_json(
        &s,
        "/v1/jobs",
        &json!({"generator": {"name": "urban", "count": 2}, "policies": ["greedy", "coverage"]}),
        None,
    );
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    crate::http::wait_job(&s, &id, None, 120, crate::http::done);
    let parquet = || {
        let r = get_as(
            &s,
            &format!("/v1/jobs/{id}/result"),
            "application/vnd.apache.parquet",
        );
        let batches = commonsnet_datasets::read_batches_from_bytes(&r.body).unwrap();
        batches.iter().map(|b| b.num_rows()).sum::<usize>()
    };
    assert_eq!(parquet(), 4);
    let file = dir.path().join("results").join(format!("{id}.parquet"));
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(100).unwrap();
    assert_eq!(parquet(), 4, "a file cut short");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(parquet(), 4, "no file");
}

/// `--max-links` bounds the links of what the server takes (a scale review's 5.6 MiB
/// scenario of 16,000,000 rule-built links took a solve to 1.2 GB; the engine's own bound
/// is 50,000,000): a solve, a job's inline scenario and a session over the bound are
/// refused naming the radius (rule-built) or the links (listed), and a session's batch that
/// would take it past the bound is refused with nothing applied. At the bound, all pass.
#[test]
fn the_servers_link_bound_refuses_what_would_pass_it() {
    let s = Server::in_temp_dir(&["--max-links", "100"]);
    let solve = |body: &Value| post_json(&s, "/v1/solve", body, None);
    assert_eq!(solve(&all_linked(10, 10)).status, 200);
    solve(&all_linked(11, 10)).assert_invalid_field(
        "policy",
        "max_distance_km",
        "the link rules give more than 100 links (this server's --max-links)",
    );
    let mut listed = all_linked(11, 10);
    let links: Vec<Value> = (0..101)
        .map(|k| json!({"resource": format!("r{}", k % 11), "need": format!("n{}", k / 11)}))
        .collect();
    listed["links"] = json!(links);
    let r = solve(&listed);
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_input"));
    let d = &r.json()["error"]["details"][0];
    assert_eq!(d["table"], "links", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("101 links, more than this server's 100"),
        "{d}"
    );
    // A job's inline scenario.
    let job = post_json(
        &s,
        "/v1/jobs",
        &json!({"scenarios": [all_linked(11, 10)], "policies": ["greedy"]}),
        None,
    );
    assert_eq!((job.status, job.code().as_str()), (422, "invalid_input"));
    let d = &job.json()["error"]["details"][0];
    assert_eq!(
        (d["table"].as_str(), d["field"].as_str()),
        (Some("scenarios[0].policy"), Some("max_distance_km")),
        "{d}"
    );
    // Sessions: created over the bound, refused; at 90 links, a need brings it to 100 and
    // the next is refused, the session as it was.
    post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": all_linked(11, 10)}),
        None,
    )
    .assert_invalid_field("policy", "max_distance_km", "more than 100 links");
    let created = post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": all_linked(10, 9)}),
        None,
    );
    created.assert_status(201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let add = |need: &str| {
        events(
            &s,
            &id,
            json!([{"type": "need_added", "need": {"id": need, "kind": "k", "demand": {"u": 1}}}]),
        )
    };
    assert_eq!(add("n9").status, 200);
    add("n10").assert_refused(
        409,
        "event_rejected",
        "the batch could take the session past 100 links",
    );
    let state = get(&s, &format!("/v1/sessions/{id}/state"), None);
    assert_eq!(state.status, 200);
    assert_eq!(state.json()["seq"], 1);
    assert_eq!(state.json()["needs"].as_array().unwrap().len(), 10);
}

/// `resources` x `needs` of one kind and one unit each: every need links every resource, so
/// the rules give `resources * needs` links.
fn all_linked(resources: usize, needs: usize) -> Value {
    let r: Vec<Value> = (0..resources)
        .map(|i| json!({"id": format!("r{i}"), "kind": "k", "capacity": {"u": 1}}))
        .collect();
    let n: Vec<Value> = (0..needs)
        .map(|i| json!({"id": format!("n{i}"), "kind": "k", "demand": {"u": 1}}))
        .collect();
    json!({"resources": r, "needs": n})
}

/// A session made under a larger `--max-links` and rebuilt by a server started with a smaller
/// one: nothing accepted is lost (its state is as before), a batch that would bring links is
/// refused under the new bound, and one that brings none (a withdrawal, a dispatch) is taken.
#[test]
fn a_session_rebuilt_under_a_smaller_link_bound_keeps_its_state() {
    let data = tempfile::tempdir().unwrap();
    let need = |id: &str| json!({"id": id, "kind": "k", "demand": {"u": 1}});
    let mut s = Server::start(data.path(), &["--max-links", "1000"]);
    let created = post_json(
        &s,
        "/v1/sessions",
        &json!({"scenario": all_linked(10, 9)}),
        None,
    );
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let r = events(&s, &id, json!([{"type": "need_added", "need": need("n9")}]));
    assert_eq!(r.status, 200);
    let before = get(&s, &format!("/v1/sessions/{id}/state"), None).json();
    s.kill();

    let s = Server::start(data.path(), &["--max-links", "50"]);
    let state = get(&s, &format!("/v1/sessions/{id}/state"), None);
    assert_eq!(state.status, 200);
    assert_eq!(
        state.json(),
        before,
        "the rebuilt session is the one before"
    );
    events(
        &s,
        &id,
        json!([{"type": "need_added", "need": need("n10")}]),
    )
    .assert_refused(
        409,
        "event_rejected",
        "the batch could take the session past 50 links",
    );
    // A proposed match of a need that stays, dispatched with a withdrawal.
    let plan = get(&s, &format!("/v1/sessions/{id}/plan"), None).json();
    let m = plan["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["need"] != "n0")
        .unwrap()
        .clone();
    let r = events(
        &s,
        &id,
        json!([{"type": "need_withdrawn", "id": "n0"},
               {"type": "dispatched", "need": m["need"], "resource": m["resource"]}]),
    );
    r.assert_status(200);
    let after = get(&s, &format!("/v1/sessions/{id}/state"), None).json();
    assert_eq!(after["needs"].as_array().unwrap().len(), 9);
    assert_eq!(after["seq"], 2);
}
