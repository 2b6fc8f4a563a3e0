//! CommonsNet files in and out: scenario JSON files and table directories (Arrow IPC file or
//! stream, Parquet, CSV; read and written through arrow-rs), result tables, and the standard
//! benchmark formats.
//!
//! The engine never touches a file; this crate turns files into the values and record batches
//! the engine validates, and the engine's result batches back into files.

pub mod dimacs;
mod folder;
pub mod frames;
pub mod generate;
pub mod instances;
pub mod orlib;
mod parquet_footer;
mod parse_error;

pub use folder::{is_archive, read_scenario_archive};
pub use parse_error::{ParseError, Problem};

use arrow_array::RecordBatch;
use commonsnet_engine::{InvalidInput, Report, Scenario};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes one input file is read to, as an archive's scenario files together
/// (2 GiB): a device or pipe without end
/// (`/dev/zero`), whose size on disk says nothing, is refused there, not read until memory
/// runs out.
pub const MAX_FILE_BYTES: u64 = folder::MAX_ARCHIVED_BYTES;

/// The bytes of the file at `path`, refused past [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, DatasetError> {
    read_file_within(path, MAX_FILE_BYTES)
}

fn read_file_within(path: &Path, max: u64) -> Result<Vec<u8>, DatasetError> {
    let file = File::open(path).map_err(io_err(path))?;
    // The size a regular file says, room made for it at once; none for a device or pipe.
    let said = file.metadata().map_or(0, |m| m.len()).min(max);
    let mut out = Vec::new();
    out.try_reserve_exact(usize::try_from(said).unwrap_or(0))
        .map_err(|e| format_err(path, format!("cannot hold {said} bytes: {e}")))?;
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(io_err(path))?;
    if out.len() as u64 > max {
        return Err(format_err(
            path,
            format!(
                "more than {max} bytes, the most an input file is read to (a file that large, or a \
                 device or pipe without end)"
            ),
        ));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    // The error is in the message and not a `#[source]`: anyhow's `{:#}` at the CLI's edge
    // would print it a second time.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// A table file that cannot be read (or written), with where in it.
    #[error("{path}: {error}")]
    Table {
        path: PathBuf,
        error: frames::TableError,
    },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |error| DatasetError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn table_err(path: &Path) -> impl FnOnce(frames::TableError) -> DatasetError + '_ {
    move |error| DatasetError::Table {
        path: path.to_path_buf(),
        error,
    }
}

fn format_err(path: &Path, message: impl ToString) -> DatasetError {
    DatasetError::Format {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Scenario input formats the CLI understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioFormat {
    Json,
    Dir,
}

/// Read a scenario JSON file (a key given twice is refused, naming its path).
pub fn read_scenario_json(path: &Path) -> Result<Scenario, DatasetError> {
    let bytes = read_file(path)?;
    Ok(commonsnet_engine::input::scenario_from_json_slice(&bytes)?)
}

/// Table extensions tried for each table of a scenario directory, in this order.
const TABLE_EXTENSIONS: &[&str] = &["arrow", "arrows", "ipc", "feather", "parquet", "csv"];

/// Remove the files of table `name` in `dir` in every format but `keep` (`None`: all of
/// them), so that a directory written in one format is never read with an older table in
/// another.
fn remove_stale_tables(dir: &Path, name: &str, keep: Option<&str>) -> Result<(), DatasetError> {
    for ext in TABLE_EXTENSIONS.iter().filter(|e| Some(**e) != keep) {
        let p = dir.join(format!("{name}.{ext}"));
        if p.is_file() {
            std::fs::remove_file(&p).map_err(io_err(&p))?;
        }
    }
    Ok(())
}

/// Read all record batches of a table file: Arrow IPC file or stream, Parquet, or CSV (by its
/// `.csv` extension), with the column types of SPEC section 3 checked.
pub fn read_batches(path: &Path) -> Result<Vec<RecordBatch>, DatasetError> {
    let bytes = read_file(path)?;
    let csv = TableFormat::from_path(path) == Some(TableFormat::Csv);
    frames::read_table(&bytes, csv).map_err(table_err(path))
}

/// Record batches of an in-memory Arrow IPC file or stream, or Parquet file (told apart by their
/// magic bytes), as files and HTTP uploads carry them.
pub fn read_batches_from_bytes(bytes: &[u8]) -> Result<Vec<RecordBatch>, frames::TableError> {
    frames::read_table(bytes, false)
}

/// Read a scenario directory: `resources.*`, `needs.*`, optional `links.*` (Arrow IPC file or
/// stream, or Parquet) and optional `policy.json`.
pub fn read_scenario_dir(dir: &Path) -> Result<Scenario, DatasetError> {
    // The folder's own name however its path is written (`.`, `scen/`, `../x/scen`): the
    // name and with it the input digest were another for `solve .` than for `solve scen`.
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = canonical.file_name().and_then(|n| n.to_str());
    folder::Folder::of_dir(dir)?.scenario(name)
}

/// Read a scenario in the given (or inferred) format.
pub fn read_scenario(
    path: &Path,
    format: Option<ScenarioFormat>,
) -> Result<Scenario, DatasetError> {
    let format = format.unwrap_or(if path.is_dir() || is_archive(path) {
        ScenarioFormat::Dir
    } else {
        ScenarioFormat::Json
    });
    match format {
        ScenarioFormat::Json => read_scenario_json(path),
        // A folder packed in an archive file, when the path is one.
        ScenarioFormat::Dir if !path.is_dir() && is_archive(path) => read_scenario_archive(path),
        ScenarioFormat::Dir => read_scenario_dir(path),
    }
}

/// How result tables are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    ArrowIpc,
    Parquet,
    /// SPEC section 3's CSV: sets `;`-joined.
    Csv,
}

impl TableFormat {
    /// The format a file's extension names (`.arrow`, `.parquet`, `.csv`, in any case:
    /// `runs.CSV` too), if any.
    pub fn from_path(path: &Path) -> Option<TableFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "arrow" => Some(TableFormat::ArrowIpc),
            "parquet" => Some(TableFormat::Parquet),
            "csv" => Some(TableFormat::Csv),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::ArrowIpc => "arrow",
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
        }
    }
}

