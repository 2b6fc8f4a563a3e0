//! `PgStore`: jobs, runs and sessions in PostgreSQL, shared by every replica of the service
//! (`commonsnet serve --store postgres://...`), through tokio-postgres and a deadpool pool.
//!
//! - **Leased runs.** A job's runs each have a row in `run_leases` from the moment the job is
//!   stored. A replica's worker claims one run at a time (`FOR UPDATE SKIP LOCKED`, so
//!   replicas never wait on each other's claims), holds it under a lease that a heartbeat
//!   extends, and deletes the lease in the transaction that stores the run's row. A replica
//!   that dies stops renewing; once its leases expire any replica claims those runs again.
//!   The transaction that stores a job's last run marks the job done (the job row is locked
//!   first, so two replicas storing the last two runs at once cannot both miss it).
//! - **Owned sessions.** `session_owners` says which replica serves a session and until when;
//!   a log row is written only by the lease holder, and `(session, seq)` is a key, so the log
//!   never forks.
//! - **One clock.** Lease times are the database's clock (`clock_timestamp()`), so replicas
//!   with skewed clocks agree on who holds what.
//! - The store's calls are blocking (they run on `spawn_blocking` threads, the job workers and
//!   the session actors, like SQLite's); each drives its query on the service's runtime.

use super::{
    json_error, now_ms, Inserted, JobInfo, JobStatus, JobStore, Keyed, LogEntry, LogRow, NewJob,
    Owner, PlanChange, Progress, Purged, Renewal, RunPage, SessionListed, SessionLog, StoreError,
    StoreKind,
};
use commonsnet_engine::batch::RunRow;
use commonsnet_engine::Status;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Every statement that locks several `run_leases` rows locks them in `(job, idx)` order
/// (`ORDER BY ... FOR UPDATE` locks rows as the sort returns them): a heartbeat's renewal, a
/// shutdown's release and a cancel's delete overlap on a job's leases, and two multi-row
/// statements that took the same rows in their own scan orders could deadlock (PostgreSQL
/// then aborts one: a failed cancel or a lost heartbeat).
const DELETE_JOB_LEASES: &str = "DELETE FROM run_leases l
     USING (SELECT r.job, r.idx FROM run_leases r WHERE r.job = $1
            ORDER BY r.idx FOR UPDATE OF r) c
     WHERE l.job = c.job AND l.idx = c.idx";

/// How this replica takes part.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// `postgres://user@host:port/db` (libpq's URL or key=value form).
    pub url: String,
    /// This replica's name in leases (unique per process start).
    pub replica: String,
    /// The address other replicas forward this replica's sessions' requests to.
    pub advertise: String,
    /// How long a lease lasts without a heartbeat; heartbeats come every third of it.
    pub lease: Duration,
}

/// The schema, one migration per change, applied at start-up under an advisory lock so that
/// replicas starting together apply each once.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL,
        total BIGINT NOT NULL, error TEXT, created_ms BIGINT NOT NULL, started_ms BIGINT,
        finished_ms BIGINT, attempts BIGINT NOT NULL DEFAULT 0,
        crashes BIGINT NOT NULL DEFAULT 0, max_parallel_runs BIGINT);
    CREATE INDEX jobs_by_status ON jobs (status, created_ms);
    CREATE INDEX jobs_by_tenant ON jobs (tenant, created_ms);
    CREATE TABLE runs (
        job TEXT NOT NULL, idx BIGINT NOT NULL, row TEXT NOT NULL,
        solve_ms DOUBLE PRECISION NOT NULL, started_us BIGINT, finished_us BIGINT,
        replica TEXT, PRIMARY KEY (job, idx));
    CREATE TABLE run_leases (
        job TEXT NOT NULL, idx BIGINT NOT NULL, replica TEXT, lease_until BIGINT,
        claims INT NOT NULL DEFAULT 0, PRIMARY KEY (job, idx));
    CREATE INDEX run_leases_by_replica ON run_leases (replica);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, scenario TEXT NOT NULL,
        created_ms BIGINT NOT NULL);
    CREATE INDEX sessions_by_tenant ON sessions (tenant, created_ms);
    CREATE TABLE session_log (
        session TEXT NOT NULL, seq BIGINT NOT NULL, applied TEXT NOT NULL,
        event_ids TEXT NOT NULL, changes TEXT NOT NULL, created_ms BIGINT NOT NULL,
        PRIMARY KEY (session, seq));
    CREATE TABLE session_owners (
        session TEXT PRIMARY KEY, replica TEXT NOT NULL, addr TEXT NOT NULL,
        lease_until BIGINT NOT NULL);",
    "
    CREATE TABLE replica_beats (replica TEXT PRIMARY KEY, beat_until BIGINT NOT NULL);",
    // 3: each job's runs done and solver time, kept on its row by the transaction that
    // stores a run, so `GET /v1/jobs` reads the jobs alone.
    "
    ALTER TABLE jobs ADD COLUMN done BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN solve_ms_total DOUBLE PRECISION NOT NULL DEFAULT 0;
    UPDATE jobs SET done = r.n, solve_ms_total = r.solve
        FROM (SELECT job, COUNT(*) AS n, SUM(solve_ms) AS solve FROM runs GROUP BY job) r
        WHERE jobs.id = r.job;",
    // 4: the `Idempotency-Key` a job was submitted with, unique per tenant; the count of its
    // runs whose row is an error, kept with its runs as `done` is.
    "
    ALTER TABLE jobs ADD COLUMN idem_key TEXT;
    CREATE UNIQUE INDEX jobs_by_key ON jobs (tenant, idem_key) WHERE idem_key IS NOT NULL;
    ALTER TABLE jobs ADD COLUMN errors BIGINT NOT NULL DEFAULT 0;
    UPDATE jobs SET errors = r.n
        FROM (SELECT job, COUNT(*) AS n FROM runs WHERE row::jsonb->>'status' = 'error'
              GROUP BY job) r
        WHERE jobs.id = r.job;",
    // 5: the address each replica advertises, beside its heartbeat: one live replica per
    // address (`live_replica_at`).
    "
    ALTER TABLE replica_beats ADD COLUMN addr TEXT;",
    // 6: the `Idempotency-Key` a session was created with, unique per tenant.
    "
    ALTER TABLE sessions ADD COLUMN idem_key TEXT;
    CREATE UNIQUE INDEX sessions_by_key ON sessions (tenant, idem_key) WHERE idem_key IS NOT NULL;",
    // 7: when each tenant last had a run claimed (`claim_run`'s turns), one row per tenant.
    "
    CREATE TABLE tenant_claims (tenant TEXT PRIMARY KEY, claimed_us BIGINT NOT NULL);",
];

