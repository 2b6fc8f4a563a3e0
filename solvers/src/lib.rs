//! CommonsNet's exact combinatorial solvers: minimum-cost flow (network simplex, cost scaling)
//! and linear assignment, on integer data, with duals. They know nothing of scenarios: the
//! engine turns a component into one of these problems and reads the answer back.
//!
//! Hand-written rather than bound from a library because the engine needs what libraries do
//! not give together: exact `i64`/`i128` arithmetic, the optimal spanning-tree basis (duals of
//! a second objective), a lexicographic objective in one solve, and rectangular, sparse
//! assignment with LP duals.
//!
//! Modules, each depending only on those before it:
//! - [`problem`] holds [`FlowProblem`], [`FlowSolution`], [`FlowError`], [`Basis`] and the
//!   shared checks;
//! - [`network_simplex`] holds [`NetworkSimplex`];
//! - [`cost_scaling`] holds [`CostScaling`];
//! - [`assignment`] (standalone) holds [`solve_assignment`];
//! - this file holds [`MinCostFlow`], the choice between the two flow methods.

pub mod assignment;
pub mod cost_scaling;
pub mod network_simplex;
pub mod problem;

pub use assignment::{
    solve_assignment, Assignment, AssignmentError, AssignmentProblem, InvalidAssignment, FORBIDDEN,
};
pub use cost_scaling::CostScaling;
pub use network_simplex::NetworkSimplex;
pub use problem::{
    Basis, FlowError, FlowMethod, FlowProblem, FlowSolution, Infeasibility, InvalidNetwork,
    INFINITE,
};

/// Min-cost flow with the method suited to the network: cost scaling on large sparse
/// networks, network simplex elsewhere (and wherever cost scaling declines, see
/// [`cost_scaling`]).
pub struct MinCostFlow;

impl MinCostFlow {
    /// Networks with at least this many nodes, and ...
    pub const COST_SCALING_FROM: usize = 1 << 13;
    /// ... at most this many arcs per node go to cost scaling. Below 2^13 nodes network
    /// simplex's cheap pivots win; on dense networks its lead holds at every size (Kovács), and
    /// our transportation shapes of ~20 arcs per node are still faster by cost scaling
    /// (`benches/RESULTS.md`, "Flow method crossover").
    pub const COST_SCALING_MAX_DEGREE: usize = 24;

    pub fn solve(p: &FlowProblem) -> Result<FlowSolution, FlowError> {
        Self::solve_with(p, Self::choose(p))
    }

    /// The method [`MinCostFlow::solve`] tries first.
    pub fn choose(p: &FlowProblem) -> FlowMethod {
        if p.nodes >= Self::COST_SCALING_FROM && p.arcs() <= Self::COST_SCALING_MAX_DEGREE * p.nodes
        {
            FlowMethod::CostScaling
        } else {
            FlowMethod::NetworkSimplex
        }
    }

    /// Solve with `method`; cost scaling falls back to network simplex where it declines.
    pub fn solve_with(p: &FlowProblem, method: FlowMethod) -> Result<FlowSolution, FlowError> {
        problem::check(p)?;
        if method == FlowMethod::CostScaling {
            if let Some(s) = CostScaling::solve(p) {
                return Ok(s);
            }
        }
        NetworkSimplex::solve(p)
    }
}
