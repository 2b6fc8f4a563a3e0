//! Live sessions over time (SPEC section 2 "Allocation over time" in a section 4 session):
//! the plan after any event sequence equals a from-scratch solve of the residual scenario at
//! the same clock, never starts anything before the clock, never moves a confirmed booking,
//! never over-occupies a resource beyond what confirmed bookings already hold, and a late
//! return lists exactly the confirmed bookings it leaves over capacity.

use commonsnet_engine::batch::SplitMix64;
use commonsnet_engine::session::{parse_events, Applied, Dispatch, Event, Refusal, Session};
use commonsnet_engine::{scenario_from_value, solve_with, Report, SolveOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const REUSABLE: [&str; 2] = ["units", "beds"];

fn point(rng: &mut SplitMix64) -> (f64, f64) {
    (59.3 + rng.range(-0.03, 0.03), 18.0 + rng.range(-0.05, 0.05))
}

/// A tool (one unit, lent whole) or a shelter site (beds, reusable; meals, consumable).
fn resource(rng: &mut SplitMix64, id: &str, kind: &str) -> Value {
    let (lat, lon) = point(rng);
    let capacity = if kind == "drill" {
        json!({"units": 1})
    } else {
        json!({"beds": rng.int(2, 4), "meals": rng.int(6, 20)})
    };
    let mut r = json!({"id": id, "community": format!("c{}", rng.int(0, 1)), "kind": kind,
        "lat": lat, "lon": lon, "capacity": capacity, "cost": rng.int(0, 3),
        "turnaround_h": rng.int(0, 2)});
    if rng.chance(0.2) {
        r["available_from"] = json!(rng.int(0, 10));
    }
    r
}

fn need(rng: &mut SplitMix64, id: &str, kind: &str, clock: f64) -> Value {
    let (lat, lon) = point(rng);
    let earliest = clock.ceil() + rng.int(0, 16) as f64;
    let mut n = json!({"id": id, "community": format!("c{}", rng.int(0, 1)), "kind": kind,
        "lat": lat, "lon": lon, "priority": rng.int(1, 5), "earliest": earliest});
    if kind == "shelter" && rng.chance(0.2) {
        // A need without a duration: it occupies its beds for good from its earliest hour,
        // and is out of reach once the clock passes its deadline (link rule 5).
        n["demand"] = json!({"beds": 1, "meals": rng.int(1, 4)});
        if rng.chance(0.5) {
            n["deadline"] = json!(earliest + rng.int(0, 8) as f64);
        }
        return n;
    }
    n["duration_h"] = json!(2 * rng.int(1, 4));
    if kind == "drill" {
        n["demand"] = json!({"units": 1});
        n["indivisible"] = json!(true);
    } else {
        n["demand"] = json!({"beds": rng.int(1, 2), "meals": rng.int(1, 4)});
    }
    if rng.chance(0.6) {
        n["deadline"] = json!(earliest + 2.0 * rng.int(1, 4) as f64);
    }
    n
}

fn kind_of(rng: &mut SplitMix64) -> &'static str {
    ["drill", "shelter"][rng.int(0, 1) as usize]
}

fn initial(rng: &mut SplitMix64, fairness: bool) -> Value {
    // Both kinds from the start: each reusable dimension must be some resource's.
    let mut res: Vec<Value> = (0..5)
        .map(|i| {
            let k = match i {
                0 => "drill",
                1 => "shelter",
                _ => kind_of(rng),
            };
            resource(rng, &format!("r{i}"), k)
        })
        .collect();
    // Half the time a shelf of identical drills, which the solver pools (`timed::Pooled`),
    // after a shelter: a re-plan of their component (whose first resource a session gives
    // every dimension) must pool them as a solve of the whole does.
    if rng.chance(0.5) {
        for i in 5..5 + rng.int(1, 2) {
            let mut copy = res[0].clone();
            copy["id"] = json!(format!("r{i}"));
            res.push(copy);
        }
        res.swap(0, 1);
    }
    let needs: Vec<Value> = (0..10)
        .map(|i| {
            let k = kind_of(rng);
            need(rng, &format!("n{i}"), k, 0.0)
        })
        .collect();
    let mut policy = json!({"reusable": REUSABLE, "slot_h": 2, "max_distance_km": 8});
    if fairness {
        policy["fairness"] = json!("maxmin");
    }
    json!({"name": "lending", "resources": res, "needs": needs, "policy": policy})
}

/// The plan of a from-scratch solve of the session's residual scenario: shares and the
/// starts of timed needs.
type Plan = (BTreeMap<(String, String), f64>, BTreeMap<String, f64>);

fn scratch(s: &Session) -> Plan {
    let opts = SolveOptions {
        threads: Some(1),
        ..SolveOptions::default()
    };
    let scenario = s.residual_scenario();
    let r = Report::new(&solve_with(&scenario, &opts));
    let shares = r
        .allocations
        .iter()
        .map(|a| ((a.resource.clone(), a.need.clone()), a.share))
        .collect();
    let starts = r
        .needs
        .iter()
        .filter_map(|n| Some((n.id.clone(), n.start_h?)))
        .collect();
    (shares, starts)
}

fn assert_same(s: &Session, ctx: &str) {
    let (shares, starts) = scratch(s);
    let keys: BTreeSet<_> = shares.keys().chain(s.plan().keys()).collect();
    for k in keys {
        let (x, y) = (
            s.plan().get(k).copied().unwrap_or(0.0),
            shares.get(k).copied().unwrap_or(0.0),
        );
        assert!(
            (x - y).abs() < 1e-9,
            "{ctx}: {k:?} incremental {x} vs scratch {y}"
        );
    }
    assert_eq!(s.planned_starts(), &starts, "{ctx}: planned starts");
    // The session's report puts each share on its planned start.
    let report: BTreeMap<(String, String), (f64, Option<f64>)> = s
        .report()
        .allocations
        .iter()
        .map(|a| ((a.resource.clone(), a.need.clone()), (a.share, a.start_h)))
        .collect();
    let planned: BTreeMap<(String, String), (f64, Option<f64>)> = s
        .plan()
        .iter()
        .map(|(k, &share)| (k.clone(), (share, s.planned_starts().get(&k.1).copied())))
        .collect();
    assert_eq!(report, planned, "{ctx}: report");
}

/// When dispatch `d` occupies its resource (SPEC: `[start, end + turnaround)`, or until its
/// return plus the turnaround), written out independently of the session's own code.
fn occupation(s: &Session, d: &Dispatch) -> Option<(f64, f64)> {
    let turnaround = s.resource(&d.resource)?.turnaround_h.unwrap_or(0.0);
    let start = d.start_h?;
    let end = match d.returned_h {
        Some(back) => back + turnaround,
        None if d.active => d.end_h.map_or(f64::INFINITY, |e| e + turnaround),
        None => return None,
    };
    Some((start, end))
}

