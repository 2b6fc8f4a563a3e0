//! Why a need is not served in full (SPEC section 2, "Explanations"): one row per need, built
//! from a solved [`Outcome`] by [`explain`]. The CLI's `--explain`, `/v1/solve`'s `"explain":
//! true` and a live session's `why` route all answer these rows.

use crate::graph::{check_link, distance, excluded_by_time, Excluded};
use crate::lp::LEX_TOL;
use crate::model::{Fairness, Objective, Scenario};
use crate::results::SHARE_EPS;
use crate::solve::{group_key, ConflictKind, Duals, Outcome, SolverUsed, Solvers, Status};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Shares and capacities closer than this to their bound count as at the bound.
const EPS: f64 = 1e-9;
/// A need served less than this below its coverage in the plan without fairness was not
/// held back by fairness.
const FAIRNESS_EPS: f64 = 1e-6;
/// Capacity left below this (relative to `max(1, capacity)`) is used up: HiGHS's primal
/// feasibility tolerance. (A positive shadow price also says it binds.)
pub const USED_UP_TOL: f64 = 1e-7;
/// How many of the nearest excluded resources a `no_candidate` or `time` row lists (and
/// one more: the nearest miss, when none of them is one).
const NEAREST: usize = 5;

/// Why a need is not served in full. One reason per need, the first that holds in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The scenario has no plan and this need's `min_fill` is in its conflict (or, for the
    /// greedy baseline, its plan leaves the need below its `min_fill`).
    MinFill,
    /// The scenario has no plan for other reasons (a group's `min_share`, another need's
    /// `min_fill`).
    Infeasible,
    /// Some resource passes every link rule but the time rules: the windows collide.
    Time,
    /// No resource passes the link rules.
    NoCandidate,
    /// The plan without fairness serves it more: capacity went to other groups.
    Fairness,
    /// Every linked resource is used up in a dimension this need uses (for an indivisible
    /// need: has less left than serving it in full takes).
    Capacity,
    /// Serving more would not raise the objective: under `cost`, `weighted` or `deprivation`
    /// whatever capacity is added (`cost` serves only `min_fill`; its links cost more than
    /// it gains), given before `capacity` since capacity added would change nothing; or
    /// capacity is left.
    Objective,
    /// The solve stopped at its time limit: the plan is not a proven optimum, so no other
    /// reason can be given.
    TimeLimit,
    /// Served in full (the session route answers it; plans list only needs not served in full).
    Served,
}

impl Reason {
    /// The serde spelling (the why table's `reason` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MinFill => "min_fill",
            Reason::Infeasible => "infeasible",
            Reason::Time => "time",
            Reason::NoCandidate => "no_candidate",
            Reason::Fairness => "fairness",
            Reason::Capacity => "capacity",
            Reason::Objective => "objective",
            Reason::TimeLimit => "time_limit",
            Reason::Served => "served",
        }
    }
}

impl Why {
    /// The row of a need served in full.
    pub fn served(need: &str, marginal_value: Option<f64>) -> Why {
        Why {
            need: need.to_string(),
            coverage: 1.0,
            reason: Reason::Served,
            explanation: "served in full".into(),
            marginal_value,
            candidates: None,
            linked_resources: None,
            groups: None,
        }
    }

    /// The row's evidence as one JSON object (`candidates`, `linked_resources`, `groups`,
    /// whichever the reason has): the why table's `evidence` column.
    pub fn evidence(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |key: &str, v: serde_json::Result<serde_json::Value>| {
            m.insert(key.into(), v.unwrap_or(serde_json::Value::Null));
        };
        if let Some(c) = &self.candidates {
            put("candidates", serde_json::to_value(c));
        }
        if let Some(l) = &self.linked_resources {
            put("linked_resources", serde_json::to_value(l));
        }
        if let Some(g) = &self.groups {
            put("groups", serde_json::to_value(g));
        }
        serde_json::Value::Object(m)
    }
}

/// Why one need is served as it is, with the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Why {
    pub need: String,
    pub coverage: f64,
    pub reason: Reason,
    /// The reason in words, for a planner's meeting.
    pub explanation: String,
    /// Value one more unit of this need's coverage would add (dual of its `y <= 1`); None
    /// where the plan has no duals (`duals: "none"`: greedy, or no plan).
    pub marginal_value: Option<f64>,
    /// `no_candidate` and `time`: the nearest excluded resources and the rule excluding each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
    /// `capacity`, `fairness`, `objective`: the linked resources and what they serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_resources: Option<Vec<LinkedResource>>,
    /// `fairness`: every group's ratio in this plan and in the plan without fairness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRatio>>,
}

/// A resource the link rules exclude for a need.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    pub resource: String,
    pub distance_km: Option<f64>,
    pub excluded_by: Excluded,
    pub explanation: String,
}

/// A resource linked to a need, with what its capacity serves instead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedResource {
    pub resource: String,
    /// Capacity left in the plan, per dimension the link uses.
    pub capacity_left: BTreeMap<String, f64>,
    /// Gain per extra unit of capacity, per dimension (those at 0 left out).
    pub shadow_price: BTreeMap<String, f64>,
    pub serves_instead: Vec<ServedNeed>,
}

/// A need a resource serves, and its share.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServedNeed {
    pub need: String,
    pub share: f64,
    pub priority: f64,
}

/// A group's coverage ratio with and without fairness.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupRatio {
    pub group: String,
    pub ratio: f64,
    pub ratio_without_fairness: f64,
}

/// One row per need not served in full, in need order; none when the solve failed (status
/// `error`: there is no plan to explain).
pub fn explain(o: &Outcome) -> Vec<Why> {
    if o.solution.status == Status::Error {
        return Vec::new();
    }
    let plan = Plan::of(o);
    (0..o.scenario.needs.len())
        .filter(|&n| !plan.served_in_full(n))
        .map(|n| plan.why(n))
        .collect()
}

/// The row of need `n` (by position), `reason: served` when it is served in full; `None`
/// for a position out of range or a failed solve.
pub fn explain_need(o: &Outcome, n: usize) -> Option<Why> {
    let planned = o.solution.status != Status::Error;
    (planned && n < o.scenario.needs.len()).then(|| Plan::of(o).why(n))
}

/// Per need, how much of its coverage the stages' holds let a later stage take, given the
/// plan's value `V = value`:
/// - under the coverage objective, SPEC's hold `V >= V* - 1e-7 max(1, V*)`: `1e-7 max(1, V)
///   / priority`;
/// - under max-min and leximin, the group floors held `1e-7` below the level (and leximin's
///   ceilings `1e-7` above it): `1e-7 P_g / priority` for the need's group of total priority
///   `P_g` (a need 4.7e-7 short under leximin was told serving more would not improve the
///   objective).
///
/// Never past `SERVED_BAND`: the band of a need whose priority is tiny beside V reaches whole
/// percents (above 1 at V = 1e6 and priority 0.05), and a need at 0.99, or a resource with
/// half its capacity left, is not served in full or used up.
pub(crate) fn hold_bands(s: &Scenario, value: f64) -> Vec<f64> {
    let value_hold = value_hold(s, value);
    let group_holds =
        s.couples_groups() && matches!(s.policy.fairness, Fairness::Maxmin | Fairness::Leximin);
    let mut group_priority: HashMap<&str, f64> = HashMap::new();
    if group_holds {
        for need in &s.needs {
            *group_priority.entry(s.policy.group_of(need)).or_default() += need.priority;
        }
    }
    s.needs
        .iter()
        .map(|need| {
            let group = group_priority.get(s.policy.group_of(need)).copied();
            let held = value_hold + group.map_or(0.0, |p| 1.001 * LEX_TOL * p);
            (held / need.priority).min(SERVED_BAND)
        })
        .collect()
}

/// The value `V * priority` a need's coverage may fall short by under SPEC's hold `V >= V* -
/// 1e-7 max(1, V*)` of the coverage objective (0 under other objectives).
fn value_hold(s: &Scenario, value: f64) -> f64 {
    // (`V` is the plan's, a hair below `V*`: the factor covers the difference.)
    if s.policy.objective == Objective::Coverage {
        1.001 * LEX_TOL * value.max(1.0)
    } else {
        0.0
    }
}

