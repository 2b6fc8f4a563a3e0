//! The LP/MIP path: SPEC's model written row by row into HiGHS.
//!
//! We build through the `highs` crate's row API rather than good_lp's expression layer:
//! SOLVER_NOTES measured good_lp's building at ~20% of a large solve, its `solve` consumes the
//! model (the lexicographic stages need several solves), and its dual signs for `>=` rows are
//! flipped (good_lp #82). Every model is built in the same deterministic column and row order
//! (`Layout`), so a stage's duals map back by index; where the stages of a solve share one
//! kept model (`LexModel`, `Warm`), later rows and columns are appended after that order.

use crate::model::{Fairness, Objective};
use crate::solve::{Conflict, ConflictKind};
use crate::submodel::{positive, SolvedBy, SubModel, SubResult, SubStatus};
use highs::{HighsModelStatus, RowProblem, Sense};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

mod start;
pub(crate) use start::{KeptBases, LpStarts};
use start::{Slot, StageBasis, BASIC, LOWER, UPPER};

/// HiGHS's `simplex_strategy` value for primal simplex.
const SIMPLEX_PRIMAL: i32 = 4;
/// HiGHS's `simplex_strategy` value for (serial) dual simplex.
const SIMPLEX_DUAL: i32 = 1;
/// Dual pivots a stage gets from a session's kept start before primal simplex takes over.
const DUAL_FIRST_PIVOTS: i32 = 2_000;

/// HiGHS's `presolve_rule_off` bit that turns probing off.
const PROBING_OFF: i32 = 1 << 15;

/// Pure LPs with at least this many columns go to HiGHS's interior point method.
const IPM_MIN_COLUMNS: usize = 2_000;

/// A warm simplex stage of a large model gets this share of the last interior point solve's
/// time before the interior point method takes over (see `LexModel::solve`).
const WARM_BUDGET: f64 = 0.25;

/// Sifting: a wide LP (an allocation column per link, many links per need) whose stages run
/// on one kept model starts with each need's `SIFT_LINKS` cheapest links only, the others left
/// out of the model with their entries kept aside; after each optimum, of the held-out columns
/// the row duals price as improving, each need's `SIFT_LINKS` most improving are added and the
/// stage is solved again, until none is: the stage's answer is then an optimum of the whole
/// model, by the same test HiGHS applies to its own columns (benches/RESULTS.md, "Sifting").
const SIFT_MIN_COLUMNS: usize = 20_000;
const SIFT_LINKS: usize = 4;
/// A sifted model starts with one link per `SIFT_LINKS_PER_START` links of a need on
/// average, at least `SIFT_LINKS` and at most twice that.
const SIFT_LINKS_PER_START: usize = 48;
/// A round that brings in at most 1/`SIFT_FEW` of the columns in the model re-optimises by
/// simplex from the last basis (the shelter's cost stage: 0.09 s against 0.5 s for the
/// interior point method); a larger one by the stage's own method.
const SIFT_FEW: usize = 20;
/// Links per need, relative to `SIFT_LINKS`, for a model to be sifted: the restricted model
/// then has at most a sixth of the columns. The 20,000-need city (16-20 links per need), sifted
/// at 4x, took 11.2 s against 9.9 s whole: its restricted models were hardly faster to solve.
const SIFT_WIDTH: usize = 6;
/// Rounds of pricing before every held-out column comes in at once.
const SIFT_MAX_ROUNDS: usize = 25;
/// HiGHS's default dual feasibility tolerance, the test of an improving column.
const SIFT_TOL: f64 = 1e-7;
/// Held-out columns priced by one task of the pool: large enough that a task's overhead
/// (microseconds) is lost in its work.
const PRICE_CHUNK: usize = 1 << 15;

/// Tests sift every kept model (one link per need to start with), and count the rounds that
/// brought columns in.
pub(crate) static SIFT: crate::switch::Switch = crate::switch::Switch::new();

/// Counts the stages started from a basis a live session kept (`lp/start.rs`).
pub(crate) static KEPT: crate::switch::Switch = crate::switch::Switch::new();

/// Tolerance of the lexicographic hold `V >= V* - 1e-7 max(1, |V*|)` and of `ratio >= t* - 1e-7`.
pub const LEX_TOL: f64 = 1e-7;

/// What one stage optimises.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Goal {
    MaxValue,
    MinCost,
    MaxWeighted(f64),
    MaxMinRatio,
    /// Largest ratio of one group (position in `SubModel::groups`): leximin's test of whether
    /// the group can rise above the level.
    MaxGroupRatio(usize),
    /// Largest sum of the `k` smallest group ratios (leximin on a MIP part, see
    /// [`Stages::leximin_by_ordered_sums`]), with the sums of fewer held (`Holds::ordered`).
    MaxOrderedSum(usize),
    /// Largest `sum_g W_g phi_g`, `phi_g` under the tangents of `ln(ratio_g)` in `Holds`.
    MaxProportional,
    /// Smallest `sum_n p_n f(1 - y_n) + w C` (the deprivation objective with weight `w`).
    MinDeprivation(f64),
    /// Any plan: a feasibility test (of the constraints `Holds::enforced` keeps).
    Feasible,
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

/// HiGHS's default absolute MIP gap (`mip_abs_gap`), which this model leaves as it is.
const MIP_ABS_GAP: f64 = 1e-6;

/// The best bound HiGHS proved for the MIP just solved (`mip_dual_bound`), when it reports one.
fn mip_dual_bound(solved: &highs::SolvedModel) -> Option<f64> {
    let mut bound = f64::NAN;
    // SAFETY: the pointer is the live HiGHS instance `solved` owns, used by nothing else
    // during the call; the name is a NUL-terminated C string; the call writes one f64 into
    // `bound`, a valid place for it, or nothing when it fails (its status says so).
    let status = unsafe {
        highs_sys::Highs_getDoubleInfoValue(solved.as_ptr(), c"mip_dual_bound".as_ptr(), &mut bound)
    };
    (status == highs_sys::STATUS_OK && bound.is_finite()).then_some(bound)
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
    /// `MaxMinRatio`: the dual of each open group's row `ratio_g >= t` (a fixed group's entry
    /// is `None`, or on a kept model its floor row's dual: only open groups' are read): a
    /// non-zero one proves the group blocked at `t`.
    t_duals: Vec<Option<f64>>,
    /// `MaxProportional`: each group's `phi_g`, the outer approximation of `ln(ratio_g)`
    /// (`None` for a group left out).
    phi: Vec<Option<f64>>,
    gap: Option<f64>,
    /// `sum_e p_e x_e` over the columns as HiGHS answered them, before `x` is cleaned (values
    /// within 1e-9 of a bound snapped to it, a need's shares scaled to sum to at most 1).
    raw_value: f64,
    /// The stage's objective as HiGHS answered it (before `x` is cleaned).
    objective: f64,
    need_rows: Vec<(usize, f64)>,
    cap_rows: Vec<(usize, usize, f64)>,
    /// Row activity of each need row, to tell which bound a dual belongs to.
    need_activity: Vec<f64>,
    /// The status is one a test forced ([`fault`]), not HiGHS's: no retry looks past it.
    fault: bool,
}

/// What earlier stages fixed, held by the next ones.
#[derive(Clone)]
struct Holds {
    value_at_least: Option<f64>,
    /// Per group of `SubModel::groups`: the floor its ratio keeps, once a fairness stage has
    /// fixed it. `None`: not fixed yet; a `MaxMinRatio` stage holds it at `>= t`.
    group_floor: Vec<Option<f64>>,
    /// Per group: the ceiling its ratio keeps, once leximin has proven it blocked at its level
    /// (no plan within the other holds lifts it more than `BLOCKED_TOL`, so the ceiling cuts
    /// off at most that). SPEC
    /// holds a fixed ratio *within* 1e-7 of its level: without the ceiling a later stage may
    /// trade the floor's 1e-7 of slack for a larger rise of another group (at the exchange
    /// rate of their priorities and demands), and the ratio vector would drift from leximin's.
    group_ceiling: Vec<Option<f64>>,
    /// A tiny reward for value in the cost stage, so that the cost stage does not slide down
    /// the `V* - tol` band where doing so saves nothing (a plan of 0.9999999 coverage at zero
    /// cost helps nobody). Its effect on C is below 1e-12 relative.
    value_tiebreak: f64,
    /// `MaxProportional`: per group, the ratios at which `ln` is cut by its tangent; a group
    /// with none is left out of the objective (no plan can serve it).
    tangents: Vec<Vec<f64>>,
    /// The conflict search's subset: only these needs' `min_fill` (global indices) and these
    /// groups' `min_share` (positions) hold; `None`: all of them.
    enforced: Option<(HashSet<usize>, HashSet<usize>)>,
    /// A MIP's integer choices (shares of `SubModel::edges`, used for the indivisible needs'
    /// columns only), fixed: the LP whose duals a MIP plan reports.
    fixed: Option<Vec<f64>>,
    /// Leximin on a MIP part: the least each sum of the `j + 1` smallest ratios of the groups
    /// in `ordered_groups` keeps (its optimum less SPEC's 1e-7), one per ordered-sum stage so
    /// far.
    ordered: Vec<f64>,
    /// The groups (positions in `SubModel::groups`) the ordered sums range over: those still
    /// open when they began.
    ordered_groups: Vec<usize>,
}

impl Holds {
    fn none(groups: usize) -> Holds {
        Holds {
            value_at_least: None,
            group_floor: vec![None; groups],
            group_ceiling: vec![None; groups],
            value_tiebreak: 0.0,
            tangents: Vec::new(),
            enforced: None,
            fixed: None,
            ordered: Vec::new(),
            ordered_groups: Vec::new(),
        }
    }

    fn keeps_min_fill(&self, n: usize) -> bool {
        self.enforced
            .as_ref()
            .is_none_or(|(needs, _)| needs.contains(&n))
    }

    fn keeps_min_share(&self, g: usize) -> bool {
        self.enforced
            .as_ref()
            .is_none_or(|(_, groups)| groups.contains(&g))
    }

    /// These holds given ten times SPEC's `1e-7` of room: the value hold
    /// `V >= V* - 1e-6 max(1, |V*|)`, and with `groups_too` group floors `1e-6` lower and
    /// ceilings `1e-6` higher (the rescue of a later stage in numerical trouble,
    /// [`Stages::run_stage`]).
    fn loosened(&self, groups_too: bool) -> Holds {
        let more = 9.0 * LEX_TOL;
        let mut h = self.clone();
        h.value_at_least = h.value_at_least.map(|v| v - more * v.abs().max(1.0));
        if !groups_too {
            return h;
        }
        for f in h.group_floor.iter_mut().flatten() {
            *f = (*f - more).max(0.0);
        }
        for c in h.group_ceiling.iter_mut().flatten() {
            *c += more;
        }
        for sum in h.ordered.iter_mut() {
            *sum -= more * sum.abs().max(1.0);
        }
        h
    }

    /// These holds with every group not fixed yet held at `level` too.
    fn with_open_groups_at(&self, level: f64) -> Holds {
        let mut h = self.clone();
        for f in h.group_floor.iter_mut().filter(|f| f.is_none()) {
            *f = Some(level);
        }
        h
    }
}

/// A group ratio above the level by more than this can still rise: leximin does not fix it.
const BLOCKED_TOL: f64 = 1e-6;
/// Tangent points of `ln` that every proportional solve starts from: dense where group ratios
/// usually are (a round is one LP solve of the whole scenario, and each tangent here saves
/// rounds of cutting planes), sparse towards 0.
const FIRST_TANGENTS: [f64; 16] = [
    1.0, 0.98, 0.95, 0.92, 0.88, 0.84, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.01,
];
/// The proportional objective's outer approximation stops when its bound is within this of
/// the plan's true objective, relative to `max(1, |objective|)`.
const PROPORTIONAL_GAP: f64 = 1e-5;
/// The smallest tangent point of `ln` relative to the group's largest ratio (1 until that is
/// known): below, the cut's coefficients (`1/a`) would make the LP ill-conditioned; a group
/// ratio at or below it counts as not served in that plan.
const MIN_TANGENT: f64 = 1e-6;
/// A group whose largest ratio, alone, is at or below this is served by no plan: left out
/// of the proportional sum. A group that can reach 1e-7 (a demand in millilitres against
/// capacities in litres) is in the sum, its tangents taken relative to that largest ratio.
const SERVED_AT_ALL: f64 = 1e-9;
/// The most outer-approximation rounds of a proportional solve.
const MAX_PROPORTIONAL_ROUNDS: usize = 500;

