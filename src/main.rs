//! `commonsnet`: the command-line front end over the engine and the dataset readers.

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_datasets::{read_scenario, write_report, DatasetError, ScenarioFormat, TableFormat};
use commonsnet_engine::{solve_with, Report, SolveOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "commonsnet",
    version,
    about = "Allocation engine for shared community resources and crisis response"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solve a scenario or a benchmark instance; prints one JSON object per instance.
    Solve(SolveArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum InputFormat {
    ScenarioJson,
    ScenarioDir,
    OrlibGap,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Arrow,
    Parquet,
}

#[derive(Clone, Copy, ValueEnum)]
enum SenseArg {
    Min,
    Max,
}

#[derive(clap::Args)]
struct SolveArgs {
    /// Scenario JSON file, scenario directory, or benchmark instance file.
    file: PathBuf,
    /// Input format (inferred: a directory is scenario-dir, `.json` is scenario-json).
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Optimisation sense of a benchmark instance.
    #[arg(long, value_enum, default_value = "min")]
    sense: SenseArg,
    /// Write the result tables and summary.json into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Table format for --out.
    #[arg(long, value_enum, default_value = "arrow")]
    out_format: OutFormat,
    /// Include the allocations in the printed JSON.
    #[arg(long)]
    plan: bool,
    /// Threads for this solve (default: all cores, or the policy's `threads`).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Solve(args) => run_solve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// One line naming every problem of invalid input.
fn describe(e: DatasetError) -> anyhow::Error {
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

fn infer_format(path: &Path) -> InputFormat {
    if path.is_dir() {
        InputFormat::ScenarioDir
    } else {
        InputFormat::ScenarioJson
    }
}

fn run_solve(args: &SolveArgs) -> Result<()> {
    let opts = SolveOptions {
        threads: args.threads,
        ..SolveOptions::default()
    };
    let format = args.format.unwrap_or_else(|| infer_format(&args.file));
    match format {
        InputFormat::ScenarioJson | InputFormat::ScenarioDir => {
            let f = match format {
                InputFormat::ScenarioDir => ScenarioFormat::Dir,
                _ => ScenarioFormat::Json,
            };
            let scenario = read_scenario(&args.file, Some(f)).map_err(describe)?;
            let report = Report::new(&solve_with(&scenario, &opts));
            emit(&report, args, None)
        }
        InputFormat::OrlibGap => {
            let bytes = std::fs::read(&args.file)
                .with_context(|| format!("reading {}", args.file.display()))?;
            let instances =
                parse_gap(&bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            let sense = match args.sense {
                SenseArg::Min => Sense::Min,
                SenseArg::Max => Sense::Max,
            };
            let stem = args
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("gap")
                .to_string();
            for (k, inst) in instances.iter().enumerate() {
                let name = if instances.len() > 1 {
                    format!("{stem}#{}", k + 1)
                } else {
                    stem.clone()
                };
                let value = inst.to_scenario(sense, &name);
                let scenario = commonsnet_engine::scenario_from_value(&value)
                    .map_err(|e| describe(DatasetError::Invalid(e)))?;
                let report = Report::new(&solve_with(&scenario, &opts));
                emit(&report, args, Some(sense))?;
            }
            Ok(())
        }
    }
}

fn emit(report: &Report, args: &SolveArgs, sense: Option<Sense>) -> Result<()> {
    let mut out = report.summary_json();
    if let (Some(Sense::Max), Value::Object(m)) = (sense, &mut out) {
        // Benchmark maximisation instances were solved with negated costs: report their sense.
        if let Some(obj) = m.get("objective").and_then(Value::as_f64) {
            m.insert("objective".into(), (-obj).into());
        }
        m.insert("sense".into(), "max".into());
    }
    if args.plan {
        if let Value::Object(m) = &mut out {
            m.insert(
                "allocations".into(),
                Value::Array(report.allocations_json()),
            );
        }
    }
    if let Some(dir) = &args.out {
        let format = match args.out_format {
            OutFormat::Arrow => TableFormat::ArrowIpc,
            OutFormat::Parquet => TableFormat::Parquet,
        };
        write_report(dir, report, format).map_err(describe)?;
    }
    println!("{out}");
    Ok(())
}
