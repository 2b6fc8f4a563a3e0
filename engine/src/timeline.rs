//! Interval scheduling as a min-cost flow (Arkin and Silverberg 1987): one resource, one
//! reusable dimension, every need at one fixed start (see `route.rs`, `Route::Timeline`).
//!
//! Nodes are the instants where an occupation begins or ends, in time order, plus one after
//! the last. A timeline arc joins each instant to the next and carries what is *not* in use
//! on that elementary interval; each need is an arc from the instant its occupation begins
//! to the one it ends, carrying what it uses. A circulation of `K` (the most room on any
//! interval) around the timeline then has load `K - f_k` on interval `k`, so the lower bound
//! `f_k >= K - room_k` is the capacity row of that interval, and the arcs of needs that
//! overlap share its room. The constraint matrix of intervals is an interval matrix (totally
//! unimodular), so the flow's optimum is the LP's; with unit uses it is integral, and so the
//! MIP's optimum when every need is indivisible with the same use. Value first, then cost,
//! is one exact lexicographic flow, as on the transportation route.

use crate::route::{scaled, Exact};
use crate::submodel::{positive, SolvedBy, SubModel, SubResult};
use crate::transport::{main_scale, solve_objective};
use commonsnet_solvers::{FlowProblem, INFINITE};

/// The integers of one interval-scheduling part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timeline {
    /// Scaling of amounts, values and costs, as on the transportation route. When every need
    /// is indivisible, amounts are counted in `unit` uses instead (`quantity` 1, `lcm` 1).
    pub exact: Exact,
    /// The one use of every need when all are indivisible: each is served whole or not at
    /// all, and a resource has room for `floor(room / unit)` of them.
    pub unit: Option<f64>,
}

