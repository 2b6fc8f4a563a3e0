//! Scenario tables in and out of files, all through arrow-rs: CSV (read with the `csv` crate
//! and typed by column name), Parquet (the `parquet` crate) and Arrow IPC files and streams
//! (`arrow-ipc`, LZ4 and ZSTD included) become record batches with the column types the engine
//! reads; result batches are written back in any of the three; simulation run tables are
//! aggregated per policy.
//!
//! Column types follow SPEC section 3 by column name: quantities `cap_/dem_/use_<dim>` and the
//! numeric fields are Float64, `indivisible`/`cross_community` Boolean, `skills` /
//! `required_skills` lists of strings (`;`-joined in CSV). A CSV cell that does not parse is an
//! error naming its line and column; a Parquet or Arrow column of the wrong type is an error
//! naming the column and the type found.

use crate::TableFormat;
use arrow_array::{Array, ArrayRef, RecordBatch};
use commonsnet_engine::input::Problems;
use commonsnet_engine::schema::{column_kind, ColumnKind};
use std::sync::Arc;

/// Why a table could not be read or written. Input errors name where they are: a CSV line and
/// column, an Arrow or Parquet column, or the part of the framing that is damaged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    /// A CSV cell that is not of its column's type (lines count the header as line 1).
    #[error("line {line}, column {column}: {value:?} is not {expected}")]
    Cell {
        line: u64,
        column: String,
        value: String,
        expected: &'static str,
    },
    /// CSV text that is not a table: ragged rows, bad UTF-8, an empty or repeated column name.
    #[error("CSV line {line}: {message}")]
    Csv { line: u64, message: String },
    /// Columns whose types or names tables do not allow: every one a table has, in its
    /// order, so one round of fixes mends them all.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Columns(Vec<ColumnProblem>),
    /// Arrow IPC bytes whose framing is damaged, hostile or not Arrow at all.
    #[error("{}: {message}", if *.file { "not a readable Arrow IPC file" } else { "not Arrow IPC or Parquet" })]
    Arrow { file: bool, message: String },
    /// A Parquet file that is damaged or claims more than its bytes hold.
    #[error("not a readable Parquet file: {0}")]
    Parquet(String),
    /// A third-party decoder panicked on the bytes (contained, see [`contained`]).
    #[error("malformed {format} data: the file is damaged or not one of its format (the decoder stopped on it: {message})")]
    Decoder {
        format: &'static str,
        message: String,
    },
    /// Columns that do not make one table (arrow-rs's own consistency check).
    #[error("the columns do not make one table: {0}")]
    Inconsistent(String),
    /// Encoding a table failed (an Arrow type a format cannot hold, or the sink's I/O).
    #[error("cannot write the table: {0}")]
    Write(String),
}

impl TableError {
    /// One column's problem.
    pub fn column(column: impl Into<String>, message: impl Into<String>) -> Self {
        TableError::Columns(vec![ColumnProblem {
            column: column.into(),
            message: message.into(),
        }])
    }
}

/// A column a table may not hold as it is: its name and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ColumnProblem {
    pub column: String,
    pub message: String,
}

impl From<std::io::Error> for TableError {
    fn from(e: std::io::Error) -> Self {
        TableError::Write(e.to_string())
    }
}

fn write_err(e: impl std::fmt::Display) -> TableError {
    TableError::Write(e.to_string())
}

/// Read a table from bytes as record batches with the column types of SPEC section 3: Parquet
/// and Arrow IPC files and streams are told apart by their magic bytes; `csv` says the bytes are
/// CSV text with a header row.
///
/// Every path is total: whatever the bytes, the answer is batches or an error naming what is
/// wrong (for a column: its name and type), never a panic, and no allocation is sized by a count
/// the bytes claim but cannot back.
pub fn read_table(bytes: &[u8], csv: bool) -> Result<Vec<RecordBatch>, TableError> {
    read_table_with(bytes, csv, None)
}

/// A cell or a column a table read could not type: the cell is read as empty, the column
/// left out, and the read goes on, so that a scenario's other problems are found with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadProblem {
    /// The data row (0-based, the header not counted), or `None` for a whole column.
    pub row: Option<usize>,
    pub column: String,
    pub message: String,
}

/// A table read by [`read_table_collecting`]: its batches, what the reader could not type,
/// and where each row is in its source.
#[derive(Debug, Default)]
pub struct TableRead {
    pub batches: Vec<RecordBatch>,
    pub problems: Vec<ReadProblem>,
    /// Bad cells past the first [`MAX_ISSUES`](commonsnet_engine::input::MAX_ISSUES): counted,
    /// not listed, so that a file of bad cells does not become millions of messages.
    pub unlisted: usize,
    /// The line each row starts on in a CSV file (the header is line 1); empty for Arrow and
    /// Parquet.
    pub lines: Vec<u64>,
}

impl TableRead {
    /// The reader's problems as issues of table `table`, read from `source` (a file's name, a
    /// part of a form), into `found` for the validator to list with its own (those past the
    /// bound counted with its count); [`RowSources::place`] says where each row's is.
    pub fn report(&mut self, table: &str, source: &str, found: &mut Problems) {
        for p in std::mem::take(&mut self.problems) {
            found.push(commonsnet_engine::InputIssue {
                table: table.to_string(),
                row: p.row,
                message: match p.row {
                    Some(_) => p.message,
                    None => format!("{} (the column of {source})", p.message),
                },
                field: Some(p.column),
            });
        }
        found.count(std::mem::take(&mut self.unlisted));
    }
}

/// Where the rows of a scenario's tables came from, to say it in the problems of a row.
#[derive(Debug, Default)]
pub struct RowSources(Vec<(String, String, Vec<u64>)>);

impl RowSources {
    /// Table `table`'s rows come from `source`, starting on `lines` (CSV; else empty).
    pub fn add(&mut self, table: &str, source: &str, lines: Vec<u64>) {
        self.0.push((table.to_string(), source.to_string(), lines));
    }

    /// Each problem of a row said with its line and source, `(line 3) in needs.csv`, or its
    /// source alone where the table has no lines: the validator names a row by its index
    /// from 0, which in a CSV file is two lines above it.
    pub fn place(&self, mut e: commonsnet_engine::InvalidInput) -> commonsnet_engine::InvalidInput {
        for issue in &mut e.issues {
            let Some(row) = issue.row else { continue };
            let Some((_, source, lines)) = self.0.iter().find(|(t, _, _)| *t == issue.table) else {
                continue;
            };
            issue.message = match lines.get(row) {
                Some(line) => format!("{} (line {line}) in {source}", issue.message),
                None => format!("{} in {source}", issue.message),
            };
        }
        e
    }
}

/// [`read_table`], but a CSV cell that is not of its column's type, or a column of a type
/// tables do not allow, is a [`ReadProblem`] beside the batches rather than the end of the
/// read (a bad `indivisible` cell hid the seven other problems of its file).
pub fn read_table_collecting(bytes: &[u8], csv: bool) -> Result<TableRead, TableError> {
    let mut read = TableRead::default();
    read.batches = read_table_with(
        bytes,
        csv,
        Some((&mut read.problems, &mut read.lines, &mut read.unlisted)),
    )?;
    Ok(read)
}

fn read_table_with(
    bytes: &[u8],
    csv: bool,
    collect: Option<(&mut Vec<ReadProblem>, &mut Vec<u64>, &mut usize)>,
) -> Result<Vec<RecordBatch>, TableError> {
    let (mut problems, lines, unlisted) = match collect {
        Some((problems, lines, unlisted)) => (Some(problems), Some(lines), Some(unlisted)),
        None => (None, None, None),
    };
    let batches = if bytes.starts_with(b"PAR1") {
        contained("Parquet", || read_parquet(bytes))?
    } else if bytes.starts_with(b"ARROW1") {
        contained("Arrow IPC", || {
            ipc::read(bytes, ipc::Layout::File).map_err(|d| d.into_error(true))
        })?
    } else if csv {
        // A text column past 2 GiB overflows arrow's 32-bit offsets, which panics.
        vec![contained("CSV", || {
            read_csv(bytes, problems.as_deref_mut(), lines, unlisted)
        })?]
    } else {
        contained("Arrow IPC", || {
            ipc::read(bytes, ipc::Layout::Stream).map_err(|d| d.into_error(false))
        })?
    };
    conform(batches, problems)
}

/// Run one of arrow-rs's decoders, containing a panic. The checks before each decoder are
/// meant to leave it nothing to panic on; should one slip through, a table must still be an
/// answer or an error, never the end of the process or of an HTTP connection, so a panic while
/// decoding is reported as unreadable data and everything the decoder touched is dropped with
/// it. Such a panic is not printed (no "thread panicked" and backtrace on a CLI's or server's
/// error output for a damaged file: [`quiet_while_decoding`]); the fuzz targets report them
/// under `COMMONSNET_FUZZ_STRICT=1` (fuzz/src/lib.rs).
fn contained<T>(
    format: &'static str,
    decode: impl FnOnce() -> Result<T, TableError>,
) -> Result<T, TableError> {
    quiet_while_decoding();
    DECODING.with(|d| d.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    DECODING.with(|d| d.set(false));
    match outcome {
        Ok(result) => result,
        Err(panic) => Err(TableError::Decoder {
            format,
            message: commonsnet_engine::batch::panic_message(panic.as_ref()),
        }),
    }
}

thread_local! {
    /// Whether this thread is inside [`contained`]'s decoder.
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Set by [`report_contained_panics`].
static REPORT_CONTAINED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Contained decoder panics go to the panic hook like any other from now on (the fuzz
/// targets' strict mode, which aborts on them to find decoder bugs).
pub fn report_contained_panics() {
    REPORT_CONTAINED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Puts a panic hook in front of the process's (once): a panic on a thread inside
/// [`contained`] is not printed, since it becomes the read's error; every other panic goes to
/// the hook that was there before.
fn quiet_while_decoding() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = DECODING.with(|d| d.get())
                && !REPORT_CONTAINED.load(std::sync::atomic::Ordering::Relaxed);
            if !quiet {
                before(info);
            }
        }));
    });
}

/// Cells a Parquet file may expand to per byte of file (Parquet's run-length and dictionary
/// encodings, then compression, make real tables far denser than this), plus a fixed allowance
/// for small files (a quarter of a million cells: each row becomes a JSON object of several
/// hundred bytes in the engine, so a larger allowance let a 15 KB file take 3.4 GB). A file
/// that claims more rows than this is refused before it is decoded.
const PARQUET_CELLS_PER_BYTE: usize = 64;
const PARQUET_CELLS_SLACK: usize = 1 << 18;

/// Rows per record batch when decoding Parquet.
const PARQUET_BATCH_ROWS: usize = 64 * 1024;

/// Bytes a Parquet file may decompress and decode to: its pages' declared uncompressed size,
/// and then the record batches as they are read. A 714-byte file (one 4,000-character string
/// under 262,144 dictionary keys, ZSTD) decoded to 2.3 GB.
const PARQUET_DECODED_MAX: usize = 512 << 20;

/// Parquet through arrow-rs's `parquet` crate, straight to record batches (it reports malformed
/// pages as errors and sizes its page buffers by 32-bit header fields). Its footer is walked
/// first ([`crate::parquet_footer`]: arrow-rs sizes lists by their claimed counts), and the row
/// count it declares is checked against the file's size before any page is decoded.
fn read_parquet(bytes: &[u8]) -> Result<Vec<RecordBatch>, TableError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: parquet::errors::ParquetError| TableError::Parquet(e.to_string());
    crate::parquet_footer::check(bytes).map_err(|e| TableError::Parquet(e.to_string()))?;
    // One copy of the file, shared (a `Bytes` clone is a reference) by the bound on its
    // dictionaries and the decoder.
    let file = bytes::Bytes::copy_from_slice(bytes);
    // The Arrow schema in the footer is read (a run table's metadata, what made it, is
    // there); a damaged one panics in arrow-ipc's decoder, contained by the caller.
    let builder = ParquetRecordBatchReaderBuilder::try_new(file.clone()).map_err(bad)?;
    let metadata = builder.metadata().clone();
    let uncompressed = metadata
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .map(|c| usize::try_from(c.uncompressed_size().max(0)).unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add);
    if uncompressed > PARQUET_DECODED_MAX {
        return Err(TableError::Parquet(format!(
            "the file's pages decompress to {uncompressed} bytes, more than {PARQUET_DECODED_MAX}"
        )));
    }
    // A dictionary value is copied into every row that refers to it, so a batch decodes to at
    // most its rows times the largest column chunk that has a dictionary (which holds it):
    // batches are sized so that this stays within half the bound (at least 256 rows, so a
    // dictionary value over 1 MB can pass it by one batch), and checked as they come. Chunks
    // without a dictionary decode to their pages, bounded above.
    let widest = metadata
        .row_groups()
        .iter()
        .flat_map(|g| g.columns())
        .filter(|c| c.dictionary_page_offset().is_some())
        .map(|c| usize::try_from(c.uncompressed_size().max(0)).unwrap_or(usize::MAX))
        .max()
        .unwrap_or(0);
    let batch_rows = (PARQUET_DECODED_MAX / 2 / widest.max(1)).clamp(256, PARQUET_BATCH_ROWS);
    let columns = builder.schema().fields().len();
    let rows = usize::try_from(metadata.file_metadata().num_rows().max(0)).unwrap_or(usize::MAX);
    // Row groups are what is decoded: their counts, not the footer's total, size the buffers.
    let group_rows = metadata
        .row_groups()
        .iter()
        .map(|g| usize::try_from(g.num_rows().max(0)).unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add);
    let cells = rows.max(group_rows).saturating_mul(columns.max(1));
    let limit = bytes
        .len()
        .saturating_mul(PARQUET_CELLS_PER_BYTE)
        .saturating_add(PARQUET_CELLS_SLACK);
    if cells > limit {
        return Err(TableError::Parquet(format!(
            "the file claims {} rows of {columns} columns, more than its {} bytes can hold",
            rows.max(group_rows),
            bytes.len()
        )));
    }
    let expansion = dictionary_expansion(file)?;
    if expansion > PARQUET_DECODED_MAX {
        return Err(TableError::Parquet(format!(
            "the file's dictionary-encoded columns decode to up to {expansion} bytes, more than {PARQUET_DECODED_MAX}"
        )));
    }
    let mut batches = Vec::new();
    let mut decoded = 0usize;
    // The reader's batches carry the columns only: the table's metadata (a run table's
    // provenance) is the file's.
    let table_metadata = builder.schema().metadata().clone();
    for batch in builder.with_batch_size(batch_rows).build().map_err(bad)? {
        let batch = batch.map_err(|e| TableError::Parquet(e.to_string()))?;
        let batch = if table_metadata.is_empty() {
            batch
        } else {
            let schema = batch
                .schema()
                .as_ref()
                .clone()
                .with_metadata(table_metadata.clone());
            batch
                .with_schema(Arc::new(schema))
                .map_err(|e| TableError::Inconsistent(e.to_string()))?
        };
        decoded = decoded.saturating_add(batch.get_array_memory_size());
        if decoded > PARQUET_DECODED_MAX {
            return Err(TableError::Parquet(format!(
                "the file decodes to more than {PARQUET_DECODED_MAX} bytes"
            )));
        }
        batches.push(batch);
    }
    Ok(batches)
}

