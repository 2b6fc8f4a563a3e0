//! Live session latency: 5,000 open incidents and 1,000 teams (three kinds, 20 districts whose
//! teams serve their own district), then a stream of 10,000 events. Reports the median and p99
//! event-to-plan latency of the incremental re-plan (`Session::apply`: validate, apply,
//! re-plan the touched components, diff) and, on a sample of the same states, a from-scratch
//! solve of the whole residual scenario.
//!
//! `cargo bench --bench session` (SESSION_EVENTS overrides 10,000). Engine only: HTTP and the
//! SQLite log add their own time (see the load bench for the HTTP path).
//!
//! `SESSION_SHAPE=city` measures instead ONE component, the coordinator's crisis of issue 18:
//! 5,000 needs x 1,000 teams of one kind whose radius covers the city (5M links), a stream
//! cycling need added, updated, withdrawn, dispatched and resource updated (SESSION_EVENTS,
//! default 100), cold or with `SESSION_WARM=1` warm; it prints each kind's median and p99
//! and, warm, the shortest-path searches, settled nodes and arcs read per event, then the
//! eight slowest events with the same counts (whether the tail is the searches' work).

use commonsnet_engine::batch::SplitMix64;
use commonsnet_engine::session::{parse_events, Session};
use commonsnet_engine::{scenario_from_value, solve_with, SolveOptions};
use serde_json::{json, Value};
use std::time::Instant;

const KINDS: [&str; 3] = ["medical", "rescue", "supply"];
const DISTRICTS: u64 = 20;

fn place(rng: &mut SplitMix64, district: u64) -> (f64, f64) {
    let (row, col) = ((district / 5) as f64, (district % 5) as f64);
    (
        45.0 + row * 0.05 + rng.range(0.0, 0.05),
        7.6 + col * 0.07 + rng.range(0.0, 0.07),
    )
}

fn incident(rng: &mut SplitMix64, id: &str) -> Value {
    let d = rng.int(0, DISTRICTS - 1);
    let (lat, lon) = place(rng, d);
    json!({"id": id, "community": format!("d{d}"), "kind": KINDS[rng.int(0, 2) as usize],
        "lat": lat, "lon": lon, "demand": {"team_h": rng.int(1, 4)}, "priority": rng.int(1, 10)})
}

