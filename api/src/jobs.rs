//! Batch jobs: the request (SPEC section 4), its validation and limits, and `JobRunner`, the
//! one thread that executes jobs in order, their runs in parallel on one pool, committing each
//! finished run.
//!
//! **Limits.** A job is refused up front (`422`, error code `job_too_large`, one detail
//! `{field, limit, value, message}`) when it asks for more than the server will hold:
//! a generator `scale` above [`MAX_JOB_SCALE`], more than [`MAX_RUNS`] runs (scenarios x
//! policies x replicates), more than [`MAX_POLICIES`] policies, more than
//! [`MAX_INLINE_SCENARIOS`] inline scenarios, or inline
//! scenarios of more than [`MAX_INLINE_BYTES`] bytes of JSON. Within the limits memory does not
//! grow with the job: a run makes its scenario (generated, or parsed from the stored spec) when
//! it starts and drops it when it ends, so at most `--job-threads` scenarios exist at once.
//!
//! **Failures.** A run that fails or panics is a row with status `error` (its message says
//! why); a job that fails or panics outside its runs is marked `failed` with the message. The
//! runner thread itself never dies with a job. A job the server died under (it was `running`
//! at start-up) [`MAX_CRASHES`] times in a row without finishing a run in between is marked
//! `failed` rather than resumed again, so no job can keep the server in a crash loop.
//!
//! **Concurrency.** The runner builds one rayon pool of `--job-threads` threads, once; each
//! thread takes one run at a time ([`run_each`]), and the run's solve uses that pool (it builds
//! none of its own). Every run's start and finish times are stored; `max_parallel_runs` of a
//! finished job is the most runs that were executing at one moment.
//!
//! Cancellation is cooperative: `DELETE` marks the job cancelled in the store and raises its
//! flag; the runner checks the flag before every run, and a run already in the solver stops at
//! the per-run time limit at the latest. Shutdown works the same way but puts the job back to
//! `queued` in the store, so the next start resumes it from the runs already committed.

use crate::error::{Code, UserError};
use crate::store::{JobStatus, JobStore, SqliteJobs, StoreError};
use commonsnet_datasets::generate::{Clock, Generated, GENERATORS};
use commonsnet_engine::batch::{
    named_policy, panic_message, run_each, Batch, BatchError, BatchSettings, Perturbation,
    PolicySpec, RunRow, ScenarioSource, SourceError,
};
use commonsnet_engine::input::{links_within, policy_from_value, Problems};
use commonsnet_engine::{scenario_from_value, InvalidInput, Policy, Scenario};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// Largest generator `scale` of a job. Measured on `disaster`: a scale-10 run peaks at ~0.35 GB
/// and its MIP already reaches a 60 s time limit (scale 5: 0.12 GB, 11 s; scale 20: ~0.8 GB);
/// the job runner holds one run per `--job-threads`. Larger scenarios go through
/// `POST /v1/solve` or `commonsnet simulate`.
pub const MAX_JOB_SCALE: f64 = 10.0;
/// Most runs (scenarios x policies x replicates) of one job.
pub const MAX_RUNS: usize = 100_000;
/// Most inline scenarios of one job.
pub const MAX_INLINE_SCENARIOS: usize = 1_000;
/// Largest JSON text of a job's inline scenarios, in bytes (the body limit applies too).
pub const MAX_INLINE_BYTES: usize = 16 << 20;
/// Most policies a job compares (a sweep over more is a sequence of jobs).
pub const MAX_POLICIES: usize = 1_000;
/// Starts of a job that ended with the server dying under it, after which it is failed.
pub const MAX_CRASHES: i64 = 3;

/// Why a job could not run to its end; the job is then `failed` with this message.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The stored request no longer validates (it did when it was accepted).
    #[error("{}", .0.message)]
    Invalid(UserError),
    #[error("exactly one of `scenarios` and `generator` must be given")]
    NoScenarioSource,
    #[error("stored job spec unreadable: {0}")]
    Spec(serde_json::Error),
    #[error(
        "not resumed: the server stopped abnormally {0} times in a row while running this job, \
         finishing no run in between"
    )]
    CrashLoop(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot record a run: {0}")]
    RecordRun(StoreError),
    #[error("{recorded} of {total} runs recorded")]
    Incomplete { recorded: usize, total: usize },
    #[error("result table: {0}")]
    ResultTable(arrow_schema::ArrowError),
    #[error("cannot write the result: {0}")]
    WriteResult(commonsnet_datasets::DatasetError),
    #[error("internal error: {0}")]
    Panic(String),
}

impl JobError {
    /// The store or the result's file system could not be written or reached (a full disk,
    /// a read-only or failing file system): the job waits and is taken up again, it is not
    /// failed (what it stored stays; a run not stored is run again).
    fn is_unavailable_storage(&self) -> bool {
        match self {
            JobError::Store(e) | JobError::RecordRun(e) => e.is_unavailable(),
            JobError::WriteResult(commonsnet_datasets::DatasetError::Io { error, .. }) => {
                crate::store::is_io_fault(error)
            }
            _ => false,
        }
    }

    /// What a failed job's status says: the server's paths stay in its log.
    fn client_message(&self) -> String {
        match self {
            JobError::WriteResult(_) => {
                "cannot write the result table (the server's log says why)".into()
            }
            JobError::Store(StoreError::Io { .. }) | JobError::RecordRun(StoreError::Io { .. }) => {
                "the store failed (the server's log says why)".into()
            }
            e => e.to_string(),
        }
    }
}

