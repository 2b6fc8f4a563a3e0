//! `commonsnet simulate`: deterministic whatever the thread count, failures recorded, optimal
//! never below greedy.

use commonsnet_datasets::generate::generate_scenario;
use commonsnet_datasets::read_batches;
use commonsnet_engine::batch::{Batch, BatchSettings, PolicySpec};
use commonsnet_engine::Status;
use std::process::Command;

fn simulate(out: &std::path::Path, threads: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args([
            "simulate",
            "--generator",
            "rural",
            "--scenarios",
            "50",
            "--replicates",
            "2",
            "--seed",
            "17",
            "--policies",
            "greedy,coverage",
            "--perturb",
            "demand=0.2,failures=0.1,travel_time=0.2",
            "--threads",
            threads,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn same_table_on_one_and_two_threads_and_optimal_beats_greedy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    let printed = simulate(&a, "1");
    simulate(&b, "2");
    assert!(printed.starts_with("200 runs in"), "{printed}");
    assert!(
        printed.contains("coverage       coverage_ratio"),
        "{printed}"
    );
    let strip = |p: &std::path::Path| {
        let batches = read_batches(p).unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 200);
        batches
            .into_iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "solve_ms")
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let (ta, tb) = (strip(&a), strip(&b));
    assert_eq!(ta, tb, "the table depends on the thread count");
    check_printed_summary(&printed, &read_batches(&a).unwrap()[0]);
    // Optimal coverage is never below greedy on the same perturbed scenario.
    let t = &ta[0];
    let col = |name: &str| t.column(t.schema().index_of(name).unwrap()).clone();
    let policy = strings(&col("policy"));
    let value = col("coverage_value");
    let value = value
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap();
    let status = strings(&col("status"));
    for i in (0..t.num_rows()).step_by(2) {
        assert_eq!(
            (policy[i].as_str(), policy[i + 1].as_str()),
            ("greedy", "coverage")
        );
        assert_eq!(status[i + 1], "optimal");
        let (g, o) = (value.value(i), value.value(i + 1));
        assert!(
            o >= g - 1e-6 * g.max(1.0),
            "row {i}: optimal {o} < greedy {g}"
        );
    }
}

/// A text column's values, whichever Arrow string type the file carries.
fn strings(col: &arrow_array::ArrayRef) -> Vec<String> {
    use arrow_array::cast::AsArray;
    match col.data_type() {
        arrow_schema::DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect(),
        arrow_schema::DataType::LargeUtf8 => col
            .as_string::<i64>()
            .iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect(),
        arrow_schema::DataType::Utf8View => col
            .as_string_view()
            .iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect(),
        other => panic!("not text: {other}"),
    }
}

/// The printed per-policy table equals mean and nearest-rank quantiles
/// computed here from the written run table.
fn check_printed_summary(printed: &str, t: &arrow_array::RecordBatch) {
    use arrow_array::cast::AsArray;
    let policy = strings(t.column_by_name("policy").unwrap());
    let mut checked = 0;
    for line in printed.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (p, metric) = (f[0], f[1]);
        let col = t.column_by_name(metric).unwrap();
        let value = |i: usize| -> f64 {
            use arrow_array::types::{Float64Type, Int64Type, UInt32Type, UInt64Type};
            match col.data_type() {
                arrow_schema::DataType::Float64 => col.as_primitive::<Float64Type>().value(i),
                arrow_schema::DataType::Int64 => col.as_primitive::<Int64Type>().value(i) as f64,
                arrow_schema::DataType::UInt64 => col.as_primitive::<UInt64Type>().value(i) as f64,
                arrow_schema::DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i) as f64,
                other => panic!("{metric}: {other}"),
            }
        };
        let mut v: Vec<f64> = (0..t.num_rows())
            .filter(|&i| policy[i] == p && !col.is_null(i))
            .map(value)
            .collect();
        v.sort_by(f64::total_cmp);
        let q = |x: f64| v[((v.len() - 1) as f64 * x).round() as usize];
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let want = [mean, q(0.1), q(0.5), q(0.9)];
        assert_eq!(f[2].parse::<usize>().unwrap(), v.len(), "{line}");
        for (got, want) in f[3..].iter().zip(want) {
            let got: f64 = got.parse().unwrap();
            assert!(
                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{line}: {got} vs {want}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 16, "{printed}");
}

#[test]
fn a_failing_run_is_recorded_not_fatal() {
    let s = generate_scenario("rural", 1.0, 1).unwrap();
    let batch = Batch {
        scenarios: vec![("rural".into(), s)],
        policies: vec![
            PolicySpec::Named("coverage".into()),
            PolicySpec::Named("no-such-policy".into()),
            PolicySpec::Named("greedy".into()),
        ],
        replicates: 2,
        seed: 1,
        settings: BatchSettings::default(),
    };
    let rows: Vec<_> = (0..batch.total()).map(|i| batch.run(i)).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["optimal", "error", "feasible", "optimal", "error", "feasible"]
    );
    assert!(rows[1].error.as_deref().unwrap().contains("unknown policy"));
    assert!(rows[1].objective.is_none());
    let table = commonsnet_engine::batch::rows_to_batch(&rows).unwrap();
    assert_eq!(table.num_rows(), 6);
}

