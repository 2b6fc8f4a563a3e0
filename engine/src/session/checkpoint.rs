//! Checkpoints of a session that keeps LP bases (`lp/start.rs`): its plan depends on where
//! its re-plans fell, so a rebuild from the log re-plans at each logged point; a checkpoint
//! in the log holds what the re-plans had made at one point, so a rebuild applies the events
//! before the last checkpoint without re-planning, installs it, and re-plans only at the
//! points after it.

use super::{Applied, Checkpoint, RebuildError, ReplayError, Session};
use crate::lp::LpStarts;
use crate::model::Scenario;

impl Session {
    /// Log a [`Checkpoint`] after every `every` re-plans (0: never); the default is
    /// [`super::CHECKPOINT_EVERY`].
    pub fn set_checkpoint_every(&mut self, every: usize) {
        self.checkpoint_every = every;
    }

    /// The most links a batch may bring the session to (a service's bound, below
    /// [`crate::input::MAX_LINKS`], which it stays within): an admission rule of the batches
    /// to come, not of those replayed.
    pub fn set_max_links(&mut self, max: usize) {
        self.max_links = max.min(crate::input::MAX_LINKS);
    }

    /// Re-plans this session object has run (a rebuild counts its own).
    pub fn replans_run(&self) -> usize {
        self.replans_run
    }

    /// A checkpoint to log after the re-plan point just logged, when one is due: not while
    /// the warm flow is held (its re-plans are cheap to replay and set no time limit),
    /// nothing staged since that re-plan, and either a re-plan since the last one reached its
    /// time limit (an exact checkpoint, any session) or the session keeps LP bases and
    /// `checkpoint_every` re-plans ran since the last one. `checkpoint_every` 0 writes none.
    pub fn checkpoint_due(&mut self) -> Option<Applied> {
        if self.warm.is_some() || self.pending.is_some() || self.checkpoint_every == 0 {
            return None;
        }
        let exact = self.timing_dependent;
        let periodic =
            self.lp_starts.is_some() && self.replans_since_checkpoint >= self.checkpoint_every;
        if !exact && !periodic {
            return None;
        }
        let finite = self.plan.values().all(|v| v.is_finite())
            && self.starts.values().all(|v| v.is_finite())
            && self.marginal.values().all(|v| v.is_finite())
            && self
                .shadow
                .values()
                .flat_map(|p| p.values())
                .all(|v| v.is_finite());
        if !finite {
            // JSON has no NaN: such a checkpoint could not be read back. The next one is due
            // at the next re-plan.
            return None;
        }
        let mut marginal: Vec<(String, f64)> =
            self.marginal.iter().map(|(k, &v)| (k.clone(), v)).collect();
        marginal.sort_by(|a, b| a.0.cmp(&b.0));
        let mut shadow: Vec<_> = self
            .shadow
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        shadow.sort_by(|a, b| a.0.cmp(&b.0));
        let checkpoint = Checkpoint {
            plan: self
                .plan
                .iter()
                .map(|((r, n), &share)| (r.clone(), n.clone(), share))
                .collect(),
            marginal,
            shadow,
            trouble: self.trouble.iter().map(|(k, &v)| (k.clone(), v)).collect(),
            failure: self.failure.clone(),
            warm_off: self.warm_off,
            bases: self.lp_starts.as_ref().map(LpStarts::snapshot),
            starts: self.starts.iter().map(|(k, &v)| (k.clone(), v)).collect(),
            exact,
            gaps: self.gaps.iter().map(|(k, &v)| (k.clone(), v)).collect(),
        };
        self.replans_since_checkpoint = 0;
        self.timing_dependent = false;
        Some(Applied::Checkpoint {
            checkpoint: Box::new(checkpoint),
        })
    }