/// Whether a need at coverage `y` counts as served in full, given its band of
/// [`hold_bands`]: the one threshold of the summary's `needs_served`/`needs_partly_served`
/// and of the rows.
// The holds' band, not a bare 1e-9: a shortfall the holds let a later stage take is no
// defect (1.5e-6 in the flood example).
pub(crate) fn served_in_full(band: f64, y: f64) -> bool {
    y >= 1.0 - band.max(EPS)
}

/// The largest shortfall that still counts as served in full ([`served_in_full`]), and the
/// most of a resource's capacity that counts as used up ([`hold_band`]).
const SERVED_BAND: f64 = 1e-4;

/// What the rows read of a solved outcome, computed once.
struct Plan<'o, 'a> {
    o: &'o Outcome<'a>,
    /// `min(1, y_n)` per need.
    y: Vec<f64>,
    /// `V = sum_n p_n y_n`.
    value: f64,
    /// Per need, the shortfall the stages' holds allow ([`hold_bands`]).
    bands: Vec<f64>,
    /// `V * priority` of the value hold alone ([`value_hold`]): room for no more than this
    /// is none (the cost stage may leave it). The group floors' band is not room: a stage
    /// after max-min that left capacity unused did so for its own objective.
    value_band: f64,
    /// Capacity left per `resource * D + dim`.
    left: Vec<f64>,
    /// Edges into each need.
    edges_of_need: Vec<Vec<usize>>,
    /// Edges out of each resource.
    edges_of_resource: Vec<Vec<usize>>,
    /// Timed scenarios: the plan's bookings per `resource * D + dim` of each reusable
    /// dimension (what is left there depends on when).
    booked: Vec<crate::timed::Bookings>,
    /// With listed links: the listed links without a usable start of every need left without
    /// links, by need (one pass over the links, on the first row that asks).
    listed_misses: std::cell::OnceCell<HashMap<usize, Vec<(usize, Excluded)>>>,
    /// Each group's ratio with and without fairness (the same for every row: worked out on
    /// the first row that asks).
    group_ratios: std::cell::OnceCell<Vec<GroupRatio>>,
    /// The plan is the greedy baseline's (first come, first served), not an optimum.
    greedy: bool,
}

impl<'o, 'a> Plan<'o, 'a> {
    fn of(o: &'o Outcome<'a>) -> Self {
        let (s, net, x) = (o.scenario, &o.network, &o.solution.x);
        let nd = net.num_dims();
        let mut y = vec![0.0; s.needs.len()];
        let mut left: Vec<f64> = (0..s.resources.len())
            .flat_map(|r| net.cap(r).to_vec())
            .collect();
        let mut edges_of_need = vec![Vec::new(); s.needs.len()];
        let mut edges_of_resource = vec![Vec::new(); s.resources.len()];
        // A live session's confirmed bookings are booked before the plan's.
        let mut booked: Vec<crate::timed::Bookings> = net
            .time
            .as_ref()
            .map(|t| t.held.clone())
            .unwrap_or_default();
        for (e, edge) in net.edges.iter().enumerate() {
            // As the needs table counts it: a share at or below SHARE_EPS is no allocation.
            if x[e] > SHARE_EPS {
                y[edge.need()] += x[e];
            }
            for (d, u) in net.edge_use(e).iter().enumerate() {
                left[edge.resource() * nd + d] -= u * x[e];
                if let (Some(t), true) = (&net.time, x[e] > 0.0) {
                    let o = t.occupation[e];
                    booked[edge.resource() * nd + d].book(o.start, o.end, u * x[e]);
                }
            }
            edges_of_need[edge.need()].push(e);
            edges_of_resource[edge.resource()].push(e);
        }
        let y: Vec<f64> = y.into_iter().map(|v: f64| v.min(1.0)).collect();
        let value = s.needs.iter().zip(&y).map(|(n, y)| n.priority * y).sum();
        Plan {
            o,
            y,
            value,
            bands: hold_bands(s, value),
            value_band: value_hold(s, value),
            left,
            edges_of_need,
            edges_of_resource,
            booked,
            listed_misses: std::cell::OnceCell::new(),
            group_ratios: std::cell::OnceCell::new(),
            greedy: o.solution.solver == Solvers::one(SolverUsed::Greedy),
        }
    }

    /// The scenario's listed links to need `n` (left without links) that have no usable
    /// start, with the numbers of the time rule.
    fn listed_without_start(&self, n: usize) -> Vec<(usize, Excluded)> {
        let misses = self.listed_misses.get_or_init(|| {
            let unlinked: Vec<usize> = (0..self.edges_of_need.len())
                .filter(|&m| self.edges_of_need[m].is_empty())
                .collect();
            let found = excluded_by_time(self.o.scenario, &unlinked);
            unlinked.into_iter().zip(found).collect()
        });
        misses.get(&n).cloned().unwrap_or_default()
    }

    /// Whether dimension `d` is reusable in a timed scenario: what is left of it depends on
    /// the interval asked for.
    fn over_time(&self, d: usize) -> bool {
        self.o.network.time.as_ref().is_some_and(|t| t.reusable[d])
    }

    /// What edge `e`'s resource has left in dimension `d` for the edge: its total left, or,
    /// for a reusable dimension of a timed scenario, its capacity less the most booked at any
    /// instant of the edge's occupation.
    fn left_for(&self, e: usize, d: usize) -> f64 {
        let net = &self.o.network;
        let r = net.edges[e].resource();
        let nd = net.num_dims();
        match &net.time {
            Some(t) if t.reusable[d] => {
                let o = t.occupation[e];
                net.cap(r)[d] - self.booked[r * nd + d].peak(o.start, o.end)
            }
            _ => self.left[r * nd + d],
        }
    }

    /// How much of need `n`'s coverage left room counts as none ([`Plan::value_band`]).
    fn room_band(&self, n: usize) -> f64 {
        (self.value_band / self.o.scenario.needs[n].priority).min(SERVED_BAND)
    }

    fn served_in_full(&self, n: usize) -> bool {
        served_in_full(self.bands[n], self.y[n])
    }

    /// Why need `n` has no link, when it has none: no candidate passes the rules (the nearest
    /// excluded ones and the rule of each), or none of its listed links has a usable start.
    fn unlinked(&self, n: usize, why: &mut Why) -> bool {
        let s = self.o.scenario;
        let need = &s.needs[n];
        if self.edges_of_need[n].is_empty() && s.links.is_some() {
            // The time model drops a listed link without a usable start (rule 5 over time).
            let mut missed = self.listed_without_start(n);
            if missed.is_empty() {
                why.reason = Reason::NoCandidate;
                why.explanation = "the scenario's links list none to this need".into();
            } else {
                why.reason = Reason::Time;
                why.explanation = "no start of its time window fits on the links the scenario \
                                   lists to it (the windows that collide are listed)"
                    .into();
                nearest_first(s, n, &mut missed);
                why.candidates = Some(self.candidates(n, missed));
            }
            return true;
        }
        if self.edges_of_need[n].is_empty() {
            let candidates = self.nearest_excluded(n);
            let timed = candidates.iter().any(|c| c.excluded_by.is_time_rule());
            why.reason = if timed {
                Reason::Time
            } else {
                Reason::NoCandidate
            };
            why.explanation = if s.resources.is_empty() {
                "there are no resources".into()
            } else if timed {
                "resources that could serve it are not available in its time window (the \
                 windows that collide are listed)"
                    .into()
            } else {
                format!(
                    "no resource passes the link rules for this {} need; the nearest, the \
                     nearest miss when none of them is one, and the rule excluding each are \
                     listed",
                    need.kind
                )
            };
            why.candidates = Some(if timed {
                candidates
                    .into_iter()
                    .filter(|c| c.excluded_by.is_time_rule())
                    .collect()
            } else {
                candidates
            });
            return true;
        }
        false
    }