fn team(rng: &mut SplitMix64, id: &str, d: u64) -> Value {
    let (lat, lon) = place(rng, d);
    json!({"id": id, "community": format!("d{d}"), "kind": KINDS[rng.int(0, 2) as usize],
        "lat": lat, "lon": lon, "capacity": {"team_h": rng.int(6, 12)}, "cost": rng.int(0, 5)})
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if std::env::var("SESSION_SHAPE").as_deref() == Ok("city") {
        return city();
    }
    let n_events: usize = std::env::var("SESSION_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut rng = SplitMix64::new(2026);
    let teams: Vec<Value> = (0..1000)
        .map(|i| team(&mut rng, &format!("t{i}"), i % DISTRICTS))
        .collect();
    let needs: Vec<Value> = (0..5000)
        .map(|i| incident(&mut rng, &format!("n{i}")))
        .collect();
    let init = scenario_from_value(&json!({"name": "city", "resources": teams, "needs": needs,
        "policy": {"max_distance_km": 8, "speed_kmh": 40, "cost_per_km": 1.0,
                   "cross_community": false}}))
    .expect("valid scenario");
    let t = Instant::now();
    let mut s = Session::new(&init).expect("session");
    println!(
        "initial plan: 5000 needs x 1000 teams in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut open: Vec<String> = (0..5000).map(|i| format!("n{i}")).collect();
    let mut out_teams: Vec<String> = Vec::new();
    let mut next = 5000;
    let mut lat = Vec::with_capacity(n_events);
    let mut scratch = Vec::new();
    let mut kinds_seen = [0usize; 6];
    for step in 0..n_events {
        let ev = match rng.int(0, 19) {
            0..=6 => {
                next += 1;
                open.push(format!("n{next}"));
                kinds_seen[0] += 1;
                json!({"type": "need_added", "need": incident(&mut rng, &format!("n{next}"))})
            }
            7..=9 if !open.is_empty() => {
                let k = rng.int(0, open.len() as u64 - 1) as usize;
                kinds_seen[1] += 1;
                json!({"type": "need_withdrawn", "id": open.swap_remove(k)})
            }
            10..=13 if !s.plan().is_empty() => {
                let k = rng.int(0, s.plan().len() as u64 - 1) as usize;
                let ((r, n), _) = s.plan().iter().nth(k).unwrap();
                kinds_seen[2] += 1;
                out_teams.push(r.clone());
                json!({"type": "dispatched", "need": n, "resource": r})
            }
            14 | 15 if !out_teams.is_empty() => {
                let k = rng.int(0, out_teams.len() as u64 - 1) as usize;
                let r = out_teams.swap_remove(k);
                out_teams.retain(|x| *x != r);
                kinds_seen[3] += 1;
                json!({"type": "resource_returned", "id": r})
            }
            16 | 17 => {
                let i = rng.int(0, 999);
                kinds_seen[4] += 1;
                json!({"type": "resource_updated",
                    "resource": team(&mut rng, &format!("t{i}"), i % DISTRICTS)})
            }
            _ if !open.is_empty() => {
                let id = open[rng.int(0, open.len() as u64 - 1) as usize].clone();
                kinds_seen[5] += 1;
                json!({"type": "need_updated", "need": incident(&mut rng, &id)})
            }
            _ => continue,
        };
        let events = parse_events(&json!([ev])).expect("event");
        let t = Instant::now();
        let r = s.apply(&events);
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        if let Err(e) = r {
            panic!("step {step}: {}", e.refusal);
        }
        if step % 100 == 0 {
            let residual = s.residual_scenario();
            let opts = SolveOptions {
                threads: Some(1),
                ..SolveOptions::default()
            };
            let t = Instant::now();
            let _ = solve_with(&residual, &opts);
            scratch.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let (p50, p99, max) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
    let s50 = pct(&mut scratch, 0.5);
    println!(
        "events: {} (added {}, withdrawn {}, dispatched {}, returned {}, team updated {}, need updated {})",
        lat.len(),
        kinds_seen[0],
        kinds_seen[1],
        kinds_seen[2],
        kinds_seen[3],
        kinds_seen[4],
        kinds_seen[5]
    );
    println!(
        "incremental event-to-plan: median {p50:.3} ms, p99 {p99:.3} ms, max {max:.1} ms; from-scratch solve (median of {} samples): {s50:.1} ms; ratio {:.0}x",
        scratch.len(),
        s50 / p50
    );
}

fn city_need(rng: &mut SplitMix64, id: &str) -> Value {
    json!({"id": id, "community": "city", "kind": "rescue",
        "lat": 45.0 + rng.range(0.0, 0.15), "lon": 7.6 + rng.range(0.0, 0.2),
        "demand": {"team_h": rng.int(1, 6)}, "priority": rng.int(1, 5)})
}

fn city_team(rng: &mut SplitMix64, id: &str) -> Value {
    json!({"id": id, "community": "city", "kind": "rescue",
        "lat": 45.0 + rng.range(0.0, 0.15), "lon": 7.6 + rng.range(0.0, 0.2),
        "capacity": {"team_h": rng.int(4, 12)}})
}

/// One component of 5,000 needs x 1,000 teams (see the module documentation).
fn city() {
    const KIND: [&str; 5] = [
        "need_added",
        "need_updated",
        "need_withdrawn",
        "dispatched",
        "resource_updated",
    ];
    let n_events: usize = std::env::var("SESSION_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let warm = std::env::var("SESSION_WARM").as_deref() == Ok("1");
    let mut rng = SplitMix64::new(18);
    let teams: Vec<Value> = (0..1000)
        .map(|i| city_team(&mut rng, &format!("t{i}")))
        .collect();
    let needs: Vec<Value> = (0..5000)
        .map(|i| city_need(&mut rng, &format!("n{i}")))
        .collect();
    let init = scenario_from_value(
        &json!({"name": "city", "resources": teams.clone(), "needs": needs,
        "policy": {"max_distance_km": 100, "speed_kmh": 40, "cost_per_km": 1.0}}),
    )
    .expect("valid scenario");
    let t = Instant::now();
    let mut s = Session::new_warm(&init, warm).expect("session");
    println!(
        "city: 5000 needs x 1000 teams, one component, {}: created in {:.1} s",
        if warm { "warm" } else { "cold" },
        t.elapsed().as_secs_f64()
    );
    let mut open: Vec<String> = (0..5000).map(|i| format!("n{i}")).collect();
    let mut next = 5000;
    // Every event: (ms, kind, searches, settled, arcs read).
    let mut events_seen: Vec<(f64, usize, usize, usize, usize)> = Vec::new();
    for step in 0..n_events {
        let k = step % 5;
        let ev = match k {
            0 => {
                next += 1;
                open.push(format!("n{next}"));
                json!({"type": "need_added", "need": city_need(&mut rng, &format!("n{next}"))})
            }
            1 => {
                let id = open[rng.int(0, open.len() as u64 - 1) as usize].clone();
                json!({"type": "need_updated", "need": city_need(&mut rng, &id)})
            }
            2 => {
                let i = rng.int(0, open.len() as u64 - 1) as usize;
                json!({"type": "need_withdrawn", "id": open.swap_remove(i)})
            }
            3 => {
                let open_set: std::collections::HashSet<&String> = open.iter().collect();
                let live: Vec<&(String, String)> = s
                    .plan()
                    .keys()
                    .filter(|(_, n)| open_set.contains(n))
                    .collect();
                let (r, n) = live[rng.int(0, live.len() as u64 - 1) as usize].clone();
                open.retain(|x| *x != n);
                json!({"type": "dispatched", "need": n, "resource": r})
            }
            _ => {
                // The same team with another capacity (it stays where it is).
                let i = rng.int(0, 999) as usize;
                let mut t = teams[i].clone();
                t["capacity"] = json!({"team_h": rng.int(4, 12)});
                json!({"type": "resource_updated", "resource": t})
            }
        };
        let events = parse_events(&json!([ev])).expect("event");
        let t = Instant::now();
        let r = s.apply(&events);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if let Err(e) = r {
            panic!("step {step}: {}", e.refusal);
        }
        let w = s.warm_work().unwrap_or_default();
        events_seen.push((ms, k, w.paths, w.settled, w.scanned));
    }
    println!(
        "| event | n | median (ms) | p99 (ms) | searches / event | settled / event | arcs read / event |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (k, kind) in KIND.iter().enumerate() {
        let of_kind: Vec<_> = events_seen.iter().filter(|e| e.1 == k).collect();
        let n = of_kind.len().max(1) as f64;
        let mut lat: Vec<f64> = of_kind.iter().map(|e| e.0).collect();
        let mean = |f: fn(&&(f64, usize, usize, usize, usize)) -> usize| {
            of_kind.iter().map(f).sum::<usize>() as f64 / n
        };
        println!(
            "| {kind} | {} | {:.2} | {:.2} | {:.1} | {:.0} | {:.0} |",
            lat.len(),
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            mean(|e| e.2),
            mean(|e| e.3),
            mean(|e| e.4)
        );
    }
    let mut all: Vec<f64> = events_seen.iter().map(|e| e.0).collect();
    println!(
        "| all | {} | {:.2} | {:.2} | | | |",
        all.len(),
        pct(&mut all, 0.5),
        pct(&mut all, 0.99)
    );
    // The tail: whether the slowest events are the ones that searched most.
    events_seen.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nslowest events: | ms | event | searches | settled | arcs read |");
    for &(ms, k, paths, settled, scanned) in events_seen.iter().take(8) {
        println!(
            "| {ms:.2} | {} | {paths} | {settled} | {scanned} |",
            KIND[k]
        );
    }
}