impl SubModel<'_> {
    fn priority_of_edge(&self, e: usize) -> f64 {
        self.scenario.needs[self.net.edges[e].need()].priority
    }

    /// Each local need's group (position in `self.groups`), if groups are formed.
    fn group_of_need(&self) -> Vec<Option<usize>> {
        let mut of = vec![None; self.needs.len()];
        for (gi, g) in self.groups.iter().enumerate() {
            for &i in &g.needs {
                of[i] = Some(gi);
            }
        }
        of
    }

    /// The group ratios `sum_{n in g} p_n min(1, y_n) / P_g` of plan `x`.
    fn group_ratios(&self, x: &[f64]) -> Vec<f64> {
        let s = self.scenario;
        let local = self.local_needs();
        let mut y = vec![0.0; self.needs.len()];
        for (j, &e) in self.edges.iter().enumerate() {
            y[local[self.net.edges[e].need()]] += x[j];
        }
        self.groups
            .iter()
            .map(|g| {
                let served: f64 = g
                    .needs
                    .iter()
                    .map(|&i| s.needs[self.needs[i]].priority * y[i].min(1.0))
                    .sum();
                g.offset + served / g.total_priority
            })
            .collect()
    }

    /// The objective coefficient of each allocation column in a stage of `goal`.
    fn costs(
        &self,
        goal: Goal,
        holds: &Holds,
        group_of: &[Option<usize>],
        local_need: &[usize],
    ) -> Vec<f64> {
        let s = self.scenario;
        self.edges
            .iter()
            .map(|&e| {
                let edge = &self.net.edges[e];
                let need = &s.needs[edge.need()];
                match goal {
                    Goal::MaxValue => need.priority,
                    Goal::MinCost => edge.cost - holds.value_tiebreak * need.priority,
                    Goal::MaxWeighted(w) => need.priority - w * edge.cost,
                    Goal::MinDeprivation(w) => w * edge.cost,
                    Goal::MaxGroupRatio(g) => match group_of[local_need[edge.need()]] {
                        Some(gi) if gi == g => need.priority / self.groups[g].total_priority,
                        _ => 0.0,
                    },
                    Goal::MaxMinRatio
                    | Goal::MaxOrderedSum(_)
                    | Goal::MinViolation
                    | Goal::MaxProportional
                    | Goal::Feasible => 0.0,
                }
            })
            .collect()
    }

    /// The allocation columns a sifted model starts without ([`SIFT_MIN_COLUMNS`]): all but
    /// each need's cheapest links (`SIFT_LINKS` to twice that, [`SIFT_LINKS_PER_START`]); empty for a model too small or too narrow for
    /// sifting to pay (fewer than `SIFT_WIDTH` x `SIFT_LINKS` links per need on average).
    fn sifted_out(&self) -> Vec<bool> {
        let links = if SIFT.forced() { 1 } else { SIFT_LINKS };
        let wide = self.edges.len() >= SIFT_WIDTH * links * self.needs.len();
        if !SIFT.forced() && (self.edges.len() < SIFT_MIN_COLUMNS || !wide) {
            return Vec::new();
        }
        let cost = |j: usize| self.net.edges[self.edges[j]].cost;
        // Needs that reach hundreds of resources start with more of them: with 4 of 400 the
        // pricing rounds dominate, while parts a few dozen links wide solve fastest from 4
        // (benches/RESULTS.md, "Held-out columns out of the model").
        let first = if SIFT.forced() {
            links
        } else {
            (self.edges.len() / self.needs.len().max(1) / SIFT_LINKS_PER_START)
                .clamp(SIFT_LINKS, 2 * SIFT_LINKS)
        };
        let mut out = vec![true; self.edges.len()];
        // One need's (cost, column) at a time: the selection compares them many times.
        let mut js: Vec<(f64, usize)> = Vec::new();
        for of_need in self.edges_by_need() {
            // The `first` cheapest, ties to the lower column: a total order, so the set is
            // the same whichever way it is found, and selecting it is linear.
            let order =
                |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            js.clear();
            js.extend(of_need.iter().map(|&j| (cost(j), j)));
            if js.len() > first {
                js.select_nth_unstable_by(first, order);
            }
            js.iter().take(first).for_each(|&(_, j)| out[j] = false);
        }
        if out.iter().any(|&o| o) {
            out
        } else {
            Vec::new()
        }
    }

    /// SPEC's `fixed_mip` duals of a MIP part whose plan `x` another route found (the
    /// timeline flow): the main objective's stage as an LP with the integer choices fixed at
    /// `x`, into `result`; none when that LP does not solve, as on the MIP route.
    pub(crate) fn fixed_mip_duals(&self, x: &[f64], result: &mut SubResult) {
        let goal = match self.scenario.policy.objective {
            Objective::Cost => Goal::MinCost,
            _ => Goal::MaxValue,
        };
        let holds = Holds {
            fixed: Some(x.to_vec()),
            ..Holds::none(self.groups.len())
        };
        let lp = self.run(goal, &holds);
        if stage_outcome(lp.status, 1) == StageOutcome::Solved {
            self.record_duals(&lp, goal, result);
        }
    }

    /// The part's allocation columns by need (in the order of `self.needs`), each list in
    /// column order. Worked out once per part (the sifting start and every stage built use
    /// it: a pass over millions of links each time), each list allocated at its size.
    fn edges_by_need(&self) -> &[Vec<usize>] {
        self.by_need.get_or_init(|| {
            let local = self.local_needs();
            let mut count = vec![0usize; self.needs.len()];
            for &e in self.edges {
                count[local[self.net.edges[e].need()]] += 1;
            }
            let mut by_need: Vec<Vec<usize>> = count.into_iter().map(Vec::with_capacity).collect();
            for (j, &e) in self.edges.iter().enumerate() {
                by_need[local[self.net.edges[e].need()]].push(j);
            }
            by_need
        })
    }

    /// Each scenario need's position in the part (`usize::MAX` outside it): a table, not a
    /// map, since it is read once per link several times a stage.
    fn local_needs(&self) -> Vec<usize> {
        let mut local = vec![usize::MAX; self.scenario.needs.len()];
        for (i, &n) in self.needs.iter().enumerate() {
            local[n] = i;
        }
        local
    }

    fn run(&self, goal: Goal, holds: &Holds) -> Stage {
        self.run_kept(goal, holds, false).0
    }

    /// One stage, built from scratch. With `keep`, also the solved model and what it takes to
    /// add cutting planes to it ([`Warm`]; LPs of the proportional objective only). An LP
    /// that HiGHS leaves in numerical trouble ([`in_trouble`]) is rescued ([`Self::rescue`]).
    fn run_kept(&self, goal: Goal, holds: &Holds, keep: bool) -> (Stage, Option<Warm>) {
        let first = self.solve_built(goal, holds, keep, Method::Choice);
        if first.0.fault || !in_trouble(first.0.status) {
            return first;
        }
        // No model is kept from a rescue: it carries the rescue's options (a later round
        // built on it would run primal or unscaled), so the next round is built anew.
        self.rescue(goal, holds, in_trouble)
            .map_or(first, |st| (st, None))
    }

    /// The stage built anew and solved by each of [`RESCUES`] in turn until one answers
    /// other than `trouble` says (the last one's answer when none does; `None` for a MIP,
    /// whose branch and bound has no such choice). Coefficients that span several orders
    /// of magnitude (a demand of 2.5e-6 beside one of 8e9, priorities from 1e-3 to 1e3) can
    /// leave one simplex variant at `Unknown`, or calling a feasible LP infeasible, where
    /// another finds the optimum (measured on random scenarios whose values span 4 to 21
    /// orders: benches/RESULTS.md, "Numerical trouble"). HiGHS answers `Optimal` only when
    /// the unscaled solution meets its tolerances, so a rescue's optimum is as good as any.
    fn rescue(
        &self,
        goal: Goal,
        holds: &Holds,
        trouble: impl Fn(HighsModelStatus) -> bool,
    ) -> Option<Stage> {
        if self.is_mip() && holds.fixed.is_none() {
            return None;
        }
        let mut last = None;
        for method in RESCUES {
            let got = self.solve_built(goal, holds, false, method).0;
            let done = got.fault || !trouble(got.status);
            last = Some(got);
            if done {
                break;
            }
        }
        last
    }

    fn solve_built(
        &self,
        goal: Goal,
        holds: &Holds,
        keep: bool,
        method: Method,
    ) -> (Stage, Option<Warm>) {
        let built = self.build(goal, holds, keep, &[]);
        let Some(mut model) = built.model else {
            return (built.layout.failed(HighsModelStatus::LoadError), None);
        };
        if !built.mip {
            method.apply(&mut model);
        }
        self.set_time_limit(&mut model, None);
        let solved = match self.run_highs(model) {
            Ok(m) => m,
            Err(_) => return (built.layout.failed(HighsModelStatus::SolveError), None),
        };
        let stage = built.layout.read(self, &solved, built.mip);
        let warm =
            (keep && !built.mip && stage.status == HighsModelStatus::Optimal).then(|| Warm {
                model: Some(solved.into()),
                layout: built.layout,
                cuts: built.cuts,
                phi: built.phi,
                tangents: holds.tangents.iter().map(Vec::len).collect(),
            });
        (stage, warm)
    }

    /// The HiGHS model of one stage, with its options set (all but the time limit).
    /// With `held` non-empty (sifting, [`SubModel::sifted_out`]), the allocation columns it
    /// marks are left out of the model and their entries kept aside ([`Built::aside`]); every
    /// row is written as the whole model has it, so rows are numbered alike either way.
    fn build(&self, goal: Goal, holds: &Holds, keep: bool, held: &[bool]) -> Built {
        // Kelley's cuts copy a group row's entries into later rows: they need every column.
        debug_assert!(held.is_empty() || !keep);
        let s = self.scenario;
        let net = self.net;
        let nd = net.num_dims();
        // With the integer choices fixed (`Holds::fixed`) the model is an LP.
        let mip = self.is_mip() && holds.fixed.is_none();
        let group_of = self.group_of_need();
        let local_need = self.local_needs();
        let mut pb = RowProblem::default();
        let mut xc = XCols {
            cols: Vec::with_capacity(self.edges.len()),
            aside: if held.is_empty() {
                Aside::default()
            } else {
                // A column's entries: its need's row, a capacity row per dimension, its
                // group's row and, later, the value hold's row.
                Aside::new(self.edges.len(), 3 + nd)
            },
        };
        let mut x_col = Vec::with_capacity(self.edges.len());
        let mut included = 0usize;
        let costs = self.costs(goal, holds, &group_of, &local_need);
        for (j, &e) in self.edges.iter().enumerate() {
            if held.get(j).copied().unwrap_or(false) {
                xc.cols.push(None);
                x_col.push(NO_COL);
                continue;
            }
            x_col.push(included as u32);
            included += 1;
            let need = &s.needs[net.edges[e].need()];
            let coef = costs[j];
            // `x_e <= 1` is implied by `y_n <= 1`; leaving it off continuous columns lets the
            // need row, not a column bound, carry the dual (the need's marginal value).
            xc.cols.push(Some(if need.indivisible {
                match &holds.fixed {
                    Some(x) => pb.add_column(coef, x[j]..=x[j]),
                    None => pb.add_integer_column(coef, 0.0..=1.0),
                }
            } else {
                pb.add_column(coef, 0.0..)
            }));
        }
        // `highs::Col` hides its index; columns are numbered in the order they are added.
        let mut next_col = included;
        let t_col = (goal == Goal::MaxMinRatio).then(|| {
            next_col += 1;
            (pb.add_column(1.0, 0.0..=1.0), next_col - 1)
        });

        // Need rows: min_fill <= y_n <= 1, in the order of `self.needs`.
        let need_edges = self.edges_by_need();
        let elastic = goal == Goal::MinViolation;
        let mut slack_cols = Vec::new();
        let mut need_rows = Vec::new();
        let mut row = 0usize;
        for (i, &n) in self.needs.iter().enumerate() {
            if need_edges[i].is_empty() {
                continue;
            }
            let min_fill = if holds.keeps_min_fill(n) {
                s.needs[n].min_fill
            } else {
                0.0
            };
            let mut entries = xc.entries(row, need_edges[i].iter().map(|&j| (j, 1.0)));
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

        // One start per need (SPEC's time model): a divisible need with several starts
        // chooses one by `z_s` binaries, `sum_s z_s <= 1` and `sum_{e at s} x_{e,s} <= z_s`.
        let choices =
            crate::timed::start_choices(net, self.edges, need_edges, |n| s.needs[n].indivisible);
        // (column of z_s, the columns of its start)
        let mut start_cols: Vec<(usize, &[usize])> = Vec::new();
        for choice in &choices {
            let mut pick = Vec::with_capacity(choice.starts.len());
            for (_, js) in &choice.starts {
                start_cols.push((next_col, js));
                let z = match &holds.fixed {
                    Some(x) => {
                        let on = if js.iter().any(|&j| x[j] > 1e-9) {
                            1.0
                        } else {
                            0.0
                        };
                        pb.add_column(0.0, on..=on)
                    }
                    None => pb.add_integer_column(0.0, 0.0..=1.0),
                };
                next_col += 1;
                let mut entries = xc.entries(row, js.iter().map(|&j| (j, 1.0)));
                entries.push((z, -1.0));
                pb.add_row(..=0.0, entries);
                row += 1;
                pick.push((z, 1.0));
            }
            pb.add_row(..=1.0, pick);
            row += 1;
        }
        // An indivisible need that may take a pool (a resource with room for more than one
        // such use at a time) at several starts gets one more binary per such resource,
        // `a_{n,r} = sum_s x_{n,r,s}`: whether it is served there at all. The model is the
        // same; on a pool, branching on it splits the plans by where a need is served, where
        // branching on one start mostly moves the need to another start at the same cost. On
        // a single machine the start is the sequencing decision, and the extra binaries only
        // slow the search (benches/RESULTS.md, "Where a need is served").
        let pool = |j: usize| {
            let e = self.edges[j];
            let (cap, used) = (net.cap(net.edges[e].resource()), net.edge_use(e));
            let held: Vec<usize> = net.time.as_ref().map_or(Vec::new(), |t| {
                (0..nd)
                    .filter(|&d| t.reusable[d] && used[d] > 0.0)
                    .collect()
            });
            !held.is_empty() && held.iter().all(|&d| cap[d] >= 2.0 * used[d])
        };
        if mip {
            for edges_of_need in need_edges {
                let Some(&first) = edges_of_need.first() else {
                    continue;
                };
                if !s.needs[net.edges[self.edges[first]].need()].indivisible {
                    continue;
                }
                let mut by_resource: std::collections::BTreeMap<usize, Vec<usize>> =
                    Default::default();
                for &j in edges_of_need {
                    by_resource
                        .entry(net.edges[self.edges[j]].resource())
                        .or_default()
                        .push(j);
                }
                for js in by_resource
                    .values()
                    .filter(|js| js.len() > 1 && pool(js[0]))
                {
                    let a = pb.add_integer_column(0.0, 0.0..=1.0);
                    next_col += 1;
                    let mut entries = xc.entries(row, js.iter().map(|&j| (j, 1.0)));
                    entries.push((a, -1.0));
                    pb.add_row(0.0..=0.0, entries);
                    row += 1;
                }
            }
        }

        // Deprivation: `z_n >= f(1 - y_n)`, one row per linear piece of `f` (slope `b`, value
        // `f_1` at u = 1): `z_n + b y_n >= f_1`. Needs without links pay the constant `f(1)`
        // outside the model.
        if let (Goal::MinDeprivation(_), Some(cost)) = (goal, &s.policy.deprivation) {
            for (i, &n) in self.needs.iter().enumerate() {
                if need_edges[i].is_empty() {
                    continue;
                }
                let z = pb.add_column(s.needs[n].priority, 0.0..);
                next_col += 1;
                for (slope, at_one) in cost.pieces() {
                    let mut entries = xc.entries(row, need_edges[i].iter().map(|&j| (j, slope)));
                    entries.push((z, 1.0));
                    pb.add_row(at_one.., entries);
                    row += 1;
                }
            }
        }

        // Capacity rows, skipping those that can never bind.
        let mut cap_rows = Vec::new();
        // (resource, dimension, maximal overlap, column of a stock `s_k`) of reusable
        // dimensions in stock form.
        let mut stock_cols: Vec<(usize, usize, usize, usize)> = Vec::new();
        if net.time.is_none() {
            row = self.untimed_capacity_rows(&mut pb, &mut xc, row, &mut cap_rows);
        } else {
            let mut res_edges: Vec<Vec<usize>> = vec![Vec::new(); s.resources.len()];
            for (j, &e) in self.edges.iter().enumerate() {
                res_edges[net.edges[e].resource()].push(j);
            }
            for &r in self.resources {
                let js = &res_edges[r];
                if js.is_empty() {
                    continue;
                }
                for d in 0..nd {
                    let cap = net.cap(r)[d];
                    let using: Vec<usize> = js
                        .iter()
                        .copied()
                        .filter(|&j| net.edge_use(self.edges[j])[d] > 0.0)
                        .collect();
                    let total: f64 = using.iter().map(|&j| net.edge_use(self.edges[j])[d]).sum();
                    let time = net.time.as_ref().filter(|t| t.reusable[d]);
                    // A live session's confirmed bookings on a reusable dimension.
                    let held = time.map_or(&[][..], |t| t.held[r * nd + d].intervals());
                    let held_peak = crate::timed::peak_load(held);
                    if using.is_empty() || total + held_peak <= cap {
                        continue;
                    }
                    let Some(time) = time else {
                        let entries = xc.entries(
                            row,
                            using.iter().map(|&j| (j, net.edge_use(self.edges[j])[d])),
                        );
                        pb.add_row(..=cap, entries);
                        cap_rows.push((r, d, row));
                        row += 1;
                        continue;
                    };
                    // A reusable dimension: the sparser of two exact forms (ARCHITECTURE.md). Held
                    // intervals enter both as columns fixed at 1, numbered after the part's own
                    // (`first_held + h`), whose amounts move to the right-hand side.
                    let first_held = self.edges.len();
                    let occupation = |j: usize| match j.checked_sub(first_held) {
                        Some(h) => (held[h].0, held[h].1),
                        None => {
                            let o = time.occupation[self.edges[j]];
                            (o.start, o.end)
                        }
                    };
                    let amount = |j: usize| match j.checked_sub(first_held) {
                        Some(h) => held[h].2,
                        None => net.edge_use(self.edges[j])[d],
                    };
                    let mut occupying = using.clone();
                    occupying.extend(first_held..first_held + held.len());
                    match crate::timed::capacity_over_time(&occupying, occupation) {
                        crate::timed::OverTime::Overlaps(sets) => {
                            for set in sets {
                                let (own, fixed): (Vec<usize>, Vec<usize>) =
                                    set.iter().partition(|&&j| j < first_held);
                                let room = cap - fixed.iter().map(|&j| amount(j)).sum::<f64>();
                                if own.iter().map(|&j| amount(j)).sum::<f64>() <= room {
                                    continue;
                                }
                                let entries = xc.entries(row, own.iter().map(|&j| (j, amount(j))));
                                pb.add_row(..=room.max(0.0), entries);
                                cap_rows.push((r, d, row));
                                row += 1;
                            }
                        }
                        crate::timed::OverTime::Stock(events) => {
                            // `s_k = cap - load_k >= 0` on each elementary interval, written as
                            // `s_k - s_{k-1} + (uses beginning at t_k) - (uses ending) = 0`.
                            let mut previous = None;
                            for (k, event) in events.iter().enumerate() {
                                let stock = pb.add_column(0.0, 0.0..);
                                stock_cols.push((r, d, event.overlap, next_col));
                                next_col += 1;
                                let mut entries = vec![(stock, 1.0)];
                                entries.extend(previous.map(|p| (p, -1.0)));
                                let mut rhs = if k == 0 { cap } else { 0.0 };
                                for &j in &event.begin {
                                    match j < first_held {
                                        true => xc.entry(row, j, amount(j), &mut entries),
                                        false => rhs -= amount(j),
                                    }
                                }
                                for &j in &event.end {
                                    match j < first_held {
                                        true => xc.entry(row, j, -amount(j), &mut entries),
                                        false => rhs += amount(j),
                                    }
                                }
                                pb.add_row(rhs..=rhs, entries);
                                row += 1;
                                previous = Some(stock);
                            }
                        }
                    }
                }
            }
        }

        // Group rows: sum_{n in g} p_n y_n / P_g  (>= t, >= a fixed floor, or >= s); the rows
        // holding a group at `>= t` are read back (their duals tell leximin who is blocked).
        let min_share = match s.policy.fairness {
            Fairness::MinShare(v) => Some(v),
            _ => None,
        };
        let mut phi_cols = vec![None; self.groups.len()];
        let mut phi_handles = vec![None; self.groups.len()];
        let mut group_cuts = vec![Vec::new(); self.groups.len()];
        let mut t_rows = vec![None; self.groups.len()];
        for (gi, g) in self.groups.iter().enumerate() {
            // Walked twice rather than collected: a group of a sifted part has millions.
            let terms = || {
                g.needs.iter().flat_map(|&i| {
                    let p = s.needs[self.needs[i]].priority / g.total_priority;
                    need_edges[i].iter().map(move |&j| (j, p))
                })
            };
            // The group's row comes after its cuts, so its number is known only then; the
            // entries of columns left out are recorded when it is added.
            let mut entries = xc.in_model(terms());
            // Proportional: `phi_g <= ln a + (ratio_g - a) / a` at each tangent point `a`.
            let tangents = holds
                .tangents
                .get(gi)
                .filter(|_| goal == Goal::MaxProportional);
            if let Some(points) = tangents.filter(|t| !t.is_empty()) {
                let phi = pb.add_column(g.total_priority, f64::NEG_INFINITY..);
                phi_cols[gi] = Some(next_col);
                phi_handles[gi] = Some(phi);
                if keep {
                    group_cuts[gi] = entries.clone();
                }
                next_col += 1;
                for &a in points {
                    // `phi <= ln a - 1 + ratio / a`, the ratio being `offset + entries`.
                    let mut cut: Vec<_> = entries.iter().map(|&(c, p)| (c, -p / a)).collect();
                    cut.push((phi, 1.0));
                    pb.add_row(..=a.ln() - 1.0 + g.offset / a, cut);
                    row += 1;
                }
            }
            let mut lower = f64::NEG_INFINITY;
            let mut at_t = false;
            match (holds.group_floor.get(gi).copied().flatten(), t_col) {
                (Some(floor), _) => lower = floor,
                (None, Some((t, _))) => {
                    entries.push((t, -1.0));
                    lower = 0.0;
                    at_t = true;
                }
                (None, None) => {}
            }
            if let Some(v) = min_share.filter(|_| holds.keeps_min_share(gi)) {
                lower = lower.max(v);
                if elastic && v > 0.0 {
                    let sc = pb.add_column(1.0, 0.0..=v);
                    slack_cols.push((None, Some(g.name.clone()), next_col));
                    next_col += 1;
                    entries.push((sc, 1.0));
                }
            }
            let upper = holds
                .group_ceiling
                .get(gi)
                .copied()
                .flatten()
                .filter(|_| !at_t);
            // The bounds are of the ratio, `offset + entries`: the row holds the entries.
            let (lower, upper) = (lower - g.offset, upper.map(|u| u - g.offset));
            if lower > f64::NEG_INFINITY || upper.is_some() {
                if at_t {
                    t_rows[gi] = Some(row);
                }
                // Only the columns left out still have to be recorded against this row.
                for (j, p) in terms() {
                    if xc.cols[j].is_none() {
                        xc.aside.push(j, row, p);
                    }
                }
                match upper {
                    Some(up) => pb.add_row(lower..=up.max(lower), entries),
                    None => pb.add_row(lower.., entries),
                }
                row += 1;
            }
        }

        // Leximin on a MIP part by ordered sums (Ogryczak and Sliwinski): the sum of the `k`
        // smallest ratios is the largest `k t - sum_g max(0, t - ratio_g)` over `t`, so each
        // sum held (and the one this stage maximises) has a column `t` in [0, 1] and per
        // group a column `d_g >= 0` with the row `ratio_g + d_g - t >= 0`; a held sum's row
        // is `k t - sum_g d_g >= S`.
        let maximised = match goal {
            Goal::MaxOrderedSum(k) => Some(k),
            _ => None,
        };
        let sums = holds.ordered.len() + usize::from(maximised.is_some());
        for j in 0..sums {
            let k = (j + 1) as f64;
            let objective = |c: f64| if j == holds.ordered.len() { c } else { 0.0 };
            let t = pb.add_column(objective(k), 0.0..=1.0);
            next_col += 1;
            let mut held = vec![(t, k)];
            for g in holds.ordered_groups.iter().map(|&g| &self.groups[g]) {
                let d = pb.add_column(objective(-1.0), 0.0..);
                next_col += 1;
                held.push((d, -1.0));
                let terms = g.needs.iter().flat_map(|&i| {
                    let p = s.needs[self.needs[i]].priority / g.total_priority;
                    need_edges[i].iter().map(move |&j| (j, p))
                });
                let mut entries = xc.entries(row, terms);
                entries.push((d, 1.0));
                entries.push((t, -1.0));
                pb.add_row(-g.offset.., entries);
                row += 1;
            }
            if let Some(&at_least) = holds.ordered.get(j) {
                pb.add_row(at_least.., held);
                row += 1;
            }
        }

        if let Some(v) = holds.value_at_least {
            let entries = xc.entries(
                row,
                self.edges
                    .iter()
                    .enumerate()
                    .map(|(j, &e)| (j, self.priority_of_edge(e))),
            );
            pb.add_row(v.., entries);
        }

        let sense = match goal {
            Goal::MinCost | Goal::MinViolation | Goal::MinDeprivation(_) => Sense::Minimise,
            _ => Sense::Maximise,
        };
        let n_cols_hint = included;
        let n_cols = self.edges.len();
        let layout = Layout {
            n_cols,
            x_col,
            next_col,
            start_cols: start_cols
                .into_iter()
                .map(|(z, js)| (z, js.to_vec()))
                .collect(),
            slack_cols,
            t_col: t_col.map(|c| c.1),
            t_rows,
            phi_cols,
            need_rows,
            cap_rows,
            stock_cols,
        };
        let Ok(mut model) = pb.try_optimise(sense) else {
            return Built {
                model: None,
                layout,
                cuts: group_cuts,
                phi: phi_handles,
                aside: xc.aside,
                mip,
            };
        };
        model.make_quiet();
        model.set_option("threads", 1);
        model.set_option("parallel", "off");
        // Flow-shaped LPs spend most of their time in presolve (SOLVER_NOTES); MIPs need it.
        model.set_option("presolve", if mip { "on" } else { "off" });
        if mip {
            model.set_option("mip_rel_gap", s.policy.mip_gap);
            if let Goal::MaxOrderedSum(_) = goal {
                // A sum of ratios (at most the number of groups) held for the stages after:
                // HiGHS's absolute gap of 1e-6 would let it fall 1e-6 short, ten times SPEC's
                // 1e-7 hold of a fixed ratio.
                model.set_option("mip_abs_gap", 1e-9);
            }
            if net.time.is_some() {
                // HiGHS's probing spent 35 of 44 s of the harvest benchmark's value stage and
                // all of its cost stage's time; without it the two stages take 10 s
                // (benches/RESULTS.md). Timed MIPs only: snapshots keep HiGHS's defaults.
                model.set_option("presolve_rule_off", PROBING_OFF);
            }
            let fair = matches!(goal, Goal::MaxMinRatio | Goal::MaxGroupRatio(_))
                || holds
                    .group_floor
                    .iter()
                    .chain(&holds.group_ceiling)
                    .any(Option::is_some);
            if net.time.is_some() || sums > 0 || fair {
                // `x_{e,s} <= z_s` lets a `z` within the default integrality tolerance (1e-6)
                // carry that much of a start it did not choose; presolve then finds a later
                // stage's hold infeasible by as much. Measured on the timed oracle's seeds.
                // An indivisible share 1e-6 short of whole left that much room to a divisible
                // need on the same capacity over time, which the plan's whole share then
                // overran (2.0000016 units of 2 on a review's seed). Leximin's ordered sums:
                // within 1e-6 a plan may break `d_g >= t - ratio_g` by as much and claim a
                // sum no plan reaches; the next stage, held to it, was then "infeasible" and
                // ran with every hold loosened to 1e-6. Max-min and a group's test likewise
                // (`ratio_g >= t`, a fixed group's 1e-7 band): a t 1e-6 above any plan's made
                // leximin's next floors, at t - 1e-7, infeasible, and the solve failed.
                model.set_option("mip_feasibility_tolerance", 1e-9);
            }
        }
        if !mip && n_cols_hint >= IPM_MIN_COLUMNS {
            // Large allocation LPs: interior point then crossover (a vertex, so duals stay
            // basic) beats dual simplex several times over (ARCHITECTURE.md, "Presolve").
            model.set_option("solver", "ipm");
        }
        Built {
            model: Some(model),
            layout,
            cuts: group_cuts,
            phi: phi_handles,
            aside: xc.aside,
            mip,
        }
    }

    /// The capacity rows of a part without time, numbered from `row` in the order of
    /// `self.resources` and then dimension, skipping those that can never bind: into `pb` (the
    /// columns in the model) and `xc`'s aside (the others); returns the next row. The links
    /// are read twice in column order, where a resource at a time reads them scattered over
    /// the part's arrays (about 5x slower at 5,000,000 links; benches/RESULTS.md). Sums and
    /// entries come in the order the resource-major loop of the timed case has them.
    fn untimed_capacity_rows(
        &self,
        pb: &mut RowProblem,
        xc: &mut XCols,
        mut row: usize,
        cap_rows: &mut Vec<(usize, usize, usize)>,
    ) -> usize {
        let net = self.net;
        let nd = net.num_dims();
        let slots = self.scenario.resources.len() * nd;
        let (mut total, mut using) = (vec![0.0; slots], vec![false; slots]);
        for &e in self.edges {
            let r = net.edges[e].resource();
            for (d, &u) in net.edge_use(e).iter().enumerate() {
                if u > 0.0 {
                    total[r * nd + d] += u;
                    using[r * nd + d] = true;
                }
            }
        }
        let first = row;
        let mut row_of = vec![usize::MAX; slots];
        for &r in self.resources {
            for d in 0..nd {
                let k = r * nd + d;
                if using[k] && total[k] > net.cap(r)[d] {
                    row_of[k] = row;
                    cap_rows.push((r, d, row));
                    row += 1;
                }
            }
        }
        let mut entries: Vec<Vec<(highs::Col, f64)>> = vec![Vec::new(); row - first];
        for (j, &e) in self.edges.iter().enumerate() {
            let r = net.edges[e].resource();
            for (d, &u) in net.edge_use(e).iter().enumerate() {
                let at = row_of[r * nd + d];
                if u > 0.0 && at != usize::MAX {
                    xc.entry(at, j, u, &mut entries[at - first]);
                }
            }
        }
        for (&(r, d, _), entries) in cap_rows[cap_rows.len() - entries.len()..]
            .iter()
            .zip(entries)
        {
            pb.add_row(..=net.cap(r)[d], entries);
        }
        row
    }

    /// HiGHS's time limit, what is left before the deadline, with the model's clocks zeroed
    /// first: HiGHS compares the limit with the time of every run of an instance together
    /// (its C API documents this), and a kept model runs many times. With a `budget`
    /// (seconds) shorter than the time left, that budget is the limit: the answer is whether
    /// it is.
    fn set_time_limit(&self, model: &mut highs::Model, budget: Option<f64>) -> bool {
        // SAFETY: the pointer is the live HiGHS instance `model` owns, used by nothing else
        // during the call, which only resets its timers.
        unsafe { highs_sys::Highs_zeroAllClocks(model.as_mut_ptr()) };
        // A called-off solve gives each later run no time at all (it answers the time limit
        // at once); HiGHS's interrupt callback stops a run under way (`SubModel::run_highs`).
        let left = if self.cancel.is_some_and(|c| c.is_cancelled()) {
            Some(0.0)
        } else {
            self.time_left()
        };
        // A limit set once stays on a kept model until another replaces it. What is left of
        // the deadline is at least 1 ms (0 would stop HiGHS before it reports a plan); a
        // budget is taken as it is.
        let (limit, budget_bound) = match budget {
            Some(b) if left.is_none_or(|l| b < l) => (b, true),
            _ => (left.map_or(f64::INFINITY, |l| l.max(1e-3)), false),
        };
        model.set_option("time_limit", limit);
        budget_bound
    }

    /// HiGHS's run of `model`, watching the solve's [`crate::Cancel`]. A run it interrupted
    /// (or that ended on another status the `highs` crate does not know) is an error here:
    /// that crate's `status()` panics on those, so no caller may read one; a called-off
    /// solve's answer is discarded anyway (`SolveError::Cancelled`).
    fn run_highs(&self, mut model: highs::Model) -> Result<highs::SolvedModel, highs::HighsStatus> {
        if let Some(cancel) = self.cancel {
            // SAFETY: `model` owns a live HiGHS instance; `cancel` borrows the solve's options,
            // which outlive this run, and every later run of this instance goes through here
            // again and sets the pointer anew before HiGHS can read it.
            unsafe { crate::cancel::watch(model.as_mut_ptr(), cancel) };
        }
        let solved = model.try_solve()?;
        // SAFETY: the live instance `solved` owns; reading its status changes nothing.
        let status = unsafe { highs_sys::Highs_getModelStatus(solved.as_ptr() as *mut _) };
        // The statuses past `kHighsModelStatusUnknown` (15: a solution limit, our interrupt,
        // a memory limit HiGHS hit, its own interrupt) are unknown to the `highs` crate,
        // whose `status()` panics on them: each is a run that did not answer.
        if status > highs_sys::kHighsModelStatusUnknown {
            return Err(highs::HighsStatus::Error);
        }
        Ok(solved)
    }

    /// Seconds left before the deadline, if the solve has one.
    fn time_left(&self) -> Option<f64> {
        self.deadline.map(|deadline| {
            deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
        })
    }

    /// The next round of the proportional objective from the last round's model and basis:
    /// the tangents `holds` has beyond those already in the model are added as rows, and
    /// dual simplex re-optimises from the previous basis (the old plan stays dual feasible;
    /// only the new cuts are violated). `None` when `holds` is not the model's tangents plus
    /// new ones (a group left out since), or the model was lost: the caller builds anew.
    fn resolve_with_cuts(&self, warm: &mut Warm, holds: &Holds) -> Option<Stage> {
        let compatible = warm.tangents.len() == holds.tangents.len()
            && warm
                .tangents
                .iter()
                .zip(&holds.tangents)
                .all(|(&had, now)| had <= now.len() && (had == 0) == now.is_empty());
        if !compatible {
            return None;
        }
        let mut model = warm.model.take()?;
        WARM.ran();
        for (g, points) in holds.tangents.iter().enumerate() {
            let Some(phi) = warm.phi[g] else { continue };
            for &a in &points[warm.tangents[g]..] {
                let mut cut: Vec<_> = warm.cuts[g].iter().map(|&(c, p)| (c, -p / a)).collect();
                cut.push((phi, 1.0));
                // As the build writes it: the ratio is `offset + entries`.
                let offset = self.groups[g].offset;
                model.try_add_row(..=a.ln() - 1.0 + offset / a, cut).ok()?;
            }
            warm.tangents[g] = points.len();
        }
        model.set_option("solver", "simplex");
        self.set_time_limit(&mut model, None);
        let solved = self.run_highs(model).ok()?;
        let stage = warm.layout.read(self, &solved, false);
        if stage.status == HighsModelStatus::Optimal {
            warm.model = Some(solved.into());
        }
        Some(stage)
    }
}