/// How long a request waits for a row another transaction holds before it is answered 503
/// (`lock_timeout` on every pooled connection but the heartbeat's, which bounds its own).
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// The bounds on each of the heartbeat's statements for a lease: (statement and connection
/// wait, lock wait). A heartbeat comes every third of the lease and makes three statements
/// (the beat, the runs' leases, the sessions' leases), so each is bounded by a sixth: one row
/// locked by a slow transaction, or a pool held by busy requests, cannot hold the renewal of
/// the other leases until they expire.
fn heartbeat_timeouts(lease: Duration) -> (Duration, Duration) {
    let statement = (lease / 6).max(Duration::from_millis(50));
    (statement, (statement / 2).max(Duration::from_millis(20)))
}

/// The database's clock in milliseconds since the Unix epoch. Every time a replica writes
/// (leases, jobs' and sessions' times) is on it, so replicas with skewed clocks agree.
const DB_NOW: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The database's clock in microseconds since the Unix epoch (runs' start and finish).
const DB_NOW_US: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

/// Where a session's lease stands for one replica ([`PgStore::lease_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAt {
    /// It holds the lease, in date.
    Held,
    /// It holds the lease, run out (it stopped renewing: frozen, or cut off).
    Lapsed,
    /// Another replica holds it.
    Moved,
    /// No replica holds it (it let the session go: an idle unload; it may claim it again).
    Released,
    /// The session is no more (deleted).
    Gone,
}

/// A run claimed by this replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRun {
    pub job: String,
    pub index: u64,
    /// How many times the run was claimed, this claim included (above 1: a replica died or
    /// stopped while running it).
    pub claims: i32,
}

/// What storing a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunStored {
    /// False when this replica's lease had been taken over (the row was stored once anyway:
    /// runs are deterministic, so both replicas computed the same row).
    pub lease_held: bool,
    /// This run was the job's last: the job is now done.
    pub job_done: bool,
}

pub struct PgStore {
    pool: Pool,
    /// The heartbeat's own connections, so that requests and runs holding every connection
    /// of `pool` cannot delay the renewal of the leases past their expiry.
    beat_pool: Pool,
    runtime: tokio::runtime::Handle,
    settings: PgSettings,
}