    /// Take the re-plans' state from a checkpoint; the events' state is the caller's to have
    /// replayed up to it. A session that keeps LP bases installs any (`replay`); one that
    /// keeps none (a log written warm, rebuilt by a service that is not) only an exact one,
    /// and re-plans at each logged point after it.
    pub(super) fn install(&mut self, c: &Checkpoint) {
        self.plan = c
            .plan
            .iter()
            .map(|(r, n, share)| ((r.clone(), n.clone()), *share))
            .collect();
        self.marginal = c.marginal.iter().cloned().collect();
        self.shadow = c.shadow.iter().cloned().collect();
        self.trouble = c.trouble.iter().cloned().collect();
        self.gaps = c.gaps.iter().cloned().collect();
        self.failure = c.failure.clone();
        self.warm = None;
        self.warm_off = c.warm_off;
        self.starts = c.starts.iter().cloned().collect();
        if self.lp_starts.is_some() {
            self.lp_starts = Some(c.bases.as_ref().map(LpStarts::restore).unwrap_or_default());
        } else {
            self.replay_points = true;
        }
        // Live, the re-plan just before the checkpoint took the links it had pending.
        self.relinked.clear();
        self.timing_dependent = false;
        self.pending = None;
        self.replan_unlogged = false;
        self.open_conflicts = std::sync::OnceLock::new();
        self.duals_cache = std::sync::OnceLock::new();
        self.replans_since_checkpoint = 0;
    }

    /// A session rebuilt from its initial scenario and whole log (a restart, an unload, a
    /// fail-over), re-planning as [`Session::new_warm`] with `warm` would have: a warm one
    /// at each logged point from its first plan, or from the last checkpoint when the log
    /// holds one; a cold one once at the end. The first plan is solved only where a later
    /// one depends on it (warm, no checkpoint). A log too large to hold goes through
    /// [`LogReplay`] entry by entry.
    pub fn rebuilt(
        initial: &Scenario,
        warm: bool,
        checkpoint_every: usize,
        log: &[Applied],
    ) -> Result<Session, RebuildError> {
        let last = |exact_only: bool| {
            log.iter().rposition(|a| {
                matches!(a, Applied::Checkpoint { checkpoint } if checkpoint.exact || !exact_only)
            })
        };
        let checkpoints = Checkpoints {
            last: last(false),
            last_exact: last(true),
        };
        let mut replay = LogReplay::new(initial, warm, checkpoint_every, checkpoints)?;
        for a in log {
            replay.push(a)?;
        }
        Ok(replay.finish())
    }
}

/// The `type` of a logged [`Applied::Checkpoint`] (serde's spelling of the variant;
/// `tests::a_scan_finds_the_last_checkpoint` holds the two together).
const CHECKPOINT_TYPE: &str = "checkpoint";

/// The `type` of a logged [`Applied::Replanned`].
const REPLANNED_TYPE: &str = "replanned";

/// Where a log's last checkpoints are: of any kind, and the last exact one
/// ([`Checkpoint::exact`]), by index in the whole log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoints {
    pub last: Option<usize>,
    pub last_exact: Option<usize>,
}

impl Checkpoints {
    /// A batch's scan, `entries` in the log before it, taken in.
    pub fn take(&mut self, entries: usize, scan: &BatchScan) {
        if let Some(at) = scan.last_checkpoint {
            self.last = Some(entries + at);
        }
        if let Some(at) = scan.last_exact {
            self.last_exact = Some(entries + at);
        }
    }
}

/// One logged batch as [`LogReplay::scan`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchScan {
    pub entries: usize,
    pub last_checkpoint: Option<usize>,
    /// The index of its last exact checkpoint ([`Checkpoint::exact`]).
    pub last_exact: Option<usize>,
    /// Its last entry but checkpoints is a re-plan point. A batch answered before its
    /// re-plan (`replanning: true`, past a re-plan budget) is not: the re-plan's changes
    /// follow in an entry of their own. When a log ends with such a batch, that entry was
    /// never written (the process died between the two) and is owed ([`LogReplay::begin_owed`]).
    pub ends_replanned: bool,
}

/// A rebuild fed its log one entry at a time, so that a reader can page through a log larger
/// than the session it rebuilds (a checkpoint is logged every few dozen re-plans, and only the
/// last one is installed). The caller finds the index of the log's last checkpoint first (a
/// pass over the entries' `type` alone), since the events before it are replayed without
/// re-planning.
pub struct LogReplay {
    session: Session,
    /// The entry whose checkpoint is installed: the log's last when this session keeps LP
    /// bases, else its last exact one (`Session::install`).
    install_at: Option<usize>,
    /// Index of the next entry pushed.
    next: usize,
}

