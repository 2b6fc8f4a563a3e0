//! Tables through polars: scenario tables read from CSV, Parquet or Arrow IPC (file or stream)
//! into a typed `DataFrame`, written back in any of the three, and simulation results aggregated
//! per policy.
//!
//! The engine validates arrow-rs record batches, so frames cross over as in-memory Arrow IPC
//! (`frame_to_batches` / `batch_to_frame`); only this module knows polars exists.
//!
//! Column types follow SPEC section 3 by column name: quantities `cap_/dem_/use_<dim>` and the
//! numeric fields are Float64, `indivisible`/`cross_community` Boolean, `skills` /
//! `required_skills` lists of strings (`;`-joined in CSV). A CSV cell that does not parse is an
//! error naming its line and column; a Parquet or Arrow column of the wrong type is an error
//! naming the column and the type found.

use crate::TableFormat;
use arrow_array::RecordBatch;
use polars::prelude::*;
use std::io::Cursor;

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
const FLAGS: &[&str] = &["indivisible", "cross_community"];
const SETS: &[&str] = &["skills", "required_skills"];

/// What SPEC section 3 says a column of this name holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Number,
    Flag,
    Set,
    Text,
}

fn column_kind(name: &str) -> ColumnKind {
    if NUMERIC.contains(&name) || ["cap_", "dem_", "use_"].iter().any(|p| name.starts_with(p)) {
        ColumnKind::Number
    } else if FLAGS.contains(&name) {
        ColumnKind::Flag
    } else if SETS.contains(&name) {
        ColumnKind::Set
    } else {
        ColumnKind::Text
    }
}

/// Read a table from bytes: Parquet and Arrow IPC files and streams are told apart by their magic
/// bytes; `csv` says the bytes are CSV text with a header row.
pub fn read_frame(bytes: &[u8], csv: bool) -> Result<DataFrame, String> {
    let df = if bytes.starts_with(b"PAR1") {
        ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| format!("not a readable Parquet file: {e}"))?
    } else if bytes.starts_with(b"ARROW1") {
        IpcReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| format!("not a readable Arrow IPC file: {e}"))?
    } else if csv {
        return read_csv(bytes);
    } else {
        IpcStreamReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| format!("not Arrow IPC or Parquet: {e}"))?
    };
    conform(df)
}

/// Check and normalise the column types of a Parquet or Arrow table: integers in numeric
/// columns become Float64; anything else of the wrong type is an error naming the column.
fn conform(mut df: DataFrame) -> Result<DataFrame, String> {
    let names: Vec<PlSmallStr> = df.get_column_names_owned();
    for name in names {
        let col = df.column(&name).map_err(|e| e.to_string())?;
        let dtype = col.dtype().clone();
        let kind = column_kind(&name);
        let ok = match kind {
            ColumnKind::Number if dtype.is_primitive_numeric() => {
                if dtype != DataType::Float64 {
                    let cast = col.cast(&DataType::Float64).map_err(|e| e.to_string())?;
                    df.replace(&name, cast).map_err(|e| e.to_string())?;
                }
                true
            }
            ColumnKind::Number => dtype == DataType::Null,
            ColumnKind::Flag => matches!(dtype, DataType::Boolean | DataType::Null),
            ColumnKind::Set => match &dtype {
                DataType::List(inner) => matches!(**inner, DataType::String | DataType::Null),
                DataType::Null => true,
                _ => false,
            },
            ColumnKind::Text => true,
        };
        if !ok {
            let wanted = match kind {
                ColumnKind::Number => "numbers",
                ColumnKind::Flag => "booleans",
                _ => "lists of strings",
            };
            return Err(format!("column {name}: expected {wanted}, found {dtype}"));
        }
    }
    Ok(df)
}

/// A cell's text, trimmed; `None` when empty.
fn cell(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// CSV: every cell read as text, then typed by its column's name. Line numbers count the header
/// as line 1.
fn read_csv(bytes: &[u8]) -> Result<DataFrame, String> {
    let text = CsvReadOptions::default()
        .with_has_header(true)
        // No inference: every column is read as text and typed below, so a bad cell is reported
        // with its line instead of turning a whole column into strings.
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| e.to_string())?;
    let mut columns = Vec::with_capacity(text.width());
    for col in text.columns() {
        let name = col.name().clone();
        if name.trim().is_empty() {
            return Err("the header has an empty column name".into());
        }
        let cells = col.str().map_err(|e| e.to_string())?;
        let bad = |i: usize, v: Option<&str>, what: &str| {
            format!(
                "line {}, column {name}: {:?} is not {what}",
                i + 2,
                v.unwrap_or_default()
            )
        };
        let series = match column_kind(&name) {
            ColumnKind::Number => {
                let mut v = Vec::with_capacity(cells.len());
                for (i, raw) in cells.iter().enumerate() {
                    v.push(match cell(raw) {
                        None => None,
                        Some(s) => Some(s.parse::<f64>().map_err(|_| bad(i, raw, "a number"))?),
                    });
                }
                Series::new(name.clone(), v)
            }
            ColumnKind::Flag => {
                let mut v = Vec::with_capacity(cells.len());
                for (i, raw) in cells.iter().enumerate() {
                    v.push(match cell(raw).map(str::to_ascii_lowercase).as_deref() {
                        None => None,
                        Some("true") | Some("1") => Some(true),
                        Some("false") | Some("0") => Some(false),
                        Some(_) => return Err(bad(i, raw, "true or false")),
                    });
                }
                Series::new(name.clone(), v)
            }
            ColumnKind::Set => {
                let mut b = ListStringChunkedBuilder::new(name.clone(), cells.len(), cells.len());
                for raw in cells.iter() {
                    let items = cell(raw).unwrap_or_default();
                    b.append_values_iter(items.split(';').map(str::trim).filter(|x| !x.is_empty()));
                }
                b.finish().into_series()
            }
            ColumnKind::Text => cells
                .iter()
                .map(cell)
                .collect::<StringChunked>()
                .with_name(name.clone())
                .into_series(),
        };
        columns.push(series.into_column());
    }
    DataFrame::new_infer_height(columns).map_err(|e| e.to_string())
}