/// The confirmed bookings (active, not returned) whose resource holds more than its capacity
/// at some instant of theirs: the load changes only where an occupation begins, so those
/// instants within the booking are the ones to look at.
fn naive_conflicts(s: &Session) -> BTreeSet<(String, String, u64)> {
    let mut out = BTreeSet::new();
    for b in s.dispatches() {
        if !b.active || b.returned_h.is_some() {
            continue;
        }
        let Some((bs, be)) = occupation(s, b) else {
            continue;
        };
        let r = s.resource(&b.resource).unwrap();
        // Outside the resource's window as it stands, from the clock on.
        let now = s.clock().unwrap_or(f64::NEG_INFINITY);
        let past_end = be.is_finite() && r.available_until.is_some_and(|u| be > u.max(now) + 1e-9);
        let before_start = r.available_from.is_some_and(|f| bs < f - 1e-9 && f > now);
        if past_end || before_start {
            out.insert((b.need.clone(), b.resource.clone(), bs.to_bits()));
            continue;
        }
        let others: Vec<(&Dispatch, f64, f64)> = s
            .dispatches()
            .iter()
            .filter(|d| d.resource == b.resource)
            .filter_map(|d| occupation(s, d).map(|(a, e)| (d, a, e)))
            .collect();
        let instants =
            std::iter::once(bs).chain(others.iter().map(|o| o.1).filter(|&t| t > bs && t < be));
        'instants: for t in instants {
            for dim in REUSABLE {
                let Some(&cap) = r.capacity.get(dim) else {
                    continue;
                };
                if b.amounts.get(dim).copied().unwrap_or(0.0) <= 0.0 {
                    continue;
                }
                let load: f64 = others
                    .iter()
                    .filter(|o| o.1 <= t && t < o.2)
                    .map(|o| o.0.amounts.get(dim).copied().unwrap_or(0.0))
                    .sum();
                if load > cap + 1e-6 * cap.max(1.0) {
                    out.insert((b.need.clone(), b.resource.clone(), bs.to_bits()));
                    break 'instants;
                }
            }
        }
    }
    out.extend(naive_consumable_conflicts(s, |d| REUSABLE.contains(&d)));
    out
}

/// The bookings still out (active, not returned; over time, not started by the clock) that
/// use a consumable dimension of which the session's dispatches use more than the resource's
/// capacity as it stands now: what a timed session has dispatched is used up, returned or
/// not; a snapshot session's returned dispatches give their amounts back. `reusable` says
/// which dimensions are held over time instead (none for a snapshot session).
pub(crate) fn naive_consumable_conflicts(
    s: &Session,
    reusable: impl Fn(&str) -> bool,
) -> BTreeSet<(String, String, u64)> {
    let timed = s.dispatches().iter().any(|d| d.start_h.is_some());
    let mut out = BTreeSet::new();
    for b in s.dispatches() {
        let started = s.clock().zip(b.start_h).is_some_and(|(now, t)| t < now);
        if !b.active || b.returned_h.is_some() || (timed && started) {
            continue;
        }
        let r = s.resource(&b.resource).unwrap();
        for (dim, &a) in &b.amounts {
            if reusable(dim) || a <= 0.0 {
                continue;
            }
            let cap = r.capacity.get(dim).copied().unwrap_or(0.0);
            let used: f64 = s
                .dispatches()
                .iter()
                .filter(|d| d.resource == b.resource && (timed || d.active))
                .map(|d| d.amounts.get(dim).copied().unwrap_or(0.0))
                .sum();
            if used > cap + 1e-6 * cap.max(1.0) {
                let start = b.start_h.map_or(0, f64::to_bits);
                out.insert((b.need.clone(), b.resource.clone(), start));
            }
        }
    }
    out
}

/// Every instant from the clock on: what the plan books of a reusable dimension of a
/// resource, plus what confirmed bookings hold there, is within capacity wherever the
/// confirmed bookings alone are.
fn assert_within_capacity(s: &Session, ctx: &str) {
    let scenario = s.residual_scenario();
    let now = s.clock().unwrap_or(f64::NEG_INFINITY);
    for r in scenario.resources() {
        let full = s.resource(&r.id).unwrap();
        let turnaround = full.turnaround_h.unwrap_or(0.0);
        let mut spans: Vec<(f64, f64, BTreeMap<String, f64>, bool)> = Vec::new();
        for ((rid, nid), share) in s.plan() {
            if *rid != r.id {
                continue;
            }
            let n = scenario.needs().iter().find(|n| n.id == *nid).unwrap();
            let amounts = n
                .demand
                .iter()
                .map(|(d, q)| (d.clone(), q * share))
                .collect();
            let Some(duration) = n.duration_h else {
                // Without a duration: from its earliest hour for good.
                let start = n.earliest.unwrap_or(0.0);
                spans.push((start, f64::INFINITY, amounts, false));
                continue;
            };
            let start = s.planned_starts()[nid];
            assert!(
                start >= now,
                "{ctx}: {nid} planned at {start} before the clock {now}"
            );
            spans.push((start, start + duration + turnaround, amounts, false));
        }
        for d in s.dispatches().iter().filter(|d| d.resource == r.id) {
            if let Some((a, e)) = occupation(s, d) {
                spans.push((a, e, d.amounts.clone(), true));
            }
        }
        for dim in REUSABLE {
            let Some(&cap) = full.capacity.get(dim) else {
                continue;
            };
            let instants = spans
                .iter()
                .filter(|x| !x.3 && x.0 >= now)
                .map(|x| x.0)
                .chain(now.is_finite().then_some(now));
            for t in instants {
                let load = |held: bool| -> f64 {
                    spans
                        .iter()
                        .filter(|x| x.0 <= t && t < x.1 && (held || !x.3))
                        .map(|x| x.2.get(dim).copied().unwrap_or(0.0))
                        .sum()
                };
                let held = load(true) - load(false);
                if held <= cap {
                    assert!(
                        load(true) <= cap + 1e-6,
                        "{ctx}: {} {dim} at {t}: {} > {cap}",
                        r.id,
                        load(true)
                    );
                }
            }
        }
    }
}

