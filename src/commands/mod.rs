//! One module per subcommand: its arguments (clap) and its `run`. What several share lives here.

pub mod generate;
pub mod instance;
pub mod serve;
pub mod simulate;
pub mod solve;

use anyhow::{anyhow, Result};
use clap::ValueEnum;
use commonsnet_datasets::{DatasetError, TableFormat};
use std::io::Write as _;

#[derive(Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Arrow,
    Parquet,
    Csv,
}

impl From<OutFormat> for TableFormat {
    fn from(f: OutFormat) -> TableFormat {
        match f {
            OutFormat::Arrow => TableFormat::ArrowIpc,
            OutFormat::Parquet => TableFormat::Parquet,
            OutFormat::Csv => TableFormat::Csv,
        }
    }
}

/// A value a typed argument refused, said in our words (not clap's), so that the message is
/// the same as when the value is checked after parsing: `main` prints it on one line.
#[derive(Debug)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// A clap value parser for any `FromStr` type, its error kept as an [`ArgError`].
pub fn typed<T: std::str::FromStr>(s: &str) -> Result<T, ArgError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| ArgError(e.to_string()))
}

/// A clap value parser for a time limit: a positive, finite number of seconds.
pub fn seconds(s: &str) -> Result<f64, ArgError> {
    s.parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t > 0.0)
        .ok_or_else(|| ArgError(format!("{s:?} is not a positive number of seconds")))
}

/// A clap value parser for `--threads`: 1 to the engine's `MAX_THREADS` (a policy's
/// `threads` has the same bound; 16,000 threads took minutes to start before any work).
pub fn thread_count(s: &str) -> Result<usize, ArgError> {
    let max = commonsnet_engine::model::MAX_THREADS;
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ArgError(format!("{s:?} is not a thread count in 1..={max}")))
}

/// Problems an error line lists; the rest are counted (5,000 rows without a kind made one
/// line of 228,928 bytes).
const LISTED_PROBLEMS: usize = 20;

/// One line naming the problems of invalid input: the first [`LISTED_PROBLEMS`], and how
/// many more there are.
pub fn describe(e: DatasetError) -> anyhow::Error {
    match e {
        DatasetError::Invalid(inv) => {
            let total = inv.total();
            let listed: Vec<String> = inv
                .issues
                .iter()
                .take(LISTED_PROBLEMS)
                .map(|i| i.to_string())
                .collect();
            let more = total - listed.len();
            let tail = if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            };
            anyhow!(
                "invalid input: {total} problem(s): {}{tail}",
                listed.join("; ")
            )
        }
        other => anyhow!(other),
    }
}

/// [`describe`] of an error reading the input at `path`, named by it: a problem of the
/// scenario's content names the file first; an error that names a path already (a file that
/// cannot be read, a table, a policy) is said as it is (the path was printed twice).
pub fn describe_at(path: &std::path::Path, e: DatasetError) -> anyhow::Error {
    match e {
        DatasetError::Invalid(_) => anyhow!("{}: {}", path.display(), describe(e)),
        named => describe(named),
    }
}

/// What became of a line written to standard output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    Yes,
    /// The reader closed the pipe (`commonsnet solve ... | head -c 10`,
    /// `commonsnet simulate ... | head -1`).
    ReaderGone,
}

/// Write one line to standard output through its lock. A reader that has gone is not a
/// failure: the lines were for it alone, so the command stops quietly with status 0, as the
/// SIGPIPE that kills a C program there would have stopped it (Rust ignores SIGPIPE: the
/// write fails with `BrokenPipe`, on which `println!` panicked with status 101). Every command
/// prints through it. Callers stop at `ReaderGone`: once nobody reads the answers, no further
/// line is printed, nor instance solved, nor its `--out` written.
pub fn print_line(line: &str) -> Result<Printed> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(Printed::Yes),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Printed::ReaderGone),
        Err(e) => Err(anyhow!("writing to standard output: {e}")),
    }
}
