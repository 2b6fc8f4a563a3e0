//! The allocation model of SPEC section 2: what a scenario *is*, after validation.
//!
//! Values of these types are only built by [`crate::input`], which checks every rule, so the
//! rest of the engine may rely on them (ids unique, quantities finite and non-negative, ...).

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Threads a solve may be given (`policy.threads`, and the Python package's `threads`).
pub const MAX_THREADS: usize = 1024;

/// Per-dimension quantities (`capacity`, `demand`, `use`), ordered by dimension name so that
/// every output and the input digest are deterministic.
pub type Quantities = BTreeMap<String, f64>;

/// A shared resource: a shelter, a van, a tool library, a volunteer team.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Resource {
    pub id: String,
    pub community: String,
    pub kind: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub capacity: Quantities,
    pub skills: BTreeSet<String>,
    pub cost: f64,
    pub available_from: Option<f64>,
    pub available_until: Option<f64>,
    /// Hours after a use before the resource can serve again (cleaning, handover, the trip
    /// back); counts only in timed scenarios (SPEC "Allocation over time").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turnaround_h: Option<f64>,
    /// Confirmed bookings of a live session that occupy the resource's reusable dimensions
    /// (SPEC section 4, sessions over time): not input, so never read or written as a field;
    /// the session sets them on its residual scenario.
    #[serde(skip)]
    pub(crate) holds: Vec<Hold>,
}

/// A confirmed booking's occupation of a resource: `amounts` of its reusable dimensions over
/// `[start, end)` (`end` infinite for a need without a duration, which is never returned).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hold {
    pub start: f64,
    pub end: f64,
    pub amounts: Quantities,
}

/// Something a household, a site or a person needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Need {
    pub id: String,
    pub community: String,
    pub kind: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub demand: Quantities,
    pub priority: f64,
    pub required_skills: BTreeSet<String>,
    pub min_fill: f64,
    pub indivisible: bool,
    pub earliest: Option<f64>,
    pub deadline: Option<f64>,
    /// How long a use lasts, in hours: with a reusable dimension in the policy, the need
    /// occupies its resource from its start for this long (plus the resource's turnaround).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_h: Option<f64>,
}

/// An explicit resource -> need link from the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Link {
    pub resource: String,
    pub need: String,
    pub cost: f64,
    pub time: Option<f64>,
    #[serde(rename = "use")]
    pub use_: Quantities,
}

/// The policy's main objective (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Maximise value served, then minimise cost among the plans that reach it.
    #[default]
    Coverage,
    /// Minimise cost under the hard constraints only.
    Cost,
    /// Maximise `V - cost_weight * C`.
    Weighted,
    /// Maximise `sum_g W_g ln(ratio_g)` over the groups some plan can serve, `W_g` the group's
    /// total priority (Kelly's proportional fairness).
    Proportional,
    /// Minimise `sum_n priority_n f(1 - y_n) + cost_weight * C`, `f` the convex deprivation
    /// cost of the unmet share given in `policy.deprivation`.
    Deprivation,
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Coverage => "coverage",
            Objective::Cost => "cost",
            Objective::Weighted => "weighted",
            Objective::Proportional => "proportional",
            Objective::Deprivation => "deprivation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fairness {
    #[default]
    None,
    /// Maximise the smallest group coverage ratio first.
    Maxmin,
    /// Lexicographic max-min over the group ratios: the smallest, then the next, and so on.
    Leximin,
    /// Every group reaches at least this coverage ratio (hard).
    MinShare(f64),
}

/// A closed set of policy options, spelled once by serde: the validator accepts exactly the
/// names `Serialize` writes, and lists them in this order when it refuses another.
pub(crate) trait ClosedSet: Copy + Serialize + 'static {
    const ALL: &'static [Self];

    fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }
}

impl ClosedSet for Objective {
    const ALL: &'static [Self] = &[
        Objective::Coverage,
        Objective::Cost,
        Objective::Weighted,
        Objective::Proportional,
        Objective::Deprivation,
    ];
}

