//! Allocation over time (SPEC section 2, "Allocation over time") against a deliberately naive
//! time-indexed model written here from the formulas with good_lp: every hour a capacity row,
//! every (link, start) a column, `x_{e,s} <= z_{n,s}` for each link (the engine aggregates
//! them per start). Scenarios are on an integer grid of hours, so rows at every whole hour
//! are exactly SPEC's capacity over time.
//!
//! Also properties of the engine's answers: no resource is over-occupied at any instant (a
//! sweep over the answer's own bookings), one start per need, each start a usable one,
//! first-come-first-served never beats the optimum, and a scenario without durations or
//! without reusable dimensions is solved exactly as before the time model.

use crate::common::*;
use crate::oracle::naive_links;
use commonsnet_engine::model::{Need, Scenario};
use commonsnet_engine::{scenario_from_value, solve_report, Report, Status};
use good_lp::{constraint, variable, variables, Expression, Solution, SolverModel, Variable};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// SPEC's candidate starts of a need, written from the definition.
fn spec_starts(n: &Need, slot: f64) -> Vec<f64> {
    let first = n.earliest.unwrap_or(0.0);
    match (n.duration_h, n.deadline) {
        (Some(_), Some(last)) => {
            let mut out = Vec::new();
            let mut k = 0.0;
            while first + k * slot <= last {
                out.push(first + k * slot);
                k += 1.0;
            }
            out
        }
        _ => vec![first],
    }
}

/// One column of the naive model: link (resource, need), start, occupation end.
struct Col {
    r: usize,
    n: usize,
    cost: f64,
    uses: BTreeMap<String, f64>,
    start: f64,
    end: f64,
}

/// The travel time of the explicit link from `resource` to `need`, as the input gives it: 0
/// without one (the generator's rule-built links have no sites).
fn link_time(s: &Scenario, resource: &str, need: &str) -> f64 {
    s.links()
        .and_then(|ls| ls.iter().find(|l| l.resource == resource && l.need == need))
        .and_then(|l| l.time)
        .unwrap_or(0.0)
}

fn columns(s: &Scenario) -> Vec<Col> {
    let p = s.policy();
    let slot = p.slot_h.unwrap_or(1.0);
    let mut out = Vec::new();
    for l in naive_links(s) {
        let (res, need) = (&s.resources()[l.r], &s.needs()[l.n]);
        let time = link_time(s, &res.id, &need.id);
        let col = |start: f64, end: f64| Col {
            r: l.r,
            n: l.n,
            cost: l.cost,
            uses: l.uses.clone(),
            start,
            end,
        };
        let Some(duration) = need.duration_h else {
            out.push(col(need.earliest.unwrap_or(0.0), f64::INFINITY));
            continue;
        };
        let busy = duration + res.turnaround_h.unwrap_or(0.0);
        for start in spec_starts(need, slot) {
            let ready = start >= res.available_from.unwrap_or(0.0) + time;
            let back = res.available_until.is_none_or(|u| start + busy <= u);
            if ready && back {
                out.push(col(start, start + busy));
            }
        }
    }
    out
}

/// The naive time-indexed model's lexicographic optimum `(V, C)` under SPEC's policy:
/// maxmin's level first when asked, then `V`, then `C`; `None` when infeasible.
fn naive_optimum(s: &Scenario) -> Option<(f64, f64)> {
    let cols = columns(s);
    let maxmin = s.policy().fairness == commonsnet_engine::model::Fairness::Maxmin;
    let mut held: Vec<(Goal, f64)> = Vec::new();
    if maxmin {
        let (t, _, _) = stage(s, &cols, Goal::Level, &held)?;
        held.push((Goal::Level, t));
    }
    let (v, _, _) = stage(s, &cols, Goal::Value, &held)?;
    held.push((Goal::Value, v));
    let (_, v, c) = stage(s, &cols, Goal::Cost, &held)?;
    Some((v, c))
}

#[derive(Clone, Copy, PartialEq)]
enum Goal {
    Level,
    Value,
    Cost,
}

