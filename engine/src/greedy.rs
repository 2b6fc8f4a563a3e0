//! The by-hand baseline of SPEC section 2 (`policy.solver: "greedy"`): what a coordinator with
//! a spreadsheet does, and what simulations compare the optimiser against. With time it is
//! first-come-first-served, the practice of tool-library software (SPEC "Greedy with time").

use crate::graph::Network;
use crate::model::Scenario;
use crate::submodel::{SolvedBy, SubModel, SubResult, SubStatus};
use crate::timed::Bookings;

/// Shares per edge chosen by the greedy rule.
pub fn greedy_shares(s: &Scenario, net: &Network) -> Vec<f64> {
    let nd = net.num_dims();
    // Needs by descending priority, then earliest (missing = 0), then input order.
    let mut order: Vec<usize> = (0..s.needs.len()).collect();
    order.sort_by(|&a, &b| {
        let (na, nb) = (&s.needs[a], &s.needs[b]);
        nb.priority
            .total_cmp(&na.priority)
            .then(
                na.earliest
                    .unwrap_or(0.0)
                    .total_cmp(&nb.earliest.unwrap_or(0.0)),
            )
            .then(a.cmp(&b))
    });
    let mut need_edges: Vec<Vec<usize>> = vec![Vec::new(); s.needs.len()];
    for (e, edge) in net.edges.iter().enumerate() {
        need_edges[edge.need()].push(e);
    }
    // Consumable dimensions (every dimension of an untimed scenario) keep a remaining total;
    // reusable ones of a timed scenario keep their bookings over time.
    let mut remaining = net.capacity.clone();
    let reusable = |d: usize| net.time.as_ref().is_some_and(|t| t.reusable[d]);
    // A live session's confirmed bookings come first.
    let mut booked: Vec<Bookings> = match &net.time {
        Some(t) => t.held.clone(),
        None => vec![Bookings::default(); net.capacity.len()],
    };
    let mut x = vec![0.0; net.edges.len()];
    for n in order {
        // Links by ascending cost, ties by input order (the sort is stable); a timed link's
        // edges are its starts, earliest first.
        let mut edges = std::mem::take(&mut need_edges[n]);
        edges.sort_by(|&a, &b| net.edges[a].cost.total_cmp(&net.edges[b].cost));
        let indivisible = s.needs[n].indivisible;
        let mut served = 0.0;
        // First come, first served: the first start with room holds for the other links.
        let mut start = None;
        for e in edges {
            let occupation = net.time.as_ref().map(|t| t.occupation[e]);
            if let (Some(at), Some(o)) = (start, occupation) {
                if o.start != at {
                    continue;
                }
            }
            let r = net.edges[e].resource();
            let uses = net.edge_use(e);
            let room: Vec<f64> = (0..nd)
                .map(|d| match occupation {
                    Some(o) if reusable(d) => {
                        net.cap(r)[d] - booked[r * nd + d].peak(o.start, o.end)
                    }
                    _ => remaining[r * nd + d],
                })
                .collect();
            let share = if indivisible {
                if uses.iter().zip(&room).all(|(&u, &c)| fits(u, c)) {
                    1.0
                } else {
                    continue;
                }
            } else {
                let mut f: f64 = 1.0 - served;
                for (&u, &c) in uses.iter().zip(&room) {
                    if u > 0.0 {
                        f = f.min(c.max(0.0) / u);
                    }
                }
                f
            };
            if share <= 1e-12 {
                continue;
            }
            for (d, &u) in uses.iter().enumerate() {
                match occupation {
                    Some(o) if reusable(d) => booked[r * nd + d].book(o.start, o.end, u * share),
                    _ => {
                        let c = &mut remaining[r * nd + d];
                        *c = (*c - u * share).max(0.0);
                    }
                }
            }
            start = occupation.map(|o| o.start);
            x[e] = share;
            served += share;
            if indivisible || served >= 1.0 - 1e-12 {
                break;
            }
        }
    }
    x
}

impl SubModel<'_> {
    /// The greedy plan restricted to this part (a part's needs only reach its own resources,
    /// so that is the greedy plan of the part alone): `feasible`, or `infeasible` naming the
    /// needs it leaves below their `min_fill`, the plan kept for comparison.
    pub(crate) fn solve_greedy(&self) -> SubResult {
        let s = self.scenario;
        let all = greedy_shares(s, self.net);
        let x: Vec<f64> = self.edges.iter().map(|&e| all[e]).collect();
        let mut served = vec![0.0; s.needs.len()];
        for &e in self.edges {
            served[self.net.edges[e].need()] += all[e];
        }
        let short: Vec<usize> = self
            .needs
            .iter()
            .copied()
            .filter(|&n| served[n] < s.needs[n].min_fill - 1e-9)
            .collect();
        let mut result =
            SubResult::optimal(SolvedBy::Greedy, x, Vec::new(), vec![0.0; self.needs.len()]);
        result.status = if short.is_empty() {
            SubStatus::Feasible
        } else {
            SubStatus::Infeasible
        };
        result.infeasible_needs = short;
        result
    }
}

/// Whether `amount` fits in `room`, within a rounding of 1e-9 relative: an absolute 1e-9 let
/// every use of 1e-9 or less fit forever. The greedy baseline and the timed repair share it.
pub(crate) fn fits(amount: f64, room: f64) -> bool {
    amount <= room + 1e-9 * amount.max(room)
}
