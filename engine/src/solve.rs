//! Orchestration: build the graph, split it, solve the parts in parallel, merge in input order.

use crate::graph::{components, Component, Network};
use crate::lp::LpStarts;
use crate::model::{Fairness, Need, Objective, Policy, Scenario, SolverChoice};
use crate::submodel::{Group, SolvedBy, SubModel, SubResult, SubStatus};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// SPEC's statuses, plus `feasible` for the greedy baseline (a plan, not a proven optimum)
/// and `error` for a solver that failed (no plan; [`try_solve_with`] says what failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Optimal,
    Feasible,
    Infeasible,
    TimeLimit,
    Error,
}

impl Status {
    /// Every status, in the order SPEC lists them.
    pub const ALL: [Status; 5] = [
        Status::Optimal,
        Status::Feasible,
        Status::Infeasible,
        Status::TimeLimit,
        Status::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Optimal => "optimal",
            Status::Feasible => "feasible",
            Status::Infeasible => "infeasible",
            Status::TimeLimit => "time_limit",
            Status::Error => "error",
        }
    }
}

/// A solver that took part in a plan, as summaries spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SolverUsed {
    Greedy,
    Assignment,
    NetworkSimplex,
    HighsMip,
    HighsLp,
    /// A live session's plan, kept incrementally (its report solves nothing).
    Session,
}

impl SolverUsed {
    pub fn as_str(self) -> &'static str {
        match self {
            SolverUsed::Greedy => "greedy",
            SolverUsed::Assignment => "assignment",
            SolverUsed::NetworkSimplex => "network_simplex",
            SolverUsed::HighsMip => "highs_mip",
            SolverUsed::HighsLp => "highs_lp",
            SolverUsed::Session => "session",
        }
    }
}

/// The solvers that took part in a plan, in a fixed order; written joined by `+`
/// (`network_simplex+highs_lp`), as SPEC's summary spells the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solvers(Vec<SolverUsed>);

impl Solvers {
    pub fn one(s: SolverUsed) -> Solvers {
        Solvers(vec![s])
    }

    pub fn contains(&self, s: SolverUsed) -> bool {
        self.0.contains(&s)
    }

    pub fn first(&self) -> Option<SolverUsed> {
        self.0.first().copied()
    }
}

impl std::fmt::Display for Solvers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for Solvers {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(self)
    }
}

/// A solve that produced no answer: the solver failed (invalid input is refused before
/// solving, and infeasibility or a time limit are answers).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// HiGHS returned an error, or a status that is not an answer, in some stage.
    #[error("the LP/MIP solver failed: {0}")]
    Solver(String),
    /// The solver failed on a scenario whose values of one kind span more than
    /// [`RELIABLE_ORDERS`] orders of magnitude: an LP in double precision is not solved
    /// reliably there, so the input can mend it (rescaled units) where the service cannot.
    #[error(
        "the LP/MIP solver failed: {message}. The scenario's {kind} span {orders:.1} orders of \
         magnitude, from {} to {}; up to {RELIABLE_ORDERS} solve reliably: express them in \
         other units, or drop the values too small to matter",
        .span.smallest, .span.largest,
        kind = .span.kind.as_str(), orders = .span.orders()
    )]
    WideValues {
        message: String,
        span: Box<ValueSpan>,
    },
    /// The caller called the solve off ([`SolveOptions::cancel`]).
    #[error("the solve was called off before it finished")]
    Cancelled,
    /// A part's model would hold more than the engine builds ([`MAX_MIP_COLUMNS`]); the
    /// message says what to change in the input.
    #[error("the scenario is too large to solve: {0}")]
    TooLarge(String),
}

/// The most columns of one MIP part (see `solve_parts_of`): about 0.8 GB in HiGHS.
pub const MAX_MIP_COLUMNS: usize = 500_000;

/// How many orders of magnitude one kind of value may span before a solver failure is put
/// down to it. Random LPs spanning up to 9 all solve (benches/RESULTS.md, "Numerical
/// trouble"; at 12 and more some fail whatever HiGHS is asked), but a MIP under leximin
/// spanning 6.9 failed with its holds loosened (a MIP stage has no simplex rescues), and a
/// failure there was a 500 for what the client sent.
pub const RELIABLE_ORDERS: f64 = 6.0;

/// The kinds of value an LP holds side by side: quantities are its matrix and bounds,
/// priorities and costs its objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Quantities,
    Priorities,
    Costs,
}

impl ValueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Quantities => "capacities, demands and uses",
            ValueKind::Priorities => "priorities",
            ValueKind::Costs => "costs",
        }
    }
}

/// The smallest and the largest non-zero magnitude of one kind of value, and where each is.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSpan {
    pub kind: ValueKind,
    pub smallest: ValueAt,
    pub largest: ValueAt,
}

impl ValueSpan {
    pub fn orders(&self) -> f64 {
        (self.largest.value.abs() / self.smallest.value.abs()).log10()
    }

