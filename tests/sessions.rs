//! Live sessions in the engine: random event sequences re-planned incrementally must equal a
//! from-scratch solve of the same state; replaying the log rebuilds the same plan; event ids
//! make retries idempotent.

use crate::sessions_timed::naive_consumable_conflicts;
use commonsnet_engine::batch::SplitMix64;
use commonsnet_engine::session::{
    parse_events, Applied, BatchOutcome, BatchScan, BookingConflict, Event, LogReplay,
    LoggedEventId, Refusal, Session,
};
use commonsnet_engine::{scenario_from_value, solve_with, Report, Scenario, SolveOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn point(rng: &mut SplitMix64) -> (f64, f64) {
    (59.3 + rng.range(-0.05, 0.05), 18.0 + rng.range(-0.1, 0.1))
}

fn need(rng: &mut SplitMix64, id: &str, dims: &[&str]) -> Value {
    let (lat, lon) = point(rng);
    let kind = ["water", "medical"][rng.int(0, 1) as usize];
    let mut demand = serde_json::Map::new();
    demand.insert(dims[0].into(), json!(rng.int(1, 5)));
    if dims.len() > 1 && rng.chance(0.5) {
        demand.insert(dims[1].into(), json!(rng.int(1, 3)));
    }
    json!({"id": id, "community": format!("c{}", rng.int(0, 2)), "kind": kind,
        "lat": lat, "lon": lon, "demand": demand, "priority": rng.int(1, 5)})
}

fn resource(rng: &mut SplitMix64, id: &str, dims: &[&str]) -> Value {
    let (lat, lon) = point(rng);
    let kind = ["water", "medical"][rng.int(0, 1) as usize];
    let cap: serde_json::Map<String, Value> = dims
        .iter()
        .map(|d| (d.to_string(), json!(rng.int(2, 9))))
        .collect();
    json!({"id": id, "community": format!("c{}", rng.int(0, 2)), "kind": kind,
        "lat": lat, "lon": lon, "capacity": cap, "cost": rng.int(0, 4)})
}

fn scratch_plan(s: &Session) -> BTreeMap<(String, String), f64> {
    let opts = SolveOptions {
        threads: Some(1),
        ..SolveOptions::default()
    };
    let r = Report::new(&solve_with(&s.residual_scenario(), &opts));
    r.allocations
        .iter()
        .map(|a| ((a.resource.clone(), a.need.clone()), a.share))
        .collect()
}

fn assert_same_plan(
    a: &BTreeMap<(String, String), f64>,
    b: &BTreeMap<(String, String), f64>,
    ctx: &str,
) {
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (
            a.get(k).copied().unwrap_or(0.0),
            b.get(k).copied().unwrap_or(0.0),
        );
        assert!(
            (x - y).abs() < 1e-9,
            "{ctx}: {k:?} incremental {x} vs scratch {y}"
        );
    }
}

/// Value and cost of a session's plan, after checking it is feasible: no need served beyond
/// its open part, no resource beyond what dispatches left of it.
fn plan_value(s: &Session, ctx: &str) -> (f64, f64) {
    let scenario = s.residual_scenario();
    let mut served: BTreeMap<&str, f64> = BTreeMap::new();
    let mut used: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    for ((r, n), share) in s.plan() {
        let need = scenario
            .needs()
            .iter()
            .find(|x| x.id == *n)
            .expect("planned need is open");
        *served.entry(n).or_default() += share;
        for (d, q) in &need.demand {
            *used.entry((r.as_str(), d.as_str())).or_default() += share * q;
        }
    }
    for (n, x) in served {
        assert!(x <= 1.0 + 1e-9, "{ctx}: need {n} planned {x} > 1");
    }
    for ((r, d), x) in used {
        let res = scenario.resources().iter().find(|y| y.id == r).unwrap();
        let cap = res.capacity.get(d).copied().unwrap_or(0.0);
        assert!(
            x <= cap + 1e-6 * cap.max(1.0),
            "{ctx}: {r} {d} planned {x} > {cap}"
        );
    }
    let summary = s.report().summary;
    (summary.coverage_value, summary.cost)
}

fn assert_close(a: (f64, f64), b: (f64, f64), needs: usize, ctx: &str) {
    assert!(
        (a.0 - b.0).abs() <= 1e-6 * a.0.abs().max(1.0),
        "{ctx}: V {} vs {}",
        a.0,
        b.0
    );
    // Costs built from distances are rounded to 1e-4 per full service on the exact routes.
    assert!(
        (a.1 - b.1).abs() <= 1e-4 * needs as f64 + 1e-6 * a.1.abs().max(1.0),
        "{ctx}: C {} vs {}",
        a.1,
        b.1
    );
}

/// The session's plan is an optimum of its residual scenario. A session that re-plans cold
/// has the from-scratch plan itself (same solvers, same order); a warm one (`session/warm.rs`)
/// may keep another optimum: a feasible plan of the same value and cost.
fn assert_optimal_plan(s: &Session, ctx: &str) {
    if !s.is_warm() {
        assert_same_plan(s.plan(), &scratch_plan(s), ctx);
        return;
    }
    let scenario = s.residual_scenario();
    let scratch = Report::new(&solve_with(&scenario, &SolveOptions::default())).summary;
    assert_close(
        plan_value(s, ctx),
        (scratch.coverage_value, scratch.cost),
        scenario.needs().len(),
        ctx,
    );
}

/// The session's plan has the smallest group ratio of a from-scratch solve.
fn assert_smallest_ratio(s: &Session, ctx: &str) {
    let scratch = Report::new(&solve_with(
        &s.residual_scenario(),
        &SolveOptions::default(),
    ));
    let (a, b) = (
        s.report().summary.min_group_ratio,
        scratch.summary.min_group_ratio,
    );
    assert!((a - b).abs() <= 1e-6, "{ctx}: smallest ratio {a} vs {b}");
}

/// Two sessions in the same state hold plans of the same value and cost (the same plan when
/// both re-plan cold).
fn assert_same_optimum(a: &Session, b: &Session, ctx: &str) {
    if !a.is_warm() && !b.is_warm() {
        assert_same_plan(a.plan(), b.plan(), ctx);
        return;
    }
    let needs = a.residual_scenario().needs().len();
    assert_close(plan_value(a, ctx), plan_value(b, ctx), needs, ctx);
}

/// A random next batch of events for the session's current state.
fn random_batch(rng: &mut SplitMix64, s: &Session, next: &mut usize, dims: &[&str]) -> Value {
    let mut events = Vec::new();
    let scenario = s.residual_scenario();
    let plan: Vec<(String, String)> = s.plan().keys().cloned().collect();
    let active: Vec<String> = s
        .dispatches()
        .iter()
        .filter(|d| d.active)
        .map(|d| d.resource.clone())
        .collect();
    let mut used_needs = std::collections::HashSet::new();
    for _ in 0..rng.int(1, 4) {
        *next += 1;
        let id = format!("x{next}");
        let ev = match rng.int(0, 9) {
            0..=2 => json!({"type": "need_added", "need": need(rng, &id, dims)}),
            3 if !scenario.needs().is_empty() => {
                let n = &scenario.needs()[rng.int(0, scenario.needs().len() as u64 - 1) as usize];
                if !used_needs.insert(n.id.clone()) {
                    continue;
                }
                json!({"type": "need_withdrawn", "id": n.id})
            }
            4 if !scenario.needs().is_empty() => {
                let n = &scenario.needs()[rng.int(0, scenario.needs().len() as u64 - 1) as usize];
                if !used_needs.insert(n.id.clone()) {
                    continue;
                }
                json!({"type": "need_updated", "need": need(rng, &n.id, dims)})
            }
            5 => json!({"type": "resource_added", "resource": resource(rng, &id, dims)}),
            6 if !scenario.resources().is_empty() => {
                let r = &scenario.resources()
                    [rng.int(0, scenario.resources().len() as u64 - 1) as usize];
                json!({"type": "resource_updated", "resource": resource(rng, &r.id, dims)})
            }
            7 | 8 if !plan.is_empty() => {
                let (r, n) = &plan[rng.int(0, plan.len() as u64 - 1) as usize];
                if !used_needs.insert(n.clone()) {
                    continue;
                }
                json!({"type": "dispatched", "need": n, "resource": r})
            }
            9 if !active.is_empty() => {
                let r = &active[rng.int(0, active.len() as u64 - 1) as usize];
                json!({"type": "resource_returned", "id": r})
            }
            _ => continue,
        };
        events.push(ev);
        // Keep one event per entity kind in a batch simple: stop after a state change that
        // later events of the same batch could conflict with.
        if rng.chance(0.3) {
            break;
        }
    }
    Value::Array(events)
}

fn initial(rng: &mut SplitMix64, dims: &[&str], fairness: bool, cross: bool) -> Value {
    let needs: Vec<Value> = (0..12).map(|i| need(rng, &format!("n{i}"), dims)).collect();
    let res: Vec<Value> = (0..5)
        .map(|i| resource(rng, &format!("r{i}"), dims))
        .collect();
    let mut policy = json!({"max_distance_km": 6, "speed_kmh": 30, "cross_community": cross});
    if fairness {
        policy["fairness"] = json!("maxmin");
    }
    json!({"name": "s", "resources": res, "needs": needs, "policy": policy})
}

/// The dimensions of a random session: team hours, and fuel too when `with_fuel`.
fn team_dims(with_fuel: bool) -> &'static [&'static str] {
    if with_fuel {
        &["team_h", "fuel"]
    } else {
        &["team_h"]
    }
}

/// A session on a random [`initial`] scenario, and that scenario.
fn random_session(
    rng: &mut SplitMix64,
    dims: &[&str],
    fairness: bool,
    cross: bool,
) -> (Scenario, Session) {
    let init = scenario_from_value(&initial(rng, dims, fairness, cross)).unwrap();
    let s = Session::new(&init).unwrap();
    (init, s)
}

#[test]
fn incremental_plan_equals_from_scratch_on_random_event_sequences() {
    let mut conflicts_seen = 0;
    for seed in 0..24u64 {
        let mut rng = SplitMix64::new(seed);
        let dims = team_dims(seed % 3 == 0);
        let (init, mut s) = random_session(&mut rng, dims, seed % 8 == 5, seed % 2 == 0);
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        let mut dispatched = 0;
        for step in 0..30 {
            let batch = random_batch(&mut rng, &s, &mut next, dims);
            let events: Vec<Event> = parse_events(&batch).unwrap();
            let conflicts_before = naive_consumable_conflicts(&s, |_| false);
            match s.apply(&events) {
                Ok((out, applied)) => {
                    dispatched += out.dispatched.len();
                    log.extend(applied);
                    // A capacity lowered below what is dispatched puts the bookings out
                    // there in conflict: the batch lists the new ones, the session all.
                    let now = naive_consumable_conflicts(&s, |_| false);
                    let fresh: BTreeSet<_> = now.difference(&conflicts_before).cloned().collect();
                    assert_eq!(
                        conflict_keys(&out.conflicts),
                        fresh,
                        "seed {seed} step {step}"
                    );
                    assert_eq!(
                        conflict_keys(&s.conflicts()),
                        now,
                        "seed {seed} step {step}"
                    );
                    conflicts_seen += fresh.len();
                }
                Err(e) => {
                    assert!(
                        within_batch_conflict(&e.refusal),
                        "seed {seed} step {step}: {}",
                        e.refusal
                    );
                    continue;
                }
            }
            assert_optimal_plan(&s, &format!("seed {seed} step {step}"));
        }
        assert!(
            dispatched > 0 || log.len() < 5,
            "seed {seed}: no dispatch exercised"
        );
        // Replaying the log from the initial scenario rebuilds the same state and plan.
        let mut r = Session::new(&init).unwrap();
        for a in &log {
            r.replay(a).unwrap();
        }
        r.replan_all();
        assert_same_optimum(&s, &r, &format!("seed {seed} replay"));
        assert_eq!(s.dispatches(), r.dispatches(), "seed {seed}");
    }
    assert!(conflicts_seen > 0, "no capacity lowered below a dispatch");
}