/// Where a stage's answer sits in its HiGHS model: columns and rows by index, in the order
/// `SubModel::build` added them.
struct Layout {
    /// The allocation columns `x_e`, one per link of the part.
    n_cols: usize,
    /// Each allocation column's column in the model, [`NO_COL`] while sifting leaves it out:
    /// those in the model come first, in link order; columns added later follow the rest.
    x_col: Vec<u32>,
    /// All columns.
    next_col: usize,
    /// (column of z_s, the allocation columns of its start)
    start_cols: Vec<(usize, Vec<usize>)>,
    /// (need, group, column) of each elastic slack.
    slack_cols: Vec<(Option<usize>, Option<String>, usize)>,
    t_col: Option<usize>,
    t_rows: Vec<Option<usize>>,
    phi_cols: Vec<Option<usize>>,
    /// (local need, row)
    need_rows: Vec<(usize, usize)>,
    /// (resource, dimension, row)
    cap_rows: Vec<(usize, usize, usize)>,
    /// (resource, dimension, maximal overlap, column of a stock)
    stock_cols: Vec<(usize, usize, usize, usize)>,
}

/// The LP of a coverage solve (with `maxmin` or `leximin`, or no fairness), kept across its
/// stages: each stage changes the model in place (objective, `t`'s bounds, each group row's
/// `t` coefficient and bounds, the value hold) and HiGHS re-optimises from the previous
/// stage's basis, where a model built anew would start from nothing. Built once in the shape
/// of a max-min stage (a `t` column and a `ratio_g - t >= 0` row per group); a fixed group's
/// row drops `t` and takes its floor and ceiling as bounds, which is the row a fresh model
/// would have.
struct LexModel {
    /// `None` once a stage has not reached an optimum: later stages are built anew.
    model: Option<highs::Model>,
    layout: Layout,
    /// Whether each group's row has `t` now.
    with_t: Vec<bool>,
    /// The row `sum p_n y_n >= V* - tol`, once a stage holds the value.
    value_row: Option<usize>,
    /// Stages solved on this model.
    solves: usize,
    /// Seconds of the last solve by the interior point method (a large model's).
    cold_secs: Option<f64>,
    /// Sifting ([`SubModel::sifted_out`]): how many allocation columns are left out of the
    /// model (`Layout::x_col` marks which) until a stage's duals price them in; 0 on a model
    /// not sifted.
    held_out: usize,
    /// Whether the model was sifted when built (`held_out` may reach 0 later): its simplex
    /// runs are primal but for a first dual solve from a kept start.
    sifted: bool,
    /// The entries of each column left out ([`Built::aside`]), the value row's too once added.
    aside: Aside,
    need_of: Vec<usize>,
    /// Whether the last stage's answer came from a re-solve on a changed basis (a later stage,
    /// a sifting round, or a kept start): such an answer is retried built anew when it is not
    /// an optimum.
    last_warm: bool,
    /// A live session's kept bases ([`LpStarts`]): this part's ids and what was kept of it.
    start: Option<PartStart>,
}

/// What a [`LexModel`] of a live session's re-plan knows of its kept bases (`lp/start.rs`).
struct PartStart {
    needs: HashSet<String>,
    resources: HashSet<String>,
    /// The part is the whole scenario (fairness couples its components).
    whole: bool,
    /// The id of the part's first need: what `t` and the value row are kept under.
    anchor: String,
    /// The kept basis of each stage, as the last re-plan left it.
    stages: Vec<StageBasis>,
    /// The allocation column of each kept link that this part still has.
    links: HashMap<Slot, usize>,
}

