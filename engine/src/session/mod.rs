//! Live matching sessions (SPEC section 4, `/v1/sessions`): a scenario that changes by events,
//! with a plan of proposed matches kept optimal after every batch of events.
//!
//! The state is the session's needs and resources as last defined, plus the dispatches: a
//! dispatched match is a commitment that consumes its resource's capacity and serves its part of
//! the need; later plans only see what is left (the *residual* scenario) and never move it.
//!
//! Re-planning is incremental: links are kept by index and updated per event (`links.rs`), an event
//! marks the entities it touches, and only the connected components of the residual graph that
//! contain a touched entity are solved again; the plan of every other component is kept. Since
//! the engine solves components independently and deterministically (in input order), the plan
//! equals a from-scratch solve of the residual scenario (tested), with one difference: an
//! infeasible component is planned empty on its own, where a scenario's solve has no plan at
//! all (`Solution::troubled`). Fairness couples components
//! (group ratios sum over all of them), so with a fairness policy every re-plan is whole,
//! except while max-min adds nothing (the open needs in one group, `Policy::fairness_implied`).
//! A session in the transportation case goes further (`warm.rs`): its whole residual scenario
//! is one min-cost flow kept across events and re-optimised from the last optimum, so an
//! event costs a few shortest-path searches rather than a solve of its component. A warm
//! session the flow cannot take (fairness, several dimensions) starts each LP stage from the
//! basis it ended with at the last re-plan (`lp/start.rs`).

mod check;
mod checkpoint;
pub use checkpoint::{BatchScan, Checkpoints, LogReplay};
mod event_ids;
mod index_set;
mod links;
mod replan;
mod report;
pub use event_ids::MAX_EVENT_IDS;
pub use report::SessionWhy;
mod stage;
#[cfg(test)]
mod test_streams;
mod warm;

pub use crate::events::{parse_events, Event, EventKind, LoggedEventId};
use crate::input::scenario_from_logged_value;
use crate::model::{Need, Policy, Quantities, Resource, Scenario};
use crate::solve::Status;
use index_set::IndexSet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A share below this is no match.
const EPS: f64 = 1e-9;

/// A commitment: part of a need served by a resource, never moved by a re-plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    pub need: String,
    pub resource: String,
    /// Part of the need's full demand this dispatch serves.
    pub fraction: f64,
    /// Capacity consumed, per dimension.
    pub amounts: Quantities,
    /// False once the resource has been returned.
    pub active: bool,
    /// A timed need's booking (SPEC "Allocation over time"): its start and end (`start +
    /// duration_h`). A confirmed booking never moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_h: Option<f64>,
    /// The session clock when the resource came back (a `resource_returned` with a clock):
    /// the booking then occupied the resource until this hour plus its turnaround.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned_h: Option<f64>,
}

/// An event as applied, with what it resolved to: the durable log records these, so replaying
/// them needs no re-planning (a dispatch records the share it committed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Applied {
    NeedAdded {
        need: Value,
    },
    NeedUpdated {
        need: Value,
    },
    NeedWithdrawn {
        id: String,
    },
    ResourceAdded {
        resource: Value,
    },
    ResourceUpdated {
        resource: Value,
    },
    ResourceWithdrawn {
        id: String,
    },
    Dispatched {
        dispatch: Dispatch,
    },
    ResourceReturned {
        id: String,
        /// The need whose loan came back, when the event named it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        need: Option<String>,
    },
    DispatchReleased {
        need: String,
        resource: String,
    },
    /// The session clock moved to `at` (an event carried it), before the event logged next.
    Clock {
        at: f64,
    },
    /// A re-plan ran here: the end of a burst, or before a dispatch that needed the plan up to
    /// date. A warm session's plan depends on where its re-plans fell (`warm.rs`), so its
    /// replay re-plans at the same points and rebuilds the very plan it held; a cold
    /// session's plan is a function of its state, and its replay re-plans once at the end.
    Replanned,
    /// What the re-plans made, after the re-plan logged just before
    /// (`Session::checkpoint_due`): of a session that keeps LP bases every few dozen
    /// re-plans, of any session after a re-plan that reached its time limit. A rebuild
    /// installs the last one it takes and re-plans only at the points after it (`LogReplay`).
    Checkpoint {
        checkpoint: Box<Checkpoint>,
    },
}

