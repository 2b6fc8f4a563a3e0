//! Batch jobs: the request (SPEC section 4), its validation, and `JobRunner`, the one thread
//! that executes jobs in order, their runs in parallel, committing each finished run.
//!
//! Cancellation is cooperative: `DELETE` marks the job cancelled in the store and raises its
//! flag; the runner checks the flag before every run, and a run already in the solver stops at
//! the per-run time limit at the latest. Shutdown works the same way but leaves the job
//! `running` in the store, so the next start resumes it from the runs already committed.

use crate::error::UserError;
use crate::store::JobStore;
use commonsnet_datasets::generate::{generate_scenario, GENERATORS, MAX_SCALE};
use commonsnet_engine::batch::{
    derive_seed, named_policy, rows_to_batch, Batch, BatchSettings, Perturbation, PolicySpec,
    RunRow,
};
use commonsnet_engine::input::policy_from_value;
use commonsnet_engine::{scenario_from_value, Policy};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use utoipa::ToSchema;

/// Upper bound on the runs of one job.
pub const MAX_RUNS: usize = 1_000_000;

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Inline scenarios (SPEC section 3 JSON). Exactly one of `scenarios` and `generator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub scenarios: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorSpec>,
    /// Policies: names (`greedy`, `coverage`, `cost`, `maxmin`, `own`, `min_share=S`) applied over
    /// each scenario's own policy, or full policy objects. Default: each scenario's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub policies: Option<Vec<Value>>,
    #[serde(default = "one")]
    pub replicates: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub perturb: Perturbation,
    /// Upper bound on each run's solver time in seconds (the server's limit applies when smaller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_s: Option<f64>,
}

fn one() -> usize {
    1
}

/// Scenarios made by a named generator: scenario `i` uses seed `derive_seed(seed, [i])`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// urban, rural, intentional or disaster.
    pub name: String,
    #[serde(default = "unit_scale")]
    pub scale: f64,
    #[serde(default = "one")]
    pub count: usize,
}

fn unit_scale() -> f64 {
    1.0
}

impl JobRequest {
    /// Check everything a job needs before it is accepted; errors name the offending field.
    /// Generated scenarios are not built here (that is the job's work), only their parameters.
    pub fn validate(&self) -> Result<usize, UserError> {
        let scenarios = match (&self.scenarios, &self.generator) {
            (Some(s), None) => {
                let mut details = Vec::new();
                for (i, v) in s.iter().enumerate() {
                    if let Err(e) = scenario_from_value(v) {
                        for mut issue in e.issues {
                            issue.table = format!("scenarios[{i}].{}", issue.table);
                            details.push(serde_json::to_value(issue).unwrap_or(Value::Null));
                        }
                    }
                }
                if !details.is_empty() {
                    return Err(UserError::unprocessable(format!(
                        "{} problem(s) in the job's scenarios",
                        details.len()
                    ))
                    .with_details(details));
                }
                s.len()
            }
            (None, Some(g)) => {
                if !GENERATORS.contains(&g.name.as_str()) {
                    return Err(UserError::unprocessable(format!(
                        "generator.name: unknown generator {:?}, expected one of {}",
                        g.name,
                        GENERATORS.join(", ")
                    )));
                }
                if !(g.scale > 0.0 && g.scale <= MAX_SCALE) {
                    return Err(UserError::unprocessable(format!(
                        "generator.scale: {} is not in (0, {MAX_SCALE}]",
                        g.scale
                    )));
                }
                g.count
            }
            _ => {
                return Err(UserError::unprocessable(
                    "exactly one of `scenarios` and `generator` must be given",
                ))
            }
        };
        if scenarios == 0 {
            return Err(UserError::unprocessable("the job has no scenarios"));
        }
        let policies = self.policy_specs()?.len();
        if self.replicates == 0 {
            return Err(UserError::unprocessable("replicates: must be at least 1"));
        }
        self.perturb.validate().map_err(UserError::unprocessable)?;
        if let Some(t) = self.time_limit_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(UserError::unprocessable(format!(
                    "time_limit_s: {t} is not a positive number of seconds"
                )));
            }
        }
        let total = scenarios
            .checked_mul(policies)
            .and_then(|x| x.checked_mul(self.replicates))
            .filter(|&t| t <= MAX_RUNS)
            .ok_or_else(|| {
                UserError::unprocessable(format!(
                    "the job has more than {MAX_RUNS} runs (scenarios x policies x replicates)"
                ))
            })?;
        Ok(total)
    }

    fn policy_specs(&self) -> Result<Vec<PolicySpec>, UserError> {
        let Some(list) = &self.policies else {
            return Ok(vec![PolicySpec::Named("own".into())]);
        };
        if list.is_empty() {
            return Err(UserError::unprocessable("policies: the list is empty"));
        }
        let mut specs = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            match v {
                Value::String(name) => {
                    named_policy(name, &Policy::default())
                        .map_err(|e| UserError::unprocessable(format!("policies[{i}]: {e}")))?;
                    specs.push(PolicySpec::Named(name.clone()));
                }
                Value::Object(_) => {
                    let policy = policy_from_value(v)
                        .map_err(|e| UserError::unprocessable(format!("policies[{i}]: {e}")))?;
                    specs.push(PolicySpec::Given {
                        label: format!("policy-{}", i + 1),
                        policy,
                    });
                }
                _ => {
                    return Err(UserError::unprocessable(format!(
                        "policies[{i}]: expected a policy name or a policy object"
                    )))
                }
            }
        }
        Ok(specs)
    }

    /// Build the batch: parse or generate the scenarios. Deterministic in the request.
    pub fn batch(&self, server_time_limit_s: f64) -> Result<Batch, String> {
        let scenarios = match (&self.scenarios, &self.generator) {
            (Some(list), _) => list
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let s = scenario_from_value(v).map_err(|e| format!("scenarios[{i}]: {e}"))?;
                    let label = s
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("scenario-{}", i + 1));
                    Ok((label, s))
                })
                .collect::<Result<Vec<_>, String>>()?,
            (None, Some(g)) => (0..g.count)
                .map(|i| {
                    let seed = derive_seed(self.seed, &[0xB, i as u64]);
                    let s = generate_scenario(&g.name, g.scale, seed)?;
                    let label = s.name.clone().unwrap_or_default();
                    Ok((label, s))
                })
                .collect::<Result<Vec<_>, String>>()?,
            (None, None) => return Err("the job has no scenarios".into()),
        };
        let policies = self.policy_specs().map_err(|e| e.message)?;
        Ok(Batch {
            scenarios,
            policies,
            replicates: self.replicates,
            seed: self.seed,
            settings: BatchSettings {
                perturbation: self.perturb,
                time_limit_s: Some(
                    self.time_limit_s
                        .map_or(server_time_limit_s, |t| t.min(server_time_limit_s)),
                ),
            },
        })
    }
}

/// The job queue shared by the HTTP handlers and the runner thread.
pub struct JobQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
    /// Raised once at shutdown: the runner starts no new run and leaves jobs resumable.
    pub shutdown: AtomicBool,
    pub runs_done: AtomicU64,
    pub capacity: usize,
}

#[derive(Default)]
struct QueueState {
    pending: VecDeque<String>,
    /// Slots taken by requests between their capacity check and their commit.
    reserved: usize,
    cancel: HashMap<String, Arc<AtomicBool>>,
}

impl JobQueue {
    pub fn new(capacity: usize) -> Self {
        JobQueue {
            state: Mutex::new(QueueState::default()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            runs_done: AtomicU64::new(0),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Jobs waiting to start.
    pub fn depth(&self) -> usize {
        let st = self.lock();
        st.pending.len() + st.reserved
    }

    /// Take a slot for a job about to be stored; false when the queue is full.
    pub fn try_reserve(&self) -> bool {
        let mut st = self.lock();
        if st.pending.len() + st.reserved >= self.capacity {
            return false;
        }
        st.reserved += 1;
        true
    }

    /// Give back a slot whose job was not stored.
    pub fn release(&self) {
        let mut st = self.lock();
        st.reserved = st.reserved.saturating_sub(1);
    }

    /// Turn a reserved slot into a queued job (stored already).
    pub fn push_reserved(&self, id: String) {
        let mut st = self.lock();
        st.reserved = st.reserved.saturating_sub(1);
        self.enqueue(&mut st, id);
    }

    /// Append a job that is already stored (jobs resumed at start-up bypass the bound).
    pub fn push(&self, id: String) {
        let mut st = self.lock();
        self.enqueue(&mut st, id);
    }

    fn enqueue(&self, st: &mut QueueState, id: String) {
        st.cancel
            .entry(id.clone())
            .or_insert_with(|| Arc::new(AtomicBool::new(false)));
        st.pending.push_back(id);
        self.wake.notify_all();
    }

    /// Raise a job's cancel flag (the store already says cancelled).
    pub fn cancel(&self, id: &str) {
        let mut st = self.lock();
        if let Some(f) = st.cancel.get(id) {
            f.store(true, Ordering::SeqCst);
        }
        st.pending.retain(|j| j != id);
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        let _guard = self.lock();
        self.wake.notify_all();
    }

    /// Block until a job is available (or shutdown): the job and its cancel flag.
    fn next(&self) -> Option<(String, Arc<AtomicBool>)> {
        let mut st = self.lock();
        loop {
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(id) = st.pending.pop_front() {
                let flag = st.cancel.entry(id.clone()).or_default().clone();
                return Some((id, flag));
            }
            st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn forget(&self, id: &str) {
        self.lock().cancel.remove(id);
    }
}

/// Hooks the runner reports through (metrics live in the service).
pub trait RunObserver: Send + Sync {
    fn run_finished(&self, row: &RunRow);
}

/// Executes jobs one after another on `threads` worker threads.
pub struct JobRunner {
    pub store: Arc<JobStore>,
    pub queue: Arc<JobQueue>,
    pub threads: usize,
    pub server_time_limit_s: f64,
    pub observer: Arc<dyn RunObserver>,
}

impl JobRunner {
    /// The runner loop; returns at shutdown once the runs in flight have finished.
    pub fn run(self) {
        let pool = match rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("job-worker-{i}"))
            .build()
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the job worker pool");
                return;
            }
        };
        while let Some((id, cancel)) = self.queue.next() {
            let outcome = pool.install(|| self.run_job(&id, &cancel));
            self.queue.forget(&id);
            match outcome {
                Ok(()) => {}
                Err(e) => tracing::error!(job = %id, error = %e, "job failed"),
            }
        }
        tracing::info!("job runner stopped");
    }

    fn run_job(&self, id: &str, cancel: &AtomicBool) -> Result<(), String> {
        let Some((spec, status)) = self.store.spec(id).map_err(|e| e.to_string())? else {
            return Ok(());
        };
        if status != "queued" && status != "running" {
            return Ok(());
        }
        if !self.store.mark_running(id).map_err(|e| e.to_string())? {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let fail = |msg: String| {
            let _ = self.store.finish(id, "failed", Some(&msg));
            Err(msg)
        };
        let request: JobRequest = match serde_json::from_str(&spec) {
            Ok(r) => r,
            Err(e) => return fail(format!("stored job spec unreadable: {e}")),
        };
        let batch = match request.batch(self.server_time_limit_s) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let done: std::collections::HashSet<u64> = self
            .store
            .done_runs(id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let todo: Vec<usize> = (0..batch.total())
            .filter(|i| !done.contains(&(*i as u64)))
            .collect();
        tracing::info!(job = %id, total = batch.total(), resumed_from = done.len(), "job started");
        let stop = || cancel.load(Ordering::SeqCst) || self.queue.shutdown.load(Ordering::SeqCst);
        let store_errors = Mutex::new(Vec::new());
        todo.par_iter().for_each(|&i| {
            if stop() {
                return;
            }
            let row = batch.run(i);
            if stop() && cancel.load(Ordering::SeqCst) {
                return;
            }
            match self.store.insert_run(id, &row) {
                Ok(()) => {
                    self.queue.runs_done.fetch_add(1, Ordering::Relaxed);
                    self.observer.run_finished(&row);
                }
                Err(e) => store_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e.to_string()),
            }
        });
        if let Some(e) = store_errors.into_inner().unwrap_or_default().first() {
            return fail(format!("cannot record a run: {e}"));
        }
        if cancel.load(Ordering::SeqCst) {
            tracing::info!(job = %id, "job cancelled");
            return Ok(());
        }
        if self.queue.shutdown.load(Ordering::SeqCst) {
            tracing::info!(job = %id, "job checkpointed for shutdown; it resumes at the next start");
            return Ok(());
        }
        let rows = self.store.rows(id).map_err(|e| e.to_string())?;
        if rows.len() != batch.total() {
            return fail(format!("{} of {} runs recorded", rows.len(), batch.total()));
        }
        let table = match rows_to_batch(&rows) {
            Ok(t) => t,
            Err(e) => return fail(format!("result table: {e}")),
        };
        if let Err(e) = commonsnet_datasets::write_batch(
            &self.store.result_path(id),
            &table,
            commonsnet_datasets::TableFormat::Parquet,
        ) {
            return fail(format!("cannot write the result: {e}"));
        }
        self.store
            .finish(id, "done", None)
            .map_err(|e| e.to_string())?;
        tracing::info!(job = %id, ms = started.elapsed().as_millis() as u64, "job done");
        Ok(())
    }
}
