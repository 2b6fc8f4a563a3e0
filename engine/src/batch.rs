//! Batch runs (SPEC section 5, and the HTTP jobs of section 4): one (scenario, policy,
//! replicate) at a time, with seeded Monte Carlo perturbations, reported as one tidy row.
//!
//! Everything here is a pure function of its inputs and a 64-bit seed, so a batch gives the same
//! table bit for bit whatever the thread count or the order in which runs finish; only the
//! measured `solve_ms` differs between two executions.

use crate::explain::Reason;
use crate::graph::LinkBuilder;
use crate::model::{Fairness, Link, Need, Objective, Policy, Scenario, SolverChoice};
use crate::results::Report;
use crate::seeds::{perturb_seed, run_seed, PerturbStream};
use crate::solve::{try_solve_with, SolveOptions, Status};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// Kept importable from here for the benches and tests written against this path.
pub use crate::seeds::{derive_seed, SplitMix64};

/// Monte Carlo perturbations of a scenario (SPEC section 5), all relative and in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Perturbation {
    /// Each divisible need's demand is scaled by a factor uniform in `[1 - demand, 1 + demand]`
    /// (an indivisible need is one item, a drill or a bed for a family: it keeps its size),
    /// and the `use` of its given links with it.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub demand: f64,
    /// Each resource fails (is removed) with this probability.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub failures: f64,
    /// Each link's travel time is scaled by a factor uniform in `[1 - t, 1 + t]`. Rule-built
    /// links are then kept or made by the deadline rule with their new time (a slower draw
    /// loses a link, a faster one may bring one in); given links keep their pairs and take
    /// the new times.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub travel_time: f64,
}

impl Perturbation {
    pub fn is_none(&self) -> bool {
        self.demand == 0.0 && self.failures == 0.0 && self.travel_time == 0.0
    }

    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), BatchError> {
        for field in PerturbKind::ALL {
            let value = self.get(field);
            if !(0.0..=1.0).contains(&value) {
                return Err(BatchError::PerturbationOutOfRange { field, value });
            }
        }
        Ok(())
    }

    pub fn get(&self, kind: PerturbKind) -> f64 {
        match kind {
            PerturbKind::Demand => self.demand,
            PerturbKind::Failures => self.failures,
            PerturbKind::TravelTime => self.travel_time,
        }
    }

    pub fn set(&mut self, kind: PerturbKind, value: f64) {
        match kind {
            PerturbKind::Demand => self.demand = value,
            PerturbKind::Failures => self.failures = value,
            PerturbKind::TravelTime => self.travel_time = value,
        }
    }
}

/// The fields of a [`Perturbation`], spelled as in job requests and `--perturb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerturbKind {
    Demand,
    Failures,
    TravelTime,
}

impl PerturbKind {
    pub const ALL: [PerturbKind; 3] = [
        PerturbKind::Demand,
        PerturbKind::Failures,
        PerturbKind::TravelTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PerturbKind::Demand => "demand",
            PerturbKind::Failures => "failures",
            PerturbKind::TravelTime => "travel_time",
        }
    }
}

impl std::fmt::Display for PerturbKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PerturbKind {
    type Err = BatchError;

    fn from_str(s: &str) -> Result<Self, BatchError> {
        PerturbKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| BatchError::UnknownPerturbation(s.to_string()))
    }
}

/// What a batch refuses, named as its inputs spell it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("perturb.{field}: {value} is not in [0, 1]")]
    PerturbationOutOfRange { field: PerturbKind, value: f64 },
    #[error("unknown perturbation {0:?}: expected demand, failures or travel_time")]
    UnknownPerturbation(String),
    #[error(
        "unknown policy {0:?}: expected greedy, coverage, cost, maxmin, leximin, proportional, own or min_share=S"
    )]
    UnknownPolicy(String),
    #[error("min_share={0}: the share is a number in [0, 1]")]
    MinShareOutOfRange(String),
    /// A policy given to a batch that fails the validator's policy rules.
    #[error(transparent)]
    InvalidPolicy(#[from] crate::InvalidInput),
}

