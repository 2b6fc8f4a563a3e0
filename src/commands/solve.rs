//! `commonsnet solve`: a scenario (JSON file or table directory) or a benchmark instance
//! (DIMACS `.min`/`.asn`, OR-Library GAP or assignment), one JSON line per instance.

use super::{describe, OutFormat};
use anyhow::{anyhow, Context, Result};
use clap::ValueEnum;
use commonsnet_datasets::dimacs;
use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_datasets::{read_scenario, write_report, DatasetError, ScenarioFormat};
use commonsnet_engine::solve::try_solve_with;
use commonsnet_engine::{Report, SolveOptions};
use commonsnet_solvers::{
    solve_assignment, AssignmentError, FlowError, FlowMethod, MinCostFlow, FORBIDDEN,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
pub enum InputFormat {
    ScenarioJson,
    ScenarioDir,
    DimacsMin,
    DimacsAsn,
    OrlibGap,
    OrlibAssign,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SenseArg {
    Min,
    Max,
}

#[derive(clap::Args)]
pub struct SolveArgs {
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
    /// Include the allocations in the printed JSON, and for a timed scenario each resource's
    /// schedule (which need holds it when).
    #[arg(long)]
    plan: bool,
    /// Say why each need not served in full is served as it is: a `why` list in the printed
    /// JSON, and a `why` table with --out.
    #[arg(long)]
    explain: bool,
    /// Threads for this solve (default: all cores, or the policy's `threads`).
    #[arg(long)]
    threads: Option<usize>,
    /// Min-cost flow method for a DIMACS `.min` file (default: chosen by network size).
    #[arg(long, value_enum)]
    flow_method: Option<FlowMethodArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FlowMethodArg {
    NetworkSimplex,
    CostScaling,
}

fn infer_format(path: &Path) -> InputFormat {
    if path.is_dir() {
        return InputFormat::ScenarioDir;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("min") => InputFormat::DimacsMin,
        Some("asn") => InputFormat::DimacsAsn,
        _ => InputFormat::ScenarioJson,
    }
}

/// Print one benchmark result line: status, objective (in the instance's sense), solve time.
fn print_instance(
    result: Result<i128, String>,
    sense: SenseArg,
    solver: &str,
    solve_ms: f64,
    pivots: Option<u64>,
) {
    let mut out = serde_json::Map::new();
    match result {
        Ok(cost) => {
            let obj = match sense {
                SenseArg::Min => cost,
                SenseArg::Max => -cost,
            };
            out.insert("status".into(), "optimal".into());
            // Exact integers; JSON numbers beyond 2^53 stay exact as integers here.
            let v: Value = serde_json::from_str(&obj.to_string()).unwrap_or(Value::Null);
            out.insert("objective".into(), v);
        }
        Err(reason) => {
            out.insert("status".into(), "infeasible".into());
            out.insert("objective".into(), Value::Null);
            out.insert("reason".into(), reason.into());
        }
    }
    out.insert("solver".into(), solver.into());
    out.insert("solve_ms".into(), solve_ms.into());
    if let Some(p) = pivots {
        out.insert("pivots".into(), p.into());
    }
    println!("{}", Value::Object(out));
}

fn negate_for_max<T: Copy + std::ops::Neg<Output = T>>(
    v: &mut [T],
    sense: SenseArg,
    skip: impl Fn(T) -> bool,
) {
    if let SenseArg::Max = sense {
        for x in v.iter_mut() {
            if !skip(*x) {
                *x = -*x;
            }
        }
    }
}

pub fn run(args: &SolveArgs) -> Result<()> {
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
            let outcome = try_solve_with(&scenario, &opts)
                .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            let report = if args.explain {
                Report::explained(&outcome)
            } else {
                Report::new(&outcome)
            };
            emit(&report, args, None)
        }
        InputFormat::DimacsMin => {
            let bytes = read(&args.file)?;
            let mut p =
                dimacs::parse_min(&bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            negate_for_max(&mut p.cost, args.sense, |_| false);
            // The choice is timed with the solve: it is part of what `auto` costs.
            let start = Instant::now();
            let method = match args.flow_method {
                Some(FlowMethodArg::NetworkSimplex) => FlowMethod::NetworkSimplex,
                Some(FlowMethodArg::CostScaling) => FlowMethod::CostScaling,
                None => MinCostFlow::choose(&p),
            };
            let result = MinCostFlow::solve_with(&p, method);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let solver = result.as_ref().map_or(method, |s| s.method).as_str();
            let pivots = result
                .as_ref()
                .ok()
                .filter(|s| s.method == FlowMethod::NetworkSimplex)
                .map(|s| s.pivots);
            let result = match result {
                Ok(s) => Ok(s.cost),
                Err(FlowError::Infeasible(r)) => Err(r.to_string()),
                Err(e) => return Err(anyhow!("{}: {e}", args.file.display())),
            };
            print_instance(result, args.sense, solver, ms, pivots);
            Ok(())
        }
        InputFormat::DimacsAsn | InputFormat::OrlibAssign => {
            let bytes = read(&args.file)?;
            let parsed = match format {
                InputFormat::DimacsAsn => dimacs::parse_asn(&bytes),
                _ => dimacs::parse_orlib_assign(&bytes),
            };
            let mut p = parsed.map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            negate_for_max(&mut p.cost, args.sense, |c| c == FORBIDDEN);
            let method = commonsnet_solvers::assignment::method(&p);
            let start = Instant::now();
            let result = solve_assignment(&p);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let result = match result {
                Ok(a) => Ok(a.cost),
                Err(AssignmentError::Infeasible(r)) => Err(format!("row {r} cannot be assigned")),
                Err(e) => return Err(anyhow!("{}: {e}", args.file.display())),
            };
            print_instance(result, args.sense, method.as_str(), ms, None);
            Ok(())
        }
        InputFormat::OrlibGap => {
            let bytes = read(&args.file)?;
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
                let outcome = try_solve_with(&scenario, &opts)
                    .map_err(|e| anyhow!("{}: {name}: {e}", args.file.display()))?;
                let report = if args.explain {
                    Report::explained(&outcome)
                } else {
                    Report::new(&outcome)
                };
                emit(&report, args, Some(sense))?;
            }
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
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
    if let Value::Object(m) = &mut out {
        if args.plan {
            m.insert(
                "allocations".into(),
                Value::Array(report.allocations_json()),
            );
            if let Some(schedule) = report.schedule_json() {
                m.insert("schedule".into(), schedule);
            }
        }
        if let Some(why) = &report.why {
            m.insert("why".into(), serde_json::to_value(why)?);
        }
    }
    if let Some(dir) = &args.out {
        let format = args.out_format.into();
        write_report(dir, report, format).map_err(describe)?;
    }
    println!("{out}");
    Ok(())
}
