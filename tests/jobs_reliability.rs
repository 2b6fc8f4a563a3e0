//! Jobs that must not hurt the server (issue 16), over real HTTP on 127.0.0.1: oversized jobs
//! are refused up front, a run or a job that panics ends as an error row or a failed job while
//! the server keeps answering, a server restarted with such a job stored starts, and
//! `--job-threads` bounds the runs executing at once.
//!
//! Panics are injected with the runner's `COMMONSNET_FAULTS` variable (see `api/src/jobs.rs`).

use crate::common::server::{call, refused_serve, Server};
use crate::http::without_timing;
use commonsnet_engine::batch::RunRow;
use commonsnet_engine::Status;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The calls these tests make, answering (status, JSON body).
trait JobClient {
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value);
    fn post(&self, path: &str, body: &Value) -> (u16, Value);
    fn get(&self, path: &str) -> (u16, Value);
    fn healthy(&self) -> bool;
    fn submit(&self, job: &Value) -> String;
    fn wait_job(&self, id: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value;
    fn rows(&self, id: &str) -> Vec<RunRow>;
}

impl JobClient for Server {
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
        let r = call(
            method,
            &self.url(path),
            &[("Content-Type", "application/json")],
            body,
        );
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body.to_string().as_bytes()))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None)
    }

    fn healthy(&self) -> bool {
        self.call("GET", "/healthz", None).0 == 200
    }

    fn submit(&self, job: &Value) -> String {
        let (status, v) = self.post("/v1/jobs", job);
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    fn wait_job(&self, id: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, v) = self.get(&format!("/v1/jobs/{id}"));
            assert_eq!(status, 200, "{v}");
            if pred(&v) {
                return v;
            }
            assert!(Instant::now() < end, "job {id} never got there: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn rows(&self, id: &str) -> Vec<RunRow> {
        let (status, v) = self.get(&format!("/v1/jobs/{id}/result"));
        assert_eq!(status, 200, "{v}");
        serde_json::from_value(v["rows"].clone()).unwrap()
    }
}

fn ended(v: &Value) -> bool {
    matches!(v["status"].as_str(), Some("done" | "failed" | "cancelled"))
}

/// Long enough to be interrupted: 4 disaster scenarios x 2 policies x 5 replicates.
fn long_job() -> Value {
    json!({"generator": {"name": "disaster", "count": 4}, "policies": ["greedy", "coverage"],
        "replicates": 5, "seed": 11, "perturb": {"demand": 0.2, "failures": 0.05}})
}

/// The one detail of a `job_too_large` answer.
fn too_large(s: &Server, job: &Value) -> Value {
    let (status, v) = s.post("/v1/jobs", job);
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "job_too_large", "{v}");
    let details = v["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{v}");
    let d = details[0].clone();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(d["field"].as_str().unwrap()), "{v}");
    assert!(message.contains(&d["limit"].to_string()), "{v}");
    d
}

#[test]
fn oversized_jobs_are_refused_up_front_naming_the_field_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(dir.path(), &[], None);
    // The request of issue 16: accepted before, it then grew the server until it aborted.
    let d = too_large(
        &s,
        &json!({"generator": {"name": "disaster", "scale": 200, "count": 1000}, "policies": ["greedy"]}),
    );
    assert_eq!(
        (&d["field"], &d["limit"], &d["value"]),
        (&json!("generator.scale"), &json!(10.0), &json!(200.0))
    );
    // Past what any generator takes, the same answer: the job's bound, not the generators'
    // (a review read "not in (0, 200]" for 1,000, then "the job limit of 10" for 150).
    let d = too_large(
        &s,
        &json!({"generator": {"name": "disaster", "scale": 1000, "count": 1}}),
    );
    assert_eq!((&d["limit"], &d["value"]), (&json!(10.0), &json!(1000.0)));
    let (status, v) = s.post(
        "/v1/jobs",
        &json!({"generator": {"name": "disaster", "scale": 0, "count": 1}}),
    );
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        v["error"]["details"][0]["message"], "0 is not in (0, 10]",
        "{v}"
    );
    let d = too_large(
        &s,
        &json!({"generator": {"name": "urban", "count": 50001}, "policies": ["greedy", "coverage"]}),
    );
    assert_eq!(
        (&d["field"], &d["limit"], &d["value"]),
        (
            &json!("generator.count x policies x replicates"),
            &json!(100_000),
            &json!(100_002)
        )
    );
    let tiny = json!({"resources": [], "needs": []});
    let d = too_large(&s, &json!({"scenarios": vec![tiny; 1001]}));
    assert_eq!(
        (&d["field"], &d["limit"], &d["value"]),
        (&json!("scenarios"), &json!(1000), &json!(1001))
    );
    // 17 MiB of inline JSON (the body limit is 64 MiB).
    let big = json!({"name": "x".repeat(17 << 20), "resources": [], "needs": []});
    let d = too_large(&s, &json!({"scenarios": [big]}));
    assert_eq!(
        (&d["field"], &d["limit"]),
        (&json!("scenarios"), &json!(16 << 20))
    );

    // Nothing was stored; the server is fine and still takes a job of the right size.
    assert_eq!(s.get("/v1/jobs").1, json!([]));
    assert!(s.healthy() && s.alive());
    let id = s.submit(
        &json!({"generator": {"name": "disaster", "scale": 10, "count": 1},
        "policies": ["greedy"]}),
    );
    let v = s.wait_job(&id, 300, ended);
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(s.rows(&id)[0].status, Status::Feasible);
}

