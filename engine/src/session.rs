//! Live matching sessions (SPEC section 4, `/v1/sessions`): a scenario that changes by events,
//! with a plan of proposed matches kept optimal after every batch of events.
//!
//! The state is the session's needs and resources as last defined, plus the dispatches: a
//! dispatched match is a commitment that consumes its resource's capacity and serves its part of
//! the need; later plans only see what is left (the *residual* scenario) and never move it.
//!
//! Re-planning is incremental: links are kept in adjacency maps updated per event, an event
//! marks the entities it touches, and only the connected components of the residual graph that
//! contain a touched entity are solved again; the plan of every other component is kept. Since
//! the engine solves components independently and deterministically (in input order), the plan
//! equals a from-scratch solve of the residual scenario (tested). Fairness couples components
//! (group ratios sum over all of them), so with a fairness policy every re-plan is whole.

use crate::graph::{check_link, distance, rule_link, Excluded};
use crate::input::{scenario_from_value, InputIssue};
use crate::model::{Fairness, Need, Policy, Quantities, Resource, Scenario};
use crate::results::Report;
use crate::solve::{solve_with, SolveOptions, Status};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// A share below this is no match.
const EPS: f64 = 1e-9;

/// One event, as SPEC section 4 spells it.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    NeedAdded(Need),
    NeedUpdated(Need),
    NeedWithdrawn(String),
    ResourceAdded(Resource),
    ResourceUpdated(Resource),
    ResourceWithdrawn(String),
    Dispatched { need: String, resource: String },
    ResourceReturned(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// Client id for idempotent retries: an event whose id was applied before is skipped.
    pub event_id: Option<String>,
}

fn issue(i: usize, field: Option<&str>, message: impl Into<String>) -> InputIssue {
    InputIssue {
        table: format!("events[{i}]"),
        row: None,
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Parse the `events` list of a request: every problem is reported with the event's index.
pub fn parse_events(list: &Value) -> Result<Vec<Event>, Vec<InputIssue>> {
    let Some(items) = list.as_array() else {
        return Err(vec![InputIssue {
            table: "events".into(),
            row: None,
            field: None,
            message: "expected a list of events".into(),
        }]);
    };
    let mut issues = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_event(i, item) {
            Ok(e) => events.push(e),
            Err(mut e) => issues.append(&mut e),
        }
    }
    if issues.is_empty() {
        Ok(events)
    } else {
        Err(issues)
    }
}

fn parse_event(i: usize, v: &Value) -> Result<Event, Vec<InputIssue>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![issue(i, None, "expected an object")]);
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let (allowed, entity): (&[&str], Option<&str>) = match ty {
        "need_added" | "need_updated" => (&["need"], Some("need")),
        "resource_added" | "resource_updated" => (&["resource"], Some("resource")),
        "need_withdrawn" | "resource_withdrawn" | "resource_returned" => (&["id"], None),
        "dispatched" => (&["need", "resource"], None),
        "" => return Err(vec![issue(i, Some("type"), "missing event type")]),
        other => {
            return Err(vec![issue(
                i,
                Some("type"),
                format!("unknown event type {other:?}"),
            )])
        }
    };
    let mut issues = Vec::new();
    for k in obj.keys() {
        if k != "type" && k != "event_id" && !allowed.contains(&k.as_str()) {
            issues.push(issue(i, Some(k), format!("unknown field for {ty}")));
        }
    }
    for k in allowed {
        if !obj.contains_key(*k) {
            issues.push(issue(i, Some(k), "missing required field"));
        }
    }
    let event_id = match obj.get("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => Some(s.clone()),
        Some(_) => {
            issues.push(issue(
                i,
                Some("event_id"),
                "expected a string of 1-200 characters",
            ));
            None
        }
    };
    if !issues.is_empty() {
        return Err(issues);
    }
    let id_of = |k: &str| -> Result<String, Vec<InputIssue>> {
        match obj.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(vec![issue(i, Some(k), "expected a non-empty string id")]),
        }
    };
    let kind = match (ty, entity) {
        (_, Some(table)) => {
            // One validator for every entity: the scenario's own, on a one-row scenario.
            let (res, needs) = if table == "need" {
                (json!([]), json!([obj[table]]))
            } else {
                (json!([obj[table]]), json!([]))
            };
            let scenario = scenario_from_value(&json!({"resources": res, "needs": needs}))
                .map_err(|e| {
                    e.issues
                        .into_iter()
                        .map(|x| InputIssue {
                            table: format!("events[{i}].{table}"),
                            row: None,
                            ..x
                        })
                        .collect::<Vec<_>>()
                })?;
            match ty {
                "need_added" => EventKind::NeedAdded(scenario.needs[0].clone()),
                "need_updated" => EventKind::NeedUpdated(scenario.needs[0].clone()),
                "resource_added" => EventKind::ResourceAdded(scenario.resources[0].clone()),
                _ => EventKind::ResourceUpdated(scenario.resources[0].clone()),
            }
        }
        ("need_withdrawn", _) => EventKind::NeedWithdrawn(id_of("id")?),
        ("resource_withdrawn", _) => EventKind::ResourceWithdrawn(id_of("id")?),
        ("resource_returned", _) => EventKind::ResourceReturned(id_of("id")?),
        _ => EventKind::Dispatched {
            need: id_of("need")?,
            resource: id_of("resource")?,
        },
    };
    Ok(Event { kind, event_id })
}