/// A random next batch for the session's state; any event may move the clock (0-4 h).
fn random_batch(rng: &mut SplitMix64, s: &Session, next: &mut usize) -> Value {
    let clock = s.clock().unwrap_or(0.0);
    let mut events = Vec::new();
    let needs: Vec<String> = s.needs().map(|(n, _)| n.id.clone()).collect();
    let resources: Vec<(String, String)> = s
        .resources()
        .iter()
        .map(|r| (r.id.clone(), r.kind.clone()))
        .collect();
    let plan: Vec<(String, String)> = s.plan().keys().cloned().collect();
    let active: Vec<&Dispatch> = s.dispatches().iter().filter(|d| d.active).collect();
    let pick = |rng: &mut SplitMix64, len: usize| rng.int(0, len as u64 - 1) as usize;
    let mut touched = BTreeSet::new();
    let at = &mut clock.clone();
    for _ in 0..rng.int(1, 3) {
        *next += 1;
        let id = format!("x{next}");
        let mut ev = match rng.int(0, 11) {
            0 | 1 => {
                let k = kind_of(rng);
                json!({"type": "need_added", "need": need(rng, &id, k, clock)})
            }
            2 if !needs.is_empty() => {
                let n = &needs[pick(rng, needs.len())];
                if !touched.insert(n.clone()) {
                    continue;
                }
                json!({"type": "need_withdrawn", "id": n})
            }
            3 if !needs.is_empty() => {
                let n = &needs[pick(rng, needs.len())];
                if !touched.insert(n.clone()) {
                    continue;
                }
                let kind = s.need(n).unwrap().kind.clone();
                json!({"type": "need_updated", "need": need(rng, n, &kind, clock)})
            }
            4 if rng.chance(0.8) || resources.is_empty() => {
                let k = kind_of(rng);
                json!({"type": "resource_added", "resource": resource(rng, &id, k)})
            }
            4 => {
                let (r, _) = &resources[pick(rng, resources.len())];
                json!({"type": "resource_withdrawn", "id": r})
            }
            5 if !resources.is_empty() => {
                let (r, kind) = &resources[pick(rng, resources.len())];
                json!({"type": "resource_updated", "resource": resource(rng, r, kind)})
            }
            6..=8 if !plan.is_empty() => {
                let (r, n) = &plan[pick(rng, plan.len())];
                if !touched.insert(n.clone()) {
                    continue;
                }
                json!({"type": "dispatched", "need": n, "resource": r})
            }
            9 | 10 if !active.is_empty() => {
                let d = active[pick(rng, active.len())];
                json!({"type": "resource_returned", "id": d.resource})
            }
            11 if !active.is_empty() => {
                let d = active[pick(rng, active.len())];
                if !touched.insert(d.need.clone()) {
                    continue;
                }
                json!({"type": "dispatch_released", "need": d.need, "resource": d.resource})
            }
            _ => continue,
        };
        if rng.chance(0.4) {
            // Odd hours too: the clock need not sit on the slot grid; any event may move it.
            *at += rng.int(0, 4) as f64;
            ev["at"] = json!(*at);
        }
        events.push(ev);
    }
    Value::Array(events)
}

#[test]
fn timed_session_plan_equals_from_scratch_at_the_clock() {
    let mut conflicts_seen = 0;
    let mut overdue_seen = 0;
    let mut late_returns = 0;
    for seed in 0..40u64 {
        let mut rng = SplitMix64::new(seed);
        let init = scenario_from_value(&initial(&mut rng, seed % 10 == 7)).unwrap();
        let mut s = Session::new(&init).unwrap();
        assert_same(&s, &format!("seed {seed} start"));
        let mut log: Vec<Applied> = Vec::new();
        let mut next = 0;
        for step in 0..30 {
            let ctx = format!("seed {seed} step {step}");
            let batch = random_batch(&mut rng, &s, &mut next);
            let events: Vec<Event> = parse_events(&batch).unwrap();
            let before = s.dispatches().to_vec();
            let state_before = (s.plan().clone(), s.planned_starts().clone(), s.clock());
            let conflicts_before = naive_conflicts(&s);
            match s.apply(&events) {
                Ok((out, applied)) => {
                    for d in s.dispatches() {
                        assert!(d.start_h.is_some(), "{ctx}: {d:?} after {batch}");
                    }
                    log.extend(applied);
                    // Confirmed bookings never move: every one from before is there as it
                    // was (a return only records when), unless the batch released it.
                    let released: BTreeSet<(String, String)> = events
                        .iter()
                        .filter_map(|e| match &e.kind {
                            commonsnet_engine::session::EventKind::DispatchReleased {
                                need,
                                resource,
                            } => Some((need.clone(), resource.clone())),
                            _ => None,
                        })
                        .collect();
                    for d in &before {
                        if released.contains(&(d.need.clone(), d.resource.clone())) && d.active {
                            continue;
                        }
                        // Its fraction is of the need's demand as it stands: a need_updated
                        // changes it, not what the booking holds.
                        let kept = s.dispatches().iter().any(|x| {
                            (&x.need, &x.resource, x.start_h, &x.amounts)
                                == (&d.need, &d.resource, d.start_h, &d.amounts)
                        });
                        assert!(kept, "{ctx}: booking {d:?} moved or dropped");
                    }
                    for d in s.dispatches() {
                        if let (Some(back), Some(end)) = (d.returned_h, d.end_h) {
                            late_returns += usize::from(back > end);
                        }
                    }
                    // A batch lists exactly the bookings it put in conflict.
                    let now = naive_conflicts(&s);
                    let listed: BTreeSet<(String, String, u64)> = out
                        .conflicts
                        .iter()
                        .map(|c| {
                            let b = &c.booking;
                            (
                                b.need.clone(),
                                b.resource.clone(),
                                b.start_h
                                    .unwrap_or_else(|| panic!("{ctx}: {c:?}"))
                                    .to_bits(),
                            )
                        })
                        .collect();
                    let fresh: BTreeSet<_> = now.difference(&conflicts_before).cloned().collect();
                    assert_eq!(listed, fresh, "{ctx}: conflicts");
                    // And the session lists every booking in conflict now, old ones too.
                    let open: BTreeSet<(String, String, u64)> = s
                        .conflicts()
                        .iter()
                        .map(|c| {
                            let b = &c.booking;
                            let start = b.start_h.expect("a timed booking has a start");
                            (b.need.clone(), b.resource.clone(), start.to_bits())
                        })
                        .collect();
                    assert_eq!(open, now, "{ctx}: open conflicts");
                    conflicts_seen += listed.len();
                    for c in &out.conflicts {
                        let timed_need = s.need(&c.booking.need).map(|n| n.duration_h.is_some());
                        assert!(
                            timed_need.is_some() || c.proposal.is_empty(),
                            "{ctx}: a proposal for a withdrawn need"
                        );
                        for p in &c.proposal {
                            assert!(p.share > 0.0 && p.share <= 1.0 + 1e-9, "{ctx}: {p:?}");
                            assert_eq!(
                                Some(p.start_h.is_some()),
                                timed_need,
                                "{ctx}: {p:?} has a start exactly when its need has a duration"
                            );
                            if let (Some(at), Some(now)) = (p.start_h, s.clock()) {
                                assert!(at >= now, "{ctx}: {p:?} before the clock");
                            }
                        }
                        assert!(
                            !c.proposal.is_empty() || c.unserved_why.is_some(),
                            "{ctx}: a conflict with neither a proposal nor a reason"
                        );
                    }
                }
                Err(e) => {
                    // Bookings too: a release of one gone or started, a withdrawal with
                    // loans out.
                    assert!(
                        crate::sessions::within_batch_conflict(&e.refusal)
                            || matches!(
                                e.refusal,
                                Refusal::NoDispatch { .. }
                                    | Refusal::BookingStarted { .. }
                                    | Refusal::ActiveDispatches(_)
                            ),
                        "{ctx}: {}",
                        e.refusal
                    );
                    assert_eq!(
                        s.dispatches(),
                        &before[..],
                        "{ctx}: a refused batch changed state"
                    );
                    let state = (s.plan().clone(), s.planned_starts().clone(), s.clock());
                    assert_eq!(
                        state, state_before,
                        "{ctx}: a refused batch changed the plan"
                    );
                    continue;
                }
            }
            assert_same(&s, &ctx);
            assert_within_capacity(&s, &ctx);
            overdue_seen += assert_overdue(&s, &ctx);
        }
        // Replaying the log (clock moves included) rebuilds the same state and plan.
        let mut r = Session::new(&init).unwrap();
        for a in &log {
            r.replay(a).unwrap();
        }
        r.end_replay();
        assert_eq!(s.dispatches(), r.dispatches(), "seed {seed} replay");
        assert_eq!(s.clock(), r.clock(), "seed {seed} replay");
        assert_eq!(s.plan(), r.plan(), "seed {seed} replay");
        assert_eq!(s.planned_starts(), r.planned_starts(), "seed {seed} replay");
    }
    assert!(late_returns > 0, "no late return exercised");
    assert!(conflicts_seen > 0, "no conflict exercised");
    assert!(overdue_seen > 0, "no overdue booking exercised");
}

