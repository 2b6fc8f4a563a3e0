//! Live sessions over HTTP: `SessionHub` owns one actor thread per session, which holds the
//! engine's [`Session`], applies event batches, re-plans, appends the durable log and publishes
//! plan changes to Server-Sent-Events subscribers.
//!
//! Bursts are coalesced: the actor takes every request waiting in its mailbox, stages each
//! one's events (each all or nothing), re-plans once, commits one log row per accepted request
//! and only then answers them. The log row holds the events as applied (a dispatch with the
//! share it committed), the event ids and the change set, so a restart replays the log without
//! re-planning, and a stream client that reconnects with `Last-Event-ID` is served from it.

use crate::error::{ApiError, InternalError, UserError};
use crate::store::now_ms;
use commonsnet_engine::session::{Applied, BatchOutcome, Event, Session};
use commonsnet_engine::{Report, Scenario};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, oneshot};

/// A plan change as streamed: its sequence number and JSON body.
#[derive(Debug, Clone)]
pub struct PlanChange {
    pub seq: i64,
    pub data: String,
}

type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

enum Msg {
    Events {
        events: Vec<Event>,
        event_ids: Vec<String>,
        reply: Reply<Value>,
    },
    Read(Box<dyn FnOnce(&Session) + Send>),
}

pub struct SessionHandle {
    pub tenant: String,
    tx: Mutex<mpsc::Sender<Msg>>,
    pub changes: broadcast::Sender<PlanChange>,
}

/// The durable side: sessions and their event log, in the service's SQLite file.
pub struct SessionLog {
    conn: Mutex<Connection>,
}

impl SessionLog {
    pub fn open(data_dir: &Path) -> Result<SessionLog, rusqlite::Error> {
        let conn = crate::store::open_db(data_dir)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY, tenant TEXT NOT NULL, scenario TEXT NOT NULL,
                created_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS session_log (
                session TEXT NOT NULL, seq INTEGER NOT NULL, applied TEXT NOT NULL,
                event_ids TEXT NOT NULL, changes TEXT NOT NULL, created_ms INTEGER NOT NULL,
                PRIMARY KEY (session, seq));",
        )?;
        Ok(SessionLog {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(
        &self,
        session: &str,
        seq: i64,
        applied: &[Applied],
        ids: &[String],
        changes: &str,
    ) -> Result<(), rusqlite::Error> {
        let applied = serde_json::to_string(applied).unwrap_or_else(|_| "[]".into());
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO session_log (session, seq, applied, event_ids, changes, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![session, seq, applied, ids, changes, now_ms()],
        )?;
        Ok(())
    }

    /// Plan changes after `seq`, for stream clients catching up.
    pub fn changes_after(
        &self,
        session: &str,
        seq: i64,
    ) -> Result<Vec<PlanChange>, rusqlite::Error> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT seq, changes FROM session_log WHERE session = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let v = st
            .query_map(params![session, seq], |r| {
                Ok(PlanChange {
                    seq: r.get(0)?,
                    data: r.get(1)?,
                })
            })?
            .collect();
        v
    }
}

pub struct SessionHub {
    log: Arc<SessionLog>,
    sessions: Mutex<HashMap<String, Arc<SessionHandle>>>,
}

/// The JSON a plan change carries on the stream and in the events answer.
fn change_json(seq: i64, out: &BatchOutcome) -> Value {
    json!({"seq": seq, "changed": out.changed, "dispatched": out.dispatched,
        "applied": out.applied, "duplicates": out.duplicates,
        "replanned_needs": out.replanned_needs})
}

impl SessionHub {
    /// Open the log and rebuild every session by replaying it.
    pub fn open(data_dir: &Path) -> Result<SessionHub, rusqlite::Error> {
        let log = Arc::new(SessionLog::open(data_dir)?);
        let hub = SessionHub {
            log: log.clone(),
            sessions: Mutex::new(HashMap::new()),
        };
        let rows: Vec<(String, String, String)> = {
            let conn = log.conn();
            let mut st =
                conn.prepare("SELECT id, tenant, scenario FROM sessions ORDER BY created_ms")?;
            let v = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            v
        };
        for (id, tenant, scenario) in rows {
            match hub.rebuild(&id, &scenario) {
                Ok((session, seq)) => hub.start(id, tenant, session, seq),
                Err(e) => tracing::error!(session = %id, error = %e, "cannot rebuild session"),
            }
        }
        Ok(hub)
    }

    fn rebuild(&self, id: &str, scenario: &str) -> Result<(Session, i64), String> {
        let value: Value = serde_json::from_str(scenario).map_err(|e| e.to_string())?;
        let initial = commonsnet_engine::scenario_from_value(&value).map_err(|e| e.to_string())?;
        let mut session = Session::new(&initial)?;
        let conn = self.log.conn();
        let mut st = conn
            .prepare(
                "SELECT seq, applied, event_ids FROM session_log WHERE session = ?1 ORDER BY seq",
            )
            .map_err(|e| e.to_string())?;
        let rows: Vec<(i64, String, String)> = st
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut last = 0;
        for (seq, applied, ids) in rows {
            let applied: Vec<Applied> =
                serde_json::from_str(&applied).map_err(|e| e.to_string())?;
            for a in &applied {
                session.replay(a)?;
            }
            let ids: Vec<String> = serde_json::from_str(&ids).map_err(|e| e.to_string())?;
            session.remember_event_ids(ids.iter().map(String::as_str));
            last = seq;
        }
        session.replan_all();
        Ok((session, last))
    }