#[test]
fn bad_simulate_arguments_exit_2_with_one_line() {
    const FLOOD: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/examples/flood-north.json"
    );
    for (args, says) in [
        (vec!["--perturb", "demand=2"], "demand"),
        (vec!["--perturb", "rain=0.1"], "rain"),
        (vec!["--policies", "lucky"], "lucky"),
        (
            vec!["--generator", "/no/such/file.json"],
            "neither a generator",
        ),
        // Each run panicked on a negative limit, and NaN was no limit at all.
        (
            vec!["--time-limit=-1"],
            "--time-limit: \"-1\" is not a positive number of seconds",
        ),
        (
            vec!["--time-limit", "NaN"],
            "--time-limit: \"NaN\" is not a positive number of seconds",
        ),
        // Named: it said only `"0" is not a thread count in 1..=1024`.
        (
            vec!["--threads", "0"],
            "--threads: \"0\" is not a thread count",
        ),
        (vec!["--scenarios", "0"], "--scenarios"),
        // The run count wrapped to 0 (an empty table), or asked for 175 TB of rows.
        (vec!["--scenarios", "4000000000"], "more than 10000000 runs"),
        (vec!["--out", "runs.txt"], "names no table format"),
        // A file is one scenario: a scale or clock for it was ignored without a word.
        (vec!["--generator", FLOOD, "--timed"], "apply to generators"),
        (
            vec!["--generator", FLOOD, "--scale", "2"],
            "apply to generators",
        ),
        // Five scenarios of a file was one, without a word (a review meant replicates).
        (
            vec!["--generator", FLOOD, "--scenarios", "5"],
            "--scenarios, --scale and --timed apply to generators",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commonsnet"));
        cmd.current_dir(dir.path()).arg("simulate");
        if !args.contains(&"--scenarios") {
            cmd.args(["--scenarios", "1"]);
        }
        if !args.contains(&"--out") {
            cmd.arg("--out").arg(dir.path().join("x.parquet"));
        }
        if !args.contains(&"--generator") {
            cmd.args(["--generator", "rural"]);
        }
        let o = cmd.args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.path().join("runs.txt").exists());
    }
}