    fn why(&self, n: usize) -> Why {
        let (s, sol) = (self.o.scenario, &self.o.solution);
        let need = &s.needs[n];
        let priced = sol.duals != Duals::None;
        let mut why = Why::served(&need.id, priced.then(|| sol.marginal[n] + 0.0));
        why.coverage = self.y[n];
        if self.served_in_full(n) {
            return why;
        }
        let greedy = self.greedy;
        if sol.status == Status::Infeasible {
            let inf = sol.infeasibility.as_ref();
            // Rows follow the conflict, the proof, where it was computed: a need is told of
            // its min_fill only when that is a member (it was told so, pointing at a conflict
            // of groups' min_share alone, because the least relaxation fell on it).
            let member = |kind: ConflictKind, id: &str| {
                inf.is_some_and(|i| {
                    i.conflicts()
                        .flatten()
                        .any(|c| c.kind == kind && c.id == id)
                })
            };
            let proven = inf.is_some_and(|i| i.conflicts().next().is_some());
            let in_conflict = if proven {
                member(ConflictKind::MinFill, &need.id)
            } else {
                inf.is_some_and(|i| i.needs.contains(&need.id))
            };
            let group = s.policy.group_of(need);
            // No link at all is the cause to tell first (a min_fill that cannot hold is then
            // its consequence): "min_fill cannot hold" alone hid a missing skill or a radius.
            if self.unlinked(n, &mut why) {
                if in_conflict {
                    why.explanation = if greedy {
                        format!(
                            "{}; so the greedy plan leaves it below its min_fill {}",
                            why.explanation, need.min_fill
                        )
                    } else {
                        format!(
                            "{}; so its min_fill {} cannot hold (see summary.infeasibility's \
                             conflicts)",
                            why.explanation, need.min_fill
                        )
                    };
                }
                return why;
            }
            if in_conflict {
                why.reason = Reason::MinFill;
                why.explanation = if greedy {
                    format!(
                        "the greedy plan leaves it below its min_fill {}",
                        need.min_fill
                    )
                } else {
                    format!(
                        "no plan serves its min_fill {} together with the other hard constraints \
                         (see summary.infeasibility's conflicts)",
                        need.min_fill
                    )
                };
                return why;
            }
            if !greedy {
                why.reason = Reason::Infeasible;
                why.explanation = if member(ConflictKind::MinShare, group) {
                    format!(
                        "the scenario has no plan: the min_share of its group {group} cannot \
                         hold together with the other members of its conflict in \
                         summary.infeasibility"
                    )
                } else {
                    "the scenario has no plan: other needs' min_fill or groups' min_share \
                     cannot all hold (see summary.infeasibility)"
                        .into()
                };
                return why;
            }
            // A greedy plan exists: explain it like any other.
        }
        // A need without a link is so whatever the solve did (a time limit included).
        if self.unlinked(n, &mut why) {
            return why;
        }
        if sol.status == Status::TimeLimit {
            why.reason = Reason::TimeLimit;
            why.explanation = "the solve stopped at its time limit: this plan is the best found, \
                               not a proven optimum"
                .into();
            return why;
        }
        why.linked_resources = Some(self.linked(n));
        // An indivisible need larger than every linked resource can hold, even empty: no plan
        // serves it, with or without fairness, whatever the others take.
        if let Some(largest) = self.too_large_for_every_link(n) {
            why.reason = Reason::Capacity;
            why.explanation = largest;
            return why;
        }
        // Fairness held it back when fairness cost value (the plan that prices it, best
        // coverage without fairness, is worth more) and capacity this need could use went to
        // needs of other groups worth no more per unit of it: only for objectives that value
        // coverage. Tried first, as it reads this plan alone, not which of several plans
        // without fairness the solver found (that choice follows the input's row order).
        let efficient = self.o.efficient.as_ref();
        let priced =
            efficient.is_some_and(|e| e.value > self.value + FAIRNESS_EPS * e.value.max(1.0));
        let values_coverage = matches!(
            s.policy.objective,
            Objective::Coverage | Objective::Proportional
        );
        // A greedy plan leaves fairness aside: its shortfall is first-come-first-served, even
        // where its price of fairness (SPEC: against `V_eff`) is positive.
        let fair_rule = s.policy.couples_groups() && values_coverage && priced && !greedy;
        let given = if fair_rule {
            self.given_to_other_groups(n, true)
        } else {
            Vec::new()
        };
        // Capacity can also reach other groups the long way round (over time, through
        // indivisible needs, through a chain of resources), where no one swap shows it: then
        // the plan without fairness must serve the need more, with its group's ratio lower
        // and another's higher here, and a linked resource must serve another group.
        let without = efficient.map(|e| e.coverage[n]);
        let around = if fair_rule
            && given.is_empty()
            && without.is_some_and(|w| w > self.y[n] + FAIRNESS_EPS)
            && self.fairness_lowered_group_of(n)
        {
            self.given_to_other_groups(n, false)
        } else {
            Vec::new()
        };
        if !given.is_empty() || !around.is_empty() {
            why.reason = Reason::Fairness;
            let groups = self.group_ratios().to_vec();
            let own = group_key(s, need);
            let group = groups.iter().find(|g| g.group == own);
            let ratio = group.map_or(0.0, |g| g.ratio);
            why.explanation = if !given.is_empty() {
                format!(
                    "capacity it could use serves needs of other groups ({}) worth no more per \
                     unit than it, and the plan without fairness is worth {:.3} instead of \
                     {:.3}: fairness gave that capacity to other groups; its group {own} has \
                     ratio {ratio:.3} (every group's ratio is listed, with one plan without \
                     fairness)",
                    given.join(", "),
                    efficient.map_or(0.0, |e| e.value),
                    self.value,
                )
            } else {
                format!(
                    "a plan without fairness serves it {:.3} instead of {:.3}, and its group \
                     {own} {:.3} instead of {ratio:.3}, while capacity it could use serves \
                     other groups ({}): fairness gave that capacity to other groups (their \
                     ratios are listed)",
                    without.unwrap_or(0.0),
                    self.y[n],
                    group.map_or(0.0, |g| g.ratio_without_fairness),
                    around.join(", "),
                )
            };
            why.groups = Some(groups);
            return why;
        }
        // An objective that cannot gain from serving the need more, whatever capacity is
        // added, is the reason even where its links are used up (more capacity would change
        // nothing). A greedy plan fills what it can whatever the objective.
        if let Some(declined) = self.objective_declines(n).filter(|_| !greedy) {
            why.reason = Reason::Objective;
            why.explanation = declined;
            return why;
        }
        if self.no_room_for(n) {
            why.reason = Reason::Capacity;
            // Only what the evidence shows: the other needs served may be worth less per
            // unit (a plan weighs the whole network), and an indivisible need is kept out by
            // what is left, not by what is used.
            why.explanation = if need.indivisible {
                "it is indivisible, and no linked resource has enough left to serve it in full \
                 (what each has left and serves instead is listed)"
                    .into()
            } else {
                let used_up = "every linked resource is used up in a dimension this need uses \
                               (what each serves instead is listed)";
                if sol.duals == Duals::FixedMip {
                    // The LP's with the integer choices fixed: a unit more may let an
                    // indivisible need in, which no such price sees.
                    format!(
                        "{used_up}; the shadow prices are those of the plan's LP with its \
                         integer choices fixed, which do not bound what a unit more gains"
                    )
                } else if greedy && self.booked_start(n).is_some() {
                    // Greedy over time keeps the first start with room (SPEC): what a later
                    // start has left is not room for it.
                    "every linked resource is used up at the start the greedy plan took for it \
                     (first come, first served: its earliest start with room; what each serves \
                     instead is listed)"
                        .into()
                } else if sol.duals == Duals::None {
                    // A plan without duals (greedy) has no shadow prices to cite.
                    used_up.into()
                } else {
                    // A dual bounds the gain of one more unit from above: when another limit
                    // binds at the same point (a degenerate plan), adding to this one alone
                    // gains less (SPEC's finite-difference check is two-sided for that).
                    format!(
                        "{used_up}; one more unit of a resource adds up to its shadow price \
                         (less when another limit binds with it)"
                    )
                }
            };
        } else {
            why.reason = Reason::Objective;
            why.explanation = format!(
                "capacity is left, but serving more would not improve the objective ({})",
                s.policy.objective.as_str()
            );
        }
        why
    }