/// An upper bound on the bytes the file's dictionary-encoded column chunks decode to: every
/// value a chunk's data pages hold (every item of their list cells too) as long as the
/// longest value of its dictionary, plus an offset or a view. A dictionary value is copied
/// into every value that refers to it, and one list cell may hold millions of them, which no
/// bound on rows sees: 20,000,000 copies of one 100-byte string in one row of a 1,305-byte
/// file asked for 3.3 GB at once and aborted the process (a failed allocation is not a panic).
///
/// Read from the pages' own headers, as the decoder reads them (the footer's dictionary
/// offset and value count are not what it goes by: a footer without the offset or with a
/// count of 1 passed a bound taken from it); only dictionary pages are decompressed.
fn dictionary_expansion(file: bytes::Bytes) -> Result<usize, TableError> {
    use parquet::basic::Type as Physical;
    use parquet::column::page::Page;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bad = |e: parquet::errors::ParquetError| TableError::Parquet(e.to_string());
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let mut total = 0usize;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(bad)?;
        for c in 0..group.num_columns() {
            let chunk = group.metadata().column(c);
            let fixed = match chunk.column_type() {
                Physical::BYTE_ARRAY => None,
                Physical::FIXED_LEN_BYTE_ARRAY => {
                    Some(usize::try_from(chunk.column_descr().type_length().max(0)).unwrap_or(0))
                }
                _ => Some(12),
            };
            let mut pages = group.get_column_page_reader(c).map_err(bad)?;
            let (mut values, mut longest, mut dictionary) = (0usize, 0usize, false);
            while let Some(page) = pages.peek_next_page().map_err(bad)? {
                if page.is_dict {
                    dictionary = true;
                    longest = longest.max(match (fixed, pages.get_next_page().map_err(bad)?) {
                        (Some(width), _) => width,
                        (None, Some(Page::DictionaryPage { buf, .. })) => longest_plain_value(&buf),
                        (None, _) => 0,
                    });
                } else {
                    let levels = page.num_levels.unwrap_or(usize::MAX);
                    values = values.saturating_add(levels);
                    pages.skip_next_page().map_err(bad)?;
                }
            }
            if dictionary {
                total = total.saturating_add(values.saturating_mul(longest.saturating_add(16)));
            }
        }
    }
    Ok(total)
}

/// The longest value of a PLAIN-encoded byte-array dictionary page (each value its length as
/// 4 little-endian bytes, then its bytes); a length past the page's end counts as the rest of
/// it (the decoder refuses such a page anyway).
fn longest_plain_value(page: &[u8]) -> usize {
    let (mut at, mut longest) = (0usize, 0usize);
    while let Some(head) = at.checked_add(4).and_then(|end| page.get(at..end)) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let rest = page.len() - at - 4;
        longest = longest.max(len.min(rest));
        at = at.saturating_add(4).saturating_add(len);
    }
    longest
}

/// Check and normalise the column types of a table by the names of SPEC section 3: numeric
/// columns of any integer, float or decimal type become Float64, flags stay Boolean, sets of any
/// list layout (fixed-size included) of strings become `list<utf8>`; a column of another type is
/// an error naming the column and the type found, and so is a name given twice. Other columns
/// are left to the validator.
fn conform(
    batches: Vec<RecordBatch>,
    mut collect: Option<&mut Vec<ReadProblem>>,
) -> Result<Vec<RecordBatch>, TableError> {
    let collecting = collect.is_some();
    let mut viewed = 0;
    batches
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let first = i == 0;
            conform_batch(
                &b,
                collect.as_deref_mut().filter(|_| first),
                collecting && !first,
                &mut viewed,
            )
        })
        .collect()
}

/// `collect`: the column problems go there and the columns are left out (of the first
/// batch; the later ones have the same schema, so their problems are the same).
/// `quiet`: drop the bad columns without a word (a later batch, when collecting).
fn conform_batch(
    batch: &RecordBatch,
    collect: Option<&mut Vec<ReadProblem>>,
    quiet: bool,
    viewed: &mut usize,
) -> Result<RecordBatch, TableError> {
    use arrow_schema::{DataType as A, Field, Schema};
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let mut seen = std::collections::HashSet::new();
    let mut problems = Vec::new();
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name();
        if !seen.insert(name.as_str()) {
            problems.push(ColumnProblem {
                column: name.clone(),
                message: "the table has two columns of this name".into(),
            });
            continue;
        }
        let kind = column_kind(name);
        let converted = match kind {
            ColumnKind::Number => widen::to_f64(col.as_ref()),
            ColumnKind::Flag => match col.data_type() {
                A::Boolean => Some(col.clone()),
                // Kept as nulls of no type: no allocation per row (the engine reads them).
                A::Null => Some(col.clone()),
                _ => None,
            },
            ColumnKind::Set => match widen::to_string_list(col.as_ref(), viewed) {
                Ok(converted) => converted,
                // Not a problem to collect and read on past: the bound is on the whole
                // table, so a later batch can pass it where the first did not.
                Err(message) => {
                    return Err(TableError::Columns(vec![ColumnProblem {
                        column: name.clone(),
                        message,
                    }]));
                }
            },
            ColumnKind::Text => Some(col.clone()),
        };
        // A column of nulls alone holds no value whatever its type, as the engine reads
        // Arrow tables given to it directly (Python's): read as nulls, not refused.
        let converted = converted.or_else(|| {
            (col.logical_null_count() == col.len() && !col.is_empty())
                .then(|| Arc::new(arrow_array::NullArray::new(col.len())) as ArrayRef)
        });
        let Some(converted) = converted else {
            problems.push(ColumnProblem {
                column: name.clone(),
                message: format!("expected {}, found {}", kind.expected(), col.data_type()),
            });
            continue;
        };
        fields.push(Field::new(
            name.as_str(),
            converted.data_type().clone(),
            true,
        ));
        columns.push(converted);
    }
    if !problems.is_empty() {
        match collect {
            Some(out) => out.extend(problems.into_iter().map(|p| ReadProblem {
                row: None,
                column: p.column,
                message: p.message,
            })),
            None if quiet => {}
            None => return Err(TableError::Columns(problems)),
        }
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    // The table's own metadata stays (a run table's provenance, `Batch::provenance`).
    let schema = Schema::new(fields).with_metadata(schema.metadata().clone());
    RecordBatch::try_new_with_options(Arc::new(schema), columns, &options)
        .map_err(|e| TableError::Inconsistent(e.to_string()))
}

/// Arrow arrays widened to the types the engine reads.
mod widen {
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_array::{Array, ArrayRef, Float64Array};
    use arrow_schema::DataType as A;
    use commonsnet_engine::input::MAX_SHARED_TEXT;
    use std::sync::Arc;

    /// Any integer, float or decimal column as Float64 (nulls kept), read through the engine's
    /// one table of numeric types; `None` for other types.
    pub(super) fn to_f64(col: &dyn Array) -> Option<ArrayRef> {
        use commonsnet_engine::input::numeric_cell;
        Some(match col.data_type() {
            A::Float64 => Arc::new(col.as_primitive::<Float64Type>().clone()),
            // Kept as nulls of no type: no allocation per row (the engine reads them).
            A::Null => Arc::new(arrow_array::NullArray::new(col.len())),
            _ => {
                if col.is_empty() {
                    return col
                        .data_type()
                        .is_numeric()
                        .then(|| Arc::new(Float64Array::from(Vec::<f64>::new())) as ArrayRef);
                }
                // A non-numeric column answers `None` at its first row.
                let mut out = Float64Array::builder(col.len());
                for i in 0..col.len() {
                    let x = numeric_cell(col, i)?;
                    out.append_option(col.is_valid(i).then_some(x));
                }
                Arc::new(out.finish())
            }
        })
    }

    /// A column of lists of strings, in any list layout (fixed-size included), as `list<utf8>`;
    /// a null column as nulls. `Ok(None)` for other types; an error when its items are views
    /// that would copy out to more than [`MAX_SHARED_TEXT`] bytes of text, with those of the
    /// table's earlier columns and batches (`viewed`).
    pub(super) fn to_string_list(
        col: &dyn Array,
        viewed: &mut usize,
    ) -> Result<Option<ArrayRef>, String> {
        let item_ok = |t: &A| matches!(t, A::Utf8 | A::LargeUtf8 | A::Utf8View | A::Null);
        let ok = match col.data_type() {
            // Kept as nulls of no type: no allocation per row (the engine reads them).
            A::Null => return Ok(Some(Arc::new(arrow_array::NullArray::new(col.len())))),
            A::List(f) | A::LargeList(f) | A::FixedSizeList(f, _) => item_ok(f.data_type()),
            _ => false,
        };
        if !ok {
            return Ok(None);
        }
        // Counted over the table's batches: they are all held at once.
        *viewed = viewed.saturating_add(viewed_text(col));
        let text = *viewed;
        if text > MAX_SHARED_TEXT {
            return Err(format!(
                "its string views refer to {text} bytes of text, more than {MAX_SHARED_TEXT}: send shorter or plain strings"
            ));
        }
        let mut b = ListBuilder::new(StringBuilder::new());
        for i in 0..col.len() {
            if col.is_null(i) {
                b.append(false);
                continue;
            }
            let items: ArrayRef = match col.data_type() {
                A::List(_) => col.as_list::<i32>().value(i),
                A::LargeList(_) => col.as_list::<i64>().value(i),
                A::FixedSizeList(_, _) => col.as_fixed_size_list().value(i),
                _ => {
                    b.append(false);
                    continue;
                }
            };
            for j in 0..items.len() {
                if items.is_null(j) {
                    continue;
                }
                match items.data_type() {
                    A::Utf8 => b.values().append_value(items.as_string::<i32>().value(j)),
                    A::LargeUtf8 => b.values().append_value(items.as_string::<i64>().value(j)),
                    A::Utf8View => b.values().append_value(items.as_string_view().value(j)),
                    _ => {}
                }
            }
            b.append(true);
        }
        Ok(Some(Arc::new(b.finish())))
    }

    /// The bytes of text the string-view items of a list column refer to, each view counted
    /// as often as it stands: views may all point at one stored string, so a 1 KB stream
    /// could copy out to gigabytes (60,000 views of one 64 KiB string overflowed a string
    /// builder's offsets: a panic). Plain string items are stored once each: 0 for them.
    fn viewed_text(col: &dyn Array) -> usize {
        let items = match col.data_type() {
            A::List(_) => col.as_list::<i32>().values(),
            A::LargeList(_) => col.as_list::<i64>().values(),
            A::FixedSizeList(_, _) => col.as_fixed_size_list().values(),
            _ => return 0,
        };
        if !matches!(items.data_type(), A::Utf8View) {
            return 0;
        }
        // A view's low 32 bits are its string's length (the Arrow columnar format).
        items
            .as_string_view()
            .views()
            .iter()
            .map(|&v| v as u32 as usize)
            .fold(0, usize::saturating_add)
    }
}

/// Arrow IPC files and streams, read by arrow-rs after their framing and schema have been
/// checked here. arrow-rs trusts what a file says: it allocates the lengths it finds, slices
/// buffers at the offsets it finds and panics on types it cannot build, so a hostile or damaged
/// file could crash the process or make it allocate gigabytes. Before arrow-rs sees the bytes,
/// every message, block, body and buffer is checked to lie inside them, every field's type to be
/// one of those tables use (refused otherwise, naming the column and the type), every node's
/// length to be backed by bytes, validity buffers to cover their arrays, footer blocks not to
/// overlap, and a batch's rows to be backed by its own buffers. Compressed buffers (LZ4 or ZSTD)
/// declare their uncompressed size; arrow-rs allocates it and then inflates with no bound, so
/// each declared size must fit what the file can expand to, and each buffer is inflated here
/// first, into nothing, reading at most one byte past its declared size, to check that it
/// inflates to exactly that.
mod ipc {
    use arrow_array::RecordBatch;
    use arrow_ipc::{Block, Message, MessageHeader, Type};
    use std::collections::{HashMap, VecDeque};
    use std::io::Cursor;