    /// The widest span, by kind, of the input values of the needs and resources `need_in`
    /// and `resource_in` mark and of the links between them (the values one failed part's
    /// model holds; zeros left out: they are no coefficient); `None` without a non-zero one.
    fn widest(s: &Scenario, need_in: &[bool], resource_in: &[bool]) -> Option<ValueSpan> {
        let mut spans: Vec<ValueSpan> = Vec::new();
        let mut note = |kind: ValueKind, at: ValueAt| {
            if at.value == 0.0 || !at.value.is_finite() {
                return;
            }
            let m = at.value.abs();
            match spans.iter_mut().find(|x| x.kind == kind) {
                None => spans.push(ValueSpan {
                    kind,
                    smallest: at.clone(),
                    largest: at,
                }),
                Some(x) if m < x.smallest.value.abs() => x.smallest = at,
                Some(x) if m > x.largest.value.abs() => x.largest = at,
                Some(_) => {}
            }
        };
        // A row's quantities (`capacity.u`, ...) and its one other value (a cost, a priority).
        let mut row_values =
            |table: &'static str,
             row: usize,
             (prefix, quantities): (&str, &crate::model::Quantities),
             (kind, field, value): (ValueKind, &str, f64)| {
                let at = |field: String, value: f64| ValueAt {
                    table,
                    row,
                    field,
                    value,
                };
                for (d, &v) in quantities {
                    note(ValueKind::Quantities, at(format!("{prefix}.{d}"), v));
                }
                note(kind, at(field.into(), value));
            };
        for (row, r) in s
            .resources
            .iter()
            .enumerate()
            .filter(|&(i, _)| resource_in[i])
        {
            let cost = (ValueKind::Costs, "cost", r.cost);
            row_values("resources", row, ("capacity", &r.capacity), cost);
        }
        for (row, n) in s.needs.iter().enumerate().filter(|&(i, _)| need_in[i]) {
            let priority = (ValueKind::Priorities, "priority", n.priority);
            row_values("needs", row, ("demand", &n.demand), priority);
        }
        let need_ids: std::collections::HashSet<&str> = (s.needs.iter().zip(need_in))
            .filter_map(|(n, &m)| m.then_some(n.id.as_str()))
            .collect();
        let resource_ids: std::collections::HashSet<&str> = (s.resources.iter().zip(resource_in))
            .filter_map(|(r, &m)| m.then_some(r.id.as_str()))
            .collect();
        let in_part = |l: &crate::model::Link| {
            need_ids.contains(l.need.as_str()) && resource_ids.contains(l.resource.as_str())
        };
        for (row, l) in s
            .links
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, l)| in_part(l))
        {
            let cost = (ValueKind::Costs, "cost", l.cost);
            row_values("links", row, ("use", &l.use_), cost);
        }
        spans
            .into_iter()
            .max_by(|a, b| a.orders().total_cmp(&b.orders()))
    }
}

/// One input value: its table, row (0-based) and field (its JSON name), shown as the
/// validator shows a problem's place: `needs[3].demand.u`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAt {
    pub table: &'static str,
    pub row: usize,
    pub field: String,
    pub value: f64,
}

impl std::fmt::Display for ValueAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.3e} at {}[{}].{}",
            self.value, self.table, self.row, self.field
        )
    }
}

impl SolveError {
    /// The failure of a solve of `s` whose parts `failed` failed in numerical trouble:
    /// [`SolveError::WideValues`] when some kind of value in those parts spans more than
    /// [`RELIABLE_ORDERS`] (a part that failed beside another whose values span widely is not
    /// put down to them, nor a model HiGHS refused to load).
    fn of_failure(s: &Scenario, failed: &[&Component], message: String) -> SolveError {
        if failed.is_empty() {
            return SolveError::Solver(message);
        }
        let mut need_in = vec![false; s.needs.len()];
        let mut resource_in = vec![false; s.resources.len()];
        for c in failed {
            c.needs.iter().for_each(|&n| need_in[n] = true);
            c.resources.iter().for_each(|&r| resource_in[r] = true);
        }
        match ValueSpan::widest(s, &need_in, &resource_in) {
            Some(span) if span.orders() > RELIABLE_ORDERS => SolveError::WideValues {
                message,
                span: Box::new(span),
            },
            _ => SolveError::Solver(message),
        }
    }
}

/// Why a scenario has no plan: the needs and groups whose hard constraints cannot hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Infeasibility {
    pub message: String,
    pub needs: Vec<String>,
    pub groups: Vec<String>,
    /// An irreducible infeasible subset in SPEC terms: its `min_fill` and `min_share` members
    /// cannot all hold, and relaxing any one of them makes the rest feasible; its `capacity`
    /// members are the capacities they compete for. Empty when it was not computed (a greedy
    /// plan, the time limit, or more than `MAX_CONFLICT_CANDIDATES` candidates).
    pub conflict: Vec<Conflict>,
    /// The irreducible sets of the scenario's other parts that have no plan, one per part
    /// (parts share no resource, need or group, so each is a conflict of its own): a planner
    /// sees every conflict at once, not one per re-solve. Left out when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_conflicts: Vec<Vec<Conflict>>,
}

impl Infeasibility {
    /// Every computed conflict: `conflict`, then `more_conflicts`.
    pub fn conflicts(&self) -> impl Iterator<Item = &[Conflict]> {
        std::iter::once(self.conflict.as_slice())
            .chain(self.more_conflicts.iter().map(Vec::as_slice))
            .filter(|c| !c.is_empty())
    }
}

