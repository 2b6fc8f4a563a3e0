//! `JobStore`: the durable state of batch jobs, in SQLite (WAL, `synchronous = FULL`) under the
//! data directory, plus the result files next to it.
//!
//! Invariants: a job row is committed before its `202` is sent; every finished run is committed
//! on its own, with its start and finish times, so a crash loses at most the runs that were in
//! flight; a result file appears only complete (written to a temporary name, then renamed).
//! A job is `running` in the store only while a runner works on it: a graceful shutdown puts
//! it back to `queued`, so a job found `running` at start-up is one the server died under
//! (counted in `crashes`).

use commonsnet_engine::batch::RunRow;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

/// Job states. `queued` and `running` jobs are resumed after a restart.
pub const STATUSES: [&str; 5] = ["queued", "running", "done", "failed", "cancelled"];

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobInfo {
    pub id: String,
    /// queued, running, done, failed or cancelled.
    pub status: String,
    pub progress: Progress,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Wall time from the first start to the end (or to now while running).
    pub elapsed_ms: Option<i64>,
    /// Sum of the solver times of the runs done so far.
    pub solve_ms_total: f64,
    /// How many times the job was (re)started: above 1 after a restart of the server.
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
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A connection to the service's SQLite file: WAL, and a commit is durable when it returns.
pub fn open_db(data_dir: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(data_dir.join("commonsnet.sqlite"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

pub struct JobStore {
    conn: Mutex<Connection>,
    results_dir: PathBuf,
}

impl JobStore {
    /// Open (or create) the store under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<JobStore, rusqlite::Error> {
        let results_dir = data_dir.join("results");
        std::fs::create_dir_all(&results_dir).map_err(|e| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", results_dir.display()),
            )))
        })?;
        let conn = open_db(data_dir)?;
        conn.execute_batch(
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
                attempts INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, created_ms);
            CREATE TABLE IF NOT EXISTS runs (
                job TEXT NOT NULL,
                idx INTEGER NOT NULL,
                row TEXT NOT NULL,
                solve_ms REAL NOT NULL,
                PRIMARY KEY (job, idx)
            );",
        )?;
        // Columns added since the first release; a store made before them gets them here.
        for (table, column, decl) in [
            ("jobs", "crashes", "INTEGER NOT NULL DEFAULT 0"),
            ("jobs", "max_parallel_runs", "INTEGER"),
            ("runs", "started_us", "INTEGER"),
            ("runs", "finished_us", "INTEGER"),
        ] {
            let exists: bool = conn.query_row(
                &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
                params![column],
                |r| r.get(0),
            )?;
            if !exists {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
            }
        }
        Ok(JobStore {
            conn: Mutex::new(conn),
            results_dir,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (every write is a
        // transaction), so a poisoned lock is safe to take over.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store a new job, durably, as `queued`.
    pub fn insert_job(
        &self,
        id: &str,
        tenant: &str,
        spec: &str,
        total: i64,
    ) -> Result<(), rusqlite::Error> {
        self.conn().execute(
            "INSERT INTO jobs (id, tenant, spec, status, total, created_ms) VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
            params![id, tenant, spec, total, now_ms()],
        )?;
        Ok(())
    }

    /// The job as its tenant sees it; `None` for an unknown id or another tenant's job.
    pub fn job(&self, id: &str, tenant: Option<&str>) -> Result<Option<JobInfo>, rusqlite::Error> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT id, tenant, status, total, error, created_ms, started_ms, finished_ms, attempts,
                        (SELECT COUNT(*) FROM runs WHERE job = jobs.id),
                        (SELECT COALESCE(SUM(solve_ms), 0) FROM runs WHERE job = jobs.id),
                        max_parallel_runs
                 FROM jobs WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(1)?,
                        JobInfo {
                            id: r.get(0)?,
                            status: r.get(2)?,
                            progress: Progress {
                                done: r.get(9)?,
                                total: r.get(3)?,
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
                },
            )
            .optional()?;
        Ok(row.and_then(|(owner, mut info)| {
            if tenant.is_some_and(|t| t != owner) {
                return None;
            }
            info.elapsed_ms = info
                .started_ms
                .map(|s| info.finished_ms.unwrap_or_else(now_ms) - s);
            Some(info)
        }))
    }

    /// The tenant's jobs, newest first.
    pub fn list(&self, tenant: &str, limit: i64) -> Result<Vec<JobInfo>, rusqlite::Error> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut st = conn.prepare(
                "SELECT id FROM jobs WHERE tenant = ?1 ORDER BY created_ms DESC, id LIMIT ?2",
            )?;
            let ids = st
                .query_map(params![tenant, limit], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(j) = self.job(&id, Some(tenant))? {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// Spec and status of a job (for the runner).
    pub fn spec(&self, id: &str) -> Result<Option<(String, String)>, rusqlite::Error> {
        self.conn()
            .query_row(
                "SELECT spec, status FROM jobs WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// Jobs to resume after a restart, oldest first.
    pub fn unfinished(&self) -> Result<Vec<String>, rusqlite::Error> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_ms, id",
        )?;
        let ids = st.query_map([], |r| r.get(0))?.collect();
        ids
    }

    /// queued -> running (or running again after a restart). `None` if the job is no longer
    /// runnable (cancelled meanwhile); else how many times the server died while running it
    /// (a job still `running` at this point was left so by a server that did not stop cleanly).
    pub fn mark_running(&self, id: &str) -> Result<Option<i64>, rusqlite::Error> {
        self.conn()
            .query_row(
                "UPDATE jobs SET status = 'running', started_ms = COALESCE(started_ms, ?2),
                     attempts = attempts + 1, crashes = crashes + (status = 'running')
                 WHERE id = ?1 AND status IN ('queued', 'running')
                 RETURNING crashes",
                params![id, now_ms()],
                |r| r.get(0),
            )
            .optional()
    }

    /// running -> queued at a graceful shutdown: the job resumes at the next start.
    pub fn checkpoint(&self, id: &str) -> Result<(), rusqlite::Error> {
        self.conn().execute(
            "UPDATE jobs SET status = 'queued' WHERE id = ?1 AND status = 'running'",
            params![id],
        )?;
        Ok(())
    }

    /// Final state of a job that was running (a cancelled job stays cancelled), with the most
    /// runs that executed at once: a sweep over the runs' start (+1) and finish (-1) times,
    /// a finish before a start at the same time.
    pub fn finish(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), rusqlite::Error> {
        self.conn().execute(
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
             WHERE id = ?1 AND status IN ('queued', 'running')",
            params![id, status, error, now_ms()],
        )?;
        Ok(())
    }

    /// Cancel a queued or running job of this tenant. Returns the status after the call, or
    /// `None` for an unknown id.
    pub fn cancel(&self, id: &str, tenant: &str) -> Result<Option<String>, rusqlite::Error> {
        let conn = self.conn();
        conn.execute(
            "UPDATE jobs SET status = 'cancelled', finished_ms = ?3
             WHERE id = ?1 AND tenant = ?2 AND status IN ('queued', 'running')",
            params![id, tenant, now_ms()],
        )?;
        conn.query_row(
            "SELECT status FROM jobs WHERE id = ?1 AND tenant = ?2",
            params![id, tenant],
            |r| r.get(0),
        )
        .optional()
    }

    /// Indices of the runs already finished.
    pub fn done_runs(&self, id: &str) -> Result<Vec<u64>, rusqlite::Error> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT idx FROM runs WHERE job = ?1")?;
        let v = st
            .query_map(params![id], |r| r.get::<_, i64>(0).map(|i| i as u64))?
            .collect();
        v
    }

    /// Record one finished run, which executed from `started_us` to `finished_us`
    /// (microseconds since the Unix epoch); its own transaction: durable when this returns.
    pub fn insert_run(
        &self,
        id: &str,
        row: &RunRow,
        started_us: i64,
        finished_us: i64,
    ) -> Result<(), rusqlite::Error> {
        let text = serde_json::to_string(row)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.conn().execute(
            "INSERT OR IGNORE INTO runs (job, idx, row, solve_ms, started_us, finished_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                row.run as i64,
                text,
                row.solve_ms.unwrap_or(0.0),
                started_us,
                finished_us
            ],
        )?;
        Ok(())
    }

    /// Every finished run of a job, in run order.
    pub fn rows(&self, id: &str) -> Result<Vec<RunRow>, rusqlite::Error> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT row FROM runs WHERE job = ?1 ORDER BY idx")?;
        let rows = st
            .query_map(params![id], |r| r.get::<_, String>(0))?
            .map(|t| {
                t.and_then(|t| {
                    serde_json::from_str(&t).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })
                })
            })
            .collect();
        rows
    }

    /// Number of jobs in each status (for `/metrics`).
    pub fn counts(&self) -> Result<Vec<(String, i64)>, rusqlite::Error> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")?;
        let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect();
        v
    }

    /// Where a finished job's Parquet result lives.
    pub fn result_path(&self, id: &str) -> PathBuf {
        self.results_dir.join(format!("{id}.parquet"))
    }
}
