//! Session events as SPEC section 4 spells them in JSON, and their parsing: every problem is
//! reported with the event's index and field. The session state machine takes parsed events.

use crate::input::{
    kind_of, name_too_long, scenario_from_value, InputIssue, InvalidInput, Problems, MAX_NAME_BYTES,
};
use crate::model::{Need, Resource};
use serde_json::{json, Value};

/// The latest session clock an event may carry: a century of hours.
pub const MAX_CLOCK_H: f64 = 876_000.0;

/// One event, as SPEC section 4 spells it.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    NeedAdded(Need),
    NeedUpdated(Need),
    NeedWithdrawn(String),
    ResourceAdded(Resource),
    ResourceUpdated(Resource),
    ResourceWithdrawn(String),
    Dispatched {
        need: String,
        resource: String,
    },
    /// The resource (`id`) is back: in a timed session one loan, that of `need` when named
    /// (else the earliest started one).
    ResourceReturned {
        id: String,
        need: Option<String>,
    },
    /// Undo a dispatch: the coordinator's answer to a booking in conflict (or a dispatch
    /// made in error). The need is open again and re-planned.
    DispatchReleased {
        need: String,
        resource: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// Client id for idempotent retries: an event whose id was applied before is skipped.
    pub event_id: Option<String>,
    /// The session clock when the event happened, in hours (non-decreasing): the plan never
    /// schedules a start before it, and a return is recorded at it.
    pub at: Option<f64>,
    /// [`content_digest`] of the event as sent (all but its `event_id`): a retry carries the
    /// same, another event sent under a used id does not, and is refused.
    pub digest: u64,
}

impl Event {
    /// The event's id with its digest, as the session log records it.
    pub fn logged_id(&self) -> Option<LoggedEventId> {
        self.event_id.as_ref().map(|id| LoggedEventId {
            id: id.clone(),
            digest: Some(self.digest),
        })
    }
}

