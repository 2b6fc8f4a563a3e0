//! `commonsnet solve`: a scenario (JSON file or table directory) or a benchmark instance
//! (DIMACS `.min`/`.asn`, OR-Library GAP or assignment), one JSON line per instance.

use super::{describe, describe_at, print_line, seconds, thread_count, OutFormat, Printed};
use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use commonsnet_datasets::dimacs;
use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_datasets::{
    check_report_dir, read_scenario, remove_report, write_report, DatasetError, ScenarioFormat,
};
use commonsnet_engine::solve::try_solve_with;
use commonsnet_engine::{Report, SolveOptions};
use commonsnet_solvers::{solve_assignment, AssignmentError, FlowError, FlowMethod, MinCostFlow};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
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

impl From<SenseArg> for Sense {
    fn from(s: SenseArg) -> Sense {
        match s {
            SenseArg::Min => Sense::Min,
            SenseArg::Max => Sense::Max,
        }
    }
}

#[derive(clap::Args)]
pub struct SolveArgs {
    /// Scenario JSON file, scenario directory (or one packed as `.zip`, `.tar`, `.tar.gz`,
    /// `.tgz`), or benchmark instance file.
    file: PathBuf,
    /// Input format (inferred: a directory or archive is scenario-dir, `.min` dimacs-min,
    /// `.asn` dimacs-asn, any other file scenario-json; OR-Library files need theirs).
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Optimisation sense of a benchmark instance (default: min). Not for scenarios: their
    /// policy says what is optimised. Under `max` the instance is solved with its profits as
    /// negated costs: `objective` is the profit (with `"sense": "max"`), while `cost` and the
    /// allocations' `cost` column are the negated profits the engine minimised.
    #[arg(long, value_enum)]
    sense: Option<SenseArg>,
    /// Write the result tables and summary.json into this directory (scenarios and GAP
    /// instances). A multi-instance GAP file writes each instance into a numbered
    /// subdirectory: DIR/1, DIR/2, ... A directory that holds scenario tables and no
    /// summary.json (the scenario's own) is refused before the solve.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Table format for --out (default: arrow).
    #[arg(long, value_enum)]
    out_format: Option<OutFormat>,
    /// Include the allocations in the printed JSON, and for a timed scenario each resource's
    /// schedule (which need holds it when). Scenarios and GAP instances.
    #[arg(long)]
    plan: bool,
    /// Say why each need not served in full is served as it is: a `why` list in the printed
    /// JSON, and a `why` table with --out. Scenarios and GAP instances.
    #[arg(long)]
    explain: bool,
    /// A cap on the solver's time, seconds (with the policy's `time_limit_s`, the smaller):
    /// a plan stopped there is the best found, with status `time_limit` and its gap.
    /// Scenarios and GAP instances.
    #[arg(long, value_parser = seconds)]
    time_limit: Option<f64>,
    /// Threads for this solve, 1 to 1024 (default: all cores, or the policy's `threads`).
    /// Scenarios and GAP instances.
    #[arg(long, value_parser = thread_count)]
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

/// Why a DIMACS min-cost flow has no feasible flow, in the file's terms: its nodes are
/// numbered from 1, and its arcs by their `a` lines from 1 (the solver counts both from 0).
fn in_file_terms(r: &commonsnet_solvers::problem::Infeasibility) -> String {
    use commonsnet_solvers::problem::Infeasibility as I;
    match *r {
        I::Stranded { node } => format!("node {} cannot send or receive its supply", node + 1),
        I::Bounds { arc, lower, upper } => format!(
            "arc {} (of the file's 'a' lines) has lower bound {lower} above its capacity {upper}",
            arc + 1
        ),
        I::Unbalanced { .. } => r.to_string(),
    }
}

fn infer_format(path: &Path) -> InputFormat {
    if path.is_dir() || commonsnet_datasets::is_archive(path) {
        return InputFormat::ScenarioDir;
    }
    // In any case, as `instance` and table files name theirs.
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("min") => InputFormat::DimacsMin,
        Some("asn") => InputFormat::DimacsAsn,
        _ => InputFormat::ScenarioJson,
    }
}

