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
    /// Generated scenarios, at least 1 (default 10; refused with a file: it is one scenario,
    /// which --replicates repeats).
    #[arg(long, value_parser = scenario_count)]
    scenarios: Option<usize>,
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
        list_item(s, |label| {
            label.parse::<NamedPolicy>()?;
            Ok(label.to_string())
        })
        .map(PolicyArg)
    }
}

/// An item of a comma-separated option, `parse`d once trimmed; an empty item is none.
fn list_item<T, E>(s: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    let item = s.trim();
    if item.is_empty() {
        return Ok(None);
    }
    parse(item).map(Some)
}

/// One `--perturb` item, `NAME=VALUE` (an empty item sets nothing).
#[derive(Clone, Copy, Debug)]
struct PerturbArg(Option<(PerturbKind, f64)>);

impl FromStr for PerturbArg {
    type Err = ArgError;

    fn from_str(s: &str) -> Result<Self, ArgError> {
        list_item(s, |item| {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                ArgError(format!("--perturb: expected NAME=VALUE, found {item:?}"))
            })?;
            let kind = k.parse::<PerturbKind>().map_err(|_| {
                ArgError(format!(
                    "--perturb: unknown {k:?} (demand, failures, travel_time)"
                ))
            })?;
            let value = v
                .parse()
                .map_err(|_| ArgError(format!("--perturb {k}: {v:?} is not a number")))?;
            Ok((kind, value))
        })
        .map(PerturbArg)
    }
}