/// Write one record batch, atomically (a temporary file renamed into place).
pub fn write_batch(
    path: &Path,
    batch: &RecordBatch,
    format: TableFormat,
) -> Result<(), DatasetError> {
    write_atomically(path, |out| frames::write_table(out, batch, format))
}

/// A table file written as its batches come ([`frames::TableStream`]) into a temporary file
/// next to `path`, synced and renamed into place by [`TableFile::finish`]: a run table of
/// millions of rows is never whole in memory, and `path` holds a whole table or what it held
/// before. Dropped unfinished (an error on the way, a panic), it removes its temporary file.
pub struct TableFile {
    path: PathBuf,
    tmp: PathBuf,
    stream: Option<frames::TableStream<std::io::BufWriter<File>>>,
}

impl TableFile {
    pub fn create(
        path: &Path,
        schema: arrow_schema::SchemaRef,
        format: TableFormat,
    ) -> Result<TableFile, DatasetError> {
        let tmp = temporary_path(path);
        // Removed by `drop` whatever fails from here on.
        let mut file = TableFile {
            path: path.to_path_buf(),
            tmp,
            stream: None,
        };
        let out = std::io::BufWriter::new(File::create(&file.tmp).map_err(io_err(path))?);
        file.stream = Some(frames::TableStream::new(out, schema, format).map_err(table_err(path))?);
        Ok(file)
    }

    /// Write `batch` as the table's next rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), DatasetError> {
        let path = &self.path;
        let stream = self.stream.as_mut().ok_or_else(|| not_open(path))?;
        stream.write(batch).map_err(table_err(path))
    }

    /// Complete the table and put it in place.
    pub fn finish(mut self) -> Result<(), DatasetError> {
        let stream = self.stream.take().ok_or_else(|| not_open(&self.path))?;
        let out = stream.finish().map_err(table_err(&self.path))?;
        sync_and_rename(out, &self.tmp, &self.path)
    }
}

/// A [`TableFile`] whose stream is gone (`create` sets it; only `finish` takes it).
fn not_open(path: &Path) -> DatasetError {
    io_err(path)(std::io::Error::other("the table file is not open"))
}

