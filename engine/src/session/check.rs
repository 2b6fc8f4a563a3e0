//! The all-or-nothing pre-check of a batch: id conflicts and dispatch targets simulated on
//! overlays of the state, so the cost follows the batch, not the session's size.

use super::index_set::IndexSet;
use super::{Event, EventError, EventKind, Refusal, Session};
use crate::graph::rule_link;
use crate::input::{
    need_window_issue, result_cells_issue, timed_columns, timed_size_issue, MAX_DIM_ENTRIES,
};
use crate::model::{Need, Resource};
use std::collections::{BTreeSet, HashMap, HashSet};

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

impl Session {
    /// Check a batch against the current state without changing it: ids, targets and
    /// windows ([`Session::check_consistent`]), then the model's sizes after the batch.
    pub(super) fn check<'a>(&'a self, events: &'a [Event]) -> Result<(), EventError> {
        self.check_consistent(events)?;
        let sized = self.check_model_size(events).and_then(|()| {
            if self.timed {
                self.check_timed_size(events)
            } else {
                Ok(())
            }
        });
        sized.map_err(|refusal| EventError {
            index: events.len().saturating_sub(1),
            refusal,
        })
    }

    /// The checks a logged event is held to again when the log is replayed: ids, dispatch
    /// targets and windows, which hold or fail alike one event at a time. The size bounds are
    /// an admission rule of the batch as a whole, not of each event: a batch admitted whole
    /// (a need added, then another withdrawn) is not refused piecemeal on replay.
    pub(super) fn check_consistent<'a>(&'a self, events: &'a [Event]) -> Result<(), EventError> {
        // Simulate id sets and dispatch targets through the batch, as overlays on the state
        // (the cost follows the batch, not the session's size).
        let mut needs = Overlay::new(&self.need_ix);
        let mut res = Overlay::new(&self.res_ix);
        let mut active: HashMap<&str, usize> = HashMap::new();
        let mut returned: HashSet<&str> = HashSet::new();
        // Resources a return of one loan touched: whether loans are left out on them is known
        // only when `stage` applies the batch (on a copy), so later checks of them wait.
        let mut one_loan_back: HashSet<&str> = HashSet::new();
        let is_active = |r: &str, active: &HashMap<&str, usize>, returned: &HashSet<&str>| {
            active.get(r).copied().unwrap_or(0) > 0
                || (!returned.contains(r)
                    && self.dispatches.iter().any(|d| d.active && d.resource == r))
        };
        let mut ids = HashSet::new();
        let mut clock = self.clock;
        for (index, e) in events.iter().enumerate() {
            let err = |refusal: Refusal| Err(EventError { index, refusal });
            if let Some(id) = &e.event_id {
                // A retry is skipped; another event under a used id is refused, not dropped
                // as a retry would be (its sender would take it for applied).
                if self.seen.reused(id, e.digest) {
                    return err(Refusal::EventIdReused(id.clone()));
                }
                if self.seen.contains(id) {
                    continue;
                }
                if !ids.insert(id.as_str()) {
                    return err(Refusal::RepeatedEventId(id.clone()));
                }
            }
            if let Some(at) = e.at {
                match clock {
                    Some(now) if at < now => {
                        return err(Refusal::ClockBackwards { at, clock: now })
                    }
                    _ => clock = Some(at),
                }
            }
            if let EventKind::NeedAdded(n) | EventKind::NeedUpdated(n) = &e.kind {
                // The window checks a scenario's validator makes (`Session::new` starts from
                // a validated scenario; an event's need was checked alone, without the
                // session's policy): a window of 10^12 starts would otherwise be walked.
                if let Some((field, message)) = need_window_issue(n, &self.policy) {
                    return err(Refusal::NeedWindow {
                        need: n.id.clone(),
                        field: field.into(),
                        message,
                    });
                }
            }
            match &e.kind {
                EventKind::NeedAdded(n) => {
                    if !needs.insert(&n.id) {
                        return err(Refusal::NeedExists(n.id.clone()));
                    }
                }
                EventKind::NeedUpdated(n) => {
                    if !needs.contains(n.id.as_str()) {
                        return err(Refusal::NoNeed(n.id.clone()));
                    }
                }
                EventKind::NeedWithdrawn(id) => {
                    if !needs.remove(id.as_str()) {
                        return err(Refusal::NoNeed(id.clone()));
                    }
                }
                EventKind::ResourceAdded(r) => {
                    if !res.insert(&r.id) {
                        return err(Refusal::ResourceExists(r.id.clone()));
                    }
                }
                EventKind::ResourceUpdated(r) => {
                    if !res.contains(r.id.as_str()) {
                        return err(Refusal::NoResource(r.id.clone()));
                    }
                }
                EventKind::ResourceWithdrawn(id) => {
                    if !res.contains(id.as_str()) {
                        return err(Refusal::NoResource(id.clone()));
                    }
                    // In a timed session a return ends one loan, not all: whether loans are
                    // left is known only when `stage` applies the batch (on a copy).
                    if !self.timed
                        && !one_loan_back.contains(id.as_str())
                        && is_active(id, &active, &returned)
                    {
                        return err(Refusal::ActiveDispatches(id.clone()));
                    }
                    res.remove(id.as_str());
                }
                EventKind::Dispatched { need, resource } => {
                    if !needs.contains(need.as_str()) {
                        return err(Refusal::NoNeed(need.clone()));
                    }
                    if !res.contains(resource.as_str()) {
                        return err(Refusal::NoResource(resource.clone()));
                    }
                    // Whether the match is proposed is known only once the events before it
                    // are re-planned: `stage` checks that when it applies the dispatch.
                    *active.entry(resource.as_str()).or_default() += 1;
                    returned.remove(resource.as_str());
                }
                EventKind::DispatchReleased { resource, .. } => {
                    // The need may be withdrawn: its booking still holds the resource.
                    if !res.contains(resource.as_str()) {
                        return err(Refusal::NoResource(resource.clone()));
                    }
                    // Whether there is a dispatch to release `stage` checks when it applies
                    // it (on a copy of the state).
                }
                EventKind::ResourceReturned { id, need } => {
                    if !res.contains(id.as_str()) {
                        return err(Refusal::NoResource(id.clone()));
                    }
                    if self.returns_one_loan(need.as_deref()) {
                        one_loan_back.insert(id.as_str());
                        continue; // one loan, or one need's: `stage` checks it (see above)
                    }
                    if !is_active(id, &active, &returned) {
                        return err(Refusal::NothingToReturn(id.clone()));
                    }
                    active.remove(id.as_str());
                    returned.insert(id.as_str());
                }
            }
        }
        Ok(())
    }

    /// The model's size after the batch, as a scenario's validator bounds it (before any link
    /// is made): resources plus needs, and links, times the dimensions at most
    /// [`MAX_DIM_ENTRIES`], links at most `max_links` ([`crate::input::MAX_LINKS`] or a service's bound).
    /// The links are the session's now (less those of the needs the batch updates) plus
    /// every added or updated need's and resource's links by the rules, counted only when the counts of needs and resources
    /// could pass the bound; other links the batch removes are not subtracted (a bound, not a
    /// count). Retries (event ids already applied) are skipped, as applying skips them.
    fn check_model_size(&self, events: &[Event]) -> Result<(), Refusal> {
        self.model_size_within(events, self.max_links, MAX_DIM_ENTRIES)
    }

    /// [`Session::check_model_size`] under the bounds given (tests use small ones).
    fn model_size_within<'a>(
        &'a self,
        events: &'a [Event],
        max_links: usize,
        max_entries: usize,
    ) -> Result<(), Refusal> {
        // Only the batch's dimensions the session has not seen: no copy of its own per batch.
        let mut new_dims: BTreeSet<&str> = BTreeSet::new();
        let mut note = |dim: &'a String| {
            if !self.dims.contains(dim) {
                new_dims.insert(dim.as_str());
            }
        };
        let mut needs: Vec<&Need> = Vec::new();
        let mut resources: Vec<&Resource> = Vec::new();
        let mut rows = self.needs.len() + self.resources.len();
        // The same rows apart: the plan's tables have three cells a dimension per resource.
        let mut resource_rows = self.resources.len();
        let mut updated: HashSet<&str> = HashSet::new();
        for e in events {
            if e.event_id.as_ref().is_some_and(|id| self.seen.contains(id)) {
                continue; // a retry, skipped when the batch is applied
            }
            match &e.kind {
                EventKind::NeedAdded(n) | EventKind::NeedUpdated(n) => {
                    if matches!(e.kind, EventKind::NeedAdded(_)) {
                        rows += 1;
                    } else {
                        updated.insert(&n.id);
                    }
                    n.demand.keys().for_each(&mut note);
                    needs.push(n);
                }
                EventKind::ResourceAdded(r) | EventKind::ResourceUpdated(r) => {
                    let added = usize::from(matches!(e.kind, EventKind::ResourceAdded(_)));
                    rows += added;
                    resource_rows += added;
                    r.capacity.keys().for_each(&mut note);
                    resources.push(r);
                }
                // Capacity given back, and a released need open again: the links the rules
                // drop at no capacity come back, counted as those of a resource or need added
                // (their links now are counted too: a bound). Unchecked, needs added while
                // the resources were used up got every link at the return, past the bound.
                EventKind::ResourceReturned { id, .. } => {
                    if let Some(&i) = self.res_ix.get(id) {
                        resources.push(&self.resources[i]);
                    }
                }
                EventKind::DispatchReleased { need, resource } => {
                    if let Some(&i) = self.need_ix.get(need) {
                        needs.push(&self.needs[i]);
                    }
                    if let Some(&i) = self.res_ix.get(resource) {
                        resources.push(&self.resources[i]);
                    }
                }
                _ => {}
            }
        }
        if needs.is_empty() && resources.is_empty() {
            return Ok(()); // nothing that adds a row, a dimension or a link
        }
        let d = (self.dims.len() + new_dims.len()).max(1);
        if let Some(message) = result_cells_issue(resource_rows, rows - resource_rows, d) {
            return Err(Refusal::ModelTooLarge(message));
        }
        let entries = rows.saturating_mul(d);
        if entries > max_entries {
            return Err(Refusal::ModelTooLarge(format!(
                "{d} dimensions over {rows} resources and needs make {entries} entries, more than {max_entries}: use fewer dimensions"
            )));
        }
        let cap = max_links.min(max_entries / d);
        // An updated need's links are worked out anew: its present ones go (each link is one
        // need's, so none is taken off twice).
        let replaced: usize = updated
            .iter()
            .filter_map(|id| self.need_ix.get(*id))
            .map(|&i| self.adj_need[i].len())
            .sum();
        let now: usize = self.adj_res.iter().map(IndexSet::len).sum::<usize>() - replaced;
        let all_resources = self.resources.len() + resources.len();
        let all_needs = self.needs.len() + needs.len();
        let bound = now
            .saturating_add(needs.len().saturating_mul(all_resources))
            .saturating_add(resources.len().saturating_mul(all_needs));
        if bound <= cap {
            return Ok(());
        }
        let policy = &self.policy;
        let mut links = now;
        for n in &needs {
            let existing = self.residual.iter();
            links += existing
                .chain(resources.iter().copied())
                .filter(|r| rule_link(0, r, 0, n, policy).is_some())
                .count();
            if links > cap {
                break;
            }
        }
        for r in &resources {
            if links > cap {
                break;
            }
            let open = (0..self.needs.len()).filter(|&i| self.is_open(i));
            links += open
                .map(|i| &self.needs[i])
                .chain(needs.iter().copied())
                .filter(|n| rule_link(0, r, 0, n, policy).is_some())
                .count();
        }
        if links > cap {
            return Err(Refusal::ModelTooLarge(format!(
                "the batch could take the session past {cap} links (at least {links}; fewer with more dimensions, {max_entries} link x dimension entries at most): withdraw needs or resources first, or send fewer"
            )));
        }
        Ok(())
    }

    /// The time model's size after the batch, as a scenario's validator bounds it: open needs
    /// as the batch leaves them (added, updated, withdrawn) against the resources there are
    /// and the batch adds (one withdrawn in the batch still counts: a bound, not a count).
    fn check_timed_size(&self, events: &[Event]) -> Result<(), Refusal> {
        let mut needs: HashMap<&str, &Need> = (0..self.needs.len())
            .filter(|&i| self.is_open(i))
            .map(|i| (self.needs[i].id.as_str(), &self.needs[i]))
            .collect();
        let mut added: Vec<&Resource> = Vec::new();
        for e in events {
            match &e.kind {
                EventKind::NeedAdded(n) | EventKind::NeedUpdated(n) => {
                    needs.insert(&n.id, n);
                }
                EventKind::NeedWithdrawn(id) => {
                    needs.remove(id.as_str());
                }
                EventKind::ResourceAdded(r) => added.push(r),
                _ => {}
            }
        }
        // Each term is a whole number below 2^53: the sum is exact in any order.
        let needs: Vec<&Need> = needs.into_values().collect();
        let resources = self.resources.iter().chain(added);
        let columns = timed_columns(resources, &needs, None, &self.policy);
        timed_size_issue(columns).map_or(Ok(()), |m| Err(Refusal::TimedModelTooLarge(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_streams::{self, resource};
    use super::super::{Refusal, Session};
    use crate::events::parse_events;
    use crate::input::scenario_from_value;
    use crate::seeds::SplitMix64;
    use serde_json::{json, Value};

    fn links(s: &Session) -> usize {
        s.adj_res.iter().map(|set| set.len()).sum()
    }

    fn entries(s: &Session) -> usize {
        (s.needs.len() + s.resources.len()) * s.dims.len().max(1)
    }

    fn too_large(r: Result<(), Refusal>, what: &str) -> bool {
        matches!(r, Err(Refusal::ModelTooLarge(ref m)) if m.contains(what))
    }

    /// Each refusal names the field of the event as sent (every refusal's field was null).
    #[test]
    fn a_refusal_names_the_events_field() {
        let init = scenario_from_value(&json!({
            "resources": [{"id": "r0", "kind": "a", "capacity": {"h": 2}}],
            "needs": [{"id": "n0", "kind": "a", "demand": {"h": 1}}]}))
        .unwrap();
        let mut s = Session::new(&init).unwrap();
        let field = |s: &mut Session, event: Value| {
            let events = parse_events(&json!([event])).unwrap();
            let e = s.stage(&events).unwrap_err();
            e.refusal.field(&events[e.index])
        };
        for (event, want) in [
            (
                json!({"type": "need_added", "need": {"id": "n0", "kind": "a", "demand": {"h": 1}}}),
                Some("need.id"),
            ),
            (
                json!({"type": "resource_updated", "resource": {"id": "zz", "kind": "a", "capacity": {"h": 1}}}),
                Some("resource.id"),
            ),
            (json!({"type": "need_withdrawn", "id": "zz"}), Some("id")),
            (
                json!({"type": "dispatched", "need": "zz", "resource": "r0"}),
                Some("need"),
            ),
            (
                json!({"type": "dispatched", "need": "n0", "resource": "zz"}),
                Some("resource"),
            ),
            (json!({"type": "resource_returned", "id": "r0"}), Some("id")),
            (
                json!({"type": "dispatch_released", "need": "n0", "resource": "r0"}),
                Some("resource"),
            ),
        ] {
            assert_eq!(field(&mut s, event.clone()).as_deref(), want, "{event}");
        }
        let events =
            parse_events(&json!([{"type": "need_withdrawn", "id": "n0", "at": 5}])).unwrap();
        s.stage(&events).unwrap();
        assert_eq!(
            field(
                &mut s,
                json!({"type": "need_withdrawn", "id": "n0", "at": 1})
            )
            .as_deref(),
            Some("at")
        );
    }

    /// Three needs and two resources of one kind, no distance rule: six links. A batch adding
    /// a need and a resource of that kind, and a resource of another, makes twelve; the bound
    /// counts the new pair from both sides (13: 6, the new need's 3, the new resource's 4).
    #[test]
    fn a_batch_past_the_bounds_is_refused_before_it_is_applied() {
        let init = scenario_from_value(&json!({
            "resources": [{"id": "r0", "kind": "a", "capacity": {"h": 2}},
                          {"id": "r1", "kind": "a", "capacity": {"h": 2}}],
            "needs": [{"id": "n0", "kind": "a", "demand": {"h": 1}},
                      {"id": "n1", "kind": "a", "demand": {"h": 1}},
                      {"id": "n2", "kind": "a", "demand": {"h": 1}}]}))
        .unwrap();
        let s = Session::new(&init).unwrap();
        assert_eq!(links(&s), 6);
        let events = parse_events(&json!([
            {"type": "need_added", "need": {"id": "n3", "kind": "a", "demand": {"h": 1}}},
            {"type": "resource_added", "resource": {"id": "r2", "kind": "a", "capacity": {"h": 1}}},
            {"type": "resource_added", "resource": {"id": "b0", "kind": "b", "capacity": {"h": 1}}}
        ]))
        .unwrap();
        assert!(too_large(s.model_size_within(&events, 12, 1000), "links"));
        assert!(s.model_size_within(&events, 13, 1000).is_ok());
        assert!(
            s.model_size_within(&events, 18, 1000).is_ok(),
            "counts alone"
        );
        // 8 resources and needs in one dimension.
        assert!(too_large(s.model_size_within(&events, 100, 7), "entries"));
        assert!(too_large(s.model_size_within(&events, 100, 8), "links"));
        // A second dimension doubles the entries and halves the links allowed.
        let two = parse_events(&json!([{"type": "need_added",
            "need": {"id": "n3", "kind": "b", "demand": {"h": 1, "kg": 1}}}]))
        .unwrap();
        assert!(too_large(s.model_size_within(&two, 100, 11), "entries"));
        assert!(s.model_size_within(&two, 100, 12).is_ok());
        // An update's links replace its own: six links stay six.
        let update = parse_events(&json!([{"type": "need_updated",
            "need": {"id": "n0", "kind": "a", "demand": {"h": 2}}}]))
        .unwrap();
        assert!(s.model_size_within(&update, 6, 1000).is_ok());
        assert!(too_large(s.model_size_within(&update, 5, 1000), "links"));
        // A resource used up links no need added meanwhile; its return brings their links
        // back, and is held to the bound as an addition is.
        let mut used = Session::new(
            &scenario_from_value(&json!({
                "resources": [{"id": "r0", "kind": "a", "capacity": {"h": 1}}],
                "needs": [{"id": "n0", "kind": "a", "demand": {"h": 1}}]}))
            .unwrap(),
        )
        .unwrap();
        let dispatch_and_add = parse_events(&json!([
            {"type": "dispatched", "need": "n0", "resource": "r0"},
            {"type": "need_added", "need": {"id": "n1", "kind": "a", "demand": {"h": 1}}},
            {"type": "need_added", "need": {"id": "n2", "kind": "a", "demand": {"h": 1}}}
        ]))
        .unwrap();
        used.apply(&dispatch_and_add).unwrap();
        assert_eq!(links(&used), 0);
        let back = parse_events(&json!([{"type": "resource_returned", "id": "r0"}])).unwrap();
        assert!(too_large(used.model_size_within(&back, 1, 1000), "links"));
        assert!(used.model_size_within(&back, 2, 1000).is_ok());
        let release = parse_events(&json!([
            {"type": "dispatch_released", "need": "n0", "resource": "r0"}]))
        .unwrap();
        assert!(too_large(
            used.model_size_within(&release, 2, 1000),
            "links"
        ));
        assert!(used.model_size_within(&release, 4, 1000).is_ok());
        // A retry of an applied batch is skipped, as applying skips it.
        let mut s = s;
        let retry = parse_events(&json!([{"type": "need_added", "event_id": "e1",
            "need": {"id": "n3", "kind": "a", "demand": {"h": 1}}}]))
        .unwrap();
        s.apply(&retry).unwrap();
        assert_eq!(links(&s), 8);
        assert!(s.model_size_within(&retry, 8, 1000).is_ok());
    }

    /// Under the real bound: a need of 2,000 new dimensions sent to a session of 1,999 needs
    /// and a resource would make 4,008,003 cells of the plan's per-dimension tables (each
    /// about 200 bytes in a JSON answer); refused by `stage`, the session unchanged.
    #[test]
    fn a_need_of_many_dimensions_is_refused_by_stage() {
        let needs: Vec<Value> = (0..1999)
            .map(|i| json!({"id": format!("n{i}"), "kind": "a", "demand": {"h": 1}}))
            .collect();
        let init = scenario_from_value(&json!({"needs": needs,
            "resources": [{"id": "r0", "kind": "a", "capacity": {"h": 5}}]}))
        .unwrap();
        let mut s = Session::new(&init).unwrap();
        let demand: serde_json::Map<String, Value> =
            (0..2_000).map(|i| (format!("d{i}"), json!(1))).collect();
        let events = parse_events(&json!([{"type": "need_added",
            "need": {"id": "wide", "kind": "a", "demand": demand}}]))
        .unwrap();
        let e = s.stage(&events).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(
            matches!(&e.refusal, Refusal::ModelTooLarge(m)
                if m.contains("2001 dimensions over 1 resources and 2000 needs make 4008003 cells")
                    && m.contains("more than 3000000")),
            "{}",
            e.refusal
        );
        assert_eq!((s.needs.len(), s.dims.len()), (1999, 1), "nothing applied");
    }

    /// A need of the shared streams, in a second dimension one time in six.
    fn need(rng: &mut SplitMix64, id: &str) -> Value {
        let mut n = test_streams::need(rng, id);
        if rng.int(0, 5) == 0 {
            n["demand"] = json!({"kg": rng.int(1, 4)});
        }
        n
    }

    /// On random sessions and batches of every event that changes links: whenever the batch
    /// leaves more links or entries than a bound allows, the check refuses it (the bound is
    /// never below what applying the batch makes).
    #[test]
    fn the_bound_is_never_below_what_the_batch_makes() {
        for seed in 0..10 {
            let mut rng = SplitMix64::new(seed);
            let (_, mut s) = test_streams::session(&mut rng);
            let (mut next_n, mut next_r, mut checked, mut grew) = (10, 6, 0, 0);
            for _ in 0..40 {
                let need_ids: Vec<String> = s.needs.iter().map(|n| n.id.clone()).collect();
                let res_ids: Vec<String> = s.resources.iter().map(|r| r.id.clone()).collect();
                let batch: Vec<Value> = (0..rng.int(1, 4))
                    .map(|_| match rng.int(0, 5) {
                        0 => {
                            next_n += 1;
                            json!({"type": "need_added",
                                "need": need(&mut rng, &format!("n{next_n}"))})
                        }
                        1 => {
                            let id = &need_ids[rng.int(0, need_ids.len() as u64 - 1) as usize];
                            json!({"type": "need_updated", "need": need(&mut rng, id)})
                        }
                        2 => {
                            let id = &need_ids[rng.int(0, need_ids.len() as u64 - 1) as usize];
                            json!({"type": "need_withdrawn", "id": id})
                        }
                        3 => {
                            next_r += 1;
                            json!({"type": "resource_added",
                                "resource": resource(&mut rng, &format!("r{next_r}"))})
                        }
                        _ => {
                            let id = &res_ids[rng.int(0, res_ids.len() as u64 - 1) as usize];
                            json!({"type": "resource_updated", "resource": resource(&mut rng, id)})
                        }
                    })
                    .collect();
                let events = parse_events(&Value::Array(batch)).unwrap();
                let before = s.clone();
                if s.stage(&events).is_err() {
                    continue;
                }
                let (l, e) = (links(&s), entries(&s));
                assert!(before
                    .model_size_within(&events, usize::MAX, usize::MAX)
                    .is_ok());
                // A session is within the bounds before any batch (its scenario's, then each
                // batch's): a batch that leaves more than a bound the session kept is refused.
                if l > links(&before) {
                    assert!(
                        too_large(
                            before.model_size_within(&events, l - 1, usize::MAX),
                            "links"
                        ),
                        "seed {seed}: {l} links made, the bound let them pass"
                    );
                    grew += 1;
                }
                if e > entries(&before) {
                    assert!(
                        too_large(
                            before.model_size_within(&events, usize::MAX, e - 1),
                            "entries"
                        ),
                        "seed {seed}: {e} entries made, the bound let them pass"
                    );
                }
                checked += 1;
            }
            assert!(checked > 10, "seed {seed}: only {checked} batches accepted");
            assert!(grew > 3, "seed {seed}: only {grew} batches added links");
        }
    }
}