/// Tests turn the kept models off, to check warm stages against models built anew, and
/// count the stages solved warm.
pub(crate) static WARM: crate::switch::Switch = crate::switch::Switch::new();

/// Tests stop dual simplex from a kept start at once (primal simplex then solves the stage
/// from that start), and count the stages where it stopped.
pub(crate) static DUAL_STALL: crate::switch::Switch = crate::switch::Switch::new();

/// Tests give a large model's warm simplex a budget of 0 (the interior point method then
/// solves the stage), and count the stages whose simplex ran out of its budget.
pub(crate) static OVER_BUDGET: crate::switch::Switch = crate::switch::Switch::new();
/// Counts (never forced) a large model's stages that simplex solved within their budget.
pub(crate) static LARGE_WARM: crate::switch::Switch = crate::switch::Switch::new();

/// How a stage's model is solved: as [`SubModel::build`] set it up (HiGHS's choice, or the
/// interior point method for large LPs), or one of the rescues from numerical trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Choice,
    /// The interior point method with crossover (a vertex, so duals stay basic).
    InteriorPoint,
    /// Primal simplex (HiGHS's choice for these LPs is dual simplex).
    Primal,
    /// Dual simplex without HiGHS's scaling of rows and columns.
    UnscaledDual,
    UnscaledPrimal,
}

/// The rescues, in the order tried: on random scenarios whose values span 4 to 21 orders of
/// magnitude each of them was the first to answer on some stage that the others left.
const RESCUES: [Method; 4] = [
    Method::InteriorPoint,
    Method::Primal,
    Method::UnscaledDual,
    Method::UnscaledPrimal,
];

impl Method {
    fn apply(self, model: &mut highs::Model) {
        let (solver, strategy, scale) = match self {
            Method::Choice => return,
            Method::InteriorPoint => ("ipm", None, None),
            Method::Primal => ("simplex", Some(4), None),
            Method::UnscaledDual => ("simplex", Some(1), Some(0)),
            Method::UnscaledPrimal => ("simplex", Some(4), Some(0)),
        };
        model.set_option("solver", solver);
        if let Some(strategy) = strategy {
            model.set_option("simplex_strategy", strategy);
        }
        if let Some(scale) = scale {
            model.set_option("simplex_scale_strategy", scale);
        }
    }
}

/// A status that is no answer and no proof of infeasibility: HiGHS gave up (`Unknown`,
/// `SolveError`, an iteration limit...), which on a well-posed LP means numerical trouble.
fn in_trouble(status: HighsModelStatus) -> bool {
    !matches!(
        status,
        HighsModelStatus::Optimal
            | HighsModelStatus::ModelEmpty
            | HighsModelStatus::ReachedTimeLimit
            | HighsModelStatus::Infeasible
            | HighsModelStatus::UnboundedOrInfeasible
    )
}

/// Whether a stage solved warm is built anew and solved again: HiGHS answered neither an
/// optimum nor a time limit. A later stage only adds holds that the previous plan satisfies,
/// within HiGHS's tolerances (1e-7, the size of SPEC's holds), so such an answer is numerical;
/// measured once: a `MinCost` stage whose holds sat at the tolerance, infeasible from the kept
/// basis and optimal when built anew.
fn needs_retry(st: &Stage) -> bool {
    !st.fault
        && !matches!(
            st.status,
            HighsModelStatus::Optimal
                | HighsModelStatus::ModelEmpty
                | HighsModelStatus::ReachedTimeLimit
        )
}

/// Whether the stage can run on a kept [`LexModel`]: an LP, with nothing but group floors,
/// ceilings and a value hold to apply, of a goal the model's shape serves.
fn lex_shaped(sub: &SubModel, goal: Goal, holds: &Holds) -> bool {
    let fairness_ok = sub.groups.is_empty()
        || matches!(
            sub.scenario.policy.fairness,
            Fairness::Maxmin | Fairness::Leximin
        );
    let goal_ok = match goal {
        Goal::MaxValue | Goal::MinCost | Goal::MaxGroupRatio(_) => true,
        Goal::MaxMinRatio => !sub.groups.is_empty(),
        _ => false,
    };
    !WARM.forced()
        && fairness_ok
        && goal_ok
        && !sub.is_mip()
        && holds.fixed.is_none()
        && holds.enforced.is_none()
        && holds.tangents.is_empty()
        && sub.scenario.policy.deprivation.is_none()
}

impl LexModel {
    fn new(sub: &SubModel) -> Option<LexModel> {
        let shape = if sub.groups.is_empty() {
            Goal::MaxValue
        } else {
            Goal::MaxMinRatio
        };
        let mut held = sub.sifted_out();
        let start = sub
            .lp_starts
            .map(|starts| PartStart::new(sub, starts, &mut held));
        let held_out = held.iter().filter(|&&h| h).count();
        let built = sub.build(shape, &Holds::none(sub.groups.len()), false, &held);
        let with_t = built.layout.t_rows.iter().map(Option::is_some).collect();
        let mut model = built.model?;
        if held_out > 0 {
            // Added columns and a later stage's objective leave the last basis primal
            // feasible: primal simplex goes on from it, where dual simplex (HiGHS's choice)
            // first has to regain dual feasibility (benches/RESULTS.md, "Held-out columns out
            // of the model").
            model.set_option("simplex_strategy", SIMPLEX_PRIMAL);
            // Without HiGHS's bound perturbation: it moves the bounds off the start's
            // degenerate vertex, then spends pivots taking the moves back; from a start near
            // the optimum (every solve here) that cleanup was half the work of a
            // two-dimension re-plan (benches/RESULTS.md, "Primal simplex without bound
            // perturbation").
            model.set_option("primal_simplex_bound_perturbation_multiplier", 0.0);
        }
        Some(LexModel {
            model: Some(model),
            layout: built.layout,
            with_t,
            value_row: None,
            solves: 0,
            cold_secs: None,
            held_out,
            sifted: held_out > 0,
            aside: built.aside,
            need_of: sub.edges.iter().map(|&e| sub.net.edges[e].need()).collect(),
            last_warm: false,
            start,
        })
    }

    /// Start this stage from the basis the same stage of the session's last re-plan ended
    /// with ([`LpStarts`]): each kept status goes to the column or row that stands for the
    /// same link, need, resource, group, `t` or value hold now; the rest keep a fresh
    /// model's (columns at their lower bound, rows basic). HiGHS completes a basis that is
    /// short of basic variables, or singular, with slacks. Whether the basis was taken.
    fn set_start(&self, sub: &SubModel, model: &mut highs::Model) -> bool {
        let Some(start) = self.start.as_ref() else {
            return false;
        };
        let Some(kept) = start.stages.get(self.solves).filter(|b| !b.is_empty()) else {
            return false;
        };
        let s = sub.scenario;
        let Some((n_col, n_row)) = model_size(model) else {
            return false;
        };
        let mut cols = vec![LOWER; n_col];
        let mut rows = vec![BASIC; n_row];
        let need_row: HashMap<&str, usize> = self
            .layout
            .need_rows
            .iter()
            .map(|&(i, row)| (s.needs[sub.needs[i]].id.as_str(), row))
            .collect();
        let dims = &sub.net.dims;
        let cap_row: HashMap<(&str, &str), usize> = self
            .layout
            .cap_rows
            .iter()
            .map(|&(r, d, row)| ((s.resources[r].id.as_str(), dims[d].as_str()), row))
            .collect();
        let group_row: HashMap<&str, usize> = sub
            .groups
            .iter()
            .zip(&self.layout.t_rows)
            .filter_map(|(g, row)| Some((g.name.as_str(), (*row)?)))
            .collect();
        for (slot, &status) in kept {
            let (col, row) = match slot {
                Slot::Link(..) => (
                    start
                        .links
                        .get(slot)
                        .map(|&j| self.layout.x_col[j])
                        .filter(|&c| c != NO_COL)
                        .map(|c| c as usize),
                    None,
                ),
                Slot::NeedRow(n) => (None, need_row.get(n.as_str()).copied()),
                Slot::CapRow(r, d) => (None, cap_row.get(&(r.as_str(), d.as_str())).copied()),
                Slot::GroupRow(g) => (None, group_row.get(g.as_str()).copied()),
                Slot::T(a) => (self.layout.t_col.filter(|_| *a == start.anchor), None),
                Slot::ValueRow(a) => (None, self.value_row.filter(|_| *a == start.anchor)),
            };
            if let Some(c) = col.and_then(|c| cols.get_mut(c)) {
                *c = status;
            }
            if let Some(r) = row.and_then(|r| rows.get_mut(r)) {
                *r = status;
            }
        }
        // SAFETY: the pointer is the live HiGHS instance `model` owns, used by nothing else
        // during the call; `cols` and `rows` have one entry per column and row of the model,
        // as the call reads them, each a status HiGHS defines (kept from `Highs_getBasis`).
        let status =
            unsafe { highs_sys::Highs_setBasis(model.as_mut_ptr(), cols.as_ptr(), rows.as_ptr()) };
        status == highs_sys::STATUS_OK
    }

    /// Keep this stage's optimal basis for the same stage of the session's next re-plan, by
    /// the ids its columns and rows stand for (only statuses other than a fresh model's).
    fn keep_basis(&self, sub: &SubModel, model: &mut highs::Model) {
        let (Some(starts), Some(start)) = (sub.lp_starts, self.start.as_ref()) else {
            return;
        };
        let s = sub.scenario;
        let Some((n_col, n_row)) = model_size(model) else {
            return;
        };
        let mut cols = vec![LOWER; n_col];
        let mut rows = vec![BASIC; n_row];
        // SAFETY: the pointer is the live HiGHS instance `model` owns, used by nothing else
        // during the call. The call writes one status per entry of HiGHS's basis, which has
        // one per column and row of the model when the basis is valid (after an optimal
        // simplex or crossover answer, the only caller); an invalid one makes it return an
        // error before writing. `cols` and `rows` have room for one per column and row.
        let status = unsafe {
            highs_sys::Highs_getBasis(model.as_mut_ptr(), cols.as_mut_ptr(), rows.as_mut_ptr())
        };
        if status != highs_sys::STATUS_OK {
            return;
        }
        let mut basis = StageBasis::new();
        let col = |c: usize| cols.get(c).map_or(LOWER, |&st| st);
        let row = |r: usize| rows.get(r).map_or(BASIC, |&st| st);
        for (j, &c) in self.layout.x_col.iter().enumerate() {
            if c == NO_COL || col(c as usize) == LOWER {
                continue;
            }
            let edge = &sub.net.edges[sub.edges[j]];
            let (n, r) = (&s.needs[edge.need()].id, &s.resources[edge.resource()].id);
            basis.insert(Slot::Link(n.clone(), r.clone()), col(c as usize));
        }
        for &(i, r) in &self.layout.need_rows {
            if row(r) != BASIC {
                basis.insert(Slot::NeedRow(s.needs[sub.needs[i]].id.clone()), row(r));
            }
        }
        for &(res, d, r) in &self.layout.cap_rows {
            if row(r) != BASIC {
                let slot = Slot::CapRow(s.resources[res].id.clone(), sub.net.dims[d].clone());
                basis.insert(slot, row(r));
            }
        }
        for (g, r) in sub.groups.iter().zip(&self.layout.t_rows) {
            if let Some(r) = r.filter(|&r| row(r) != BASIC) {
                basis.insert(Slot::GroupRow(g.name.clone()), row(r));
            }
        }
        if let Some(t) = self.layout.t_col.filter(|&t| col(t) != LOWER) {
            basis.insert(Slot::T(start.anchor.clone()), col(t));
        }
        if let Some(r) = self.value_row.filter(|&r| row(r) != BASIC) {
            basis.insert(Slot::ValueRow(start.anchor.clone()), row(r));
        }
        starts.keep(
            self.solves,
            &start.needs,
            &start.resources,
            start.whole,
            basis,
        );
    }

