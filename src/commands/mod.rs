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