/// Refuse the options that `format` would not use: an option dropped without a word reads as
/// applied (`--out` that writes nothing, `--sense max` on a scenario solved as its policy says).
fn check_options(args: &SolveArgs, format: InputFormat) -> Result<()> {
    use InputFormat::*;
    let scenario = matches!(format, ScenarioJson | ScenarioDir);
    // Scenarios and GAP instances are solved by the engine, which writes tables, plans,
    // explanations and runs on threads; the flow and assignment solvers print a status and an
    // objective.
    let engine = scenario || format == OrlibGap;
    let mut refused = Vec::new();
    if !engine {
        let flags = [
            (args.out.is_some(), "--out"),
            (args.out_format.is_some(), "--out-format"),
            (args.plan, "--plan"),
            (args.explain, "--explain"),
            (args.threads.is_some(), "--threads"),
            (args.time_limit.is_some(), "--time-limit"),
        ];
        let given: Vec<&str> = flags.iter().filter(|f| f.0).map(|f| f.1).collect();
        if !given.is_empty() {
            let solver = match format {
                DimacsMin => "the min-cost flow solver",
                _ => "the assignment solver",
            };
            refused.push(format!(
                "{} (they are for scenarios and GAP instances, which the engine solves: {solver} \
                 prints a status and an objective, on one thread)",
                given.join(", ")
            ));
        }
    } else if args.out_format.is_some() && args.out.is_none() {
        refused.push("--out-format (it is the format of --out's tables)".to_string());
    }
    if scenario && args.sense.is_some() {
        refused.push(
            "--sense (for benchmark instances: a scenario's policy says what is optimised)".into(),
        );
    }
    if format != DimacsMin && args.flow_method.is_some() {
        refused.push("--flow-method (for DIMACS .min files)".into());
    }
    if refused.is_empty() {
        return Ok(());
    }
    let name = format
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string());
    bail!(
        "{} is read as {name}, which does not take {}",
        args.file.display(),
        refused.join("; ")
    )
}

/// How a benchmark instance came out: its optimum, or why it has none.
enum InstanceOutcome {
    Optimal(i128),
    Infeasible(String),
    /// A negative cycle without a capacity limit (an arc at `i64::MAX`, the solvers' infinity).
    Unbounded,
}