/// The bookings the session lists as overdue are, by the naive reading: the active ones whose
/// end is before the clock, less those in conflict (listed there instead). How many it lists.
fn assert_overdue(s: &Session, ctx: &str) -> usize {
    let conflicts = naive_conflicts(s);
    let naive: Vec<&Dispatch> = match s.clock() {
        None => Vec::new(),
        Some(now) => s
            .dispatches()
            .iter()
            .filter(|d| d.active && d.end_h.is_some_and(|end| end < now))
            .filter(|d| {
                let key = |bs: f64| (d.need.clone(), d.resource.clone(), bs.to_bits());
                !d.start_h.is_some_and(|bs| conflicts.contains(&key(bs)))
            })
            .collect(),
    };
    assert_eq!(s.overdue(), naive, "{ctx}: overdue bookings");
    naive.len()
}

fn events(v: Value) -> Vec<Event> {
    parse_events(&v).unwrap()
}

/// A stay the resource's window no longer holds is a conflict (a hall's availability ended
/// at 20 under a stay of 10-34, and nothing was said); one over by the clock is not.
#[test]
fn a_window_shrunk_under_a_booking_lists_it() {
    let hall = |until: f64| {
        json!({"id": "hall", "kind": "bed", "capacity": {"beds": 2},
        "available_until": until})
    };
    let init = scenario_from_value(&json!({
        "resources": [hall(100.0)],
        "needs": [
            {"id": "a", "kind": "bed", "demand": {"beds": 1}, "earliest": 0, "duration_h": 4},
            {"id": "g", "kind": "bed", "demand": {"beds": 1}, "earliest": 10, "duration_h": 24}],
        "policy": {"reusable": ["beds"]}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    s.apply(&events(json!([
        {"type": "dispatched", "need": "a", "resource": "hall", "at": 0},
        {"type": "dispatched", "need": "g", "resource": "hall"}])))
        .unwrap();
    let (out, _) = s
        .apply(&events(
            json!([{"type": "resource_updated", "at": 5, "resource": hall(20.0)}]),
        ))
        .unwrap();
    let listed: Vec<&str> = out
        .conflicts
        .iter()
        .map(|c| c.booking.need.as_str())
        .collect();
    assert_eq!(listed, ["g"]);
    assert_eq!(naive_conflicts(&s).len(), 1);
    // Back to 40: g's stay fits again.
    s.apply(&events(
        json!([{"type": "resource_updated", "at": 6, "resource": hall(40.0)}]),
    ))
    .unwrap();
    assert!(s.conflicts().is_empty(), "{:?}", s.conflicts());
}

/// A loan planned for hour 5 and handed over at 5.5 is booked from 5.5, on the item the
/// plan showed (it was booked at the next grid start, 9, with the drill recorded free from
/// 5.5 to 9, and proposed to another need at 6 while it was out).
#[test]
fn a_late_hand_over_books_from_the_clock() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "drill", "kind": "drill", "capacity": {"units": 1}},
            {"id": "drill2", "kind": "drill", "capacity": {"units": 1}, "cost": 2}],
        "needs": [{"id": "a", "kind": "drill", "demand": {"units": 1}, "duration_h": 4,
                   "earliest": 5, "deadline": 20}],
        "policy": {"reusable": ["units"], "slot_h": 4}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    assert_eq!(s.planned_starts()["a"], 5.0);
    let (out, _) = s
        .apply(&events(json!([
            {"type": "dispatched", "need": "a", "resource": "drill", "at": 5.5}])))
        .unwrap();
    let d = &out.dispatched[0];
    assert_eq!(
        (d.resource.as_str(), d.start_h, d.end_h),
        ("drill", Some(5.5), Some(9.5))
    );
    // A need for 6 to 8 gets the other drill: the first is out.
    s.apply(&events(json!([{"type": "need_added", "at": 5.6, "need":
        {"id": "b", "kind": "drill", "demand": {"units": 1}, "duration_h": 2,
         "earliest": 6, "deadline": 7}}])))
        .unwrap();
    let key = |r: &str| (r.to_string(), "b".to_string());
    assert_eq!(s.plan().get(&key("drill")), None, "{:?}", s.plan());
    // In full (within the cost stage's hold on the value).
    assert!(
        s.plan()
            .get(&key("drill2"))
            .is_some_and(|&x| x > 1.0 - 1e-6),
        "{:?}",
        s.plan()
    );
    assert_same(&s, "after a late hand-over");
}

/// A need without a duration keeps link rule 5 at the clock: once the clock passes its
/// deadline no resource arrives in time, so it is not planned, and a dispatch of it is
/// refused (it was planned, and dispatched with start 10, after its deadline 5).
#[test]
fn a_need_past_its_deadline_is_not_planned() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "van", "kind": "van", "capacity": {"seats": 4}}],
        "needs": [{"id": "w", "kind": "van", "demand": {"seats": 1}, "deadline": 5}],
        "policy": {"reusable": ["seats"]}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let key = |n: &str| ("van".to_string(), n.to_string());
    assert!(s.plan().contains_key(&key("w")));
    // The clock moved by events elsewhere (an update of the van would touch w anyway): at
    // the deadline it still arrives in time.
    let elsewhere = |id: &str, at: f64| {
        json!([{"type": "resource_added", "at": at,
        "resource": {"id": id, "kind": "boat", "capacity": {"seats": 1}}}])
    };
    s.apply(&events(elsewhere("b1", 5.0))).unwrap();
    assert!(s.plan().contains_key(&key("w")), "{:?}", s.plan());
    // Past it: w is not planned, and cannot be dispatched.
    s.apply(&events(elsewhere("b2", 10.0))).unwrap();
    assert!(s.plan().is_empty(), "{:?}", s.plan());
    let e = s
        .apply(&events(
            json!([{"type": "dispatched", "need": "w", "resource": "van"}]),
        ))
        .unwrap_err();
    assert!(
        e.refusal.to_string().contains("not a proposed match"),
        "{}",
        e.refusal
    );
    // The same as a solve of the residual scenario from scratch.
    assert_same(&s, "past the deadline");
}

