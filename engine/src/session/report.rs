//! What a coordinator reads: the plan as a full report, and why a need is served as it is.

use super::{Dispatch, Session};
use crate::explain::{explain_need, Why};
use crate::results::Report;
use crate::solve::{Outcome, SolverUsed, Solvers, Status};
use serde::Serialize;

/// Why a need of a live session is served as it is: the engine's explanation of the plan for
/// its open part ([`crate::explain`]), with what dispatches have already served.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionWhy {
    /// `coverage` here is the whole need's: dispatched, plus the plan's share of the open part.
    #[serde(flatten)]
    pub why: Why,
    /// Share of the need that dispatches have served.
    pub dispatched_fraction: f64,
    /// The plan's share of the part not dispatched yet.
    pub planned_share_of_open_part: f64,
    pub dispatches: Vec<Dispatch>,
}

impl Session {
    /// The plan as a full report over the residual scenario (summary and tables), built from
    /// the incremental plan without solving again.
    pub fn report(&self) -> Report {
        self.with_outcome(None, Report::new)
    }

    /// `f` of the live plan as a solved outcome over the residual scenario (the open parts of
    /// the needs, the capacity dispatches left), without solving again.
    /// `status`: the plan's status for `f` (default: the worst of the components').
    fn with_outcome<R>(&self, status: Option<Status>, f: impl FnOnce(&Outcome) -> R) -> R {
        let s = self.residual_scenario();
        let net = crate::graph::Network::build(&s);
        let nd = net.num_dims();
        let x: Vec<f64> = net
            .edges
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let need = &s.needs[e.need()].id;
                // Over time an edge is a (link, start) pair: the share is the planned start's.
                if let (Some(at), Some(&planned)) = (net.start(k), self.starts.get(need)) {
                    if at != planned {
                        return 0.0;
                    }
                }
                self.plan
                    .get(&(s.resources[e.resource()].id.clone(), need.clone()))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect();
        let (marginals, shadows) = self.duals();
        let mut shadow = vec![0.0; s.resources.len() * nd];
        for (ri, r) in s.resources.iter().enumerate() {
            if let Some(p) = shadows.get(&r.id) {
                for (di, d) in net.dims.iter().enumerate() {
                    shadow[ri * nd + di] = p.get(d).copied().unwrap_or(0.0);
                }
            }
        }
        let marginal = s
            .needs
            .iter()
            .map(|n| marginals.get(&n.id).copied().unwrap_or(0.0))
            .collect();
        let status = status.unwrap_or_else(|| {
            self.trouble
                .values()
                .copied()
                .find(|st| *st == Status::Infeasible)
                .or_else(|| self.trouble.values().copied().next())
                .unwrap_or(Status::Optimal)
        });
        let solution = crate::solve::Solution {
            status,
            x,
            shadow,
            marginal,
            // The largest of the parts stopped at the time limit (SPEC: "best plan found, with
            // its gap"); it was always null.
            gap: (status == Status::TimeLimit)
                .then(|| self.gaps.values().copied().reduce(f64::max))
                .flatten(),
            infeasibility: None,
            solver: Solvers::one(SolverUsed::Session),
            components: crate::graph::components(s.resources.len(), s.needs.len(), &net.edges)
                .iter()
                .filter(|c| !c.edges.is_empty())
                .count(),
            solve_ms: 0.0,
            duals: if !self.priced() {
                crate::solve::Duals::None
            } else if s.needs.iter().any(|n| n.indivisible) {
                crate::solve::Duals::FixedMip
            } else {
                crate::solve::Duals::Lp
            },
            troubled: Vec::new(),
            part_gaps: Vec::new(),
        };
        f(&Outcome {
            scenario: &s,
            network: net,
            solution,
            // A live plan is kept by re-planning touched components; the price of fairness
            // (one more whole-scenario solve) is left to full solves.
            efficient: None,
        })
    }

    /// Whether the plan has duals: not under the greedy baseline, whose marginal values and
    /// shadow prices are null, as a solve's are (0 read as "worth nothing").
    fn priced(&self) -> bool {
        self.policy.solver != crate::model::SolverChoice::Greedy
    }

    /// Why a need is served as it is, for a coordinator; `None` for an unknown need.
    pub fn why(&self, need: &str) -> Option<SessionWhy> {
        let &ni = self.need_ix.get(need)?;
        let open = self.open[ni];
        // `+ 0.0`: an empty sum of floats is -0.0, which the answer printed as such.
        let planned: f64 = self
            .plan
            .iter()
            .filter(|((_, nn), _)| nn == need)
            .map(|(_, s)| s)
            .sum::<f64>()
            + 0.0;
        let dispatches: Vec<Dispatch> = self
            .dispatches
            .iter()
            .filter(|d| d.need == need)
            .cloned()
            .collect();
        let marginal = self
            .priced()
            .then(|| self.duals().0.get(need).copied().unwrap_or(0.0));
        // Explained under this need's own component's status: another component's trouble
        // is not this need's reason.
        let status = self.trouble.get(need).copied().unwrap_or(Status::Optimal);
        let explained = self.is_open(ni).then(|| {
            self.with_outcome(Some(status), |o| {
                let k = o.scenario.needs.iter().position(|n| n.id == need)?;
                explain_need(o, k)
            })
        });
        let mut why = explained
            .flatten()
            .unwrap_or_else(|| Why::served(need, marginal));
        why.coverage = ((1.0 - open) + open * planned.min(1.0)).min(1.0);
        Some(SessionWhy {
            why,
            dispatched_fraction: 1.0 - open,
            planned_share_of_open_part: planned,
            dispatches,
        })
    }
}