/// An event id as a session's log records it: with the digest of its event, or (logs written
/// before digests were kept) the id alone, whose reuse for another event is then not seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "LoggedForm", into = "LoggedForm")]
pub struct LoggedEventId {
    pub id: String,
    pub digest: Option<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum LoggedForm {
    Plain(String),
    /// `[id, digest]`, the digest in 16 hexadecimal digits (JSON numbers past 2^53 are not
    /// exact in every reader).
    Digested(String, String),
}

impl From<LoggedForm> for LoggedEventId {
    fn from(f: LoggedForm) -> Self {
        match f {
            LoggedForm::Plain(id) => LoggedEventId { id, digest: None },
            LoggedForm::Digested(id, hex) => LoggedEventId {
                digest: u64::from_str_radix(&hex, 16).ok(),
                id,
            },
        }
    }
}

impl From<LoggedEventId> for LoggedForm {
    fn from(l: LoggedEventId) -> Self {
        match l.digest {
            Some(d) => LoggedForm::Digested(l.id, format!("{d:016x}")),
            None => LoggedForm::Plain(l.id),
        }
    }
}

/// A digest of an event's JSON that does not depend on its key order or on how a number is
/// spelled (`1` and `1.0`), its `event_id` left out: FNV-1a over a canonical walk, the same
/// in every process and version (a session's log keeps it across restarts).
pub fn content_digest(event: &serde_json::Map<String, Value>) -> u64 {
    struct Fnv(u64);
    impl Fnv {
        fn bytes(&mut self, b: &[u8]) {
            for &x in b {
                self.0 ^= u64::from(x);
                self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        fn value(&mut self, v: &Value) {
            match v {
                Value::Null => self.bytes(b"n"),
                Value::Bool(b) => self.bytes(if *b { b"t" } else { b"f" }),
                Value::Number(n) => {
                    self.bytes(b"#");
                    match n.as_f64() {
                        Some(x) => self.bytes(&x.to_bits().to_le_bytes()),
                        None => self.bytes(n.to_string().as_bytes()),
                    }
                }
                Value::String(s) => self.string(s),
                Value::Array(a) => {
                    self.bytes(b"[");
                    self.bytes(&(a.len() as u64).to_le_bytes());
                    a.iter().for_each(|x| self.value(x));
                }
                Value::Object(o) => self.object(o, None),
            }
        }
        fn string(&mut self, s: &str) {
            self.bytes(b"\"");
            self.bytes(&(s.len() as u64).to_le_bytes());
            self.bytes(s.as_bytes());
        }
        fn object(&mut self, o: &serde_json::Map<String, Value>, skip: Option<&str>) {
            let mut keys: Vec<&String> = o.keys().filter(|k| Some(k.as_str()) != skip).collect();
            keys.sort();
            self.bytes(b"{");
            self.bytes(&(keys.len() as u64).to_le_bytes());
            for k in keys {
                self.string(k);
                self.value(&o[k]);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.object(event, Some("event_id"));
    h.0
}

/// A problem of event `i`: the batch is the table and the event its row, as a scenario's
/// problems name theirs (`events[3].need.priority` in words).
fn issue(i: usize, field: Option<&str>, message: impl Into<String>) -> InputIssue {
    InputIssue {
        table: "events".into(),
        row: Some(i),
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Most events in one batch: a coordinator's batch is a few, a bulk load some thousands.
pub const MAX_EVENTS: usize = 100_000;

/// Parse the `events` list of a request: every problem is reported with the event's index,
/// the first [`MAX_ISSUES`](crate::input::MAX_ISSUES) of them listed and the rest counted (a body of a million bad
/// events had a million problems: a response 40 times the body, and a gigabyte of memory).
pub fn parse_events(list: &Value) -> Result<Vec<Event>, InvalidInput> {
    let whole = |message: String| InputIssue {
        table: "events".into(),
        row: None,
        field: None,
        message,
    };
    let Some(items) = list.as_array() else {
        return Err(InvalidInput::new(vec![whole(
            "expected a list of events".into(),
        )]));
    };
    if items.len() > MAX_EVENTS {
        return Err(InvalidInput::new(vec![whole(format!(
            "{} events in one batch: at most {MAX_EVENTS}; split the batch",
            items.len()
        ))]));
    }
    let mut problems = Problems::default();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_event(i, item) {
            Ok(e) => events.push(e),
            Err(e) => problems.absorb(e, |x| x),
        }
    }
    match problems.refusal("events") {
        None => Ok(events),
        Some(e) => Err(e),
    }
}

fn parse_event(i: usize, v: &Value) -> Result<Event, InvalidInput> {
    let Some(obj) = v.as_object() else {
        return Err(vec![issue(i, None, "expected an object")].into());
    };
    let ty = match obj.get("type") {
        None | Some(Value::Null) => "",
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return Err(vec![issue(
                i,
                Some("type"),
                format!("expected a string, got {}", kind_of(other)),
            )]
            .into())
        }
    };
    let (allowed, entity): (&[&str], Option<&str>) = match ty {
        "need_added" | "need_updated" => (&["need"], Some("need")),
        "resource_added" | "resource_updated" => (&["resource"], Some("resource")),
        "need_withdrawn" | "resource_withdrawn" | "resource_returned" => (&["id"], None),
        "dispatched" | "dispatch_released" => (&["need", "resource"], None),
        "" => return Err(vec![issue(i, Some("type"), "missing event type")].into()),
        other => {
            return Err(vec![issue(
                i,
                Some("type"),
                format!("unknown event type {other:?}"),
            )]
            .into())
        }
    };
    let mut issues = Vec::new();
    for k in obj.keys() {
        // A return may name the need whose loan came back.
        let optional = ty == "resource_returned" && k == "need";
        if k != "type"
            && k != "event_id"
            && k != "at"
            && !allowed.contains(&k.as_str())
            && !optional
        {
            issues.push(issue(i, Some(k), format!("unknown field for {ty}")));
        }
    }
    for k in allowed {
        if !obj.contains_key(*k) {
            issues.push(issue(i, Some(k), "missing required field"));
        }
    }
    let event_id = match obj.get("event_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => Some(s.clone()),
        Some(_) => {
            issues.push(issue(
                i,
                Some("event_id"),
                "expected a string of 1-200 bytes (UTF-8)",
            ));
            None
        }
    };
    let at = match obj.get("at") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(h) if h.is_finite() && (0.0..=MAX_CLOCK_H).contains(&h) => Some(h),
            _ => {
                issues.push(issue(
                    i,
                    Some("at"),
                    format!("expected hours from the scenario's start, 0 to {MAX_CLOCK_H}"),
                ));
                None
            }
        },
    };
    if !issues.is_empty() {
        return Err(issues.into());
    }
    let id_of = |k: &str| -> Result<String, Vec<InputIssue>> {
        match obj.get(k) {
            Some(Value::String(s)) if s.len() > MAX_NAME_BYTES => {
                Err(vec![issue(i, Some(k), name_too_long(s.len()))])
            }
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(vec![issue(i, Some(k), "expected a non-empty string id")]),
        }
    };
    let kind = match (ty, entity) {
        (_, Some(table)) => {
            // One validator for every entity: the scenario's own, on a one-row scenario.
            let (res, needs) = if table == "need" {
                (json!([]), json!([obj[table]]))
            } else {
                (json!([obj[table]]), json!([]))
            };
            let scenario = scenario_from_value(&json!({"resources": res, "needs": needs}))
                .map_err(|mut e| {
                    for x in &mut e.issues {
                        x.table = "events".into();
                        x.row = Some(i);
                        // The entity's field under its key: `need.demand.beds`.
                        x.field = Some(match x.field.take() {
                            Some(f) => format!("{table}.{f}"),
                            None => table.to_string(),
                        });
                    }
                    e
                })?;
            match ty {
                "need_added" => EventKind::NeedAdded(scenario.needs[0].clone()),
                "need_updated" => EventKind::NeedUpdated(scenario.needs[0].clone()),
                "resource_added" => EventKind::ResourceAdded(scenario.resources[0].clone()),
                _ => EventKind::ResourceUpdated(scenario.resources[0].clone()),
            }
        }
        ("need_withdrawn", _) => EventKind::NeedWithdrawn(id_of("id")?),
        ("resource_withdrawn", _) => EventKind::ResourceWithdrawn(id_of("id")?),
        ("resource_returned", _) => EventKind::ResourceReturned {
            id: id_of("id")?,
            need: match obj.get("need") {
                None | Some(Value::Null) => None,
                Some(_) => Some(id_of("need")?),
            },
        },
        ("dispatch_released", _) => EventKind::DispatchReleased {
            need: id_of("need")?,
            resource: id_of("resource")?,
        },
        _ => EventKind::Dispatched {
            need: id_of("need")?,
            resource: id_of("resource")?,
        },
    };
    Ok(Event {
        kind,
        event_id,
        at,
        digest: content_digest(obj),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::MAX_ISSUES;

    fn one(v: Value) -> Event {
        parse_events(&json!([v])).unwrap().remove(0)
    }

    /// One event with more problems than a refusal lists (a need of 12,000 bad dimensions)
    /// is counted with the batch: its own count line was passed through as one problem, so
    /// the answer said 1 more where 2,001 more were found.
    #[test]
    fn an_event_past_the_listed_problems_is_counted_in_full() {
        let demand: serde_json::Map<String, Value> =
            (0..12_000).map(|d| (format!("d{d}"), json!(-1))).collect();
        let e = parse_events(&json!([
            {"type": "need_added", "need": {"id": "n", "kind": "k", "demand": demand}},
            {"type": "teleported"}]))
        .unwrap_err();
        assert_eq!(e.issues.len(), MAX_ISSUES + 1);
        assert!(e.issues[..MAX_ISSUES].iter().all(|i| i.row == Some(0)));
        assert_eq!((e.unlisted, e.total()), (2_001, 12_001));
        let last = e.issues.last().unwrap();
        assert_eq!(
            (last.table.as_str(), last.row, last.message.as_str()),
            (
                "events",
                None,
                "2001 more problem(s) not listed (the first 10000 are)"
            )
        );
        assert!(e.to_string().contains(" 12001 problem(s); "), "{e}");
    }

    /// A retry is the same event whatever its key order, number spelling or id; any other
    /// field changes the digest. Logged ids read back in both forms.
    #[test]
    fn digests_see_the_event_not_its_spelling() {
        let a = one(json!({"type": "need_added", "event_id": "x", "at": 2,
            "need": {"id": "n", "kind": "water", "demand": {"l": 1, "k": 2.5}}}));
        let b = one(
            json!({"need": {"demand": {"k": 2.5, "l": 1.0}, "kind": "water", "id": "n"},
            "at": 2.0, "type": "need_added", "event_id": "y"}),
        );
        assert_eq!(a.digest, b.digest);
        for other in [
            json!({"type": "need_added", "at": 3,
                "need": {"id": "n", "kind": "water", "demand": {"l": 1, "k": 2.5}}}),
            json!({"type": "need_added", "at": 2,
                "need": {"id": "n", "kind": "water", "demand": {"l": 1, "k": 2.6}}}),
            json!({"type": "need_updated", "at": 2,
                "need": {"id": "n", "kind": "water", "demand": {"l": 1, "k": 2.5}}}),
        ] {
            assert_ne!(one(other).digest, a.digest);
        }
        let logged = a.logged_id().unwrap();
        let text = serde_json::to_string(&[&logged]).unwrap();
        assert_eq!(text, format!("[[\"x\",\"{:016x}\"]]", a.digest));
        let back: Vec<LoggedEventId> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, [logged]);
        let old: Vec<LoggedEventId> = serde_json::from_str(r#"["x"]"#).unwrap();
        assert_eq!(old[0].digest, None);
    }
}
