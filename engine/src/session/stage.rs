//! Applying events: staging a batch (on a copy when a dispatch needs the re-planned state),
//! committing dispatches, the plan diff a batch answers, and replay of the durable log.

use super::{
    entity_value, one_need, one_resource, Applied, BatchOutcome, BookingConflict, Dispatch, Event,
    EventError, EventKind, Flushed, LoggedEventId, MatchChange, Pending, Proposal, Refusal,
    ReplayError, Session, EPS,
};
use crate::model::{snap_time, Quantities};
use crate::timed::Bookings;
use std::collections::BTreeSet;

/// The most a dispatch's plan share may fall short of its need's open part and still close
/// it ([`Session::hold_band`]): the summary's widest band of a need served in full
/// (`explain::SERVED_BAND`).
const CLOSED_BELOW: f64 = 1e-4;

impl Session {
    /// Apply a batch of events and re-plan once. All or nothing: an event that cannot be
    /// applied refuses the batch and leaves the session as it was. Returns the outcome and the
    /// events as applied (for the durable log).
    pub fn apply(&mut self, events: &[Event]) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        let (mut outcome, mut log) = self.stage(events)?;
        let flushed = self.flush();
        if !log.is_empty() {
            log.push(Applied::Replanned);
            log.extend(self.checkpoint_due());
        }
        outcome.changed = flushed.changed;
        outcome.replanned_needs = flushed.replanned_needs;
        outcome.conflicts = flushed.conflicts;
        Ok((outcome, log))
    }

    /// Apply a batch without re-planning what it touched (bursts: stage several batches, then
    /// [`Session::flush`] once). All or nothing: `check` refuses id conflicts on overlays
    /// first; a batch with a dispatch, whose validity is known only once the events before it
    /// are re-planned (or a return or release, which depend on the bookings), is applied to a
    /// copy that replaces the state only when every event applied.
    pub fn stage(&mut self, events: &[Event]) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        self.check(events)?;
        // After a return of one loan, a withdrawal is judged as it applies.
        let one_loan_back = events.iter().any(|e| {
            matches!(&e.kind, EventKind::ResourceReturned { need, .. }
                if self.returns_one_loan(need.as_deref()))
        });
        let may_refuse = |e: &Event| {
            let bookings = match &e.kind {
                EventKind::Dispatched { .. } | EventKind::DispatchReleased { .. } => true,
                // Refused while the id's bookings are on record (`apply_one`).
                EventKind::NeedAdded(n) => self.dispatches.iter().any(|d| d.need == n.id),
                // Refused when it adds a dimension to a dispatched need (`refused_live`), as
                // judged on the state the batch's earlier events leave: any update of a need
                // with dispatches may be.
                EventKind::NeedUpdated(n) => self.dispatches.iter().any(|d| d.need == n.id),
                // A timed return ends one loan, so what is left out is known only then.
                // So does a return that names its need.
                EventKind::ResourceReturned { need, .. } => self.returns_one_loan(need.as_deref()),
                // Over time `check` leaves loans out to `stage`; so it does after a return of
                // one loan in the batch.
                EventKind::ResourceWithdrawn(_) => self.timed || one_loan_back,
                _ => false,
            };
            bookings && !e.event_id.as_ref().is_some_and(|id| self.seen.contains(id))
        };
        let fresh = |e: &Event| !e.event_id.as_ref().is_some_and(|id| self.seen.contains(id));
        let refusable: Vec<usize> = (0..events.len())
            .filter(|&i| may_refuse(&events[i]))
            .collect();
        // The one event that may be refused is the batch's only change (no clock move with
        // it): a refusal finds the state as it was (`apply_one` refuses before it changes
        // anything, and `stage_checked` puts back what staging took), so the batch is applied
        // in place. A coordinator's single dispatch takes this path, without a copy of the
        // session, which costs as much as the session is large.
        // Only one change in the batch: an event after a dispatch could be refused because of
        // it (a withdrawal of the resource it holds, say) once the dispatch changed things.
        let changes = events.iter().filter(|e| fresh(e)).count();
        let in_place = match refusable.as_slice() {
            [] => true,
            [only] => !self.timed && changes == 1 && events[*only].at.is_none(),
            _ => false,
        };
        if in_place {
            self.stage_checked(events)
        } else {
            let mut copy = self.clone();
            let out = copy.stage_checked(events)?;
            *self = copy;
            Ok(out)
        }
    }

    /// Start staging batches unless already staging: what the next flush answers is
    /// measured from here (the plan's values and, over time, the bookings in conflict).
    pub(super) fn begin_staging(&mut self) {
        if self.pending.is_none() {
            self.pending = Some(Pending {
                dims: self.dims.len(),
                coupled: self.couples_groups(),
                conflicts_before: Some(self.conflict_keys()),
                ..Pending::default()
            });
        }
    }

    /// `stage` after `check`: only a dispatch can still fail here.
    pub(super) fn stage_checked(
        &mut self,
        events: &[Event],
    ) -> Result<(BatchOutcome, Vec<Applied>), EventError> {
        self.open_conflicts.take();
        self.begin_staging();
        let pending = self.pending.as_mut().expect("set above");
        let (mut tn, mut tr) = (
            std::mem::take(&mut pending.needs),
            std::mem::take(&mut pending.resources),
        );
        let mut applied = Vec::new();
        // A re-plan of a batch refused before this one goes first in this batch's log.
        let unlogged = std::mem::take(&mut self.replan_unlogged);
        if unlogged {
            applied.push(Applied::Replanned);
        }
        let mut replanned_here = false;
        let mut outcome = BatchOutcome {
            applied: 0,
            duplicates: Vec::new(),
            changed: Vec::new(),
            dispatched: Vec::new(),
            replanned_needs: 0,
            conflicts: Vec::new(),
        };
        for (index, e) in events.iter().enumerate() {
            if let Some(id) = &e.event_id {
                // A used id with another event was refused by `check`.
                if !self.seen.insert(id, Some(e.digest)) {
                    outcome.duplicates.push(id.clone());
                    continue;
                }
            }
            if let Some(at) = e.at.filter(|&at| self.clock.is_none_or(|now| at > now)) {
                self.advance_clock(at, &mut tn, &mut tr);
                self.pending.as_mut().expect("staging").stale = true;
                applied.push(Applied::Clock { at });
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
                    applied.push(Applied::Replanned);
                    replanned_here = true;
                }
            }
            let result = match self.refused_live(&e.kind) {
                Some(refusal) => Err(refusal),
                None => self.apply_one(&e.kind, &mut tn, &mut tr),
            };
            let a = match result {
                Ok(a) => a,
                Err(refusal) => {
                    // Put back what staging took, and forget the id: refused, not applied
                    // (`stage` relies on this to apply a batch in place).
                    let p = self.pending.as_mut().expect("staging has a pending set");
                    p.needs.append(&mut tn);
                    p.resources.append(&mut tr);
                    if let Some(id) = &e.event_id {
                        self.seen.forget_last(id);
                    }
                    // The re-plans it ran stay (in place), unlogged with it: the next
                    // accepted batch logs them first.
                    self.replan_unlogged = unlogged || replanned_here;
                    return Err(EventError { index, refusal });
                }
            };
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
        if applied.len() == usize::from(unlogged) {
            // Nothing applied (retries only): nothing to log, so the refused batch's re-plan
            // waits for the next batch that applies something, or the burst's re-plan covers
            // it. Carried here, a retry was numbered, logged and streamed as a change.
            self.replan_unlogged = unlogged;
            applied.clear();
        }
        // After each accepted batch, as a replay does after each logged one.
        self.seen.trim();
        Ok((outcome, applied))
    }

    /// Re-plan what the staged events touched: the matches that changed since the first
    /// staged batch, how many needs were re-planned, and the bookings newly in conflict.
    pub fn flush(&mut self) -> Flushed {
        // The re-plan of a refused batch is covered by this one, which its caller logs at
        // the end of the burst (the refused batch's re-plan took every touched entity, so
        // re-planning them once here gives the same plan).
        self.replan_unlogged = false;
        if self.pending.is_none() {
            return Flushed::default();
        }
        self.replan_touched();
        let p = self.pending.take().unwrap_or_default();
        let mut changed = Vec::new();
        for (k, b) in p.before {
            let a = self.plan.get(&k).copied().unwrap_or(0.0);
            // What the client holds: the value before this batch, unless an earlier answer
            // left out a move by rounding.
            let b = self.told.remove(&k).unwrap_or(b);
            let start_after = self.starts.get(&k.1).copied();
            let start_before = p.start_before.get(&k.1).copied().unwrap_or(start_after);
            let (before_start_h, after_start_h) = (
                start_before.filter(|_| b > 0.0),
                start_after.filter(|_| a > 0.0),
            );
            if share_moved(b, a) || before_start_h != after_start_h {
                changed.push(MatchChange {
                    resource: k.0.clone(),
                    need: k.1.clone(),
                    before: b,
                    after: a,
                    before_start_h,
                    after_start_h,
                });
            } else if b != a {
                self.told.insert(k, b);
            }
        }
        // The batch answers the bookings it put in conflict; working them out prepares the
        // list of all of them that `conflicts` answers until the next change.
        let conflicts = match &p.conflicts_before {
            Some(before) if !self.conflict_keys().is_subset(before) => self
                .conflicts()
                .into_iter()
                .filter(|c| !before.contains(&c.key()))
                .collect(),
            _ => Vec::new(),
        };
        Flushed {
            changed,
            replanned_needs: p.replanned,
            conflicts,
        }
    }

    /// Set or clear a need's planned start, remembering its value before the first change
    /// since the last flush.
    pub(super) fn set_start(&mut self, need: &str, start: Option<f64>) {
        if let Some(p) = self.pending.as_mut() {
            if !p.start_before.contains_key(need) {
                p.start_before
                    .insert(need.to_string(), self.starts.get(need).copied());
            }
        }
        match start {
            Some(s) => self.starts.insert(need.to_string(), s),
            None => self.starts.remove(need),
        };
    }

    /// Move the clock to `at` (later than it is): the open timed needs that had a candidate
    /// start before `at` and the resources whose bookings end by then change in the residual
    /// scenario, so they are touched; nothing else is.
    pub(super) fn advance_clock(
        &mut self,
        at: f64,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) {
        let before = self.clock.unwrap_or(f64::NEG_INFINITY);
        self.clock = Some(at);
        if !self.timed {
            return;
        }
        for ni in 0..self.needs.len() {
            let n = &self.needs[ni];
            if !self.is_open(ni) {
                continue;
            }
            if n.duration_h.is_none() {
                // Link rule 5 holds at the clock: a deadline the clock passed ends the links.
                if n.deadline.is_some_and(|d| d >= before && d < at) {
                    tn.insert(n.id.clone());
                }
                continue;
            }
            let (first, last) = match self.booked_start(&n.id) {
                Some(s) => (s, s),
                None => {
                    let first = n.earliest.unwrap_or(0.0);
                    (first, n.deadline.unwrap_or(first))
                }
            };
            // Its window [first, last] meets [before, at): some start is gone.
            if first < at && last >= before {
                tn.insert(n.id.clone());
            }
        }
        let mut expired: BTreeSet<String> = BTreeSet::new();
        for d in &self.dispatches {
            let Some(&ri) = self.res_ix.get(&d.resource) else {
                continue;
            };
            if let Some((_, end)) = self.occupied(d, &self.resources[ri]) {
                if end > before && end <= at {
                    expired.insert(d.resource.clone());
                }
            }
        }
        for r in expired {
            self.recompute_residual(self.res_ix[&r]);
            tr.insert(r);
        }
    }

    /// Refusals judged on live batches only, not in `apply_one`: a log may hold such an event
    /// from an older binary, and its replay must not refuse what was accepted.
    fn refused_live(&self, kind: &EventKind) -> Option<Refusal> {
        match kind {
            EventKind::DispatchReleased { need, resource } => self.started_booking(need, resource),
            EventKind::NeedUpdated(n) => {
                if let Some(dimension) = self.dimension_added_to_dispatched(n) {
                    return Some(Refusal::DimensionAddedUnderDispatch {
                        need: n.id.clone(),
                        dimension,
                    });
                }
                let served = self.dispatched_share(n);
                // The field at fault: the demand of a need that was indivisible already, else
                // the flag that makes it so.
                let was_indivisible = self.need(&n.id).is_some_and(|old| old.indivisible);
                (n.indivisible && served > 1e-6 && served < 1.0 - CLOSED_BELOW).then(|| {
                    Refusal::IndivisiblePartlyDispatched {
                        need: n.id.clone(),
                        served,
                        field: if was_indivisible {
                            "need.demand"
                        } else {
                            "need.indivisible"
                        },
                    }
                })
            }
            _ => None,
        }
    }

    /// How far a plan's share of need `ni`'s open part may fall short of whole within the LP's
    /// holds: the value hold `1e-7 max(1, V)` and a group's floor `1e-7 P_g` (both within
    /// `P`, the open parts' total priority) over the open part's priority `p`, so `2e-7 max(1,
    /// P) / p`, at most [`CLOSED_BELOW`]. The exact routes' shares are exact; there a
    /// shortfall this small is one the summary counts as served in full as well.
    fn hold_band(&self, ni: usize) -> f64 {
        let total: f64 = (0..self.needs.len())
            .map(|i| self.residual_priority(i))
            .sum();
        let p = self.residual_priority(ni);
        if p > 0.0 {
            (2.002e-7 * total.max(1.0) / p).min(CLOSED_BELOW)
        } else {
            0.0
        }
    }

    /// The share of need `n` (as an update would make it) that its dispatches on record
    /// cover, as [`Session::rescale_dispatched`] and [`Session::reopen`] count it
    /// ([`Dispatch::part_of`], added up; a dispatch of a demand without a positive dimension
    /// counts whole).
    fn dispatched_share(&self, n: &crate::model::Need) -> f64 {
        self.dispatches
            .iter()
            .filter(|d| d.need == n.id)
            .map(|d| d.part_of(&n.demand).unwrap_or(1.0))
            .sum()
    }

    /// A dimension that an update of need `n` gives a demand it did not have while one of
    /// its dispatches carries none of it: the open part is one share of every dimension, so
    /// such a dispatch would count for nothing and what it delivered would be planned again.
    fn dimension_added_to_dispatched(&self, n: &crate::model::Need) -> Option<String> {
        let old = self.need(&n.id)?;
        let dispatches: Vec<&Dispatch> =
            self.dispatches.iter().filter(|d| d.need == n.id).collect();
        n.demand
            .iter()
            .find(|(dim, &q)| {
                q > 0.0
                    && old.demand.get(*dim).is_none_or(|&was| was <= 0.0)
                    && dispatches
                        .iter()
                        .any(|d| d.amounts.get(*dim).is_none_or(|&a| a <= 0.0))
            })
            .map(|(dim, _)| dim.clone())
    }

    /// Over time, the refusal of a release of `resource -> need` when one of its bookings has
    /// started by the clock: what it handed out is in use or used up (the meals eaten, the
    /// family in the beds), so only a return (`resource_returned`) ends it. A booking in
    /// conflict is released whenever it began on paper: its item was not back in time (a late
    /// return), so it never started, and releasing it is how the coordinator resolves that.
    fn started_booking(&self, need: &str, resource: &str) -> Option<Refusal> {
        let now = self.clock.filter(|_| self.timed)?;
        let started: Vec<&Dispatch> = self
            .dispatches
            .iter()
            .filter(|d| d.need == need && d.resource == resource)
            .filter(|d| d.active && d.returned_h.is_none())
            .filter(|d| d.start_h.is_some_and(|start| start < now))
            .collect();
        if started.is_empty() {
            return None;
        }
        let in_conflict = self.conflict_keys();
        let start = started
            .into_iter()
            .filter(|d| !in_conflict.contains(&d.key()))
            .filter_map(|d| d.start_h)
            .reduce(f64::min)?;
        Some(Refusal::BookingStarted {
            need: need.to_string(),
            resource: resource.to_string(),
            start,
            clock: now,
        })
    }

    /// The confirmed bookings (active, not returned) whose resource is over capacity at some
    /// instant of their occupation, as (need, resource, start) keys, and their positions.
    fn conflicts_now(&self) -> Vec<((String, String, u64), usize)> {
        let mut by_resource: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (k, d) in self.dispatches.iter().enumerate() {
            by_resource.entry(d.resource.as_str()).or_default().push(k);
        }
        let mut out = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for (rid, ks) in by_resource {
            let Some(&ri) = self.res_ix.get(rid) else {
                continue;
            };
            let r = &self.resources[ri];
            // Consumable capacity (every dimension of a snapshot session): what the
            // dispatches use, counted as `recompute_residual` counts it, against the
            // capacity as it stands now (a `resource_updated` may have lowered it). Every
            // booking still out that uses such a dimension is in conflict, which one gives
            // way being the coordinator's choice; over time, only those not started by the
            // clock (what has been handed out is used up, and cannot be released).
            let open = |d: &Dispatch| {
                d.active
                    && d.returned_h.is_none()
                    && !(self.timed
                        && self
                            .clock
                            .zip(d.start_h)
                            .is_some_and(|(now, start)| start < now))
            };
            let mut dims: Vec<&String> = ks
                .iter()
                .flat_map(|&k| self.dispatches[k].amounts.keys())
                .filter(|dim| !(self.timed && self.policy.reusable.contains(*dim)))
                .collect();
            dims.sort();
            dims.dedup();
            for dim in dims {
                let cap = r.capacity.get(dim).copied().unwrap_or(0.0);
                let amount = |k: usize| self.dispatches[k].amounts.get(dim).copied().unwrap_or(0.0);
                let used: f64 = ks
                    .iter()
                    .filter(|&&k| self.dispatches[k].consumes(self.timed))
                    .map(|&k| amount(k))
                    .sum();
                if used <= cap + 1e-6 * cap.max(1.0) {
                    continue;
                }
                for &k in &ks {
                    let d = &self.dispatches[k];
                    if open(d) && amount(k) > 0.0 {
                        let key = d.key();
                        if listed.insert(key.clone()) {
                            out.push((key, k));
                        }
                    }
                }
            }
            if !self.timed {
                continue;
            }
            let spans: Vec<(usize, f64, f64)> = ks
                .iter()
                .filter_map(|&k| {
                    let (s, e) = self.occupied(&self.dispatches[k], r)?;
                    Some((k, s, e))
                })
                .collect();
            // A booking the resource's window no longer holds, from the clock on (a
            // `resource_updated` that ended the hall's availability at 20 left a stay of
            // 10-34 booked without a word): SPEC's `s + duration + turnaround <=
            // available_until` and `s >= available_from`.
            let now = self.clock.unwrap_or(f64::NEG_INFINITY);
            for &(k, s, e) in &spans {
                let d = &self.dispatches[k];
                let booked = d.active && d.returned_h.is_none();
                // A booking without an end (a need without a duration) holds its resource
                // for good by SPEC: no window can hold it, none is asked to.
                let past_end =
                    e.is_finite() && r.available_until.is_some_and(|u| e > u.max(now) + 1e-9);
                let before_start = r.available_from.is_some_and(|f| s < f - 1e-9 && f > now);
                if booked && (past_end || before_start) {
                    let key = d.key();
                    if listed.insert(key.clone()) {
                        out.push((key, k));
                    }
                }
            }
            for dim in &self.policy.reusable {
                let cap = r.capacity.get(dim).copied().unwrap_or(0.0);
                let amount = |k: usize| self.dispatches[k].amounts.get(dim).copied().unwrap_or(0.0);
                let all: Vec<(f64, f64, f64)> = spans
                    .iter()
                    .filter(|x| amount(x.0) > 0.0)
                    .map(|&(k, s, e)| (s, e, amount(k)))
                    .collect();
                let over = over_capacity(&all, cap);
                if over.is_empty() {
                    continue;
                }
                for &(k, s, e) in &spans {
                    let d = &self.dispatches[k];
                    let booked = d.active && d.returned_h.is_none() && amount(k) > 0.0;
                    if booked && over.iter().any(|&(a, b)| a < e && b > s) {
                        // `s` is the booking's start (`occupied`), so this is its key.
                        let key = d.key();
                        if listed.insert(key.clone()) {
                            out.push((key, k));
                        }
                    }
                }
            }
        }
        out
    }

    pub(super) fn conflict_keys(&self) -> BTreeSet<(String, String, u64)> {
        self.conflicts_now().into_iter().map(|(k, _)| k).collect()
    }

    /// Every confirmed booking in conflict now, each with what the re-plan would propose for
    /// its need once every booking now in conflict is released: the coordinator's choice is
    /// for all of them, so no proposal counts on room that another conflicting booking still
    /// claims. The what-if runs on a copy that keeps whatever is staged and not yet re-planned.
    pub(super) fn compute_conflicts(&self) -> Vec<BookingConflict> {
        let now = self.conflicts_now();
        if now.is_empty() {
            return Vec::new();
        }
        let mut what_if = self.clone();
        if what_if.pending.is_none() {
            what_if.pending = Some(Pending {
                dims: what_if.dims.len(),
                coupled: what_if.couples_groups(),
                ..Pending::default()
            });
        }
        let (mut tn, mut tr) = (BTreeSet::new(), BTreeSet::new());
        for (_, k) in &now {
            let d = &self.dispatches[*k];
            let release = EventKind::DispatchReleased {
                need: d.need.clone(),
                resource: d.resource.clone(),
            };
            // One release takes every booking of the pair: a later one of it finds none.
            if let Err(e) = what_if.apply_one(&release, &mut tn, &mut tr) {
                debug_assert!(matches!(e, Refusal::NoDispatch { .. }), "{e}");
            }
        }
        if let Some(p) = what_if.pending.as_mut() {
            p.needs.append(&mut tn);
            p.resources.append(&mut tr);
        }
        what_if.replan_touched();
        now.into_iter()
            .map(|(_, k)| {
                let booking = self.dispatches[k].clone();
                let start_h = what_if.starts.get(&booking.need).copied();
                let proposal: Vec<Proposal> = what_if
                    .plan
                    .iter()
                    .filter(|((_, n), share)| *n == booking.need && **share > EPS)
                    .map(|((r, _), share)| Proposal {
                        resource: r.clone(),
                        share: *share,
                        start_h,
                    })
                    .collect();
                let unserved_why = match what_if.why(&booking.need) {
                    _ if !proposal.is_empty() => None,
                    // The what-if's summary, which an infeasible plan's sentence points to,
                    // is not the coordinator's to see: said in the conflict's own words.
                    Some(w)
                        if matches!(
                            w.why.reason,
                            crate::explain::Reason::Infeasible | crate::explain::Reason::MinFill
                        ) =>
                    {
                        Some(
                            "with the bookings in conflict released, no plan serves it: the \
                             needs' min_fill and the groups' min_share cannot all hold on the \
                             capacity left"
                                .to_string(),
                        )
                    }
                    Some(w) => Some(w.why.explanation),
                    None => Some(
                        "the need was withdrawn: releasing the booking only frees the resource"
                            .to_string(),
                    ),
                };
                BookingConflict {
                    booking,
                    proposal,
                    unserved_why,
                }
            })
            .collect()
    }

    /// Event ids applied so far are remembered by `apply`; a replayed log restores them, one
    /// logged batch's ids per call, in log order (the newest [`MAX_EVENT_IDS`](super::MAX_EVENT_IDS) are kept, trimmed
    /// after each batch as `apply` does).
    pub fn remember_event_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a LoggedEventId>) {
        for l in ids {
            self.seen.insert(&l.id, l.digest);
        }
        self.seen.trim();
    }

    pub(super) fn apply_one(
        &mut self,
        kind: &EventKind,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) -> Result<Applied, Refusal> {
        Ok(match kind {
            EventKind::NeedAdded(n) => {
                // A withdrawn need's bookings keep its id (they hold their resource until
                // returned or released, and a timed need's start is read from them): a new
                // need under that id would inherit them.
                if self
                    .dispatches
                    .iter()
                    .any(|d| d.need == n.id && (d.active || self.timed))
                {
                    return Err(Refusal::NeedIdDispatched(n.id.clone()));
                }
                // What is left under the id is an earlier need's returned dispatches (a
                // session without time): the new need starts with none of them (its open
                // part is read from the dispatches under its id).
                self.dispatches.retain(|d| d.need != n.id);
                self.insert_need(n.clone());
                self.relink_need(self.needs.len() - 1);
                tn.insert(n.id.clone());
                Applied::NeedAdded {
                    need: entity_value(n),
                }
            }
            EventKind::NeedUpdated(n) => {
                let ni = self.need_ix[&n.id];
                self.dims.extend(n.demand.keys().cloned());
                let demand_changed = self.needs[ni].demand != n.demand;
                self.needs[ni] = n.clone();
                if demand_changed {
                    self.rescale_dispatched(ni);
                }
                tr.extend(self.need_link_ids(ni));
                self.relink_need(ni);
                tn.insert(n.id.clone());
                Applied::NeedUpdated {
                    need: entity_value(n),
                }
            }
            EventKind::NeedWithdrawn(id) => {
                let ni = self.need_ix[id];
                let old = self.unlink_need(ni);
                let old: Vec<String> = self.resource_ids(&old).collect();
                self.plan_remove_need(id, old.iter());
                tr.extend(old);
                self.swap_remove_need_links(ni);
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
                self.gaps.remove(id);
                self.set_start(id, None);
                Applied::NeedWithdrawn { id: id.clone() }
            }
            EventKind::ResourceAdded(r) => {
                self.insert_resource(r.clone());
                let _ = self.relink_resource(self.resources.len() - 1);
                tr.insert(r.id.clone());
                Applied::ResourceAdded {
                    resource: entity_value(r),
                }
            }
            EventKind::ResourceUpdated(r) => {
                let ri = self.res_ix[&r.id];
                self.dims.extend(r.capacity.keys().cloned());
                let before = self.residual[ri].clone();
                let mut same_terms = self.resources[ri].clone();
                same_terms.capacity = r.capacity.clone();
                let capacity_only = same_terms == *r;
                self.resources[ri] = r.clone();
                self.recompute_residual(ri);
                if capacity_only {
                    self.relink_resource_after(ri, &before, tn);
                } else {
                    self.relink_resource_touching(ri, tn);
                }
                tr.insert(r.id.clone());
                Applied::ResourceUpdated {
                    resource: entity_value(r),
                }
            }
            EventKind::ResourceWithdrawn(id) => {
                // `check` simulates returns whole; in a timed session a return ends one loan.
                if self
                    .dispatches
                    .iter()
                    .any(|d| d.active && d.resource == *id)
                {
                    return Err(Refusal::ActiveDispatches(id.clone()));
                }
                let ri = self.res_ix[id];
                let old = self.unlink_resource(ri);
                tn.extend(self.need_ids(&old));
                self.swap_remove_resource_links(ri);
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
                let linked = match (self.need_ix.get(need), self.res_ix.get(resource)) {
                    (Some(&ni), Some(&ri)) => self.adj_need[ni].contains(ri as u32),
                    _ => false,
                };
                if !linked {
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
                // A timed need's booking: the plan's start, which then never moves. A need
                // without a duration in a timed session occupies its resource for good from
                // its earliest hour or the clock, whichever is later, recorded here.
                let start_h = match (self.timed, residual.duration_h) {
                    (true, Some(_)) => match self.starts.get(need) {
                        Some(&s) => Some(s),
                        None => {
                            return Err(Refusal::NotProposed {
                                need: need.clone(),
                                resource: resource.clone(),
                            })
                        }
                    },
                    (true, None) => {
                        let earliest = residual.earliest.unwrap_or(0.0);
                        Some(self.clock.map_or(earliest, |now| earliest.max(now)))
                    }
                    (false, _) => None,
                };
                // A share short of whole by no more than the LP's holds allow takes the whole
                // open part: a plan's 0.9999983 dispatched left 1.7e-6 of the need open, which
                // later re-plans served at a whole link's cost (one failed in HiGHS's
                // numerical trouble over it). What it carries is what the plan gave.
                // (A whole share needs no band: the band's sum over every need is skipped.)
                let fraction = if share >= 1.0 || 1.0 - share <= self.hold_band(ni) {
                    self.open[ni]
                } else {
                    share * self.open[ni]
                };
                let dispatch = Dispatch {
                    need: need.clone(),
                    resource: resource.clone(),
                    fraction,
                    amounts,
                    active: true,
                    start_h,
                    end_h: start_h
                        .zip(residual.duration_h)
                        .map(|(s, d)| snap_time(s + d)),
                    returned_h: None,
                };
                let ri = self.res_ix[resource];
                let left = &self.residual[ri];
                let hold = self
                    .timed
                    .then(|| self.hold_of(&dispatch, &self.resources[ri]));
                for (d, a) in &dispatch.amounts {
                    let cap = left.capacity.get(d).copied().unwrap_or(0.0);
                    // A reusable dimension: what the confirmed bookings leave over this one.
                    let cap = match hold
                        .as_ref()
                        .and_then(|h| h.as_ref().map(|h| (h.start, h.end)))
                    {
                        Some((s, e)) if self.policy.reusable.contains(d) => {
                            cap - Bookings::held(&left.holds, d, f64::INFINITY).peak(s, e)
                        }
                        _ => cap,
                    };
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
                self.commit(&dispatch, tn, tr);
                Applied::Dispatched { dispatch }
            }
            EventKind::ResourceReturned { id, need } => {
                // In a timed session what comes back is one loan: the named need's, else the
                // earliest booking not returned that has started by the clock (the first made
                // among equals; a need split over several units of it returns together),
                // recorded as back at the clock. Without time, everything out on the
                // resource comes back (for the named need only, when one is named).
                let (timed, now) = (self.timed, self.clock.filter(|_| self.timed));
                let first = |d: &Dispatch| d.start_h.unwrap_or(f64::NEG_INFINITY);
                let named = |d: &Dispatch| need.as_ref().is_none_or(|n| d.need == *n);
                let out = self
                    .dispatches
                    .iter()
                    .filter(|d| d.active && d.resource == *id && named(d))
                    .filter(|d| now.is_none_or(|t| first(d) <= t))
                    .min_by(|a, b| first(a).total_cmp(&first(b)))
                    .map(|d| (d.need.clone(), first(d)));
                let Some(out) = out else {
                    return Err(match need {
                        Some(n) => Refusal::NoLoan {
                            need: n.clone(),
                            resource: id.clone(),
                        },
                        None => Refusal::NothingToReturn(id.clone()),
                    });
                };
                for d in self.dispatches.iter_mut() {
                    let loan = (d.need == out.0 && first(d) == out.1) || (!timed && named(d));
                    if d.active && d.resource == *id && loan {
                        d.active = false;
                        if timed {
                            d.returned_h = now;
                        }
                    }
                }
                let ri = self.res_ix[id];
                let before = self.residual[ri].clone();
                self.recompute_residual(ri);
                self.relink_resource_after(ri, &before, tn);
                tr.insert(id.clone());
                Applied::ResourceReturned {
                    id: id.clone(),
                    need: need.clone(),
                }
            }
            EventKind::DispatchReleased { need, resource } => {
                let before = self.dispatches.len();
                self.dispatches
                    .retain(|d| !(d.need == *need && d.resource == *resource && d.active));
                if self.dispatches.len() == before {
                    return Err(Refusal::NoDispatch {
                        need: need.clone(),
                        resource: resource.clone(),
                    });
                }
                let ni = self.need_ix.get(need).copied();
                if let Some(ni) = ni {
                    self.reopen(ni);
                    tr.extend(self.need_link_ids(ni));
                }
                let ri = self.res_ix[resource];
                let before = self.residual[ri].clone();
                self.recompute_residual(ri);
                self.relink_resource_after(ri, &before, tn);
                if let Some(ni) = ni {
                    self.relink_need(ni);
                }
                tn.insert(need.clone());
                tr.insert(resource.clone());
                Applied::DispatchReleased {
                    need: need.clone(),
                    resource: resource.clone(),
                }
            }
        })
    }

    /// After need `ni`'s demand changed: each of its dispatches serves the part of the new
    /// demand its amounts cover (the least over the demand's dimensions), and the open part
    /// is what they leave. The parts were kept as fractions of the old demand, so a need
    /// raised from 4 to 10 litres after 4 were dispatched was planned nothing more ("served
    /// in full"), and one lowered to what was dispatched was planned more. A dimension the
    /// dispatches did not serve reopens the need whole: the open part is one share of every
    /// dimension.
    fn rescale_dispatched(&mut self, ni: usize) {
        let need = &self.needs[ni];
        if !self.dispatches.iter().any(|d| d.need == need.id)
            || !need.demand.values().any(|&q| q > 0.0)
        {
            return;
        }
        for d in self.dispatches.iter_mut().filter(|d| d.need == need.id) {
            if let Some(part) = d.part_of(&need.demand) {
                d.fraction = part;
            }
        }
        self.reopen(ni);
    }

    /// Need `ni`'s open part from its dispatches: what their parts leave of it, snapped to
    /// 0 and 1 within 1e-6. After a need was lowered below what is out, the parts add up to
    /// more than 1; a release then reopens only what is missing (adding the released part
    /// back reopened 0.75 of a need lowered to 4 litres with two 3-litre dispatches out).
    fn reopen(&mut self, ni: usize) {
        let id = &self.needs[ni].id;
        let served: f64 = self
            .dispatches
            .iter()
            .filter(|d| d.need == *id)
            .map(|d| d.fraction)
            .sum();
        let open = 1.0 - served;
        self.open[ni] = if open < 1e-6 {
            0.0
        } else if open > 1.0 - 1e-6 {
            1.0
        } else {
            open
        };
    }

    /// Record a dispatch: the need's open part shrinks, the resource's capacity is consumed.
    pub(super) fn commit(
        &mut self,
        d: &Dispatch,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) {
        let ni = self.need_ix[&d.need];
        self.dispatches.push(d.clone());
        self.reopen(ni);
        let ri = self.res_ix[&d.resource];
        let before = self.residual[ri].clone();
        self.recompute_residual(ri);
        let old = self.need_link_ids(ni);
        self.plan_remove_need(&d.need, old.iter().chain([&d.resource]));
        tr.extend(old);
        self.relink_resource_after(ri, &before, tn);
        self.relink_need(ni);
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
        if let Some(p) = self.pending.as_mut() {
            p.cleared_needs.insert(need.to_string());
        }
        let keys: Vec<(String, String)> = resources
            .map(|r| (r.clone(), need.to_string()))
            .filter(|k| self.plan.contains_key(k))
            .collect();
        for k in keys {
            self.plan_set(k, None);
        }
    }

    pub(super) fn plan_remove_resource(&mut self, resource: &str) {
        if let Some(p) = self.pending.as_mut() {
            p.cleared_resources.insert(resource.to_string());
        }
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

    /// Whether a `resource_returned` (naming `need` or not) ends one loan, whose effect is
    /// known only as the batch is applied: always over time, and when it names its need.
    pub(super) fn returns_one_loan(&self, need: Option<&str>) -> bool {
        self.timed || need.is_some()
    }

    /// Replay one logged event (no checks, no re-plan: call [`Session::replan_all`] after).
    ///
    /// A warm session re-plans at each `Applied::Replanned` and gathers what the events
    /// touched in between, as staging did, so it rebuilds the plan it held; end a replay with
    /// [`Session::end_replay`].
    pub fn replay(&mut self, a: &Applied) -> Result<(), ReplayError> {
        self.open_conflicts.take();
        if let Applied::Checkpoint { checkpoint } = a {
            if self.lp_starts.is_some() || checkpoint.exact {
                self.install(checkpoint);
                return Ok(());
            }
        }
        if !self.is_warm() && !self.replay_points {
            if matches!(a, Applied::Replanned) && self.warm_due(self.couples_groups()) {
                // Live, this point built the warm model again (`replan_touched`): a re-plan
                // of the whole state, which owes nothing to what was staged before it.
                self.pending = None;
                self.replan_all();
                return Ok(());
            }
            return self.replay_state(a);
        }
        if matches!(a, Applied::Replanned) {
            self.flush();
            return Ok(());
        }
        self.replay_staged(a)
    }

    /// Replay one logged event as a live batch stages it: its touched entities and the plan
    /// values it changes are remembered for the next [`Session::flush`] (a warm replay's
    /// re-plan points, and a follow-up owed after a crash, `LogReplay::begin_owed`).
    pub(super) fn replay_staged(&mut self, a: &Applied) -> Result<(), ReplayError> {
        if self.pending.is_none() {
            self.pending = Some(Pending {
                dims: self.dims.len(),
                coupled: self.couples_groups(),
                ..Pending::default()
            });
        }
        let p = self.pending.as_mut().expect("set above");
        let (mut tn, mut tr) = (
            std::mem::take(&mut p.needs),
            std::mem::take(&mut p.resources),
        );
        let out = self.replay_into(a, &mut tn, &mut tr);
        if let Some(p) = self.pending.as_mut() {
            p.needs.append(&mut tn);
            p.resources.append(&mut tr);
        }
        out
    }

    /// After the last [`Session::replay`]: a warm session re-plans what is left since its
    /// last re-plan point, a cold one re-plans everything (its plan is a function of its
    /// state).
    pub fn end_replay(&mut self) {
        if self.is_warm() || self.replay_points {
            self.flush();
        } else {
            self.pending = None;
            self.replan_all();
        }
    }

    /// Replay one logged event's change of the state, without re-planning (re-plan points
    /// and checkpoints are skipped).
    pub(super) fn replay_state(&mut self, a: &Applied) -> Result<(), ReplayError> {
        if matches!(a, Applied::Replanned | Applied::Checkpoint { .. }) {
            return Ok(());
        }
        let (mut tn, mut tr) = (BTreeSet::new(), BTreeSet::new());
        self.replay_into(a, &mut tn, &mut tr)
    }

    fn replay_into(
        &mut self,
        a: &Applied,
        tn: &mut BTreeSet<String>,
        tr: &mut BTreeSet<String>,
    ) -> Result<(), ReplayError> {
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
            Applied::ResourceReturned { id, need } => EventKind::ResourceReturned {
                id: id.clone(),
                need: need.clone(),
            },
            Applied::DispatchReleased { need, resource } => EventKind::DispatchReleased {
                need: need.clone(),
                resource: resource.clone(),
            },
            Applied::Replanned | Applied::Checkpoint { .. } => return Ok(()),
            Applied::Clock { at } => {
                self.advance_clock(*at, tn, tr);
                return Ok(());
            }
            Applied::Dispatched { dispatch } => {
                if !self.need_ix.contains_key(&dispatch.need)
                    || !self.res_ix.contains_key(&dispatch.resource)
                {
                    return Err(ReplayError::UnknownDispatch {
                        need: dispatch.need.clone(),
                        resource: dispatch.resource.clone(),
                    });
                }
                self.commit(dispatch, tn, tr);
                return Ok(());
            }
        };
        self.check_consistent(&[Event {
            kind: kind.clone(),
            event_id: None,
            at: None,
            digest: 0,
        }])
        .map_err(|e| e.refusal)?;
        self.apply_one(&kind, tn, tr)?;
        Ok(())
    }
}

/// The elementary intervals where bookings `(start, end, amount)` together exceed `cap`.
fn over_capacity(bookings: &[(f64, f64, f64)], cap: f64) -> Vec<(f64, f64)> {
    let tolerance = 1e-6 * cap.max(1.0);
    crate::timed::load_profile(bookings.iter().copied())
        .into_iter()
        .filter(|&(t, next, load)| load > cap + tolerance && next > t)
        .map(|(t, next, _)| (t, next))
        .collect()
}

/// Whether a match's share moved enough to be answered as a change: it appeared, it went, or
/// it moved by more than a billionth of the need. A fair session's LP reaches the same optimum
/// by another path at each event and moves shares by rounding alone (a review counted 98 of
/// 156 answered changes under 1e-9, most a few units in the last place); a coordinator's
/// phone would download them and redraw for nothing. The plan itself keeps the solver's
/// values: only the answer and the stream leave such moves out, and the next answer compares
/// with the value last answered (`Session::told`), so small moves one way add up to a change.
pub(crate) fn share_moved(before: f64, after: f64) -> bool {
    if before == 0.0 || after == 0.0 {
        return before != after;
    }
    (after - before).abs() > SHARE_NOISE
}

/// The largest move of a share that is rounding, not a change (see [`share_moved`]).
pub(crate) const SHARE_NOISE: f64 = 1e-9;
