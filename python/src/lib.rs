//! `commonsnet._commonsnet`: the engine for Python (SPEC section 4 "Python"). Tables cross the
//! boundary through the Arrow C data interface (`arrow-pyarrow`): input as any object with
//! `__arrow_c_stream__` (pyarrow, polars, pandas >= 2.2), read by the engine's table reader
//! from Python's own buffers (no copy of them, no JSON or IPC bytes; the reader then builds the
//! model, as it does for files), and output as pyarrow record batches over the engine's
//! buffers. The Python package (`commonsnet/`) wraps these functions; this module's contract
//! with it:
//!
//! - every call releases the GIL while the engine works;
//! - every error is a Python exception of `commonsnet.errors` (`InvalidScenario` with its
//!   table/row/field details, `InvalidArgument` for arguments that are not a scenario's), and a
//!   panic inside the engine is caught here and raised as `EngineError`, never unwinding into
//!   Python.

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use commonsnet_datasets::generate::{Clock, Generated, Generator};
use commonsnet_engine::batch::{
    run_each, Batch, BatchSettings, PerturbKind, Perturbation, PolicySpec, RunRow, ScenarioSource,
};
use commonsnet_engine::input::InvalidInput;
use commonsnet_engine::{Report, Scenario, SolveOptions, MAX_THREADS};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Mutex;
use std::time::Duration;

/// Why a call failed, before it becomes a Python exception (with the GIL held).
enum Failure {
    Invalid(InvalidInput),
    /// Bad arguments that are not a scenario's (an unknown generator, a scale out of range).
    Argument(String),
    Engine(String),
    /// An exception Python raised while the engine worked (a signal handler's
    /// `KeyboardInterrupt`), raised as it is.
    Python(PyErr),
}

impl Failure {
    fn into_py(self, py: Python<'_>) -> PyErr {
        let raise = |class: &str, args: Vec<Py<PyAny>>| -> PyErr {
            let made = py
                .import("commonsnet.errors")
                .and_then(|m| m.getattr(class))
                .and_then(|c| c.call1(pyo3::types::PyTuple::new(py, args)?));
            match made {
                Ok(e) => PyErr::from_value(e),
                Err(e) => e,
            }
        };
        match self {
            Failure::Invalid(e) => {
                let details = PyList::empty(py);
                for i in &e.issues {
                    let d = pyo3::types::PyDict::new(py);
                    let _ = d.set_item("table", &i.table);
                    let _ = d.set_item("row", i.row);
                    let _ = d.set_item("field", i.field.as_deref());
                    let _ = d.set_item("message", &i.message);
                    let _ = details.append(d);
                }
                let msg = PyString::new(py, &e.to_string()).into_any().unbind();
                let Ok(unlisted) = e.unlisted.into_pyobject(py);
                let unlisted = unlisted.into_any().unbind();
                raise(
                    "InvalidScenario",
                    vec![msg, details.into_any().unbind(), unlisted],
                )
            }
            Failure::Argument(m) => raise(
                "InvalidArgument",
                vec![PyString::new(py, &m).into_any().unbind()],
            ),
            Failure::Engine(m) => raise(
                "EngineError",
                vec![PyString::new(py, &m).into_any().unbind()],
            ),
            Failure::Python(e) => e,
        }
    }
}

/// Run `f` without the GIL, with a panic caught and reported as an [`Failure::Engine`].
fn guarded<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, Failure> + Send) -> PyResult<T> {
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
            Err(Failure::Engine(format!(
                "the engine failed (a bug, please report it): {}",
                commonsnet_engine::batch::panic_message(p.as_ref())
            )))
        })
    })
    .map_err(|f| f.into_py(py))
}

fn engine_err(e: impl std::fmt::Display) -> Failure {
    Failure::Engine(e.to_string())
}

