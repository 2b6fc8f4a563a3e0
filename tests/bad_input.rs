//! A table of bad inputs, each with the error, row and field it must produce. The validator
//! collects every problem; each case checks the one it plants is among them.

use commonsnet_engine::{scenario_from_json_str, InputIssue};
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "name": "base",
        "resources": [
            {"id": "r1", "community": "north", "kind": "shelter", "lat": 59.3, "lon": 18.0,
             "capacity": {"beds": 10, "meals": 30}, "skills": ["wheelchair"], "cost": 1},
            {"id": "r2", "community": "south", "kind": "shelter", "capacity": {"beds": 5}}
        ],
        "needs": [
            {"id": "n1", "community": "north", "kind": "shelter", "lat": 59.31, "lon": 18.01,
             "demand": {"beds": 4, "meals": 12}, "priority": 3},
            {"id": "n2", "community": "south", "kind": "shelter", "demand": {"beds": 2}}
        ],
        "links": [
            {"resource": "r1", "need": "n1", "cost": 2.5, "use": {"beds": 4}},
            {"resource": "r2", "need": "n2"}
        ],
        "policy": {"objective": "coverage"}
    })
}

/// Apply `edit` to the base scenario and return the issues.
fn issues(edit: impl Fn(&mut Value)) -> Vec<InputIssue> {
    let mut v = base();
    edit(&mut v);
    match scenario_from_json_str(&v.to_string()) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e.issues,
    }
}

#[test]
fn the_base_scenario_is_valid() {
    scenario_from_json_str(&base().to_string()).unwrap();
}

/// Apply `edit` to the base scenario and check that one issue is reported `at` (`table`,
/// `table[row]` or `table[row].field`) with `msg` in its message.
#[track_caller]
fn rejects(edit: impl Fn(&mut Value), at: &str, msg: &str) {
    let found = issues(edit);
    let named = |i: &InputIssue| {
        let row = i.row.map(|r| format!("[{r}]")).unwrap_or_default();
        let field = i
            .field
            .as_ref()
            .map(|f| format!(".{f}"))
            .unwrap_or_default();
        format!("{}{row}{field}", i.table)
    };
    let hit = found
        .iter()
        .any(|i| named(i) == at && i.message.contains(msg));
    assert!(hit, "expected {at} ~ {msg:?}, got {found:#?}");
}

