//! The LP/MIP path: SPEC's model written row by row into HiGHS.
//!
//! We build through the `highs` crate's row API rather than good_lp's expression layer:
//! SOLVER_NOTES measured good_lp's building at ~20% of a large solve, its `solve` consumes the
//! model (the lexicographic stages need several solves), and its dual signs for `>=` rows are
//! flipped (good_lp #82). Each stage is a fresh model built from the same deterministic
//! column and row order, so a stage's duals map back by index.

use crate::model::{Fairness, Objective};
use crate::submodel::{positive, SolvedBy, SubModel, SubResult, SubStatus};
use highs::{HighsModelStatus, RowProblem, Sense};
use std::time::Instant;

/// Pure LPs with at least this many columns go to HiGHS's interior point method.
const IPM_MIN_COLUMNS: usize = 2_000;

/// Tolerance of the lexicographic hold `V >= V* - 1e-7 max(1, |V*|)` and of `ratio >= t* - 1e-7`.
pub const LEX_TOL: f64 = 1e-7;

/// What one stage optimises.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Goal {
    MaxValue,
    MinCost,
    MaxWeighted(f64),
    MaxMinRatio,
    /// Smallest total violation of min_fill and min_share: the diagnosis of infeasibility.
    MinViolation,
}

/// What the answer of one HiGHS run (a stage) means for the sub-model. Every stage's status
/// goes through [`stage_outcome`]: no status falls through as "optimal".
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StageOutcome {
    /// An optimum: its plan (and duals) can be used.
    Solved,
    /// The time limit stopped HiGHS; a MIP may have an incumbent.
    TimeLimit,
    /// The first stage's hard constraints cannot hold: the elastic model names who is at fault.
    Infeasible,
    /// Anything else: a solver failure, reported as an error with this description.
    Failed(String),
}

/// The meaning of HiGHS's `status` for stage `stage` (0-based) of a sub-model.
///
/// Only the first stage can prove infeasibility: a later stage adds a hold that the previous
/// stage's plan satisfies, so "infeasible" there is a numerical failure, an error like any
/// other status that is not an answer (unbounded, iteration limit, solve error, unknown...).
pub(crate) fn stage_outcome(status: HighsModelStatus, stage: usize) -> StageOutcome {
    use HighsModelStatus as H;
    match status {
        // An empty model has nothing to optimise: its (empty) optimum is the answer.
        H::Optimal | H::ModelEmpty => StageOutcome::Solved,
        H::ReachedTimeLimit => StageOutcome::TimeLimit,
        H::Infeasible | H::UnboundedOrInfeasible if stage == 0 => StageOutcome::Infeasible,
        H::Infeasible | H::UnboundedOrInfeasible => StageOutcome::Failed(format!(
            "HiGHS reported {status:?} in stage {} although the previous stage's plan satisfies it (numerical trouble)",
            stage + 1
        )),
        H::NotSet
        | H::LoadError
        | H::ModelError
        | H::PresolveError
        | H::SolveError
        | H::PostsolveError
        | H::Unbounded
        | H::ObjectiveBound
        | H::ObjectiveTarget
        | H::ReachedIterationLimit
        | H::Unknown => StageOutcome::Failed(format!(
            "HiGHS reported {status:?} in stage {}",
            stage + 1
        )),
    }
}

/// Test-only fault injection: the next HiGHS runs on this thread report the given statuses
/// (`None`: the real one) instead of their own, whatever they found.
#[cfg(test)]
pub(crate) mod fault {
    use highs::HighsModelStatus;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    thread_local! {
        static PLAN: RefCell<VecDeque<Option<HighsModelStatus>>> = const { RefCell::new(VecDeque::new()) };
    }

    /// Statuses for the next HiGHS runs of this thread, in order.
    pub(crate) fn force(statuses: &[Option<HighsModelStatus>]) {
        PLAN.with(|p| *p.borrow_mut() = statuses.iter().copied().collect());
    }

    pub(super) fn next() -> Option<HighsModelStatus> {
        PLAN.with(|p| p.borrow_mut().pop_front().flatten())
    }
}

struct Stage {
    status: HighsModelStatus,
    x: Vec<f64>,
    slack: Vec<f64>,
    /// The need (global index) or group each slack of `slack` belongs to.
    slack_owners: Vec<(Option<usize>, Option<String>)>,
    t: f64,
    gap: Option<f64>,
    need_rows: Vec<(usize, f64)>,
    cap_rows: Vec<(usize, usize, f64)>,
    /// Row activity of each need row, to tell which bound a dual belongs to.
    need_activity: Vec<f64>,
}

