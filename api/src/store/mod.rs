//! The service's durable state, behind one interface for both stores:
//!
//! - [`JobStore`]: jobs and their runs; [`crate::sessions::SessionLog`]: sessions and their
//!   event logs.
//! - `sqlite.rs`: the embedded default, one SQLite file under the data directory (one process).
//! - `postgres.rs`: PostgreSQL, shared by replicas (`serve --store postgres://...`): runs are
//!   claimed with leases, sessions are owned by one replica at a time (see ARCHITECTURE.md,
//!   "Service replicas").

mod postgres;
mod sqlite;

pub use postgres::{ClaimedRun, LeaseAt, PgSettings, PgStore, RunStored};
pub use sqlite::{open_db, SqliteJobs, SqliteSessions};

use commonsnet_engine::batch::RunRow;
use commonsnet_engine::session::LoggedEventId;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

closed_set! {
    /// Job states. `queued` and `running` jobs are resumed after a restart.
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}
sql_text!(JobStatus);

impl JobStatus {
    /// Still to run: resumed at start-up, cancellable.
    pub const fn is_unfinished(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobInfo {
    pub id: String,
    pub status: JobStatus,
    pub progress: Progress,
    /// Milliseconds since the Unix epoch (across replicas, on the database's clock, as are
    /// the start and the end).
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Wall time from the first start to the end (or to now while running).
    pub elapsed_ms: Option<i64>,
    /// Sum of the solver times of the runs done so far.
    pub solve_ms_total: f64,
    /// How many times a process took the job up: above 1 after a restart of the server, a
    /// turn given to another tenant's job or a pause while the store could not be written,
    /// and, across replicas (`serve --store postgres://...`), when several replicas ran its
    /// runs (each replica that ran one counts once per start).
    pub attempts: i64,
    /// The most runs that were executing at one moment, from the runs' stored start and
    /// finish times (at most the server's `--job-threads`); set when the job ends.
    pub max_parallel_runs: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    /// Runs done whose row is an `error` (the run failed; the job goes on): a job `done` with
    /// errors says so here without a download of its table.
    pub errors: i64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What a renewal of session leases found besides the leases it extended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// Held by another replica now, or released: the session must leave memory.
    pub lost: Vec<String>,
    /// Still this replica's, but its row was locked by another transaction, so the lease
    /// was not extended this time; it runs to its deadline unless a later beat renews it.
    pub busy: Vec<String>,
}

/// Why the store failed. An I/O error stays an I/O error: it is not passed off as SQLite's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("postgres: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The database did not answer within the bound of a conversation that has one (the
    /// heartbeat's): worth a retry (503).
    #[error("postgres: no answer within {0:?}")]
    NoAnswer(std::time::Duration),
    /// The store's settings cannot make a connection pool.
    #[error("postgres settings: {0}")]
    Settings(String),
    /// No connection to PostgreSQL within the pool's timeouts (the server is down or
    /// unreachable): the request is answered 503 and may be retried.
    #[error("postgres connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// This replica no longer holds the lease it wrote under (another replica took the
    /// session over): nothing was written.
    #[error("{0}: this replica no longer holds its lease")]
    LeaseLost(String),
    /// The session's row is gone (deleted) while something still wrote to its log: nothing
    /// was written.
    #[error("session {0} was deleted")]
    SessionGone(String),
    /// The database's schema is newer than this binary's migrations.
    #[error("the database's schema is at version {found}, newer than this binary's {known}: run the newer commonsnet (an older one would not keep what newer replicas write)")]
    SchemaAhead { found: i64, known: usize },
    /// An idempotency key was held when a new row was stored under it and free again when
    /// its holder was looked up (the holder deleted in between): nothing was stored, worth a
    /// retry (503).
    #[error("idempotency key {0:?}: its holder went while this request was stored")]
    KeyMoved(String),
    /// The job's rows went (it was purged) while its result was read.
    #[error("job {0} was purged while its result was read")]
    JobGone(String),
    /// A JSON column that does not read back (written by something else, or damaged).
    #[error("{what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

impl StoreError {
    /// The store cannot be reached now, or the session moved: worth a retry (503), not a
    /// fault of the request or a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_)
            | StoreError::LeaseLost(_)
            | StoreError::SessionGone(_)
            | StoreError::KeyMoved(_)
            | StoreError::NoAnswer(_) => true,
            StoreError::Postgres(e) => {
                e.is_closed()
                    || e.code()
                        .is_some_and(|c| is_connection_class(c) || is_contention(c))
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            StoreError::Sqlite(e) => is_storage_fault(e),
            StoreError::Io { source, .. } => is_io_fault(source),
            _ => false,
        }
    }
}

/// SQLite could not read or write its files now (a full disk, a read-only or failing file
/// system, a lock held too long): the machine's, not the request's, and what was being
/// written was not (SQLite rolls the transaction back).
fn is_storage_fault(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    e.sqlite_error_code().is_some_and(|c| {
        matches!(
            c,
            C::DiskFull
                | C::SystemIoFailure
                | C::ReadOnly
                | C::CannotOpen
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::FileLockingProtocolFailed
        )
    })
}

/// A file of the store could not be written for want of room, of a writable file system or
/// of a working disk.
pub(crate) fn is_io_fault(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::ReadOnlyFilesystem | K::QuotaExceeded
    ) || e.raw_os_error() == Some(5) // EIO
}

