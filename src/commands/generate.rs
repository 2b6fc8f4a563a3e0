//! `commonsnet generate`: one scenario from a pilot generator, as JSON or a table directory.

use super::{describe, print_line, typed, ArgError, OutFormat};
use anyhow::Result;
use commonsnet_datasets::generate::{Clock, GenerateError, Generator};
use commonsnet_datasets::{write_scenario_tables, DatasetError};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Generator name: urban, rural, intentional or disaster.
    #[arg(value_parser = typed::<Generator>)]
    name: Generator,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Size multiplier: entity counts grow linearly with it.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// A `.json` file, or a directory that receives the tables and policy.json.
    #[arg(long, value_parser = scenario_out)]
    out: PathBuf,
    /// With SPEC's time model: loans, stays, harvest jobs and shifts with durations on
    /// reusable dimensions (datasets/README.md). Without it, a snapshot as before.
    #[arg(long)]
    timed: bool,
    /// Table format when --out is a directory.
    #[arg(long, value_enum, default_value = "arrow")]
    table_format: OutFormat,
}

/// `--out`: a name ending as one table's file (`.csv`, `.parquet`, `.arrow`) is refused, since
/// a scenario is several tables: it made a directory of that name holding Arrow tables.
fn scenario_out(s: &str) -> Result<PathBuf, ArgError> {
    let path = PathBuf::from(s);
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some(ext @ ("csv" | "parquet" | "arrow")) => Err(ArgError(format!(
            "--out {s}: a .{ext} file holds one table, and a scenario is several: give a .json \
             file, or a directory (without an extension) for the tables with --table-format {ext}"
        ))),
        _ => Ok(path),
    }
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let clock = if args.timed {
        Clock::Timed
    } else {
        Clock::Snapshot
    };
    let (value, scenario) = match args.name.generate_checked(args.scale, args.seed, clock) {
        // Scales past a generator's bound are refused before it runs; this is its bug.
        Err(GenerateError::Invalid { source, generator }) => {
            let why = describe(DatasetError::Invalid(source));
            return Err(anyhow::anyhow!(
                "generator {generator} made a scenario the engine refuses (a bug to report): {why}"
            ));
        }
        other => other?,
    };
    // In any case: `a.JSON` made a folder named so, holding tables.
    if args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = serde_json::to_string_pretty(&value)?;
        commonsnet_datasets::write_file(&args.out, (text + "\n").as_bytes()).map_err(describe)?;
    } else {
        let t = commonsnet_engine::tables::scenario_to_tables(&scenario)?;
        let policy = t.policy.clone();
        write_scenario_tables(
            &args.out,
            &t.resources,
            &t.needs,
            t.links.as_ref(),
            Some(&policy),
            args.table_format.into(),
        )
        .map_err(describe)?;
    }
    // Written already: a reader gone before this line is no failure.
    print_line(
        &serde_json::json!({"name": scenario.name(), "needs": scenario.needs().len(),
            "resources": scenario.resources().len(), "out": args.out.display().to_string()})
        .to_string(),
    )?;
    Ok(())
}