/// How long a job waits before it is taken up again after a store fault (doubled with each
/// fault in a row, up to [`MAX_STORE_FAULT_PAUSE`]), and how often the runner looks again
/// whether the store takes writes.
const STORE_FAULT_PAUSE: Duration = Duration::from_secs(5);
const MAX_STORE_FAULT_PAUSE: Duration = Duration::from_secs(300);

/// `422 job_too_large`: the job asks for more than the limit on `field`.
fn too_large(
    field: &str,
    limit: impl Into<Value>,
    value: impl Into<Value>,
    what: &str,
) -> UserError {
    let (limit, value) = (limit.into(), value.into());
    let message = format!("{field}: {value} exceeds the job limit of {limit} ({what})");
    UserError::new(Code::JobTooLarge, message.clone()).with_details(vec![json!({
        "field": field,
        "limit": limit,
        "value": value,
        "message": message,
    })])
}

/// Counts the bytes written to it without keeping them (a value's JSON text, an answer).
#[derive(Default)]
pub struct ByteCount(pub usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Inline scenarios (SPEC section 3 JSON). Exactly one of `scenarios` and `generator`.
    /// At most 1,000 scenarios and 16 MiB of JSON (`job_too_large` beyond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::schema::ScenarioBody>>, min_items = 1, max_items = 1000)]
    pub scenarios: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorSpec>,
    /// Policies: names (`greedy`, `coverage`, `cost`, `maxmin`, `leximin`, `proportional`, `own`,
    /// `min_share=S`) applied over
    /// each scenario's own policy, or full policy objects. Default: each scenario's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<PolicyItem>>, min_items = 1, max_items = 1000)]
    pub policies: Option<Vec<Value>>,
    /// Replicates of each (scenario, policy). Scenarios x policies x replicates is at most
    /// 100,000 runs (`job_too_large` beyond).
    #[serde(default = "one")]
    #[schema(minimum = 1)]
    pub replicates: usize,
    /// Any integer from 0 to 2^64 - 1 (JSON numbers past 2^53 lose digits in JavaScript).
    #[serde(default)]
    #[schema(format = "uint64")]
    pub seed: u64,
    #[serde(default)]
    pub perturb: Perturbation,
    /// Upper bound on each run's solver time in seconds (the server's limit applies when smaller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0.0)]
    pub time_limit_s: Option<f64>,
    /// Explain every run's plan: the result's `why_<reason>` columns count the needs not served
    /// in full by reason (null without it).
    #[serde(default)]
    pub explain: bool,
}

fn one() -> usize {
    1
}

/// One of a job's policies, as OpenAPI describes it (the request keeps it as JSON and reads it
/// with the engine's validator): a name, or a full policy object (SPEC section 2 fields).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PolicyItem {
    /// `greedy`, `coverage`, `cost`, `maxmin`, `leximin`, `proportional`, `own` or
    /// `min_share=S`, applied over each scenario's own policy.
    Name(String),
    /// A policy replacing the scenario's own.
    Policy(crate::schema::PolicyBody),
}

/// A stored [`JobRequest`] read for what its result's provenance says: its inline scenarios
/// are skipped, not parsed (an 11 MB request made every Arrow download of its result parse
/// them, 1.5 s and about 170 MB each, past the decode budget).
#[derive(Deserialize)]
struct RequestHead {
    #[serde(default)]
    scenarios: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    generator: Option<GeneratorSpec>,
    #[serde(default)]
    policies: Option<Vec<Value>>,
    #[serde(default = "one")]
    replicates: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    perturb: Perturbation,
    #[serde(default)]
    time_limit_s: Option<f64>,
    #[serde(default)]
    explain: bool,
}

impl JobRequest {
    /// [`Batch::provenance`] of the job stored as `spec`, its time limit capped as the
    /// runner caps it, without reading its scenarios.
    pub fn provenance_of(
        spec: &str,
        server_time_limit_s: f64,
    ) -> Result<std::collections::HashMap<String, String>, JobError> {
        let head: RequestHead = serde_json::from_str(spec).map_err(JobError::Spec)?;
        let request = JobRequest {
            // The scenarios are no part of the provenance: only which source there is.
            scenarios: head.scenarios.map(|_| Vec::new()),
            generator: head.generator,
            policies: head.policies,
            replicates: head.replicates,
            seed: head.seed,
            perturb: head.perturb,
            time_limit_s: head.time_limit_s,
            explain: head.explain,
        };
        Ok(request.into_batch(server_time_limit_s)?.provenance())
    }
}

/// Scenarios made by a named generator: scenario `i` uses seed `seeds::scenario_seed(seed, i)`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// urban, rural, intentional or disaster.
    pub name: String,
    /// Size of each scenario, in (0, 10] for a job (`job_too_large` beyond 10).
    #[serde(default = "unit_scale")]
    #[schema(exclusive_minimum = 0.0, maximum = 10.0)]
    pub scale: f64,
    #[serde(default = "one")]
    #[schema(minimum = 1)]
    pub count: usize,
    /// With SPEC's time model (loans, stays, jobs and shifts with durations): see
    /// `datasets/README.md`. Default false: snapshots, as before the time model.
    #[serde(default)]
    pub timed: bool,
}

fn unit_scale() -> f64 {
    1.0
}