impl ClosedSet for GroupBy {
    const ALL: &'static [Self] = &[GroupBy::Community, GroupBy::Kind];
}

impl ClosedSet for SolverChoice {
    const ALL: &'static [Self] = &[SolverChoice::Auto, SolverChoice::Lp, SolverChoice::Greedy];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Community,
    Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SolverChoice {
    /// The engine picks: LP/MIP with HiGHS for the general model.
    #[default]
    Auto,
    /// Force the LP/MIP path.
    Lp,
    /// The by-hand baseline of SPEC section 2.
    Greedy,
}

/// Objective, fairness, link rules and solver options.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Policy {
    pub objective: Objective,
    /// `w` of the weighted objective `V - w C` (default 1).
    pub cost_weight: f64,
    pub fairness: Fairness,
    pub group_by: GroupBy,
    pub max_distance_km: Option<f64>,
    pub speed_kmh: Option<f64>,
    pub cost_per_km: f64,
    pub cross_community: bool,
    pub solver: SolverChoice,
    pub time_limit_s: Option<f64>,
    pub mip_gap: f64,
    /// At most [`MAX_THREADS`].
    pub threads: Option<usize>,
    /// The deprivation cost of the unmet share (objective `deprivation` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprivation: Option<DeprivationCost>,
    /// Dimensions a use occupies for an interval and then frees (`beds`, `units`); every
    /// other dimension is consumable. Empty: no dimension is reusable.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub reusable: BTreeSet<String>,
    /// Spacing of a need's candidate starts, in hours (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot_h: Option<f64>,
    /// The most candidate starts one need's window may hold (default [`DEFAULT_MAX_STARTS`]):
    /// a bound on the model's size that the input cannot exceed by a long window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_starts: Option<usize>,
    /// A live session's clock: no start before this hour (SPEC section 4, sessions over
    /// time). Not input; the session sets it on its residual scenario.
    #[serde(skip)]
    pub(crate) now_h: Option<f64>,
    /// Solved for a live session over time: timed whatever a part holds, so that a session's
    /// part and its whole residual scenario are the same kind of model. Not input.
    #[serde(skip)]
    pub(crate) live_timed: bool,
    /// A live session's groups whose needs are dispatched in part or whole, by group name:
    /// the residual scenario holds only the open parts, while SPEC's `ratio_g` is of the
    /// whole session. Not input; a group not listed has every need whole in the scenario.
    #[serde(skip)]
    pub(crate) group_base: BTreeMap<String, GroupBase>,
}

/// What a group has outside a session's residual scenario: the priority its dispatches
/// served (`sum p_n` over dispatched parts) and the total priority of all its needs. Its
/// ratio is `(served + sum_{n in scenario} p_n y_n) / total`: a dispatch commits part of the
/// plan the fairness rule chose, so it counts toward the rule (before, a group's dispatched
/// half left its ratio to be met again by the open half, and a `min_share` plan turned
/// infeasible when the coordinator dispatched a proposed match).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GroupBase {
    pub served: f64,
    pub total: f64,
}

/// Candidate starts one need may have unless `policy.max_starts` says otherwise: two weeks of
/// hourly slots with room to spare.
pub const DEFAULT_MAX_STARTS: usize = 1_000;
/// The largest `policy.max_starts` accepted. HiGHS's MIP presolve (its dominated-columns
/// pass over a need's start choices) grows with the square of one window's starts: one
/// flexible need took 0.35 s at 1,000 starts, 5.5 s at 5,000, 66 s at 20,000, and did not
/// finish in 300 s at 100,000, the bound before.
pub const MAX_MAX_STARTS: usize = 10_000;

impl Policy {
    /// Whether the group ratios enter the model (a fairness rule or the proportional
    /// objective): they sum over every component, so the scenario is solved as one part.
    pub fn couples_groups(&self) -> bool {
        self.fairness != Fairness::None || self.objective == Objective::Proportional
    }