/// One member of an infeasible scenario's conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The need (`min_fill`, `window`), group (`min_share`) or resource (`capacity`).
    pub id: String,
    /// The capacity's dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<String>,
}

impl Conflict {
    /// The member in words, for the infeasibility message.
    fn describe(&self) -> String {
        match self.kind {
            ConflictKind::MinFill => format!("min_fill of need {}", self.id),
            ConflictKind::MinShare => format!("min_share of group {}", self.id),
            ConflictKind::Capacity => match &self.dim {
                Some(d) => format!("capacity {d} of resource {}", self.id),
                None => format!("capacity of resource {}", self.id),
            },
            ConflictKind::Window => format!("time window of need {}", self.id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    MinFill,
    MinShare,
    Capacity,
    /// A need's time window (SPEC link rule 5, or no usable start over time) keeps out
    /// resources that would otherwise serve it, or, over time, decides with which other uses
    /// of a reusable capacity in the conflict it overlaps.
    Window,
}

/// The solver's answer, indexed like the [`Network`].
#[derive(Debug, Clone)]
pub struct Solution {
    pub status: Status,
    /// Share of each edge.
    pub x: Vec<f64>,
    /// Shadow price per `resource * D + dim` (gain per unit of capacity).
    pub shadow: Vec<f64>,
    /// Marginal value of each need's `y <= 1` bound.
    pub marginal: Vec<f64>,
    pub gap: Option<f64>,
    pub infeasibility: Option<Infeasibility>,
    pub solver: Solvers,
    pub components: usize,
    pub solve_ms: f64,
    /// Where the shadow prices and marginal values come from.
    pub duals: Duals,
    /// The needs (by index) of the parts without an optimal plan, with the part's status: a
    /// live session reports them in trouble, part by part.
    pub troubled: Vec<(usize, Status)>,
    /// The needs (by index) of the parts stopped at the time limit with a plan, with the
    /// part's gap: a live session reports the gap of its parts so stopped.
    pub part_gaps: Vec<(usize, f64)>,
}

/// Where a plan's duals come from (SPEC section 3, `summary.duals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Duals {
    /// The LP of the stage that sets the main objective: on the flow and assignment routes
    /// the gain of one more unit (the right derivative, one of the LP's optimal duals per
    /// price); on the LP path HiGHS's duals and on the timeline route the flow basis's
    /// potentials, optimal duals that bound that gain from above.
    Lp,
    /// A MIP plan: the LP of that stage with the integer choices fixed at the optimum.
    FixedMip,
    /// No duals: the greedy baseline, or no plan.
    None,
}

/// Knobs that are not part of a scenario's policy.
#[derive(Debug, Clone)]
pub struct SolveOptions {
    /// Solve connected components separately (and in parallel). Off only in tests.
    pub split_components: bool,
    /// Threads of this solve. `None`: the current rayon pool. A caller that already runs on a
    /// pool (a batch or job runner, whose pool is sized once for all its runs) gets that pool
    /// and `policy.threads` is ignored; any other caller gets the global pool, or a pool of
    /// `policy.threads` when the policy sets it. `Some(n)`: a pool of `n` threads, built for
    /// this solve unless the caller already runs on a pool of exactly `n` threads.
    pub threads: Option<usize>,
    /// A cap on the policy's time limit set by the caller (a server's per-request limit),
    /// kept out of the scenario so that its digest stays that of the input.
    pub time_limit_s: Option<f64>,
    /// Set by the caller to call the solve off (a client gone, a server shutting down): it
    /// ends with [`SolveError::Cancelled`] at HiGHS's next iteration or before its next
    /// part or stage.
    pub cancel: Option<crate::Cancel>,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            split_components: true,
            threads: None,
            time_limit_s: None,
            cancel: None,
        }
    }
}

/// A scenario together with its graph and solution: everything the results need.
pub struct Outcome<'a> {
    pub scenario: &'a Scenario,
    pub network: Network,
    pub solution: Solution,
    /// The plan without fairness that prices it (SPEC section 2), when the policy is fair and
    /// that solve proved its optimum; `None` otherwise.
    pub efficient: Option<Efficient>,
}

/// The best plan for coverage under the same hard constraints without fairness: its value is
/// `V_eff` of the price of fairness, its coverage what the `fairness` explanation compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Efficient {
    pub value: f64,
    /// `min(1, y_n)` per need.
    pub coverage: Vec<f64>,
}

/// Solve with default options.
pub fn solve(s: &Scenario) -> Outcome<'_> {
    solve_with(s, &SolveOptions::default())
}

/// Solve; a solver failure is an answer with status [`Status::Error`] and no plan. Callers
/// that must tell the failure apart (and say what failed) use [`try_solve_with`].
pub fn solve_with<'a>(s: &'a Scenario, opts: &SolveOptions) -> Outcome<'a> {
    outcome(s, solve_parts(s, opts, None))
}