impl GeneratorSpec {
    /// The scenarios it makes under the job's `seed`, one per run as it starts.
    fn source(&self, seed: u64) -> Generated {
        Generated {
            name: self.name.clone(),
            scale: self.scale,
            count: self.count,
            seed,
            clock: if self.timed {
                Clock::Timed
            } else {
                Clock::Snapshot
            },
        }
    }
}

/// Each problem of `e` with its table under `at` (`scenarios[3].needs`).
fn absorb_under(problems: &mut Problems, e: InvalidInput, at: &str) {
    problems.absorb(e, |mut issue| {
        issue.table = format!("{at}.{}", issue.table);
        issue
    });
}

impl JobRequest {
    /// Check everything a job needs before it is accepted; errors name the offending field.
    /// Generated scenarios are not built here (that is the job's work), only their parameters,
    /// and the first of them when the job gives a policy object to check against it.
    /// Each scenario's links, under its own policy and under each of the job's, are at most
    /// `max_links` (the server's `--max-links`).
    pub fn validate(&self, max_links: usize) -> Result<usize, UserError> {
        // Inline scenarios as validated under their own policies (all of them, or the job is
        // refused here), checked against the job's policies once the run count is bounded.
        let mut parsed: Vec<Scenario> = Vec::new();
        let scenarios = match (&self.scenarios, &self.generator) {
            (Some(s), None) => {
                if s.len() > MAX_INLINE_SCENARIOS {
                    return Err(too_large(
                        "scenarios",
                        MAX_INLINE_SCENARIOS,
                        s.len(),
                        "inline scenarios per job",
                    ));
                }
                let mut bytes = ByteCount::default();
                // Writing a `Value` to a sink that never fails cannot fail.
                let _ = serde_json::to_writer(&mut bytes, s);
                if bytes.0 > MAX_INLINE_BYTES {
                    return Err(too_large(
                        "scenarios",
                        MAX_INLINE_BYTES,
                        bytes.0,
                        "bytes of inline scenario JSON per job",
                    ));
                }
                let mut problems = Problems::default();
                for (i, v) in s.iter().enumerate() {
                    match scenario_from_value(v)
                        .and_then(|scenario| links_within(&scenario, max_links).map(|()| scenario))
                    {
                        Ok(scenario) => parsed.push(scenario),
                        Err(e) => absorb_under(&mut problems, e, &format!("scenarios[{i}]")),
                    }
                }
                if let Some(e) = problems.refusal("scenarios") {
                    return Err(UserError::invalid_input(&e)
                        .with_message(format!("{} problem(s) in the job's scenarios", e.total())));
                }
                s.len()
            }
            (None, Some(g)) => {
                if !GENERATORS.contains(&g.name.as_str()) {
                    return Err(UserError::invalid_field(
                        "job",
                        "generator.name",
                        format!(
                            "unknown generator {:?}, expected one of {}",
                            g.name,
                            GENERATORS.join(", ")
                        ),
                    ));
                }
                // One bound, the job's own, named in both refusals: a scale the generators
                // take (up to MAX_SCALE) but a job does not is `job_too_large` like 1,000.
                if g.scale.is_nan() || g.scale <= 0.0 {
                    return Err(UserError::invalid_field(
                        "job",
                        "generator.scale",
                        format!("{} is not in (0, {MAX_JOB_SCALE}]", g.scale),
                    ));
                }
                if g.scale > MAX_JOB_SCALE {
                    return Err(too_large(
                        "generator.scale",
                        MAX_JOB_SCALE,
                        g.scale,
                        "the largest scenarios a job generates",
                    ));
                }
                g.count
            }
            _ => {
                return Err(UserError::invalid_field(
                    "job",
                    "scenarios",
                    "exactly one of `scenarios` and `generator` must be given",
                ))
            }
        };
        if scenarios == 0 {
            let field = if self.generator.is_some() {
                "generator.count"
            } else {
                "scenarios"
            };
            return Err(UserError::invalid_field(
                "job",
                field,
                "the job has no scenarios",
            ));
        }
        let specs = self.policy_specs()?;
        let policies = specs.len();
        if self.replicates == 0 {
            return Err(UserError::invalid_field(
                "job",
                "replicates",
                "must be at least 1",
            ));
        }
        self.perturb
            .validate()
            .map_err(|e| UserError::invalid_field("job", "perturb", e))?;
        if let Some(t) = self.time_limit_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(UserError::invalid_field(
                    "job",
                    "time_limit_s",
                    format!("{t} is not a positive number of seconds"),
                ));
            }
        }
        let total = scenarios
            .checked_mul(policies)
            .and_then(|x| x.checked_mul(self.replicates))
            .unwrap_or(usize::MAX);
        if total > MAX_RUNS {
            let field = match self.generator {
                Some(_) => "generator.count x policies x replicates",
                None => "scenarios x policies x replicates",
            };
            let value = match total {
                usize::MAX => {
                    Value::from(format!("{scenarios} x {policies} x {}", self.replicates))
                }
                t => Value::from(t),
            };
            return Err(too_large(field, MAX_RUNS, value, "runs per job"));
        }
        // A generator's scenarios share their shape (dimensions, kinds, times): a policy
        // object is checked against the first, so one that fails every run is refused here
        // (a policy naming a reusable dimension the generator has not was accepted, and every
        // run of it was an error row in a job marked done).
        let label = match &self.generator {
            Some(g) if specs.iter().any(|s| matches!(s, PolicySpec::Given { .. })) => {
                let source = g.source(self.seed);
                let first = source
                    .scenario(0)
                    .map_err(|e| UserError::invalid_field("job", "generator", e))?;
                parsed.push(first.into_owned());
                "generator scenario"
            }
            _ => "scenarios",
        };
        // Each policy against each inline scenario's rows (the scenario's own, and a policy
        // given twice, once).
        let repeated: Vec<bool> = (0..specs.len())
            .map(|j| specs[..j].contains(&specs[j]))
            .collect();
        let mut problems = Problems::default();
        for (i, scenario) in parsed.iter().enumerate() {
            for (j, spec) in specs.iter().enumerate() {
                let own = matches!(spec, PolicySpec::Named(n) if n == "own");
                if own || repeated[j] {
                    continue;
                }
                let fitted = spec.fit(scenario).and_then(|fitted| {
                    links_within(&fitted, max_links).map_err(BatchError::InvalidPolicy)
                });
                if let Err(e) = fitted {
                    let e = match e {
                        BatchError::InvalidPolicy(e) => e,
                        other => InvalidInput::of_table("policy", other.to_string()),
                    };
                    absorb_under(
                        &mut problems,
                        e,
                        &format!("{label}[{i}] under policies[{j}]"),
                    );
                }
            }
        }
        if let Some(e) = problems.refusal(label) {
            return Err(UserError::invalid_input(&e).with_message(format!(
                "{} problem(s) in the job's scenarios under its policies",
                e.total()
            )));
        }
        Ok(total)
    }

    fn policy_specs(&self) -> Result<Vec<PolicySpec>, UserError> {
        let Some(list) = &self.policies else {
            return Ok(vec![PolicySpec::Named("own".into())]);
        };
        if list.is_empty() {
            return Err(UserError::invalid_field(
                "job",
                "policies",
                "the list is empty",
            ));
        }
        if list.len() > MAX_POLICIES {
            // Each is checked against every inline scenario and the others (100,000 names
            // held a blocking thread for 108 s in a debug build).
            return Err(too_large(
                "policies",
                MAX_POLICIES,
                Value::from(list.len()),
                "policies per job",
            ));
        }
        let mut specs = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            match v {
                Value::String(name) => {
                    named_policy(name, &Policy::default()).map_err(|e| {
                        UserError::invalid_field("job", &format!("policies[{i}]"), e)
                    })?;
                    specs.push(PolicySpec::Named(name.clone()));
                }
                Value::Object(_) => {
                    // Every problem of the policy, each naming its field, as a solve's policy
                    // has them (it was one detail: "3 problem(s); first: ...").
                    let policy = policy_from_value(v).map_err(|mut e| {
                        let at = format!("policies[{i}]");
                        for issue in &mut e.issues {
                            issue.table = at.clone();
                        }
                        let first = e.issues.first().map(|i| i.to_string()).unwrap_or_default();
                        UserError::invalid_input(&e)
                            .with_message(format!("{at}: {} problem(s); first: {first}", e.total()))
                    })?;
                    specs.push(PolicySpec::Given {
                        label: format!("policy-{}", i + 1),
                        policy,
                    });
                }
                _ => {
                    return Err(UserError::invalid_field(
                        "job",
                        &format!("policies[{i}]"),
                        "expected a policy name or a policy object",
                    ))
                }
            }
        }
        Ok(specs)
    }

    /// The batch of this request. No scenario is made here: each run makes its own when it
    /// starts. Deterministic in the request.
    pub fn into_batch(self, server_time_limit_s: f64) -> Result<Batch<JobScenarios>, JobError> {
        let policies = self.policy_specs().map_err(JobError::Invalid)?;
        let scenarios = match (self.scenarios, self.generator) {
            (Some(list), None) => JobScenarios::Inline(list),
            (None, Some(g)) => JobScenarios::Generated(g.source(self.seed)),
            _ => return Err(JobError::NoScenarioSource),
        };
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
                explain: self.explain,
            },
        })
    }
}

