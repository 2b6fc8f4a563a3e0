//! `commonsnet`: the command-line front end over the engine and the dataset readers.

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use commonsnet_datasets::generate;
use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_datasets::{dimacs, frames};
use commonsnet_datasets::{
    read_scenario, write_report, write_scenario_tables, DatasetError, ScenarioFormat, TableFormat,
};
use commonsnet_engine::batch::{
    named_policy, rows_to_batch, run_each, Batch, BatchSettings, Perturbation, PolicySpec,
    ScenarioSource,
};
use commonsnet_engine::solve::try_solve_with;
use commonsnet_engine::{Report, SolveOptions};
use commonsnet_solvers::{
    solve_assignment, AssignmentError, FlowError, FlowMethod, MinCostFlow, FORBIDDEN,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

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
    /// Write a synthetic scenario from one of the pilot generators (urban, rural,
    /// intentional, disaster).
    Generate(GenerateArgs),
    /// Run the HTTP service (SPEC section 4).
    Serve(ServeArgs),
    /// Batch simulation (SPEC section 5): scenarios x policies x replicates on all cores.
    Simulate(SimulateArgs),
    /// Write a seeded benchmark instance as DIMACS text (the peer comparison's workloads).
    Instance(InstanceArgs),
}

#[derive(clap::Args)]
struct InstanceArgs {
    #[command(subcommand)]
    kind: InstanceKind,
    #[arg(long, default_value_t = 1, global = true)]
    seed: u64,
    /// Output file (`.min` for flows, `.asn` for assignment; a directory for allocation).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum InstanceKind {
    /// NETGEN-8 network: 2^k nodes, 8 arcs per node (our NETGEN-style generator).
    Netgen8 {
        #[arg(long)]
        k: u32,
    },
    /// Stations supplying incidents, each linked to its nearest stations.
    Crisis {
        #[arg(long, default_value_t = 2000)]
        stations: usize,
        #[arg(long, default_value_t = 50000)]
        incidents: usize,
        #[arg(long, default_value_t = 20)]
        candidates: usize,
    },
    /// Complete n x n assignment, costs uniform in [1, 10^6].
    DenseAssign {
        #[arg(long)]
        n: usize,
    },
    /// Multi-dimensional allocation scenario with rule-built links written out explicitly
    /// (a scenario directory of Parquet tables; --out names the directory).
    Allocation {
        #[arg(long, default_value_t = 20000)]
        needs: usize,
        #[arg(long, default_value_t = 2000)]
        resources: usize,
        #[arg(long, default_value_t = 3)]
        dims: usize,
        #[arg(long, default_value_t = 4.0)]
        max_distance_km: f64,
    },
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// A generator (urban, rural, intentional, disaster) or a scenario file or directory.
    #[arg(long)]
    generator: String,
    /// Generated scenarios (ignored for a file: it is one scenario).
    #[arg(long, default_value_t = 10)]
    scenarios: usize,
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated: greedy, coverage, cost, maxmin, own, min_share=S.
    #[arg(long, default_value = "greedy,coverage,maxmin")]
    policies: String,
    /// Monte Carlo replicates of each scenario.
    #[arg(long, default_value_t = 1)]
    replicates: usize,
    /// Comma-separated perturbations: demand=F,failures=F,travel_time=F (each in [0, 1]).
    #[arg(long, default_value = "")]
    perturb: String,
    /// Result table, one row per run: `.parquet` (default), `.arrow` or `.csv`.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: all cores). The table does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Solver time limit of each run, seconds.
    #[arg(long, default_value_t = 60.0)]
    time_limit: f64,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Data directory: SQLite job store and result files.
    #[arg(long, default_value = "./commonsnet-data")]
    data: PathBuf,
    /// Bearer tokens file, one `TENANT TOKEN` per line. Required for non-loopback addresses.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Largest request body in MiB.
    #[arg(long, default_value_t = 64)]
    body_limit_mib: usize,
    /// Jobs that may wait to start before POST /v1/jobs answers 429.
    #[arg(long, default_value_t = 64)]
    max_queued_jobs: usize,
    /// Solver time limit (seconds) of a synchronous solve and of each job run.
    #[arg(long, default_value_t = 60.0)]
    time_limit: f64,
    /// Threads for batch jobs (default: all cores).
    #[arg(long)]
    job_threads: Option<usize>,
    /// Synchronous solves at once (default: all cores).
    #[arg(long)]
    solve_workers: Option<usize>,
    /// Live sessions kept in memory at once; beyond it creating or reloading one answers 429.
    #[arg(long, default_value_t = 256)]
    max_sessions: usize,
    /// Seconds after which an unused session is unloaded from memory (its next request
    /// rebuilds it from the log).
    #[arg(long, default_value_t = 600)]
    session_idle_s: u64,
    /// Open connections at once; further clients wait in the listen backlog.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = 10)]
    header_timeout_s: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, default_value_t = 60)]
    body_timeout_s: u64,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Generator name: urban, rural, intentional or disaster.
    name: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Size multiplier: entity counts grow linearly with it.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// A `.json` file, or a directory that receives the tables and policy.json.
    #[arg(long)]
    out: PathBuf,
    /// Table format when --out is a directory.
    #[arg(long, value_enum, default_value = "arrow")]
    table_format: OutFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum InputFormat {
    ScenarioJson,
    ScenarioDir,
    DimacsMin,
    DimacsAsn,
    OrlibGap,
    OrlibAssign,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
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
    /// Min-cost flow method for a DIMACS `.min` file (default: chosen by network size).
    #[arg(long, value_enum)]
    flow_method: Option<FlowMethodArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FlowMethodArg {
    NetworkSimplex,
    CostScaling,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Solve(args) => run_solve(&args),
        Command::Generate(args) => run_generate(&args),
        Command::Serve(args) => run_serve(args),
        Command::Simulate(args) => run_simulate(&args),
        Command::Instance(args) => run_instance(&args),
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

fn run_serve(args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let mut config = commonsnet_api::Config::new(args.addr, args.data);
    config.tokens_file = args.tokens;
    config.body_limit = args.body_limit_mib << 20;
    config.max_queued_jobs = args.max_queued_jobs;
    config.time_limit_s = args.time_limit;
    if let Some(t) = args.job_threads {
        config.job_threads = t;
    }
    if let Some(w) = args.solve_workers {
        config.solve_workers = w;
    }
    config.sessions = commonsnet_api::sessions::SessionLimits {
        max_live: args.max_sessions,
        idle: std::time::Duration::from_secs(args.session_idle_s.max(1)),
    };
    config.max_connections = args.max_connections.max(1);
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout_s.max(1));
    config.body_timeout = std::time::Duration::from_secs(args.body_timeout_s.max(1));
    if !(config.time_limit_s.is_finite() && config.time_limit_s > 0.0) {
        return Err(anyhow!("--time-limit must be a positive number of seconds"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(commonsnet_api::serve(config))?;
    Ok(())
}

fn parse_perturb(text: &str) -> Result<Perturbation> {
    let mut p = Perturbation::default();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("--perturb: expected NAME=VALUE, found {item:?}"))?;
        let v: f64 = v
            .parse()
            .map_err(|_| anyhow!("--perturb {k}: {v:?} is not a number"))?;
        match k {
            "demand" => p.demand = v,
            "failures" => p.failures = v,
            "travel_time" => p.travel_time = v,
            other => {
                return Err(anyhow!(
                    "--perturb: unknown {other:?} (demand, failures, travel_time)"
                ))
            }
        }
    }
    p.validate().map_err(|e| anyhow!(e))?;
    Ok(p)
}

fn run_simulate(args: &SimulateArgs) -> Result<()> {
    use std::io::IsTerminal;
    let perturbation = parse_perturb(&args.perturb)?;
    let mut policies = Vec::new();
    for name in args
        .policies
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        named_policy(name, &commonsnet_engine::Policy::default()).map_err(|e| anyhow!(e))?;
        policies.push(PolicySpec::Named(name.to_string()));
    }
    if policies.is_empty() || args.replicates == 0 {
        return Err(anyhow!("need at least one policy and one replicate"));
    }
    // Generated scenarios are made by each run when it starts, not all up front.
    let scenarios: Box<dyn ScenarioSource> =
        if generate::GENERATORS.contains(&args.generator.as_str()) {
            if !(args.scale > 0.0 && args.scale <= generate::MAX_SCALE) {
                return Err(anyhow!(
                    "--scale {} is not in (0, {}]",
                    args.scale,
                    generate::MAX_SCALE
                ));
            }
            Box::new(generate::Generated {
                name: args.generator.clone(),
                scale: args.scale,
                count: args.scenarios,
                seed: args.seed,
            })
        } else {
            let path = Path::new(&args.generator);
            if !path.exists() {
                return Err(anyhow!(
                    "--generator {:?} is neither a generator ({}) nor a file",
                    args.generator,
                    generate::GENERATORS.join(", ")
                ));
            }
            let s = read_scenario(path, None).map_err(describe)?;
            Box::new(vec![(
                s.name.clone().unwrap_or_else(|| "scenario".into()),
                s,
            )])
        };
    let batch = Batch {
        scenarios,
        policies,
        replicates: args.replicates,
        seed: args.seed,
        settings: BatchSettings {
            perturbation,
            time_limit_s: Some(args.time_limit),
        },
    };
    let total = batch.total();
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
    // One run at a time per thread of the pool; a run's solve uses the same pool.
    let slots: Vec<std::sync::Mutex<Option<commonsnet_engine::batch::RunRow>>> =
        (0..total).map(|_| std::sync::Mutex::new(None)).collect();
    run_each(&pool, total, &|| false, &|i| {
        let row = batch.run(i);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(row);
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match &bar {
            Some(b) => b.inc(1),
            None if n.is_multiple_of(step) || n == total => {
                eprintln!("progress: {n}/{total} runs")
            }
            None => {}
        }
    });
    let rows: Vec<_> = slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow!("a run did not finish"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let table = rows_to_batch(&rows)?;
    let format = match args.out.extension().and_then(|e| e.to_str()) {
        Some("arrow") => TableFormat::ArrowIpc,
        Some("csv") => TableFormat::Csv,
        _ => TableFormat::Parquet,
    };
    let mut frame = frames::batch_to_frame(&table).map_err(|e| anyhow!(e))?;
    commonsnet_datasets::write_frame(&args.out, &mut frame, format).map_err(describe)?;
    let failed = rows.iter().filter(|r| r.status == "error").count();
    println!(
        "{total} runs in {secs:.2} s ({:.1} runs/s, {} threads), {failed} failed; table: {}",
        total as f64 / secs,
        pool.current_num_threads(),
        args.out.display()
    );
    println!(
        "{:<14} {:<20} {:>5} {:>12} {:>12} {:>12} {:>12}",
        "policy", "metric", "runs", "mean", "p10", "p50", "p90"
    );
    for m in frames::summarise_runs(&frame).map_err(|e| anyhow!(e))? {
        println!(
            "{:<14} {:<20} {:>5} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
            m.policy, m.metric, m.runs, m.mean, m.p10, m.p50, m.p90
        );
    }
    Ok(())
}

fn run_instance(args: &InstanceArgs) -> Result<()> {
    use commonsnet_datasets::instances;
    let out = args
        .out
        .as_ref()
        .ok_or_else(|| anyhow!("--out FILE is required"))?;
    let seed = args.seed;
    let text = match &args.kind {
        InstanceKind::Netgen8 { k } => {
            if !(4..=24).contains(k) {
                return Err(anyhow!("--k must be in 4..=24"));
            }
            let p = instances::NetgenParams::netgen8(*k, seed);
            let fp = instances::netgen(&p).map_err(|e| anyhow!(e))?;
            instances::write_min(
                &fp,
                &[format!("NETGEN-style (commonsnet instance netgen8): {p:?}")],
            )
        }
        InstanceKind::Crisis {
            stations,
            incidents,
            candidates,
        } => {
            let c = instances::crisis_transport(*stations, *incidents, *candidates, seed)
                .map_err(|e| anyhow!(e))?;
            instances::write_min(
                &c.flow,
                &[format!(
                    "crisis transport: {stations} stations x {incidents} incidents, \
                     {candidates} candidates, seed {seed}"
                )],
            )
        }
        InstanceKind::Allocation {
            needs,
            resources,
            dims,
            max_distance_km,
        } => {
            let value =
                instances::allocation_value(*needs, *resources, *dims, *max_distance_km, seed);
            let s = commonsnet_engine::scenario_from_value(&value)
                .map_err(|e| describe(DatasetError::Invalid(e)))?;
            let s = instances::with_rule_built_links(s);
            let t = commonsnet_engine::tables::scenario_to_tables(&s)?;
            write_scenario_tables(
                out,
                &t.resources,
                &t.needs,
                t.links.as_ref(),
                Some(&t.policy),
                TableFormat::Parquet,
            )
            .map_err(describe)?;
            return Ok(());
        }
        InstanceKind::DenseAssign { n } => {
            if *n == 0 || *n > 20_000 {
                return Err(anyhow!("--n must be in 1..=20000"));
            }
            let cost = instances::dense_assignment(*n, seed);
            instances::write_asn(
                *n,
                &cost,
                &[format!(
                    "dense assignment {n} x {n}, costs in [1, 1e6], seed {seed}"
                )],
            )
        }
    };
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn run_generate(args: &GenerateArgs) -> Result<()> {
    let value = generate::generate(&args.name, args.scale, args.seed).map_err(|e| anyhow!(e))?;
    let scenario = commonsnet_engine::scenario_from_value(&value)
        .map_err(|e| describe(DatasetError::Invalid(e)))?;
    if args.out.extension().and_then(|e| e.to_str()) == Some("json") {
        let text = serde_json::to_string_pretty(&value)?;
        std::fs::write(&args.out, text + "\n")
            .with_context(|| format!("cannot write {}", args.out.display()))?;
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
    println!(
        "{}",
        serde_json::json!({"name": scenario.name, "needs": scenario.needs.len(),
            "resources": scenario.resources.len(), "out": args.out.display().to_string()})
    );
    Ok(())
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
            let outcome = try_solve_with(&scenario, &opts)
                .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            let report = Report::new(&outcome);
            emit(&report, args, None)
        }
        InputFormat::DimacsMin => {
            let bytes = read(&args.file)?;
            let mut p =
                dimacs::parse_min(&bytes).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
            negate_for_max(&mut p.cost, args.sense, |_| false);
            let method = match args.flow_method {
                Some(FlowMethodArg::NetworkSimplex) => FlowMethod::NetworkSimplex,
                Some(FlowMethodArg::CostScaling) => FlowMethod::CostScaling,
                None => MinCostFlow::choose(&p),
            };
            let start = Instant::now();
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
                emit(&Report::new(&outcome), args, Some(sense))?;
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
    if args.plan {
        if let Value::Object(m) = &mut out {
            m.insert(
                "allocations".into(),
                Value::Array(report.allocations_json()),
            );
        }
    }
    if let Some(dir) = &args.out {
        let format = args.out_format.into();
        write_report(dir, report, format).map_err(describe)?;
    }
    println!("{out}");
    Ok(())
}