    /// The allocation columns sifting has left out of the model so far.
    fn left_out(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.layout.n_cols).filter(|&j| self.layout.x_col[j] == NO_COL)
    }

    /// The held-out columns whose reduced cost in this optimum is improving beyond HiGHS's
    /// dual feasibility tolerance: without them the stage's answer is not an optimum of the
    /// whole model. A column's reduced cost is `d_j = c_j - sum_i a_ij y_i` over its entries
    /// kept aside and the rows' duals `y`, HiGHS's own definition, which carries the sense's
    /// sign: an improving column has `d_j > tol` in a maximisation, `d_j < -tol` in a
    /// minimisation. Each need's `SIFT_LINKS` most improving come in.
    fn priced_in(&self, solved: &highs::SolvedModel, sense: Sense, costs: &[f64]) -> Vec<usize> {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicBool, Ordering};
        let sol = solved.get_solution();
        let y = sol.dual_rows();
        let sign = if sense == Sense::Maximise { 1.0 } else { -1.0 };
        // A pass over millions of held-out columns, each entry a read from another part of
        // `aside`: split over the pool's threads. The set chosen is the same whatever the
        // split: the candidates are ordered in full below.
        let no_duals = AtomicBool::new(false);
        // The fields read, not `self`, which holds the HiGHS instance (not `Sync`).
        let (x_col, aside, need_of) = (&self.layout.x_col, &self.aside, &self.need_of);
        let mut found: Vec<(usize, f64, usize)> = (0..self.layout.n_cols)
            .into_par_iter()
            .with_min_len(PRICE_CHUNK)
            .filter(|&j| x_col[j] == NO_COL)
            .filter_map(|j| {
                let mut d = costs[j];
                for (row, a) in aside.entries(j) {
                    let Some(&dual) = y.get(row) else {
                        no_duals.store(true, Ordering::Relaxed);
                        return None;
                    };
                    d -= a * dual;
                }
                let gain = sign * d;
                (gain > SIFT_TOL).then(|| (need_of[j], gain, j))
            })
            .collect();
        if no_duals.into_inner() {
            // No duals to price with: every held-out column comes in.
            return self.left_out().collect();
        }
        // By need, the most improving first (ties to the lower column).
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut wanted = Vec::new();
        for of_need in found.chunk_by(|a, b| a.0 == b.0) {
            wanted.extend(of_need.iter().take(SIFT_LINKS).map(|c| c.2));
        }
        wanted.sort_unstable();
        wanted
    }

    /// Add held-out columns to the model, with their entries kept aside and the stage's
    /// `costs`, at bounds `[0, inf)`, in one call; `None` when HiGHS refuses.
    fn release(
        &mut self,
        model: &mut highs::Model,
        columns: &[usize],
        costs: &[f64],
    ) -> Option<()> {
        let (mut starts, mut index, mut value) = (Vec::new(), Vec::new(), Vec::new());
        for &j in columns {
            starts.push(index.len() as highs_sys::HighsInt);
            for (row, a) in self.aside.take(j) {
                index.push(row as highs_sys::HighsInt);
                value.push(a);
            }
        }
        let col_costs: Vec<f64> = columns.iter().map(|&j| costs[j]).collect();
        let lower = vec![0.0; columns.len()];
        let upper = vec![f64::INFINITY; columns.len()];
        let ptr = model.as_mut_ptr();
        // SAFETY: as in `solve`. `col_costs`, `lower`, `upper` and `starts` have one entry per
        // new column and `index` and `value` one per entry, as the call reads them; each row
        // is one this model has (the build numbered them, and the value row was added before
        // it was recorded).
        let (first, status) = unsafe {
            let first = highs_sys::Highs_getNumCol(ptr);
            let status = highs_sys::Highs_addCols(
                ptr,
                columns.len() as highs_sys::HighsInt,
                col_costs.as_ptr(),
                lower.as_ptr(),
                upper.as_ptr(),
                index.len() as highs_sys::HighsInt,
                starts.as_ptr(),
                index.as_ptr(),
                value.as_ptr(),
            );
            (first, status)
        };
        if status != highs_sys::STATUS_OK {
            return None;
        }
        let first = u32::try_from(first).ok()?;
        for (k, &j) in columns.iter().enumerate() {
            self.layout.x_col[j] = first + k as u32;
        }
        SIFT.ran();
        self.held_out -= columns.len();
        Some(())
    }

    /// Change the model into stage `goal` under `holds` and solve it; `None` when the model
    /// is gone or HiGHS refuses a change (the caller builds the stage anew).
    fn solve(&mut self, sub: &SubModel, goal: Goal, holds: &Holds) -> Option<Stage> {
        let mut model = self.model.take()?;
        let t_col = self.layout.t_col;
        let group_of = sub.group_of_need();
        let costs = sub.costs(goal, holds, &group_of, &sub.local_needs());
        let ptr = model.as_mut_ptr();
        // The objective in the model's column order: allocation columns where `x_col` puts
        // them, `t`, and 0 for the rest (a timed part's stocks).
        // SAFETY: as below (a count, no index).
        let n_model = usize::try_from(unsafe { highs_sys::Highs_getNumCol(ptr) }).ok()?;
        let mut model_costs = vec![0.0; n_model];
        for (&c, &cost) in self.layout.x_col.iter().zip(&costs) {
            if c != NO_COL {
                *model_costs.get_mut(c as usize)? = cost;
            }
        }
        if let Some(t) = t_col {
            *model_costs.get_mut(t)? = if goal == Goal::MaxMinRatio { 1.0 } else { 0.0 };
        }
        let mut ok = true;
        // SAFETY (every call below): `ptr` is the live HiGHS instance that `model` owns and
        // keeps until it is dropped, and nothing else uses it during these calls. Each index
        // is one this model was built with (`Layout`, `t_col` and `t_rows` come from its
        // build; `value_row` from `add_row` on it), `costs` holds exactly the cost of columns
        // 0..=last, and HiGHS checks every index again and reports an error status (which
        // ends the warm path) rather than read out of bounds.
        if let Some(last) = model_costs.len().checked_sub(1) {
            ok &= unsafe {
                highs_sys::Highs_changeColsCostByRange(ptr, 0, last as _, model_costs.as_ptr())
            } == highs_sys::STATUS_OK;
        }
        if let Some(t) = t_col {
            let up = if goal == Goal::MaxMinRatio { 1.0 } else { 0.0 };
            ok &= unsafe { highs_sys::Highs_changeColBounds(ptr, t as _, 0.0, up) }
                == highs_sys::STATUS_OK;
        }
        for (g, row) in self.layout.t_rows.iter().enumerate() {
            let (Some(row), Some(t)) = (*row, t_col) else {
                continue;
            };
            let floor = holds.group_floor[g];
            let open = floor.is_none() && goal == Goal::MaxMinRatio;
            if open != self.with_t[g] {
                let coef = if open { -1.0 } else { 0.0 };
                ok &= unsafe { highs_sys::Highs_changeCoeff(ptr, row as _, t as _, coef) }
                    == highs_sys::STATUS_OK;
                self.with_t[g] = open;
            }
            // Of the ratio, `offset + the row's entries`, as the build writes them.
            let offset = sub.groups[g].offset;
            let (lo, up) = match (open, floor) {
                (true, _) => (-offset, f64::INFINITY),
                (false, Some(f)) => (
                    f - offset,
                    holds.group_ceiling[g].map_or(f64::INFINITY, |c| c.max(f) - offset),
                ),
                (false, None) => (f64::NEG_INFINITY, f64::INFINITY),
            };
            ok &= unsafe { highs_sys::Highs_changeRowBounds(ptr, row as _, lo, up) }
                == highs_sys::STATUS_OK;
        }
        if !ok {
            return None;
        }
        let value_floor = holds.value_at_least.unwrap_or(f64::NEG_INFINITY);
        match self.value_row {
            Some(row) => {
                let ptr = model.as_mut_ptr();
                // SAFETY: as above.
                let status = unsafe {
                    highs_sys::Highs_changeRowBounds(ptr, row as _, value_floor, f64::INFINITY)
                };
                if status != highs_sys::STATUS_OK {
                    return None;
                }
            }
            None if holds.value_at_least.is_some() => {
                let ptr = model.as_mut_ptr();
                // SAFETY: as above (a count, no index).
                let row = usize::try_from(unsafe { highs_sys::Highs_getNumRow(ptr) }).ok()?;
                let (mut index, mut value) = (Vec::new(), Vec::new());
                for (j, &e) in sub.edges.iter().enumerate() {
                    let p = sub.priority_of_edge(e);
                    match self.layout.x_col[j] {
                        NO_COL => self.aside.push(j, row, p),
                        c => {
                            index.push(c as highs_sys::HighsInt);
                            value.push(p);
                        }
                    }
                }
                // SAFETY: as above; `index` and `value` have one entry per entry of the row,
                // each a column of this model (`x_col`).
                let status = unsafe {
                    highs_sys::Highs_addRow(
                        ptr,
                        value_floor,
                        f64::INFINITY,
                        index.len() as highs_sys::HighsInt,
                        index.as_ptr(),
                        value.as_ptr(),
                    )
                };
                if status != highs_sys::STATUS_OK {
                    return None;
                }
                self.value_row = Some(row);
            }
            None => {}
        }
        let sense = match goal {
            Goal::MinCost => Sense::Minimise,
            _ => Sense::Maximise,
        };
        model.set_sense(sense);
        let large = self.layout.n_cols - self.held_out >= IPM_MIN_COLUMNS;
        // From the last re-plan's basis of this stage, simplex goes a few pivots.
        let kept = self.set_start(sub, &mut model);
        if kept {
            KEPT.ran();
        }
        let mut rounds = 0;
        let mut few_in = false;
        let (solved, stage) = loop {
            // Simplex from the previous stage's basis: on a small model always. A model large
            // enough for the interior point method stays with it for the value and cost stages
            // (from the old vertex, simplex took 3x as long on the shelter benchmark's cost
            // stage). Leximin's later max-min stages change only the rows of the groups just
            // fixed: simplex from the old vertex re-optimised 9 of the 20,000-need city's 11 in
            // 0.2-4 s, against ~20 s for the interior point method, but stalled on the other two;
            // so it gets a share of the last interior point solve's time as its budget, then the
            // interior point method runs (benches/RESULTS.md, "LP stages").
            // Only a large model's interior point solves set `cold_secs`.
            let budget = self
                .cold_secs
                .filter(|_| goal == Goal::MaxMinRatio)
                .map(|secs| {
                    if OVER_BUDGET.forced() {
                        0.0
                    } else {
                        secs * WARM_BUDGET
                    }
                });
            // A sifting round that brought in few columns goes on from the last basis.
            let warm = (kept && rounds == 0)
                || (self.solves + rounds > 0 && (!large || budget.is_some() || few_in));
            let mut ipm = large && !warm;
            // Under max-min, a start kept from the session's last re-plan is a vertex of
            // another model (the event moved `t` and every group's floor): seldom primal
            // feasible, mostly dual feasible, where dual simplex goes on from it in tens of
            // pivots where primal takes hundreds. Without groups (two dimensions) dual first
            // gained at most a fifth on the median and lengthened the tail: primal stays
            // (benches/RESULTS.md, "LP re-plans at 5,000 x 1,000 in six zones" and "Two
            // dimensions at 5,000 x 1,000"). Within a re-plan, a sifting round or a later
            // stage leaves the basis primal feasible, as `LexModel::new` says.
            let dual_first = warm && self.sifted && kept && rounds == 0 && !sub.groups.is_empty();
            if warm {
                model.set_option("solver", "simplex");
                WARM.ran();
            } else if ipm {
                model.set_option("solver", "ipm");
            }
            if self.sifted {
                // Set for every solve: a first dual solve's strategy and cap must not stay for
                // the next (a later round, stage or interior point solve).
                let (strategy, pivots) = match (dual_first, DUAL_STALL.forced()) {
                    (true, true) => (SIMPLEX_DUAL, 0),
                    (true, false) => (SIMPLEX_DUAL, DUAL_FIRST_PIVOTS),
                    (false, _) => (SIMPLEX_PRIMAL, i32::MAX),
                };
                model.set_option("simplex_strategy", strategy);
                model.set_option("simplex_iteration_limit", pivots);
            }
            let mut started = Instant::now();
            let budget_bound = sub.set_time_limit(&mut model, budget);
            let mut solved = sub.run_highs(model).ok()?;
            if dual_first && solved.status() == HighsModelStatus::ReachedIterationLimit {
                // Dual simplex stalled from the kept start (seen when an event updated a
                // need): primal simplex starts again from the kept start (from where dual
                // stopped it took longer still).
                DUAL_STALL.ran();
                let mut primal: highs::Model = solved.into();
                self.set_start(sub, &mut primal);
                primal.set_option("simplex_strategy", SIMPLEX_PRIMAL);
                primal.set_option("simplex_iteration_limit", i32::MAX);
                solved = sub.run_highs(primal).ok()?;
            }
            // The only iteration limit set is the first dual solve's, handled above.
            debug_assert_ne!(solved.status(), HighsModelStatus::ReachedIterationLimit);
            if budget_bound && solved.status() == HighsModelStatus::ReachedTimeLimit {
                OVER_BUDGET.ran();
                let mut cold: highs::Model = solved.into();
                cold.set_option("solver", "ipm");
                sub.set_time_limit(&mut cold, None);
                started = Instant::now();
                solved = sub.run_highs(cold).ok()?;
                ipm = true;
            } else if budget.is_some() {
                LARGE_WARM.ran();
            }
            if ipm {
                self.cold_secs = Some(started.elapsed().as_secs_f64());
            }
            // The stage is read (a pass over every link) once, from the round that answers.
            let (status, fault) = SubModel::forced_status(solved.status());
            if self.held_out > 0 {
                // Sifting: bring in the held-out columns this stage's duals price as
                // improving, and solve again; after `SIFT_MAX_ROUNDS`, or when the restricted
                // model answers anything but an optimum or a time limit (too few columns can
                // make min_fill infeasible), every column comes in.
                let all = || self.left_out().collect();
                let wanted = match status {
                    HighsModelStatus::Optimal if rounds < SIFT_MAX_ROUNDS => {
                        self.priced_in(&solved, sense, &costs)
                    }
                    HighsModelStatus::ReachedTimeLimit => Vec::new(),
                    _ => all(),
                };
                let in_model = self.layout.n_cols - self.held_out;
                if !wanted.is_empty() {
                    few_in = wanted.len() * SIFT_FEW <= in_model;
                    model = solved.into();
                    self.release(&mut model, &wanted, &costs)?;
                    rounds += 1;
                    continue;
                }
            }
            let stage = self.layout.read_as(sub, &solved, false, (status, fault));
            break (solved, stage);
        };
        self.last_warm = kept || self.solves > 0 || rounds > 0;
        if stage.status == HighsModelStatus::Optimal {
            let mut model: highs::Model = solved.into();
            self.keep_basis(sub, &mut model);
            self.model = Some(model);
        }
        self.solves += 1;
        Some(stage)
    }
}

impl PartStart {
    /// This part's kept bases. The links a kept basis has basic or at their upper bound
    /// join the columns a sifted model starts with (`held` cleared for them): the last
    /// optimum's support is then in the model from the first round.
    fn new(sub: &SubModel, starts: &LpStarts, held: &mut [bool]) -> PartStart {
        let s = sub.scenario;
        let needs: HashSet<String> = sub.needs.iter().map(|&n| s.needs[n].id.clone()).collect();
        let resources: HashSet<String> = sub
            .resources
            .iter()
            .map(|&r| s.resources[r].id.clone())
            .collect();
        let whole = !sub.groups.is_empty();
        let stages = starts.of_part(&needs, &resources, whole);
        let anchor = sub
            .needs
            .first()
            .map_or(String::new(), |&n| s.needs[n].id.clone());
        // Each kept link by its need: (resource, slot, whether it seeds the model).
        let need_ix: HashMap<&str, usize> = sub
            .needs
            .iter()
            .map(|&n| (s.needs[n].id.as_str(), n))
            .collect();
        let res_ix: HashMap<&str, usize> = sub
            .resources
            .iter()
            .map(|&r| (s.resources[r].id.as_str(), r))
            .collect();
        let mut by_need: Vec<Vec<(usize, &Slot, bool)>> = vec![Vec::new(); s.needs.len()];
        let mut any = false;
        for stage in &stages {
            for (slot, &status) in stage {
                let Slot::Link(n, r) = slot else { continue };
                let (Some(&n), Some(&r)) = (need_ix.get(n.as_str()), res_ix.get(r.as_str())) else {
                    continue;
                };
                let seeds = status == BASIC || status == UPPER;
                any = true;
                let list = &mut by_need[n];
                match list.iter_mut().find(|(x, ..)| *x == r) {
                    Some(entry) => entry.2 |= seeds,
                    None => list.push((r, slot, seeds)),
                }
            }
        }
        let mut links = HashMap::new();
        if any {
            for (j, &e) in sub.edges.iter().enumerate() {
                let edge = &sub.net.edges[e];
                let list = &by_need[edge.need()];
                if let Some(&(_, slot, seeds)) = list.iter().find(|(r, ..)| *r == edge.resource()) {
                    links.insert(slot.clone(), j);
                    if seeds {
                        if let Some(h) = held.get_mut(j) {
                            *h = false;
                        }
                    }
                }
            }
        }
        PartStart {
            needs,
            resources,
            whole,
            anchor,
            stages,
            links,
        }
    }
}

/// The numbers of columns and rows of a model.
fn model_size(model: &mut highs::Model) -> Option<(usize, usize)> {
    let ptr = model.as_mut_ptr();
    // SAFETY: `ptr` is the live HiGHS instance `model` owns, used by nothing else during
    // these calls, which only read counts.
    let (cols, rows) = unsafe {
        (
            highs_sys::Highs_getNumCol(ptr),
            highs_sys::Highs_getNumRow(ptr),
        )
    };
    Some((usize::try_from(cols).ok()?, usize::try_from(rows).ok()?))
}

/// A stage's model before it is solved.
struct Built {
    /// `None` when HiGHS refused the model.
    model: Option<highs::Model>,
    layout: Layout,
    cuts: Vec<Vec<(highs::Col, f64)>>,
    phi: Vec<Option<highs::Col>>,
    /// Per allocation column left out of the model (`held` in [`SubModel::build`]): its
    /// entries `(row, coefficient)`; empty when none was left out.
    aside: Aside,
    mip: bool,
}

/// The entries `(row, coefficient)` of the columns left out of a sifted model, in one array
/// with a list per column (a `Vec` per column cost a heap allocation and a free for each of
/// hundreds of thousands of links, every re-plan).
#[derive(Default)]
struct Aside {
    /// Per column, its last entry ([`NO_ENTRY`] when none).
    last: Vec<u32>,
    /// (row, the column's entry before this one, coefficient).
    entries: Vec<(u32, u32, f64)>,
}

/// The end of a column's list in [`Aside`].
const NO_ENTRY: u32 = u32::MAX;

impl Aside {
    /// Room for `per_column` entries of each column: a value row added to a model of
    /// millions of links would otherwise copy the whole array to grow it (0.3 s at 5,000,000).
    fn new(columns: usize, per_column: usize) -> Aside {
        Aside {
            last: vec![NO_ENTRY; columns],
            entries: Vec::with_capacity(per_column * columns),
        }
    }

    fn push(&mut self, j: usize, row: usize, a: f64) {
        // HiGHS numbers rows with 32-bit ints; 2^32 entries would take 64 GiB.
        let at = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries aside");
        let row = u32::try_from(row).expect("HiGHS rows fit in 32 bits");
        self.entries.push((row, self.last[j], a));
        self.last[j] = at;
    }

    /// Column `j`'s entries, the last recorded first.
    fn entries(&self, j: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let mut at = self.last.get(j).copied().unwrap_or(NO_ENTRY);
        std::iter::from_fn(move || {
            let &(row, before, a) = self.entries.get(at as usize)?;
            at = before;
            Some((row as usize, a))
        })
    }

    /// Column `j`'s entries in the order they were recorded, which leave the list.
    fn take(&mut self, j: usize) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = self.entries(j).collect();
        out.reverse();
        if let Some(last) = self.last.get_mut(j) {
            *last = NO_ENTRY;
        }
        out
    }
}

/// `Layout::x_col` of a column left out of the model.
const NO_COL: u32 = u32::MAX;

/// The allocation columns of a model being built: a column left out (sifting) has its
/// entries kept aside by row, to be priced from the rows' duals and added later.
struct XCols {
    cols: Vec<Option<highs::Col>>,
    aside: Aside,
}

impl XCols {
    /// Column `j`'s entry `a` in row `row`: into `entries` when it is in the model, aside
    /// otherwise.
    fn entry(&mut self, row: usize, j: usize, a: f64, entries: &mut Vec<(highs::Col, f64)>) {
        match self.cols[j] {
            Some(c) => entries.push((c, a)),
            None => self.aside.push(j, row, a),
        }
    }

    /// The entries of the columns in the model, without recording the others.
    fn in_model(&self, terms: impl IntoIterator<Item = (usize, f64)>) -> Vec<(highs::Col, f64)> {
        terms
            .into_iter()
            .filter_map(|(j, a)| self.cols[j].map(|c| (c, a)))
            .collect()
    }

    /// The entries of row `row` for the columns in the model; the others' go aside.
    fn entries(
        &mut self,
        row: usize,
        terms: impl IntoIterator<Item = (usize, f64)>,
    ) -> Vec<(highs::Col, f64)> {
        let mut out = Vec::new();
        for (j, a) in terms {
            self.entry(row, j, a, &mut out);
        }
        out
    }
}

/// A solved proportional round kept for the next one (Kelley's cuts only add rows, the
/// textbook case for a warm dual simplex).
struct Warm {
    /// `None` once a re-solve has failed: the next round is built anew.
    model: Option<highs::Model>,
    layout: Layout,
    /// Per group: its ratio row's entries `(x_e, p_n / P_g)`, from which a tangent's cut is made.
    cuts: Vec<Vec<(highs::Col, f64)>>,
    phi: Vec<Option<highs::Col>>,
    /// How many of each group's tangents (`Holds::tangents`) the model holds.
    tangents: Vec<usize>,
}

impl Layout {
    fn failed(&self, status: HighsModelStatus) -> Stage {
        SubModel::forced(Stage {
            status,
            x: vec![0.0; self.n_cols],
            slack: Vec::new(),
            slack_owners: Vec::new(),
            t: 0.0,
            t_duals: Vec::new(),
            phi: Vec::new(),
            gap: None,
            raw_value: 0.0,
            objective: 0.0,
            need_rows: Vec::new(),
            cap_rows: Vec::new(),
            need_activity: Vec::new(),
            fault: false,
        })
    }

