//! `commonsnet serve`: the HTTP service (SPEC section 4) with its limits from the command line.

use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ServeArgs {
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

pub fn run(args: ServeArgs) -> Result<()> {
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
