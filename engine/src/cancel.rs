//! Stopping a solve that nobody waits for any more: a client that went away, a server that
//! shuts down, Ctrl-C in Python. HiGHS is asked through its interrupt callbacks, which it
//! calls between simplex and interior-point iterations and between branch-and-bound nodes; the
//! solve then ends with [`crate::solve::SolveError::Cancelled`]. Our own flow and assignment
//! solvers are not interrupted: they answer in milliseconds to seconds where an LP takes
//! minutes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared between a solve and whoever may call it off. Clones share the flag; a
/// child ([`Cancel::child`]) is also cancelled by its parent (a server's shutdown calls off
/// every request's solve).
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    own: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    /// A flag of its own that this one's [`Cancel::cancel`] also sets (one level: the child
    /// of a child answers to its own parent only).
    pub fn child(&self) -> Cancel {
        Cancel {
            own: Arc::new(AtomicBool::new(false)),
            parent: Some(self.own.clone()),
        }
    }

    /// Call the solve off. It stops at HiGHS's next iteration, or before its next stage.
    pub fn cancel(&self) {
        self.own.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::Relaxed))
    }
}

/// Calls its [`Cancel`] off when dropped: held by whoever waits for the solve (an HTTP
/// handler, whose future is dropped when its client goes away).
#[derive(Debug)]
pub struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// HiGHS's interrupt callback: asks HiGHS to stop when the [`Cancel`] behind `user` is set.
///
/// # Safety
/// `user` is the `&Cancel` given to `Highs_setCallback` by [`watch`], alive while HiGHS runs
/// (see there); `data_in` is HiGHS's input block of this call, or null.
unsafe extern "C" fn interrupt_when_cancelled(
    _kind: std::os::raw::c_int,
    _message: *const std::os::raw::c_char,
    _data_out: *const highs_sys::HighsCallbackDataOut,
    data_in: *mut highs_sys::HighsCallbackDataIn,
    user: *mut std::os::raw::c_void,
) {
    if user.is_null() || data_in.is_null() {
        return;
    }
    // SAFETY: `user` points to a live `Cancel` (the contract above); only shared access.
    let cancel = unsafe { &*(user as *const Cancel) };
    if cancel.is_cancelled() {
        // SAFETY: `data_in` is non-null and HiGHS's own block for this call.
        unsafe { (*data_in).user_interrupt = 1 };
    }
}

/// Have HiGHS instance `highs` stop its runs when `cancel` is set.
///
/// # Safety
/// `highs` is a live HiGHS instance, and `cancel` must outlive every run of it from now on
/// that happens before the next `watch` of it: HiGHS keeps the pointer and reads it during
/// runs. The engine calls this before each run (`SubModel::run_highs`), with the `&Cancel` of the
/// solve that runs it, which the solve's options hold until it returns.
pub(crate) unsafe fn watch(highs: *mut std::os::raw::c_void, cancel: &Cancel) {
    let user = cancel as *const Cancel as *mut std::os::raw::c_void;
    // SAFETY: `highs` is live (the contract above); the callback reads `user` only while the
    // caller keeps `cancel` alive.
    unsafe {
        highs_sys::Highs_setCallback(highs, Some(interrupt_when_cancelled), user);
        for kind in [
            highs_sys::kHighsCallbackSimplexInterrupt,
            highs_sys::kHighsCallbackIpmInterrupt,
            highs_sys::kHighsCallbackMipInterrupt,
        ] {
            highs_sys::Highs_startCallback(highs, kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::{try_solve_with, SolveError, SolveOptions};
    use crate::{scenario_from_value, Report};
    use serde_json::json;

    /// Two dimensions: the LP route, through HiGHS.
    fn lp_scenario() -> crate::Scenario {
        scenario_from_value(&json!({
            "resources": [{"id": "r1", "kind": "k", "capacity": {"a": 2, "b": 1}},
                          {"id": "r2", "kind": "k", "capacity": {"a": 1, "b": 2}}],
            "needs": [{"id": "n1", "kind": "k", "demand": {"a": 1, "b": 1}, "priority": 2,
                       "community": "north"},
                      {"id": "n2", "kind": "k", "demand": {"a": 2, "b": 1}, "community": "south"},
                      {"id": "n3", "kind": "k", "demand": {"a": 1, "b": 2}, "community": "south"}],
            "policy": {"fairness": "maxmin"}
        }))
        .unwrap()
    }

    /// A solve called off is `Cancelled`, whatever its stages answered; a flag never set
    /// changes nothing of the answer.
    #[test]
    fn a_called_off_solve_is_no_answer_and_an_unset_flag_changes_nothing() {
        let s = lp_scenario();
        let cancel = Cancel::new();
        let with = SolveOptions {
            cancel: Some(cancel.clone()),
            ..SolveOptions::default()
        };
        let plain = Report::new(&try_solve_with(&s, &SolveOptions::default()).unwrap());
        let watched = Report::new(&try_solve_with(&s, &with).unwrap());
        assert_eq!(plain.allocations, watched.allocations);
        assert_eq!(plain.summary.objective, watched.summary.objective);
        cancel.cancel();
        assert!(matches!(
            try_solve_with(&s, &with),
            Err(SolveError::Cancelled)
        ));
    }

    #[test]
    fn a_parent_cancels_its_children_and_not_the_other_way() {
        let parent = Cancel::new();
        let (a, b) = (parent.child(), parent.child());
        a.cancel();
        assert!(a.is_cancelled() && !b.is_cancelled() && !parent.is_cancelled());
        parent.cancel();
        assert!(b.is_cancelled() && parent.is_cancelled());
        // A clone shares the flag.
        let c = Cancel::new();
        c.clone().cancel();
        assert!(c.is_cancelled());
        let d = Cancel::new();
        drop(CancelOnDrop(d.clone()));
        assert!(d.is_cancelled());
    }
}
