//! The event ids a session remembers for idempotent retries: the newest
//! [`MAX_EVENT_IDS`], so that its memory follows the retry window and not the session's age.
//! A live session trims after each accepted batch and a replay after each logged batch, so
//! both remember the same ids.

use std::collections::{HashMap, VecDeque};

/// Event ids remembered: a retry sent after this many newer ids is applied again.
pub const MAX_EVENT_IDS: usize = 100_000;

#[derive(Debug, Clone)]
pub(super) struct EventIds {
    /// Each id with the digest of its event (`None`: remembered from a log written before
    /// digests were kept).
    set: HashMap<String, Option<u64>>,
    /// Oldest first.
    order: VecDeque<String>,
    /// [`MAX_EVENT_IDS`]; smaller in tests.
    cap: usize,
}

impl Default for EventIds {
    fn default() -> Self {
        EventIds {
            set: HashMap::new(),
            order: VecDeque::new(),
            cap: MAX_EVENT_IDS,
        }
    }
}

impl EventIds {
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains_key(id)
    }

    /// `id` is remembered with another event's digest than `digest` (both known).
    pub fn reused(&self, id: &str, digest: u64) -> bool {
        self.set
            .get(id)
            .is_some_and(|d| d.is_some_and(|d| d != digest))
    }

    /// Remember `id` with its event's digest; `false` when it is remembered already.
    pub fn insert(&mut self, id: &str, digest: Option<u64>) -> bool {
        if self.set.contains_key(id) {
            return false;
        }
        self.set.insert(id.to_string(), digest);
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
    use crate::events::{parse_events, LoggedEventId};
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
        let mut logged_ids: Vec<Vec<LoggedEventId>> = Vec::new();
        let batches: [&[&str]; 5] = [&["a", "b"], &["c"], &["d", "a"], &["b", "e"], &["a"]];
        for (i, ids) in batches.iter().enumerate() {
            // An id's event is the same each time it is sent (a retry).
            let events: Vec<_> = ids
                .iter()
                .map(|id| {
                    json!({"type": "resource_updated", "event_id": id, "resource": {"id": "van",
                    "kind": "water", "capacity": {"l": 10 + (id.as_bytes()[0] - b'a') as i64}}})
                })
                .collect();
            let events = parse_events(&json!(events)).unwrap();
            let (out, applied) = s.apply(&events).unwrap();
            // Trimmed after each batch: [a b] [a b c] [b c d] [c d e] [d e a].
            let want: &[&str] = match i {
                2 => &["a"],
                3 => &["b"],
                _ => &[],
            };
            assert_eq!(out.duplicates, want, "batch {i}");
            if !applied.is_empty() {
                log.extend(applied);
                logged_ids.push(events.iter().filter_map(|e| e.logged_id()).collect());
            }
        }
        let mut r = Session::rebuilt(&init, false, 0, &log).unwrap();
        r.seen.cap = 3;
        for ids in &logged_ids {
            r.remember_event_ids(ids);
        }
        assert_eq!(r.seen.order, s.seen.order);
        assert_eq!(r.seen.set, s.seen.set);
        assert_eq!(r.plan(), s.plan());
    }

    /// Another event under a used id is refused whole and changes nothing, live and after a
    /// replay of the log; a retry of the same event is a duplicate. An id remembered from a
    /// log without digests cannot tell the two apart, and is taken for a retry.
    #[test]
    fn a_used_id_is_refused_for_another_event() {
        use super::super::Refusal;
        let init = scenario_from_value(&json!({
            "resources": [{"id": "van", "kind": "water", "capacity": {"l": 10}}],
            "needs": []}))
        .unwrap();
        let need = |id: &str, l: i64| {
            parse_events(&json!([{"type": "need_added", "event_id": "e1",
                "need": {"id": id, "kind": "water", "demand": {"l": l}}}]))
            .unwrap()
        };
        let mut s = Session::new(&init).unwrap();
        let first = need("a", 1);
        let (_, applied) = s.apply(&first).unwrap();
        let e = s.apply(&need("b", 1)).unwrap_err();
        assert_eq!(e.refusal, Refusal::EventIdReused("e1".into()));
        assert!(s.need("b").is_none());
        let (out, _) = s.apply(&need("a", 1)).unwrap();
        assert_eq!(out.duplicates, ["e1"]);
        let logged: Vec<LoggedEventId> = first.iter().filter_map(|e| e.logged_id()).collect();
        let mut r = Session::rebuilt(&init, false, 0, &applied).unwrap();
        r.remember_event_ids(&logged);
        assert_eq!(
            r.apply(&need("b", 1)).unwrap_err().refusal,
            Refusal::EventIdReused("e1".into())
        );
        let mut old = Session::rebuilt(&init, false, 0, &applied).unwrap();
        old.remember_event_ids(&[LoggedEventId {
            id: "e1".into(),
            digest: None,
        }]);
        assert_eq!(old.apply(&need("b", 1)).unwrap().0.duplicates, ["e1"]);
    }

    #[test]
    fn the_newest_ids_are_kept_and_a_refused_one_is_forgotten() {
        let mut ids = EventIds::default();
        for i in 0..MAX_EVENT_IDS + 5 {
            assert!(ids.insert(&format!("e{i}"), Some(i as u64)));
        }
        assert!(!ids.insert("e3", None), "remembered until trimmed");
        ids.trim();
        assert_eq!(
            (ids.set.len(), ids.order.len()),
            (MAX_EVENT_IDS, MAX_EVENT_IDS)
        );
        assert!(!ids.contains("e4") && ids.contains("e5"));
        assert!(ids.insert("e0", None), "forgotten: applied again");
        ids.forget_last("e0");
        assert!(!ids.contains("e0"));
        ids.forget_last("e7");
        assert!(ids.contains("e7"), "only the last inserted is forgotten");
    }
}
