//! OR-Library GAP instances (cattrysse1994, tier A) solved as JSON scenarios reproduce their
//! published optima in both senses. SPEC section 3 says how GAP maps onto the model.

use commonsnet_datasets::orlib::{parse_gap, Sense};
use commonsnet_engine::{scenario_from_json_str, solve_report, Status};
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

#[test]
fn cattrysse1994_tier_a_both_senses_reach_published_optima() {
    let cases = expected("cattrysse1994/");
    assert_eq!(cases.len(), 120, "60 instances x 2 senses");
    for (file, sense, want) in cases {
        let got = solve_instance(&file, sense);
        assert!(
            (got - want).abs() < 1e-6,
            "{file} {sense:?}: got {got}, published {want}"
        );
    }
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
    for (file, sense, want) in cases {
        let got = solve_instance(&file, sense);
        assert!(
            (got - want).abs() < 1e-6,
            "{file}: got {got}, published {want}"
        );
    }
}
