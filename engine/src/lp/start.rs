//! Warm starts for the LP stages of a live session's re-plans (issue 18).
//!
//! A fair or multi-dimension session solves its LP again after every burst of events. The
//! model of the next re-plan is built anew (its columns and rows are numbered by the residual
//! scenario of that moment), but it differs from the last one by a few needs and resources.
//! So each stage's final basis is kept by the *ids* of what its columns and rows stand for
//! (a link by its need and resource, a need's row by the need, ...), and the same stage of
//! the next re-plan starts from it: simplex then goes a few pivots from the last optimum
//! instead of solving from nothing. The links a kept basis has basic (or at an upper bound)
//! also join the columns a sifted model starts with, so the last optimum's support is in the
//! model from the first round.
//!
//! Which optimum HiGHS lands on among ties depends on the basis it starts from, so a
//! session that keeps starts has a plan that depends on where its re-plans fell: it logs
//! them and replays them at the same points (`Session::replay`), as the warm flow does. Only
//! the statuses that differ from a fresh model's are kept (a column at its lower bound, a
//! row basic), so a start holds one to two entries per row of the model per stage (the basic
//! columns, as many as the rows, and the rows at a bound).

use highs_sys::HighsInt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// HiGHS's `HighsBasisStatus` values that a kept basis uses.
pub(super) const LOWER: HighsInt = 0;
pub(super) const BASIC: HighsInt = 1;
pub(super) const UPPER: HighsInt = 2;

/// What a column or row of a session's LP stands for, by the ids of its entities.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Slot {
    /// The allocation column of the link (need, resource).
    Link(String, String),
    /// A need's row `min_fill <= y_n <= 1`.
    NeedRow(String),
    /// A resource's capacity row in a dimension.
    CapRow(String, String),
    /// A fairness group's row.
    GroupRow(String),
    /// The `t` column of the part whose first need is this one.
    T(String),
    /// The value hold's row of the part whose first need is this one.
    ValueRow(String),
}

impl Slot {
    /// The need or resource the slot belongs to (`None`: a group's row, which only a part of
    /// the whole scenario has).
    fn owner(&self) -> Option<Owner<'_>> {
        match self {
            Slot::Link(n, _) | Slot::NeedRow(n) | Slot::T(n) | Slot::ValueRow(n) => {
                Some(Owner::Need(n))
            }
            Slot::CapRow(r, _) => Some(Owner::Resource(r)),
            Slot::GroupRow(_) => None,
        }
    }
}