/// A conflict whose need no plan can serve once its booking is released (a min_fill the
/// capacity left cannot meet) says so in its own words: it pointed to the what-if plan's
/// `summary.infeasibility`, which the coordinator never sees.
#[test]
fn a_conflict_no_re_plan_can_serve_says_why_in_its_own_words() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "van", "kind": "water", "capacity": {"water_l": 100}}],
        "needs": [{"id": "a", "kind": "water", "demand": {"water_l": 60}, "min_fill": 1}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let go = |s: &mut Session, v: Value| s.apply(&parse_events(&v).unwrap()).unwrap().0;
    go(
        &mut s,
        json!([{"type": "dispatched", "need": "a", "resource": "van"}]),
    );
    let out = go(
        &mut s,
        json!([{"type": "resource_updated", "resource":
            {"id": "van", "kind": "water", "capacity": {"water_l": 40}}}]),
    );
    let [c] = &out.conflicts[..] else {
        panic!("one conflict: {:?}", out.conflicts)
    };
    assert!(c.proposal.is_empty());
    let why = c.unserved_why.as_deref().unwrap();
    assert!(
        why.starts_with("with the bookings in conflict released, no plan serves it"),
        "{why}"
    );
    assert!(!why.contains("summary"), "{why}");
}

/// The keys (need, resource, start as bits) of a list of bookings in conflict.
fn conflict_keys(conflicts: &[BookingConflict]) -> BTreeSet<(String, String, u64)> {
    conflicts.iter().map(BookingConflict::key).collect()
}

/// A van's capacity lowered below what is dispatched on it (a tank found half empty): the
/// dispatch is not moved or dropped, it is listed as a conflict with what the re-plan would
/// do once released, and the van gets nothing more. Releasing it lets the re-plan take the
/// need; a log replay finds the same conflict.
#[test]
fn a_capacity_lowered_below_what_is_dispatched_lists_the_booking_and_moves_none() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "van", "kind": "water", "capacity": {"water_l": 100}, "cost": 0},
            {"id": "truck", "kind": "water", "capacity": {"water_l": 50}, "cost": 3}],
        "needs": [
            {"id": "a", "kind": "water", "demand": {"water_l": 60}, "priority": 2},
            {"id": "b", "kind": "water", "demand": {"water_l": 30}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let mut log = Vec::new();
    fn step(s: &mut Session, log: &mut Vec<Applied>, v: Value) -> BatchOutcome {
        let (out, applied) = s.apply(&parse_events(&v).unwrap()).unwrap();
        log.extend(applied);
        out
    }
    let out = step(
        &mut s,
        &mut log,
        json!([{"type": "dispatched", "need": "a", "resource": "van"}]),
    );
    assert!(out.conflicts.is_empty());
    let out = step(
        &mut s,
        &mut log,
        json!([{"type": "resource_updated", "resource":
            {"id": "van", "kind": "water", "capacity": {"water_l": 40}, "cost": 0}}]),
    );
    assert_eq!(conflict_keys(&out.conflicts), conflict_keys(&s.conflicts()));
    let [c] = &out.conflicts[..] else {
        panic!("one conflict: {:?}", out.conflicts)
    };
    assert_eq!(
        (c.booking.need.as_str(), c.booking.resource.as_str()),
        ("a", "van")
    );
    // Released, a would be served whole: the truck's 50 litres and 10 of the van's 40 (b
    // takes the van's other 30).
    let shares: BTreeMap<&str, f64> = c
        .proposal
        .iter()
        .map(|p| (p.resource.as_str(), p.share))
        .collect();
    assert_eq!(shares.len(), 2, "{:?}", c.proposal);
    assert!((shares["truck"] - 50.0 / 60.0).abs() < 1e-9, "{shares:?}");
    assert!((shares["van"] - 10.0 / 60.0).abs() < 1e-9, "{shares:?}");
    // Nothing moved: the dispatch stands, and the van has nothing left to plan.
    assert_eq!(s.dispatches().len(), 1);
    assert!(s.dispatches()[0].active);
    assert!(s.plan().keys().all(|(r, _)| r != "van"), "{:?}", s.plan());
    // A later batch does not list it again; the session still does.
    let out = step(
        &mut s,
        &mut log,
        json!([{"type": "need_added", "need":
            {"id": "c", "kind": "water", "demand": {"water_l": 5}}}]),
    );
    assert!(out.conflicts.is_empty());
    assert_eq!(s.conflicts().len(), 1);
    // The log replays to the same conflict.
    let mut r = Session::new(&init).unwrap();
    for a in &log {
        r.replay(a).unwrap();
    }
    r.replan_all();
    assert_eq!(conflict_keys(&r.conflicts()), conflict_keys(&s.conflicts()));
    // Released: the re-plan takes a, and the conflict is gone.
    let out = step(
        &mut s,
        &mut log,
        json!([{"type": "dispatch_released", "need": "a", "resource": "van"}]),
    );
    assert!(out.conflicts.is_empty() && s.conflicts().is_empty());
    assert!(s.plan().keys().any(|(_, n)| n == "a"), "{:?}", s.plan());
}

#[test]
fn dispatches_are_kept_and_retries_are_idempotent() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "van", "kind": "water", "capacity": {"water_l": 100}}],
        "needs": [{"id": "a", "kind": "water", "demand": {"water_l": 60}, "priority": 2},
                  {"id": "b", "kind": "water", "demand": {"water_l": 60}, "priority": 1}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    // Plan: a in full (priority 2), b the remaining 40 l.
    assert_eq!(s.plan()[&("van".to_string(), "a".to_string())], 1.0);
    assert!((s.plan()[&("van".to_string(), "b".to_string())] - 40.0 / 60.0).abs() < 1e-9);
    let dispatch = parse_events(
        &json!([{"type": "dispatched", "need": "b", "resource": "van",
        "event_id": "e1"}]),
    )
    .unwrap();
    let (out, _) = s.apply(&dispatch).unwrap();
    assert_eq!(out.dispatched.len(), 1);
    assert!((out.dispatched[0].amounts["water_l"] - 40.0).abs() < 1e-9);
    // A more urgent need arrives: the committed 40 l to b are not moved.
    let urgent = parse_events(&json!([{"type": "need_added", "event_id": "e2",
        "need": {"id": "c", "kind": "water", "demand": {"water_l": 60}, "priority": 9}}]))
    .unwrap();
    let (out, _) = s.apply(&urgent).unwrap();
    assert!(out.changed.iter().any(|c| c.need == "c" && c.after == 1.0));
    assert_eq!(s.plan().get(&("van".to_string(), "a".to_string())), None);
    assert!(s.dispatches()[0].active);
    // The retried dispatch is skipped, not applied twice.
    let (out, _) = s.apply(&dispatch).unwrap();
    assert_eq!(
        (out.applied, out.duplicates.clone()),
        (0, vec!["e1".to_string()])
    );
    assert_eq!(s.dispatches().len(), 1);
    // The van comes back: its 40 l return and a is served again, after c.
    let back = parse_events(&json!([{"type": "resource_returned", "id": "van"}])).unwrap();
    s.apply(&back).unwrap();
    assert!(!s.dispatches()[0].active);
    assert_eq!(s.plan()[&("van".to_string(), "c".to_string())], 1.0);
    assert!((s.plan()[&("van".to_string(), "a".to_string())] - 40.0 / 60.0).abs() < 1e-9);
    // b was served in part by its dispatch; its open 20 l are planned like any need.
    let why = s.why("b").unwrap();
    assert!((why.dispatched_fraction - 40.0 / 60.0).abs() < 1e-9);
    // Refused events leave the state as it was, and name the event.
    let bad = parse_events(&json!([{"type": "need_withdrawn", "id": "a"},
        {"type": "resource_withdrawn", "id": "ghost"}]))
    .unwrap();
    let before = s.plan().clone();
    let e = s.apply(&bad).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(s.has_need("a"));
    assert_eq!(s.plan(), &before);
}

/// Two small water tanks of `small` litres, a large dear one, and need `n` of `demand`
/// litres; the session and the scenario it started from.
fn water_session(small: f64, demand: f64) -> (commonsnet_engine::Scenario, Session) {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "r1", "kind": "water", "capacity": {"l": small}},
            {"id": "r2", "kind": "water", "capacity": {"l": small}},
            {"id": "r3", "kind": "water", "capacity": {"l": 20}, "cost": 5}],
        "needs": [{"id": "n", "kind": "water", "demand": {"l": demand}}]}))
    .unwrap();
    let s = Session::new(&init).unwrap();
    (init, s)
}

type Log = Vec<(Vec<Applied>, Vec<LoggedEventId>)>;

/// Apply `v` (accepted) and keep what the log records of it.
fn apply_kept(s: &mut Session, log: &mut Log, v: Value) {
    let (_, applied) = s.apply(&parse_events(&v).unwrap()).unwrap();
    log.push((applied, Vec::new()));
}

/// Litres the plan gives need `n` (dimension `l`): its shares of the open part.
fn planned_litres(s: &Session) -> f64 {
    let open = 1.0 - s.why("n").unwrap().dispatched_fraction;
    s.plan().values().sum::<f64>() * open * s.need("n").unwrap().demand["l"]
}

fn water_need(l: f64) -> Value {
    json!({"id": "n", "kind": "water", "demand": {"l": l}})
}

/// A need updated after a dispatch: what was dispatched counts in litres, not as a fraction
/// of the old demand (raised from 4 to 10 litres after 2 were dispatched, the plan added 5
/// more; after 4, it added none, 'served in full'; lowered to the 2 dispatched, it planned one
/// more). The log replays to the same state.
#[test]
fn a_need_updated_after_a_dispatch_is_planned_what_is_left_of_it() {
    let (init, mut s) = water_session(2.0, 4.0);
    let mut log = Log::new();
    let demand = |l: f64| json!([{"type": "need_updated", "need": water_need(l)}]);
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "dispatched", "need": "n", "resource": "r1"}]),
    );
    apply_kept(&mut s, &mut log, demand(10.0));
    // 2 of 10 litres out: 8 planned (r2's 2 and 6 of r3's).
    assert!((s.why("n").unwrap().dispatched_fraction - 0.2).abs() < 1e-9);
    assert!((planned_litres(&s) - 8.0).abs() < 1e-6, "{:?}", s.plan());
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "dispatched", "need": "n", "resource": "r2"}]),
    );
    assert!((planned_litres(&s) - 6.0).abs() < 1e-6, "{:?}", s.plan());
    // Lowered to the 4 dispatched: nothing more.
    apply_kept(&mut s, &mut log, demand(4.0));
    assert!(s.plan().is_empty(), "{:?}", s.plan());
    assert!((s.why("n").unwrap().dispatched_fraction - 1.0).abs() < 1e-9);
    // Raised to 10 again: 6 more, from r3.
    apply_kept(&mut s, &mut log, demand(10.0));
    assert!((planned_litres(&s) - 6.0).abs() < 1e-6, "{:?}", s.plan());
    let r = replayed(&init, &log);
    assert_eq!((r.plan(), r.dispatches()), (s.plan(), s.dispatches()));
}

/// After a need is lowered below what is out, releasing one dispatch reopens only what is
/// missing (it reopened the released dispatch's part of the lowered need: 3 litres planned
/// where 1 was missing); a need added again under the id of a withdrawn one whose dispatches
/// came back does not count them (an update then planned it 4 litres short).
#[test]
fn releases_and_reused_ids_reopen_what_is_missing() {
    let (init, mut s) = water_session(3.0, 6.0);
    let mut log = Log::new();
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "dispatched", "need": "n", "resource": "r1"},
        {"type": "dispatched", "need": "n", "resource": "r2"}]),
    );
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "need_updated", "need": water_need(4.0)}]),
    );
    assert!(s.plan().is_empty(), "{:?}", s.plan());
    // r2's 3 litres released: 3 of 4 are still out, 1 is missing.
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "dispatch_released", "need": "n", "resource": "r2"}]),
    );
    assert!((s.why("n").unwrap().dispatched_fraction - 0.75).abs() < 1e-9);
    assert!((planned_litres(&s) - 1.0).abs() < 1e-6, "{:?}", s.plan());
    let r = replayed(&init, &log);
    assert_eq!((r.plan(), r.dispatches()), (s.plan(), s.dispatches()));

    // r1 back, the need withdrawn, and a new need under its id: none of the old one's
    // dispatches count for it, before or after an update of its demand.
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "resource_returned", "id": "r1"},
        {"type": "need_withdrawn", "id": "n"},
        {"type": "need_added", "need": water_need(10.0)}]),
    );
    assert_eq!(s.why("n").unwrap().dispatched_fraction, 0.0);
    apply_kept(
        &mut s,
        &mut log,
        json!([{"type": "need_updated", "need": water_need(8.0)}]),
    );
    assert_eq!(s.why("n").unwrap().dispatched_fraction, 0.0);
    assert!((planned_litres(&s) - 8.0).abs() < 1e-6, "{:?}", s.plan());
    let r = replayed(&init, &log);
    assert_eq!((r.plan(), r.dispatches()), (s.plan(), s.dispatches()));
}