    /// For an indivisible need `n` that no linked resource could serve whole even with
    /// nothing else served (its use passes the resource's whole capacity in some dimension),
    /// the words that say so, naming the dimension and the most any linked resource has.
    fn too_large_for_every_link(&self, n: usize) -> Option<String> {
        let (s, net) = (self.o.scenario, &self.o.network);
        let edges = &self.edges_of_need[n];
        if !s.needs[n].indivisible || edges.is_empty() {
            return None;
        }
        let nd = net.dims.len();
        // Per edge, the first dimension its use passes the resource's capacity in.
        let mut over: Vec<(usize, usize, f64)> = Vec::new();
        for &e in edges {
            let r = net.edges[e].resource();
            let d = net
                .edge_use(e)
                .iter()
                .enumerate()
                .position(|(d, &u)| u > net.capacity[r * nd + d] * (1.0 + 1e-9) + 1e-12)?;
            over.push((r, d, net.edge_use(e)[d]));
        }
        let (r, d, need_use) = *over.iter().max_by(|a, b| {
            let cap = |&(r, d, _): &(usize, usize, f64)| net.capacity[r * nd + d];
            cap(a).total_cmp(&cap(b))
        })?;
        Some(format!(
            "it is indivisible and needs {need_use} {dim} from one resource, more than any \
             linked resource holds even with nothing else served (the most is {} at {})",
            net.capacity[r * nd + d],
            s.resources[r].id,
            dim = net.dims[d],
        ))
    }

    /// The start a timed, divisible need `n` is served at (SPEC: one start per need), if it
    /// is served at all.
    fn booked_start(&self, n: usize) -> Option<f64> {
        if self.o.scenario.needs[n].indivisible {
            return None;
        }
        let (net, x) = (&self.o.network, &self.o.solution.x);
        self.edges_of_need[n]
            .iter()
            .find(|&&e| x[e] > SHARE_EPS)
            .and_then(|&e| net.start(e))
    }

    /// Why the objective, whatever capacity were added, gains nothing from serving need `n`
    /// more (SPEC's objectives, per share of the need through link `e` of cost `c_e`):
    /// `cost` only adds `c_e`; `weighted` gains `p_n - w c_e`; `deprivation` gains `p_n`
    /// times the slope of `f` just below the unmet share `u = 1 - y_n` (the most any further
    /// share gains, `f` being convex) less `w c_e`. `None` when some link gains (coverage and
    /// proportional always gain from more).
    fn objective_declines(&self, n: usize) -> Option<String> {
        let (s, net) = (self.o.scenario, &self.o.network);
        if matches!(
            s.policy.objective,
            Objective::Coverage | Objective::Proportional
        ) {
            return None;
        }
        let (p, w) = (s.needs[n].priority, s.policy.cost_weight);
        let cheapest = self.edges_of_need[n]
            .iter()
            .map(|&e| net.edges[e].cost)
            .fold(f64::INFINITY, f64::min);
        match s.policy.objective {
            Objective::Coverage | Objective::Proportional => None,
            // A link of negative cost (SPEC allows it) lowers C as it serves more: then
            // capacity can be the reason.
            Objective::Cost => (cheapest >= 0.0).then(|| {
                "the objective is cost: serving more than its min_fill only adds cost, \
                 whatever capacity is added"
                    .into()
            }),
            Objective::Weighted => (p - w * cheapest <= 0.0).then(|| {
                format!(
                    "its cheapest link costs {cheapest} a share, times cost_weight {w}, and a \
                     share gains its priority {p}: serving it more would lower the objective \
                     (weighted), whatever capacity is added"
                )
            }),
            Objective::Deprivation => {
                let u = 1.0 - self.y[n];
                let slope = s.policy.deprivation.as_ref().map_or(0.0, |f| {
                    let points = f.breakpoints();
                    // A share at a breakpoint up to rounding (an LP's 0.4999999999) is on
                    // the piece below it, where the solver stopped.
                    points
                        .windows(2)
                        .find(|w| u <= w[1].0 + SHARE_EPS)
                        .or(points.windows(2).last())
                        .map_or(0.0, |w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
                });
                (p * slope - w * cheapest <= 0.0).then(|| {
                    format!(
                        "a share more lowers its deprivation cost by at most {} (priority {p} \
                         times the slope {slope} of the cost of its unmet share {u:.3}), no \
                         more than its cheapest link costs ({cheapest} a share, times \
                         cost_weight {w}): serving it more would lower the objective \
                         (deprivation), whatever capacity is added",
                        p * slope
                    )
                })
            }
        }
    }

    /// Whether no linked resource can give need `n` more. One start per need: a need served
    /// at a start grows only there, or by moving all of it to another start, so another start
    /// is room only if the need's links there could serve more than it has now. A greedy plan
    /// keeps the first start with room (SPEC's greedy with time): only that start counts.
    fn no_room_for(&self, n: usize) -> bool {
        let net = &self.o.network;
        let Some(at) = self.booked_start(n) else {
            return self.edges_of_need[n]
                .iter()
                .all(|&e| self.used_up_for(e, n));
        };
        let mut elsewhere: Vec<f64> = Vec::new();
        for &e in &self.edges_of_need[n] {
            match net.start(e) {
                Some(s) if s != at && self.greedy => {}
                Some(s) if s != at => {
                    if !elsewhere.contains(&s) {
                        elsewhere.push(s);
                    }
                }
                _ => {
                    if !self.used_up_for(e, n) {
                        return false;
                    }
                }
            }
        }
        let band = self.room_band(n);
        elsewhere
            .into_iter()
            .all(|s| self.servable_at(n, s) <= self.y[n] + band.max(USED_UP_TOL))
    }

    /// How much of need `n` its links could serve at start `s`, were the need moved there
    /// whole (its own bookings taken out first).
    fn servable_at(&self, n: usize, s: f64) -> f64 {
        let (net, x) = (&self.o.network, &self.o.solution.x);
        let nd = net.num_dims();
        let own = &self.edges_of_need[n];
        let served: f64 = own
            .iter()
            .filter(|&&e| net.start(e) == Some(s))
            .map(|&e| {
                let r = net.edges[e].resource();
                let on_r = || own.iter().filter(move |&&g| net.edges[g].resource() == r);
                let share = net.edge_use(e).iter().enumerate().filter(|(_, &u)| u > 0.0);
                share
                    .map(|(d, &u)| {
                        let left = match &net.time {
                            Some(t) if t.reusable[d] => {
                                let mut b = self.booked[r * nd + d].clone();
                                for &g in on_r().filter(|&&g| x[g] > 0.0) {
                                    let o = t.occupation[g];
                                    b.unbook(o.start, o.end, net.edge_use(g)[d] * x[g]);
                                }
                                let o = t.occupation[e];
                                net.cap(r)[d] - b.peak(o.start, o.end)
                            }
                            _ => {
                                let mine: f64 = on_r().map(|&g| net.edge_use(g)[d] * x[g]).sum();
                                self.left[r * nd + d] + mine
                            }
                        };
                        (left / u).clamp(0.0, 1.0)
                    })
                    .fold(1.0, f64::min)
            })
            .sum();
        served.min(1.0)
    }

    /// Whether edge `e`'s resource cannot give need `n` more: less left than the edge uses
    /// for the rest of the need (all of it, for an indivisible need) in some dimension. Under
    /// coverage, room for no more than the hold's band is none (the cost stage may leave it).
    fn used_up_for(&self, e: usize, n: usize) -> bool {
        (0..self.o.network.num_dims()).any(|d| self.used_up_in(e, n, d))
    }

    /// [`Plan::used_up_for`] in dimension `d` alone.
    fn used_up_in(&self, e: usize, n: usize, d: usize) -> bool {
        let net = &self.o.network;
        let nd = net.num_dims();
        let r = net.edges[e].resource();
        let u = net.edge_use(e)[d];
        if u <= 0.0 {
            return false;
        }
        let left = self.left_for(e, d);
        let tol = USED_UP_TOL * net.cap(r)[d].max(1.0);
        if self.o.scenario.needs[n].indivisible {
            return left < u - tol;
        }
        // A positive shadow price says the capacity binds (complementary slackness) even
        // where a MIP's tolerances leave a sliver of it unused; over time the price is the
        // largest instant's, which may not be this edge's interval.
        let binds = self.o.solution.shadow[r * nd + d] > 0.0 && !self.over_time(d);
        left <= tol.max(u * self.room_band(n)) || binds
    }

    /// The resources linked to need `n`, what is left of them and what they serve instead.
    fn linked(&self, n: usize) -> Vec<LinkedResource> {
        let (s, net, sol) = (self.o.scenario, &self.o.network, &self.o.solution);
        let nd = net.num_dims();
        // One entry per resource: a timed link is several edges (its starts), and what is left
        // for the need is what is left at the start it is served at, else the most left at any
        // of them.
        let booked = self.booked_start(n);
        let mut seen = std::collections::HashSet::new();
        let links: Vec<usize> = self.edges_of_need[n]
            .iter()
            .copied()
            .filter(|&e| seen.insert(net.edges[e].resource()))
            .collect();
        links
            .into_iter()
            .map(|e| {
                let r = net.edges[e].resource();
                let starts: Vec<usize> = self.edges_of_need[n]
                    .iter()
                    .copied()
                    .filter(|&f| net.edges[f].resource() == r)
                    .collect();
                let at_booked: Vec<usize> = starts
                    .iter()
                    .copied()
                    .filter(|&f| booked.is_some() && net.start(f) == booked)
                    .collect();
                let judged = if at_booked.is_empty() {
                    &starts
                } else {
                    &at_booked
                };
                let used_dims = (0..nd).filter(|&d| net.edge_use(e)[d] > 0.0);
                let capacity_left = used_dims
                    .map(|d| {
                        let most = judged
                            .iter()
                            .map(|&f| self.left_for(f, d))
                            .fold(f64::NEG_INFINITY, f64::max);
                        (net.dims[d].clone(), most.max(0.0))
                    })
                    .collect();
                let shadow_price = (0..nd)
                    .filter(|&d| sol.shadow[r * nd + d] > 0.0)
                    .map(|d| (net.dims[d].clone(), sol.shadow[r * nd + d]))
                    .collect();
                let serves_instead = self.edges_of_resource[r]
                    .iter()
                    .filter(|&&f| net.edges[f].need() != n && sol.x[f] > EPS)
                    .filter(|&&f| self.competes(e, &starts, f))
                    .map(|&f| {
                        let other = &s.needs[net.edges[f].need()];
                        ServedNeed {
                            need: other.id.clone(),
                            share: sol.x[f],
                            priority: other.priority,
                        }
                    })
                    .collect();
                LinkedResource {
                    resource: s.resources[r].id.clone(),
                    capacity_left,
                    shadow_price,
                    serves_instead,
                }
            })
            .collect()
    }

    /// Whether edge `f` of a resource takes what need edge `e` (one of its starts `starts` on
    /// that resource) uses: always in a consumable dimension; in a reusable one only when
    /// `f`'s occupation overlaps one of the need's candidate occupations.
    fn competes(&self, e: usize, starts: &[usize], f: usize) -> bool {
        let net = &self.o.network;
        let Some(t) = &net.time else {
            return true;
        };
        let overlaps = || {
            let b = t.occupation[f];
            starts.iter().any(|&g| {
                let a = t.occupation[g];
                a.start < b.end && b.start < a.end
            })
        };
        let mut used = net.edge_use(e).iter().enumerate().filter(|(_, &u)| u > 0.0);
        used.any(|(d, _)| !t.reusable[d] || (net.edge_use(f)[d] > 0.0 && overlaps()))
    }

    /// Every resource, nearest first (by distance where known, else input order), with the
    /// rule that excludes it for need `n`; at most [`NEAREST`].
    fn nearest_excluded(&self, n: usize) -> Vec<Candidate> {
        let s = self.o.scenario;
        let need = &s.needs[n];
        let mut excluded: Vec<(usize, Excluded)> = s
            .resources
            .iter()
            .enumerate()
            .filter_map(|(ri, r)| Some((ri, check_link(ri, r, n, need, &s.policy).err()?)))
            .collect();
        nearest_first(s, n, &mut excluded);
        self.candidates(n, excluded)
    }

    /// The first [`NEAREST`] of `excluded` as the row lists them, and after them the nearest
    /// miss when none of them is one: the first resource that passed more link rules than any
    /// listed (one beyond the radius with the kind and skills asked for). A drill 0.33 km away
    /// beyond a 0.2 km radius was left out for five nearer resources without the skill, and
    /// the planner never read that the radius was the cause.
    fn candidates(&self, n: usize, mut excluded: Vec<(usize, Excluded)>) -> Vec<Candidate> {
        let s = self.o.scenario;
        let listed = excluded.len().min(NEAREST);
        let best_listed = excluded[..listed]
            .iter()
            .map(|(_, e)| e.rules_passed())
            .max()
            .unwrap_or(0);
        let miss = excluded[listed..]
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| e.rules_passed() > best_listed)
            .max_by_key(|(k, (_, e))| (e.rules_passed(), std::cmp::Reverse(*k)))
            .map(|(k, _)| listed + k);
        if let Some(k) = miss {
            excluded.swap(listed, k);
        }
        let shown = listed + usize::from(miss.is_some());
        excluded
            .into_iter()
            .take(shown)
            .map(|(ri, e)| Candidate {
                resource: s.resources[ri].id.clone(),
                distance_km: distance(&s.resources[ri], &s.needs[n]),
                explanation: e.to_string(),
                excluded_by: e,
            })
            .collect()
    }