    /// Whether the plan trades coverage value for fairness (a fairness rule, or a fair
    /// objective): its summary then has a price of fairness.
    pub fn is_fair(&self) -> bool {
        self.couples_groups() || self.objective == Objective::Deprivation
    }

    /// Group `group`'s ratio from the value (`sum p_n y_n`) and the total priority of its
    /// needs in this scenario, with what a live session dispatched ([`GroupBase`]).
    pub(crate) fn group_ratio(&self, group: &str, value: f64, priority: f64) -> f64 {
        let (total, offset) = self.group_scale(group, priority);
        offset + value / total
    }

    /// The denominator and the ratio already reached of group `group` whose needs here have
    /// `priority` in all: its ratio is `offset + sum p_n y_n / total`.
    pub(crate) fn group_scale(&self, group: &str, priority: f64) -> (f64, f64) {
        match self.group_base.get(group) {
            Some(b) if b.total > 0.0 => (b.total, b.served / b.total),
            _ => (priority, 0.0),
        }
    }

    /// The group whose coverage ratio a need counts in (`group_by`).
    pub fn group_of<'a>(&self, n: &'a Need) -> &'a str {
        match self.group_by {
            GroupBy::Community => &n.community,
            GroupBy::Kind => &n.kind,
        }
    }

    /// Whether the fairness rule adds nothing to the objective over `needs` (each with its
    /// priority in the model: a session's open part scales it): max-min or leximin under the
    /// coverage objective, every need in one group of total priority `P >= 1`. With one group
    /// `ratio_g = V / P`, so maximising `t` under `ratio_g >= t` maximises `V`, as the
    /// coverage objective's first stage does; and since `V* <= P`, the coverage stage's hold
    /// `V >= V* - 1e-7 max(1, |V*|)` keeps SPEC's `ratio_g >= t* - 1e-7` when `P >= 1` (the
    /// exact flow route keeps `V = V*` itself). The rule is then left out of the model: no
    /// group rows, components solved apart, the transportation case on the network simplex,
    /// and an optimal plan is its own efficient plan (a price of fairness of 0).
    pub fn fairness_implied<'a>(&self, mut needs: impl Iterator<Item = (&'a Need, f64)>) -> bool {
        if !matches!(self.fairness, Fairness::Maxmin | Fairness::Leximin)
            || self.objective != Objective::Coverage
        {
            return false;
        }
        let Some((first, mut total)) = needs.next() else {
            return true;
        };
        let group = self.group_of(first);
        for (n, priority) in needs {
            if self.group_of(n) != group {
                return false;
            }
            total += priority;
        }
        total >= 1.0
    }

    /// Spacing of candidate starts in hours.
    pub fn slot(&self) -> f64 {
        self.slot_h.unwrap_or(1.0)
    }

    pub fn starts_bound(&self) -> usize {
        self.max_starts.unwrap_or(DEFAULT_MAX_STARTS)
    }
}

impl Need {
    /// SPEC's candidate starts `S_n = {earliest + k slot_h} ∩ [earliest, deadline]` of a need
    /// with `duration_h` (only `earliest` without a deadline); `[earliest]` (absent = 0) for a
    /// need without one. Each start is computed from `k`, never accumulated, and kept to
    /// 1e-9 h ([`snap_time`]), so that every reader of the model gets the same numbers.
    pub fn starts(&self, slot_h: f64) -> impl Iterator<Item = f64> + '_ {
        let first = self.earliest.unwrap_or(0.0);
        (0..self.start_count(slot_h)).map(move |k| snap_time(first + k as f64 * slot_h))
    }

    /// Whether `t` is one of [`Need::starts`]: the nearest `k` computed, not the starts walked
    /// (a live session asks this per link and event; a need may have thousands of starts).
    pub fn is_start(&self, slot_h: f64, t: f64) -> bool {
        let first = self.earliest.unwrap_or(0.0);
        let k = ((t - first) / slot_h).round();
        k >= 0.0 && k < self.start_count(slot_h) as f64 && snap_time(first + k * slot_h) == t
    }

    /// How many candidate starts [`Need::starts`] gives.
    pub fn start_count(&self, slot_h: f64) -> usize {
        match (self.duration_h, self.deadline) {
            (Some(_), Some(deadline)) => {
                start_count(self.earliest.unwrap_or(0.0), deadline, slot_h)
            }
            _ => 1,
        }
    }
}