/// All record batches of an Arrow stream (any `__arrow_c_stream__` object) given as the table
/// `what`. A stream that is not one of record batches (a pyarrow ChunkedArray, a polars
/// Series: one column without its name) or that fails while read is an `InvalidArgument`
/// naming the table.
fn read_stream(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<RecordBatch>> {
    let py = obj.py();
    let not_a_table = |e: &dyn std::fmt::Display| {
        Failure::Argument(format!(
            "{what}: not a table (a stream of record batches with named columns: a pyarrow \
             Table, a polars or pandas DataFrame): {e}"
        ))
        .into_py(py)
    };
    let reader = arrow_array::ffi_stream::ArrowArrayStreamReader::from_pyarrow_bound(obj)
        .map_err(|e| not_a_table(&e))?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| {
        Failure::Argument(format!("{what}: reading its Arrow stream: {e}")).into_py(py)
    })
}

/// What `solve` hands back to Python: the summary as JSON text, and the result tables.
type Solved = (
    String,
    RecordBatch,
    RecordBatch,
    RecordBatch,
    Option<RecordBatch>,
);

fn threads_arg(threads: Option<usize>) -> Result<Option<usize>, Failure> {
    match threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => Err(Failure::Argument(format!(
            "threads must be a whole number in [1, {MAX_THREADS}], not {n}"
        ))),
        t => Ok(t),
    }
}

/// The threads of a solve: the caller's, else the policy's, else one per core, so that the
/// engine always builds a pool for the call. `None` would run it on rayon's global pool,
/// whose threads a child forked after the parent solved (`multiprocessing` on Linux) does not
/// have: its solve waited for them forever.
fn solve_threads(s: &Scenario, threads: Option<usize>) -> Result<usize, Failure> {
    Ok(threads_arg(threads)?
        .or(s.policy().threads)
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        }))
}

/// Solve `s` on another thread while this one watches for Ctrl-C ([`watch_signals`]): a
/// `KeyboardInterrupt` calls the solve off (HiGHS stops at its next iteration) and is raised
/// once the solve has returned.
fn solve_scenario(s: &Scenario, explain: bool, threads: Option<usize>) -> Result<Solved, Failure> {
    let cancel = commonsnet_engine::Cancel::new();
    let opts = SolveOptions {
        threads: Some(solve_threads(s, threads)?),
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    let mut solved = None;
    let interrupted = watch_signals(&|| cancel.cancel(), || {
        solved = Some(commonsnet_engine::solve::try_solve_with(s, &opts));
    });
    if let Some(e) = interrupted {
        return Err(Failure::Python(e));
    }
    let outcome = solved
        .ok_or_else(|| Failure::Engine("the solve did not finish".into()))?
        .map_err(engine_err)?;
    let report = if explain {
        Report::explained(&outcome)
    } else {
        Report::new(&outcome)
    };
    let t = report.tables().map_err(engine_err)?;
    let summary = serde_json::to_string(&report.summary_json()).map_err(engine_err)?;
    Ok((summary, t.allocations, t.needs, t.resources, t.why))
}

fn solved_to_py(py: Python<'_>, s: Solved) -> PyResult<Bound<'_, PyAny>> {
    let (summary, a, n, r, w) = s;
    let why = match w {
        Some(w) => w.to_pyarrow(py)?,
        None => py.None().into_bound(py),
    };
    (
        summary,
        a.to_pyarrow(py)?,
        n.to_pyarrow(py)?,
        r.to_pyarrow(py)?,
        why,
    )
        .into_pyobject(py)
        .map(|t| t.into_any())
}

/// Solve the scenario `read` makes ([`solve_scenario`], both without the GIL), handed to Python
/// as [`solved_to_py`] does.
fn solve_read<'py>(
    py: Python<'py>,
    explain: bool,
    threads: Option<usize>,
    read: impl FnOnce() -> Result<Scenario, Failure> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let solved = guarded(py, || solve_scenario(&read()?, explain, threads))?;
    solved_to_py(py, solved)
}

/// Solve a scenario given as JSON text (SPEC section 3). Returns (summary JSON, allocations,
/// needs, resources, why or None) with the tables as pyarrow record batches.
#[pyfunction]
#[pyo3(signature = (text, explain=false, threads=None))]
fn solve_json<'py>(
    py: Python<'py>,
    text: &str,
    explain: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    solve_read(py, explain, threads, || {
        commonsnet_engine::input::scenario_from_json_str(text).map_err(Failure::Invalid)
    })
}

