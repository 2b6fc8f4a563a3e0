//! `GET /v1/jobs/{id}/result` read from the store a page at a time and streamed: every format
//! is the table the whole-table answer was (over real HTTP, on SQLite and, through
//! tests/on-postgres.txt, on PostgreSQL), a store failure mid-way fails the transfer, and the
//! writer holds a page, not the result.

use crate::common::alloc::largest_allocation;
use crate::common::server::{call, post_json, Server};
use crate::http::{done, wait_job};
use arrow_array::RecordBatch;
use commonsnet_api::jobs::ByteCount;
use commonsnet_api::routes::{write_result, Wanted, ARROW_STREAM, PARQUET};
use commonsnet_api::store::{JobStatus, PAGE_ROWS};
use commonsnet_engine::batch::{rows_to_batch, RunRow};
use serde_json::json;
use std::collections::HashMap;
use std::io::Read;

/// Runs of [`several_pages_job`]: more than one page, the last one partly filled.
const RUNS: usize = PAGE_ROWS + 152;

/// Two small communities, two policies, perturbed and explained: rows that differ in every
/// column kind (text, floats, counts, nulls).
fn several_pages_job() -> serde_json::Value {
    let place = |id: &str, community: &str, lat: f64| json!({"id": id, "community": community, "kind": "water", "lat": lat, "lon": 18.0});
    let mut r1 = place("r1", "north", 59.30);
    r1["capacity"] = json!({"l": 10});
    let mut r2 = place("r2", "south", 59.31);
    r2["capacity"] = json!({"l": 4});
    let mut n1 = place("n1", "north", 59.30);
    n1["demand"] = json!({"l": 6});
    let mut n2 = place("n2", "south", 59.31);
    n2["demand"] = json!({"l": 7});
    let scenario = json!({"name": "two-wells", "resources": [r1, r2], "needs": [n1, n2],
        "policy": {"objective": "coverage"}});
    json!({"scenarios": [scenario], "policies": ["greedy", "coverage"],
        "replicates": RUNS / 2, "seed": 5, "perturb": {"demand": 0.3, "failures": 0.2},
        "explain": true})
}

/// A server and the id of [`several_pages_job`], done on it.
fn server_with_job() -> (Server, String) {
    let s = Server::in_temp_dir(&[]);
    let r = post_json(&s, "/v1/jobs", &several_pages_job(), None);
    r.assert_status(202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    wait_job(&s, &id, None, 300, done);
    (s, id)
}

/// The job's rows as the whole-table answer read them: every stored row, in run order.
fn stored_rows(s: &Server, id: &str) -> Vec<RunRow> {
    s.store_query(&format!(
        "SELECT row FROM runs WHERE job = '{id}' ORDER BY idx"
    ))
    .iter()
    .map(|t| serde_json::from_str(t).unwrap())
    .collect()
}

/// The record batches of an Arrow IPC stream, as written (the datasets reader makes every
/// column nullable).
fn arrow_batches(body: &[u8]) -> Vec<RecordBatch> {
    arrow_ipc::reader::StreamReader::try_new(body, None)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The record batches of a Parquet file, as written: with the file's schema, metadata
/// included (the reader's batches carry the columns alone).
fn parquet_batches(body: &[u8]) -> Vec<RecordBatch> {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, body).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().with_schema(schema.clone()).unwrap())
        .collect()
}

/// `batches` are `whole`, row for row, in order (whatever their lengths).
fn assert_same_table(batches: &[RecordBatch], whole: &RecordBatch, what: &str) {
    let mut at = 0;
    for b in batches {
        assert_eq!(*b, whole.slice(at, b.num_rows()), "{what}: rows from {at}");
        at += b.num_rows();
    }
    assert_eq!(at, whole.num_rows(), "{what}: rows");
}