/// Every dimension named by a capacity, a demand or a link's use, sorted.
pub(crate) fn dimension_names<'a>(
    resources: &'a [Resource],
    needs: &'a [Need],
    links: Option<&'a [Link]>,
) -> BTreeSet<&'a str> {
    let mut dims = BTreeSet::new();
    for r in resources {
        dims.extend(r.capacity.keys().map(String::as_str));
    }
    for n in needs {
        dims.extend(n.demand.keys().map(String::as_str));
    }
    for l in links.into_iter().flatten() {
        dims.extend(l.use_.keys().map(String::as_str));
    }
    dims
}

/// The grain of [`snap_time`], hours: a duration or a slot shorter than this is refused.
pub const TIME_GRAIN_H: f64 = 1e-9;

/// A time (hours) to the nearest 1e-9 h (3.6 µs), where the time model compares times it
/// computed: starts `first + k slot` and ends `start + duration_h + turnaround_h`. Decimal
/// inputs then meet as they are written: 3 x 0.1 is 0.30000000000000004 in binary, past a
/// deadline of 0.3 that SPEC's `[earliest, deadline]` includes, and 0.1 + 0.2 would end a
/// loan after a start at 0.3. Times past 2^53 ns (~9e6 h) are kept as they are: there a
/// nanosecond is below a double's resolution.
pub(crate) fn snap_time(h: f64) -> f64 {
    const PER_HOUR: f64 = 1e9;
    if h.abs() * PER_HOUR >= 9.0e15 {
        return h;
    }
    (h * PER_HOUR).round() / PER_HOUR
}

/// How many of `first + k slot` (k = 0, 1, ...), each to [`snap_time`], lie in
/// `[first, last]` (at least one: `first`).
pub(crate) fn start_count(first: f64, last: f64, slot: f64) -> usize {
    let last = snap_time(last);
    let past = |k: f64| snap_time(first + k * slot) > last;
    let mut k = ((last - first) / slot).floor().max(0.0);
    // Guard the division's rounding: the count is that of the values the formula produces.
    // The rounding is off by a step or two at most; above 2^53 a step of 1 changes nothing,
    // so the loop is bounded (such counts are refused before any start is made).
    for _ in 0..4 {
        if k > 0.0 && past(k) {
            k -= 1.0;
        }
    }
    if !past(k + 1.0) {
        k += 1.0;
    }
    k.min(usize::MAX as f64 / 2.0) as usize + 1
}

/// A convex, increasing, piecewise-linear cost of the unmet share `u` in [0, 1], given by its
/// breakpoints `(u_k, c_k)`: `u_0 = 0, c_0 = 0`, `u` strictly increasing up to 1, slopes
/// non-decreasing and non-negative. Only the validator makes one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeprivationCost(pub(crate) Vec<(f64, f64)>);

impl DeprivationCost {
    pub fn breakpoints(&self) -> &[(f64, f64)] {
        &self.0
    }

    /// `(slope, value at u = 1)` of the line through each piece: `f` is the largest of these
    /// lines, being convex. The value at 1 is taken from the piece's right end,
    /// `c1 + slope (1 - u1)`, exact for the last piece.
    pub fn pieces(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.0.windows(2).map(|w| {
            let ((u0, c0), (u1, c1)) = (w[0], w[1]);
            let slope = (c1 - c0) / (u1 - u0);
            (slope, c1 + slope * (1.0 - u1))
        })
    }