    /// The stage as the solved model answers it.
    fn read(&self, sub: &SubModel, solved: &highs::SolvedModel, mip: bool) -> Stage {
        self.read_as(sub, solved, mip, SubModel::forced_status(solved.status()))
    }

    /// [`Layout::read`] with the status (and whether a test forced it) already read.
    fn read_as(
        &self,
        sub: &SubModel,
        solved: &highs::SolvedModel,
        mip: bool,
        (status, fault): (HighsModelStatus, bool),
    ) -> Stage {
        let (s, net) = (sub.scenario, sub.net);
        // HiGHS calls a MIP optimal within `mip_rel_gap` or within its absolute gap (1e-6):
        // near an objective of 0 (a cost stage that costs nothing) the relative gap of such a
        // plan read 0.5. A plan optimal by the absolute gap has at most the relative gap asked
        // for; any other keeps HiGHS's relative gap.
        let gap = mip.then(|| {
            let relative = solved.mip_gap();
            let by_absolute = status == HighsModelStatus::Optimal
                && mip_dual_bound(solved)
                    .is_some_and(|bound| (solved.objective_value() - bound).abs() <= MIP_ABS_GAP);
            if by_absolute {
                relative.min(s.policy.mip_gap)
            } else {
                relative
            }
        });
        let sol = solved.get_solution();
        let values = sol.columns();
        if values.len() < self.next_col {
            return self.failed(HighsModelStatus::SolveError);
        }
        let duals = sol.dual_rows();
        let activity = sol.rows();
        let raw_value = self
            .x_col
            .iter()
            .zip(sub.edges)
            .filter_map(|(&c, &e)| Some(values.get(c as usize)? * sub.priority_of_edge(e)))
            .sum();
        let mut x: Vec<f64> = self
            .x_col
            .iter()
            .zip(sub.edges)
            .map(|(&c, &e)| {
                // A column left out of the model (most of a sifted one's) carries nothing:
                // its need is not read.
                let Some(&v) = values.get(c as usize) else {
                    return 0.0;
                };
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
        // A start whose `z` rounds to 0 serves nothing: within HiGHS's integrality tolerance
        // `z` may be 1e-6 and let its columns carry as much.
        for (z, js) in &self.start_cols {
            if values[*z] < 0.5 {
                js.iter().for_each(|&j| x[j] = 0.0);
            }
        }
        // `y_n <= 1` holds to HiGHS's feasibility tolerance (1e-7): a need whose links sum
        // past 1 (seen at 1 + 5e-9 from a kept basis) has its shares scaled to sum to 1, so
        // that no plan serves a need beyond its open part.
        let local = sub.local_needs();
        let mut y = vec![0.0; sub.needs.len()];
        for (&xj, &e) in x.iter().zip(sub.edges) {
            // Zero columns (most of a sifted part's) skip the need look-up: adding 0 would
            // leave a sum that starts at +0 as it is.
            if xj != 0.0 {
                y[local[net.edges[e].need()]] += xj;
            }
        }
        if y.iter().any(|&v| v > 1.0) {
            for (xj, &e) in x.iter_mut().zip(sub.edges) {
                let v = y[local[net.edges[e].need()]];
                if v > 1.0 {
                    *xj /= v;
                }
            }
        }
        let slack = self.slack_cols.iter().map(|c| values[c.2]).collect();
        Stage {
            status,
            x,
            slack,
            slack_owners: self.slack_cols.iter().map(|c| (c.0, c.1.clone())).collect(),
            t: self.t_col.map(|c| values[c]).unwrap_or(0.0),
            t_duals: self
                .t_rows
                .iter()
                .map(|r| r.and_then(|r| duals.get(r).copied()))
                .collect(),
            phi: self.phi_cols.iter().map(|c| c.map(|c| values[c])).collect(),
            gap,
            raw_value,
            objective: solved.objective_value(),
            need_rows: self
                .need_rows
                .iter()
                .map(|&(i, r)| (i, duals.get(r).copied().unwrap_or(0.0)))
                .collect(),
            cap_rows: self
                .cap_rows
                .iter()
                .map(|&(r, d, row)| (r, d, duals.get(row).copied().unwrap_or(0.0)))
                .chain(stock_duals(&self.stock_cols, sol.dual_columns()))
                .collect(),
            need_activity: self
                .need_rows
                .iter()
                .map(|&(_, r)| activity.get(r).copied().unwrap_or(0.0))
                .collect(),
            fault,
        }
    }
}

impl SubModel<'_> {
    /// The stage as HiGHS answered it, or with the status a test forces ([`fault`]).
    #[cfg_attr(not(test), inline(always))]
    fn forced(mut stage: Stage) -> Stage {
        (stage.status, stage.fault) = SubModel::forced_status(stage.status);
        stage
    }

    /// HiGHS's status, or the one a test forces ([`fault`]) and `true`.
    #[cfg_attr(not(test), inline(always))]
    fn forced_status(status: HighsModelStatus) -> (HighsModelStatus, bool) {
        #[cfg(test)]
        if let Some(forced) = fault::next() {
            return (forced, true);
        }
        (status, false)
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
            conflict: Vec::new(),
            error: None,
            numerical: false,
        };

        if self.edges.is_empty() {
            // Nothing can be served here: only a positive min_share can fail, for a group
            // whose dispatches (in a live session) did not reach it already.
            if let Fairness::MinShare(v) = policy.fairness {
                let failing: Vec<&crate::submodel::Group> =
                    self.groups.iter().filter(|g| g.offset < v - 1e-9).collect();
                if v > 0.0 && !failing.is_empty() {
                    result.status = SubStatus::Infeasible;
                    result.infeasible_groups = failing.iter().map(|g| g.name.clone()).collect();
                    // Any one group's min_share fails alone (its ratio is its dispatches'):
                    // an irreducible conflict of one (it was left empty).
                    result.conflict = failing
                        .first()
                        .map(|g| Conflict {
                            kind: ConflictKind::MinShare,
                            id: g.name.clone(),
                            dim: None,
                        })
                        .into_iter()
                        .collect();
                }
            }
            return result;
        }
        let mut run = Stages {
            sub: self,
            result,
            done: 0,
            warm: None,
            lex: None,
            lex_built: false,
        };
        let mut result = match run.all(policy) {
            Ok(()) | Err(Stopped) => run.result,
        };
        // (A time limit leaves the plan as found: no time is left to improve it. The duals
        // stay those of the plan before the moves: the same links, shares and value.)
        if result.status == SubStatus::Optimal {
            crate::timed::start_early(self, &mut result.x);
        }
        result
    }

    /// The answer of a sub-model whose stage `goal` failed: no plan, and what failed.
    fn failed(&self, goal: Goal, why: String, numerical: bool) -> SubResult {
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
            conflict: Vec::new(),
            error: Some(format!(
                "{why} ({:?}, a part of {} need(s) and {} link(s))",
                goal,
                self.needs.len(),
                self.edges.len()
            )),
            numerical,
        }
    }

    /// Duals as gains: how much the stage's objective improves per unit (SPEC section 3).
    fn record_duals(&self, st: &Stage, goal: Goal, result: &mut SubResult) {
        // HiGHS reports row duals as d(objective)/d(bound) in the model's own sense; a gain is
        // that for a maximisation and its negation for a minimisation. Checked by finite
        // difference in the tests.
        let minimised = matches!(goal, Goal::MinCost | Goal::MinDeprivation(_));
        let sign = if minimised { -1.0 } else { 1.0 };
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
        let st = self.run(Goal::MinViolation, &Holds::none(self.groups.len()));
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
        // The capacities the least violation uses up (a capacity with room to spare plays no
        // part; a zero dual would not do: at a degenerate vertex it can fall on one of two
        // capacities that both bind); over time, where a capacity is per instant, every one
        // its needs use.
        let binding: Option<HashSet<(usize, usize)>> = self.net.time.is_none().then(|| {
            let (net, nd) = (self.net, self.net.dims.len());
            let mut used = vec![0.0; net.capacity.len()];
            for (j, &e) in self.edges.iter().enumerate() {
                let r = net.edges[e].resource();
                for (d, &u) in net.edge_use(e).iter().enumerate() {
                    used[r * nd + d] += u * st.x.get(j).copied().unwrap_or(0.0);
                }
            }
            used.iter()
                .enumerate()
                .filter(|&(k, &u)| u >= net.capacity[k] - 1e-6 * net.capacity[k].max(1.0))
                .map(|(k, _)| (k / nd, k % nd))
                .collect()
        });
        if let Some((needs, groups)) = self.conflict() {
            result.conflict = self.conflict_members(&needs, &groups, binding.as_ref());
        }
    }

    /// An irreducible infeasible subset of the part's `min_fill` and `min_share` constraints,
    /// by a deletion filter: drop each in turn and keep it dropped while the rest is still
    /// infeasible. What remains is infeasible, and feasible without any one member. `None`
    /// when a feasibility solve does not answer (time limit, failure) or there are more than
    /// [`MAX_CONFLICT_CANDIDATES`] candidates (one solve each).
    fn conflict(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        let s = self.scenario;
        let needs: Vec<usize> = self
            .needs
            .iter()
            .copied()
            .filter(|&n| s.needs[n].min_fill > 0.0)
            .collect();
        let groups: Vec<usize> = match s.policy.fairness {
            Fairness::MinShare(v) if v > 0.0 => (0..self.groups.len()).collect(),
            _ => Vec::new(),
        };
        if needs.len() + groups.len() > MAX_CONFLICT_CANDIDATES {
            return None;
        }
        let infeasible = |needs: &[usize], groups: &[usize]| -> Option<bool> {
            let holds = Holds {
                enforced: Some((
                    needs.iter().copied().collect(),
                    groups.iter().copied().collect(),
                )),
                ..Holds::none(self.groups.len())
            };
            match stage_outcome(self.run(Goal::Feasible, &holds).status, 0) {
                StageOutcome::Solved => Some(false),
                StageOutcome::Infeasible => Some(true),
                StageOutcome::TimeLimit | StageOutcome::Failed(_) => None,
            }
        };
        if !infeasible(&needs, &groups)? {
            return None;
        }
        let needs = drop_while(needs, |without| infeasible(without, &groups))?;
        let groups = drop_while(groups, |without| infeasible(&needs, without))?;
        Some((needs, groups))
    }

    /// The conflict in SPEC terms: its `min_fill` needs and `min_share` groups, then the
    /// capacities (resource, dimension) the links of their needs use and that are used up
    /// (when `binding` says which: a capacity with room to spare plays no part, as when a
    /// group is short of its share because one of its needs has no resource at all), then
    /// the windows of its needs that keep resources out or, over time, hold them to a
    /// reusable capacity in the conflict.
    fn conflict_members(
        &self,
        needs: &[usize],
        groups: &[usize],
        binding: Option<&HashSet<(usize, usize)>>,
    ) -> Vec<Conflict> {
        let (s, net) = (self.scenario, self.net);
        let mut out: Vec<Conflict> = needs
            .iter()
            .map(|&n| Conflict {
                kind: ConflictKind::MinFill,
                id: s.needs[n].id.clone(),
                dim: None,
            })
            .collect();
        out.extend(groups.iter().map(|&g| Conflict {
            kind: ConflictKind::MinShare,
            id: self.groups[g].name.clone(),
            dim: None,
        }));
        let mut involved: HashSet<usize> = needs.iter().copied().collect();
        for &g in groups {
            involved.extend(self.groups[g].needs.iter().map(|&i| self.needs[i]));
        }
        let mut capacities = std::collections::BTreeSet::new();
        for &e in self.edges {
            if involved.contains(&net.edges[e].need()) {
                let r = net.edges[e].resource();
                for (d, &u) in net.edge_use(e).iter().enumerate() {
                    if u > 0.0 && binding.is_none_or(|b| b.contains(&(r, d))) {
                        capacities.insert((r, d));
                    }
                }
            }
        }
        let mut windows = crate::solve::window_members(s, needs);
        // Over time a window is one of the conflict's constraints through a capacity too: a
        // need with a duration whose links draw on a used-up reusable capacity of the
        // conflict occupies it when its starts allow, so its window decides with whom it
        // overlaps (a planner may move a window as well as add capacity).
        let over_time: HashSet<(usize, usize)> = capacities
            .iter()
            .copied()
            .filter(|&(_, d)| s.policy.reusable.contains(&net.dims[d]))
            .collect();
        let draws_on = |e: usize| {
            let r = net.edges[e].resource();
            net.edge_use(e)
                .iter()
                .enumerate()
                .any(|(d, &u)| u > 0.0 && over_time.contains(&(r, d)))
        };
        for &n in needs {
            let timed = s.needs[n].duration_h.is_some();
            let listed = windows.iter().any(|w| w.id == s.needs[n].id);
            if timed
                && !listed
                && self
                    .edges
                    .iter()
                    .any(|&e| net.edges[e].need() == n && draws_on(e))
            {
                windows.push(Conflict {
                    kind: ConflictKind::Window,
                    id: s.needs[n].id.clone(),
                    dim: None,
                });
            }
        }
        out.extend(capacities.into_iter().map(|(r, d)| Conflict {
            kind: ConflictKind::Capacity,
            id: s.resources[r].id.clone(),
            dim: Some(net.dims[d].clone()),
        }));
        out.extend(windows);
        out
    }
}

/// The deletion filter: drop each member in turn, and keep it dropped while `still(rest)`
/// holds; `None` when a test does not answer.
fn drop_while(
    mut members: Vec<usize>,
    still: impl Fn(&[usize]) -> Option<bool>,
) -> Option<Vec<usize>> {
    let mut k = 0;
    while k < members.len() {
        let mut without = members.clone();
        without.remove(k);
        if still(&without)? {
            members = without;
        } else {
            k += 1;
        }
    }
    Some(members)
}

/// The most `min_fill` and `min_share` constraints a conflict search tries (one feasibility
/// solve each); beyond, `infeasibility.conflict` is left empty.
const MAX_CONFLICT_CANDIDATES: usize = 200;

/// The capacity duals of reusable dimensions in stock form, one per maximal overlap, in a row
/// dual's sense. A stock `s_k >= 0` at its bound: one more unit of capacity in interval `k`
/// is worth minus its reduced cost; an overlap row's dual is the sum over the intervals it
/// stands for (timed.rs maps them), so both forms report the same prices.
fn stock_duals(
    stock_cols: &[(usize, usize, usize, usize)],
    col_duals: &[f64],
) -> impl Iterator<Item = (usize, usize, f64)> {
    let mut sums: std::collections::BTreeMap<(usize, usize, usize), f64> = Default::default();
    for &(r, d, overlap, c) in stock_cols {
        *sums.entry((r, d, overlap)).or_default() -= col_duals.get(c).copied().unwrap_or(0.0);
    }
    sums.into_iter().map(|((r, d, _), dual)| (r, d, dual))
}

/// A solve that ended before its last stage; `Stages::result` holds its answer.
struct Stopped;

/// The stages of one sub-model's solve, in order, and the answer they build.
struct Stages<'s, 'a> {
    sub: &'s SubModel<'a>,
    result: SubResult,
    /// Stages run so far: only the first can prove infeasibility.
    done: usize,
    /// The last proportional round's model, for the next round's cuts.
    warm: Option<Warm>,
    /// The model the coverage stages share ([`LexModel`]), once built.
    lex: Option<LexModel>,
    /// Whether a [`LexModel`] was built (it is built once; a lost one is not rebuilt).
    lex_built: bool,
}

impl Stages<'_, '_> {
    /// Run one stage. A stage that does not reach an optimum ends the solve: a time limit
    /// keeps the last plan (or a MIP's incumbent), infeasibility names who is at fault, any
    /// other status is an error without a plan.
    fn stage(&mut self, goal: Goal, holds: &Holds) -> Result<Stage, Stopped> {
        self.run_stage(goal, holds, true)
    }

    /// A stage whose plan is never the answer (leximin's and proportional's checks of one
    /// group): under a time limit its MIP incumbent is not kept.
    fn check_stage(&mut self, goal: Goal, holds: &Holds) -> Result<Stage, Stopped> {
        self.run_stage(goal, holds, false)
    }

    /// A later stage that HiGHS calls infeasible, or leaves in numerical trouble, is solved
    /// again by the rescues ([`SubModel::rescue`]): the previous stage's plan satisfies its
    /// holds, so "infeasible" there is HiGHS's simplex variant, not the LP. When none
    /// answers, once more with every hold loosened from SPEC's 1e-7 to 1e-6 (a check stage's
    /// value hold alone; [`Holds::loosened`]), first as built and then by the rescues: each
    /// hold sits at HiGHS's own tolerance above what the previous plan reaches only within
    /// that tolerance (seen where leximin's ceilings bind: exactly feasible, "infeasible" to
    /// HiGHS from either basis). That plan may give up that much more (value, or a group's
    /// ratio) where the alternative is no plan. A status a test forced ([`fault`]) is
    /// final. Test: `oracle::values_spanning_many_orders_solve_as_the_naive_model_does`.
    fn run_stage(&mut self, goal: Goal, holds: &Holds, answer: bool) -> Result<Stage, Stopped> {
        let k = self.done;
        let failed =
            |s: HighsModelStatus| k > 0 && matches!(stage_outcome(s, k), StageOutcome::Failed(_));
        let troubled = |st: &Stage| !st.fault && failed(st.status);
        let mut st = self.run_warm(goal, holds);
        // A status in trouble has had the rescues already (`run_kept`, or the kept model's
        // first solve in `run_warm`); "infeasible" has not.
        if troubled(&st) && !in_trouble(st.status) {
            if let Some(again) = self.sub.rescue(goal, holds, failed) {
                st = again;
            }
        }
        if troubled(&st) {
            // A check (leximin's test of one group, proportional's of one group) loosens the
            // value hold alone: with the groups' floors and ceilings loosened too, a group
            // could rise by their room times a ratio of priorities and pass for free.
            let looser = holds.loosened(answer);
            st = self.sub.solve_built(goal, &looser, false, Method::Choice).0;
            if troubled(&st) {
                if let Some(again) = self.sub.rescue(goal, &looser, failed) {
                    st = again;
                }
            }
        }
        self.settle(st, goal, answer)
    }

