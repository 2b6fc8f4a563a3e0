//! CommonsNet HTTP service (SPEC section 4): synchronous solves, durable batch jobs, metrics and
//! an OpenAPI document generated from the handlers.
//!
//! Bird's-eye view: axum handlers ([`routes`]) parse and validate requests on the async runtime,
//! then hand CPU work to threads that are not tokio workers: synchronous solves go to
//! `spawn_blocking` behind a semaphore (the bounded solve pool), batch jobs to the [`JobRunner`]
//! thread and its rayon pool. All durable state is in [`JobStore`] (SQLite, WAL) under the data
//! directory. Nothing here solves anything itself: the engine does.

#[macro_use]
mod closed;
pub mod conditional;
pub mod console;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod replicas;
pub mod routes;
pub mod schema;
mod server;
pub mod sessions;
pub mod shares;
pub mod store;

pub use error::{invalid_input_body, ApiError, Code, InternalError, UserError};
pub use jobs::{JobQueue, JobRunner};
pub use store::{JobStatus, JobStore, PgSettings, StoreError};

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Everything `commonsnet serve` can set.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Bearer tokens file (`TENANT TOKEN` per line); without it every request is tenant
    /// `local` and only loopback addresses are allowed.
    pub tokens_file: Option<PathBuf>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Jobs that may wait to start; beyond it `POST /v1/jobs` answers 429.
    pub max_queued_jobs: usize,
    /// Solver time limit of a synchronous solve and of each job run (seconds).
    pub time_limit_s: f64,
    /// The most links (listed, or built by the link rules) of a scenario a solve, a job or a
    /// session takes, below the engine's own bound (`MAX_LINKS`): a solve's peak is about 75
    /// (greedy) to 250 (min-cost flow) bytes a link, and a scenario of a few megabytes can
    /// ask for tens of millions. A generator's scenarios (jobs) are bounded by their scale.
    pub max_links: usize,
    /// Synchronous solves running at once.
    pub solve_workers: usize,
    /// Synchronous solves that may wait for a worker, each holding its scenario; beyond it
    /// `POST /v1/solve` answers 429.
    pub max_waiting_solves: usize,
    /// MiB of large request bodies (1 MiB and above) being read and decoded at once: a body's JSON or
    /// table becomes tens of times its size in memory while it is read into a scenario (a
    /// 62 MB body of numbers peaked at 6.6 GB), so more wait for their turn, unread, instead
    /// of a handful of them filling the machine. A body above the budget takes all of it.
    pub decode_budget_mib: usize,
    /// Job results streamed at once; beyond it `GET /v1/jobs/{id}/result` answers 429 (0:
    /// none, a replica that only runs jobs). Each holds one of tokio's blocking threads (512)
    /// until its client has read it, and the store's calls run on the same threads: slow
    /// readers past the bound wait their turn rather than starve the store.
    pub max_result_streams: usize,
    /// Session event streams open at once; beyond it a stream answers 429 with Retry-After.
    /// Below `max_connections`, so that streams alone cannot hold every connection (health
    /// checks and events included).
    pub max_event_streams: usize,
    /// The most of the live sessions, of the event streams, of the queued jobs, of the
    /// waiting solves, of the job results downloading and of the decode budget one tenant may
    /// hold when the tokens name several tenants (a fraction in (0, 1];
    /// `shares::per_tenant`).
    pub tenant_share: f64,
    /// Threads of the job runner.
    pub job_threads: usize,
    /// How long a job runs while another tenant's job waits before it gives its turn up
    /// (`JobQueue`); with replicas, tenants share the runs in flight instead.
    pub job_turn: Duration,
    /// Live sessions in memory and their idle time.
    pub sessions: sessions::SessionLimits,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections open at once from one peer address (0: no bound), so that one client
    /// cannot hold every connection (`server::PerPeer`). Off by default: behind a proxy every
    /// client has the proxy's address, and without tokens every client is local.
    pub max_connections_per_ip: usize,
    /// Time to send a request's headers; also the idle time of a keep-alive connection.
    pub header_timeout: Duration,
    /// Time to send a request's body.
    pub body_timeout: Duration,
    /// Time an answer may wait for its client to read on: past it the connection is closed
    /// (a client that sends requests and never reads the answers holds no slot for long).
    pub write_timeout: Duration,
    /// PostgreSQL instead of the SQLite file under `data_dir` (jobs, runs and sessions shared
    /// by every replica on the same database).
    pub postgres: Option<PgSettings>,
}