/// The scenarios of a job, made one run at a time.
pub enum JobScenarios {
    /// The request's JSON scenarios, validated when the run starts.
    Inline(Vec<Value>),
    /// Scenario `i` is the generator's with seed `seeds::scenario_seed(seed, i)`.
    Generated(Generated),
}

impl ScenarioSource for JobScenarios {
    fn count(&self) -> usize {
        match self {
            JobScenarios::Inline(list) => list.len(),
            JobScenarios::Generated(g) => g.count(),
        }
    }

    fn label(&self, index: usize) -> String {
        match self {
            JobScenarios::Inline(list) => list
                .get(index)
                .and_then(|v| v.get("name"))
                .and_then(Value::as_str)
                .map_or_else(|| format!("scenario-{}", index + 1), str::to_string),
            JobScenarios::Generated(g) => g.label(index),
        }
    }

    fn scenario(&self, index: usize) -> Result<Cow<'_, Scenario>, SourceError> {
        match self {
            JobScenarios::Inline(list) => {
                let v = list
                    .get(index)
                    .ok_or_else(|| format!("scenarios[{index}]: no such scenario"))?;
                // Accepted at submission: read back as accepted (a later binary's stricter
                // rules on names must not fail a job queued before it).
                commonsnet_engine::input::scenario_from_logged_value(v)
                    .map(Cow::Owned)
                    .map_err(|e| format!("scenarios[{index}]: {e}").into())
            }
            JobScenarios::Generated(g) => g.scenario(index),
        }
    }
}