/// Validate a scenario given as JSON text without solving it: raises what [`solve_json`]
/// raises for input it refuses (every problem named), else nothing.
#[pyfunction]
fn validate_json(py: Python<'_>, text: &str) -> PyResult<()> {
    guarded(py, || {
        commonsnet_engine::input::scenario_from_json_str(text)
            .map(|_| ())
            .map_err(Failure::Invalid)
    })
}

/// Solve a scenario given as tables (any objects with `__arrow_c_stream__`) and a policy as
/// JSON text. Returns what [`solve_json`] returns.
#[pyfunction]
#[pyo3(signature = (resources, needs, links=None, policy=None, name=None, explain=false, threads=None))]
#[allow(clippy::too_many_arguments)]
fn solve_tables<'py>(
    py: Python<'py>,
    resources: &Bound<'py, PyAny>,
    needs: &Bound<'py, PyAny>,
    links: Option<&Bound<'py, PyAny>>,
    policy: Option<&str>,
    name: Option<&str>,
    explain: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let tables = Tables::read(py, resources, needs, links, policy)?;
    solve_read(py, explain, threads, || {
        tables.engine(name).scenario().map_err(Failure::Invalid)
    })
}

/// A scenario's tables as its JSON form, checked as [`solve_tables`] checks them (problems
/// name table, row and column): what `commonsnet.simulate` and the Ray sweep carry in their
/// spec when given a `Scenario` of tables.
#[pyfunction]
#[pyo3(signature = (resources, needs, links=None, policy=None, name=None))]
fn scenario_json_from_tables(
    py: Python<'_>,
    resources: &Bound<'_, PyAny>,
    needs: &Bound<'_, PyAny>,
    links: Option<&Bound<'_, PyAny>>,
    policy: Option<&str>,
    name: Option<&str>,
) -> PyResult<String> {
    let tables = Tables::read(py, resources, needs, links, policy)?;
    guarded(py, || {
        tables
            .engine(name)
            .value()
            .map(|v| v.to_string())
            .map_err(Failure::Invalid)
    })
}

/// A scenario's tables and policy as [`solve_tables`] and [`scenario_json_from_tables`] take
/// them: each table read through the Arrow C stream interface, the policy JSON parsed.
struct Tables {
    resources: Vec<RecordBatch>,
    needs: Vec<RecordBatch>,
    links: Option<Vec<RecordBatch>>,
    policy: Option<Value>,
}

impl Tables {
    fn read(
        py: Python<'_>,
        resources: &Bound<'_, PyAny>,
        needs: &Bound<'_, PyAny>,
        links: Option<&Bound<'_, PyAny>>,
        policy: Option<&str>,
    ) -> PyResult<Tables> {
        Ok(Tables {
            resources: read_stream(resources, "resources")?,
            needs: read_stream(needs, "needs")?,
            links: links.map(|l| read_stream(l, "links")).transpose()?,
            policy: policy
                .map(parse_policy)
                .transpose()
                .map_err(|f| f.into_py(py))?,
        })
    }

    /// The tables as the engine checks them, under the scenario's name.
    fn engine<'a>(&'a self, name: Option<&'a str>) -> commonsnet_engine::ScenarioTables<'a> {
        commonsnet_engine::ScenarioTables {
            resources: &self.resources,
            needs: &self.needs,
            links: self.links.as_deref(),
            policy: self.policy.as_ref(),
            name,
        }
    }
}

/// The policy JSON of [`solve_tables`], parsed by the engine's strict parser: a key given twice
/// (`{"objective": "cost", "objective": "coverage"}`) is refused as the policy's problem, named
/// by its path (`policy.objective`), not settled by the last one.
fn parse_policy(text: &str) -> Result<Value, Failure> {
    use commonsnet_engine::input::{parse_json, JsonError};
    parse_json(text.as_bytes()).map_err(|e| match e {
        JsonError::Syntax(e) => Failure::Argument(format!("policy is not JSON: {e}")),
        other => Failure::Invalid(other.into_invalid_input("policy")),
    })
}

