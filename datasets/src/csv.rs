//! CSV tables of SPEC section 3: every cell read as text, then typed by its column's name
//! (quantities `cap_/dem_/use_<dim>` and the numeric fields as Float64, `indivisible` as
//! Boolean, `skills` / `required_skills` as `list<utf8>` split on `;`), so that the engine's one
//! validator sees the same columns as from Arrow or Parquet. A cell that does not parse is an
//! error naming the file, the line and the column.

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

const NUMERIC: &[&str] = &[
    "lat",
    "lon",
    "cost",
    "priority",
    "min_fill",
    "earliest",
    "deadline",
    "available_from",
    "available_until",
    "time",
];
const SETS: &[&str] = &["skills", "required_skills"];

fn is_numeric(name: &str) -> bool {
    NUMERIC.contains(&name) || ["cap_", "dem_", "use_"].iter().any(|p| name.starts_with(p))
}

/// Parse CSV bytes (with a header row) into one typed record batch.
pub fn read_csv(bytes: &[u8]) -> Result<RecordBatch, String> {
    let mut header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    if header.ends_with(b"\r") {
        header = &header[..header.len() - 1];
    }
    let names: Vec<String> = String::from_utf8_lossy(header)
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    if names.iter().any(String::is_empty) {
        return Err("the header has an empty column name".into());
    }
    let text_schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let reader = arrow_csv::ReaderBuilder::new(text_schema.clone())
        .with_header(true)
        .build(std::io::Cursor::new(bytes))
        .map_err(|e| e.to_string())?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let text =
        arrow_select::concat::concat_batches(&text_schema, &batches).map_err(|e| e.to_string())?;
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (c, name) in names.iter().enumerate() {
        let col = text
            .column(c)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("internal: text column expected")?;
        let cell = |i: usize| {
            (!col.is_null(i))
                .then(|| col.value(i).trim())
                .filter(|s| !s.is_empty())
        };
        // Line numbers count the header as line 1.
        let bad = |i: usize, what: &str| {
            format!(
                "line {}, column {name}: {:?} is not {what}",
                i + 2,
                col.value(i)
            )
        };
        let (dt, array): (DataType, ArrayRef) = if is_numeric(name) {
            let mut v = Vec::with_capacity(col.len());
            for i in 0..col.len() {
                v.push(match cell(i) {
                    None => None,
                    Some(s) => Some(s.parse::<f64>().map_err(|_| bad(i, "a number"))?),
                });
            }
            (DataType::Float64, Arc::new(Float64Array::from(v)))
        } else if name == "indivisible" || name == "cross_community" {
            let mut v = Vec::with_capacity(col.len());
            for i in 0..col.len() {
                v.push(match cell(i).map(str::to_ascii_lowercase).as_deref() {
                    None => None,
                    Some("true") | Some("1") => Some(true),
                    Some("false") | Some("0") => Some(false),
                    Some(_) => return Err(bad(i, "true or false")),
                });
            }
            (DataType::Boolean, Arc::new(BooleanArray::from(v)))
        } else if SETS.contains(&name.as_str()) {
            let mut b = ListBuilder::new(StringBuilder::new());
            for i in 0..col.len() {
                if let Some(s) = cell(i) {
                    for item in s.split(';').map(str::trim).filter(|x| !x.is_empty()) {
                        b.values().append_value(item);
                    }
                }
                b.append(true);
            }
            let a = b.finish();
            (a.data_type().clone(), Arc::new(a))
        } else {
            let a: StringArray = (0..col.len()).map(cell).collect();
            (DataType::Utf8, Arc::new(a))
        };
        fields.push(Field::new(name, dt, true));
        cols.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| e.to_string())
}

/// Write a record batch as CSV; `list<utf8>` columns become `;`-joined text.
pub fn write_csv(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
        if let DataType::List(_) = f.data_type() {
            let list = col
                .as_any()
                .downcast_ref::<arrow_array::ListArray>()
                .ok_or("internal: list column expected")?;
            let joined: StringArray = (0..list.len())
                .map(|i| {
                    (!list.is_null(i)).then(|| {
                        let v = list.value(i);
                        let s = v.as_any().downcast_ref::<StringArray>();
                        s.map(|s| {
                            (0..s.len())
                                .map(|j| s.value(j).to_string())
                                .collect::<Vec<_>>()
                                .join(";")
                        })
                        .unwrap_or_default()
                    })
                })
                .collect();
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            cols.push(Arc::new(joined));
        } else {
            fields.push(f.as_ref().clone());
            cols.push(col.clone());
        }
    }
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    {
        let mut w = arrow_csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        w.write(&b).map_err(|e| e.to_string())?;
    }
    Ok(out)
}
