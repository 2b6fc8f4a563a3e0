//! The `commonsnet` binary: output shape, exit codes, files written.

use crate::common::process::{
    commonsnet, output_into_closed_pipe, output_ok, refused_in_one_line, run_ok, solve_ok,
};
use crate::common::temp_file;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json")
}

#[test]
fn solve_prints_one_json_object_with_the_summary() {
    let v = solve_line(&[&example(), &"--plan"]);
    assert_eq!(v["status"], "optimal");
    for key in [
        "objective",
        "solve_ms",
        "coverage_value",
        "cost",
        "coverage_ratio",
        "groups",
        "min_group_ratio",
        "jain_index",
        "gini",
        "atkinson_0_5",
        "price_of_fairness",
        "needs_served",
        "needs_partly_served",
        "mean_access_time_h",
        "solver",
        "components",
        "input_digest",
        "engine_version",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["objective"], v["coverage_value"]);
    // The care home needs a wheelchair-ready shelter, in full, from one place.
    let allocs = v["allocations"].as_array().unwrap();
    let care: Vec<&Value> = allocs
        .iter()
        .filter(|a| a["need"] == "evac-care-home")
        .collect();
    assert_eq!(care.len(), 1);
    assert_eq!(care[0]["share"], 1.0);
    assert_ne!(care[0]["resource"], "shelter-church");
}

#[test]
fn out_writes_arrow_or_parquet_tables_and_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    for (fmt, ext) in [("arrow", "arrow"), ("parquet", "parquet")] {
        let dir = tmp.path().join(fmt);
        solve_ok(&[&example(), &"--out", &dir, &"--out-format", &fmt]);
        for t in ["allocations", "needs", "resources"] {
            let batches =
                commonsnet_datasets::read_batches(&dir.join(format!("{t}.{ext}"))).unwrap();
            assert!(
                batches.iter().map(|b| b.num_rows()).sum::<usize>() > 0,
                "{t}"
            );
        }
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["status"], "optimal");
    }
}

#[test]
fn invalid_input_exits_non_zero_with_one_line_on_stderr() {
    let (tmp, bad) = temp_file(
        "bad.json",
        r#"{"resources": [{"id": "r", "kind": "k", "capacity": {"x": -1}}], "needs": [], "oops": 1}"#,
    );
    let (stdout, err) = refused_in_one_line(commonsnet().arg("solve").arg(&bad));
    assert!(stdout.is_empty());
    assert!(err.contains("resources[0].capacity.x"), "{err}");
    assert!(err.contains("scenario.oops: unknown field"), "{err}");

    let out = commonsnet()
        .arg("solve")
        .arg(tmp.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn infeasible_is_an_answer_with_exit_zero() {
    let (_tmp, f) = temp_file(
        "inf.json",
        r#"{"resources": [{"id": "r", "kind": "k", "capacity": {"x": 1}}],
        "needs": [{"id": "a", "kind": "k", "demand": {"x": 2}, "min_fill": 1},
                  {"id": "b", "kind": "other", "demand": {"x": 1}, "min_fill": 0.5}]}"#,
    );
    let v: Value = serde_json::from_str(&solve_ok(&[&f])).unwrap();
    assert_eq!(v["status"], "infeasible");
    assert_eq!(v["objective"], Value::Null);
    let needs: Vec<&str> = v["infeasibility"]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(needs, vec!["a", "b"]);
}

#[test]
fn multi_instance_gap_prints_one_line_per_instance() {
    let f =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/gap/orlib_multi/gap1.txt");
    let objs: Vec<f64> = solve_ok(&[&f, &"--format", &"orlib-gap", &"--sense", &"max"])
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["objective"]
                .as_f64()
                .unwrap()
        })
        .collect();
    // OR-Library's published maximisation optima of c515-1 .. c515-5.
    assert_eq!(objs, vec![336.0, 327.0, 339.0, 341.0, 326.0]);
}

/// `commonsnet solve ARGS`, which must print one JSON line.
#[track_caller]
fn solve_line(args: &[&dyn AsRef<OsStr>]) -> Value {
    let text = solve_ok(args);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    serde_json::from_str(text.trim()).unwrap()
}