/// The job queue shared by the HTTP handlers and the runner thread.
///
/// Tenants take turns: the next job to start is the oldest of the waiting tenant whose last
/// turn is oldest (a tenant's own jobs keep their order), and a job that has run for `turn`
/// (and at least one run) while another tenant's job waits gives its turn up between two
/// runs (it is checkpointed, as at a shutdown, and goes on after the other tenants' turns,
/// before its own tenant's later jobs). One tenant's long jobs then delay another's
/// by about a turn, not by their whole length. With one tenant this is first come, first
/// served, and no job is ever interrupted.
pub struct JobQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
    /// Raised once at shutdown: the runner starts no new run and leaves jobs resumable.
    pub shutdown: Arc<AtomicBool>,
    pub runs_done: AtomicU64,
    pub capacity: usize,
    /// How long a job runs while another tenant's job waits before it gives its turn up.
    pub turn: Duration,
}

/// A job waiting to start (or to go on), and whose it is.
struct Waiting {
    id: String,
    tenant: String,
    /// Put back after a turn or a store fault: it started, so it takes no slot of the queue's
    /// bound.
    resumed: bool,
}

#[derive(Default)]
struct QueueState {
    pending: VecDeque<Waiting>,
    /// Slots taken by requests between their capacity check and their commit.
    reserved: usize,
    cancel: HashMap<String, Arc<AtomicBool>>,
    /// The turn each tenant last started a job in (turns are counted from 1; a tenant that
    /// never had one counts 0). One entry per tenant of the tokens file, at most.
    last_turn: HashMap<String, u64>,
    turns: u64,
    /// Store faults in a row of each job set aside for one (none recorded since).
    faults: HashMap<String, u32>,
}

impl JobQueue {
    pub fn new(capacity: usize, turn: Duration) -> Self {
        JobQueue {
            state: Mutex::new(QueueState::default()),
            wake: Condvar::new(),
            shutdown: Arc::new(AtomicBool::new(false)),
            runs_done: AtomicU64::new(0),
            capacity,
            turn,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Jobs waiting to start.
    pub fn depth(&self) -> usize {
        let st = self.lock();
        st.waiting() + st.reserved
    }

    /// Take a slot for a job about to be stored; false when the queue is full.
    pub fn try_reserve(&self) -> bool {
        let mut st = self.lock();
        if st.waiting() + st.reserved >= self.capacity {
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
    pub fn push_reserved(&self, id: String, tenant: String) {
        let mut st = self.lock();
        st.reserved = st.reserved.saturating_sub(1);
        self.enqueue(&mut st, id, tenant);
    }

    /// Append a job that is already stored (jobs resumed at start-up bypass the bound, and
    /// so does a job that gave its turn up).
    pub fn push(&self, id: String, tenant: String) {
        let mut st = self.lock();
        self.enqueue(&mut st, id, tenant);
    }

    fn enqueue(&self, st: &mut QueueState, id: String, tenant: String) {
        st.cancel
            .entry(id.clone())
            .or_insert_with(|| Arc::new(AtomicBool::new(false)));
        st.pending.push_back(Waiting {
            id,
            tenant,
            resumed: false,
        });
        self.wake.notify_all();
    }

    /// Put a job that started back at the head of the queue (after its turn or a store
    /// fault): its tenant's turn comes after the others', and then it goes on before the
    /// tenant's later jobs.
    fn requeue(&self, mut job: Waiting) {
        let mut st = self.lock();
        job.resumed = true;
        st.pending.push_front(job);
        self.wake.notify_all();
    }

    /// One more store fault of job `id` in a row; how many now.
    fn note_fault(&self, id: &str) -> u32 {
        let mut st = self.lock();
        let n = st.faults.entry(id.to_string()).or_default();
        *n += 1;
        *n
    }

    /// Whether job `id` was set aside for a store fault and has recorded no run since.
    fn after_fault(&self, id: &str) -> bool {
        self.lock().faults.contains_key(id)
    }

    /// Job `id` recorded a run: its store faults are over.
    fn clear_faults(&self, id: &str) {
        self.lock().faults.remove(id);
    }

    /// Raise a job's cancel flag (the store already says cancelled).
    pub fn cancel(&self, id: &str) {
        let mut st = self.lock();
        if let Some(f) = st.cancel.get(id) {
            f.store(true, Ordering::SeqCst);
        }
        let waiting = st.pending.len();
        st.pending.retain(|j| j.id != id);
        if st.pending.len() < waiting {
            // It was waiting, so no run of it is under way to read the flag.
            st.cancel.remove(id);
            st.faults.remove(id);
        }
    }

    /// Whether a job of `tenant` that has run since `since` should give its turn up: its
    /// turn is over and another tenant's job waits.
    fn turn_over(&self, tenant: &str, since: std::time::Instant) -> bool {
        since.elapsed() >= self.turn && self.lock().pending.iter().any(|w| w.tenant != tenant)
    }

    /// Wait `pause`, or less when the server shuts down.
    fn pause(&self, pause: Duration) {
        let st = self.lock();
        if self.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let _ = self
            .wake
            .wait_timeout_while(st, pause, |_| !self.shutdown.load(Ordering::SeqCst));
    }

    /// The shutdown flag, for the threads that stop with the runner.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        let _guard = self.lock();
        self.wake.notify_all();
    }

    /// Block until a job is available (or shutdown): the job and its cancel flag.
    fn next(&self) -> Option<(Waiting, Arc<AtomicBool>)> {
        let mut st = self.lock();
        loop {
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
            // The first waiting job of the tenant whose last turn is oldest.
            let next = st
                .pending
                .iter()
                .enumerate()
                .min_by_key(|(i, w)| (st.last_turn.get(&w.tenant).copied().unwrap_or(0), *i))
                .map(|(i, _)| i);
            if let Some(w) = next.and_then(|i| st.pending.remove(i)) {
                st.turns += 1;
                let turn = st.turns;
                st.last_turn.insert(w.tenant.clone(), turn);
                let flag = st.cancel.entry(w.id.clone()).or_default().clone();
                return Some((w, flag));
            }
            st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn forget(&self, id: &str) {
        let mut st = self.lock();
        st.cancel.remove(id);
        st.faults.remove(id);
    }
}

impl QueueState {
    /// Jobs waiting that never started.
    fn waiting(&self) -> usize {
        self.pending.iter().filter(|w| !w.resumed).count()
    }
}

/// Hooks the runner reports through (metrics live in the service).
pub trait RunObserver: Send + Sync {
    fn run_finished(&self, row: &RunRow);
}

/// Fault injection for the tests of the runner's resilience, read from the environment
/// variable `COMMONSNET_FAULTS` (comma-separated): `run_panic=I` makes run `I` of every job
/// panic as it starts, `run_abort=I` makes it abort the process (a server that dies under a
/// job, at the same place on every start), `job_panic` makes every job panic after it is marked
/// running (as a resumed job would), `store_full=I` makes the store refuse run `I`'s row once
/// per process as SQLite does on a full disk. Unset in normal operation; the runner logs a
/// warning when it is set.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) run_panic: Option<usize>,
    pub(crate) run_abort: Option<usize>,
    pub(crate) job_panic: bool,
    pub(crate) store_full: Option<usize>,
    store_full_done: AtomicBool,
}

impl Faults {
    /// The store's answer to run `i`'s row under `store_full`: a full disk, once.
    fn refused_row(&self, i: usize) -> Option<StoreError> {
        (self.store_full == Some(i) && !self.store_full_done.swap(true, Ordering::SeqCst)).then(
            || {
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    Some("injected fault: database or disk is full".into()),
                ))
            },
        )
    }
}

impl Faults {
    const VAR: &'static str = "COMMONSNET_FAULTS";

    pub(crate) fn from_env() -> Faults {
        let mut f = Faults::default();
        let Ok(text) = std::env::var(Self::VAR) else {
            return f;
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some(("run_panic", i)) => f.run_panic = i.trim().parse().ok(),
                Some(("run_abort", i)) => f.run_abort = i.trim().parse().ok(),
                Some(("store_full", i)) => f.store_full = i.trim().parse().ok(),
                None if item == "job_panic" => f.job_panic = true,
                _ => tracing::warn!(item, "{}: unknown fault ignored", Self::VAR),
            }
        }
        tracing::warn!(faults = ?f, "{} is set: faults are injected into jobs", Self::VAR);
        f
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The job runner's one pool of `threads` threads (a run's solve uses it too); `None`, logged,
/// when the threads cannot start.
pub(crate) fn worker_pool(threads: usize) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("job-worker-{i}"))
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "cannot start the job worker pool"))
        .ok()
}