fn generator(name: &str) -> Result<Generator, Failure> {
    name.parse()
        .map_err(|e: commonsnet_datasets::generate::GenerateError| Failure::Argument(e.to_string()))
}

/// A pilot generator's scenario as tables: (name, resources, needs, policy JSON).
#[pyfunction]
#[pyo3(signature = (name, seed, scale=1.0, timed=false))]
fn generate<'py>(
    py: Python<'py>,
    name: &str,
    seed: u64,
    scale: f64,
    timed: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (label, tables) = guarded(py, || {
        let g = generator(name)?;
        let clock = if timed { Clock::Timed } else { Clock::Snapshot };
        let s = g.scenario(scale, seed, clock).map_err(|e| match e {
            // A generated scenario the engine rejects is the generator's bug, not the caller's.
            commonsnet_datasets::generate::GenerateError::Invalid { .. } => engine_err(e),
            e => Failure::Argument(e.to_string()),
        })?;
        let t = commonsnet_engine::tables::scenario_to_tables(&s).map_err(engine_err)?;
        Ok((s.name().unwrap_or(name).to_string(), t))
    })?;
    let policy = serde_json::to_string(&tables.policy).map_err(|e| engine_err(e).into_py(py))?;
    (
        label,
        tables.resources.to_pyarrow(py)?,
        tables.needs.to_pyarrow(py)?,
        policy,
    )
        .into_pyobject(py)
        .map(|t| t.into_any())
}

/// The value of `key` in a simulate spec as `read` takes it, `default` when the key is absent or
/// null; any other value is refused as not being `what`.
fn spec_value<T>(
    spec: &serde_json::Map<String, Value>,
    key: &str,
    default: T,
    read: impl FnOnce(&Value) -> Option<T>,
    what: &str,
) -> Result<T, Failure> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => {
            read(v).ok_or_else(|| Failure::Argument(format!("{key} must be {what}, not {v}")))
        }
    }
}