#[test]
fn benchmark_formats_print_status_objective_and_solve_ms() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances");
    let p = |s: &str| root.join(s).to_string_lossy().into_owned();
    // Format inferred from the extension.
    let v = solve_line(&[&p("mincostflow/networkx_tests/large.min")]);
    assert_eq!(
        (v["status"].as_str(), v["objective"].as_i64()),
        (Some("optimal"), Some(6_749_969_302))
    );
    assert!(v["solve_ms"].as_f64().is_some());
    assert_eq!(v["solver"], "network_simplex");
    let v = solve_line(&[&p("mincostflow/lemon_tests/lemon_08.min")]);
    assert_eq!(v["status"], "infeasible");
    let v = solve_line(&[&p("mincostflow/netgen/netgen_assign_p11.asn")]);
    assert_eq!(v["objective"], 4991);
    let v = solve_line(&[&p("assign/assign100.txt"), &"--format", &"orlib-assign"]);
    assert_eq!(v["objective"], 305);
    // Maximisation: costs negated inside, the objective reported in the instance's sense.
    let file = p("peer_tests/assignment/ortools_optimum_matching8a_negative.asn");
    let v = solve_line(&[&file, &"--sense", &"max"]);
    let a = commonsnet_datasets::dimacs::parse_asn(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(a.rows, 4);
    let mut best = i64::MIN;
    for p0 in 0..4 {
        for p1 in 0..4 {
            for p2 in 0..4 {
                for p3 in 0..4 {
                    let perm = [p0, p1, p2, p3];
                    if (0..4).all(|c| perm.contains(&c)) {
                        best = best.max((0..4).map(|r| a.cost[r * 4 + perm[r]]).sum());
                    }
                }
            }
        }
    }
    assert_eq!(v["objective"].as_i64(), Some(best));
    let v = solve_line(&[&p("gap/cattrysse1994/gap1-0"), &"--format", &"orlib-gap"]);
    assert_eq!(v["objective"], 261.0);
}

#[test]
fn a_malformed_benchmark_file_names_its_line() {
    let (_tmp, f) = temp_file("bad.min", "p min 2 1\nn 1 3\na 1 2 0 x 1\n");
    let out = commonsnet().arg("solve").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 3"), "{err}");
}

/// `solve --plan` on a timed scenario prints each resource's schedule in start order, and
/// `generate --timed` makes a scenario that solves with one.
/// The review's `overflow.min`: five sources of `i64::MAX / 4` each (within the solvers'
/// per-node bound) whose flow all crosses one uncapacitated arc of cost 1, to five sinks.
fn funnel_min(supply: i64) -> String {
    let max = i64::MAX;
    let mut text = String::from("p min 12 11\n");
    for i in 1..=5 {
        text += &format!("n {i} {supply}\nn {} -{supply}\n", i + 5);
    }
    for i in 1..=5 {
        text += &format!("a {i} 11 0 {max} 0\na 12 {} 0 {max} 0\n", i + 5);
    }
    text + &format!("a 11 12 0 {max} 1\n")
}

/// A min-cost flow beyond what the solvers compute exactly is refused in one line that names
/// the problem, with exit code 2, whatever the method (before: `"status":"optimal"` with a
/// negative objective in release, a panic in debug). So is an objective beyond i128. Just
/// within the limit, the same network is solved exactly.
#[test]
fn a_flow_beyond_the_solvers_limit_is_refused_not_reported_optimal() {
    let (_tmp, f) = temp_file("overflow.min", funnel_min(i64::MAX / 4));
    for method in [None, Some("network-simplex"), Some("cost-scaling")] {
        let mut cmd = commonsnet();
        cmd.arg("solve").arg(&f);
        if let Some(m) = method {
            cmd.args(["--flow-method", m]);
        }
        let (stdout, err) = refused_in_one_line(&mut cmd);
        assert!(stdout.is_empty(), "{}", String::from_utf8_lossy(&stdout));
        assert!(
            err.contains("overflow.min: invalid network: flow too large")
                && err.contains("up to 11529215046068469755 units on one arc")
                && err.contains("more than the 9223372036854775806 (i64::MAX - 1)"),
            "{err}"
        );
    }
    // Four pairs of opposite arcs forced to 2^62 units at cost i64::MAX: about 2^128.
    let mut text = String::from("p min 2 8\n");
    for _ in 0..4 {
        text += &format!(
            "a 1 2 {0} {0} {1}\na 2 1 {0} {0} {1}\n",
            1i64 << 62,
            i64::MAX
        );
    }
    let (_tmp2, g) = temp_file("forced.min", text);
    let (stdout, err) = refused_in_one_line(commonsnet().arg("solve").arg(&g));
    assert!(stdout.is_empty());
    assert!(
        err.contains("forced.min: invalid network: objective too large"),
        "{err}"
    );
    // Five sources of a fifth of the limit: solved, the objective exact.
    let s = (i64::MAX - 1) / 5;
    let (_tmp3, h) = temp_file("within.min", funnel_min(s));
    let v = solve_line(&[&h]);
    assert_eq!(v["status"], "optimal");
    assert_eq!(v["objective"].as_i64(), Some(5 * s));
    // Cost scaling forced on it (its supplies past a quarter of the limit it takes): network
    // simplex answers, and the line and the error output say so.
    let out = commonsnet()
        .arg("solve")
        .arg(&h)
        .args(["--flow-method", "cost-scaling"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["solver"].as_str(), v["objective"].as_i64()),
        (Some("network_simplex"), Some(5 * s))
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "note: cost_scaling cannot answer this network exactly: solved by network_simplex"
    );
}