/// `--out` over the scenario read is refused before any run: a run table written as the
/// scenario folder's `needs.parquet` had replaced its needs (the scenario no longer read).
#[test]
fn simulate_never_writes_over_its_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario");
    let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args(["generate", "urban", "--table-format", "parquet", "--out"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let needs = scenario.join("needs.parquet");
    let before = std::fs::read(&needs).unwrap();
    for (input, out) in [
        (&scenario, needs.clone()),
        (&scenario, scenario.join("links.csv")),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
            .current_dir(dir.path())
            .args(["simulate", "--policies", "greedy", "--generator"])
            .arg(input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{out:?}: {err}");
        assert!(err.contains("is the scenario read"), "{err}");
    }
    assert_eq!(std::fs::read(&needs).unwrap(), before);
    // Beside the scenario, or under another name in its folder: written.
    let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args(["simulate", "--policies", "greedy", "--generator"])
        .arg(&scenario)
        .arg("--out")
        .arg(scenario.join("runs.parquet"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Progress and errors on a closed stderr: the table is still written (the progress line
/// panicked, exit 101, and every run was lost).
#[test]
fn a_closed_stderr_loses_no_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.parquet");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
        .args([
            "simulate",
            "--generator",
            "urban",
            "--scenarios",
            "1",
            "--policies",
            "greedy",
            "--replicates",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .stderr(writer)
        .output()
        .unwrap();
    assert!(o.status.success(), "{:?}", o.status);
    assert_eq!(
        read_batches(&out)
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        3
    );
}

/// A generator source that counts the scenarios it makes, fails on scenario 1 and panics on
/// scenario 2.
struct Counting(std::sync::atomic::AtomicUsize);

impl commonsnet_engine::batch::ScenarioSource for Counting {
    fn count(&self) -> usize {
        4
    }
    fn label(&self, index: usize) -> String {
        format!("s{index}")
    }
    fn scenario(
        &self,
        index: usize,
    ) -> Result<
        std::borrow::Cow<'_, commonsnet_engine::Scenario>,
        commonsnet_engine::batch::SourceError,
    > {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match index {
            1 => Err("no such district".into()),
            2 => panic!("generator bug"),
            i => Ok(std::borrow::Cow::Owned(
                generate_scenario("urban", 1.0, i as u64).unwrap(),
            )),
        }
    }
}

#[test]
fn a_batch_makes_each_scenario_when_its_run_starts_and_survives_a_failing_source() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let batch = Batch {
        scenarios: Counting(AtomicUsize::new(0)),
        policies: vec![
            PolicySpec::Named("greedy".into()),
            PolicySpec::Named("coverage".into()),
        ],
        replicates: 1,
        seed: 3,
        settings: BatchSettings::default(),
    };
    assert_eq!(batch.total(), 8);
    // Nothing is made before a run starts, and a run makes only its own scenario.
    assert_eq!(batch.scenarios.0.load(SeqCst), 0);
    assert_ne!(batch.run(7).status, Status::Error);
    assert_eq!(batch.scenarios.0.load(SeqCst), 1);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let rows = std::sync::Mutex::new(Vec::new());
    let in_flight = AtomicUsize::new(0);
    let most_in_flight = AtomicUsize::new(0);
    commonsnet_engine::batch::run_each(&pool, batch.total(), &|| false, &|i| {
        most_in_flight.fetch_max(in_flight.fetch_add(1, SeqCst) + 1, SeqCst);
        let row = batch.run(i);
        in_flight.fetch_sub(1, SeqCst);
        rows.lock().unwrap().push(row);
    });
    assert_eq!(batch.scenarios.0.load(SeqCst), 9);
    assert!(most_in_flight.load(SeqCst) <= 2);
    let mut rows = rows.into_inner().unwrap();
    rows.sort_by_key(|r| r.run);
    let got: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.scenario.as_str(),
                r.policy.as_str(),
                r.status == Status::Error,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("s0", "greedy", false),
            ("s0", "coverage", false),
            ("s1", "greedy", true),
            ("s1", "coverage", true),
            ("s2", "greedy", true),
            ("s2", "coverage", true),
            ("s3", "greedy", false),
            ("s3", "coverage", false),
        ]
    );
    assert_eq!(rows[2].error.as_deref(), Some("scenario: no such district"));
    assert_eq!(
        rows[4].error.as_deref(),
        Some("internal error: generator bug")
    );
    // The same rows as one run after the other, on this thread.
    for r in &mut rows {
        r.solve_ms = None;
    }
    let mut again: Vec<_> = (0..batch.total()).map(|i| batch.run(i)).collect();
    for r in &mut again {
        r.solve_ms = None;
    }
    assert_eq!(rows, again);
}

/// `--explain` fills the `why_<reason>` columns (the needs not served in full, by reason);
/// they are null without it, and a policy without fairness has no `fairness` reason.
#[test]
fn explain_counts_the_reasons_per_run() {
    use arrow_array::{Array, RecordBatch, StringArray, UInt64Array};
    let dir = tempfile::tempdir().unwrap();
    let run = |explain: bool| {
        let out = dir.path().join(format!("runs-{explain}.arrow"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commonsnet"));
        cmd.args([
            "simulate",
            "--generator",
            "disaster",
            "--scenarios",
            "3",
            "--seed",
            "5",
        ])
        .args(["--policies", "coverage,leximin,proportional", "--out"])
        .arg(&out);
        if explain {
            cmd.arg("--explain");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        read_batches(&out).unwrap()
    };
    let reasons = [
        "why_min_fill",
        "why_infeasible",
        "why_time_limit",
        "why_time",
        "why_no_candidate",
        "why_fairness",
        "why_capacity",
        "why_objective",
    ];
    let counts = |b: &RecordBatch, name: &str| {
        let c = b.column_by_name(name).unwrap();
        c.as_any().downcast_ref::<UInt64Array>().unwrap().clone()
    };
    for b in run(false) {
        for r in reasons {
            assert_eq!(counts(&b, r).null_count(), b.num_rows(), "{r}");
        }
    }
    let (mut rows, mut short) = (0, 0);
    for b in run(true) {
        let policy = b.column_by_name("policy").unwrap();
        let policy = policy.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            rows += 1;
            assert!(reasons.iter().all(|r| counts(&b, r).is_valid(i)), "row {i}");
            short += reasons.iter().map(|r| counts(&b, r).value(i)).sum::<u64>();
            if policy.value(i) == "coverage" {
                assert_eq!(counts(&b, "why_fairness").value(i), 0);
            }
        }
    }
    assert_eq!(rows, 9);
    assert!(short > 0, "the disaster runs leave some needs short");
}

/// A run table says how it was made (its schema's metadata, in Parquet and Arrow IPC alike):
/// a batch run again from those values alone gives the same rows. Before, a row's `seed` was
/// the derived run seed, and the batch seed, perturbation and time limit were nowhere.
#[test]
fn a_run_table_carries_what_makes_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &std::path::Path, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_commonsnet"))
            .args(["simulate", "--generator", "urban", "--scenarios", "4"])
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let first = dir.path().join("first.parquet");
    run(
        &first,
        &[
            "--seed",
            "23",
            "--replicates",
            "2",
            "--policies",
            "greedy,maxmin",
            "--perturb",
            "demand=0.1,failures=0.2",
            "--time-limit",
            "30",
        ],
    );
    let batches = read_batches(&first).unwrap();
    let meta = batches[0].schema().metadata().clone();
    let get = |k: &str| meta[&format!("commonsnet.{k}")].clone();
    assert_eq!(get("engine_version"), commonsnet_engine::VERSION);
    assert_eq!(get("time_limit_s"), "30");
    assert_eq!(get("explain"), "false");
    let policies: serde_json::Value = serde_json::from_str(&get("policies")).unwrap();
    let labels: Vec<&str> = policies
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["greedy", "maxmin"]);
    let perturb: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&get("perturb")).unwrap();
    let perturb: Vec<String> = perturb
        .iter()
        .filter(|(_, v)| v.as_f64() != Some(0.0))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let labels = labels.join(",");
    let again = dir.path().join("again.arrow");
    run(
        &again,
        &[
            "--seed",
            &get("seed"),
            "--replicates",
            &get("replicates"),
            "--policies",
            &labels,
            "--perturb",
            &perturb.join(","),
            "--time-limit",
            &get("time_limit_s"),
        ],
    );
    let rows = |p: &std::path::Path| {
        let mut b = read_batches(p).unwrap();
        assert_eq!(b.len(), 1, "16 rows are one batch");
        let b = b.remove(0);
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| b.schema().field(i).name() != "solve_ms")
            .collect();
        b.project(&keep).unwrap()
    };
    let (a, b) = (rows(&first), rows(&again));
    assert_eq!(a.schema().metadata(), b.schema().metadata());
    assert_eq!(a, b);
}

/// Ctrl-C while the runs go: no run starts after it, those under way finish, and the runs
/// done (0 to k-1) are written, the first k rows of the whole table, with exit status 130 (a
/// Ctrl-C lost every finished run before).
#[test]
fn ctrl_c_writes_the_runs_done() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let run = |scenarios: &str, out: &std::path::Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_commonsnet"));
        c.args([
            "simulate",
            "--generator",
            "rural",
            "--scenarios",
            scenarios,
            "--replicates",
            "2",
            "--seed",
            "5",
            "--policies",
            "greedy,coverage",
            "--threads",
            "1",
            "--out",
        ])
        .arg(out);
        c
    };
    let cut = dir.path().join("cut.parquet");
    let mut child = run("400", &cut)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("progress:") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", pid.as_str()])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(printed.starts_with("interrupted: runs 0 to "), "{printed}");
    // Each row's cells but its solver time, as text.
    let rows = |p: &std::path::Path| -> Vec<String> {
        let mut out = Vec::new();
        for b in read_batches(p).unwrap() {
            for r in 0..b.num_rows() {
                let cells: Vec<String> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "solve_ms")
                    .map(|i| format!("{:?}", b.column(i).slice(r, 1)))
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out
    };
    let got = rows(&cut);
    let k = got.len();
    assert!(k > 0 && k < 1600, "{k} runs of 1600");
    // The same batch cut to whole scenarios past k: its first k rows are the same runs.
    let whole = dir.path().join("whole.parquet");
    let o = run(&k.div_ceil(4).to_string(), &whole).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(got, rows(&whole)[..k]);
}