    /// What is wrong with IPC bytes, in words naming the column where there is one.
    pub(super) struct Damage(String);

    impl From<String> for Damage {
        fn from(s: String) -> Self {
            Damage(s)
        }
    }

    impl From<&str> for Damage {
        fn from(s: &str) -> Self {
            Damage(s.into())
        }
    }

    impl Damage {
        pub(super) fn into_error(self, file: bool) -> super::TableError {
            super::TableError::Arrow {
                file,
                message: self.0,
            }
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Layout {
        File,
        Stream,
    }

    /// Rows (and array elements) a table may have per byte of file: a boolean takes one bit
    /// (only null-typed columns take less, and no table is made of nothing else).
    const ROWS_PER_BYTE: usize = 8;
    /// Bytes compressed buffers may declare in all (their uncompressed size), per byte of file,
    /// plus a fixed allowance for small files, and never more than `MAX_UNCOMPRESSED`.
    const UNCOMPRESSED_PER_BYTE: usize = 256;
    /// (1 MiB: a quarter of a million rows for a small compressed file; 16 MiB let a 650-byte
    /// file of one `Int8` column claim 4 million rows, 3.4 GB once the engine reads them.)
    const UNCOMPRESSED_SLACK: usize = 1 << 20;
    const MAX_UNCOMPRESSED: usize = 256 << 20;
    /// Uncompressed bytes per row of a compressed table, at least, for the file-wide row bound
    /// (a scenario table has a string id column, offsets of 4 bytes a row; a table without
    /// one is still bounded per batch by its own buffers, see `check_batch`).
    const UNCOMPRESSED_BYTES_PER_ROW: usize = 4;

    /// How arrow-rs consumes the field nodes and buffers of a column of this type.
    #[derive(Clone, Debug, PartialEq)]
    enum Shape {
        /// One node, no buffer.
        Null,
        /// Validity and values (booleans, integers, floats, decimals).
        Fixed,
        /// Validity, offsets (of this many bytes each) and data (utf8, binary, large ones).
        Var(usize),
        /// Validity, views and a variadic count of data buffers (utf8 and binary views).
        View,
        /// Validity, offsets (of this many bytes each), then the child.
        List(usize, Box<Shape>),
        /// Validity, then the child of `size` items per row.
        FixedList(Box<Shape>, usize),
        /// Validity and keys (of this many bytes each); the values come in dictionary batches.
        Dictionary(usize),
    }

    /// Bytes of a view (utf8 and binary views).
    const VIEW_BYTES: usize = 16;

    /// A checked schema: each column's shape and the value shape of each dictionary.
    struct Schema {
        columns: Vec<(String, Shape)>,
        dictionaries: HashMap<i64, Shape>,
    }

    /// Read every record batch of an IPC file or stream, or say why not.
    pub(super) fn read(bytes: &[u8], layout: Layout) -> Result<Vec<RecordBatch>, Damage> {
        match layout {
            Layout::File => {
                check_file(bytes)?;
                arrow_ipc::reader::FileReader::try_new(Cursor::new(bytes), None)
                    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            }
            Layout::Stream => {
                check_stream(bytes)?;
                arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), None)
                    .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            }
        }
        .map_err(|e| Damage(e.to_string()))
    }