/// tokio-postgres says only "db error" for an error the server reported: its message and
/// code are what a log needs.
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// SQLSTATE 55P03 (a lock not obtained within `lock_timeout`) and 40P01 (a deadlock broken
/// by the server): contention that a retry may not meet.
fn is_contention(code: &tokio_postgres::error::SqlState) -> bool {
    matches!(code.code(), "55P03" | "40P01")
}

/// SQLSTATE classes 08 (connection exception) and 57 (operator intervention: the server is
/// shutting down or restarting).
fn is_connection_class(code: &tokio_postgres::error::SqlState) -> bool {
    let c = code.code();
    c.starts_with("08") || c.starts_with("57")
}

/// Which store a service runs on (`/healthz`, `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// The jobs of the service, as the HTTP routes see them: the same for both stores. How runs
/// are executed differs: one `JobRunner` per SQLite file, leased runs on PostgreSQL.
pub trait JobStore: Send + Sync {
    fn kind(&self) -> StoreKind;
    /// Can the store be reached now (`/healthz`)?
    fn check(&self) -> Result<(), StoreError>;
    /// Store a new job, durably, as `queued`, unless its tenant holds its idempotency key
    /// already (then nothing is stored and the job holding the key is answered).
    fn insert_job(&self, job: &NewJob) -> Result<Inserted, StoreError>;
    /// The tenant's job submitted with idempotency key `key`, compared with `spec`.
    fn keyed_job(&self, tenant: &str, key: &str, spec: &str) -> Result<Option<Keyed>, StoreError>;
    /// Delete a finished job of this tenant with its runs (and its result file).
    fn purge(&self, id: &str, tenant: &str) -> Result<Purged, StoreError>;
    /// The request a job was submitted with (its JSON as stored); `None` for an unknown id.
    fn request(&self, id: &str) -> Result<Option<String>, StoreError>;
    /// The job as its tenant sees it; `None` for an unknown id or another tenant's job.
    fn job(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobInfo>, StoreError>;
    /// The tenant's jobs, newest first.
    fn list(&self, tenant: &str, limit: i64) -> Result<Vec<JobInfo>, StoreError>;
    /// Cancel a queued or running job of this tenant. Returns the status after the call, or
    /// `None` for an unknown id.
    fn cancel(&self, id: &str, tenant: &str) -> Result<Option<JobStatus>, StoreError>;
    /// A page of a job's finished runs, in run order: at most `limit` of those whose run index
    /// is `from` or above. Keyed on the index (the primary key is `(job, idx)`), so a page far
    /// into a job costs what the first one does.
    fn runs_from(&self, id: &str, from: u64, limit: usize) -> Result<RunPage, StoreError>;
    /// Number of jobs in each status (for `/metrics`).
    fn counts(&self) -> Result<Vec<(JobStatus, i64)>, StoreError>;
    /// Jobs waiting to start (queued), for the queue bound of `POST /v1/jobs`.
    fn queued_count(&self) -> Result<i64, StoreError>;
    /// Where a finished job's Parquet result was written, when the store keeps files (the
    /// SQLite store); `None`: the result is built from the rows on request.
    fn result_file(&self, id: &str) -> Option<PathBuf>;
}

/// A job as [`JobStore::insert_job`] stores it.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    /// The request, as JSON written by `serde_json` from the parsed request: the same
    /// request gives the same text, which is how a retry is told from a reuse of its key.
    pub spec: &'a str,
    pub total: i64,
    /// The `Idempotency-Key` it was submitted with: unique per tenant.
    pub key: Option<&'a str>,
    /// The most jobs its tenant may have queued (its share of `--max-queued-jobs`), counted
    /// in the transaction that stores it; `None`: no bound of the tenant's own.
    pub tenant_queued_max: Option<i64>,
}