/// One stage: its optimum, and `V`, `C` of the plan found.
fn stage(s: &Scenario, cols: &[Col], goal: Goal, held: &[(Goal, f64)]) -> Option<(f64, f64, f64)> {
    let needs = s.needs();
    let mut vars = variables!();
    let x: Vec<Variable> = cols
        .iter()
        .map(|c| {
            let v = variable().min(0.0).max(1.0);
            vars.add(if needs[c.n].indivisible {
                v.integer()
            } else {
                v
            })
        })
        .collect();
    let anchor = vars.add(variable().min(0.0).max(1.0));
    let level = vars.add(variable().min(0.0).max(1.0));
    let slot = s.policy().slot_h.unwrap_or(1.0);
    // z_{n,s} for divisible needs with several candidate starts.
    let mut z: BTreeMap<(usize, u64), Variable> = BTreeMap::new();
    for (n, need) in needs.iter().enumerate() {
        let starts = spec_starts(need, slot);
        if need.indivisible || need.duration_h.is_none() || starts.len() < 2 {
            continue;
        }
        for st in starts {
            z.insert((n, st.to_bits()), vars.add(variable().binary()));
        }
    }
    let y: Vec<Expression> = (0..needs.len())
        .map(|n| {
            cols.iter()
                .zip(&x)
                .filter(|(c, _)| c.n == n)
                .map(|(_, &v)| Expression::from(v))
                .sum()
        })
        .collect();
    let value: Expression = (0..needs.len())
        .map(|n| needs[n].priority * y[n].clone())
        .sum();
    let cost: Expression = cols.iter().zip(&x).map(|(c, &v)| c.cost * v).sum();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (n, need) in needs.iter().enumerate() {
        groups.entry(need.community.as_str()).or_default().push(n);
    }
    let ratios: Vec<Expression> = groups
        .values()
        .map(|m| {
            let total: f64 = m.iter().map(|&n| needs[n].priority).sum();
            m.iter()
                .map(|&n| needs[n].priority / total * y[n].clone())
                .sum()
        })
        .collect();
    let objective = match goal {
        Goal::Level => Expression::from(level),
        Goal::Value => value.clone(),
        Goal::Cost => -cost.clone(),
    } + 0.0 * anchor;
    let mut model = crate::fairness::naive_highs(vars, objective);
    model = model.with(constraint!(anchor <= 1.0));
    for (n, need) in needs.iter().enumerate() {
        model = model.with(constraint!(y[n].clone() <= 1.0));
        model = model.with(constraint!(y[n].clone() >= need.min_fill));
    }
    // One start per need: x_{e,s} <= z_{n,s}, sum_s z_{n,s} <= 1.
    for (c, &v) in cols.iter().zip(&x) {
        if let Some(&zv) = z.get(&(c.n, c.start.to_bits())) {
            model = model.with(constraint!(v <= zv));
        }
    }
    for n in 0..needs.len() {
        let picks: Vec<Variable> = z
            .iter()
            .filter(|((m, _), _)| *m == n)
            .map(|(_, &v)| v)
            .collect();
        if !picks.is_empty() {
            let sum: Expression = picks.into_iter().map(Expression::from).sum();
            model = model.with(constraint!(sum <= 1.0));
        }
    }
    // Capacity: consumable totals, and reusable dimensions at every whole hour.
    let horizon = cols
        .iter()
        .flat_map(|c| [c.start, c.end])
        .filter(|t| t.is_finite())
        .fold(0.0f64, f64::max) as i64;
    let reusable = &s.policy().reusable;
    for (r, res) in s.resources().iter().enumerate() {
        for dim in s.dimensions() {
            let cap = res.capacity.get(&dim).copied().unwrap_or(0.0);
            let at = |t: Option<f64>| -> Expression {
                cols.iter()
                    .zip(&x)
                    .filter(|(c, _)| c.r == r)
                    .filter(|(c, _)| t.is_none_or(|t| c.start <= t && t < c.end))
                    .map(|(c, &v)| c.uses.get(&dim).copied().unwrap_or(0.0) * v)
                    .sum()
            };
            if reusable.contains(&dim) {
                for t in 0..=horizon {
                    model = model.with(constraint!(at(Some(t as f64)) <= cap));
                }
            } else {
                model = model.with(constraint!(at(None) <= cap));
            }
        }
    }
    for &(g, t) in held {
        match g {
            Goal::Level => {
                for r in &ratios {
                    model = model.with(constraint!(r.clone() >= t - 1e-7));
                }
            }
            Goal::Value => {
                model = model.with(constraint!(value.clone() >= t - 1e-7 * t.abs().max(1.0)));
            }
            Goal::Cost => {}
        }
    }
    if goal == Goal::Level {
        for r in &ratios {
            model = model.with(constraint!(r.clone() >= level));
        }
    }
    let sol = model.solve().ok()?;
    let best = match goal {
        Goal::Level => sol.value(level),
        Goal::Value => sol.eval(&value),
        Goal::Cost => -sol.eval(&cost),
    };
    Some((best, sol.eval(&value), sol.eval(&cost)))
}

/// A small timed scenario on an integer grid of hours: reusable `units`, consumable `meals`.
fn timed_scenario(seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let kinds = ["drill", "bed"];
    let comms = ["north", "south"];
    let nr = 1 + rng.below(4);
    let nn = 1 + rng.below(8);
    let mut resources = Vec::new();
    for i in 0..nr {
        let mut cap = json!({"units": rng.grid(1, 3)});
        sometimes(&mut rng, &mut cap, 0.4, "meals", |r| r.grid(0, 12));
        let mut r = json!({"id": format!("r{i}"), "community": comms[rng.below(2) as usize],
            "kind": kinds[rng.below(2) as usize], "capacity": cap, "cost": rng.grid(0, 5)});
        sometimes(&mut rng, &mut r, 0.5, "turnaround_h", |r| r.grid(0, 2));
        sometimes(&mut rng, &mut r, 0.3, "available_from", |r| r.grid(0, 4));
        sometimes(&mut rng, &mut r, 0.3, "available_until", |r| r.grid(10, 30));
        resources.push(r);
    }
    let mut needs = Vec::new();
    for i in 0..nn {
        let mut dem = json!({"units": rng.grid(1, 2)});
        sometimes(&mut rng, &mut dem, 0.3, "meals", |r| r.grid(1, 6));
        let mut n = json!({"id": format!("n{i}"), "community": comms[rng.below(2) as usize],
            "kind": kinds[rng.below(2) as usize], "demand": dem, "priority": rng.grid(1, 5)});
        sometimes(&mut rng, &mut n, 0.85, "duration_h", |r| r.grid(1, 8));
        let earliest = rng.grid(0, 6);
        if rng.chance(0.6) {
            n["earliest"] = json!(earliest);
        }
        if rng.chance(0.5) {
            n["deadline"] = json!(earliest + rng.grid(0, 10));
        }
        if rng.chance(0.3) {
            n["indivisible"] = json!(true);
        }
        if rng.chance(0.1) {
            n["min_fill"] = json!(0.5);
        }
        needs.push(n);
    }
    let mut policy = json!({"reusable": ["units"], "slot_h": rng.grid(1, 3)});
    if rng.chance(0.25) {
        policy["fairness"] = json!("maxmin");
    }
    let mut s = json!({"resources": resources, "needs": needs, "policy": policy});
    if rng.chance(0.4) {
        let mut links = Vec::new();
        for i in 0..nr {
            for j in 0..nn {
                if rng.chance(0.6) {
                    links.push(json!({"resource": format!("r{i}"), "need": format!("n{j}"),
                        "cost": rng.grid(0, 9), "time": rng.grid(0, 3)}));
                }
            }
        }
        s["links"] = json!(links);
    }
    s
}

/// What an answer books of one resource and dimension: (start, end, amount).
type Booking = (f64, f64, f64);

/// Every property of a timed answer that can be read off the answer itself: no resource is
/// over-occupied at any instant in a reusable dimension or in total in a consumable one,
/// each need has one start, a usable one, and `end_h = start_h + duration_h`.
fn check_answer(s: &Scenario, report: &Report, seed: u64) {
    check_answer_within(s, report, seed, 1e-6);
}