// One case a line: a table reads better than rustfmt's one field a line.
#[rustfmt::skip]
#[test]
fn every_bad_input_is_reported_with_table_row_and_field() {
    rejects(|v| v["resources"][1]["id"] = json!("r1"), "resources[1].id", "duplicate id \"r1\" (first at resources[0])");
    rejects(|v| v["needs"][1]["id"] = json!("n1"), "needs[1].id", "duplicate id \"n1\" (first at needs[0])");
    rejects(|v| v["resources"][0]["capacity"]["beds"] = json!(1e300), "resources[0].capacity.beds", "1e300 is too large: magnitudes above");
    rejects(|v| v["needs"][0]["id"] = json!("n".repeat(1025)), "needs[0].id", "1025 bytes long: ids and names are at most 1024 bytes");
    rejects(|v| v["resources"][0]["kind"] = json!("é".repeat(513)), "resources[0].kind", "1026 bytes long");
    rejects(|v| v["needs"][0]["demand"] = json!({"x".repeat(2000): 1}), "needs[0].demand", "a dimension name 2000 bytes long");
    rejects(|v| v["links"][1]["resource"] = json!("ghost"), "links[1].resource", "unknown resource id");
    rejects(|v| v["links"][0]["need"] = json!("ghost"), "links[0].need", "unknown need id");
    rejects(|v| v["resources"][0]["capacity"]["beds"] = json!(-1), "resources[0].capacity.beds", "negative");
    rejects(|v| v["needs"][0]["demand"]["beds"] = json!(-4), "needs[0].demand.beds", "negative");
    rejects(|v| v["needs"][1]["demand"] = json!({"beds": 0}), "needs[1].demand", "at least one dimension");
    rejects(|v| { v["needs"][1].as_object_mut().unwrap().remove("demand"); }, "needs[1].demand", "missing");
    rejects(|v| v["needs"][0]["min_fill"] = json!(1.5), "needs[0].min_fill", "in [0, 1]");
    rejects(|v| v["needs"][0]["min_fill"] = json!(-0.1), "needs[0].min_fill", "in [0, 1]");
    rejects(|v| v["needs"][0]["priority"] = json!(0), "needs[0].priority", "> 0");
    rejects(|v| v["links"][0]["use"] = json!({"fuel": 3}), "links[0].use.fuel", "unknown dimension");
    rejects(|v| v["links"][0]["use"]["beds"] = json!(-2), "links[0].use.beds", "negative");
    rejects(|v| v["policy"]["objective"] = json!("fastest"), "policy.objective", "unknown objective");
    rejects(|v| v["policy"]["fairness"] = json!("equal"), "policy.fairness", "unknown fairness");
    rejects(|v| v["policy"]["fairness"] = json!({"min_share": 2}), "policy.fairness.min_share", "[0, 1]");
    rejects(|v| v["policy"]["group_by"] = json!("street"), "policy.group_by", "unknown group_by");
    rejects(|v| v["policy"]["solver"] = json!("magic"), "policy.solver", "unknown solver");
    rejects(|v| v["policy"]["speed_kmh"] = json!(0), "policy.speed_kmh", "> 0");
    rejects(|v| v["policy"]["max_distance_km"] = json!(-5), "policy.max_distance_km", ">= 0");
    rejects(|v| v["policy"]["threads"] = json!(1.5), "policy.threads", "whole number");
    rejects(|v| v["policy"]["time_limit_s"] = json!(0), "policy.time_limit_s", "> 0");
    rejects(|v| v["policy"]["mip_gap"] = json!(-0.1), "policy.mip_gap", "[0, 1]");
    rejects(|v| v["policy"]["typo_field"] = json!(1), "policy.typo_field", "unknown field");
    rejects(|v| v["resources"][0]["capcity"] = json!({}), "resources[0].capcity", "unknown field");
    rejects(|v| v["needs"][1]["prioritty"] = json!(2), "needs[1].prioritty", "unknown field");
    rejects(|v| v["extra"] = json!(true), "scenario.extra", "unknown field");
    rejects(|v| { v["resources"][0].as_object_mut().unwrap().remove("id"); }, "resources[0].id", "missing required field");
    rejects(|v| v["needs"][0]["kind"] = json!(""), "needs[0].kind", "must not be empty");
    rejects(|v| v["needs"][0]["id"] = json!(7), "needs[0].id", "expected a string");
    rejects(|v| v["resources"][0]["lat"] = json!(95), "resources[0].lat", "[-90, 90]");
    rejects(|v| v["resources"][0]["lon"] = json!(-200), "resources[0].lon", "[-180, 180]");
    rejects(|v| { v["needs"][0].as_object_mut().unwrap().remove("lon"); }, "needs[0].lon", "together");
    rejects(|v| v["resources"][0]["cost"] = json!(-1), "resources[0].cost", ">= 0");
    rejects(
        |v| { v["resources"][0]["available_from"] = json!(10); v["resources"][0]["available_until"] = json!(5); },
        "resources[0].available_until", "before available_from",
    );
    rejects(
        |v| { v["needs"][0]["earliest"] = json!(8); v["needs"][0]["deadline"] = json!(2); },
        "needs[0].deadline", "before earliest",
    );
    rejects(|v| v["needs"][0]["deadline"] = json!(-1), "needs[0].deadline", ">= 0");
    rejects(|v| v["needs"][0]["indivisible"] = json!("yes"), "needs[0].indivisible", "true or false");
    rejects(|v| v["resources"][0]["skills"] = json!("wheelchair"), "resources[0].skills", "list of strings");
    rejects(|v| v["needs"][0]["required_skills"] = json!(["ok", 3]), "needs[0].required_skills[1]", "non-empty string");
    rejects(|v| v["needs"][0]["required_skills"] = json!(["ok", ""]), "needs[0].required_skills[1]", "got an empty string");
    rejects(|v| v["resources"][0]["capacity"] = json!([10]), "resources[0].capacity", "expected an object");
    rejects(|v| v["resources"][0]["capacity"]["beds"] = json!("ten"), "resources[0].capacity.beds", "expected a number");
    rejects(|v| v["links"][1] = json!({"resource": "r1", "need": "n1"}), "links[1].need", "duplicate link \"r1\" -> \"n1\" (first at links[0])");
    rejects(|v| v["resources"] = json!({}), "scenario.resources", "expected a list");
    rejects(|v| { v.as_object_mut().unwrap().remove("needs"); }, "scenario.needs", "missing required field");
    rejects(|v| v["needs"][0] = json!("n1"), "needs[0]", "expected an object");
    rejects(|v| v["links"][0]["time"] = json!(-0.5), "links[0].time", ">= 0");
    rejects(|v| v["resources"][0]["capacity"]["beds"] = json!(1e308), "resources[0].capacity.beds", "too large");
    rejects(|v| v["needs"][0]["priority"] = json!(1e300), "needs[0].priority", "too large");
}