/// The state of a session that its re-plans made (the plan, its duals, the components in
/// trouble, the kept LP bases), as of a logged re-plan point; the rest of the state is the
/// events'. Lists in key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// (resource, need, share of the need's open part).
    plan: Vec<(String, String, f64)>,
    marginal: Vec<(String, f64)>,
    shadow: Vec<(String, BTreeMap<String, f64>)>,
    trouble: Vec<(String, Status)>,
    /// What the last failed re-plan said (checkpoints written before it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
    /// The warm flow refused the session's values once (it re-plans cold from then on).
    warm_off: bool,
    /// The kept LP bases of a session that keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bases: Option<crate::lp::KeptBases>,
    /// Each timed need's planned start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    starts: Vec<(String, f64)>,
    /// Written because a re-plan since the last checkpoint reached its time limit: every
    /// rebuild installs it, a session that keeps no LP bases too, and re-plans at each
    /// logged point after it (the plan of a re-plan cut short is no function of the state).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    exact: bool,
    /// The gaps of the parts stopped at the time limit with a plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<(String, f64)>,
}

/// A session that keeps LP bases logs a [`Checkpoint`] after every this many re-plans, so
/// that a rebuild re-plans at most this many times (each ~0.3 s at 1,500 needs x 400 teams)
/// rather than once per logged point since the start.
pub const CHECKPOINT_EVERY: usize = 50;

/// One match whose share changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatchChange {
    pub resource: String,
    pub need: String,
    /// Share of the need's open part before and after (0 = no match).
    pub before: f64,
    pub after: f64,
    /// A timed need's planned start before and after, when it has one (a start that moved
    /// with the share unchanged is a change too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_start_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_start_h: Option<f64>,
}

/// A confirmed booking that can no longer hold: its resource is over capacity during it (a
/// lent item came back late, or its capacity was lowered). It is not moved or dropped: the
/// coordinator decides, with `dispatch_released` to let the re-plan take the need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookingConflict {
    pub booking: Dispatch,
    /// What the re-plan proposes for the booked part of the need once the booking is
    /// released (every booking in conflict released together): other items, other starts,
    /// or nothing.
    pub proposal: Vec<Proposal>,
    /// Why the need would go unserved, when the proposal serves none of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unserved_why: Option<String>,
}

impl Dispatch {
    /// The booking's key among conflicts: need, resource and start (as bits; 0 without time).
    pub fn key(&self) -> (String, String, u64) {
        let start = self.start_h.map_or(0, f64::to_bits);
        (self.need.clone(), self.resource.clone(), start)
    }

    /// The part of a need of `demand` that what it carries covers: the smallest over the
    /// demand's dimensions, at most 1; `None` when the demand has no positive dimension.
    pub(super) fn part_of(&self, demand: &Quantities) -> Option<f64> {
        demand
            .iter()
            .filter(|(_, &q)| q > 0.0)
            .map(|(dim, q)| self.amounts.get(dim).copied().unwrap_or(0.0) / q)
            .reduce(f64::min)
            .map(|part| part.clamp(0.0, 1.0))
    }

    /// Whether it uses up its resource's consumable capacity: every dispatch over time
    /// (returned or not), only an active one without time. `recompute_residual` and the
    /// conflicts count the same way.
    pub(super) fn consumes(&self, timed: bool) -> bool {
        timed || self.active
    }
}

impl BookingConflict {
    /// The booking's key ([`Dispatch::key`]).
    pub fn key(&self) -> (String, String, u64) {
        self.booking.key()
    }
}

/// A match the re-plan would make for a need in conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proposal {
    pub resource: String,
    /// Share of the need's part that would be open.
    pub share: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_h: Option<f64>,
}

/// The answer to a batch of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub applied: usize,
    /// Event ids skipped because they were applied before.
    pub duplicates: Vec<String>,
    pub changed: Vec<MatchChange>,
    pub dispatched: Vec<Dispatch>,
    /// Needs and resources re-planned (the touched components).
    pub replanned_needs: usize,
    /// Confirmed bookings that the batch left over capacity (a late return, a capacity
    /// lowered below what is dispatched), each with what the re-plan proposes instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<BookingConflict>,
}

/// What [`Session::flush`] re-planned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flushed {
    /// The matches that changed since the first staged batch.
    pub changed: Vec<MatchChange>,
    pub replanned_needs: usize,
    /// Bookings in conflict that were not before the first staged batch.
    pub conflicts: Vec<BookingConflict>,
}

/// Why an event cannot be applied; the batch it belongs to is refused whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("event {index}: {refusal}")]
pub struct EventError {
    /// The event's position in its batch.
    pub index: usize,
    pub refusal: Refusal,
}