/// Executes jobs one after another, each job's runs on one pool of `threads` threads.
pub struct JobRunner {
    pub store: Arc<SqliteJobs>,
    pub queue: Arc<JobQueue>,
    pub threads: usize,
    pub server_time_limit_s: f64,
    pub observer: Arc<dyn RunObserver>,
}

impl JobRunner {
    /// The runner loop; returns at shutdown once the runs in flight have finished. A job that
    /// fails or panics is marked failed; the loop goes on with the next.
    pub fn run(self) {
        let faults = Faults::from_env();
        // The one pool of the runner: every run of every job, and the solves inside them.
        let Some(pool) = worker_pool(self.threads) else {
            return;
        };
        while let Some((job, cancel)) = self.queue.next() {
            let id = job.id.clone();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                self.run_job(&pool, &faults, &job, &cancel)
            }))
            .unwrap_or_else(|panic| Err(JobError::Panic(panic_message(&*panic))));
            match &outcome {
                Ok(JobEnd::TurnOver) => {
                    // Its cancel flag stays.
                    self.queue.requeue(job);
                    continue;
                }
                Err(e) if !cancel.load(Ordering::SeqCst) && self.is_store_fault(e) => {
                    self.wait_for_the_store(&id, e);
                    self.queue.requeue(job);
                    continue;
                }
                _ => {}
            }
            self.queue.forget(&id);
            if let Err(e) = outcome {
                if cancel.load(Ordering::SeqCst) {
                    // Called off mid-way: it stays cancelled, and what did not run is no fault.
                    tracing::info!(job = %id, error = %e, "job stopped by its cancel");
                    continue;
                }
                tracing::error!(job = %id, error = %e, "job failed");
                // A job that cannot go on must not stay `running` (a cancelled one stays
                // cancelled: `finish` only moves unfinished jobs).
                if let Err(e) = self
                    .store
                    .finish(&id, JobStatus::Failed, Some(&e.client_message()))
                {
                    tracing::error!(job = %id, error = %e, "cannot mark the job failed");
                }
            }
        }
        tracing::info!("job runner stopped");
    }

    /// Whether `e` is the store's or the disk's, not the job's: a store error worth a retry,
    /// or a result table that could not be written while the data folder takes no writes
    /// (the Parquet writer reports a full disk as its own error, not as an I/O one).
    fn is_store_fault(&self, e: &JobError) -> bool {
        e.is_unavailable_storage()
            || (matches!(e, JobError::WriteResult(_)) && self.store.check().is_err())
    }

    /// Set job `id` aside after a store fault: its runs stopped; it waits (5 s, doubling
    /// with each fault in a row up to 5 min) and then until the store takes writes again,
    /// and is taken up again. Every job needs the store, so the runner waits with it.
    fn wait_for_the_store(&self, id: &str, e: &JobError) {
        let faults = self.queue.note_fault(id);
        let pause = STORE_FAULT_PAUSE
            .saturating_mul(1 << faults.saturating_sub(1).min(6))
            .min(MAX_STORE_FAULT_PAUSE);
        tracing::warn!(job = %id, error = %e, faults, pause_s = pause.as_secs(),
            "the store cannot be written: the job waits and is taken up again");
        // Shown as `queued` where the store takes the update; else it stays `running` until
        // it is taken up again.
        let _ = self.store.checkpoint(id);
        self.queue.pause(pause);
        while !self.queue.shutdown.load(Ordering::SeqCst) && self.store.check().is_err() {
            self.queue.pause(STORE_FAULT_PAUSE);
        }
    }

    fn run_job(
        &self,
        pool: &rayon::ThreadPool,
        faults: &Faults,
        job: &Waiting,
        cancel: &AtomicBool,
    ) -> Result<JobEnd, JobError> {
        let id = job.id.as_str();
        let Some((spec, status)) = self.store.spec(id)? else {
            return Ok(JobEnd::Ended);
        };
        if !status.is_unfinished() {
            return Ok(JobEnd::Ended);
        }
        let Some(crashes) = self.store.mark_running(id, self.queue.after_fault(id))? else {
            return Ok(JobEnd::Ended);
        };
        let started = Instant::now();
        if crashes >= MAX_CRASHES {
            return Err(JobError::CrashLoop(crashes));
        }
        if faults.job_panic {
            panic!("injected fault: job {id} panics");
        }
        let request: JobRequest = serde_json::from_str(&spec).map_err(JobError::Spec)?;
        let batch = request.into_batch(self.server_time_limit_s)?;
        let done: std::collections::HashSet<u64> = self.store.done_runs(id)?.into_iter().collect();
        let todo: Vec<usize> = (0..batch.total())
            .filter(|i| !done.contains(&(*i as u64)))
            .collect();
        tracing::info!(job = %id, total = batch.total(), resumed_from = done.len(), "job started");
        let turn_over = AtomicBool::new(false);
        let turn_from = Instant::now();
        let recorded = std::sync::atomic::AtomicUsize::new(0);
        // A run that could not be stored stops the job: the others would not be either.
        let store_failed = AtomicBool::new(false);
        let stop = || {
            if cancel.load(Ordering::SeqCst)
                || self.queue.shutdown.load(Ordering::SeqCst)
                || store_failed.load(Ordering::SeqCst)
            {
                return true;
            }
            // At least one run a turn: a job whose set-up outlasts the turn (a large spec
            // to read) would otherwise hand it over at once, and two such jobs for ever.
            if !turn_over.load(Ordering::SeqCst)
                && recorded.load(Ordering::SeqCst) > 0
                && self.queue.turn_over(&job.tenant, turn_from)
            {
                turn_over.store(true, Ordering::SeqCst);
            }
            turn_over.load(Ordering::SeqCst)
        };
        let store_errors = Mutex::new(Vec::new());
        run_each(pool, todo.len(), &stop, &|k| {
            let i = todo[k];
            let run_started = now_us();
            let row = catch_unwind(AssertUnwindSafe(|| {
                if faults.run_panic == Some(i) {
                    panic!("injected fault: run {i} panics");
                }
                if faults.run_abort == Some(i) {
                    // Once the server has said where it listens: a test reads that line first.
                    while !crate::LISTENING.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    tracing::error!("injected fault: run {i} aborts the server");
                    std::process::abort();
                }
                batch.run(i)
            }))
            .unwrap_or_else(|panic| batch.error_row(i, &panic_message(&*panic)));
            let run_finished = now_us();
            if cancel.load(Ordering::SeqCst) {
                return;
            }
            let stored = match faults.refused_row(i) {
                Some(e) => Err(e),
                None => self.store.insert_run(id, &row, run_started, run_finished),
            };
            match stored {
                Ok(()) => {
                    if recorded.fetch_add(1, Ordering::SeqCst) == 0 {
                        self.queue.clear_faults(id);
                    }
                    self.queue.runs_done.fetch_add(1, Ordering::Relaxed);
                    self.observer.run_finished(&row);
                }
                Err(e) => {
                    store_failed.store(true, Ordering::SeqCst);
                    store_errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(e)
                }
            }
        });
        let store_errors = store_errors.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = store_errors.into_iter().next() {
            return Err(JobError::RecordRun(e));
        }
        if cancel.load(Ordering::SeqCst) {
            tracing::info!(job = %id, "job cancelled");
            return Ok(JobEnd::Ended);
        }
        if self.queue.shutdown.load(Ordering::SeqCst) {
            // Back to `queued`: at the next start this is a resumption, not a crash.
            self.store.checkpoint(id)?;
            tracing::info!(job = %id, "job checkpointed for shutdown; it resumes at the next start");
            return Ok(JobEnd::Ended);
        }
        if turn_over.load(Ordering::SeqCst) && recorded.load(Ordering::SeqCst) < todo.len() {
            // Back to `queued` as at a shutdown: its next turn resumes it.
            self.store.checkpoint(id)?;
            tracing::info!(job = %id, tenant = job.tenant, "job gives its turn to another tenant's");
            return Ok(JobEnd::TurnOver);
        }
        // The result table a page of runs at a time (a row group each), as the result route
        // streams it: the whole job's rows at once took ~2 KB a run (210 MB at the end of a
        // 100,000-run job that had run in 50 MB). Incomplete, the file is not put in place.
        let schema = batch.table(&[]).map_err(JobError::ResultTable)?.schema();
        let mut file = commonsnet_datasets::TableFile::create(
            &self.store.result_path(id),
            schema,
            commonsnet_datasets::TableFormat::Parquet,
        )
        .map_err(JobError::WriteResult)?;
        let mut recorded = 0;
        for page in crate::store::run_pages(&*self.store, id, Some(0)) {
            let page = page?;
            recorded += page.len();
            if !page.is_empty() {
                let table = batch.table(&page).map_err(JobError::ResultTable)?;
                file.write(&table).map_err(JobError::WriteResult)?;
            }
        }
        if recorded != batch.total() {
            return Err(JobError::Incomplete {
                recorded,
                total: batch.total(),
            });
        }
        file.finish().map_err(JobError::WriteResult)?;
        if !self.store.finish(id, JobStatus::Done, None)? {
            // Cancelled while its table was written (and perhaps purged since): no row points
            // to the file, which would be left for good.
            let _ = std::fs::remove_file(self.store.result_path(id));
            tracing::info!(job = %id, "job cancelled while its result was written");
            return Ok(JobEnd::Ended);
        }
        tracing::info!(job = %id, ms = started.elapsed().as_millis() as u64, "job done");
        Ok(JobEnd::Ended)
    }
}