/// The scenario one replicate sees. Streams are keyed by need and resource position and by link
/// endpoints, so one entity's draw does not depend on how many others were drawn before it.
pub fn perturb(s: &Scenario, p: &Perturbation, seed: u64) -> Scenario {
    if p.is_none() {
        return s.clone();
    }
    let mut out = s.clone();
    if p.demand > 0.0 {
        // The factor each need's demand was scaled by: its links' `use` scale with it (a
        // link's `use` is what serving the need takes through it; left as it was, the
        // perturbation did nothing to a scenario whose links carry `use`).
        let mut scaled: std::collections::HashMap<&str, f64> = Default::default();
        for (i, n) in out.needs.iter_mut().enumerate() {
            let mut rng = SplitMix64::new(perturb_seed(seed, PerturbStream::Demand, i as u64));
            let f = rng.range(1.0 - p.demand, 1.0 + p.demand);
            if n.indivisible {
                continue;
            }
            for q in n.demand.values_mut() {
                *q *= f;
            }
            // A need must keep some demand: a factor of exactly 0 keeps the original.
            if n.demand.values().all(|&q| q <= 0.0) {
                n.demand = s.needs[i].demand.clone();
            } else {
                scaled.insert(s.needs[i].id.as_str(), f);
            }
        }
        if let Some(links) = &mut out.links {
            for l in links.iter_mut() {
                if let Some(&f) = scaled.get(l.need.as_str()) {
                    l.use_.values_mut().for_each(|q| *q *= f);
                }
            }
        }
    }
    if p.failures > 0.0 {
        let mut keep = Vec::with_capacity(out.resources.len());
        for i in 0..out.resources.len() {
            let mut rng = SplitMix64::new(perturb_seed(seed, PerturbStream::Failure, i as u64));
            keep.push(!rng.chance(p.failures));
        }
        let mut idx = 0;
        out.resources.retain(|_| {
            idx += 1;
            keep[idx - 1]
        });
        if let Some(links) = &mut out.links {
            let alive: std::collections::HashSet<&str> =
                out.resources.iter().map(|r| r.id.as_str()).collect();
            links.retain(|l| alive.contains(l.resource.as_str()));
        }
    }
    if p.travel_time > 0.0 {
        let noise = |r: &str, n: &str| {
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in r.bytes().chain([0]).chain(n.bytes()) {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            let mut rng = SplitMix64::new(perturb_seed(seed, PerturbStream::TravelTime, h));
            rng.range(1.0 - p.travel_time, 1.0 + p.travel_time)
        };
        match &mut out.links {
            Some(links) => {
                for l in links.iter_mut() {
                    if let Some(t) = &mut l.time {
                        *t *= noise(&l.resource, &l.need);
                    }
                }
            }
            None => {
                // Rule-built links become explicit, each with its own noisy time, and the
                // deadline rule of SPEC section 2 is applied with that time. The candidates
                // are built without deadlines: a link the nominal time misses may make it
                // with a faster draw (built with them, the noise only ever removed links).
                let open: Vec<Need> = out
                    .needs
                    .iter()
                    .map(|n| Need {
                        deadline: None,
                        ..n.clone()
                    })
                    .collect();
                let edges = LinkBuilder::new(&out.resources, &out.policy).build(&open);
                let mut links = Vec::with_capacity(edges.len());
                for e in edges {
                    let (r, n) = (&out.resources[e.resource()], &out.needs[e.need()]);
                    let time = e.time().map(|t| t * noise(&r.id, &n.id));
                    if let Some(deadline) = n.deadline {
                        if r.available_from.unwrap_or(0.0) + time.unwrap_or(0.0) > deadline {
                            continue;
                        }
                    }
                    links.push(Link {
                        resource: r.id.clone(),
                        need: n.id.clone(),
                        cost: e.cost,
                        time,
                        use_: Default::default(),
                    });
                }
                out.links = Some(links);
            }
        }
    }
    out
}

/// A named policy of the batch runner, applied on top of the scenario's own policy (its link
/// rules are kept). Spelled `greedy`, `coverage`, `cost`, `maxmin`, `leximin`,
/// `proportional`, `own` or `min_share=S` (the deprivation objective needs its breakpoints:
/// give it as a policy object).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NamedPolicy {
    Greedy,
    Coverage,
    Cost,
    Maxmin,
    Leximin,
    Proportional,
    /// The scenario's own policy.
    Own,
    /// Coverage with every group served at least this share, in [0, 1].
    MinShare(f64),
}

impl std::str::FromStr for NamedPolicy {
    type Err = BatchError;

    fn from_str(name: &str) -> Result<Self, BatchError> {
        Ok(match name {
            "greedy" => NamedPolicy::Greedy,
            "coverage" => NamedPolicy::Coverage,
            "cost" => NamedPolicy::Cost,
            "maxmin" => NamedPolicy::Maxmin,
            "leximin" => NamedPolicy::Leximin,
            "proportional" => NamedPolicy::Proportional,
            "own" => NamedPolicy::Own,
            other => match other.strip_prefix("min_share=") {
                Some(share) => match share.parse::<f64>() {
                    Ok(s) if (0.0..=1.0).contains(&s) => NamedPolicy::MinShare(s),
                    _ => return Err(BatchError::MinShareOutOfRange(share.to_string())),
                },
                None => return Err(BatchError::UnknownPolicy(other.to_string())),
            },
        })
    }
}

impl NamedPolicy {
    pub fn apply(self, base: &Policy) -> Policy {
        let mut p = base.clone();
        let (objective, fairness) = match self {
            NamedPolicy::Greedy => {
                p.solver = SolverChoice::Greedy;
                return p;
            }
            NamedPolicy::Own => return p,
            NamedPolicy::Coverage => (Objective::Coverage, Fairness::None),
            NamedPolicy::Cost => (Objective::Cost, Fairness::None),
            NamedPolicy::Maxmin => (Objective::Coverage, Fairness::Maxmin),
            NamedPolicy::Leximin => (Objective::Coverage, Fairness::Leximin),
            NamedPolicy::Proportional => (Objective::Proportional, Fairness::None),
            NamedPolicy::MinShare(s) => (Objective::Coverage, Fairness::MinShare(s)),
        };
        p.objective = objective;
        p.fairness = fairness;
        // Breakpoints belong to the deprivation objective only (the validator refuses them
        // under another).
        if objective != Objective::Deprivation {
            p.deprivation = None;
        }
        p
    }
}

/// The policy `name` (a [`NamedPolicy`]) over `base`.
pub fn named_policy(name: &str, base: &Policy) -> Result<Policy, BatchError> {
    Ok(name.parse::<NamedPolicy>()?.apply(base))
}

/// Which policy a run uses.
// A job holds one per policy it compares (a handful), so boxing the larger variant saves
// nothing worth an allocation and a `Box` in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySpec {
    /// A [`named_policy`] over the scenario's own policy.
    Named(String),
    /// A full policy replacing the scenario's own; `label` names it in the results.
    Given { label: String, policy: Policy },
}