impl TableFile {
    /// The temporary file the table is written to until [`TableFile::finish`]: for a caller
    /// that may end the process without dropping this (a second Ctrl-C).
    pub fn temporary(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        // The writer first (its buffer would go to the file), then the file. After `finish`
        // the temporary file is renamed away: nothing to remove.
        drop(self.stream.take());
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A temporary file's name next to `path`, of this process and call alone: `--out run.parquet`
/// and `--out run.csv` written at once shared `run.tmp` and spoiled each other.
fn temporary_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Flush and sync `out`, a temporary file for `path` (errors name `path`).
fn flush_and_sync(out: std::io::BufWriter<File>, path: &Path) -> Result<(), DatasetError> {
    out.into_inner()
        .map_err(|e| io_err(path)(e.into_error()))?
        .sync_all()
        .map_err(io_err(path))
}

/// Flush and sync `out`, the temporary file `tmp`, and rename it to `path`.
fn sync_and_rename(
    out: std::io::BufWriter<File>,
    tmp: &Path,
    path: &Path,
) -> Result<(), DatasetError> {
    flush_and_sync(out, path)?;
    std::fs::rename(tmp, path).map_err(io_err(path))
}

/// Run `write` into a temporary file next to `path`, synced, then renamed into place.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<(), frames::TableError>,
) -> Result<(), DatasetError> {
    let mut staged = Staged::default();
    staged.stage(path, write)?;
    staged.commit(&mut Vec::new())
}

/// `bytes` as the file at `path`, written atomically: a write that fails (a full disk) leaves
/// what `path` held before, not a truncated file.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    // A device or a pipe (`--out /dev/stdout`) is written to as it is, and a link through to
    // its file: a rename would replace either with a file of its own.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::write(path, bytes).map_err(io_err(path));
    }
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    write_atomically(&target, |out| Ok(std::io::Write::write_all(out, bytes)?))
}

/// Files written whole next to where they go, then moved into place together: until
/// [`Staged::commit`] nothing in place has changed, so a write that fails half-way (a full
/// disk, a folder where a file goes) leaves every file as it was. Dropped uncommitted, the
/// temporary files go.
#[derive(Default)]
struct Staged {
    /// (temporary file, where it goes), in the order they move.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Write `write` into a temporary file next to `path`, synced. Errors name `path`, the
    /// file asked for (the temporary one is ours).
    fn stage(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<(), frames::TableError>,
    ) -> Result<(), DatasetError> {
        // Found now, not when the files move: a rename onto it would fail half-way through.
        if path.is_dir() {
            return Err(format_err(
                path,
                "is a folder, where a file is to be written",
            ));
        }
        let tmp = temporary_path(path);
        let mut file = std::io::BufWriter::new(File::create(&tmp).map_err(io_err(path))?);
        // Held from its creation, so that `drop` removes it whatever fails next.
        self.files.push((tmp, path.to_path_buf()));
        write(&mut file).map_err(table_err(path))?;
        flush_and_sync(file, path)
    }

