//! One module per subcommand: its arguments (clap) and its `run`. What several share lives here.

pub mod generate;
pub mod instance;
pub mod serve;
pub mod simulate;
pub mod solve;

use anyhow::anyhow;
use clap::ValueEnum;
use commonsnet_datasets::{DatasetError, TableFormat};

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

/// One line naming every problem of invalid input.
pub fn describe(e: DatasetError) -> anyhow::Error {
    match e {
        DatasetError::Invalid(inv) => {
            let all: Vec<String> = inv.issues.iter().map(|i| i.to_string()).collect();
            anyhow!(
                "invalid input: {} problem(s): {}",
                all.len(),
                all.join("; ")
            )
        }
        other => anyhow!(other),
    }
}