#[test]
fn why_names_the_rule_or_the_competition() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "far", "kind": "medical", "lat": 59.0, "lon": 18.0, "capacity": {"team_h": 8},
             "skills": ["trauma"]},
            {"id": "near", "kind": "medical", "lat": 59.3, "lon": 18.0, "capacity": {"team_h": 2}}],
        "needs": [
            {"id": "t", "kind": "medical", "lat": 59.3, "lon": 18.01, "demand": {"team_h": 2},
             "required_skills": ["trauma"]},
            {"id": "u", "kind": "medical", "lat": 59.3, "lon": 18.01, "demand": {"team_h": 2},
             "priority": 1},
            {"id": "v", "kind": "medical", "lat": 59.3, "lon": 18.02, "demand": {"team_h": 2},
             "priority": 5}],
        "policy": {"max_distance_km": 10}}))
    .unwrap();
    let s = Session::new(&init).unwrap();
    let why = |need: &str| serde_json::to_value(s.why(need).unwrap()).unwrap();
    let t = why("t");
    assert_eq!(t["reason"], "no_candidate");
    let c = &t["candidates"];
    assert_eq!(c[0]["resource"], "near");
    assert_eq!(c[0]["excluded_by"]["rule"], "skills");
    assert_eq!(c[1]["resource"], "far");
    assert_eq!(c[1]["excluded_by"]["rule"], "distance");
    let u = why("u");
    assert_eq!(u["reason"], "capacity");
    let near = &u["linked_resources"][0];
    assert_eq!(near["resource"], "near");
    assert_eq!(near["serves_instead"][0]["need"], "v");
    assert!(near["shadow_price"]["team_h"].as_f64().unwrap() > 0.0);
    assert_eq!(why("v")["reason"], "served");
    assert!(s.why("nobody").is_none());
}

#[test]
fn malformed_events_name_their_index_and_field() {
    let e = parse_events(&json!([
        {"type": "need_added", "need": {"id": "a", "kind": "k", "demand": {"x": -1}}},
        {"type": "teleported", "id": "x"},
        {"type": "dispatched", "need": "a"},
        {"type": "need_withdrawn", "id": "a", "why": 1}]))
    .unwrap_err();
    let places: Vec<(&str, Option<usize>, Option<&str>)> = e
        .issues
        .iter()
        .map(|i| (i.table.as_str(), i.row, i.field.as_deref()))
        .collect();
    assert!(
        places.contains(&("events", Some(0), Some("need.demand.x"))),
        "{places:?}"
    );
    assert!(places.contains(&("events", Some(1), Some("type"))));
    assert!(places.contains(&("events", Some(2), Some("resource"))));
    assert!(places.contains(&("events", Some(3), Some("why"))));
    // In words, each reads as before: the event, then its field.
    assert!(e
        .issues
        .iter()
        .any(|i| i.to_string().starts_with("events[0].need.demand.x: ")));
}

/// A hostile batch: every event kind mixed, ids withdrawn and re-added, capacities cut to 0,
/// kinds changed, dispatches of proposed and of unproposed matches, in any order.
fn hostile_batch(rng: &mut SplitMix64, s: &Session, next: &mut usize, dims: &[&str]) -> Value {
    let scenario = s.residual_scenario();
    let needs: Vec<String> = scenario.needs().iter().map(|n| n.id.clone()).collect();
    let resources: Vec<String> = scenario.resources().iter().map(|r| r.id.clone()).collect();
    let plan: Vec<(String, String)> = s.plan().keys().cloned().collect();
    let committed = |r: &str| s.dispatches().iter().any(|d| d.active && d.resource == r);
    // Resources dispatched earlier in this batch count as committed too.
    let mut dispatched_here: Vec<String> = Vec::new();
    let pick = |rng: &mut SplitMix64, v: &[String]| -> Option<String> {
        (!v.is_empty()).then(|| v[rng.int(0, v.len() as u64 - 1) as usize].clone())
    };
    let mut events = Vec::new();
    for _ in 0..rng.int(1, 5) {
        *next += 1;
        let fresh = format!("h{next}");
        let mut ev = match rng.int(0, 11) {
            0 => json!({"type": "need_added", "need": need(rng, &fresh, dims)}),
            1 => match pick(rng, &needs) {
                // Withdrawn and re-added under the same id, changed.
                Some(n) => {
                    events.push(json!({"type": "need_withdrawn", "id": n,
                        "event_id": format!("w{next}")}));
                    json!({"type": "need_added", "need": need(rng, &n, dims)})
                }
                None => continue,
            },
            2 => match pick(rng, &needs) {
                Some(n) => json!({"type": "need_updated", "need": need(rng, &n, dims)}),
                None => continue,
            },
            3 => match pick(rng, &needs) {
                Some(n) => json!({"type": "need_withdrawn", "id": n}),
                None => continue,
            },
            4 => json!({"type": "resource_added", "resource": resource(rng, &fresh, dims)}),
            5 => match pick(rng, &resources) {
                Some(r) => {
                    let mut v = resource(rng, &r, dims);
                    if committed(&r) || dispatched_here.contains(&r) {
                        // Never below what is committed: the capacity invariant is checked
                        // against the capacity as last defined.
                        let cur = s.resource(&r).unwrap();
                        v["kind"] = json!(cur.kind);
                        for (d, c) in &cur.capacity {
                            v["capacity"][d] = json!(c + rng.int(0, 3) as f64);
                        }
                    } else if rng.chance(0.5) {
                        for d in dims {
                            v["capacity"][*d] = json!(0);
                        }
                    }
                    json!({"type": "resource_updated", "resource": v})
                }
                None => continue,
            },
            6 => match pick(rng, &resources) {
                Some(r) => json!({"type": "resource_withdrawn", "id": r}),
                None => continue,
            },
            7 => match pick(rng, &resources) {
                Some(r) => json!({"type": "resource_returned", "id": r}),
                None => continue,
            },
            8 => match (pick(rng, &needs), pick(rng, &resources)) {
                (Some(n), Some(r)) => {
                    dispatched_here.push(r.clone());
                    json!({"type": "dispatched", "need": n, "resource": r})
                }
                _ => continue,
            },
            _ => match plan.get(rng.int(0, plan.len().max(1) as u64 - 1) as usize) {
                Some((r, n)) => {
                    dispatched_here.push(r.clone());
                    json!({"type": "dispatched", "need": n, "resource": r})
                }
                None => continue,
            },
        };
        if rng.chance(0.7) {
            ev["event_id"] = json!(format!("e{next}"));
        }
        events.push(ev);
    }
    Value::Array(events)
}

/// Rebuild a session from its initial scenario and log, as the service does after a restart.
fn replayed(
    init: &commonsnet_engine::Scenario,
    log: &[(Vec<Applied>, Vec<LoggedEventId>)],
) -> Session {
    let mut r = Session::new(init).unwrap();
    for (applied, ids) in log {
        for a in applied {
            r.replay(a).unwrap();
        }
        r.remember_event_ids(ids);
    }
    r.end_replay();
    r
}

/// The session state machine under hostile batches. After every batch, accepted or not:
/// memory == replay of the log == a from-scratch solve; a refused batch changed nothing (plan,
/// dispatches, entities, seen ids); no committed dispatch exceeds a capacity or breaks a
/// link rule.
#[test]
fn hostile_batches_are_all_or_nothing_and_keep_the_invariants() {
    let (mut accepted, mut refused, mut dispatches) = (0, 0, 0);
    for seed in 0..16u64 {
        let mut rng = SplitMix64::new(1000 + seed);
        let dims = team_dims(seed % 4 == 0);
        let (init, mut s) = random_session(&mut rng, dims, seed % 5 == 3, seed % 2 == 0);
        let mut log: Vec<(Vec<Applied>, Vec<LoggedEventId>)> = Vec::new();
        let mut next = 0;
        for step in 0..25 {
            let ctx = format!("seed {seed} step {step}");
            let batch = hostile_batch(&mut rng, &s, &mut next, dims);
            let events: Vec<Event> = parse_events(&batch).unwrap();
            let ids: Vec<String> = events.iter().filter_map(|e| e.event_id.clone()).collect();
            let fresh: Vec<&String> = ids.iter().filter(|i| !s.has_seen(i)).collect();
            let (plan0, disp0, scen0) = (
                s.plan().clone(),
                s.dispatches().to_vec(),
                s.residual_scenario(),
            );
            match s.apply(&events) {
                Err(e) => {
                    refused += 1;
                    assert!(e.index < events.len(), "{ctx}");
                    assert_eq!(s.plan(), &plan0, "{ctx}: refused batch changed the plan");
                    assert_eq!(s.dispatches(), &disp0[..], "{ctx}: {}", e.refusal);
                    assert_eq!(s.residual_scenario().needs(), scen0.needs(), "{ctx}");
                    assert_eq!(
                        s.residual_scenario().resources(),
                        scen0.resources(),
                        "{ctx}"
                    );
                    for id in &fresh {
                        assert!(!s.has_seen(id), "{ctx}: id {id} seen but not applied");
                    }
                }
                Ok((out, applied)) => {
                    accepted += 1;
                    dispatches += out.dispatched.len();
                    log.push((
                        applied,
                        events.iter().filter_map(Event::logged_id).collect(),
                    ));
                    // Capacity: active dispatches never exceed what the resource has.
                    for r in s.residual_scenario().resources() {
                        let full = s.resource(&r.id).unwrap();
                        for (d, cap) in &full.capacity {
                            let used: f64 = s
                                .dispatches()
                                .iter()
                                .filter(|x| x.active && x.resource == r.id)
                                .map(|x| x.amounts.get(d).copied().unwrap_or(0.0))
                                .sum();
                            assert!(
                                used <= cap + 1e-5 * cap.max(1.0),
                                "{ctx}: {} {d}: {used} > {cap} after {batch}",
                                r.id
                            );
                        }
                    }
                    // Link rules, for dispatches whose ends no later event of the batch changed.
                    for (k, e) in events.iter().enumerate() {
                        let commonsnet_engine::session::EventKind::Dispatched { need, resource } =
                            &e.kind
                        else {
                            continue;
                        };
                        let later_touch = events[k + 1..].iter().any(|x| {
                            format!("{:?}", x.kind).contains(&format!("{need:?}"))
                                || format!("{:?}", x.kind).contains(&format!("{resource:?}"))
                        });
                        if later_touch || e.event_id.as_ref().is_some_and(|i| !fresh.contains(&i)) {
                            continue;
                        }
                        let (n, r) = (s.need(need).unwrap(), s.resource(resource).unwrap());
                        assert_eq!(n.kind, r.kind, "{ctx}: dispatch across kinds");
                        if let Some(d) = commonsnet_engine::graph::distance(r, n) {
                            assert!(d <= 6.0 + 1e-9, "{ctx}: dispatch {d} km away");
                        }
                    }
                }
            }
            assert_optimal_plan(&s, &format!("{ctx} scratch"));
            let r = replayed(&init, &log);
            assert_same_optimum(&s, &r, &format!("{ctx} replay"));
            assert_eq!(s.dispatches(), r.dispatches(), "{ctx} replay");
            for id in ids.iter().filter(|i| s.has_seen(i)) {
                assert!(r.has_seen(id), "{ctx}: replay forgot id {id}");
            }
        }
    }
    // The generator must exercise both outcomes and real dispatches.
    assert!(
        accepted > 100 && refused > 50 && dispatches > 30,
        "{accepted} {refused} {dispatches}"
    );
}