#[test]
fn a_timed_plan_prints_each_resources_schedule() {
    let scenario = serde_json::json!({
        "resources": [{"id": "drill", "kind": "tool", "capacity": {"units": 1}, "turnaround_h": 2}],
        "needs": [
            {"id": "late", "kind": "tool", "demand": {"units": 1}, "duration_h": 24,
             "earliest": 0, "deadline": 48},
            {"id": "now", "kind": "tool", "demand": {"units": 1}, "duration_h": 24,
             "earliest": 0, "priority": 2}
        ],
        "policy": {"reusable": ["units"], "slot_h": 12}
    });
    let (tmp, file) = temp_file("library.json", scenario.to_string());
    let v = solve_line(&[&file, &"--plan"]);
    assert_eq!(v["status"], "optimal");
    // "now" holds the drill 0-24 (free at 26); "late" takes the first 12 h slot after, 36.
    assert_eq!(
        v["schedule"],
        serde_json::json!({"drill": [
            {"need": "now", "start_h": 0.0, "end_h": 24.0, "share": 1.0},
            {"need": "late", "start_h": 36.0, "end_h": 60.0, "share": 1.0}
        ]})
    );
    let generated = tmp.path().join("urban.json");
    run_ok(
        "generate",
        &[&"urban", &"--timed", &"--seed", &"3", &"--out", &generated],
    );
    let v = solve_line(&[&generated, &"--plan"]);
    assert_eq!(v["status"], "optimal");
    assert!(v["name"].as_str().unwrap().starts_with("urban-timed"));
    assert!(!v["schedule"].as_object().unwrap().is_empty());
}

/// A scenario directory written again in another format holds only the new tables (the old
/// `.arrow` ones were read first and silently solved a stale scenario); a directory holding
/// one table in two formats is refused, naming both files.
#[test]
fn a_scenario_directory_written_again_reads_as_the_new_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gen");
    let json = tmp.path().join("seed2.json");
    run_ok("generate", &[&"urban", &"--seed", &"1", &"--out", &dir]);
    run_ok(
        "generate",
        &[
            &"urban",
            &"--seed",
            &"2",
            &"--out",
            &dir,
            &"--table-format",
            &"csv",
        ],
    );
    run_ok("generate", &[&"urban", &"--seed", &"2", &"--out", &json]);
    assert!(!dir.join("needs.arrow").exists() && dir.join("needs.csv").exists());
    let from_dir = solve_line(&[&dir]);
    let from_json = solve_line(&[&json]);
    assert_eq!(from_dir["needs_served"], from_json["needs_served"]);
    assert_eq!(from_dir["objective"], from_json["objective"]);
    let n1 = tmp.path().join("n1");
    run_ok("generate", &[&"urban", &"--seed", &"1", &"--out", &n1]);
    std::fs::copy(n1.join("needs.arrow"), dir.join("needs.arrow")).unwrap();
    let (_, err) = refused_in_one_line(commonsnet().arg("solve").arg(&dir));
    assert!(
        err.contains("needs.arrow and ") && err.contains("needs.csv are both the needs table"),
        "{err}"
    );
}