impl PolicySpec {
    pub fn label(&self) -> &str {
        match self {
            PolicySpec::Named(n) => n,
            PolicySpec::Given { label, .. } => label,
        }
    }

    /// `scenario` under this spec's policy. Its rows were validated under its own policy, so
    /// they are checked against the run's again (a policy may allow more links, or finer
    /// starts, than they take): [`crate::scenario_with_policy`].
    pub fn fit(&self, scenario: &Scenario) -> Result<Scenario, BatchError> {
        let policy = self.resolve(&scenario.policy)?;
        crate::input::scenario_with_policy(scenario, policy).map_err(BatchError::InvalidPolicy)
    }

    /// The policy a run uses, given its scenario's own (`base`).
    pub fn resolve(&self, base: &Policy) -> Result<Policy, BatchError> {
        match self {
            PolicySpec::Named(n) => named_policy(n, base),
            // A `Policy` built outside the engine is only plain data: it passes the same
            // validator as a policy.json before it reaches a solve.
            // (JSON has no NaN or infinity, so those are refused here, before the round trip
            // would turn them into absent fields.)
            PolicySpec::Given { policy, .. } => {
                let min_share = match policy.fairness {
                    crate::model::Fairness::MinShare(s) => Some(s),
                    _ => None,
                };
                let numbers = [
                    ("cost_weight", Some(policy.cost_weight)),
                    ("max_distance_km", policy.max_distance_km),
                    ("speed_kmh", policy.speed_kmh),
                    ("cost_per_km", Some(policy.cost_per_km)),
                    ("time_limit_s", policy.time_limit_s),
                    ("mip_gap", Some(policy.mip_gap)),
                    ("fairness.min_share", min_share),
                ];
                if let Some((field, x)) = numbers
                    .iter()
                    .find_map(|(f, x)| x.filter(|v| !v.is_finite()).map(|v| (*f, v)))
                {
                    return Err(crate::InvalidInput::new(vec![crate::InputIssue {
                        table: "policy".into(),
                        row: None,
                        field: Some(field.into()),
                        message: format!("{x} is not a finite number"),
                    }])
                    .into());
                }
                Ok(crate::input::policy_from_value(
                    &crate::tables::policy_to_value(policy),
                )?)
            }
        }
    }
}

/// One run of a batch: which scenario, which policy, which replicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    pub scenario: usize,
    pub policy: usize,
    pub replicate: usize,
}

impl RunKey {
    /// Run `index` of `scenarios x replicates x policies`, the order of the result table
    /// (policies vary fastest, so the policies of one replicate sit side by side).
    pub fn from_index(index: usize, policies: usize, replicates: usize) -> RunKey {
        RunKey {
            scenario: index / (policies * replicates),
            replicate: index / policies % replicates,
            policy: index % policies,
        }
    }
}

/// What every run of a batch shares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchSettings {
    pub perturbation: Perturbation,
    /// Upper bound on each run's solver time (the policy's own limit applies when smaller).
    pub time_limit_s: Option<f64>,
    /// Explain every run's plan: its row counts the needs not served in full by reason.
    pub explain: bool,
}

/// Why a [`ScenarioSource`] could not make a scenario: each source has its own error type (a
/// generator's, a validator's), and the run's row keeps its message.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Where a batch's scenarios come from. A run asks for its scenario when it starts, so a
/// source may make them on demand (a generator, inline JSON) and a batch holds no more
/// scenarios than it has runs in flight.
pub trait ScenarioSource: Sync {
    /// How many scenarios.
    fn count(&self) -> usize;
    /// The label of scenario `index` in the result table (cheap: no scenario is built).
    fn label(&self, index: usize) -> String;
    /// Scenario `index`, built or borrowed; an error becomes the run's `error` row.
    fn scenario(&self, index: usize) -> Result<Cow<'_, Scenario>, SourceError>;
}

impl<T: ScenarioSource + ?Sized> ScenarioSource for Box<T> {
    fn count(&self) -> usize {
        (**self).count()
    }

    fn label(&self, index: usize) -> String {
        (**self).label(index)
    }

    fn scenario(&self, index: usize) -> Result<Cow<'_, Scenario>, SourceError> {
        (**self).scenario(index)
    }
}

/// Scenarios built beforehand, with their labels.
impl ScenarioSource for Vec<(String, Scenario)> {
    fn count(&self) -> usize {
        self.len()
    }

    fn label(&self, index: usize) -> String {
        self[index].0.clone()
    }

    fn scenario(&self, index: usize) -> Result<Cow<'_, Scenario>, SourceError> {
        Ok(Cow::Borrowed(&self[index].1))
    }
}

/// Most runs one `commonsnet simulate` call or Python `simulate`/`sweep` makes: each run's
/// row is held until the table is written.
pub const MAX_RUNS: usize = 10_000_000;

/// The refusal of a call of `scenarios x policies x replicates` runs past [`MAX_RUNS`]
/// (`None` within it); `seed` names the argument that splits a batch (`--seed`, `seed`).
pub fn too_many_runs(
    (scenarios, policies, replicates): (usize, usize, usize),
    total: usize,
    seed: &str,
) -> Option<String> {
    (total > MAX_RUNS).then(|| {
        format!(
            "{scenarios} scenario(s) x {policies} policies x {replicates} replicate(s) make more \
             than {MAX_RUNS} runs in one call: split the batch (one call per {seed}, say)"
        )
    })
}

/// A batch, ready to run: scenarios (with their labels) x policies x replicates.
pub struct Batch<S: ScenarioSource = Vec<(String, Scenario)>> {
    pub scenarios: S,
    pub policies: Vec<PolicySpec>,
    pub replicates: usize,
    pub seed: u64,
    pub settings: BatchSettings,
}