    /// A stage on the kept [`LexModel`] where its shape serves, otherwise built anew.
    fn run_warm(&mut self, goal: Goal, holds: &Holds) -> Stage {
        let sub = self.sub;
        if lex_shaped(sub, goal, holds) {
            if !self.lex_built {
                self.lex_built = true;
                self.lex = LexModel::new(sub);
            }
            if let Some(lex) = self.lex.as_mut() {
                match lex.solve(sub, goal, holds) {
                    // A model built for this stage that HiGHS leaves in numerical trouble:
                    // the rescues, as for a stage built anew (`run_kept`).
                    Some(st)
                        if lex.solves == 1
                            && !lex.last_warm
                            && !st.fault
                            && in_trouble(st.status) =>
                    {
                        self.lex = None;
                        return sub.rescue(goal, holds, in_trouble).unwrap_or(st);
                    }
                    Some(st) if (lex.solves == 1 && !lex.last_warm) || !needs_retry(&st) => {
                        return st
                    }
                    _ => self.lex = None,
                }
            }
        }
        sub.run(goal, holds)
    }

    /// One round of the proportional objective: warm from the last round's model where only
    /// cuts were added since (an answer other than an optimum or a time limit is retried cold),
    /// otherwise built anew and kept for the next round (LPs only).
    fn proportional_round(&mut self, holds: &Holds) -> Result<Stage, Stopped> {
        let sub = self.sub;
        let warm = match self.warm.as_mut() {
            Some(w) => sub.resolve_with_cuts(w, holds),
            None => None,
        };
        let st = match warm {
            Some(st) if !needs_retry(&st) => st,
            _ => {
                let keep = !sub.is_mip() && !WARM.forced();
                let (st, warm) = sub.run_kept(Goal::MaxProportional, holds, keep);
                self.warm = warm;
                st
            }
        };
        self.settle(st, Goal::MaxProportional, true)
    }

    /// What a stage's answer means for the solve ([`Stages::stage`]).
    fn settle(&mut self, st: Stage, goal: Goal, answer: bool) -> Result<Stage, Stopped> {
        let k = self.done;
        self.done += 1;
        match stage_outcome(st.status, k) {
            StageOutcome::Solved => {
                if self.sub.is_mip() {
                    self.result.gap = st.gap.map(|g| if g.is_finite() { g } else { 0.0 });
                }
                Ok(st)
            }
            StageOutcome::TimeLimit => {
                self.result.status = SubStatus::TimeLimit;
                // A MIP keeps its incumbent (finite gap); otherwise nothing usable yet.
                if answer && st.gap.is_some_and(f64::is_finite) {
                    self.result.x = st.x;
                    self.result.gap = st.gap;
                } else if k == 0 {
                    self.result.gap = None;
                }
                Err(Stopped)
            }
            StageOutcome::Infeasible => {
                self.sub.diagnose(&mut self.result);
                Err(Stopped)
            }
            StageOutcome::Failed(why) => {
                // No plan: a stage that failed proves nothing, and an earlier stage's plan is
                // not the policy's answer (its later stages were not applied).
                let loaded = !matches!(
                    st.status,
                    HighsModelStatus::NotSet
                        | HighsModelStatus::LoadError
                        | HighsModelStatus::ModelError
                );
                self.result = self.sub.failed(goal, why, loaded);
                Err(Stopped)
            }
        }
    }

    /// A stage whose plan is the answer so far (and whose duals are reported when it sets
    /// the main objective of an LP). Its plan moves to `self.result.x`, where the caller
    /// reads it: the stage comes back without it (a copy was 40 MB a stage at 5,000,000
    /// links).
    fn main_stage(&mut self, goal: Goal, holds: &Holds, duals: bool) -> Result<Stage, Stopped> {
        let mut st = self.stage(goal, holds)?;
        if duals {
            self.record_duals(&st, goal, holds);
        }
        self.result.x = std::mem::take(&mut st.x);
        Ok(st)
    }

    /// The duals of a stage that sets the main objective: its own on an LP; on a MIP those of
    /// the same stage as an LP with the integer choices fixed at the optimum (SPEC's
    /// `fixed_mip`; none when that LP does not solve).
    fn record_duals(&mut self, st: &Stage, goal: Goal, holds: &Holds) {
        if !self.sub.prices {
            return;
        }
        if !self.sub.is_mip() {
            self.sub.record_duals(st, goal, &mut self.result);
            return;
        }
        let fixed = Holds {
            fixed: Some(st.x.clone()),
            ..holds.clone()
        };
        let lp = self.sub.run(goal, &fixed);
        if stage_outcome(lp.status, 1) == StageOutcome::Solved {
            self.sub.record_duals(&lp, goal, &mut self.result);
        }
    }

    /// The level a max-min stage's `t` holds the open groups at: on a MIP the smallest open
    /// ratio of the plan kept, which HiGHS's `t` column may exceed by its feasibility
    /// tolerance (a floor above the plan is no hold the plan satisfies, and the next stage
    /// is then infeasible); on an LP `t` as HiGHS gave it.
    fn held_level(&self, t: f64, holds: &Holds) -> f64 {
        if !self.sub.is_mip() {
            return t;
        }
        let ratios = self.sub.group_ratios(&self.result.x);
        (0..ratios.len())
            .filter(|&g| holds.group_floor[g].is_none())
            .map(|g| ratios[g])
            .fold(t, f64::min)
    }

    /// Fairness first (it fixes group floors), then the objective under them.
    fn all(&mut self, policy: &crate::model::Policy) -> Result<(), Stopped> {
        let sub = self.sub;
        let mut holds = Holds::none(sub.groups.len());
        if !sub.groups.is_empty() {
            match policy.fairness {
                Fairness::Maxmin => {
                    let st = self.main_stage(Goal::MaxMinRatio, &holds, false)?;
                    let t = self.held_level(st.t, &holds);
                    holds = holds.with_open_groups_at((t - LEX_TOL).max(0.0));
                }
                Fairness::Leximin => self.leximin(&mut holds)?,
                Fairness::None | Fairness::MinShare(_) => {}
            }
        }
        match policy.objective {
            Objective::Coverage => {
                let st = self.main_stage(Goal::MaxValue, &holds, true)?;
                // An LP's V* is the value of HiGHS's answer as it came, which two optimal
                // vertices share to rounding; cleaning `x` moves it by up to 1e-9 per column,
                // and the cost stage, holding V* - 1e-7 |V*|, can be that sensitive to its
                // floor (0.011 of 11.8 for 3e-8 of V* on a session's re-plan). A MIP's V*
                // is that of its rounded plan, which the next stage must be able to hold.
                let v = if sub.is_mip() {
                    sub.value_of(&self.result.x)
                } else {
                    st.raw_value
                };
                holds.value_at_least = Some(v - LEX_TOL * v.abs().max(1.0));
                let max_cost = sub
                    .edges
                    .iter()
                    .map(|&e| sub.net.edges[e].cost.abs())
                    .fold(1.0, f64::max);
                let max_priority = sub
                    .needs
                    .iter()
                    .map(|&n| sub.scenario.needs[n].priority)
                    .fold(f64::MIN_POSITIVE, f64::max);
                holds.value_tiebreak = 1e-6 * max_cost / max_priority;
                self.main_stage(Goal::MinCost, &holds, false)?;
            }
            Objective::Cost => {
                self.main_stage(Goal::MinCost, &holds, true)?;
            }
            Objective::Weighted => {
                self.main_stage(Goal::MaxWeighted(policy.cost_weight), &holds, true)?;
            }
            Objective::Deprivation => {
                self.main_stage(Goal::MinDeprivation(policy.cost_weight), &holds, true)?;
            }
            Objective::Proportional => self.proportional(&mut holds)?,
        }
        Ok(())
    }

    /// Leximin by iterated max-min: raise the smallest open group ratio to its largest level
    /// `t`, then fix every open group that cannot rise above `t` while the other open groups
    /// stay at `t` or above and the fixed ones at their floors; repeat until every group is
    /// fixed.
    ///
    /// On an LP the max-min stage's duals prove groups blocked (a non-zero dual on `ratio_g
    /// >= t`); those are fixed and the next max-min stage runs at once, without testing the
    /// level's other groups. That stage's optimum is `t` again while an unproven group is
    /// blocked, and its duals then prove at least one more: the dual constraint of the `t`
    /// column (`sum_g y_g >= 1` unless `t` sits at its upper bound 1) leaves some open group
    /// with a non-zero dual, and a group that some optimal plan lifts above `t` has a zero
    /// dual in every optimal dual solution. So each stage fixes at least one group, where
    /// testing would spend one solve per unproven group. A group is tested on its own (its
    /// largest ratio with every open group at `t`) only where no dual proves anything (a MIP,
    /// which has none, or duals hidden below the tolerance); a test's plan also proves every
    /// open group it lifts above `t` free to rise. On a MIP each solve is a MIP: exact up to
    /// `mip_gap`.
    fn leximin(&mut self, holds: &mut Holds) -> Result<(), Stopped> {
        let mip = self.sub.is_mip();
        while holds.group_floor.iter().any(Option::is_none) {
            let st = self.main_stage(Goal::MaxMinRatio, holds, false)?;
            let t = self.held_level(st.t, holds);
            let level = (t - LEX_TOL).max(0.0);
            let ratios = self.sub.group_ratios(&self.result.x);
            let mut test = None;
            let at_level: Vec<usize> = (0..ratios.len())
                .filter(|&g| holds.group_floor[g].is_none() && ratios[g] <= t + BLOCKED_TOL)
                .collect();
            // A non-zero dual on `ratio_g >= t` proves g blocked (complementary slackness: every
            // optimal plan holds it at t). Without such a proof (a MIP has no duals to read)
            // the groups at the level are tested, on an LP until one is found blocked (the
            // next max-min stage's duals take it from there, see above); a test's plan also
            // proves every open group it lifts above t free to rise.
            let proven = |g: usize| {
                !mip && st
                    .t_duals
                    .get(g)
                    .copied()
                    .flatten()
                    .is_some_and(|d| d.abs() > 1e-9)
            };
            // At t = 1 every open group is served in full, and no ratio exceeds 1.
            let mut blocked: Vec<usize> = if t >= 1.0 - LEX_TOL {
                at_level.clone()
            } else {
                at_level.iter().copied().filter(|&g| proven(g)).collect()
            };
            let mut free = vec![false; ratios.len()];
            for &g in &at_level {
                if !blocked.is_empty() && !mip {
                    break;
                }
                if blocked.contains(&g) || free[g] {
                    continue;
                }
                let test = test.get_or_insert_with(|| holds.with_open_groups_at(level));
                let best = self.check_stage(Goal::MaxGroupRatio(g), test)?;
                let lifted = self.sub.group_ratios(&best.x);
                for (h, &r) in lifted.iter().enumerate() {
                    free[h] |= holds.group_floor[h].is_none() && r > t + BLOCKED_TOL;
                }
                if !free[g] {
                    blocked.push(g);
                }
            }
            if mip && blocked.is_empty() && t < 1.0 - LEX_TOL {
                // Every group at the level can rise, but not all of them at once (indivisible
                // needs: a van for A, or one for B and one for C): fixing those the max-min
                // plan left at t would pick one plan's answer where leximin compares them all.
                // The open groups' sorted ratios from here on are the ordered sums'.
                return self.leximin_by_ordered_sums(holds);
            }
            // A group proven blocked cannot rise above the level: held within LEX_TOL of it
            // from both sides (see `Holds::group_ceiling`); never below its ratio in the
            // max-min plan, so that plan stays feasible for the next stage.
            for &g in &blocked {
                holds.group_ceiling[g] = Some(t.max(ratios[g]) + LEX_TOL);
            }
            // At an exact optimum some group at the level is blocked; should tolerances hide
            // it, fixing every group at the level still ends the loop with a max-min plan (with
            // floors only: nothing proved these cannot rise).
            if blocked.is_empty() {
                blocked = at_level;
            }
            if blocked.is_empty() {
                blocked = (0..ratios.len())
                    .filter(|&g| holds.group_floor[g].is_none())
                    .collect();
            }
            for g in blocked {
                holds.group_floor[g] = Some(level);
            }
        }
        Ok(())
    }

    /// Leximin of the open groups of a MIP part where iterated max-min cannot go on:
    /// maximise the sum of their `k` smallest ratios for `k = 1, 2, ...` in turn, each sum
    /// held (within SPEC's 1e-7) by the stages after it (Ogryczak and Sliwinski's ordered
    /// sums; [`Goal::MaxOrderedSum`]). Lexicographically largest sums are the
    /// lexicographically largest sorted ratios, whatever the feasible set. Filling fixes the
    /// groups that cannot rise above the level, which indivisible needs can leave undecided:
    /// each group can rise alone, not all at once (a van for community A or one for B and one
    /// for C), and fixing the groups at the level in whichever plan came first left (0, 0, 1)
    /// where (0, 0.5, 0.5) is leximin's. The groups fixed before are at levels no open group
    /// falls below, so the open groups' sorted ratios complete the vector. The last sum is
    /// every open group's, so the ratios' sorted values are fixed for the stages after.
    fn leximin_by_ordered_sums(&mut self, holds: &mut Holds) -> Result<(), Stopped> {
        holds.ordered_groups = (0..self.sub.groups.len())
            .filter(|&g| holds.group_floor[g].is_none())
            .collect();
        for k in 1..=holds.ordered_groups.len() {
            // The sum as the model reached it: the plan's ratios, with indivisible shares
            // rounded to whole ones, can be up to HiGHS's integrality tolerance above it.
            let sum = self
                .main_stage(Goal::MaxOrderedSum(k), holds, false)?
                .objective;
            holds.ordered.push(sum - LEX_TOL * sum.abs().max(1.0));
        }
        Ok(())
    }