/// A batch as `commonsnet simulate` builds it, from a JSON spec:
/// `{"generator": NAME | "scenario": SCENARIO, "scenarios": N, "scale": F, "seed": S,
/// "timed": B, "policies": [...], "replicates": R, "perturb": {...}, "time_limit_s": F,
/// "explain": B}`.
fn batch_of(spec: &Value) -> Result<Batch<Box<dyn ScenarioSource>>, Failure> {
    let arg = |m: String| Failure::Argument(m);
    let obj = spec
        .as_object()
        .ok_or_else(|| arg("the spec is not an object".into()))?;
    let known = [
        "generator",
        "scenario",
        "scenarios",
        "scale",
        "seed",
        "timed",
        "policies",
        "replicates",
        "perturb",
        "time_limit_s",
        "explain",
        "path",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(arg(format!("unknown argument {k:?}")));
    }
    let uint = |k: &str, d: u64| spec_value(obj, k, d, Value::as_u64, "a whole number >= 0");
    let num = |k: &str, d: f64| spec_value(obj, k, d, Value::as_f64, "a number");
    let flag = |k: &str| spec_value(obj, k, false, Value::as_bool, "True or False");
    let seed = uint("seed", 0)?;
    let scale = num("scale", 1.0)?;
    let count = usize::try_from(uint("scenarios", 10)?).unwrap_or(usize::MAX);
    // As `commonsnet simulate --scenarios` (given with a scenario too: a file is refused there
    // before it is read).
    if count == 0 {
        return Err(arg(
            "scenarios must be a whole number of at least 1, not 0".into()
        ));
    }
    let replicates = usize::try_from(uint("replicates", 1)?).unwrap_or(usize::MAX);
    let mut perturbation = Perturbation::default();
    if let Some(p) = obj.get("perturb").filter(|p| !p.is_null()) {
        let p = p
            .as_object()
            .ok_or_else(|| arg("perturb must be a dict".into()))?;
        for (k, v) in p {
            let kind: PerturbKind = k.parse().map_err(|_| {
                arg(format!(
                    "perturb: unknown {k:?} (demand, failures, travel_time)"
                ))
            })?;
            let v = v
                .as_f64()
                .ok_or_else(|| arg(format!("perturb {k}: {v} is not a number")))?;
            perturbation.set(kind, v);
        }
    }
    perturbation.validate().map_err(|e| arg(e.to_string()))?;
    let policies: Vec<PolicySpec> = match obj.get("policies") {
        None | Some(Value::Null) => ["greedy", "coverage", "maxmin"]
            .iter()
            .map(|p| PolicySpec::Named(p.to_string()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| {
                let name = p
                    .as_str()
                    .ok_or_else(|| arg(format!("policies: {p} is not a name")))?;
                name.parse::<commonsnet_engine::batch::NamedPolicy>()
                    .map_err(|e| arg(e.to_string()))?;
                Ok(PolicySpec::Named(name.to_string()))
            })
            .collect::<Result<_, Failure>>()?,
        Some(v) => return Err(arg(format!("policies must be a list of names, not {v}"))),
    };
    // As the CLI refuses it: runs of one policy twice over would be summed as one policy's.
    for (i, p) in policies.iter().enumerate() {
        if let (PolicySpec::Named(name), true) = (p, policies[..i].contains(p)) {
            return Err(arg(format!("policies: {name} given twice")));
        }
    }
    if policies.is_empty() || replicates == 0 {
        return Err(arg("need at least one policy and one replicate".into()));
    }
    let given = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    let scenarios: Box<dyn ScenarioSource> = match (
        obj.get("generator"),
        obj.get("scenario"),
        obj.get("path"),
    ) {
        (Some(Value::String(g)), None, None) => {
            let g = generator(g)?;
            let clock = if flag("timed")? {
                Clock::Timed
            } else {
                Clock::Snapshot
            };
            g.check_scale(scale, clock)
                .map_err(|e| arg(e.to_string()))?;
            Box::new(Generated {
                name: g.name().to_string(),
                scale,
                count,
                seed,
                clock,
            })
        }
        (None, Some(_), None) | (None, None, Some(Value::String(_)))
            if given("scale") || given("timed") || given("scenarios") =>
        {
            // Said rather than ignored, as the CLI says it for a file: a given scenario has
            // its own size and policy, and is one scenario (replicates repeat it).
            return Err(arg(
                "scenarios, scale and timed apply to generators; a given scenario is one scenario with its own size and policy (replicates repeat it)"
                    .into(),
            ));
        }
        (None, Some(s), None) => {
            let s = commonsnet_engine::scenario_from_value(s).map_err(Failure::Invalid)?;
            Box::new(vec![(s.name().unwrap_or("scenario").to_string(), s)])
        }
        // A scenario file or folder, read as `commonsnet simulate --generator PATH` reads it.
        (None, None, Some(Value::String(path))) => {
            let path = std::path::Path::new(path);
            let s = commonsnet_datasets::read_scenario(path, None).map_err(|e| match e {
                commonsnet_datasets::DatasetError::Invalid(e) => Failure::Invalid(e),
                // Each names the path already.
                other => arg(other.to_string()),
            })?;
            Box::new(vec![(s.name().unwrap_or("scenario").to_string(), s)])
        }
        _ => {
            return Err(arg(
                "give one of generator (a name or a scenario's path) and scenario".into(),
            ))
        }
    };
    let runs_per_scenario = policies.len().checked_mul(replicates);
    let scenario_count = if obj.contains_key("generator") {
        count
    } else {
        1
    };
    match runs_per_scenario.and_then(|r| r.checked_mul(scenario_count)) {
        None => {
            return Err(arg(format!(
                "{scenario_count} scenarios x {} policies x {replicates} replicates is too many runs to count",
                policies.len()
            )))
        }
        Some(total) => {
            let counts = (scenario_count, policies.len(), replicates);
            if let Some(refusal) = too_many_runs(counts, total, "seed") {
                return Err(arg(refusal));
            }
        }
    }
    let time_limit_s = num("time_limit_s", 60.0)?;
    if !(time_limit_s.is_finite() && time_limit_s > 0.0) {
        return Err(arg(format!(
            "time_limit_s must be a positive number of seconds, not {time_limit_s}"
        )));
    }
    let batch = Batch {
        scenarios,
        policies,
        replicates,
        seed,
        settings: BatchSettings {
            perturbation,
            time_limit_s: Some(time_limit_s),
            explain: flag("explain")?,
        },
    };
    Ok(batch)
}

/// A simulate spec, parsed strictly: a repeated key (in the spec or its scenario) is refused
/// with its path, e.g. `spec: duplicate key scenario.needs[0].id (line 1, column 40)`.
fn parse_spec(spec: &str) -> Result<Value, Failure> {
    commonsnet_engine::input::parse_json(spec.as_bytes())
        .map_err(|e| Failure::Argument(format!("spec: {e}")))
}

/// How many runs a simulate spec has (scenarios x policies x replicates).
#[pyfunction]
fn simulate_total(py: Python<'_>, spec: &str) -> PyResult<usize> {
    guarded(py, || Ok(batch_of(&parse_spec(spec)?)?.total()))
}

use commonsnet_engine::batch::too_many_runs;

/// Most runs one call holds in memory at once; `commonsnet.simulate` and the Ray sweep call in
/// chunks below it.
const MAX_RUNS_PER_CALL: usize = 1_000_000;

/// `start..end` within a batch's `total` runs, and at most [`MAX_RUNS_PER_CALL`] of them.
fn run_range(total: usize, start: usize, end: usize) -> Result<(usize, usize), Failure> {
    let end = end.min(total);
    let start = start.min(end);
    if end - start > MAX_RUNS_PER_CALL {
        return Err(Failure::Argument(format!(
            "{} runs in one call: at most {MAX_RUNS_PER_CALL} (a sweep calls in chunks)",
            end - start
        )));
    }
    Ok((start, end))
}

/// Runs `start..end` of a simulate spec as the run table (a pyarrow record batch), each run
/// made from its index alone, as `commonsnet simulate` makes it: any split of the indices gives
/// the same rows.
#[pyfunction]
#[pyo3(signature = (spec, start, end, threads=None))]
fn simulate_runs<'py>(
    py: Python<'py>,
    spec: &str,
    start: usize,
    end: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let table = guarded(py, || {
        let batch = batch_of(&parse_spec(spec)?)?;
        let (start, end) = run_range(batch.total(), start, end)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads_arg(threads)?.unwrap_or(0))
            .build()
            .map_err(engine_err)?;
        let slots: Vec<Mutex<Option<RunRow>>> = (start..end).map(|_| Mutex::new(None)).collect();
        let stop = AtomicBool::new(false);
        let interrupted = watch_signals(&|| stop.store(true, Ordering::Relaxed), || {
            run_each(&pool, end - start, &|| stop.load(Ordering::Relaxed), &|i| {
                let row = batch.run(start + i);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(row);
            })
        });
        if let Some(e) = interrupted {
            return Err(Failure::Python(e));
        }
        let rows: Vec<RunRow> = slots
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect::<Option<_>>()
            .ok_or_else(|| Failure::Engine("a run did not finish".into()))?;
        batch.table(&rows).map_err(engine_err)
    })?;
    table.to_pyarrow(py)
}