/// The repros of issue 16, defects 1 and 2, on the engine: a batch whose dispatch is invalid
/// once the events before it are re-planned is refused whole; one whose dispatch is valid
/// then is applied whole.
#[test]
fn a_dispatch_is_checked_against_the_plan_after_the_events_before_it() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "team1", "kind": "medical", "lat": 45.0, "lon": 7.0,
                       "capacity": {"team_h": 8}}],
        "needs": [{"id": "i1", "kind": "medical", "lat": 45.01, "lon": 7.0,
                   "demand": {"team_h": 3}, "priority": 5}],
        "policy": {"max_distance_km": 30}}))
    .unwrap();
    let s0 = Session::new(&init).unwrap();
    assert_eq!(s0.plan()[&("team1".into(), "i1".into())], 1.0);
    let refused = [
        json!([{"type": "resource_updated", "event_id": "a1",
                "resource": {"id": "team1", "kind": "medical", "lat": 45.0, "lon": 7.0,
                             "capacity": {"team_h": 0}}},
               {"type": "dispatched", "event_id": "a2", "need": "i1", "resource": "team1"}]),
        json!([{"type": "need_updated", "event_id": "a1",
                "need": {"id": "i1", "kind": "fire", "lat": 45.01, "lon": 7.0,
                         "demand": {"team_h": 3}, "priority": 5}},
               {"type": "dispatched", "event_id": "a2", "need": "i1", "resource": "team1"}]),
        json!([{"type": "resource_updated", "event_id": "a1",
                "resource": {"id": "team1", "kind": "fire", "lat": 45.0, "lon": 7.0,
                             "capacity": {"team_h": 8}}},
               {"type": "dispatched", "event_id": "a2", "need": "i1", "resource": "team1"}]),
        json!([{"type": "need_withdrawn", "id": "i1", "event_id": "a1"},
               {"type": "need_added", "event_id": "a2",
                "need": {"id": "i1", "kind": "fire", "demand": {"team_h": 7}, "priority": 9}},
               {"type": "dispatched", "event_id": "a3", "need": "i1", "resource": "team1"}]),
    ];
    for (k, batch) in refused.iter().enumerate() {
        let mut s = s0.clone();
        let e = s.apply(&parse_events(batch).unwrap()).unwrap_err();
        assert_eq!(e.index, batch.as_array().unwrap().len() - 1, "case {k}");
        assert!(
            matches!(e.refusal, Refusal::NotProposed { .. }),
            "case {k}: {}",
            e.refusal
        );
        assert_eq!(s.plan(), s0.plan(), "case {k}");
        assert!(s.dispatches().is_empty(), "case {k}");
        assert_eq!(s.need("i1"), s0.need("i1"), "case {k}");
        assert_eq!(s.resource("team1"), s0.resource("team1"), "case {k}");
        assert!(!s.has_seen("a1") && !s.has_seen("a2"), "case {k}");
    }
    // Valid after the re-plan: applied whole, the dispatch takes the updated need's demand.
    let mut s = s0.clone();
    let ok = json!([{"type": "need_withdrawn", "id": "i1"},
        {"type": "need_added", "need": {"id": "i1", "kind": "medical", "lat": 45.01, "lon": 7.0,
                                        "demand": {"team_h": 7}, "priority": 9}},
        {"type": "dispatched", "need": "i1", "resource": "team1"}]);
    let (out, _) = s.apply(&parse_events(&ok).unwrap()).unwrap();
    assert_eq!(out.applied, 3);
    assert_eq!(out.dispatched[0].amounts["team_h"], 7.0);
    // A second dispatch of the same match in one batch: the need is closed by the first.
    let mut s = s0.clone();
    let twice = json!([{"type": "dispatched", "need": "i1", "resource": "team1"},
        {"type": "dispatched", "need": "i1", "resource": "team1"}]);
    let e = s.apply(&parse_events(&twice).unwrap()).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(s.dispatches().is_empty());
}

/// The refusals a random batch may meet: conflicts inside one batch (an entity withdrawn,
/// then used; a match no longer proposed once the events before it are re-planned).
pub(crate) fn within_batch_conflict(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::NoNeed(_)
            | Refusal::NoResource(_)
            | Refusal::NotProposed { .. }
            | Refusal::NothingToReturn(_)
    )
}

/// Every `kind` in `v` set to "water": one kind, so that with a radius over the whole area
/// and `cross_community` every need may take every resource (one component).
fn one_kind(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "kind" {
                    *x = json!("water");
                } else {
                    one_kind(x);
                }
            }
        }
        Value::Array(xs) => xs.iter_mut().for_each(one_kind),
        _ => {}
    }
}

/// One large component: the random initial scenario of one kind, within 50 km, with needs
/// `m12..m{needs}` added (more needs than capacity: competition, so that every event moves
/// the optimum).
fn one_component(
    rng: &mut SplitMix64,
    dims: &[&str],
    needs: usize,
    fair: bool,
) -> commonsnet_engine::Scenario {
    scenario_from_value(&one_component_value(rng, dims, needs, fair)).unwrap()
}

/// A session that re-plans warm (`Session::new_warm`) on a random [`one_component`]
/// scenario, and that scenario.
fn warm_one_component(
    rng: &mut SplitMix64,
    dims: &[&str],
    needs: usize,
    fair: bool,
) -> (commonsnet_engine::Scenario, Session) {
    let init = one_component(rng, dims, needs, fair);
    let s = Session::new_warm(&init, true).unwrap();
    (init, s)
}

/// [`one_component`] as JSON.
fn one_component_value(rng: &mut SplitMix64, dims: &[&str], needs: usize, fair: bool) -> Value {
    let mut init = initial(rng, dims, fair, true);
    init["policy"]["max_distance_km"] = json!(50);
    for i in 12..needs {
        init["needs"]
            .as_array_mut()
            .unwrap()
            .push(need(rng, &format!("m{i}"), dims));
    }
    one_kind(&mut init);
    init
}

/// A warm session rebuilt from its initial scenario and log.
fn warm_replayed(init: &commonsnet_engine::Scenario, log: &[Applied]) -> Session {
    let mut r = Session::new_warm(init, true).unwrap();
    for a in log {
        r.replay(a).unwrap();
    }
    r.end_replay();
    r
}

/// Apply a random batch, its log entries into `log`; a refused batch (false) must have met a
/// conflict inside itself.
fn apply_logged(s: &mut Session, batch: &Value, log: &mut Vec<Applied>, seed: u64) -> bool {
    let events: Vec<Event> = parse_events(batch).unwrap();
    match s.apply(&events) {
        Ok((_, applied)) => {
            log.extend(applied);
            true
        }
        Err(e) => {
            assert!(
                within_batch_conflict(&e.refusal),
                "seed {seed}: {}",
                e.refusal
            );
            false
        }
    }
}

/// The log records where the re-plans fell, so the replay of a warm session re-plans at the
/// same points and rebuilds the very plan, not only one of the same value and cost.
fn assert_replays(init: &commonsnet_engine::Scenario, log: &[Applied], s: &Session, seed: u64) {
    let r = warm_replayed(init, log);
    assert_same_plan(s.plan(), r.plan(), &format!("seed {seed} replay"));
    assert_eq!(s.dispatches(), r.dispatches(), "seed {seed}");
}

/// A `cost` session re-plans cold, with or without warm sessions: the flow kept flow on free
/// links that a cold solve drops once a `min_fill` that forced it is met (V 0.5 against 0
/// after the dispatch below, C 0 in both), so V hung on where the re-plans fell.
#[test]
fn cost_sessions_plan_as_a_solve_from_scratch_whether_warm_or_not() {
    let init = scenario_from_value(&json!({"name": "s",
        "resources": [{"id": "r0", "kind": "water", "capacity": {"team_h": 5}}],
        "needs": [{"id": "n0", "kind": "water", "demand": {"team_h": 2}, "min_fill": 0.5}],
        "policy": {"objective": "cost"}}))
    .unwrap();
    for warm in [false, true] {
        let mut s = Session::new_warm(&init, warm).unwrap();
        assert!(s.warm_work().is_none(), "warm {warm}: on the flow");
        let dispatch = json!([{"type": "dispatched", "need": "n0", "resource": "r0"}]);
        s.apply(&parse_events(&dispatch).unwrap()).unwrap();
        let scratch = Report::new(&solve_with(
            &s.residual_scenario(),
            &SolveOptions::default(),
        ))
        .summary;
        let live = s.report().summary;
        assert_eq!(
            (live.coverage_value, live.cost),
            (scratch.coverage_value, scratch.cost),
            "warm {warm}"
        );
    }
}

/// Issue 18's property on the warm path: random event streams (every event kind) on ONE large
/// component keep, after every batch, a feasible plan of the value and cost of a from-scratch
/// solve, the replayed log gives the same plan and the same dispatches, and the session
/// stays warm through them (the flow path is the one exercised).
#[test]
fn warm_sessions_keep_the_optimum_of_one_large_component() {
    let dims: &[&str] = &["team_h"];
    let (mut warm_batches, mut batches) = (0, 0);
    for seed in 0..10u64 {
        let mut rng = SplitMix64::new(1000 + seed);
        let (init, mut s) = warm_one_component(&mut rng, dims, 40, false);
        assert!(
            s.warm_work().is_some(),
            "seed {seed}: a transportation session starts on the warm flow"
        );
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        for step in 0..40 {
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            one_kind(&mut batch);
            // The kinds random_batch leaves out: a resource withdrawn (none out on it) and
            // a dispatch released.
            let idle: Vec<String> = s
                .resources()
                .iter()
                .filter(|r| {
                    !s.dispatches()
                        .iter()
                        .any(|d| d.active && d.resource == r.id)
                })
                .map(|r| r.id.clone())
                .collect();
            if rng.chance(0.1) && idle.len() > 3 {
                let r = &idle[rng.int(0, idle.len() as u64 - 1) as usize];
                batch = json!([{"type": "resource_withdrawn", "id": r}]);
            } else if rng.chance(0.1) {
                if let Some(d) = s.dispatches().iter().find(|d| d.active) {
                    batch = json!([{"type": "dispatch_released", "need": d.need,
                        "resource": d.resource}]);
                }
            } else if rng.chance(0.15) {
                // The capacity alone, to nothing and back: the links go and come again,
                // with needs added in between among them.
                let rs = s.resources();
                let empty = rs.iter().find(|r| r.capacity.get("team_h") == Some(&0.0));
                let (r, cap) = match empty {
                    Some(r) => (r, rng.int(2, 9)),
                    None => (&rs[rng.int(0, rs.len() as u64 - 1) as usize], 0),
                };
                let mut r = serde_json::to_value(r).unwrap();
                r["capacity"] = json!({"team_h": cap});
                batch = json!([{"type": "resource_updated", "resource": r}]);
            }
            if !apply_logged(&mut s, &batch, &mut log, seed) {
                continue;
            }
            batches += 1;
            // On the flow itself (`is_warm` holds for kept LP bases too).
            warm_batches += usize::from(s.warm_work().is_some());
            assert_optimal_plan(&s, &format!("seed {seed} step {step} {batch}"));
        }
        assert_replays(&init, &log, &s, seed);
    }
    assert!(
        batches > 200 && warm_batches * 10 >= batches * 9,
        "{warm_batches} of {batches} batches re-planned warm"
    );
}

/// The warm flow's scan indexes (a side of 128 arcs or more keeps its few nearest arcs in
/// front and a bound on the rest) are built only by sessions this large: 300 needs on 5
/// resources, every resource's side of 300 arcs. Random batches keep the plan at a
/// from-scratch optimum on the flow itself, and the replay rebuilds it (the smaller
/// sessions above never build an index).
#[test]
fn warm_sessions_with_indexed_sides_keep_the_optimum() {
    let dims: &[&str] = &["team_h"];
    for seed in 0..3u64 {
        let mut rng = SplitMix64::new(4400 + seed);
        let (init, mut s) = warm_one_component(&mut rng, dims, 300, false);
        assert!(s.warm_work().is_some(), "seed {seed}");
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        for step in 0..15 {
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            one_kind(&mut batch);
            if !apply_logged(&mut s, &batch, &mut log, seed) {
                continue;
            }
            assert!(s.warm_work().is_some(), "seed {seed} step {step}");
            assert_optimal_plan(&s, &format!("seed {seed} step {step} {batch}"));
        }
        assert_replays(&init, &log, &s, seed);
    }
}