impl LogReplay {
    /// Start from the initial scenario; `checkpoints` says where the log's last
    /// `Applied::Checkpoint` entries are.
    pub fn new(
        initial: &Scenario,
        warm: bool,
        checkpoint_every: usize,
        checkpoints: Checkpoints,
    ) -> Result<LogReplay, RebuildError> {
        let mut session = Session::unplanned(initial, warm)?;
        session.set_checkpoint_every(checkpoint_every);
        let install_at = if session.lp_starts.is_some() {
            checkpoints.last
        } else {
            checkpoints.last_exact
        };
        if warm && install_at.is_none() {
            session.replan_all();
        }
        Ok(LogReplay {
            session,
            install_at,
            next: 0,
        })
    }

    /// Replay the log's next entry: before the installed checkpoint only its change of the
    /// state, from it on as [`Session::replay`] (re-planning at the logged points). A
    /// checkpoint that is not installed is skipped: the session that logged it did not apply
    /// it either.
    pub fn push(&mut self, a: &Applied) -> Result<(), ReplayError> {
        let at = self.next;
        self.next += 1;
        match (self.install_at, a) {
            (Some(install), _) if at < install => self.session.replay_state(a),
            (Some(install), Applied::Checkpoint { checkpoint }) if at == install => {
                self.session.install(checkpoint);
                Ok(())
            }
            (_, Applied::Checkpoint { .. }) => Ok(()),
            _ => self.session.replay(a),
        }
    }

    /// What a first pass over the log needs of one logged batch (its `applied` JSON): how
    /// many entries it holds and the index among them of its last checkpoint. Only each
    /// entry's `type` is read, so a batch holding a checkpoint is not built in memory.
    pub fn scan(applied: &str) -> Result<BatchScan, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct EntryType {
            #[serde(rename = "type")]
            kind: String,
            /// A checkpoint's flag alone (its other fields are skipped, not built).
            #[serde(default)]
            checkpoint: Option<CheckpointFlags>,
        }
        #[derive(serde::Deserialize)]
        struct CheckpointFlags {
            #[serde(default)]
            exact: bool,
        }
        let types: Vec<EntryType> = serde_json::from_str(applied)?;
        Ok(BatchScan {
            entries: types.len(),
            last_checkpoint: types.iter().rposition(|t| t.kind == CHECKPOINT_TYPE),
            last_exact: types.iter().rposition(|t| {
                t.kind == CHECKPOINT_TYPE && t.checkpoint.as_ref().is_some_and(|c| c.exact)
            }),
            ends_replanned: types
                .iter()
                .rfind(|t| t.kind != CHECKPOINT_TYPE)
                .is_some_and(|t| t.kind == REPLANNED_TYPE),
        })
    }

    /// Remember a logged batch's event ids, in log order (the window trims as it did live).
    pub fn remember_event_ids<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a crate::events::LoggedEventId>,
    ) {
        self.session.remember_event_ids(ids);
    }

    /// The rebuilt session, re-planned as [`Session::end_replay`] does.
    pub fn finish(mut self) -> Session {
        self.session.end_replay();
        self.session
    }

    /// Before the log's last batch, when its re-plan's follow-up is owed
    /// ([`BatchScan::ends_replanned`]): the plan as it stood before that batch (a cold session
    /// re-plans its state, a warm one what is left since its last re-plan point).
    pub fn begin_owed(&mut self) {
        self.session.end_replay();
        self.session.begin_staging();
    }

    /// One entry of the batches whose follow-up is owed, staged as it was live (the plan's
    /// changes remembered, a re-plan point inside them re-planning what was touched without
    /// ending the staging, as a dispatch's re-plan did), so that
    /// [`LogReplay::finish_owed`] answers all their changes.
    pub fn push_owed(&mut self, a: &Applied) -> Result<(), ReplayError> {
        self.next += 1;
        match a {
            Applied::Replanned => {
                self.session.replan_touched();
                Ok(())
            }
            Applied::Checkpoint { .. } => Ok(()),
            _ => self.session.replay_staged(a),
        }
    }

    /// The rebuilt session after the owed re-plan, and that re-plan's changes: what the
    /// follow-up entry holds, for the caller to log and stream.
    pub fn finish_owed(mut self) -> (Session, super::Flushed) {
        let flushed = self.session.flush();
        (self.session, flushed)
    }
}