/// `Config::max_links` by default: up to ~2.5 GB at a solve's peak; issue 18's live sessions of
/// 5,000 needs x 1,000 teams in one component have 5,000,000.
pub const DEFAULT_MAX_LINKS: usize = 10_000_000;

impl Config {
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Config {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            addr,
            data_dir,
            tokens_file: None,
            body_limit: 64 << 20,
            max_queued_jobs: 64,
            time_limit_s: 60.0,
            max_links: DEFAULT_MAX_LINKS,
            solve_workers: cores,
            max_waiting_solves: 64,
            decode_budget_mib: 64,
            max_result_streams: 64,
            max_event_streams: 512,
            tenant_share: 0.5,
            job_threads: cores,
            job_turn: Duration::from_secs(10),
            sessions: sessions::SessionLimits::default(),
            max_connections: 1024,
            max_connections_per_ip: 0,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            postgres: None,
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0} without --tokens: only loopback addresses are served unauthenticated")]
    Unauthenticated(SocketAddr),
    #[error("tokens file {path}: {message}")]
    Tokens { path: PathBuf, message: String },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    Data { path: PathBuf, source: StoreError },
    #[error(
        "data directory {0} is in use by another commonsnet server (it holds \
         commonsnet.lock): give each server its own --data, or share one --store postgres://"
    )]
    DataInUse(PathBuf),
    #[error("listening on {0}, which other replicas cannot reach: give --advertise HOST:PORT")]
    Advertise(SocketAddr),
    #[error("--advertise {addr}: {message}")]
    AdvertiseInvalid { addr: String, message: String },
    #[error("--advertise {addr}: replica {replica} is alive at this address; give each replica its own --advertise (two at one address take each other's sessions)")]
    AdvertiseTaken { addr: String, replica: String },
    #[error("store {url}: {source}")]
    Postgres { url: String, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Server(std::io::Error),
}

/// Bearer tokens -> tenants. Tokens are kept as SHA-256 digests so that a lookup does not
/// compare secrets byte by byte.
#[derive(Debug, Default)]
pub struct Tenants {
    by_digest: HashMap<[u8; 32], String>,
}

impl Tenants {
    pub fn load(path: &Path) -> Result<Tenants, ServeError> {
        let err = |message: String| ServeError::Tokens {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut t = Tenants::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [tenant, token] = parts[..] else {
                return Err(err(format!(
                    "line {}: expected `TENANT TOKEN`, found {} fields",
                    i + 1,
                    parts.len()
                )));
            };
            if token.len() < 16 {
                return Err(err(format!(
                    "line {}: token of tenant {tenant} is shorter than 16 characters",
                    i + 1
                )));
            }
            if t.by_digest
                .insert(Self::digest(token), tenant.to_string())
                .is_some()
            {
                return Err(err(format!("line {}: duplicate token", i + 1)));
            }
        }
        if t.by_digest.is_empty() {
            return Err(err("no tokens".into()));
        }
        Ok(t)
    }

    fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// How many tenants the tokens name.
    pub fn count(&self) -> usize {
        self.by_digest
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    pub fn tenant(&self, token: &str) -> Option<&str> {
        self.by_digest.get(&Self::digest(token)).map(String::as_str)
    }
}

/// State shared by every handler.
/// The memory large request bodies may take while they are read and decoded, in MiB
/// (`Config::decode_budget_mib`): a body of 1 MiB or more takes a unit a MiB (the whole
/// budget at most) before it is read (`routes::extract::read_body_held`) until its scenario or
/// request is built, and waits, unread, while the budget is taken. Smaller bodies take none:
/// a coordinator's events never wait behind a scenario. With several tenants one holds at
/// most its `--tenant-share` of the budget: a body's share is taken before the body has
/// come, so a client that declares a large body and sends it slowly holds its share for the
/// body timeout, and without the tenant's bound one token could hold all of it.
pub struct DecodeBudget {
    units: Arc<Semaphore>,
    /// The most units one tenant holds (the whole budget with one tenant).
    per_tenant: usize,
    tenants: shares::TenantSemaphores,
}

/// A body's share of the [`DecodeBudget`] (`None` for a small body): its tenant's units and
/// the server's, given back when dropped.
pub type Share = Option<ShareHeld>;

/// The units of a [`Share`].
pub struct ShareHeld {
    _tenant: tokio::sync::OwnedSemaphorePermit,
    all: tokio::sync::OwnedSemaphorePermit,
}

impl ShareHeld {
    /// The units held, a MiB each.
    pub fn units(&self) -> u32 {
        self.all.num_permits() as u32
    }
}

impl DecodeBudget {
    /// Bodies below this take no share.
    pub const SMALL_BODY: usize = 1 << 20;