/// A frame as arrow-rs record batches, for the engine.
pub fn frame_to_batches(df: &mut DataFrame) -> Result<Vec<RecordBatch>, String> {
    let mut bytes = Vec::new();
    IpcWriter::new(&mut bytes)
        .finish(df)
        .map_err(|e| e.to_string())?;
    arrow_ipc::reader::FileReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// An arrow-rs record batch (an engine table) as a frame.
pub fn batch_to_frame(batch: &RecordBatch) -> Result<DataFrame, String> {
    let mut bytes = Vec::new();
    {
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut bytes, &batch.schema())
            .map_err(|e| e.to_string())?;
        w.write(batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    IpcReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|e| e.to_string())
}

/// Encode a frame in the given format.
pub fn write_frame(
    out: &mut impl std::io::Write,
    df: &mut DataFrame,
    format: TableFormat,
) -> Result<(), String> {
    match format {
        TableFormat::ArrowIpc => IpcWriter::new(out).finish(df).map_err(|e| e.to_string()),
        TableFormat::Parquet => ParquetWriter::new(out)
            .finish(df)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        TableFormat::Csv => {
            let mut flat = join_lists(df)?;
            CsvWriter::new(out)
                .include_header(true)
                .finish(&mut flat)
                .map_err(|e| e.to_string())
        }
    }
}

/// List-of-string columns as `;`-joined text (CSV has no lists).
fn join_lists(df: &DataFrame) -> Result<DataFrame, String> {
    let mut columns = Vec::with_capacity(df.width());
    for col in df.columns() {
        if let DataType::List(_) = col.dtype() {
            let lists = col.list().map_err(|e| e.to_string())?;
            let joined: StringChunked = (0..lists.len())
                .map(|i| lists.get_as_series(i))
                .map(|l| {
                    l.map(|s| {
                        s.str()
                            .map(|s| s.iter().flatten().collect::<Vec<_>>().join(";"))
                            .unwrap_or_default()
                    })
                })
                .collect();
            columns.push(joined.with_name(col.name().clone()).into_column());
        } else {
            columns.push(col.clone());
        }
    }
    DataFrame::new_infer_height(columns).map_err(|e| e.to_string())
}

/// The metrics compared across policies by `summarise_runs`, in the order they are printed.
pub const COMPARED_METRICS: [&str; 10] = [
    "coverage_ratio",
    "min_group_ratio",
    "jain_index",
    "cost",
    "mean_access_time_h",
    "access_time_p90_h",
    "served_within_1h",
    "utilisation",
    "duplication_avoided",
    "solve_ms",
];

/// Distribution of one metric under one policy, over the runs where it is defined.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStats {
    pub policy: String,
    pub metric: &'static str,
    pub runs: usize,
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
}

/// Per policy (in order of first appearance) and compared metric: how many runs define it, the
/// mean and nearest-rank p10/p50/p90, computed by one polars group-by over the run table.
pub fn summarise_runs(runs: &DataFrame) -> Result<Vec<MetricStats>, String> {
    let metrics: Vec<&'static str> = COMPARED_METRICS
        .into_iter()
        .filter(|m| runs.column(m).is_ok())
        .collect();
    let mut aggs = Vec::new();
    for m in &metrics {
        let v = col(*m).cast(DataType::Float64);
        aggs.push(v.clone().count().alias(format!("{m}/runs")));
        aggs.push(v.clone().mean().alias(format!("{m}/mean")));
        for (q, tag) in [(0.1, "p10"), (0.5, "p50"), (0.9, "p90")] {
            aggs.push(
                v.clone()
                    .quantile(lit(q), QuantileMethod::Nearest)
                    .alias(format!("{m}/{tag}")),
            );
        }
    }
    let table = runs
        .clone()
        .lazy()
        .group_by_stable([col("policy")])
        .agg(aggs)
        .collect()
        .map_err(|e| e.to_string())?;
    let policies = table
        .column("policy")
        .and_then(|c| c.str().cloned())
        .map_err(|e| e.to_string())?;
    let value = |name: String, row: usize| -> Result<Option<f64>, String> {
        let c = table.column(&name).map_err(|e| e.to_string())?;
        let c = c.cast(&DataType::Float64).map_err(|e| e.to_string())?;
        Ok(c.f64().map_err(|e| e.to_string())?.get(row))
    };
    let mut out = Vec::new();
    for (row, policy) in policies.iter().enumerate() {
        for m in &metrics {
            let runs = value(format!("{m}/runs"), row)?.unwrap_or(0.0) as usize;
            if runs == 0 {
                continue;
            }
            let get = |tag: &str| value(format!("{m}/{tag}"), row).map(|v| v.unwrap_or(f64::NAN));
            out.push(MetricStats {
                policy: policy.unwrap_or_default().to_string(),
                metric: m,
                runs,
                mean: get("mean")?,
                p10: get("p10")?,
                p50: get("p50")?,
                p90: get("p90")?,
            });
        }
    }
    Ok(out)
}