/// A job request with an invalid field names it in the message and in the one detail, as a
/// scenario's issues do (the details were empty).
#[test]
fn invalid_job_fields_are_named_in_the_details() {
    let s = Server::in_temp_dir(&[]);
    let urban = |extra: Value| {
        let mut job = json!({"generator": {"name": "urban", "count": 1}});
        job.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        job
    };
    for (job, field, message) in [
        (
            json!({"generator": {"name": "moon", "count": 1}}),
            "generator.name",
            "unknown generator \"moon\", expected one of urban, rural, intentional, disaster",
        ),
        (
            urban(json!({"replicates": 0})),
            "replicates",
            "must be at least 1",
        ),
        (
            urban(json!({"time_limit_s": -5})),
            "time_limit_s",
            "-5 is not a positive number of seconds",
        ),
        (
            urban(json!({"policies": []})),
            "policies",
            "the list is empty",
        ),
        (
            urban(json!({"policies": ["greedy", 3]})),
            "policies[1]",
            "expected a policy name or a policy object",
        ),
    ] {
        let (status, v) = s.post("/v1/jobs", &job);
        assert_eq!(status, 422, "{v}");
        assert_eq!(
            v["error"],
            json!({"code": "invalid_input", "message": format!("{field}: {message}"),
                "details": [{"table": "job", "row": null, "field": field, "message": message}]}),
        );
    }
    assert_eq!(s.get("/v1/jobs").1, json!([]));
}

#[test]
fn a_run_that_panics_is_an_error_row_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(dir.path(), &["--job-threads", "2"], Some("run_panic=1"));
    let id = s.submit(&json!({"generator": {"name": "urban", "count": 2},
        "policies": ["greedy", "coverage"]}));
    let v = s.wait_job(&id, 120, ended);
    assert_eq!(v["status"], "done", "{v}");
    // The job's status counts its error rows (a job `done` with every run an error said
    // nothing of it without a download).
    assert_eq!(
        v["progress"],
        json!({"done": 4, "total": 4, "errors": 1}),
        "{v}"
    );
    let rows = s.rows(&id);
    assert_eq!(rows.len(), 4);
    for r in &rows {
        if r.run == 1 {
            assert_eq!(r.status, Status::Error);
            let e = r.error.as_deref().unwrap();
            assert!(
                e.contains("internal error: injected fault: run 1 panics"),
                "{e}"
            );
            assert_eq!((r.policy.as_str(), r.replicate), ("coverage", 0));
            assert!(r.scenario.starts_with("urban-x1-s"), "{}", r.scenario);
        } else {
            assert_ne!(r.status, Status::Error, "{r:?}");
        }
    }
    assert!(s.healthy() && s.alive());
    // The next job runs too.
    let id = s.submit(&json!({"generator": {"name": "rural"}, "policies": ["greedy"]}));
    assert_eq!(s.wait_job(&id, 120, ended)["status"], "done");
}

/// A run the store cannot take (SQLite's answer on a full disk, injected once) does not fail
/// its job: the job starts no more runs, waits, is taken up again and ends `done` with the
/// rows of the same job run without the fault (a store review filled the disk: the runner
/// solved every remaining run it could not store, then the job was failed). SQLite's runner
/// only: replicas claim runs under leases, and a run not stored is claimed again.
#[test]
fn a_run_the_store_cannot_take_pauses_its_job_instead_of_failing_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(dir.path(), &["--job-threads", "1"], Some("store_full=3"));
    let job = json!({"generator": {"name": "urban", "count": 3},
        "policies": ["greedy", "coverage"]});
    let id = s.submit(&job);
    let v = s.wait_job(&id, 120, ended);
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(v["progress"], json!({"done": 6, "total": 6, "errors": 0}));
    assert_eq!(v["attempts"], 2, "taken up again once: {v}");
    assert!(s.healthy() && s.alive());
    let again = s.submit(&job);
    assert_eq!(s.wait_job(&again, 120, ended)["status"], "done");
    assert_eq!(without_timing(s.rows(&id)), without_timing(s.rows(&again)));
}