impl<S: ScenarioSource> Batch<S> {
    /// What a run table holds beside its rows so that it can be made again, as its schema's
    /// metadata (Arrow IPC and Parquet keep it; CSV has no place for it): the engine version,
    /// the batch seed a row's `seed` was derived from, the replicates, the policies in order
    /// (`{"label"}`, a given one with its `policy` whole), the perturbation, the time limit and `explain`. The scenarios
    /// are the rows' labels (a generator's name, scale and scenario seed).
    pub fn provenance(&self) -> std::collections::HashMap<String, String> {
        // In the batch's order, which the run index follows.
        let policies: Vec<serde_json::Value> = self
            .policies
            .iter()
            .map(|p| match p {
                PolicySpec::Named(label) => serde_json::json!({ "label": label }),
                PolicySpec::Given { label, policy } => {
                    serde_json::json!({ "label": label, "policy": policy })
                }
            })
            .collect();
        let s = &self.settings;
        [
            ("engine_version", crate::VERSION.to_string()),
            ("seed", self.seed.to_string()),
            ("replicates", self.replicates.to_string()),
            ("policies", serde_json::Value::Array(policies).to_string()),
            (
                "perturb",
                serde_json::to_string(&s.perturbation).unwrap_or_default(),
            ),
            (
                "time_limit_s",
                s.time_limit_s
                    .map_or_else(|| "null".into(), |t| t.to_string()),
            ),
            ("explain", s.explain.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("commonsnet.{k}"), v))
        .collect()
    }

    /// The run table of `rows`, with [`Batch::provenance`] as its schema's metadata.
    pub fn table(&self, rows: &[RunRow]) -> Result<RecordBatch, ArrowError> {
        let batch = rows_to_batch(rows)?;
        let schema = batch
            .schema()
            .as_ref()
            .clone()
            .with_metadata(self.provenance());
        batch.with_schema(Arc::new(schema))
    }

    /// Scenarios x policies x replicates (`usize::MAX` past it: callers bound it).
    pub fn total(&self) -> usize {
        self.scenarios
            .count()
            .saturating_mul(self.policies.len())
            .saturating_mul(self.replicates)
    }

    /// Run `index` (the order of [`RunKey::from_index`]); a pure function of the batch and the
    /// index, so runs may execute in any order, on any thread, and be resumed. Its scenario is
    /// made now, for this run only. Never panics: a failure of any kind (the scenario source's
    /// included) is a row with status `error`.
    pub fn run(&self, index: usize) -> RunRow {
        let k = RunKey::from_index(index, self.policies.len(), self.replicates);
        let seed = run_seed(self.seed, k.scenario, k.replicate);
        let policy = &self.policies[k.policy];
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            let label = self.scenarios.label(k.scenario);
            match self.scenarios.scenario(k.scenario) {
                Ok(scenario) => run_one(
                    index as u64,
                    &scenario,
                    &label,
                    policy,
                    k.replicate as u64,
                    seed,
                    &self.settings,
                ),
                Err(e) => {
                    let mut row =
                        RunRow::failed(index as u64, label, policy, k.replicate as u64, seed);
                    row.error = Some(format!("scenario: {e}"));
                    row
                }
            }
        }));
        attempt.unwrap_or_else(|panic| self.error_row(index, &panic_message(&*panic)))
    }

    /// The row of run `index` when it failed outside the solver (`error` says how).
    pub fn error_row(&self, index: usize, error: &str) -> RunRow {
        let k = RunKey::from_index(index, self.policies.len(), self.replicates);
        let seed = run_seed(self.seed, k.scenario, k.replicate);
        let label = catch_unwind(AssertUnwindSafe(|| self.scenarios.label(k.scenario)))
            .unwrap_or_else(|_| format!("scenario-{}", k.scenario + 1));
        let mut row = RunRow::failed(
            index as u64,
            label,
            &self.policies[k.policy],
            k.replicate as u64,
            seed,
        );
        row.error = Some(format!("internal error: {error}"));
        row
    }
}

/// The text of a panic's payload.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// Run `work(0)`, ..., `work(count - 1)` on `pool`, one at a time per thread of the pool: each
/// thread takes the next index when its previous one is done, until `stop()` says so. At most
/// `pool.current_num_threads()` items are in progress at once, and a solve inside `work` uses
/// the same pool (`SolveOptions::threads: None`), so no other threads are started.
///
/// (A parallel iterator over the runs would not bound them: a thread that waits inside one
/// run's parallel solve takes other queued work meanwhile, including whole runs, which then
/// sit on its stack and inflate the first run's measured time.)
pub fn run_each(
    pool: &rayon::ThreadPool,
    count: usize,
    stop: &(dyn Fn() -> bool + Sync),
    work: &(dyn Fn(usize) + Sync),
) {
    let next = AtomicUsize::new(0);
    pool.broadcast(|_| loop {
        if stop() {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return;
        }
        work(i);
    });
}

