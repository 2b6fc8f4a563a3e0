//! OR-Library GAP instances (cattrysse1994, tier A) solved as JSON scenarios reproduce their
//! published optima in both senses. SPEC section 3 says how GAP maps onto the model. Also GAP
//! files through `commonsnet solve`: the layouts told apart, `--out` per instance.

use crate::common::process::{commonsnet, refused_in_one_line, solve_ok};
use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_engine::{scenario_from_json_str, solve_report, Status};
use serde_json::Value;
use std::path::Path;

fn expected(family: &str) -> Vec<(String, Sense, f64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/gap");
    let text = std::fs::read_to_string(root.join("expected.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(5, ',').collect();
            let ok = f[0].starts_with(family) && f[3] == "A" && !f[2].is_empty();
            ok.then(|| {
                let sense = if f[1] == "max" {
                    Sense::Max
                } else {
                    Sense::Min
                };
                (f[0].to_string(), sense, f[2].parse().unwrap())
            })
        })
        .collect()
}

fn solve_instance(file: &str, sense: Sense) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/instances/gap")
        .join(file);
    let inst = parse_gap(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(inst.len(), 1);
    // Through the JSON text path, as a user would submit it.
    let json = inst[0].to_scenario(sense, file).to_string();
    let scenario = scenario_from_json_str(&json).unwrap();
    let report = solve_report(&scenario);
    assert_eq!(report.summary.status, Status::Optimal, "{file}");
    assert_eq!(report.summary.solver.to_string(), "highs_mip");
    assert_eq!(
        report.summary.needs_served, inst[0].jobs,
        "{file}: every job assigned"
    );
    let c = report.summary.objective.unwrap();
    match sense {
        Sense::Min => c,
        Sense::Max => -c,
    }
}

/// Solves each of `cases` (from [`expected`]): each must reach its published optimum.
fn assert_published_optima(cases: Vec<(String, Sense, f64)>) {
    for (file, sense, want) in cases {
        let got = solve_instance(&file, sense);
        assert!(
            (got - want).abs() < 1e-6,
            "{file} {sense:?}: got {got}, published {want}"
        );
    }
}

#[test]
fn cattrysse1994_tier_a_both_senses_reach_published_optima() {
    let cases = expected("cattrysse1994/");
    assert_eq!(cases.len(), 120, "60 instances x 2 senses");
    assert_published_optima(cases);
}

#[test]
fn multi_instance_file_matches_the_split_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/gap");
    let multi = parse_gap(&std::fs::read(root.join("orlib_multi/gap1.txt")).unwrap()).unwrap();
    assert_eq!(multi.len(), 5);
    for (k, inst) in multi.iter().enumerate() {
        let single =
            parse_gap(&std::fs::read(root.join(format!("cattrysse1994/gap1-{k}"))).unwrap())
                .unwrap();
        assert_eq!(&single[0], inst);
    }
}

