//! The session's link adjacency, kept per event: a need or resource is relinked by the policy's
//! rules against the residual side.

use super::{Session, EPS};
use crate::graph::{links_alike_by_capacity, rule_link};
use crate::model::Resource;
use std::collections::BTreeSet;

impl Session {
    pub(super) fn unlink_need(&mut self, id: &str) -> BTreeSet<String> {
        let old = self.adj_need.remove(id).unwrap_or_default();
        for r in &old {
            if let Some(set) = self.adj_res.get_mut(r) {
                set.remove(id);
            }
        }
        old
    }

    pub(super) fn unlink_resource(&mut self, id: &str) -> BTreeSet<String> {
        let old = self.adj_res.remove(id).unwrap_or_default();
        for n in &old {
            if let Some(set) = self.adj_need.get_mut(n) {
                set.remove(id);
            }
        }
        old
    }

    /// Recompute a need's links (none when it is fully dispatched). Only the links that
    /// differ from what the need had are changed on the resources' side: a need updated
    /// within the same reach keeps them all, and each change costs a lookup in a resource's
    /// set of thousands.
    pub(super) fn relink_need(&mut self, id: &str) {
        let open = self.need_ix.get(id).copied().filter(|&ni| self.is_open(ni));
        let linked: BTreeSet<String> = match open {
            Some(ni) => {
                let n = &self.needs[ni];
                self.residual
                    .iter()
                    .enumerate()
                    .filter(|(ri, r)| rule_link(*ri, r, ni, n, &self.policy).is_some())
                    .map(|(_, r)| r.id.clone())
                    .collect()
            }
            None => BTreeSet::new(),
        };
        let old = self.adj_need.remove(id).unwrap_or_default();
        for r in old.difference(&linked) {
            if let Some(set) = self.adj_res.get_mut(r) {
                set.remove(id);
            }
        }
        for r in linked.difference(&old) {
            match self.adj_res.get_mut(r) {
                Some(set) => {
                    set.insert(id.to_string());
                }
                None => {
                    self.adj_res
                        .insert(r.clone(), BTreeSet::from([id.to_string()]));
                }
            }
        }
        if open.is_some() {
            self.adj_need.insert(id.to_string(), linked);
        }
    }

    /// The resources a need is linked to now.
    pub(super) fn need_links(&self, id: &str) -> BTreeSet<String> {
        self.adj_need.get(id).cloned().unwrap_or_default()
    }

    pub(super) fn relink_resource(&mut self, id: &str) {
        self.relinked.insert(id.to_string());
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
        let id = self.resources[ri].id.clone();
        tn.extend(self.unlink_resource(&id));
        self.relink_resource(&id);
    }
}