/// One row of a batch result table: the run, its status and the summary metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRow {
    pub run: u64,
    pub scenario: String,
    pub policy: String,
    pub replicate: u64,
    /// The seed of this replicate's perturbations (shared by all policies, so that they are
    /// compared on the same perturbed scenario): 0 to 2^64 - 1, exact in the Arrow and
    /// Parquet results (JSON numbers past 2^53 lose digits in JavaScript).
    #[cfg_attr(feature = "openapi", schema(format = "uint64"))]
    pub seed: u64,
    /// `optimal`, `feasible` (greedy), `infeasible`, `time_limit`, or `error`.
    pub status: Status,
    pub error: Option<String>,
    pub objective: Option<f64>,
    pub coverage_value: Option<f64>,
    pub cost: Option<f64>,
    pub coverage_ratio: Option<f64>,
    pub min_group_ratio: Option<f64>,
    pub jain_index: Option<f64>,
    pub gini: Option<f64>,
    pub atkinson_0_5: Option<f64>,
    /// `(V_eff - V) / V_eff` when the run's policy has fairness (see `Summary`).
    pub price_of_fairness: Option<f64>,
    pub needs_served: Option<u64>,
    pub needs_partly_served: Option<u64>,
    pub mean_access_time_h: Option<f64>,
    pub solver: Option<String>,
    pub solve_ms: Option<f64>,
    #[serde(flatten)]
    pub metrics: RunMetrics,
    /// With `explain`: how many needs go short for each reason.
    #[serde(flatten)]
    pub why: WhyCounts,
}

/// A run's needs not served in full, counted by [`Reason`] (all null unless the batch
/// explains its plans).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhyCounts {
    pub why_min_fill: Option<u64>,
    pub why_infeasible: Option<u64>,
    pub why_time_limit: Option<u64>,
    pub why_time: Option<u64>,
    pub why_no_candidate: Option<u64>,
    pub why_fairness: Option<u64>,
    pub why_capacity: Option<u64>,
    pub why_objective: Option<u64>,
}

impl WhyCounts {
    fn of(rows: &[crate::explain::Why]) -> WhyCounts {
        let count = |r: Reason| Some(rows.iter().filter(|w| w.reason == r).count() as u64);
        WhyCounts {
            why_min_fill: count(Reason::MinFill),
            why_infeasible: count(Reason::Infeasible),
            why_time_limit: count(Reason::TimeLimit),
            why_time: count(Reason::Time),
            why_no_candidate: count(Reason::NoCandidate),
            why_fairness: count(Reason::Fairness),
            why_capacity: count(Reason::Capacity),
            why_objective: count(Reason::Objective),
        }
    }

    /// `(column, value)` in table order.
    fn columns(&self) -> [(&'static str, Option<u64>); 8] {
        [
            ("why_min_fill", self.why_min_fill),
            ("why_infeasible", self.why_infeasible),
            ("why_time_limit", self.why_time_limit),
            ("why_time", self.why_time),
            ("why_no_candidate", self.why_no_candidate),
            ("why_fairness", self.why_fairness),
            ("why_capacity", self.why_capacity),
            ("why_objective", self.why_objective),
        ]
    }
}

impl RunRow {
    /// A row with status `error` and nothing measured (the caller sets `error`).
    fn failed(
        run: u64,
        scenario: String,
        policy: &PolicySpec,
        replicate: u64,
        seed: u64,
    ) -> RunRow {
        RunRow {
            run,
            scenario,
            policy: policy.label().to_string(),
            replicate,
            seed,
            status: Status::Error,
            error: None,
            objective: None,
            coverage_value: None,
            cost: None,
            coverage_ratio: None,
            min_group_ratio: None,
            jain_index: None,
            gini: None,
            atkinson_0_5: None,
            price_of_fairness: None,
            needs_served: None,
            needs_partly_served: None,
            mean_access_time_h: None,
            solver: None,
            solve_ms: None,
            metrics: RunMetrics::default(),
            why: WhyCounts::default(),
        }
    }
}

/// Metrics the pilots asked for beyond the summary (issue "datasets, batch simulations").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct RunMetrics {
    /// 90th percentile of the needs' access time (share-weighted mean of their matches' known
    /// times), over needs with some service and a known time.
    pub access_time_p90_h: Option<f64>,
    /// Share of all needs served in full with every match's time known and <= 1 hour; null
    /// when the scenario knows no travel time (no link time, or no speed and coordinates).
    pub served_within_1h: Option<f64>,
    /// Mean of `used / capacity` over resources and dimensions with capacity.
    pub utilisation: Option<f64>,
    /// Value served per unit of capacity offered (`V / sum of all capacities`).
    pub value_per_capacity: Option<f64>,
    /// Resources with at least one match.
    pub resources_used: Option<u64>,
    /// Resources needed if nothing were shared, every need served by resources of its own:
    /// for each need served, its served amount of each dimension over the largest capacity of
    /// a resource of its kind, rounded up, the most over dimensions (at least 1).
    pub resources_unshared: Option<u64>,
    /// `resources_unshared - resources_used`.
    pub duplication_avoided: Option<i64>,
}

/// Whether the scenario knows travel times (a link's time, or a speed and coordinates): where
/// it does, `served_within_1h` is a share of all needs, 0 when nothing is served. Asked of the
/// scenario before its perturbation, where failed resources have taken their links along.
pub fn times_known(s: &Scenario) -> bool {
    match &s.links {
        Some(links) => links.iter().any(|l| l.time.is_some()),
        None => {
            s.policy.speed_kmh.is_some()
                && s.needs.iter().any(|n| n.lat.is_some())
                && s.resources.iter().any(|x| x.lat.is_some())
        }
    }
}

