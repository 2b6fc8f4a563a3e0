//! JSON text to values, refusing a key repeated inside an object (named by its path).

use super::{InputIssue, InvalidInput};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use std::fmt;

/// One step of a JSON path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// `resources[0].capacity.u`: keys joined by dots, indices in brackets; a key that is not a
/// plain name (letters, digits, `_`, `-`) is written `["..."]`.
pub fn json_path(steps: &[PathStep]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
            PathStep::Key(k)
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
            {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathStep::Key(k) => {
                out.push('[');
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(']');
            }
        }
    }
    out
}

/// A key given twice in one JSON object. serde_json keeps the last one silently; a scenario,
/// an event or a policy with one is refused instead, naming the key's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duplicate key {} (line {line}, column {column})", json_path(.path))]
pub struct DuplicateKey {
    /// From the document's root to the repeated key (its last step).
    pub path: Vec<PathStep>,
    /// 1-based position in the text, just after the repeated key.
    pub line: usize,
    pub column: usize,
}

impl DuplicateKey {
    /// The path as text, e.g. `resources[0].capacity.u`.
    pub fn path_string(&self) -> String {
        json_path(&self.path)
    }

    /// The problem as a validation issue, the document's root being table `root` (placed as
    /// [`placed`] says).
    pub fn issue(&self, root: &str) -> InputIssue {
        let message = format!(
            "duplicate key (line {}, column {}): a key may appear only once in an object",
            self.line, self.column
        );
        placed(root, &self.path, message)
    }
}

/// Lists in a JSON text longer than its parse allows ([`ListBounds`]): refused as they are
/// read, before the rest is held (a 30 MB body of ten million events took 2.7 GB before the
/// bound on a batch's events was checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", json_path(.path), self.what())]
pub struct TooLong {
    /// From the document's root to the list whose item passed the bound.
    pub path: Vec<PathStep>,
    pub max: usize,
    /// The bound passed is that of all lists together, not of this one.
    pub in_all: bool,
    /// 1-based position in the text, just after the first item past the bound.
    pub line: usize,
    pub column: usize,
}

impl TooLong {
    /// The path as text, e.g. `needs[3].skills`.
    pub fn path_string(&self) -> String {
        json_path(&self.path)
    }

    /// The problem as a validation issue (placed as [`DuplicateKey::issue`] places its key).
    pub fn issue(&self, root: &str) -> InputIssue {
        placed(root, &self.path, self.what())
    }

    fn what(&self) -> String {
        let (line, column) = (self.line, self.column);
        match (self.in_all, &self.path[..]) {
            (true, _) => format!(
                "more than {} list items in all (line {line}, column {column})",
                self.max
            ),
            // An events body's own list: the advice `parse_events` gives past its bound.
            (false, [PathStep::Key(k)]) if k == "events" => format!(
                "more than {} events in one batch (line {line}, column {column}): split the batch",
                self.max
            ),
            (false, _) => format!(
                "more than {} items in one list (line {line}, column {column})",
                self.max
            ),
        }
    }
}

/// How many items the lists of a JSON text may hold, counted while it is parsed: a text of a
/// small item repeated is refused before it is held, at no more memory than the largest text
/// that passes (a held item costs about 100 bytes, ~50 times its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListBounds {
    /// Items of one list, but a `links` list.
    pub list: usize,
    /// Items of one list under a `links` key (a scenario's listed links), not counted in
    /// `total`.
    pub links: usize,
    /// Items of every list but `links` lists, together.
    pub total: usize,
}

impl ListBounds {
    /// A scenario's, and any text's but a batch of events: a list of rows as tables hold
    /// them ([`super::MAX_TABLE_ROWS`]), a `links` list as many as a scenario may list
    /// ([`super::MAX_LINKS`]), and all lists four times the rows (the rows and three set
    /// items a row: a scenario of five million rows so written passes; five lists of five
    /// million `1`s took 3.5 GB under a bound of each list alone).
    pub const SCENARIO: ListBounds = ListBounds {
        list: super::MAX_TABLE_ROWS,
        links: super::MAX_LINKS,
        total: 4 * super::MAX_TABLE_ROWS,
    };