#[allow(clippy::type_complexity)]
fn outcome(
    s: &Scenario,
    (network, solution, efficient): (
        Network,
        Result<Solution, (SolveError, f64)>,
        Option<Efficient>,
    ),
) -> Outcome<'_> {
    let solution = solution.unwrap_or_else(|(_, ms)| {
        let mut sol = empty_solution(s, &network, Solvers::one(SolverUsed::HighsLp));
        sol.status = Status::Error;
        sol.duals = Duals::None;
        sol.solve_ms = ms;
        sol
    });
    Outcome {
        scenario: s,
        network,
        solution,
        efficient,
    }
}

/// [`solve_with`] for a live session's re-plan: the plan and its duals only, without the
/// efficient plan that prices fairness (a session's report has no price of fairness, and at
/// 1,500 needs x 400 teams that solve took a third of a warm re-plan). A session that keeps
/// its LP bases between re-plans (`lp/start.rs`) passes them: the LP stages start from
/// `starts` and leave theirs in it.
///
/// With the outcome, what failed when the solve failed (the outcome is then an `error` with
/// no plan): a session shows it to its coordinator.
pub(crate) fn solve_live<'a>(
    s: &'a Scenario,
    opts: &SolveOptions,
    starts: Option<&LpStarts>,
) -> (Outcome<'a>, Option<String>) {
    let (network, solution, efficient) = solve_parts(s, opts, Some(Live { starts }));
    let failure = solution.as_ref().err().map(|(e, _)| e.to_string());
    (outcome(s, (network, solution, efficient)), failure)
}

/// What a live session's re-plan changes in a solve ([`solve_live`]).
#[derive(Clone, Copy)]
struct Live<'a> {
    starts: Option<&'a LpStarts>,
}

/// Solve, or say why the solver failed.
pub fn try_solve_with<'a>(s: &'a Scenario, opts: &SolveOptions) -> Result<Outcome<'a>, SolveError> {
    let (network, solution, efficient) = solve_parts(s, opts, None);
    Ok(Outcome {
        scenario: s,
        network,
        solution: solution.map_err(|(e, _)| e)?,
        efficient,
    })
}

/// The network, the solution (or the failure and the time spent) and, under fairness, the
/// efficient plan of [`Outcome::efficient`], on the pool [`SolveOptions::threads`] asks
/// for. `solve_ms` is the plan's own solve; the efficient solve is not counted in it.
#[allow(clippy::type_complexity)]
fn solve_parts(
    s: &Scenario,
    opts: &SolveOptions,
    live: Option<Live>,
) -> (
    Network,
    Result<Solution, (SolveError, f64)>,
    Option<Efficient>,
) {
    let run = || {
        let start = Instant::now();
        let network = Network::build(s);
        let solution = match crate::timed::Pooled::of(s, &network) {
            // Identical unit items solved as one pool, answered per item (timed.rs).
            Some(pooled) => {
                let pooled_net = Network::build(&pooled.scenario);
                let wanted = PartsFor {
                    lp_starts: None,
                    isolate: live.is_some(),
                    prices: true,
                };
                match solve_parts_of(&pooled.scenario, &pooled_net, opts, start, wanted) {
                    Ok(sol) => match pooled.unpool(&network, &pooled_net, sol) {
                        Some(sol) => Ok(sol),
                        None => solve_parts_of(s, &network, opts, start, wanted),
                    },
                    Err(e) => Err(e),
                }
            }
            None => {
                let wanted = PartsFor {
                    lp_starts: live.and_then(|l| l.starts),
                    isolate: live.is_some(),
                    prices: true,
                };
                solve_parts_of(s, &network, opts, start, wanted)
            }
        };
        let ms = start.elapsed().as_secs_f64() * 1e3;
        // Whatever a called-off solve answered (a stage cut short reads as a failure), it is
        // not an answer.
        let cancelled = opts.cancel.as_ref().is_some_and(|c| c.is_cancelled());
        let solution = match solution {
            _ if cancelled => Err((SolveError::Cancelled, ms)),
            Ok(mut sol) => {
                sol.solve_ms = ms;
                Ok(sol)
            }
            Err(e) => Err((e, ms)),
        };
        // Only a plan has a price; the efficient solve shares the plan's time limit.
        let efficient = match &solution {
            Ok(sol)
                if s.policy.is_fair()
                    && live.is_none()
                    && !matches!(sol.status, Status::Infeasible | Status::Error) =>
            {
                if sol.status == Status::Optimal && s.fairness_implied() {
                    // Solved without the rule (`Policy::fairness_implied`) and proven optimal:
                    // the plan is the efficient plan. A greedy or time-limited plan is not.
                    Some(Efficient::of(s, &network, &sol.x))
                } else {
                    efficient_plan(s, &network, opts, start)
                }
            }
            _ => None,
        };
        (network, solution, efficient)
    };
    match pool_for(opts.threads, s.policy.threads) {
        Some(pool) => pool.install(run),
        None => run(),
    }
}

