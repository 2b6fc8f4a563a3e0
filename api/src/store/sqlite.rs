//! `SqliteJobs`: the durable state of batch jobs, in SQLite (WAL, `synchronous = FULL`) under the
//! data directory, plus the result files next to it.
//!
//! Invariants: a job row is committed before its `202` is sent; every finished run is committed
//! on its own, with its start and finish times, so a crash loses at most the runs that were in
//! flight; a result file appears only complete (written to a temporary name, then renamed).
//! A job is `running` in the store only while a runner works on it: a graceful shutdown puts
//! it back to `queued`, so a job found `running` at start-up is one the server died under
//! (counted in `crashes`).

use super::{
    json_error, now_ms, with_elapsed, Inserted, JobInfo, JobStatus, JobStore, Keyed, LogEntry,
    LogRow, NewJob, PlanChange, Progress, Purged, RunPage, SessionListed, SessionLog, StoreError,
    StoreKind,
};
use commonsnet_engine::batch::RunRow;
use commonsnet_engine::Status;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rusqlite_migration::{HookResult, Migrations, M};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// The schema of the service's SQLite file, one migration per change (the version is SQLite's
/// `user_version`). Migration 1 is the schema of the stores written before migrations were
/// kept: `IF NOT EXISTS` throughout, so such a store (at version 0) opens unchanged.
static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up_with_hook(
            "CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            total INTEGER NOT NULL,
            error TEXT,
            created_ms INTEGER NOT NULL,
            started_ms INTEGER,
            finished_ms INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            crashes INTEGER NOT NULL DEFAULT 0,
            max_parallel_runs INTEGER
        );
        CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, created_ms);
        CREATE TABLE IF NOT EXISTS runs (
            job TEXT NOT NULL,
            idx INTEGER NOT NULL,
            row TEXT NOT NULL,
            solve_ms REAL NOT NULL,
            started_us INTEGER,
            finished_us INTEGER,
            PRIMARY KEY (job, idx)
        );
        CREATE TABLE IF NOT EXISTS sessions (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, scenario TEXT NOT NULL,
            created_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS session_log (
            session TEXT NOT NULL, seq INTEGER NOT NULL, applied TEXT NOT NULL,
            event_ids TEXT NOT NULL, changes TEXT NOT NULL, created_ms INTEGER NOT NULL,
            PRIMARY KEY (session, seq));",
            add_late_columns,
        ),
        // 2: a tenant's sessions, newest first (`GET /v1/sessions`).
        M::up("CREATE INDEX IF NOT EXISTS sessions_by_tenant ON sessions(tenant, created_ms);"),
        // 3: each job's runs done and solver time, kept on its row with its runs (`insert_run`),
        // so `GET /v1/jobs` reads the jobs alone; a tenant's jobs, newest first.
        M::up(
            "ALTER TABLE jobs ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE jobs ADD COLUMN solve_ms_total REAL NOT NULL DEFAULT 0;
             UPDATE jobs SET done = (SELECT COUNT(*) FROM runs WHERE job = jobs.id),
                 solve_ms_total = (SELECT COALESCE(SUM(solve_ms), 0) FROM runs WHERE job = jobs.id);
             CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs(tenant, created_ms);",
        ),
        // 4: the runs done when the job last started, so a start after a server died counts
        // as a crash only when no run finished since (`mark_running`). A stored job is taken
        // to have made none since (its death counts, as before).
        M::up(
            "ALTER TABLE jobs ADD COLUMN done_at_start INTEGER NOT NULL DEFAULT 0;
             UPDATE jobs SET done_at_start = done;",
        ),
        // 5: the `Idempotency-Key` a job was submitted with, unique per tenant; the count of
        // its runs whose row is an error, kept with its runs as `done` is.
        M::up(
            "ALTER TABLE jobs ADD COLUMN idem_key TEXT;
             CREATE UNIQUE INDEX jobs_by_key ON jobs(tenant, idem_key) WHERE idem_key IS NOT NULL;
             ALTER TABLE jobs ADD COLUMN errors INTEGER NOT NULL DEFAULT 0;
             UPDATE jobs SET errors = (SELECT COUNT(*) FROM runs
                 WHERE job = jobs.id AND json_extract(row, '$.status') = 'error');",
        ),
        // 6: the `Idempotency-Key` a session was created with, unique per tenant.
        M::up(
            "ALTER TABLE sessions ADD COLUMN idem_key TEXT;
             CREATE UNIQUE INDEX sessions_by_key ON sessions(tenant, idem_key)
                 WHERE idem_key IS NOT NULL;",
        ),
    ])
});

