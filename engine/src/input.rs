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

use crate::model::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde::Serialize;
use serde_json::{Map, Number, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

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

/// The input was rejected; `issues` lists every problem found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid scenario: {} problem(s); first: {}", .issues.len(), .issues.first().map(|i| i.to_string()).unwrap_or_default())]
pub struct InvalidInput {
    pub issues: Vec<InputIssue>,
}

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

    /// The problem as a validation issue, the document's root being table `root`: in a
    /// scenario (`root = "scenario"`) `resources[0].capacity.u` is row 0 of `resources`, field
    /// `capacity.u`, and `policy.objective` is field `objective` of `policy`; in a list of
    /// events (`root = "events"`) `[2].need.id` is row 2 of `events`, field `need.id`;
    /// anywhere else the field is the whole path.
    pub fn issue(&self, root: &str) -> InputIssue {
        let message = format!(
            "duplicate key (line {}, column {}): a key may appear only once in an object",
            self.line, self.column
        );
        let p = &self.path[..];
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
            _ => (root.to_string(), None, p),
        };
        InputIssue {
            table,
            row,
            field: Some(json_path(rest)),
            message,
        }
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
}

impl JsonError {
    /// The refusal as invalid input whose root is table `root` (see [`DuplicateKey::issue`]).
    pub fn into_invalid_input(self, root: &str) -> InvalidInput {
        let issue = match self {
            JsonError::DuplicateKey(d) => d.issue(root),
            JsonError::Syntax(e) => InputIssue {
                table: root.to_string(),
                row: None,
                field: None,
                message: format!("not valid JSON: {e}"),
            },
        };
        InvalidInput {
            issues: vec![issue],
        }
    }
}

/// Parse JSON text into a value, refusing any object that repeats a key (serde_json would keep
/// the last one silently). Every text that becomes a scenario, a policy or events goes through
/// this (or [`check_unique_keys`]).
pub fn parse_json(bytes: &[u8]) -> Result<Value, JsonError> {
    strict_parse(bytes, true)
}

/// Check a JSON text (already parsed some other way, e.g. into a typed request) for repeated
/// keys, without building a value.
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), JsonError> {
    strict_parse(bytes, false).map(|_| ())
}

fn strict_parse(bytes: &[u8], build: bool) -> Result<Value, JsonError> {
    use serde::de::DeserializeSeed;
    let mut state = StrictState {
        path: Vec::new(),
        duplicate: None,
        build,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = StrictSeed(&mut state)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => match state.duplicate.take() {
            Some(path) => Err(JsonError::DuplicateKey(DuplicateKey {
                path,
                line: e.line(),
                column: e.column(),
            })),
            None => Err(JsonError::Syntax(e)),
        },
    }
}