/// The efficient plan of the price of fairness: the largest coverage value `sum_n priority_n
/// * y_n` the hard constraints (min_fill, indivisibility, windows, capacities) allow with
/// fairness `none` (objective coverage, exact solvers; the links do not depend on fairness, so
/// the network is shared). `None` unless that solve proves its optimum within the plan's time
/// limit: a time-limited `V_eff` would understate the price.
fn efficient_plan(
    s: &Scenario,
    net: &Network,
    opts: &SolveOptions,
    start: Instant,
) -> Option<Efficient> {
    let efficient = Scenario {
        policy: Policy {
            fairness: Fairness::None,
            objective: Objective::Coverage,
            solver: SolverChoice::Auto,
            deprivation: None,
            ..s.policy.clone()
        },
        ..s.clone()
    };
    // Only its coverage is read: the prices its parts would work out are not wanted.
    let wanted = PartsFor {
        lp_starts: None,
        isolate: false,
        prices: false,
    };
    let sol = solve_parts_of(&efficient, net, opts, start, wanted).ok()?;
    if sol.status != Status::Optimal {
        return None;
    }
    Some(Efficient::of(s, net, &sol.x))
}

impl Efficient {
    /// The value and coverage of the plan with shares `x` (by edge of `net`).
    fn of(s: &Scenario, net: &Network, x: &[f64]) -> Efficient {
        let mut y = vec![0.0; s.needs.len()];
        for (e, edge) in net.edges.iter().enumerate() {
            y[edge.need()] += x[e];
        }
        let coverage: Vec<f64> = y.into_iter().map(|y: f64| y.min(1.0)).collect();
        let value = s
            .needs
            .iter()
            .zip(&coverage)
            .map(|(n, y)| n.priority * y)
            .sum::<f64>()
            + 0.0;
        Efficient { value, coverage }
    }
}

/// The pool a solve must build, if any (see [`SolveOptions::threads`]).
fn pool_for(threads: Option<usize>, policy_threads: Option<usize>) -> Option<rayon::ThreadPool> {
    let on_pool = rayon::current_thread_index().is_some();
    let wanted = match threads {
        Some(n) if on_pool && rayon::current_num_threads() == n => return None,
        Some(n) => n,
        None if on_pool => return None,
        None => policy_threads?,
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(wanted)
        .build()
        .ok()
}

fn empty_solution(s: &Scenario, net: &Network, solver: Solvers) -> Solution {
    Solution {
        status: Status::Optimal,
        x: vec![0.0; net.edges.len()],
        shadow: vec![0.0; s.resources.len() * net.num_dims()],
        marginal: vec![0.0; s.needs.len()],
        gap: None,
        infeasibility: None,
        solver,
        components: 0,
        solve_ms: 0.0,
        duals: Duals::Lp,
        troubled: Vec::new(),
        part_gaps: Vec::new(),
    }
}

/// The group key of a need under the policy.
pub fn group_key(s: &Scenario, n: &Need) -> String {
    s.policy.group_of(n).to_string()
}

/// The sub-model of part `c` (see `solve_parts_of`): its fairness groups where the rule
/// couples the parts.
fn part_model<'p>(
    s: &'p Scenario,
    net: &'p Network,
    c: &'p Component,
    coupled: bool,
    deadline: Option<Instant>,
    opts: &'p SolveOptions,
    wanted: PartsFor<'p>,
) -> SubModel<'p> {
    // Groups only where their ratios enter the model: `SubModel::route` and the LP
    // stages read an empty list as no fairness rule.
    let groups = if !coupled {
        Vec::new()
    } else {
        let mut by_name: BTreeMap<String, Group> = BTreeMap::new();
        for (i, &n) in c.needs.iter().enumerate() {
            let need = &s.needs[n];
            let g = by_name
                .entry(group_key(s, need))
                .or_insert_with_key(|k| Group {
                    name: k.clone(),
                    needs: Vec::new(),
                    total_priority: 0.0,
                    offset: 0.0,
                });
            g.needs.push(i);
            g.total_priority += need.priority;
        }
        let mut groups: Vec<Group> = by_name.into_values().collect();
        for g in &mut groups {
            (g.total_priority, g.offset) = s.policy.group_scale(&g.name, g.total_priority);
        }
        groups
    };
    SubModel {
        scenario: s,
        net,
        needs: &c.needs,
        edges: &c.edges,
        resources: &c.resources,
        groups,
        deadline,
        cancel: opts.cancel.as_ref(),
        lp_starts: wanted.lp_starts,
        prices: wanted.prices,
        by_need: Default::default(),
    }
}

/// What a solve of a scenario's parts ([`solve_parts_of`]) is for, beside the plan.
#[derive(Clone, Copy)]
struct PartsFor<'a> {
    /// A live session's kept LP bases (`lp/start.rs`).
    lp_starts: Option<&'a LpStarts>,
    /// A live session's re-plan: an infeasible part is planned empty and the others keep
    /// their plans (`merge_optimised`).
    isolate: bool,
    /// Shadow prices and marginal values (`SubModel::prices`).
    prices: bool,
}