/// What is wrong with an event, given the state and the events before it in its batch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("event_id {0:?} appears twice in the batch")]
    RepeatedEventId(String),
    #[error("event_id {0:?} was used for another event: a retry must repeat its event as sent")]
    EventIdReused(String),
    #[error("need {0:?} exists already")]
    NeedExists(String),
    #[error("need {0:?} was withdrawn with its dispatches still on record: add it under a new id")]
    NeedIdDispatched(String),
    #[error("no need {0:?}")]
    NoNeed(String),
    #[error("resource {0:?} exists already")]
    ResourceExists(String),
    #[error("no resource {0:?}")]
    NoResource(String),
    #[error(
        "resource {0:?} has active dispatches: return it (resource_returned) or release a \
         booking not started yet (dispatch_released) before withdrawing it"
    )]
    ActiveDispatches(String),
    #[error(
        "resource {0:?} has nothing out to return (a booking not started yet is released with \
         dispatch_released)"
    )]
    NothingToReturn(String),
    #[error(
        "{need:?} has no loan of {resource:?} out to return (a booking not started yet is \
         released with dispatch_released)"
    )]
    NoLoan { need: String, resource: String },
    #[error("{resource:?} -> {need:?} has no dispatch to release")]
    NoDispatch { need: String, resource: String },
    #[error(
        "{resource:?} -> {need:?} started at hour {start} (the clock is at {clock}): what it \
         handed out is in use or used up, so it cannot be released; return it \
         (resource_returned) when it comes back"
    )]
    BookingStarted {
        need: String,
        resource: String,
        start: f64,
        clock: f64,
    },
    #[error(
        "need {need:?} has dispatches on record: a demand of {dimension:?} cannot be added to \
         it (a need's open part is one share of every dimension, so what was dispatched would \
         count for nothing and be planned again); add the new demand as a need of its own"
    )]
    DimensionAddedUnderDispatch { need: String, dimension: String },
    #[error(
        "need {need:?} would be indivisible with {served} of it dispatched: an indivisible need \
         is served whole by one resource, so its open part cannot be planned apart from what \
         was dispatched; add what is missing as a need of its own, release dispatches that \
         have not started, or keep it divisible"
    )]
    IndivisiblePartlyDispatched {
        need: String,
        served: f64,
        /// `need.demand` (raised past what is out) or `need.indivisible` (newly set).
        field: &'static str,
    },
    #[error(
        "at {} is before the session clock {}: the clock never goes back",
        crate::timed::hours_text(*at),
        crate::timed::hours_text(*clock)
    )]
    ClockBackwards { at: f64, clock: f64 },
    #[error("{resource:?} -> {need:?} is not a proposed match of the plan (as re-planned after the events before it)")]
    NotProposed { need: String, resource: String },
    #[error("{resource:?} -> {need:?} is not allowed by the link rules")]
    NotLinked { need: String, resource: String },
    /// A timed session's need whose window SPEC's time model refuses, as a scenario's
    /// validator would (`field` is the need's field at fault).
    #[error("need {need:?}: {field}: {message}")]
    NeedWindow {
        need: String,
        field: String,
        message: String,
    },
    /// A timed session whose time model would grow past the size a scenario may have.
    #[error("{0}")]
    TimedModelTooLarge(String),
    /// A session whose links or per-dimension arrays would grow past the bounds a scenario
    /// has (`MAX_LINKS`, `MAX_DIM_ENTRIES`).
    #[error("{0}")]
    ModelTooLarge(String),
    #[error("dispatching {resource:?} -> {need:?} takes {amount} {dimension} but {resource:?} has {left} left")]
    OverCapacity {
        need: String,
        resource: String,
        dimension: String,
        amount: f64,
        left: f64,
    },
}