enum Owner<'a> {
    Need(&'a str),
    Resource(&'a str),
}

/// One stage's basis: the statuses that differ from a fresh model's.
pub(super) type StageBasis = HashMap<Slot, HighsInt>;

/// [`LpStarts`] as a value: each stage's statuses in slot order. A session's log holds it in
/// a checkpoint, from which a rebuild goes on re-planning as the live session did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptBases(Vec<Vec<(Slot, HighsInt)>>);

/// One stage's kept statuses by the need or resource they belong to, so that a part finds
/// and replaces its own in time proportional to its size, not to the session's.
#[derive(Debug, Clone, Default)]
struct Owned {
    by_need: HashMap<String, StageBasis>,
    by_resource: HashMap<String, StageBasis>,
    groups: StageBasis,
}

impl Owned {
    fn insert(&mut self, slot: Slot, status: HighsInt) {
        let map = match slot.owner() {
            Some(Owner::Need(n)) => self.by_need.entry(n.to_string()).or_default(),
            Some(Owner::Resource(r)) => self.by_resource.entry(r.to_string()).or_default(),
            None => &mut self.groups,
        };
        map.insert(slot, status);
    }

    fn len(&self) -> usize {
        let sum = |m: &HashMap<String, StageBasis>| m.values().map(HashMap::len).sum::<usize>();
        sum(&self.by_need) + sum(&self.by_resource) + self.groups.len()
    }
}

/// The kept bases of a session's LP stages, by stage number (the order of the stages a part
/// solves: max-min, value, cost). Shared by the parts of one re-plan, which may run on
/// several threads: each part reads and replaces only its own slots, so the answer does not
/// depend on their order.
#[derive(Debug, Default)]
pub(crate) struct LpStarts {
    stages: Mutex<Vec<Owned>>,
}

impl Clone for LpStarts {
    /// A copy of the bases: a session staged on a copy must not change the original's.
    fn clone(&self) -> LpStarts {
        LpStarts {
            stages: Mutex::new(self.lock().clone()),
        }
    }
}

impl LpStarts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Owned>> {
        // A panic while the lock was held leaves a basis that is only a hint: go on with it.
        self.stages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept bases of one part, stage by stage. A `whole` part (the whole scenario, as
    /// under fairness) owns every slot.
    pub(super) fn of_part(
        &self,
        needs: &HashSet<String>,
        resources: &HashSet<String>,
        whole: bool,
    ) -> Vec<StageBasis> {
        self.lock()
            .iter()
            .map(|stage| {
                let mut basis = StageBasis::new();
                let mut take =
                    |m: &StageBasis| basis.extend(m.iter().map(|(k, &v)| (k.clone(), v)));
                if whole {
                    stage.by_need.values().for_each(&mut take);
                    stage.by_resource.values().for_each(&mut take);
                    take(&stage.groups);
                } else {
                    needs
                        .iter()
                        .filter_map(|n| stage.by_need.get(n))
                        .for_each(&mut take);
                    resources
                        .iter()
                        .filter_map(|r| stage.by_resource.get(r))
                        .for_each(&mut take);
                }
                basis
            })
            .collect()
    }

    /// Replace one part's basis of stage `stage` by `basis` (a `whole` part's replaces
    /// everything). The slots of needs that have gone (withdrawn, served) are no part's: the
    /// session drops them ([`LpStarts::retain`]).
    pub(super) fn keep(
        &self,
        stage: usize,
        needs: &HashSet<String>,
        resources: &HashSet<String>,
        whole: bool,
        basis: StageBasis,
    ) {
        let mut stages = self.lock();
        if stages.len() <= stage {
            stages.resize_with(stage + 1, Owned::default);
        }
        let owned = &mut stages[stage];
        if whole {
            *owned = Owned::default();
        } else {
            needs.iter().for_each(|n| drop(owned.by_need.remove(n)));
            resources
                .iter()
                .for_each(|r| drop(owned.by_resource.remove(r)));
        }
        for (slot, status) in basis {
            owned.insert(slot, status);
        }
    }

    /// Keep only the statuses whose need (links, need rows, `t`, the value hold) passes
    /// `need` and whose resource (links, capacity rows) passes `resource`: a session drops
    /// those of needs that have gone and resources withdrawn, which no later part replaces.
    pub(crate) fn retain(&self, need: impl Fn(&str) -> bool, resource: impl Fn(&str) -> bool) {
        for stage in self.lock().iter_mut() {
            stage.by_need.retain(|n, slots| {
                slots.retain(|slot, _| !matches!(slot, Slot::Link(_, r) if !resource(r)));
                need(n) && !slots.is_empty()
            });
            stage.by_resource.retain(|r, _| resource(r));
        }
    }

    /// The kept statuses as a value a session's log can hold ([`KeptBases`]).
    pub(crate) fn snapshot(&self) -> KeptBases {
        let stages = self.lock();
        KeptBases(
            stages
                .iter()
                .map(|owned| {
                    let mut all: Vec<(Slot, HighsInt)> = owned
                        .by_need
                        .values()
                        .chain(owned.by_resource.values())
                        .chain(std::iter::once(&owned.groups))
                        .flat_map(|m| m.iter().map(|(k, &v)| (k.clone(), v)))
                        .collect();
                    all.sort();
                    all
                })
                .collect(),
        )
    }

    /// The bases a [`KeptBases`] holds.
    pub(crate) fn restore(kept: &KeptBases) -> LpStarts {
        let stages = kept
            .0
            .iter()
            .map(|stage| {
                let mut owned = Owned::default();
                for (slot, status) in stage {
                    owned.insert(slot.clone(), *status);
                }
                owned
            })
            .collect();
        LpStarts {
            stages: Mutex::new(stages),
        }
    }

    /// Statuses kept over every stage.
    pub(crate) fn len(&self) -> usize {
        self.lock().iter().map(Owned::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(xs: &[&str]) -> HashSet<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    /// A part's re-plan replaces its own slots and keeps the others'; a whole part replaces
    /// all; `retain` drops the slots of needs and resources that have gone.
    #[test]
    fn parts_replace_their_own_slots_and_gone_entities_are_dropped() {
        let starts = LpStarts::default();
        let link = |n: &str, r: &str| Slot::Link(n.into(), r.into());
        let a = StageBasis::from([(link("a", "r"), BASIC), (Slot::NeedRow("a".into()), UPPER)]);
        let b = StageBasis::from([
            (link("b", "s"), BASIC),
            (Slot::CapRow("s".into(), "h".into()), UPPER),
        ]);
        starts.keep(0, &ids(&["a"]), &ids(&["r"]), false, a);
        starts.keep(0, &ids(&["b"]), &ids(&["s"]), false, b);
        assert_eq!(starts.len(), 4);
        // Part {a} again: its two slots replaced by one.
        starts.keep(
            0,
            &ids(&["a"]),
            &ids(&["r"]),
            false,
            StageBasis::from([(link("a", "r"), BASIC)]),
        );
        assert_eq!(starts.len(), 3);
        let of_b = starts.of_part(&ids(&["b"]), &ids(&["s"]), false);
        assert_eq!(of_b[0].len(), 2);
        assert!(of_b[0].contains_key(&link("b", "s")));
        // Need b withdrawn: its link goes, resource s's row stays while s does.
        starts.retain(|n| n != "b", |_| true);
        assert_eq!(starts.len(), 2);
        starts.retain(|_| true, |r| r != "s");
        assert_eq!(starts.len(), 1);
        // Resource r withdrawn: the link (a, r) goes with it.
        starts.retain(|_| true, |r| r != "r");
        assert!(starts.of_part(&ids(&["a"]), &ids(&["r"]), false)[0].is_empty());
        // A whole part (fairness) owns every slot.
        starts.keep(
            0,
            &ids(&[]),
            &ids(&[]),
            true,
            StageBasis::from([(Slot::GroupRow("g".into()), LOWER)]),
        );
        assert_eq!(starts.of_part(&ids(&[]), &ids(&[]), true)[0].len(), 1);
        assert_eq!(starts.len(), 1);
        // A copy is a copy: the original's bases do not change with it.
        let copy = starts.clone();
        copy.retain(|_| true, |_| true);
        copy.keep(
            1,
            &ids(&["c"]),
            &ids(&[]),
            false,
            StageBasis::from([(Slot::NeedRow("c".into()), UPPER)]),
        );
        assert_eq!((starts.len(), copy.len()), (1, 2));
    }
}
