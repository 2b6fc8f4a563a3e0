//! The session's link adjacency, kept per event: a need or resource is relinked by the policy's
//! rules against the residual side. Kept by index (`adj_need[ni]` holds resource indices,
//! `adj_res[ri]` need indices), not by id: a resource's set holds thousands, and a set of ids
//! cost a string comparison per step and an allocation per entry. A withdrawal moves the last
//! entity into the gap (`swap_remove`), and its neighbours' sets are renumbered with it. The
//! sets are [`IndexSet`]s, bits where they are dense.

use super::index_set::IndexSet;
use super::{Session, EPS};
use crate::graph::{links_alike_by_capacity, rule_link};
use crate::model::Resource;
use std::collections::BTreeSet;

/// Take entity `i` out of its neighbours' sets (`others`); returns its own set.
fn unlink(own: &mut [IndexSet], others: &mut [IndexSet], i: usize) -> IndexSet {
    let old = std::mem::take(&mut own[i]);
    for j in &old {
        others[j as usize].remove(i as u32);
    }
    old
}

/// `own.swap_remove(i)` of an unlinked entity, as its list's `swap_remove` moves the last one
/// to `i`: the moved entity is renumbered in its neighbours' sets (`others`).
fn swap_remove_renumbered(own: &mut Vec<IndexSet>, others: &mut [IndexSet], i: usize) {
    debug_assert!(own[i].is_empty());
    let last = own.len() - 1;
    if i != last {
        for j in &own[last] {
            let set = &mut others[j as usize];
            set.remove(last as u32);
            set.insert(i as u32);
        }
    }
    own.swap_remove(i);
}

impl Session {
    /// Take need `ni` out of its resources' sets; returns the resources it was linked to.
    pub(super) fn unlink_need(&mut self, ni: usize) -> IndexSet {
        unlink(&mut self.adj_need, &mut self.adj_res, ni)
    }

    /// Take resource `ri` out of its needs' sets; returns the needs it was linked to.
    pub(super) fn unlink_resource(&mut self, ri: usize) -> IndexSet {
        unlink(&mut self.adj_res, &mut self.adj_need, ri)
    }

    /// Before `needs.swap_remove(ni)` of an unlinked need.
    pub(super) fn swap_remove_need_links(&mut self, ni: usize) {
        swap_remove_renumbered(&mut self.adj_need, &mut self.adj_res, ni);
    }

    /// Before `resources.swap_remove(ri)` of an unlinked resource.
    pub(super) fn swap_remove_resource_links(&mut self, ri: usize) {
        swap_remove_renumbered(&mut self.adj_res, &mut self.adj_need, ri);
    }

