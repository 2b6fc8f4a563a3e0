//! What a coordinator reads: the plan as a full report, and why a need is not served.

use super::{Dispatch, Session};
use crate::graph::{check_link, distance, Excluded};
use crate::results::Report;
use crate::solve::{SolverUsed, Solvers, Status};
use serde_json::{json, Value};

impl Session {
    /// The plan as a full report over the residual scenario (summary and tables), built from
    /// the incremental plan without solving again.
    pub fn report(&self) -> Report {
        let s = self.residual_scenario();
        let net = crate::graph::Network::build(&s);
        let nd = net.num_dims();
        let x: Vec<f64> = net
            .edges
            .iter()
            .map(|e| {
                self.plan
                    .get(&(
                        s.resources[e.resource()].id.clone(),
                        s.needs[e.need()].id.clone(),
                    ))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect();
        let mut shadow = vec![0.0; s.resources.len() * nd];
        for (ri, r) in s.resources.iter().enumerate() {
            if let Some(p) = self.shadow.get(&r.id) {
                for (di, d) in net.dims.iter().enumerate() {
                    shadow[ri * nd + di] = p.get(d).copied().unwrap_or(0.0);
                }
            }
        }
        let marginal = s
            .needs
            .iter()
            .map(|n| self.marginal.get(&n.id).copied().unwrap_or(0.0))
            .collect();
        let status = self
            .trouble
            .values()
            .copied()
            .find(|st| *st == Status::Infeasible)
            .or_else(|| self.trouble.values().copied().next())
            .unwrap_or(Status::Optimal);
        let solution = crate::solve::Solution {
            status,
            x,
            shadow,
            marginal,
            gap: None,
            infeasibility: None,
            solver: Solvers::one(SolverUsed::Session),
            components: crate::graph::components(s.resources.len(), s.needs.len(), &net.edges)
                .iter()
                .filter(|c| !c.edges.is_empty())
                .count(),
            solve_ms: 0.0,
        };
        Report::new(&crate::solve::Outcome {
            scenario: &s,
            network: net,
            solution,
            // A live plan is kept by re-planning touched components; the price of fairness
            // (one more whole-scenario solve) is left to full solves.
            efficient_value: None,
        })
    }

    /// Why a need is unserved or partly served, for a coordinator.
    pub fn why(&self, need: &str) -> Option<Value> {
        let &ni = self.need_ix.get(need)?;
        let n = &self.needs[ni];
        let open = self.open[ni];
        let served_now: f64 = self
            .plan
            .iter()
            .filter(|((_, nn), _)| nn == need)
            .map(|(_, s)| s)
            .sum();
        let dispatched: Vec<&Dispatch> =
            self.dispatches.iter().filter(|d| d.need == need).collect();
        let coverage = (1.0 - open) + open * served_now;
        let mut out = json!({
            "need": need,
            "coverage": coverage,
            "dispatched_fraction": 1.0 - open,
            "planned_share_of_open_part": served_now,
            "dispatches": dispatched,
            "marginal_value": self.marginal.get(need).copied().unwrap_or(0.0),
        });
        if coverage >= 1.0 - 1e-9 {
            out["reason"] = json!("served");
            out["explanation"] =
                json!("the need is fully served by its dispatches and planned matches");
            return Some(out);
        }
        let linked = self.adj_need.get(need).cloned().unwrap_or_default();
        if linked.is_empty() {
            // Nearest candidates first (by distance where known, else input order), with the
            // rule that excludes each.
            let rn = self.residual_need(ni);
            let mut cands: Vec<(f64, usize, Excluded)> = self
                .residual
                .iter()
                .enumerate()
                .filter_map(|(ri, r)| {
                    check_link(ri, r, ni, &rn, &self.policy).err().map(|e| {
                        let d = distance(r, &rn).unwrap_or(f64::INFINITY);
                        (d, ri, e)
                    })
                })
                .collect();
            cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let nearest: Vec<Value> = cands
                .iter()
                .take(5)
                .map(|(d, ri, e)| {
                    json!({"resource": self.residual[*ri].id,
                        "distance_km": d.is_finite().then_some(*d),
                        "excluded_by": e, "explanation": e.to_string()})
                })
                .collect();
            out["reason"] = json!("no_compatible_resource");
            out["explanation"] = json!(if self.resources.is_empty() {
                "there are no resources in the session".to_string()
            } else {
                format!(
                    "no resource passes the link rules for this {} need; the nearest candidates and the rule that excludes each are listed",
                    n.kind
                )
            });
            out["candidates"] = Value::Array(nearest);
            return Some(out);
        }
        if let Some(st) = self.trouble.get(need) {
            out["reason"] = json!(st.as_str());
        } else {
            out["reason"] = json!("capacity_exhausted");
        }
        let mut resources = Vec::new();
        for r in &linked {
            let ri = self.res_ix[r];
            let serves: Vec<Value> = self
                .plan
                .iter()
                .filter(|((rr, _), _)| rr == r)
                .map(|((_, nn), s)| {
                    let p = self
                        .need_ix
                        .get(nn)
                        .map(|&i| self.residual_need(i).priority)
                        .unwrap_or(0.0);
                    json!({"need": nn, "share": s, "priority_of_open_part": p})
                })
                .collect();
            resources.push(json!({
                "resource": r,
                "capacity_left": self.residual[ri].capacity,
                "shadow_price": self.shadow.get(r).cloned().unwrap_or_default(),
                "serves_instead": serves,
            }));
        }
        out["explanation"] = json!(format!(
            "every linked resource is used by needs that the plan values more per unit of capacity (priority {} for this need's open part); one more unit of a resource's capacity would add its shadow price to the value served",
            self.residual_need(ni).priority
        ));
        out["linked_resources"] = Value::Array(resources);
        Some(out)
    }
}
