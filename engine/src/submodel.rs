//! `SubModel`: the part of a scenario one solver run sees (a connected component, or the whole
//! scenario when fairness couples the components or the greedy baseline ranks every need), and
//! `SubResult`, what a solver answers for it. [`SubModel::solve`] sends the part where
//! [`SubModel::route`] says; the solvers live in `lp.rs` (HiGHS), `transport.rs` (flow and
//! assignment) and `greedy.rs`.

use crate::graph::Network;
use crate::model::Scenario;
use crate::route::Route;
use std::time::Instant;

/// `x` if positive, else 0 (never -0): duals reported as gains.
pub(crate) fn positive(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// A group of needs for fairness: name, local need positions, total priority (of the whole
/// group: in a live session, with its dispatched needs), and the ratio its dispatches reached
/// (`Policy::group_scale`), so that `ratio_g = offset + sum_{n in needs} p_n y_n / total`.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub needs: Vec<usize>,
    pub total_priority: f64,
    pub offset: f64,
}

/// The part of the model one solver run sees: a component, or everything when fairness
/// couples the components.
pub struct SubModel<'a> {
    pub scenario: &'a Scenario,
    pub net: &'a Network,
    pub needs: &'a [usize],
    pub edges: &'a [usize],
    pub resources: &'a [usize],
    /// Fairness groups over `needs` (empty without fairness).
    pub groups: Vec<Group>,
    pub deadline: Option<Instant>,
    /// The solve's [`crate::Cancel`], if its caller may call it off: HiGHS's runs watch it.
    pub(crate) cancel: Option<&'a crate::Cancel>,
    /// A live session's kept LP bases (`lp/start.rs`): the LP stages start from them and
    /// leave theirs for the next re-plan.
    pub(crate) lp_starts: Option<&'a crate::lp::LpStarts>,
    /// Whether the answer's shadow prices and marginal values are wanted: the price of
    /// fairness's efficient plan reads only the plan, so its parts skip the residual
    /// searches of the exact routes and a MIP's fixed-choice LP (left at 0).
    pub(crate) prices: bool,
    /// The part's allocation columns by need, once worked out (`SubModel::edges_by_need`).
    pub(crate) by_need: std::sync::OnceLock<Vec<Vec<usize>>>,
}

/// Which solver answered for a sub-model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolvedBy {
    Highs,
    NetworkSimplex,
    Assignment,
    Greedy,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubStatus {
    Optimal,
    /// A plan that is not a proven optimum (the greedy baseline).
    Feasible,
    Infeasible,
    TimeLimit,
    /// HiGHS failed (an error status, or a status we cannot read as an answer): no plan, and
    /// `SubResult::error` says which stage and which status.
    Error,
}

/// What a solver found for one sub-model.
#[derive(Debug, Clone)]
pub struct SubResult {
    pub status: SubStatus,
    /// Share of each edge of `SubModel::edges`.
    pub x: Vec<f64>,
    /// Gains per unit of capacity: `(resource, dim, price)`.
    pub shadow: Vec<(usize, usize, f64)>,
    /// Gain per unit of each need's `y <= 1` bound, by position in `SubModel::needs`.
    pub marginal: Vec<f64>,
    pub gap: Option<f64>,
    pub mip: bool,
    pub solved_by: SolvedBy,
    /// Needs (global index) and groups (name) whose hard constraints cannot hold.
    pub infeasible_needs: Vec<usize>,
    pub infeasible_groups: Vec<String>,
    /// An irreducible infeasible subset, when infeasible and it was found.
    pub conflict: Vec<crate::solve::Conflict>,
    /// What failed, when `status` is `Error`.
    pub error: Option<String>,
    /// When `status` is `Error`: HiGHS gave up on a model it had taken (numerical trouble:
    /// `Unknown`, a solve error, a later stage called infeasible...), not one it refused to
    /// load, which is a fault of the model's builder.
    pub numerical: bool,
}

impl SubResult {
    /// An optimal answer without infeasibility or gap.
    pub(crate) fn optimal(
        solved_by: SolvedBy,
        x: Vec<f64>,
        shadow: Vec<(usize, usize, f64)>,
        marginal: Vec<f64>,
    ) -> Self {
        SubResult {
            status: SubStatus::Optimal,
            x,
            shadow,
            marginal,
            gap: None,
            mip: false,
            solved_by,
            infeasible_needs: Vec::new(),
            infeasible_groups: Vec::new(),
            conflict: Vec::new(),
            error: None,
            numerical: false,
        }
    }
}

impl SubModel<'_> {
    /// Whether the solve is past its time limit or called off: an exact solver that checks
    /// it stops with [`SubModel::stopped`].
    pub(crate) fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.cancel.is_some_and(|c| c.is_cancelled())
    }

    /// The answer of a solver stopped by [`SubModel::out_of_time`]: `time_limit` and no plan
    /// (a called-off solve is answered as such by its caller).
    pub(crate) fn stopped(&self, solved_by: SolvedBy) -> SubResult {
        SubResult {
            status: SubStatus::TimeLimit,
            ..SubResult::optimal(
                solved_by,
                vec![0.0; self.edges.len()],
                Vec::new(),
                vec![0.0; self.needs.len()],
            )
        }
    }

    /// A plan answered without prices ([`SubModel::prices`] off): no shadow price, every
    /// marginal value 0.
    pub(crate) fn unpriced(&self, solved_by: SolvedBy, x: Vec<f64>) -> SubResult {
        SubResult::optimal(solved_by, x, Vec::new(), vec![0.0; self.needs.len()])
    }

    /// Whether some need of the part is indivisible, or divisible with several starts to
    /// choose from (integer columns: a MIP).
    pub(crate) fn is_mip(&self) -> bool {
        let s = self.scenario;
        self.needs.iter().any(|&n| s.needs[n].indivisible)
            || crate::timed::has_start_choice(self.net, self.edges, |n| s.needs[n].indivisible)
    }

    /// Solve the part on its route. The exact solvers answer only what they can answer
    /// exactly; what they leave (an infeasible flow, whose needs at fault the LP's elastic
    /// model names, or data beyond 64-bit integers) goes on along assignment -> flow -> LP.
    pub fn solve(&self) -> SubResult {
        match self.route() {
            Route::Greedy => self.solve_greedy(),
            Route::Assignment(exact) => self
                .solve_by_assignment(&exact)
                .or_else(|| self.solve_by_flow(&exact))
                .unwrap_or_else(|| self.solve_by_highs()),
            Route::Flow(exact) => self
                .solve_by_flow(&exact)
                .unwrap_or_else(|| self.solve_by_highs()),
            Route::Timeline(shape) => self
                .solve_by_timeline(&shape)
                .unwrap_or_else(|| self.solve_by_highs()),
            Route::Lp | Route::Mip => self.solve_by_highs(),
        }
    }
}