/// The walk's state: where it is, and the first repeated key's path.
struct StrictState {
    path: Vec<PathStep>,
    duplicate: Option<Vec<PathStep>>,
    /// Build the value (else only check keys and answer `Null`).
    build: bool,
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
        loop {
            state.path.push(PathStep::Index(i));
            let next = seq.next_element_seed(StrictSeed(&mut *state))?;
            state.path.pop();
            match next {
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

/// How field names are spelled in messages: JSON paths, or the columns of SPEC's table layout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldStyle {
    Json,
    Columns,
}

const RESOURCE_FIELDS: &[&str] = &[
    "id",
    "community",
    "kind",
    "lat",
    "lon",
    "capacity",
    "skills",
    "cost",
    "available_from",
    "available_until",
];
const NEED_FIELDS: &[&str] = &[
    "id",
    "community",
    "kind",
    "lat",
    "lon",
    "demand",
    "priority",
    "required_skills",
    "min_fill",
    "indivisible",
    "earliest",
    "deadline",
];
const LINK_FIELDS: &[&str] = &["resource", "need", "cost", "time", "use"];
const POLICY_FIELDS: &[&str] = &[
    "objective",
    "cost_weight",
    "fairness",
    "group_by",
    "max_distance_km",
    "speed_kmh",
    "cost_per_km",
    "cross_community",
    "solver",
    "time_limit_s",
    "mip_gap",
    "threads",
];
const SCENARIO_FIELDS: &[&str] = &["name", "resources", "needs", "links", "policy"];

/// Largest magnitude accepted for any number: beyond it solvers treat values as infinite and
/// sums lose every digit that matters, so such input is refused rather than silently garbled.
pub const MAX_MAGNITUDE: f64 = 1e12;

fn too_large(x: f64) -> String {
    format!("{x} is too large: magnitudes above {MAX_MAGNITUDE:e} are not supported")
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

/// Validate a policy on its own (the batch runner combines scenarios with policies).
pub fn policy_from_value(value: &Value) -> Result<Policy, InvalidInput> {
    let mut v = Validator::new(FieldStyle::Json);
    let policy = v.policy(value);
    v.finish(policy)
}

/// Validate a scenario given as Arrow tables (SPEC section 3: `cap_<dim>`, `dem_<dim>`,
/// `use_<dim>` columns, `list<utf8>` sets) and an optional policy JSON value.
pub fn scenario_from_batches(
    resources: &[RecordBatch],
    needs: &[RecordBatch],
    links: Option<&[RecordBatch]>,
    policy: Option<&Value>,
    name: Option<&str>,
) -> Result<Scenario, InvalidInput> {
    let mut issues = Vec::new();
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
    let mut v = Validator::new(FieldStyle::Columns);
    v.issues = issues;
    v.scenario(&Value::Object(root))
}

/// How a column of a scenario table maps onto a JSON field.
enum ColumnTarget {
    Plain(&'static str),
    Quantity(&'static str, String),
}

fn column_target(table: &str, column: &str) -> Option<ColumnTarget> {
    let (fields, prefix, map_key): (&[&str], &str, &str) = match table {
        "resources" => (RESOURCE_FIELDS, "cap_", "capacity"),
        "needs" => (NEED_FIELDS, "dem_", "demand"),
        _ => (LINK_FIELDS, "use_", "use"),
    };
    if let Some(dim) = column.strip_prefix(prefix) {
        if !dim.is_empty() {
            return Some(ColumnTarget::Quantity(map_key, dim.to_string()));
        }
    }
    fields
        .iter()
        .find(|f| **f == column && **f != map_key)
        .map(|f| ColumnTarget::Plain(f))
}

fn rows_from_batches(
    table: &'static str,
    batches: &[RecordBatch],
    issues: &mut Vec<InputIssue>,
) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut reported_columns = HashSet::new();
    for batch in batches {
        let base = rows.len();
        rows.extend((0..batch.num_rows()).map(|_| Value::Object(Map::new())));
        let schema = batch.schema();
        for (ci, field) in schema.fields().iter().enumerate() {
            let name = field.name().as_str();
            let Some(target) = column_target(table, name) else {
                if reported_columns.insert(name.to_string()) {
                    issues.push(InputIssue {
                        table: table.into(),
                        row: None,
                        field: Some(name.into()),
                        message: "unknown column".into(),
                    });
                }
                continue;
            };
            let column = match Column::new(batch.column(ci).as_ref()) {
                Ok(c) => c,
                Err(message) => {
                    if reported_columns.insert(name.to_string()) {
                        issues.push(InputIssue {
                            table: table.into(),
                            row: None,
                            field: Some(name.into()),
                            message,
                        });
                    }
                    continue;
                }
            };
            for i in 0..batch.num_rows() {
                let row = base + i;
                let cell = match column.cell(i) {
                    Ok(Some(v)) => v,
                    Ok(None) => continue,
                    Err(CellError::Unsupported(msg)) => {
                        // A type the validator cannot read: said once per column.
                        if reported_columns.insert(name.to_string()) {
                            issues.push(InputIssue {
                                table: table.into(),
                                row: None,
                                field: Some(name.into()),
                                message: msg,
                            });
                        }
                        break;
                    }
                    Err(CellError::Value(msg)) => {
                        issues.push(InputIssue {
                            table: table.into(),
                            row: Some(row),
                            field: Some(name.into()),
                            message: msg,
                        });
                        continue;
                    }
                };
                let Value::Object(obj) = &mut rows[row] else {
                    continue;
                };
                match &target {
                    ColumnTarget::Plain(f) => {
                        obj.insert((*f).to_string(), cell);
                    }
                    ColumnTarget::Quantity(key, dim) => {
                        let entry = obj
                            .entry(key.to_string())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(m) = entry {
                            m.insert(dim.clone(), cell);
                        }
                    }
                }
            }
        }
    }
    rows
}

/// Why a cell could not be read.
enum CellError {
    /// The column's type is not one the validator reads (said once per column).
    Unsupported(String),
    /// This cell's value cannot be used (said per row).
    Value(String),
}

fn unsupported(t: &DataType) -> CellError {
    CellError::Unsupported(format!("unsupported column type {t}"))
}

/// A column ready to be read cell by cell: a dictionary column has its keys resolved once.
enum Column<'a> {
    Plain(&'a dyn Array),
    Dictionary {
        column: &'a dyn Array,
        keys: Vec<usize>,
        values: &'a dyn Array,
    },
}

impl<'a> Column<'a> {
    fn new(col: &'a dyn Array) -> Result<Self, String> {
        use arrow_array::cast::AsArray;
        let DataType::Dictionary(_, value_type) = col.data_type() else {
            return Ok(Column::Plain(col));
        };
        if matches!(value_type.as_ref(), DataType::Dictionary(..)) {
            return Err(format!("unsupported column type {}", col.data_type()));
        }
        let Some(d) = col.as_any_dictionary_opt() else {
            return Err(format!("unsupported column type {}", col.data_type()));
        };
        let values = d.values().as_ref();
        // `normalized_keys` needs at least one value; with none, every row must be null.
        let keys = if values.is_empty() {
            Vec::new()
        } else {
            d.normalized_keys()
        };
        Ok(Column::Dictionary {
            column: col,
            keys,
            values,
        })
    }

    fn cell(&self, i: usize) -> Result<Option<Value>, CellError> {
        match self {
            Column::Plain(col) => cell_value(*col, i),
            Column::Dictionary {
                column,
                keys,
                values,
            } => {
                if column.is_null(i) {
                    return Ok(None);
                }
                match keys.get(i) {
                    Some(&k) => cell_value(*values, k),
                    None => Err(CellError::Value(
                        "dictionary key with no dictionary value".into(),
                    )),
                }
            }
        }
    }
}

fn number_value(x: f64) -> Result<Option<Value>, CellError> {
    Number::from_f64(x)
        .map(|n| Some(Value::Number(n)))
        .ok_or_else(|| CellError::Value(format!("{x} is not a finite number")))
}

/// A decimal `digits * 10^-scale` as the nearest `f64` (through its decimal text, so the
/// rounding is exact whatever the precision).
fn decimal_value(digits: impl fmt::Display, scale: i8) -> Result<Option<Value>, CellError> {
    let text = format!("{digits}e{}", -i32::from(scale));
    match text.parse::<f64>() {
        Ok(x) => number_value(x),
        Err(_) => Err(CellError::Value(format!("{text} is not a number"))),
    }
}

/// One Arrow cell as a JSON value; `Ok(None)` for null. Every type is either read (integers of
/// any width, floats of any width and decimals as numbers; `utf8` of any layout as strings;
/// lists of strings, fixed-size ones included, as lists) or refused: no type can panic.
fn cell_value(col: &dyn Array, i: usize) -> Result<Option<Value>, CellError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if i >= col.len() {
        return Err(CellError::Value(format!(
            "row {i} is beyond the column's {} values",
            col.len()
        )));
    }
    if col.is_null(i) {
        return Ok(None);
    }
    macro_rules! prim {
        ($t:ty) => {
            number_value(col.as_primitive::<$t>().value(i) as f64)
        };
    }
    match col.data_type() {
        DataType::Null => Ok(None),
        DataType::Utf8 => Ok(Some(Value::String(col.as_string::<i32>().value(i).into()))),
        DataType::LargeUtf8 => Ok(Some(Value::String(col.as_string::<i64>().value(i).into()))),
        DataType::Utf8View => Ok(Some(Value::String(col.as_string_view().value(i).into()))),
        DataType::Boolean => Ok(Some(Value::Bool(col.as_boolean().value(i)))),
        DataType::Float64 => prim!(Float64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => number_value(col.as_primitive::<Float16Type>().value(i).to_f64()),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Decimal32(_, s) => {
            decimal_value(col.as_primitive::<Decimal32Type>().value(i), *s)
        }
        DataType::Decimal64(_, s) => {
            decimal_value(col.as_primitive::<Decimal64Type>().value(i), *s)
        }
        DataType::Decimal128(_, s) => {
            decimal_value(col.as_primitive::<Decimal128Type>().value(i), *s)
        }
        DataType::Decimal256(_, s) => {
            decimal_value(col.as_primitive::<Decimal256Type>().value(i), *s)
        }
        DataType::List(_) => list_value(col.as_list::<i32>().value(i).as_ref(), col.data_type()),
        DataType::LargeList(_) => {
            list_value(col.as_list::<i64>().value(i).as_ref(), col.data_type())
        }
        DataType::FixedSizeList(_, _) => {
            list_value(col.as_fixed_size_list().value(i).as_ref(), col.data_type())
        }
        other => Err(unsupported(other)),
    }
}

/// The items of one list cell: strings only (sets are `list<utf8>`); null items are skipped.
fn list_value(values: &dyn Array, list_type: &DataType) -> Result<Option<Value>, CellError> {
    if !matches!(
        values.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    ) {
        return Err(unsupported(list_type));
    }
    let mut out = Vec::with_capacity(values.len());
    for j in 0..values.len() {
        if let Some(v) = cell_value(values, j)? {
            out.push(v);
        }
    }
    Ok(Some(Value::Array(out)))
}

struct Validator {
    style: FieldStyle,
    issues: Vec<InputIssue>,
}

/// Field access inside one row, recording problems against that row.
struct Row<'a> {
    table: &'static str,
    row: Option<usize>,
    obj: &'a Map<String, Value>,
}

impl Validator {
    fn new(style: FieldStyle) -> Self {
        Validator {
            style,
            issues: Vec::new(),
        }
    }

    fn finish<T>(self, value: T) -> Result<T, InvalidInput> {
        if self.issues.is_empty() {
            Ok(value)
        } else {
            Err(InvalidInput {
                issues: self.issues,
            })
        }
    }

    fn push(&mut self, table: &str, row: Option<usize>, field: Option<String>, message: String) {
        self.issues.push(InputIssue {
            table: table.into(),
            row,
            field,
            message,
        });
    }

    fn issue(&mut self, r: &Row, field: &str, message: impl Into<String>) {
        self.push(r.table, r.row, Some(field.to_string()), message.into());
    }

    /// The name of the field holding dimension `dim` of quantity map `key`.
    fn qty_field(&self, key: &str, dim: &str) -> String {
        match self.style {
            FieldStyle::Json => format!("{key}.{dim}"),
            FieldStyle::Columns => {
                let prefix = match key {
                    "capacity" => "cap",
                    "demand" => "dem",
                    _ => "use",
                };
                format!("{prefix}_{dim}")
            }
        }
    }

    fn object<'a>(
        &mut self,
        table: &'static str,
        row: Option<usize>,
        value: &'a Value,
        allowed: &[&str],
    ) -> Option<Row<'a>> {
        let Value::Object(obj) = value else {
            self.push(
                table,
                row,
                None,
                format!("expected an object, got {}", kind_of(value)),
            );
            return None;
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.push(table, row, Some(key.clone()), "unknown field".into());
            }
        }
        Some(Row { table, row, obj })
    }