    /// The ids of resources given by index.
    pub(super) fn resource_ids<'a>(
        &'a self,
        set: &'a IndexSet,
    ) -> impl Iterator<Item = String> + 'a {
        set.iter().map(|r| self.resources[r as usize].id.clone())
    }

    /// The ids of needs given by index.
    pub(super) fn need_ids<'a>(&'a self, set: &'a IndexSet) -> impl Iterator<Item = String> + 'a {
        set.iter().map(|n| self.needs[n as usize].id.clone())
    }

    /// Recompute need `ni`'s links (none when it is fully dispatched). Only the links that
    /// differ from what the need had are changed on the resources' side: a need updated
    /// within the same reach keeps them all.
    pub(super) fn relink_need(&mut self, ni: usize) {
        let linked: IndexSet = if self.is_open(ni) {
            let n = &self.needs[ni];
            self.residual
                .iter()
                .enumerate()
                .filter(|(ri, r)| rule_link(*ri, r, ni, n, &self.policy).is_some())
                .map(|(ri, _)| ri as u32)
                .collect()
        } else {
            IndexSet::new()
        };
        let old = std::mem::take(&mut self.adj_need[ni]);
        for r in old.iter().filter(|&r| !linked.contains(r)) {
            self.adj_res[r as usize].remove(ni as u32);
        }
        for r in linked.iter().filter(|&r| !old.contains(r)) {
            self.adj_res[r as usize].insert(ni as u32);
        }
        self.adj_need[ni] = linked;
    }

    /// The ids of the resources need `ni` is linked to now.
    pub(super) fn need_link_ids(&self, ni: usize) -> Vec<String> {
        self.resource_ids(&self.adj_need[ni]).collect()
    }

    /// Work resource `ri`'s links out anew; returns the needs it was linked to.
    pub(super) fn relink_resource(&mut self, ri: usize) -> IndexSet {
        self.relinked.insert(self.resources[ri].id.clone());
        let old = self.unlink_resource(ri);
        let r = &self.residual[ri];
        let linked: IndexSet = self
            .needs
            .iter()
            .enumerate()
            .filter(|(ni, n)| {
                self.open[*ni] > EPS && rule_link(ri, r, *ni, n, &self.policy).is_some()
            })
            .map(|(ni, _)| ni as u32)
            .collect();
        for n in &linked {
            self.adj_need[n as usize].insert(ri as u32);
        }
        self.adj_res[ri] = linked;
        old
    }

    /// [`Session::relink_resource`], adding the needs it was linked to to `tn`.
    pub(super) fn relink_resource_touching(&mut self, ri: usize, tn: &mut BTreeSet<String>) {
        let old = self.relink_resource(ri);
        tn.extend(self.need_ids(&old));
    }

    /// Relink resource `ri` after a dispatch, a return or a release changed its residual
    /// capacity from `before`, adding the needs it was linked to to `tn`. When no capacity
    /// crossed zero (and the session is untimed, so no hold moved) its links are the same and
    /// are kept: relinking scans every need, and the caller touches the resource itself, whose
    /// component holds those needs anyway.
    pub(super) fn relink_resource_after(
        &mut self,
        ri: usize,
        before: &Resource,
        tn: &mut BTreeSet<String>,
    ) {
        if !self.timed && links_alike_by_capacity(before, &self.residual[ri]) {
            return;
        }
        self.relink_resource_touching(ri, tn);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_streams::{self, need, resource};
    use super::super::Session;
    use crate::events::parse_events;
    use crate::graph::rule_link;
    use crate::seeds::SplitMix64;
    use serde_json::json;

    /// The adjacency equals the link rules applied to every open need and resource pair.
    fn assert_links_follow_the_rules(s: &Session) {
        assert_eq!(s.adj_need.len(), s.needs.len());
        assert_eq!(s.adj_res.len(), s.resources.len());
        for (ni, n) in s.needs.iter().enumerate() {
            for (ri, r) in s.residual.iter().enumerate() {
                let want = s.is_open(ni) && rule_link(ri, r, ni, n, &s.policy).is_some();
                assert_eq!(
                    s.adj_need[ni].contains(ri as u32),
                    want,
                    "{} {}",
                    n.id,
                    r.id
                );
                assert_eq!(s.adj_res[ri].contains(ni as u32), want, "{} {}", r.id, n.id);
            }
        }
    }

    /// Random streams of every event that changes links, withdrawals (which renumber the
    /// last entity), dispatches, releases and returns included: after each, accepted or
    /// refused, the index sets are the rules' links.
    #[test]
    fn links_by_index_follow_the_rules_through_withdrawals() {
        for seed in 0..12 {
            let mut rng = SplitMix64::new(seed);
            let (_, mut s) = test_streams::session(&mut rng);
            assert_links_follow_the_rules(&s);
            let (mut next_n, mut next_r) = (10, 6);
            let mut accepted = 0;
            for _ in 0..60 {
                let need_ids: Vec<String> = s.needs.iter().map(|n| n.id.clone()).collect();
                let res_ids: Vec<String> = s.resources.iter().map(|r| r.id.clone()).collect();
                fn pick<T: Clone>(rng: &mut SplitMix64, items: &[T]) -> T {
                    items[rng.int(0, items.len() as u64 - 1) as usize].clone()
                }
                let planned: Vec<(String, String)> = s.plan().keys().cloned().collect();
                let active: Vec<(String, String)> = s
                    .dispatches
                    .iter()
                    .filter(|d| d.active)
                    .map(|d| (d.need.clone(), d.resource.clone()))
                    .collect();
                let ev = match rng.int(0, 8) {
                    0 => {
                        next_n += 1;
                        json!({"type": "need_added", "need": need(&mut rng, &format!("n{next_n}"))})
                    }
                    1 if !need_ids.is_empty() => {
                        let id = pick(&mut rng, &need_ids);
                        json!({"type": "need_updated", "need": need(&mut rng, &id)})
                    }
                    2 if need_ids.len() > 1 => {
                        json!({"type": "need_withdrawn", "id": pick(&mut rng, &need_ids)})
                    }
                    3 => {
                        next_r += 1;
                        let r = resource(&mut rng, &format!("r{next_r}"));
                        json!({"type": "resource_added", "resource": r})
                    }
                    4 if !res_ids.is_empty() => {
                        let id = pick(&mut rng, &res_ids);
                        json!({"type": "resource_updated", "resource": resource(&mut rng, &id)})
                    }
                    5 if res_ids.len() > 1 => {
                        json!({"type": "resource_withdrawn", "id": pick(&mut rng, &res_ids)})
                    }
                    6 if !planned.is_empty() => {
                        let (r, n) = pick(&mut rng, &planned);
                        json!({"type": "dispatched", "need": n, "resource": r})
                    }
                    7 if !active.is_empty() => {
                        let (n, r) = pick(&mut rng, &active);
                        json!({"type": "dispatch_released", "need": n, "resource": r})
                    }
                    8 if !active.is_empty() => {
                        let (_, r) = pick(&mut rng, &active);
                        json!({"type": "resource_returned", "id": r})
                    }
                    _ => continue,
                };
                let events = parse_events(&json!([ev])).expect("event");
                // A withdrawal of a resource or need with dispatches on record is refused;
                // a refusal leaves the state as it was.
                accepted += usize::from(s.apply(&events).is_ok());
                assert_links_follow_the_rules(&s);
            }
            assert!(accepted >= 30, "seed {seed}: {accepted} events accepted");
        }
    }
}