/// Stores from the first release have `jobs` and `runs` without the columns added later;
/// `CREATE TABLE IF NOT EXISTS` leaves them as they are, so the columns are added here.
/// Hand-written because SQLite has no `ADD COLUMN IF NOT EXISTS`.
fn add_late_columns(tx: &Transaction) -> HookResult {
    for (table, column, decl) in [
        ("jobs", "crashes", "INTEGER NOT NULL DEFAULT 0"),
        ("jobs", "max_parallel_runs", "INTEGER"),
        ("runs", "started_us", "INTEGER"),
        ("runs", "finished_us", "INTEGER"),
    ] {
        let exists: bool = tx.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            params![column],
            |r| r.get(0),
        )?;
        if !exists {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

/// A connection to the service's SQLite file, its schema migrated to the latest version: WAL,
/// and a commit is durable when it returns.
pub fn open_db(data_dir: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(data_dir.join("commonsnet.sqlite"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    MIGRATIONS.to_latest(&mut conn)?;
    Ok(conn)
}

/// A job's row as `JobInfo` reads it (`job_row`), its counters included.
const JOB_COLUMNS: &str = "id, tenant, status, total, error, created_ms, started_ms, finished_ms,
    attempts, done, solve_ms_total, max_parallel_runs, errors";

/// The owner and `JobInfo` of a row of `JOB_COLUMNS`.
fn job_row(r: &rusqlite::Row) -> rusqlite::Result<(String, JobInfo)> {
    Ok((
        r.get(1)?,
        JobInfo {
            id: r.get(0)?,
            status: r.get(2)?,
            progress: Progress {
                done: r.get(9)?,
                total: r.get(3)?,
                errors: r.get(12)?,
            },
            error: r.get(4)?,
            created_ms: r.get(5)?,
            started_ms: r.get(6)?,
            finished_ms: r.get(7)?,
            attempts: r.get(8)?,
            elapsed_ms: None,
            solve_ms_total: r.get(10)?,
            max_parallel_runs: r.get(11)?,
        },
    ))
}

pub struct SqliteJobs {
    conn: Mutex<Connection>,
    results_dir: PathBuf,
    /// The last probe of the data directory's room for writes (`probe_writes`): when, and
    /// what failed.
    probed: Mutex<Option<(std::time::Instant, Option<std::io::Error>)>>,
}

/// Remove what a server killed mid-write left in the results folder: a result table's
/// temporary file (`.{id}.parquet.{pid}.{n}.tmp`, renamed into place once whole) and the
/// health check's probe. Called at start-up, under the data folder's lock, so no writer of
/// them is alive; a file that cannot be removed is left, logged.
fn sweep_leftovers(results_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(results_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let leftover = name == PROBE_NAME || (name.starts_with('.') && name.ends_with(".tmp"));
        if leftover && entry.file_type().is_ok_and(|t| t.is_file()) {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove a leftover file");
            }
        }
    }
}

/// The health check's probe file, in the results folder.
const PROBE_NAME: &str = ".write-probe";

/// Bytes the health check writes (and removes) to see that the data directory takes writes:
/// a disk with less room left than this cannot store much of a session's log or a job's runs.
const PROBE_BYTES: usize = 64 << 10;

/// How long a probe's answer stands: `/healthz` needs no token, and each probe syncs a file.
const PROBE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

impl SqliteJobs {
    /// Open (or create) the store under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteJobs, StoreError> {
        let results_dir = data_dir.join("results");
        std::fs::create_dir_all(&results_dir).map_err(|source| StoreError::Io {
            path: results_dir.clone(),
            source,
        })?;
        sweep_leftovers(&results_dir);
        let conn = open_db(data_dir)?;
        Ok(SqliteJobs {
            conn: Mutex::new(conn),
            results_dir,
            probed: Mutex::new(None),
        })
    }

    /// Whether the data directory takes a write of [`PROBE_BYTES`] now (written, synced and
    /// removed): SQLite's own check reads, and a full disk or a file system remounted
    /// read-only fails writes only. At most one probe per [`PROBE_FOR`].
    fn probe_writes(&self) -> Result<(), StoreError> {
        let mut probed = self.probed.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = probed
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < PROBE_FOR);
        if !fresh {
            let path = self.results_dir.join(PROBE_NAME);
            let wrote = std::fs::File::create(&path).and_then(|mut f| {
                std::io::Write::write_all(&mut f, &[0u8; PROBE_BYTES])?;
                f.sync_all()
            });
            let _ = std::fs::remove_file(&path);
            *probed = Some((std::time::Instant::now(), wrote.err()));
        }
        match probed.as_ref().and_then(|(_, e)| e.as_ref()) {
            None => Ok(()),
            Some(e) => Err(StoreError::Io {
                path: self.results_dir.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            }),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (every write is a
        // transaction), so a poisoned lock is safe to take over.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spec and status of a job (for the runner).
    pub fn spec(&self, id: &str) -> Result<Option<(String, JobStatus)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT spec, status FROM jobs WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Jobs to resume after a restart, oldest first: `(id, tenant)`.
    pub fn unfinished(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id, tenant FROM jobs WHERE status IN (?1, ?2) ORDER BY created_ms, id",
        )?;
        let ids = st
            .query_map(params![JobStatus::Queued, JobStatus::Running], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// queued -> running (or running again after a restart). `None` if the job is no longer
    /// runnable (cancelled meanwhile); else how many times in a row the server died while
    /// running it without finishing a run (a job still `running` at this point was left so by
    /// a server that did not stop cleanly). A death after progress starts the count again:
    /// a long job outlasts restarts that kill it mid-run (a container's 10 s stop), and a job
    /// that kills the server on every start still fails, as its runs run out.
    ///
    /// `after_fault`: this process set the job aside when the store could not be written, so
    /// a job still `running` (the store took no checkpoint either) is no crash.
    pub fn mark_running(&self, id: &str, after_fault: bool) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "UPDATE jobs SET status = ?4, started_ms = COALESCE(started_ms, ?2),
                     attempts = attempts + 1,
                     crashes = CASE WHEN done > done_at_start THEN 0
                                    WHEN status <> ?4 OR ?5 THEN crashes
                                    ELSE crashes + 1 END,
                     done_at_start = done
                 WHERE id = ?1 AND status IN (?3, ?4)
                 RETURNING crashes",
                params![
                    id,
                    now_ms(),
                    JobStatus::Queued,
                    JobStatus::Running,
                    after_fault
                ],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// running -> queued at a graceful shutdown: the job resumes at the next start.
    pub fn checkpoint(&self, id: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE jobs SET status = ?2 WHERE id = ?1 AND status = ?3",
            params![id, JobStatus::Queued, JobStatus::Running],
        )?;
        Ok(())
    }

    /// Final state of a job that was running (a cancelled job stays cancelled), with the most
    /// runs that executed at once: a sweep over the runs' start (+1) and finish (-1) times,
    /// a finish before a start at the same time. False when the job was no longer running
    /// (cancelled, or purged after a cancel).
    pub fn finish(
        &self,
        id: &str,
        status: JobStatus,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE jobs SET status = ?2, error = ?3, finished_ms = ?4,
                 max_parallel_runs = (
                     SELECT MAX(open) FROM (
                         SELECT SUM(step) OVER (ORDER BY at, step ROWS UNBOUNDED PRECEDING) AS open
                         FROM (
                             SELECT started_us AS at, 1 AS step FROM runs
                                 WHERE job = ?1 AND started_us IS NOT NULL AND finished_us IS NOT NULL
                             UNION ALL
                             SELECT finished_us, -1 FROM runs
                                 WHERE job = ?1 AND started_us IS NOT NULL AND finished_us IS NOT NULL)))
             WHERE id = ?1 AND status IN (?5, ?6)",
            params![id, status, error, now_ms(), JobStatus::Queued, JobStatus::Running],
        )?;
        Ok(n == 1)
    }

    /// Indices of the runs already finished.
    pub fn done_runs(&self, id: &str) -> Result<Vec<u64>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT idx FROM runs WHERE job = ?1")?;
        let v = st
            .query_map(params![id], |r| r.get::<_, i64>(0).map(|i| i as u64))?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }

    /// Record one finished run, which executed from `started_us` to `finished_us`
    /// (microseconds since the Unix epoch); its own transaction: durable when this returns.
    pub fn insert_run(
        &self,
        id: &str,
        row: &RunRow,
        started_us: i64,
        finished_us: i64,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(row).map_err(json_error("run row"))?;
        let solve_ms = row.solve_ms.unwrap_or(0.0);
        let mut conn = self.conn();
        let tx = write_transaction(&mut conn)?;
        // Only while the job runs, in the same transaction (as on PostgreSQL): a run that
        // ends after a cancel is not stored, so a cancelled job's rows never change after
        // it shows as cancelled (its result is served).
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO runs (job, idx, row, solve_ms, started_us, finished_us)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6
             WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND status IN (?7, ?8))",
            params![
                id,
                row.run as i64,
                text,
                solve_ms,
                started_us,
                finished_us,
                JobStatus::Queued,
                JobStatus::Running
            ],
        )?;
        if inserted == 1 {
            // The job's counters, kept with its runs (`GET /v1/jobs` reads them alone).
            tx.execute(
                "UPDATE jobs SET done = done + 1, solve_ms_total = solve_ms_total + ?2,
                     errors = errors + ?3
                 WHERE id = ?1",
                params![id, solve_ms, row.status == Status::Error],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Where a finished job's Parquet result lives.
    pub fn result_path(&self, id: &str) -> PathBuf {
        self.results_dir.join(format!("{id}.parquet"))
    }
}

/// Which table [`keyed`] looks in: the jobs (their requests) or the sessions (their initial
/// scenarios).
#[derive(Clone, Copy)]
enum KeyedIn {
    Jobs,
    Sessions,
}

/// The tenant's job or session holding idempotency key `key`, compared with the request
/// (`spec`: a job's request, a session's scenario).
fn keyed(
    conn: &Connection,
    table: KeyedIn,
    tenant: &str,
    key: &str,
    spec: &str,
) -> Result<Option<Keyed>, StoreError> {
    let sql = match table {
        KeyedIn::Jobs => "SELECT id, spec FROM jobs WHERE tenant = ?1 AND idem_key = ?2",
        KeyedIn::Sessions => {
            "SELECT id, scenario FROM sessions WHERE tenant = ?1 AND idem_key = ?2"
        }
    };
    Ok(conn
        .query_row(sql, params![tenant, key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
        .map(|(id, stored)| Keyed {
            id,
            same_request: super::same_request(&stored, spec),
        }))
}

impl JobStore for SqliteJobs {
    /// Store a new job, durably, as `queued`: the key's look-up and the insert in one
    /// transaction under the connection's lock, so two submissions with one key store one job.
    fn insert_job(&self, job: &NewJob) -> Result<Inserted, StoreError> {
        let mut conn = self.conn();
        let tx = write_transaction(&mut conn)?;
        if let Some(key) = job.key {
            if let Some(held) = keyed(&tx, KeyedIn::Jobs, job.tenant, key, job.spec)? {
                return Ok(Inserted::Keyed(held));
            }
        }
        if let Some(max) = job.tenant_queued_max {
            // Jobs that have not started: one that gave its turn up or was checkpointed at a
            // shutdown is `queued` again but has its share of the runner already.
            let queued: i64 = tx.query_row(
                "SELECT COUNT(*) FROM jobs
                 WHERE status = ?1 AND tenant = ?2 AND started_ms IS NULL",
                params![JobStatus::Queued, job.tenant],
                |r| r.get(0),
            )?;
            if queued >= max {
                return Ok(Inserted::TenantShareFull);
            }
        }
        tx.execute(
            "INSERT INTO jobs (id, tenant, spec, status, total, created_ms, idem_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                job.id,
                job.tenant,
                job.spec,
                JobStatus::Queued,
                job.total,
                now_ms(),
                job.key
            ],
        )?;
        tx.commit()?;
        Ok(Inserted::Stored)
    }

    fn keyed_job(&self, tenant: &str, key: &str, spec: &str) -> Result<Option<Keyed>, StoreError> {
        keyed(&self.conn(), KeyedIn::Jobs, tenant, key, spec)
    }

    /// Delete a finished job, its runs and its result file. The rows go in one transaction;
    /// the file after it (a file left by a failed removal is logged: no row points to it).
    fn purge(&self, id: &str, tenant: &str) -> Result<Purged, StoreError> {
        {
            let mut conn = self.conn();
            let tx = write_transaction(&mut conn)?;
            let status: Option<JobStatus> = tx
                .query_row(
                    "SELECT status FROM jobs WHERE id = ?1 AND tenant = ?2",
                    params![id, tenant],
                    |r| r.get(0),
                )
                .optional()?;
            match status {
                None => return Ok(Purged::NotFound),
                Some(s) if s.is_unfinished() => return Ok(Purged::Unfinished(s)),
                Some(_) => {}
            }
            tx.execute("DELETE FROM runs WHERE job = ?1", params![id])?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![id])?;
            tx.commit()?;
        }
        let file = self.result_path(id);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(job = id, file = %file.display(), error = %e,
                    "a purged job's result file was not removed");
            }
            _ => {}
        }
        Ok(Purged::Deleted)
    }

    fn request(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.spec(id)?.map(|(spec, _)| spec))
    }

    /// The job as its tenant sees it; `None` for an unknown id or another tenant's job.
    fn job(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobInfo>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                params![id],
                job_row,
            )
            .optional()?;
        Ok(row.and_then(|(owner, info)| {
            if tenant.is_some_and(|t| t != owner) {
                return None;
            }
            Some(with_elapsed(info))
        }))
    }

    /// The tenant's jobs, newest first: one query on `jobs` (their counters are on their
    /// rows).
    fn list(&self, tenant: &str, limit: i64) -> Result<Vec<JobInfo>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 ORDER BY created_ms DESC, id LIMIT ?2"
        ))?;
        let jobs = st
            .query_map(params![tenant, limit], job_row)?
            .map(|r| r.map(|(_, info)| with_elapsed(info)))
            .collect::<Result<_, _>>()?;
        Ok(jobs)
    }

    /// Cancel a queued or running job of this tenant. Returns the status after the call, or
    /// `None` for an unknown id.
    fn cancel(&self, id: &str, tenant: &str) -> Result<Option<JobStatus>, StoreError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE jobs SET status = ?4, finished_ms = ?3
             WHERE id = ?1 AND tenant = ?2 AND status IN (?5, ?6)",
            params![
                id,
                tenant,
                now_ms(),
                JobStatus::Cancelled,
                JobStatus::Queued,
                JobStatus::Running
            ],
        )?;
        Ok(conn
            .query_row(
                "SELECT status FROM jobs WHERE id = ?1 AND tenant = ?2",
                params![id, tenant],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn runs_from(&self, id: &str, from: u64, limit: usize) -> Result<RunPage, StoreError> {
        let stored = {
            let conn = self.conn();
            let mut st = conn.prepare(
                "SELECT idx, row FROM runs WHERE job = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
            )?;
            let stored = st
                .query_map(params![id, from as i64, super::sql_limit(limit)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            stored
        };
        RunPage::parse(stored, limit)
    }

    /// Number of jobs in each status (for `/metrics`).
    fn counts(&self) -> Result<Vec<(JobStatus, i64)>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")?;
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn check(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        self.probe_writes()
    }

    fn queued_count(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM jobs WHERE status = ?1",
            params![JobStatus::Queued],
            |r| r.get(0),
        )?)
    }

    fn result_file(&self, id: &str) -> Option<PathBuf> {
        Some(self.result_path(id))
    }
}

/// Sessions and their event logs, in the same SQLite file as the jobs.
pub struct SqliteSessions {
    conn: Mutex<Connection>,
}

impl SqliteSessions {
    /// Open the log; its tables are part of the store's schema ([`open_db`]).
    pub fn open(data_dir: &Path) -> Result<SqliteSessions, StoreError> {
        Ok(SqliteSessions {
            conn: Mutex::new(open_db(data_dir)?),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionLog for SqliteSessions {
    fn create(&self, id: &str, tenant: &str, scenario: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sessions (id, tenant, scenario, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![id, tenant, scenario, now_ms()],
        )?;
        Ok(())
    }

    /// The key's look-up and the insert in one transaction under the connection's lock.
    fn create_keyed(
        &self,
        id: &str,
        tenant: &str,
        scenario: &str,
        key: &str,
    ) -> Result<Option<Keyed>, StoreError> {
        let mut conn = self.conn();
        let tx = write_transaction(&mut conn)?;
        if let Some(held) = keyed(&tx, KeyedIn::Sessions, tenant, key, scenario)? {
            return Ok(Some(held));
        }
        tx.execute(
            "INSERT INTO sessions (id, tenant, scenario, created_ms, idem_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, tenant, scenario, now_ms(), key],
        )?;
        tx.commit()?;
        Ok(None)
    }

    fn keyed(&self, tenant: &str, key: &str, scenario: &str) -> Result<Option<Keyed>, StoreError> {
        keyed(&self.conn(), KeyedIn::Sessions, tenant, key, scenario)
    }

    fn append(&self, session: &str, e: &LogEntry) -> Result<(), StoreError> {
        // Only while the session exists: a log row of no session would outlive every delete.
        let n = self.conn().execute(
            "INSERT INTO session_log (session, seq, applied, event_ids, changes, created_ms)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
            params![session, e.seq, e.applied, e.event_ids, e.changes, now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::SessionGone(session.to_string()));
        }
        Ok(())
    }

    fn changes_after(
        &self,
        session: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<PlanChange>, StoreError> {
        let limit = super::sql_limit(limit);
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, changes FROM session_log WHERE session = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let v = st
            .query_map(params![session, seq, limit], |r| {
                Ok(PlanChange {
                    seq: r.get(0)?,
                    data: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }

    fn list(&self, tenant: &str, limit: usize) -> Result<Vec<SessionListed>, StoreError> {
        let conn = self.conn();
        // The newest ids first (through the `sessions_by_tenant` index), then the name and
        // last sequence number of those only: the stored scenarios can be large.
        let mut st = conn.prepare(
            "SELECT s.id, json_extract(s.scenario, '$.name'), s.created_ms,
                    (SELECT COALESCE(MAX(l.seq), 0) FROM session_log l WHERE l.session = s.id)
             FROM sessions s
             JOIN (SELECT id FROM sessions WHERE tenant = ?1
                   ORDER BY created_ms DESC, id LIMIT ?2) newest ON newest.id = s.id
             ORDER BY s.created_ms DESC, s.id",
        )?;
        let limit = super::sql_limit(limit);
        let v = st
            .query_map(params![tenant, limit], |r| {
                Ok(SessionListed {
                    id: r.get(0)?,
                    name: r.get::<_, Option<String>>(1).ok().flatten(),
                    created_ms: r.get(2)?,
                    seq: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }

    fn session(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT tenant, scenario FROM sessions WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn rows_after(&self, id: &str, seq: i64, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        let limit = super::sql_limit(limit);
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, applied, event_ids FROM session_log WHERE session = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let v = st
            .query_map(params![id, seq, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }

    fn ids_before(
        &self,
        id: &str,
        after: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let limit = super::sql_limit(limit);
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, event_ids FROM session_log WHERE session = ?1 AND seq > ?2 AND seq < ?3
             ORDER BY seq DESC LIMIT ?4",
        )?;
        let v = st
            .query_map(params![id, after, before, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(v)
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = write_transaction(&mut conn)?;
        tx.execute("DELETE FROM session_log WHERE session = ?1", params![id])?;
        let n = tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(n > 0)
    }
}

/// A transaction that writes, begun as a writer (`BEGIN IMMEDIATE`): one begun as a reader
/// (rusqlite's default, deferred) that reads first and then writes fails at once with
/// `SQLITE_BUSY` when another connection wrote since its read began, and `busy_timeout` does
/// not wait for that case. A review's keyed creates, beside another connection's writes, got
/// 503 `store_unavailable` ("database is locked") 24 times in 3,282.
fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Inserted, JobStore, NewJob};

    /// The tables as the service wrote them before migrations were kept (its own
    /// `CREATE TABLE IF NOT EXISTS` at every start, `user_version` 0).
    const UNVERSIONED_SCHEMA: &str = "
        CREATE TABLE jobs (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, spec TEXT NOT NULL,
            status TEXT NOT NULL, total INTEGER NOT NULL, error TEXT, created_ms INTEGER NOT NULL,
            started_ms INTEGER, finished_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
            crashes INTEGER NOT NULL DEFAULT 0, max_parallel_runs INTEGER);
        CREATE INDEX jobs_by_status ON jobs(status, created_ms);
        CREATE TABLE runs (job TEXT NOT NULL, idx INTEGER NOT NULL, row TEXT NOT NULL,
            solve_ms REAL NOT NULL, started_us INTEGER, finished_us INTEGER,
            PRIMARY KEY (job, idx));
        CREATE TABLE sessions (id TEXT PRIMARY KEY, tenant TEXT NOT NULL,
            scenario TEXT NOT NULL, created_ms INTEGER NOT NULL);
        CREATE TABLE session_log (session TEXT NOT NULL, seq INTEGER NOT NULL,
            applied TEXT NOT NULL, event_ids TEXT NOT NULL, changes TEXT NOT NULL,
            created_ms INTEGER NOT NULL, PRIMARY KEY (session, seq));";

    /// The first release's `jobs` and `runs`, before the columns added later.
    const FIRST_RELEASE_SCHEMA: &str = "
        CREATE TABLE jobs (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, spec TEXT NOT NULL,
            status TEXT NOT NULL, total INTEGER NOT NULL, error TEXT, created_ms INTEGER NOT NULL,
            started_ms INTEGER, finished_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX jobs_by_status ON jobs(status, created_ms);
        CREATE TABLE runs (job TEXT NOT NULL, idx INTEGER NOT NULL, row TEXT NOT NULL,
            solve_ms REAL NOT NULL, PRIMARY KEY (job, idx));";

    fn old_store(schema: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("commonsnet.sqlite")).unwrap();
        conn.execute_batch(schema).unwrap();
        conn.execute(
            "INSERT INTO jobs (id, tenant, spec, status, total, created_ms)
             VALUES ('j1', 't', '{}', 'running', 3, 1)",
            [],
        )
        .unwrap();
        dir
    }

    fn user_version(dir: &Path) -> i64 {
        Connection::open(dir.join("commonsnet.sqlite"))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    /// Every finished run of job `id`, in run order.
    fn all_rows(store: &SqliteJobs, id: &str) -> Vec<commonsnet_engine::batch::RunRow> {
        crate::store::run_pages(store, id, Some(0))
            .flat_map(Result::unwrap)
            .collect()
    }

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn a_store_written_before_migrations_opens_with_its_jobs() {
        let dir = old_store(UNVERSIONED_SCHEMA);
        Connection::open(dir.path().join("commonsnet.sqlite"))
            .unwrap()
            .execute(
                "INSERT INTO runs (job, idx, row, solve_ms) VALUES ('j1', 0, '{}', 2.5),
                     ('j1', 1, '{\"status\": \"error\"}', 0.5)",
                [],
            )
            .unwrap();
        let store = SqliteJobs::open(dir.path()).unwrap();
        // Migrated to the latest schema: 6 (3: the jobs' counters, filled from their runs;
        // 5: their error runs too).
        assert_eq!(user_version(dir.path()), 6);
        let job = store.job("j1", Some("t")).unwrap().unwrap();
        assert_eq!(
            (job.progress.done, job.progress.errors, job.solve_ms_total),
            (2, 1, 3.0)
        );
        assert_eq!(
            store.unfinished().unwrap(),
            [("j1".to_string(), "t".to_string())]
        );
        assert_eq!(
            store.mark_running("j1", false).unwrap(),
            Some(1),
            "it died running"
        );
        let job = store.job("j1", Some("t")).unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Running);
        // Opening again (a restart) is a no-op.
        drop(store);
        SqliteJobs::open(dir.path()).unwrap();
        assert_eq!(user_version(dir.path()), 6);
    }

    #[test]
    fn a_first_release_store_gets_the_later_columns() {
        let dir = old_store(FIRST_RELEASE_SCHEMA);
        let store = SqliteJobs::open(dir.path()).unwrap();
        store.finish("j1", JobStatus::Failed, Some("x")).unwrap();
        let job = store.job("j1", None).unwrap().unwrap();
        assert_eq!(
            (job.status, job.max_parallel_runs),
            (JobStatus::Failed, None)
        );
    }

    /// A tenant's share of the queue counts its jobs that have not started: one put back as
    /// `queued` after its turn or at a shutdown (`checkpoint`) has had its start.
    #[test]
    fn a_job_put_back_takes_no_place_in_its_tenants_share() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobs::open(dir.path()).unwrap();
        let job = |id| NewJob {
            tenant_queued_max: Some(1),
            ..NewJob::new(id, "t", "{}", 1)
        };
        assert_eq!(store.insert_job(&job("a")).unwrap(), Inserted::Stored);
        assert_eq!(
            store.insert_job(&job("b")).unwrap(),
            Inserted::TenantShareFull
        );
        store.mark_running("a", false).unwrap();
        store.checkpoint("a").unwrap();
        assert_eq!(store.spec("a").unwrap().unwrap().1, JobStatus::Queued);
        assert_eq!(store.insert_job(&job("b")).unwrap(), Inserted::Stored);
        assert_eq!(
            store.insert_job(&job("c")).unwrap(),
            Inserted::TenantShareFull
        );
    }

    #[test]
    fn job_status_round_trips_through_sqlite_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobs::open(dir.path()).unwrap();
        store.insert_job(&NewJob::new("j", "t", "{}", 1)).unwrap();
        assert_eq!(store.spec("j").unwrap().unwrap().1, JobStatus::Queued);
        assert_eq!(store.cancel("j", "t").unwrap(), Some(JobStatus::Cancelled));
        assert_eq!(store.counts().unwrap(), [(JobStatus::Cancelled, 1)]);
        for &s in JobStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        store
            .conn()
            .execute("UPDATE jobs SET status = 'paused'", [])
            .unwrap();
        assert!(matches!(
            store.spec("j"),
            Err(StoreError::Sqlite(
                rusqlite::Error::FromSqlConversionFailure(..)
            ))
        ));
    }

    /// A keyed create (it reads the key, then writes) beside another connection's writes
    /// waits for the lock instead of failing: begun as a reader, its write failed at once
    /// with "database is locked" whenever the other had written since its read began (a
    /// review's keyed creates got 503 so, 24 in 3,282).
    #[test]
    fn keyed_creates_wait_for_another_connections_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (
            SqliteSessions::open(dir.path()).unwrap(),
            SqliteSessions::open(dir.path()).unwrap(),
        );
        theirs.create("busy", "t", "{}").unwrap();
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        let (done, written) = (AtomicBool::new(false), AtomicI64::new(0));
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let entry = LogEntry {
                        seq: written.load(Ordering::SeqCst) + 1,
                        applied: "[]".into(),
                        event_ids: "[]".into(),
                        changes: "{}".into(),
                    };
                    theirs.append("busy", &entry).unwrap();
                    written.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
            });
            // At least 400 creates, and on until the other has written 50 times between them
            // (or a minute has passed). Each side pauses after each write: SQLite's lock is
            // not fair, and without pauses one side took it back nearly every time (on a
            // loaded machine the creates ran 20,000 times while the other wrote under 50
            // times; on an idle one the other wrote 167,708 times while 400 creates ran).
            let mut failed = Vec::new();
            let mut k = 0;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while k < 400
                || (written.load(Ordering::SeqCst) < 50 && std::time::Instant::now() < deadline)
            {
                let key = format!("key-{k}");
                match ours.create_keyed(&format!("s{k}"), "t", "{}", &key) {
                    Ok(None) => {}
                    other => failed.push(format!("create {k}: {other:?}")),
                }
                k += 1;
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            // The writer stops before any assertion, so a failure cannot hang the scope.
            done.store(true, Ordering::SeqCst);
            writer.join().unwrap();
            assert!(
                written.load(Ordering::SeqCst) >= 50,
                "the other wrote meanwhile"
            );
            assert_eq!(failed, Vec::<String>::new());
        });
    }

    /// A log row is written only while its session exists.
    #[test]
    fn the_log_of_a_deleted_session_takes_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteSessions::open(dir.path()).unwrap();
        let entry = |seq| LogEntry {
            seq,
            applied: "[]".into(),
            event_ids: "[]".into(),
            changes: "{}".into(),
        };
        log.create("s1", "t", "{}").unwrap();
        log.append("s1", &entry(1)).unwrap();
        assert_eq!(log.rows_after("s1", 0, usize::MAX).unwrap().len(), 1);
        assert!(log.delete("s1").unwrap());
        let e = log.append("s1", &entry(2)).unwrap_err();
        assert!(
            matches!(e, StoreError::SessionGone(ref id) if id == "s1"),
            "{e}"
        );
        assert!(e.is_unavailable());
        assert!(log.rows_after("s1", 0, usize::MAX).unwrap().is_empty());
        assert!(matches!(
            log.append("never", &entry(1)),
            Err(StoreError::SessionGone(_))
        ));
    }

    /// A feasible greedy run `run` of scenario `s`.
    fn run_row(run: u64) -> RunRow {
        serde_json::from_value(serde_json::json!({"run": run, "scenario": "s",
            "policy": "greedy", "replicate": run, "seed": 1, "status": "feasible"}))
        .unwrap()
    }

    /// A run that ends after its job was cancelled is not stored: a cancelled job's rows
    /// (which its result serves) do not change after it shows as cancelled.
    #[test]
    fn no_run_is_stored_after_a_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobs::open(dir.path()).unwrap();
        let row = run_row;
        store.insert_job(&NewJob::new("j", "t", "{}", 3)).unwrap();
        store.insert_run("j", &row(0), 0, 1).unwrap();
        assert_eq!(store.cancel("j", "t").unwrap(), Some(JobStatus::Cancelled));
        store.insert_run("j", &row(1), 0, 1).unwrap();
        assert_eq!(all_rows(&store, "j"), vec![row(0)]);
        assert_eq!(store.job("j", Some("t")).unwrap().unwrap().progress.done, 1);
    }

    /// A job's runs read by key, a page at a time: its runs in order (stored in any order,
    /// beside another job's), and a page that fills its limit is followed by another (empty
    /// when the runs fill whole pages).
    #[test]
    fn runs_are_read_a_page_at_a_time_in_run_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteJobs::open(dir.path()).unwrap();
        let row = run_row;
        for (job, runs) in [("j", &[3, 0, 4, 1, 2][..]), ("k", &[0, 1, 2, 3, 4, 5])] {
            store
                .insert_job(&NewJob::new(job, "t", "{}", runs.len() as i64))
                .unwrap();
            for &run in runs {
                store.insert_run(job, &row(run), 0, 1).unwrap();
            }
        }
        let page = |from, limit| {
            let p = store.runs_from("j", from, limit).unwrap();
            (p.rows.iter().map(|r| r.run).collect::<Vec<_>>(), p.next)
        };
        assert_eq!(page(0, 2), (vec![0, 1], Some(2)));
        assert_eq!(page(2, 2), (vec![2, 3], Some(4)));
        assert_eq!(page(4, 2), (vec![4], None));
        assert_eq!(page(0, 5), (vec![0, 1, 2, 3, 4], Some(5)));
        assert_eq!(page(5, 5), (vec![], None));
        let rows = all_rows(&store, "j");
        assert_eq!(rows, (0..5).map(row).collect::<Vec<_>>());
    }

    #[test]
    fn an_unwritable_results_dir_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results"), b"a file").unwrap();
        let e = SqliteJobs::open(dir.path()).err().unwrap();
        assert!(matches!(e, StoreError::Io { .. }), "{e:?}");
    }
}