    fn get<'a>(r: &Row<'a>, key: &str) -> Option<&'a Value> {
        r.obj.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, r: &Row, key: &str, required: bool) -> Option<String> {
        match Self::get(r, key) {
            None => {
                if required {
                    self.issue(r, key, "missing required field");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.issue(r, key, "must not be empty");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.issue(r, key, format!("expected a string, got {}", kind_of(v)));
                None
            }
        }
    }

    fn number(&mut self, r: &Row, key: &str) -> Option<f64> {
        match Self::get(r, key) {
            None => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && x.abs() <= MAX_MAGNITUDE => Some(x),
                Some(x) if x.is_finite() => {
                    self.issue(r, key, too_large(x));
                    None
                }
                _ => {
                    self.issue(r, key, "not a finite number");
                    None
                }
            },
            Some(v) => {
                self.issue(r, key, format!("expected a number, got {}", kind_of(v)));
                None
            }
        }
    }

    /// A number that must satisfy `ok`; `rule` describes it for the message.
    fn checked(&mut self, r: &Row, key: &str, ok: impl Fn(f64) -> bool, rule: &str) -> Option<f64> {
        let x = self.number(r, key)?;
        if ok(x) {
            Some(x)
        } else {
            self.issue(r, key, format!("{x} is out of range: must be {rule}"));
            None
        }
    }

    /// One of a fixed set of names.
    fn choice<T: Copy>(&mut self, r: &Row, key: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.string(r, key, false)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == s) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        self.issue(
            r,
            key,
            format!("unknown {key} {s:?}: expected one of {}", names.join(", ")),
        );
        None
    }

    fn boolean(&mut self, r: &Row, key: &str) -> Option<bool> {
        match Self::get(r, key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.issue(
                    r,
                    key,
                    format!("expected true or false, got {}", kind_of(v)),
                );
                None
            }
        }
    }

    fn string_set(&mut self, r: &Row, key: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match Self::get(r, key) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() => {
                            out.insert(s.clone());
                        }
                        other => self.issue(
                            r,
                            &format!("{key}[{i}]"),
                            format!("expected a non-empty string, got {}", kind_of(other)),
                        ),
                    }
                }
            }
            Some(v) => self.issue(
                r,
                key,
                format!("expected a list of strings, got {}", kind_of(v)),
            ),
        }
        out
    }

    fn quantities(&mut self, r: &Row, key: &str) -> Quantities {
        let mut out = Quantities::new();
        match Self::get(r, key) {
            None => {}
            Some(Value::Object(m)) => {
                for (dim, v) in m {
                    let field = self.qty_field(key, dim);
                    if dim.trim().is_empty() {
                        self.issue(r, &field, "dimension name must not be empty");
                        continue;
                    }
                    match v {
                        Value::Null => {}
                        Value::Number(n) => match n.as_f64() {
                            Some(x) if x.is_finite() && x > MAX_MAGNITUDE => {
                                self.issue(r, &field, too_large(x))
                            }
                            Some(x) if x.is_finite() && x >= 0.0 => {
                                out.insert(dim.clone(), x);
                            }
                            Some(x) if x.is_finite() => self.issue(
                                r,
                                &field,
                                format!("{x} is negative: quantities must be >= 0"),
                            ),
                            _ => self.issue(r, &field, "not a finite number"),
                        },
                        other => self.issue(
                            r,
                            &field,
                            format!("expected a number, got {}", kind_of(other)),
                        ),
                    }
                }
            }
            Some(v) => self.issue(
                r,
                key,
                format!(
                    "expected an object of dimension -> quantity, got {}",
                    kind_of(v)
                ),
            ),
        }
        out
    }

    fn coordinates(&mut self, r: &Row) -> (Option<f64>, Option<f64>) {
        let lat = self.checked(r, "lat", |x| (-90.0..=90.0).contains(&x), "in [-90, 90]");
        let lon = self.checked(
            r,
            "lon",
            |x| (-180.0..=180.0).contains(&x),
            "in [-180, 180]",
        );
        let lat_given = Self::get(r, "lat").is_some();
        let lon_given = Self::get(r, "lon").is_some();
        if lat_given != lon_given {
            let missing = if lat_given { "lon" } else { "lat" };
            self.issue(r, missing, "lat and lon must be given together");
            return (None, None);
        }
        match (lat, lon) {
            (Some(a), Some(b)) => (Some(a), Some(b)),
            _ => (None, None),
        }
    }

    fn hours(&mut self, r: &Row, key: &str) -> Option<f64> {
        self.checked(
            r,
            key,
            |x| x >= 0.0,
            ">= 0 (hours from the start of the scenario)",
        )
    }

    fn resource(&mut self, i: usize, value: &Value) -> Option<Resource> {
        let r = self.object("resources", Some(i), value, RESOURCE_FIELDS)?;
        let id = self.string(&r, "id", true);
        let community = self
            .string(&r, "community", false)
            .unwrap_or_else(|| DEFAULT_COMMUNITY.into());
        let kind = self.string(&r, "kind", true);
        let (lat, lon) = self.coordinates(&r);
        let capacity = self.quantities(&r, "capacity");
        let skills = self.string_set(&r, "skills");
        let cost = self
            .checked(&r, "cost", |x| x >= 0.0, ">= 0")
            .unwrap_or(0.0);
        let available_from = self.hours(&r, "available_from");
        let available_until = self.hours(&r, "available_until");
        if let (Some(a), Some(b)) = (available_from, available_until) {
            if a > b {
                self.issue(
                    &r,
                    "available_until",
                    format!("{b} is before available_from {a}"),
                );
            }
        }
        Some(Resource {
            id: id?,
            community,
            kind: kind?,
            lat,
            lon,
            capacity,
            skills,
            cost,
            available_from,
            available_until,
        })
    }

    fn need(&mut self, i: usize, value: &Value) -> Option<Need> {
        let r = self.object("needs", Some(i), value, NEED_FIELDS)?;
        let id = self.string(&r, "id", true);
        let community = self
            .string(&r, "community", false)
            .unwrap_or_else(|| DEFAULT_COMMUNITY.into());
        let kind = self.string(&r, "kind", true);
        let (lat, lon) = self.coordinates(&r);
        let demand_given = Self::get(&r, "demand").is_some();
        let demand = self.quantities(&r, "demand");
        if !demand.values().any(|&x| x > 0.0) && !self.has_issue_on(&r, "demand") {
            let msg = if demand_given {
                "needs at least one dimension with demand > 0"
            } else {
                "missing required field (at least one dimension with demand > 0)"
            };
            self.issue(&r, "demand", msg);
        }
        let priority = self
            .checked(&r, "priority", |x| x > 0.0, "> 0")
            .unwrap_or(1.0);
        let required_skills = self.string_set(&r, "required_skills");
        let min_fill = self
            .checked(&r, "min_fill", |x| (0.0..=1.0).contains(&x), "in [0, 1]")
            .unwrap_or(0.0);
        let indivisible = self.boolean(&r, "indivisible").unwrap_or(false);
        let earliest = self.hours(&r, "earliest");
        let deadline = self.hours(&r, "deadline");
        if let (Some(a), Some(b)) = (earliest, deadline) {
            if a > b {
                self.issue(&r, "deadline", format!("{b} is before earliest {a}"));
            }
        }
        Some(Need {
            id: id?,
            community,
            kind: kind?,
            lat,
            lon,
            demand,
            priority,
            required_skills,
            min_fill,
            indivisible,
            earliest,
            deadline,
        })
    }

    fn has_issue_on(&self, r: &Row, key: &str) -> bool {
        let prefix = match self.style {
            FieldStyle::Json => format!("{key}."),
            FieldStyle::Columns => "dem_".to_string(),
        };
        self.issues.iter().any(|i| {
            i.table == r.table
                && i.row == r.row
                && i.field
                    .as_deref()
                    .is_some_and(|f| f == key || f.starts_with(&prefix))
        })
    }

    fn link(&mut self, i: usize, value: &Value) -> Option<Link> {
        let r = self.object("links", Some(i), value, LINK_FIELDS)?;
        let resource = self.string(&r, "resource", true);
        let need = self.string(&r, "need", true);
        // Link costs may be negative: OR-Library maximisation instances negate profits.
        let cost = self.number(&r, "cost").unwrap_or(0.0);
        let time = self.hours(&r, "time");
        let use_ = self.quantities(&r, "use");
        Some(Link {
            resource: resource?,
            need: need?,
            cost,
            time,
            use_,
        })
    }

    fn policy(&mut self, value: &Value) -> Policy {
        let mut p = Policy::default();
        let Some(r) = self.object("policy", None, value, POLICY_FIELDS) else {
            return p;
        };
        if let Some(v) = self.choice(
            &r,
            "objective",
            &[
                ("coverage", Objective::Coverage),
                ("cost", Objective::Cost),
                ("weighted", Objective::Weighted),
            ],
        ) {
            p.objective = v;
        }
        if let Some(w) = self.checked(&r, "cost_weight", |x| x >= 0.0, ">= 0") {
            p.cost_weight = w;
        }
        match Self::get(&r, "fairness") {
            None => {}
            Some(Value::String(s)) if s == "none" => p.fairness = Fairness::None,
            Some(Value::String(s)) if s == "maxmin" => p.fairness = Fairness::Maxmin,
            Some(Value::Object(m)) if m.len() == 1 && m.contains_key("min_share") => {
                match m.get("min_share").and_then(Value::as_f64) {
                    Some(s) if (0.0..=1.0).contains(&s) => p.fairness = Fairness::MinShare(s),
                    _ => self.issue(
                        &r,
                        "fairness.min_share",
                        "min_share must be a number in [0, 1]",
                    ),
                }
            }
            Some(other) => self.issue(
                &r,
                "fairness",
                format!(
                    "unknown fairness {other}: expected \"none\", \"maxmin\" or {{\"min_share\": s}}"
                ),
            ),
        }
        if let Some(v) = self.choice(
            &r,
            "group_by",
            &[("community", GroupBy::Community), ("kind", GroupBy::Kind)],
        ) {
            p.group_by = v;
        }
        p.max_distance_km = self.checked(&r, "max_distance_km", |x| x >= 0.0, ">= 0");
        p.speed_kmh = self.checked(&r, "speed_kmh", |x| x > 0.0, "> 0");
        if let Some(c) = self.checked(&r, "cost_per_km", |x| x >= 0.0, ">= 0") {
            p.cost_per_km = c;
        }
        if let Some(b) = self.boolean(&r, "cross_community") {
            p.cross_community = b;
        }
        if let Some(v) = self.choice(
            &r,
            "solver",
            &[
                ("auto", SolverChoice::Auto),
                ("lp", SolverChoice::Lp),
                ("greedy", SolverChoice::Greedy),
            ],
        ) {
            p.solver = v;
        }
        p.time_limit_s = self.checked(&r, "time_limit_s", |x| x > 0.0, "> 0");
        if let Some(g) = self.checked(&r, "mip_gap", |x| (0.0..=1.0).contains(&x), "in [0, 1]") {
            p.mip_gap = g;
        }
        if let Some(t) = self.checked(
            &r,
            "threads",
            |x| (1.0..=1024.0).contains(&x) && x.fract() == 0.0,
            "a whole number in [1, 1024]",
        ) {
            p.threads = Some(t as usize);
        }
        p
    }

    fn table<'a>(
        &mut self,
        root: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Vec<Value>> {
        match root.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.push(
                        "scenario",
                        None,
                        Some(key.into()),
                        "missing required field".into(),
                    );
                }
                None
            }
            Some(Value::Array(a)) => Some(a),
            Some(v) => {
                self.push(
                    "scenario",
                    None,
                    Some(key.into()),
                    format!("expected a list, got {}", kind_of(v)),
                );
                None
            }
        }
    }

    fn scenario(mut self, value: &Value) -> Result<Scenario, InvalidInput> {
        let Some(root) = self.object("scenario", None, value, SCENARIO_FIELDS) else {
            return Err(InvalidInput {
                issues: self.issues,
            });
        };
        let root = root.obj;
        let name = match root.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.push(
                    "scenario",
                    None,
                    Some("name".into()),
                    format!("expected a string, got {}", kind_of(v)),
                );
                None
            }
        };
        let mut resources = Vec::new();
        let mut needs = Vec::new();
        let mut rows_ok = true;
        if let Some(rows) = self.table(root, "resources", true) {
            for (i, v) in rows.iter().enumerate() {
                match self.resource(i, v) {
                    Some(r) => resources.push(r),
                    None => rows_ok = false,
                }
            }
        }
        if let Some(rows) = self.table(root, "needs", true) {
            for (i, v) in rows.iter().enumerate() {
                match self.need(i, v) {
                    Some(n) => needs.push(n),
                    None => rows_ok = false,
                }
            }
        }
        let mut links = None;
        if let Some(rows) = self.table(root, "links", false) {
            let mut out = Vec::new();
            for (i, v) in rows.iter().enumerate() {
                match self.link(i, v) {
                    Some(l) => out.push(l),
                    None => rows_ok = false,
                }
            }
            links = Some(out);
        }
        let policy = match root.get("policy") {
            None | Some(Value::Null) => Policy::default(),
            Some(p) => self.policy(p),
        };
        if rows_ok {
            self.cross_checks(&resources, &needs, links.as_deref());
        }
        let scenario = Scenario {
            name,
            resources,
            needs,
            links,
            policy,
        };
        self.finish(scenario)
    }

    /// Rules that involve more than one row: unique ids, links to known rows, known dimensions.
    fn cross_checks(&mut self, resources: &[Resource], needs: &[Need], links: Option<&[Link]>) {
        let mut res_index: HashMap<&str, usize> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            if let Some(first) = res_index.insert(&r.id, i) {
                res_index.insert(&r.id, first);
                self.push(
                    "resources",
                    Some(i),
                    Some("id".into()),
                    format!("duplicate id {:?} (first at row {first})", r.id),
                );
            }
        }
        let mut need_index: HashMap<&str, usize> = HashMap::new();
        for (i, n) in needs.iter().enumerate() {
            if let Some(first) = need_index.insert(&n.id, i) {
                need_index.insert(&n.id, first);
                self.push(
                    "needs",
                    Some(i),
                    Some("id".into()),
                    format!("duplicate id {:?} (first at row {first})", n.id),
                );
            }
        }
        let Some(links) = links else { return };
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, l) in links.iter().enumerate() {
            let r = res_index.get(l.resource.as_str()).map(|&k| &resources[k]);
            let n = need_index.get(l.need.as_str()).map(|&k| &needs[k]);
            if r.is_none() {
                self.push(
                    "links",
                    Some(i),
                    Some("resource".into()),
                    format!("unknown resource id {:?}", l.resource),
                );
            }
            if n.is_none() {
                self.push(
                    "links",
                    Some(i),
                    Some("need".into()),
                    format!("unknown need id {:?}", l.need),
                );
            }
            if let Some(first) = seen.insert((&l.resource, &l.need), i) {
                seen.insert((&l.resource, &l.need), first);
                self.push(
                    "links",
                    Some(i),
                    Some("need".into()),
                    format!(
                        "duplicate link {:?} -> {:?} (first at row {first})",
                        l.resource, l.need
                    ),
                );
            }
            if let (Some(r), Some(n)) = (r, n) {
                for dim in l.use_.keys() {
                    if !r.capacity.contains_key(dim) && !n.demand.contains_key(dim) {
                        let field = self.qty_field("use", dim);
                        self.push(
                            "links",
                            Some(i),
                            Some(field),
                            format!(
                                "unknown dimension {dim:?}: neither resource {:?} has capacity nor need {:?} has demand in it",
                                r.id, n.id
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
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
        for bad in ["", "{", "{\"a\": 1} x", "[1,]", "{\"a\" 1}", "\u{feff}{}"] {
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