impl Refusal {
    /// The field of `event` (as sent: `need.id`, `resource`, `at`...) the refusal is about,
    /// for the error's detail; `None` when it is about the event as a whole (a model grown
    /// too large).
    pub fn field(&self, event: &crate::events::Event) -> Option<String> {
        use crate::events::EventKind as K;
        let entity = match &event.kind {
            K::NeedAdded(_) | K::NeedUpdated(_) => "need.id",
            K::ResourceAdded(_) | K::ResourceUpdated(_) => "resource.id",
            _ => "id",
        };
        let field = match self {
            Refusal::RepeatedEventId(_) | Refusal::EventIdReused(_) => "event_id",
            Refusal::ClockBackwards { .. } => "at",
            Refusal::NeedExists(_) | Refusal::NeedIdDispatched(_) | Refusal::ResourceExists(_) => {
                entity
            }
            Refusal::NoNeed(_) => match &event.kind {
                K::Dispatched { .. } | K::DispatchReleased { .. } | K::ResourceReturned { .. } => {
                    "need"
                }
                _ => entity,
            },
            Refusal::NoResource(_) => match &event.kind {
                K::Dispatched { .. } | K::DispatchReleased { .. } => "resource",
                _ => entity,
            },
            Refusal::ActiveDispatches(_) | Refusal::NothingToReturn(_) => "id",
            Refusal::NoLoan { .. } => "need",
            Refusal::NoDispatch { .. }
            | Refusal::BookingStarted { .. }
            | Refusal::NotProposed { .. }
            | Refusal::NotLinked { .. } => "resource",
            Refusal::NeedWindow { field, .. } => return Some(format!("need.{field}")),
            Refusal::DimensionAddedUnderDispatch { dimension, .. } => {
                return Some(format!("need.demand.{dimension}"))
            }
            Refusal::IndivisiblePartlyDispatched { field, .. } => field,
            Refusal::OverCapacity { .. } => "resource",
            Refusal::TimedModelTooLarge(_) | Refusal::ModelTooLarge(_) => return None,
        };
        Some(field.to_string())
    }
}

/// Why a session cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("sessions build links by the policy's rules; explicit links are not supported")]
    ExplicitLinks,
}

/// Why a session cannot be rebuilt from its log ([`Session::rebuilt`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Why a logged event cannot be replayed: the log is not one this engine wrote for this
/// session.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplayError {
    #[error("log: {0}")]
    InvalidEntity(#[from] crate::input::InvalidInput),
    #[error("log: dispatch of unknown need {need:?} or resource {resource:?}")]
    UnknownDispatch { need: String, resource: String },
    #[error("log: {0}")]
    Refused(#[from] Refusal),
}

#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) name: Option<String>,
    /// Validated when the session is made; private so it stays so.
    pub(crate) policy: Policy,
    needs: Vec<Need>,
    need_ix: HashMap<String, usize>,
    /// Part of each need not yet dispatched (1 = all open).
    open: Vec<f64>,
    resources: Vec<Resource>,
    res_ix: HashMap<String, usize>,
    /// Each resource with its capacity less its active dispatches.
    residual: Vec<Resource>,
    dispatches: Vec<Dispatch>,
    /// Event ids applied, for idempotent retries (the newest `MAX_EVENT_IDS`).
    seen: event_ids::EventIds,
    /// Every dimension the session has seen: kept in every residual scenario so that a
    /// component is solved the same way whatever else is open.
    dims: BTreeSet<String>,
    /// By need index: the indices of the resources each need is linked to (`links.rs`).
    adj_need: Vec<IndexSet>,
    /// By resource index: the indices of the needs each resource is linked to.
    adj_res: Vec<IndexSet>,
    /// (resource, need) -> share of the need's open part.
    plan: BTreeMap<(String, String), f64>,
    marginal: HashMap<String, f64>,
    shadow: HashMap<String, BTreeMap<String, f64>>,
    /// Needs of components whose last solve was not optimal (infeasible, time limit).
    trouble: BTreeMap<String, Status>,
    /// Needs of components whose last solve stopped at the time limit with a plan, with that
    /// plan's gap.
    gaps: BTreeMap<String, f64>,
    /// What the last re-plan that failed said (a solver failure, a part too large to build):
    /// shown while needs are in trouble with status `error` ([`Session::failure`]).
    failure: Option<String>,
    /// What staged events touched since the last re-plan.
    pending: Option<Pending>,
    /// The session clock (hours): the latest `at` of an event. No start is planned before it.
    clock: Option<f64>,
    /// A reusable dimension in the policy: dispatches are bookings over time.
    timed: bool,
    /// Each timed need's planned start.
    starts: BTreeMap<String, f64>,
    /// [`Session::conflicts`], worked out at most once per state (a what-if re-plan): every
    /// change of the state clears it.
    open_conflicts: std::sync::OnceLock<Vec<BookingConflict>>,
    /// The warm model of a transportation session (`warm.rs`), kept across re-plans.
    warm: Option<warm::WarmFlow>,
    /// The LP stages' bases of a warm session's last re-plan (`lp/start.rs`), for the next
    /// one to start from: fair and multi-dimension sessions, which the flow cannot take.
    lp_starts: Option<crate::lp::LpStarts>,
    /// Re-plan warm where the session allows it (`Session::new_warm`); off by default.
    warm_on: bool,
    /// The warm model refused the session's values once (its scales, or no feasible flow):
    /// it re-plans cold from then on. An indivisible need does not set it: the session goes
    /// back to the warm model at the first re-plan with none open (`Session::warm_due`).
    warm_off: bool,
    /// A batch refused in place after a re-plan it ran (before its dispatch): the next
    /// accepted batch's log starts with that re-plan's `Applied::Replanned`.
    replan_unlogged: bool,
    /// After a warm re-plan: the duals of a cold solve, worked out when a report asks.
    duals_cache: std::sync::OnceLock<warm::Duals>,
    /// Re-plans since the last [`Checkpoint`], and how many make one due (0: never).
    replans_since_checkpoint: usize,
    /// A re-plan since the last [`Checkpoint`] reached its time limit: its plan depends on
    /// timing, which a replay would not repeat, so a checkpoint of it is due
    /// (`checkpoint_due`), whatever the session keeps.
    timing_dependent: bool,
    /// Rebuilt from a checkpoint written because of timing (`Checkpoint::exact`): the replay
    /// re-plans at each logged point after it, as a warm session's does, where a cold one
    /// re-plans once at the end (which would solve the timed-out parts again).
    replay_points: bool,
    checkpoint_every: usize,
    /// The most links a batch may bring it to (`set_max_links`).
    max_links: usize,
    /// Re-plans this session has run (tests and benches).
    replans_run: usize,
    /// The share last answered for each match whose plan value has since moved by rounding
    /// alone (`stage::share_moved`): the next answer compares with what the client was told,
    /// so moves too small to answer one by one cannot add up unanswered.
    told: BTreeMap<(String, String), f64>,
    /// Resources whose links were worked out anew since the last re-plan: the only ones
    /// whose links the warm model compares one by one when their capacity alone changed.
    relinked: HashSet<String>,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    /// The value before the first change of every plan entry changed since the last flush.
    before: BTreeMap<(String, String), f64>,
    /// How many dimensions the session had at the last re-plan (a new one re-plans all).
    dims: usize,
    /// Whether group ratios coupled the components at the last re-plan
    /// (`Session::couples_groups`): a change either way re-plans all, since the parts not
    /// touched were planned under the other model.
    coupled: bool,
    /// Entities touched since the last re-plan.
    needs: BTreeSet<String>,
    resources: BTreeSet<String>,
    /// An event other than a dispatch changed the state since the last re-plan.
    stale: bool,
    /// Needs dispatched since the last re-plan.
    dispatched: BTreeSet<String>,
    /// Needs re-planned since the last flush.
    replanned: usize,
    /// The planned start of every need whose start changed since the last flush, before.
    start_before: BTreeMap<String, Option<f64>>,
    /// The bookings in conflict before the first staged batch (need, resource, start).
    /// `None` in a replay's re-plans (`Pending::default`), which answer no one.
    conflicts_before: Option<BTreeSet<(String, String, u64)>>,
    /// Needs and resources whose plan entries an event removed since the last re-plan: the
    /// warm model writes them again even when the entity ends as it was (`warm.rs`).
    cleared_needs: BTreeSet<String>,
    cleared_resources: BTreeSet<String>,
}