/// Issue 18's property on the LP path of warm sessions: max-min sessions and two-dimension
/// sessions of ONE large component, whose LP stages start from the bases the last re-plan
/// kept (`lp/start.rs`), keep after every batch (every event kind `random_batch` makes) a
/// feasible plan of the value, cost and smallest group ratio of a from-scratch solve, and
/// the replayed log rebuilds the very plan and dispatches.
#[test]
fn warm_lp_sessions_keep_the_optimum_and_replay_to_the_same_plan() {
    let cases: [(&[&str], bool); 2] = [(&["team_h"], true), (&["team_h", "fuel"], false)];
    let (mut batches, mut kept) = (0, 0);
    for seed in 0..12u64 {
        let (dims, fair) = cases[(seed % 2) as usize];
        let mut rng = SplitMix64::new(4000 + seed);
        let (init, mut s) = warm_one_component(&mut rng, dims, 40, fair);
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        for step in 0..25 {
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            one_kind(&mut batch);
            if !apply_logged(&mut s, &batch, &mut log, seed) {
                continue;
            }
            let ctx = format!("seed {seed} step {step} {batch}");
            batches += 1;
            kept += usize::from(s.kept_lp_statuses() > 0);
            assert!(s.is_warm(), "{ctx}");
            assert_optimal_plan(&s, &ctx);
            if fair {
                assert_smallest_ratio(&s, &ctx);
            }
        }
        assert_replays(&init, &log, &s, seed);
    }
    // The re-plans did keep bases for the next one.
    assert!(
        batches > 100 && kept == batches,
        "{kept} of {batches} batches left kept bases"
    );
}

/// A session that keeps LP bases logs a checkpoint after every few re-plans; a rebuild from
/// the log (as JSON, as the service stores it) installs the last one and re-plans only at
/// the points after it, and holds the very plan, duals and dispatches of the live session.
#[test]
fn lp_checkpoints_rebuild_the_very_plan_with_few_replans() {
    let dims: &[&str] = &["team_h"];
    let mut checkpoints = 0;
    for seed in 0..4u64 {
        let mut rng = SplitMix64::new(6100 + seed);
        let (init, mut s) = warm_one_component(&mut rng, dims, 40, true);
        s.set_checkpoint_every(4);
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        let mut points = 0;
        // The live plan and duals where the log ends with a checkpoint.
        let mut at_checkpoint = None;
        for _ in 0..30 {
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            one_kind(&mut batch);
            if apply_logged(&mut s, &batch, &mut log, seed) {
                points += 1;
                if matches!(log.last(), Some(Applied::Checkpoint { .. })) {
                    at_checkpoint = Some((log.len(), s.plan().clone(), s.report().needs));
                }
            }
        }
        // A rebuild from a log that ends with a checkpoint re-plans nothing: the plan and
        // duals are the checkpoint's.
        let (len, plan, needs) = at_checkpoint.expect("a checkpoint was logged");
        let r = Session::rebuilt(&init, true, 4, &log[..len]).unwrap();
        assert_eq!(r.replans_run(), 0, "seed {seed}");
        assert_eq!(r.plan(), &plan, "seed {seed}: at the checkpoint");
        assert_eq!(
            r.report().needs,
            needs,
            "seed {seed}: duals at the checkpoint"
        );
        checkpoints += log
            .iter()
            .filter(|a| matches!(a, Applied::Checkpoint { .. }))
            .count();
        let text = serde_json::to_string(&log).unwrap();
        // A first pass of a paged rebuild reads only the entries' types.
        let last = log
            .iter()
            .rposition(|a| matches!(a, Applied::Checkpoint { .. }));
        assert_eq!(
            LogReplay::scan(&text).unwrap(),
            BatchScan {
                entries: log.len(),
                last_checkpoint: last,
                // No time limit: no re-plan is cut short, no checkpoint is exact.
                last_exact: None,
                ends_replanned: log
                    .iter()
                    .rfind(|a| !matches!(a, Applied::Checkpoint { .. }))
                    .is_some_and(|a| matches!(a, Applied::Replanned)),
            },
            "seed {seed}"
        );
        let stored: Vec<Applied> = serde_json::from_str(&text).unwrap();
        let mut r = Session::rebuilt(&init, true, 4, &stored).unwrap();
        assert_eq!(s.plan(), r.plan(), "seed {seed}");
        assert_eq!(s.dispatches(), r.dispatches(), "seed {seed}");
        assert_eq!(s.report().needs, r.report().needs, "seed {seed}: duals");
        // At most the points after the last checkpoint were re-planned again.
        let replanned = r.replans_run();
        assert!(
            replanned <= 4,
            "seed {seed}: {replanned} of {points} points re-planned"
        );
        // The rebuilt session goes on as the live one does.
        let mut batch = random_batch(&mut rng, &s, &mut next, dims);
        one_kind(&mut batch);
        let events = parse_events(&batch).unwrap();
        let (a, b) = (s.apply(&events), r.apply(&events));
        assert_eq!(a.is_ok(), b.is_ok(), "seed {seed}");
        assert_eq!(s.plan(), r.plan(), "seed {seed}: after one more batch");
    }
    assert!(checkpoints >= 8, "{checkpoints} checkpoints logged");
}

/// A log with checkpoints rebuilt by a service that does not re-plan warm: a cold session,
/// whose plan is the from-scratch one of its state, that logs no checkpoints.
#[test]
fn a_cold_rebuild_ignores_checkpoints() {
    let dims: &[&str] = &["team_h"];
    let mut rng = SplitMix64::new(6200);
    let (init, mut s) = warm_one_component(&mut rng, dims, 30, true);
    s.set_checkpoint_every(2);
    let (mut log, mut next) = (Vec::new(), 0);
    for _ in 0..12 {
        let mut batch = random_batch(&mut rng, &s, &mut next, dims);
        one_kind(&mut batch);
        apply_logged(&mut s, &batch, &mut log, 6200);
    }
    assert!(log.iter().any(|a| matches!(a, Applied::Checkpoint { .. })));
    let mut r = Session::rebuilt(&init, false, 2, &log).unwrap();
    assert!(!r.is_warm());
    assert_same_plan(r.plan(), &scratch_plan(&r), "cold rebuild");
    assert_eq!(s.dispatches(), r.dispatches());
    let mut batch = random_batch(&mut rng, &r, &mut next, dims);
    one_kind(&mut batch);
    let mut more = Vec::new();
    for _ in 0..4 {
        apply_logged(&mut r, &batch, &mut more, 6200);
        batch = random_batch(&mut rng, &r, &mut next, dims);
        one_kind(&mut batch);
    }
    assert!(!more.iter().any(|a| matches!(a, Applied::Checkpoint { .. })));
}

/// A warm session's resource whose capacity goes to nothing loses its links, and gets them
/// back (to the needs it had and to one added meanwhile) when the capacity returns: the warm
/// model compares the links of a resource whose capacity alone changed only when the session
/// worked them out anew.
#[test]
fn warm_sessions_relink_a_resource_whose_capacity_comes_back() {
    let need = |id: &str| json!({"id": id, "kind": "water", "lat": 59.3, "lon": 18.0, "demand": {"team_h": 1}});
    let van = |cap: u32| {
        json!({"id": "van", "kind": "water", "lat": 59.31, "lon": 18.0,
            "capacity": {"team_h": cap}})
    };
    let init = scenario_from_value(&json!({
        "resources": [van(3)], "needs": [need("a"), need("b")],
        "policy": {"max_distance_km": 20}}))
    .unwrap();
    let mut s = Session::new_warm(&init, true).unwrap();
    let batches = [
        json!([{"type": "resource_updated", "resource": van(0)}]),
        json!([{"type": "need_added", "need": need("c")}]),
        json!([{"type": "resource_updated", "resource": van(3)}]),
    ];
    for b in &batches {
        s.apply(&parse_events(b).unwrap()).unwrap();
        assert!(s.warm_work().is_some(), "{b}");
        assert_optimal_plan(&s, &b.to_string());
    }
    let served: Vec<&str> = s.plan().keys().map(|(_, n)| n.as_str()).collect();
    assert_eq!(served, ["a", "b", "c"]);
}

/// A warm session whose need or resource ends a batch exactly as it began (a dispatch
/// released in the same batch, a need or resource withdrawn and added back unchanged) keeps
/// the plan entries the events removed on the way.
#[test]
fn warm_sessions_write_back_what_a_batch_removed_and_restored() {
    let need = |id: &str, p: u32| {
        json!({"id": id, "kind": "water", "lat": 59.3, "lon": 18.0, "demand": {"team_h": 2},
            "priority": p})
    };
    let van = json!({"id": "van", "kind": "water", "lat": 59.31, "lon": 18.0,
        "capacity": {"team_h": 3}});
    let init = scenario_from_value(&json!({
        "resources": [van.clone(),
            {"id": "cart", "kind": "water", "lat": 59.29, "lon": 18.0, "capacity": {"team_h": 1}}],
        "needs": [need("a", 3), need("b", 2), need("c", 1)],
        "policy": {"max_distance_km": 20}}))
    .unwrap();
    let mut s = Session::new_warm(&init, true).unwrap();
    assert!(s.warm_work().is_some());
    let before = s.plan().clone();
    let (r, n) = before.keys().next().unwrap().clone();
    let batches = [
        json!([{"type": "dispatched", "need": n, "resource": r},
               {"type": "dispatch_released", "need": n, "resource": r}]),
        json!([{"type": "need_withdrawn", "id": "a"}, {"type": "need_added", "need": need("a", 3)}]),
        json!([{"type": "resource_withdrawn", "id": "van"},
               {"type": "resource_added", "resource": van}]),
    ];
    for b in &batches {
        s.apply(&parse_events(b).unwrap()).unwrap();
        assert!(s.warm_work().is_some(), "{b}");
        assert_optimal_plan(&s, &b.to_string());
        // Every need served before is served again (the state is as it was).
        for (_, need) in before.keys() {
            assert!(
                s.plan().keys().any(|(_, x)| x == need),
                "{b}: {need} lost its matches"
            );
        }
    }
}