/// Split the scenario into parts, solve each on its route (in parallel), merge the answers.
fn solve_parts_of(
    s: &Scenario,
    net: &Network,
    opts: &SolveOptions,
    start: Instant,
    wanted: PartsFor,
) -> Result<Solution, SolveError> {
    let isolate = wanted.isolate;
    let limit = match (s.policy.time_limit_s, opts.time_limit_s) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Total over every f64 (the edges refuse limits that are not positive): a negative one
    // is no time at all, NaN none.
    let deadline = limit
        .and_then(|t| Duration::try_from_secs_f64(t.clamp(0.0, 1e9)).ok())
        .map(|d| start + d);
    let mut linked = vec![false; s.needs.len()];
    for e in &net.edges {
        linked[e.need()] = true;
    }
    // Group ratios sum over every component, so fairness couples them; the greedy baseline
    // ranks every need of the scenario at once. Either is one part.
    let coupled = s.couples_groups();
    let whole = coupled || s.policy.solver == SolverChoice::Greedy || !opts.split_components;
    let parts: Vec<Component> = if whole {
        let mut all = Component {
            needs: (0..s.needs.len()).collect(),
            resources: (0..s.resources.len()).collect(),
            edges: (0..net.edges.len()).collect(),
        };
        // Without fairness a need without links has nothing to decide (the merge reports a
        // positive min_fill of it); the greedy plan, as SPEC words it, checks every need.
        if !coupled && s.policy.solver != SolverChoice::Greedy {
            all.needs.retain(|&n| linked[n]);
        }
        vec![all]
    } else {
        components(s.resources.len(), s.needs.len(), &net.edges)
    };
    // A MIP is not sifted: HiGHS holds every column (about 1.6 KB each, measured on a timed
    // MIP of 1,000,000 (link, start) columns: 1.7 GB), so a part beyond the bound is refused
    // before it is built.
    for c in parts.iter().filter(|c| c.edges.len() > MAX_MIP_COLUMNS) {
        if part_model(s, net, c, coupled, deadline, opts, wanted).route()
            == crate::route::Route::Mip
        {
            return Err(SolveError::TooLarge(format!(
                "a part of {} needs and {} resources is a MIP (indivisible needs, or needs choosing among starts) of {} columns, more than {MAX_MIP_COLUMNS}: use a longer policy.slot_h or shorter windows (fewer starts), or fewer candidate resources (max_distance_km, communities)",
                c.needs.len(),
                c.resources.len(),
                c.edges.len()
            )));
        }
    }
    let solve_part = |c: &Component| part_model(s, net, c, coupled, deadline, opts, wanted).solve();
    // Largest parts first, each taken by the next free thread (longest processing time
    // first): rayon's halving split of the list can queue two large parts behind each other
    // on one thread while the other finishes the small ones.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].edges.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<SubResult>>> =
        parts.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let cancelled = || opts.cancel.as_ref().is_some_and(|c| c.is_cancelled());
    let workers = rayon::current_num_threads().clamp(1, parts.len().max(1));
    (0..workers).into_par_iter().for_each(|_| loop {
        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(&i) = order.get(k) else {
            break;
        };
        if cancelled() {
            break;
        }
        let result = solve_part(&parts[i]);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    });
    // Parts left untaken: no answer to merge.
    if cancelled() {
        return Err(SolveError::Cancelled);
    }
    let results: Vec<SubResult> = slots
        .into_iter()
        .map(|m| {
            let r = m.into_inner().unwrap_or_else(|e| e.into_inner());
            r.expect("every part is taken by a worker")
        })
        .collect();
    if results.iter().any(|r| r.solved_by == SolvedBy::Greedy) {
        return Ok(merge_greedy(s, net, &parts, results));
    }
    // A positive min_fill cannot hold for a need without links.
    let unlinked: Vec<usize> = (0..s.needs.len())
        .filter(|&n| !linked[n] && s.needs[n].min_fill > 0.0)
        .collect();
    merge_optimised(s, net, &parts, results, unlinked, isolate)
}

/// The solvers that took part, in a fixed order.
fn solvers_used(results: &[SubResult]) -> Solvers {
    let used = |by: SolvedBy| results.iter().any(|r| r.solved_by == by);
    let used_greedy = used(SolvedBy::Greedy);
    let used_assignment = used(SolvedBy::Assignment);
    let used_flow = used(SolvedBy::NetworkSimplex);
    // A MIP part the timeline flow solved names the flow (its fixed-MIP prices come from a
    // HiGHS LP, which `duals: fixed_mip` says).
    let used_mip = results
        .iter()
        .any(|r| r.mip && r.solved_by == SolvedBy::Highs);
    let used_lp = results
        .iter()
        .any(|r| r.solved_by == SolvedBy::Highs && !r.mip);
    let mut names = Vec::new();
    if used_greedy {
        names.push(SolverUsed::Greedy);
    }
    if used_assignment {
        names.push(SolverUsed::Assignment);
    }
    if used_flow {
        names.push(SolverUsed::NetworkSimplex);
    }
    if used_mip {
        names.push(SolverUsed::HighsMip);
    } else if used_lp || !(used_flow || used_assignment || used_greedy) {
        names.push(SolverUsed::HighsLp);
    }
    Solvers(names)
}

