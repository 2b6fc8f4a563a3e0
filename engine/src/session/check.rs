//! The all-or-nothing pre-check of a batch: id conflicts and dispatch targets simulated on
//! overlays of the state, so the cost follows the batch, not the session's size.

use super::{Event, EventError, EventKind, Refusal, Session};
use crate::input::{need_window_issue, timed_columns, timed_size_issue};
use crate::model::{Need, Resource};
use std::collections::{HashMap, HashSet};

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
    /// Check a batch against the current state without changing it.
    pub(super) fn check<'a>(&'a self, events: &'a [Event]) -> Result<(), EventError> {
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
        let mut clock = self.clock;
        for (index, e) in events.iter().enumerate() {
            let err = |refusal: Refusal| Err(EventError { index, refusal });
            if let Some(id) = &e.event_id {
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
                    if !self.timed && is_active(id, &active, &returned) {
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
                EventKind::ResourceReturned(id) => {
                    if !res.contains(id.as_str()) {
                        return err(Refusal::NoResource(id.clone()));
                    }
                    if self.timed {
                        continue; // one loan at a time: `stage` checks it (see above)
                    }
                    if !is_active(id, &active, &returned) {
                        return err(Refusal::NothingToReturn(id.clone()));
                    }
                    active.remove(id.as_str());
                    returned.insert(id.as_str());
                }
            }
        }
        if self.timed {
            self.check_timed_size(events)
                .map_err(|refusal| EventError {
                    index: events.len().saturating_sub(1),
                    refusal,
                })?;
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