/// One drill lent three times; it comes back late from the first loan, so the second (which
/// it overlaps) is in conflict and the third (which it does not) is not. The conflict names
/// what the re-plan would do instead; the booking stays until the coordinator releases it.
#[test]
fn a_late_return_lists_the_bookings_it_overlaps_and_moves_none() {
    let init = scenario_from_value(&json!({
        "resources": [
            {"id": "d1", "kind": "drill", "capacity": {"units": 1}, "cost": 0},
            {"id": "d2", "kind": "drill", "capacity": {"units": 1}, "cost": 5,
             "available_from": 17}],
        "needs": [
            {"id": "a", "kind": "drill", "demand": {"units": 1}, "indivisible": true,
             "earliest": 0, "duration_h": 10},
            {"id": "b", "kind": "drill", "demand": {"units": 1}, "indivisible": true,
             "earliest": 12, "deadline": 19, "duration_h": 5},
            {"id": "c", "kind": "drill", "demand": {"units": 1}, "indivisible": true,
             "earliest": 20, "duration_h": 4}],
        "policy": {"reusable": ["units"], "slot_h": 1}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let key = |r: &str, n: &str| (r.to_string(), n.to_string());
    for n in ["a", "b", "c"] {
        assert_eq!(
            s.plan().get(&key("d1", n)),
            Some(&1.0),
            "{n} on the free drill"
        );
    }
    assert_eq!(
        s.planned_starts()["b"],
        12.0,
        "b as early as the drill is back"
    );
    let (out, _) = s
        .apply(&events(json!([
            {"type": "dispatched", "need": "a", "resource": "d1", "at": 0},
            {"type": "dispatched", "need": "b", "resource": "d1"},
            {"type": "dispatched", "need": "c", "resource": "d1"}])))
        .unwrap();
    let booked: Vec<(Option<f64>, Option<f64>)> = out
        .dispatched
        .iter()
        .map(|d| (d.start_h, d.end_h))
        .collect();
    assert_eq!(
        booked,
        [
            (Some(0.0), Some(10.0)),
            (Some(12.0), Some(17.0)),
            (Some(20.0), Some(24.0))
        ]
    );
    // The drill comes back from a at 18, 8 hours late: b's loan (12-17) cannot hold, c's
    // (from 20) can.
    let (out, _) = s
        .apply(&events(json!([
            {"type": "resource_returned", "id": "d1", "at": 18}])))
        .unwrap();
    assert_eq!(out.conflicts.len(), 1, "{:?}", out.conflicts);
    let c = &out.conflicts[0];
    assert_eq!(
        (c.booking.need.as_str(), c.booking.start_h),
        ("b", Some(12.0))
    );
    // Released, b could start at 18 on the second drill (its deadline is 19; d1 is booked
    // by c from 20, too soon for 5 hours).
    assert_eq!(c.proposal.len(), 1);
    assert_eq!(
        (
            c.proposal[0].resource.as_str(),
            c.proposal[0].start_h,
            c.proposal[0].share
        ),
        ("d2", Some(18.0), 1.0)
    );
    // Nothing moved: a is back at 18, b and c keep their bookings.
    let d: Vec<(&str, bool, Option<f64>)> = s
        .dispatches()
        .iter()
        .map(|d| (d.need.as_str(), d.active, d.returned_h))
        .collect();
    assert_eq!(
        d,
        [
            ("a", false, Some(18.0)),
            ("b", true, None),
            ("c", true, None)
        ]
    );
    assert!(s.plan().is_empty(), "every need is booked: {:?}", s.plan());
    // The coordinator releases b: it is re-planned on d2 at 18, and the conflict is gone.
    let (out, _) = s
        .apply(&events(json!([
            {"type": "dispatch_released", "need": "b", "resource": "d1", "at": 18}])))
        .unwrap();
    assert!(out.conflicts.is_empty());
    assert_eq!(s.plan().get(&key("d2", "b")), Some(&1.0));
    assert_eq!(s.planned_starts()["b"], 18.0);
    assert!(out
        .changed
        .iter()
        .any(|m| m.need == "b" && m.resource == "d2" && m.after_start_h == Some(18.0)));
    assert!(naive_conflicts(&s).is_empty());
}

#[test]
fn the_clock_never_goes_back_and_bad_times_name_their_field() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [{"id": "a", "kind": "drill", "demand": {"units": 1}, "earliest": 0,
                   "deadline": 10, "duration_h": 4}],
        "policy": {"reusable": ["units"], "slot_h": 1}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    assert_eq!(s.planned_starts()["a"], 0.0);
    s.apply(&events(json!([{"type": "resource_updated", "resource":
        {"id": "d1", "kind": "drill", "capacity": {"units": 1}}, "at": 5.5}])))
        .unwrap();
    // No start before the clock: its window open, the need can start at the clock itself.
    assert_eq!(s.planned_starts()["a"], 5.5);
    let e = s
        .apply(&events(
            json!([{"type": "need_withdrawn", "id": "a", "at": 5}]),
        ))
        .unwrap_err();
    assert_eq!(
        e.refusal,
        Refusal::ClockBackwards {
            at: 5.0,
            clock: 5.5
        }
    );
    assert!(s.has_need("a"));
    // Past the deadline nothing can start: unserved, and why says so.
    s.apply(&events(json!([{"type": "need_updated", "need":
        {"id": "a", "kind": "drill", "demand": {"units": 1}, "earliest": 0, "deadline": 10,
         "duration_h": 4}, "at": 10.5}])))
        .unwrap();
    assert!(s.plan().is_empty());
    let why = s.why("a").unwrap();
    assert_eq!(why.why.coverage, 0.0);
    let candidates = why
        .why
        .candidates
        .expect("the rule that excludes each resource");
    assert!(
        candidates[0].explanation.contains("ready at hour 10.50"),
        "{}",
        candidates[0].explanation
    );
    let bad = parse_events(&json!([{"type": "need_withdrawn", "id": "a", "at": -1},
        {"type": "dispatch_released", "need": "a"}]))
    .unwrap_err();
    let fields: Vec<String> = bad.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        fields,
        [
            "events[0].at: expected hours from the scenario's start, 0 to 876000",
            "events[1].resource: missing required field"
        ]
    );
}

/// Two stays at one shelter that begin at the same hour are two loans: one return ends one of
/// them (the first booked), and two returns in one batch end both; a withdrawn need's id
/// cannot be taken again while its bookings are on record.
#[test]
fn one_return_ends_one_stay_and_booked_ids_are_not_reused() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "hall", "kind": "shelter", "capacity": {"beds": 4}}],
        "needs": [
            {"id": "f1", "kind": "shelter", "demand": {"beds": 2}, "earliest": 0, "duration_h": 24},
            {"id": "f2", "kind": "shelter", "demand": {"beds": 2}, "earliest": 0, "duration_h": 48}],
        "policy": {"reusable": ["beds"]}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    s.apply(&events(json!([
        {"type": "dispatched", "need": "f1", "resource": "hall", "at": 0},
        {"type": "dispatched", "need": "f2", "resource": "hall"}])))
        .unwrap();
    let back = |s: &Session| -> Vec<(String, Option<f64>)> {
        s.dispatches()
            .iter()
            .map(|d| (d.need.clone(), d.returned_h))
            .collect()
    };
    s.apply(&events(
        json!([{"type": "resource_returned", "id": "hall", "at": 20}]),
    ))
    .unwrap();
    assert_eq!(
        back(&s),
        [("f1".to_string(), Some(20.0)), ("f2".to_string(), None)]
    );
    // Withdrawn with a booking out, f2 keeps its id until the booking ends.
    s.apply(&events(json!([{"type": "need_withdrawn", "id": "f2"}])))
        .unwrap();
    let e = s
        .apply(&events(json!([{"type": "need_added", "need":
            {"id": "f2", "kind": "shelter", "demand": {"beds": 1}, "earliest": 30, "duration_h": 5}}])))
        .unwrap_err();
    assert_eq!(e.refusal, Refusal::NeedIdDispatched("f2".into()));

    // Two returns in one batch: both stays end.
    let mut s = Session::new(&init).unwrap();
    s.apply(&events(json!([
        {"type": "dispatched", "need": "f1", "resource": "hall", "at": 0},
        {"type": "dispatched", "need": "f2", "resource": "hall"}])))
        .unwrap();
    s.apply(&events(json!([
        {"type": "resource_returned", "id": "hall", "at": 20},
        {"type": "resource_returned", "id": "hall", "at": 30}])))
        .unwrap();
    assert_eq!(
        back(&s),
        [
            ("f1".to_string(), Some(20.0)),
            ("f2".to_string(), Some(30.0))
        ]
    );
    // A third has nothing left to return: refused, nothing changed.
    let e = s
        .apply(&events(
            json!([{"type": "resource_returned", "id": "hall", "at": 31}]),
        ))
        .unwrap_err();
    assert_eq!(e.refusal, Refusal::NothingToReturn("hall".into()));
    assert_eq!(s.clock(), Some(30.0));
}