/// The greedy baseline's answer: `feasible` (a plan, not an optimum), or `infeasible` naming
/// the needs its plan leaves below their `min_fill` and the groups below a `min_share`, with
/// the plan kept for comparison.
fn merge_greedy(
    s: &Scenario,
    net: &Network,
    parts: &[Component],
    results: Vec<SubResult>,
) -> Solution {
    let mut sol = empty_solution(s, net, solvers_used(&results));
    sol.status = Status::Feasible;
    sol.duals = Duals::None;
    let mut short = Vec::new();
    for (c, r) in parts.iter().zip(results) {
        for (j, &e) in c.edges.iter().enumerate() {
            sol.x[e] = r.x[j];
        }
        short.extend(r.infeasible_needs);
    }
    short.sort_unstable();
    short.dedup();
    // A hard min_share holds for greedy plans too (SPEC): first-come-first-served may leave a
    // group below it (it was `feasible`).
    let mut low_groups = Vec::new();
    if let Fairness::MinShare(share) = s.policy.fairness {
        let mut y = vec![0.0; s.needs.len()];
        for (e, &x) in sol.x.iter().enumerate() {
            y[net.edges[e].need()] += x;
        }
        let mut groups: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for (n, need) in s.needs.iter().enumerate() {
            let g = groups.entry(s.policy.group_of(need)).or_default();
            g.0 += need.priority * y[n].min(1.0);
            g.1 += need.priority;
        }
        low_groups = groups
            .into_iter()
            .filter(|&(g, (served, total))| {
                total > 0.0 && s.policy.group_ratio(g, served, total) < share - 1e-9
            })
            .map(|(g, _)| g.to_string())
            .collect();
    }
    if !short.is_empty() || !low_groups.is_empty() {
        sol.status = Status::Infeasible;
        let mut message = Vec::new();
        if !short.is_empty() {
            message.push(format!(
                "the greedy plan leaves {} need(s) below their min_fill",
                short.len()
            ));
        }
        if !low_groups.is_empty() {
            message.push(format!(
                "the greedy plan leaves group(s) {} below the min_share",
                low_groups.join(", ")
            ));
        }
        sol.infeasibility = Some(Infeasibility {
            message: message.join("; "),
            needs: short.iter().map(|&n| s.needs[n].id.clone()).collect(),
            groups: low_groups,
            // A greedy plan proves nothing about what other plans could do.
            conflict: Vec::new(),
            more_conflicts: Vec::new(),
        });
    }
    sol
}

/// The `window` members of a conflict whose `min_fill` needs are `needs`: those whose time
/// window keeps out a resource that every other link rule lets through (or a listed link).
pub(crate) fn window_members(s: &Scenario, needs: &[usize]) -> Vec<Conflict> {
    needs
        .iter()
        .zip(crate::graph::excluded_by_time(s, needs))
        .filter(|(_, kept_out)| !kept_out.is_empty())
        .map(|(&n, _)| Conflict {
            kind: ConflictKind::Window,
            id: s.needs[n].id.clone(),
            dim: None,
        })
        .collect()
}