/// A scenario folder's name, and with it the input digest, is the folder's however its path
/// is written (`solve .` inside it was unnamed, with another digest than `solve scen`).
#[test]
fn a_scenario_folder_is_named_alike_however_its_path_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = tmp.path().join("scen");
    run_ok("generate", &[&"urban", &"--seed", &"1", &"--out", &scen]);
    let solved_in = |cwd: &Path, arg: &str| -> Value {
        let out = output_ok("solve", commonsnet().current_dir(cwd).args(["solve", arg]));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let named = solved_in(tmp.path(), "scen");
    assert_eq!(named["name"], "scen", "{named}");
    for (cwd, arg) in [
        (tmp.path(), "scen/"),
        (scen.as_path(), "."),
        (scen.as_path(), "./"),
    ] {
        let v = solved_in(cwd, arg);
        assert_eq!(v["name"], named["name"], "{arg}: {v}");
        assert_eq!(v["input_digest"], named["input_digest"], "{arg}: {v}");
    }
}

/// A missing file is named once: the error's text was printed again as its source.
#[test]
fn an_io_error_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let none = tmp.path().join("none.json");
    let (_, err) = refused_in_one_line(commonsnet().arg("solve").arg(&none));
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    // And its path once (it was twice: `none.json: none.json: No such file`).
    assert_eq!(err.matches("none.json").count(), 1, "{err}");
    // `simulate` names the scenario file its problems are in, as `solve` does.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let out = tmp.path().join("runs.parquet");
    let (_, err) = refused_in_one_line(
        commonsnet()
            .args(["simulate", "--policies", "greedy", "--generator"])
            .arg(&bad)
            .arg("--out")
            .arg(&out),
    );
    assert!(
        err.contains(&format!("{}: invalid input", bad.display())),
        "{err}"
    );
    // A .json file that is no JSON gets no hint to give --format for a benchmark instance.
    let (_, err) = refused_in_one_line(commonsnet().arg("solve").arg(&bad));
    assert!(!err.contains("give --format"), "{err}");
}

/// `instance allocation` bounds its sizes before building the scenario, and a distance that
/// is not a positive number is refused (NaN dropped the rule and linked every pair).
#[test]
fn instance_allocation_bounds_its_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("alloc");
    for args in [
        ["--needs", "1000000000"],
        ["--dims", "100000000"],
        ["--max-distance-km", "NaN"],
        ["--max-distance-km", "inf"],
    ] {
        let (_, err) = refused_in_one_line(
            commonsnet()
                .args(["instance", "allocation", "--resources", "3"])
                .args(args)
                .arg("--out")
                .arg(&out),
        );
        assert!(err.contains(&args[0][2..]), "{args:?}: {err}");
        assert!(!out.exists());
    }
    // Within each bound but past the memory budget (2,000,000 entities took 4.9 GB, and with
    // five dimensions aborted on an allocation): refused at once.
    let (_, err) = refused_in_one_line(
        commonsnet()
            .args([
                "instance",
                "allocation",
                "--needs",
                "1000000",
                "--resources",
                "1000000",
            ])
            .args(["--dims", "5", "--out"])
            .arg(&out),
    );
    assert!(err.contains("2000000 entities of 5 dimension(s)"), "{err}");
    assert!(!out.exists());
}