    /// A batch of events': as many as a batch holds (`MAX_EVENTS`), and ten items an event
    /// in all (skills and the like).
    pub const EVENTS: ListBounds = ListBounds {
        list: crate::events::MAX_EVENTS,
        links: crate::events::MAX_EVENTS,
        total: 10 * crate::events::MAX_EVENTS,
    };
}

/// An issue at JSON path `p` of a document that is table `root`: in a scenario (`root =
/// "scenario"`) `resources[0].capacity.u` is row 0 of `resources`, field `capacity.u`, and
/// `policy.objective` is field `objective` of `policy`; in a list of events (`root =
/// "events"`) `[2].need.id` is row 2 of `events`, field `need.id`, and so it is in a request
/// body (`root = "body"`) at `events[2].need.id`; anywhere else the field is the whole path.
fn placed(root: &str, p: &[PathStep], message: String) -> InputIssue {
    let (table, row, rest): (String, Option<usize>, &[PathStep]) = match (root, p) {
        ("scenario", [PathStep::Key(t), PathStep::Index(i), rest @ ..])
            if !rest.is_empty() && ["resources", "needs", "links"].contains(&t.as_str()) =>
        {
            (t.clone(), Some(*i), rest)
        }
        ("scenario", [PathStep::Key(t), rest @ ..]) if t == "policy" && !rest.is_empty() => {
            ("policy".into(), None, rest)
        }
        ("events", [PathStep::Index(i), rest @ ..]) if !rest.is_empty() => {
            ("events".into(), Some(*i), rest)
        }
        // An events request read whole: its events are the rows of `events` all the same.
        ("body", [PathStep::Key(k), PathStep::Index(i), rest @ ..])
            if k == "events" && !rest.is_empty() =>
        {
            ("events".into(), Some(*i), rest)
        }
        _ => (root.to_string(), None, p),
    };
    InputIssue {
        table,
        row,
        field: Some(json_path(rest)),
        message,
    }
}

/// Why a JSON text was refused by [`parse_json`].
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all (HTTP: 400).
    #[error("not valid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// Well-formed, but a key is repeated inside one object (HTTP: 422).
    #[error(transparent)]
    DuplicateKey(DuplicateKey),
    /// A list longer than the parse allows (HTTP: 422).
    #[error(transparent)]
    TooLong(TooLong),
}

impl JsonError {
    /// The refusal as invalid input whose root is table `root` (see [`DuplicateKey::issue`]).
    pub fn into_invalid_input(self, root: &str) -> InvalidInput {
        let issue = match self {
            JsonError::DuplicateKey(d) => d.issue(root),
            JsonError::TooLong(t) => t.issue(root),
            JsonError::Syntax(e) => InputIssue {
                table: root.to_string(),
                row: None,
                field: None,
                message: format!("not valid JSON: {e}"),
            },
        };
        InvalidInput::new(vec![issue])
    }
}

/// Parse JSON text into a value, refusing any object that repeats a key (serde_json would keep
/// the last one silently), its lists held to [`ListBounds::SCENARIO`] as they are read. Every
/// text that becomes a scenario, a policy or events goes through this or
/// [`parse_json_within`].
pub fn parse_json(bytes: &[u8]) -> Result<Value, JsonError> {
    strict_parse(bytes, true, ListBounds::SCENARIO)
}

/// [`parse_json`] with the lists held to `bounds` (a batch of events to its own).
pub fn parse_json_within(bytes: &[u8], bounds: ListBounds) -> Result<Value, JsonError> {
    strict_parse(bytes, true, bounds)
}

/// Check a JSON text (already parsed some other way, e.g. into a typed request) for repeated
/// keys, without building a value (so without bounds on its lists).
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), JsonError> {
    let unbounded = ListBounds {
        list: usize::MAX,
        links: usize::MAX,
        total: usize::MAX,
    };
    strict_parse(bytes, false, unbounded).map(|_| ())
}