/// The folder `out` is in (`.` for a bare file name).
fn folder_of(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuse `--out` whose folder is missing or not writable (a file is made there and removed).
fn writable_folder_of(out: &Path) -> Result<()> {
    let folder = folder_of(out);
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
    let folder = folder_of(out);
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
    if policies.is_empty() {
        return Err(anyhow!("--policies names no policy"));
    }
    if args.replicates == 0 {
        return Err(anyhow!("--replicates must be at least 1"));
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
                count: args.scenarios.unwrap_or(10),
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
            if args.scale.is_some() || args.timed || args.scenarios.is_some() {
                return Err(anyhow!(
                    "--scenarios, --scale and --timed apply to generators; {:?} is one scenario \
                     of its own (--replicates repeats it)",
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
    let interrupted = interrupt_flag();
    let progress = |_: &commonsnet_engine::batch::RunRow| {
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
    };
    let ran = run_to_file(
        &batch,
        &pool,
        &args.out,
        format,
        ROWS_PER_WRITE,
        RUNS_AHEAD,
        &|| interrupted.load(std::sync::atomic::Ordering::SeqCst),
        &progress,
    )?;
    let (stopped, done) = (ran.runs < total, ran.runs);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let count = |s: Status| ran.statuses.get(&s).copied().unwrap_or(0);
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
    for m in ran.summary {
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

/// The run table's temporary file while it is written: a second Ctrl-C ends the process at
/// once, dropping nothing, and removes it first.
static WRITING: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Runs a table file takes at a time: the rows held while runs go are those not yet written
/// (up to this many, and at most [`RUNS_AHEAD`] done ahead of a slower run), not the whole
/// table's (about 2 KB a run: ten million runs took some 20 GB). No run waits for the writer
/// beyond the lock.
const ROWS_PER_WRITE: usize = 8192;

/// How far past the first run not done a thread may start one: a run at its time limit held
/// back every row done meanwhile, without bound. A thread held here waits on a condition
/// variable, not inside a solve, so the slow run goes on (on its own thread if no other is
/// free) and the wait ends when it does. At ~50 ms a run, 8,192 runs on 2 threads are some
/// 200 s of work: more than a time limit, so only a run that hangs past it holds others back.
const RUNS_AHEAD: usize = 8192;

/// What [`run_to_file`] ran.
struct Ran {
    /// Runs done: 0 to `runs - 1`, the table's rows.
    runs: usize,
    statuses: std::collections::HashMap<Status, usize>,
    summary: Vec<frames::MetricStats>,
}

/// The rows done and not yet written, in run order from `next`.
struct Pending {
    next: usize,
    ahead: std::collections::BTreeMap<usize, commonsnet_engine::batch::RunRow>,
    ready: Vec<commonsnet_engine::batch::RunRow>,
    file: commonsnet_datasets::TableFile,
    summary: frames::RunSummary,
    statuses: std::collections::HashMap<Status, usize>,
    failed: Option<anyhow::Error>,
}

impl Pending {
    /// Write the rows ready as the table's next rows.
    fn write<S: ScenarioSource>(&mut self, batch: &Batch<S>) -> Result<()> {
        if self.ready.is_empty() {
            return Ok(());
        }
        let table = batch.table(&self.ready)?;
        self.summary.add(&table)?;
        self.file.write(&table).map_err(describe)?;
        for r in self.ready.drain(..) {
            *self.statuses.entry(r.status).or_default() += 1;
        }
        Ok(())
    }
}

/// Run `batch` on `pool` and write its run table to `out` as the runs finish, `chunk` rows a
/// write in run order, summarising it on the way. Runs are started in index order and every
/// one started finishes, so after `stop` (a Ctrl-C) the runs done are 0 to k-1, a table of
/// its own (the first k rows of the whole one). A write that fails stops the runs.
#[allow(clippy::too_many_arguments)]
fn run_to_file<S: ScenarioSource + Sync>(
    batch: &Batch<S>,
    pool: &rayon::ThreadPool,
    out: &Path,
    format: TableFormat,
    chunk: usize,
    ahead: usize,
    stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(&commonsnet_engine::batch::RunRow) + Sync),
) -> Result<Ran> {
    let total = batch.total();
    let schema = batch.table(&[])?.schema();
    let file = commonsnet_datasets::TableFile::create(out, schema, format).map_err(describe)?;
    *WRITING.lock().unwrap_or_else(|p| p.into_inner()) = Some(file.temporary().to_path_buf());
    let pending = std::sync::Mutex::new(Pending {
        next: 0,
        ahead: Default::default(),
        ready: Vec::new(),
        file,
        summary: Default::default(),
        statuses: Default::default(),
        failed: None,
    });
    let lock = || pending.lock().unwrap_or_else(|p| p.into_inner());
    // Signalled when the first run not done moves on.
    let moved_on = std::sync::Condvar::new();
    let failed = std::sync::atomic::AtomicBool::new(false);
    let halt = || stop() || failed.load(std::sync::atomic::Ordering::SeqCst);
    run_each(pool, total, &halt, &|i| {
        // A panic past `batch.run` (which catches its own) before this run's row is in would
        // leave the threads behind it waiting for ever: it fails the batch and wakes them.
        let _unwinding = Unwinding(&|| {
            failed.store(true, std::sync::atomic::Ordering::SeqCst);
            let _held = lock();
            moved_on.notify_all();
        });
        // A run taken is always run (even after a stop: the runs done stay 0 to k-1); it waits
        // only for the runs before it, which are all taken and come to an end.
        let mut guard = lock();
        while i >= guard.next + ahead {
            if failed.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            guard = moved_on.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        drop(guard);
        let row = batch.run(i);
        progress(&row);
        let mut guard = lock();
        let p = &mut *guard;
        p.ahead.insert(i, row);
        let next = p.next;
        while let Some(row) = p.ahead.remove(&p.next) {
            p.ready.push(row);
            p.next += 1;
        }
        if p.next != next {
            moved_on.notify_all();
        }
        if p.ready.len() >= chunk && p.failed.is_none() {
            if let Err(e) = p.write(batch) {
                p.failed = Some(e);
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    let mut p = pending.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = p.failed.take() {
        return Err(e);
    }
    if !p.ahead.is_empty() || (p.next < total && !stop()) {
        return Err(anyhow!("a run did not finish"));
    }
    p.write(batch)?;
    p.file.finish().map_err(describe)?;
    *WRITING.lock().unwrap_or_else(|p| p.into_inner()) = None;
    Ok(Ran {
        runs: p.next,
        statuses: p.statuses,
        summary: p.summary.finish(),
    })
}

/// Runs its function when dropped while the thread unwinds from a panic.
struct Unwinding<'a>(&'a dyn Fn());

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
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
                    if let Some(tmp) = WRITING.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        let _ = std::fs::remove_file(tmp);
                    }
                    std::process::exit(130);
                }
            });
        });
    // Without the watcher thread (none could be made), Ctrl-C ends the process at once.
    drop(watcher);
    flag
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::RecordBatch;
    use commonsnet_engine::batch::RunRow;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Two scenarios x two policies x three replicates (12 runs), demand perturbed so the
    /// replicates differ.
    fn batch() -> Batch {
        let scenario = |capacity: f64| {
            commonsnet_engine::scenario_from_value(&serde_json::json!({
                "resources": [{"id": "r", "kind": "k", "community": "a",
                    "capacity": {"u": capacity}}],
                "needs": [{"id": "n1", "kind": "k", "community": "a", "demand": {"u": 2}},
                    {"id": "n2", "kind": "k", "community": "b", "demand": {"u": 3}}]}))
            .unwrap()
        };
        let mut perturbation = Perturbation::default();
        perturbation.set(PerturbKind::Demand, 0.3);
        Batch {
            scenarios: vec![
                ("small".into(), scenario(2.0)),
                ("large".into(), scenario(4.0)),
            ],
            policies: ["greedy", "maxmin"]
                .map(|p| PolicySpec::Named(p.into()))
                .to_vec(),
            replicates: 3,
            seed: 7,
            settings: BatchSettings {
                perturbation,
                time_limit_s: None,
                explain: true,
            },
        }
    }

    /// The row groups of the Parquet file at `path`, and its rows as one batch (a batch of
    /// the reader spans row groups).
    fn read(path: &Path) -> (usize, RecordBatch) {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .with_batch_size(1 << 16);
        let groups = reader.metadata().num_row_groups();
        let schema = reader.schema().clone();
        let mut batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(batches.len(), 1);
        // The reader's schema has the file's metadata (the batch's, its fields alone).
        (groups, batches.remove(0).with_schema(schema).unwrap())
    }

    /// The table without `solve_ms`, a measurement.
    fn without_times(t: &RecordBatch) -> RecordBatch {
        let i = t.schema().index_of("solve_ms").unwrap();
        let mut t = t.clone();
        t.remove_column(i);
        t
    }

    /// A temporary folder, the path of a run table in it, and [`batch`] to write there.
    fn batch_and_file() -> (tempfile::TempDir, PathBuf, Batch) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("runs.parquet");
        (dir, out, batch())
    }

    /// The run table of runs 0 to `runs - 1`, all at once.
    fn table_of_first(b: &Batch, runs: usize) -> RecordBatch {
        let rows: Vec<RunRow> = (0..runs).map(|i| b.run(i)).collect();
        b.table(&rows).unwrap()
    }

    /// [`run_to_file`] of `b` on `pool` writing Parquet to `out`, `chunk` rows a write.
    fn run_to_parquet(
        b: &Batch,
        pool: &rayon::ThreadPool,
        out: &Path,
        chunk: usize,
        ahead: usize,
        stop: &(dyn Fn() -> bool + Sync),
        progress: &(dyn Fn(&RunRow) + Sync),
    ) -> Result<Ran> {
        run_to_file(
            b,
            pool,
            out,
            TableFormat::Parquet,
            chunk,
            ahead,
            stop,
            progress,
        )
    }

    /// Written three rows at a time, the table is the one of all rows at once (one row group
    /// per write), and its summary is `summarise_runs` of that table.
    #[test]
    fn a_run_table_written_as_it_goes_is_the_whole_tables() {
        let (dir, out, b) = batch_and_file();
        let whole = table_of_first(&b, 12);
        // Two threads: runs done ahead of a slower one are written with it.
        run_to_parquet(&b, &pool(2), &out, 3, 100, &|| false, &|_| {}).unwrap();
        let (groups, written) = read(&out);
        // (all twelve in one when run 0 is the last to finish)
        assert!((1..=4).contains(&groups), "{groups}");
        assert_eq!(without_times(&written), without_times(&whole));
        // One thread: four writes of three rows.
        let ran = run_to_parquet(&b, &pool(1), &out, 3, 100, &|| false, &|_| {}).unwrap();
        assert_eq!(ran.runs, 12);
        let (groups, written) = read(&out);
        assert_eq!(groups, 4);
        assert_eq!(written.schema(), whole.schema());
        assert_eq!(without_times(&written), without_times(&whole));
        let summary = |s: Vec<frames::MetricStats>| -> Vec<_> {
            s.into_iter().filter(|m| m.metric != "solve_ms").collect()
        };
        assert_eq!(
            summary(ran.summary),
            summary(frames::summarise_runs(&whole).unwrap())
        );
        let statuses: usize = ran.statuses.values().sum();
        assert_eq!(statuses, 12);
        // Nothing of the writer's is left beside the table.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["runs.parquet"]);
    }

    /// A slow run holds back at most `ahead` runs started after it (a review at scale: a run at
    /// its time limit held every row done meanwhile in memory, without bound), and the table
    /// is whole.
    #[test]
    fn a_slow_run_holds_back_at_most_the_runs_ahead() {
        let (_dir, out, b) = batch_and_file();
        let pool = pool(2);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let while_slow = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let ran = run_to_parquet(&b, &pool, &out, 2, 3, &|| false, &|row| {
            if row.run == 0 {
                // Run 0 is slow: the other thread does runs 1 and 2 meanwhile, then waits.
                std::thread::sleep(std::time::Duration::from_millis(1500));
                while_slow.store(
                    done.load(std::sync::atomic::Ordering::SeqCst),
                    std::sync::atomic::Ordering::SeqCst,
                );
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
        assert_eq!(ran.runs, 12);
        assert_eq!(while_slow.load(std::sync::atomic::Ordering::SeqCst), 2);
        let (_, written) = read(&out);
        assert_eq!(
            without_times(&written),
            without_times(&table_of_first(&b, 12))
        );
    }

    /// A panic outside a run (here in the progress callback) while other threads wait for the
    /// run it was in ends the batch with that panic; the waiting threads do not wait for ever.
    #[test]
    fn a_panic_outside_a_run_ends_the_waits_behind_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (_dir, out, b) = batch_and_file();
            let pool = pool(2);
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_to_parquet(&b, &pool, &out, 2, 1, &|| false, &|row| {
                    if row.run == 0 {
                        // The other thread has taken run 1 and waits for run 0's row.
                        std::thread::sleep(std::time::Duration::from_millis(300));
                        panic!("progress failed");
                    }
                })
                .map(|_| ())
            }));
            let _ = tx.send(ended.is_err());
        });
        let panicked = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the batch ended");
        assert!(panicked);
    }

    /// Stopped after five runs (one thread: no run is under way then), the table is the first
    /// five rows of the whole one.
    #[test]
    fn a_stopped_batch_writes_the_runs_done() {
        let (_dir, out, b) = batch_and_file();
        let pool = pool(1);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let ran = run_to_parquet(
            &b,
            &pool,
            &out,
            2,
            100,
            &|| done.load(std::sync::atomic::Ordering::SeqCst) >= 5,
            &|_| {
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        )
        .unwrap();
        assert_eq!(ran.runs, 5);
        let (groups, written) = read(&out);
        assert_eq!(groups, 3);
        assert_eq!(
            without_times(&written),
            without_times(&table_of_first(&b, 5))
        );
    }
}
