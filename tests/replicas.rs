//! Replicas over PostgreSQL (issue 24, SPEC section 6), over real HTTP on 127.0.0.1: a
//! PostgreSQL server of the test's own (`common::pg`) and two or three `commonsnet serve
//! --store postgres://...` processes on it, killed with SIGKILL where the test says so.
//! Leases last 1 s here, so a dead replica is taken over within about a second.

use crate::common::pg::PgServer;
use crate::common::server::{call, get, get_as, post_json, refused_start, Resp, Server};
use crate::common::session::stream_after;
use crate::http::{
    done, events, incident, read_sse, rows_of, session_with_teams, submit_long_job,
    uninterrupted_long_job_rows, wait_job, without_timing,
};
use serde_json::{json, Value};
use std::io::BufReader;
use std::time::{Duration, Instant};

/// A PostgreSQL server of the test's own, a database on it (its URL), and `N` replicas on
/// that database, each on a data folder of its own, with one job thread; `None` where
/// PostgreSQL is missing and the tests that need it are skipped (`PgServer::start`). Bind them
/// in this order: the replicas are then stopped before the database.
fn replicas_on_postgres<const N: usize>() -> Option<(PgServer, String, [Server; N])> {
    replicas_on_postgres_with(&[])
}

/// [`replicas_on_postgres`] with more arguments to `serve`.
fn replicas_on_postgres_with<const N: usize>(
    extra: &[&str],
) -> Option<(PgServer, String, [Server; N])> {
    let pg = PgServer::start()?;
    let url = pg.database();
    let replicas = std::array::from_fn(|_| {
        let mut args = vec!["--store", &url, "--lease-s", "1", "--job-threads", "1"];
        args.extend_from_slice(extra);
        Server::in_temp_dir(&args)
    });
    Some((pg, url, replicas))
}

/// The replica's name in leases, from its `/healthz`.
fn name_of(s: &Server) -> String {
    let h = get(s, "/healthz", None).json();
    assert_eq!(h["store"], "postgres", "{h}");
    h["replica"].as_str().unwrap().to_string()
}