impl PgStore {
    /// Connect and migrate. Called on the service's runtime.
    pub async fn open(settings: PgSettings) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = settings.url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        // A request that meets a row locked by another transaction (a replica frozen in the
        // middle of an append, a session being deleted) gives up after `LOCK_WAIT` and is
        // answered 503, instead of holding a pooled connection for as long as the lock
        // lasts: 16 such requests took every connection and failed the whole replica's
        // traffic, other sessions' events and `/healthz` included. Set on each new
        // connection (a connection pooler may refuse startup options), unless the URL's
        // options set it already (the operator's choice stands).
        let lock_wait = !config
            .get_options()
            .is_some_and(|o| o.contains("lock_timeout"));
        let pool = |size, timeout| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    // A connection is checked before reuse, so connections broken by a
                    // database restart are dropped instead of failing the next request.
                    recycling_method: RecyclingMethod::Verified,
                },
            );
            let mut builder = Pool::builder(manager)
                .max_size(size)
                .wait_timeout(Some(timeout))
                .create_timeout(Some(timeout))
                .recycle_timeout(Some(timeout))
                .runtime(Runtime::Tokio1);
            if lock_wait {
                builder = builder.post_create(Hook::async_fn(|client, _| {
                    Box::pin(async move {
                        let set = format!("SET lock_timeout = {}", LOCK_WAIT.as_millis());
                        client.batch_execute(&set).await.map_err(HookError::Backend)
                    })
                }));
            }
            builder
                .build()
                .map_err(|e| StoreError::Settings(e.to_string()))
        };
        let store = PgStore {
            pool: pool(16, Duration::from_secs(5))?,
            beat_pool: pool(2, heartbeat_timeouts(settings.lease).0)?,
            runtime: tokio::runtime::Handle::current(),
            settings,
        };
        store.migrate().await?;
        // The heartbeat beats again within a third of the lease.
        if let Err(e) = store.beat_async().await {
            tracing::warn!(error = %e, "cannot record this replica's first beat");
        }
        Ok(store)
    }

    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Replicas started together wait for the first one's migration, however long it
        // takes (no `LOCK_WAIT` here).
        tx.batch_execute(
            "SET LOCAL lock_timeout = 0;
             SELECT pg_advisory_xact_lock(7411000001);
             CREATE TABLE IF NOT EXISTS commonsnet_migrations (
                 version INT PRIMARY KEY, applied_ms BIGINT NOT NULL);",
        )
        .await?;
        let done: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM commonsnet_migrations",
                &[],
            )
            .await?
            .get(0);
        // A binary older than the schema would not keep what newer ones write (the job
        // counters of migration 3 were left stale by a replica older than them).
        if done as usize > MIGRATIONS.len() {
            return Err(StoreError::SchemaAhead {
                found: i64::from(done),
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO commonsnet_migrations (version, applied_ms) VALUES ($1, $2)",
                &[&(i as i32 + 1), &now_ms()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Run one database conversation to its end from a blocking thread.
    fn block<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.runtime.block_on(f)
    }

    /// A heartbeat's conversation, bounded on this side too: its statement bounds are the
    /// server's to enforce, and a server that stopped answering (a frozen backend, a
    /// connection lost without a reset) would hold the heartbeat, and with it every lease
    /// deadline of this replica, for as long as TCP takes to notice (minutes). A fifth of
    /// the lease each (the server's sixth fires first): the two before the sessions'
    /// renewal delay it by at most 0.4 of a lease, so it still starts, a third of a lease
    /// after the last, before their local deadlines (0.8 of a lease) pass.
    fn block_beat<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let bound = (self.settings.lease / 5).max(Duration::from_millis(60));
        self.runtime
            .block_on(async { tokio::time::timeout(bound, f).await })
            .unwrap_or(Err(StoreError::NoAnswer(bound)))
    }

    fn lease_ms(&self) -> i64 {
        self.settings.lease.as_millis() as i64
    }

    /// A transaction of the heartbeat, on its own connections, its statements and lock waits
    /// bounded (`heartbeat_timeouts`).
    async fn heartbeat_tx(
        client: &mut deadpool_postgres::Client,
        lease: Duration,
    ) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
        let (statement, lock) = heartbeat_timeouts(lease);
        let tx = client.transaction().await?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
            statement.as_millis(),
            lock.as_millis()
        ))
        .await?;
        Ok(tx)
    }

    /// Say this replica is alive until a lease from now (the heartbeat's first statement): a
    /// run whose lease lapsed while its holder still beats was not abandoned by a dead
    /// replica, and its claim does not count towards `MAX_CLAIMS`. Beats of replicas gone
    /// for a day are cleared on the way.
    pub fn beat(&self) -> Result<(), StoreError> {
        self.block_beat(self.beat_async())
    }

    async fn beat_async(&self) -> Result<(), StoreError> {
        let mut client = self.beat_pool.get().await?;
        let tx = Self::heartbeat_tx(&mut client, self.settings.lease).await?;
        tx.execute(
            &format!(
                "INSERT INTO replica_beats (replica, beat_until, addr) VALUES ($1, {DB_NOW} + $2, $3)
                 ON CONFLICT (replica) DO UPDATE SET beat_until = EXCLUDED.beat_until,
                     addr = EXCLUDED.addr"
            ),
            &[&self.settings.replica, &self.lease_ms(), &self.settings.advertise],
        )
        .await?;
        tx.execute(
            &format!("DELETE FROM replica_beats WHERE beat_until < {DB_NOW} - 86400000"),
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Another replica whose heartbeat is live and that advertises `addr`: its name and when
    /// its beat runs out (ms, on the database's clock: a renewal moves it on). Two live
    /// replicas at one address would each take the other's sessions for their own previous
    /// life's (`claim`).
    pub fn live_replica_at(&self, addr: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT replica, beat_until FROM replica_beats
                         WHERE addr = $1 AND replica <> $2 AND beat_until > {DB_NOW}
                         ORDER BY beat_until DESC LIMIT 1"
                    ),
                    &[&addr, &self.settings.replica],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    /// A new session's row and its lease, in one transaction; with an idempotency key,
    /// nothing when the tenant's session holding it exists (a submission racing with the same
    /// key waits on the first's insert and stores nothing).
    fn create_session(
        &self,
        id: &str,
        tenant: &str,
        scenario: &str,
        key: Option<&str>,
    ) -> Result<Option<Keyed>, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            if let Some(key) = key {
                if let Some(held) = Self::keyed(&*tx, true, tenant, key, scenario).await? {
                    return Ok(Some(held));
                }
            }
            let stored = tx
                .execute(
                    &format!(
                        "INSERT INTO sessions (id, tenant, scenario, created_ms, idem_key)
                         VALUES ($1, $2, $3, {DB_NOW}, $4)
                         ON CONFLICT (tenant, idem_key) WHERE idem_key IS NOT NULL DO NOTHING"
                    ),
                    &[&id, &tenant, &scenario, &key],
                )
                .await?;
            if stored == 0 {
                let key = key.unwrap_or_default();
                return match Self::keyed(&*tx, true, tenant, key, scenario).await? {
                    Some(held) => Ok(Some(held)),
                    None => Err(StoreError::KeyMoved(key.to_string())),
                };
            }
            tx.execute(
                &format!(
                    "INSERT INTO session_owners (session, replica, addr, lease_until)
                     VALUES ($1, $2, $3, {DB_NOW} + $4)"
                ),
                &[
                    &id,
                    &self.settings.replica,
                    &self.settings.advertise,
                    &self.lease_ms(),
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(None)
        })
    }

    /// The lease of session `id` held at `addr` taken by this replica; with `lapsed`, only
    /// while that lease is run out (in the same statement).
    fn take_over_at(&self, id: &str, addr: &str, lapsed: bool) -> Result<bool, StoreError> {
        let only_lapsed = if lapsed {
            format!(" AND lease_until < {DB_NOW}")
        } else {
            String::new()
        };
        self.block(async {
            let client = self.pool.get().await?;
            let n = client
                .execute(
                    &format!(
                        "UPDATE session_owners SET replica = $2, addr = $3,
                             lease_until = {DB_NOW} + $4
                         WHERE session = $1 AND addr = $5{only_lapsed}"
                    ),
                    &[
                        &id,
                        &self.settings.replica,
                        &self.settings.advertise,
                        &self.lease_ms(),
                        &addr,
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    /// Where the lease of session `id` stands for the replica at `addr`.
    pub fn lease_at(&self, id: &str, addr: &str) -> Result<LeaseAt, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT addr = $2, lease_until < {DB_NOW} FROM session_owners
                         WHERE session = $1"
                    ),
                    &[&id, &addr],
                )
                .await?;
            Ok(match row {
                Some(r) if r.get::<_, bool>(0) && r.get::<_, bool>(1) => LeaseAt::Lapsed,
                Some(r) if r.get::<_, bool>(0) => LeaseAt::Held,
                Some(_) => LeaseAt::Moved,
                // No owner: a live replica that let the session go (and may be loading it
                // again, the request with it) is not a freeze; a deleted session is gone.
                None => {
                    let exists = client
                        .query_opt("SELECT 1 FROM sessions WHERE id = $1", &[&id])
                        .await?;
                    if exists.is_some() {
                        LeaseAt::Released
                    } else {
                        LeaseAt::Gone
                    }
                }
            })
        })
    }

    /// Claim the next run to do: the first run that nobody holds or whose lease expired of
    /// the oldest unfinished job of the tenant with the fewest runs in flight, other than the runs this replica is running (`in_flight`, as
    /// `(job, index)`: its lease on one of them may have lapsed, but the run goes on here).
    /// `None` when there is nothing to claim now.
    ///
    /// What counts towards `MAX_CLAIMS` (the run's `claims`): a claim of a run nobody held
    /// (its first, or one given back at a shutdown, which took its count back), of a run
    /// whose lease this replica let lapse (it failed here), and of a lease that expired while
    /// its holder had stopped beating (`replica_beats`: it died or hung). A lease that
    /// expired while its holder still beats (its renewal was late; the run goes on there) is
    /// taken without counting, so replicas that are all alive never make a run `abandoned`.
    pub fn claim_run(&self, in_flight: &[(String, i64)]) -> Result<Option<ClaimedRun>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            // Job by job, each job's lowest free run through the `(job, idx)` key: one query
            // over every pending run of every job sorted them all (1.2 s a claim at 20 jobs
            // of 100,000 runs, run by every worker after every run). Tenants take turns: jobs
            // of the tenant with the fewest runs in flight first, then of the one whose last
            // claim is oldest, then oldest first (a tenant's own jobs keep their order). The
            // leases held (through `run_leases_by_replica`) are the runs in flight, a few per
            // worker.
            let jobs = client
                .query(
                    &format!(
                        "SELECT j.id FROM jobs j
                         LEFT JOIN (SELECT k.tenant, COUNT(*) AS n FROM run_leases l
                                    JOIN jobs k ON k.id = l.job
                                    WHERE l.replica IS NOT NULL AND l.lease_until >= {DB_NOW}
                                    GROUP BY k.tenant) held ON held.tenant = j.tenant
                         LEFT JOIN tenant_claims t ON t.tenant = j.tenant
                         WHERE j.status IN ($1, $2)
                         ORDER BY COALESCE(held.n, 0), COALESCE(t.claimed_us, 0),
                                  j.created_ms, j.id"
                    ),
                    &[&JobStatus::Queued, &JobStatus::Running],
                )
                .await?;
            for job in jobs {
                let job: String = job.get(0);
                let running: Vec<i64> = in_flight
                    .iter()
                    .filter(|(j, _)| *j == job)
                    .map(|(_, i)| *i)
                    .collect();
                // `l.replica` on the right of SET is the holder before this claim.
                let row = client
                    .query_opt(
                        &format!(
                            "UPDATE run_leases l SET replica = $1, lease_until = {DB_NOW} + $2,
                                 claims = l.claims + CASE
                                     WHEN l.replica IS NOT NULL AND l.replica <> $1
                                          AND EXISTS (SELECT 1 FROM replica_beats b
                                                      WHERE b.replica = l.replica
                                                        AND b.beat_until >= {DB_NOW})
                                     THEN 0 ELSE 1 END
                             FROM (SELECT r.job, r.idx FROM run_leases r
                                   WHERE r.job = $3
                                     AND (r.replica IS NULL OR r.lease_until < {DB_NOW})
                                     AND r.idx <> ALL($6::bigint[])
                                     AND EXISTS (SELECT 1 FROM jobs j
                                                 WHERE j.id = r.job AND j.status IN ($4, $5))
                                   ORDER BY r.idx
                                   LIMIT 1 FOR UPDATE OF r SKIP LOCKED) c
                             WHERE l.job = c.job AND l.idx = c.idx
                             RETURNING l.job, l.idx, l.claims"
                        ),
                        &[
                            &self.settings.replica,
                            &self.lease_ms(),
                            &job,
                            &JobStatus::Queued,
                            &JobStatus::Running,
                            &running,
                        ],
                    )
                    .await?;
                if let Some(r) = row {
                    // The tenant's turn, for the order of the next claims: outside the
                    // claim's statement, and a failure only delays a turn (the run is
                    // claimed and must be run).
                    if let Err(e) = client
                        .execute(
                            &format!(
                                "INSERT INTO tenant_claims (tenant, claimed_us)
                                 SELECT tenant, {DB_NOW_US} FROM jobs WHERE id = $1
                                 ON CONFLICT (tenant) DO UPDATE SET claimed_us = EXCLUDED.claimed_us"
                            ),
                            &[&job],
                        )
                        .await
                    {
                        tracing::warn!(job, error = %e, "cannot note the tenant's turn");
                    }
                    return Ok(Some(ClaimedRun {
                        job: r.get(0),
                        index: r.get::<_, i64>(1) as u64,
                        claims: r.get(2),
                    }));
                }
            }
            Ok(None)
        })
    }

    /// The job's request and status, when a replica takes the job up (its first run claimed
    /// in this process): a queued job becomes running, and `attempts` counts the takings up
    /// (above 1: several replicas, or a replica restarted).
    pub fn start_job(&self, id: &str) -> Result<Option<(String, JobStatus)>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    &format!(
                        "UPDATE jobs SET status = $2, started_ms = COALESCE(started_ms, {DB_NOW}),
                             attempts = attempts + 1
                         WHERE id = $1 AND status IN ($3, $2)"
                    ),
                    &[&id, &JobStatus::Running, &JobStatus::Queued],
                )
                .await?;
            let row = client
                .query_opt("SELECT spec, status FROM jobs WHERE id = $1", &[&id])
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    /// Store a finished run (once: a run stored already by a replica that had taken the lease
    /// over stays as it was), release its lease, and mark the job done when this was its last
    /// run. Nothing is stored for a job that is no longer running (cancelled, failed).
    ///
    /// The run's start and finish (`Instant`s on this replica) are stored on the database's
    /// clock: each is the database's now less the time since then, measured as the row is
    /// sent, so the runs of replicas with skewed clocks line up (`max_parallel_runs`).
    pub fn store_run(
        &self,
        id: &str,
        row: &RunRow,
        started: std::time::Instant,
        finished: std::time::Instant,
    ) -> Result<RunStored, StoreError> {
        let text = serde_json::to_string(row).map_err(json_error("run row"))?;
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // Completions of one job are serialised on its row: the last one sees every
            // other's deleted lease.
            let status: Option<JobStatus> = tx
                .query_opt("SELECT status FROM jobs WHERE id = $1 FOR UPDATE", &[&id])
                .await?
                .map(|r| r.get(0));
            if !status.is_some_and(JobStatus::is_unfinished) {
                return Ok(RunStored {
                    lease_held: true,
                    job_done: false,
                });
            }
            let idx = row.run as i64;
            let solve_ms = row.solve_ms.unwrap_or(0.0);
            let since = |t: std::time::Instant| t.elapsed().as_micros() as i64;
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO runs (job, idx, row, solve_ms, started_us, finished_us, replica)
                         VALUES ($1, $2, $3, $4, {DB_NOW_US} - $5, {DB_NOW_US} - $6, $7)
                         ON CONFLICT (job, idx) DO NOTHING"
                    ),
                    &[
                        &id,
                        &idx,
                        &text,
                        &solve_ms,
                        &since(started),
                        &since(finished),
                        &self.settings.replica,
                    ],
                )
                .await?;
            if inserted == 1 {
                // The job's counters (its progress and solver time, as listed), kept with
                // its runs in this transaction.
                let error = i64::from(row.status == Status::Error);
                tx.execute(
                    "UPDATE jobs SET done = done + 1, solve_ms_total = solve_ms_total + $2,
                         errors = errors + $3
                     WHERE id = $1",
                    &[&id, &solve_ms, &error],
                )
                .await?;
            }
            let held = tx
                .execute(
                    "DELETE FROM run_leases WHERE job = $1 AND idx = $2 AND replica = $3",
                    &[&id, &idx, &self.settings.replica],
                )
                .await?
                == 1;
            if !held {
                // Taken over: the other holder deletes the lease when it stores the run.
                tx.execute(
                    "DELETE FROM run_leases WHERE job = $1 AND idx = $2
                       AND EXISTS (SELECT 1 FROM runs WHERE job = $1 AND idx = $2)",
                    &[&id, &idx],
                )
                .await?;
            }
            let done = tx
                .execute(
                    &format!("UPDATE jobs SET status = $2, finished_ms = {DB_NOW},
                         max_parallel_runs = (
                             SELECT MAX(open) FROM (
                                 SELECT SUM(step) OVER (ORDER BY at, step ROWS UNBOUNDED PRECEDING) AS open
                                 FROM (
                                     SELECT started_us AS at, 1 AS step FROM runs
                                         WHERE job = $1 AND started_us IS NOT NULL AND finished_us IS NOT NULL
                                     UNION ALL
                                     SELECT finished_us, -1 FROM runs
                                         WHERE job = $1 AND started_us IS NOT NULL AND finished_us IS NOT NULL
                                 ) steps
                             ) sweep)
                     WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM run_leases WHERE job = $1)"),
                    &[&id, &JobStatus::Done],
                )
                .await?
                == 1;
            tx.commit().await?;
            Ok(RunStored {
                lease_held: held,
                job_done: done,
            })
        })
    }

    /// Store a new job, durably, as `queued`, with one lease row per run, unless `max_queued`
    /// jobs are queued already (false: nothing stored). The count and the insert are one step
    /// across replicas: the transaction takes an advisory lock first, held to its commit, so
    /// concurrent submits on several replicas cannot all see room for one more.
    pub fn insert_job_within(
        &self,
        job: &NewJob,
        max_queued: Option<i64>,
    ) -> Result<Inserted, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            if let Some(key) = job.key {
                if let Some(held) = Self::keyed(&*tx, false, job.tenant, key, job.spec).await? {
                    return Ok(Inserted::Keyed(held));
                }
            }
            if max_queued.is_some() || job.tenant_queued_max.is_some() {
                tx.execute("SELECT pg_advisory_xact_lock(7411000002)", &[])
                    .await?;
            }
            if let Some(max) = max_queued {
                let queued: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM jobs WHERE status = $1",
                        &[&JobStatus::Queued],
                    )
                    .await?
                    .get(0);
                if queued >= max {
                    return Ok(Inserted::QueueFull);
                }
            }
            if let Some(max) = job.tenant_queued_max {
                let queued: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM jobs WHERE status = $1 AND tenant = $2",
                        &[&JobStatus::Queued, &job.tenant],
                    )
                    .await?
                    .get(0);
                if queued >= max {
                    return Ok(Inserted::TenantShareFull);
                }
            }
            // A submission with the same key committed since the look-up above: it waits for
            // that transaction and stores nothing; the key's job is answered instead.
            let stored = tx
                .execute(
                    &format!(
                        "INSERT INTO jobs (id, tenant, spec, status, total, created_ms, idem_key)
                         VALUES ($1, $2, $3, $4, $5, {DB_NOW}, $6)
                         ON CONFLICT (tenant, idem_key) WHERE idem_key IS NOT NULL DO NOTHING"
                    ),
                    &[
                        &job.id,
                        &job.tenant,
                        &job.spec,
                        &JobStatus::Queued,
                        &job.total,
                        &job.key,
                    ],
                )
                .await?;
            if stored == 0 {
                let key = job.key.unwrap_or_default();
                return match Self::keyed(&*tx, false, job.tenant, key, job.spec).await? {
                    Some(held) => Ok(Inserted::Keyed(held)),
                    None => Err(StoreError::KeyMoved(key.to_string())),
                };
            }
            tx.execute(
                "INSERT INTO run_leases (job, idx) SELECT $1, g FROM generate_series(0::bigint, $2::bigint - 1) g",
                &[&job.id, &job.total],
            )
            .await?;
            tx.commit().await?;
            Ok(Inserted::Stored)
        })
    }

    /// The tenant's job (`sessions` false) or session holding idempotency key `key`,
    /// compared with the request (`spec`: a job's request, a session's scenario).
    async fn keyed(
        client: &impl tokio_postgres::GenericClient,
        sessions: bool,
        tenant: &str,
        key: &str,
        spec: &str,
    ) -> Result<Option<Keyed>, StoreError> {
        let sql = if sessions {
            "SELECT id, scenario FROM sessions WHERE tenant = $1 AND idem_key = $2"
        } else {
            "SELECT id, spec FROM jobs WHERE tenant = $1 AND idem_key = $2"
        };
        let row = client.query_opt(sql, &[&tenant, &key]).await?;
        Ok(row.map(|r| Keyed {
            id: r.get(0),
            same_request: super::same_request(r.get::<_, &str>(1), spec),
        }))
    }

    /// A job that cannot run (its request no longer makes a batch): failed, its leases gone.
    pub fn fail_job(&self, id: &str, error: &str) -> Result<(), StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                &format!(
                    "UPDATE jobs SET status = $2, error = $3, finished_ms = {DB_NOW}
                     WHERE id = $1 AND status IN ($4, $5)"
                ),
                &[
                    &id,
                    &JobStatus::Failed,
                    &error,
                    &JobStatus::Queued,
                    &JobStatus::Running,
                ],
            )
            .await?;
            tx.execute(DELETE_JOB_LEASES, &[&id]).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Extend the leases of the runs this replica is running (`(job, index)`); answers how
    /// many it renewed. A lease whose run failed here is not renewed: it is given back
    /// (`release_run`) or expires, and the run is claimed again. A row locked by another
    /// transaction (the run being stored, its job cancelled) is skipped this time rather
    /// than waited for, so it cannot hold up the others.
    pub fn renew_run_leases(&self, runs: &[(String, i64)]) -> Result<u64, StoreError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let (jobs, idxs): (Vec<&str>, Vec<i64>) =
            runs.iter().map(|(j, i)| (j.as_str(), *i)).unzip();
        self.block_beat(async {
            let mut client = self.beat_pool.get().await?;
            let tx = Self::heartbeat_tx(&mut client, self.settings.lease).await?;
            let n = tx
                .execute(
                    &format!(
                        "UPDATE run_leases l SET lease_until = {DB_NOW} + $2
                         FROM (SELECT r.job, r.idx FROM run_leases r
                               WHERE r.replica = $1
                                 AND (r.job, r.idx) IN (SELECT * FROM unnest($3::text[], $4::bigint[]))
                               ORDER BY r.job, r.idx FOR UPDATE OF r SKIP LOCKED) c
                         WHERE l.job = c.job AND l.idx = c.idx AND l.replica = $1"
                    ),
                    &[&self.settings.replica, &self.lease_ms(), &jobs, &idxs],
                )
                .await?;
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Give back the lease of a run that failed here (its row could not be stored): any
    /// replica claims it again at once, and that claim counts towards `MAX_CLAIMS`.
    pub fn release_run(&self, job: &str, index: u64) -> Result<(), StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "UPDATE run_leases SET replica = NULL, lease_until = NULL
                     WHERE job = $1 AND idx = $2 AND replica = $3",
                    &[&job, &(index as i64), &self.settings.replica],
                )
                .await?;
            Ok(())
        })
    }

    /// Give this replica's run leases back (at shutdown): others claim them at once.
    pub fn release_run_leases(&self) -> Result<u64, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            Ok(client
                .execute(
                    "UPDATE run_leases l SET replica = NULL, lease_until = NULL,
                         claims = GREATEST(l.claims - 1, 0)
                     FROM (SELECT r.job, r.idx FROM run_leases r WHERE r.replica = $1
                           ORDER BY r.job, r.idx FOR UPDATE OF r) c
                     WHERE l.job = c.job AND l.idx = c.idx AND l.replica = $1",
                    &[&self.settings.replica],
                )
                .await?)
        })
    }

    /// Leases held by this replica now: runs and sessions (for `/metrics`).
    pub fn leases_held(&self) -> Result<(i64, i64), StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let row = client
                .query_one(
                    &format!(
                        "SELECT
                           (SELECT COUNT(*) FROM run_leases WHERE replica = $1 AND lease_until >= {DB_NOW}),
                           (SELECT COUNT(*) FROM session_owners WHERE replica = $1 AND lease_until >= {DB_NOW})"
                    ),
                    &[&self.settings.replica],
                )
                .await?;
            Ok((row.get(0), row.get(1)))
        })
    }

    /// A job's row as `JobInfo` reads it (`job_row`): its counters are kept on it, so a list
    /// of jobs is one query on `jobs`, not an aggregate over each job's runs.
    /// Selected with the database's clock (`DB_NOW`) after them, which a running job's
    /// elapsed time is measured to: its start is on that clock too.
    const JOB_COLUMNS: &'static str = "id, tenant, status, total, error, created_ms, started_ms,
        finished_ms, attempts, done, solve_ms_total, max_parallel_runs, errors";

    async fn job_info(
        client: &deadpool_postgres::Client,
        id: &str,
    ) -> Result<Option<(String, JobInfo)>, StoreError> {
        let row = client
            .query_opt(
                &format!(
                    "SELECT {}, {DB_NOW} FROM jobs WHERE id = $1",
                    Self::JOB_COLUMNS
                ),
                &[&id],
            )
            .await?;
        Ok(row.map(|r| Self::job_row(&r)))
    }

    /// The owner and `JobInfo` of a row of `JOB_COLUMNS` and `DB_NOW`.
    fn job_row(r: &tokio_postgres::Row) -> (String, JobInfo) {
        let started_ms: Option<i64> = r.get(6);
        let finished_ms: Option<i64> = r.get(7);
        let db_now: i64 = r.get(13);
        (
            r.get(1),
            JobInfo {
                id: r.get(0),
                status: r.get(2),
                progress: Progress {
                    done: r.get(9),
                    total: r.get(3),
                    errors: r.get(12),
                },
                error: r.get(4),
                created_ms: r.get(5),
                started_ms,
                finished_ms,
                attempts: r.get(8),
                // From the first start to the end, or to now while running: both on the
                // database's clock.
                elapsed_ms: started_ms.map(|s| finished_ms.unwrap_or(db_now) - s),
                solve_ms_total: r.get(10),
                max_parallel_runs: r.get(11),
            },
        )
    }
}

