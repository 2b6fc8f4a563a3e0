//! `commonsnet serve`: the HTTP service (SPEC section 4) with its limits from the command line.

use super::{seconds, ArgError};
use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;

/// `--tenant-share`: a fraction in (0, 1].
fn share(s: &str) -> Result<f64, ArgError> {
    s.parse::<f64>()
        .ok()
        .filter(|x| *x > 0.0 && *x <= 1.0)
        .ok_or_else(|| ArgError(format!("{s:?} is not a share in (0, 1]")))
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Data directory: the SQLite store and job result files (with --store postgres, only
    /// what a replica keeps for itself).
    #[arg(long, default_value = "./commonsnet-data")]
    data: PathBuf,
    /// Bearer tokens file, one `TENANT TOKEN` per line. Required for non-loopback addresses.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Largest request body in MiB (at least 1).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    body_limit_mib: u64,
    /// Jobs that may wait to start before POST /v1/jobs answers 429.
    #[arg(long, default_value_t = 64)]
    max_queued_jobs: usize,
    /// Solver time limit (seconds) of a synchronous solve and of each job run.
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    time_limit: f64,
    /// Threads for batch jobs (default: all cores).
    #[arg(long)]
    job_threads: Option<usize>,
    /// Seconds a job runs while another tenant's job waits before it gives its turn up
    /// (tenants take turns; a tenant's own jobs run in the order they came). With
    /// --store postgres, tenants share the runs in flight instead.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    job_turn_s: f64,
    /// The most links (listed, or built by the link rules) of a scenario that a solve, a
    /// job's inline scenario or a session takes (a solve's peak is about 75 to 250 bytes a
    /// link), at most the engine's 50,000,000; beyond it the scenario is refused (422) naming
    /// the links or the radius. Generated scenarios are bounded by their scale.
    #[arg(long, default_value_t = commonsnet_api::DEFAULT_MAX_LINKS as u64,
          value_parser = clap::value_parser!(u64).range(1..=commonsnet_engine::input::MAX_LINKS as u64))]
    max_links: u64,
    /// Synchronous solves at once (default: all cores).
    #[arg(long)]
    solve_workers: Option<usize>,
    /// Synchronous solves that may wait for a worker; beyond it POST /v1/solve answers 429.
    #[arg(long, default_value_t = 64)]
    max_waiting_solves: usize,
    /// MiB of large request bodies (1 MiB and above) read and decoded at once; more wait, unread. A
    /// body becomes tens of times its size in memory while it is decoded.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    decode_budget_mib: u32,
    /// Job results downloaded at once; beyond it GET /v1/jobs/{id}/result answers 429 (0: none,
    /// for a replica that only runs jobs).
    #[arg(long, default_value_t = 64)]
    max_result_streams: u16,
    /// Session event streams (SSE) open at once; beyond it a new stream answers 429 with
    /// Retry-After. Each stream holds a connection, so it must be below --max-connections
    /// (default: half of it).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    max_event_streams: Option<u16>,
    /// Live sessions kept in memory at once; beyond it creating or reloading one answers 429.
    #[arg(long, default_value_t = 256)]
    max_sessions: usize,
    /// With several tenants in --tokens, the most of the live sessions, of the event streams,
    /// of the queued jobs, of the waiting solves, of the job results downloading and of the
    /// decode budget one tenant may hold (a fraction in (0, 1]), so that one cannot keep the
    /// others out.
    #[arg(long, default_value_t = 0.5, value_parser = share)]
    tenant_share: f64,
    /// Seconds after which an unused session is unloaded from memory (its next request
    /// rebuilds it from the log).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    session_idle_s: u64,
    /// Re-plan sessions warm: a transportation session as one min-cost flow kept across
    /// events (fast on large components); a max-min or multi-dimension one with each LP
    /// stage started from its last basis. The plan is an optimum of the same value and cost
    /// as a cold re-plan's, not always the same one (a rebuild from the log gives back the
    /// same plan, re-planning at each logged point).
    #[arg(long)]
    warm_sessions: bool,
    /// A warm session that keeps LP bases logs a checkpoint (its plan, duals and bases)
    /// after this many re-plans, so that a rebuild from the log re-plans at most this many
    /// times (0: never).
    #[arg(long, default_value_t = commonsnet_engine::session::CHECKPOINT_EVERY)]
    session_checkpoint_every: usize,
    /// Milliseconds a session's answer waits for its re-plan; past it the batch is logged
    /// and answered with `replanning: true`, and the re-plan's changes follow on the stream
    /// (default: answers wait for the re-plan).
    #[arg(long, value_name = "MS")]
    replan_budget_ms: Option<u64>,
    /// Open connections at once; further clients wait in the listen backlog.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open connections at once from one client address (0: no bound); one more is answered
    /// 429 and closed. For a server clients reach directly: behind a proxy every client has
    /// the proxy's address (bound them there). IPv6 clients are counted by their /64.
    #[arg(long, default_value_t = 0)]
    max_connections_per_ip: usize,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_s: u64,
    /// Seconds a client has to send a request's body; a body under 1 MiB that keeps coming
    /// gets a grace (10 s at most) and a second more for each KiB it sends after that (a
    /// phone on a slow link).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_s: u64,
    /// Seconds an answer may wait for its client to read on before the connection closes.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout_s: u64,
    /// Where jobs, runs and sessions are kept: absent, the SQLite file under --data (one
    /// process); `postgres://USER@HOST:PORT/DB`, PostgreSQL shared by every replica started
    /// with the same URL.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// With --store postgres: the HOST:PORT other replicas reach this one at, to forward
    /// requests for the sessions it serves (default: the address it listens on).
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// With --store postgres: seconds a replica's leases (runs, sessions) last without a
    /// heartbeat; a replica that dies is taken over after this long.
    #[arg(long, default_value_t = 10.0)]
    lease_s: f64,
}

