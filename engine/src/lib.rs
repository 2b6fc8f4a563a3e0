//! CommonsNet engine: the allocation model of SPEC section 2, its validation (serde values and
//! in-memory Arrow record batches), graph building, solvers and results.
//!
//! Invariant: this crate does no file or network I/O and starts no async runtime; callers hand
//! it values and record batches and get values and record batches back.

pub mod batch;
pub mod cancel;
mod events;
pub mod explain;
pub mod graph;
mod greedy;
pub mod input;
mod lp;
pub mod model;
mod results;
mod route;
pub mod schema;
pub mod seeds;
pub mod session;
pub mod solve;
mod submodel;
mod switch;
pub mod tables;
mod timed;
mod timeline;
mod transport;

pub use cancel::Cancel;
pub use input::{
    scenario_from_batches, scenario_from_json_str, scenario_from_value, scenario_with_policy,
    InputIssue, InvalidInput, ScenarioTables,
};
pub use model::{Policy, Scenario, MAX_THREADS};
pub use results::{AllocationRow, NeedRow, Report, ResourceRow, ResultTables, Summary};
pub use route::MAX_ASSIGNMENT_CELLS;
pub use solve::{solve, solve_with, Outcome, SolveOptions, Status};

/// The engine's version, recorded in every summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Validate nothing further, solve and report: the one call most users need.
pub fn solve_report(s: &Scenario) -> Report {
    Report::new(&solve(s))
}
