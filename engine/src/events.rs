//! Session events as SPEC section 4 spells them in JSON, and their parsing: every problem is
//! reported with the event's index and field. The session state machine takes parsed events.

use crate::input::{scenario_from_value, InputIssue};
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
}

fn issue(i: usize, field: Option<&str>, message: impl Into<String>) -> InputIssue {
    InputIssue {
        table: format!("events[{i}]"),
        row: None,
        field: field.map(str::to_string),
        message: message.into(),
    }
}

/// Parse the `events` list of a request: every problem is reported with the event's index.
pub fn parse_events(list: &Value) -> Result<Vec<Event>, Vec<InputIssue>> {
    let Some(items) = list.as_array() else {
        return Err(vec![InputIssue {
            table: "events".into(),
            row: None,
            field: None,
            message: "expected a list of events".into(),
        }]);
    };
    let mut issues = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_event(i, item) {
            Ok(e) => events.push(e),
            Err(mut e) => issues.append(&mut e),
        }
    }
    if issues.is_empty() {
        Ok(events)
    } else {
        Err(issues)
    }
}

fn parse_event(i: usize, v: &Value) -> Result<Event, Vec<InputIssue>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![issue(i, None, "expected an object")]);
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let (allowed, entity): (&[&str], Option<&str>) = match ty {
        "need_added" | "need_updated" => (&["need"], Some("need")),
        "resource_added" | "resource_updated" => (&["resource"], Some("resource")),
        "need_withdrawn" | "resource_withdrawn" | "resource_returned" => (&["id"], None),
        "dispatched" | "dispatch_released" => (&["need", "resource"], None),
        "" => return Err(vec![issue(i, Some("type"), "missing event type")]),
        other => {
            return Err(vec![issue(
                i,
                Some("type"),
                format!("unknown event type {other:?}"),
            )])
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
                "expected a string of 1-200 characters",
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
        return Err(issues);
    }
    let id_of = |k: &str| -> Result<String, Vec<InputIssue>> {
        match obj.get(k) {
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
                .map_err(|e| {
                    e.issues
                        .into_iter()
                        .map(|x| InputIssue {
                            table: format!("events[{i}].{table}"),
                            row: None,
                            ..x
                        })
                        .collect::<Vec<_>>()
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
    Ok(Event { kind, event_id, at })
}
