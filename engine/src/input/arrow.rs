//! Arrow record batches to the validator's rows: cells of every integer, float and decimal
//! width are numbers, utf8 of any layout strings, lists of any layout sets.

use super::{InputIssue, Problems};
use crate::schema::{
    column_kind, ColumnKind, LINK_FIELDS, NEED_FIELDS, QUANTITY_COLUMNS, RESOURCE_FIELDS,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use std::fmt;

/// How a column of a scenario table maps onto a JSON field.
enum ColumnTarget {
    Plain(&'static str),
    Quantity(&'static str, String),
}

fn column_target(table: &str, column: &str) -> Option<ColumnTarget> {
    let fields = match table {
        "resources" => RESOURCE_FIELDS,
        "needs" => NEED_FIELDS,
        _ => LINK_FIELDS,
    };
    let (_, prefix, map_key) = QUANTITY_COLUMNS
        .iter()
        .copied()
        .find(|(t, _, _)| *t == table)
        .unwrap_or(QUANTITY_COLUMNS[2]);
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

/// The catalogue's kind of what an Arrow column holds (a dictionary's by its values); `None`
/// for a type of no kind (dates, times, binary, structs...).
fn arrow_kind(t: &DataType) -> Option<ColumnKind> {
    match t {
        DataType::Dictionary(_, values) => arrow_kind(values),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ColumnKind::Text),
        DataType::Boolean => Some(ColumnKind::Flag),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            Some(ColumnKind::Set)
        }
        t if t.is_numeric() => Some(ColumnKind::Number),
        _ => None,
    }
}

/// Why column `name` cannot hold its field, when its type is of another kind than the
/// catalogue's and it has a value: the type is the column's fault, so it is one problem of
/// the column, as the file readers say it, not one of every row.
fn kind_mismatch(name: &str, column: &dyn Array) -> Option<String> {
    let want = column_kind(name);
    // Logical: a dictionary's null values make null cells behind valid keys.
    if column.data_type() == &DataType::Null || column.logical_null_count() == column.len() {
        return None;
    }
    if arrow_kind(column.data_type()) == Some(want) {
        return None;
    }
    Some(format!(
        "expected {}, found {}",
        want.expected(),
        column.data_type()
    ))
}

/// Text a table's cells may decode to, in bytes, where the layout lets a few bytes stand for
/// much more (a dictionary value or a string view shared by many cells): 256 MiB, about
/// fifty times what a 200,000-need table's text takes. A plain string column's text is its
/// buffer, which the input's size bounds already.
pub const MAX_SHARED_TEXT: usize = 256 << 20;

/// The bytes of text column `column` decodes to beyond its buffers: the sum over non-null
/// cells of a dictionary's value, or of a string view (lists of views count their items).
/// `0` for every other layout.
fn shared_text_bytes(column: &Column) -> usize {
    use arrow_array::cast::AsArray;
    /// The text cell `i` decodes to: a string's bytes, a list's items' (a dictionary of
    /// lists repeats the whole list per key).
    fn text_len(values: &dyn Array, i: usize) -> usize {
        let items = |list: arrow_array::ArrayRef| cells_text(list.as_ref());
        match values.data_type() {
            DataType::Utf8 => values.as_string::<i32>().value(i).len(),
            DataType::LargeUtf8 => values.as_string::<i64>().value(i).len(),
            DataType::Utf8View => values.as_string_view().value(i).len(),
            DataType::List(_) => items(values.as_list::<i32>().value(i)),
            DataType::LargeList(_) => items(values.as_list::<i64>().value(i)),
            DataType::FixedSizeList(_, _) => items(values.as_fixed_size_list().value(i)),
            // A list's dictionary-encoded item (polars' `List(Categorical)`): its value.
            DataType::Dictionary(..) => {
                let item = values.slice(i, 1);
                Column::new(item.as_ref()).map_or(0, |c| shared_text_bytes(&c))
            }
            _ => 0,
        }
    }
    fn cells_text(col: &dyn Array) -> usize {
        (0..col.len())
            .filter(|&i| !col.is_null(i))
            .map(|i| text_len(col, i))
            .fold(0, usize::saturating_add)
    }
    match column {
        Column::Dictionary {
            column,
            keys,
            values,
        } => (0..column.len())
            .filter(|&i| !column.is_null(i))
            .filter_map(|i| keys.get(i).filter(|&&k| k < values.len()))
            .map(|&k| text_len(*values, k))
            .fold(0, usize::saturating_add),
        Column::Plain(col) => match col.data_type() {
            DataType::Utf8View => cells_text(*col),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                if matches!(f.data_type(), DataType::Utf8View | DataType::Dictionary(..)) =>
            {
                // List offsets only grow: each item is one cell's, its text the view's.
                let items = match col.data_type() {
                    DataType::List(_) => col.as_list::<i32>().values(),
                    DataType::LargeList(_) => col.as_list::<i64>().values(),
                    _ => col.as_fixed_size_list().values(),
                };
                cells_text(items.as_ref())
            }
            _ => 0,
        },
    }
}

/// A problem of column `name` as a whole, said once however many batches repeat it.
fn column_issue(
    issues: &mut Problems,
    said: &mut HashSet<String>,
    table: &str,
    name: &str,
    message: String,
) {
    if said.insert(name.to_string()) {
        issues.push(InputIssue {
            table: table.into(),
            row: None,
            field: Some(name.into()),
            message,
        });
    }
}

pub(super) fn rows_from_batches(
    table: &'static str,
    batches: &[RecordBatch],
    issues: &mut Problems,
) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut shared_text = 0usize;
    let mut reported_columns = HashSet::new();
    let mut reported_duplicates = HashSet::new();
    for batch in batches {
        let base = rows.len();
        rows.extend((0..batch.num_rows()).map(|_| Value::Object(Map::new())));
        let schema = batch.schema();
        // A name given twice would have the last column overwrite the first cell by cell, so
        // neither is read: the table is refused naming the column.
        let mut seen = HashSet::new();
        let repeated: HashSet<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| !seen.insert(*n))
            .collect();
        for (ci, field) in schema.fields().iter().enumerate() {
            let name = field.name().as_str();
            if repeated.contains(name) {
                let message = "duplicate column: a column may appear only once in a table";
                column_issue(
                    issues,
                    &mut reported_duplicates,
                    table,
                    name,
                    message.into(),
                );
                continue;
            }
            let Some(target) = column_target(table, name) else {
                column_issue(
                    issues,
                    &mut reported_columns,
                    table,
                    name,
                    "unknown column".into(),
                );
                continue;
            };
            if let Some(message) = kind_mismatch(name, batch.column(ci).as_ref()) {
                column_issue(issues, &mut reported_columns, table, name, message);
                continue;
            }
            let column = match Column::new(batch.column(ci).as_ref()) {
                Ok(c) => c,
                Err(CellError::Unsupported(message) | CellError::Value(message)) => {
                    column_issue(issues, &mut reported_columns, table, name, message);
                    continue;
                }
            };
            // Bounded before a cell is decoded: 200,000 cells of one 200 KB dictionary value
            // are 40 GB of text from a 4 MB file.
            // Only a column that holds such cells is blamed: a plain column after the bound
            // was passed is read as usual.
            let own = shared_text_bytes(&column);
            shared_text = shared_text.saturating_add(own);
            if own > 0 && shared_text > MAX_SHARED_TEXT {
                let message = format!(
                    "the table's dictionary and view cells decode to more than {MAX_SHARED_TEXT} bytes of text (at least {shared_text}): send shorter or plain strings"
                );
                column_issue(issues, &mut reported_columns, table, name, message);
                continue;
            }
            for i in 0..batch.num_rows() {
                let row = base + i;
                let cell = match column.cell(i) {
                    Ok(Some(v)) => v,
                    Ok(None) => continue,
                    Err(CellError::Unsupported(msg)) => {
                        // A type the validator cannot read: said once per column.
                        column_issue(issues, &mut reported_columns, table, name, msg);
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
#[derive(Debug)]
pub(super) enum CellError {
    /// The column's type is not one the validator reads (said once per column).
    Unsupported(String),
    /// This cell's value cannot be used (said per row).
    Value(String),
}

fn unsupported(t: &DataType) -> CellError {
    CellError::Unsupported(format!("unsupported column type {t}"))
}

/// A column ready to be read cell by cell: a dictionary column has its keys resolved once.
pub(super) enum Column<'a> {
    Plain(&'a dyn Array),
    Dictionary {
        column: &'a dyn Array,
        keys: Vec<usize>,
        values: &'a dyn Array,
    },
}

impl<'a> Column<'a> {
    /// The column, or `CellError::Unsupported` for a type the validator cannot read.
    pub(super) fn new(col: &'a dyn Array) -> Result<Self, CellError> {
        use arrow_array::cast::AsArray;
        let DataType::Dictionary(_, value_type) = col.data_type() else {
            return Ok(Column::Plain(col));
        };
        let unsupported =
            || CellError::Unsupported(format!("unsupported column type {}", col.data_type()));
        if matches!(value_type.as_ref(), DataType::Dictionary(..)) {
            return Err(unsupported());
        }
        let Some(d) = col.as_any_dictionary_opt() else {
            return Err(unsupported());
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

    pub(super) fn cell(&self, i: usize) -> Result<Option<Value>, CellError> {
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
fn decimal_f64(digits: impl fmt::Display, scale: i8) -> f64 {
    format!("{digits}e{}", -i32::from(scale))
        .parse()
        .unwrap_or(f64::NAN)
}

/// Cell `i` of a numeric column (integers and floats of every width, decimals) as the nearest
/// `f64`, whether or not the cell is null; `None` when the column is not numeric. The one
/// table of numeric types: the validator's Arrow reader and the datasets' column widening
/// both read numbers through it.
pub fn numeric_cell(col: &dyn Array, i: usize) -> Option<f64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    macro_rules! prim {
        ($t:ty) => {
            col.as_primitive::<$t>().value(i) as f64
        };
    }
    Some(match col.data_type() {
        DataType::Float64 => prim!(Float64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => col.as_primitive::<Float16Type>().value(i).to_f64(),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Decimal32(_, s) => decimal_f64(col.as_primitive::<Decimal32Type>().value(i), *s),
        DataType::Decimal64(_, s) => decimal_f64(col.as_primitive::<Decimal64Type>().value(i), *s),
        DataType::Decimal128(_, s) => {
            decimal_f64(col.as_primitive::<Decimal128Type>().value(i), *s)
        }
        DataType::Decimal256(_, s) => {
            decimal_f64(col.as_primitive::<Decimal256Type>().value(i), *s)
        }
        _ => return None,
    })
}

/// One Arrow cell as a JSON value; `Ok(None)` for null. Every type is either read (integers of
/// any width, floats of any width and decimals as numbers; `utf8` of any layout as strings;
/// lists of strings, fixed-size ones included, as lists) or refused: no type can panic.
pub(super) fn cell_value(col: &dyn Array, i: usize) -> Result<Option<Value>, CellError> {
    use arrow_array::cast::AsArray;
    if i >= col.len() {
        return Err(CellError::Value(format!(
            "row {i} is beyond the column's {} values",
            col.len()
        )));
    }
    if col.is_null(i) {
        return Ok(None);
    }
    if let Some(x) = numeric_cell(col, i) {
        return number_value(x);
    }
    match col.data_type() {
        DataType::Null => Ok(None),
        DataType::Utf8 => Ok(Some(Value::String(col.as_string::<i32>().value(i).into()))),
        DataType::LargeUtf8 => Ok(Some(Value::String(col.as_string::<i64>().value(i).into()))),
        DataType::Utf8View => Ok(Some(Value::String(col.as_string_view().value(i).into()))),
        DataType::Boolean => Ok(Some(Value::Bool(col.as_boolean().value(i)))),
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

/// The items of one list cell: strings only (sets are `list<utf8>`), plain or
/// dictionary-encoded (polars' `List(Categorical)`); a null item is a JSON null.
fn list_value(values: &dyn Array, list_type: &DataType) -> Result<Option<Value>, CellError> {
    let text = |t: &DataType| {
        matches!(
            t,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        )
    };
    let readable = match values.data_type() {
        DataType::Dictionary(_, v) => text(v),
        t => text(t),
    };
    if !readable {
        return Err(unsupported(list_type));
    }
    let items = Column::new(values).map_err(|_| unsupported(list_type))?;
    // A list of nulls has a length and no buffer: its length is not a size to allocate.
    let mut out = Vec::with_capacity(values.len().min(1024));
    for j in 0..values.len() {
        // A null item stays null, for the validator to refuse by its index as in JSON:
        // skipped, `[null]` in `required_skills` had dropped the requirement.
        out.push(items.cell(j)?.unwrap_or(Value::Null));
    }
    Ok(Some(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use crate::input::scenario_from_batches;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn needs() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(StringArray::from(vec!["n1"])) as ArrayRef),
            ("kind", Arc::new(StringArray::from(vec!["shelter"]))),
            ("dem_beds", Arc::new(Int64Array::from(vec![2]))),
        ])
        .unwrap()
    }

    /// Resources `r1` (kind shelter) with a `cap_beds` column per value in `beds`.
    fn resources(beds: &[i64]) -> RecordBatch {
        let mut fields = vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("kind", DataType::Utf8, true),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["r1"])),
            Arc::new(StringArray::from(vec!["shelter"])),
        ];
        for b in beds {
            fields.push(Field::new("cap_beds", DataType::Int64, true));
            columns.push(Arc::new(Int64Array::from(vec![*b])));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// Resources `r0..` of one `kind` column and one bed each.
    fn kinds(kind: ArrayRef) -> RecordBatch {
        with_column("kind", kind)
    }

    /// Resources `r0..` of kind shelter and one bed each, with column `name` (its kind too,
    /// when `name` is `kind`).
    fn with_column(name: &str, column: ArrayRef) -> RecordBatch {
        let n = column.len();
        let mut columns = vec![(
            "id",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("r{i}")),
            )) as ArrayRef,
        )];
        if name != "kind" {
            columns.push(("kind", Arc::new(StringArray::from(vec!["shelter"; n]))));
        }
        columns.push((name, column));
        columns.push(("cap_beds", Arc::new(Int64Array::from(vec![1; n]))));
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// A dictionary value or a string view shared by every cell is bounded by the text it
    /// decodes to, before any is decoded: 5,000 cells of one 64 KiB value are 320 MiB.
    #[test]
    fn shared_text_is_bounded_before_it_is_decoded() {
        use arrow_array::builder::StringViewBuilder;
        use arrow_array::{types::Int8Type, DictionaryArray, Int8Array};
        let big = "x".repeat(64 << 10);
        let dictionary = |keys: Vec<i8>, values: Vec<&str>| -> ArrayRef {
            Arc::new(
                DictionaryArray::<Int8Type>::try_new(
                    Int8Array::from(keys),
                    Arc::new(StringArray::from(values)),
                )
                .unwrap(),
            )
        };
        let mut views = StringViewBuilder::new().with_deduplicate_strings();
        (0..5000).for_each(|_| views.append_value(&big));
        // One list of 1,024 strings of 64 bytes under every key.
        let mut lists =
            arrow_array::builder::ListBuilder::new(arrow_array::builder::StringBuilder::new());
        (0..1024).for_each(|_| lists.values().append_value(&big[..64]));
        lists.append(true);
        let list_dictionary = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(vec![0; 5000]),
            Arc::new(lists.finish()),
        )
        .unwrap();
        // A list of one dictionary-encoded item per cell (polars' `List(Categorical)`).
        let mut categorical = arrow_array::builder::ListBuilder::new(
            arrow_array::builder::StringDictionaryBuilder::<Int8Type>::new(),
        );
        for _ in 0..5000 {
            categorical.values().append_value(&big);
            categorical.append(true);
        }
        // Text in `kind`, sets (lists) in `skills`.
        let shared: [(&str, ArrayRef); 4] = [
            ("kind", dictionary(vec![0; 5000], vec![&big])),
            ("kind", Arc::new(views.finish())),
            ("skills", Arc::new(list_dictionary)),
            ("skills", Arc::new(categorical.finish())),
        ];
        for (field, column) in shared {
            let e =
                scenario_from_batches(&[with_column(field, column)], &[needs()], None, None, None)
                    .expect_err("320 MiB of text");
            let i = e
                .issues
                .iter()
                .find(|i| i.field.as_deref() == Some(field))
                .expect("an issue on the shared column");
            assert_eq!((i.table.as_str(), i.row), ("resources", None));
            assert!(i.message.contains("more than 268435456 bytes"), "{i:?}");
            // The plain column after it is not blamed (`cap_beds` was).
            let blamed: Vec<_> = e
                .issues
                .iter()
                .filter(|i| i.message.contains("more than 268435456 bytes"))
                .map(|i| i.field.as_deref())
                .collect();
            assert_eq!(blamed, [Some(field)]);
            // The 5,000 rows whose kind was not read are not each listed as missing it: the
            // refusal of the column says it once.
            assert_eq!(
                e.issues.len(),
                1,
                "{:?}",
                &e.issues[..e.issues.len().min(3)]
            );
        }
        // A dictionary of short values is read as its strings.
        let s = scenario_from_batches(
            &[kinds(dictionary(vec![0, 1, 0], vec!["shelter", "van"]))],
            &[needs()],
            None,
            None,
            None,
        )
        .expect("valid");
        let kinds: Vec<&str> = s.resources().iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["shelter", "van", "shelter"]);
    }

    /// A column whose type is of another kind than its field's (numbers where text belongs,
    /// text where numbers do, a flag as a number) is one problem of the column, naming its
    /// type, not one a row; a column of nulls alone is no value whatever its type.
    #[test]
    fn a_column_of_the_wrong_kind_is_one_problem() {
        use arrow_array::{BooleanArray, Float64Array};
        let n = 86;
        let cases: [(&str, ArrayRef, &str); 4] = [
            (
                "community",
                Arc::new(Int64Array::from_iter_values(0..n)),
                "expected strings, found Int64",
            ),
            (
                "cap_seats",
                Arc::new(StringArray::from(vec!["1"; n as usize])),
                "expected numbers, found Utf8",
            ),
            (
                "lat",
                Arc::new(BooleanArray::from(vec![true; n as usize])),
                "expected numbers, found Boolean",
            ),
            (
                "community",
                Arc::new(arrow_array::TimestampMicrosecondArray::from(vec![
                    1;
                    n as usize
                ])),
                "expected strings, found Timestamp(µs)",
            ),
        ];
        for (field, column, message) in cases {
            let e =
                scenario_from_batches(&[with_column(field, column)], &[needs()], None, None, None)
                    .expect_err("a column of the wrong kind");
            let found: Vec<_> = e
                .issues
                .iter()
                .map(|i| {
                    (
                        i.table.as_str(),
                        i.row,
                        i.field.as_deref(),
                        i.message.as_str(),
                    )
                })
                .collect();
            assert_eq!(found, [("resources", None, Some(field), message)]);
        }
        // A demand column refused whole is the one problem: the rows it leaves without a
        // demand are not each listed as missing one.
        let demands = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("n{i}")),
                )) as ArrayRef,
            ),
            (
                "kind",
                Arc::new(StringArray::from(vec!["shelter"; n as usize])),
            ),
            (
                "dem_beds",
                Arc::new(StringArray::from(vec!["2"; n as usize])),
            ),
        ])
        .unwrap();
        let e = scenario_from_batches(&[resources(&[2])], &[demands], None, None, None)
            .expect_err("demands as text");
        let found: Vec<_> = e.issues.iter().map(ToString::to_string).collect();
        assert_eq!(found, ["needs.dem_beds: expected numbers, found Utf8"]);
        // A numeric column of nulls where text belongs reads as absent, and so does a
        // dictionary whose one value is null behind valid keys.
        let nulls = with_column("community", Arc::new(Float64Array::from(vec![None; 3])));
        let s = scenario_from_batches(&[nulls], &[needs()], None, None, None).expect("valid");
        assert_eq!(s.resources().len(), 3);
        let null_values = arrow_array::DictionaryArray::<arrow_array::types::Int8Type>::try_new(
            arrow_array::Int8Array::from(vec![0, 0, 0]),
            Arc::new(StringArray::from(vec![None::<&str>])),
        )
        .unwrap();
        let s = scenario_from_batches(
            &[with_column("cost", Arc::new(null_values))],
            &[needs()],
            None,
            None,
            None,
        )
        .expect("valid");
        assert!(s.resources().iter().all(|r| r.cost == 0.0));
    }

    /// polars' `List(Categorical)`: a set column whose items are dictionary-encoded strings,
    /// read as its strings (it was refused as an unsupported column type).
    #[test]
    fn a_set_of_dictionary_encoded_strings_is_read_as_its_strings() {
        use arrow_array::builder::{ListBuilder, StringDictionaryBuilder};
        use arrow_array::types::Int8Type;
        let mut skills = ListBuilder::new(StringDictionaryBuilder::<Int8Type>::new());
        skills.values().append_value("first_aid");
        skills.values().append_value("driving");
        skills.append(true);
        skills.values().append_value("driving");
        skills.append(true);
        skills.append(false);
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from(vec!["r0", "r1", "r2"])) as ArrayRef,
            ),
            ("kind", Arc::new(StringArray::from(vec!["shelter"; 3]))),
            ("cap_beds", Arc::new(Int64Array::from(vec![1; 3]))),
            ("skills", Arc::new(skills.finish())),
        ])
        .unwrap();
        let s = scenario_from_batches(&[batch], &[needs()], None, None, None).expect("valid");
        let skills: Vec<Vec<&str>> = s
            .resources()
            .iter()
            .map(|r| r.skills.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            skills,
            [vec!["driving", "first_aid"], vec!["driving"], vec![]]
        );
    }

    /// A demand cell refused by the reader (`inf`) is the row's one issue: the row's check
    /// that some dimension has demand > 0 follows from it and was listed too, as if the
    /// column were missing.
    #[test]
    fn a_refused_demand_cell_is_its_rows_one_issue() {
        use arrow_array::Float64Array;
        let needs = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from(vec!["n0", "n1"])) as ArrayRef,
            ),
            ("kind", Arc::new(StringArray::from(vec!["shelter"; 2]))),
            (
                "dem_beds",
                Arc::new(Float64Array::from(vec![1.0, f64::INFINITY])),
            ),
        ])
        .unwrap();
        let e = scenario_from_batches(&[resources(&[4])], &[needs], None, None, None)
            .expect_err("an infinite demand");
        let found: Vec<_> = e
            .issues
            .iter()
            .map(|i| (i.table.as_str(), i.row, i.field.as_deref()))
            .collect();
        assert_eq!(
            found,
            [("needs", Some(1), Some("dem_beds"))],
            "{:#?}",
            e.issues
        );
        assert!(e.issues[0].message.contains("not a finite number"), "{e}");
    }

    /// A null item of a set is refused by its row and index, as `[null]` in JSON is: it was
    /// skipped, and a need requiring `[null]` was served by a resource with no skills.
    #[test]
    fn a_null_item_of_a_set_is_refused_by_its_row_and_index() {
        use arrow_array::builder::{ListBuilder, StringBuilder};
        let mut skills = ListBuilder::new(StringBuilder::new());
        skills.values().append_value("driving");
        skills.append(true);
        skills.values().append_value("driving");
        skills.values().append_null();
        skills.append(true);
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from(vec!["r0", "r1"])) as ArrayRef,
            ),
            ("kind", Arc::new(StringArray::from(vec!["shelter"; 2]))),
            ("cap_beds", Arc::new(Int64Array::from(vec![1; 2]))),
            ("skills", Arc::new(skills.finish())),
        ])
        .unwrap();
        let e = scenario_from_batches(&[batch], &[needs()], None, None, None)
            .expect_err("a null skill");
        assert_eq!(e.issues.len(), 1, "{:#?}", e.issues);
        let i = &e.issues[0];
        assert_eq!(
            (i.table.as_str(), i.row, i.field.as_deref()),
            ("resources", Some(1), Some("skills[1]")),
            "{i:?}"
        );
        assert!(i.message.contains("null"), "{i:?}");
    }

    #[test]
    fn a_column_given_twice_is_refused_naming_table_and_column() {
        let one = scenario_from_batches(&[resources(&[40])], &[needs()], None, None, None)
            .expect("one cap_beds column is valid");
        assert_eq!(one.resources[0].capacity["beds"], 40.0);

        let e = scenario_from_batches(&[resources(&[40, 0])], &[needs()], None, None, None)
            .expect_err("two cap_beds columns");
        assert_eq!(e.issues.len(), 1, "{:#?}", e.issues);
        let i = &e.issues[0];
        assert_eq!(
            (i.table.as_str(), i.row, i.field.as_deref()),
            ("resources", None, Some("cap_beds"))
        );
        assert!(i.message.contains("duplicate column"), "{i:?}");
        assert!(e.to_string().contains("cap_beds"), "{e}");

        // Said once for the table, however many batches repeat it.
        let batches = [resources(&[40, 0]), resources(&[1, 2, 3])];
        let e = scenario_from_batches(&batches, &[needs()], None, None, None).unwrap_err();
        let on_beds = e
            .issues
            .iter()
            .filter(|i| i.field.as_deref() == Some("cap_beds"))
            .count();
        assert_eq!(on_beds, 1, "{:#?}", e.issues);
    }
}