    /// `f(u)` for `u` in [0, 1] (clamped), by interpolation between the breakpoints.
    pub fn cost(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        for w in self.0.windows(2) {
            let ((u0, c0), (u1, c1)) = (w[0], w[1]);
            if u <= u1 {
                return c0 + (c1 - c0) * (u - u0) / (u1 - u0);
            }
        }
        self.0.last().map_or(0.0, |p| p.1)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            objective: Objective::Coverage,
            cost_weight: 1.0,
            fairness: Fairness::None,
            group_by: GroupBy::Community,
            max_distance_km: None,
            speed_kmh: None,
            cost_per_km: 0.0,
            cross_community: true,
            solver: SolverChoice::Auto,
            time_limit_s: None,
            mip_gap: 0.0,
            threads: None,
            deprivation: None,
            reusable: BTreeSet::new(),
            slot_h: None,
            max_starts: None,
            now_h: None,
            live_timed: false,
            group_base: BTreeMap::new(),
        }
    }
}

/// A validated scenario. Only the validator (`scenario_from_value`, `scenario_from_batches`,
/// ...) and the engine's own transformations, which keep its invariants, make one: its fields
/// are private to the engine, and read through the methods below. Ids are unique, quantities
/// finite and non-negative, links name existing resources and needs, the policy is consistent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub(crate) name: Option<String>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) needs: Vec<Need>,
    pub(crate) links: Option<Vec<Link>>,
    pub(crate) policy: Policy,
}

impl Scenario {
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn needs(&self) -> &[Need] {
        &self.needs
    }