/// `--threads` is bounded as a policy's `threads` is (16,000 threads took minutes to start).
#[test]
fn thread_counts_past_the_engine_bound_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = commonsnet()
        .args([
            "simulate",
            "--generator",
            "urban",
            "--threads",
            "4000",
            "--out",
        ])
        .arg(tmp.path().join("runs.parquet"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a thread count in 1..=1024"), "{err}");
}

/// An instance written to a file `solve` would read as the other format is refused (a flow
/// in a `.asn` was refused only when read back); extensions name formats in any case
/// (`generate --out a.JSON` made a folder of that name).
#[test]
fn files_are_written_in_the_format_their_extension_names() {
    let tmp = tempfile::tempdir().unwrap();
    let asn = tmp.path().join("flow.asn");
    let (_, err) = refused_in_one_line(
        commonsnet()
            .args(["instance", "netgen8", "--k", "4", "--out"])
            .arg(&asn),
    );
    assert!(err.contains("a min-cost flow, for a .min file"), "{err}");
    assert!(!asn.exists());
    // A scenario folder is no file of one format (it made a folder named `al.csv`).
    let csv = tmp.path().join("al.csv");
    let (_, err) = refused_in_one_line(
        commonsnet()
            .args(["instance", "allocation", "--out"])
            .arg(&csv),
    );
    assert!(
        err.contains("a scenario folder of Parquet tables, for a name without an extension"),
        "{err}"
    );
    assert!(!csv.exists());
    // A device is written to as it is (a file moved into place cannot replace it).
    let out = commonsnet()
        .args(["instance", "netgen8", "--k", "4", "--out", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("p min ")));
    let min = tmp.path().join("flow.MIN");
    run_ok("instance", &[&"netgen8", &"--k", &"4", &"--out", &min]);
    assert_eq!(solve_line(&[&min])["status"], "optimal");
    let json = tmp.path().join("a.JSON");
    run_ok("generate", &[&"urban", &"--out", &json]);
    assert!(json.is_file(), "a scenario file, not a folder");
    assert_eq!(solve_line(&[&json])["status"], "optimal");
    // Sizes whose memory is out of bounds are refused before anything is made (--k 24 would
    // have asked ~12 GB, a crisis of 10^8 links ~8 GB).
    for args in [
        &["netgen8", "--k", "21"][..],
        &[
            "crisis",
            "--stations",
            "100",
            "--incidents",
            "1000000",
            "--candidates",
            "11",
        ],
    ] {
        let out = tmp.path().join("big.min");
        let output = commonsnet()
            .arg("instance")
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            err.contains("--k must be in 4..=20") || err.contains("10000000 incident links"),
            "{err}"
        );
        assert!(!out.exists());
    }
    // One table's file name for a scenario of several made a folder of that name.
    for name in ["foo.csv", "foo.Parquet", "foo.arrow"] {
        let out = tmp.path().join(name);
        let (_, err) =
            refused_in_one_line(commonsnet().args(["generate", "rural", "--out"]).arg(&out));
        assert!(
            err.contains("holds one table, and a scenario is several"),
            "{err}"
        );
        assert!(!out.exists());
    }
}

/// `solve --time-limit` caps the solver's time (the CLI had no bound but the policy's): a
/// positive number of seconds for scenarios and GAP instances, refused otherwise; a cap the
/// solve does not reach changes nothing, the input digest included.
#[test]
fn solve_takes_a_time_limit() {
    let plain = solve_line(&[&example()]);
    let capped = solve_line(&[&example(), &"--time-limit", &"30"]);
    for field in ["status", "objective", "input_digest", "needs_served"] {
        assert_eq!(capped[field], plain[field], "{field}");
    }
    let (_, err) = refused_in_one_line(
        commonsnet()
            .arg("solve")
            .arg(example())
            .args(["--time-limit", "0"]),
    );
    assert!(
        err.contains("--time-limit") && err.contains("not a positive number of seconds"),
        "{err}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances");
    let min = root.join("mincostflow/networkx_tests/large.min");
    let (_, err) = refused_in_one_line(
        commonsnet()
            .arg("solve")
            .arg(&min)
            .args(["--time-limit", "5"]),
    );
    assert!(err.contains("--time-limit"), "{err}");
}

/// A report written again into its directory leaves no table of the earlier one: neither
/// its `why` (a run without `--explain` after one with it) nor its tables in another format.
#[test]
fn a_report_written_again_leaves_no_stale_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    solve_ok(&[&example(), &"--explain", &"--out", &out]);
    assert!(out.join("why.arrow").is_file());
    solve_ok(&[&example(), &"--out", &out, &"--out-format", &"csv"]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "allocations.csv",
            "needs.csv",
            "resources.csv",
            "summary.json"
        ]
    );
}

/// A report that cannot be written whole leaves the earlier one as it was: every file is
/// written before any moves into place, and a folder where a file goes is found before that
/// (the new `allocations.csv` and `needs.csv` sat beside the earlier report's `summary.json`).
#[test]
fn a_report_that_fails_leaves_the_earlier_one_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    solve_ok(&[&example(), &"--out", &out]);
    let files = || -> Vec<(String, Option<Vec<u8>>)> {
        let mut v: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).ok())
            })
            .collect();
        v.sort();
        v
    };
    std::fs::create_dir(out.join("resources.csv")).unwrap();
    let before = files();
    let failed = commonsnet()
        .args(["solve"])
        .arg(example())
        .arg("--out")
        .arg(&out)
        .args(["--out-format", "csv"])
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("resources.csv: is a folder, where a file is to be written"),
        "{err}"
    );
    assert_eq!(
        files(),
        before,
        "the earlier report changed, or a temporary file stayed"
    );
}