    /// Move every staged file into place, in the order staged; `moved` gets each moved.
    fn commit(mut self, moved: &mut Vec<PathBuf>) -> Result<(), DatasetError> {
        // One at a time off the list: those not moved when one fails are `drop`'s to remove.
        while !self.files.is_empty() {
            let (tmp, path) = self.files.remove(0);
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io_err(&path)(e));
            }
            moved.push(path);
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Refuse `dir` as a report's directory when it holds scenario tables (`needs.*`,
/// `resources.*`, `links.*`) and no `summary.json`: the report's `needs` and `resources`
/// would replace the scenario's own (`solve DIR --out DIR`), or sit beside them in another
/// format. Only an earlier report's tables are ever replaced. [`write_report`] checks it; a
/// caller checks it before a long solve too.
pub fn check_report_dir(dir: &Path) -> Result<(), DatasetError> {
    if dir.join("summary.json").is_file() {
        return Ok(());
    }
    let scenario_table = ["needs", "resources", "links"].iter().find_map(|name| {
        TABLE_EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
    });
    match scenario_table {
        Some(p) => Err(format_err(
            dir,
            format!(
                "holds scenario tables ({}) and no summary.json: a report is not written over \
                 them; choose another directory",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
        )),
        None => Ok(()),
    }
}

/// The tables a report writes, besides its `summary.json`.
const REPORT_TABLES: [&str; 4] = ["allocations", "needs", "resources", "why"];

/// Remove the report in `dir`, if there is one: a `summary.json` this engine wrote (an
/// object with its `engine_version` and `input_digest`) says so; a folder that is a link is
/// left alone. Its `summary.json` and its tables in every format go, and `dir` itself when
/// nothing else is left in it. What is not a report's file stays.
pub fn remove_report(dir: &Path) -> Result<(), DatasetError> {
    let summary = dir.join("summary.json");
    let linked = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
    let ours = read_file_within(&summary, 1 << 20)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("engine_version").is_some() && v.get("input_digest").is_some());
    if linked || !ours {
        return Ok(());
    }
    for name in REPORT_TABLES {
        remove_stale_tables(dir, name, None)?;
    }
    std::fs::remove_file(&summary).map_err(io_err(&summary))?;
    // Not empty (the caller's own files): it stays, and that is no error.
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

/// Write `allocations`, `needs`, `resources` and `summary.json` into `dir` (and `why` when
/// explained). Over an earlier report (a `summary.json` there), that report's tables in other
/// formats and its `why` go, so the directory reads as this report alone. `summary` is what
/// `summary.json` holds: the report's own (`Report::summary_json`), or the CLI's restatement
/// of it in a benchmark instance's sense. Every file is written atomically and once.
pub fn write_report(
    dir: &Path,
    report: &Report,
    summary: &serde_json::Value,
    format: TableFormat,
) -> Result<(), DatasetError> {
    check_report_dir(dir)?;
    let earlier_report = dir.join("summary.json").is_file();
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tables = report.tables().map_err(|e| format_err(dir, e))?;
    let ext = format.extension();
    let why = tables.why.as_ref().map(|w| ("why", w));
    let named = [
        ("allocations", &tables.allocations),
        ("needs", &tables.needs),
        ("resources", &tables.resources),
    ];
    // Every file written before any moves: a write that fails (a full disk) leaves an earlier
    // report whole, where it left this report's tables beside that one's summary.
    let mut staged = Staged::default();
    for (name, batch) in named.into_iter().chain(why) {
        let path = dir.join(format!("{name}.{ext}"));
        staged.stage(&path, |out| frames::write_table(out, batch, format))?;
    }
    // Last: it marks the directory as a report's (`check_report_dir`).
    staged.stage(&dir.join("summary.json"), |out| {
        serde_json::to_writer_pretty(&mut *out, summary)
            .map_err(|e| frames::TableError::Write(e.to_string()))?;
        Ok(std::io::Write::write_all(out, b"\n")?)
    })?;
    let mut moved = Vec::new();
    let result = staged.commit(&mut moved).and_then(|()| {
        if !earlier_report {
            return Ok(());
        }
        // Over an earlier report (it wrote a `summary.json`), its tables in other formats go,
        // and its `why` when this report has none (it would read as this one's).
        for (name, _) in named.into_iter().chain(why) {
            remove_stale_tables(dir, name, Some(ext))?;
        }
        if why.is_none() {
            remove_stale_tables(dir, "why", None)?;
        }
        Ok(())
    });
    if result.is_err() && !earlier_report {
        // A first report whose move failed half-way leaves no tables without a
        // `summary.json`: they would read as a scenario's, and `check_report_dir` refuse the
        // directory.
        for path in &moved {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

/// Write a scenario's tables (the SPEC section 3 layout) into `dir`, for tests and generators:
/// the directory then holds this scenario only (tables of it in other formats, and a links table
/// or `policy.json` it does not have, are removed).
pub fn write_scenario_tables(
    dir: &Path,
    resources: &RecordBatch,
    needs: &RecordBatch,
    links: Option<&RecordBatch>,
    policy: Option<&serde_json::Value>,
    format: TableFormat,
) -> Result<(), DatasetError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let ext = format.extension();
    let tables = [
        ("resources", Some(resources)),
        ("needs", Some(needs)),
        ("links", links),
    ];
    for (name, batch) in tables {
        if let Some(b) = batch {
            write_batch(&dir.join(format!("{name}.{ext}")), b, format)?;
        }
        // What this write does not hold goes: the directory then reads as this scenario.
        remove_stale_tables(dir, name, batch.map(|_| ext))?;
    }
    let path = dir.join("policy.json");
    match policy {
        Some(p) => write_file(&path, p.to_string().as_bytes())?,
        None if path.is_file() => std::fs::remove_file(&path).map_err(io_err(&path))?,
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int64Array};
    use arrow_schema::DataType;
    use std::sync::Arc;

    /// A file is read to its bound and no further: a device without end is refused there
    /// (`solve /dev/zero` filled 15 GB in 30 s), a file of the bound read whole, a folder
    /// named as what it is.
    #[test]
    fn a_file_is_read_within_its_bound() {
        let e = read_file_within(Path::new("/dev/zero"), 1_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: more than 1000 bytes, the most an input file is read to (a file that \
             large, or a device or pipe without end)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, vec![b' '; 1_000]).unwrap();
        assert_eq!(read_file_within(&path, 1_000).unwrap().len(), 1_000);
        assert!(read_file_within(&path, 999).is_err());
        let e = read_file(dir.path()).unwrap_err();
        assert!(matches!(e, DatasetError::Io { .. }), "{e}");
    }

    /// An extension names its format in any case; an unknown one names none.
    #[test]
    fn table_formats_are_named_by_extension_in_any_case() {
        for (name, format) in [
            ("runs.csv", Some(TableFormat::Csv)),
            ("runs.CSV", Some(TableFormat::Csv)),
            ("t.Parquet", Some(TableFormat::Parquet)),
            ("t.ARROW", Some(TableFormat::ArrowIpc)),
            ("t.json", None),
            ("t", None),
        ] {
            assert_eq!(TableFormat::from_path(Path::new(name)), format, "{name}");
        }
    }

    /// Two tables whose names differ only in their extension, written at once, each arrive
    /// whole: both were written through `run.tmp`, and one's rename could carry the other's
    /// bytes.
    #[test]
    fn tables_written_at_once_beside_each_other_arrive_whole() {
        let dir = std::env::temp_dir().join(format!("commonsnet-beside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::thread::scope(|s| {
            for (ext, format, k) in [
                ("parquet", TableFormat::Parquet, 1i64),
                ("csv", TableFormat::Csv, 2),
            ] {
                let path = dir.join(format!("run.{ext}"));
                let column: Arc<dyn Array> = Arc::new(Int64Array::from(vec![k; 2000]));
                let batch = RecordBatch::try_from_iter([("x", column)]).unwrap();
                s.spawn(move || {
                    for _ in 0..40 {
                        write_batch(&path, &batch, format).unwrap();
                        let back = read_batches(&path).unwrap();
                        let values: Vec<i64> = back
                            .iter()
                            .flat_map(|b| {
                                // CSV reads an unknown column by its text.
                                let x = arrow_cast::cast(b.column(0), &DataType::Int64).unwrap();
                                let x = x.as_any().downcast_ref::<Int64Array>().unwrap();
                                x.values().to_vec()
                            })
                            .collect();
                        assert_eq!(values, vec![k; 2000], "{ext}");
                    }
                });
            }
        });
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(left, ["run.csv", "run.parquet"]);
    }

    /// A table file given up before `finish` (a write that failed, a panic) leaves nothing,
    /// and what `path` held stays; finished, it is the table in place and nothing beside it.
    #[test]
    fn a_table_file_is_whole_in_place_or_not_there() {
        let dir = std::env::temp_dir().join(format!("commonsnet-tablefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.parquet");
        std::fs::write(&path, b"an older table").unwrap();
        let column: Arc<dyn Array> = Arc::new(Int64Array::from(vec![7i64; 100]));
        let batch = RecordBatch::try_from_iter([("x", column)]).unwrap();
        let names = || {
            let mut n: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        let mut file = TableFile::create(&path, batch.schema(), TableFormat::Parquet).unwrap();
        file.write(&batch).unwrap();
        assert_eq!(names().len(), 2, "the table and its temporary file");
        drop(file);
        assert_eq!(names(), ["runs.parquet"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"an older table");
        let mut file = TableFile::create(&path, batch.schema(), TableFormat::Parquet).unwrap();
        file.write(&batch).unwrap();
        file.write(&batch).unwrap();
        file.finish().unwrap();
        assert_eq!(names(), ["runs.parquet"]);
        let rows: usize = read_batches(&path)
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(rows, 200);
    }
}