pub fn run(args: ServeArgs) -> Result<()> {
    // Colours for a terminal only: a log file or a pipe got escape codes.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let mut config = commonsnet_api::Config::new(args.addr, args.data);
    config.tokens_file = args.tokens;
    let body_limit = usize::try_from(args.body_limit_mib)
        .ok()
        .and_then(|m| m.checked_mul(1 << 20));
    config.body_limit = body_limit.ok_or_else(|| {
        anyhow!(
            "--body-limit-mib {} is more bytes than this machine can address (at most {} MiB)",
            args.body_limit_mib,
            usize::MAX >> 20
        )
    })?;
    config.max_queued_jobs = args.max_queued_jobs;
    config.time_limit_s = args.time_limit;
    config.max_links = args.max_links as usize;
    if let Some(t) = args.job_threads {
        config.job_threads = t;
    }
    if let Some(w) = args.solve_workers {
        config.solve_workers = w;
    }
    config.max_waiting_solves = args.max_waiting_solves;
    config.max_result_streams = usize::from(args.max_result_streams);
    // Past what the machine can address, as many as it can: the bound is the listener's.
    let max_connections = usize::try_from(args.max_connections).unwrap_or(usize::MAX);
    config.max_event_streams = match args.max_event_streams {
        Some(n) if usize::from(n) >= max_connections => {
            return Err(anyhow!(
                "--max-event-streams {n} must be below --max-connections {}: each stream holds a connection, and streams alone must not take them all",
                args.max_connections
            ));
        }
        Some(n) => usize::from(n),
        None => (max_connections / 2).max(1),
    };
    config.decode_budget_mib = args.decode_budget_mib as usize;
    config.tenant_share = args.tenant_share;
    config.job_turn =
        std::time::Duration::try_from_secs_f64(args.job_turn_s).unwrap_or(std::time::Duration::MAX);
    config.sessions = commonsnet_api::sessions::SessionLimits {
        max_live: args.max_sessions,
        idle: std::time::Duration::from_secs(args.session_idle_s),
        warm: args.warm_sessions,
        replan_budget: args.replan_budget_ms.map(std::time::Duration::from_millis),
        checkpoint_every: args.session_checkpoint_every,
        // `serve` caps the sessions' time limit by `config.time_limit_s`.
        ..Default::default()
    };
    config.max_connections = max_connections;
    config.max_connections_per_ip = args.max_connections_per_ip;
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout_s);
    config.body_timeout = std::time::Duration::from_secs(args.body_timeout_s);
    config.write_timeout = std::time::Duration::from_secs(args.write_timeout_s);
    if let Some(url) = args.store {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(anyhow!(
                "--store {url:?}: give a postgres:// URL (without --store the SQLite file under --data is used)"
            ));
        }
        if !(args.lease_s.is_finite() && (0.3..=3600.0).contains(&args.lease_s)) {
            return Err(anyhow!("--lease-s must be between 0.3 and 3600 seconds"));
        }
        config.postgres = Some(commonsnet_api::PgSettings {
            url,
            replica: commonsnet_api::replicas::replica_name(),
            advertise: args.advertise.unwrap_or_default(),
            lease: std::time::Duration::from_secs_f64(args.lease_s),
        });
    } else if args.advertise.is_some() {
        return Err(anyhow!(
            "--advertise is for replicas: give --store postgres://... too"
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(commonsnet_api::serve(config))?;
    Ok(())
}