impl JobStore for PgStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn check(&self) -> Result<(), StoreError> {
        self.block(async {
            self.pool.get().await?.query_one("SELECT 1", &[]).await?;
            Ok(())
        })
    }

    fn insert_job(&self, job: &NewJob) -> Result<Inserted, StoreError> {
        self.insert_job_within(job, None)
    }

    fn keyed_job(&self, tenant: &str, key: &str, spec: &str) -> Result<Option<Keyed>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            Self::keyed(&**client, false, tenant, key, spec).await
        })
    }

    /// Delete a finished job with its runs (and any lease row left) in one transaction; the
    /// job's row is locked first, as a run's completion locks it.
    fn purge(&self, id: &str, tenant: &str) -> Result<Purged, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let status: Option<JobStatus> = tx
                .query_opt(
                    "SELECT status FROM jobs WHERE id = $1 AND tenant = $2 FOR UPDATE",
                    &[&id, &tenant],
                )
                .await?
                .map(|r| r.get(0));
            match status {
                None => return Ok(Purged::NotFound),
                Some(s) if s.is_unfinished() => return Ok(Purged::Unfinished(s)),
                Some(_) => {}
            }
            tx.execute(DELETE_JOB_LEASES, &[&id]).await?;
            tx.execute("DELETE FROM runs WHERE job = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM jobs WHERE id = $1", &[&id]).await?;
            tx.commit().await?;
            Ok(Purged::Deleted)
        })
    }

    fn request(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt("SELECT spec FROM jobs WHERE id = $1", &[&id])
                .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn job(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobInfo>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let found = Self::job_info(&client, id).await?;
            Ok(found.and_then(|(owner, info)| (tenant.is_none_or(|t| t == owner)).then_some(info)))
        })
    }

    fn list(&self, tenant: &str, limit: i64) -> Result<Vec<JobInfo>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {}, {DB_NOW} FROM jobs WHERE tenant = $1
                         ORDER BY created_ms DESC, id LIMIT $2",
                        Self::JOB_COLUMNS
                    ),
                    &[&tenant, &limit],
                )
                .await?;
            Ok(rows.iter().map(|r| Self::job_row(r).1).collect())
        })
    }

    fn cancel(&self, id: &str, tenant: &str) -> Result<Option<JobStatus>, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let n = tx
                .execute(
                    &format!(
                        "UPDATE jobs SET status = $3, finished_ms = {DB_NOW}
                         WHERE id = $1 AND tenant = $2 AND status IN ($4, $5)"
                    ),
                    &[
                        &id,
                        &tenant,
                        &JobStatus::Cancelled,
                        &JobStatus::Queued,
                        &JobStatus::Running,
                    ],
                )
                .await?;
            if n == 1 {
                // No replica claims its runs any more; runs in flight finish and are dropped.
                tx.execute(DELETE_JOB_LEASES, &[&id]).await?;
            }
            let status = tx
                .query_opt(
                    "SELECT status FROM jobs WHERE id = $1 AND tenant = $2",
                    &[&id, &tenant],
                )
                .await?
                .map(|r| r.get(0));
            tx.commit().await?;
            Ok(status)
        })
    }

    fn runs_from(&self, id: &str, from: u64, limit: usize) -> Result<RunPage, StoreError> {
        let stored = self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT idx, row FROM runs WHERE job = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
                    &[&id, &(from as i64), &super::sql_limit(limit)],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        RunPage::parse(stored, limit)
    }

    fn counts(&self) -> Result<Vec<(JobStatus, i64)>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn queued_count(&self) -> Result<i64, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            Ok(client
                .query_one(
                    "SELECT COUNT(*) FROM jobs WHERE status = $1",
                    &[&JobStatus::Queued],
                )
                .await?
                .get(0))
        })
    }

    fn result_file(&self, _id: &str) -> Option<PathBuf> {
        None
    }
}