#[test]
fn a_job_that_panics_when_resumed_is_failed_and_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(dir.path(), &["--job-threads", "1"], None);
    let id = s.submit(&long_job());
    s.wait_job(&id, 120, |v| v["progress"]["done"].as_i64() >= Some(1));
    s.kill(); // SIGKILL: the job is stored `running`, and resumed at the next start.

    let mut s = Server::start_with(dir.path(), &["--job-threads", "1"], Some("job_panic"));
    let v = s.wait_job(&id, 120, ended);
    assert_eq!(v["status"], "failed", "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("injected fault"), "{e}");
    assert!(s.healthy() && s.alive());
    // The runs it finished before are served (they were out of reach: 409).
    let done = s.get(&format!("/v1/jobs/{id}")).1["progress"]["done"]
        .as_u64()
        .unwrap();
    assert!(done >= 1);
    assert_eq!(s.rows(&id).len() as u64, done);
    s.kill();

    // Stored failed, it is not resumed again: the server starts and runs new jobs.
    let mut s = Server::start_with(dir.path(), &["--job-threads", "1"], None);
    assert!(s.healthy() && s.alive());
    assert_eq!(s.get(&format!("/v1/jobs/{id}")).1["status"], "failed");
    let id2 = s.submit(&json!({"generator": {"name": "urban"}, "policies": ["greedy"]}));
    assert_eq!(s.wait_job(&id2, 120, ended)["status"], "done");
}

/// A job the server dies under at the same place on every start (run 2 aborts the process)
/// is failed after three such deaths in a row, not resumed forever.
#[test]
fn a_job_the_server_keeps_dying_under_is_failed_instead_of_resumed_forever() {
    let dir = tempfile::tempdir().unwrap();
    let start = || Server::start_with(dir.path(), &["--job-threads", "1"], Some("run_abort=2"));
    let died = |mut s: Server| {
        let t = Instant::now();
        while s.alive() {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "the server did not die"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let s = start();
    let id = s.submit(&long_job());
    died(s); // runs 0 and 1 done, then the first death: not counted, progress was made.
    for _ in 1..=3 {
        died(start()); // deaths 1 to 3 without progress
    }
    let mut s = start();
    let v = s.wait_job(&id, 120, ended);
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["progress"]["done"], 2, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("stopped abnormally 3 times"),
        "{v}"
    );
    assert!(s.healthy() && s.alive());
}

/// A long job killed three times and more, each time after it made progress (as a container
/// stop that does not wait for the runs in flight), is resumed each time and finishes (it was
/// failed at the third start: "stopped abnormally 3 times").
#[test]
fn a_job_that_progresses_between_kills_is_resumed_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_with(dir.path(), &["--job-threads", "1"], None);
    let id = s.submit(&long_job());
    for _ in 1..=4 {
        // Progress made by this start: the runs stored before it do not count (waiting for
        // `done >= kill` could kill a server that had not yet taken the job up again).
        let stored = s.get(&format!("/v1/jobs/{id}")).1["progress"]["done"].as_i64();
        let v = s.wait_job(&id, 120, |v| v["progress"]["done"].as_i64() > stored);
        assert_ne!(v["status"], "done", "the job ended before the kills: {v}");
        s.kill();
        s = Server::start_with(dir.path(), &["--job-threads", "1"], None);
    }
    let v = s.wait_job(&id, 600, ended);
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(v["attempts"], 5, "{v}");
    assert_eq!(s.rows(&id).len(), 40);
}

/// With `--job-threads N`, at most N runs execute at once: the stored start and finish times of
/// the runs never overlap more than N deep (`max_parallel_runs`), and with one thread the runs'
/// solver times add up to less than the job's wall time (they were inflated wall times of
/// interleaved runs before).
#[test]
fn job_threads_bound_the_runs_executing_at_once() {
    let job = json!({"generator": {"name": "disaster", "count": 2}, "policies": ["greedy", "coverage"],
        "replicates": 4, "seed": 5, "perturb": {"demand": 0.2, "travel_time": 0.1}});
    let mut tables = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start_with(dir.path(), &["--job-threads", &threads.to_string()], None);
        let id = s.submit(&job);
        let v = s.wait_job(&id, 300, ended);
        assert_eq!(v["status"], "done", "{v}");
        assert_eq!(v["max_parallel_runs"], json!(threads), "{v}");
        if threads == 1 {
            let (solve, wall) = (
                v["solve_ms_total"].as_f64().unwrap(),
                v["elapsed_ms"].as_f64().unwrap(),
            );
            assert!(solve <= wall + 1.0, "{solve} ms of solving in {wall} ms");
        }
        let mut rows = s.rows(&id);
        assert_eq!(rows.len(), 16);
        for r in &mut rows {
            assert_ne!(r.status, Status::Error, "{r:?}");
            r.solve_ms = None;
        }
        tables.push(rows);
    }
    assert_eq!(
        tables[0], tables[1],
        "the table depends on the thread count"
    );
}

/// One server per SQLite data folder: a second one on the same folder is refused at start
/// (it resumed the first's running jobs and ran them twice, counting a crash of each), and a
/// server started after the first has stopped runs as before.
#[test]
fn a_second_server_on_one_data_folder_is_refused() {
    if std::env::var(crate::common::server::TEST_PG).is_ok() {
        // On PostgreSQL replicas share the store by design.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut first = Server::start(dir.path(), &[]);
    let err = refused_serve("127.0.0.1:0", dir.path());
    assert!(
        err.contains("is in use by another commonsnet server"),
        "{err}"
    );
    assert!(first.alive());
    first.kill();
    let mut again = Server::start(dir.path(), &[]);
    assert!(again.healthy());
    again.kill();
}