/// Bursts on a warm session, as the service's actor runs them: several batches staged, some
/// refused (a dispatch of a pair the re-plan before it does not propose, refused after that
/// re-plan ran, in place), one re-plan at the end, the end marked on the last batch logged.
/// The log's re-plan points (`Applied::Replanned`, a refused batch's carried into the next
/// accepted one) make its replay rebuild the very plan, after every burst: on the flow path,
/// and under max-min on the LP path with kept bases.
#[test]
fn warm_replay_rebuilds_the_plan_of_bursts_with_refused_dispatches() {
    let dims: &[&str] = &["team_h"];
    let (mut carried, mut refused_after_replan) = (0, 0);
    let (mut flow_bursts, mut even_bursts) = (0, 0);
    // Retries (a batch sent again under its event ids) after a refusal that re-planned in
    // the same burst: they apply nothing, so they carry no re-plan point into the log (a
    // concurrency review: one was numbered, logged and streamed as a change).
    let mut retried_over_replan = 0;
    for seed in 0..8u64 {
        let mut rng = SplitMix64::new(7000 + seed);
        // Odd seeds under max-min: the LP path with kept bases (`lp/start.rs`).
        let (init, mut s) = warm_one_component(&mut rng, dims, 30, seed % 2 == 1);
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        let mut ids = 0;
        let mut accepted: Option<Value> = None;
        for step in 0..25 {
            let mut burst: Vec<Vec<Applied>> = Vec::new();
            let mut replan_unlogged = false;
            for _ in 0..rng.int(1, 4) {
                if let Some(again) = accepted.clone().filter(|_| rng.chance(0.25)) {
                    let (out, applied) = s.stage(&parse_events(&again).unwrap()).unwrap();
                    assert!(
                        applied.is_empty() && out.applied == 0,
                        "seed {seed} step {step}"
                    );
                    retried_over_replan += usize::from(replan_unlogged);
                    continue;
                }
                let mut batch = if rng.chance(0.35) {
                    let needs = s.residual_scenario().needs().to_vec();
                    let res = s.resources().to_vec();
                    let n = &needs[rng.int(0, needs.len() as u64 - 1) as usize];
                    let r = &res[rng.int(0, res.len() as u64 - 1) as usize];
                    json!([{"type": "dispatched", "need": n.id, "resource": r.id}])
                } else {
                    let mut b = random_batch(&mut rng, &s, &mut next, dims);
                    one_kind(&mut b);
                    b
                };
                for e in batch.as_array_mut().unwrap() {
                    ids += 1;
                    e["event_id"] = json!(format!("e{ids}"));
                }
                let stale = !burst.is_empty();
                match s.stage(&parse_events(&batch).unwrap()) {
                    Ok((_, applied)) => {
                        carried += usize::from(applied.first() == Some(&Applied::Replanned));
                        replan_unlogged = false;
                        accepted = Some(batch);
                        burst.push(applied);
                    }
                    Err(_) => {
                        refused_after_replan += usize::from(stale);
                        replan_unlogged |= stale;
                    }
                }
            }
            s.flush();
            if let Some(last) = burst.iter_mut().rev().find(|a| !a.is_empty()) {
                last.push(Applied::Replanned);
            }
            log.extend(burst.into_iter().flatten());
            if seed % 2 == 0 {
                even_bursts += 1;
                flow_bursts += usize::from(s.warm_work().is_some());
            }
            let ctx = format!("seed {seed} step {step}");
            assert_optimal_plan(&s, &ctx);
            let r = warm_replayed(&init, &log);
            assert_same_plan(s.plan(), r.plan(), &format!("{ctx} replay"));
            assert_eq!(s.dispatches(), r.dispatches(), "{ctx}");
        }
    }
    assert!(
        carried > 0 && refused_after_replan > 0 && retried_over_replan > 0,
        "carried {carried}, refused after a re-plan {refused_after_replan}, retried after \
         one {retried_over_replan}"
    );
    // The even seeds' bursts ran on the flow itself.
    assert!(
        flow_bursts * 10 >= even_bursts * 9,
        "{flow_bursts} of {even_bursts} bursts on the flow"
    );
}

/// A warm session's first flush with nothing in it (unlogged) and then a dispatch with need
/// updates: the replay, which never sees the empty flush, re-plans to the very plan. (Found
/// in review: the resources relinked when the session was made were dropped by the empty
/// flush live but kept by the replay, and the order the arcs were made in differed.)
#[test]
fn warm_replay_matches_after_an_empty_first_flush() {
    let dims: &[&str] = &["team_h"];
    let mut rng = SplitMix64::new(9361);
    let mut init = initial(&mut rng, dims, false, true);
    init["policy"]["max_distance_km"] = json!(8);
    for i in 12..30 {
        let n = need(&mut rng, &format!("m{i}"), dims);
        init["needs"].as_array_mut().unwrap().push(n);
    }
    one_kind(&mut init);
    let init = scenario_from_value(&init).unwrap();
    let mut s = Session::new_warm(&init, true).unwrap();
    assert!(s.warm_work().is_some());
    let (_, applied) = s.apply(&[]).unwrap();
    assert!(applied.is_empty());
    let plan: Vec<(String, String)> = s.plan().keys().cloned().collect();
    let (r, m) = plan[rng.int(0, plan.len() as u64 - 1) as usize].clone();
    let needs = s.residual_scenario().needs().to_vec();
    let mut events = vec![json!({"type": "dispatched", "need": m, "resource": r})];
    for _ in 0..rng.int(1, 4) {
        let n = &needs[rng.int(0, needs.len() as u64 - 1) as usize];
        if n.id == m {
            continue;
        }
        let mut v = need(&mut rng, &n.id, dims);
        one_kind(&mut v);
        events.push(json!({"type": "need_updated", "need": v}));
    }
    let mut log: Vec<Applied> = Vec::new();
    assert!(apply_logged(&mut s, &Value::Array(events), &mut log, 9361));
    assert!(s.warm_work().is_some());
    assert_same_plan(s.plan(), warm_replayed(&init, &log).plan(), "replay");
}

/// Every `community` in `v` set to `c`.
fn one_community(v: &mut Value, c: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "community" {
                    *x = json!(c);
                } else {
                    one_community(x, c);
                }
            }
        }
        Value::Array(xs) => xs.iter_mut().for_each(|x| one_community(x, c)),
        _ => {}
    }
}

/// A max-min session whose open needs are all of one group re-plans on the warm flow, as a
/// coverage session does (`Policy::fairness_implied`); a need of a second group puts it on
/// the LP, whole, and the group's last need leaving puts it back on the flow. A leximin
/// session, which keeps no LP bases and so replays cold, stays off the flow. After every
/// batch the plan has the value, cost and smallest group ratio of a from-scratch solve, and
/// the replayed log, and a rebuild from its last checkpoint, give the very plan.
#[test]
fn max_min_over_one_group_re_plans_on_the_warm_flow_until_a_second_group_comes() {
    let dims: &[&str] = &["team_h"];
    let (mut on_flow, mut one_group, mut on_lp) = (0, 0, 0);
    let (mut back_on_flow, mut checkpoints) = ([false; 8], 0);
    for seed in 0..8u64 {
        let mut rng = SplitMix64::new(7000 + seed);
        let mut init = one_component_value(&mut rng, dims, 30, true);
        one_community(&mut init, "c0");
        let leximin = seed % 4 == 3;
        if leximin {
            init["policy"]["fairness"] = json!("leximin");
        }
        let init = scenario_from_value(&init).unwrap();
        let mut s = Session::new_warm(&init, true).unwrap();
        s.set_checkpoint_every(4);
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        for step in 0..30 {
            // Steps 10 to 19 bring needs of a second group; step 20 withdraws them.
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            one_kind(&mut batch);
            one_community(&mut batch, "c0");
            if (10..20).contains(&step) && step % 3 == 1 {
                let mut n = need(&mut rng, &format!("other{step}"), dims);
                one_kind(&mut n);
                one_community(&mut n, "c1");
                batch = json!([{"type": "need_added", "need": n}]);
            } else if step == 20 {
                let others: Vec<Value> = s
                    .needs()
                    .filter(|(n, open)| n.community == "c1" && *open > 0.0)
                    .map(|(n, _)| json!({"type": "need_withdrawn", "id": n.id}))
                    .collect();
                batch = Value::Array(others);
            }
            if !apply_logged(&mut s, &batch, &mut log, seed) {
                continue;
            }
            let ctx = format!("seed {seed} step {step} {batch}");
            let groups: std::collections::BTreeSet<&str> = s
                .needs()
                .filter(|(_, open)| *open > 0.0)
                .map(|(n, _)| n.community.as_str())
                .collect();
            // On the flow exactly while one group is open, unless the warm model refused
            // the session's numbers (then it re-plans cold, as a coverage session would).
            let flow = s.warm_work().is_some();
            if leximin {
                assert!(!flow, "{ctx}");
            } else if groups.len() > 1 {
                assert!(!flow, "{ctx}: groups {groups:?}");
                on_lp += 1;
            } else {
                one_group += 1;
                on_flow += usize::from(flow);
                back_on_flow[seed as usize] |= step >= 20 && flow;
            }
            assert_optimal_plan(&s, &ctx);
            assert_smallest_ratio(&s, &ctx);
        }
        assert_replays(&init, &log, &s, seed);
        let rebuilt = Session::rebuilt(&init, true, 4, &log).unwrap();
        assert_same_plan(s.plan(), rebuilt.plan(), &format!("seed {seed} rebuilt"));
        checkpoints += log
            .iter()
            .filter(|a| matches!(a, Applied::Checkpoint { .. }))
            .count();
    }
    let back = back_on_flow.iter().filter(|&&b| b).count();
    assert!(
        on_flow * 10 >= one_group * 8 && on_lp > 20 && back >= 4 && checkpoints > 0,
        "{on_flow} of {one_group} one-group batches on the flow, {on_lp} on the LP, {back} \
         sessions back on the flow, {checkpoints} checkpoints"
    );
}

/// A need no resource can serve, or serve enough, with a positive min_fill makes its own
/// component infeasible, not the session: the other components keep their plans at creation, after an
/// incremental re-plan and after a rebuild from the log alike. (A rebuild's whole re-plan
/// wiped every plan, so a dispatch accepted live was refused after a restart.)
#[test]
fn an_infeasible_component_leaves_the_others_planned_on_every_path() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "r1", "kind": "water", "capacity": {"l": 10}},
                      {"id": "r2", "kind": "tent", "capacity": {"l": 1}}],
        "needs": [{"id": "n1", "kind": "water", "demand": {"l": 4}},
                  {"id": "n2", "kind": "food", "demand": {"l": 1}, "min_fill": 0.5},
                  {"id": "n3", "kind": "tent", "demand": {"l": 5}, "min_fill": 1}]}))
    .unwrap();
    // n2 has no link; n3 is linked to r2, which cannot hold its min_fill.
    let events = |v: Value| parse_events(&v).unwrap();
    let want = BTreeMap::from([(("r1".to_string(), "n1".to_string()), 1.0)]);
    for warm in [false, true] {
        let mut s = Session::new_warm(&init, warm).unwrap();
        assert_eq!(s.plan(), &want, "at creation (warm {warm})");
        assert_eq!(
            s.report().summary.status,
            commonsnet_engine::Status::Infeasible
        );
        let (_, mut log) = s
            .apply(&events(json!([{"type": "need_updated",
                "need": {"id": "n1", "kind": "water", "demand": {"l": 5}}}])))
            .unwrap();
        assert_eq!(s.plan(), &want, "after a re-plan (warm {warm})");
        let (_, more) = s
            .apply(&events(
                json!([{"type": "dispatched", "need": "n1", "resource": "r1"}]),
            ))
            .unwrap();
        log.extend(more);
        assert_eq!(s.dispatches().len(), 1);
        let r = Session::rebuilt(&init, warm, 0, &log).expect("the log replays");
        assert_eq!(r.plan(), s.plan(), "warm {warm}");
        assert_eq!(r.dispatches(), s.dispatches());
        assert_eq!(r.report().summary.status, s.report().summary.status);
    }
}

/// A warm session that meets an indivisible need re-plans cold while one is open and goes
/// back to the warm flow at the first re-plan point with none open (its withdrawal, its
/// dispatch, or an update that makes it divisible) and every quantity whole again (a cold
/// plan's fractional share, once dispatched, leaves an open part off the flow's integers until
/// that need is closed too). Before, one such need put the session on cold re-plans for good:
/// at 5,000 x 1,000 links, seconds an event instead of milliseconds.
/// After every batch the plan is a from-scratch optimum (the very plan while cold), and the
/// replayed log gives the very plan: the replay goes back to the flow at the same point.
#[test]
fn a_warm_session_goes_back_to_the_flow_once_no_indivisible_need_is_open() {
    let dims: &[&str] = &["team_h"];
    let (mut left, mut back) = (0, 0);
    for seed in 0..8u64 {
        let mut rng = SplitMix64::new(7100 + seed);
        let (init, mut s) = warm_one_component(&mut rng, dims, 30, false);
        assert!(s.warm_work().is_some(), "seed {seed}");
        let (mut log, mut next) = (Vec::new(), 0);
        for step in 0..30 {
            let mut batch = random_batch(&mut rng, &s, &mut next, dims);
            let whole: Vec<String> = s
                .needs()
                .filter(|(n, open)| n.indivisible && *open > 0.0)
                .map(|(n, _)| n.id.clone())
                .collect();
            if let Some(id) = whole.first().filter(|_| rng.chance(0.4)) {
                // Dispatched where it is planned, else withdrawn.
                let planned = s.plan().keys().find(|(_, n)| n == id).cloned();
                batch.as_array_mut().unwrap().push(match planned {
                    Some((r, n)) => json!({"type": "dispatched", "need": n, "resource": r}),
                    None => json!({"type": "need_withdrawn", "id": id}),
                });
            } else if rng.chance(0.2) {
                next += 1;
                let mut n = need(&mut rng, &format!("whole{next}"), dims);
                n["indivisible"] = json!(true);
                batch
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "need_added", "need": n}));
            }
            one_kind(&mut batch);
            let was_warm = s.warm_work().is_some();
            if !apply_logged(&mut s, &batch, &mut log, seed) {
                continue;
            }
            let ctx = format!("seed {seed} step {step} {batch}");
            // The warm model takes whole quantities (these are whole numbers until a cold
            // plan's fractional share is dispatched) and no indivisible need.
            let residual = s.residual_scenario();
            let whole_numbers = residual
                .needs()
                .iter()
                .flat_map(|n| n.demand.values())
                .chain(
                    residual
                        .resources()
                        .iter()
                        .flat_map(|r| r.capacity.values()),
                )
                .all(|x| x.fract() == 0.0);
            let indivisible = residual.needs().iter().any(|n| n.indivisible);
            let warm = s.warm_work().is_some();
            assert!(
                !(warm && indivisible),
                "{ctx}: warm with an indivisible need open"
            );
            assert!(
                warm || indivisible || !whole_numbers,
                "{ctx}: cold with nothing to refuse"
            );
            left += usize::from(was_warm && !warm);
            back += usize::from(!was_warm && warm);
            assert_optimal_plan(&s, &ctx);
            if !was_warm && warm {
                assert_replays(&init, &log, &s, seed);
            }
        }
        assert_replays(&init, &log, &s, seed);
    }
    assert!(
        left >= 4 && back >= 4,
        "left the flow {left} times, back {back}"
    );
}