/// The metrics of one solved scenario; `times_known` is [`times_known`] of the scenario as
/// given (with nothing served, every resource failed, the share is 0, not missing, or a
/// policy's mean would leave such runs out).
pub fn run_metrics(s: &Scenario, r: &Report, times_known: bool) -> RunMetrics {
    use std::collections::{BTreeMap, HashMap};
    let need_ix: HashMap<&str, usize> = s
        .needs
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    // Per need: (sum share*time, sum share over known times, all known and <= 1 h).
    let mut time = vec![(0.0, 0.0, true); s.needs.len()];
    let mut used_res = std::collections::HashSet::new();
    let mut served: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for a in &r.allocations {
        let ni = need_ix[a.need.as_str()];
        used_res.insert(a.resource.as_str());
        match a.time {
            Some(t) => {
                time[ni].0 += a.share * t;
                time[ni].1 += a.share;
                time[ni].2 &= t <= 1.0;
            }
            None => time[ni].2 = false,
        }
        let e = served.entry(ni).or_insert_with(|| vec![0.0; r.dims.len()]);
        for (d, v) in a.amounts.iter().enumerate() {
            e[d] += v;
        }
    }
    let mut per_need: Vec<f64> = time
        .iter()
        .filter(|t| t.1 > 0.0)
        .map(|t| t.0 / t.1)
        .collect();
    per_need.sort_by(f64::total_cmp);
    let access_time_p90_h = (!per_need.is_empty())
        .then(|| per_need[((per_need.len() - 1) as f64 * 0.9).round() as usize]);
    let served_within_1h = (times_known && !s.needs.is_empty()).then(|| {
        let ok = r
            .needs
            .iter()
            .zip(&time)
            .filter(|(n, t)| n.coverage >= 1.0 - 1e-6 && t.1 > 0.0 && t.2)
            .count();
        ok as f64 / s.needs.len() as f64
    });
    let utils: Vec<f64> = r
        .resources
        .iter()
        .flat_map(|x| x.utilisation.iter().flatten().copied())
        .collect();
    let utilisation = (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64);
    let total_cap: f64 = s.resources.iter().flat_map(|x| x.capacity.values()).sum();
    let value_per_capacity = (total_cap > 0.0).then(|| r.summary.coverage_value / total_cap);
    // Largest capacity per (kind, dimension).
    let mut largest: HashMap<(&str, usize), f64> = HashMap::new();
    for res in &s.resources {
        for (d, dim) in r.dims.iter().enumerate() {
            let c = res.capacity.get(dim).copied().unwrap_or(0.0);
            let e = largest.entry((res.kind.as_str(), d)).or_insert(0.0);
            *e = e.max(c);
        }
    }
    let mut unshared = 0u64;
    for (ni, amounts) in &served {
        let kind = s.needs[*ni].kind.as_str();
        let mut need = 1u64;
        for (d, v) in amounts.iter().enumerate() {
            let cap = largest.get(&(kind, d)).copied().unwrap_or(0.0);
            if *v > 1e-9 && cap > 0.0 {
                need = need.max((v / cap - 1e-9).ceil() as u64);
            }
        }
        unshared += need;
    }
    RunMetrics {
        access_time_p90_h,
        served_within_1h,
        utilisation,
        value_per_capacity,
        resources_used: Some(used_res.len() as u64),
        resources_unshared: Some(unshared),
        duplication_avoided: Some(unshared as i64 - used_res.len() as i64),
    }
}

/// Run one (scenario, policy, replicate). Never panics: a failure of any kind, a panic in a
/// solver included, becomes a row with status `error`, so one bad run never aborts a batch.
pub fn run_one(
    run: u64,
    scenario: &Scenario,
    scenario_label: &str,
    policy: &PolicySpec,
    replicate: u64,
    seed: u64,
    settings: &BatchSettings,
) -> RunRow {
    let mut row = RunRow::failed(run, scenario_label.to_string(), policy, replicate, seed);
    let s = match policy.fit(scenario) {
        Ok(s) => s,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let known = times_known(&s);
        let s = perturb(&s, &settings.perturbation, seed);
        // The caller's pool: a batch runner sizes one pool for all its runs (see `run_each`).
        let opts = SolveOptions {
            threads: None,
            time_limit_s: settings.time_limit_s,
            ..SolveOptions::default()
        };
        let outcome = try_solve_with(&s, &opts)?;
        let report = if settings.explain {
            Report::explained(&outcome)
        } else {
            Report::new(&outcome)
        };
        let metrics = if report.summary.objective.is_some() {
            run_metrics(&s, &report, known)
        } else {
            RunMetrics::default()
        };
        let why = report.why.as_deref().map(WhyCounts::of).unwrap_or_default();
        Ok::<_, crate::solve::SolveError>((report.summary, metrics, why))
    }));
    match result {
        Ok(Err(e)) => row.error = Some(e.to_string()),
        Ok(Ok((sum, metrics, why))) => {
            row.metrics = metrics;
            row.why = why;
            row.status = sum.status;
            row.objective = sum.objective;
            if sum.objective.is_some() {
                row.coverage_value = Some(sum.coverage_value);
                row.cost = Some(sum.cost);
                row.coverage_ratio = Some(sum.coverage_ratio);
                row.min_group_ratio = Some(sum.min_group_ratio);
                row.jain_index = Some(sum.jain_index);
                row.gini = Some(sum.gini);
                row.atkinson_0_5 = Some(sum.atkinson_0_5);
                row.price_of_fairness = sum.price_of_fairness;
                row.needs_served = Some(sum.needs_served as u64);
                row.needs_partly_served = Some(sum.needs_partly_served as u64);
                row.mean_access_time_h = sum.mean_access_time_h;
            }
            row.error = sum.infeasibility.map(|i| i.message);
            row.solver = Some(sum.solver.to_string());
            row.solve_ms = Some(sum.solve_ms);
        }
        Err(panic) => {
            row.error = Some(format!("internal error: {}", panic_message(&*panic)));
        }
    }
    row
}