    pub fn new(mib: usize) -> DecodeBudget {
        DecodeBudget::with_tenant_share(mib, mib)
    }

    /// A budget of `mib` of which one tenant holds `per_tenant` at most.
    pub fn with_tenant_share(mib: usize, per_tenant: usize) -> DecodeBudget {
        let mib = mib.clamp(1, Semaphore::MAX_PERMITS);
        let per_tenant = per_tenant.clamp(1, mib);
        DecodeBudget {
            units: Arc::new(Semaphore::new(mib)),
            per_tenant,
            tenants: shares::TenantSemaphores::new(per_tenant),
        }
    }

    /// The share of `tenant`'s body of `bytes`, once its tenant's bound and the budget have
    /// room for it (in that order: a tenant's waiters queue for its own units first, so its
    /// bodies never stand in the server's line ahead of another tenant's beyond its share).
    /// An error only when the budget is closed.
    pub async fn share(
        &self,
        tenant: &str,
        bytes: usize,
    ) -> Result<Share, tokio::sync::AcquireError> {
        if bytes < Self::SMALL_BODY {
            return Ok(None);
        }
        let units = bytes.div_ceil(Self::SMALL_BODY).min(self.per_tenant);
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        let mine = self.tenants.of(tenant).acquire_many_owned(units).await?;
        let all = self.units.clone().acquire_many_owned(units).await?;
        Ok(Some(ShareHeld { _tenant: mine, all }))
    }
}

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn JobStore>,
    /// The PostgreSQL store when replicas share one (`None`: SQLite, one process).
    pub replicated: Option<Arc<store::PgStore>>,
    pub forwarder: replicas::Forwarder,
    pub queue: Arc<JobQueue>,
    /// `None`: no tokens file, every request is tenant `local`.
    pub tenants: Option<Tenants>,
    pub metrics: Arc<metrics::Metrics>,
    pub solve_slots: Arc<Semaphore>,
    /// MiB of large bodies being decoded (`Config::decode_budget_mib`).
    pub decode_budget: DecodeBudget,
    /// Job results being streamed (`Config::max_result_streams`).
    pub result_streams: Arc<Semaphore>,
    /// Session event streams open (`Config::max_event_streams`).
    pub event_streams: Arc<Semaphore>,
    /// Each tenant's event streams open (`Config::tenant_share` of them at most).
    pub stream_shares: Arc<shares::TenantShare>,
    /// The most jobs one tenant may have queued (`Config::tenant_share` of
    /// `max_queued_jobs`; `None` with one tenant).
    pub queued_per_tenant: Option<i64>,
    /// Synchronous solves waiting for a slot (`Config::max_waiting_solves` at most).
    pub solves_waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Each tenant's solves waiting (`Config::tenant_share` of `max_waiting_solves`).
    pub solve_waits: Arc<shares::TenantShare>,
    /// The solves' line, served in turns across tenants.
    pub solve_turns: shares::TenantTurns,
    /// Each tenant's job results being downloaded (`Config::tenant_share` of them).
    pub result_shares: Arc<shares::TenantShare>,
    pub sessions: Arc<sessions::SessionHub>,
    /// Turns true when the server starts shutting down: long-lived responses (event
    /// streams) end on it.
    pub shutdown: watch::Receiver<bool>,
    /// The parent of every synchronous solve's [`commonsnet_engine::Cancel`]: shutdown calls
    /// the solves still running off once the drain time is over (`server::run`).
    pub call_off: commonsnet_engine::Cancel,
}

struct MetricsObserver(Arc<metrics::Metrics>);

impl jobs::RunObserver for MetricsObserver {
    fn run_finished(&self, row: &commonsnet_engine::batch::RunRow) {
        self.0.run(row.status);
        if let (Some(solver), Some(ms)) = (&row.solver, row.solve_ms) {
            self.0.solve(solver, ms);
        }
    }
}