struct Holds {
    value_at_least: Option<f64>,
    ratio_at_least: Option<f64>,
    /// A tiny reward for value in the cost stage, so that the cost stage does not slide down
    /// the `V* - tol` band where doing so saves nothing (a plan of 0.9999999 coverage at zero
    /// cost helps nobody). Its effect on C is below 1e-12 relative.
    value_tiebreak: f64,
}

impl SubModel<'_> {
    fn priority_of_edge(&self, e: usize) -> f64 {
        self.scenario.needs[self.net.edges[e].need()].priority
    }

    fn run(&self, goal: Goal, holds: &Holds) -> Stage {
        let s = self.scenario;
        let net = self.net;
        let nd = net.num_dims();
        let mip = self.is_mip();
        let mut pb = RowProblem::default();
        let mut cols = Vec::with_capacity(self.edges.len());
        for &e in self.edges {
            let edge = &net.edges[e];
            let need = &s.needs[edge.need()];
            let coef = match goal {
                Goal::MaxValue => need.priority,
                Goal::MinCost => edge.cost - holds.value_tiebreak * need.priority,
                Goal::MaxWeighted(w) => need.priority - w * edge.cost,
                Goal::MaxMinRatio | Goal::MinViolation => 0.0,
            };
            // `x_e <= 1` is implied by `y_n <= 1`; leaving it off continuous columns lets the
            // need row, not a column bound, carry the dual (the need's marginal value).
            cols.push(if need.indivisible {
                pb.add_integer_column(coef, 0.0..=1.0)
            } else {
                pb.add_column(coef, 0.0..)
            });
        }
        // `highs::Col` hides its index; columns are numbered in the order they are added.
        let mut next_col = cols.len();
        let t_col = (goal == Goal::MaxMinRatio).then(|| {
            next_col += 1;
            (pb.add_column(1.0, 0.0..=1.0), next_col - 1)
        });

        // Need rows: min_fill <= y_n <= 1, in the order of `self.needs`.
        let mut local_need = std::collections::HashMap::with_capacity(self.needs.len());
        for (i, &n) in self.needs.iter().enumerate() {
            local_need.insert(n, i);
        }
        let mut need_edges: Vec<Vec<usize>> = vec![Vec::new(); self.needs.len()];
        for (j, &e) in self.edges.iter().enumerate() {
            need_edges[local_need[&net.edges[e].need()]].push(j);
        }
        let elastic = goal == Goal::MinViolation;
        let mut slack_cols = Vec::new();
        let mut need_rows = Vec::new();
        let mut row = 0usize;
        for (i, &n) in self.needs.iter().enumerate() {
            if need_edges[i].is_empty() {
                continue;
            }
            let min_fill = s.needs[n].min_fill;
            let mut entries: Vec<_> = need_edges[i].iter().map(|&j| (cols[j], 1.0)).collect();
            if elastic && min_fill > 0.0 {
                let sc = pb.add_column(1.0, 0.0..=min_fill);
                slack_cols.push((Some(n), None, next_col));
                next_col += 1;
                entries.push((sc, 1.0));
            }
            pb.add_row(min_fill..=1.0, entries);
            need_rows.push((i, row));
            row += 1;
        }

        // Capacity rows, skipping those that can never bind.
        let mut res_edges: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        for (j, &e) in self.edges.iter().enumerate() {
            res_edges
                .entry(net.edges[e].resource())
                .or_default()
                .push(j);
        }
        let mut cap_rows = Vec::new();
        for &r in self.resources {
            let Some(js) = res_edges.get(&r) else {
                continue;
            };
            for d in 0..nd {
                let cap = net.cap(r)[d];
                let entries: Vec<_> = js
                    .iter()
                    .filter_map(|&j| {
                        let u = net.edge_use(self.edges[j])[d];
                        (u > 0.0).then_some((cols[j], u))
                    })
                    .collect();
                let total: f64 = entries.iter().map(|x| x.1).sum();
                if entries.is_empty() || total <= cap {
                    continue;
                }
                pb.add_row(..=cap, entries);
                cap_rows.push((r, d, row));
                row += 1;
            }
        }

        // Group rows: sum_{n in g} p_n y_n / P_g  (>= t, >= t* - tol, or >= s).
        let min_share = match s.policy.fairness {
            Fairness::MinShare(v) => Some(v),
            _ => None,
        };
        for g in &self.groups {
            let mut entries = Vec::new();
            for &i in &g.needs {
                let p = s.needs[self.needs[i]].priority / g.total_priority;
                entries.extend(need_edges[i].iter().map(|&j| (cols[j], p)));
            }
            let mut lower = f64::NEG_INFINITY;
            if let Some((t, _)) = t_col {
                entries.push((t, -1.0));
                lower = 0.0;
            }
            if let Some(v) = holds.ratio_at_least {
                lower = lower.max(v);
            }
            if let Some(v) = min_share {
                lower = lower.max(v);
                if elastic && v > 0.0 {
                    let sc = pb.add_column(1.0, 0.0..=v);
                    slack_cols.push((None, Some(g.name.clone()), next_col));
                    next_col += 1;
                    entries.push((sc, 1.0));
                }
            }
            if lower > f64::NEG_INFINITY {
                pb.add_row(lower.., entries);
            }
        }

        if let Some(v) = holds.value_at_least {
            let entries: Vec<_> = self
                .edges
                .iter()
                .enumerate()
                .map(|(j, &e)| (cols[j], self.priority_of_edge(e)))
                .collect();
            pb.add_row(v.., entries);
        }

        let sense = match goal {
            Goal::MinCost | Goal::MinViolation => Sense::Minimise,
            _ => Sense::Maximise,
        };
        let n_cols_hint = cols.len();
        let n_cols = cols.len();
        let failed = |status: HighsModelStatus| Stage {
            status,
            x: vec![0.0; n_cols],
            slack: Vec::new(),
            slack_owners: Vec::new(),
            t: 0.0,
            gap: None,
            need_rows: Vec::new(),
            cap_rows: Vec::new(),
            need_activity: Vec::new(),
        };
        let mut model = match pb.try_optimise(sense) {
            Ok(m) => m,
            Err(_) => return Self::forced(failed(HighsModelStatus::LoadError)),
        };
        model.make_quiet();
        model.set_option("threads", 1);
        model.set_option("parallel", "off");
        // Flow-shaped LPs spend most of their time in presolve (SOLVER_NOTES); MIPs need it.
        model.set_option("presolve", if mip { "on" } else { "off" });
        if mip {
            model.set_option("mip_rel_gap", s.policy.mip_gap);
        }
        if !mip && n_cols_hint >= IPM_MIN_COLUMNS {
            // Large allocation LPs: interior point then crossover (a vertex, so duals stay
            // basic) beats dual simplex several times over (ARCHITECTURE.md, "Presolve").
            model.set_option("solver", "ipm");
        }
        if let Some(deadline) = self.deadline {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            model.set_option("time_limit", left.max(1e-3));
        }
        let solved = match model.try_solve() {
            Ok(m) => m,
            Err(_) => return Self::forced(failed(HighsModelStatus::SolveError)),
        };
        let status = solved.status();
        let gap = if mip { Some(solved.mip_gap()) } else { None };
        let sol = solved.get_solution();
        let values = sol.columns();
        if values.len() < next_col {
            return Self::forced(failed(HighsModelStatus::SolveError));
        }
        let duals = sol.dual_rows();
        let activity = sol.rows();
        let x: Vec<f64> = values[..n_cols]
            .iter()
            .zip(self.edges)
            .map(|(&v, &e)| {
                let v = v.clamp(0.0, 1.0);
                if s.needs[net.edges[e].need()].indivisible {
                    v.round()
                } else if v < 1e-9 {
                    0.0
                } else if v > 1.0 - 1e-9 {
                    1.0
                } else {
                    v
                }
            })
            .collect();
        let slack = slack_cols.iter().map(|c| values[c.2]).collect();
        Self::forced(Stage {
            status,
            x,
            slack,
            slack_owners: slack_cols.into_iter().map(|c| (c.0, c.1)).collect(),
            t: t_col.map(|c| values[c.1]).unwrap_or(0.0),
            gap,
            need_rows: need_rows
                .iter()
                .map(|&(i, r)| (i, duals.get(r).copied().unwrap_or(0.0)))
                .collect(),
            cap_rows: cap_rows
                .iter()
                .map(|&(r, d, row)| (r, d, duals.get(row).copied().unwrap_or(0.0)))
                .collect(),
            need_activity: need_rows
                .iter()
                .map(|&(_, r)| activity.get(r).copied().unwrap_or(0.0))
                .collect(),
        })
    }

    /// The stage as HiGHS answered it, or with the status a test forces ([`fault`]).
    #[cfg_attr(not(test), inline(always))]
    fn forced(#[allow(unused_mut)] mut stage: Stage) -> Stage {
        #[cfg(test)]
        if let Some(status) = fault::next() {
            stage.status = status;
        }
        stage
    }

    fn value_of(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(self.edges)
            .map(|(&v, &e)| v * self.priority_of_edge(e))
            .sum()
    }

    /// Solve this sub-model with HiGHS (an LP, or a MIP when a need is indivisible) through
    /// every stage the policy asks for.
    pub(crate) fn solve_by_highs(&self) -> SubResult {
        let policy = &self.scenario.policy;
        let mip = self.is_mip();
        let mut holds = Holds {
            value_at_least: None,
            ratio_at_least: None,
            value_tiebreak: 0.0,
        };
        let mut result = SubResult {
            status: SubStatus::Optimal,
            x: vec![0.0; self.edges.len()],
            shadow: Vec::new(),
            marginal: vec![0.0; self.needs.len()],
            gap: None,
            mip,
            solved_by: SolvedBy::Highs,
            infeasible_needs: Vec::new(),
            infeasible_groups: Vec::new(),
            error: None,
        };

        if self.edges.is_empty() {
            // Nothing can be served here: only a positive min_share can fail.
            if let Fairness::MinShare(v) = policy.fairness {
                if v > 0.0 {
                    result.status = SubStatus::Infeasible;
                    result.infeasible_groups = self.groups.iter().map(|g| g.name.clone()).collect();
                }
            }
            return result;
        }

        let mut stages: Vec<Goal> = Vec::new();
        if policy.fairness == Fairness::Maxmin && !self.groups.is_empty() {
            stages.push(Goal::MaxMinRatio);
        }
        match policy.objective {
            Objective::Coverage => stages.extend([Goal::MaxValue, Goal::MinCost]),
            Objective::Cost => stages.push(Goal::MinCost),
            Objective::Weighted => stages.push(Goal::MaxWeighted(policy.cost_weight)),
        }
        // The stage whose duals are reported: the one that sets the main objective.
        let dual_stage = match policy.objective {
            Objective::Coverage => Goal::MaxValue,
            Objective::Cost => Goal::MinCost,
            Objective::Weighted => Goal::MaxWeighted(policy.cost_weight),
        };

        for (k, &goal) in stages.iter().enumerate() {
            let st = self.run(goal, &holds);
            match stage_outcome(st.status, k) {
                StageOutcome::Solved => {}
                StageOutcome::TimeLimit => {
                    result.status = SubStatus::TimeLimit;
                    // A MIP keeps its incumbent (finite gap); otherwise nothing usable yet.
                    if st.gap.is_some_and(f64::is_finite) {
                        result.x = st.x;
                        result.gap = st.gap;
                    } else if k == 0 {
                        result.gap = None;
                    }
                    return result;
                }
                StageOutcome::Infeasible => {
                    self.diagnose(&mut result);
                    return result;
                }
                StageOutcome::Failed(why) => {
                    // No plan: a stage that failed proves nothing, and an earlier stage's plan
                    // is not the policy's answer (its later stages were not applied).
                    return self.failed(goal, why);
                }
            }
            if goal == dual_stage && !mip {
                self.record_duals(&st, goal, &mut result);
            }
            match goal {
                Goal::MaxMinRatio => holds.ratio_at_least = Some((st.t - LEX_TOL).max(0.0)),
                Goal::MaxValue => {
                    let v = self.value_of(&st.x);
                    holds.value_at_least = Some(v - LEX_TOL * v.abs().max(1.0));
                    let max_cost = self
                        .edges
                        .iter()
                        .map(|&e| self.net.edges[e].cost.abs())
                        .fold(1.0, f64::max);
                    let max_priority = self
                        .needs
                        .iter()
                        .map(|&n| self.scenario.needs[n].priority)
                        .fold(f64::MIN_POSITIVE, f64::max);
                    holds.value_tiebreak = 1e-6 * max_cost / max_priority;
                }
                _ => {}
            }
            if mip {
                result.gap = st.gap.map(|g| if g.is_finite() { g } else { 0.0 });
            }
            result.x = st.x;
        }
        result
    }

    /// The answer of a sub-model whose stage `goal` failed: no plan, and what failed.
    fn failed(&self, goal: Goal, why: String) -> SubResult {
        SubResult {
            status: SubStatus::Error,
            x: vec![0.0; self.edges.len()],
            shadow: Vec::new(),
            marginal: vec![0.0; self.needs.len()],
            gap: None,
            mip: self.is_mip(),
            solved_by: SolvedBy::Highs,
            infeasible_needs: Vec::new(),
            infeasible_groups: Vec::new(),
            error: Some(format!(
                "{why} ({:?}, a part of {} need(s) and {} link(s))",
                goal,
                self.needs.len(),
                self.edges.len()
            )),
        }
    }

    /// Duals as gains: how much the stage's objective improves per unit (SPEC section 3).
    fn record_duals(&self, st: &Stage, goal: Goal, result: &mut SubResult) {
        // HiGHS reports row duals as d(objective)/d(bound) in the model's own sense; a gain is
        // that for a maximisation and its negation for a minimisation. Checked by finite
        // difference in the tests.
        let sign = if goal == Goal::MinCost { -1.0 } else { 1.0 };
        result.shadow = st
            .cap_rows
            .iter()
            .map(|&(r, d, dual)| (r, d, positive(sign * dual)))
            .collect();
        for (k, &(i, dual)) in st.need_rows.iter().enumerate() {
            let at_upper = st.need_activity[k] >= 1.0 - 1e-9;
            result.marginal[i] = if at_upper {
                (sign * dual).max(0.0)
            } else {
                0.0
            };
        }
    }

    /// Find which needs' min_fill and which groups' min_share cannot hold: minimise their total
    /// violation; those left violated are named.
    fn diagnose(&self, result: &mut SubResult) {
        result.status = SubStatus::Infeasible;
        let st = self.run(
            Goal::MinViolation,
            &Holds {
                value_at_least: None,
                ratio_at_least: None,
                value_tiebreak: 0.0,
            },
        );
        // The elastic model always has a solution; if HiGHS does not find it, the sub-model is
        // still infeasible (its first stage said so), only without names.
        if stage_outcome(st.status, 0) != StageOutcome::Solved {
            return;
        }
        for (owner, v) in st.slack_owners.iter().zip(&st.slack) {
            if *v > 1e-7 {
                match owner {
                    (Some(n), _) => result.infeasible_needs.push(*n),
                    (_, Some(g)) => result.infeasible_groups.push(g.clone()),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fault::force;
    use super::*;
    use crate::solve::{
        solve_with, try_solve_with, SolveError, SolveOptions, SolverUsed, Solvers, Status,
    };
    use crate::{scenario_from_value, Scenario};
    use highs::HighsModelStatus as H;

    const EVERY_STATUS: [H; 16] = [
        H::NotSet,
        H::LoadError,
        H::ModelError,
        H::PresolveError,
        H::SolveError,
        H::PostsolveError,
        H::ModelEmpty,
        H::Infeasible,
        H::UnboundedOrInfeasible,
        H::Unbounded,
        H::Optimal,
        H::ObjectiveBound,
        H::ObjectiveTarget,
        H::ReachedTimeLimit,
        H::ReachedIterationLimit,
        H::Unknown,
    ];

    #[test]
    fn every_highs_status_has_an_explicit_meaning_in_every_stage() {
        for status in EVERY_STATUS {
            for stage in [0, 1, 2] {
                let got = stage_outcome(status, stage);
                let want = match status {
                    H::Optimal | H::ModelEmpty => StageOutcome::Solved,
                    H::ReachedTimeLimit => StageOutcome::TimeLimit,
                    H::Infeasible | H::UnboundedOrInfeasible if stage == 0 => {
                        StageOutcome::Infeasible
                    }
                    _ => {
                        let StageOutcome::Failed(why) = &got else {
                            panic!("{status:?} in stage {stage}: {got:?}")
                        };
                        assert!(why.contains(&format!("{status:?}")), "{why}");
                        assert!(why.contains(&format!("stage {}", stage + 1)), "{why}");
                        got.clone()
                    }
                };
                assert_eq!(got, want, "{status:?} in stage {stage}");
            }
        }
    }

    /// Two needs, two resources, two dimensions (so the LP, not the flow solver), coverage:
    /// stage 1 maximises V, stage 2 minimises C.
    fn scenario() -> Scenario {
        scenario_from_value(&serde_json::json!({
            "resources": [
                {"id": "r1", "kind": "k", "capacity": {"beds": 2, "meals": 6}, "cost": 1},
                {"id": "r2", "kind": "k", "capacity": {"beds": 1, "meals": 3}, "cost": 2}
            ],
            "needs": [
                {"id": "a", "kind": "k", "demand": {"beds": 2, "meals": 6}, "priority": 2},
                {"id": "b", "kind": "k", "demand": {"beds": 1, "meals": 3}}
            ]
        }))
        .unwrap()
    }

    /// Solve with the next HiGHS runs forced to `statuses`, on a one-thread pool so that every
    /// stage runs on the thread the faults are set on.
    fn forced(s: &Scenario, statuses: &[Option<H>]) -> (Result<Status, SolveError>, Status) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            let opts = SolveOptions::default();
            force(statuses);
            let tried = try_solve_with(s, &opts).map(|o| {
                if o.solution.status == Status::Infeasible {
                    assert!(o.solution.x.iter().all(|&v| v == 0.0));
                }
                o.solution.status
            });
            force(statuses);
            let plain = solve_with(s, &opts);
            force(&[]);
            if plain.solution.status == Status::Error {
                assert!(plain.solution.x.iter().all(|&v| v == 0.0), "a plan kept");
            }
            (tried, plain.solution.status)
        })
    }

    #[test]
    fn unforced_the_scenario_is_solved_optimally_by_highs() {
        let s = scenario();
        let o = solve_with(&s, &SolveOptions::default());
        assert_eq!(o.solution.status, Status::Optimal);
        assert_eq!(o.solution.solver, Solvers::one(SolverUsed::HighsLp));
        assert!(o.solution.x.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn a_failed_first_stage_is_an_error_not_an_empty_optimum() {
        for status in [
            H::SolveError,
            H::Unknown,
            H::Unbounded,
            H::ReachedIterationLimit,
        ] {
            let (tried, plain) = forced(&scenario(), &[Some(status)]);
            match tried {
                Err(SolveError::Solver(why)) => {
                    assert!(why.contains(&format!("{status:?}")), "{why}");
                    assert!(why.contains("stage 1"), "{why}");
                }
                other => panic!("{status:?}: {other:?}"),
            }
            assert_eq!(plain, Status::Error, "{status:?}");
        }
    }

    #[test]
    fn a_failed_later_stage_is_an_error_too() {
        for status in [H::SolveError, H::Infeasible, H::NotSet] {
            let (tried, plain) = forced(&scenario(), &[None, Some(status)]);
            match tried {
                Err(SolveError::Solver(why)) => assert!(why.contains("stage 2"), "{why}"),
                other => panic!("{status:?}: {other:?}"),
            }
            assert_eq!(plain, Status::Error);
        }
    }

    #[test]
    fn a_time_limit_in_any_stage_is_time_limit() {
        for at in [0, 1] {
            let mut plan = vec![None; at];
            plan.push(Some(H::ReachedTimeLimit));
            let (tried, plain) = forced(&scenario(), &plan);
            assert_eq!(tried, Ok(Status::TimeLimit), "stage {at}");
            assert_eq!(plain, Status::TimeLimit);
        }
    }

    #[test]
    fn infeasible_first_stage_is_infeasible_even_when_the_diagnosis_fails() {
        for diagnosis in [None, Some(H::SolveError)] {
            let (tried, plain) = forced(&scenario(), &[Some(H::Infeasible), diagnosis]);
            assert_eq!(tried, Ok(Status::Infeasible));
            assert_eq!(plain, Status::Infeasible);
        }
        let (tried, _) = forced(&scenario(), &[Some(H::UnboundedOrInfeasible)]);
        assert_eq!(tried, Ok(Status::Infeasible));
    }

    #[test]
    fn solved_stages_are_optimal() {
        for plan in [
            vec![Some(H::Optimal), Some(H::Optimal)],
            vec![Some(H::ModelEmpty)],
        ] {
            let (tried, plain) = forced(&scenario(), &plan);
            assert_eq!(tried, Ok(Status::Optimal));
            assert_eq!(plain, Status::Optimal);
        }
    }
}