/// The answer of the optimising routes: plans merged in input order, the worst status, and
/// for an infeasible scenario no plan but the needs and groups at fault.
fn merge_optimised(
    s: &Scenario,
    net: &Network,
    parts: &[Component],
    results: Vec<SubResult>,
    unlinked: Vec<usize>,
    isolate: bool,
) -> Result<Solution, SolveError> {
    let nd = net.num_dims();
    let mut sol = empty_solution(s, net, solvers_used(&results));
    sol.components = parts.iter().filter(|c| !c.edges.is_empty()).count();
    let used_mip = results.iter().any(|r| r.mip);
    let mut any_infeasible = !unlinked.is_empty();
    let mut infeasible_needs: Vec<usize> = unlinked;
    let mut infeasible_groups: Vec<String> = Vec::new();
    // A need without links and a positive min_fill is a conflict of one, with its window
    // when that is what keeps resources out.
    let mut conflicts: Vec<Vec<Conflict>> = infeasible_needs
        .iter()
        .map(|&n| {
            let mut c = vec![Conflict {
                kind: ConflictKind::MinFill,
                id: s.needs[n].id.clone(),
                dim: None,
            }];
            c.extend(window_members(s, &[n]));
            c
        })
        .collect();
    // A failed part leaves the whole scenario without an answer (its plan would be partial).
    let errors: Vec<String> = results
        .iter()
        .filter(|r| r.status == SubStatus::Error)
        .map(|r| r.error.clone().unwrap_or_else(|| "HiGHS failed".into()))
        .collect();
    if let Some(first) = errors.first() {
        let more = match errors.len() {
            1 => String::new(),
            n => format!(" (and {} more part(s) failed)", n - 1),
        };
        // Put down to the values only where HiGHS gave up on a model it had taken.
        let failed: Vec<&Component> = parts
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.status == SubStatus::Error && r.numerical)
            .map(|(c, _)| c)
            .collect();
        return Err(SolveError::of_failure(s, &failed, format!("{first}{more}")));
    }
    sol.troubled = infeasible_needs
        .iter()
        .map(|&n| (n, Status::Infeasible))
        .collect();
    for (c, r) in parts.iter().zip(results) {
        match r.status {
            SubStatus::Infeasible => {
                any_infeasible = true;
                infeasible_needs.extend(r.infeasible_needs);
                infeasible_groups.extend(r.infeasible_groups);
                // A part solved whole (fairness couples the groups) holds the needs without
                // links too, and may find one of their conflicts of one again.
                let relaxable = |c: &[Conflict]| -> BTreeSet<(ConflictKind, String)> {
                    c.iter()
                        .filter(|m| {
                            matches!(m.kind, ConflictKind::MinFill | ConflictKind::MinShare)
                        })
                        .map(|m| (m.kind, m.id.clone()))
                        .collect()
                };
                let found = relaxable(&r.conflict);
                if !r.conflict.is_empty() && conflicts.iter().all(|c| relaxable(c) != found) {
                    conflicts.push(r.conflict);
                }
                sol.troubled
                    .extend(c.needs.iter().map(|&n| (n, Status::Infeasible)));
                if isolate {
                    // Its own plan is empty; the other parts keep theirs.
                    continue;
                }
            }
            SubStatus::TimeLimit => {
                if sol.status != Status::Infeasible {
                    sol.status = Status::TimeLimit;
                }
                sol.troubled
                    .extend(c.needs.iter().map(|&n| (n, Status::TimeLimit)));
                if let Some(g) = r.gap {
                    sol.part_gaps.extend(c.needs.iter().map(|&n| (n, g)));
                }
            }
            _ => {}
        }
        if let Some(g) = r.gap {
            sol.gap = Some(sol.gap.map_or(g, |old: f64| old.max(g)));
        }
        for (j, &e) in c.edges.iter().enumerate() {
            sol.x[e] = r.x[j];
        }
        for (i, &n) in c.needs.iter().enumerate() {
            sol.marginal[n] = r.marginal[i];
        }
        for (res, d, price) in r.shadow {
            // A reusable dimension has a row per instant: its price is the largest (SPEC).
            let at = &mut sol.shadow[res * nd + d];
            *at = at.max(price);
        }
    }
    if sol.status != Status::TimeLimit {
        sol.gap = sol.gap.filter(|_| used_mip);
    }
    if used_mip {
        sol.duals = Duals::FixedMip;
    }
    // A time limit that found no plan has no duals either: its zeros would read as prices of
    // 0 (a live session's other parts keep theirs: their plans are there).
    if sol.status == Status::TimeLimit && sol.gap.is_none() && sol.x.iter().all(|&v| v == 0.0) {
        sol.duals = Duals::None;
    }
    if any_infeasible {
        infeasible_needs.sort_unstable();
        infeasible_needs.dedup();
        let names: Vec<String> = infeasible_needs
            .iter()
            .map(|&n| s.needs[n].id.clone())
            .collect();
        let mut parts_msg = Vec::new();
        if !names.is_empty() {
            parts_msg.push(format!(
                "min_fill cannot be met for need(s) {}",
                names.join(", ")
            ));
        }
        if !infeasible_groups.is_empty() {
            parts_msg.push(format!(
                "min_share cannot be met for group(s) {}",
                infeasible_groups.join(", ")
            ));
        }
        if parts_msg.is_empty() {
            parts_msg.push("the hard constraints cannot all hold".into());
        }
        // The conflict is the proof, so the message leads with it; the needs and groups
        // named above are where the least total relaxation falls, one way out of several
        // (a conflict of two groups' min_share had the message name only one of them).
        if let Some(first) = conflicts.first() {
            let members: Vec<String> = first.iter().map(Conflict::describe).collect();
            let mut relaxed = Vec::new();
            if !names.is_empty() {
                relaxed.push(format!("min_fill of need(s) {}", names.join(", ")));
            }
            if !infeasible_groups.is_empty() {
                relaxed.push(format!(
                    "min_share of group(s) {}",
                    infeasible_groups.join(", ")
                ));
            }
            let mut message = format!(
                "these cannot all hold: {} (relaxing any min_fill or min_share among them makes \
                 the rest of them feasible)",
                members.join(", ")
            );
            // Parts share nothing, so each further conflict holds whatever the first does.
            const LISTED_CONFLICTS: usize = 5;
            for more in conflicts.iter().skip(1).take(LISTED_CONFLICTS - 1) {
                let members: Vec<String> = more.iter().map(Conflict::describe).collect();
                message += &format!("; independently, nor these: {}", members.join(", "));
            }
            if conflicts.len() > LISTED_CONFLICTS {
                message += &format!(
                    "; and {} more independent conflict(s) in summary.infeasibility.more_conflicts",
                    conflicts.len() - LISTED_CONFLICTS
                );
            }
            if !relaxed.is_empty() {
                message += &format!(
                    "; the least total violation falls on {}",
                    relaxed.join("; ")
                );
            }
            parts_msg = vec![message];
        }
        sol.status = Status::Infeasible;
        // A scenario's plan is all or nothing; a live session's parts stand on their own
        // (`isolate`), so one need no resource can serve leaves the others' plans be, on
        // every path: a re-plan of the components touched or of the whole session.
        if !isolate {
            sol.x.iter_mut().for_each(|v| *v = 0.0);
            sol.shadow.iter_mut().for_each(|v| *v = 0.0);
            sol.marginal.iter_mut().for_each(|v| *v = 0.0);
            sol.gap = None;
            sol.duals = Duals::None;
        }
        sol.infeasibility = Some(Infeasibility {
            message: parts_msg.join("; "),
            needs: names,
            groups: infeasible_groups,
            conflict: if conflicts.is_empty() {
                Vec::new()
            } else {
                conflicts.remove(0)
            },
            more_conflicts: conflicts,
        });
    }
    Ok(sol)
}