/// How often a long call looks for Python's signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Calls in progress ([`watch_signals`]), so that the interpreter's end waits for them: a
/// call on a daemon thread ran on through the interpreter's end and the C++ solver's exit
/// handlers, and the process aborted on a corrupted heap.
/// Atomics, not a lock: a child forked while a call ran must not inherit a lock held by a
/// thread it does not have ([`_after_fork`] sets both back).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Set by [`_shutdown`]: every call is called off, and no new one starts.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// How long the interpreter's end waits for the calls it called off (a run between two
/// checks of its stop flag); past it the process ends as it would have.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Registered with `atexit` by the package: call every engine call off and wait (without the
/// GIL) until they have returned, at most [`SHUTDOWN_WAIT`]. Each raises `SystemExit` in its
/// thread, which ends that thread quietly.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let start = std::time::Instant::now();
        while RUNNING.load(Ordering::SeqCst) > 0 && start.elapsed() < SHUTDOWN_WAIT {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

/// Registered with `os.register_at_fork` (in the child): the parent's calls do not run here.
#[pyfunction]
fn _after_fork() {
    RUNNING.store(0, Ordering::SeqCst);
    CLOSING.store(false, Ordering::SeqCst);
}

/// One call in progress, counted in [`RUNNING`] while it lives.
struct Running;

impl Running {
    fn start() -> Option<Running> {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        // Counted first, then looked at: `_shutdown` sets the flag, then reads the count, so
        // either it waits for this call or this call sees the flag.
        if CLOSING.load(Ordering::SeqCst) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

fn closing() -> PyErr {
    pyo3::exceptions::PySystemExit::new_err("the interpreter is shutting down")
}

/// Run `work` (without the GIL) on another thread while this one looks for Python's signals
/// every [`SIGNAL_CHECK`]: a handler that raises (`KeyboardInterrupt` for Ctrl-C) calls
/// `stop`, which `work` must heed, and its exception is returned once `work` has ended. Python runs
/// signal handlers on its main thread only, so the look is taken here, on the caller's thread,
/// not by the pool's workers; a panic in `work` goes on here.
fn watch_signals(stop: &(dyn Fn() + Sync), work: impl FnOnce() + Send) -> Option<PyErr> {
    let Some(_running) = Running::start() else {
        return Some(closing());
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            work();
            let _ = done_tx.send(());
        });
        let mut raised = None;
        // A panic drops the sender: `Disconnected` ends the wait too.
        while let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(SIGNAL_CHECK) {
            if raised.is_none() && CLOSING.load(Ordering::SeqCst) {
                raised = Some(closing());
                stop();
            }
            if raised.is_none() {
                // Not at all while the interpreter shuts down (a daemon thread's call when the
                // main thread ends): `attach` panicked there, printed at every such exit.
                if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                    raised = Some(e);
                    stop();
                }
            }
        }
        if let Err(p) = worker.join() {
            std::panic::resume_unwind(p);
        }
        raised
    })
}