/// `--out` naming the scenario's own directory is refused, in any format, before anything is
/// written: in the scenario's format the report's `needs.arrow` and `resources.arrow` replaced
/// the scenario's (its next solve failed with 91 problems), in another one the directory held
/// the needs twice, which a later solve refuses. The scenario still solves as before.
#[test]
fn a_report_into_the_scenario_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("city");
    run_ok("generate", &[&"urban", &"--seed", &"3", &"--out", &dir]);
    let before = solve_ok(&[&dir]);
    let names = |d: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let files = names(&dir);
    for format in ["arrow", "csv"] {
        let (out, err) = refused_in_one_line(
            commonsnet()
                .arg("solve")
                .arg(&dir)
                .arg("--out")
                .arg(&dir)
                .args(["--out-format", format]),
        );
        assert!(out.is_empty(), "{format}");
        assert!(
            err.contains("holds scenario tables") && err.contains("no summary.json"),
            "{format}: {err}"
        );
        assert_eq!(names(&dir), files, "{format}");
    }
    let summary = |line: &str| {
        let mut v: Value = serde_json::from_str(line).unwrap();
        v.as_object_mut().unwrap().remove("solve_ms");
        v
    };
    assert_eq!(summary(&solve_ok(&[&dir])), summary(&before));
}

/// `simulate` checks `--out` before any run: a missing folder, a folder, or a repeated
/// `--perturb` or `--policies` item. Before, a missing folder lost every run after the last
/// one and named `r.tmp`, a file the user never named; `demand=0.2,demand=0.9` kept 0.9
/// silently; `greedy,greedy` ran each scenario twice and summed the two as one policy.
#[test]
fn simulate_refuses_what_it_cannot_write_or_would_read_twice_before_any_run() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-folder").join("r.parquet");
    let folder = tmp.path().join("runs.parquet");
    std::fs::create_dir(&folder).unwrap();
    let cases: [(&[&str], &Path, &str); 4] = [
        (&[], &missing, "no-such-folder does not exist"),
        (&[], &folder, "is a folder"),
        (
            &["--perturb", "demand=0.2,demand=0.9"],
            &tmp.path().join("a.parquet"),
            "demand given twice",
        ),
        (
            &["--policies", "greedy,coverage,greedy"],
            &tmp.path().join("b.parquet"),
            "greedy given twice",
        ),
    ];
    for (extra, out, says) in cases {
        let (stdout, err) = refused_in_one_line(
            commonsnet()
                .args(["simulate", "--generator", "urban", "--scenarios", "2"])
                .args(extra)
                .arg("--out")
                .arg(out),
        );
        assert!(stdout.is_empty(), "{extra:?}: no run was made");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    // Nothing written, no probe left: the folder made above is all there is.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}

/// `commonsnet simulate ... | head -1` and `commonsnet generate ... | head -c 0` made
/// `println!` panic ("failed printing to stdout: Broken pipe", exit 101) once the reader had
/// gone. Both now print through the helper `solve` uses and end quietly with status 0, their
/// tables written all the same. The pipe's read end is closed before the command starts, so
/// every write meets a gone reader.
#[test]
fn simulate_and_generate_end_quietly_on_a_closed_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs.parquet");
    let scenario = dir.path().join("urban.json");
    let cases: [(Vec<&OsStr>, &Path); 2] = [
        (
            vec![
                "simulate".as_ref(),
                "--generator".as_ref(),
                "urban".as_ref(),
                "--scenarios".as_ref(),
                "1".as_ref(),
                "--scale".as_ref(),
                "0.2".as_ref(),
                "--policies".as_ref(),
                "greedy".as_ref(),
                "--out".as_ref(),
                runs.as_os_str(),
            ],
            &runs,
        ),
        (
            vec![
                "generate".as_ref(),
                "urban".as_ref(),
                "--scale".as_ref(),
                "0.2".as_ref(),
                "--out".as_ref(),
                scenario.as_os_str(),
            ],
            &scenario,
        ),
    ];
    for (args, written) in cases {
        let out = output_into_closed_pipe(commonsnet().args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            written.exists(),
            "{args:?}: {} not written",
            written.display()
        );
    }
}