/// Call until the answer is not a 503 (a replica being taken over), within `secs`.
fn until_served(secs: u64, f: impl Fn() -> Resp) -> Resp {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = f();
        if r.status != 503 {
            return r;
        }
        assert!(
            matches!(r.code().as_str(), "store_unavailable" | "unavailable"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.header("retry-after").is_some());
        assert!(Instant::now() < end, "still 503 after {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_job_spread_over_replicas_survives_a_sigkilled_replica() {
    let Some((pg, url, [a, mut b, c])) = replicas_on_postgres() else {
        return;
    };
    let b_name = name_of(&b);
    let id = submit_long_job(&a);
    // Kill B while it holds a run's lease (mid-run), after some runs are stored.
    let end = Instant::now() + Duration::from_secs(120);
    let held = loop {
        let holding = pg.sql(
            &url,
            &format!("SELECT idx FROM run_leases WHERE replica = '{b_name}'"),
        );
        let stored = pg.sql(&url, "SELECT COUNT(*) FROM runs");
        if !holding.is_empty() && stored.parse::<i64>().unwrap() >= 3 {
            break holding;
        }
        assert!(Instant::now() < end, "replica B never held a run");
        std::thread::sleep(Duration::from_millis(20));
    };
    b.kill();
    let fin = wait_job(&c, &id, None, 300, done);
    assert_eq!(fin["progress"]["done"], 40, "{fin}");
    let replicas: i64 = pg
        .sql(
            &url,
            &format!("SELECT COUNT(DISTINCT replica) FROM runs WHERE job = '{id}'"),
        )
        .parse()
        .unwrap();
    assert!(
        replicas >= 2,
        "the runs were spread over {replicas} replica(s)"
    );
    // The run B held when it died was stored (run again by another replica, unless B stored
    // it in the instant before the kill).
    let by = pg.sql(
        &url,
        &format!("SELECT replica FROM runs WHERE job = '{id}' AND idx = {held}"),
    );
    assert!(!by.is_empty(), "run {held} was not stored");
    assert_eq!(
        pg.sql(
            &url,
            &format!("SELECT COUNT(*) FROM run_leases WHERE job = '{id}'")
        ),
        "0",
        "every lease is released once its run is stored"
    );
    let spread = without_timing(rows_of(&a, &id));
    // The same job on one process with SQLite.
    assert_eq!(spread.len(), 40);
    assert_eq!(spread, uninterrupted_long_job_rows());
    // Every format of the result answers from any replica (no result file on PostgreSQL).
    let parquet = get_as(
        &c,
        &format!("/v1/jobs/{id}/result"),
        "application/vnd.apache.parquet",
    );
    assert_eq!(&parquet.body[..4], b"PAR1");
}

#[test]
fn cancel_on_one_replica_stops_every_replica_within_a_run() {
    let Some((pg, url, [a, b])) = replicas_on_postgres() else {
        return;
    };
    let id = submit_long_job(&a);
    wait_job(&b, &id, None, 120, |v| {
        v["progress"]["done"].as_i64() >= Some(2)
    });
    let r = call("DELETE", &b.url(&format!("/v1/jobs/{id}")), &[], None);
    r.assert_status(200);
    assert_eq!(r.json()["status"], "cancelled");
    let at_cancel: i64 = r.json()["progress"]["done"].as_i64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let after = get(&a, &format!("/v1/jobs/{id}"), None).json();
    assert_eq!(after["status"], "cancelled");
    // Runs in flight at the cancel are dropped, not stored; nothing new was claimed.
    assert_eq!(
        after["progress"]["done"].as_i64().unwrap(),
        at_cancel,
        "{after}"
    );
    assert_eq!(
        pg.sql(
            &url,
            &format!("SELECT COUNT(*) FROM run_leases WHERE job = '{id}'")
        ),
        "0"
    );
}

/// The plan of a session as a comparison sees it: its matches and dispatches.
fn plan_of(s: &Server, id: &str) -> Value {
    let p = get(s, &format!("/v1/sessions/{id}/plan"), None);
    p.assert_status(200);
    let v = p.json();
    json!({"allocations": v["allocations"], "dispatched": v["dispatched"]})
}

#[test]
fn a_session_fails_over_when_its_owner_is_sigkilled() {
    let Some((pg, url, [mut a, b, c])) = replicas_on_postgres() else {
        return;
    };
    // Created on A: A owns it. Events sent to B are forwarded to A.
    let id = session_with_teams(&a);
    let batches = [
        json!([incident("i0", 45.01, 2, 1)]),
        json!([incident("i1", 45.02, 3, 2)]),
        json!([{"type": "dispatched", "event_id": "d1", "need": "i1", "resource": "team1"}]),
        json!([incident("i2", 45.05, 2, 3)]),
        json!([{"type": "need_withdrawn", "event_id": "w0", "id": "i0"}]),
    ];
    for (k, batch) in batches[..3].iter().enumerate() {
        let r = events(&b, &id, batch.clone());
        r.assert_status(200);
        assert_eq!(r.json()["seq"], k as i64 + 1);
    }
    let owner = pg.sql(
        &url,
        &format!("SELECT addr FROM session_owners WHERE session = '{id}'"),
    );
    assert_eq!(format!("http://{owner}"), a.base, "A owns the session");
    assert_eq!(plan_of(&c, &id), plan_of(&a, &id), "C reads A's plan");
    // A stream opened on C (forwarded to A) sees the changes.
    let mut reader = BufReader::new(stream_after(&c, &id, "2").into_reader());
    assert_eq!(read_sse(&mut reader, 1)[0].0, 3);

    a.kill();
    // B takes the session over once A's lease has expired (503 until then), rebuilt by
    // replay; a retried batch (same event ids) is not applied twice.
    let r = until_served(30, || events(&b, &id, batches[2].clone()));
    r.assert_status(200);
    assert_eq!(r.json()["duplicates"], json!(["d1"]));
    assert_eq!(r.json()["seq"], 3);
    for (k, batch) in batches[3..].iter().enumerate() {
        let r = until_served(30, || events(&c, &id, batch.clone()));
        r.assert_status(200);
        assert_eq!(r.json()["seq"], k as i64 + 4);
    }
    // The stream resumes on another replica from Last-Event-ID.
    let resp = until_served(30, || {
        call("GET", &c.url(&format!("/v1/sessions/{id}/plan")), &[], None)
    });
    assert_eq!(resp.status, 200);
    let mut reader = BufReader::new(stream_after(&c, &id, "3").into_reader());
    let resumed = read_sse(&mut reader, 2);
    assert_eq!(resumed.iter().map(|e| e.0).collect::<Vec<_>>(), vec![4, 5]);

    // The plan equals the same batches applied on one process with SQLite.
    let single = Server::in_temp_dir(&[]);
    let sid = session_with_teams(&single);
    for batch in &batches {
        assert_eq!(events(&single, &sid, batch.clone()).status, 200);
    }
    assert_eq!(plan_of(&b, &id), plan_of(&single, &sid));
    assert_eq!(plan_of(&c, &id), plan_of(&single, &sid));
}

/// Send `sig` (`-STOP`, `-CONT`) to replica `s`: a frozen process accepts connections and
/// never answers.
fn signal(s: &Server, sig: &str) {
    let pid = s.child.id().to_string();
    let ok = std::process::Command::new("kill")
        .args([sig, pid.as_str()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A frozen owner (SIGSTOP: a stuck process, a paused VM) accepts the forwarded request and
/// never answers; once its lease runs out the replica holding the request takes the session
/// over and applies it (it waited the 120 s forward timeout and answered 503). The owner,
/// woken, no longer holds the session: its answers are the new owner's.
#[test]
fn a_frozen_owner_is_taken_over_once_its_lease_runs_out() {
    let Some((_pg, _url, [a, b])) = replicas_on_postgres() else {
        return;
    };
    let id = session_with_teams(&a);
    let r = events(&b, &id, json!([incident("i0", 45.01, 2, 1)]));
    r.assert_status(200);
    signal(&a, "-STOP");
    let batch = json!([incident("i1", 45.02, 3, 2)]);
    let r = events(&b, &id, batch.clone());
    signal(&a, "-CONT");
    r.assert_status(200);
    assert_eq!(r.json()["seq"], 2);
    // Woken, A forwards to B (503 while it finds out it lost the session): one plan, and
    // the batch retried on A is not applied again.
    let r = until_served(30, || events(&a, &id, batch.clone()));
    r.assert_status(200);
    assert_eq!(r.json()["duplicates"], json!(["add-i1"]));
    assert_eq!(r.json()["seq"], 2);
    assert_eq!(plan_of(&a, &id), plan_of(&b, &id));
}

/// What one client of the restart test got accepted, and how often it was told to retry.
#[derive(Default)]
struct Accepted {
    needs: Vec<String>,
    jobs: Vec<String>,
    /// Answered 503 (the store away): retried.
    retries: usize,
    /// Jobs answered 429 (the queue full): not accepted, not counted as the outage.
    queue_full: usize,
}

#[test]
fn a_database_restart_under_load_loses_no_accepted_job_or_event() {
    let Some((pg, _url, replicas)) = replicas_on_postgres::<2>() else {
        return;
    };
    let id = session_with_teams(&replicas[0]);
    let small_job = json!({"generator": {"name": "urban", "count": 1}, "policies": ["greedy"],
        "seed": 3});
    let stop = std::sync::atomic::AtomicBool::new(false);
    let clients: Vec<Accepted> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|c| {
                let (replicas, id, small_job, stop) = (&replicas, &id, &small_job, &stop);
                scope.spawn(move || {
                    let mut got = Accepted::default();
                    let mut k = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let target = &replicas[(c + k) % 2];
                        let need = format!("c{c}n{k}");
                        let lat = 45.0 + (k % 40) as f64 * 1e-3;
                        let r = events(target, id, json!([incident(&need, lat, 1, 1)]));
                        match r.status {
                            200 => got.needs.push(need),
                            503 => got.retries += 1,
                            s => panic!("event: {s} {}", String::from_utf8_lossy(&r.body)),
                        }
                        if k % 3 == 0 {
                            let r = post_json(target, "/v1/jobs", small_job, None);
                            match r.status {
                                202 => got.jobs.push(r.json()["id"].as_str().unwrap().into()),
                                503 => got.retries += 1,
                                // The clients outran the job queue (how often depends on how
                                // fast events answer): refused, so nothing accepted is lost.
                                429 => got.queue_full += 1,
                                s => panic!("job: {s} {}", String::from_utf8_lossy(&r.body)),
                            }
                        }
                        k += 1;
                    }
                    got
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        pg.down();
        std::thread::sleep(Duration::from_millis(500));
        let h = get(&replicas[0], "/healthz", None);
        assert_eq!(h.status, 503);
        assert_eq!(h.json()["store_ok"], false);
        assert_eq!(h.header("retry-after"), Some("5"));
        std::thread::sleep(Duration::from_secs(2));
        pg.up();
        let end = Instant::now() + Duration::from_secs(30);
        while get(&replicas[0], "/healthz", None).status != 200 {
            assert!(
                Instant::now() < end,
                "the replica never saw the database again"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let retries: usize = clients.iter().map(|c| c.retries).sum();
    assert!(retries > 0, "the outage was answered 503");
    let accepted: Vec<&String> = clients.iter().flat_map(|c| &c.needs).collect();
    assert!(accepted.len() > 10, "{} events accepted", accepted.len());
    // Every accepted event is in the session, and nothing that was not sent (an event answered
    // 503 may have been committed before its answer was lost); every accepted job finishes.
    let state = until_served(30, || {
        get(&replicas[1], &format!("/v1/sessions/{id}/state"), None)
    });
    let mut needs: Vec<String> = state.json()["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    needs.sort();
    for n in &accepted {
        assert!(needs.binary_search(n).is_ok(), "accepted event {n} lost");
    }
    for n in &needs {
        assert!(n.starts_with('c'), "{n} was never sent");
    }
    for j in clients.iter().flat_map(|c| &c.jobs) {
        wait_job(&replicas[0], j, None, 120, done);
    }
}

#[test]
fn a_lost_session_lease_is_counted_and_the_session_leaves_memory() {
    let Some((pg, url, [a])) = replicas_on_postgres() else {
        return;
    };
    let id = session_with_teams(&a);
    let metrics = |s: &Server| String::from_utf8(get(s, "/metrics", None).body).unwrap();
    assert!(
        metrics(&a).contains("commonsnet_leases_held{kind=\"session\"} 1"),
        "{}",
        metrics(&a)
    );
    // Another replica (gone since: nothing listens on port 1) took the lease.
    pg.sql(
        &url,
        &format!(
            "UPDATE session_owners SET replica = 'elsewhere', addr = '127.0.0.1:1',
                 lease_until = lease_until + 600000 WHERE session = '{id}'"
        ),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while !metrics(&a).contains("commonsnet_lease_losses_total{kind=\"session\"} 1") {
        assert!(
            Instant::now() < end,
            "the lost lease was not noticed: {}",
            metrics(&a)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(metrics(&a).contains("commonsnet_sessions_live 0"));
    // The next request finds the holder gone, takes the session back and rebuilds it.
    let r = events(&a, &id, json!([incident("i0", 45.01, 2, 1)]));
    r.assert_status(200);
    assert_eq!(r.json()["seq"], 1);
    let owner = pg.sql(
        &url,
        &format!("SELECT addr FROM session_owners WHERE session = '{id}'"),
    );
    assert_eq!(format!("http://{owner}"), a.base);
}

#[test]
fn a_run_claimed_too_often_is_an_error_row() {
    let Some((pg, url, [a])) = replicas_on_postgres() else {
        return;
    };
    let id = submit_long_job(&a);
    // As if three replicas had died running the last run (one worker takes runs in order,
    // so it reaches run 39 last).
    pg.sql(
        &url,
        &format!("UPDATE run_leases SET claims = 3 WHERE job = '{id}' AND idx = 39"),
    );
    wait_job(&a, &id, None, 300, done);
    let rows = rows_of(&a, &id);
    assert_eq!(rows.len(), 40);
    assert_eq!(rows[39].status, commonsnet_engine::Status::Error);
    assert!(
        rows[39]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("claimed 3 times"),
        "{:?}",
        rows[39].error
    );
    assert!(rows[..39]
        .iter()
        .all(|r| r.status != commonsnet_engine::Status::Error));
}

/// A delete is done only where the session is served: one that reaches a replica that does
/// not serve it without being forwarded (a client set the forwarding header itself) is a 503,
/// and the session goes on where it is served. (The other replica removed the log under the
/// owner, whose appends then failed.)
#[test]
fn a_session_is_deleted_only_where_it_is_served() {
    let Some((_pg, _url, [a, b])) = replicas_on_postgres() else {
        return;
    };
    let id = session_with_teams(&a);
    let forged = [(commonsnet_api::replicas::FORWARDED, "1")];
    let r = call(
        "DELETE",
        &b.url(&format!("/v1/sessions/{id}")),
        &forged,
        None,
    );
    r.assert_status(503);
    let r = events(&a, &id, json!([incident("i0", 45.01, 2, 1)]));
    r.assert_status(200);
    assert_eq!(r.json()["seq"], 1);
    // Through the owner (or forwarded to it), the delete is done.
    let r = call("DELETE", &b.url(&format!("/v1/sessions/{id}")), &[], None);
    r.assert_status(204);
    assert_eq!(
        get(&a, &format!("/v1/sessions/{id}/plan"), None).status,
        404
    );
}

/// Two replicas of the service in this process, as their session hubs over PostgreSQL stores
/// of their own names and addresses (nothing listens at those: no request is forwarded here),
/// with no heartbeat: a lease lapses exactly when the test lets it. The runtime drives the
/// stores' queries; keep it alive while the hubs are used.
struct InProcess {
    _pg: PgServer,
    runtime: tokio::runtime::Runtime,
    a: commonsnet_api::sessions::SessionHub,
    b: commonsnet_api::sessions::SessionHub,
}

const IN_PROCESS_LEASE: Duration = Duration::from_millis(1000);

/// Stores of replicas named `a`, `b`, ... (advertised at 127.0.0.1:1, :2, ...: nothing listens
/// there) on a new database of `pg`, leases of [`IN_PROCESS_LEASE`], and the runtime that
/// drives their queries.
fn stores_on<const N: usize>(
    pg: &PgServer,
) -> (
    tokio::runtime::Runtime,
    [std::sync::Arc<commonsnet_api::store::PgStore>; N],
) {
    stores_at(&pg.database())
}

fn stores_at<const N: usize>(
    url: &str,
) -> (
    tokio::runtime::Runtime,
    [std::sync::Arc<commonsnet_api::store::PgStore>; N],
) {
    use commonsnet_api::store::{PgSettings, PgStore};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stores = std::array::from_fn(|k| {
        let store = runtime
            .block_on(PgStore::open(PgSettings {
                url: url.to_string(),
                replica: ((b'a' + k as u8) as char).to_string(),
                advertise: format!("127.0.0.1:{}", k + 1),
                lease: IN_PROCESS_LEASE,
            }))
            .unwrap();
        std::sync::Arc::new(store)
    });
    (runtime, stores)
}

fn in_process_replicas() -> Option<InProcess> {
    use commonsnet_api::sessions::{SessionHub, SessionLimits};
    let pg = PgServer::start()?;
    let (runtime, [a, b]) = stores_on(&pg);
    let hub = |s| SessionHub::new(s, SessionLimits::default());
    Some(InProcess {
        _pg: pg,
        runtime,
        a: hub(a),
        b: hub(b),
    })
}

fn water_need(id: &str) -> Vec<commonsnet_engine::session::Event> {
    commonsnet_engine::session::parse_events(&json!([{"type": "need_added", "event_id": id,
        "need": {"id": id, "kind": "water", "demand": {"l": 1}}}]))
    .unwrap()
}

/// Replica A's lease on a session lapses (its heartbeat stalled); replica B takes the session,
/// appends a batch and gives the lease back; A's next request takes the free lease again. A
/// must rebuild the session from the log rather than answer from its memory, which lacks B's
/// batch: it answered a stale plan, and its next batch failed (503) on the taken number.
#[test]
fn a_lease_taken_again_after_a_lapse_rebuilds_the_session_from_the_log() {
    use commonsnet_api::sessions::answer;
    use commonsnet_api::store::Owner;
    let Some(r) = in_process_replicas() else {
        return;
    };
    let raw = json!({"resources": [{"id": "van", "kind": "water", "capacity": {"l": 10}}],
        "needs": [{"id": "a0", "kind": "water", "demand": {"l": 4}}]});
    let scenario = commonsnet_engine::scenario_from_value(&raw).unwrap();
    r.a.create("s1", "t", &scenario, &raw).unwrap();
    let on_a = |evs| {
        let rx = r.a.events("s1", "t", evs).unwrap();
        r.runtime.block_on(answer(rx)).unwrap()
    };
    assert_eq!(on_a(water_need("a1")).unwrap().seq, 1);
    // A's lease lapses: no heartbeat renews it.
    std::thread::sleep(IN_PROCESS_LEASE + Duration::from_millis(300));
    assert_eq!(r.b.route("s1", "t").unwrap(), Owner::Here, "B takes it");
    let rx = r.b.events("s1", "t", water_need("b1")).unwrap();
    let on_b = r.runtime.block_on(answer(rx)).unwrap().unwrap();
    assert_eq!(on_b.seq, 2);
    // B goes idle and lets the session go: the lease is free.
    r.b.release_all();
    assert_eq!(
        r.a.route("s1", "t").unwrap(),
        Owner::Here,
        "A takes it again"
    );
    let rx =
        r.a.read_with_seq("s1", "t", |s, seq| {
            (
                seq,
                s.has_need("b1"),
                s.plan().keys().any(|(_, n)| n == "b1"),
            )
        })
        .unwrap();
    let (seq, has_b1, planned_b1) = r.runtime.block_on(answer(rx)).unwrap().unwrap();
    assert_eq!(seq, 2, "A reads the log's state, B's batch included");
    assert!(has_b1 && planned_b1, "B's need is in A's plan");
    assert_eq!(on_a(water_need("a2")).unwrap().seq, 3);
}

/// What counts towards `MAX_CLAIMS`: a replica never claims a run one of its own workers is
/// running (its lease lapsed while the heartbeat was late: another worker here took it, and
/// counted a claim); a lease taken from a holder that still beats is not counted; one taken
/// from a holder that stopped beating, or given back after a failure, is. (Every replica
/// alive, late renewals made runs `abandoned` error rows.)
#[test]
fn run_claims_count_failures_not_late_renewals() {
    use commonsnet_api::store::NewJob;
    use commonsnet_api::JobStore;
    let Some(pg) = PgServer::start() else {
        return;
    };
    let (_runtime, [a, b]) = stores_on(&pg);
    a.insert_job(&NewJob::new("j1", "t", "{}", 3)).unwrap();
    let claim = |s: &commonsnet_api::store::PgStore, running: &[(String, i64)]| {
        let c = s.claim_run(running).unwrap().unwrap();
        assert_eq!(c.job, "j1");
        (c.index, c.claims)
    };
    let lapse = || std::thread::sleep(IN_PROCESS_LEASE + Duration::from_millis(300));
    assert_eq!(claim(&a, &[]), (0, 1));
    // A's lease on run 0 lapses (no renewal) while A still beats and runs it.
    lapse();
    a.beat().unwrap();
    assert_eq!(
        claim(&a, &[("j1".into(), 0)]),
        (1, 1),
        "another worker of A takes the next run, not the one A runs"
    );
    assert_eq!(
        claim(&b, &[]),
        (0, 1),
        "taken from A, which beats: not counted"
    );
    // B stops beating (it died): its lease on run 0 lapses, and A's on run 1.
    lapse();
    a.beat().unwrap();
    assert_eq!(
        claim(&a, &[("j1".into(), 1)]),
        (0, 2),
        "taken from B, which stopped beating: counted"
    );
    // Run 0 fails on A: its lease is given back, and the next claim counts.
    a.release_run("j1", 0).unwrap();
    assert_eq!(claim(&b, &[]), (0, 3));
}

/// Lock the rows of `rows` (`TABLE WHERE ...`) from another connection for `secs` seconds,
/// in the background; returns once they are locked, with the process holding them.
fn hold_lock(pg: &PgServer, url: &str, rows: &str, secs: u32) -> std::process::Child {
    let sleep = format!("pg_sleep({secs})");
    let locker = pg.sql_in_background(
        url,
        &format!("BEGIN; SELECT 1 FROM {rows} FOR UPDATE; SELECT {sleep}; COMMIT;"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while pg.sql(
        url,
        &format!(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
             WHERE s.query LIKE '%{sleep}%' AND l.locktype = 'transactionid'"
        ),
    ) == "0"
    {
        assert!(Instant::now() < end, "the rows were never locked");
        std::thread::sleep(Duration::from_millis(20));
    }
    locker
}

/// The heartbeat's renewal is bounded: a run lease row locked by a slow transaction is
/// skipped, and the other leases are renewed at once (the renewal waited for the lock, and
/// every lease of the replica could lapse behind one row).
#[test]
fn one_locked_lease_does_not_hold_up_the_renewal_of_the_others() {
    use commonsnet_api::store::NewJob;
    use commonsnet_api::JobStore;
    let Some(pg) = PgServer::start() else {
        return;
    };
    let url = pg.database();
    let (_runtime, [a]) = stores_at(&url);
    a.insert_job(&NewJob::new("j1", "t", "{}", 2)).unwrap();
    let runs: Vec<(String, i64)> = (0..2)
        .map(|_| {
            let c = a.claim_run(&[]).unwrap().unwrap();
            (c.job, c.index as i64)
        })
        .collect();
    let mut locker = hold_lock(&pg, &url, "run_leases WHERE idx = 0", 4);
    let started = Instant::now();
    let renewed = a.renew_run_leases(&runs).unwrap();
    let took = started.elapsed();
    assert_eq!(renewed, 1, "the lease not locked is renewed");
    assert!(took < IN_PROCESS_LEASE / 3, "the renewal took {took:?}");
    assert!(a.beat().is_ok());
    locker.wait().unwrap();
}

/// Session leases as run leases: a session row locked by a slow transaction is skipped by
/// the renewal, which renews the others at once and reports the locked one as busy, not lost
/// (the renewal waited for the lock and failed at its bound, so every session of the replica
/// lapsed together). A request that must claim the locked session gives up after the lock
/// wait, as unavailable (503), where it held a pooled connection for as long as the lock
/// lasted (16 such requests failed all of a replica's traffic).
#[test]
fn one_locked_session_lease_does_not_hold_up_the_others() {
    use commonsnet_api::sessions::{SessionHub, SessionLimits};
    use commonsnet_api::store::{Renewal, SessionLog};
    let Some(pg) = PgServer::start() else {
        return;
    };
    let url = pg.database();
    let (_runtime, [a]) = stores_at(&url);
    let hub = SessionHub::new(a.clone(), SessionLimits::default());
    let raw = json!({"resources": [{"id": "van", "kind": "water", "capacity": {"l": 10}}],
        "needs": [{"id": "a0", "kind": "water", "demand": {"l": 4}}]});
    let scenario = commonsnet_engine::scenario_from_value(&raw).unwrap();
    let ids: Vec<String> = ["s1", "s2", "s3"].map(String::from).to_vec();
    for id in &ids {
        hub.create(id, "t", &scenario, &raw).unwrap();
    }
    let mut locker = hold_lock(&pg, &url, "session_owners WHERE session = 's2'", 6);
    let started = Instant::now();
    let renewal = a.renew(&ids).unwrap();
    let took = started.elapsed();
    assert_eq!(
        renewal,
        Renewal {
            lost: vec![],
            busy: vec!["s2".into()]
        }
    );
    assert!(took < IN_PROCESS_LEASE / 3, "the renewal took {took:?}");
    let started = Instant::now();
    let e = a.claim("s2", "t").unwrap_err();
    let took = started.elapsed();
    assert!(e.is_unavailable(), "{e}");
    assert!(e.to_string().contains("lock timeout (55P03)"), "{e}");
    assert!(took < Duration::from_secs(5), "the claim took {took:?}");
    // The other sessions are claimed as usual meanwhile.
    assert!(a.claim("s1", "t").is_ok());
    locker.wait().unwrap();
}

/// The queue's bound holds across replicas: concurrent submits on two replicas accept no more
/// than `--max-queued-jobs` waiting jobs (each replica counted, then inserted, in separate
/// transactions, so several saw room for the last slot).
#[test]
fn concurrent_submits_on_replicas_keep_the_queue_bound() {
    let Some((pg, url, replicas)) = replicas_on_postgres_with::<2>(&["--max-queued-jobs", "3"])
    else {
        return;
    };
    // Both replicas' only workers busy on a long job's runs (the oldest job first): what is
    // submitted next stays queued.
    let long = submit_long_job(&replicas[0]);
    let end = Instant::now() + Duration::from_secs(60);
    while pg.sql(
        &url,
        &format!("SELECT COUNT(DISTINCT replica) FROM run_leases WHERE job = '{long}' AND replica IS NOT NULL"),
    ) != "2"
    {
        assert!(Instant::now() < end, "the replicas never both ran the long job");
        std::thread::sleep(Duration::from_millis(20));
    }
    let small = json!({"generator": {"name": "urban", "count": 1}, "policies": ["greedy"],
        "seed": 3});
    let barrier = std::sync::Barrier::new(16);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|k| {
                let (replicas, small, barrier) = (&replicas, &small, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    post_json(&replicas[k % 2], "/v1/jobs", small, None).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert!(
        statuses.iter().all(|s| matches!(s, 202 | 429)),
        "{statuses:?}"
    );
    assert_eq!(accepted, 3, "{statuses:?}");
    assert_eq!(
        pg.sql(&url, "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"),
        "3"
    );
    let r = call(
        "DELETE",
        &replicas[1].url(&format!("/v1/jobs/{long}")),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
}

/// Job and run times are written on the database's clock (as leases are), so the times of
/// replicas with skewed clocks line up: a job's creation, start and end, and each run's start
/// and finish within them. (Written from each replica's clock before; on one machine the
/// clocks agree, so this checks the order and units the database's clock gives.)
#[test]
fn job_and_run_times_are_on_the_database_clock() {
    let Some((pg, url, [a])) = replicas_on_postgres() else {
        return;
    };
    let job = json!({"generator": {"name": "urban", "count": 1}, "policies": ["greedy", "coverage"],
        "replicates": 2, "seed": 3});
    let r = post_json(&a, "/v1/jobs", &job, None);
    r.assert_status(202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let fin = wait_job(&a, &id, None, 120, done);
    let ms = |k: &str| fin[k].as_i64().unwrap();
    let db_now: i64 = pg
        .sql(
            &url,
            "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint",
        )
        .parse()
        .unwrap();
    assert!(ms("created_ms") <= ms("started_ms"), "{fin}");
    assert!(ms("started_ms") <= ms("finished_ms"), "{fin}");
    assert!(ms("finished_ms") <= db_now, "{fin}");
    assert_eq!(ms("elapsed_ms"), ms("finished_ms") - ms("started_ms"));
    let outside = pg.sql(
        &url,
        &format!(
            "SELECT COUNT(*) FROM runs r JOIN jobs j ON j.id = r.job WHERE r.job = '{id}'
               AND NOT (r.started_us <= r.finished_us
                        AND r.started_us >= j.started_ms * 1000 - 1000
                        AND r.finished_us <= j.finished_ms * 1000 + 1000)"
        ),
    );
    assert_eq!(outside, "0", "runs outside their job's times");
}

/// An `--advertise` other replicas could not connect to is refused at start (each was taken
/// as given, and every request forwarded to that replica's sessions was a 503 "retry"): no
/// database is reached for these.
#[test]
fn an_advertised_address_other_replicas_cannot_reach_is_refused() {
    let store = "postgres://nobody@127.0.0.1:1/none";
    for addr in [
        "bad addr:1",
        "127.0.0.1:8084/x",
        "0.0.0.0:8084",
        "[::]:8084",
        "http://host:8084",
        "127.0.0.1:0",
        "127.0.0.1",
    ] {
        let err = refused_start(&["--store", store, "--advertise", addr]);
        assert!(
            err.contains(&format!("--advertise {addr}:")),
            "{addr}: {err}"
        );
    }
}

/// One live replica per advertised address: a second one at the address of a replica that
/// beats is refused (two took each other's sessions, and a withdrawn need was proposed
/// again); a replica restarted at its killed predecessor's address starts once the dead one's
/// beat runs out. A database whose schema is newer than the binary is refused too.
#[test]
fn one_live_replica_per_advertised_address_and_no_binary_older_than_the_schema() {
    let Some((pg, url, [mut a])) = replicas_on_postgres() else {
        return;
    };
    let addr = a.base.trim_start_matches("http://").to_string();
    let lease = ["--store", url.as_str(), "--lease-s", "1"];
    let mut args = lease.to_vec();
    args.extend(["--advertise", addr.as_str()]);
    let err = refused_start(&args);
    assert!(err.contains("is alive at this address"), "{err}");
    assert!(a.alive());
    // Killed, then restarted at once on the same address: it starts.
    a.kill();
    let mut extra = vec!["--job-threads", "1"];
    extra.extend(args.iter().copied());
    let b = Server::in_temp_dir(&extra);
    assert_eq!(get(&b, "/healthz", None).status, 200);
    drop(b);
    // A schema from a newer binary.
    pg.sql(&url, "INSERT INTO commonsnet_migrations VALUES (99, 0)");
    let err = refused_start(&lease);
    assert!(err.contains("newer than this binary"), "{err}");
}

/// A frozen owner whose session a third replica took over: a request already forwarded to it
/// is routed again to the new owner within a lease or so, and a stream forwarded there ends,
/// so that its client reconnects (with `Last-Event-ID`, to any replica). The request waited
/// until the owner woke (the 120 s forward timeout), and the stream stayed open and silent,
/// missing every change the new owner made.
#[test]
fn requests_and_streams_forwarded_to_a_frozen_owner_follow_its_session() {
    use std::io::Read;
    let Some((_pg, _url, [a, b, c])) = replicas_on_postgres() else {
        return;
    };
    let id = session_with_teams(&a);
    events(&b, &id, json!([incident("i0", 45.01, 2, 1)])).assert_status(200);
    // A stream through B, forwarded to A.
    let stream = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(60))
        .build()
        .get(&b.url(&format!("/v1/sessions/{id}/stream")))
        .call()
        .unwrap();
    signal(&a, "-STOP");
    // Woken after 30 s whatever happens, so that a failure does not wait 120 s.
    let wake = a.child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = std::process::Command::new("kill")
            .args(["-CONT", wake.as_str()])
            .status();
    });
    let start = Instant::now();
    let read = std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stream.into_reader().read_to_end(&mut sink);
        start.elapsed()
    });
    // Two requests at once, through B and through C: one takes the session over once A's
    // lease runs out, the other is then routed to it.
    let url = |s: &Server| s.url(&format!("/v1/sessions/{id}/events"));
    let posts: Vec<_> = [(url(&b), "i1", 45.02), (url(&c), "i2", 45.03)]
        .into_iter()
        .map(|(u, need, lat)| {
            let body = json!({"events": [incident(need, lat, 3, 2)]}).to_string();
            std::thread::spawn(move || {
                let h = [("content-type", "application/json")];
                let r = call("POST", &u, &h, Some(body.as_bytes()));
                (r.status, start.elapsed())
            })
        })
        .collect();
    let answers: Vec<(u16, Duration)> = posts.into_iter().map(|p| p.join().unwrap()).collect();
    let streamed = read.join().unwrap();
    signal(&a, "-CONT");
    for (status, took) in &answers {
        assert_eq!(*status, 200, "{answers:?}");
        assert!(*took < Duration::from_secs(15), "{answers:?}");
    }
    assert!(
        streamed < Duration::from_secs(15),
        "the stream lasted {streamed:?}"
    );
    assert_eq!(plan_of(&b, &id), plan_of(&c, &id));
}