/// A commitment: part of a need served by a resource, never moved by a re-plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub need: String,
    pub resource: String,
    /// Part of the need's full demand this dispatch serves.
    pub fraction: f64,
    /// Capacity consumed, per dimension.
    pub amounts: Quantities,
    /// False once the resource has been returned.
    pub active: bool,
}

/// An event as applied, with what it resolved to: the durable log records these, so replaying
/// them needs no re-planning (a dispatch records the share it committed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Applied {
    NeedAdded { need: Value },
    NeedUpdated { need: Value },
    NeedWithdrawn { id: String },
    ResourceAdded { resource: Value },
    ResourceUpdated { resource: Value },
    ResourceWithdrawn { id: String },
    Dispatched { dispatch: Dispatch },
    ResourceReturned { id: String },
}

/// One match whose share changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchChange {
    pub resource: String,
    pub need: String,
    /// Share of the need's open part before and after (0 = no match).
    pub before: f64,
    pub after: f64,
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
}

/// Why an event cannot be applied; the batch it belongs to is refused whole.
#[derive(Debug, Clone, PartialEq)]
pub struct EventError {
    pub index: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub name: Option<String>,
    pub policy: Policy,
    needs: Vec<Need>,
    need_ix: HashMap<String, usize>,
    /// Part of each need not yet dispatched (1 = all open).
    open: Vec<f64>,
    resources: Vec<Resource>,
    res_ix: HashMap<String, usize>,
    /// Each resource with its capacity less its active dispatches.
    residual: Vec<Resource>,
    dispatches: Vec<Dispatch>,
    seen: HashSet<String>,
    /// Every dimension the session has seen: kept in every residual scenario so that a
    /// component is solved the same way whatever else is open.
    dims: BTreeSet<String>,
    adj_need: HashMap<String, BTreeSet<String>>,
    adj_res: HashMap<String, BTreeSet<String>>,
    /// (resource, need) -> share of the need's open part.
    plan: BTreeMap<(String, String), f64>,
    marginal: HashMap<String, f64>,
    shadow: HashMap<String, BTreeMap<String, f64>>,
    /// Needs of components whose last solve was not optimal (infeasible, time limit).
    trouble: BTreeMap<String, Status>,
    /// What staged events touched since the last re-plan.
    pending: Option<Pending>,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    /// The value before the first change of every plan entry changed since the last flush.
    before: BTreeMap<(String, String), f64>,
    /// How many dimensions the session had at the last re-plan (a new one re-plans all).
    dims: usize,
    /// Entities touched since the last re-plan.
    needs: BTreeSet<String>,
    resources: BTreeSet<String>,
    /// An event other than a dispatch changed the state since the last re-plan.
    stale: bool,
    /// Needs dispatched since the last re-plan.
    dispatched: BTreeSet<String>,
    /// Needs re-planned since the last flush.
    replanned: usize,
}

/// An id set as the state has it, plus and minus what a batch adds and removes.
struct Overlay<'a> {
    base: &'a HashMap<String, usize>,
    added: HashSet<&'a str>,
    removed: HashSet<&'a str>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a HashMap<String, usize>) -> Self {
        Overlay {
            base,
            added: HashSet::new(),
            removed: HashSet::new(),
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.added.contains(id) || (self.base.contains_key(id) && !self.removed.contains(id))
    }

    fn insert(&mut self, id: &'a str) -> bool {
        if self.contains(id) {
            return false;
        }
        if !self.removed.remove(id) {
            self.added.insert(id);
        }
        true
    }

    fn remove(&mut self, id: &'a str) -> bool {
        if !self.contains(id) {
            return false;
        }
        if !self.added.remove(id) {
            self.removed.insert(id);
        }
        true
    }
}

