//! `commonsnet simulate`: a batch of scenarios x policies x replicates on one pool, written as
//! a run table and summarised per policy.

use super::{describe, describe_at, print_line, seconds, thread_count, typed, ArgError, Printed};
use anyhow::{anyhow, Result};
use commonsnet_datasets::generate::{self, Clock, Generator};
use commonsnet_datasets::{frames, read_scenario, TableFormat};
use commonsnet_engine::batch::{
    run_each, Batch, BatchError, BatchSettings, NamedPolicy, PerturbKind, Perturbation, PolicySpec,
    ScenarioSource,
};
use commonsnet_engine::Status;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use commonsnet_engine::batch::too_many_runs;

fn scenario_count(s: &str) -> Result<usize, ArgError> {
    s.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
        ArgError(format!(
            "--scenarios must be a whole number of at least 1, not {s:?}"
        ))
    })
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// A generator (urban, rural, intentional, disaster) or a scenario file or directory.
    #[arg(long)]
    generator: ScenarioArg,
    /// Generated scenarios, at least 1 (ignored for a file: it is one scenario).
    #[arg(long, default_value_t = 10, value_parser = scenario_count)]
    scenarios: usize,
    /// Scale of generated scenarios (default 1; a file has its own size).
    #[arg(long)]
    scale: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Generated scenarios with SPEC's time model (loans, stays, jobs, shifts); a file has
    /// its own policy.
    #[arg(long)]
    timed: bool,
    /// Comma-separated: greedy, coverage, cost, maxmin, leximin, proportional, own, min_share=S.
    #[arg(
        long,
        value_delimiter = ',',
        default_values = ["greedy", "coverage", "maxmin"],
        value_parser = typed::<PolicyArg>
    )]
    policies: Vec<PolicyArg>,
    /// Monte Carlo replicates of each scenario.
    #[arg(long, default_value_t = 1)]
    replicates: usize,
    /// Comma-separated perturbations: demand=F,failures=F,travel_time=F (each in [0, 1]).
    #[arg(long, value_delimiter = ',', value_parser = typed::<PerturbArg>)]
    perturb: Vec<PerturbArg>,
    /// Result table, one row per run, in the format its extension names: `.parquet`, `.arrow`
    /// or `.csv`.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: all cores). The table does not depend on it.
    #[arg(long, value_parser = thread_count)]
    threads: Option<usize>,
    /// Solver time limit of each run, seconds.
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    time_limit: f64,
    /// Explain every run's plan: columns `why_<reason>` count the needs not served in full by
    /// reason (null without it).
    #[arg(long)]
    explain: bool,
}

/// `--generator`: a generator's name, else a scenario file or directory.
#[derive(Clone, Debug)]
enum ScenarioArg {
    Generator(Generator),
    Path(PathBuf),
}

impl FromStr for ScenarioArg {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.parse()
            .map_or_else(|_| ScenarioArg::Path(s.into()), ScenarioArg::Generator))
    }
}

/// One `--policies` item: a [`NamedPolicy`], labelled in the results as it was spelled (an
/// empty item, as in `a,,b`, names none).
#[derive(Clone, Debug)]
struct PolicyArg(Option<String>);

impl FromStr for PolicyArg {
    type Err = BatchError;

    fn from_str(s: &str) -> Result<Self, BatchError> {
        let label = s.trim();
        if label.is_empty() {
            return Ok(PolicyArg(None));
        }
        label.parse::<NamedPolicy>()?;
        Ok(PolicyArg(Some(label.to_string())))
    }
}

/// One `--perturb` item, `NAME=VALUE` (an empty item sets nothing).
#[derive(Clone, Copy, Debug)]
struct PerturbArg(Option<(PerturbKind, f64)>);

impl FromStr for PerturbArg {
    type Err = ArgError;

    fn from_str(s: &str) -> Result<Self, ArgError> {
        let item = s.trim();
        if item.is_empty() {
            return Ok(PerturbArg(None));
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| ArgError(format!("--perturb: expected NAME=VALUE, found {item:?}")))?;
        let kind = k.parse::<PerturbKind>().map_err(|_| {
            ArgError(format!(
                "--perturb: unknown {k:?} (demand, failures, travel_time)"
            ))
        })?;
        let value = v
            .parse()
            .map_err(|_| ArgError(format!("--perturb {k}: {v:?} is not a number")))?;
        Ok(PerturbArg(Some((kind, value))))
    }
}