/// An open part's quantity rounded to 1e-6: `3 * (1 - 1/3)` must be the integer 2 again, or
/// the exact transportation path (which scales decimals exactly) would fall back to the LP.
fn tidy(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Whether a warm session of this policy keeps its LP bases between re-plans: one whose
/// stages run on the kept LP model (`LexModel`: the coverage or cost objective, no fairness
/// or max-min, no deprivation cost), untimed and not the greedy baseline. Not leximin: its
/// later levels may fall back on the interior point method after a share of a measured time
/// (`lp.rs`, `WARM_BUDGET`), so that its plan could differ between the live session and its
/// replay. Other policies gain nothing from kept bases and would pay a replay per re-plan.
fn keeps_lp_bases(policy: &Policy) -> bool {
    use crate::model::{Fairness, Objective, SolverChoice};
    policy.reusable.is_empty()
        && matches!(policy.fairness, Fairness::None | Fairness::Maxmin)
        // Not `cost`: it leaves V free, and a stage started from kept bases may end at
        // another vertex of the same C than a solve from scratch (warm.rs's `warm_shape`).
        && policy.objective == Objective::Coverage
        && policy.deprivation.is_none()
        && policy.solver != SolverChoice::Greedy
}

impl Session {
    /// A session over an initial scenario (rule-built links only).
    pub fn new(initial: &Scenario) -> Result<Session, SessionError> {
        Session::new_warm(initial, false)
    }

    /// [`Session::new`], re-planning warm when `warm` and the session is in the
    /// transportation case (`warm.rs`): events cost a few shortest-path searches instead of a
    /// solve of their component, and the plan is an optimum of the same value and cost as a
    /// from-scratch solve but not always the same one: it depends on where the re-plans fell,
    /// which the log records (`Applied::Replanned`), so a replay rebuilds the same plan.
    pub fn new_warm(initial: &Scenario, warm: bool) -> Result<Session, SessionError> {
        let mut s = Session::unplanned(initial, warm)?;
        s.replan_all();
        Ok(s)
    }

    /// [`Session::new_warm`] before its first plan.
    fn unplanned(initial: &Scenario, warm: bool) -> Result<Session, SessionError> {
        if initial.links.is_some() {
            return Err(SessionError::ExplicitLinks);
        }
        let mut s = Session {
            name: initial.name.clone(),
            policy: initial.policy.clone(),
            needs: Vec::new(),
            need_ix: HashMap::new(),
            open: Vec::new(),
            resources: Vec::new(),
            res_ix: HashMap::new(),
            residual: Vec::new(),
            dispatches: Vec::new(),
            seen: event_ids::EventIds::default(),
            dims: BTreeSet::new(),
            adj_need: Vec::new(),
            adj_res: Vec::new(),
            plan: BTreeMap::new(),
            marginal: HashMap::new(),
            shadow: HashMap::new(),
            trouble: BTreeMap::new(),
            gaps: BTreeMap::new(),
            failure: None,
            pending: None,
            clock: None,
            timed: !initial.policy.reusable.is_empty(),
            starts: BTreeMap::new(),
            open_conflicts: std::sync::OnceLock::new(),
            warm: None,
            lp_starts: (warm && keeps_lp_bases(&initial.policy)).then(Default::default),
            warm_on: warm,
            warm_off: false,
            replan_unlogged: false,
            duals_cache: std::sync::OnceLock::new(),
            replans_since_checkpoint: 0,
            timing_dependent: false,
            replay_points: false,
            checkpoint_every: CHECKPOINT_EVERY,
            max_links: crate::input::MAX_LINKS,
            replans_run: 0,
            told: BTreeMap::new(),
            relinked: HashSet::new(),
        };
        for r in &initial.resources {
            s.insert_resource(r.clone());
        }
        for n in &initial.needs {
            s.insert_need(n.clone());
        }
        for ri in 0..s.resources.len() {
            let _ = s.relink_resource(ri);
        }
        Ok(s)
    }

    /// Whether group ratios couple the session's components: as
    /// [`Scenario::couples_groups`] of its residual scenario, whose needs are the open ones.
    pub(super) fn couples_groups(&self) -> bool {
        let open = (0..self.needs.len())
            .filter(|&i| self.is_open(i))
            .map(|i| (&self.needs[i], self.residual_priority(i)));
        self.policy.couples_groups() && !self.policy.fairness_implied(open)
    }

    /// The needs in the session now (withdrawn ones are gone), each with the part of it not
    /// yet dispatched (1 = all open).
    pub fn needs(&self) -> impl Iterator<Item = (&Need, f64)> {
        self.needs.iter().zip(self.open.iter().copied())
    }

    /// The resources in the session now, as last defined (dispatches not subtracted).
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn dispatches(&self) -> &[Dispatch] {
        &self.dispatches
    }

    /// Why the plan has no answer for some needs: the message of the re-plan that failed
    /// (a solver failure, or a part too large to build, saying what to change), while needs
    /// are in trouble with status `error`; `None` otherwise.
    pub fn failure(&self) -> Option<&str> {
        self.trouble
            .values()
            .any(|s| *s == Status::Error)
            .then_some(self.failure.as_deref())
            .flatten()
    }

    /// The current plan: (resource, need) -> share of the need's open part.
    pub fn plan(&self) -> &BTreeMap<(String, String), f64> {
        &self.plan
    }

    /// Each timed need's planned start (for its open part).
    pub fn planned_starts(&self) -> &BTreeMap<String, f64> {
        &self.starts
    }

    pub fn has_need(&self, id: &str) -> bool {
        self.need_ix.contains_key(id)
    }

    /// The need as last defined (its full demand, dispatched part included).
    pub fn need(&self, id: &str) -> Option<&Need> {
        self.need_ix.get(id).map(|&i| &self.needs[i])
    }

    /// The resource as last defined (its full capacity, dispatches not subtracted).
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.res_ix.get(id).map(|&i| &self.resources[i])
    }

    /// Whether an event id was applied (so a retry of it is skipped).
    pub fn has_seen(&self, event_id: &str) -> bool {
        self.seen.contains(event_id)
    }

    fn insert_resource(&mut self, r: Resource) {
        self.dims.extend(r.capacity.keys().cloned());
        self.res_ix.insert(r.id.clone(), self.resources.len());
        self.residual.push(r.clone());
        self.resources.push(r);
        self.adj_res.push(IndexSet::new());
    }

    fn insert_need(&mut self, n: Need) {
        self.dims.extend(n.demand.keys().cloned());
        self.need_ix.insert(n.id.clone(), self.needs.len());
        self.open.push(1.0);
        self.needs.push(n);
        self.adj_need.push(IndexSet::new());
    }

    fn is_open(&self, ni: usize) -> bool {
        self.open[ni] > EPS
    }

    /// The need as the planner sees it: its open part. A timed need that has a booking keeps
    /// its start (one start per need): the rest of it may only start then too.
    fn residual_need(&self, ni: usize) -> Need {
        let n = &self.needs[ni];
        let r = self.open[ni];
        let booked = self.booked_start(&n.id);
        if r >= 1.0 && booked.is_none() {
            return n.clone();
        }
        let mut out = n.clone();
        if let Some(s) = booked {
            out.earliest = Some(s);
            out.deadline = Some(s);
        }
        if r >= 1.0 {
            return out;
        }
        for q in out.demand.values_mut() {
            *q = tidy(*q * r);
        }
        out.priority = self.residual_priority(ni);
        out.min_fill = self.residual_min_fill(ni);
        out
    }

    /// Need `ni`'s open part's demand of `dim` and its `min_fill`, as its residual need has
    /// them (without building it).
    pub(super) fn residual_demand(&self, ni: usize, dim: &str) -> f64 {
        let (q, r) = (
            self.needs[ni].demand.get(dim).copied().unwrap_or(0.0),
            self.open[ni],
        );
        if r >= 1.0 {
            q
        } else {
            tidy(q * r)
        }
    }

    pub(super) fn residual_min_fill(&self, ni: usize) -> f64 {
        let (m, r) = (self.needs[ni].min_fill, self.open[ni]);
        if r >= 1.0 {
            m
        } else {
            tidy(((m - (1.0 - r)) / r).clamp(0.0, 1.0))
        }
    }

    /// Each group with dispatched needs: the priority its dispatches served, the part of its
    /// needs' priority the residual scenario no longer holds (`p_n` less the residual
    /// priority of the open part, so that a group served in full has ratio 1 exactly), and
    /// the total priority of its needs. Groups of whole needs only are left out (their
    /// residual sums are their totals).
    pub(super) fn group_base(&self) -> BTreeMap<String, crate::model::GroupBase> {
        // Every re-plan builds its scenario through here: a session with nothing dispatched
        // (most of a crisis's first hours) pays one pass over the open parts.
        if self.open.iter().all(|&r| r >= 1.0) {
            return BTreeMap::new();
        }
        let mut by_group: BTreeMap<&str, (crate::model::GroupBase, bool)> = BTreeMap::new();
        for (ni, n) in self.needs.iter().enumerate() {
            let open = if self.is_open(ni) {
                self.residual_priority(ni)
            } else {
                0.0
            };
            let (b, dispatched) = by_group.entry(self.policy.group_of(n)).or_insert((
                crate::model::GroupBase {
                    served: 0.0,
                    total: 0.0,
                },
                false,
            ));
            b.served += n.priority - open;
            b.total += n.priority;
            *dispatched |= n.priority - open > 0.0;
        }
        by_group
            .into_iter()
            .filter(|(_, (_, dispatched))| *dispatched)
            .map(|(g, (b, _))| (g.to_string(), b))
            .collect()
    }

    /// The priority of need `ni`'s open part, as its residual need has it.
    fn residual_priority(&self, ni: usize) -> f64 {
        let (p, r) = (self.needs[ni].priority, self.open[ni]);
        if r >= 1.0 {
            p
        } else {
            tidy(p * r)
        }
    }

    /// The start of a timed need's bookings (every dispatch of it starts then).
    fn booked_start(&self, need: &str) -> Option<f64> {
        if !self.timed || self.need(need).is_none_or(|n| n.duration_h.is_none()) {
            return None;
        }
        self.dispatches
            .iter()
            .find(|d| d.need == need)
            .and_then(|d| d.start_h)
    }

    fn recompute_residual(&mut self, ri: usize) {
        let mut r = self.resources[ri].clone();
        let reusable = &self.policy.reusable;
        for d in self.dispatches.iter().filter(|d| d.resource == r.id) {
            if self.timed {
                // Consumable amounts are used up; reusable ones are held over the booking.
                for (dim, a) in d.amounts.iter().filter(|(dim, _)| !reusable.contains(*dim)) {
                    let c = r.capacity.entry(dim.clone()).or_insert(0.0);
                    *c = (*c - a).max(0.0);
                }
                if let Some(h) = self.hold_of(d, &r) {
                    r.holds.push(h);
                }
            } else if d.active {
                for (dim, a) in &d.amounts {
                    let c = r.capacity.entry(dim.clone()).or_insert(0.0);
                    *c = (*c - a).max(0.0);
                }
            }
        }
        self.residual[ri] = r;
    }

    /// When a dispatch of a timed session occupies its resource `r`: from its start until
    /// its end plus `r`'s turnaround (a need without a duration: from its earliest hour on,
    /// for good), or until its return plus the turnaround. None when returned without a clock.
    pub(super) fn occupied(&self, d: &Dispatch, r: &Resource) -> Option<(f64, f64)> {
        let turnaround = r.turnaround_h.unwrap_or(0.0);
        let end = match (d.active, d.returned_h, d.end_h) {
            (false, None, _) => return None,
            // Kept to 1e-9 h as the solve keeps its ends (`usable_starts`), so that the
            // re-plan and a fresh solve see the same free time.
            (_, Some(back), _) => crate::model::snap_time(back + turnaround),
            (true, None, Some(end)) => crate::model::snap_time(end + turnaround),
            (true, None, None) => f64::INFINITY,
        };
        // Every dispatch of a timed session records when its occupation began.
        Some((d.start_h?, end))
    }

    /// What a dispatch of a timed session holds of its resource `r` from now on: its
    /// reusable amounts over [`Session::occupied`], none once that is over by the clock.
    fn hold_of(&self, d: &Dispatch, r: &Resource) -> Option<crate::model::Hold> {
        let (start, end) = self.occupied(d, r)?;
        if self.clock.is_some_and(|now| end <= now) {
            return None;
        }
        let amounts: Quantities = d
            .amounts
            .iter()
            .filter(|(dim, a)| self.policy.reusable.contains(*dim) && **a > 0.0)
            .map(|(dim, a)| (dim.clone(), *a))
            .collect();
        (!amounts.is_empty()).then_some(crate::model::Hold {
            start,
            end,
            amounts,
        })
    }

    /// The session clock.
    pub fn clock(&self) -> Option<f64> {
        self.clock
    }

    /// The active bookings whose end is before the clock: the item should be back and no
    /// `resource_returned` says it is. The plan still counts on it from its end (a stay that
    /// nobody closes is over; a tool not brought back is not), so it is listed for the
    /// coordinator to chase, or to record the return when it comes. A booking in conflict
    /// (its item was not there to hand over: [`Session::conflicts`]) is listed there instead.
    pub fn overdue(&self) -> Vec<&Dispatch> {
        let Some(now) = self.clock else {
            return Vec::new();
        };
        let past: Vec<&Dispatch> = self
            .dispatches
            .iter()
            .filter(|d| d.active && d.end_h.is_some_and(|end| end < now))
            .collect();
        if past.is_empty() {
            return past;
        }
        let conflicts = self.conflicts();
        past.into_iter()
            .filter(|d| !conflicts.iter().any(|c| c.booking == **d))
            .collect()
    }

    /// Every confirmed booking in conflict now (its resource over capacity at some instant
    /// of its occupation after a late return, or its capacity lowered below what the
    /// dispatches use), with what the re-plan would propose once they are all released;
    /// they stay listed until `dispatch_released`, a return or a capacity raised again ends
    /// them.
    pub fn conflicts(&self) -> Vec<BookingConflict> {
        self.open_conflicts
            .get_or_init(|| self.compute_conflicts())
            .clone()
    }
}

/// An entity as JSON input would give it (absent optional fields left out).
fn entity_value<T: Serialize>(x: &T) -> Value {
    let mut v = serde_json::to_value(x).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.retain(|_, f| !f.is_null());
    }
    v
}

fn one_need(v: &Value) -> Result<Need, ReplayError> {
    Ok(scenario_from_logged_value(&json!({"resources": [], "needs": [v]}))?.needs[0].clone())
}

fn one_resource(v: &Value) -> Result<Resource, ReplayError> {
    Ok(scenario_from_logged_value(&json!({"resources": [v], "needs": []}))?.resources[0].clone())
}