/// The whole session's value and group ratios (by community), straight from SPEC's
/// formulas over the session's own state: a need's `y` is the part its dispatches served
/// plus its open part times the shares the plan gives that part.
fn whole_session(s: &Session) -> (f64, BTreeMap<String, f64>) {
    let mut planned: BTreeMap<&str, f64> = BTreeMap::new();
    for ((_, n), share) in s.plan() {
        *planned.entry(n.as_str()).or_default() += share;
    }
    let mut value = 0.0;
    let mut groups: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (n, open) in s.needs() {
        let y = (1.0 - open) + open * planned.get(n.id.as_str()).copied().unwrap_or(0.0);
        value += n.priority * y;
        let g = groups.entry(n.community.clone()).or_default();
        g.0 += n.priority * y;
        g.1 += n.priority;
    }
    let ratios = groups.into_iter().map(|(g, (v, p))| (g, v / p)).collect();
    (value, ratios)
}

/// Dispatching a match the plan proposes commits part of an optimal plan, so under a
/// fairness rule the rest stays feasible and the optimum stays what it was: the whole
/// session's smallest group ratio (max-min) and its value (max-min and `min_share`). Before,
/// the residual scenario's groups counted only open parts: a dispatched half had to reach
/// the group's share again, a `min_share` plan turned infeasible and a max-min one
/// lowered another group (the reviewer's two-community tank).
#[test]
fn dispatching_a_proposed_match_keeps_the_fair_optimum() {
    // The reviewer's case: one tank of 10 l, two communities needing 10 l each.
    let tank = |fairness: Value| {
        scenario_from_value(&json!({
            "resources": [{"id": "r1", "community": "a", "kind": "w", "capacity": {"l": 10}}],
            "needs": [
                {"id": "na", "community": "a", "kind": "w", "demand": {"l": 10}},
                {"id": "nb", "community": "b", "kind": "w", "demand": {"l": 10}}],
            "policy": {"fairness": fairness}}))
        .unwrap()
    };
    for fairness in [json!({"min_share": 0.5}), json!("maxmin"), json!("leximin")] {
        let mut s = Session::new(&tank(fairness.clone())).unwrap();
        s.apply(
            &parse_events(&json!([{"type": "dispatched", "need": "na", "resource": "r1"}]))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            s.report().summary.status,
            commonsnet_engine::Status::Optimal,
            "{fairness}"
        );
        let (_, ratios) = whole_session(&s);
        assert!(
            (ratios["a"] - 0.5).abs() < 1e-6 && (ratios["b"] - 0.5).abs() < 1e-6,
            "{fairness}: {ratios:?}"
        );
        // The summary's ratios are the whole session's too.
        let summary = s.report().summary.groups;
        assert!(
            (summary["a"] - 0.5).abs() < 1e-6 && (summary["b"] - 0.5).abs() < 1e-6,
            "{fairness}: {summary:?}"
        );
        s.apply(
            &parse_events(&json!([{"type": "dispatched", "need": "nb", "resource": "r1"}]))
                .unwrap(),
        )
        .unwrap_or_else(|e| panic!("{fairness}: the other half is still proposed: {e:?}"));
    }
    // Random sessions, random proposed matches dispatched one at a time.
    let mut dispatches = 0;
    for seed in 0..16u64 {
        let mut rng = SplitMix64::new(4200 + seed);
        let mut v = initial(&mut rng, &["team_h"], true, true);
        if seed % 2 == 1 {
            v["policy"]["fairness"] = json!({"min_share": 0.2});
        }
        let init = scenario_from_value(&v).unwrap();
        let mut s = Session::new(&init).unwrap();
        if s.report().summary.status != commonsnet_engine::Status::Optimal {
            continue;
        }
        for step in 0..6 {
            let ctx = format!("seed {seed} step {step}");
            let proposed: Vec<(String, String)> = s
                .plan()
                .iter()
                .filter(|(_, &share)| share > 1e-6)
                .map(|(k, _)| k.clone())
                .collect();
            if proposed.is_empty() {
                break;
            }
            let (r, n) = &proposed[rng.int(0, proposed.len() as u64 - 1) as usize];
            let (value, ratios) = whole_session(&s);
            let smallest = ratios.values().copied().fold(f64::INFINITY, f64::min);
            s.apply(
                &parse_events(&json!([{"type": "dispatched", "need": n, "resource": r}])).unwrap(),
            )
            .unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
            dispatches += 1;
            assert_eq!(
                s.report().summary.status,
                commonsnet_engine::Status::Optimal,
                "{ctx}"
            );
            let (after, ratios) = whole_session(&s);
            let now = ratios.values().copied().fold(f64::INFINITY, f64::min);
            assert!(
                (after - value).abs() <= 1e-5 * value.max(1.0),
                "{ctx}: value {value} -> {after}"
            );
            if seed % 2 == 0 {
                assert!(
                    (now - smallest).abs() <= 1e-5,
                    "{ctx}: smallest ratio {smallest} -> {now}"
                );
            }
            let summary = s.report().summary.groups;
            for (g, r) in &ratios {
                assert!(
                    (summary[g] - r).abs() <= 1e-6,
                    "{ctx}: summary {g} {} vs {r}",
                    summary[g]
                );
            }
        }
    }
    assert!(dispatches >= 40, "only {dispatches} dispatches tried");
}

/// A need with dispatches on record cannot gain a dimension by an update: its open part is one
/// share of every dimension, so the dispatches (which carry none of the new one) counted for
/// nothing and the plan proposed again what they had delivered (3 l out, then 8 l more for a
/// need of 8). The update is refused, naming the dimension, and nothing changes; one that
/// keeps the dimensions is applied, and a need without dispatches may gain one.
#[test]
fn a_dispatched_need_cannot_gain_a_dimension() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "r1", "kind": "w", "capacity": {"l": 3, "kg": 5}}],
        "needs": [
            {"id": "n1", "kind": "w", "demand": {"l": 8}},
            {"id": "n2", "kind": "w", "demand": {"l": 1}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let share = s.plan()[&("r1".to_string(), "n1".to_string())];
    assert!(share > 0.0);
    s.apply(
        &parse_events(&json!([{"type": "dispatched", "need": "n1", "resource": "r1"}])).unwrap(),
    )
    .unwrap();
    let before = (s.plan().clone(), s.dispatches().to_vec());
    let err = s
        .apply(
            &parse_events(&json!([{"type": "need_updated", "need":
            {"id": "n1", "kind": "w", "demand": {"l": 8, "kg": 1}}}]))
            .unwrap(),
        )
        .unwrap_err();
    assert!(
        matches!(&err.refusal, Refusal::DimensionAddedUnderDispatch { need, dimension } if need == "n1" && dimension == "kg"),
        "{err:?}"
    );
    assert_eq!(
        err.refusal
            .field(
                &parse_events(&json!([{"type": "need_updated", "need":
            {"id": "n1", "kind": "w", "demand": {"l": 8, "kg": 1}}}]))
                .unwrap()[0]
            )
            .as_deref(),
        Some("need.demand.kg")
    );
    assert_eq!((s.plan().clone(), s.dispatches().to_vec()), before);
    s.apply(
        &parse_events(&json!([{"type": "need_updated", "need":
        {"id": "n1", "kind": "w", "demand": {"l": 6}}}]))
        .unwrap(),
    )
    .unwrap();
    s.apply(
        &parse_events(&json!([{"type": "need_updated", "need":
        {"id": "n2", "kind": "w", "demand": {"l": 1, "kg": 1}}}]))
        .unwrap(),
    )
    .unwrap();
}

/// Proportional fairness in a session counts what was dispatched too, in every cutting-plane
/// round: after `d` is dispatched, `a` and `b` still split the shared 5 units 1:4, the
/// optimum of `3 ln((1 + 2 y_a) / 3) + 2 ln(y_b)` with `y_a + y_b = 1/2` (the review's case:
/// the warm rounds' cuts left out the dispatched part, and the plan went to 0.054 : 0.446).
#[test]
fn proportional_fairness_counts_dispatches_in_every_round() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "R", "kind": "w", "capacity": {"u": 5}},
            {"id": "P", "kind": "p", "capacity": {"u": 5}}],
        "needs": [
            {"id": "d", "community": "A", "kind": "p", "demand": {"u": 5}, "priority": 1},
            {"id": "a", "community": "A", "kind": "w", "demand": {"u": 10}, "priority": 2},
            {"id": "b", "community": "B", "kind": "w", "demand": {"u": 10}, "priority": 2}],
        "policy": {"objective": "proportional"}}))
    .unwrap();
    let best = 3.0 * (1.2f64 / 3.0).ln() + 2.0 * 0.4f64.ln();
    let objective = |s: &Session| {
        let (_, ratios) = whole_session(s);
        3.0 * ratios["A"].ln() + 2.0 * ratios["B"].ln()
    };
    let mut s = Session::new(&init).unwrap();
    assert!((objective(&s) - best).abs() < 1e-4, "{}", objective(&s));
    s.apply(&parse_events(&json!([{"type": "dispatched", "need": "d", "resource": "P"}])).unwrap())
        .unwrap();
    assert!(
        (objective(&s) - best).abs() < 1e-4,
        "after the dispatch: {} vs {best}",
        objective(&s)
    );
    let share = |n: &str| {
        s.plan()
            .get(&("R".to_string(), n.to_string()))
            .copied()
            .unwrap_or(0.0)
    };
    assert!(
        (share("a") - 0.1).abs() < 0.01 && (share("b") - 0.4).abs() < 0.01,
        "{:?}",
        s.plan()
    );
}