#[test]
fn every_problem_is_collected_not_just_the_first() {
    let found = issues(|v| {
        v["resources"][0]["capacity"]["beds"] = json!(-1);
        v["needs"][0]["min_fill"] = json!(3);
        v["policy"]["objective"] = json!("nope");
    });
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for text in ["", "{", "[1,2]", "null", "{\"resources\": [", "\u{0}"] {
        let e = scenario_from_json_str(text).unwrap_err();
        assert!(!e.issues.is_empty());
        assert_eq!(e.issues[0].table, "scenario");
    }
}

#[test]
fn an_empty_scenario_is_valid_and_reports_zeros() {
    let s = scenario_from_json_str(r#"{"resources": [], "needs": []}"#).unwrap();
    let r = commonsnet_engine::solve_report(&s);
    let v = serde_json::to_value(&r.summary).unwrap();
    assert_eq!(v["status"], "optimal");
    // Plain 0, never -0, in what users read.
    assert_eq!(v["objective"].to_string(), "0.0");
    assert_eq!(v["coverage_value"].to_string(), "0.0");
    assert_eq!(v["cost"].to_string(), "0.0");
    // Nothing asked, nothing left unserved: the ratios agree (coverage_ratio was 0 beside a
    // min_group_ratio of 1).
    assert_eq!(
        (
            &v["coverage_ratio"],
            &v["min_group_ratio"],
            &v["jain_index"]
        ),
        (&json!(1.0), &json!(1.0), &json!(1.0))
    );
}

/// The link builder keeps a bit set of skills per resource: 60,000 distinct skills over 30,000
/// resources (28 million words) are refused naming the field, before any is made (a million
/// over 200,000 resources asked for 25 GB and aborted the process).
#[test]
fn too_many_distinct_skills_are_refused_before_the_link_builder_holds_them() {
    let words = 30_000 * 60_000_usize.div_ceil(64);
    rejects(
        |v| {
            let r = v["resources"][1].clone();
            let resources = v["resources"].as_array_mut().unwrap();
            for i in 0..30_000 {
                let mut more = r.clone();
                more["id"] = json!(format!("extra{i}"));
                resources.push(more);
            }
            let skills: Vec<String> = (0..60_000).map(|i| format!("s{i}")).collect();
            resources[0]["skills"] = json!(skills);
        },
        "resources.skills",
        &format!(
            "60000 distinct skills over 30002 resources make {} words of skill sets, more than 25000000",
            30_002 * 60_000_usize.div_ceil(64)
        ),
    );
    assert!(words > 25_000_000);
}