/// An event's need gets the window checks of the session's own policy, as a scenario's needs
/// do: a window of 10^12 hourly starts (which the link rules would walk) or a duration too
/// short to tell from its last start is refused, naming the field, and the session is
/// unchanged; a batch that would take the time model past its size is refused whole.
#[test]
fn event_needs_get_the_time_checks_of_the_session_policy() {
    let drill = |id: &str, deadline: f64, duration: f64| {
        json!({"id": id, "kind": "drill", "demand": {"units": 1}, "earliest": 0,
               "deadline": deadline, "duration_h": duration})
    };
    let init = scenario_from_value(&json!({
        "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [drill("a", 10.0, 4.0)],
        "policy": {"reusable": ["units"], "slot_h": 1}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let before = s.plan().clone();
    let refused = |s: &mut Session, batch: Value| s.apply(&events(batch)).unwrap_err();

    let e = refused(
        &mut s,
        json!([{"type": "need_added", "need": drill("b", 1e12, 1.0)}]),
    );
    assert_eq!(e.index, 0);
    let Refusal::NeedWindow {
        need,
        field,
        message,
    } = &e.refusal
    else {
        panic!("{:?}", e.refusal)
    };
    assert_eq!((need.as_str(), field.as_str()), ("b", "deadline"));
    assert!(message.contains("more than 1000 starts"), "{message}");
    assert!(!s.has_need("b"));

    // Fine at hour 0, a booking of no length at the last start (999): refused, as the
    // scenario's validator refuses it.
    let short = drill("b", 999.0, 1e-14);
    let e = refused(
        &mut s,
        json!([{"type": "need_updated", "need": drill("a", 10.0, 4.0)},
                                   {"type": "need_added", "need": short.clone()}]),
    );
    assert_eq!(e.index, 1);
    assert!(
        matches!(&e.refusal, Refusal::NeedWindow { field, .. } if field == "duration_h"),
        "{:?}",
        e.refusal
    );
    let invalid = scenario_from_value(&json!({
        "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [short],
        "policy": {"reusable": ["units"], "slot_h": 1}}))
    .unwrap_err();
    assert_eq!(invalid.issues[0].field.as_deref(), Some("duration_h"));
    assert!(
        invalid.issues[0].message.contains("at hour 999"),
        "{}",
        invalid.issues[0].message
    );

    // 5,000,000 (link, start) pairs at most: 1,000 starts x 2 resources x 2,501 needs
    // passes that; each need alone is within its window.
    let mut batch: Vec<Value> = vec![json!({"type": "resource_added", "resource":
        {"id": "d2", "kind": "drill", "capacity": {"units": 1}}})];
    batch.extend((0..2_501).map(|i| {
        json!({"type": "need_added",
        "need": drill(&format!("n{i}"), 999.0, 1.0)})
    }));
    let e = refused(&mut s, Value::Array(batch));
    assert!(
        matches!(&e.refusal, Refusal::TimedModelTooLarge(m) if m.contains("more than 5000000")),
        "{:?}",
        e.refusal
    );
    assert!(!s.has_need("n0"));
    assert_eq!(s.plan(), &before);
    // A window within bounds is taken.
    s.apply(&events(
        json!([{"type": "need_added", "need": drill("c", 20.0, 2.0)}]),
    ))
    .unwrap();
    assert!(s.has_need("c"));
}

/// The size bounds are an admission rule of a batch as a whole: a batch that adds a need and
/// withdraws another stays within them, though its first event alone would not. Replay takes
/// the logged events one at a time and must not refuse it (the rebuild failed, and the
/// session answered 500 after every restart).
#[test]
fn a_batch_admitted_whole_is_replayed_event_by_event() {
    let beds: Vec<Value> = (0..251)
        .map(|i| {
            json!({"id": format!("bed{i}"), "kind": "bed", "community": "far",
            "capacity": {"beds": 1}})
        })
        .collect();
    // 10,000 starts x 251 beds: 2,510,000 (link, start) pairs; two such needs pass 5,000,000.
    let stay = |id: &str| {
        json!({"id": id, "kind": "bed", "community": "home", "demand": {"beds": 1},
            "duration_h": 1, "earliest": 0, "deadline": 9_999})
    };
    let init = scenario_from_value(&json!({"resources": beds, "needs": [stay("a")],
        "policy": {"reusable": ["beds"], "max_starts": 10_000, "cross_community": false}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let (_, log) = s
        .apply(&events(json!([
            {"type": "need_added", "need": stay("b")},
            {"type": "need_withdrawn", "id": "a"}
        ])))
        .unwrap();
    assert!(s.has_need("b") && !s.has_need("a"));
    let r = Session::rebuilt(&init, false, 0, &log).expect("the log replays");
    assert!(r.has_need("b") && !r.has_need("a"));
    assert_eq!(r.plan(), s.plan());
    // The batch's first event alone is refused live.
    let e = Session::new(&init)
        .unwrap()
        .apply(&events(json!([{"type": "need_added", "need": stay("b")}])))
        .unwrap_err();
    assert!(
        matches!(e.refusal, Refusal::TimedModelTooLarge(_)),
        "{:?}",
        e.refusal
    );
}

/// Identical unit items (three drills) are pooled alike in a live re-plan of their component
/// and in a rebuild's solve of the whole session: the van before them, which gives a part its
/// session's dimensions at 0, and its own need kept the two apart, so a match shown live was
/// another after a restart (and its dispatch refused).
#[test]
fn pooled_items_are_planned_alike_live_and_rebuilt() {
    let drill = |id: &str, earliest: f64, deadline: f64| {
        json!({"id": id, "kind": "drill", "demand": {"units": 1}, "indivisible": true,
            "duration_h": 2, "earliest": earliest, "deadline": deadline})
    };
    let item = |id: &str| json!({"id": id, "kind": "drill", "capacity": {"units": 1}});
    let init = scenario_from_value(&json!({
        "resources": [{"id": "a0", "kind": "van", "capacity": {"seats": 4}},
            item("d1"), item("d2"), item("d3")],
        "needs": [drill("n1", 0.0, 0.0), drill("n2", 0.0, 2.0), drill("n3", 1.0, 3.0),
            {"id": "v1", "kind": "van", "demand": {"seats": 2}}],
        "policy": {"reusable": ["units"], "slot_h": 1}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let mut log = Vec::new();
    for need in [drill("n4", 0.0, 4.0), drill("n5", 0.0, 1.0)] {
        let (_, applied) = s
            .apply(&events(json!([{"type": "need_added", "need": need}])))
            .unwrap();
        log.extend(applied);
    }
    let r = Session::rebuilt(&init, false, 0, &log).expect("the log replays");
    assert_eq!(r.plan(), s.plan());
    assert_eq!(r.report().needs, s.report().needs, "the starts too");
    assert_eq!(s.plan().len(), 6, "every need served: {:?}", s.plan());
}

/// A return may name the need whose loan came back: with two stays out on a shelter, the
/// short one back at hour 5 ends that stay, not the earlier long one (which an unnamed return
/// takes). A need without a loan of it out is refused, and the log replays to the same
/// bookings. Without time, a named return brings back that need's dispatch only.
#[test]
fn a_return_naming_its_need_ends_that_loan() {
    let stay = |id: &str, from: f64, hours: f64| {
        json!({"id": id, "kind": "bed", "demand": {"beds": 1}, "duration_h": hours,
            "earliest": from, "deadline": from})
    };
    let init = scenario_from_value(&json!({
        "resources": [{"id": "s1", "kind": "bed", "capacity": {"beds": 2}, "turnaround_h": 1}],
        "needs": [stay("f1", 0.0, 10.0), stay("f2", 1.0, 2.0)],
        "policy": {"reusable": ["beds"]}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let mut log = Vec::new();
    for batch in [
        json!([{"type": "dispatched", "need": "f1", "resource": "s1", "at": 0}]),
        json!([{"type": "dispatched", "need": "f2", "resource": "s1", "at": 1}]),
        json!([{"type": "resource_returned", "id": "s1", "need": "f2", "at": 5}]),
    ] {
        let (_, applied) = s.apply(&events(batch)).unwrap();
        log.extend(applied);
    }
    let state = |s: &Session| -> Vec<(String, bool, Option<f64>)> {
        s.dispatches()
            .iter()
            .map(|d| (d.need.clone(), d.active, d.returned_h))
            .collect()
    };
    assert_eq!(
        state(&s),
        [
            ("f1".to_string(), true, None),
            ("f2".to_string(), false, Some(5.0))
        ]
    );
    let r = Session::rebuilt(&init, false, 0, &log).expect("the log replays");
    assert_eq!(state(&r), state(&s));
    let e = s
        .apply(&events(
            json!([{"type": "resource_returned", "id": "s1", "need": "f2"}]),
        ))
        .unwrap_err();
    assert_eq!(
        e.refusal,
        Refusal::NoLoan {
            need: "f2".into(),
            resource: "s1".into()
        }
    );

    let untimed = scenario_from_value(&json!({
        "resources": [{"id": "van", "kind": "k", "capacity": {"u": 2}}],
        "needs": [{"id": "a", "kind": "k", "demand": {"u": 1}},
            {"id": "b", "kind": "k", "demand": {"u": 1}}]}))
    .unwrap();
    let mut s = Session::new(&untimed).unwrap();
    s.apply(&events(json!([
        {"type": "dispatched", "need": "a", "resource": "van"},
        {"type": "dispatched", "need": "b", "resource": "van"},
        {"type": "resource_returned", "id": "van", "need": "b"}
    ])))
    .unwrap();
    let active = |s: &Session| -> Vec<(String, bool)> {
        s.dispatches()
            .iter()
            .map(|d| (d.need.clone(), d.active))
            .collect()
    };
    assert_eq!(active(&s), [("a".into(), true), ("b".into(), false)]);
    // In one batch with a withdrawal of the resource: refused while another loan is out
    // (nothing applied), accepted once the named return leaves none.
    let mut both = Session::new(&untimed).unwrap();
    both.apply(&events(json!([
        {"type": "dispatched", "need": "a", "resource": "van"},
        {"type": "dispatched", "need": "b", "resource": "van"}
    ])))
    .unwrap();
    let back_and_gone = |need: &str| {
        events(
            json!([{"type": "resource_returned", "id": "van", "need": need},
            {"type": "resource_withdrawn", "id": "van"}]),
        )
    };
    let e = both.apply(&back_and_gone("a")).unwrap_err();
    assert_eq!(e.refusal, Refusal::ActiveDispatches("van".into()));
    assert_eq!(active(&both), [("a".into(), true), ("b".into(), true)]);
    s.apply(&back_and_gone("a")).unwrap();
    assert!(s.dispatches().iter().all(|d| !d.active));
    assert!(s.residual_scenario().resources().is_empty());
}

/// A dispatched loan's end plus the turnaround is kept to 1e-9 h as the solve keeps it
/// (`model::snap_time`): 0.1 + 0.2 was 0.30000000000000004 in the session's occupation, so
/// after `a` was dispatched the re-plan dropped `b` at 0.3, which a fresh solve and the first
/// plan both serve, and dispatching `b` was refused.
#[test]
fn a_dispatch_keeps_decimal_times_as_the_solve_does() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1},
                       "turnaround_h": 0.2}],
        "needs": [
            {"id": "a", "kind": "drill", "demand": {"units": 1}, "earliest": 0,
             "duration_h": 0.1},
            {"id": "b", "kind": "drill", "demand": {"units": 1}, "earliest": 0.3,
             "duration_h": 1}],
        "policy": {"reusable": ["units"], "slot_h": 0.1}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    let key = |n: &str| ("d1".to_string(), n.to_string());
    assert_eq!(s.plan().get(&key("a")), Some(&1.0));
    assert_eq!(s.plan().get(&key("b")), Some(&1.0));
    s.apply(&events(json!([
        {"type": "dispatched", "need": "a", "resource": "d1", "at": 0}])))
        .unwrap();
    assert_eq!(s.plan().get(&key("b")), Some(&1.0), "{:?}", s.plan());
    let (out, _) = s
        .apply(&events(json!([
            {"type": "dispatched", "need": "b", "resource": "d1"}])))
        .unwrap();
    assert_eq!(out.dispatched[0].start_h, Some(0.3));
}

/// A session whose part is too large to build (32 one-unit needs free to start at any of
/// 1,000 hours on 32 items: a MIP of 1,024,000 columns) plans nothing there, and says why:
/// `failure` carries the solve's message (what to change), as a scenario's solve answers it
/// (422). Once the part fits (needs withdrawn), the re-plan answers and the failure is gone;
/// a rebuild from the log says the same at each step.
#[test]
fn a_part_too_large_to_build_says_why_until_it_fits() {
    let init = scenario_from_value(&crate::common::hourly_loans(32)).unwrap();
    let mut s = Session::new(&init).unwrap();
    let failure = s.failure().expect("a failure is said").to_string();
    assert!(
        failure.contains("is a MIP") && failure.contains("more than 500000"),
        "{failure}"
    );
    assert!(s.plan().is_empty());
    let withdraw: Vec<Value> = (4..32)
        .map(|i| json!({"type": "need_withdrawn", "id": format!("n{i}")}))
        .collect();
    let (_, log) = s.apply(&events(Value::Array(withdraw))).unwrap();
    assert_eq!(s.failure(), None);
    assert!(!s.plan().is_empty());
    let r = Session::rebuilt(&init, false, 0, &log).unwrap();
    assert_eq!((r.failure(), r.plan()), (None, s.plan()));
    let r = Session::rebuilt(&init, false, 0, &[]).unwrap();
    assert_eq!(r.failure(), Some(failure.as_str()));
}

/// A booking that has started by the clock cannot be released: its family is in the beds and
/// its meals were handed out, so a release that freed them let the plan give them to another
/// need at once (the reviewer's shelter). It is refused, naming its start, and the state is as
/// it was; a booking not started yet is released as before; a rebuild from the log replays a
/// release the log holds without judging it again.
#[test]
fn a_started_booking_cannot_be_released() {
    let init = scenario_from_value(&json!({
        "resources": [{"id": "h1", "kind": "s", "capacity": {"beds": 4, "meals": 10}}],
        "needs": [
            {"id": "f1", "kind": "s", "demand": {"beds": 4, "meals": 10}, "duration_h": 5,
             "earliest": 0, "deadline": 10},
            {"id": "f2", "kind": "s", "demand": {"beds": 4, "meals": 10}, "duration_h": 5,
             "earliest": 0, "deadline": 30}],
        "policy": {"reusable": ["beds"]}}))
    .unwrap();
    let mut s = Session::new(&init).unwrap();
    s.apply(&events(
        json!([{"type": "dispatched", "need": "f2", "resource": "h1", "at": 0}]),
    ))
    .unwrap();
    assert_eq!(s.dispatches()[0].start_h, Some(0.0));
    let before = (s.plan().clone(), s.dispatches().to_vec(), s.clock());
    let err = s
        .apply(&events(json!([
            {"type": "dispatch_released", "need": "f2", "resource": "h1", "at": 3}])))
        .unwrap_err();
    assert!(
        matches!(&err.refusal, Refusal::BookingStarted { start, clock, .. } if *start == 0.0 && *clock == 3.0),
        "{err:?}"
    );
    assert!(err
        .refusal
        .to_string()
        .contains("return it (resource_returned)"));
    assert_eq!(
        (s.plan().clone(), s.dispatches().to_vec(), s.clock()),
        before
    );
    // At the hour it starts it has not started: released, and the plan may use the shelter.
    let mut t = Session::new(&init).unwrap();
    let (_, mut log) = t
        .apply(&events(
            json!([{"type": "dispatched", "need": "f2", "resource": "h1", "at": 0}]),
        ))
        .unwrap();
    let (_, more) = t
        .apply(&events(json!([
            {"type": "dispatch_released", "need": "f2", "resource": "h1", "at": 0}])))
        .unwrap();
    log.extend(more);
    assert!(t.dispatches().iter().all(|d| !d.active));
    // A log that holds a release of a started booking (written before this rule) replays.
    let mut old_log = vec![
        Applied::Dispatched {
            dispatch: s.dispatches()[0].clone(),
        },
        Applied::Clock { at: 3.0 },
        Applied::DispatchReleased {
            need: "f2".into(),
            resource: "h1".into(),
        },
    ];
    let mut replayed = Session::new(&init).unwrap();
    for a in old_log.drain(..) {
        replayed.replay(&a).unwrap();
    }
    replayed.end_replay();
    assert!(replayed.dispatches().iter().all(|d| !d.active));
}

/// A re-plan that reaches its time limit makes a plan that depends on timing: the session
/// logs an exact checkpoint after it, and a rebuild installs it and re-plans only at the
/// points after it, so the rebuilt plan is the one answered whatever the rebuild's own time
/// limit (a rebuild solved it again: after a restart the session answered another plan at the
/// same change number).
#[test]
fn a_replan_cut_short_by_its_time_limit_is_rebuilt_as_answered() {
    use commonsnet_engine::session::CHECKPOINT_EVERY;
    use commonsnet_engine::Status;
    let scenario = |limit: Option<f64>| {
        let mut policy = json!({"reusable": ["u"]});
        if let Some(t) = limit {
            policy["time_limit_s"] = json!(t);
        }
        let resources: Vec<Value> = (0..4)
            .map(|i| json!({"id": format!("r{i}"), "kind": "k", "capacity": {"u": 1}}))
            .collect();
        scenario_from_value(&json!({"resources": resources, "needs": [], "policy": policy}))
            .unwrap()
    };
    let (capped, free) = (scenario(Some(1e-6)), scenario(None));
    let mut s = Session::new(&capped).unwrap();
    let mut log: Vec<Applied> = Vec::new();
    // Flexible needs (a MIP), planned under a limit no solve meets.
    let added: Vec<Value> = (0..12)
        .map(|i| {
            json!({"type": "need_added", "need": {"id": format!("n{i}"), "kind": "k",
                "demand": {"u": 1}, "duration_h": 2, "earliest": 0, "deadline": 6,
                "priority": 1 + i % 3}})
        })
        .collect();
    log.extend(s.apply(&events(json!(added))).unwrap().1);
    assert!(
        matches!(log.last(), Some(Applied::Checkpoint { .. })),
        "a checkpoint follows the re-plan cut short: {:?}",
        log.last()
    );
    assert_eq!(s.report().summary.status, Status::TimeLimit);
    // A batch whose re-plan solves nothing: re-planned point by point after the checkpoint
    // (a re-plan of the whole state at the end would solve the cut-short part again).
    let other = json!([{"type": "resource_added",
        "resource": {"id": "x", "kind": "other", "capacity": {"u": 1}}}]);
    log.extend(s.apply(&events(other)).unwrap().1);
    assert!(!matches!(log.last(), Some(Applied::Checkpoint { .. })));
    let text = serde_json::to_string(&log).unwrap();
    let stored: Vec<Applied> = serde_json::from_str(&text).unwrap();
    for (init, what) in [
        (&capped, "under the same limit"),
        (&free, "without a limit"),
    ] {
        let r = Session::rebuilt(init, false, CHECKPOINT_EVERY, &stored).unwrap();
        assert_eq!(r.plan(), s.plan(), "{what}");
        assert_eq!(r.planned_starts(), s.planned_starts(), "{what}");
        assert_eq!(r.report().summary.status, Status::TimeLimit, "{what}");
        assert_eq!(r.report().needs, s.report().needs, "{what}");
        assert_eq!(
            r.replans_run(),
            1,
            "{what}: the one point after the checkpoint"
        );
    }
    // A service that writes no checkpoints (`--session-checkpoint-every 0`) writes none here
    // either: the rolling upgrade's switch.
    let mut quiet = Session::new(&capped).unwrap();
    quiet.set_checkpoint_every(0);
    let (_, applied) = quiet.apply(&events(json!(added))).unwrap();
    assert!(!applied
        .iter()
        .any(|a| matches!(a, Applied::Checkpoint { .. })));
}