/// Refuse `--out` whose folder is missing or not writable (a file is made there and removed).
fn writable_folder_of(out: &Path) -> Result<()> {
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(anyhow!(
            "--out {}: the folder {} does not exist",
            out.display(),
            folder.display()
        ));
    }
    if out.is_dir() {
        return Err(anyhow!("--out {}: is a folder, not a file", out.display()));
    }
    // A name of our own: a file of the user's is never touched.
    let probe = folder.join(format!(".commonsnet-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| anyhow!("--out {}: cannot write there: {e}", out.display()))
}

/// Refuse `--out` that is the scenario read, or one of its tables (a run table written as
/// `DIR/needs.parquet` replaced the scenario's needs).
fn refuse_out_over_input(out: &Path, input: &Path) -> Result<()> {
    let (Ok(input), Some(name)) = (input.canonicalize(), out.file_name()) else {
        return Ok(());
    };
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(folder) = folder.canonicalize() else {
        return Ok(());
    };
    let out_path = folder.join(name);
    let stem = Path::new(name).file_stem().and_then(|s| s.to_str());
    let table = matches!(stem, Some("needs" | "resources" | "links" | "policy"));
    if out_path == input || (input.is_dir() && folder == input && table) {
        return Err(anyhow!(
            "--out {}: is the scenario read ({}); choose another file",
            out.display(),
            input.display()
        ));
    }
    Ok(())
}

pub fn run(args: &SimulateArgs) -> Result<()> {
    use std::io::IsTerminal;
    let mut perturbation = Perturbation::default();
    let mut perturbed = Vec::new();
    for &(kind, value) in args.perturb.iter().filter_map(|p| p.0.as_ref()) {
        // The last of two values would win without a word.
        if perturbed.contains(&kind) {
            return Err(anyhow!("--perturb: {kind} given twice"));
        }
        perturbed.push(kind);
        perturbation.set(kind, value);
    }
    perturbation.validate()?;
    // Known before hours of runs, not after: the format, and a folder the table can be
    // written into.
    let format = TableFormat::from_path(&args.out).ok_or_else(|| {
        anyhow!(
            "--out {}: the extension names no table format (.parquet, .arrow or .csv)",
            args.out.display()
        )
    })?;
    writable_folder_of(&args.out)?;
    let mut labels: Vec<&str> = Vec::new();
    for label in args.policies.iter().filter_map(|p| p.0.as_deref()) {
        // Runs of one label twice over would be summed as one policy's.
        if labels.contains(&label) {
            return Err(anyhow!("--policies: {label} given twice"));
        }
        labels.push(label);
    }
    let policies: Vec<PolicySpec> = labels
        .iter()
        .map(|l| PolicySpec::Named(l.to_string()))
        .collect();
    if policies.is_empty() || args.replicates == 0 {
        return Err(anyhow!("need at least one policy and one replicate"));
    }
    // Generated scenarios are made by each run when it starts, not all up front.
    let scenarios: Box<dyn ScenarioSource> = match &args.generator {
        ScenarioArg::Generator(g) => {
            let scale = args.scale.unwrap_or(1.0);
            let clock = if args.timed {
                Clock::Timed
            } else {
                Clock::Snapshot
            };
            g.check_scale(scale, clock)
                .map_err(|e| anyhow!("--scale: {e}"))?;
            Box::new(generate::Generated {
                name: g.name().to_string(),
                scale,
                count: args.scenarios,
                seed: args.seed,
                clock,
            })
        }
        ScenarioArg::Path(path) => {
            if !path.exists() {
                return Err(anyhow!(
                    "--generator {:?} is neither a generator ({}) nor a file",
                    path.to_string_lossy(),
                    generate::GENERATORS.join(", ")
                ));
            }
            // Said rather than ignored: a file is one scenario with its own size and policy.
            if args.scale.is_some() || args.timed {
                return Err(anyhow!(
                    "--scale and --timed apply to generators; {:?} is a scenario of its own",
                    path.to_string_lossy()
                ));
            }
            refuse_out_over_input(&args.out, path)?;
            // Named as `solve` names it: the file is where the problems are.
            let s = read_scenario(path, None).map_err(|e| describe_at(path, e))?;
            Box::new(vec![(s.name().unwrap_or("scenario").to_string(), s)])
        }
    };
    let batch = Batch {
        scenarios,
        policies,
        replicates: args.replicates,
        seed: args.seed,
        settings: BatchSettings {
            perturbation,
            time_limit_s: Some(args.time_limit),
            explain: args.explain,
        },
    };
    // Every run's row is held until the table is written.
    let total = batch.total();
    let counts = (
        batch.scenarios.count(),
        batch.policies.len(),
        batch.replicates,
    );
    if let Some(refusal) = too_many_runs(counts, total, "--seed") {
        return Err(anyhow!(refusal));
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let step = (total / 10).max(1);
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    // One run at a time per thread of the pool; a run's solve uses the same pool. A slot is
    // a pointer until its run is done: ten million unboxed rows took 5 GB before any ran.
    type Slot = std::sync::Mutex<Option<Box<commonsnet_engine::batch::RunRow>>>;
    let slots: Vec<Slot> = (0..total).map(|_| std::sync::Mutex::new(None)).collect();
    let interrupted = interrupt_flag();
    let stop = || interrupted.load(std::sync::atomic::Ordering::SeqCst);
    run_each(&pool, total, &stop, &|i| {
        let row = batch.run(i);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(row));
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match &bar {
            Some(b) => b.inc(1),
            None if n.is_multiple_of(step) || n == total => {
                // Not `eprintln!`: a closed stderr (`2>&1 | head -1`) panicked it and lost
                // every run; progress is a courtesy, the table is the result.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "progress: {n}/{total} runs");
            }
            None => {}
        }
    });
    let mut finished = slots.into_iter().map(|m| {
        m.into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .map(|r| *r)
    });
    // Runs are started in index order and every one started finishes: after a Ctrl-C the
    // runs done are 0 to k-1, a table of its own (the first k rows of the whole one).
    let rows: Vec<_> = finished.by_ref().map_while(|r| r).collect();
    if finished.any(|r| r.is_some()) || (rows.len() < total && !stop()) {
        return Err(anyhow!("a run did not finish"));
    }
    let stopped = rows.len() < total;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let table = batch.table(&rows)?;
    commonsnet_datasets::write_batch(&args.out, &table, format).map_err(describe)?;
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count();
    let failed = count(Status::Error);
    // Said, not hidden in the table: a time-limited run's numbers depend on the machine
    // (and it drops out of the price of fairness), an infeasible one has no plan.
    let mut others = String::new();
    for (status, words) in [
        (Status::TimeLimit, "stopped at the time limit"),
        (Status::Infeasible, "infeasible"),
    ] {
        let n = count(status);
        if n > 0 {
            others += &format!(", {n} {words}");
        }
    }
    let done = rows.len();
    let mut lines = vec![
        format!(
            "{done} runs in {secs:.2} s ({:.1} runs/s, {} threads), {failed} failed{others}; \
             table: {}",
            done as f64 / secs,
            pool.current_num_threads(),
            args.out.display()
        ),
        format!(
            "{:<14} {:<20} {:>5} {:>12} {:>12} {:>12} {:>12}",
            "policy", "metric", "runs", "mean", "p10", "p50", "p90"
        ),
    ];
    for m in frames::summarise_runs(&table)? {
        lines.push(format!(
            "{:<14} {:<20} {:>5} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
            m.policy, m.metric, m.runs, m.mean, m.p10, m.p50, m.p90
        ));
    }
    if stopped {
        let kept = match done {
            0 => format!("no run of {total} had finished"),
            _ => format!("runs 0 to {} of {total} (the first {done})", done - 1),
        };
        lines[0] = format!("interrupted: {kept}; {}", lines[0]);
    }
    // The table is written: a reader that stops reading the summary stops only the summary.
    for line in &lines {
        if print_line(line)? == Printed::ReaderGone {
            break;
        }
    }
    if stopped {
        // As a shell reports a command a SIGINT ended: 128 + 2.
        std::process::exit(130);
    }
    Ok(())
}

/// Set at the first Ctrl-C (SIGINT) while the runs go: no run starts after it, those under way
/// finish, and the table of the runs done is written (they lost every finished run before). A
/// second Ctrl-C ends the process at once, writing nothing.
fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let watcher = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                set.store(true, Ordering::SeqCst);
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "interrupted: the runs under way finish, then the table of the runs done is \
                     written (Ctrl-C again to stop at once, writing nothing)"
                );
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            });
        });
    // Without the watcher thread (none could be made), Ctrl-C ends the process at once.
    drop(watcher);
    flag
}