/// A first report that fails half-way (here `summary.json`, the last file written, cannot be
/// made) leaves none of its tables behind: without a `summary.json` they would read as a
/// scenario's, and every later `--out` into the directory would be refused.
#[test]
fn a_first_report_that_fails_half_way_leaves_no_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    std::fs::create_dir_all(out.join("summary.json")).unwrap();
    let (_, err) = refused_in_one_line(
        commonsnet()
            .arg("solve")
            .arg(example())
            .arg("--out")
            .arg(&out),
    );
    assert!(err.contains("summary.json"), "{err}");
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["summary.json"]);
}

/// Infeasibility reasons of benchmark instances name the file's own numbers: DIMACS nodes and
/// OR-Library rows count from 1 (the first node was called node 0).
#[test]
fn instance_infeasibility_names_the_files_numbers() {
    // No arcs: node 1 cannot send its supply (the solver's node 0, which DIMACS has not).
    let (_tmp, f) = temp_file("stranded.min", "p min 2 0\nn 1 1\nn 2 -1\n");
    let v = solve_line(&[&f]);
    assert_eq!(v["status"], "infeasible");
    assert_eq!(v["reason"], "node 1 cannot send or receive its supply");
    // Left nodes 1 and 3 (2 and 4 on the right): 3 has no arc, the second left node.
    let (_tmp2, f) = temp_file("inf.asn", "p asn 4 1\nn 1\nn 3\na 1 2 5\n");
    let v = solve_line(&[&f]);
    assert_eq!(v["status"], "infeasible");
    assert_eq!(
        v["reason"],
        "left node number 2 (in node order) cannot be assigned"
    );
}

/// A negative cycle through arcs without an upper bound (`i64::MAX`, as DIMACS files write it)
/// is a result line like an infeasible instance's, in both senses (it was an error, exit 2,
/// with no line).
#[test]
fn an_unbounded_instance_prints_its_status() {
    let text = "p min 2 2\na 1 2 0 9223372036854775807 -1\na 2 1 0 9223372036854775807 -1\n";
    let (_tmp, f) = temp_file("unbounded.min", text);
    let v = solve_line(&[&f]);
    assert_eq!(v["status"], "unbounded");
    assert_eq!(v["objective"], Value::Null);
    assert_eq!(
        v["reason"],
        "unbounded: a negative-cost cycle has no capacity limit"
    );
    // Positive costs: bounded as a minimum, unbounded as a maximum.
    let text = "p min 2 2\na 1 2 0 9223372036854775807 1\na 2 1 0 9223372036854775807 1\n";
    let (_tmp2, f) = temp_file("profit.min", text);
    assert_eq!(solve_line(&[&f])["objective"], 0);
    assert_eq!(solve_line(&[&f, &"--sense", &"max"])["status"], "unbounded");
}

/// An error line lists the first 20 problems and counts the rest (5,000 rows without a kind
/// made one line of 228,928 bytes).
#[test]
fn an_error_line_lists_twenty_problems_and_counts_the_rest() {
    let needs: Vec<Value> = (0..50)
        .map(|i| serde_json::json!({"id": format!("n{i}"), "demand": {"x": 1}}))
        .collect();
    let text = serde_json::json!({"resources": [], "needs": needs}).to_string();
    let (_tmp, f) = temp_file("many.json", &text);
    let out = commonsnet().arg("solve").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid input: 50 problem(s): needs[0].kind"),
        "{err}"
    );
    assert!(
        err.contains("needs[19].kind") && !err.contains("needs[20].kind"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("; and 30 more"), "{err}");
}

/// A file read as a JSON scenario that is not JSON is named, with the --format it may need
/// (an OR-Library file with a .txt extension said only "scenario: not valid JSON").
#[test]
fn a_file_that_is_no_json_is_named_with_a_format_hint() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/assign/assign100.txt");
    let (_, err) = crate::common::process::refused_in_one_line(commonsnet().arg("solve").arg(&f));
    assert!(err.contains("assign100.txt: invalid input"), "{err}");
    assert!(
        err.contains("not valid JSON") && err.contains("give --format"),
        "{err}"
    );
}