    /// The explicit links, when the scenario gives them (otherwise SPEC's link rules build them).
    pub fn links(&self) -> Option<&[Link]> {
        self.links.as_deref()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether group ratios enter this scenario's model, coupling its components: the
    /// policy's fairness rule or fair objective ([`Policy::couples_groups`]), unless the rule
    /// adds nothing over these needs ([`Policy::fairness_implied`]).
    pub fn couples_groups(&self) -> bool {
        self.policy.couples_groups() && !self.fairness_implied()
    }

    /// [`Policy::fairness_implied`] over this scenario's needs.
    pub fn fairness_implied(&self) -> bool {
        let needs = self.needs.iter().map(|n| (n, n.priority));
        self.policy.fairness_implied(needs)
    }

    /// The same scenario under another name (names carry no invariant).
    pub fn with_name(&self, name: Option<String>) -> Scenario {
        Scenario {
            name,
            ..self.clone()
        }
    }

    /// The scenario with its policy's time limit at most `cap_s` seconds (a server's limit on
    /// every solve it runs for a client; `cap_s` finite and positive, or the policy's own
    /// limit stays). A live session's re-plans take their options from the scenario alone.
    pub fn with_time_limit_cap(&self, cap_s: f64) -> Scenario {
        let mut out = self.clone();
        if cap_s.is_finite() && cap_s > 0.0 {
            let own = out.policy.time_limit_s.unwrap_or(f64::INFINITY);
            out.policy.time_limit_s = Some(own.min(cap_s));
        }
        out
    }

    /// The scenario with one resource's capacity in `dim` set to `value`: the planner's what-if
    /// ("what would one more bed at the sports hall buy?"). Refused, naming the row and field,
    /// when there is no such resource or `value` is negative or not finite.
    pub fn with_capacity(
        &self,
        resource: usize,
        dim: &str,
        value: f64,
    ) -> Result<Scenario, crate::InvalidInput> {
        let problem = if resource >= self.resources.len() {
            Some(format!("no resource at row {resource}"))
        } else if dim.trim().is_empty() {
            Some("dimension name must not be empty".to_string())
        } else if !value.is_finite() || value < 0.0 {
            Some(format!("{value} is not a finite, non-negative capacity"))
        } else if value > crate::input::MAX_MAGNITUDE {
            Some(crate::input::too_large(value))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(crate::InvalidInput::new(vec![crate::InputIssue {
                table: "resources".into(),
                row: Some(resource),
                field: Some(format!("capacity.{dim}")),
                message,
            }]));
        }
        let mut out = self.clone();
        out.resources[resource]
            .capacity
            .insert(dim.to_string(), value);
        Ok(out)
    }

    /// The scenario with its rule-built links written out as explicit links, so that a peer
    /// can build the same model from the tables alone. Valid by construction: every link comes
    /// from the link rules over this scenario's own resources and needs.
    pub fn with_rule_built_links(&self) -> Scenario {
        let edges =
            crate::graph::LinkBuilder::new(&self.resources, &self.policy).build(&self.needs);
        let links = edges
            .iter()
            .map(|e| Link {
                resource: self.resources[e.resource()].id.clone(),
                need: self.needs[e.need()].id.clone(),
                cost: e.cost,
                time: e.time(),
                use_: Default::default(),
            })
            .collect();
        Scenario {
            links: Some(links),
            ..self.clone()
        }
    }

    /// Whether SPEC's time model is in force: some dimension is reusable and some need has a
    /// duration, some resource holds a booking, or it is a live session over time. Otherwise
    /// the scenario means exactly what it meant before durations existed, and is solved as
    /// before (no start columns, no per-instant rows).
    pub fn is_timed(&self) -> bool {
        !self.policy.reusable.is_empty()
            && (self.policy.live_timed
                || self.needs.iter().any(|n| n.duration_h.is_some())
                || self.resources.iter().any(|r| !r.holds.is_empty()))
    }

    /// Every dimension named anywhere in the scenario, sorted.
    pub fn dimensions(&self) -> Vec<String> {
        dimension_names(&self.resources, &self.needs, self.links.as_deref())
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// SHA-256 of the canonical JSON form: equal scenarios read from JSON or from Arrow tables
    /// get the same digest (the audit trail of a plan).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let hash = Sha256::digest(&canonical);
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(earliest: f64, deadline: f64) -> Need {
        Need {
            id: "n".into(),
            community: "c".into(),
            kind: "k".into(),
            lat: None,
            lon: None,
            demand: Quantities::new(),
            priority: 1.0,
            required_skills: BTreeSet::new(),
            min_fill: 0.0,
            indivisible: false,
            earliest: Some(earliest),
            deadline: Some(deadline),
            duration_h: Some(1.0),
        }
    }

    /// `is_start` answers as a walk over `starts` does, on grids of decimal steps (whose
    /// multiples are not exact in binary), for the starts, the points between them and the
    /// points past both ends.
    #[test]
    fn is_start_agrees_with_the_walk_over_starts() {
        for (earliest, deadline, slot) in [
            (0.0, 10.0, 1.0),
            (0.0, 0.3, 0.1),
            (0.1, 2.2, 0.1),
            (5.5, 40.0, 0.25),
            (3.0, 3.0, 2.0),
            (1.0, 100.0, 7.3),
        ] {
            let n = need(earliest, deadline);
            let starts: Vec<f64> = n.starts(slot).collect();
            assert!(!starts.is_empty());
            for &s in &starts {
                assert!(
                    n.is_start(slot, s),
                    "{s} on {earliest}..{deadline} step {slot}"
                );
            }
            let last = *starts.last().unwrap();
            let mut probes = vec![earliest - slot, last + slot, earliest - 1e-7, last + 1e-7];
            probes.extend(starts.iter().map(|s| snap_time(s + slot / 2.0)));
            probes.extend(starts.iter().map(|s| s + 1e-6));
            for t in probes {
                assert_eq!(
                    n.is_start(slot, t),
                    starts.contains(&t),
                    "{t} on {earliest}..{deadline} step {slot}"
                );
            }
        }
    }
}