impl<'a> NewJob<'a> {
    /// A job without an idempotency key.
    pub fn new(id: &'a str, tenant: &'a str, spec: &'a str, total: i64) -> NewJob<'a> {
        NewJob {
            id,
            tenant,
            spec,
            total,
            key: None,
            tenant_queued_max: None,
        }
    }
}

/// What [`JobStore::insert_job`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Stored,
    /// The tenant's job holding the key; nothing was stored.
    Keyed(Keyed),
    /// The store's bound on queued jobs was reached (the bound is kept by the store only
    /// across replicas); nothing was stored.
    QueueFull,
    /// The tenant has `NewJob::tenant_queued_max` jobs queued already; nothing was stored.
    TenantShareFull,
}

/// The job or session an idempotency key was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub id: String,
    /// Submitted with the very request given now (a retry), not another one.
    pub same_request: bool,
}

/// Whether a stored request (a job's, a session's scenario) and a new one are the same: the
/// same text, or the same JSON, objects compared as maps whatever their keys' order (a
/// client may write nested objects' keys in another order when it retries) and numbers by
/// their value (one that writes `8` again as `8.0`).
pub(crate) fn same_request(stored: &str, new: &str) -> bool {
    use serde_json::Value;
    stored == new
        || matches!(
            (serde_json::from_str::<Value>(stored), serde_json::from_str::<Value>(new)),
            (Ok(a), Ok(b)) if same_json(&a, &b)
        )
}

/// JSON equality with numbers compared by value: two whole numbers exactly, a whole number
/// and a float only when the float is that very number (`2^60 + 1` is not the float `2^60`,
/// which a reader of whole numbers would take for another), two floats as floats.
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    let whole = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (whole(x), whole(y)) {
            (Some(i), Some(j)) => i == j,
            (Some(i), None) | (None, Some(i)) => {
                let f = if whole(x).is_some() { y } else { x }.as_f64();
                // Below 2^64 in magnitude, so that the cast is exact for whole floats.
                f.is_some_and(|f| f.fract() == 0.0 && f.abs() < 1.9e19 && f as i128 == i)
            }
            (None, None) => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// What [`JobStore::purge`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purged {
    Deleted,
    /// No such job for this tenant.
    NotFound,
    /// The job is queued or running: cancel it first.
    Unfinished(JobStatus),
}

/// Runs per page of a job's result (`GET /v1/jobs/{id}/result` reads and sends one page at a
/// time): about 1.2 MB of rows, where a whole result of 100,000 runs is ~80 MB of JSON.
pub const PAGE_ROWS: usize = 2048;