impl SessionLog for PgStore {
    fn create(&self, id: &str, tenant: &str, scenario: &str) -> Result<(), StoreError> {
        self.create_session(id, tenant, scenario, None).map(|_| ())
    }

    fn create_keyed(
        &self,
        id: &str,
        tenant: &str,
        scenario: &str,
        key: &str,
    ) -> Result<Option<Keyed>, StoreError> {
        self.create_session(id, tenant, scenario, Some(key))
    }

    fn keyed(&self, tenant: &str, key: &str, scenario: &str) -> Result<Option<Keyed>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            Self::keyed(&**client, true, tenant, key, scenario).await
        })
    }

    fn append(&self, session: &str, e: &LogEntry) -> Result<(), StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // The lease is checked and extended with its row locked until the commit: a
            // replica taking the session over waits for this batch and then sees the lease
            // live, so it cannot replay the log without it. Only while the session exists: a
            // lease claimed in a race with its delete is left over, and a log row of no
            // session would outlive the delete.
            let held = tx
                .execute(
                    &format!(
                        "UPDATE session_owners SET lease_until = {DB_NOW} + $3
                         WHERE session = $1 AND replica = $2 AND lease_until >= {DB_NOW}
                           AND EXISTS (SELECT 1 FROM sessions WHERE id = $1)"
                    ),
                    &[&session, &self.settings.replica, &self.lease_ms()],
                )
                .await?;
            if held != 1 {
                return Err(StoreError::LeaseLost(format!("session {session}")));
            }
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO session_log (session, seq, applied, event_ids, changes, created_ms)
                         VALUES ($1, $2, $3, $4, $5, {DB_NOW})"
                    ),
                    &[&session, &e.seq, &e.applied, &e.event_ids, &e.changes],
                )
                .await;
            match inserted {
                Ok(_) => {}
                // The number was taken: another replica extended the log meanwhile.
                Err(err)
                    if err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                {
                    return Err(StoreError::LeaseLost(format!("session {session}")))
                }
                Err(err) => return Err(err.into()),
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn changes_after(
        &self,
        session: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<PlanChange>, StoreError> {
        let limit = super::sql_limit(limit);
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT seq, changes FROM session_log WHERE session = $1 AND seq > $2
                     ORDER BY seq LIMIT $3",
                    &[&session, &seq, &limit],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| PlanChange {
                    seq: r.get(0),
                    data: r.get(1),
                })
                .collect())
        })
    }

    fn list(&self, tenant: &str, limit: usize) -> Result<Vec<SessionListed>, StoreError> {
        let limit = super::sql_limit(limit);
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT s.id, s.scenario::jsonb ->> 'name', s.created_ms,
                            (SELECT COALESCE(MAX(l.seq), 0) FROM session_log l WHERE l.session = s.id)
                     FROM sessions s
                     JOIN (SELECT id FROM sessions WHERE tenant = $1
                           ORDER BY created_ms DESC, id LIMIT $2) newest ON newest.id = s.id
                     ORDER BY s.created_ms DESC, s.id",
                    &[&tenant, &limit],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| SessionListed {
                    id: r.get(0),
                    name: r.get(1),
                    created_ms: r.get(2),
                    seq: r.get(3),
                })
                .collect())
        })
    }

    fn session(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT tenant, scenario FROM sessions WHERE id = $1",
                    &[&id],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn rows_after(&self, id: &str, seq: i64, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        let limit = super::sql_limit(limit);
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT seq, applied, event_ids FROM session_log
                     WHERE session = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&id, &seq, &limit],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    fn ids_before(
        &self,
        id: &str,
        after: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let limit = super::sql_limit(limit);
        self.block(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT seq, event_ids FROM session_log WHERE session = $1 AND seq > $2
                     AND seq < $3 ORDER BY seq DESC LIMIT $4",
                    &[&id, &after, &before, &limit],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // The lease row first: an append holding it commits before this goes on, so the
            // log's delete below sees its row; a later append finds no lease.
            tx.execute("DELETE FROM session_owners WHERE session = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM session_log WHERE session = $1", &[&id])
                .await?;
            let n = tx
                .execute("DELETE FROM sessions WHERE id = $1", &[&id])
                .await?;
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    fn claim(&self, id: &str, tenant: &str) -> Result<Owner, StoreError> {
        self.block(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // Who held the lease, its row locked until the commit. Ours (even expired: no
            // other replica took it since, so none wrote to the log) means the lease was held
            // all along; anything else, a row of another replica or none at all (released,
            // after another replica may have taken it and written), means it lapsed.
            let held = tx
                .query_opt(
                    "SELECT replica FROM session_owners WHERE session = $1 FOR UPDATE",
                    &[&id],
                )
                .await?
                .is_some_and(|r| r.get::<_, String>(0) == self.settings.replica);
            // Take the lease when it is free, expired, ours, or held at our own address (by
            // this replica's previous life: no two processes listen on one address); else
            // answer its holder. Only for the session's own tenant.
            let taken = tx
                .query_opt(
                    &format!(
                        "INSERT INTO session_owners (session, replica, addr, lease_until)
                         SELECT $1, $2, $3, {DB_NOW} + $4
                         WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND tenant = $5)
                         ON CONFLICT (session) DO UPDATE
                           SET replica = EXCLUDED.replica, addr = EXCLUDED.addr,
                               lease_until = EXCLUDED.lease_until
                           WHERE session_owners.replica = EXCLUDED.replica
                              OR session_owners.addr = EXCLUDED.addr
                              OR session_owners.lease_until < {DB_NOW}
                         RETURNING replica"
                    ),
                    &[
                        &id,
                        &self.settings.replica,
                        &self.settings.advertise,
                        &self.lease_ms(),
                        &tenant,
                    ],
                )
                .await?;
            if taken.is_some() {
                tx.commit().await?;
                return Ok(if held { Owner::Here } else { Owner::Taken });
            }
            let holder = tx
                .query_opt(
                    "SELECT o.addr FROM session_owners o JOIN sessions s ON s.id = o.session
                     WHERE o.session = $1 AND s.tenant = $2",
                    &[&id, &tenant],
                )
                .await?;
            tx.commit().await?;
            // No holder: no such session of this tenant (the route answers 404 here).
            Ok(holder.map_or(Owner::Here, |r| Owner::Replica(r.get(0))))
        })
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.settings.lease)
    }

    fn take_over(&self, id: &str, dead: &str) -> Result<bool, StoreError> {
        self.take_over_at(id, dead, false)
    }

    fn take_over_lapsed(&self, id: &str, addr: &str) -> Result<bool, StoreError> {
        self.take_over_at(id, addr, true)
    }

    fn renew(&self, ids: &[String]) -> Result<Renewal, StoreError> {
        self.block_beat(async {
            // On the heartbeat's connections, bounded. A row locked by another transaction
            // (an append or a claim of the session) is skipped this time rather than waited
            // for: waiting failed the whole statement, and so every other session's renewal.
            let mut client = self.beat_pool.get().await?;
            let tx = Self::heartbeat_tx(&mut client, self.settings.lease).await?;
            let renewed = tx
                .query(
                    &format!(
                        "UPDATE session_owners o SET lease_until = {DB_NOW} + $3
                         FROM (SELECT session FROM session_owners
                               WHERE replica = $1 AND session = ANY($2)
                               ORDER BY session FOR UPDATE SKIP LOCKED) c
                         WHERE o.session = c.session AND o.replica = $1
                         RETURNING o.session"
                    ),
                    &[&self.settings.replica, &ids, &self.lease_ms()],
                )
                .await?;
            // A skipped row is still this replica's if it names it (read without a lock):
            // only a row that names another replica, or none, is a lease lost.
            let ours = tx
                .query(
                    "SELECT session FROM session_owners WHERE replica = $1 AND session = ANY($2)",
                    &[&self.settings.replica, &ids],
                )
                .await?;
            tx.commit().await?;
            let set = |rows: Vec<tokio_postgres::Row>| -> std::collections::HashSet<String> {
                rows.iter().map(|r| r.get(0)).collect()
            };
            let (renewed, ours) = (set(renewed), set(ours));
            let mut out = Renewal::default();
            for id in ids {
                if !ours.contains(id) {
                    out.lost.push(id.clone());
                } else if !renewed.contains(id) {
                    out.busy.push(id.clone());
                }
            }
            Ok(out)
        })
    }

    fn release(&self, id: &str) -> Result<(), StoreError> {
        self.block(async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "DELETE FROM session_owners WHERE session = $1 AND replica = $2",
                    &[&id, &self.settings.replica],
                )
                .await?;
            Ok(())
        })
    }
}