    fn check_file(bytes: &[u8]) -> Result<(), Damage> {
        let n = bytes.len();
        // Leading magic and padding (8 bytes), footer length (4) and trailing magic (6).
        if n < 18 || &bytes[n - 6..] != b"ARROW1" {
            return Err("no Arrow IPC footer (the file is truncated?)".into());
        }
        let footer_len = i32::from_le_bytes(le4(&bytes[n - 10..n - 6]));
        let footer_len = usize::try_from(footer_len)
            .ok()
            .filter(|&l| l <= n - 18)
            .ok_or_else(|| format!("footer length {footer_len} does not fit the file"))?;
        let footer = arrow_ipc::root_as_footer(&bytes[n - 10 - footer_len..n - 10])
            .map_err(|e| format!("unreadable footer: {e}"))?;
        if let Some(kvs) = footer.custom_metadata() {
            if kvs
                .iter()
                .any(|kv| kv.key().is_none() || kv.value().is_none())
            {
                return Err("footer metadata with a missing key or value".into());
            }
        }
        let schema = check_schema(
            footer
                .schema()
                .ok_or_else(|| "the footer has no schema".to_string())?,
        )?;
        let mut budget = Budget::new(n);
        // Each block must have bytes of its own: blocks that overlap (the same message listed
        // many times) would make the work grow with blocks x columns, not with the file.
        let mut spans: Vec<(i64, i64)> = footer
            .dictionaries()
            .into_iter()
            .flatten()
            .chain(footer.recordBatches().into_iter().flatten())
            .map(|b| {
                let end = b
                    .offset()
                    .saturating_add(i64::from(b.metaDataLength()))
                    .saturating_add(b.bodyLength());
                (b.offset(), end)
            })
            .collect();
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err("two blocks of the footer overlap".into());
        }
        if let Some(blocks) = footer.dictionaries() {
            for block in blocks.iter() {
                let (message, body) = block_message(bytes, block)?;
                let dict = message
                    .header_as_dictionary_batch()
                    .ok_or_else(|| "a dictionary block holds no dictionary batch".to_string())?;
                check_dictionary(&schema, dict, body, &mut budget)?;
            }
        }
        let blocks = footer
            .recordBatches()
            .ok_or_else(|| "the footer lists no record batches".to_string())?;
        for block in blocks.iter() {
            let (message, body) = block_message(bytes, block)?;
            let batch = message
                .header_as_record_batch()
                .ok_or_else(|| "a record batch block holds no record batch".to_string())?;
            check_batch(&schema.columns, batch, body, &mut budget, true)?;
        }
        Ok(())
    }

    /// The message and body of a file block, as arrow-rs will slice them.
    fn block_message<'a>(
        bytes: &'a [u8],
        block: &Block,
    ) -> Result<(Message<'a>, &'a [u8]), Damage> {
        let bad = || {
            format!(
                "a block (offset {}, metadata {}, body {}) does not fit the file",
                block.offset(),
                block.metaDataLength(),
                block.bodyLength()
            )
        };
        let offset = usize::try_from(block.offset()).map_err(|_| bad())?;
        let meta = usize::try_from(block.metaDataLength())
            .ok()
            .filter(|&m| m >= 8)
            .ok_or_else(bad)?;
        let body = usize::try_from(block.bodyLength()).map_err(|_| bad())?;
        let end = offset
            .checked_add(meta)
            .and_then(|x| x.checked_add(body))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(bad)?;
        let buf = &bytes[offset..end];
        let fb = if buf[..4] == [0xff; 4] {
            &buf[8..]
        } else {
            &buf[4..]
        };
        let message =
            arrow_ipc::root_as_message(fb).map_err(|e| format!("unreadable message: {e}"))?;
        Ok((message, &buf[meta..]))
    }

    fn check_stream(bytes: &[u8]) -> Result<(), Damage> {
        let mut pos = 0usize;
        let mut schema: Option<Schema> = None;
        let mut budget = Budget::new(bytes.len());
        loop {
            let rest = &bytes[pos..];
            // Fewer than 4 bytes left: arrow-rs reads that as the end of the stream.
            if rest.len() < 4 {
                break;
            }
            let (prefix, len_bytes) = if rest[..4] == [0xff; 4] {
                if rest.len() < 8 {
                    return Err(format!("byte {pos}: truncated message length").into());
                }
                (8, &rest[4..8])
            } else {
                (4, &rest[..4])
            };
            let meta_len = i32::from_le_bytes(le4(len_bytes));
            if meta_len == 0 {
                break;
            }
            let meta_len = usize::try_from(meta_len)
                .ok()
                .filter(|&m| m <= rest.len() - prefix)
                .ok_or_else(|| {
                    format!("byte {pos}: a message of {meta_len} bytes does not fit the stream")
                })?;
            let meta = &rest[prefix..prefix + meta_len];
            let message = arrow_ipc::root_as_message(meta)
                .map_err(|e| format!("byte {pos}: unreadable message: {e}"))?;
            let start = prefix + meta_len;
            let body_len = usize::try_from(message.bodyLength())
                .ok()
                .filter(|&b| b <= rest.len() - start)
                .ok_or_else(|| {
                    format!(
                        "byte {pos}: a message body of {} bytes does not fit the stream",
                        message.bodyLength()
                    )
                })?;
            let body = &rest[start..start + body_len];
            match message.header_type() {
                MessageHeader::Schema if schema.is_none() => {
                    let s = message
                        .header_as_schema()
                        .ok_or_else(|| "unreadable schema message".to_string())?;
                    schema = Some(check_schema(s)?);
                }
                MessageHeader::RecordBatch => {
                    let s = schema
                        .as_ref()
                        .ok_or_else(|| "a record batch before the schema".to_string())?;
                    let batch = message
                        .header_as_record_batch()
                        .ok_or_else(|| "unreadable record batch message".to_string())?;
                    check_batch(&s.columns, batch, body, &mut budget, true)?;
                }
                MessageHeader::DictionaryBatch => {
                    let s = schema
                        .as_ref()
                        .ok_or_else(|| "a dictionary batch before the schema".to_string())?;
                    let dict = message
                        .header_as_dictionary_batch()
                        .ok_or_else(|| "unreadable dictionary batch message".to_string())?;
                    check_dictionary(s, dict, body, &mut budget)?;
                }
                other => {
                    return Err(format!("byte {pos}: unexpected {other:?} message").into());
                }
            }
            pos += start + body_len;
        }
        schema.ok_or("no schema message")?;
        Ok(())
    }

    fn le4(b: &[u8]) -> [u8; 4] {
        let mut out = [0; 4];
        out.copy_from_slice(&b[..4]);
        out
    }

    fn check_schema(s: arrow_ipc::Schema) -> Result<Schema, Damage> {
        if s.endianness() != arrow_ipc::Endianness::Little {
            return Err("big-endian Arrow data is not supported".into());
        }
        let fields = s
            .fields()
            .ok_or_else(|| "the schema has no field list".to_string())?;
        let mut out = Schema {
            columns: Vec::with_capacity(fields.len()),
            dictionaries: HashMap::new(),
        };
        // Columns of types tables never hold are all named, as the type check after decoding
        // names its columns: one round of fixes mends them all.
        let mut unsupported = Vec::new();
        for field in fields.iter() {
            let name = field.name().unwrap_or_default().to_string();
            let shape = match field.dictionary() {
                Some(d) => {
                    let index = d.indexType().ok_or_else(|| {
                        format!("column {name}: dictionary without an index type")
                    })?;
                    if !matches!(index.bitWidth(), 8 | 16 | 32 | 64) {
                        return Err(format!(
                            "column {name}: dictionary index of {} bits",
                            index.bitWidth()
                        )
                        .into());
                    }
                    let values = shape_of(field, &name)?;
                    // Text, or fixed-width values (a pandas categorical of dates), which the
                    // type check after decoding refuses by column.
                    if !matches!(values, Shape::Var(_) | Shape::View | Shape::Fixed) {
                        return Err(format!(
                            "column {name}: unsupported type dictionary<{}>",
                            type_name(field)
                        )
                        .into());
                    }
                    let id = d.id();
                    if out.dictionaries.get(&id).is_some_and(|v| *v != values) {
                        return Err(format!(
                            "column {name}: dictionary {id} is shared by columns of other types"
                        )
                        .into());
                    }
                    out.dictionaries.insert(id, values);
                    Shape::Dictionary(index.bitWidth() as usize / 8)
                }
                None => match shape_of(field, &name) {
                    Ok(shape) => shape,
                    Err(Damage(message)) => {
                        unsupported.push(message);
                        continue;
                    }
                },
            };
            out.columns.push((name, shape));
        }
        if !unsupported.is_empty() {
            return Err(Damage(unsupported.join("; ")));
        }
        Ok(out)
    }

    /// The shape of a field's type (a dictionary's value type, for a dictionary column), if it
    /// is one tables use; otherwise an error naming the column and the type.
    fn shape_of(field: arrow_ipc::Field, column: &str) -> Result<Shape, Damage> {
        let unsupported = || format!("column {column}: unsupported type {}", type_name(field));
        let child = || -> Result<arrow_ipc::Field, Damage> {
            match field.children() {
                Some(c) if c.len() == 1 && c.get(0).dictionary().is_none() => Ok(c.get(0)),
                Some(c) if c.len() == 1 => Err(format!(
                    "column {column}: unsupported type (a dictionary inside a list)"
                )
                .into()),
                _ => Err(format!("column {column}: a list type needs exactly one child").into()),
            }
        };
        Ok(match field.type_type() {
            Type::Null => Shape::Null,
            Type::Bool => Shape::Fixed,
            Type::Int => {
                let t = field.type_as_int().ok_or_else(unsupported)?;
                if !matches!(t.bitWidth(), 8 | 16 | 32 | 64) {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            Type::FloatingPoint => {
                let t = field.type_as_floating_point().ok_or_else(unsupported)?;
                if !matches!(
                    t.precision(),
                    arrow_ipc::Precision::HALF
                        | arrow_ipc::Precision::SINGLE
                        | arrow_ipc::Precision::DOUBLE
                ) {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            Type::Decimal => {
                let t = field.type_as_decimal().ok_or_else(unsupported)?;
                let max_precision = match t.bitWidth() {
                    32 => 9,
                    64 => 18,
                    128 => 38,
                    256 => 76,
                    _ => return Err(unsupported().into()),
                };
                if !(1..=max_precision).contains(&t.precision()) || i8::try_from(t.scale()).is_err()
                {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            // Dates and times are fixed-width values: read, so that the type check after
            // decoding names the column and its type as it does a Parquet file's. Only the
            // units arrow-rs reads: it panics on any other.
            Type::Timestamp | Type::Duration => {
                let unit = (field.type_as_timestamp().map(|t| t.unit()))
                    .or_else(|| field.type_as_duration().map(|t| t.unit()));
                if !unit.is_some_and(|u| KNOWN_TIME_UNITS.contains(&u)) {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            Type::Date => {
                let t = field.type_as_date().ok_or_else(unsupported)?;
                if !matches!(
                    t.unit(),
                    arrow_ipc::DateUnit::DAY | arrow_ipc::DateUnit::MILLISECOND
                ) {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            Type::Time => {
                use arrow_ipc::TimeUnit as U;
                let t = field.type_as_time().ok_or_else(unsupported)?;
                if !matches!(
                    (t.bitWidth(), t.unit()),
                    (32, U::SECOND | U::MILLISECOND) | (64, U::MICROSECOND | U::NANOSECOND)
                ) {
                    return Err(unsupported().into());
                }
                Shape::Fixed
            }
            Type::Utf8 | Type::Binary => Shape::Var(4),
            Type::LargeUtf8 | Type::LargeBinary => Shape::Var(8),
            Type::Utf8View | Type::BinaryView => Shape::View,
            t @ (Type::List | Type::LargeList) => {
                let c = child()?;
                let offset = if t == Type::List { 4 } else { 8 };
                Shape::List(offset, Box::new(shape_of(c, column)?))
            }
            Type::FixedSizeList => {
                let t = field.type_as_fixed_size_list().ok_or_else(unsupported)?;
                let size = usize::try_from(t.listSize()).map_err(|_| unsupported())?;
                let c = child()?;
                Shape::FixedList(Box::new(shape_of(c, column)?), size)
            }
            _ => return Err(unsupported().into()),
        })
    }

    const KNOWN_TIME_UNITS: [arrow_ipc::TimeUnit; 4] = [
        arrow_ipc::TimeUnit::SECOND,
        arrow_ipc::TimeUnit::MILLISECOND,
        arrow_ipc::TimeUnit::MICROSECOND,
        arrow_ipc::TimeUnit::NANOSECOND,
    ];

    /// A field's type for messages: `Int8`, `UInt16`, `Float16`, `Decimal128(10, 2)`,
    /// `FixedSizeList(2)<Utf8>`, `Struct`...
    fn type_name(field: arrow_ipc::Field) -> String {
        match field.type_type() {
            Type::Int => match field.type_as_int() {
                Some(t) if t.is_signed() => format!("Int{}", t.bitWidth()),
                Some(t) => format!("UInt{}", t.bitWidth()),
                None => "Int".into(),
            },
            Type::FloatingPoint => match field.type_as_floating_point().map(|t| t.precision()) {
                Some(arrow_ipc::Precision::HALF) => "Float16".into(),
                Some(arrow_ipc::Precision::SINGLE) => "Float32".into(),
                Some(arrow_ipc::Precision::DOUBLE) => "Float64".into(),
                _ => "FloatingPoint".into(),
            },
            Type::Decimal => match field.type_as_decimal() {
                Some(t) => format!("Decimal{}({}, {})", t.bitWidth(), t.precision(), t.scale()),
                None => "Decimal".into(),
            },
            t @ (Type::List | Type::LargeList | Type::FixedSizeList) => {
                let outer = match t {
                    Type::List => "List".to_string(),
                    Type::LargeList => "LargeList".to_string(),
                    _ => format!(
                        "FixedSizeList({})",
                        field.type_as_fixed_size_list().map_or(0, |f| f.listSize())
                    ),
                };
                match field.children() {
                    Some(c) if c.len() == 1 => format!("{outer}<{}>", type_name(c.get(0))),
                    _ => outer,
                }
            }
            other => format!("{other:?}").trim_end_matches('_').to_string(),
        }
    }

    /// What the file's bytes can back: element counts and declared uncompressed sizes.
    struct Budget {
        /// Largest row count (or array length) a node may claim in an uncompressed batch.
        plain_rows: usize,
        /// The same in a compressed batch.
        compressed_rows: usize,
        /// Rows of all record batches so far.
        total_rows: usize,
        /// Uncompressed bytes compressed buffers may still declare.
        uncompressed_left: usize,
    }

    impl Budget {
        fn new(file_len: usize) -> Self {
            let uncompressed = file_len
                .saturating_mul(UNCOMPRESSED_PER_BYTE)
                .saturating_add(UNCOMPRESSED_SLACK)
                .min(MAX_UNCOMPRESSED);
            let plain_rows = file_len.saturating_mul(ROWS_PER_BYTE).saturating_add(64);
            Budget {
                plain_rows,
                compressed_rows: plain_rows
                    .saturating_add(uncompressed / UNCOMPRESSED_BYTES_PER_ROW),
                total_rows: 0,
                uncompressed_left: uncompressed,
            }
        }

        fn rows(&self, compressed: bool) -> usize {
            if compressed {
                self.compressed_rows
            } else {
                self.plain_rows
            }
        }
    }

    fn check_dictionary(
        schema: &Schema,
        dict: arrow_ipc::DictionaryBatch,
        body: &[u8],
        budget: &mut Budget,
    ) -> Result<(), Damage> {
        let values = schema
            .dictionaries
            .get(&dict.id())
            .ok_or_else(|| format!("dictionary id {} is not in the schema", dict.id()))?;
        let data = dict
            .data()
            .ok_or_else(|| format!("dictionary {} has no data", dict.id()))?;
        let columns = [(String::from("dictionary values"), values.clone())];
        check_batch(&columns, data, body, budget, false)
    }

    /// Walk a record batch's nodes and buffers exactly as arrow-rs will.
    fn check_batch(
        columns: &[(String, Shape)],
        batch: arrow_ipc::RecordBatch,
        body: &[u8],
        budget: &mut Budget,
        counts_as_rows: bool,
    ) -> Result<(), Damage> {
        let codec = batch.compression().map(|c| c.codec());
        let compressed = codec.is_some();
        let limit = budget.rows(compressed);
        let rows = usize::try_from(batch.length())
            .ok()
            .filter(|&r| r <= limit)
            .ok_or_else(|| {
                format!(
                    "a record batch claims {} rows, more than the bytes can hold",
                    batch.length()
                )
            })?;
        if counts_as_rows {
            budget.total_rows = budget.total_rows.saturating_add(rows);
            if budget.total_rows > limit {
                return Err(format!(
                    "the table claims {} rows, more than its bytes can hold",
                    budget.total_rows
                )
                .into());
            }
        }
        let nodes = batch
            .nodes()
            .ok_or("a record batch without field nodes")?
            .iter()
            .map(|n| (n.length(), n.null_count()))
            .collect();
        let buffers = batch
            .buffers()
            .ok_or("a record batch without buffers")?
            .iter()
            .map(|b| (b.offset(), b.length()))
            .collect();
        let mut w = Walker {
            nodes,
            next_node: 0,
            buffers,
            next_buffer: 0,
            variadic: batch
                .variadicBufferCounts()
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
            body,
            compressed,
            codec,
            backing: 0,
            budget,
        };
        for (name, shape) in columns {
            w.walk(shape)
                .map_err(|e| Damage(format!("column {name}: {}", e.0)))?;
        }
        if !w.variadic.is_empty() {
            return Err("more variadic buffer counts than view columns".into());
        }
        // Rows must be backed by this batch's own bytes (a value takes at least a bit): a
        // batch of nothing but null-typed columns cannot claim millions of rows.
        if rows > w.backing.saturating_mul(ROWS_PER_BYTE).saturating_add(64) {
            return Err(format!(
                "a record batch claims {rows} rows, more than its {} bytes of buffers can hold",
                w.backing
            )
            .into());
        }
        Ok(())
    }

    struct Walker<'a, 'b> {
        /// Length and null count of each field node.
        nodes: Vec<(i64, i64)>,
        next_node: usize,
        /// Offset and length of each buffer.
        buffers: Vec<(i64, i64)>,
        next_buffer: usize,
        variadic: VecDeque<i64>,
        body: &'a [u8],
        compressed: bool,
        codec: Option<arrow_ipc::CompressionType>,
        /// Bytes of all buffers taken so far, as arrow-rs will see them (decompressed).
        backing: usize,
        budget: &'b mut Budget,
    }

    /// How many bytes `input` decompresses to, reading at most `limit + 1` of them and
    /// writing none anywhere: arrow-rs decompresses with no bound but the input, so a buffer
    /// that expands past the size it declares is refused before arrow-rs sees it.
    pub(super) fn decompressed_len(
        codec: arrow_ipc::CompressionType,
        input: &[u8],
        limit: usize,
    ) -> Result<usize, Damage> {
        use std::io::Read;
        let cap = limit as u64 + 1;
        let bad =
            |e: std::io::Error| Damage(format!("a compressed buffer does not decompress: {e}"));
        let n = if codec == arrow_ipc::CompressionType::LZ4_FRAME {
            std::io::copy(
                &mut lz4_flex::frame::FrameDecoder::new(input).take(cap),
                &mut std::io::sink(),
            )
            .map_err(bad)?
        } else if codec == arrow_ipc::CompressionType::ZSTD {
            let decoder = zstd::Decoder::with_buffer(input).map_err(bad)?;
            std::io::copy(&mut decoder.take(cap), &mut std::io::sink()).map_err(bad)?
        } else {
            return Err(format!("unknown compression codec {}", codec.0).into());
        };
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// A node's length and null count.
    #[derive(Clone, Copy)]
    struct Node {
        len: usize,
        nulls: usize,
    }

    impl Walker<'_, '_> {
        fn node(&mut self) -> Result<Node, Damage> {
            if self.next_node >= self.nodes.len() {
                return Err("fewer field nodes than the schema needs".into());
            }
            let (length, null_count) = self.nodes[self.next_node];
            self.next_node += 1;
            let len = usize::try_from(length)
                .ok()
                .filter(|&l| l <= self.budget.rows(self.compressed))
                .ok_or_else(|| {
                    format!("an array of {length} values, more than the bytes can hold")
                })?;
            let nulls = usize::try_from(null_count)
                .ok()
                .filter(|&c| c <= len)
                .ok_or_else(|| format!("{null_count} nulls in an array of {len} values"))?;
            Ok(Node { len, nulls })
        }

        /// The next buffer, checked to lie inside the body; answers its size as arrow-rs will
        /// see it (for a compressed buffer, the size its prefix declares, within the budget).
        fn buffer(&mut self) -> Result<usize, Damage> {
            if self.next_buffer >= self.buffers.len() {
                return Err("fewer buffers than the schema needs".into());
            }
            let (b_offset, b_length) = self.buffers[self.next_buffer];
            self.next_buffer += 1;
            let (offset, len) = match (usize::try_from(b_offset), usize::try_from(b_length)) {
                (Ok(o), Ok(l)) if o.checked_add(l).is_some_and(|e| e <= self.body.len()) => (o, l),
                _ => {
                    return Err(format!(
                        "a buffer (offset {b_offset}, length {b_length}) outside the message \
                         body of {} bytes",
                        self.body.len()
                    )
                    .into())
                }
            };
            if !self.compressed || len == 0 {
                self.backing = self.backing.saturating_add(len);
                return Ok(len);
            }
            // arrow-rs reads the 8-byte prefix of every non-empty compressed buffer (and panics
            // on a shorter one), then allocates the size it declares.
            if len < 8 {
                return Err(format!(
                    "a compressed buffer of {len} bytes, too short for its length prefix"
                )
                .into());
            }
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&self.body[offset..offset + 8]);
            let declared = i64::from_le_bytes(prefix);
            if declared == -1 {
                self.backing = self.backing.saturating_add(len - 8);
                return Ok(len - 8);
            }
            let declared = usize::try_from(declared)
                .ok()
                .filter(|&d| d <= self.budget.uncompressed_left)
                .ok_or_else(|| {
                    format!(
                        "a compressed buffer claims {declared} bytes uncompressed, more than the \
                         file can expand to"
                    )
                })?;
            self.budget.uncompressed_left -= declared;
            if declared > 0 {
                let codec = self.codec.ok_or("a compressed buffer without a codec")?;
                let got = decompressed_len(codec, &self.body[offset + 8..offset + len], declared)?;
                if got != declared {
                    return Err(format!(
                        "a compressed buffer declares {declared} bytes but decompresses to {}",
                        if got > declared {
                            format!("more than {declared}")
                        } else {
                            got.to_string()
                        }
                    )
                    .into());
                }
            }
            self.backing = self.backing.saturating_add(declared);
            Ok(declared)
        }

        /// Offsets of `bytes` for `node` must hold `len + 1` values (arrow-rs validates this
        /// too, after decompressing; checked here to name the column).
        fn offsets_cover(node: Node, bytes: usize, width: usize) -> Result<(), Damage> {
            let needed = node.len.saturating_add(1).saturating_mul(width);
            if node.len > 0 && bytes < needed {
                return Err(format!("{bytes} bytes of offsets for {} values", node.len).into());
            }
            Ok(())
        }

        /// arrow-rs reads offsets, views and dictionary keys as slices of `width`-byte values
        /// and panics on a buffer whose length is not a multiple of that.
        fn typed(bytes: usize, width: usize) -> Result<(), Damage> {
            if !bytes.is_multiple_of(width) {
                return Err(format!(
                    "a buffer of {bytes} bytes where {width}-byte values are expected"
                )
                .into());
            }
            Ok(())
        }

        /// A validity buffer must hold a bit per value when the node has nulls.
        fn validity(node: Node, bytes: usize) -> Result<(), Damage> {
            if node.nulls > 0 && bytes.saturating_mul(8) < node.len {
                return Err(
                    format!("a validity buffer of {bytes} bytes for {} values", node.len).into(),
                );
            }
            Ok(())
        }

        fn validity_buffer(&mut self, node: Node) -> Result<(), Damage> {
            let bytes = self.buffer()?;
            Self::validity(node, bytes)
        }

        fn walk(&mut self, shape: &Shape) -> Result<(), Damage> {
            match shape {
                Shape::Null => {
                    self.node()?;
                }
                Shape::Fixed => {
                    let n = self.node()?;
                    self.validity_buffer(n)?;
                    self.buffer()?;
                }
                Shape::Dictionary(key) => {
                    let n = self.node()?;
                    self.validity_buffer(n)?;
                    Self::typed(self.buffer()?, *key)?;
                }
                Shape::Var(width) => {
                    let n = self.node()?;
                    self.validity_buffer(n)?;
                    let offsets = self.buffer()?;
                    Self::typed(offsets, *width)?;
                    Self::offsets_cover(n, offsets, *width)?;
                    self.buffer()?;
                }
                Shape::View => {
                    let count = self
                        .variadic
                        .pop_front()
                        .ok_or("a view column without its variadic buffer count")?;
                    let left = self.buffers.len() - self.next_buffer;
                    let count = usize::try_from(count)
                        .ok()
                        .filter(|&c| c.saturating_add(2) <= left)
                        .ok_or_else(|| format!("a variadic buffer count of {count}"))?;
                    // arrow-rs takes the buffers before the node.
                    let v = self.buffer()?;
                    Self::typed(self.buffer()?, VIEW_BYTES)?;
                    for _ in 0..count {
                        self.buffer()?;
                    }
                    let n = self.node()?;
                    Self::validity(n, v)?;
                }
                Shape::List(width, child) => {
                    let n = self.node()?;
                    self.validity_buffer(n)?;
                    let offsets = self.buffer()?;
                    Self::typed(offsets, *width)?;
                    Self::offsets_cover(n, offsets, *width)?;
                    self.walk(child)?;
                }
                Shape::FixedList(child, size) => {
                    let n = self.node()?;
                    self.validity_buffer(n)?;
                    if n.len
                        .checked_mul(*size)
                        .is_none_or(|items| items > self.budget.rows(self.compressed))
                    {
                        return Err(format!(
                            "{} lists of {size} items, more than the bytes can hold",
                            n.len
                        )
                        .into());
                    }
                    self.walk(child)?;
                }
            }
            Ok(())
        }
    }
}

/// A number's or flag's cell, trimmed; `None` when empty.
fn cell(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|s| !s.is_empty())
}

/// A text cell as written (names are compared as written, in every format: the validator
/// refuses one that begins or ends with white space rather than read `"n1 "` as `n1` here and
/// as another name in Parquet); `None` when empty or blank.
fn text_cell(v: &str) -> Option<&str> {
    Some(v).filter(|s| !s.trim().is_empty())
}

/// One CSV column on its way to Arrow, typed by its name.
enum CsvColumn {
    Number(arrow_array::builder::Float64Builder),
    Flag(arrow_array::builder::BooleanBuilder),
    Set(arrow_array::builder::ListBuilder<arrow_array::builder::StringBuilder>),
    Text(arrow_array::builder::StringBuilder),
}

impl CsvColumn {
    /// Builders start empty and grow with the rows read: a header of many columns costs no
    /// more than its own bytes.
    fn new(name: &str) -> Self {
        use arrow_array::builder::*;
        let strings = || StringBuilder::with_capacity(0, 0);
        match column_kind(name) {
            ColumnKind::Number => CsvColumn::Number(Float64Builder::with_capacity(0)),
            ColumnKind::Flag => CsvColumn::Flag(BooleanBuilder::with_capacity(0)),
            ColumnKind::Set => CsvColumn::Set(ListBuilder::with_capacity(strings(), 0)),
            ColumnKind::Text => CsvColumn::Text(strings()),
        }
    }

    /// Append one cell, or say what it should have been.
    fn push(&mut self, raw: &str) -> Result<(), &'static str> {
        let v = cell(raw);
        let text = text_cell(raw);
        match self {
            CsvColumn::Number(b) => match v {
                None => b.append_null(),
                // `1e400` parses as infinity: refused here, as written, not later as `inf`.
                Some(s) => b.append_value(
                    s.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or("a finite number")?,
                ),
            },
            CsvColumn::Flag(b) => match v.map(str::to_ascii_lowercase).as_deref() {
                None => b.append_null(),
                Some("true") | Some("1") => b.append_value(true),
                Some("false") | Some("0") => b.append_value(false),
                Some(_) => return Err("true or false"),
            },
            CsvColumn::Set(b) => {
                // `[a, b]` (a list as Python or JSON writes it) would be the two skills `[a`
                // and `b]`, matching nothing, without a word.
                if v.is_some_and(|s| s.starts_with('[') && s.ends_with(']')) {
                    return Err("a set written as a;b (without brackets)");
                }
                // `wheelchair,pets` would be one item of that name, matching nothing.
                if v.is_some_and(|s| s.contains(',')) {
                    return Err("a set written as a;b (items separated by ;, not ,)");
                }
                // Items as written, as text cells are; an empty one (`a;;b`, `a;`) is refused,
                // as `""` is in a JSON or Arrow list.
                if let Some(text) = text {
                    if text.split(';').any(str::is_empty) {
                        return Err("a set written as a;b, without an empty item");
                    }
                    for item in text.split(';') {
                        b.values().append_value(item);
                    }
                }
                b.append(true);
            }
            CsvColumn::Text(b) => b.append_option(text),
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            CsvColumn::Number(mut b) => Arc::new(b.finish()),
            CsvColumn::Flag(mut b) => Arc::new(b.finish()),
            CsvColumn::Set(mut b) => Arc::new(b.finish()),
            CsvColumn::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

/// The 1-based line of a byte of a text, counted forward once: a line ends at `\n`, `\r\n` or a
/// lone `\r`, as the CSV reader ends records. (The `csv` crate's own count takes only `\n`:
/// a CRLF file's cell was told a line early, and in a file of lone `\r`s every cell was on
/// line 1.)
struct FileLines<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> FileLines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        FileLines {
            bytes,
            at: 0,
            line: 1,
        }
    }

    /// The line of the record at byte `offset`; asked in increasing order (else counted again
    /// from the start). Line breaks at `offset` are passed over: the reader places a record
    /// before the blank lines it skips, and a record never begins with a line break.
    fn of(&mut self, offset: u64) -> u64 {
        let mut offset =
            usize::try_from(offset).map_or(self.bytes.len(), |o| o.min(self.bytes.len()));
        while matches!(self.bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset < self.at {
            (self.at, self.line) = (0, 1);
        }
        // A line ends at its `\r`, or at a `\n` after no `\r`: the reader may place a record
        // between the two bytes of a `\r\n`.
        for i in self.at..offset {
            match self.bytes[i] {
                b'\r' => self.line += 1,
                b'\n' if i == 0 || self.bytes[i - 1] != b'\r' => self.line += 1,
                _ => {}
            }
        }
        self.at = offset;
        self.line
    }
}

/// CSV with a header row, read by the `csv` crate (RFC 4180 quoting, a UTF-8 byte-order mark
/// skipped) and typed cell by cell by its column's name, so a bad cell is reported with its
/// line (the header is line 1) instead of turning a whole column into strings. Every row must
/// have as many cells as the header.
fn read_csv(
    bytes: &[u8],
    mut collect: Option<&mut Vec<ReadProblem>>,
    mut row_lines: Option<&mut Vec<u64>>,
    counted: Option<&mut usize>,
) -> Result<RecordBatch, TableError> {
    use arrow_schema::{Field, Schema};
    let lines = std::cell::RefCell::new(FileLines::new(bytes));
    let csv_err = |e: csv::Error| TableError::Csv {
        line: e.position().map_or(1, |p| lines.borrow_mut().of(p.byte())),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} cells where the header has {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "the text is not UTF-8".into(),
            _ => e.to_string(),
        },
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = reader.headers().map_err(csv_err)?.clone();
    if header.is_empty() {
        return Err(TableError::Csv {
            line: 1,
            message: "no header row (the file is empty)".into(),
        });
    }
    let mut names = std::collections::HashSet::new();
    for name in header.iter() {
        let message = if name.trim().is_empty() {
            "the header has an empty column name".to_string()
        } else if !names.insert(name) {
            format!("the header names column {name} twice")
        } else {
            continue;
        };
        return Err(TableError::Csv { line: 1, message });
    }
    let mut columns: Vec<CsvColumn> = header.iter().map(CsvColumn::new).collect();
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    let mut unlisted = 0usize;
    while reader.read_record(&mut record).map_err(csv_err)? {
        let line = record
            .position()
            .map_or(0, |p| lines.borrow_mut().of(p.byte()));
        if let Some(out) = row_lines.as_deref_mut() {
            out.push(line);
        }
        for ((column, raw), name) in columns.iter_mut().zip(record.iter()).zip(header.iter()) {
            if let Err(expected) = column.push(raw) {
                let error = TableError::Cell {
                    line,
                    column: name.to_string(),
                    value: raw.to_string(),
                    expected,
                };
                let Some(out) = collect.as_deref_mut() else {
                    return Err(error);
                };
                // Read as empty, and said with its line (a quoted cell may span lines); past
                // the validator's bound on listed problems only counted, so a file of bad
                // cells does not become millions of messages.
                column.push("").map_err(|_| error.clone())?;
                if out.len() < commonsnet_engine::input::MAX_ISSUES {
                    out.push(ReadProblem {
                        row: Some(rows),
                        column: name.to_string(),
                        // Its line is said with the row's other problems
                        // (`RowSources::place`).
                        message: format!("{raw:?} is not {expected}"),
                    });
                } else {
                    unlisted += 1;
                }
            }
        }
        rows += 1;
    }
    if let Some(out) = counted {
        *out += unlisted;
    }
    let arrays: Vec<ArrayRef> = columns.into_iter().map(CsvColumn::finish).collect();
    let fields: Vec<Field> = header
        .iter()
        .zip(&arrays)
        .map(|(name, a)| Field::new(name, a.data_type().clone(), true))
        .collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options).map_err(
        |e| TableError::Csv {
            line: 1,
            message: e.to_string(),
        },
    )
}

/// Record batches as Arrow IPC bytes (a file, or a stream when `stream`), written by arrow-rs
/// as they are. All batches must share the first one's schema.
pub fn ipc_bytes(batches: &[RecordBatch], stream: bool) -> Result<Vec<u8>, TableError> {
    let Some(first) = batches.first() else {
        return Err(TableError::Write("no record batch to write".into()));
    };
    let mut out = Vec::new();
    write_ipc(&mut out, &first.schema(), batches, stream)?;
    Ok(out)
}

fn write_ipc(
    out: &mut impl std::io::Write,
    schema: &arrow_schema::Schema,
    batches: &[RecordBatch],
    stream: bool,
) -> Result<(), TableError> {
    if stream {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(out, schema).map_err(write_err)?;
        for b in batches {
            w.write(b).map_err(write_err)?;
        }
        w.finish().map_err(write_err)
    } else {
        let mut w = arrow_ipc::writer::FileWriter::try_new(out, schema).map_err(write_err)?;
        for b in batches {
            w.write(b).map_err(write_err)?;
        }
        w.finish().map_err(write_err)
    }
}

/// Encode a record batch in the given format: an Arrow IPC file, Parquet (zstd pages), or CSV
/// with a header row and sets `;`-joined (SPEC section 3).
pub fn write_table(
    out: &mut (impl std::io::Write + Send),
    batch: &RecordBatch,
    format: TableFormat,
) -> Result<(), TableError> {
    let mut stream = TableStream::new(out, batch.schema(), format)?;
    stream.write(batch)?;
    stream.finish().map(drop)
}

/// Record batches as one Parquet file (zstd-compressed pages).
pub fn write_parquet(
    out: &mut (impl std::io::Write + Send),
    schema: arrow_schema::SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), TableError> {
    let mut writer = parquet_writer(out, schema)?;
    for b in batches {
        writer.write(b).map_err(write_err)?;
    }
    writer.close().map(|_| ()).map_err(write_err)
}

/// The writer of every Parquet file we write: zstd-compressed pages.
fn parquet_writer<W: std::io::Write + Send>(
    out: W,
    schema: arrow_schema::SchemaRef,
) -> Result<parquet::arrow::ArrowWriter<W>, TableError> {
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    parquet::arrow::ArrowWriter::try_new(out, schema, Some(props)).map_err(write_err)
}

/// A table file written as its batches come, in any of [`TableFormat`]'s formats: each batch
/// a Parquet row group or an Arrow IPC record batch of its own, or its rows of CSV after one
/// header, that goes to `out` before the next is taken. A table of many batches is never
/// whole in memory (only a footer's index of them is kept to the end).
pub struct TableStream<W: std::io::Write + Send>(Streamed<W>);

enum Streamed<W: std::io::Write + Send> {
    Parquet(parquet::arrow::ArrowWriter<W>),
    ArrowIpc(arrow_ipc::writer::FileWriter<W>),
    Csv(csv::Writer<W>),
}

impl<W: std::io::Write + Send> TableStream<W> {
    /// Start the file (a CSV's header row is written now, so a table of no rows has one).
    pub fn new(
        out: W,
        schema: arrow_schema::SchemaRef,
        format: TableFormat,
    ) -> Result<Self, TableError> {
        Ok(TableStream(match format {
            TableFormat::Parquet => Streamed::Parquet(parquet_writer(out, schema)?),
            TableFormat::ArrowIpc => Streamed::ArrowIpc(
                arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(write_err)?,
            ),
            TableFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
                    .map_err(write_err)?;
                Streamed::Csv(w)
            }
        }))
    }

    /// Write `batch` (of the schema given to [`TableStream::new`]) as the next row group,
    /// record batch or rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        match &mut self.0 {
            Streamed::Parquet(w) => {
                w.write(batch).map_err(write_err)?;
                w.flush().map_err(write_err)
            }
            Streamed::ArrowIpc(w) => w.write(batch).map_err(write_err),
            Streamed::Csv(w) => write_csv_rows(w, batch),
        }
    }

    /// Write the footer (Parquet, Arrow IPC): the file is complete. Gives `out` back.
    pub fn finish(self) -> Result<W, TableError> {
        match self.0 {
            Streamed::Parquet(w) => w.into_inner().map_err(write_err),
            Streamed::ArrowIpc(mut w) => {
                w.finish().map_err(write_err)?;
                w.into_inner().map_err(write_err)
            }
            Streamed::Csv(w) => w.into_inner().map_err(|e| write_err(e.into_error())),
        }
    }
}

/// CSV rows (after the header row [`TableStream::new`] writes): a row per record; nulls are
/// empty cells, lists of strings are `;`-joined, every other type is written as arrow-rs
/// displays it (floats in their shortest round-trip form, so a CSV written here reads back to
/// the same numbers).
fn write_csv_rows<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    batch: &RecordBatch,
) -> Result<(), TableError> {
    use arrow_array::cast::AsArray;
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    use arrow_schema::DataType as A;
    /// How one column becomes text.
    enum Cells<'a> {
        Joined(&'a dyn Array),
        Shown(ArrayFormatter<'a>),
    }
    let options = FormatOptions::default();
    let columns = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            A::List(_) => Ok(Cells::Joined(c.as_ref())),
            _ => ArrayFormatter::try_new(c.as_ref(), &options)
                .map(Cells::Shown)
                .map_err(write_err),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut row = Vec::with_capacity(columns.len());
    for i in 0..batch.num_rows() {
        row.clear();
        for (c, col) in columns.iter().zip(batch.columns()) {
            row.push(if col.is_null(i) {
                String::new()
            } else {
                match c {
                    Cells::Shown(f) => f.value(i).to_string(),
                    Cells::Joined(list) => {
                        let items = list.as_list::<i32>().value(i);
                        let shown =
                            ArrayFormatter::try_new(items.as_ref(), &options).map_err(write_err)?;
                        (0..items.len())
                            .filter(|&j| items.is_valid(j))
                            .map(|j| shown.value(j).to_string())
                            .collect::<Vec<_>>()
                            .join(";")
                    }
                }
            });
        }
        w.write_record(&row).map_err(write_err)?;
    }
    w.flush()?;
    Ok(())
}

/// The metrics compared across policies by `summarise_runs`, in the order they are printed.
pub const COMPARED_METRICS: [&str; 12] = [
    "coverage_ratio",
    "min_group_ratio",
    "jain_index",
    "gini",
    "price_of_fairness",
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

/// The nearest-rank quantile of sorted values: the one at index `round(q * (n - 1))`.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Per policy (in order of first appearance) and compared metric: how many runs define it (a
/// null or NaN cell does not), the mean and nearest-rank p10/p50/p90. The run table has a
/// `policy` text column and a numeric column per metric; metrics it lacks are skipped.
pub fn summarise_runs(runs: &RecordBatch) -> Result<Vec<MetricStats>, TableError> {
    let mut summary = RunSummary::default();
    summary.add(runs)?;
    Ok(summary.finish())
}

/// [`summarise_runs`] over a run table that comes in batches (of one schema): each batch's
/// compared metrics are kept, 8 bytes a defined value, and the rows can go.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Policies in order of first appearance.
    policies: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    /// Per policy, per metric of [`COMPARED_METRICS`], the defined values.
    values: Vec<[Vec<f64>; COMPARED_METRICS.len()]>,
}

impl RunSummary {
    /// Take `runs`' policies and compared metrics.
    pub fn add(&mut self, runs: &RecordBatch) -> Result<(), TableError> {
        let policy_column = runs
            .column_by_name("policy")
            .ok_or_else(|| TableError::column("policy", "the run table has no such column"))?;
        let policy_text = arrow_cast::cast(policy_column, &arrow_schema::DataType::Utf8)
            .map_err(|e| TableError::column("policy", e.to_string()))?;
        let policy_text = arrow_array::cast::AsArray::as_string::<i32>(policy_text.as_ref());
        let rows: Vec<usize> = (0..runs.num_rows())
            .map(|i| {
                let p = if policy_text.is_null(i) {
                    ""
                } else {
                    policy_text.value(i)
                };
                self.policy(p)
            })
            .collect();
        for (k, &m) in COMPARED_METRICS.iter().enumerate() {
            let Some(c) = runs.column_by_name(m) else {
                continue;
            };
            let values = widen::to_f64(c.as_ref()).ok_or_else(|| {
                TableError::column(m, format!("expected numbers, found {}", c.data_type()))
            })?;
            if values.data_type() == &arrow_schema::DataType::Null {
                continue;
            }
            let values = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Float64Type>(
                values.as_ref(),
            );
            for (i, &p) in rows.iter().enumerate() {
                if values.is_valid(i) && !values.value(i).is_nan() {
                    self.values[p][k].push(values.value(i));
                }
            }
        }
        Ok(())
    }

    fn policy(&mut self, p: &str) -> usize {
        if let Some(&k) = self.index.get(p) {
            return k;
        }
        self.policies.push(p.to_string());
        self.values.push(Default::default());
        self.index.insert(p.to_string(), self.policies.len() - 1);
        self.policies.len() - 1
    }

    /// Per policy and metric with values, in order: the stats.
    pub fn finish(self) -> Vec<MetricStats> {
        let mut out = Vec::new();
        for (policy, mut metrics) in self.policies.into_iter().zip(self.values) {
            for (k, v) in metrics.iter_mut().enumerate() {
                if v.is_empty() {
                    continue;
                }
                v.sort_by(f64::total_cmp);
                out.push(MetricStats {
                    policy: policy.clone(),
                    metric: COMPARED_METRICS[k],
                    runs: v.len(),
                    mean: v.iter().sum::<f64>() / v.len() as f64,
                    p10: nearest_rank(v, 0.1),
                    p50: nearest_rank(v, 0.5),
                    p90: nearest_rank(v, 0.9),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{
        FixedSizeListBuilder, ListBuilder, StringBuilder, StringViewBuilder,
    };
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int8Type};
    use arrow_array::{
        BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float16Array, Int16Array,
        Int32Array, Int8Array, NullArray, StringArray, UInt16Array, UInt8Array,
    };
    use arrow_schema::{DataType as A, Field, Schema};

    /// A Parquet file whose one dictionary value stands for every row is refused before it
    /// is decoded, past 512 MiB: 150,000 rows of one 4,000-character value (600 MB decoded)
    /// from a file of a few kilobytes.
    #[test]
    fn a_parquet_dictionary_bomb_is_refused_before_it_decodes() {
        use arrow_array::{types::Int32Type, DictionaryArray, Int32Array, StringArray};
        let value = "x".repeat(4000);
        let kind = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![0; 150_000]),
            std::sync::Arc::new(StringArray::from(vec![value.as_str()])),
        )
        .unwrap();
        let batch =
            RecordBatch::try_from_iter([("kind", std::sync::Arc::new(kind) as ArrayRef)]).unwrap();
        // Without arrow-rs's schema in the footer (as other writers make it), the column
        // reads back as plain strings, one copy of the value per row.
        let file = parquet_bytes(&batch);
        assert!(file.len() < 64 << 10, "{} bytes", file.len());
        let e = read_table(&file, false).unwrap_err().to_string();
        assert!(
            e.contains("dictionary-encoded columns decode to up to"),
            "{e}"
        );
        assert!(e.contains("more than 536870912"), "{e}");
    }

    /// The same bomb inside one row's list of skills: 200,000 items of one 3,000-byte value
    /// (600 MB) in one cell, which no bound on rows sees. Such a file (1,305 bytes, 2 GB of
    /// items) aborted the process on a failed allocation, which no panic guard catches.
    #[test]
    fn a_parquet_dictionary_bomb_in_one_list_cell_is_refused_before_it_decodes() {
        use arrow_array::{types::Int32Type, DictionaryArray, Int32Array, ListArray};
        let value = "s".repeat(3000);
        // One row whose skills are `items` copies of `value`, dictionary-encoded.
        let one_cell = |items: usize| {
            let keys = DictionaryArray::<Int32Type>::try_new(
                Int32Array::from(vec![0; items]),
                Arc::new(StringArray::from(vec![value.as_str()])),
            )
            .unwrap();
            let item = Arc::new(Field::new("item", keys.data_type().clone(), true));
            let offsets = arrow_buffer::OffsetBuffer::from_lengths([items]);
            parquet_bytes(&batch_of_skills(ListArray::new(
                item,
                offsets,
                Arc::new(keys),
                None,
            )))
        };
        let file = one_cell(200_000);
        assert!(file.len() < 64 << 10, "{} bytes", file.len());
        let e = read_table(&file, false).unwrap_err().to_string();
        assert!(
            e.contains("dictionary-encoded columns decode to up to"),
            "{e}"
        );
        // The same cell at a tenth of the size reads, every item there.
        let file = one_cell(20_000);
        let read = read_table(&file, false).unwrap();
        let list = read[0]
            .column_by_name("skills")
            .unwrap()
            .as_list::<i32>()
            .value(0);
        assert_eq!(list.len(), 20_000);
    }

    fn batch_of_skills(skills: arrow_array::ListArray) -> RecordBatch {
        batch(vec![
            ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
            ("skills", Arc::new(skills)),
        ])
    }

    /// `batch` as a ZSTD Parquet file without arrow-rs's schema in its footer (as other
    /// writers make them): dictionary columns read back as plain strings, one copy of a
    /// value per use.
    fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
        let mut file = Vec::new();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let options = parquet::arrow::arrow_writer::ArrowWriterOptions::new()
            .with_properties(props)
            .with_skip_arrow_metadata(true);
        let mut w =
            parquet::arrow::ArrowWriter::try_new_with_options(&mut file, batch.schema(), options)
                .unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        file
    }

    /// An Arrow stream of a list of string views that all point at one stored 64 KiB string
    /// (8,192 of them: 512 MiB of text from ~200 KB) is refused naming the column, before the
    /// views are copied out (60,000 of them overflowed a string builder: a panic, a 500).
    #[test]
    fn list_items_viewing_one_string_many_times_are_refused() {
        use arrow_array::{ListArray, StringViewArray};
        let text = arrow_buffer::Buffer::from_vec(vec![b'v'; 64 << 10]);
        // A long string's view (the Arrow columnar format): its length, its first four
        // bytes, then the index of its buffer (0) and its offset there (0).
        let view = (64u128 << 10) | (u128::from(u32::from_le_bytes(*b"vvvv")) << 32);
        let views = StringViewArray::try_new(vec![view; 8192].into(), vec![text], None).unwrap();
        let item = Arc::new(Field::new("item", A::Utf8View, true));
        let offsets = arrow_buffer::OffsetBuffer::from_lengths([8192]);
        let skills = ListArray::new(item, offsets, Arc::new(views), None);
        let batch = batch_of_skills(skills);
        let mut stream = Vec::new();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut stream, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        assert!(stream.len() < 1 << 20, "{} bytes", stream.len());
        let e = read_table(&stream, false).unwrap_err();
        match &e {
            TableError::Columns(problems) => {
                assert_eq!(problems.len(), 1, "{e}");
                assert_eq!(problems[0].column, "skills");
                assert!(
                    problems[0]
                        .message
                        .contains("refer to 536870912 bytes of text"),
                    "{e}"
                );
            }
            other => panic!("{other}"),
        }
    }

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true)))
            .unwrap()
    }

    fn f16(x: f32) -> <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native {
        <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native::from_f32(x)
    }

    /// Every type tables may use, nulls included, and a dictionary.
    fn varied() -> RecordBatch {
        let mut fixed = FixedSizeListBuilder::new(StringBuilder::new(), 2);
        for (a, b) in [("a", "b"), ("c", "d"), ("e", "f")] {
            fixed.values().append_value(a);
            fixed.values().append_value(b);
            fixed.append(true);
        }
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("x");
        list.append(true);
        list.append(false);
        list.append(true);
        let mut view = StringViewBuilder::new();
        view.append_value("a long enough string to need a data buffer");
        view.append_null();
        view.append_value("s");
        let kind: DictionaryArray<Int8Type> = vec!["k", "k", "j"].into_iter().collect();
        batch(vec![
            (
                "id",
                Arc::new(StringArray::from(vec!["r1", "r2", "r3"])) as ArrayRef,
            ),
            ("kind", Arc::new(kind)),
            ("community", Arc::new(view.finish())),
            (
                "cap_a",
                Arc::new(Int8Array::from(vec![Some(1), None, Some(-3)])),
            ),
            ("cap_b", Arc::new(UInt16Array::from(vec![7, 8, 9]))),
            ("cap_c", Arc::new(UInt8Array::from(vec![1, 2, 3]))),
            ("cap_d", Arc::new(Int16Array::from(vec![300, 0, 2]))),
            (
                "cost",
                Arc::new(Float16Array::from(vec![f16(0.5), f16(2.0), f16(1.25)])),
            ),
            (
                "lat",
                Arc::new(
                    Decimal128Array::from(vec![Some(59_330), None, Some(-1)])
                        .with_precision_and_scale(7, 3)
                        .unwrap(),
                ),
            ),
            ("lon", Arc::new(NullArray::new(3))),
            ("skills", Arc::new(fixed.finish())),
            ("required_skills", Arc::new(list.finish())),
            (
                "indivisible",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            ),
        ])
    }

    #[test]
    fn narrow_types_are_widened_from_arrow_files_and_streams() {
        for stream in [false, true] {
            let bytes = ipc_bytes(&[varied(), varied()], stream).unwrap();
            let got = read_table(&bytes, false).unwrap();
            assert_eq!(got.len(), 2);
            let b = &got[0];
            let col = |n: &str| b.column_by_name(n).unwrap().clone();
            for n in ["cap_a", "cap_b", "cap_c", "cap_d", "cost", "lat"] {
                assert_eq!(col(n).data_type(), &A::Float64, "{n}");
            }
            // A column of nulls stays one: nothing is allocated per row.
            assert_eq!(col("lon").data_type(), &A::Null);
            let f = |n: &str| -> Vec<Option<f64>> {
                col(n).as_primitive::<Float64Type>().iter().collect()
            };
            assert_eq!(f("cap_a"), [Some(1.0), None, Some(-3.0)]);
            assert_eq!(f("cap_b"), [Some(7.0), Some(8.0), Some(9.0)]);
            assert_eq!(f("cap_d"), [Some(300.0), Some(0.0), Some(2.0)]);
            assert_eq!(f("cost"), [Some(0.5), Some(2.0), Some(1.25)]);
            assert_eq!(f("lat"), [Some(59.33), None, Some(-0.001)]);
            assert_eq!(col("lon").logical_null_count(), 3);
            let skills = col("skills");
            let skills = skills.as_list::<i32>();
            assert_eq!(skills.value(1).as_string::<i32>().value(1), "d");
            let req = col("required_skills");
            assert!(req.is_null(1));
            assert!(matches!(col("kind").data_type(), A::Dictionary(..)));
        }
    }

    #[test]
    fn other_types_are_refused_naming_column_and_type() {
        let base = |name: &str, c: ArrayRef| {
            batch(vec![
                ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
                (name, c),
            ])
        };
        let cases: Vec<(RecordBatch, &str)> = vec![
            (
                base("cap_x", Arc::new(Date32Array::from(vec![1]))),
                "column cap_x: expected numbers, found Date32",
            ),
            (
                base(
                    "earliest",
                    Arc::new(arrow_array::TimestampMicrosecondArray::from(vec![1])),
                ),
                "column earliest: expected numbers, found Timestamp(µs)",
            ),
            (
                base(
                    "duration_h",
                    Arc::new(arrow_array::DurationSecondArray::from(vec![1])),
                ),
                "column duration_h: expected numbers, found Duration(s)",
            ),
            (
                base(
                    "cap_x",
                    Arc::new(arrow_array::IntervalYearMonthArray::from(vec![1])),
                ),
                "column cap_x: unsupported type Interval",
            ),
            (
                base("cap_x", Arc::new(BooleanArray::from(vec![true]))),
                "column cap_x: expected numbers, found Boolean",
            ),
            (
                base("indivisible", Arc::new(Int32Array::from(vec![1]))),
                "column indivisible: expected booleans, found Int32",
            ),
            (
                base("skills", {
                    let mut l = ListBuilder::new(arrow_array::builder::Int32Builder::new());
                    l.values().append_value(1);
                    l.append(true);
                    Arc::new(l.finish())
                }),
                "column skills: expected lists of strings, found List(",
            ),
            (
                base(
                    "colour",
                    Arc::new(arrow_array::StructArray::from(vec![(
                        Arc::new(Field::new("a", A::Int32, true)),
                        Arc::new(Int32Array::from(vec![1])) as ArrayRef,
                    )])),
                ),
                "column colour: unsupported type Struct",
            ),
        ];
        for (b, want) in cases {
            for stream in [false, true] {
                let bytes = ipc_bytes(std::slice::from_ref(&b), stream).unwrap();
                let e = read_table(&bytes, false).unwrap_err();
                assert!(e.to_string().contains(want), "{e} (wanted {want})");
            }
        }
    }

    /// A table with several refused columns names every one, in its order, the name given
    /// twice among them.
    #[test]
    fn every_refused_column_is_named() {
        let b = batch(vec![
            (
                "cap_x",
                Arc::new(BooleanArray::from(vec![true])) as ArrayRef,
            ),
            ("id", Arc::new(StringArray::from(vec!["r1"]))),
            ("indivisible", Arc::new(Int32Array::from(vec![1]))),
            ("id", Arc::new(StringArray::from(vec!["r2"]))),
        ]);
        let bytes = ipc_bytes(std::slice::from_ref(&b), false).unwrap();
        let TableError::Columns(problems) = read_table(&bytes, false).unwrap_err() else {
            panic!("not a column error");
        };
        let named: Vec<_> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            named,
            [
                "column cap_x: expected numbers, found Boolean",
                "column indivisible: expected booleans, found Int32",
                "column id: the table has two columns of this name",
            ]
        );
        // Types no table holds are refused before decoding, every one named too.
        let b = batch(vec![
            (
                "cap_x",
                Arc::new(arrow_array::IntervalYearMonthArray::from(vec![1])) as ArrayRef,
            ),
            ("id", Arc::new(StringArray::from(vec!["r1"]))),
            (
                "cap_y",
                Arc::new(arrow_array::IntervalYearMonthArray::from(vec![2])),
            ),
        ]);
        let bytes = ipc_bytes(std::slice::from_ref(&b), false).unwrap();
        let e = read_table(&bytes, false).unwrap_err().to_string();
        assert!(
            e.contains("column cap_x: unsupported type Interval") && e.contains("column cap_y"),
            "{e}"
        );
        // A column of nulls alone is no value whatever its type, in every format.
        let b = batch(vec![
            ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
            ("cost", Arc::new(StringArray::from(vec![None::<&str>]))),
        ]);
        for bytes in [
            ipc_bytes(std::slice::from_ref(&b), false).unwrap(),
            parquet_bytes(&b),
        ] {
            let read = read_table(&bytes, false).unwrap();
            assert_eq!(read[0].column(1).data_type(), &A::Null);
        }
        // A dictionary of dates (a pandas categorical) is refused by its column too.
        let dates = arrow_array::DictionaryArray::<arrow_array::types::Int8Type>::try_new(
            arrow_array::Int8Array::from(vec![0, 0]),
            Arc::new(Date32Array::from(vec![1])),
        )
        .unwrap();
        let b = batch(vec![
            (
                "id",
                Arc::new(StringArray::from(vec!["r1", "r2"])) as ArrayRef,
            ),
            ("cap_x", Arc::new(dates)),
        ]);
        let bytes = ipc_bytes(std::slice::from_ref(&b), false).unwrap();
        let TableError::Columns(problems) = read_table(&bytes, false).unwrap_err() else {
            panic!("not a column error");
        };
        assert_eq!(
            problems[0].to_string(),
            "column cap_x: expected numbers, found Dictionary(Int8, Date32)"
        );
        // Dates and times are read and refused by column, in the same words as in Parquet.
        let b = batch(vec![
            ("cap_x", Arc::new(Date32Array::from(vec![1])) as ArrayRef),
            ("id", Arc::new(StringArray::from(vec!["r1"]))),
            (
                "cap_z",
                Arc::new(arrow_array::Time64NanosecondArray::from(vec![3])),
            ),
        ]);
        for bytes in [
            ipc_bytes(std::slice::from_ref(&b), false).unwrap(),
            parquet_bytes(&b),
        ] {
            let TableError::Columns(problems) = read_table(&bytes, false).unwrap_err() else {
                panic!("not a column error");
            };
            let named: Vec<_> = problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(
                named,
                [
                    "column cap_x: expected numbers, found Date32",
                    "column cap_z: expected numbers, found Time64(ns)",
                ]
            );
        }
    }

    #[test]
    fn damaged_arrow_bytes_are_errors_never_panics() {
        for stream in [false, true] {
            let good = ipc_bytes(&[varied(), varied()], stream).unwrap();
            // Every truncation.
            for len in 0..good.len() {
                let _ = read_table(&good[..len], false);
            }
            // Every byte set to a few values that turn lengths and offsets hostile.
            let mut bytes = good.clone();
            for i in 0..good.len() {
                for v in [0x00, 0xff, 0x80, good[i] ^ 0x01, good[i] ^ 0x40] {
                    bytes[i] = v;
                    if let Ok(batches) = read_table(&bytes, false) {
                        // What is accepted is something the engine can validate.
                        let _ = commonsnet_engine::scenario_from_batches(
                            &batches, &batches, None, None, None,
                        );
                    }
                }
                bytes[i] = good[i];
            }
        }
    }

    /// Compressed IPC (pyarrow's feather default): LZ4 and ZSTD, every type tables use.
    #[test]
    fn compressed_arrow_files_and_streams_are_read() {
        use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
        use arrow_ipc::CompressionType;
        let b = varied();
        for codec in [CompressionType::LZ4_FRAME, CompressionType::ZSTD] {
            let options = IpcWriteOptions::default()
                .try_with_compression(Some(codec))
                .unwrap();
            let mut file = Vec::new();
            let mut w =
                FileWriter::try_new_with_options(&mut file, &b.schema(), options.clone()).unwrap();
            w.write(&b).unwrap();
            w.finish().unwrap();
            drop(w);
            let mut stream = Vec::new();
            let mut w =
                StreamWriter::try_new_with_options(&mut stream, &b.schema(), options).unwrap();
            w.write(&b).unwrap();
            w.finish().unwrap();
            drop(w);
            for bytes in [file, stream] {
                let got = read_table(&bytes, false).unwrap();
                let cap = got[0].column_by_name("cap_b").unwrap();
                assert_eq!(
                    cap.as_primitive::<Float64Type>().values().to_vec(),
                    [7.0, 8.0, 9.0]
                );
                // Damage anywhere is an error, never a panic.
                let mut bad = bytes.clone();
                for i in 0..bytes.len() {
                    for v in [0x00, 0xff, 0x80, bytes[i] ^ 0x01, bytes[i] ^ 0x40] {
                        bad[i] = v;
                        let _ = read_table(&bad, false);
                    }
                    bad[i] = bytes[i];
                }
            }
        }
    }

    fn csv_table(text: &str) -> Result<RecordBatch, TableError> {
        read_table(text.as_bytes(), true).map(|mut b| b.remove(0))
    }

    #[test]
    fn csv_cells_are_typed_by_column_name() {
        let b = csv_table(
            "\u{feff}id,cap_beds,indivisible,required_skills,kind\n\
             n1, 2.5 ,TRUE,a;b,bed\n\
             n2,,0,,\n",
        )
        .unwrap();
        assert_eq!(b.num_rows(), 2);
        let cap = b.column_by_name("cap_beds").unwrap();
        let cap = cap.as_primitive::<Float64Type>();
        assert_eq!((cap.value(0), cap.is_null(1)), (2.5, true));
        let flag = b.column_by_name("indivisible").unwrap();
        assert_eq!(
            flag.as_boolean().iter().collect::<Vec<_>>(),
            [Some(true), Some(false)]
        );
        let skills = b.column_by_name("required_skills").unwrap();
        let first = skills.as_list::<i32>().value(0);
        let first: Vec<_> = first.as_string::<i32>().iter().flatten().collect();
        assert_eq!(first, ["a", "b"]);
        assert!(b.column_by_name("kind").unwrap().is_null(1));
        assert_eq!(b.schema().field(0).name(), "id");
    }

    /// Text is read as written, as JSON, Parquet and Arrow read it: a name's spaces stay (for
    /// the validator to refuse), quoted or not, in a set's items too; a blank cell is empty; a
    /// set with an empty item is refused. Numbers and flags are trimmed.
    #[test]
    fn csv_text_is_read_as_written() {
        let b =
            csv_table("id,kind,skills,cap_beds\n\"n1 \", shelter,a; b, 3 \n n2 ,  ,,4\n").unwrap();
        let text = |col: &str| -> Vec<Option<String>> {
            b.column_by_name(col)
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        assert_eq!(text("id"), [Some("n1 ".into()), Some(" n2 ".into())]);
        assert_eq!(text("kind"), [Some(" shelter".into()), None]);
        let skills = b
            .column_by_name("skills")
            .unwrap()
            .as_list::<i32>()
            .value(0);
        let skills: Vec<_> = skills.as_string::<i32>().iter().flatten().collect();
        assert_eq!(skills, ["a", " b"]);
        let cap = b.column_by_name("cap_beds").unwrap();
        assert_eq!(cap.as_primitive::<Float64Type>().values(), &[3.0, 4.0]);
        for set in ["a;;b", "a;", ";a"] {
            let e = csv_table(&format!("id,skills\nn1,{set}\n")).unwrap_err();
            assert!(
                e.to_string().contains("without an empty item"),
                "{set}: {e}"
            );
        }
        let e = csv_table("id,skills\nn1,\"wheelchair,pets\"\n").unwrap_err();
        assert!(e.to_string().contains("separated by ;, not ,"), "{e}");
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let e = csv_table("id,cap_beds\nn1,1\n\"n\n2\",x\n").unwrap_err();
        assert_eq!(
            e,
            TableError::Cell {
                line: 3,
                column: "cap_beds".into(),
                value: "x".into(),
                expected: "a finite number"
            }
        );
        assert_eq!(
            e.to_string(),
            "line 3, column cap_beds: \"x\" is not a finite number"
        );
        // A number past a double's range is named as written (it was "inf" later).
        let e = csv_table(
            "id,cost
n1,1e400
",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column cost: \"1e400\" is not a finite number"
        );
        // A set written as a bracketed list is refused (it was the skills `[a` and `b]`).
        let e = csv_table("id,skills\nr1,\"[a, b]\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column skills: \"[a, b]\" is not a set written as a;b (without brackets)"
        );
        let e = csv_table("id,cap_beds\nn1,1\nn2\n").unwrap_err();
        assert_eq!(e.to_string(), "CSV line 3: 1 cells where the header has 2");
        let e = csv_table("id,cap_beds,id\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "CSV line 1: the header names column id twice"
        );
        let e = csv_table("id, \n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "CSV line 1: the header has an empty column name"
        );
        for empty in ["", "\n", "\u{feff}"] {
            let e = read_table(empty.as_bytes(), true).unwrap_err();
            assert_eq!(
                e.to_string(),
                "CSV line 1: no header row (the file is empty)"
            );
        }
        let e = read_table(b"id,kind\nn1,\xff\n", true).unwrap_err();
        assert_eq!(e.to_string(), "CSV line 2: the text is not UTF-8");
    }

    /// A cell's line is the file's, whatever ends its lines (a CRLF file's was told a line early,
    /// and a file of lone CRs was all line 1), with a byte-order mark and a quoted line break.
    #[test]
    fn csv_lines_are_counted_at_every_line_ending() {
        for end in ["\n", "\r\n", "\r"] {
            for bom in ["", "\u{feff}"] {
                let text = ["id,cap_beds", "n1,1", "\"n\n2\",2", "n3,x", "n4,4"].join(end);
                let at = |e: TableError| match e {
                    TableError::Cell { line, .. } | TableError::Csv { line, .. } => line,
                    other => panic!("{other}"),
                };
                let e = csv_table(&format!("{bom}{text}{end}")).unwrap_err();
                assert_eq!(at(e), 5, "{end:?} {bom:?}");
                // Blank lines are lines (the reader placed the row after them before them).
                let blank = format!("{bom}id,cap_beds{end}n1,1{end}{end}{end}n2,x{end}");
                assert_eq!(
                    at(csv_table(&blank).unwrap_err()),
                    5,
                    "{end:?} {bom:?}: blank"
                );
                let e = csv_table(&format!("{bom}{text}{end}n5{end}")).unwrap_err();
                assert_eq!(at(e), 5, "{end:?} {bom:?}: the first problem");
                let fine = text.replace("n3,x", "n3,3");
                let e = csv_table(&format!("{bom}{fine}{end}n5{end}")).unwrap_err();
                assert_eq!(at(e), 7, "{end:?} {bom:?}: too few cells");
                // Collected: the cell's row, and the line each row starts on.
                let read =
                    read_table_collecting(format!("{bom}{text}{end}").as_bytes(), true).unwrap();
                assert_eq!(
                    (read.problems[0].row, read.lines.as_slice()),
                    (Some(2), &[2, 3, 5, 6][..]),
                    "{end:?} {bom:?}"
                );
            }
        }
    }

    /// What is written in each format reads back to the same table (CSV: as SPEC types it).
    #[test]
    fn tables_written_read_back_equal() {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("x");
        list.values().append_value("y");
        list.append(true);
        list.append(true);
        list.append(false);
        let b = batch(vec![
            (
                "id",
                Arc::new(StringArray::from(vec![Some("a,\"1\""), Some("b"), None])) as ArrayRef,
            ),
            (
                "cap_x",
                Arc::new(arrow_array::Float64Array::from(vec![
                    Some(0.1 + 0.2),
                    None,
                    Some(-1e300),
                ])),
            ),
            (
                "indivisible",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            ),
            ("skills", Arc::new(list.finish())),
        ]);
        for format in [
            TableFormat::Csv,
            TableFormat::Parquet,
            TableFormat::ArrowIpc,
        ] {
            let mut bytes = Vec::new();
            write_table(&mut bytes, &b, format).unwrap();
            let got = read_table(&bytes, format == TableFormat::Csv).unwrap();
            assert_eq!(got.len(), 1, "{format:?}");
            let got = &got[0];
            for name in ["id", "cap_x", "indivisible"] {
                assert_eq!(
                    got.column_by_name(name).unwrap().to_data(),
                    b.column_by_name(name).unwrap().to_data(),
                    "{format:?} {name}"
                );
            }
            let skills = got.column_by_name("skills").unwrap();
            let skills = skills.as_list::<i32>();
            assert_eq!(skills.value(0).len(), 2, "{format:?}");
            // CSV has no null list: an empty cell is the empty set.
            assert_eq!(skills.value(1).len(), 0, "{format:?}");
            // Streamed as two batches (the CLI's run tables): the rows of both, in order, one
            // header (CSV), one footer (Parquet, Arrow IPC).
            let mut stream = TableStream::new(Vec::new(), b.schema(), format).unwrap();
            stream.write(&b).unwrap();
            stream.write(&b.slice(1, 2)).unwrap();
            let bytes = stream.finish().unwrap();
            let got = read_table(&bytes, format == TableFormat::Csv).unwrap();
            let ids: Vec<Option<String>> = got
                .iter()
                .flat_map(|g| {
                    let c = arrow_cast::cast(g.column_by_name("id").unwrap(), &A::Utf8).unwrap();
                    let c = c.as_string::<i32>();
                    (0..c.len())
                        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
                        .collect::<Vec<_>>()
                })
                .collect();
            let want = [Some("a,\"1\""), Some("b"), None, Some("b"), None];
            let want: Vec<Option<String>> = want.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(ids, want, "{format:?}");
        }
    }

    /// The per-policy summary against a naive computation straight from its definition.
    #[test]
    fn run_summaries_follow_their_definition() {
        let policies = ["b", "a", "b", "b", "a", "b", "b"];
        let cost = [
            Some(5.0),
            Some(1.0),
            None,
            Some(2.0),
            Some(f64::NAN),
            Some(9.0),
            Some(4.0),
        ];
        let runs = batch(vec![
            (
                "policy",
                Arc::new(StringArray::from(policies.to_vec())) as ArrayRef,
            ),
            (
                "cost",
                Arc::new(arrow_array::Float64Array::from(cost.to_vec())),
            ),
            (
                "solve_ms",
                Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6, 7])),
            ),
        ]);
        let got = summarise_runs(&runs).unwrap();
        let names: Vec<_> = got.iter().map(|m| (m.policy.as_str(), m.metric)).collect();
        assert_eq!(
            names,
            [
                ("b", "cost"),
                ("b", "solve_ms"),
                ("a", "cost"),
                ("a", "solve_ms")
            ]
        );
        // Policy b's costs: 5, 2, 9, 4 (one null) sorted 2, 4, 5, 9.
        let b_cost = &got[0];
        assert_eq!(b_cost.runs, 4);
        assert_eq!(b_cost.mean, 5.0);
        // round(0.1 * 3) = 0, round(0.5 * 3) = 2, round(0.9 * 3) = 3.
        assert_eq!((b_cost.p10, b_cost.p50, b_cost.p90), (2.0, 5.0, 9.0));
        // Policy a: the NaN run does not count.
        assert_eq!((got[2].runs, got[2].mean), (1, 1.0));
        assert_eq!((got[3].runs, got[3].p50), (2, 5.0));
    }

    /// A compressed buffer is measured before arrow-rs inflates it: reading stops one byte past
    /// the size it declares, however far the data would expand.
    #[test]
    fn compressed_buffers_are_measured_without_inflating_them() {
        use std::io::Write;
        let zeros = vec![0u8; 8 << 20];
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(&zeros).unwrap();
        let lz4 = lz4.finish().unwrap();
        let zstd = zstd::encode_all(&zeros[..], 3).unwrap();
        for (codec, input) in [
            (arrow_ipc::CompressionType::LZ4_FRAME, &lz4),
            (arrow_ipc::CompressionType::ZSTD, &zstd),
        ] {
            assert!(input.len() < zeros.len() / 100);
            let len = |limit| ipc::decompressed_len(codec, input, limit).ok().unwrap();
            assert_eq!(len(1000), 1001, "{codec:?}");
            assert_eq!(len(zeros.len()), zeros.len(), "{codec:?}");
            assert!(ipc::decompressed_len(codec, &input[..input.len() / 2], 1 << 30).is_err());
        }
    }

    /// `b` as an Arrow IPC stream with compressed buffers.
    fn compressed_stream(b: &RecordBatch, codec: arrow_ipc::CompressionType) -> Vec<u8> {
        use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(codec))
            .unwrap();
        let mut bytes = Vec::new();
        let mut w = StreamWriter::try_new_with_options(&mut bytes, &b.schema(), options).unwrap();
        w.write(b).unwrap();
        w.finish().unwrap();
        drop(w);
        bytes
    }

    /// A small compressed file of one `Int8` column cannot claim millions of rows: the
    /// engine reads each row into a JSON object, and a 650-byte file of 4 million rows took
    /// 3.4 GB there. Within the small files' allowance it is read.
    #[test]
    fn a_small_compressed_file_claiming_millions_of_rows_is_refused() {
        let file = |rows: usize| {
            let col: ArrayRef = Arc::new(arrow_array::Int8Array::from(vec![1i8; rows]));
            let b = RecordBatch::try_from_iter([("cap_x", col)]).unwrap();
            compressed_stream(&b, arrow_ipc::CompressionType::ZSTD)
        };
        let bomb = file(4 << 20);
        assert!(bomb.len() < 4096, "{} bytes", bomb.len());
        assert!(read_table(&bomb, false).is_err());
        let small = file(100_000);
        assert_eq!(read_table(&small, false).unwrap()[0].num_rows(), 100_000);
    }

    /// End to end: a compressed buffer whose data inflates past the size its prefix declares
    /// is refused by the pre-check (arrow-rs would inflate it all). Every 8-byte little-endian
    /// value of a small plausible size in the file is lowered by one in turn; the declared
    /// sizes are among them.
    #[test]
    fn a_buffer_inflating_past_its_declared_size_is_refused() {
        let b = varied();
        for codec in [
            arrow_ipc::CompressionType::LZ4_FRAME,
            arrow_ipc::CompressionType::ZSTD,
        ] {
            let bytes = compressed_stream(&b, codec);
            let mut refused = 0;
            for i in 0..bytes.len().saturating_sub(8) {
                let v = i64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
                if !(2..=4096).contains(&v) {
                    continue;
                }
                let mut bad = bytes.clone();
                bad[i..i + 8].copy_from_slice(&(v - 1).to_le_bytes());
                if let Err(e) = read_table(&bad, false) {
                    refused += e.to_string().contains("decompresses to more than") as usize;
                }
            }
            assert!(refused > 0, "{codec:?}");
        }
    }

    #[test]
    fn arrow_lengths_beyond_the_bytes_are_refused() {
        // A stream whose schema message claims a 2 GB metadata block, and one whose body
        // claims 2^62 bytes: neither is allocated.
        let mut s = vec![0xff, 0xff, 0xff, 0xff];
        s.extend_from_slice(&i32::MAX.to_le_bytes());
        s.extend_from_slice(&[0; 16]);
        let e = read_table(&s, false).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        let mut s = vec![0xff, 0xff, 0xff, 0xff];
        s.extend_from_slice(&(-8i32).to_le_bytes());
        assert!(read_table(&s, false).is_err());
        // A record batch of 10^7 rows with no columns, in a few hundred bytes.
        let empty = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(10_000_000)),
        )
        .unwrap();
        for stream in [false, true] {
            let bytes = ipc_bytes(std::slice::from_ref(&empty), stream).unwrap();
            let e = read_table(&bytes, false).unwrap_err();
            assert!(e.to_string().contains("rows, more than"), "{e}");
        }
        // A thousand rows of null-typed columns (within what the file's size allows, so it is
        // the batch's own check that refuses them): no buffer backs them.
        let nulls = batch(vec![
            ("cap_a", Arc::new(NullArray::new(1_000)) as ArrayRef),
            ("lat", Arc::new(NullArray::new(1_000))),
        ]);
        for stream in [false, true] {
            let bytes = ipc_bytes(std::slice::from_ref(&nulls), stream).unwrap();
            assert!(bytes.len() < 2_000);
            let e = read_table(&bytes, false).unwrap_err();
            assert!(e.to_string().contains("bytes of buffers can hold"), "{e}");
        }
    }
}