#[test]
fn gap_parse_errors_name_the_line() {
    let err = parse_gap(b"2 3\n1 2 3\n4 x 6\n").unwrap_err().to_string();
    assert!(err.starts_with("line 3:"), "{err}");
    let err = parse_gap(b"2 2\n1 2 3 4\n1 1 1 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("end of file"), "{err}");
}

/// chu1997 (OR-Library gapa..gapc): every tier A/B instance HiGHS proves within 60 s here. The
/// type d instances (d05100 tier A, d05200 tier B) took over 120 s each and are left out.
#[test]
fn chu1997_types_a_b_c_reach_published_optima() {
    let cases: Vec<_> = expected("chu1997/")
        .into_iter()
        .filter(|(f, _, _)| !f.starts_with("chu1997/d"))
        .collect();
    assert_eq!(cases.len(), 18);
    assert_published_optima(cases);
}

/// The reviewer's `gmulti.gap`: two instances (4 x 1 and 1 x 1, optima 5 and 3) whose numbers
/// also read as one 2 x 4 instance. The CLI solved the 2 x 4 one ("infeasible", exit 0); the
/// file is refused now, and each instance solves in a file that starts with its count.
#[test]
fn a_gap_file_that_reads_both_ways_is_refused_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let both = dir.path().join("gmulti.gap");
    std::fs::write(&both, "2\n4 1\n5 6 7 8\n1 1 1 1\n1 1 1 1\n1 1\n3\n1\n1\n").unwrap();
    let (stdout, err) = refused_in_one_line(
        commonsnet()
            .arg("solve")
            .arg(&both)
            .args(["--format", "orlib-gap"]),
    );
    assert!(stdout.is_empty());
    assert!(
        err.contains("line 1: the numbers read both as one 2 x 4 instance and as 2 instances"),
        "{err}"
    );
    for (text, optimum) in [
        ("1\n4 1\n5 6 7 8\n1 1 1 1\n1 1 1 1\n", 5.0),
        ("1\n1 1\n3\n1\n1\n", 3.0),
    ] {
        let one = dir.path().join("one.gap");
        std::fs::write(&one, text).unwrap();
        let out = solve_ok(&[&one, &"--format", &"orlib-gap"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["objective"].as_f64(), Some(optimum), "{text}");
    }
}

/// `--out` with a multi-instance file: every instance wrote into the same directory (the last
/// one won), and under `--sense max` its summary.json said -12 where the printed line said 12.
/// Each instance has a numbered subdirectory now, whose summary is the printed one.
#[test]
fn multi_instance_out_writes_one_directory_per_instance_in_the_instance_sense() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g2.gap");
    std::fs::write(
        &file,
        "2\n2 3\n1 2 3\n4 5 6\n1 1 1\n2 2 2\n3 4\n1 1\n5\n2\n9\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = solve_ok(&[
        &file,
        &"--format",
        &"orlib-gap",
        &"--sense",
        &"max",
        &"--out-format",
        &"csv",
        &"--out",
        &out_dir,
    ]);
    let printed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let objectives: Vec<f64> = printed
        .iter()
        .map(|v| v["objective"].as_f64().unwrap())
        .collect();
    // Instance 1: agent 2 (capacity 4, consumption 2 a job) takes jobs 2 and 3 (5 + 6), agent
    // 1 job 1 (1); instance 2: 5.
    assert_eq!(objectives, [12.0, 5.0]);
    for (k, line) in printed.iter().enumerate() {
        let sub = out_dir.join((k + 1).to_string());
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(sub.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(&summary, line, "instance {}", k + 1);
        assert_eq!(summary["sense"], "max");
        let allocations = std::fs::read_to_string(sub.join("allocations.csv")).unwrap();
        assert_eq!(
            allocations.lines().count() - 1,
            [3, 1][k],
            "instance {}: {allocations}",
            k + 1
        );
    }
    assert!(!out_dir.join("summary.json").exists());
}

/// A GAP file's reports replace what an earlier file's left in the same `--out`: a report
/// of one instance in the folder itself goes when several come (its summary sat beside
/// `1/` and `2/`), and numbered ones go when one comes, or past the count of several. A file
/// of the caller's own stays.
#[test]
fn gap_reports_leave_no_earlier_ones_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("g2.gap");
    std::fs::write(
        &two,
        "2\n2 3\n1 2 3\n4 5 6\n1 1 1\n2 2 2\n3 4\n1 1\n5\n2\n9\n",
    )
    .unwrap();
    let one = dir.path().join("g1.gap");
    std::fs::write(&one, "1\n1 1\n5\n2\n9\n").unwrap();
    let out = dir.path().join("out");
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let solve = |f: &Path| {
        solve_ok(&[&f, &"--format", &"orlib-gap", &"--out", &out]);
    };
    solve(&one);
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    solve(&two);
    assert_eq!(names(&out), ["1", "2", "notes.txt"]);
    solve(&one);
    assert_eq!(
        names(&out),
        [
            "allocations.arrow",
            "needs.arrow",
            "notes.txt",
            "resources.arrow",
            "summary.json"
        ]
    );
    // Three numbered reports (a third made by hand), then a file of two: the third goes; a
    // numbered folder whose summary this engine did not write stays.
    std::fs::create_dir(out.join("7")).unwrap();
    std::fs::write(out.join("7").join("summary.json"), r#"{"mine": 1}"#).unwrap();
    std::fs::write(out.join("7").join("needs.csv"), "id\n").unwrap();
    solve(&two);
    std::fs::create_dir(out.join("3")).unwrap();
    for f in names(&out.join("1")) {
        std::fs::copy(out.join("1").join(&f), out.join("3").join(&f)).unwrap();
    }
    solve(&two);
    assert_eq!(names(&out), ["1", "2", "7", "notes.txt"]);
    assert_eq!(names(&out.join("7")), ["needs.csv", "summary.json"]);
}

/// Every bundled GAP file reads in the layout it is in: OR-Library's multi-instance files and
/// the one-instance files alike, none refused as reading both ways.
#[test]
fn every_bundled_gap_file_reads_in_its_layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances/gap");
    let mut files = 0;
    for (family, many) in [
        ("cattrysse1994", false),
        ("chu1997", false),
        ("orlib_multi", true),
    ] {
        for entry in std::fs::read_dir(root.join(family)).unwrap() {
            let path = entry.unwrap().path();
            let instances = parse_gap(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(instances.len() > 1, many, "{}", path.display());
            files += 1;
        }
    }
    assert!(files > 80, "{files}");
}
