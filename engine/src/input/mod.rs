//! Reading and validating scenarios: from JSON values and from in-memory Arrow record batches.
//!
//! Both paths end in one validator working on `serde_json::Value` rows, so a rule is written
//! once. The validator never stops at the first problem: it collects every one it can find,
//! each naming its table, row and field, and it cannot panic on any input.
//!
//! JSON text becomes a value through [`parse_json`] (or is checked by [`check_unique_keys`]),
//! which refuses a key repeated inside an object, naming its path: serde_json alone keeps the
//! last one silently. Arrow cells of every integer, float and decimal width are numbers, utf8 of
//! any layout (dictionaries included) strings, lists of any layout sets; other types are one
//! issue per column naming the type.

mod arrow;
pub use arrow::{numeric_cell, MAX_SHARED_TEXT};
mod json;
mod validate;
/// The most links a scenario may have (explicit or rule-built).
pub(crate) use validate::{kind_of, name_too_long};
pub(crate) use validate::{
    need_window_issue, result_cells_issue, timed_columns, timed_size_issue, MAX_DIM_ENTRIES,
};
pub use validate::{MAX_DEPRIVATION_BREAKPOINTS, MAX_ISSUES, MAX_LINKS, MAX_NAME_BYTES};

use crate::model::{Policy, Scenario};
use arrow::rows_from_batches;
use arrow_array::RecordBatch;
pub use json::{
    check_unique_keys, json_path, parse_json, parse_json_within, DuplicateKey, JsonError,
    ListBounds, PathStep, TooLong,
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use validate::{FieldStyle, Validator};

/// One problem found in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputIssue {
    /// `scenario`, `resources`, `needs`, `links` or `policy`.
    pub table: String,
    /// Row index inside the table (0-based), when the problem belongs to one row.
    pub row: Option<usize>,
    /// The field (JSON name, or Arrow column name for table input).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for InputIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table)?;
        if let Some(r) = self.row {
            write!(f, "[{r}]")?;
        }
        if let Some(field) = &self.field {
            write!(f, ".{field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The input was rejected: the first [`MAX_ISSUES`] problems found are listed, the rest
/// counted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid scenario: {} problem(s); first: {}", self.total(), .issues.first().map(|i| i.to_string()).unwrap_or_default())]
pub struct InvalidInput {
    /// The problems listed. When `unlisted` is above 0 the last of them is the line that
    /// counts the rest, so whatever shows the list shows the count.
    pub issues: Vec<InputIssue>,
    /// Problems found past the first [`MAX_ISSUES`]: counted, not listed.
    pub unlisted: usize,
}

impl InvalidInput {
    /// A refusal listing `issues`, none of them counted apart.
    pub fn new(issues: Vec<InputIssue>) -> InvalidInput {
        InvalidInput {
            issues,
            unlisted: 0,
        }
    }

    /// One problem of a whole table (no row or field to name).
    pub fn of_table(table: &str, message: String) -> InvalidInput {
        InvalidInput::new(vec![InputIssue {
            table: table.into(),
            row: None,
            field: None,
            message,
        }])
    }

    /// Every problem found, listed or counted.
    pub fn total(&self) -> usize {
        match self.unlisted {
            0 => self.issues.len(),
            n => self.issues.len().saturating_sub(1) + n,
        }
    }
}

impl From<Vec<InputIssue>> for InvalidInput {
    fn from(issues: Vec<InputIssue>) -> Self {
        InvalidInput::new(issues)
    }
}

/// Problems gathered from many rows, events or scenarios: the first [`MAX_ISSUES`] listed and
/// the rest counted, however many parts each brings (a job of 1,000 scenarios of 10,000
/// problems each listed ten million, from a 16 MiB body).
#[derive(Debug, Default)]
pub struct Problems {
    issues: Vec<InputIssue>,
    unlisted: usize,
}

impl Problems {
    pub fn push(&mut self, issue: InputIssue) {
        if self.issues.len() >= MAX_ISSUES {
            self.unlisted += 1;
        } else {
            self.issues.push(issue);
        }
    }

    /// The problems of `e`, each as `place` names it; `e`'s own count of problems it did not
    /// list joins this one (its line that says so is not a problem to list).
    pub fn absorb(&mut self, e: InvalidInput, place: impl FnMut(InputIssue) -> InputIssue) {
        let InvalidInput {
            mut issues,
            unlisted,
        } = e;
        if unlisted > 0 {
            issues.pop();
        }
        issues.into_iter().map(place).for_each(|i| self.push(i));
        self.unlisted += unlisted;
    }

    /// `n` problems more, found but not listed (a table reader's bad cells past its bound).
    pub fn count(&mut self, n: usize) {
        self.unlisted += n;
    }

    pub fn is_empty(&self) -> bool {
        self.issues.is_empty() && self.unlisted == 0
    }

    /// The problems listed, and how many more were found.
    pub fn into_parts(self) -> (Vec<InputIssue>, usize) {
        (self.issues, self.unlisted)
    }

    /// Problems listed so far.
    pub fn listed(&self) -> &[InputIssue] {
        &self.issues
    }

    /// The refusal, if there is a problem; the line counting those not listed names `table`.
    pub fn refusal(mut self, table: &str) -> Option<InvalidInput> {
        if self.is_empty() {
            return None;
        }
        if self.unlisted > 0 {
            self.issues.push(InputIssue {
                table: table.into(),
                row: None,
                field: None,
                message: format!(
                    "{} more problem(s) not listed (the first {MAX_ISSUES} are)",
                    self.unlisted
                ),
            });
        }
        Some(InvalidInput {
            issues: self.issues,
            unlisted: self.unlisted,
        })
    }
}

/// Largest magnitude accepted for any number: beyond it solvers treat values as infinite and
/// sums lose every digit that matters, so such input is refused rather than silently garbled.
pub const MAX_MAGNITUDE: f64 = 1e12;

pub(crate) fn too_large(x: f64) -> String {
    // In exponent form: `{x}` spelt 1e300 as 301 digits.
    format!("{x:e} is too large: magnitudes above {MAX_MAGNITUDE:e} are not supported")
}

/// The community given to rows that name none.
pub const DEFAULT_COMMUNITY: &str = "default";

/// Parse and validate a scenario from JSON text. A key repeated inside an object is an issue
/// naming its path (e.g. `resources[0].capacity.u`), never last-wins.
pub fn scenario_from_json_str(text: &str) -> Result<Scenario, InvalidInput> {
    scenario_from_json_slice(text.as_bytes())
}

/// [`scenario_from_json_str`] for bytes (an HTTP body, a file read as bytes).
pub fn scenario_from_json_slice(bytes: &[u8]) -> Result<Scenario, InvalidInput> {
    let value = parse_json(bytes).map_err(|e| e.into_invalid_input("scenario"))?;
    scenario_from_value(&value)
}

/// Validate a scenario given as a JSON value (SPEC section 3).
pub fn scenario_from_value(value: &Value) -> Result<Scenario, InvalidInput> {
    Validator::new(FieldStyle::Json).scenario(value)
}

/// [`scenario_from_value`] of a scenario read back from a durable log or store (a session's
/// initial scenario, a logged entity): held to every rule but the bounds added since it was
/// first accepted (the length of ids and names), so that what an older binary accepted still
/// replays.
pub fn scenario_from_logged_value(value: &Value) -> Result<Scenario, InvalidInput> {
    Validator::for_logged(FieldStyle::Json).scenario(value)
}

/// Whether a validated scenario's links, listed or built by the rules, are at most
/// `max_links`: a service bounds them below [`MAX_LINKS`] to its memory (a solve's peak is
/// about 250 bytes a link). Rule-built links are counted as the validator counts them (a pass
/// of the link builder that keeps none, only when the kinds' counts could pass the bound).
pub fn links_within(s: &Scenario, max_links: usize) -> Result<(), InvalidInput> {
    let mut v = Validator::new(FieldStyle::Json);
    v.links_within(s, max_links);
    v.finish(())
}

/// Validate a policy on its own (the batch runner combines scenarios with policies).
pub fn policy_from_value(value: &Value) -> Result<Policy, InvalidInput> {
    let mut v = Validator::new(FieldStyle::Json);
    let policy = v.policy(value);
    v.finish(policy)
}

/// A validated scenario under another validated policy (a batch's policies): the checks that
/// depend on the policy run again (reusable dimensions, each need's window, the time model's
/// and the links' sizes), so that no policy takes a scenario past the bounds its own policy
/// was held to.
pub fn scenario_with_policy(scenario: &Scenario, policy: Policy) -> Result<Scenario, InvalidInput> {
    Validator::new(FieldStyle::Json).policy_fit(Scenario {
        policy,
        ..scenario.clone()
    })
}

/// Rows of a scenario's resources and needs tables together, at most (a links table has
/// `MAX_LINKS`). Each row is read into a JSON object for the validator (about 850 bytes for a
/// one-column row, BTreeMap nodes included), and a compressed or bit-packed file holds many
/// rows per byte: without a bound a 650-byte upload of one `Int8` column decoded to 4 million
/// rows took 3.4 GB. Five million entities stay under ~4.5 GB and hold every published
/// instance and generator scale.
pub const MAX_TABLE_ROWS: usize = 5_000_000;

/// Validate a scenario given as Arrow tables (SPEC section 3: `cap_<dim>`, `dem_<dim>`,
/// `use_<dim>` columns, `list<utf8>` sets) and an optional policy JSON value: the
/// [`ScenarioTables`] of these five, [`ScenarioTables::scenario`].
pub fn scenario_from_batches(
    resources: &[RecordBatch],
    needs: &[RecordBatch],
    links: Option<&[RecordBatch]>,
    policy: Option<&Value>,
    name: Option<&str>,
) -> Result<Scenario, InvalidInput> {
    ScenarioTables {
        resources,
        needs,
        links,
        policy,
        name,
    }
    .scenario()
}

/// A scenario as SPEC section 3's tables (`cap_<dim>`, `dem_<dim>`, `use_<dim>` columns,
/// `list<utf8>` sets), its policy as JSON and its name, as a reader holds them: the one
/// place tables are checked, whether the caller wants the scenario or its JSON form.
#[derive(Clone, Copy)]
pub struct ScenarioTables<'a> {
    pub resources: &'a [RecordBatch],
    pub needs: &'a [RecordBatch],
    pub links: Option<&'a [RecordBatch]>,
    pub policy: Option<&'a Value>,
    pub name: Option<&'a str>,
}

impl ScenarioTables<'_> {
    /// The validated scenario; every problem names its table, row and column.
    pub fn scenario(&self) -> Result<Scenario, InvalidInput> {
        self.checked(Problems::default()).map(|(s, _)| s)
    }

    /// [`Self::scenario`] with the problems a reader found before (cells it could not type,
    /// read as empty; columns it left out), listed with every other problem of the tables: a
    /// column refused whole adds no "missing" line per row.
    pub fn scenario_with(&self, found: Problems) -> Result<Scenario, InvalidInput> {
        self.checked(found).map(|(s, _)| s)
    }

    /// The scenario's JSON form (SPEC section 3), checked as [`Self::scenario`] checks it:
    /// what a batch spec carries, as text, where a scenario's tables cannot go
    /// (`commonsnet.simulate` and its Ray sweep, given a `Scenario` of tables).
    pub fn value(&self) -> Result<Value, InvalidInput> {
        self.checked(Problems::default()).map(|(_, v)| v)
    }

    /// The tables' scenario, validated, and its JSON form.
    fn checked(&self, mut found: Problems) -> Result<(Scenario, Value), InvalidInput> {
        tables_within_bounds(self.resources, self.needs, self.links)?;
        for (table, batches, required) in [
            ("resources", self.resources, &["id", "kind"]),
            ("needs", self.needs, &["id", "kind"]),
            (
                "links",
                self.links.unwrap_or_default(),
                &["resource", "need"],
            ),
        ] {
            missing_columns(table, batches, required)
                .into_iter()
                .for_each(|i| found.push(i));
        }
        let (root, issues) = batches_to_value(self, found);
        let mut v = Validator::new(FieldStyle::Columns);
        v.take(issues);
        let scenario = v.scenario(&root)?;
        Ok((scenario, root))
    }
}

/// The columns of `required` a table of rows lacks, each one issue of the column (the
/// validator then adds no "missing required field" a row: a table without its `kind` column
/// was 86 problems, one a row).
fn missing_columns(table: &str, batches: &[RecordBatch], required: &[&str]) -> Vec<InputIssue> {
    let Some(first) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    let schema = first.schema();
    required
        .iter()
        .filter(|c| schema.column_with_name(c).is_none())
        .map(|c| InputIssue {
            table: table.to_string(),
            row: None,
            field: Some(c.to_string()),
            message: format!("no {c} column: every row needs one"),
        })
        .collect()
}

/// The tables' rows at most [`MAX_TABLE_ROWS`] (resources and needs together) and
/// [`MAX_LINKS`] (links), before any row is read.
fn tables_within_bounds(
    resources: &[RecordBatch],
    needs: &[RecordBatch],
    links: Option<&[RecordBatch]>,
) -> Result<(), InvalidInput> {
    // Resources and needs together, then links on their own against the links' bound.
    let mut total = 0usize;
    for (table, batches) in [("resources", resources), ("needs", needs)] {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        total = total.saturating_add(rows);
        if total > MAX_TABLE_ROWS {
            return Err(InvalidInput::of_table(
                table,
                format!(
                    "{rows} rows bring the resources and needs to {total} rows, more than \
                     {MAX_TABLE_ROWS}"
                ),
            ));
        }
    }
    if let Some(links) = links {
        let rows: usize = links.iter().map(RecordBatch::num_rows).sum();
        if rows > MAX_LINKS {
            return Err(InvalidInput::of_table(
                "links",
                format!("{rows} rows, more than {MAX_LINKS} links"),
            ));
        }
    }
    Ok(())
}

/// The tables' rows as JSON objects under `resources`, `needs` and `links`, with the policy and
/// the name: the scenario's JSON form, not yet validated; the cells the reader refused are
/// added to `found`.
fn batches_to_value(tables: &ScenarioTables, found: Problems) -> (Value, Problems) {
    let ScenarioTables {
        resources,
        needs,
        links,
        policy,
        name,
    } = *tables;
    let mut issues = found;
    let mut root = Map::new();
    if let Some(name) = name {
        root.insert("name".into(), Value::String(name.into()));
    }
    root.insert(
        "resources".into(),
        Value::Array(rows_from_batches("resources", resources, &mut issues)),
    );
    root.insert(
        "needs".into(),
        Value::Array(rows_from_batches("needs", needs, &mut issues)),
    );
    if let Some(links) = links {
        root.insert(
            "links".into(),
            Value::Array(rows_from_batches("links", links, &mut issues)),
        );
    }
    if let Some(p) = policy {
        root.insert("policy".into(), p.clone());
    }
    (Value::Object(root), issues)
}

#[cfg(test)]
mod tests {
    /// Rows past `MAX_TABLE_ROWS` over the scenario's tables are refused naming the table that
    /// passes it, before any row becomes JSON (a one-column row takes ~850 bytes there).
    #[test]
    fn tables_past_the_row_bound_are_refused_before_they_are_read() {
        let ids = |n: usize| -> RecordBatch {
            let col: ArrayRef = Arc::new(Int8Array::from(vec![1i8; n]));
            batch(vec![("cap_x", col)])
        };
        let resources = [ids(MAX_TABLE_ROWS - 10)];
        let needs = [ids(11)];
        let e = scenario_from_batches(&resources, &needs, None, None, None).unwrap_err();
        assert_eq!(e.issues.len(), 1);
        assert_eq!(e.issues[0].table, "needs");
        assert!(
            e.issues[0].message.contains("more than 5000000"),
            "{}",
            e.issues[0].message
        );
        // Under the bound the tables are read (and validated: these rows have no ids).
        let needs = [ids(10)];
        let e = scenario_from_batches(&resources[..0], &needs, None, None, None).unwrap_err();
        assert!(e.issues.iter().all(|i| !i.message.contains("rows bring")));
    }

    use super::arrow::{cell_value, Column};
    use super::*;
    use arrow_array::builder::{FixedSizeListBuilder, StringBuilder};
    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, Decimal128Array, DictionaryArray, Float16Array, Int16Array, Int8Array, NullArray,
        StringArray, UInt16Array, UInt8Array,
    };
    use std::sync::Arc;

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true)))
            .unwrap()
    }

    #[test]
    fn narrow_arrow_types_are_read_as_numbers_strings_and_sets() {
        let mut skills = FixedSizeListBuilder::new(StringBuilder::new(), 2);
        skills.values().append_value("wheelchair");
        skills.values().append_value("pets");
        skills.append(true);
        let kind: DictionaryArray<Int8Type> = vec!["shelter"].into_iter().collect();
        let resources = batch(vec![
            ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
            ("kind", Arc::new(kind)),
            ("cap_beds", Arc::new(Int8Array::from(vec![40]))),
            ("cap_meals", Arc::new(UInt16Array::from(vec![120]))),
            (
                "cost",
                Arc::new(Float16Array::from(vec![half_of(1.5)])) as ArrayRef,
            ),
            (
                "lat",
                Arc::new(
                    Decimal128Array::from(vec![59_330])
                        .with_precision_and_scale(7, 3)
                        .unwrap(),
                ),
            ),
            (
                "lon",
                Arc::new(
                    Decimal128Array::from(vec![1806])
                        .with_precision_and_scale(5, 2)
                        .unwrap(),
                ),
            ),
            ("skills", Arc::new(skills.finish())),
            ("available_from", Arc::new(NullArray::new(1))),
        ]);
        let needs = batch(vec![
            ("id", Arc::new(StringArray::from(vec!["n1"])) as ArrayRef),
            ("kind", Arc::new(StringArray::from(vec!["shelter"]))),
            ("dem_beds", Arc::new(UInt8Array::from(vec![4]))),
            ("priority", Arc::new(Int16Array::from(vec![3]))),
        ]);
        let s = scenario_from_batches(&[resources], &[needs], None, None, None).unwrap();
        let r = &s.resources[0];
        assert_eq!(r.kind, "shelter");
        assert_eq!(r.capacity["beds"], 40.0);
        assert_eq!(r.capacity["meals"], 120.0);
        assert_eq!(r.cost, 1.5);
        assert_eq!(r.lat, Some(59.33));
        assert_eq!(r.lon, Some(18.06));
        assert_eq!(r.available_from, None);
        assert_eq!(
            r.skills.iter().map(String::as_str).collect::<Vec<_>>(),
            ["pets", "wheelchair"]
        );
        assert_eq!(s.needs[0].demand["beds"], 4.0);
        assert_eq!(s.needs[0].priority, 3.0);
    }

    fn half_of(
        x: f32,
    ) -> <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native {
        <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native::from_f32(x)
    }

    #[test]
    fn decimals_convert_exactly_with_any_scale() {
        let d = |v: i128, p: u8, s: i8| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(vec![v])
                    .with_precision_and_scale(p, s)
                    .unwrap(),
            )
        };
        for (col, want) in [
            (d(12_345, 5, 2), 123.45),
            (d(-5, 3, 1), -0.5),
            (d(7, 3, -2), 700.0),
            (d(1, 38, 20), 1e-20),
        ] {
            let v = cell_value(col.as_ref(), 0).ok().flatten().unwrap();
            assert_eq!(v.as_f64(), Some(want), "{}", col.data_type());
        }
    }

    #[test]
    fn an_unsupported_column_type_is_one_issue_naming_column_and_type() {
        let resources = batch(vec![
            (
                "id",
                Arc::new(StringArray::from(vec!["r1", "r2"])) as ArrayRef,
            ),
            ("kind", Arc::new(StringArray::from(vec!["k", "k"]))),
            (
                "cap_x",
                Arc::new(arrow_array::Date32Array::from(vec![1, 2])),
            ),
        ]);
        let needs = batch(vec![
            ("id", Arc::new(StringArray::from(vec!["n1"])) as ArrayRef),
            ("kind", Arc::new(StringArray::from(vec!["k"]))),
            ("dem_x", Arc::new(Int8Array::from(vec![1]))),
        ]);
        let e = scenario_from_batches(&[resources], &[needs], None, None, None).unwrap_err();
        let on_cap: Vec<_> = e
            .issues
            .iter()
            .filter(|i| i.field.as_deref() == Some("cap_x"))
            .collect();
        assert_eq!(on_cap.len(), 1, "{:#?}", e.issues);
        assert_eq!(on_cap[0].table, "resources");
        assert!(on_cap[0].message.contains("Date32"), "{:#?}", on_cap[0]);
    }

    #[test]
    fn an_empty_dictionary_does_not_panic() {
        // A null-only dictionary column may have no values at all.
        let keys = Int8Array::from(vec![None, None]);
        let values: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
        let dict = DictionaryArray::<Int8Type>::try_new(keys, values).unwrap();
        let col = Column::new(&dict).unwrap();
        assert!(matches!(col.cell(0), Ok(None)));
        assert!(matches!(col.cell(1), Ok(None)));
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let text = r#"{"resources": [{"id": "r1", "kind": "k", "capacity": {"u": 10, "u": 0}}],
                       "needs": []}"#;
        let e = scenario_from_json_str(text).unwrap_err();
        assert_eq!(e.issues.len(), 1, "{:#?}", e.issues);
        let i = &e.issues[0];
        assert_eq!(
            (i.table.as_str(), i.row, i.field.as_deref()),
            ("resources", Some(0), Some("capacity.u"))
        );
        assert!(i
            .to_string()
            .starts_with("resources[0].capacity.u: duplicate key"));

        let cases = [
            (r#"{"name": "a", "name": "b"}"#, "name"),
            (r#"{"a": [1, {"b": 1}, {"b": 2, "b": 3}]}"#, "a[2].b"),
            (r#"{"x y": {"": 1, "": 2}}"#, r#"["x y"][""]"#),
            (r#"[{"a": {"b": {"c": 1}}, "a": 2}]"#, "[0].a"),
        ];
        for (text, path) in cases {
            match parse_json(text.as_bytes()) {
                Err(JsonError::DuplicateKey(d)) => assert_eq!(d.path_string(), path, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
            assert!(check_unique_keys(text.as_bytes()).is_err(), "{text}");
        }
        let d = match parse_json(br#"{"policy": {"objective": "cost", "objective": "coverage"}}"#) {
            Err(JsonError::DuplicateKey(d)) => d,
            other => panic!("{other:?}"),
        };
        let i = d.issue("scenario");
        assert_eq!(
            (i.table.as_str(), i.field.as_deref()),
            ("policy", Some("objective"))
        );
        let d = match parse_json(br#"[{"type": "need"}, {"type": "need", "type": "x"}]"#) {
            Err(JsonError::DuplicateKey(d)) => d,
            other => panic!("{other:?}"),
        };
        let i = d.issue("events");
        assert_eq!(
            (i.table.as_str(), i.row, i.field.as_deref()),
            ("events", Some(1), Some("type"))
        );
        assert_eq!((d.line, d.column > 0), (1, true));
    }

    #[test]
    fn the_strict_parser_agrees_with_serde_json_on_valid_documents() {
        let docs = [
            r#"{"a": 1, "b": [1, -2, 3.5, 1e300, -0.0, 18446744073709551615, -9223372036854775808],
               "c": {"d": null, "e": true, "f": "x\u00e9\"\n"}, "g": [], "h": {}}"#,
            "[]",
            "\"s\"",
            "12",
            r#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#,
        ];
        for d in docs {
            let want: Value = serde_json::from_str(d).unwrap();
            let got = parse_json(d.as_bytes()).unwrap();
            assert_eq!(got, want, "{d}");
            assert_eq!(got.to_string(), want.to_string(), "key order kept: {d}");
            check_unique_keys(d.as_bytes()).unwrap();
        }
        // (A leading byte order mark is passed over: `json::tests`.)
        for bad in ["", "{", "{\"a\": 1} x", "[1,]", "{\"a\" 1}", "{}\u{feff}"] {
            assert!(
                matches!(parse_json(bad.as_bytes()), Err(JsonError::Syntax(_))),
                "{bad:?}"
            );
        }
        // Deep nesting is refused by serde_json's depth limit, not by the stack.
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse_json(deep.as_bytes()),
            Err(JsonError::Syntax(_))
        ));
        let deep = "{\"a\":".repeat(100_000);
        assert!(check_unique_keys(deep.as_bytes()).is_err());
    }
}
