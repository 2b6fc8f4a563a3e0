//! Load test of service replicas (issue 24): 3 `commonsnet serve --store postgres://...`
//! replicas on one PostgreSQL server of the bench's own, against one replica on its SQLite
//! file, each under the same 32 clients for 30 s.
//!
//! `cargo bench --bench replicas` (bounded: LOAD_SECS, default 30; LOAD_CLIENTS, default 32;
//! REPLICAS, default 3). Needs PostgreSQL's server binaries (Debian's `postgresql`).
//!
//! Each client is a coordinator with a session of its own (a crisis of 2 team kinds): it
//! sends one event per request, a new incident most of the time and the withdrawal of an
//! earlier one every fourth request, and every tenth request submits a small job (one urban
//! scenario, greedy) instead. Requests go to the replicas in turn, as a load balancer would
//! send them, so most session requests reach a replica that forwards them to the session's
//! owner. Prints, per setup: requests per second, p50/p99 latency of events and of job
//! submissions, errors (anything but 200/202) and the jobs left unfinished at the end.

// The tests' PostgreSQL server and `commonsnet serve` process (and `process.rs`, through which
// `pg.rs` runs PostgreSQL's tools).
#[allow(dead_code)]
#[path = "../tests/common/pg.rs"]
mod pg;
#[allow(dead_code)]
#[path = "../tests/common/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "../tests/common/server.rs"]
mod server;

#[path = "shared/flags.rs"]
mod flags;

use flags::env_or;
use serde_json::{json, Value};
use server::Server;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A replica on the data folder `data`, on its SQLite file or on the PostgreSQL database
/// `store`, with a job queue long enough that the load is never refused.
fn start(data: &std::path::Path, store: Option<&str>) -> Server {
    let mut args = vec!["--max-queued-jobs", "100000"];
    if let Some(url) = store {
        args.extend(["--store", url]);
    }
    Server::start(data, &args)
}

fn scenario(client: usize) -> Value {
    let teams: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("team{i}"), "kind": if i % 2 == 0 { "medical" } else { "rescue" },
                "lat": 45.0 + (i as f64) * 0.01, "lon": 7.0 + (client as f64) * 0.001,
                "capacity": {"team_h": 8}})
        })
        .collect();
    json!({"name": format!("coordinator-{client}"), "resources": teams, "needs": [],
        "policy": {"max_distance_km": 30, "speed_kmh": 40}})
}

struct Tally {
    events_ms: Vec<f64>,
    jobs_ms: Vec<f64>,
    errors: usize,
    jobs: Vec<(usize, String)>,
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    match agent
        .post(url)
        .set("Content-Type", "application/json")
        .send_string(&body.to_string())
    {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// One run of the load on `replicas`; prints its line.
fn load(label: &str, replicas: &[Server], clients: usize, secs: u64) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .max_idle_connections_per_host(clients)
        .build();
    let sessions: Vec<String> = (0..clients)
        .map(|c| {
            let r = &replicas[c % replicas.len()];
            let (s, v) = post(
                &agent,
                &format!("{}/v1/sessions", r.base),
                &json!({"scenario": scenario(c)}),
            );
            assert_eq!(s, 201, "{v}");
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (agent, stop, sid) = (agent.clone(), stop.clone(), sessions[c].clone());
            let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
            std::thread::spawn(move || {
                let mut t = Tally {
                    events_ms: Vec::new(),
                    jobs_ms: Vec::new(),
                    errors: 0,
                    jobs: Vec::new(),
                };
                let mut k = 0usize;
                // Needs added and not withdrawn yet; the newest is withdrawn next.
                let mut added: Vec<String> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let base = &bases[(c + k) % bases.len()];
                    let t0 = Instant::now();
                    if k % 10 == 9 {
                        let job = json!({"generator": {"name": "urban", "count": 1},
                            "policies": ["greedy"], "seed": k});
                        let (s, v) = post(&agent, &format!("{base}/v1/jobs"), &job);
                        t.jobs_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                        if s == 202 {
                            t.jobs.push((c, v["id"].as_str().unwrap_or("").to_string()));
                        } else {
                            t.errors += 1;
                        }
                    } else {
                        let event = if let (true, Some(need)) = (k % 4 == 3, added.pop()) {
                            json!({"type": "need_withdrawn", "id": need})
                        } else {
                            added.push(format!("n{k}"));
                            json!({"type": "need_added", "event_id": format!("e{k}"), "need": {
                                "id": format!("n{k}"), "kind": if k.is_multiple_of(3) { "rescue" } else { "medical" },
                                "lat": 45.0 + (k % 50) as f64 * 0.004, "lon": 7.01,
                                "demand": {"team_h": 1 + k % 3}, "priority": 1 + k % 5}})
                        };
                        let (s, _) = post(
                            &agent,
                            &format!("{base}/v1/sessions/{sid}/events"),
                            &json!({"events": [event]}),
                        );
                        t.events_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                        if s != 200 {
                            t.errors += 1;
                        }
                    }
                    k += 1;
                }
                t
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let tallies: Vec<Tally> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let mut events: Vec<f64> = tallies.iter().flat_map(|t| t.events_ms.clone()).collect();
    let mut jobs: Vec<f64> = tallies.iter().flat_map(|t| t.jobs_ms.clone()).collect();
    let errors: usize = tallies.iter().map(|t| t.errors).sum();
    let requests = events.len() + jobs.len();
    // Every accepted job finishes (within a minute of the load's end).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut unfinished = 0;
    for (c, id) in tallies.iter().flat_map(|t| t.jobs.iter()) {
        let base = &replicas[c % replicas.len()].base;
        loop {
            let status = agent
                .get(&format!("{base}/v1/jobs/{id}"))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .map(|v| v["status"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            if status == "done" {
                break;
            }
            if Instant::now() > deadline {
                unfinished += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    println!(
        "{label}: {requests} requests in {elapsed:.1} s = {:.0}/s; events {} p50 {:.1} ms p99 {:.1} ms; jobs {} p50 {:.1} ms p99 {:.1} ms; errors {errors}; jobs unfinished after 60 s {unfinished}",
        requests as f64 / elapsed,
        events.len(),
        quantile(&mut events, 0.5),
        quantile(&mut events, 0.99),
        jobs.len(),
        quantile(&mut jobs, 0.5),
        quantile(&mut jobs, 0.99),
    );
}

fn main() {
    // The tests' `Server` runs on PostgreSQL when this is set; the bench names its stores
    // itself (a SQLite line must measure SQLite).
    std::env::remove_var(server::TEST_PG);
    let secs: u64 = env_or("LOAD_SECS", 30);
    let clients: usize = env_or("LOAD_CLIENTS", 32);
    let n: usize = env_or("REPLICAS", 3);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# {clients} clients, {secs} s each, {cores} cores shared by clients, replicas and PostgreSQL");
    {
        let dir = tempfile::tempdir().unwrap();
        let one = [start(dir.path(), None)];
        load("1 replica, SQLite", &one, clients, secs);
    }
    let Some(server) = pg::PgServer::start() else {
        println!("PostgreSQL is not installed: the replicas were not measured");
        return;
    };
    let url = server.database();
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Server> = dirs.iter().map(|d| start(d.path(), Some(&url))).collect();
    load(
        &format!("{n} replicas, PostgreSQL"),
        &replicas,
        clients,
        secs,
    );
    drop(replicas);
    let one = [start(dirs[0].path(), Some(&url))];
    load("1 replica, PostgreSQL", &one, clients, secs);
}