/// A page of a job's runs ([`JobStore::runs_from`]).
#[derive(Debug)]
pub struct RunPage {
    pub rows: Vec<RunRow>,
    /// The run index the next page starts from; `None` when this page is the last.
    pub next: Option<u64>,
}

impl RunPage {
    /// The page of stored runs `(idx, row as JSON)` read with `LIMIT limit`: a shorter one is
    /// the last. The next page starts after the stored index, not after the row's `run` (the
    /// same number, as both stores write it), so paging moves on whatever a row holds.
    fn parse(stored: Vec<(i64, String)>, limit: usize) -> Result<RunPage, StoreError> {
        let next = match stored.last() {
            Some((idx, _)) if stored.len() == limit => Some(*idx as u64 + 1),
            _ => None,
        };
        let rows = stored
            .iter()
            .map(|(_, t)| serde_json::from_str(t).map_err(json_error("stored run row")))
            .collect::<Result<_, _>>()?;
        Ok(RunPage { rows, next })
    }
}

/// A job's runs from run index `from` on (none for `None`), a page of [`PAGE_ROWS`] at a time.
pub fn run_pages<'a>(
    store: &'a (impl JobStore + ?Sized),
    id: &'a str,
    mut from: Option<u64>,
) -> impl Iterator<Item = Result<Vec<RunRow>, StoreError>> + 'a {
    std::iter::from_fn(move || {
        let page = store.runs_from(id, from.take()?, PAGE_ROWS);
        Some(page.map(|p| {
            from = p.next;
            p.rows
        }))
    })
}

/// The wall time of a job from its first start to its end (or to now while it runs).
fn with_elapsed(mut info: JobInfo) -> JobInfo {
    info.elapsed_ms = info
        .started_ms
        .map(|s| info.finished_ms.unwrap_or_else(now_ms) - s);
    info
}

fn json_error(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |source| StoreError::Json { what, source }
}

/// A plan change as streamed: its sequence number and JSON body.
#[derive(Debug, Clone)]
pub struct PlanChange {
    pub seq: i64,
    pub data: String,
}

/// One session of `GET /v1/sessions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionListed {
    pub id: String,
    /// The initial scenario's `name`, when it has one.
    pub name: Option<String>,
    /// When it was created (ms since the Unix epoch).
    pub created_ms: i64,
    /// The sequence number of its last applied batch (0 before the first).
    pub seq: i64,
}

/// A page size as SQL's `LIMIT` takes it (`usize::MAX`: every row).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// One row of a session's log as a rebuild reads it: sequence number, the events as applied
/// (JSON) and the batch's event ids (JSON).
pub type LogRow = (i64, String, String);

/// One accepted batch as the log keeps it (JSON texts).
pub struct LogEntry {
    pub seq: i64,
    /// The events as applied.
    pub applied: String,
    /// The batch's event ids.
    pub event_ids: String,
    /// The change set streamed for it.
    pub changes: String,
}

/// Who serves a session now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This process (always, on SQLite); on PostgreSQL, this replica holds the lease and held
    /// it already: no other replica held it since this replica last claimed or renewed it, so
    /// the log is as this replica left it.
    Here,
    /// This replica has just taken the lease, which was not its own: free (released, or never
    /// taken), expired and held by another replica, or held at this replica's address by its
    /// previous life. Another replica may have extended the log meanwhile, so whatever this
    /// process holds of the session in memory may be behind it: rebuild from the log before
    /// serving.
    Taken,
    /// Another live replica holds the lease: requests go to it at this address.
    Replica(String),
}