impl SubModel<'_> {
    /// Solve the part as a flow along its timeline; `None` when the flow is infeasible (a
    /// `min_fill` that cannot hold: the LP's or MIP's diagnosis names the needs) or its
    /// numbers leave 64-bit integers.
    pub(crate) fn solve_by_timeline(&self, shape: &Timeline) -> Option<SubResult> {
        let s = self.scenario;
        let net = self.net;
        let time = net.time.as_ref()?;
        let r = *self.resources.first()?;
        let Exact {
            quantity: q,
            lcm,
            cost: kc,
            priority: kp,
        } = shape.exact;
        let held = time.held[r * net.num_dims()].intervals();
        let cap = net.cap(r)[0];
        // A need's amount and a capacity in flow units.
        let amount = |n: usize| match shape.unit {
            Some(_) => 1,
            None => scaled(net.dem(n)[0], q),
        };
        let room = |held_load: f64| -> i64 {
            match shape.unit {
                Some(u) => ((cap - held_load) / u + 1e-9).floor().max(0.0) as i64,
                None => (scaled(cap, q) - scaled(held_load, q)).max(0),
            }
        };
        // Columns: the part's edges, then the held intervals (as in the LP's stock rows).
        let first_held = self.edges.len();
        let occupying: Vec<usize> = (0..first_held + held.len()).collect();
        let events = crate::timed::stock_events(&occupying, |j| match j.checked_sub(first_held) {
            Some(h) => (held[h].0, held[h].1),
            None => {
                let o = time.occupation[self.edges[j]];
                (o.start, o.end)
            }
        });
        let last = events.len();
        let mut begins = vec![0; first_held];
        let mut ends = vec![last; first_held];
        let mut rooms = Vec::with_capacity(last);
        let mut held_load = 0.0;
        for (k, event) in events.iter().enumerate() {
            for &j in &event.begin {
                match j.checked_sub(first_held) {
                    Some(h) => held_load += held[h].2,
                    None => begins[j] = k,
                }
            }
            for &j in &event.end {
                match j.checked_sub(first_held) {
                    Some(h) => held_load -= held[h].2,
                    None => ends[j] = k,
                }
            }
            rooms.push(room(held_load.max(0.0)));
        }
        let most = rooms.iter().copied().max().unwrap_or(0);

        let mut p = FlowProblem::new(last + 1);
        let mut value_cost: Vec<i64> = Vec::new();
        let mut money_cost: Vec<i64> = Vec::new();
        let timeline_arcs: Vec<usize> = rooms
            .iter()
            .enumerate()
            .map(|(k, &room)| {
                value_cost.push(0);
                money_cost.push(0);
                p.add_arc(k, k + 1, most - room, INFINITE, 0)
            })
            .collect();
        p.add_arc(last, 0, most, most, 0);
        value_cost.push(0);
        money_cost.push(0);
        let per_unit = |n: usize, x: f64, k: i64| -> Option<i64> {
            let v = (x * k as f64).round() as i128 * (lcm / amount(n)) as i128;
            i64::try_from(v).ok()
        };
        let mut need_arcs = Vec::with_capacity(first_held);
        for (j, &e) in self.edges.iter().enumerate() {
            let edge = &net.edges[e];
            let n = edge.need();
            let d = amount(n);
            let lo = match shape.unit {
                Some(_) => i64::from(s.needs[n].min_fill > 0.0),
                None => scaled(net.dem(n)[0] * s.needs[n].min_fill, q),
            };
            need_arcs.push(p.add_arc(begins[j], ends[j], lo, d, 0));
            value_cost.push(-per_unit(n, s.needs[n].priority, kp)?);
            money_cost.push(per_unit(n, edge.cost, kc)?);
        }

        let objective = s.policy.objective;
        let (sol, stage_cost) = solve_objective(objective, &mut p, &value_cost, &money_cost)?;
        let x: Vec<f64> = self
            .edges
            .iter()
            .zip(&need_arcs)
            .map(|(&e, &a)| sol.flow[a] as f64 / amount(net.edges[e].need()) as f64)
            .collect();

        if !self.prices {
            let mut result = self.unpriced(SolvedBy::NetworkSimplex, x);
            if shape.unit.is_some() {
                result.mip = true;
                result.gap = Some(0.0);
            }
            return Some(result);
        }
        if shape.unit.is_some() {
            // Indivisible needs make the part a MIP: SPEC's prices are those of the LP with
            // the integer choices fixed at the plan (`fixed_mip`), as on the MIP route, not
            // those of the (here integral) relaxation.
            let mut result = SubResult::optimal(
                SolvedBy::NetworkSimplex,
                x.clone(),
                Vec::new(),
                vec![0.0; self.needs.len()],
            );
            result.mip = true;
            result.gap = Some(0.0);
            self.fixed_mip_duals(&x, &mut result);
            return Some(result);
        }
        // Duals of the stage that sets the main objective, per unit of capacity (a flow unit
        // is `1 / quantity` of it). Where the LP's duals are not unique, the flow's basis may
        // put a price on the room where HiGHS's puts it on the needs: both are optimal duals.
        let stage_scale = main_scale(objective, shape.exact);
        let capacity_per_flow = 1.0 / q as f64;
        let pi = sol.basis.as_ref()?.potentials(&stage_cost);
        let reduced = |a: usize| (stage_cost[a] as i128 + pi[p.source[a]] - pi[p.target[a]]) as f64;
        // An interval's room is worth the reduced cost of its timeline arc at its lower bound
        // (one unit more room lowers that bound by one); each interval counts towards its
        // maximal set of overlapping occupations, as the LP's stock rows report theirs.
        let mut by_overlap: std::collections::BTreeMap<usize, f64> = Default::default();
        for (event, &a) in events.iter().zip(&timeline_arcs) {
            let gain = if sol.flow[a] <= p.lower[a] {
                positive(reduced(a)) / stage_scale / capacity_per_flow
            } else {
                0.0
            };
            *by_overlap.entry(event.overlap).or_default() += gain;
        }
        let shadow = by_overlap.into_values().map(|g| (r, 0, g)).collect();
        let arc_of: std::collections::HashMap<usize, usize> = self
            .edges
            .iter()
            .zip(&need_arcs)
            .map(|(&e, &a)| (net.edges[e].need(), a))
            .collect();
        let marginal = self
            .needs
            .iter()
            .map(|&n| match arc_of.get(&n) {
                Some(&a) if sol.flow[a] >= p.upper[a] => {
                    positive(-reduced(a)) / stage_scale * amount(n) as f64
                }
                _ => 0.0,
            })
            .collect();
        Some(SubResult::optimal(
            SolvedBy::NetworkSimplex,
            x,
            shadow,
            marginal,
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Hold, SolverChoice};
    use crate::scenario_from_value;
    use crate::solve::SolverUsed;

    /// A live session's confirmed bookings take their room on the timeline as they take it in
    /// HiGHS's capacity rows: random fixed intervals on one resource with bookings held (some
    /// above what is left: capped at capacity), divisible and indivisible, the flow against
    /// `solver: lp`; V within 1e-6 and C within 1e-5 (HiGHS holds V within 1e-7 of V*, and C
    /// moves with what it gives up there), and the same kind of prices.
    #[test]
    fn held_bookings_take_their_room_as_in_highs() {
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0);
        let mut by_flow = 0;
        for seed in 0..200u64 {
            let mut rng = crate::seeds::SplitMix64::new(seed);
            let indivisible = rng.below(2) == 0;
            let cap = rng.int(2, 5);
            let needs: Vec<_> = (0..1 + rng.below(10))
                .map(|i| {
                    let units = if indivisible { 1 } else { rng.int(1, 3) };
                    serde_json::json!({"id": format!("n{i}"), "kind": "k",
                        "priority": rng.int(1, 5), "demand": {"units": units},
                        "indivisible": indivisible, "earliest": rng.int(0, 10),
                        "duration_h": rng.int(1, 6)})
                })
                .collect();
            let mut s = scenario_from_value(&serde_json::json!({
                "resources": [{"id": "r0", "kind": "k", "cost": rng.int(0, 4),
                    "capacity": {"units": cap}, "turnaround_h": rng.int(0, 2)}],
                "needs": needs, "policy": {"reusable": ["units"]}
            }))
            .unwrap();
            for _ in 0..rng.below(4) {
                let start = rng.int(0, 12) as f64;
                s.resources[0].holds.push(Hold {
                    start,
                    end: start + rng.int(1, 6) as f64,
                    amounts: [("units".to_string(), rng.int(1, cap) as f64)].into(),
                });
            }
            let flow = crate::solve_report(&s);
            s.policy.solver = SolverChoice::Lp;
            let highs = crate::solve_report(&s);
            let (a, b) = (&flow.summary, &highs.summary);
            assert_eq!(a.status, b.status, "seed {seed}");
            // An indivisible part is a MIP on either route: `fixed_mip` prices, gap 0.
            assert_eq!(a.duals, b.duals, "seed {seed}");
            assert_eq!(a.gap, b.gap, "seed {seed}");
            if a.solver.contains(SolverUsed::NetworkSimplex) {
                by_flow += 1;
            }
            assert!(
                close(a.coverage_value, b.coverage_value, 1e-6) && close(a.cost, b.cost, 1e-5),
                "seed {seed}: flow V {} C {}, HiGHS V {} C {}",
                a.coverage_value,
                a.cost,
                b.coverage_value,
                b.cost
            );
        }
        assert!(by_flow > 150, "{by_flow} solved by the flow");
    }

    /// Prices on the timeline, where the LP's duals are unique: two units of room; `a` uses one
    /// on [0, 4) (priority 2), `b` two on [2, 6) (priority 2). On [2, 4) they share the room:
    /// `a` whole, half of `b`, V = 3. A unit of room there serves another half of `b`: price 1
    /// (per unit, as `b` is worth 1 a unit); `a` whole is worth 2 - 1 = 1 more than its room.
    #[test]
    fn prices_on_the_timeline_are_the_lp_duals() {
        let mut s = scenario_from_value(&serde_json::json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"units": 2}}],
            "needs": [
                {"id": "a", "kind": "k", "priority": 2, "demand": {"units": 1},
                 "earliest": 0, "duration_h": 4},
                {"id": "b", "kind": "k", "priority": 2, "demand": {"units": 2},
                 "earliest": 2, "duration_h": 4}],
            "policy": {"reusable": ["units"]}
        }))
        .unwrap();
        for solver in [SolverChoice::Auto, SolverChoice::Lp] {
            s.policy.solver = solver;
            let r = crate::solve_report(&s);
            let by_flow = r.summary.solver.contains(SolverUsed::NetworkSimplex);
            assert_eq!(by_flow, solver == SolverChoice::Auto);
            assert!((r.summary.coverage_value - 3.0).abs() < 1e-9, "{solver:?}");
            assert!(
                (r.resources[0].shadow_price[0].unwrap() - 1.0).abs() < 1e-9,
                "{solver:?}"
            );
            assert!(
                (r.needs[0].marginal_value.unwrap() - 1.0).abs() < 1e-9,
                "{solver:?}"
            );
            assert_eq!(r.needs[1].marginal_value, Some(0.0), "{solver:?}");
        }
    }
}