/// [`check_answer`] with capacities held to `tol`.
fn check_answer_within(s: &Scenario, report: &Report, seed: u64, tol: f64) {
    let slot = s.policy().slot_h.unwrap_or(1.0);
    let rix = |id: &str| s.resources().iter().position(|r| r.id == id).unwrap();
    let nix = |id: &str| s.needs().iter().position(|n| n.id == id).unwrap();
    let mut starts: BTreeMap<&str, f64> = BTreeMap::new();
    let mut booked: BTreeMap<(usize, usize), Vec<Booking>> = BTreeMap::new();
    for a in &report.allocations {
        let (r, n) = (rix(&a.resource), nix(&a.need));
        let need = &s.needs()[n];
        let res = &s.resources()[r];
        let start = match need.duration_h {
            Some(d) => {
                let st = a
                    .start_h
                    .unwrap_or_else(|| panic!("seed {seed}: no start_h"));
                assert_eq!(a.end_h, Some(st + d), "seed {seed}");
                assert!(
                    spec_starts(need, slot).contains(&st),
                    "seed {seed}: start {st}"
                );
                // Ready by the resource's start plus the link's travel time (the input's).
                let travel = link_time(s, &res.id, &need.id);
                assert!(
                    st >= res.available_from.unwrap_or(0.0) + travel - 1e-9,
                    "seed {seed}: starts at {st}, before the link is ready"
                );
                if let Some(u) = res.available_until {
                    assert!(st + d + res.turnaround_h.unwrap_or(0.0) <= u + 1e-9);
                }
                st
            }
            None => {
                assert_eq!((a.start_h, a.end_h), (None, None), "seed {seed}");
                need.earliest.unwrap_or(0.0)
            }
        };
        if let Some(prev) = starts.insert(&a.need, start) {
            assert_eq!(prev, start, "seed {seed}: need {} has two starts", a.need);
        }
        let end = need.duration_h.map_or(f64::INFINITY, |d| {
            start + d + res.turnaround_h.unwrap_or(0.0)
        });
        for (d, amount) in a.amounts.iter().enumerate() {
            booked
                .entry((r, d))
                .or_default()
                .push((start, end, *amount));
        }
    }
    for ((r, d), list) in booked {
        let dim = &report.dims[d];
        let cap = s.resources()[r].capacity.get(dim).copied().unwrap_or(0.0);
        let peak = if s.policy().reusable.contains(dim) {
            list.iter()
                .map(|&(t, _, _)| {
                    list.iter()
                        .filter(|b| b.0 <= t && t < b.1)
                        .map(|b| b.2)
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        } else {
            list.iter().map(|b| b.2).sum()
        };
        assert!(
            peak <= cap + tol,
            "seed {seed}: {dim} of r{r}: {peak} > {cap}"
        );
    }
}

/// A review's seed: an indivisible need of 2 units (no duration, from hour 0) and a divisible
/// one from hour 3 on the same 2 units. Within HiGHS's default integrality tolerance the
/// indivisible share came back 1e-6 short of whole, the divisible need took the room that
/// left, and the plan, with the share made whole, held 2.0000016 units from hour 3.
#[test]
fn a_whole_indivisible_share_leaves_no_room_it_did_not_have() {
    let value = json!({
        "resources": [
            {"id": "r0", "kind": "k", "community": "b", "capacity": {"units": 1, "meals": 2}},
            {"id": "r1", "kind": "k", "community": "b", "capacity": {"units": 2, "meals": 2},
             "cost": 0, "turnaround_h": 2, "available_until": 10},
            {"id": "r2", "kind": "k", "community": "a", "capacity": {"units": 3, "meals": 2},
             "cost": 2, "turnaround_h": 0.5}],
        "needs": [
            {"id": "n0", "kind": "k", "community": "b", "demand": {"units": 2}, "priority": 3,
             "duration_h": 1.5, "deadline": 0, "indivisible": true},
            {"id": "n1", "kind": "k", "community": "a", "demand": {"units": 1}, "priority": 2,
             "duration_h": 1.5, "earliest": 0},
            {"id": "n2", "kind": "k", "community": "a", "demand": {"units": 1}, "priority": 1,
             "earliest": 3},
            {"id": "n3", "kind": "k", "community": "b", "demand": {"units": 2}, "priority": 1,
             "deadline": 2, "indivisible": true},
            {"id": "n4", "kind": "k", "community": "b", "demand": {"units": 1}, "priority": 1,
             "earliest": 2, "min_fill": 0.5}],
        "policy": {"reusable": ["units"], "slot_h": 1, "fairness": {"min_share": 0.3}}
    });
    let s = scenario_from_value(&value).unwrap();
    let report = solve_report(&s);
    assert_eq!(report.summary.status, Status::Optimal);
    check_answer_within(&s, &report, 3015, 1e-9);
}

/// No booked need could start earlier with everything else as it is: for each earlier
/// candidate start that all its links can use, moving its bookings there over-occupies some
/// resource at some instant.
fn check_no_earlier_start(s: &Scenario, report: &Report, seed: u64) {
    let cols = columns(s);
    let slot = s.policy().slot_h.unwrap_or(1.0);
    let rix = |id: &str| s.resources().iter().position(|r| r.id == id).unwrap();
    let reusable = &s.policy().reusable;
    // Every booking on a reusable dimension: (need, resource, dim, start, end, amount).
    let mut all = Vec::new();
    for a in &report.allocations {
        let (r, n) = (
            rix(&a.resource),
            s.needs().iter().position(|x| x.id == a.need).unwrap(),
        );
        // A need without a duration occupies from its earliest on, never returned.
        let (start, end) = match (a.start_h, a.end_h) {
            (Some(st), Some(e)) => (st, e + s.resources()[r].turnaround_h.unwrap_or(0.0)),
            _ => (s.needs()[n].earliest.unwrap_or(0.0), f64::INFINITY),
        };
        for (d, amount) in a.amounts.iter().enumerate() {
            if reusable.contains(&report.dims[d]) && *amount > 0.0 {
                all.push((n, r, d, start, end, *amount));
            }
        }
    }
    let mut booked_needs: Vec<usize> = all.iter().map(|b| b.0).collect();
    booked_needs.sort_unstable();
    booked_needs.dedup();
    for n in booked_needs {
        let mine: Vec<_> = all.iter().filter(|b| b.0 == n).copied().collect();
        let now = mine[0].3;
        for st in spec_starts(&s.needs()[n], slot)
            .into_iter()
            .filter(|&t| t < now)
        {
            let usable = mine
                .iter()
                .all(|b| cols.iter().any(|c| c.n == n && c.r == b.1 && c.start == st));
            if !usable {
                continue;
            }
            let fits = mine.iter().all(|b| {
                let (end, cap) = (
                    st + (b.4 - b.3),
                    s.resources()[b.1].capacity[&report.dims[b.2]],
                );
                let others = all.iter().filter(|o| o.0 != n && o.1 == b.1 && o.2 == b.2);
                let load = |t: f64| -> f64 {
                    others
                        .clone()
                        .filter(|o| o.3 <= t && t < o.4)
                        .map(|o| o.5)
                        .sum::<f64>()
                };
                let instants = others.clone().map(|o| o.3).filter(|&t| t > st && t < end);
                let peak = instants.map(load).fold(load(st), f64::max);
                peak + b.5 <= cap + 1e-9
            });
            assert!(!fits, "seed {seed}: need {n} at {now} could start at {st}");
        }
    }
}

/// The engine's answer is optimal with the naive model's `(V, C)`, and passes every check
/// read off the answer itself.
#[track_caller]
fn agrees_with_naive(s: &Scenario, report: &Report, (v, c): (f64, f64), seed: u64, value: &Value) {
    let sum = &report.summary;
    assert_eq!(sum.status, Status::Optimal, "seed {seed}\n{value}\n{sum:?}");
    assert!(
        close(sum.coverage_value, v, 1e-6) && close(sum.cost, c, 1e-6),
        "seed {seed}: engine V {} C {}, naive V {v} C {c}\n{value}",
        sum.coverage_value,
        sum.cost
    );
    check_answer(s, report, seed);
    check_no_earlier_start(s, report, seed);
}

#[test]
fn timed_plans_equal_the_naive_time_indexed_model() {
    let mut checked = 0;
    for seed in 0..300u64 {
        let value = timed_scenario(seed);
        let s = scenario_from_value(&value).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let report = solve_report(&s);
        let naive = naive_optimum(&s);
        let sum = &report.summary;
        match naive {
            None => assert_eq!(sum.status, Status::Infeasible, "seed {seed}\n{value}"),
            Some(optimum) => {
                agrees_with_naive(&s, &report, optimum, seed, &value);
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "only {checked} feasible scenarios");
}

/// Leximin on timed scenarios (LPs, and MIPs with start binaries): a valid timed plan that
/// refines maxmin, checked against the naive model above through maxmin's answer: the same
/// status, the same smallest group ratio, and a sorted ratio vector no worse
/// lexicographically (both within 1e-6).
#[test]
fn leximin_refines_maxmin_on_timed_scenarios() {
    let ratios = |r: &Report| crate::fairness::sorted(r.summary.groups.values().copied().collect());
    let mut compared = 0;
    for seed in 0..120u64 {
        let mut value = timed_scenario(seed);
        value["policy"]["fairness"] = json!("maxmin");
        let maxmin = solve_report(&scenario_from_value(&value).unwrap());
        value["policy"]["fairness"] = json!("leximin");
        let s = scenario_from_value(&value).unwrap();
        let leximin = solve_report(&s);
        assert_eq!(
            leximin.summary.status, maxmin.summary.status,
            "seed {seed}\n{value}"
        );
        if leximin.summary.status != Status::Optimal {
            continue;
        }
        check_answer(&s, &leximin, seed);
        let (a, b) = (ratios(&leximin), ratios(&maxmin));
        assert_eq!(a.len(), b.len(), "seed {seed}");
        assert!(
            (a[0] - b[0]).abs() <= 1e-6,
            "seed {seed}: {a:?} {b:?}\n{value}"
        );
        if let Some(i) = (0..a.len()).find(|&i| (a[i] - b[i]).abs() > 1e-6) {
            assert!(
                a[i] > b[i],
                "seed {seed}: leximin {a:?} below maxmin {b:?}\n{value}"
            );
        }
        compared += usize::from(a.len() > 1);
    }
    assert!(compared > 40, "only {compared} scenarios with two groups");
}

#[test]
fn first_come_first_served_keeps_every_booking_and_never_beats_the_optimum() {
    for seed in 0..200u64 {
        let mut value = timed_scenario(seed);
        for n in value["needs"].as_array_mut().unwrap() {
            n.as_object_mut().unwrap().remove("min_fill");
        }
        value["policy"].as_object_mut().unwrap().remove("fairness");
        let optimal = solve_report(&scenario_from_value(&value).unwrap());
        value["policy"]["solver"] = json!("greedy");
        let s = scenario_from_value(&value).unwrap();
        let fcfs = solve_report(&s);
        assert_eq!(fcfs.summary.status, Status::Feasible, "seed {seed}");
        check_answer(&s, &fcfs, seed);
        check_no_earlier_start(&s, &fcfs, seed);
        assert!(
            // The optimum's value is held within SPEC's 1e-7 while its cost is minimised.
            fcfs.summary.coverage_value <= optimal.summary.coverage_value * (1.0 + 1e-6) + 1e-6,
            "seed {seed}: FCFS {} > optimum {}",
            fcfs.summary.coverage_value,
            optimal.summary.coverage_value
        );
    }
}

/// SPEC's greedy with time on a hand-made case: the first link with room, its earliest start
/// with room, and a later request that loses out to an earlier one of higher priority.
#[test]
fn first_come_first_served_takes_the_earliest_start_with_room() {
    let value = json!({
        "resources": [{"id": "drill", "kind": "tool", "capacity": {"units": 1}, "turnaround_h": 2}],
        "needs": [
            {"id": "first", "kind": "tool", "demand": {"units": 1}, "priority": 2,
             "duration_h": 24, "earliest": 0, "deadline": 48},
            {"id": "second", "kind": "tool", "demand": {"units": 1},
             "duration_h": 24, "earliest": 0, "deadline": 48},
            {"id": "late", "kind": "tool", "demand": {"units": 1},
             "duration_h": 10, "earliest": 0}],
        "policy": {"reusable": ["units"], "slot_h": 12, "solver": "greedy"}});
    let r = solve_report(&scenario_from_value(&value).unwrap());
    let booked: Vec<(&str, Option<f64>, Option<f64>)> = r
        .allocations
        .iter()
        .map(|a| (a.need.as_str(), a.start_h, a.end_h))
        .collect();
    // "first" takes hour 0 (busy until 26 with the turnaround); "second" the first slot
    // after, hour 36; "late" can only start at 0 and is not served.
    assert_eq!(
        booked,
        vec![
            ("first", Some(0.0), Some(24.0)),
            ("second", Some(36.0), Some(60.0))
        ]
    );
    assert_eq!(r.needs[2].start_h, None);
}

/// `variant` is solved exactly as `plain` was: same tables, same summary but for the digest.
#[track_caller]
fn same_plan(plain: &Report, variant: &Value, seed: u64) {
    let other = solve_report(&scenario_from_value(variant).unwrap());
    assert!(!other.timed);
    assert_eq!(
        other.allocations_json(),
        plain.allocations_json(),
        "seed {seed}"
    );
    assert_eq!(other.needs_json(), plain.needs_json(), "seed {seed}");
    assert_eq!(
        other.resources_json(),
        plain.resources_json(),
        "seed {seed}"
    );
    let (mut a, mut b) = (other.summary_json(), plain.summary_json());
    for v in [&mut a, &mut b] {
        for k in ["input_digest", "solve_ms"] {
            v.as_object_mut().unwrap().remove(k);
        }
    }
    assert_eq!(a, b, "seed {seed}");
}

/// A scenario without durations, or without reusable dimensions, is solved exactly as before
/// the time model: same tables, same summary (the digest aside, when the input differs).
#[test]
fn untimed_scenarios_are_unchanged_by_the_time_fields() {
    for seed in 0..60u64 {
        let mut rng = Rng::new(seed);
        let shape = Shape::new(5, 8, 2)
            .with_links(rng.chance(0.3))
            .with_indivisible(true)
            .with_min_fill(true);
        let policy = random_policy(&mut rng);
        let base = random_scenario(&mut rng, shape, policy);
        let plain = solve_report(&scenario_from_value(&base).unwrap());
        // Durations and turnarounds without any reusable dimension.
        let mut no_reusable = base.clone();
        for n in no_reusable["needs"].as_array_mut().unwrap() {
            n["duration_h"] = json!(rng.grid(1, 5));
        }
        for r in no_reusable["resources"].as_array_mut().unwrap() {
            r["turnaround_h"] = json!(1);
        }
        same_plan(&plain, &no_reusable, seed);
        // A reusable dimension without any duration.
        let mut no_durations = base.clone();
        no_durations["policy"]["reusable"] = json!(["beds"]);
        let beds_held = base["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["capacity"].get("beds").is_some());
        if beds_held {
            same_plan(&plain, &no_durations, seed);
        }
        // The digest of an unchanged scenario is unchanged too (the time fields are not
        // written when absent).
        assert_eq!(
            plain.summary.input_digest,
            scenario_from_value(&base).unwrap().digest()
        );
    }
}

/// The time fields are validated like the rest: every problem named by table, row and field.
#[test]
fn time_fields_are_validated_with_table_row_and_field() {
    let value = json!({
        "resources": [{"id": "r", "kind": "k", "capacity": {"units": 1}, "turnaround_h": -1}],
        "needs": [
            {"id": "a", "kind": "k", "demand": {"units": 1}, "duration_h": 0},
            {"id": "b", "kind": "k", "demand": {"units": 1}, "duration_h": "long"},
            {"id": "c", "kind": "k", "demand": {"units": 1}, "duration_h": 2,
             "earliest": 0, "deadline": 100}
        ],
        "policy": {"reusable": ["units", "beds"], "slot_h": 0.5, "max_starts": 50}
    });
    let err = scenario_from_value(&value).unwrap_err();
    let got: Vec<(String, Option<usize>, Option<String>)> = err
        .issues
        .iter()
        .map(|i| (i.table.clone(), i.row, i.field.clone()))
        .collect();
    let want = [
        ("resources", Some(0), "turnaround_h"),
        ("needs", Some(0), "duration_h"),
        ("needs", Some(1), "duration_h"),
        ("policy", None, "reusable"),
    ];
    for (table, row, field) in want {
        assert!(
            got.contains(&(table.to_string(), row, Some(field.to_string()))),
            "{table} {row:?} {field}: {err}"
        );
    }
    // The row problems stop the cross-row checks; alone, the window of 201 starts is refused.
    let mut long = value.clone();
    long["resources"][0]["turnaround_h"] = json!(1);
    long["needs"] = json!([value["needs"][2]]);
    long["policy"]["reusable"] = json!(["units"]);
    let err = scenario_from_value(&long).unwrap_err();
    assert_eq!(err.issues.len(), 1, "{err}");
    let issue = &err.issues[0];
    assert_eq!(
        (issue.table.as_str(), issue.row, issue.field.as_deref()),
        ("needs", Some(0), Some("deadline"))
    );
    assert!(
        issue.message.contains("more than 50 starts"),
        "{}",
        issue.message
    );
    long["policy"]["max_starts"] = json!(201);
    assert!(scenario_from_value(&long).is_ok());
    for bad in [json!(0), json!(1.5), json!(10_001), json!("many")] {
        long["policy"]["max_starts"] = bad.clone();
        let err = scenario_from_value(&long).unwrap_err();
        assert_eq!(err.issues[0].field.as_deref(), Some("max_starts"), "{bad}");
    }
    long["policy"]["max_starts"] = json!(201);
    // A duration that vanishes next to its start, and a model too large to build.
    let mut tiny = long.clone();
    tiny["needs"][0]["earliest"] = json!(1e9);
    tiny["needs"][0]["deadline"] = json!(1e9);
    tiny["needs"][0]["duration_h"] = json!(1e-9);
    let err = scenario_from_value(&tiny).unwrap_err();
    assert_eq!(err.issues[0].field.as_deref(), Some("duration_h"), "{err}");
    // Shorter than the 1e-9 h that times are kept to, at any hour: two such uses of one
    // unit both fitted (each ended where it began).
    tiny["needs"][0]["earliest"] = json!(0);
    tiny["needs"][0]["deadline"] = json!(0);
    tiny["needs"][0]["duration_h"] = json!(1e-10);
    let err = scenario_from_value(&tiny).unwrap_err();
    assert_eq!(err.issues[0].field.as_deref(), Some("duration_h"), "{err}");
    assert!(
        err.issues[0].message.contains("shorter than the 1e-9 h"),
        "{err}"
    );
    let mut huge = long.clone();
    huge["policy"]["max_starts"] = json!(10_000);
    huge["policy"]["slot_h"] = json!(0.01);
    huge["resources"] = json!((0..300)
        .map(|i| json!({"id": format!("r{i}"), "kind": "k", "capacity": {"units": 1}}))
        .collect::<Vec<_>>());
    huge["needs"] = json!((0..1000)
        .map(
            |i| json!({"id": format!("n{i}"), "kind": "k", "demand": {"units": 1},
                        "duration_h": 1, "earliest": 0, "deadline": 99})
        )
        .collect::<Vec<_>>());
    let err = scenario_from_value(&huge).unwrap_err();
    assert_eq!(
        (err.issues[0].table.as_str(), err.issues[0].field.as_deref()),
        ("policy", Some("slot_h")),
        "{err}"
    );
    for bad in [json!(0), json!(-1), json!(1e-10), json!("hourly")] {
        long["policy"]["slot_h"] = bad.clone();
        let err = scenario_from_value(&long).unwrap_err();
        assert_eq!(err.issues[0].field.as_deref(), Some("slot_h"), "{bad}");
    }
}

/// A timed scenario goes through SPEC's tables (Arrow, Parquet, CSV) unchanged, and its result
/// tables carry `start_h` and `end_h` in every format.
#[test]
fn timed_scenarios_and_results_go_through_every_table_format() {
    use commonsnet_datasets::{
        read_scenario_dir, write_report, write_scenario_tables, TableFormat,
    };
    use commonsnet_engine::tables::scenario_to_tables;
    let s = scenario_from_value(&timed_scenario(3)).unwrap();
    assert!(s.is_timed());
    let t = scenario_to_tables(&s).unwrap();
    let want = solve_report(&s);
    let tmp = tempfile::tempdir().unwrap();
    for fmt in [
        TableFormat::ArrowIpc,
        TableFormat::Parquet,
        TableFormat::Csv,
    ] {
        let dir = tmp.path().join(format!("{fmt:?}"));
        let links = t.links.as_ref();
        write_scenario_tables(&dir, &t.resources, &t.needs, links, Some(&t.policy), fmt).unwrap();
        let back = read_scenario_dir(&dir).unwrap().with_name(None);
        assert_eq!(back, s.with_name(None), "{fmt:?}");
        let out = tmp.path().join(format!("out-{fmt:?}"));
        write_report(&out, &want, &want.summary_json(), fmt).unwrap();
        let tables = want.tables().unwrap();
        let names = |b: &arrow_array::RecordBatch| -> Vec<String> {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        };
        assert!(names(&tables.allocations).contains(&"start_h".to_string()));
        assert!(names(&tables.allocations).contains(&"end_h".to_string()));
        assert!(names(&tables.needs).contains(&"start_h".to_string()));
        let ext = fmt.extension();
        let bytes = std::fs::read(out.join(format!("allocations.{ext}"))).unwrap();
        let read =
            commonsnet_datasets::frames::read_table(&bytes, fmt == TableFormat::Csv).unwrap();
        assert!(read
            .iter()
            .all(|b| b.schema().field_with_name("start_h").is_ok()));
    }
}

/// Why a timed need is not served: no usable start on its only link is `time`, naming the
/// starts and the window; a need whose starts are all taken is `capacity`.
#[test]
fn explanations_name_the_starts_that_do_not_fit() {
    use commonsnet_engine::explain::Reason;
    use commonsnet_engine::graph::Excluded;
    let s = scenario_from_value(&json!({
        "resources": [{"id": "room", "kind": "room", "capacity": {"rooms": 1},
                       "available_from": 10, "available_until": 40, "turnaround_h": 4}],
        "needs": [
            {"id": "long", "kind": "room", "demand": {"rooms": 1}, "duration_h": 30,
             "earliest": 10, "deadline": 20},
            {"id": "a", "kind": "room", "demand": {"rooms": 1}, "duration_h": 20,
             "earliest": 10, "priority": 2},
            {"id": "b", "kind": "room", "demand": {"rooms": 1}, "duration_h": 5,
             "earliest": 12, "deadline": 14}],
        "policy": {"reusable": ["rooms"], "slot_h": 2}
    }))
    .unwrap();
    let why = Report::explained(&commonsnet_engine::solve(&s))
        .why
        .unwrap();
    let reasons: Vec<(&str, Reason)> = why.iter().map(|w| (w.need.as_str(), w.reason)).collect();
    assert_eq!(
        reasons,
        vec![("long", Reason::Time), ("b", Reason::Capacity)]
    );
    let c = why[0].candidates.as_ref().unwrap();
    assert_eq!(
        c[0].excluded_by,
        Excluded::Start {
            first_start_h: 10.0,
            last_start_h: 20.0,
            ready_h: 10.0,
            latest_start_h: Some(6.0)
        }
    );
}

/// What is left of a reusable dimension depends on when: a room booked in the morning is free
/// in the evening, so a need left out there for its cost is `objective`, not `capacity`, and
/// the room is listed once with the room left at the need's best start.
#[test]
fn what_is_left_over_time_is_read_at_the_needs_interval() {
    use commonsnet_engine::explain::Reason;
    let s = scenario_from_value(&json!({
        "resources": [{"id": "room", "kind": "room", "capacity": {"rooms": 1}, "cost": 5}],
        "needs": [
            {"id": "a", "kind": "room", "demand": {"rooms": 1}, "priority": 10,
             "duration_h": 10, "earliest": 0},
            {"id": "b", "kind": "room", "demand": {"rooms": 1}, "priority": 2,
             "duration_h": 10, "earliest": 20, "deadline": 22},
            {"id": "c", "kind": "room", "demand": {"rooms": 1}, "priority": 6,
             "duration_h": 4, "earliest": 2}],
        "policy": {"reusable": ["rooms"], "objective": "weighted", "slot_h": 1}
    }))
    .unwrap();
    let report = Report::explained(&commonsnet_engine::solve(&s));
    let why = report.why.unwrap();
    let by: BTreeMap<&str, &commonsnet_engine::explain::Why> =
        why.iter().map(|w| (w.need.as_str(), w)).collect();
    assert_eq!(by["b"].reason, Reason::Objective, "{:?}", by["b"]);
    let linked = by["b"].linked_resources.as_ref().unwrap();
    assert_eq!(linked.len(), 1, "one entry per resource: {linked:?}");
    assert_eq!(linked[0].capacity_left["rooms"], 1.0);
    // "c" overlaps "a", the only start it has: the room is used up then, and c would gain
    // from it (6 against the room's cost 5; at priority 1 it is `objective` however many
    // rooms there were).
    assert_eq!(by["c"].reason, Reason::Capacity, "{:?}", by["c"]);
}

/// A tool library: shelves of identical unit items (pooled by the engine), loans of one item.
fn library_scenario(seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut resources = Vec::new();
    for kind in ["drill", "ladder"] {
        for site in 0..1 + rng.below(2) {
            for i in 0..1 + rng.below(3) {
                resources.push(json!({"id": format!("{kind}-{site}-{i}"), "kind": kind,
                    "community": format!("site{site}"), "capacity": {"units": 1},
                    "cost": site * 2, "turnaround_h": 1}));
            }
        }
    }
    // Something that is not a unit item, beside the shelves: a workshop's bench hours.
    resources.push(json!({"id": "bench", "kind": "workshop", "capacity": {"bench_h": 8}}));
    let mut needs: Vec<Value> = (0..2 + rng.below(9))
        .map(|i| {
            let earliest = rng.grid(0, 8);
            let kind = ["drill", "ladder"][rng.below(2) as usize];
            json!({"id": format!("n{i}"), "kind": kind,
                "demand": {"units": 1}, "indivisible": true, "priority": rng.grid(1, 4),
                "duration_h": rng.grid(1, 6), "earliest": earliest,
                "deadline": earliest + rng.grid(0, 6)})
        })
        .collect();
    needs.push(json!({"id": "job", "kind": "workshop", "demand": {"bench_h": 5}}));
    json!({"resources": resources, "needs": needs,
           "policy": {"reusable": ["units"], "slot_h": rng.grid(1, 2)}})
}

/// Pooling identical unit items changes nothing: the same optimum as the naive model over the
/// items themselves, and an answer per item that never double-books one.
#[test]
fn pooled_items_give_the_optimum_of_the_items() {
    let mut pooled = 0;
    for seed in 0..150u64 {
        let value = library_scenario(seed);
        let s = scenario_from_value(&value).unwrap();
        let report = solve_report(&s);
        let optimum = naive_optimum(&s).expect("no min_fill: always feasible");
        agrees_with_naive(&s, &report, optimum, seed, &value);
        let items = s.resources().len();
        let shelves: std::collections::BTreeSet<_> = s
            .resources()
            .iter()
            .map(|r| (&r.kind, &r.community))
            .collect();
        pooled += usize::from(shelves.len() < items);
    }
    assert!(pooled > 100, "only {pooled} scenarios had a shelf to pool");
}

/// Fixed intervals on one resource in one reusable dimension: every need divisible (with some
/// `min_fill`), or every need indivisible with the same use; turnaround, a need with no
/// duration (it holds its share from its start on), objective coverage or cost.
fn interval_scenario(seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let indivisible = rng.chance(0.5);
    let unit = rng.grid(1, 2);
    let mut resource = json!({"id": "r0", "kind": "room", "capacity": {"units": rng.grid(1, 4)},
        "cost": rng.grid(0, 5)});
    sometimes(&mut rng, &mut resource, 0.5, "turnaround_h", |r| {
        r.grid(0, 2)
    });
    let needs: Vec<Value> = (0..1 + rng.below(14))
        .map(|i| {
            let units = if indivisible { unit } else { rng.grid(1, 3) };
            let mut n = json!({"id": format!("n{i}"), "kind": "room", "priority": rng.grid(1, 5),
                "demand": {"units": units}, "indivisible": indivisible,
                "earliest": rng.grid(0, 10)});
            sometimes(&mut rng, &mut n, 0.9, "duration_h", |r| r.grid(1, 8));
            if rng.chance(0.08) {
                n["min_fill"] = json!(if indivisible { 1.0 } else { 0.5 });
            }
            n
        })
        .collect();
    let objective = if rng.chance(0.2) { "cost" } else { "coverage" };
    json!({"resources": [resource], "needs": needs,
        "policy": {"reusable": ["units"], "objective": objective}})
}

/// Interval scheduling (Arkin and Silverberg's flow along the timeline, `Route::Timeline`)
/// answers what the naive time-indexed model answers (coverage) and what HiGHS's LP or MIP
/// answers (`solver: lp`; both objectives), and its plan passes every check of a timed answer.
#[test]
fn interval_scheduling_equals_the_naive_model_and_highs() {
    let (mut by_flow, mut checked) = (0, 0);
    for seed in 0..300u64 {
        let value = interval_scenario(seed);
        let s = scenario_from_value(&value).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let report = solve_report(&s);
        let mut forced = value.clone();
        forced["policy"]["solver"] = json!("lp");
        let highs = solve_report(&scenario_from_value(&forced).unwrap());
        let (a, b) = (&report.summary, &highs.summary);
        assert_eq!(a.status, b.status, "seed {seed}\n{value}");
        if a.status != Status::Optimal {
            continue;
        }
        if a.solver
            .contains(commonsnet_engine::solve::SolverUsed::NetworkSimplex)
        {
            by_flow += 1;
        }
        // Objective cost leaves V free among the cheapest plans. The flow is exact; HiGHS and
        // the naive model hold V within 1e-7 of V*, and C moves with what V gives up there
        // (2e-6 of C for 1e-7 of V on seed 286), so C is compared within 1e-5.
        let cost_only = value["policy"]["objective"] == "cost";
        assert!(
            (cost_only || close(a.coverage_value, b.coverage_value, 1e-5))
                && close(a.cost, b.cost, 1e-5),
            "seed {seed}: flow V {} C {}, HiGHS V {} C {}\n{value}",
            a.coverage_value,
            a.cost,
            b.coverage_value,
            b.cost
        );
        check_answer(&s, &report, seed);
        check_no_earlier_start(&s, &report, seed);
        if !cost_only {
            let (v, c) = naive_optimum(&s).expect("feasible");
            assert!(
                close(a.coverage_value, v, 1e-6) && close(a.cost, c, 1e-5),
                "seed {seed}: flow V {} C {}, naive V {v} C {c}\n{value}",
                a.coverage_value,
                a.cost
            );
            checked += 1;
        }
    }
    // The route was taken (an infeasible min_fill goes on to HiGHS, which names the needs).
    assert!(by_flow > 200, "{by_flow} parts solved by the flow");
    assert!(checked > 150, "{checked} compared with the naive model");
}

/// SPEC's starts `{earliest + k slot_h} ∩ [earliest, deadline]` with decimal slots: 3 x 0.1
/// is 0.30000000000000004 in binary, and a deadline of 0.3 dropped that start (V 5 where 6
/// is the optimum); 0.1 + 0.2 ended a loan after a start at 0.3 on the same unit. Times are
/// kept to 1e-9 h (`model::snap_time`), so both plans below serve every need, at the
/// starts SPEC's set holds.
#[test]
fn decimal_slots_keep_the_starts_spec_lists() {
    let solve_plan = |value: Value| {
        let s = scenario_from_value(&value).unwrap();
        let report = solve_report(&s);
        assert_eq!(report.summary.status, Status::Optimal, "{value}");
        let starts: BTreeMap<String, (Option<f64>, Option<f64>)> = report
            .allocations
            .iter()
            .map(|a| (a.need.clone(), (a.start_h, a.end_h)))
            .collect();
        (report.summary.coverage_value, starts)
    };
    let unit = json!({"id": "r", "kind": "k", "capacity": {"units": 1}});
    for (slot, deadline) in [(0.1, 0.3), (0.2, 0.6), (0.1, 0.7)] {
        let (v, starts) = solve_plan(json!({
            "resources": [unit],
            "needs": [
                {"id": "a", "kind": "k", "demand": {"units": 1}, "earliest": 0,
                 "duration_h": deadline, "priority": 5},
                {"id": "b", "kind": "k", "demand": {"units": 1}, "earliest": 0,
                 "deadline": deadline, "duration_h": 1}],
            "policy": {"reusable": ["units"], "slot_h": slot}}));
        assert!(close(v, 6.0, 1e-9), "slot {slot}: V {v}");
        assert_eq!(starts["a"], (Some(0.0), Some(deadline)), "slot {slot}");
        assert_eq!(
            starts["b"],
            (Some(deadline), Some(deadline + 1.0)),
            "slot {slot}"
        );
    }
    let (v, starts) = solve_plan(json!({
        "resources": [unit],
        "needs": [
            {"id": "a", "kind": "k", "demand": {"units": 1}, "earliest": 0.1, "duration_h": 0.2},
            {"id": "b", "kind": "k", "demand": {"units": 1}, "earliest": 0.3, "duration_h": 1}],
        "policy": {"reusable": ["units"], "slot_h": 0.1}}));
    assert!(close(v, 2.0, 1e-9), "V {v}");
    assert_eq!(starts["a"], (Some(0.1), Some(0.3)));
    assert_eq!(starts["b"], (Some(0.3), Some(1.3)));
}

/// `policy.max_starts` counts the starts as the model makes them: the window [0, 0.3] at
/// slot 0.1 holds four (0.3 among them, within 1e-9 h), which a bound of 3 refuses; the
/// quotient alone (2.9999999999999996) let it through and the need was served at a fourth.
#[test]
fn max_starts_counts_the_last_start_the_model_makes() {
    let e = scenario_from_value(&json!({
        "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1}}],
        "needs": [{"id": "a", "kind": "drill", "demand": {"units": 1}, "earliest": 0,
                   "deadline": 0.3, "duration_h": 1}],
        "policy": {"reusable": ["units"], "slot_h": 0.1, "max_starts": 3}}))
    .unwrap_err();
    let issue = &e.issues[0];
    assert_eq!(
        (issue.table.as_str(), issue.row, issue.field.as_deref()),
        ("needs", Some(0), Some("deadline")),
        "{e}"
    );
}

/// An optimal MIP plan's gap is at most the `mip_gap` asked for (0 by default): HiGHS stops
/// on its absolute gap too, and near a cost of 0 the relative gap of such a plan read 0.1667
/// (SPEC review). A flexible need makes this a MIP; the plan costs nothing.
#[test]
fn an_optimal_mip_plan_reports_no_gap_beyond_the_one_asked() {
    let s = scenario_from_value(&json!({
        "resources": [{"id": "r", "community": "c", "kind": "k", "capacity": {"beds": 1},
                       "turnaround_h": 1}],
        "needs": [
            {"id": "n1", "community": "c", "kind": "k", "demand": {"beds": 1}, "duration_h": 2,
             "earliest": 0, "deadline": 0},
            {"id": "n2", "community": "c", "kind": "k", "demand": {"beds": 1}, "duration_h": 2,
             "earliest": 3, "deadline": 3},
            {"id": "n3", "community": "c", "kind": "k", "demand": {"beds": 1}, "earliest": 6},
            {"id": "n4", "community": "c", "kind": "k", "demand": {"beds": 1}, "duration_h": 1,
             "earliest": 7, "deadline": 9}],
        "policy": {"reusable": ["beds"]}}))
    .unwrap();
    let r = solve_report(&s);
    assert_eq!(r.summary.status, Status::Optimal);
    assert_eq!(r.summary.gap, Some(0.0));
}

/// A reusable dimension that only needs ask for (every shelter with beds withdrawn from the
/// plan's file) is a scenario whose bed needs go unserved, each for want of a candidate: it was
/// refused whole as invalid. One that no row names (a typo) is still refused, naming the
/// policy's field.
#[test]
fn a_reusable_dimension_only_needs_ask_for_leaves_them_unserved() {
    use commonsnet_engine::explain::Reason;
    let scenario = |reusable: Value| {
        json!({
            "resources": [{"id": "van", "kind": "shelter", "capacity": {"seats": 4}}],
            "needs": [
                {"id": "family", "kind": "shelter", "demand": {"beds": 3}, "duration_h": 24},
                {"id": "ride", "kind": "shelter", "demand": {"seats": 2}, "duration_h": 2}],
            "policy": {"reusable": reusable}
        })
    };
    let s = scenario_from_value(&scenario(json!(["beds", "seats"]))).unwrap();
    let report = Report::explained(&commonsnet_engine::solve(&s));
    assert_eq!(report.summary.status, Status::Optimal);
    assert_eq!(report.summary.coverage_value, 1.0);
    let why = report.why.unwrap();
    assert_eq!(
        why.iter()
            .map(|w| (w.need.as_str(), w.reason))
            .collect::<Vec<_>>(),
        vec![("family", Reason::NoCandidate)]
    );
    let e = scenario_from_value(&scenario(json!(["bed"]))).unwrap_err();
    assert_eq!(e.issues.len(), 1, "{e}");
    let issue = &e.issues[0];
    assert_eq!(
        (issue.table.as_str(), issue.field.as_deref()),
        ("policy", Some("reusable"))
    );
    assert!(
        issue
            .message
            .ends_with("no need's demand names the reusable dimension \"bed\""),
        "{e}"
    );
}