/// A batch whose second update of a dispatched need is refused leaves the first unapplied
/// too (all or nothing; the review's batch applied its first update in place, and a restart
/// undid it), and an update that gives back a dimension the dispatch carries is applied.
#[test]
fn a_refused_update_of_a_dispatched_need_takes_its_batch_with_it() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "r", "kind": "w", "capacity": {"u": 10, "v": 10, "kg": 5}}],
        "needs": [{"id": "n", "kind": "w", "demand": {"u": 4, "v": 2}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    s.apply(&parse_events(&json!([{"type": "dispatched", "need": "n", "resource": "r"}])).unwrap())
        .unwrap();
    let demand = |s: &Session| s.need("n").unwrap().demand.clone();
    let before = demand(&s);
    let err = s
        .apply(&parse_events(&json!([
            {"type": "need_updated", "need": {"id": "n", "kind": "w", "demand": {"u": 3, "v": 2}}},
            {"type": "need_updated", "need": {"id": "n", "kind": "w", "demand": {"u": 3, "v": 2, "kg": 1}}}])).unwrap())
        .unwrap_err();
    assert_eq!(err.index, 1);
    assert!(
        matches!(err.refusal, Refusal::DimensionAddedUnderDispatch { .. }),
        "{err:?}"
    );
    assert_eq!(demand(&s), before, "the first update went with the batch");
    // v dropped and given back: the dispatch carries it, so nothing counts for nothing.
    s.apply(
        &parse_events(&json!([
        {"type": "need_updated", "need": {"id": "n", "kind": "w", "demand": {"u": 4}}},
        {"type": "need_updated", "need": {"id": "n", "kind": "w", "demand": {"u": 4, "v": 2}}}]))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(demand(&s), before);
}

/// An update that would leave an indivisible need partly dispatched is refused (SPEC: served
/// whole by one resource; the review's update of a need out whole on r1 from 4 to 10 units
/// planned the other 6 on r2): raised past what is out, or made indivisible with part of it
/// out. Nothing changes, the field is `need.demand` or `need.indivisible`; an update that
/// what is out still covers is applied.
#[test]
fn an_indivisible_need_is_never_left_partly_dispatched() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "r1", "kind": "w", "capacity": {"u": 4}},
            {"id": "r2", "kind": "w", "capacity": {"u": 6}}],
        "needs": [
            {"id": "n1", "kind": "w", "demand": {"u": 4}, "indivisible": true},
            {"id": "n2", "kind": "w", "demand": {"u": 8}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let on = |s: &Session, r: &str, n: &str| {
        s.plan()
            .get(&(r.to_string(), n.to_string()))
            .copied()
            .unwrap_or(0.0)
    };
    let r = if on(&s, "r1", "n1") > 0.0 { "r1" } else { "r2" };
    assert_eq!(on(&s, r, "n1"), 1.0);
    s.apply(&parse_events(&json!([{"type": "dispatched", "need": "n1", "resource": r}])).unwrap())
        .unwrap();
    let n2_on_r2 = on(&s, "r2", "n2");
    assert!(n2_on_r2 > 0.0, "{:?}", s.plan());
    // n2 partly out, to be made indivisible below.
    s.apply(
        &parse_events(&json!([{"type": "dispatched", "need": "n2", "resource": "r2"}])).unwrap(),
    )
    .unwrap();
    let before = (s.plan().clone(), s.dispatches().to_vec());
    let needs_before: Vec<_> = s.needs().map(|(n, open)| (n.clone(), open)).collect();
    for (update, need, served, field) in [
        (
            json!({"id": "n1", "kind": "w", "demand": {"u": 10}, "indivisible": true}),
            "n1",
            0.4,
            "need.demand",
        ),
        (
            json!({"id": "n2", "kind": "w", "demand": {"u": 8}, "indivisible": true}),
            "n2",
            n2_on_r2,
            "need.indivisible",
        ),
    ] {
        let events = parse_events(&json!([{"type": "need_updated", "need": update}])).unwrap();
        let err = s.apply(&events).unwrap_err();
        assert!(
            matches!(&err.refusal, Refusal::IndivisiblePartlyDispatched { need: n, served: f, .. }
                if n == need && (f - served).abs() < 1e-9),
            "{err:?}"
        );
        assert_eq!(err.refusal.field(&events[0]).as_deref(), Some(field));
        assert_eq!((s.plan().clone(), s.dispatches().to_vec()), before);
        let needs_now: Vec<_> = s.needs().map(|(n, open)| (n.clone(), open)).collect();
        assert_eq!(needs_now, needs_before);
    }
    // Lowered: what is out covers it all.
    s.apply(
        &parse_events(&json!([{"type": "need_updated", "need":
            {"id": "n1", "kind": "w", "demand": {"u": 3}, "indivisible": true}}]))
        .unwrap(),
    )
    .unwrap();
    assert!(s.needs().any(|(n, open)| n.id == "n1" && open == 0.0));
}

/// A dispatch whose plan share falls short of the need's open part by no more than the LP's
/// holds allow (`2e-7 max(1, P) / p`, P the open needs' total priority) closes the need: the
/// review's dispatch of a plan's 0.9999983 left 1.7e-6 open, which later re-plans served at a
/// whole link's cost. A need of 10,000 units beside a resource of 9,999.9 (share 0.99999) is
/// closed by its dispatch among needs of total priority 100 (band 2e-5), and stays open (1e-5
/// of it, planned on a new resource) when it is the only need (band 2e-7). A need raised
/// after its dispatch keeps what was added open, however small (the diff review: a 1e-4 cut on
/// every open part dropped a bed of 10,001).
#[test]
fn a_dispatch_short_of_whole_within_the_holds_closes_its_need() {
    let open = |s: &Session, id: &str| s.needs().find(|(n, _)| n.id == id).unwrap().1;
    let room = |s: &mut Session| {
        s.apply(
            &parse_events(&json!([{"type": "resource_added", "resource":
                {"id": "r2", "kind": "w", "capacity": {"u": 10}}}]))
            .unwrap(),
        )
        .unwrap();
    };
    for others in [99, 0] {
        let mut needs = vec![json!({"id": "n", "kind": "w", "demand": {"u": 10000}})];
        needs.extend(
            (0..others).map(|i| json!({"id": format!("o{i}"), "kind": "v", "demand": {"u": 1}})),
        );
        let init = scenario_from_value(&json!({
            "resources": [
                {"id": "r1", "kind": "w", "capacity": {"u": 9999.9}},
                {"id": "q", "kind": "v", "capacity": {"u": 1000}}],
            "needs": needs}))
        .unwrap();
        let mut s = Session::new(&init).unwrap();
        let share = s.plan()[&("r1".to_string(), "n".to_string())];
        assert!((share - 0.99999).abs() < 1e-12, "{share}");
        s.apply(
            &parse_events(&json!([{"type": "dispatched", "need": "n", "resource": "r1"}])).unwrap(),
        )
        .unwrap();
        room(&mut s);
        let planned = s.plan().keys().any(|(_, n)| n == "n");
        if others > 0 {
            assert_eq!(open(&s, "n"), 0.0);
            assert!(!planned, "{:?}", s.plan());
        } else {
            assert!(
                (open(&s, "n") - 1e-5).abs() < 1e-12,
                "{} {:?}",
                open(&s, "n"),
                s.dispatches()
            );
            assert!(planned, "{:?}", s.plan());
        }
    }
    // Raised after a whole dispatch: the bed added is open and planned.
    let init = scenario_from_value(&json!({
        "resources": [{"id": "r1", "kind": "w", "capacity": {"u": 10000}}],
        "needs": [{"id": "n", "kind": "w", "demand": {"u": 10000}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    s.apply(
        &parse_events(&json!([{"type": "dispatched", "need": "n", "resource": "r1"}])).unwrap(),
    )
    .unwrap();
    room(&mut s);
    s.apply(
        &parse_events(&json!([{"type": "need_updated", "need":
            {"id": "n", "kind": "w", "demand": {"u": 10001}}}]))
        .unwrap(),
    )
    .unwrap();
    assert!(
        (open(&s, "n") - 1.0 / 10001.0).abs() < 1e-12,
        "{}",
        open(&s, "n")
    );
    assert!(s.plan().keys().any(|(_, n)| n == "n"), "{:?}", s.plan());
}

/// A share moved by rounding alone is not answered as a change. A max-min session re-plans
/// its LP whole at every event and reaches the same optimum by another path, moving shares
/// in their last digits (a review counted 98 of 156 answered changes under 1e-9); each
/// change answered now appears, goes, moves a start or moves by more than a billionth, and
/// the plan keeps the solver's values (a solve from scratch, within 1e-9).
#[test]
fn shares_moved_by_rounding_alone_are_not_answered_as_changes() {
    let mut v = commonsnet_datasets::generate::generate("disaster", 1.0, 1).unwrap();
    v["policy"]["fairness"] = json!("maxmin");
    let init = scenario_from_value(&v).unwrap();
    let mut s = Session::new(&init).unwrap();
    let needs = v["needs"].as_array().unwrap().clone();
    let mut answered = 0;
    for k in 0..6 {
        let event = if k % 2 == 0 {
            let mut need = needs[k % needs.len()].clone();
            need["id"] = json!(format!("copy-{k}"));
            json!([{"type": "need_added", "need": need}])
        } else {
            let ((resource, need), _) = s.plan().iter().next().expect("a match");
            json!([{"type": "dispatched", "need": need, "resource": resource}])
        };
        let (out, _) = s.apply(&parse_events(&event).unwrap()).unwrap();
        for c in &out.changed {
            assert!(
                c.before == 0.0
                    || c.after == 0.0
                    || (c.after - c.before).abs() > 1e-9
                    || c.before_start_h != c.after_start_h,
                "event {k}: {c:?}"
            );
        }
        answered += out.changed.len();
        assert_same_plan(s.plan(), &scratch_plan(&s), &format!("event {k}"));
    }
    assert!(answered > 0, "the events changed the plan");
}

/// Moves too small to answer one by one add up to an answered change: the answer compares
/// with the share the client was last told, so a client that applies the answers holds the
/// plan within 1e-9 (a review lowered a capacity by 1.5e-6 four hundred times, moving the
/// share 7.5e-10 each time: nothing was answered and the client was 3e-7 off).
#[test]
fn small_moves_one_way_add_up_to_an_answered_change() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1000}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 2000}}]}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let key = ("r".to_string(), "n".to_string());
    let mut held = s.plan()[&key];
    assert_eq!(held, 0.5);
    let mut answered = 0;
    for k in 1..=400 {
        let capacity = 1000.0 - 1.5e-6 * k as f64;
        let event = json!([{"type": "resource_updated", "resource":
            {"id": "r", "kind": "k", "capacity": {"u": capacity}}}]);
        let (out, _) = s.apply(&parse_events(&event).unwrap()).unwrap();
        for c in &out.changed {
            assert!(
                (c.before - held).abs() < 1e-15,
                "event {k}: {c:?} told {held}"
            );
            held = c.after;
            answered += 1;
        }
        let plan = s.plan()[&key];
        assert!(
            (plan - capacity / 2000.0).abs() < 1e-12,
            "event {k}: {plan}"
        );
        assert!(
            (plan - held).abs() <= 1e-9,
            "event {k}: plan {plan}, held {held}"
        );
    }
    // About one answer for every two events: each moves the share by 7.5e-10.
    assert!((150..=250).contains(&answered), "{answered} answers");
}

/// A greedy session's plan has no duals, as a greedy solve's: `duals: "none"` and null
/// marginal values and shadow prices, in the report and in a need's why (it said `lp` and
/// 0, which reads as "worth nothing"); a need without a planned share says 0, not -0.
#[test]
fn a_greedy_session_has_no_duals() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "t1", "kind": "k", "capacity": {"u": 1}, "skills": ["y"]},
            {"id": "t2", "kind": "k", "capacity": {"u": 1}, "cost": 5}],
        "needs": [
            {"id": "n1", "kind": "k", "demand": {"u": 1}, "priority": 2},
            {"id": "n2", "kind": "k", "demand": {"u": 1}, "required_skills": ["y"]}],
        "policy": {"solver": "greedy"}}))
    .unwrap();
    let solved = Report::new(&solve_with(&init, &SolveOptions::default()));
    let s = Session::new(&init).unwrap();
    let live = s.report();
    use commonsnet_engine::solve::Duals;
    for report in [&solved, &live] {
        assert_eq!(report.summary.duals, Duals::None);
        assert!(report.needs.iter().all(|n| n.marginal_value.is_none()));
        assert!(report
            .resources
            .iter()
            .all(|r| r.shadow_price.iter().all(Option::is_none)));
    }
    assert_eq!(live.allocations.len(), solved.allocations.len());
    let why = serde_json::to_value(s.why("n2").unwrap()).unwrap();
    assert_eq!(why["marginal_value"], Value::Null);
    assert_eq!(why["planned_share_of_open_part"].to_string(), "0.0");
    // Without greedy a session is priced.
    let lp = scenario_from_value(&json!({
        "resources": [{"id": "t1", "kind": "k", "capacity": {"u": 1}}],
        "needs": [{"id": "n1", "kind": "k", "demand": {"u": 1}}]}))
    .unwrap();
    assert_eq!(Session::new(&lp).unwrap().report().summary.duals, Duals::Lp);
}