/// How a job's time with the runner ended.
enum JobEnd {
    /// Done, cancelled, no longer runnable, or checkpointed for a shutdown.
    Ended,
    /// It gave its turn to another tenant's job and waits for its next.
    TurnOver,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tenants take turns: the next job is the first of the waiting tenant whose last turn is
    /// oldest, a tenant's own jobs keep their order, and a job's turn is over only once it
    /// has lasted `turn` and another tenant waits.
    #[test]
    fn tenants_take_turns_and_keep_their_own_order() {
        let queue = JobQueue::new(8, Duration::ZERO);
        for (id, tenant) in [
            ("a1", "alice"),
            ("a2", "alice"),
            ("a3", "alice"),
            ("b1", "bob"),
        ] {
            queue.push(id.into(), tenant.into());
        }
        let next = || queue.next().map(|(w, _)| w.id).unwrap();
        assert_eq!(next(), "a1");
        assert_eq!(next(), "b1", "bob never had a turn");
        assert_eq!(next(), "a2");
        queue.push("b2".into(), "bob".into());
        queue.push("c1".into(), "carol".into());
        assert_eq!(
            next(),
            "c1",
            "carol never had a turn; bob's is older than alice's"
        );
        assert_eq!(next(), "b2");
        assert_eq!(next(), "a3");
        let now = Instant::now();
        assert!(!queue.turn_over("alice", now), "nobody waits");
        queue.push("a4".into(), "alice".into());
        assert!(!queue.turn_over("alice", now), "only alice's own job waits");
        queue.push("b3".into(), "bob".into());
        assert!(queue.turn_over("alice", now));
        // A job put back after its turn goes after the other tenants' and before its own
        // tenant's later jobs; it takes no slot of the bound.
        assert_eq!(next(), "b3", "bob's turn is older than alice's");
        let (a4, _) = queue.next().unwrap();
        assert_eq!(a4.id, "a4");
        queue.push("b4".into(), "bob".into());
        queue.push("a5".into(), "alice".into());
        queue.requeue(a4);
        assert_eq!(queue.depth(), 2, "b4 and a5; a4 started");
        assert_eq!(next(), "b4");
        assert_eq!(next(), "a4");
        assert_eq!(next(), "a5");
        let long = JobQueue::new(8, Duration::from_secs(3600));
        long.push("b1".into(), "bob".into());
        assert!(!long.turn_over("alice", now), "alice's turn lasts an hour");
    }

    /// A stored request's provenance without its scenarios is that of the whole request.
    #[test]
    fn provenance_of_a_stored_request_skips_nothing_it_says() {
        for spec in [
            json!({"scenarios": [{"resources": [], "needs": []}], "policies": ["greedy",
                {"objective": "cost"}], "replicates": 3, "seed": 7,
                "perturb": {"demand": 0.2}, "time_limit_s": 5, "explain": true}),
            json!({"generator": {"name": "urban", "count": 2, "timed": true}, "seed": 1}),
        ] {
            let text = spec.to_string();
            let whole = serde_json::from_str::<JobRequest>(&text)
                .unwrap()
                .into_batch(3.0)
                .unwrap()
                .provenance();
            assert_eq!(JobRequest::provenance_of(&text, 3.0).unwrap(), whole);
            assert!(whole["commonsnet.time_limit_s"] == "3", "{whole:?}");
        }
    }
}