/// An `--advertise` other replicas can connect to: `HOST:PORT`, the host a name or an IP
/// address (IPv6 in brackets), not an unspecified address, the port 1 to 65535. A bad one was
/// taken as given, and every request other replicas forwarded to this one's sessions was a
/// 503 "retry" for as long as it lived. A name is resolved when it can be; one that does not
/// resolve yet is warned about, not refused (a pod's own name may be published only once it
/// is ready, which a refusal would never let it become).
async fn check_advertise(addr: &str) -> Result<(), ServeError> {
    let invalid = |message: String| ServeError::AdvertiseInvalid {
        addr: addr.to_string(),
        message,
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| invalid("not HOST:PORT".into()))?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(invalid(format!("port {port:?} is not 1 to 65535"))),
    }
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let ip = literal.unwrap_or(host).parse::<std::net::IpAddr>().ok();
    let name = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    match ip {
        Some(ip) if ip.is_unspecified() => {
            return Err(invalid(format!(
                "{ip} is no address other replicas can connect to"
            )))
        }
        Some(_) => return Ok(()),
        None if literal.is_some() || !name(host) => {
            return Err(invalid(format!(
                "{host:?} is not a host name or an IP address"
            )))
        }
        None => {}
    }
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host(addr)).await {
        Ok(Ok(found)) => {
            let found: Vec<_> = found.collect();
            if let Some(bad) = found.iter().find(|a| a.ip().is_unspecified()) {
                return Err(invalid(format!(
                    "resolves to {bad}, which other replicas cannot connect to"
                )));
            }
        }
        Ok(Err(e)) => tracing::warn!(advertise = addr, error = %e,
            "--advertise does not resolve here (yet): other replicas must resolve it"),
        Err(_) => tracing::warn!(
            advertise = addr,
            "--advertise did not resolve within 5 s: other replicas must resolve it"
        ),
    }
    Ok(())
}