    fn start(&self, id: String, tenant: String, session: Session, seq: i64) {
        let (tx, rx) = mpsc::channel();
        let (changes, _) = broadcast::channel(1024);
        let handle = Arc::new(SessionHandle {
            tenant,
            tx: Mutex::new(tx),
            changes: changes.clone(),
        });
        let log = self.log.clone();
        let sid = id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("session-{}", &id[..8.min(id.len())]))
            .spawn(move || actor(sid, session, seq, rx, log, changes));
        match spawned {
            Ok(_) => {
                self.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, handle);
            }
            Err(e) => tracing::error!(error = %e, "cannot start a session thread"),
        }
    }

    /// Create a session (durably) and start its actor.
    pub fn create(
        &self,
        id: &str,
        tenant: &str,
        scenario: &Scenario,
        raw: &Value,
    ) -> Result<(), ApiError> {
        let session = Session::new(scenario).map_err(UserError::unprocessable)?;
        self.log.conn().execute(
            "INSERT INTO sessions (id, tenant, scenario, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![id, tenant, raw.to_string(), now_ms()],
        )?;
        self.start(id.to_string(), tenant.to_string(), session, 0);
        Ok(())
    }

    /// The session if it exists and belongs to the tenant.
    pub fn get(&self, id: &str, tenant: &str) -> Result<Arc<SessionHandle>, UserError> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .filter(|h| h.tenant == tenant)
            .cloned()
            .ok_or_else(|| UserError::not_found("session"))
    }

    pub fn log(&self) -> &SessionLog {
        &self.log
    }

    pub fn exists(&self, id: &str) -> Result<bool, rusqlite::Error> {
        self.log
            .conn()
            .query_row("SELECT 1 FROM sessions WHERE id = ?1", params![id], |_| {
                Ok(())
            })
            .optional()
            .map(|o| o.is_some())
    }
}

impl SessionHandle {
    fn send(&self, msg: Msg) -> Result<(), ApiError> {
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(msg)
            .map_err(|_| InternalError::Worker("session actor stopped".into()).into())
    }

    /// Apply a batch; answers the change set (with its sequence number).
    pub async fn events(&self, events: Vec<Event>) -> Result<Value, ApiError> {
        let event_ids = events.iter().filter_map(|e| e.event_id.clone()).collect();
        let (reply, rx) = oneshot::channel();
        self.send(Msg::Events {
            events,
            event_ids,
            reply,
        })?;
        rx.await
            .map_err(|_| InternalError::Worker("session actor stopped".into()))?
    }

    /// Run a read-only function on the session, on its actor thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Session) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Read(Box::new(move |s| {
            let _ = tx.send(f(s));
        })))?;
        rx.await
            .map_err(|_| InternalError::Worker("session actor stopped".into()).into())
    }
}

/// A request whose events are applied and waiting for the re-plan.
struct Staged {
    out: BatchOutcome,
    applied: Vec<Applied>,
    ids: Vec<String>,
    reply: Reply<Value>,
}

fn actor(
    id: String,
    mut session: Session,
    mut seq: i64,
    rx: mpsc::Receiver<Msg>,
    log: Arc<SessionLog>,
    changes: broadcast::Sender<PlanChange>,
) {
    while let Ok(first) = rx.recv() {
        let mut msgs = vec![first];
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        // Reads run after the re-plan, so they always see a plan that is up to date.
        let mut reads = Vec::new();
        let mut staged: Vec<Staged> = Vec::new();
        for m in msgs {
            match m {
                Msg::Read(f) => reads.push(f),
                Msg::Events {
                    events,
                    event_ids,
                    reply,
                } => match session.stage(&events) {
                    Ok((out, applied)) => staged.push(Staged {
                        out,
                        applied,
                        ids: event_ids,
                        reply,
                    }),
                    Err(e) => {
                        let err = UserError::new(
                            axum::http::StatusCode::CONFLICT,
                            "event_rejected",
                            format!("event {} cannot be applied: {}", e.index, e.message),
                        )
                        .with_details(vec![json!({"table": format!("events[{}]", e.index),
                            "row": null, "field": null, "message": e.message})]);
                        let _ = reply.send(Err(err.into()));
                    }
                },
            }
        }
        if staged.is_empty() {
            for f in reads {
                f(&session);
            }
            continue;
        }
        let (changed, replanned) = session.flush();
        for Staged {
            mut out,
            applied,
            ids,
            reply,
        } in staged
        {
            out.changed = changed.clone();
            out.replanned_needs = replanned;
            seq += 1;
            let body = change_json(seq, &out);
            let data = body.to_string();
            if let Err(e) = log.append(&id, seq, &applied, &ids, &data) {
                // The state has moved on in memory but not on disk: stop this session rather
                // than answer for something a restart would not remember.
                tracing::error!(session = %id, error = %e, "cannot append to the session log");
                let _ = reply.send(Err(InternalError::Storage(e).into()));
                return;
            }
            let _ = changes.send(PlanChange { seq, data });
            let _ = reply.send(Ok(body));
        }
        for f in reads {
            f(&session);
        }
    }
}

/// The plan as `GET /v1/sessions/{id}/plan` answers it.
pub fn plan_json(report: &Report, session: &Session) -> Value {
    json!({
        "summary": report.summary_json(),
        "allocations": report.allocations_json(),
        "dispatched": session.dispatches(),
    })
}
