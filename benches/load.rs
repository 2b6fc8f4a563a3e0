//! Load test of rapid matches: `commonsnet serve` (release) answering `POST /v1/solve` for
//! crisis-style scenarios of 1,000 incidents x 300 teams, from 32 concurrent clients for 30 s.
//!
//! `cargo bench --bench load` (bounded: LOAD_SECS, default 30; LOAD_CLIENTS, default 32).
//! Prints throughput, latency percentiles, error count and the server's peak resident memory.

// The tests' `commonsnet serve` process: on a free port, stopped on drop.
#[allow(dead_code)]
#[path = "../tests/common/server.rs"]
mod server;

#[path = "shared/flags.rs"]
mod flags;

use commonsnet_engine::batch::SplitMix64;
use flags::env_or;
use serde_json::{json, Value};
use server::Server;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Incidents (needs) and teams (resources) around a city: three kinds of team, one dimension
/// (team hours), 15 km radius at 40 km/h: the transportation case the flow solver answers.
fn crisis(seed: u64, needs: usize, teams: usize) -> Value {
    let mut rng = SplitMix64::new(seed);
    let kinds = ["medical", "rescue", "supply"];
    let point = |rng: &mut SplitMix64| {
        let (dx, dy) = (rng.normal() * 8.0, rng.normal() * 8.0);
        (
            45.07 + dy / 111.32,
            7.68 + dx / (111.32 * 45.07f64.to_radians().cos()),
        )
    };
    let resources: Vec<Value> = (0..teams)
        .map(|i| {
            let (lat, lon) = point(&mut rng);
            json!({"id": format!("team{i}"), "community": format!("zone{}", i % 6),
                "kind": kinds[i % 3], "lat": lat, "lon": lon,
                "capacity": {"team_h": rng.int(8, 16)}, "cost": rng.int(0, 20)})
        })
        .collect();
    let incidents: Vec<Value> = (0..needs)
        .map(|i| {
            let (lat, lon) = point(&mut rng);
            json!({"id": format!("inc{i}"), "community": format!("zone{}", i % 6),
                "kind": kinds[rng.int(0, 2) as usize], "lat": lat, "lon": lon,
                "demand": {"team_h": rng.int(1, 4)}, "priority": rng.int(1, 10)})
        })
        .collect();
    json!({"name": format!("crisis-{seed}"), "resources": resources, "needs": incidents,
        "policy": {"max_distance_km": 15, "speed_kmh": 40, "cost_per_km": 1.0}})
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    // The tests' `Server` runs on PostgreSQL when this is set; the bench names its stores
    // itself (a SQLite line must measure SQLite).
    std::env::remove_var(server::TEST_PG);
    let secs: u64 = env_or("LOAD_SECS", 30);
    let clients: usize = env_or("LOAD_CLIENTS", 32);
    let mut server = Server::in_temp_dir(&[]);
    let url = server.url("/v1/solve");
    let bodies: Arc<Vec<String>> =
        Arc::new((0..16).map(|s| crisis(s, 1000, 300).to_string()).collect());

    // One warm-up request, checked.
    let first: Value = ureq::post(&url)
        .set("Content-Type", "application/json")
        .send_string(&bodies[0])
        .expect("warm-up solve")
        .into_json()
        .expect("JSON");
    let summary = &first["summary"];
    println!(
        "scenario: 1000 incidents x 300 teams; status {}, solver {}, coverage {:.3}, solve_ms {:.2}",
        summary["status"], summary["solver"], summary["coverage_ratio"], summary["solve_ms"]
    );

    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (url, bodies, stop) = (url.clone(), bodies.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(60))
                    .build();
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let r = agent
                        .post(&url)
                        .set("Content-Type", "application/json")
                        .send_string(&bodies[i % bodies.len()]);
                    match r {
                        Ok(resp) => {
                            let mut sink = Vec::new();
                            let _ = resp.into_reader().read_to_end(&mut sink);
                            lat.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        Err(_) => errors += 1,
                    }
                    i += clients;
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().expect("client thread");
        lat.extend(l);
        errors += e;
    }
    let wall = start.elapsed().as_secs_f64();
    let rss = peak_rss_kib(server.child.id());
    server.kill();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "load: {clients} clients, {wall:.1} s: {} requests, {:.1} req/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, errors {errors}, server peak RSS {} MiB",
        lat.len(),
        lat.len() as f64 / wall,
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0),
        rss.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
    );
}