    /// Proportional fairness by outer approximation (Kelley's cutting planes): maximise
    /// `sum_g W_g phi_g` with `phi_g` under tangents of `ln(ratio_g)`, add the tangent at each
    /// group's new ratio, until the bound is within [`PROPORTIONAL_GAP`] of the plan's true
    /// objective. A group at ratio 0 (at most [`MIN_TANGENT`] of its largest) is checked once
    /// with its own largest ratio: if no plan can serve it (above [`SERVED_AT_ALL`]), it is
    /// left out of the sum; if some plan can, a tangent at that largest ratio and then
    /// steeper ones (at a tenth of the smallest so far) are added each round until the group
    /// is served, or it is left out once the tangent at [`MIN_TANGENT`] of its largest ratio
    /// has not served it (indivisible needs that keep groups from being served together).
    /// Every round's plan is feasible and is kept as the answer so far (a time limit keeps
    /// it).
    fn proportional(&mut self, holds: &mut Holds) -> Result<(), Stopped> {
        let sub = self.sub;
        let weights: Vec<f64> = sub.groups.iter().map(|g| g.total_priority).collect();
        let groups = weights.len();
        holds.tangents = vec![FIRST_TANGENTS.to_vec(); groups];
        let mut servable = vec![None::<bool>; groups];
        // A ratio at or below a group's floor is not served in that plan.
        let mut floor = vec![MIN_TANGENT; groups];
        for _ in 0..MAX_PROPORTIONAL_ROUNDS {
            let st = self.proportional_round(holds)?;
            self.result.x = st.x.clone();
            let ratios = sub.group_ratios(&st.x);
            let mut cut = false;
            for g in 0..groups {
                if holds.tangents[g].is_empty() || ratios[g] > floor[g] {
                    continue;
                }
                let smallest = holds.tangents[g].iter().copied().fold(1.0, f64::min);
                if servable[g].is_none() {
                    let best = self.check_stage(Goal::MaxGroupRatio(g), holds)?;
                    let best = sub.group_ratios(&best.x)[g];
                    servable[g] = Some(best > SERVED_AT_ALL);
                    if best > SERVED_AT_ALL {
                        floor[g] = MIN_TANGENT * best.min(1.0);
                        if best < smallest {
                            holds.tangents[g].push(best);
                            cut = true;
                            continue;
                        }
                    }
                }
                // Served by some plan alone, yet not in this one under the steepest tangent:
                // indivisible needs keep it from being served together with the groups that
                // are (each group of two can be served, not both at once), and every plan's
                // sum is -inf. It is left out too, and named, rather than cut for ever (the
                // rounds used to run out and answer `time_limit` with no time limit set).
                if servable[g] == Some(false) || smallest <= floor[g] {
                    holds.tangents[g].clear();
                } else {
                    holds.tangents[g].push((smallest / 10.0).max(floor[g]));
                }
                cut = true;
            }
            if cut {
                continue;
            }
            // Every group in the sum is served now: compare the bound with the true value.
            let (mut bound, mut objective) = (0.0, 0.0);
            let mut gaps = vec![0.0; groups];
            for g in 0..groups {
                if let Some(phi) = st.phi[g] {
                    bound += weights[g] * phi;
                    objective += weights[g] * ratios[g].ln();
                    gaps[g] = weights[g] * (phi - ratios[g].ln());
                }
            }
            let tol = PROPORTIONAL_GAP * objective.abs().max(1.0);
            if bound - objective <= tol {
                let holds = holds.clone();
                self.record_duals(&st, Goal::MaxProportional, &holds);
                return Ok(());
            }
            // A tangent wherever a group's share of the gap is above its share of the
            // tolerance; at least the largest, so that every round cuts the last plan off.
            let largest = (0..groups).max_by(|&a, &b| gaps[a].total_cmp(&gaps[b]));
            for g in 0..groups {
                if gaps[g] > tol / groups as f64 || Some(g) == largest {
                    holds.tangents[g].push(ratios[g]);
                }
            }
        }
        // The round cap: the last plan stands, but its objective is not proven within the
        // tolerance; say so rather than call it optimal.
        self.result.status = SubStatus::TimeLimit;
        Err(Stopped)
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

    /// An infeasibility's conflict lists the capacities its least violation uses up, not
    /// every one its needs use: group A falls short of its share because need `b` has no
    /// resource, and `r` has meals to spare (the review's case listed `capacity r meals`
    /// too); where capacities are used up, each is listed.
    #[test]
    fn a_conflict_lists_only_the_capacities_that_bind() {
        let kinds = |v: serde_json::Value| -> Vec<(ConflictKind, String)> {
            let s = scenario_from_value(&v).unwrap();
            let out = solve_with(&s, &SolveOptions::default());
            assert_eq!(out.solution.status, Status::Infeasible);
            let inf = out.solution.infeasibility.clone().expect("why");
            inf.conflict
                .iter()
                .map(|c| (c.kind, c.id.clone()))
                .collect()
        };
        let spare = kinds(serde_json::json!({
            "resources": [{"id": "r", "community": "A", "kind": "food", "capacity": {"meals": 10}}],
            "needs": [
                {"id": "a", "community": "A", "kind": "food", "demand": {"meals": 4}},
                {"id": "b", "community": "A", "kind": "tool", "demand": {"units": 1}}],
            "policy": {"fairness": {"min_share": 0.6}}}));
        assert_eq!(spare, [(ConflictKind::MinShare, "A".to_string())]);
        let binds = kinds(serde_json::json!({
            "resources": [{"id": "r", "community": "A", "kind": "food", "capacity": {"meals": 3}}],
            "needs": [{"id": "a", "community": "A", "kind": "food", "demand": {"meals": 4},
                       "min_fill": 1}],
            "policy": {"objective": "cost"}}));
        assert_eq!(
            binds,
            [
                (ConflictKind::MinFill, "a".to_string()),
                (ConflictKind::Capacity, "r".to_string())
            ]
        );
        // Two capacities used up at once are both listed (a zero dual on one of them at the
        // degenerate vertex had left it out).
        let both = kinds(serde_json::json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"meals": 3, "units": 3}}],
            "needs": [{"id": "a", "kind": "k", "demand": {"meals": 4, "units": 4},
                       "min_fill": 1}]}));
        assert_eq!(
            both,
            [
                (ConflictKind::MinFill, "a".to_string()),
                (ConflictKind::Capacity, "r".to_string()),
                (ConflictKind::Capacity, "r".to_string())
            ]
        );
    }

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
        // A test that forces sifting would make the first solve a restricted model's, whose
        // forced status sifting answers by solving again.
        let _alone = crate::switch::FORCING.lock();
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

    /// A failed solve has no plan, so nothing to explain (its zero shares are not a plan).
    #[test]
    fn a_failed_solve_has_no_explanations() {
        let s = scenario();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            force(&[Some(H::SolveError)]);
            let o = solve_with(&s, &SolveOptions::default());
            force(&[]);
            assert_eq!(o.solution.status, Status::Error);
            assert!(crate::explain::explain(&o).is_empty());
            assert!(crate::explain::explain_need(&o, 0).is_none());
            // Unforced, the plan is explained (every need is served in full).
            let o = solve_with(&s, &SolveOptions::default());
            assert!(crate::explain::explain(&o).is_empty());
            let b = crate::explain::explain_need(&o, 1).unwrap();
            assert_eq!(b.reason, crate::explain::Reason::Served);
        });
    }

    /// A failure is put down to the values (`WideValues`) only where HiGHS gave up on a model
    /// it had taken and the failed part's values span more than 9 orders; a model it refused
    /// to load is ours whatever the values, and so is a failure where they span less.
    #[test]
    fn only_numerical_trouble_on_wide_values_is_the_inputs() {
        let wide = scenario_from_value(&serde_json::json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1e12}},
                          {"id": "q", "kind": "k", "capacity": {"u": 1}}],
            "needs": [{"id": "a", "kind": "k", "demand": {"u": 1e-3}, "priority": 2},
                      {"id": "b", "kind": "k", "demand": {"u": 5}, "priority": 1}],
            "policy": {"solver": "lp"}}))
        .unwrap();
        for (s, status, blamed) in [
            (&wide, H::Unknown, true),
            (&wide, H::SolveError, true),
            (&wide, H::LoadError, false),
            (&wide, H::ModelError, false),
            (&scenario(), H::Unknown, false),
        ] {
            // Every run of the stage forced, the rescues' too.
            let (tried, _) = forced(s, &[Some(status); 12]);
            match tried {
                Err(SolveError::WideValues { span, .. }) if blamed => {
                    assert_eq!(span.smallest.field, "demand.u");
                    assert_eq!(span.largest.field, "capacity.u");
                    assert!((span.orders() - 15.0).abs() < 1e-9);
                }
                Err(SolveError::Solver(_)) if !blamed => {}
                other => panic!("{status:?}: {other:?}"),
            }
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

    /// The answer with every stage built anew (no kept model, so no sifting or kept start).
    /// The caller holds `FORCING`.
    fn built_anew(s: &Scenario) -> crate::Report {
        super::WARM.force(true);
        let report = crate::solve_report(s);
        super::WARM.force(false);
        report
    }

    /// A random LP of 2-5 resources and 3-12 needs in 2-3 communities, two dimensions.
    fn random_lp(seed: u64, policy: serde_json::Value) -> Scenario {
        let mut rng = crate::seeds::SplitMix64::new(seed);
        let resources: Vec<_> = (0..2 + rng.below(4))
            .map(|i| {
                serde_json::json!({"id": format!("r{i}"), "kind": "k", "cost": rng.int(0, 5),
                    "community": format!("c{}", rng.below(3)),
                    "capacity": {"beds": rng.int(1, 5), "meals": rng.int(2, 12)}})
            })
            .collect();
        let needs: Vec<_> = (0..3 + rng.below(10))
            .map(|i| {
                serde_json::json!({"id": format!("n{i}"), "kind": "k",
                    "community": format!("c{}", rng.below(3)), "priority": rng.int(1, 5),
                    "demand": {"beds": rng.int(1, 3), "meals": rng.int(0, 6)}})
            })
            .collect();
        scenario_from_value(&serde_json::json!({
            "resources": resources, "needs": needs, "policy": policy
        }))
        .unwrap()
    }

    /// The stages solved on one kept model (objective, bounds and a hold changed in place)
    /// answer what models built anew for every stage answer: the same status, V, C and group
    /// ratios (the smallest under maxmin, all of them under leximin). (Proportional rounds, warm by added cuts, stop at a tolerance rather than at a
    /// unique point: `tests/fairness.rs` checks them against the convex optimum.)
    #[test]
    fn warm_stages_equal_stages_built_anew() {
        let policies = [
            serde_json::json!({}),
            serde_json::json!({"fairness": "maxmin", "cross_community": true}),
            serde_json::json!({"fairness": "leximin", "cross_community": true}),
        ];
        let _alone = crate::switch::FORCING.lock();
        let warm_before = super::WARM.runs();
        for seed in 0..240u64 {
            let s = random_lp(seed, policies[(seed % 3) as usize].clone());
            let warm = crate::solve_report(&s);
            let cold = built_anew(&s);
            let (a, b) = (&warm.summary, &cold.summary);
            crate::switch::assert_same_value_and_cost(a, b, seed);
            let close = crate::switch::close;
            // Group ratios are unique under leximin only; maxmin's smallest one is.
            if seed % 3 != 0 {
                assert!(close(a.min_group_ratio, b.min_group_ratio), "seed {seed}");
            }
            if seed % 3 == 2 {
                crate::switch::assert_same_groups(a, b, seed);
            }
        }
        // The comparison compared something: stages were solved warm.
        let warm = super::WARM.runs() - warm_before;
        assert!(warm > 400, "{warm} warm stages");
    }

    /// A random LP with more links per need than sifting starts with, some needs with
    /// min_fill, and with `timed` stays in a reusable dimension.
    fn wide_lp(
        rng: &mut crate::seeds::SplitMix64,
        policy: serde_json::Value,
        timed: bool,
    ) -> serde_json::Value {
        let resources: Vec<_> = (0..3 + rng.below(6))
            .map(|i| {
                serde_json::json!({"id": format!("r{i}"), "kind": "k", "cost": rng.int(0, 9),
                    "community": format!("c{}", rng.below(3)),
                    "capacity": {"beds": rng.int(1, 6), "meals": rng.int(4, 30)}})
            })
            .collect();
        let needs: Vec<_> = (0..4 + rng.below(14))
            .map(|i| wide_need(rng, &format!("n{i}"), timed))
            .collect();
        serde_json::json!({"resources": resources, "needs": needs, "policy": policy})
    }

    fn wide_need(rng: &mut crate::seeds::SplitMix64, id: &str, timed: bool) -> serde_json::Value {
        let mut need = serde_json::json!({"id": id, "kind": "k",
            "community": format!("c{}", rng.below(3)), "priority": rng.int(1, 5),
            "demand": {"beds": rng.int(1, 3), "meals": rng.int(0, 6)}});
        if rng.below(5) == 0 {
            need["min_fill"] = serde_json::json!(0.5);
        }
        if timed {
            need["duration_h"] = serde_json::json!(rng.int(1, 4) * 12);
            need["earliest"] = serde_json::json!(rng.int(0, 6) * 12);
        }
        need
    }

    /// A live session's re-plans: each LP stage starts from the basis the same stage of the
    /// last re-plan kept (`lp/start.rs`), after random changes to the scenario between them
    /// (a need withdrawn, added or changed, a capacity changed), sifted from one link per need
    /// with the kept bases' links seeding the model. Each answers what models built anew
    /// answer: the same status, V, C and smallest group ratio.
    #[test]
    fn kept_starts_equal_stages_built_anew() {
        let policies = [
            serde_json::json!({}),
            serde_json::json!({"fairness": "maxmin", "cross_community": true}),
        ];
        let _alone = crate::switch::FORCING.lock();
        let before = super::KEPT.runs();
        let stalled_before = super::DUAL_STALL.runs();
        let mut kept_statuses = 0;
        for seed in 0..100u64 {
            let mut rng = crate::seeds::SplitMix64::new(9000 + seed);
            let mut v = wide_lp(&mut rng, policies[(seed % 2) as usize].clone(), false);
            let starts = LpStarts::default();
            for step in 0..5 {
                if step > 0 {
                    let needs = v["needs"].as_array_mut().unwrap();
                    let k = rng.below(needs.len() as u64) as usize;
                    match rng.below(4) {
                        0 if needs.len() > 2 => {
                            needs.remove(k);
                        }
                        1 => needs.push(wide_need(&mut rng, &format!("s{step}"), false)),
                        2 => {
                            let id = needs[k]["id"].as_str().unwrap().to_string();
                            needs[k] = wide_need(&mut rng, &id, false);
                        }
                        _ => {
                            let res = v["resources"].as_array_mut().unwrap();
                            let r = rng.below(res.len() as u64) as usize;
                            res[r]["capacity"]["beds"] = serde_json::json!(rng.int(0, 6));
                        }
                    }
                }
                let s = scenario_from_value(&v).unwrap();
                super::SIFT.force(true);
                // A third of the seeds: dual simplex from each kept start stops at once and
                // primal simplex solves the stage from the start.
                super::DUAL_STALL.force(seed % 3 == 2);
                let opts = crate::SolveOptions::default();
                let kept =
                    crate::Report::new(&crate::solve::solve_live(&s, &opts, Some(&starts)).0);
                super::DUAL_STALL.force(false);
                super::SIFT.force(false);
                let anew = built_anew(&s);
                let (a, b) = (&kept.summary, &anew.summary);
                let at = seed * 10 + step;
                crate::switch::assert_same_value_and_cost(a, b, at);
                if seed % 2 == 1 {
                    assert!(
                        crate::switch::close(a.min_group_ratio, b.min_group_ratio),
                        "{at}"
                    );
                }
                kept_statuses += starts.len();
            }
        }
        // Stages did start from kept bases, and primal simplex took over stalled ones.
        let stalled = super::DUAL_STALL.runs() - stalled_before;
        assert!(stalled > 100, "{stalled} stalled dual starts");
        let kept = super::KEPT.runs() - before;
        assert!(
            kept > 600 && kept_statuses > 0,
            "{kept} stages started from kept bases"
        );
    }

    /// Sifting (each stage starts from one link per need and prices the others in) answers
    /// what models built anew answer, on random LPs with and without fairness, with min_fill
    /// (where one link per need can make the first stage infeasible) and with fixed stays in
    /// a reusable dimension (capacity over time in stock or overlap rows).
    #[test]
    fn sifted_stages_equal_stages_built_anew() {
        let policies = [
            serde_json::json!({}),
            serde_json::json!({"fairness": "maxmin", "cross_community": true}),
            serde_json::json!({"fairness": "leximin", "cross_community": true}),
            serde_json::json!({"reusable": ["beds"]}),
        ];
        let _alone = crate::switch::FORCING.lock();
        let before = super::SIFT.runs();
        for seed in 0..200u64 {
            let mut rng = crate::seeds::SplitMix64::new(seed);
            let policy = policies[(seed % 4) as usize].clone();
            let s = scenario_from_value(&wide_lp(&mut rng, policy, seed % 4 == 3)).unwrap();
            super::SIFT.force(true);
            let sifted = crate::solve_report(&s);
            super::SIFT.force(false);
            let anew = built_anew(&s);
            let (a, b) = (&sifted.summary, &anew.summary);
            crate::switch::assert_same_value_and_cost(a, b, seed);
            if seed % 4 == 2 {
                crate::switch::assert_same_groups(a, b, seed);
            }
        }
        // Columns were priced in: the restricted models were not already optimal.
        let rounds = super::SIFT.runs() - before;
        assert!(rounds > 100, "{rounds} rounds brought columns in");
    }

    /// Leximin on models large enough for the interior point method (over 2,000 columns):
    /// levels solved by simplex from the last basis, and levels whose simplex ran out of its
    /// budget and went on by the interior point method, give the ratios, V and C of levels
    /// built anew.
    #[test]
    fn large_warm_levels_equal_levels_built_anew() {
        let _alone = crate::switch::FORCING.lock();
        let (mut within, mut over_budget) = (0, 0);
        for seed in 0..4u64 {
            let mut rng = crate::seeds::SplitMix64::new(seed);
            // Each community needs its own kind, and kinds are scarce to different degrees:
            // the groups' ratios settle at different levels (about 2,300 links).
            let resources: Vec<_> = (0..66)
                .map(|i| {
                    let kind = i % 6;
                    serde_json::json!({"id": format!("r{i}"), "kind": format!("k{kind}"),
                        "cost": rng.int(0, 5), "community": "c0",
                        "capacity": {"beds": rng.int(1, 3 + kind)}})
                })
                .collect();
            let needs: Vec<_> = (0..210)
                .map(|i| {
                    let c = rng.below(6);
                    serde_json::json!({"id": format!("n{i}"), "kind": format!("k{c}"),
                        "community": format!("c{c}"), "priority": rng.int(1, 5),
                        "demand": {"beds": rng.int(1, 3)}})
                })
                .collect();
            let s = scenario_from_value(&serde_json::json!({
                "resources": resources, "needs": needs,
                "policy": {"fairness": "leximin", "cross_community": true}
            }))
            .unwrap();
            let before = super::LARGE_WARM.runs();
            let warm = crate::solve_report(&s);
            within += super::LARGE_WARM.runs() - before;
            super::OVER_BUDGET.force(true);
            let before = super::OVER_BUDGET.runs();
            let over = crate::solve_report(&s);
            over_budget += super::OVER_BUDGET.runs() - before;
            super::OVER_BUDGET.force(false);
            let cold = built_anew(&s);
            for other in [&over, &warm] {
                let (a, b) = (&other.summary, &cold.summary);
                crate::switch::assert_same_value_and_cost(a, b, seed);
                assert!(b.groups.len() > 1, "seed {seed}: groups");
                crate::switch::assert_same_groups(a, b, seed);
            }
        }
        // Both paths ran: levels solved by simplex within their budget, and levels over it.
        assert!(within > 0, "no level solved warm within its budget");
        assert!(over_budget > 0, "no level over its budget");
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