/// Where a touched entity lives.
#[derive(Clone, Copy)]
enum Node<'a> {
    Need(&'a str),
    Res(&'a str),
}

impl Session {
    /// A session over an initial scenario (rule-built links only).
    pub fn new(initial: &Scenario) -> Result<Session, String> {
        if initial.links.is_some() {
            return Err(
                "sessions build links by the policy's rules; explicit links are not supported"
                    .into(),
            );
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
            seen: HashSet::new(),
            dims: BTreeSet::new(),
            adj_need: HashMap::new(),
            adj_res: HashMap::new(),
            plan: BTreeMap::new(),
            marginal: HashMap::new(),
            shadow: HashMap::new(),
            trouble: BTreeMap::new(),
            pending: None,
        };
        for r in &initial.resources {
            s.insert_resource(r.clone());
        }
        for n in &initial.needs {
            s.insert_need(n.clone());
        }
        for r in &initial.resources {
            s.relink_resource(&r.id);
        }
        s.replan_all();
        Ok(s)
    }

    pub fn dispatches(&self) -> &[Dispatch] {
        &self.dispatches
    }

    /// The current plan: (resource, need) -> share of the need's open part.
    pub fn plan(&self) -> &BTreeMap<(String, String), f64> {
        &self.plan
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
    }

    fn insert_need(&mut self, n: Need) {
        self.dims.extend(n.demand.keys().cloned());
        self.need_ix.insert(n.id.clone(), self.needs.len());
        self.open.push(1.0);
        self.needs.push(n);
    }

    fn is_open(&self, ni: usize) -> bool {
        self.open[ni] > EPS
    }

    /// The need as the planner sees it: its open part.
    fn residual_need(&self, ni: usize) -> Need {
        let n = &self.needs[ni];
        let r = self.open[ni];
        if r >= 1.0 {
            return n.clone();
        }
        // Rounded to 1e-6: `3 * (1 - 1/3)` must be the integer 2 again, or the exact
        // transportation path (which scales decimals exactly) would fall back to the LP.
        let tidy = |x: f64| (x * 1e6).round() / 1e6;
        let mut out = n.clone();
        for q in out.demand.values_mut() {
            *q = tidy(*q * r);
        }
        out.priority = tidy(out.priority * r);
        out.min_fill = tidy(((n.min_fill - (1.0 - r)) / r).clamp(0.0, 1.0));
        out
    }

    fn recompute_residual(&mut self, ri: usize) {
        let mut r = self.resources[ri].clone();
        for d in self
            .dispatches
            .iter()
            .filter(|d| d.active && d.resource == r.id)
        {
            for (dim, a) in &d.amounts {
                let c = r.capacity.entry(dim.clone()).or_insert(0.0);
                *c = (*c - a).max(0.0);
            }
        }
        self.residual[ri] = r;
    }

    fn unlink_need(&mut self, id: &str) -> BTreeSet<String> {
        let old = self.adj_need.remove(id).unwrap_or_default();
        for r in &old {
            if let Some(set) = self.adj_res.get_mut(r) {
                set.remove(id);
            }
        }
        old
    }

    fn unlink_resource(&mut self, id: &str) -> BTreeSet<String> {
        let old = self.adj_res.remove(id).unwrap_or_default();
        for n in &old {
            if let Some(set) = self.adj_need.get_mut(n) {
                set.remove(id);
            }
        }
        old
    }

    /// Recompute a need's links (none when it is fully dispatched).
    fn relink_need(&mut self, id: &str) {
        self.unlink_need(id);
        let Some(&ni) = self.need_ix.get(id) else {
            return;
        };
        if !self.is_open(ni) {
            return;
        }
        let n = &self.needs[ni];
        let linked: BTreeSet<String> = self
            .residual
            .iter()
            .enumerate()
            .filter(|(ri, r)| rule_link(*ri, r, ni, n, &self.policy).is_some())
            .map(|(_, r)| r.id.clone())
            .collect();
        for r in &linked {
            self.adj_res
                .entry(r.clone())
                .or_default()
                .insert(id.to_string());
        }
        self.adj_need.insert(id.to_string(), linked);
    }

    fn relink_resource(&mut self, id: &str) {
        self.unlink_resource(id);
        let Some(&ri) = self.res_ix.get(id) else {
            return;
        };
        let r = &self.residual[ri];
        let linked: BTreeSet<String> = self
            .needs
            .iter()
            .enumerate()
            .filter(|(ni, n)| {
                self.open[*ni] > EPS && rule_link(ri, r, *ni, n, &self.policy).is_some()
            })
            .map(|(_, n)| n.id.clone())
            .collect();
        for n in &linked {
            self.adj_need
                .entry(n.clone())
                .or_default()
                .insert(id.to_string());
        }
        self.adj_res.insert(id.to_string(), linked);
    }

    /// Check a batch against the current state without changing it.
    fn check<'a>(&'a self, events: &'a [Event]) -> Result<(), EventError> {
        // Simulate id sets and dispatch targets through the batch, as overlays on the state
        // (the cost follows the batch, not the session's size).
        let mut needs = Overlay::new(&self.need_ix);
        let mut res = Overlay::new(&self.res_ix);
        let mut active: HashMap<&str, usize> = HashMap::new();
        let mut returned: HashSet<&str> = HashSet::new();
        let is_active = |r: &str, active: &HashMap<&str, usize>, returned: &HashSet<&str>| {
            active.get(r).copied().unwrap_or(0) > 0
                || (!returned.contains(r)
                    && self.dispatches.iter().any(|d| d.active && d.resource == r))
        };
        let mut ids = HashSet::new();
        for (index, e) in events.iter().enumerate() {
            let err = |message: String| Err(EventError { index, message });
            if let Some(id) = &e.event_id {
                if self.seen.contains(id) {
                    continue;
                }
                if !ids.insert(id.as_str()) {
                    return err(format!("event_id {id:?} appears twice in the batch"));
                }
            }
            match &e.kind {
                EventKind::NeedAdded(n) => {
                    if !needs.insert(&n.id) {
                        return err(format!("need {:?} exists already", n.id));
                    }
                }
                EventKind::NeedUpdated(n) => {
                    if !needs.contains(n.id.as_str()) {
                        return err(format!("no need {:?}", n.id));
                    }
                }
                EventKind::NeedWithdrawn(id) => {
                    if !needs.remove(id.as_str()) {
                        return err(format!("no need {id:?}"));
                    }
                }
                EventKind::ResourceAdded(r) => {
                    if !res.insert(&r.id) {
                        return err(format!("resource {:?} exists already", r.id));
                    }
                }
                EventKind::ResourceUpdated(r) => {
                    if !res.contains(r.id.as_str()) {
                        return err(format!("no resource {:?}", r.id));
                    }
                }
                EventKind::ResourceWithdrawn(id) => {
                    if !res.contains(id.as_str()) {
                        return err(format!("no resource {id:?}"));
                    }
                    if is_active(id, &active, &returned) {
                        return err(format!(
                            "resource {id:?} has active dispatches: return it before withdrawing it"
                        ));
                    }
                    res.remove(id.as_str());
                }
                EventKind::Dispatched { need, resource } => {
                    if !needs.contains(need.as_str()) {
                        return err(format!("no need {need:?}"));
                    }
                    if !res.contains(resource.as_str()) {
                        return err(format!("no resource {resource:?}"));
                    }
                    // Whether the match is proposed is known only once the events before it
                    // are re-planned: `stage` checks that when it applies the dispatch.
                    *active.entry(resource.as_str()).or_default() += 1;
                    returned.remove(resource.as_str());
                }
                EventKind::ResourceReturned(id) => {
                    if !res.contains(id.as_str()) {
                        return err(format!("no resource {id:?}"));
                    }
                    if !is_active(id, &active, &returned) {
                        return err(format!("resource {id:?} has nothing dispatched to return"));
                    }
                    active.remove(id.as_str());
                    returned.insert(id.as_str());
                }
            }
        }
        Ok(())
    }

    /// Apply a batch of events and re-plan once. All or nothing: an event that cannot be
    /// applied refuses the batch and leaves the session as it was. Returns the outcome and the
    /// events as applied (for the durable log).
    pub fn apply(&mut self, events: &[Event]) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        let (mut outcome, log) = self.stage(events)?;
        let (changed, replanned) = self.flush();
        outcome.changed = changed;
        outcome.replanned_needs = replanned;
        Ok((outcome, log))
    }

    /// Apply a batch without re-planning what it touched (bursts: stage several batches, then
    /// [`Session::flush`] once). All or nothing: `check` refuses id conflicts on overlays
    /// first; a batch with a dispatch, whose validity is known only once the events before it
    /// are re-planned, is applied to a copy that replaces the state only when every event
    /// applied.
    pub fn stage(&mut self, events: &[Event]) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        self.check(events)?;
        let may_refuse = events.iter().any(|e| {
            matches!(e.kind, EventKind::Dispatched { .. })
                && !e.event_id.as_ref().is_some_and(|id| self.seen.contains(id))
        });
        if may_refuse {
            let mut copy = self.clone();
            let out = copy.stage_checked(events)?;
            *self = copy;
            Ok(out)
        } else {
            self.stage_checked(events)
        }
    }

    /// `stage` after `check`: only a dispatch can still fail here.
    fn stage_checked(
        &mut self,
        events: &[Event],
    ) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        let dims = self.dims.len();
        let pending = self.pending.get_or_insert_with(|| Pending {
            dims,
            ..Pending::default()
        });
        let (mut tn, mut tr) = (
            std::mem::take(&mut pending.needs),
            std::mem::take(&mut pending.resources),
        );
        let mut applied = Vec::new();
        let mut outcome = BatchOutcome {
            applied: 0,
            duplicates: Vec::new(),
            changed: Vec::new(),
            dispatched: Vec::new(),
            replanned_needs: 0,
        };
        for (index, e) in events.iter().enumerate() {
            if let Some(id) = &e.event_id {
                if !self.seen.insert(id.clone()) {
                    outcome.duplicates.push(id.clone());
                    continue;
                }
            }
            if let EventKind::Dispatched { need, .. } = &e.kind {
                // A dispatch is checked against the plan re-planned after every event before
                // it (in this batch and the staged ones), so it can never commit capacity an
                // update took away or a link the rules no longer allow. Earlier dispatches
                // leave the rest of the plan feasible, so they force a re-plan only for their
                // own need (a need split over several resources).
                let p = self.pending.as_mut().expect("staging has a pending set");
                if p.stale || p.dispatched.contains(need) {
                    p.needs.append(&mut tn);
                    p.resources.append(&mut tr);
                    self.replan_touched();
                }
            }
            let a = self
                .apply_one(&e.kind, &mut tn, &mut tr)
                .map_err(|message| EventError { index, message })?;
            let p = self.pending.as_mut().expect("staging has a pending set");
            if let Applied::Dispatched { dispatch } = &a {
                p.dispatched.insert(dispatch.need.clone());
                outcome.dispatched.push(dispatch.clone());
            } else {
                p.stale = true;
            }
            applied.push(a);
            outcome.applied += 1;
        }
        let p = self.pending.as_mut().expect("staging has a pending set");
        p.needs.append(&mut tn);
        p.resources.append(&mut tr);
        Ok((outcome, applied))
    }

    /// Re-plan the components touched since the last re-plan, keeping the values the plan
    /// had before the first staged batch (the diff `flush` answers).
    fn replan_touched(&mut self) {
        let whole_policy = self.policy.fairness != Fairness::None;
        let dims = self.dims.len();
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let (tn, tr) = (
            std::mem::take(&mut p.needs),
            std::mem::take(&mut p.resources),
        );
        let whole = p.dims != dims || whole_policy;
        p.dims = dims;
        p.stale = false;
        p.dispatched.clear();
        let n = if whole {
            self.replan_all()
        } else {
            self.replan(&tn, &tr)
        };
        if let Some(p) = self.pending.as_mut() {
            p.replanned += n;
        }
    }

    /// Re-plan what the staged events touched; the matches that changed since the first staged
    /// batch, and how many needs were re-planned.
    pub fn flush(&mut self) -> (Vec<MatchChange>, usize) {
        if self.pending.is_none() {
            return (Vec::new(), 0);
        }
        self.replan_touched();
        let p = self.pending.take().unwrap_or_default();
        let mut changed = Vec::new();
        for (k, b) in p.before {
            let a = self.plan.get(&k).copied().unwrap_or(0.0);
            if b != a {
                changed.push(MatchChange {
                    resource: k.0.clone(),
                    need: k.1.clone(),
                    before: b,
                    after: a,
                });
            }
        }
        (changed, p.replanned)
    }

    /// Event ids applied so far are remembered by `apply`; a replayed log restores them.
    pub fn remember_event_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        self.seen.extend(ids.into_iter().map(str::to_string));
    }

    fn apply_one(
        &mut self,
        kind: &EventKind,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) -> Result<Applied, String> {
        Ok(match kind {
            EventKind::NeedAdded(n) => {
                self.insert_need(n.clone());
                self.relink_need(&n.id);
                tn.insert(n.id.clone());
                Applied::NeedAdded {
                    need: entity_value(n),
                }
            }
            EventKind::NeedUpdated(n) => {
                let ni = self.need_ix[&n.id];
                self.dims.extend(n.demand.keys().cloned());
                self.needs[ni] = n.clone();
                tr.extend(self.unlink_need(&n.id));
                self.relink_need(&n.id);
                tn.insert(n.id.clone());
                Applied::NeedUpdated {
                    need: entity_value(n),
                }
            }
            EventKind::NeedWithdrawn(id) => {
                let old = self.unlink_need(id);
                self.plan_remove_need(id, old.iter());
                tr.extend(old);
                let ni = self.need_ix[id];
                // swap_remove: the residual scenario follows this order, in incremental and
                // from-scratch solves alike, and a replay repeats it.
                self.needs.swap_remove(ni);
                self.open.swap_remove(ni);
                self.need_ix.remove(id);
                if let Some(moved) = self.needs.get(ni) {
                    self.need_ix.insert(moved.id.clone(), ni);
                    // Its component now lists it elsewhere: solve it again in the new order,
                    // so that ties break as a from-scratch solve would.
                    tn.insert(moved.id.clone());
                }
                self.marginal.remove(id);
                self.trouble.remove(id);
                Applied::NeedWithdrawn { id: id.clone() }
            }
            EventKind::ResourceAdded(r) => {
                self.insert_resource(r.clone());
                self.relink_resource(&r.id);
                tr.insert(r.id.clone());
                Applied::ResourceAdded {
                    resource: entity_value(r),
                }
            }
            EventKind::ResourceUpdated(r) => {
                let ri = self.res_ix[&r.id];
                self.dims.extend(r.capacity.keys().cloned());
                self.resources[ri] = r.clone();
                self.recompute_residual(ri);
                tn.extend(self.unlink_resource(&r.id));
                self.relink_resource(&r.id);
                tr.insert(r.id.clone());
                Applied::ResourceUpdated {
                    resource: entity_value(r),
                }
            }
            EventKind::ResourceWithdrawn(id) => {
                tn.extend(self.unlink_resource(id));
                let ri = self.res_ix[id];
                self.resources.swap_remove(ri);
                self.residual.swap_remove(ri);
                self.res_ix.remove(id);
                if let Some(moved) = self.resources.get(ri) {
                    self.res_ix.insert(moved.id.clone(), ri);
                    tr.insert(moved.id.clone());
                }
                self.plan_remove_resource(id);
                self.shadow.remove(id);
                Applied::ResourceWithdrawn { id: id.clone() }
            }
            EventKind::Dispatched { need, resource } => {
                let share = self
                    .plan
                    .get(&(resource.clone(), need.clone()))
                    .copied()
                    .unwrap_or(0.0);
                if share <= EPS {
                    return Err(format!(
                        "{resource:?} -> {need:?} is not a proposed match of the plan (as re-planned after the events before it)"
                    ));
                }
                // The plan only proposes what the rules and capacities allow; these checks
                // make the invariant hold whatever produced the plan (an infeasible
                // component's plan included).
                if !self
                    .adj_need
                    .get(need)
                    .is_some_and(|l| l.contains(resource))
                {
                    return Err(format!(
                        "{resource:?} -> {need:?} is not allowed by the link rules"
                    ));
                }
                let ni = self.need_ix[need];
                let residual = self.residual_need(ni);
                let amounts: Quantities = residual
                    .demand
                    .iter()
                    .map(|(d, q)| (d.clone(), q * share))
                    .collect();
                let left = &self.residual[self.res_ix[resource]].capacity;
                for (d, a) in &amounts {
                    let cap = left.get(d).copied().unwrap_or(0.0);
                    if *a > cap + 1e-6 * cap.max(1.0) {
                        return Err(format!(
                            "dispatching {resource:?} -> {need:?} takes {a} {d} but {resource:?} has {cap} left"
                        ));
                    }
                }
                let dispatch = Dispatch {
                    need: need.clone(),
                    resource: resource.clone(),
                    fraction: share * self.open[ni],
                    amounts,
                    active: true,
                };
                self.commit(&dispatch, tn, tr);
                Applied::Dispatched { dispatch }
            }
            EventKind::ResourceReturned(id) => {
                for d in self.dispatches.iter_mut() {
                    if d.active && d.resource == *id {
                        d.active = false;
                    }
                }
                let ri = self.res_ix[id];
                self.recompute_residual(ri);
                tn.extend(self.unlink_resource(id));
                self.relink_resource(id);
                tr.insert(id.clone());
                Applied::ResourceReturned { id: id.clone() }
            }
        })
    }

    /// Record a dispatch: the need's open part shrinks, the resource's capacity is consumed.
    fn commit(&mut self, d: &Dispatch, tn: &mut BTreeSet<String>, tr: &mut BTreeSet<String>) {
        let ni = self.need_ix[&d.need];
        self.open[ni] = (self.open[ni] - d.fraction).max(0.0);
        if self.open[ni] < 1e-6 {
            self.open[ni] = 0.0;
        }
        self.dispatches.push(d.clone());
        let ri = self.res_ix[&d.resource];
        self.recompute_residual(ri);
        let old = self.unlink_need(&d.need);
        self.plan_remove_need(&d.need, old.iter().chain([&d.resource]));
        tr.extend(old);
        tn.extend(self.unlink_resource(&d.resource));
        self.relink_need(&d.need);
        self.relink_resource(&d.resource);
        tn.insert(d.need.clone());
        tr.insert(d.resource.clone());
    }

    /// Set or remove one plan entry, remembering its value before the first change since the
    /// last flush (the diff a batch answers).
    fn plan_set(&mut self, k: (String, String), v: Option<f64>) {
        if let Some(p) = self.pending.as_mut() {
            if !p.before.contains_key(&k) {
                let old = self.plan.get(&k).copied().unwrap_or(0.0);
                p.before.insert(k.clone(), old);
            }
        }
        match v {
            Some(v) => {
                self.plan.insert(k, v);
            }
            None => {
                self.plan.remove(&k);
            }
        }
    }

    fn plan_remove_need<'a>(&mut self, need: &str, resources: impl Iterator<Item = &'a String>) {
        let keys: Vec<(String, String)> = resources
            .map(|r| (r.clone(), need.to_string()))
            .filter(|k| self.plan.contains_key(k))
            .collect();
        for k in keys {
            self.plan_set(k, None);
        }
    }

    fn plan_remove_resource(&mut self, resource: &str) {
        let keys: Vec<(String, String)> = self
            .plan
            .range((resource.to_string(), String::new())..)
            .take_while(|((r, _), _)| r == resource)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.plan_set(k, None);
        }
    }

    /// Replay one logged event (no checks, no re-plan: call [`Session::replan_all`] after).
    pub fn replay(&mut self, a: &Applied) -> Result<(), String> {
        let mut tn = BTreeSet::new();
        let mut tr = BTreeSet::new();
        let kind = match a {
            Applied::NeedAdded { need } => EventKind::NeedAdded(one_need(need)?),
            Applied::NeedUpdated { need } => EventKind::NeedUpdated(one_need(need)?),
            Applied::NeedWithdrawn { id } => EventKind::NeedWithdrawn(id.clone()),
            Applied::ResourceAdded { resource } => {
                EventKind::ResourceAdded(one_resource(resource)?)
            }
            Applied::ResourceUpdated { resource } => {
                EventKind::ResourceUpdated(one_resource(resource)?)
            }
            Applied::ResourceWithdrawn { id } => EventKind::ResourceWithdrawn(id.clone()),
            Applied::ResourceReturned { id } => EventKind::ResourceReturned(id.clone()),
            Applied::Dispatched { dispatch } => {
                if !self.need_ix.contains_key(&dispatch.need)
                    || !self.res_ix.contains_key(&dispatch.resource)
                {
                    return Err(format!("log: dispatch of unknown {dispatch:?}"));
                }
                self.commit(dispatch, &mut tn, &mut tr);
                return Ok(());
            }
        };
        self.check(&[Event {
            kind: kind.clone(),
            event_id: None,
        }])
        .map_err(|e| format!("log: {}", e.message))?;
        self.apply_one(&kind, &mut tn, &mut tr).map(|_| ())
    }

    /// The residual scenario: open needs (their open part) and resources less their active
    /// dispatches, every session dimension present.
    pub fn residual_scenario(&self) -> Scenario {
        self.scenario_of(
            &(0..self.needs.len())
                .filter(|&i| self.is_open(i))
                .collect::<Vec<_>>(),
            &(0..self.resources.len()).collect::<Vec<_>>(),
        )
    }

    fn scenario_of(&self, needs: &[usize], resources: &[usize]) -> Scenario {
        let mut res: Vec<Resource> = resources
            .iter()
            .map(|&i| self.residual[i].clone())
            .collect();
        if let Some(first) = res.first_mut() {
            for d in &self.dims {
                first.capacity.entry(d.clone()).or_insert(0.0);
            }
        }
        Scenario {
            name: self.name.clone(),
            resources: res,
            needs: needs.iter().map(|&i| self.residual_need(i)).collect(),
            links: None,
            policy: self.policy.clone(),
        }
    }

    /// Solve the whole residual scenario again. Returns the number of needs planned.
    pub fn replan_all(&mut self) -> usize {
        let keys: Vec<(String, String)> = self.plan.keys().cloned().collect();
        for k in keys {
            self.plan_set(k, None);
        }
        self.marginal.clear();
        self.shadow.clear();
        self.trouble.clear();
        let needs: Vec<usize> = (0..self.needs.len()).filter(|&i| self.is_open(i)).collect();
        let res: Vec<usize> = (0..self.resources.len()).collect();
        self.solve_part(&needs, &res);
        needs.len()
    }

    /// Re-plan the components that contain a touched entity.
    fn replan(&mut self, tn: &BTreeSet<String>, tr: &BTreeSet<String>) -> usize {
        let mut seen_n: HashSet<&str> = HashSet::new();
        let mut seen_r: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<Node> = VecDeque::new();
        for n in tn {
            if self.need_ix.contains_key(n) && seen_n.insert(n) {
                queue.push_back(Node::Need(n));
            }
        }
        for r in tr {
            if self.res_ix.contains_key(r) && seen_r.insert(r) {
                queue.push_back(Node::Res(r));
            }
        }
        while let Some(node) = queue.pop_front() {
            match node {
                Node::Need(n) => {
                    for r in self.adj_need.get(n).into_iter().flatten() {
                        if seen_r.insert(r) {
                            queue.push_back(Node::Res(r));
                        }
                    }
                }
                Node::Res(r) => {
                    for n in self.adj_res.get(r).into_iter().flatten() {
                        if seen_n.insert(n) {
                            queue.push_back(Node::Need(n));
                        }
                    }
                }
            }
        }
        let mut needs: Vec<usize> = seen_n
            .iter()
            .map(|n| self.need_ix[*n])
            .filter(|&i| self.is_open(i))
            .collect();
        let mut res: Vec<usize> = seen_r.iter().map(|r| self.res_ix[*r]).collect();
        needs.sort_unstable();
        res.sort_unstable();
        let (sn, sr): (HashSet<String>, HashSet<String>) = (
            seen_n.iter().map(|s| s.to_string()).collect(),
            seen_r.iter().map(|s| s.to_string()).collect(),
        );
        // Every plan entry of a closure need has its resource in the closure too (a link that
        // disappears touches both ends), so removing by resource clears the closure.
        for r in &sr {
            self.plan_remove_resource(r);
        }
        for n in &sn {
            self.marginal.remove(n);
            self.trouble.remove(n);
        }
        for r in &sr {
            self.shadow.remove(r);
        }
        if !needs.is_empty() {
            self.solve_part(&needs, &res);
        }
        needs.len()
    }

    fn solve_part(&mut self, needs: &[usize], resources: &[usize]) {
        let sub = self.scenario_of(needs, resources);
        if sub.needs.is_empty() {
            return;
        }
        // The shared rayon pool: no pool is built per re-plan, and the plan is the same
        // whatever the thread count (components are solved independently, merged in order).
        let report = Report::new(&solve_with(&sub, &SolveOptions::default()));
        for a in &report.allocations {
            self.plan_set((a.resource.clone(), a.need.clone()), Some(a.share));
        }
        for n in &report.needs {
            if n.marginal_value != 0.0 {
                self.marginal.insert(n.id.clone(), n.marginal_value);
            }
        }
        for r in &report.resources {
            let prices: BTreeMap<String, f64> = report
                .dims
                .iter()
                .zip(&r.shadow_price)
                .filter(|(_, p)| **p != 0.0)
                .map(|(d, p)| (d.clone(), *p))
                .collect();
            if !prices.is_empty() {
                self.shadow.insert(r.id.clone(), prices);
            }
        }
        if report.summary.status != Status::Optimal {
            for n in &sub.needs {
                self.trouble.insert(n.id.clone(), report.summary.status);
            }
        }
    }

    /// The plan as a full report over the residual scenario (summary and tables), built from
    /// the incremental plan without solving again.
    pub fn report(&self) -> Report {
        let s = self.residual_scenario();
        let net = crate::graph::Network::build(&s);
        let nd = net.num_dims();
        let x: Vec<f64> = net
            .edges
            .iter()
            .map(|e| {
                self.plan
                    .get(&(
                        s.resources[e.resource()].id.clone(),
                        s.needs[e.need()].id.clone(),
                    ))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect();
        let mut shadow = vec![0.0; s.resources.len() * nd];
        for (ri, r) in s.resources.iter().enumerate() {
            if let Some(p) = self.shadow.get(&r.id) {
                for (di, d) in net.dims.iter().enumerate() {
                    shadow[ri * nd + di] = p.get(d).copied().unwrap_or(0.0);
                }
            }
        }
        let marginal = s
            .needs
            .iter()
            .map(|n| self.marginal.get(&n.id).copied().unwrap_or(0.0))
            .collect();
        let status = self
            .trouble
            .values()
            .copied()
            .find(|st| *st == Status::Infeasible)
            .or_else(|| self.trouble.values().copied().next())
            .unwrap_or(Status::Optimal);
        let solution = crate::solve::Solution {
            status,
            x,
            shadow,
            marginal,
            gap: None,
            infeasibility: None,
            solver: "session".into(),
            components: crate::graph::components(s.resources.len(), s.needs.len(), &net.edges)
                .iter()
                .filter(|c| !c.edges.is_empty())
                .count(),
            solve_ms: 0.0,
        };
        Report::new(&crate::solve::Outcome {
            scenario: &s,
            network: net,
            solution,
        })
    }

    /// Why a need is unserved or partly served, for a coordinator.
    pub fn why(&self, need: &str) -> Option<Value> {
        let &ni = self.need_ix.get(need)?;
        let n = &self.needs[ni];
        let open = self.open[ni];
        let served_now: f64 = self
            .plan
            .iter()
            .filter(|((_, nn), _)| nn == need)
            .map(|(_, s)| s)
            .sum();
        let dispatched: Vec<&Dispatch> =
            self.dispatches.iter().filter(|d| d.need == need).collect();
        let coverage = (1.0 - open) + open * served_now;
        let mut out = json!({
            "need": need,
            "coverage": coverage,
            "dispatched_fraction": 1.0 - open,
            "planned_share_of_open_part": served_now,
            "dispatches": dispatched,
            "marginal_value": self.marginal.get(need).copied().unwrap_or(0.0),
        });
        if coverage >= 1.0 - 1e-9 {
            out["reason"] = json!("served");
            out["explanation"] =
                json!("the need is fully served by its dispatches and planned matches");
            return Some(out);
        }
        let linked = self.adj_need.get(need).cloned().unwrap_or_default();
        if linked.is_empty() {
            // Nearest candidates first (by distance where known, else input order), with the
            // rule that excludes each.
            let rn = self.residual_need(ni);
            let mut cands: Vec<(f64, usize, Excluded)> = self
                .residual
                .iter()
                .enumerate()
                .filter_map(|(ri, r)| {
                    check_link(ri, r, ni, &rn, &self.policy).err().map(|e| {
                        let d = distance(r, &rn).unwrap_or(f64::INFINITY);
                        (d, ri, e)
                    })
                })
                .collect();
            cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let nearest: Vec<Value> = cands
                .iter()
                .take(5)
                .map(|(d, ri, e)| {
                    json!({"resource": self.residual[*ri].id,
                        "distance_km": d.is_finite().then_some(*d),
                        "excluded_by": e, "explanation": e.to_string()})
                })
                .collect();
            out["reason"] = json!("no_compatible_resource");
            out["explanation"] = json!(if self.resources.is_empty() {
                "there are no resources in the session".to_string()
            } else {
                format!(
                    "no resource passes the link rules for this {} need; the nearest candidates and the rule that excludes each are listed",
                    n.kind
                )
            });
            out["candidates"] = Value::Array(nearest);
            return Some(out);
        }
        if let Some(st) = self.trouble.get(need) {
            out["reason"] = json!(st.as_str());
        } else {
            out["reason"] = json!("capacity_exhausted");
        }
        let mut resources = Vec::new();
        for r in &linked {
            let ri = self.res_ix[r];
            let serves: Vec<Value> = self
                .plan
                .iter()
                .filter(|((rr, _), _)| rr == r)
                .map(|((_, nn), s)| {
                    let p = self
                        .need_ix
                        .get(nn)
                        .map(|&i| self.residual_need(i).priority)
                        .unwrap_or(0.0);
                    json!({"need": nn, "share": s, "priority_of_open_part": p})
                })
                .collect();
            resources.push(json!({
                "resource": r,
                "capacity_left": self.residual[ri].capacity,
                "shadow_price": self.shadow.get(r).cloned().unwrap_or_default(),
                "serves_instead": serves,
            }));
        }
        out["explanation"] = json!(format!(
            "every linked resource is used by needs that the plan values more per unit of capacity (priority {} for this need's open part); one more unit of a resource's capacity would add its shadow price to the value served",
            self.residual_need(ni).priority
        ));
        out["linked_resources"] = Value::Array(resources);
        Some(out)
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

fn one_need(v: &Value) -> Result<Need, String> {
    scenario_from_value(&json!({"resources": [], "needs": [v]}))
        .map(|s| s.needs[0].clone())
        .map_err(|e| format!("log: {e}"))
}

fn one_resource(v: &Value) -> Result<Resource, String> {
    scenario_from_value(&json!({"resources": [v], "needs": []}))
        .map(|s| s.resources[0].clone())
        .map_err(|e| format!("log: {e}"))
}