/// The batch result table: one row per run, in run order.
pub fn rows_to_batch(rows: &[RunRow]) -> Result<RecordBatch, ArrowError> {
    fn f64s(rows: &[RunRow], f: impl Fn(&RunRow) -> Option<f64>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    }
    fn u64s(rows: &[RunRow], f: impl Fn(&RunRow) -> Option<u64>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<UInt64Array>())
    }
    fn strs(rows: &[RunRow], f: impl Fn(&RunRow) -> Option<&str>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    }
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("run", u64s(rows, |r| Some(r.run))),
        ("scenario", strs(rows, |r| Some(&r.scenario))),
        ("policy", strs(rows, |r| Some(&r.policy))),
        ("replicate", u64s(rows, |r| Some(r.replicate))),
        ("seed", u64s(rows, |r| Some(r.seed))),
        ("status", strs(rows, |r| Some(r.status.as_str()))),
        ("error", strs(rows, |r| r.error.as_deref())),
        ("objective", f64s(rows, |r| r.objective)),
        ("coverage_value", f64s(rows, |r| r.coverage_value)),
        ("cost", f64s(rows, |r| r.cost)),
        ("coverage_ratio", f64s(rows, |r| r.coverage_ratio)),
        ("min_group_ratio", f64s(rows, |r| r.min_group_ratio)),
        ("jain_index", f64s(rows, |r| r.jain_index)),
        ("gini", f64s(rows, |r| r.gini)),
        ("atkinson_0_5", f64s(rows, |r| r.atkinson_0_5)),
        ("price_of_fairness", f64s(rows, |r| r.price_of_fairness)),
        ("needs_served", u64s(rows, |r| r.needs_served)),
        ("needs_partly_served", u64s(rows, |r| r.needs_partly_served)),
        ("mean_access_time_h", f64s(rows, |r| r.mean_access_time_h)),
        ("solver", strs(rows, |r| r.solver.as_deref())),
        ("solve_ms", f64s(rows, |r| r.solve_ms)),
        (
            "access_time_p90_h",
            f64s(rows, |r| r.metrics.access_time_p90_h),
        ),
        (
            "served_within_1h",
            f64s(rows, |r| r.metrics.served_within_1h),
        ),
        ("utilisation", f64s(rows, |r| r.metrics.utilisation)),
        (
            "value_per_capacity",
            f64s(rows, |r| r.metrics.value_per_capacity),
        ),
        ("resources_used", u64s(rows, |r| r.metrics.resources_used)),
        (
            "resources_unshared",
            u64s(rows, |r| r.metrics.resources_unshared),
        ),
        (
            "duplication_avoided",
            Arc::new(
                rows.iter()
                    .map(|r| r.metrics.duplication_avoided)
                    .collect::<Int64Array>(),
            ),
        ),
    ];
    for (k, (name, _)) in WhyCounts::default().columns().into_iter().enumerate() {
        cols.push((name, u64s(rows, |r| r.why.columns()[k].1)));
    }
    let fields: Vec<Field> = cols
        .iter()
        .map(|(name, col)| {
            let nullable = !matches!(
                *name,
                "run" | "scenario" | "policy" | "replicate" | "seed" | "status"
            );
            Field::new(*name, col.data_type().clone(), nullable)
        })
        .collect();
    debug_assert!(fields.iter().all(|f| f.data_type() != &DataType::Null));
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|c| c.1).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_table_keeps_its_schema() {
        use DataType::{Float64 as F, Int64 as I, UInt64 as U, Utf8 as S};
        // (column, type, nullable): what readers of published run tables rely on.
        let want = [
            ("run", U, false),
            ("scenario", S, false),
            ("policy", S, false),
            ("replicate", U, false),
            ("seed", U, false),
            ("status", S, false),
            ("error", S, true),
            ("objective", F, true),
            ("coverage_value", F, true),
            ("cost", F, true),
            ("coverage_ratio", F, true),
            ("min_group_ratio", F, true),
            ("jain_index", F, true),
            ("gini", F, true),
            ("atkinson_0_5", F, true),
            ("price_of_fairness", F, true),
            ("needs_served", U, true),
            ("needs_partly_served", U, true),
            ("mean_access_time_h", F, true),
            ("solver", S, true),
            ("solve_ms", F, true),
            ("access_time_p90_h", F, true),
            ("served_within_1h", F, true),
            ("utilisation", F, true),
            ("value_per_capacity", F, true),
            ("resources_used", U, true),
            ("resources_unshared", U, true),
            ("duplication_avoided", I, true),
            ("why_min_fill", U, true),
            ("why_infeasible", U, true),
            ("why_time_limit", U, true),
            ("why_time", U, true),
            ("why_no_candidate", U, true),
            ("why_fairness", U, true),
            ("why_capacity", U, true),
            ("why_objective", U, true),
        ];
        let mut a = RunRow::failed(3, "s".into(), &PolicySpec::Named("cost".into()), 1, 9);
        a.error = Some("why".into());
        let mut b = a.clone();
        b.status = Status::Optimal;
        b.error = None;
        b.objective = Some(2.5);
        b.needs_served = Some(4);
        b.metrics.duplication_avoided = Some(-2);
        let t = rows_to_batch(&[a, b]).unwrap();
        let got: Vec<(&str, DataType, bool)> = t
            .schema_ref()
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
            .collect();
        assert_eq!(got, want);
        assert!(t.schema_ref().metadata().is_empty());
        assert!(t
            .schema_ref()
            .fields()
            .iter()
            .all(|f| f.metadata().is_empty()));
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
        let col = |name: &str| t.column_by_name(name).unwrap().clone();
        assert_eq!(col("run").as_primitive::<UInt64Type>().values(), &[3, 3]);
        let status = col("status");
        assert_eq!(status.as_string::<i32>().value(1), "optimal");
        let error = col("error");
        assert_eq!(
            (error.as_string::<i32>().value(0), error.is_null(1)),
            ("why", true)
        );
        let objective = col("objective");
        assert!(objective.is_null(0));
        assert_eq!(objective.as_primitive::<Float64Type>().value(1), 2.5);
        let dup = col("duplication_avoided");
        assert_eq!(dup.as_primitive::<Int64Type>().value(1), -2);
        assert_eq!(rows_to_batch(&[]).unwrap().num_rows(), 0);
    }

    /// A run's policy is held to the rows as the scenario's own was: a `slot_h` that gives a
    /// need's window more starts than `max_starts` is an error row naming the need's field
    /// (the run allocated 1.1 GB of starts for a generated scenario before), and the same
    /// rows under their own policy solve.
    #[test]
    fn a_runs_policy_is_checked_against_the_rows() {
        let s = crate::scenario_from_value(&serde_json::json!({
            "resources": [{"id": "r", "kind": "tool", "capacity": {"loans": 1}}],
            "needs": [{"id": "n", "kind": "tool", "demand": {"loans": 1}, "duration_h": 1,
                       "deadline": 10}],
            "policy": {"reusable": ["loans"]}}))
        .unwrap();
        let fine = crate::input::policy_from_value(
            &serde_json::json!({"reusable": ["loans"], "slot_h": 0.001}),
        )
        .unwrap();
        let settings = BatchSettings::default();
        let given = PolicySpec::Given {
            label: "fine".into(),
            policy: fine,
        };
        let row = run_one(0, &s, "s", &given, 0, 1, &settings);
        assert_eq!(row.status, Status::Error);
        let e = row.error.unwrap();
        assert!(
            e.contains("needs[0].deadline") && e.contains("policy.max_starts"),
            "{e}"
        );
        let own = run_one(
            0,
            &s,
            "s",
            &PolicySpec::Named("own".into()),
            0,
            1,
            &settings,
        );
        assert_eq!((own.status, own.error), (Status::Optimal, None));
    }

    /// A need's demand and its links' `use` scale together (the use was left as it was, so
    /// a scenario whose links carry `use` saw no demand perturbation at all).
    #[test]
    fn demand_perturbation_scales_link_use() {
        let s = crate::scenario_from_value(&serde_json::json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1}}],
            "needs": [
                {"id": "a", "kind": "k", "demand": {"u": 2}},
                {"id": "b", "kind": "k", "demand": {"u": 2}, "indivisible": true}],
            "links": [
                {"resource": "r", "need": "a", "use": {"u": 2}},
                {"resource": "r", "need": "b", "use": {"u": 3}}]}))
        .unwrap();
        let mut p = Perturbation::default();
        p.set(PerturbKind::Demand, 0.5);
        let mut values = Vec::new();
        for seed in 0..20 {
            let out = perturb(&s, &p, seed);
            let links = out.links.as_ref().unwrap();
            let f = out.needs[0].demand["u"] / 2.0;
            assert!((0.5..=1.5).contains(&f), "{f}");
            assert_eq!(links[0].use_["u"], 2.0 * f);
            // An indivisible need keeps its size, and its link its use.
            assert_eq!(out.needs[1].demand["u"], 2.0);
            assert_eq!(links[1].use_["u"], 3.0);
            let run = crate::solve::solve(&out);
            values.push(crate::Report::new(&run).summary.coverage_value);
        }
        // The served value follows the draws (it was 0.5 in every replicate).
        values.sort_by(f64::total_cmp);
        values.dedup();
        assert!(values.len() > 10, "{values:?}");
    }

    #[test]
    fn policy_and_perturbation_names() {
        let base = Policy::default();
        for (name, want) in [
            ("greedy", NamedPolicy::Greedy),
            ("own", NamedPolicy::Own),
            ("maxmin", NamedPolicy::Maxmin),
            ("min_share=0.25", NamedPolicy::MinShare(0.25)),
        ] {
            assert_eq!(name.parse::<NamedPolicy>().unwrap(), want);
        }
        assert_eq!(named_policy("own", &base).unwrap(), base);
        let p = named_policy("leximin", &base).unwrap();
        assert_eq!(
            (p.objective, p.fairness),
            (Objective::Coverage, Fairness::Leximin)
        );
        let p = named_policy("proportional", &base).unwrap();
        assert_eq!(
            (p.objective, p.fairness),
            (Objective::Proportional, Fairness::None)
        );
        let p = named_policy("min_share=0.5", &base).unwrap();
        assert_eq!(p.fairness, Fairness::MinShare(0.5));
        for (bad, share) in [
            ("min_share=2", "2"),
            ("min_share=nan", "nan"),
            ("min_share=", ""),
        ] {
            assert_eq!(
                named_policy(bad, &base).unwrap_err().to_string(),
                format!("min_share={share}: the share is a number in [0, 1]")
            );
        }
        for bad in ["lucky", ""] {
            assert_eq!(
                named_policy(bad, &base).unwrap_err().to_string(),
                format!(
                    "unknown policy {bad:?}: expected greedy, coverage, cost, maxmin, leximin, \
                     proportional, own or min_share=S"
                )
            );
        }
        for k in PerturbKind::ALL {
            assert_eq!(k.name().parse::<PerturbKind>().unwrap(), k);
        }
        let mut p = Perturbation::default();
        p.set(PerturbKind::TravelTime, 1.5);
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "perturb.travel_time: 1.5 is not in [0, 1]"
        );
    }
}
