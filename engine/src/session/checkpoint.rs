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

    /// Re-plans this session object has run (a rebuild counts its own).
    pub fn replans_run(&self) -> usize {
        self.replans_run
    }

    /// A checkpoint to log after the re-plan point just logged, when one is due: the session
    /// keeps LP bases (and not the warm flow, whose re-plans are cheap to replay), nothing is
    /// staged since that re-plan, and `checkpoint_every` re-plans ran since the last one.
    pub fn checkpoint_due(&mut self) -> Option<Applied> {
        let bases = self.lp_starts.as_ref()?;
        if self.warm.is_some()
            || self.pending.is_some()
            || self.checkpoint_every == 0
            || self.replans_since_checkpoint < self.checkpoint_every
        {
            return None;
        }
        let finite = self.plan.values().all(|v| v.is_finite())
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
            warm_off: self.warm_off,
            bases: bases.snapshot(),
        };
        self.replans_since_checkpoint = 0;
        Some(Applied::Checkpoint {
            checkpoint: Box::new(checkpoint),
        })
    }

    /// Take the re-plans' state from a checkpoint; the events' state is the caller's to have
    /// replayed up to it. Only a session that keeps LP bases installs one (`replay`): one that
    /// keeps none (a log written warm, rebuilt by a service that is not) re-plans as it does.
    pub(super) fn install(&mut self, c: &Checkpoint) {
        self.plan = c
            .plan
            .iter()
            .map(|(r, n, share)| ((r.clone(), n.clone()), *share))
            .collect();
        self.marginal = c.marginal.iter().cloned().collect();
        self.shadow = c.shadow.iter().cloned().collect();
        self.trouble = c.trouble.iter().cloned().collect();
        self.warm = None;
        self.warm_off = c.warm_off;
        self.lp_starts = Some(LpStarts::restore(&c.bases));
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
    /// one depends on it (warm, no checkpoint).
    pub fn rebuilt(
        initial: &Scenario,
        warm: bool,
        checkpoint_every: usize,
        log: &[Applied],
    ) -> Result<Session, RebuildError> {
        let mut s = Session::unplanned(initial, warm)?;
        s.set_checkpoint_every(checkpoint_every);
        let from_checkpoint =
            s.lp_starts.is_some() && log.iter().any(|a| matches!(a, Applied::Checkpoint { .. }));
        if warm && !from_checkpoint {
            s.replan_all();
        }
        s.replay_log(log)?;
        Ok(s)
    }

    /// Rebuild from a whole log (`Session::replay` entry by entry, then
    /// `Session::end_replay`), taking the last checkpoint's state instead of re-planning at
    /// the points before it.
    pub fn replay_log(&mut self, log: &[Applied]) -> Result<(), ReplayError> {
        // Only a session that keeps LP bases takes a checkpoint (see `install`).
        let last = log
            .iter()
            .rposition(|a| matches!(a, Applied::Checkpoint { .. }))
            .filter(|_| self.lp_starts.is_some());
        let rest = match last {
            Some(at) => {
                for a in &log[..at] {
                    self.replay_state(a)?;
                }
                &log[at..]
            }
            None => log,
        };
        for a in rest {
            self.replay(a)?;
        }
        self.end_replay();
        Ok(())
    }
}