fn strict_parse(bytes: &[u8], build: bool, bounds: ListBounds) -> Result<Value, JsonError> {
    use serde::de::DeserializeSeed;
    // A UTF-8 byte order mark is passed over, as RFC 8259 lets a parser do (editors on
    // Windows write one; a CSV with one was read while such JSON was a syntax error).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut state = StrictState {
        path: Vec::new(),
        duplicate: None,
        too_long: None,
        build,
        bounds,
        items: 0,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = StrictSeed(&mut state)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => match (state.duplicate.take(), state.too_long.take()) {
            (Some(path), _) => Err(JsonError::DuplicateKey(DuplicateKey {
                path,
                line: e.line(),
                column: e.column(),
            })),
            (None, Some((path, max, in_all))) => Err(JsonError::TooLong(TooLong {
                path,
                max,
                in_all,
                line: e.line(),
                column: e.column(),
            })),
            // Where the text stopped being JSON, as a path too (a number past a double's
            // range is named by its field, as in a table); a path past 200 bytes (a long
            // key) is cut, so that the answer stays small.
            (None, None) if !state.path.is_empty() => {
                let mut at = json_path(&state.path);
                if at.len() > 200 {
                    let cut = (0..=200)
                        .rev()
                        .find(|&i| at.is_char_boundary(i))
                        .unwrap_or(0);
                    at.truncate(cut);
                    at.push_str("...");
                }
                Err(JsonError::Syntax(serde::de::Error::custom(format!(
                    "{e}, in {at}"
                ))))
            }
            (None, None) => Err(JsonError::Syntax(e)),
        },
    }
}

/// The walk's state: where it is, and the first repeated key's path.
struct StrictState {
    path: Vec<PathStep>,
    duplicate: Option<Vec<PathStep>>,
    /// The path of the list whose item passed a bound, the bound, and whether it is that of
    /// all lists.
    too_long: Option<(Vec<PathStep>, usize, bool)>,
    /// Build the value (else only check keys and answer `Null`).
    build: bool,
    bounds: ListBounds,
    /// Items read so far of the lists `bounds.total` counts.
    items: usize,
}

/// Deserializes one JSON value, keeping track of its path (serde_json bounds the depth).
struct StrictSeed<'s>(&'s mut StrictState);

impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(if self.0.build {
            Value::String(v.to_string())
        } else {
            Value::Null
        })
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(if self.0.build {
            Value::String(v)
        } else {
            Value::Null
        })
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let state = self.0;
        let mut items = Vec::new();
        let mut i = 0;
        let links = matches!(state.path.last(), Some(PathStep::Key(k)) if k == "links");
        let max = if links {
            state.bounds.links
        } else {
            state.bounds.list
        };
        loop {
            state.path.push(PathStep::Index(i));
            let next = seq.next_element_seed(StrictSeed(&mut *state))?;
            state.path.pop();
            if next.is_some() && !links {
                state.items += 1;
            }
            match next {
                Some(_) if i >= max => {
                    state.too_long = Some((state.path.clone(), max, false));
                    return Err(serde::de::Error::custom("too many items"));
                }
                Some(_) if state.items > state.bounds.total => {
                    state.too_long = Some((state.path.clone(), state.bounds.total, true));
                    return Err(serde::de::Error::custom("too many items"));
                }
                Some(v) => {
                    if state.build {
                        items.push(v);
                    }
                }
                None => break,
            }
            i += 1;
        }
        Ok(if state.build {
            Value::Array(items)
        } else {
            Value::Null
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let state = self.0;
        let mut obj = Map::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if state.build {
                obj.contains_key(&key)
            } else {
                !seen.insert(key.clone())
            };
            state.path.push(PathStep::Key(key));
            if repeated {
                state.duplicate = Some(state.path.clone());
                return Err(serde::de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(StrictSeed(&mut *state))?;
            let Some(PathStep::Key(key)) = state.path.pop() else {
                return Err(serde::de::Error::custom("lost track of the JSON path"));
            };
            if state.build {
                obj.insert(key, v);
            }
        }
        Ok(if state.build {
            Value::Object(obj)
        } else {
            Value::Null
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list past its bound, or the lists together past theirs, is refused naming the list
    /// and where in the text.
    #[test]
    fn a_list_past_the_bound_is_refused_where_it_is() {
        let bounds = |list, total| ListBounds {
            list,
            links: 4,
            total,
        };
        assert_eq!(
            parse_json_within(br#"{"a": [1, [2, 3]]}"#, bounds(2, 9)).unwrap(),
            serde_json::json!({"a": [1, [2, 3]]})
        );
        let Err(JsonError::TooLong(t)) =
            parse_json_within(br#"{"a": [1, [2, 3, 4]]}"#, bounds(2, 9))
        else {
            panic!("refused")
        };
        assert_eq!(
            (t.path_string(), t.max, t.in_all),
            ("a[1]".to_string(), 2, false)
        );
        let issue = JsonError::TooLong(t).into_invalid_input("scenario").issues;
        assert_eq!(issue[0].field.as_deref(), Some("a[1]"));
        assert!(issue[0]
            .message
            .starts_with("more than 2 items in one list (line 1"));
        let Err(JsonError::TooLong(t)) =
            parse_json_within(br#"{"needs": [{"skills": ["a", "b", "c"]}]}"#, bounds(2, 9))
        else {
            panic!("refused")
        };
        let issue = t.issue("scenario");
        assert_eq!(
            (issue.table.as_str(), issue.row, issue.field.as_deref()),
            ("needs", Some(0), Some("skills"))
        );
        // Lists each within theirs, past the bound of all together (the items of the outer
        // list count too).
        let Err(JsonError::TooLong(t)) =
            parse_json_within(br#"[[1, 2], [3, 4], [5, 6]]"#, bounds(3, 7))
        else {
            panic!("refused")
        };
        assert_eq!(
            (t.path_string(), t.max, t.in_all),
            ("[2]".to_string(), 7, true)
        );
        assert!(
            t.to_string()
                .starts_with("[2]: more than 7 list items in all"),
            "{t}"
        );
        // A `links` list has its own bound, outside the total.
        let links = br#"{"links": [1, 2, 3, 4], "needs": [1, 2]}"#;
        assert!(parse_json_within(links, bounds(2, 2)).is_ok());
        let Err(JsonError::TooLong(t)) =
            parse_json_within(br#"{"links": [1, 2, 3, 4, 5]}"#, bounds(2, 2))
        else {
            panic!("refused")
        };
        assert_eq!((t.max, t.in_all), (4, false));
        // An events body's list gives the batch's advice.
        let Err(JsonError::TooLong(t)) =
            parse_json_within(br#"{"events": [1, 2, 3]}"#, bounds(2, 9))
        else {
            panic!("refused")
        };
        assert_eq!(
            t.issue("body").message,
            "more than 2 events in one batch (line 1, column 20): split the batch"
        );
        // A list inside an event of a request body: the event is a row of `events`, as the
        // event parser names it.
        let Err(JsonError::TooLong(t)) = parse_json_within(
            br#"{"events": [{"need": {"required_skills": ["a", "b", "c"]}}]}"#,
            bounds(2, 9),
        ) else {
            panic!("refused")
        };
        let issue = t.issue("body");
        assert_eq!(
            (issue.table.as_str(), issue.row, issue.field.as_deref()),
            ("events", Some(0), Some("need.required_skills"))
        );
    }

    /// A text that stops being JSON inside a value names its path beside the position (a
    /// long key cut).
    #[test]
    fn a_syntax_error_names_its_path() {
        let Err(JsonError::Syntax(e)) =
            parse_json(br#"{"needs": [{"id": "a"}, {"priority": 1e400}]}"#)
        else {
            panic!("refused")
        };
        assert_eq!(
            e.to_string(),
            "number out of range at line 1 column 42, in needs[1].priority"
        );
        let Err(JsonError::Syntax(e)) = parse_json(b"[1, 2") else {
            panic!("refused")
        };
        assert!(e.to_string().ends_with("in [2]"), "{e}");
        let Err(JsonError::Syntax(e)) = parse_json(b"") else {
            panic!("refused")
        };
        assert_eq!(
            e.to_string(),
            "EOF while parsing a value at line 1 column 0"
        );
        let long = format!("{{\"{}\": 1e400}}", "k".repeat(5000));
        let Err(JsonError::Syntax(e)) = parse_json(long.as_bytes()) else {
            panic!("refused")
        };
        assert!(e.to_string().len() < 300, "{e}");
        assert!(e.to_string().ends_with("..."), "{e}");
    }

    /// A UTF-8 byte order mark before the document is passed over; anywhere else it is text
    /// JSON does not allow.
    #[test]
    fn a_leading_byte_order_mark_is_passed_over() {
        let v = parse_json(b"\xEF\xBB\xBF{\"a\": 1}").unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
        check_unique_keys(b"\xEF\xBB\xBF{\"a\": 1}").unwrap();
        assert!(matches!(
            parse_json(b"{\"a\": 1}\xEF\xBB\xBF"),
            Err(JsonError::Syntax(_))
        ));
    }
}