/// The durable side of live sessions: sessions, their event logs, and (across replicas) who
/// owns each one. On PostgreSQL a log row is written only under the writer's lease, and the
/// `(session, seq)` key refuses a second row with the same number, so two replicas can never
/// both extend a log.
pub trait SessionLog: Send + Sync {
    /// Store a new session (and, across replicas, take its lease).
    fn create(&self, id: &str, tenant: &str, scenario: &str) -> Result<(), StoreError>;
    /// [`SessionLog::create`] under an idempotency key, unique per tenant: nothing is stored
    /// when the tenant's session holding `key` exists (it is answered). A log without keys
    /// stores every session.
    fn create_keyed(
        &self,
        id: &str,
        tenant: &str,
        scenario: &str,
        _key: &str,
    ) -> Result<Option<Keyed>, StoreError> {
        self.create(id, tenant, scenario).map(|()| None)
    }
    /// The tenant's session created under idempotency key `key`, compared with `scenario`.
    fn keyed(
        &self,
        _tenant: &str,
        _key: &str,
        _scenario: &str,
    ) -> Result<Option<Keyed>, StoreError> {
        Ok(None)
    }
    /// Append one accepted batch; durable when this returns.
    fn append(&self, session: &str, entry: &LogEntry) -> Result<(), StoreError>;
    /// Plan changes after `seq`, at most `limit` of them, in order: a page for a stream client
    /// catching up.
    fn changes_after(
        &self,
        session: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<PlanChange>, StoreError>;
    /// A tenant's sessions, newest first, at most `limit`.
    fn list(&self, tenant: &str, limit: usize) -> Result<Vec<SessionListed>, StoreError>;
    /// The tenant and initial scenario (JSON) of a stored session.
    fn session(&self, id: &str) -> Result<Option<(String, String)>, StoreError>;
    /// The log's rows after `seq`, at most `limit` of them, in order: a page for a rebuild.
    fn rows_after(&self, id: &str, seq: i64, limit: usize) -> Result<Vec<LogRow>, StoreError>;
    /// The sequence numbers and event ids (JSON) of the log's rows with `after < seq <
    /// before`, newest first, at most `limit`: a page for [`SessionLog::landed`]. By default
    /// the rows after `after` are all read; the stores read the page by the key.
    fn ids_before(
        &self,
        id: &str,
        after: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut rows = Vec::new();
        let mut from = after;
        loop {
            let page = self.rows_after(id, from, 256)?;
            let Some(last) = page.last().map(|r| r.0) else {
                break;
            };
            rows.extend(
                page.into_iter()
                    .filter(|r| r.0 < before)
                    .map(|(seq, _, ids)| (seq, ids)),
            );
            from = last;
        }
        rows.reverse();
        rows.truncate(limit);
        Ok(rows)
    }
    /// The oldest logged batch after `after` that applied any of the event ids `ids` (each
    /// id's newest row: an id used again past the window of remembered ids is applied again),
    /// `None` when none did. A retried batch is answered with it, so a client resuming the
    /// stream from before it misses no change of the batches that applied its events, however
    /// those were split or merged (for a batch sent again as it was, a row names the ids its
    /// batch applied, not those it retried: that batch's number, or an older one, more
    /// changes, none missed). The rows are read newest first until every id is found.
    fn landed(&self, id: &str, ids: &[String], after: i64) -> Result<Option<i64>, StoreError> {
        let mut wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut oldest_found = None;
        let mut before = i64::MAX;
        while !wanted.is_empty() {
            let page = self.ids_before(id, after, before, 256)?;
            let Some(oldest) = page.last().map(|r| r.0) else {
                break;
            };
            for (seq, logged) in page {
                let logged: Vec<LoggedEventId> =
                    serde_json::from_str(&logged).map_err(json_error("session log row"))?;
                let before_row = wanted.len();
                wanted.retain(|w| !logged.iter().any(|l| l.id == *w));
                if wanted.len() < before_row {
                    oldest_found = Some(seq);
                }
                if wanted.is_empty() {
                    break;
                }
            }
            before = oldest;
        }
        Ok(oldest_found)
    }
    /// Remove a session and its log in one transaction; false if it did not exist.
    fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Who serves the session of `tenant`: take (or keep) its lease when it is free, expired
    /// or ours (`Taken` when it was not ours, `Here` when it was). `Here` also for a session
    /// this tenant does not have (the route answers 404).
    fn claim(&self, _id: &str, _tenant: &str) -> Result<Owner, StoreError> {
        Ok(Owner::Here)
    }
    /// Take a session's lease from the replica at `dead`, which cannot be connected to (no
    /// process listens at its address: it died); false when the lease has moved meanwhile.
    /// Safe even if that replica were alive: a log row is written only under a live lease,
    /// so the old holder's next write fails and it lets the session go.
    fn take_over(&self, _id: &str, _dead: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Take a session's lease from the replica at `addr` only while that lease is run out:
    /// the replica may be alive (frozen, slow). One statement, so a replica that renewed its
    /// lease meanwhile keeps it (false), and one whose append holds the row is waited for and
    /// then keeps it too. Once taken, the replica that wakes writes nothing more to the log:
    /// its appends and renewals name itself, and the row names the taker.
    fn take_over_lapsed(&self, _id: &str, _addr: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Extend the leases of the sessions this process serves; answers the ones it lost and
    /// the ones it could not renew this time.
    fn renew(&self, _ids: &[String]) -> Result<Renewal, StoreError> {
        Ok(Renewal::default())
    }
    /// How long a lease lasts without renewal; `None`: no leases (one process).
    fn lease(&self) -> Option<std::time::Duration> {
        None
    }
    /// Give a session's lease up (it was unloaded).
    fn release(&self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::same_request;

    /// A retry is the same request whatever the order of its objects' keys, nested ones too;
    /// another value anywhere is another request.
    #[test]
    fn requests_are_the_same_json_whatever_their_key_order() {
        let stored = r#"{"scenarios":[{"needs":[],"resources":[{"id":"r","kind":"k"}]}],"seed":1}"#;
        let reordered =
            r#"{"seed":1,"scenarios":[{"resources":[{"kind":"k","id":"r"}],"needs":[]}]}"#;
        assert!(same_request(stored, stored));
        assert!(same_request(stored, reordered));
        assert!(!same_request(
            stored,
            &stored.replace("\"seed\":1", "\"seed\":2")
        ));
        assert!(!same_request(
            stored,
            &stored.replace("[{\"needs\"", "[{\"x\":0,\"needs\"")
        ));
        // Arrays keep their order: another order is another request.
        assert!(!same_request(r#"{"p":["a","b"]}"#, r#"{"p":["b","a"]}"#));
    }

    /// Numbers are compared by value: a retry that writes `8` as `8.0` or `8e0` is the same
    /// request (it was refused as another); a whole number and the nearest float that is
    /// another whole number are not.
    #[test]
    fn numbers_are_the_same_by_value() {
        let with = |x: &str| format!(r#"{{"scenario":{{"capacity":{{"h":{x}}}}},"seed":9}}"#);
        for same in ["8.0", "8e0", "80e-1", "8"] {
            assert!(same_request(&with("8"), &with(same)), "{same}");
        }
        for other in ["8.5", "9", "-8", "\"8\"", "null"] {
            assert!(!same_request(&with("8"), &with(other)), "{other}");
        }
        assert!(same_request(&with("0.1"), &with("1e-1")));
        assert!(same_request(&with("-0"), &with("0.0")));
        // 2^60 + 1 and the float 2^60 (the nearest): not the same seed.
        assert!(!same_request(
            &with("1152921504606846977"),
            &with("1152921504606846976.0")
        ));
        assert!(same_request(
            &with("1152921504606846976"),
            &with("1.152921504606846976e18")
        ));
        assert!(!same_request(
            &with("18446744073709551615"),
            &with("1.8446744073709552e19")
        ));
    }
}