/// A benchmark result line: status, objective (in the instance's sense), solver, solve time.
/// Written by hand: the objective is an `i128` printed with all its digits, where a
/// `serde_json` value would hold anything beyond 64 bits as an `f64` (4.611686018427388e19
/// for 46116860184273879035).
fn instance_line(
    result: InstanceOutcome,
    sense: SenseArg,
    solver: &str,
    solve_ms: f64,
    pivots: Option<u64>,
) -> String {
    let mut out = String::from("{");
    match result {
        InstanceOutcome::Optimal(cost) => {
            // `-cost` without overflow, `i128::MIN` included.
            let objective = match sense {
                SenseArg::Min => cost.to_string(),
                SenseArg::Max if cost <= 0 => cost.unsigned_abs().to_string(),
                SenseArg::Max => format!("-{cost}"),
            };
            let _ = write!(out, r#""status":"optimal","objective":{objective}"#);
        }
        InstanceOutcome::Infeasible(reason) => {
            let _ = write!(
                out,
                r#""status":"infeasible","objective":null,"reason":{}"#,
                Value::from(reason)
            );
        }
        InstanceOutcome::Unbounded => {
            // The objective has no bound in the instance's sense: `--sense max` negates the
            // costs, so an unbounded minimum is an unbounded profit.
            let _ = write!(
                out,
                r#""status":"unbounded","objective":null,"reason":{}"#,
                Value::from(FlowError::Unbounded.to_string())
            );
        }
    }
    let _ = write!(
        out,
        r#","solver":{},"solve_ms":{}"#,
        Value::from(solver),
        Value::from(solve_ms)
    );
    if let Some(p) = pivots {
        let _ = write!(out, r#","pivots":{p}"#);
    }
    // As a GAP instance's summary says it: the objective is the profit.
    if let SenseArg::Max = sense {
        out.push_str(r#","sense":"max""#);
    }
    out.push('}');
    out
}

pub fn run(args: &SolveArgs) -> Result<()> {
    let opts = SolveOptions {
        threads: args.threads,
        // A cap kept out of the scenario (its digest stays the input's), as a server's.
        time_limit_s: args.time_limit,
        ..SolveOptions::default()
    };
    let format = args.format.unwrap_or_else(|| infer_format(&args.file));
    check_options(args, format)?;
    if let Some(out) = &args.out {
        // Before the solve, which may be long: `write_report` checks it again.
        check_report_dir(out).map_err(describe)?;
    }
    let sense = args.sense.unwrap_or(SenseArg::Min);
    let file = args.file.display();
    match format {
        InputFormat::ScenarioJson | InputFormat::ScenarioDir => {
            let f = match format {
                InputFormat::ScenarioDir => ScenarioFormat::Dir,
                _ => ScenarioFormat::Json,
            };
            let scenario = read_scenario(&args.file, Some(f)).map_err(|e| {
                let e = describe_at(&args.file, e);
                // Any extension but .min and .asn (and .json) is read as a JSON scenario: an
                // OR-Library file needs its --format, which the error says.
                let json_named = args
                    .file
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("json"));
                let hint = if args.format.is_none()
                    && matches!(f, ScenarioFormat::Json)
                    && !json_named
                    && e.to_string().contains("not valid JSON")
                {
                    " (read as a JSON scenario, by its extension: give --format for a benchmark \
                     instance, as orlib-gap or orlib-assign)"
                } else {
                    ""
                };
                anyhow!("{e}{hint}")
            })?;
            let outcome = try_solve_with(&scenario, &opts).map_err(|e| anyhow!("{file}: {e}"))?;
            let report = if args.explain {
                Report::explained(&outcome)
            } else {
                Report::new(&outcome)
            };
            emit(&report, args, None, args.out.as_deref())?;
            Ok(())
        }
        InputFormat::DimacsMin => {
            let bytes = read(&args.file)?;
            let mut p = dimacs::parse_min(&bytes).map_err(|e| anyhow!("{file}: {e}"))?;
            drop(bytes);
            if let SenseArg::Max = sense {
                // Parallel arcs are distinct arcs of a flow network: negating every cost after
                // the read keeps them all. The reader never gives `i64::MIN`, so no overflow.
                p.cost.iter_mut().for_each(|c| *c = -*c);
            }
            // The choice is timed with the solve: it is part of what `auto` costs.
            let start = Instant::now();
            let method = match args.flow_method {
                Some(FlowMethodArg::NetworkSimplex) => FlowMethod::NetworkSimplex,
                Some(FlowMethodArg::CostScaling) => FlowMethod::CostScaling,
                None => MinCostFlow::choose(&p),
            };
            let result = MinCostFlow::solve_with(&p, method);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let answered = result.as_ref().map_or(method, |s| s.method);
            if args.flow_method.is_some() && answered != method {
                eprintln!(
                    "note: {} cannot answer this network exactly: solved by {}",
                    method.as_str(),
                    answered.as_str()
                );
            }
            let solver = answered.as_str();
            let pivots = result
                .as_ref()
                .ok()
                .filter(|s| s.method == FlowMethod::NetworkSimplex)
                .map(|s| s.pivots);
            let result = match result {
                Ok(s) => InstanceOutcome::Optimal(s.cost),
                Err(FlowError::Infeasible(r)) => InstanceOutcome::Infeasible(in_file_terms(&r)),
                Err(FlowError::Unbounded) => InstanceOutcome::Unbounded,
                Err(e) => return Err(anyhow!("{file}: {e}")),
            };
            print_line(&instance_line(result, sense, solver, ms, pivots))?;
            Ok(())
        }
        InputFormat::DimacsAsn | InputFormat::OrlibAssign => {
            let bytes = read(&args.file)?;
            // Read in the instance's sense: of parallel `.asn` arcs the best in that sense
            // counts, which negating the costs after the read would not keep.
            let parsed = match format {
                InputFormat::DimacsAsn => dimacs::parse_asn_with_sense(&bytes, sense.into()),
                _ => dimacs::parse_orlib_assign_with_sense(&bytes, sense.into()),
            };
            let p = parsed.map_err(|e| anyhow!("{file}: {e}"))?;
            drop(bytes);
            let method = commonsnet_solvers::assignment::method(&p);
            if format == InputFormat::DimacsAsn && p.rows != p.cols {
                // DIMACS assignment asks for a perfect matching (as the same network written
                // as `.min` does): with sides of different sizes there is none. The solver
                // itself matches every node of the smaller side, as a dense matrix asks.
                let why = format!(
                    "a perfect matching pairs every node: {} left nodes and {} right nodes",
                    p.rows, p.cols
                );
                let line = instance_line(
                    InstanceOutcome::Infeasible(why),
                    sense,
                    method.as_str(),
                    0.0,
                    None,
                );
                print_line(&line)?;
                return Ok(());
            }
            let start = Instant::now();
            let result = solve_assignment(&p);
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let result = match result {
                Ok(a) => InstanceOutcome::Optimal(a.cost),
                // The solver counts from 0; the file's rows (OR-Library) and left nodes in node
                // order (DIMACS) from 1.
                Err(AssignmentError::Infeasible(r)) => InstanceOutcome::Infeasible(match format {
                    InputFormat::DimacsAsn => {
                        format!(
                            "left node number {} (in node order) cannot be assigned",
                            r + 1
                        )
                    }
                    _ => format!("row {} cannot be assigned", r + 1),
                }),
                Err(e) => return Err(anyhow!("{file}: {e}")),
            };
            print_line(&instance_line(result, sense, method.as_str(), ms, None))?;
            Ok(())
        }
        InputFormat::OrlibGap => {
            let bytes = read(&args.file)?;
            let instances = parse_gap(&bytes).map_err(|e| anyhow!("{file}: {e}"))?;
            drop(bytes);
            let stem = args
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("gap")
                .to_string();
            let many = instances.len() > 1;
            if let Some(dir) = &args.out {
                clear_other_gap_reports(dir, instances.len())?;
            }
            for (k, inst) in instances.into_iter().enumerate() {
                let name = if many {
                    format!("{stem}#{}", k + 1)
                } else {
                    stem.clone()
                };
                // The JSON value is the largest thing a GAP instance makes (~0.9 KB a pair):
                // it and the parsed numbers go before the solve.
                let scenario = {
                    let value = inst.to_scenario(sense.into(), &name);
                    drop(inst);
                    commonsnet_engine::scenario_from_value(&value)
                        .map_err(|e| describe(DatasetError::Invalid(e)))?
                };
                let outcome =
                    try_solve_with(&scenario, &opts).map_err(|e| anyhow!("{file}: {name}: {e}"))?;
                let report = if args.explain {
                    Report::explained(&outcome)
                } else {
                    Report::new(&outcome)
                };
                // Each instance of a multi-instance file in a directory of its own: written
                // into one, each would replace the one before.
                let out = args.out.as_ref().map(|d| {
                    if many {
                        d.join((k + 1).to_string())
                    } else {
                        d.clone()
                    }
                });
                if emit(&report, args, Some(sense), out.as_deref())? == Printed::ReaderGone {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// Before the reports of a GAP file of `count` instances go into `dir` (`dir` itself for one,
/// `dir/1`, `dir/2`, ... for more), the reports an earlier file left there that these do not
/// replace go: one in `dir` itself under many, numbered ones past `count` (all of them under
/// one). They read as this file's results.
fn clear_other_gap_reports(dir: &Path, count: usize) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let numbered = name
            .to_str()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&k| k >= 1 && name.to_str() == Some(&k.to_string()));
        if numbered.is_some_and(|k| count == 1 || k > count) {
            remove_report(&entry.path()).map_err(describe)?;
        }
    }
    if count > 1 {
        remove_report(dir).map_err(describe)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    commonsnet_datasets::read_file(path).map_err(describe)
}

/// Print the report's summary (with the plan and explanations asked for) and write `--out`'s
/// tables into `out`. A benchmark instance's `sense` puts its objective back in that sense,
/// in the printed line and in `summary.json` alike.
fn emit(
    report: &Report,
    args: &SolveArgs,
    sense: Option<SenseArg>,
    out: Option<&Path>,
) -> Result<Printed> {
    let mut summary = report.summary_json();
    if let (Some(SenseArg::Max), Value::Object(m)) = (sense, &mut summary) {
        // Benchmark maximisation instances were solved with negated costs: report their sense.
        if let Some(obj) = m.get("objective").and_then(Value::as_f64) {
            // `0.0 - obj`, not `-obj`: an objective of 0 stays 0, not -0.
            m.insert("objective".into(), (0.0 - obj).into());
        }
        m.insert("sense".into(), "max".into());
    }
    if let Some(dir) = out {
        let format = args.out_format.unwrap_or(OutFormat::Arrow).into();
        write_report(dir, report, &summary, format).map_err(describe)?;
    }
    if let Value::Object(m) = &mut summary {
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
    print_line(&summary.to_string())
}