#[test]
fn a_result_of_several_pages_is_the_whole_table_in_every_format() {
    let (s, id) = server_with_job();
    let rows = stored_rows(&s, &id);
    assert_eq!(rows.len(), RUNS);
    assert!(rows.iter().enumerate().all(|(i, r)| r.run == i as u64));
    let path = format!("/v1/jobs/{id}/result");

    let r = call("GET", &s.url(&path), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Byte for byte what serde wrote for the whole table: field order, number spelling.
    let whole =
        serde_json::to_vec(&json!({"id": id, "rows": rows, "status": "done", "runs_total": RUNS}))
            .unwrap();
    assert!(
        r.body == whole,
        "the JSON answer differs from the whole-table one"
    );

    // The tables say how the runs were made, as `commonsnet simulate`'s do: the request's
    // seed, replicates, policies in order, perturbation and explain, the time limit as the
    // server capped it (`serve --time-limit`, 60 s by default) and the engine's version.
    let provenance: HashMap<String, String> = [
        ("engine_version", commonsnet_engine::VERSION.to_string()),
        ("seed", "5".into()),
        ("replicates", (RUNS / 2).to_string()),
        (
            "policies",
            r#"[{"label":"greedy"},{"label":"coverage"}]"#.into(),
        ),
        (
            "perturb",
            r#"{"demand":0.3,"failures":0.2,"travel_time":0.0}"#.into(),
        ),
        ("time_limit_s", "60".into()),
        ("explain", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("commonsnet.{k}"), v))
    .collect();
    let table = rows_to_batch(&rows).unwrap();
    let schema = table.schema().as_ref().clone().with_metadata(provenance);
    let table = table.with_schema(std::sync::Arc::new(schema)).unwrap();
    let r = call("GET", &s.url(&path), &[("Accept", ARROW_STREAM)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(ARROW_STREAM));
    let batches = arrow_batches(&r.body);
    assert_eq!(batches.len(), 2, "a record batch per page");
    assert_same_table(&batches, &table, "Arrow");

    // On SQLite the file the job wrote at its end, streamed; on PostgreSQL written now, a row
    // group per page.
    let r = call("GET", &s.url(&path), &[("Accept", PARQUET)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(PARQUET));
    assert_same_table(&parquet_batches(&r.body), &table, "Parquet");

    // A client that accepts gzip (a browser, Python's requests) gets the JSON and Arrow
    // answers gzipped, streamed page by page all the same, and unpacked they are the plain
    // bytes; Parquet, compressed already, as it is. The streamed body was once polled past
    // its end by the encoder and the transfer died before the gzip trailer.
    let plain = |accept: &str| call("GET", &s.url(&path), &[("Accept", accept)], None);
    for (accept, gzipped) in [
        ("application/json", true),
        (ARROW_STREAM, true),
        (PARQUET, false),
    ] {
        let r = call(
            "GET",
            &s.url(&path),
            &[("Accept", accept), ("Accept-Encoding", "gzip")],
            None,
        );
        assert_eq!(r.status, 200, "{accept}");
        let want = plain(accept).body;
        if gzipped {
            assert_eq!(r.header("content-encoding"), Some("gzip"), "{accept}");
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&r.body[..])
                .read_to_end(&mut out)
                .expect("a whole gzip stream");
            assert!(out == want, "{accept}: unpacked, not the plain answer");
            assert!(r.body.len() * 2 < want.len(), "{accept}");
        } else {
            assert_eq!(r.header("content-encoding"), None, "{accept}");
            assert!(r.body == want, "{accept}");
        }
    }
}

/// A row that does not read back: in the first page the answer is an error; past it the
/// transfer fails (the body is cut short), so no client takes a partial table for the whole.
#[test]
fn a_store_failure_fails_the_answer_or_its_transfer() {
    let (s, id) = server_with_job();
    let path = format!("/v1/jobs/{id}/result");
    let damage = |idx: usize| {
        s.store_execute(&format!(
            "UPDATE runs SET row = 'damaged' WHERE job = '{id}' AND idx = {idx}"
        ));
    };

    damage(PAGE_ROWS + 100);
    for accept in ["application/json", ARROW_STREAM] {
        // The connection is cut when the failure is met. The headers and the first page are
        // usually out by then (a 200 whose body fails), but when the writer meets the
        // failure before the server has flushed them, the client sees the connection end
        // before any answer: a failed transfer either way, never a whole-looking table.
        let resp = match ureq::get(&s.url(&path)).set("Accept", accept).call() {
            Ok(resp) => resp,
            Err(ureq::Error::Transport(t)) => {
                assert_eq!(t.kind(), ureq::ErrorKind::Io, "{accept}: {t}");
                continue;
            }
            Err(e) => panic!("{accept}: {e}"),
        };
        assert_eq!(resp.status(), 200, "{accept}: the first page reads");
        let mut body = Vec::new();
        let read = resp.into_reader().read_to_end(&mut body);
        assert!(
            read.is_err(),
            "{accept}: a transfer cut short must fail, not end ({} bytes read)",
            body.len()
        );
    }
    // The server goes on serving.
    assert_eq!(call("GET", &s.url("/healthz"), &[], None).status, 200);

    damage(100);
    let r = call("GET", &s.url(&path), &[], None);
    r.assert_status(500);
    assert_eq!(r.code(), "internal");
}

/// A result of 20,000 runs written as the route writes it: the largest allocation is a page's
/// (its rows, their batch), far below the whole answer, which the whole-table code held (and
/// the rows, and the batch) in one piece.
#[test]
fn a_result_is_written_holding_a_page_not_the_whole() {
    const RUNS: u64 = 20_000;
    let template: RunRow = serde_json::from_value(json!({
        "run": 0, "scenario": "urban-x1-s1234567890", "policy": "coverage", "replicate": 0,
        "seed": 9_515_697_483_416_319_527_u64, "status": "optimal", "error": null,
        "objective": 28.730292238070728, "coverage_value": 28.730292238070728,
        "cost": 27.663739187783637, "coverage_ratio": 0.957676407935691,
        "min_group_ratio": 0.9572537264904014, "jain_index": 0.9999996378851067,
        "gini": 0.0003008799696550759, "atkinson_0_5": 0.0000001810574, "needs_served": 12,
        "needs_partly_served": 1, "mean_access_time_h": 0.41234567, "solver": "highs-lp",
        "solve_ms": 3.217, "access_time_p90_h": 0.8123, "served_within_1h": 0.75,
        "utilisation": 0.66, "value_per_capacity": 0.1234, "resources_used": 5,
        "resources_unshared": 9, "duplication_avoided": 4, "why_capacity": 1, "why_objective": 0
    }))
    .unwrap();
    let template = &template;
    let pages = || {
        (0..RUNS).step_by(PAGE_ROWS).map(move |from| {
            let rows = (from..(from + PAGE_ROWS as u64).min(RUNS)).map(|run| RunRow {
                run,
                replicate: run / 2,
                ..template.clone()
            });
            Ok(rows.collect())
        })
    };
    let json_bytes = serde_json::to_vec(template).unwrap().len() as u64 * RUNS;
    for wanted in [Wanted::Json, Wanted::Arrow, Wanted::Parquet] {
        let mut out = ByteCount(0);
        let (written, largest) = largest_allocation(|| {
            write_result(
                "j",
                (JobStatus::Done, RUNS),
                pages(),
                wanted,
                HashMap::new(),
                &mut out,
            )
        });
        written.unwrap();
        eprintln!(
            "{wanted:?}: {} bytes written, largest allocation {largest} bytes",
            out.0
        );
        assert!(out.0 > 0);
        // A page's rows are ~1.2 MB; the JSON document is ~18 MB.
        assert!(
            largest * 8 < json_bytes as usize,
            "{wanted:?}: an allocation of {largest} bytes for a result of {json_bytes} bytes"
        );
    }
}

/// Downloads at once are bounded (`serve --max-result-streams`, each holds a blocking thread
/// the store's calls share): while one client holds the only stream (it reads a little and
/// waits), another is answered 429 with `Retry-After`. With two tenants, one holds at most its
/// share of them (a review found one tenant could keep another's downloads at 429): alice's
/// second download is refused naming her share, bob's is served; once alice's first has read
/// its answer to the end the stream is free again. `--max-result-streams 0` turns downloads
/// off: 503, no `Retry-After` (nothing to wait for).
#[test]
fn result_downloads_past_the_bound_are_told_to_retry() {
    use crate::common::server::{ALICE, BOB};
    use std::io::{Read, Write};
    let job = json!({"scenarios": [{"name": "one",
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]}],
        "policies": ["greedy"], "replicates": 20_000});
    let mut small = job.clone();
    small["replicates"] = json!(1);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::with_tenants_and(dir.path(), &["--max-result-streams", "1"]);
    let submit = |s: &Server, job: &serde_json::Value, token: &str| {
        let r = post_json(s, "/v1/jobs", job, Some(token));
        r.assert_status(202);
        let id = r.json()["id"].as_str().unwrap().to_string();
        wait_job(s, &id, Some(token), 300, done);
        format!("/v1/jobs/{id}/result")
    };
    let (path, bobs) = (submit(&s, &job, ALICE), submit(&s, &small, BOB));
    let get = |s: &Server, path: &str, token: &str| {
        let auth = format!("Bearer {token}");
        call("GET", &s.url(path), &[("Authorization", &auth)], None)
    };

    // The first client: its request sent, a few bytes of the answer read, then it waits. Its
    // answer (~15 MB of JSON) is far more than the socket buffers and the server's four
    // chunks hold, so the server's writer waits on it, holding the stream.
    let hold = |s: &Server| {
        let addr = s
            .url("")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let mut first = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            first,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ALICE}\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 4096];
        let n = first.read(&mut head).unwrap();
        assert!(
            head[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head[..n])
        );
        (first, n)
    };
    let refusal =
        |message: &str| json!({"error": {"code": "queue_full", "message": message, "details": []}});
    let first = hold(&s);
    let r = get(&s, &path, ALICE);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.json(),
        refusal("1 job results are being downloaded already; retry later")
    );
    drop(first);
    s.kill();

    let s = Server::with_tenants_and(dir.path(), &["--max-result-streams", "2"]);
    let (mut first, n) = hold(&s);
    let r = get(&s, &path, ALICE);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.json(),
        refusal(
            "tenant alice has 1 job results downloading, its share of this server's 2 \
             (--tenant-share); retry later"
        )
    );
    let r = get(&s, &bobs, BOB);
    assert_eq!(r.status, 200, "bob's download is not kept out");
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 1);

    let mut rest = Vec::new();
    first.read_to_end(&mut rest).unwrap();
    assert!(
        n + rest.len() > 10 << 20,
        "the whole answer: {} bytes",
        n + rest.len()
    );
    let r = get(&s, &path, ALICE);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 20_000);

    let off = Server::in_temp_dir(&["--max-result-streams", "0"]);
    let r = post_json(&off, "/v1/jobs", &small, None);
    let id = r.json()["id"].as_str().unwrap().to_string();
    wait_job(&off, &id, None, 300, done);
    let r = call("GET", &off.url(&format!("/v1/jobs/{id}/result")), &[], None);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json()["error"]["code"], "unavailable");
}