    /// Whether fairness took from need `n`'s group for others: its group's ratio is below its
    /// ratio without fairness and some other group's is above. (The need itself served less
    /// than in the one plan without fairness proves nothing: that capacity may have gone to its
    /// own group.)
    fn fairness_lowered_group_of(&self, n: usize) -> bool {
        let s = self.o.scenario;
        let own = group_key(s, &s.needs[n]);
        let ratios = self.group_ratios();
        let lower = |g: &GroupRatio| g.ratio < g.ratio_without_fairness - FAIRNESS_EPS;
        let higher = |g: &GroupRatio| g.ratio > g.ratio_without_fairness + FAIRNESS_EPS;
        ratios.iter().any(|g| g.group == own && lower(g))
            && ratios.iter().any(|g| g.group != own && higher(g))
    }

    /// The other groups (sorted) whose needs hold capacity need `n` could use: a linked
    /// resource used up for `n` in some dimension serves such a need `m` (above its
    /// `min_fill`) on an edge that uses every dimension used up for `n`, over time holding
    /// a reusable one through all of `n`'s occupation. With `worth`, only needs worth no more per unit than `n`: `p_n /
    /// u_n[d] >= p_m / u_m[d]` in each such dimension (on a tie, at no more cost per share):
    /// moving capacity from `m` to `n` would then lose no value, so what keeps it with `m`
    /// is the fairness rule. Empty when no such need is found.
    fn given_to_other_groups(&self, n: usize, worth: bool) -> Vec<String> {
        let (s, net, x) = (self.o.scenario, &self.o.network, &self.o.solution.x);
        let own = s.policy.group_of(&s.needs[n]);
        let p_n = s.needs[n].priority;
        let mut groups = std::collections::BTreeSet::new();
        for &e in &self.edges_of_need[n] {
            let r = net.edges[e].resource();
            let u_n = net.edge_use(e);
            let tight: Vec<usize> = (0..u_n.len())
                .filter(|&d| self.used_up_in(e, n, d))
                .collect();
            if tight.is_empty() {
                continue;
            }
            for &g in &self.edges_of_resource[r] {
                let m = net.edges[g].need();
                let other = &s.needs[m];
                if m == n || x[g] <= SHARE_EPS || s.policy.group_of(other) == own {
                    continue;
                }
                if self.y[m] <= other.min_fill + EPS {
                    continue;
                }
                let u_m = net.edge_use(g);
                // Freeing `m` frees room for `n` in every tight dimension: it uses each, and
                // in a reusable one over time it holds the resource over all of `n`'s
                // occupation (where the peak that makes it tight lies). A consumable total
                // is shared whenever the two are served.
                let frees = tight.iter().all(|&d| {
                    let whole_time = match &net.time {
                        Some(t) if t.reusable[d] => {
                            let (a, b) = (t.occupation[e], t.occupation[g]);
                            b.start <= a.start && a.end <= b.end
                        }
                        _ => true,
                    };
                    u_m[d] > 0.0 && whole_time
                });
                if !frees {
                    continue;
                }
                let mut tie = false;
                let worth_no_more = tight.iter().all(|&d| {
                    // p_n / u_n >= p_m / u_m, multiplied out.
                    let (mine, theirs) = (p_n * u_m[d], other.priority * u_n[d]);
                    tie |= (mine - theirs).abs() <= 1e-9 * mine.abs().max(theirs.abs());
                    mine >= theirs * (1.0 - 1e-9)
                });
                let cheaper = !tie || net.edges[e].cost <= net.edges[g].cost;
                if !worth || (worth_no_more && cheaper) {
                    groups.insert(s.policy.group_of(other).to_string());
                }
            }
        }
        groups.into_iter().collect()
    }

