//! Applying events: staging a batch (on a copy when a dispatch needs the re-planned state),
//! committing dispatches, the plan diff a batch answers, and replay of the durable log.

use super::{
    entity_value, one_need, one_resource, Applied, BatchOutcome, Dispatch, Event, EventError,
    EventKind, MatchChange, Pending, Refusal, ReplayError, Session, EPS,
};
use crate::model::Quantities;
use std::collections::BTreeSet;

impl Session {
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
    pub(super) fn stage_checked(
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
                .map_err(|refusal| EventError { index, refusal })?;
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

    pub(super) fn apply_one(
        &mut self,
        kind: &EventKind,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) -> Result<Applied, Refusal> {
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
                    return Err(Refusal::NotProposed {
                        need: need.clone(),
                        resource: resource.clone(),
                    });
                }
                // The plan only proposes what the rules and capacities allow; these checks
                // make the invariant hold whatever produced the plan (an infeasible
                // component's plan included).
                if !self
                    .adj_need
                    .get(need)
                    .is_some_and(|l| l.contains(resource))
                {
                    return Err(Refusal::NotLinked {
                        need: need.clone(),
                        resource: resource.clone(),
                    });
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
                        return Err(Refusal::OverCapacity {
                            need: need.clone(),
                            resource: resource.clone(),
                            dimension: d.clone(),
                            amount: *a,
                            left: cap,
                        });
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
    pub(super) fn commit(
        &mut self,
        d: &Dispatch,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) {
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
    pub(super) fn plan_set(&mut self, k: (String, String), v: Option<f64>) {
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

    pub(super) fn plan_remove_need<'a>(
        &mut self,
        need: &str,
        resources: impl Iterator<Item = &'a String>,
    ) {
        let keys: Vec<(String, String)> = resources
            .map(|r| (r.clone(), need.to_string()))
            .filter(|k| self.plan.contains_key(k))
            .collect();
        for k in keys {
            self.plan_set(k, None);
        }
    }

    pub(super) fn plan_remove_resource(&mut self, resource: &str) {
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
    pub fn replay(&mut self, a: &Applied) -> Result<(), ReplayError> {
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
                    return Err(ReplayError::UnknownDispatch {
                        need: dispatch.need.clone(),
                        resource: dispatch.resource.clone(),
                    });
                }
                self.commit(dispatch, &mut tn, &mut tr);
                return Ok(());
            }
        };
        self.check(&[Event {
            kind: kind.clone(),
            event_id: None,
        }])
        .map_err(|e| e.refusal)?;
        self.apply_one(&kind, &mut tn, &mut tr)?;
        Ok(())
    }
}