/// Start only where no other live replica advertises this replica's address. One that is
/// found may be this replica's previous life (killed, restarted at once): its heartbeat then
/// runs out within the lease, so the start waits for it, and refuses once that replica beats
/// again (it is alive).
async fn one_replica_at(
    store: &Arc<store::PgStore>,
    pg: &store::PgSettings,
) -> Result<(), ServeError> {
    let pg_err = |source| ServeError::Postgres {
        url: pg.url.clone(),
        source,
    };
    let mut first: Option<(String, i64)> = None;
    loop {
        let (s, addr) = (store.clone(), pg.advertise.clone());
        let live = tokio::task::spawn_blocking(move || s.live_replica_at(&addr))
            .await
            .map_err(|e| ServeError::Server(std::io::Error::other(e)))?
            .map_err(pg_err)?;
        let Some((replica, beat_until)) = live else {
            return Ok(());
        };
        match &first {
            // Its beat moved on since it was first seen (both on the database's clock): it
            // renews, so it is alive.
            Some((seen, until)) if *seen == replica => {
                if beat_until > *until {
                    return Err(ServeError::AdvertiseTaken {
                        addr: pg.advertise.clone(),
                        replica,
                    });
                }
            }
            _ => {
                tracing::info!(replica, addr = %pg.advertise,
                    "another replica beat at this address: waiting for its lease to run out");
                first = Some((replica, beat_until));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Set once the server has printed where it listens (the job runner's injected aborts wait
/// for it, so a test reads the line before the process dies).
pub(crate) static LISTENING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Start the service and run until SIGTERM or Ctrl-C. Prints one JSON line
/// `{"listening": "ADDR"}` on stdout once the socket is bound (with port 0, the port chosen).
pub async fn serve(mut config: Config) -> Result<(), ServeError> {
    // Sessions re-plan under the server's limit on each solve, as `POST /v1/solve` and jobs.
    config.sessions.time_limit_s = Some(config.time_limit_s);
    config.sessions.max_links = config.max_links;
    // Bound first: a replica advertises the address it got (port 0 picks one).
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Server)?;
    if let Some(pg) = config.postgres.as_mut() {
        if pg.advertise.is_empty() {
            if local.ip().is_unspecified() {
                return Err(ServeError::Advertise(local));
            }
            pg.advertise = local.to_string();
        } else {
            check_advertise(&pg.advertise).await?;
        }
    }
    let tenants = match &config.tokens_file {
        Some(p) => Some(Tenants::load(p)?),
        None if config.addr.ip().is_loopback() => None,
        None => return Err(ServeError::Unauthenticated(config.addr)),
    };
    let tenant_count = tenants.as_ref().map_or(1, Tenants::count);
    let mut config = config.clone();
    config.sessions.max_live_per_tenant =
        shares::per_tenant(config.sessions.max_live, config.tenant_share, tenant_count);
    let config = &config;
    let data_err = |source| ServeError::Data {
        path: config.data_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    // Held until the server has stopped (SQLite only; see below).
    let mut data_lock: Option<std::fs::File> = None;
    let metrics = Arc::new(metrics::Metrics::default());
    let queue = Arc::new(JobQueue::new(config.max_queued_jobs, config.job_turn));
    let observer = Arc::new(MetricsObserver(metrics.clone()));
    // Raised once the job runner has stopped: the heartbeat renews the leases of the runs in
    // flight until then.
    let heartbeat_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (store, sessions, replicated, workers): (Arc<dyn JobStore>, _, _, Vec<_>) = match &config
        .postgres
    {
        None => {
            // One server per SQLite data directory: a second one resumed the first's running
            // jobs and ran them twice (and counted it as a crash of each). The lock is the
            // kernel's, so it goes with the process, however that ends.
            let lock_path = config.data_dir.join("commonsnet.lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|source| ServeError::DataDir {
                    path: lock_path.clone(),
                    source,
                })?;
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ServeError::DataInUse(config.data_dir.clone()))
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(ServeError::DataDir {
                        path: lock_path,
                        source,
                    })
                }
            }
            data_lock = Some(lock);
            let store = Arc::new(store::SqliteJobs::open(&config.data_dir).map_err(data_err)?);
            let resumed = store.unfinished().map_err(data_err)?;
            for (id, tenant) in &resumed {
                queue.push(id.clone(), tenant.clone());
            }
            if !resumed.is_empty() {
                tracing::info!(jobs = resumed.len(), "resuming unfinished jobs");
            }
            let log = store::SqliteSessions::open(&config.data_dir).map_err(data_err)?;
            let sessions = Arc::new(sessions::SessionHub::new(Arc::new(log), config.sessions));
            let runner = JobRunner {
                store: store.clone(),
                queue: queue.clone(),
                threads: config.job_threads.max(1),
                server_time_limit_s: config.time_limit_s,
                observer,
            };
            let runner_thread = std::thread::Builder::new()
                .name("job-runner".into())
                .spawn(move || runner.run())
                .map_err(ServeError::Server)?;
            (store, sessions, None, vec![runner_thread])
        }
        Some(pg) => {
            let pg_err = |source| ServeError::Postgres {
                url: pg.url.clone(),
                source,
            };
            let store = Arc::new(store::PgStore::open(pg.clone()).await.map_err(pg_err)?);
            one_replica_at(&store, pg).await?;
            let sessions = Arc::new(sessions::SessionHub::new(store.clone(), config.sessions));
            let runner = replicas::LeasedRunner {
                store: store.clone(),
                threads: config.job_threads.max(1),
                server_time_limit_s: config.time_limit_s,
                observer,
                metrics: metrics.clone(),
                shutdown: queue.shutdown_flag(),
                poll: Duration::from_millis(100),
                in_flight: Arc::new(replicas::InFlight::default()),
            };
            let in_flight = runner.in_flight.clone();
            let runner_thread = std::thread::Builder::new()
                .name("job-runner".into())
                .spawn(move || runner.run())
                .map_err(ServeError::Server)?;
            let (s2, h2, m2, f2) = (
                store.clone(),
                sessions.clone(),
                metrics.clone(),
                heartbeat_stop.clone(),
            );
            let beat = std::thread::Builder::new()
                .name("heartbeat".into())
                .spawn(move || replicas::heartbeat(s2, h2, in_flight, m2, f2))
                .map_err(ServeError::Server)?;
            tracing::info!(replica = %pg.replica, advertise = %pg.advertise, "replica on PostgreSQL");
            (
                store.clone(),
                sessions,
                Some(store),
                vec![runner_thread, beat],
            )
        }
    };
    let (stop, shutdown) = watch::channel(false);
    let call_off = commonsnet_engine::Cancel::new();
    let state = Arc::new(AppState {
        solve_slots: Arc::new(Semaphore::new(config.solve_workers.max(1))),
        decode_budget: DecodeBudget::with_tenant_share(
            config.decode_budget_mib,
            shares::per_tenant(config.decode_budget_mib, config.tenant_share, tenant_count),
        ),
        result_streams: Arc::new(Semaphore::new(config.max_result_streams)),
        event_streams: Arc::new(Semaphore::new(config.max_event_streams)),
        stream_shares: shares::TenantShare::new(shares::per_tenant(
            config.max_event_streams,
            config.tenant_share,
            tenant_count,
        )),
        queued_per_tenant: (tenant_count > 1).then(|| {
            shares::per_tenant(config.max_queued_jobs, config.tenant_share, tenant_count) as i64
        }),
        solves_waiting: Arc::default(),
        solve_waits: shares::TenantShare::new(shares::per_tenant(
            config.max_waiting_solves,
            config.tenant_share,
            tenant_count,
        )),
        solve_turns: shares::TenantTurns::default(),
        result_shares: shares::TenantShare::new(shares::per_tenant(
            config.max_result_streams,
            config.tenant_share,
            tenant_count,
        )),
        config: config.clone(),
        store,
        replicated,
        forwarder: replicas::Forwarder::default(),
        queue: queue.clone(),
        tenants,
        metrics,
        sessions: sessions.clone(),
        shutdown,
        call_off: call_off.clone(),
    });
    let app = routes::router(state);
    println!("{}", serde_json::json!({"listening": local.to_string()}));
    LISTENING.store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(addr = %local, data = %config.data_dir.display(), "listening");
    let signal = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    server::run(listener, app, config, signal, &call_off).await;
    tracing::info!("stopping: finishing the runs in flight, unfinished jobs resume at next start");
    queue.begin_shutdown();
    let _ = tokio::task::spawn_blocking(move || {
        let mut workers = workers.into_iter();
        if let Some(runner) = workers.next() {
            let _ = runner.join();
        }
        heartbeat_stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for w in workers {
            let _ = w.join();
        }
        // Sessions move to other replicas at once (no-op on SQLite).
        sessions.release_all();
    })
    .await;
    tracing::info!("stopped");
    drop(data_lock);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod decode_budget_tests {
    use super::DecodeBudget;
    use futures_util::FutureExt;

    /// A large body takes a unit a MiB (at most the whole budget); another waits until the
    /// budget has room, and a small body never waits.
    #[test]
    fn large_bodies_wait_for_room_and_small_ones_do_not() {
        let mib = DecodeBudget::SMALL_BODY;
        let budget = DecodeBudget::new(4);
        let first = budget.share("t", 3 * mib).now_or_never().unwrap().unwrap();
        assert!(first.as_ref().is_some_and(|p| p.units() == 3));
        // Two more MiB do not fit beside the first's three.
        assert!(budget.share("t", 2 * mib).now_or_never().is_none());
        // One does; a small body takes nothing.
        let one = budget.share("t", mib).now_or_never().unwrap().unwrap();
        assert!(budget
            .share("t", mib - 1)
            .now_or_never()
            .unwrap()
            .unwrap()
            .is_none());
        // A body above the whole budget takes all of it, once all of it is free.
        let mut all = Box::pin(budget.share("t", 100 * mib));
        assert!((&mut all).now_or_never().is_none());
        drop((first, one));
        let all = all.now_or_never().unwrap().unwrap();
        assert_eq!(all.as_ref().map(|p| p.units()), Some(4));
    }

    /// With a tenant's bound of 2 of 4 MiB, one tenant's bodies hold at most two units
    /// (its larger body takes two, and its next waits), and another tenant's still fit.
    #[test]
    fn one_tenant_holds_at_most_its_share_of_the_budget() {
        let mib = DecodeBudget::SMALL_BODY;
        let budget = DecodeBudget::with_tenant_share(4, 2);
        let big = budget.share("a", 3 * mib).now_or_never().unwrap().unwrap();
        assert_eq!(big.as_ref().map(|p| p.units()), Some(2));
        assert!(budget.share("a", mib).now_or_never().is_none());
        let other = budget.share("b", 2 * mib).now_or_never().unwrap().unwrap();
        assert_eq!(other.as_ref().map(|p| p.units()), Some(2));
        drop(big);
        assert!(budget.share("a", mib).now_or_never().is_some());
    }
}