    /// Each group's ratio in this plan and in the plan without fairness.
    fn group_ratios(&self) -> &[GroupRatio] {
        self.group_ratios.get_or_init(|| self.group_ratios_anew())
    }

    fn group_ratios_anew(&self) -> Vec<GroupRatio> {
        let s = self.o.scenario;
        let without = self.o.efficient.as_ref().map(|e| &e.coverage);
        let mut totals: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
        for (n, need) in s.needs.iter().enumerate() {
            let t = totals.entry(group_key(s, need)).or_default();
            t.0 += need.priority * self.y[n];
            t.1 += need.priority * without.map_or(0.0, |w| w[n]);
            t.2 += need.priority;
        }
        totals
            .into_iter()
            .map(|(group, (with, without, total))| GroupRatio {
                ratio: s.policy.group_ratio(&group, with, total),
                ratio_without_fairness: s.policy.group_ratio(&group, without, total),
                group,
            })
            .collect()
    }
}

/// Resources excluded for need `n` in the order a row lists them: those excluded by the time
/// rules alone first (they are the near misses), then by distance where known (else last),
/// then input order.
fn nearest_first(s: &Scenario, n: usize, excluded: &mut [(usize, Excluded)]) {
    let need = &s.needs[n];
    let far = |ri: usize| distance(&s.resources[ri], need).unwrap_or(f64::INFINITY);
    // Distances are not negative, so their bits order as they do.
    excluded.sort_by_cached_key(|(ri, e)| (!e.is_time_rule(), far(*ri).to_bits(), *ri));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario_from_value;
    use crate::solve::{solve, Conflict};
    use serde_json::{json, Value};

    fn why_and_conflict(v: Value) -> (Vec<Why>, Vec<Conflict>) {
        let s = scenario_from_value(&v).unwrap();
        let o = solve(&s);
        let conflict = o
            .solution
            .infeasibility
            .as_ref()
            .map(|i| i.conflict.clone())
            .unwrap_or_default();
        (explain(&o), conflict)
    }

    fn member(kind: ConflictKind, id: &str, dim: Option<&str>) -> Conflict {
        Conflict {
            kind,
            id: id.into(),
            dim: dim.map(str::to_string),
        }
    }

    /// The nearest resources are listed, and after them the nearest miss when none of them
    /// is one: five tools without the drill 0.1 to 0.5 km away, the drill 0.6 km away beyond
    /// the 0.2 km radius (it was not listed: the radius, the one thing to change, went
    /// unsaid). With the drill among the five nearest, those five are listed as before.
    #[test]
    fn no_candidate_rows_list_the_nearest_miss_after_the_nearest() {
        let scenario = |drill_lat: f64| {
            let mut rs: Vec<Value> = (1..=5)
                .map(|i| {
                    json!({"id": format!("t{i}"), "kind": "tool", "capacity": {"u": 1},
                    "lat": 59.0 + 0.0009 * f64::from(i), "lon": 18.0})
                })
                .collect();
            rs.push(json!({"id": "drill", "kind": "tool", "skills": ["drill"],
                "capacity": {"u": 1}, "lat": drill_lat, "lon": 18.0}));
            json!({"resources": rs,
                "needs": [{"id": "n1", "kind": "tool", "required_skills": ["drill"],
                    "demand": {"u": 1}, "lat": 59.0, "lon": 18.0}],
                "policy": {"max_distance_km": 0.2}})
        };
        let (why, _) = why_and_conflict(scenario(59.0054));
        assert_eq!(why[0].reason, Reason::NoCandidate, "{why:?}");
        let c = why[0].candidates.as_ref().unwrap();
        let listed: Vec<&str> = c.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(listed, ["t1", "t2", "t3", "t4", "t5", "drill"]);
        assert!(
            matches!(c[5].excluded_by, Excluded::Distance { .. }),
            "{c:?}"
        );
        assert!(c[..5]
            .iter()
            .all(|c| matches!(c.excluded_by, Excluded::Skills { .. })));
        // Nearer than t4: among the five nearest, nothing added.
        let (why, _) = why_and_conflict(scenario(59.00315));
        let c = why[0].candidates.as_ref().unwrap();
        let listed: Vec<&str> = c.iter().map(|c| c.resource.as_str()).collect();
        assert_eq!(listed, ["t1", "t2", "t3", "drill", "t4"]);
    }

    /// A listed link on which no start of the need fits (ready at hour 3 + 5, the deadline
    /// at hour 2) is what keeps the need out: `time` with the link's numbers, not "no link
    /// listed"; and with a `min_fill` the conflict names the window too.
    #[test]
    fn a_listed_link_without_a_start_is_a_time_row_and_a_window() {
        let scenario = |min_fill: f64| {
            json!({"resources": [{"id": "r1", "kind": "k", "capacity": {"u": 5},
                    "available_from": 3}],
                "needs": [{"id": "n1", "kind": "k", "demand": {"u": 1}, "deadline": 2,
                    "duration_h": 1, "min_fill": min_fill}],
                "links": [{"resource": "r1", "need": "n1", "time": 5}],
                "policy": {"reusable": ["u"]}})
        };
        let (why, conflict) = why_and_conflict(scenario(0.0));
        assert!(conflict.is_empty());
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].reason, Reason::Time, "{why:?}");
        let c = why[0].candidates.as_ref().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].resource, "r1");
        assert!(
            matches!(c[0].excluded_by, Excluded::Start { ready_h, .. } if ready_h == 8.0),
            "{c:?}"
        );
        // With a min_fill that cannot hold, still the window first, the min_fill after it.
        let (why, conflict) = why_and_conflict(scenario(1.0));
        assert_eq!(why[0].reason, Reason::Time, "{why:?}");
        assert!(
            why[0]
                .explanation
                .ends_with("so its min_fill 1 cannot hold (see summary.infeasibility's conflicts)"),
            "{why:?}"
        );
        assert_eq!(
            conflict,
            vec![
                member(ConflictKind::MinFill, "n1", None),
                member(ConflictKind::Window, "n1", None)
            ]
        );
    }

    /// A need with no link at all (no resource of its kind) is still `no_candidate`, and its
    /// conflict has no window.
    #[test]
    fn no_link_listed_is_no_candidate_without_a_window() {
        let (why, conflict) = why_and_conflict(json!({
            "resources": [{"id": "r1", "kind": "k", "capacity": {"u": 5}}],
            "needs": [{"id": "n1", "kind": "k", "demand": {"u": 1}, "min_fill": 1},
                {"id": "n2", "kind": "k", "demand": {"u": 1}}],
            "links": [{"resource": "r1", "need": "n2"}]}));
        assert_eq!(why[0].reason, Reason::NoCandidate, "{why:?}");
        assert_eq!(conflict, vec![member(ConflictKind::MinFill, "n1", None)]);
        let (why, _) = why_and_conflict(json!({
            "resources": [{"id": "r1", "kind": "k", "capacity": {"u": 5}}],
            "needs": [{"id": "n1", "kind": "k", "demand": {"u": 1}},
                {"id": "n2", "kind": "k", "demand": {"u": 1}}],
            "links": [{"resource": "r1", "need": "n2"}]}));
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].reason, Reason::NoCandidate);
    }

    /// Rule-built links: a resource back too late for the need's use (available until hour
    /// 3, a 2-hour use from hour 1 and a 1-hour turnaround) puts the window in the conflict
    /// of a `min_fill` need without links; and in an LP conflict beside a capacity when
    /// another resource does link (too small for the `min_fill`).
    #[test]
    fn windows_that_keep_resources_out_are_conflict_members() {
        let scenario = |small: bool| {
            let mut res = vec![json!({"id": "late", "kind": "bed", "capacity": {"beds": 4},
                "available_until": 3, "turnaround_h": 1})];
            if small {
                res.push(json!({"id": "small", "kind": "bed", "capacity": {"beds": 1}}));
            }
            json!({"resources": res,
                "needs": [{"id": "a", "kind": "bed", "demand": {"beds": 2}, "earliest": 1,
                    "deadline": 1, "duration_h": 2, "min_fill": 1}],
                "policy": {"reusable": ["beds"]}})
        };
        let (_, conflict) = why_and_conflict(scenario(false));
        assert_eq!(
            conflict,
            vec![
                member(ConflictKind::MinFill, "a", None),
                member(ConflictKind::Window, "a", None)
            ]
        );
        let (_, conflict) = why_and_conflict(scenario(true));
        assert_eq!(
            conflict,
            vec![
                member(ConflictKind::MinFill, "a", None),
                member(ConflictKind::Capacity, "small", Some("beds")),
                member(ConflictKind::Window, "a", None)
            ]
        );
    }

    /// The needs a linked resource serves instead, in its order.
    fn served_instead(linked: &LinkedResource) -> Vec<&str> {
        linked
            .serves_instead
            .iter()
            .map(|x| x.need.as_str())
            .collect()
    }

    fn row<'w>(why: &'w [Why], need: &str) -> &'w Why {
        why.iter().find(|w| w.need == need).unwrap()
    }

    /// `fairness` only when fairness lowered the need's own group: n2's group `a` goes up
    /// under maxmin (0.75 to 0.80) and r1 went to n0 of the same group, so n2 is `capacity`
    /// (r1 used up, serving n0), though the plan without fairness served n2 in full; n1's
    /// group `b` goes down (1 to 0.8): `fairness`.
    #[test]
    fn fairness_only_when_the_needs_group_lost_to_other_groups() {
        let (why, _) = why_and_conflict(json!({
            "resources": [{"id": "r0", "kind": "k", "capacity": {"u": 2}},
                {"id": "r1", "kind": "k", "capacity": {"u": 2}}],
            "needs": [
                {"id": "n0", "kind": "k", "community": "a", "demand": {"u": 2}, "priority": 3},
                {"id": "n1", "kind": "k", "community": "b", "demand": {"u": 1}, "priority": 3},
                {"id": "n2", "kind": "k", "community": "a", "demand": {"u": 2}, "priority": 3}],
            "links": [{"resource": "r0", "need": "n0"}, {"resource": "r0", "need": "n1"},
                {"resource": "r1", "need": "n0"}, {"resource": "r1", "need": "n2"}],
            "policy": {"fairness": "maxmin"}}));
        let n1 = row(&why, "n1");
        assert_eq!(n1.reason, Reason::Fairness, "{n1:?}");
        let b = &n1.groups.as_ref().unwrap()[1];
        assert_eq!(b.group, "b");
        assert!(b.ratio < b.ratio_without_fairness - 0.1, "{b:?}");
        let n2 = row(&why, "n2");
        assert_eq!(n2.reason, Reason::Capacity, "{n2:?}");
        assert_eq!(n2.groups, None);
        let linked = n2.linked_resources.as_ref().unwrap();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].resource, "r1");
        assert!(linked[0].capacity_left["u"] < 1e-6, "{linked:?}");
        assert_eq!(served_instead(&linked[0]), ["n0"]);
    }

    /// A greedy plan under a fair policy: `b` is short because `a` came first to r1, not
    /// by fairness, though the plan's price of fairness is positive (`V_eff` serves both)
    /// and r1 serves another group's need worth no more (it was told `fairness`).
    #[test]
    fn a_greedy_plan_is_never_short_by_fairness() {
        let scenario = |solver: &str| {
            json!({
                "resources": [
                    {"id": "r1", "kind": "k", "community": "x", "capacity": {"u": 1}},
                    {"id": "r2", "kind": "k", "community": "x", "capacity": {"u": 1}, "cost": 1}],
                "needs": [
                    {"id": "a", "kind": "k", "community": "x", "demand": {"u": 1}},
                    {"id": "b", "kind": "k", "community": "y", "demand": {"u": 1}}],
                "links": [{"resource": "r1", "need": "a"}, {"resource": "r2", "need": "a"},
                    {"resource": "r1", "need": "b"}],
                "policy": {"fairness": "maxmin", "solver": solver}})
        };
        let (why, _) = why_and_conflict(scenario("greedy"));
        let b = row(&why, "b");
        assert_eq!(b.coverage, 0.0);
        assert_eq!(b.reason, Reason::Capacity, "{b:?}");
        // The exact plan serves both: no row.
        let (why, _) = why_and_conflict(scenario("auto"));
        assert!(why.is_empty(), "{why:?}");
    }

    /// The same over time with `min_share`: n2's group `b` rises (0.29 to 0.57), so n2, kept
    /// off r1 by n0's units from hour 6 on, is `capacity`; n3's group `c` falls (1 to 0.4):
    /// `fairness`.
    #[test]
    fn timed_fairness_only_when_the_needs_group_lost() {
        let (why, _) = why_and_conflict(json!({
            "resources": [{"id": "r0", "kind": "k", "community": "b",
                    "capacity": {"units": 1, "meals": 4}, "cost": 3, "turnaround_h": 2,
                    "available_from": 1},
                {"id": "r1", "kind": "k", "community": "a", "capacity": {"units": 2}, "cost": 1,
                    "turnaround_h": 0.5}],
            "needs": [{"id": "n0", "kind": "k", "community": "b", "demand": {"units": 2},
                    "priority": 4, "earliest": 6, "deadline": 11, "indivisible": true},
                {"id": "n1", "kind": "k", "community": "c", "demand": {"units": 2}, "priority": 2,
                    "duration_h": 2.5, "earliest": 1, "min_fill": 0.3},
                {"id": "n2", "kind": "k", "community": "b", "demand": {"units": 2}, "priority": 3,
                    "duration_h": 1, "earliest": 6, "deadline": 7},
                {"id": "n3", "kind": "k", "community": "c", "demand": {"units": 2}, "priority": 3,
                    "duration_h": 2, "earliest": 3, "deadline": 8, "indivisible": true}],
            "policy": {"reusable": ["units"], "fairness": {"min_share": 0.4}},
            "links": [{"resource": "r0", "need": "n0", "cost": 1},
                {"resource": "r0", "need": "n1", "cost": 4, "time": 2},
                {"resource": "r0", "need": "n3", "cost": 1},
                {"resource": "r1", "need": "n0", "cost": 0, "time": 1},
                {"resource": "r1", "need": "n1", "cost": 4},
                {"resource": "r1", "need": "n2", "cost": 4, "use": {"units": 3}},
                {"resource": "r1", "need": "n3", "cost": 0, "time": 2}]}));
        assert_eq!(row(&why, "n3").reason, Reason::Fairness, "{why:?}");
        let n2 = row(&why, "n2");
        assert_eq!(n2.reason, Reason::Capacity, "{n2:?}");
        let linked = n2.linked_resources.as_ref().unwrap();
        assert_eq!(linked[0].resource, "r1");
        assert_eq!(linked[0].capacity_left["units"], 0.0);
    }

    /// One start per need: n is served half at hour 0 (m1 holds the other unit); at hour 3,
    /// its other start, m2 holds one unit too, so moving there serves no more. The free unit
    /// at hour 3 is no room: `capacity`, with what is left at its start (nothing).
    #[test]
    fn a_free_unit_at_another_start_is_room_only_if_the_whole_need_grows_there() {
        let scenario = |m2_units: f64| {
            json!({"resources": [{"id": "r", "kind": "k", "capacity": {"units": 2}}],
                "needs": [{"id": "m1", "kind": "k", "demand": {"units": 1}, "earliest": 0,
                        "duration_h": 1, "priority": 5},
                    {"id": "m2", "kind": "k", "demand": {"units": m2_units}, "earliest": 3,
                        "duration_h": 1, "priority": 5},
                    {"id": "n", "kind": "k", "demand": {"units": 2}, "earliest": 0,
                        "deadline": 3, "duration_h": 1}],
                "policy": {"reusable": ["units"], "slot_h": 3}})
        };
        let (why, _) = why_and_conflict(scenario(1.0));
        assert_eq!(why.len(), 1, "{why:?}");
        let n = row(&why, "n");
        assert!((n.coverage - 0.5).abs() < 1e-5, "{n:?}");
        assert_eq!(n.reason, Reason::Capacity, "{n:?}");
        let linked = n.linked_resources.as_ref().unwrap();
        assert!(linked[0].capacity_left["units"] < 1e-5, "{linked:?}");
        assert_eq!(served_instead(&linked[0]), ["m1", "m2"]);
    }

    /// Greedy over time keeps the first start with room (SPEC): n takes hour 0, where m
    /// leaves it one of r's two units, and is short by capacity there, though hour 2 is free
    /// (it was `objective`, "capacity is left", beside a capacity left of 0). The exact plan
    /// moves n to hour 2 and serves both in full.
    #[test]
    fn a_greedy_timed_need_is_short_by_capacity_at_the_start_it_took() {
        let scenario = |solver: &str| {
            json!({"resources": [{"id": "r1", "kind": "k", "capacity": {"units": 2}}],
                "needs": [{"id": "m", "kind": "k", "demand": {"units": 1}, "priority": 5,
                        "duration_h": 2, "earliest": 0},
                    {"id": "n", "kind": "k", "demand": {"units": 2}, "duration_h": 2,
                        "earliest": 0, "deadline": 4}],
                "policy": {"reusable": ["units"], "solver": solver}})
        };
        let (why, _) = why_and_conflict(scenario("greedy"));
        let n = row(&why, "n");
        assert!((n.coverage - 0.5).abs() < 1e-9, "{n:?}");
        assert_eq!(n.reason, Reason::Capacity, "{n:?}");
        assert!(n.explanation.contains("first come, first served"), "{n:?}");
        let linked = n.linked_resources.as_ref().unwrap();
        assert!(linked[0].capacity_left["units"] < 1e-9, "{linked:?}");
        let (why, _) = why_and_conflict(scenario("auto"));
        assert!(why.is_empty(), "{why:?}");
    }

    /// Under `cost`, `weighted` and `deprivation` a need whose links cost more than serving
    /// it gains is `objective` whether its resource is used up (r: 10 units, all a's) or not
    /// (20): capacity added would change nothing (it was `capacity` at 10, sending a planner
    /// to buy capacity). A need whose link does gain, at a used-up resource, stays `capacity`.
    #[test]
    fn a_need_the_objective_declines_is_objective_even_where_capacity_is_used_up() {
        let scenario = |objective: Value, capacity: f64, b_cost: f64| {
            let mut policy = json!({"cost_weight": 1,
                "deprivation": [[0, 0], [0.5, 0.5], [1, 2]]});
            policy["objective"] = objective;
            if policy["objective"] != "deprivation" {
                policy.as_object_mut().unwrap().remove("deprivation");
            }
            json!({"resources": [{"id": "r", "kind": "k", "capacity": {"u": capacity}}],
                "needs": [{"id": "a", "kind": "k", "demand": {"u": 10}, "priority": 3,
                        "min_fill": 1},
                    {"id": "b", "kind": "k", "demand": {"u": 5}, "priority": 1}],
                "links": [{"resource": "r", "need": "a", "cost": 1},
                    {"resource": "r", "need": "b", "cost": b_cost}],
                "policy": policy})
        };
        for objective in ["cost", "weighted", "deprivation"] {
            for capacity in [10.0, 20.0] {
                let (why, _) = why_and_conflict(scenario(json!(objective), capacity, 4.0));
                let b = row(&why, "b");
                assert_eq!(b.coverage, 0.0, "{objective} {capacity}: {b:?}");
                assert_eq!(b.reason, Reason::Objective, "{objective} {capacity}: {b:?}");
                assert!(
                    b.explanation.contains("whatever capacity is added"),
                    "{b:?}"
                );
            }
        }
        // Deprivation stops b at the breakpoint u = 0.5 when its link costs 2 a share
        // (between the slopes 1 and 3 there): a share more gains 1 - 2, whatever capacity.
        let (why, _) = why_and_conflict(scenario(json!("deprivation"), 20.0, 2.0));
        let b = row(&why, "b");
        assert!((b.coverage - 0.5).abs() < 1e-6, "{b:?}");
        assert_eq!(b.reason, Reason::Objective, "{b:?}");
        assert!(b.explanation.contains("slope 1 "), "{b:?}");
        // b's link at 0.5 gains 1 - 0.5 (weighted) and 3 - 0.5 (deprivation) a share, and at
        // -1 lowers the cost: short only because a holds r's 10 units.
        for objective in ["weighted", "deprivation", "cost"] {
            let b_cost = if objective == "cost" { -1.0 } else { 0.5 };
            let (why, _) = why_and_conflict(scenario(json!(objective), 10.0, b_cost));
            let b = row(&why, "b");
            assert_eq!(b.reason, Reason::Capacity, "{objective}: {b:?}");
        }
    }

    /// What a resource serves instead is what overlaps the need's time: a loan at hour 100
    /// takes nothing from a need at hours 0 to 2.
    #[test]
    fn serves_instead_lists_only_loans_that_overlap_the_need() {
        let (why, _) = why_and_conflict(json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"units": 1}}],
            "needs": [{"id": "m", "kind": "k", "demand": {"units": 1}, "duration_h": 2,
                    "priority": 5},
                {"id": "n", "kind": "k", "demand": {"units": 1}, "duration_h": 2},
                {"id": "far", "kind": "k", "demand": {"units": 1}, "earliest": 100,
                    "duration_h": 1}],
            "policy": {"reusable": ["units"]}}));
        assert_eq!(why.len(), 1, "{why:?}");
        let n = row(&why, "n");
        assert_eq!(n.reason, Reason::Capacity, "{n:?}");
        let linked = n.linked_resources.as_ref().unwrap();
        assert_eq!(linked[0].resource, "r");
        assert_eq!(served_instead(&linked[0]), ["m"]);
    }

    /// An indivisible need that no linked resource can take whole is `capacity` without the
    /// claim that the others are worth more: here the need served instead has the lower
    /// priority, and one resource is not used at all.
    #[test]
    fn an_indivisible_capacity_row_says_what_the_evidence_shows() {
        let (why, _) = why_and_conflict(json!({
            "resources": [{"id": "r1", "kind": "k", "capacity": {"u": 1}},
                {"id": "r2", "kind": "k", "capacity": {"u": 1.5}}],
            "needs": [{"id": "n1", "kind": "k", "demand": {"u": 2}, "indivisible": true},
                {"id": "n2", "kind": "k", "demand": {"u": 1}, "indivisible": true,
                    "priority": 0.5}]}));
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].need, "n1");
        assert_eq!(why[0].reason, Reason::Capacity);
        assert!(
            why[0].explanation.starts_with("it is indivisible")
                && !why[0].explanation.contains("values more"),
            "{}",
            why[0].explanation
        );
    }

    /// An indivisible need larger than every linked resource even empty is `capacity`, saying
    /// so with the numbers, under fairness too: the review's `big` (12 meals, one resource of
    /// 10) had been told that fairness gave its capacity to other groups.
    #[test]
    fn a_need_too_large_for_every_resource_says_so_under_fairness_too() {
        for fairness in [json!("maxmin"), json!("none")] {
            let (why, _) = why_and_conflict(json!({
                "resources": [{"id": "r", "community": "A", "kind": "food",
                    "capacity": {"meals": 10}}],
                "needs": [
                    {"id": "nA", "community": "A", "kind": "food", "demand": {"meals": 10},
                        "priority": 2},
                    {"id": "nB", "community": "B", "kind": "food", "demand": {"meals": 10}},
                    {"id": "big", "community": "A", "kind": "food", "demand": {"meals": 12},
                        "priority": 5, "indivisible": true}],
                "policy": {"fairness": fairness}}));
            let big = row(&why, "big");
            assert_eq!(big.reason, Reason::Capacity, "{fairness}: {big:?}");
            assert_eq!(
                big.explanation,
                "it is indivisible and needs 12 meals from one resource, more than any linked \
                 resource holds even with nothing else served (the most is 10 at r)",
                "{fairness}"
            );
        }
    }
}
