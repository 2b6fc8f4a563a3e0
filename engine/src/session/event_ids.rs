//! The event ids a session remembers for idempotent retries: the newest
//! [`MAX_EVENT_IDS`], so that its memory follows the retry window and not the session's age.
//! A live session trims after each accepted batch and a replay after each logged batch, so
//! both remember the same ids.

use std::collections::{HashSet, VecDeque};

/// Event ids remembered: a retry sent after this many newer ids is applied again.
pub const MAX_EVENT_IDS: usize = 100_000;

#[derive(Debug, Clone)]
pub(super) struct EventIds {
    set: HashSet<String>,
    /// Oldest first.
    order: VecDeque<String>,
    /// [`MAX_EVENT_IDS`]; smaller in tests.
    cap: usize,
}

impl Default for EventIds {
    fn default() -> Self {
        EventIds {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap: MAX_EVENT_IDS,
        }
    }
}

impl EventIds {
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Remember `id`; `false` when it is remembered already.
    pub fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        true
    }

    /// Forget `id`, the one inserted last (an event refused as it was staged).
    pub fn forget_last(&mut self, id: &str) {
        if self.order.back().is_some_and(|last| last == id) {
            self.order.pop_back();
            self.set.remove(id);
        }
    }

    /// Keep the newest [`MAX_EVENT_IDS`].
    pub fn trim(&mut self) {
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Session;
    use super::*;
    use crate::events::parse_events;
    use crate::input::scenario_from_value;
    use serde_json::json;

    /// Across the window's edge a live session and its replay remember the same ids: a retry
    /// of an id pushed out is applied again, live and on replay alike.
    #[test]
    fn live_and_replay_remember_the_same_window() {
        let init = scenario_from_value(&json!({
            "resources": [{"id": "van", "kind": "water", "capacity": {"l": 10}}],
            "needs": []}))
        .unwrap();
        let mut s = Session::new(&init).unwrap();
        s.seen.cap = 3;
        let mut log = Vec::new();
        let mut logged_ids: Vec<Vec<String>> = Vec::new();
        let batches: [&[&str]; 5] = [&["a", "b"], &["c"], &["d", "a"], &["b", "e"], &["a"]];
        for (i, ids) in batches.iter().enumerate() {
            let events: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(j, id)| {
                    json!({"type": "need_added", "event_id": id,
                    "need": {"id": format!("n{i}{j}"), "kind": "water", "demand": {"l": 1}}})
                })
                .collect();
            let (out, applied) = s.apply(&parse_events(&json!(events)).unwrap()).unwrap();
            // Trimmed after each batch: [a b] [a b c] [b c d] [c d e] [d e a].
            let want: &[&str] = match i {
                2 => &["a"],
                3 => &["b"],
                _ => &[],
            };
            assert_eq!(out.duplicates, want, "batch {i}");
            if !applied.is_empty() {
                log.extend(applied);
                logged_ids.push(ids.iter().map(|s| s.to_string()).collect());
            }
        }
        let mut r = Session::rebuilt(&init, false, 0, &log).unwrap();
        r.seen.cap = 3;
        for ids in &logged_ids {
            r.remember_event_ids(ids.iter().map(String::as_str));
        }
        assert_eq!(r.seen.order, s.seen.order);
        assert_eq!(r.seen.set, s.seen.set);
        assert_eq!(r.plan(), s.plan());
    }

    #[test]
    fn the_newest_ids_are_kept_and_a_refused_one_is_forgotten() {
        let mut ids = EventIds::default();
        for i in 0..MAX_EVENT_IDS + 5 {
            assert!(ids.insert(&format!("e{i}")));
        }
        assert!(!ids.insert("e3"), "remembered until trimmed");
        ids.trim();
        assert_eq!(
            (ids.set.len(), ids.order.len()),
            (MAX_EVENT_IDS, MAX_EVENT_IDS)
        );
        assert!(!ids.contains("e4") && ids.contains("e5"));
        assert!(ids.insert("e0"), "forgotten: applied again");
        ids.forget_last("e0");
        assert!(!ids.contains("e0"));
        ids.forget_last("e7");
        assert!(ids.contains("e7"), "only the last inserted is forgotten");
    }
}
