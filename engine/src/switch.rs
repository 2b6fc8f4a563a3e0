//! A test's hold on one of two equivalent code paths: a test forces the path the code would
//! not take, to check both give the same answer, and counts how often the path under test ran,
//! so the comparison is known to compare something. Globals, not thread locals: parts are
//! solved on rayon's threads. Outside tests a switch is never forced and counts nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

pub(crate) struct Switch {
    forced: AtomicBool,
    runs: AtomicUsize,
}

impl Switch {
    pub(crate) const fn new() -> Switch {
        Switch {
            forced: AtomicBool::new(false),
            runs: AtomicUsize::new(0),
        }
    }

    /// Whether a test forces the other path (never outside tests).
    #[inline(always)]
    pub(crate) fn forced(&self) -> bool {
        cfg!(test) && self.forced.load(SeqCst)
    }

    /// The path under test ran once more.
    #[inline(always)]
    pub(crate) fn ran(&self) {
        if cfg!(test) {
            self.runs.fetch_add(1, SeqCst);
        }
    }

    #[cfg(test)]
    pub(crate) fn force(&self, on: bool) {
        self.forced.store(on, SeqCst);
    }

    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs.load(SeqCst)
    }
}

/// Held by a test while it forces a switch: tests run in parallel, and a switch is global.
#[cfg(test)]
pub(crate) static FORCING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Two answers for one scenario agree: the same status, and V and C within 1e-6 relative.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_same_value_and_cost(
    a: &crate::results::Summary,
    b: &crate::results::Summary,
    seed: u64,
) {
    assert_eq!(a.status, b.status, "seed {seed}");
    assert!(close(a.coverage_value, b.coverage_value), "seed {seed}: V");
    assert!(
        close(a.cost, b.cost),
        "seed {seed}: C {} {}",
        a.cost,
        b.cost
    );
}

/// Two answers give every group the same ratio (within [`close`]).
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_same_groups(
    a: &crate::results::Summary,
    b: &crate::results::Summary,
    seed: u64,
) {
    for (g, r) in &a.groups {
        assert!(close(*r, b.groups[g]), "seed {seed}: group {g}");
    }
}

/// Equal within 1e-6 relative to `1 + |x|`.
#[cfg(test)]
pub(crate) fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-6 * (1.0 + x.abs())
}