/// Rows with status `error` for runs `start..end` that could not run (their worker died every
/// time it tried), with `message`: a sweep records them instead of failing.
#[pyfunction]
fn simulate_error_rows<'py>(
    py: Python<'py>,
    spec: &str,
    start: usize,
    end: usize,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let table = guarded(py, || {
        let batch = batch_of(&parse_spec(spec)?)?;
        let (start, end) = run_range(batch.total(), start, end)?;
        let rows: Vec<RunRow> = (start..end).map(|i| batch.error_row(i, message)).collect();
        batch.table(&rows).map_err(engine_err)
    })?;
    table.to_pyarrow(py)
}

/// Panics inside the engine's guard, so the tests can show that a Rust panic reaches Python as
/// `commonsnet.EngineError` and the interpreter goes on.
#[pyfunction]
fn _panic_inside_the_engine(py: Python<'_>, message: &str) -> PyResult<()> {
    guarded(py, || -> Result<(), Failure> { panic!("{message}") })
}

#[pymodule]
fn _commonsnet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", commonsnet_engine::VERSION)?;
    // Threads a call may ask for, as many as a policy's `threads` may be (a pool of 20,000
    // threads took minutes to start); `commonsnet` checks its arguments against it.
    m.add("MAX_THREADS", MAX_THREADS)?;
    m.add("MAX_ISSUES", commonsnet_engine::input::MAX_ISSUES)?;
    m.add_function(wrap_pyfunction!(solve_json, m)?)?;
    m.add_function(wrap_pyfunction!(solve_tables, m)?)?;
    m.add_function(wrap_pyfunction!(validate_json, m)?)?;
    m.add(
        "GENERATORS",
        commonsnet_datasets::generate::GENERATORS.to_vec(),
    )?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(scenario_json_from_tables, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_total, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_runs, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_error_rows, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_inside_the_engine, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork, m)?)?;
    Ok(())
}
