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

type Edit = Box<dyn Fn(&mut Value)>;
/// (edit, table, row, field, part of the message)
type Case = (
    Edit,
    &'static str,
    Option<usize>,
    Option<&'static str>,
    &'static str,
);

#[test]
fn every_bad_input_is_reported_with_table_row_and_field() {
    // (edit, table, row, field, part of the message)
    let cases: Vec<Case> = vec![
        (
            Box::new(|v| v["resources"][1]["id"] = json!("r1")),
            "resources",
            Some(1),
            Some("id"),
            "duplicate id",
        ),
        (
            Box::new(|v| v["needs"][1]["id"] = json!("n1")),
            "needs",
            Some(1),
            Some("id"),
            "duplicate id",
        ),
        (
            Box::new(|v| v["links"][1]["resource"] = json!("ghost")),
            "links",
            Some(1),
            Some("resource"),
            "unknown resource id",
        ),
        (
            Box::new(|v| v["links"][0]["need"] = json!("ghost")),
            "links",
            Some(0),
            Some("need"),
            "unknown need id",
        ),
        (
            Box::new(|v| v["resources"][0]["capacity"]["beds"] = json!(-1)),
            "resources",
            Some(0),
            Some("capacity.beds"),
            "negative",
        ),
        (
            Box::new(|v| v["needs"][0]["demand"]["beds"] = json!(-4)),
            "needs",
            Some(0),
            Some("demand.beds"),
            "negative",
        ),
        (
            Box::new(|v| v["needs"][1]["demand"] = json!({"beds": 0})),
            "needs",
            Some(1),
            Some("demand"),
            "at least one dimension",
        ),
        (
            Box::new(|v| {
                v["needs"][1].as_object_mut().unwrap().remove("demand");
            }),
            "needs",
            Some(1),
            Some("demand"),
            "missing",
        ),
        (
            Box::new(|v| v["needs"][0]["min_fill"] = json!(1.5)),
            "needs",
            Some(0),
            Some("min_fill"),
            "in [0, 1]",
        ),
        (
            Box::new(|v| v["needs"][0]["min_fill"] = json!(-0.1)),
            "needs",
            Some(0),
            Some("min_fill"),
            "in [0, 1]",
        ),
        (
            Box::new(|v| v["needs"][0]["priority"] = json!(0)),
            "needs",
            Some(0),
            Some("priority"),
            "> 0",
        ),
        (
            Box::new(|v| v["links"][0]["use"] = json!({"fuel": 3})),
            "links",
            Some(0),
            Some("use.fuel"),
            "unknown dimension",
        ),
        (
            Box::new(|v| v["links"][0]["use"]["beds"] = json!(-2)),
            "links",
            Some(0),
            Some("use.beds"),
            "negative",
        ),
        (
            Box::new(|v| v["policy"]["objective"] = json!("fastest")),
            "policy",
            None,
            Some("objective"),
            "unknown objective",
        ),
        (
            Box::new(|v| v["policy"]["fairness"] = json!("equal")),
            "policy",
            None,
            Some("fairness"),
            "unknown fairness",
        ),
        (
            Box::new(|v| v["policy"]["fairness"] = json!({"min_share": 2})),
            "policy",
            None,
            Some("fairness.min_share"),
            "[0, 1]",
        ),
        (
            Box::new(|v| v["policy"]["group_by"] = json!("street")),
            "policy",
            None,
            Some("group_by"),
            "unknown group_by",
        ),
        (
            Box::new(|v| v["policy"]["solver"] = json!("magic")),
            "policy",
            None,
            Some("solver"),
            "unknown solver",
        ),
        (
            Box::new(|v| v["policy"]["speed_kmh"] = json!(0)),
            "policy",
            None,
            Some("speed_kmh"),
            "> 0",
        ),
        (
            Box::new(|v| v["policy"]["max_distance_km"] = json!(-5)),
            "policy",
            None,
            Some("max_distance_km"),
            ">= 0",
        ),
        (
            Box::new(|v| v["policy"]["threads"] = json!(1.5)),
            "policy",
            None,
            Some("threads"),
            "whole number",
        ),
        (
            Box::new(|v| v["policy"]["time_limit_s"] = json!(0)),
            "policy",
            None,
            Some("time_limit_s"),
            "> 0",
        ),
        (
            Box::new(|v| v["policy"]["mip_gap"] = json!(-0.1)),
            "policy",
            None,
            Some("mip_gap"),
            "[0, 1]",
        ),
        (
            Box::new(|v| v["policy"]["typo_field"] = json!(1)),
            "policy",
            None,
            Some("typo_field"),
            "unknown field",
        ),
        (
            Box::new(|v| v["resources"][0]["capcity"] = json!({})),
            "resources",
            Some(0),
            Some("capcity"),
            "unknown field",
        ),
        (
            Box::new(|v| v["needs"][1]["prioritty"] = json!(2)),
            "needs",
            Some(1),
            Some("prioritty"),
            "unknown field",
        ),
        (
            Box::new(|v| v["extra"] = json!(true)),
            "scenario",
            None,
            Some("extra"),
            "unknown field",
        ),
        (
            Box::new(|v| {
                v["resources"][0].as_object_mut().unwrap().remove("id");
            }),
            "resources",
            Some(0),
            Some("id"),
            "missing required field",
        ),
        (
            Box::new(|v| v["needs"][0]["kind"] = json!("")),
            "needs",
            Some(0),
            Some("kind"),
            "must not be empty",
        ),
        (
            Box::new(|v| v["needs"][0]["id"] = json!(7)),
            "needs",
            Some(0),
            Some("id"),
            "expected a string",
        ),
        (
            Box::new(|v| v["resources"][0]["lat"] = json!(95)),
            "resources",
            Some(0),
            Some("lat"),
            "[-90, 90]",
        ),
        (
            Box::new(|v| v["resources"][0]["lon"] = json!(-200)),
            "resources",
            Some(0),
            Some("lon"),
            "[-180, 180]",
        ),
        (
            Box::new(|v| {
                v["needs"][0].as_object_mut().unwrap().remove("lon");
            }),
            "needs",
            Some(0),
            Some("lon"),
            "together",
        ),
        (
            Box::new(|v| v["resources"][0]["cost"] = json!(-1)),
            "resources",
            Some(0),
            Some("cost"),
            ">= 0",
        ),
        (
            Box::new(|v| {
                v["resources"][0]["available_from"] = json!(10);
                v["resources"][0]["available_until"] = json!(5);
            }),
            "resources",
            Some(0),
            Some("available_until"),
            "before available_from",
        ),
        (
            Box::new(|v| {
                v["needs"][0]["earliest"] = json!(8);
                v["needs"][0]["deadline"] = json!(2);
            }),
            "needs",
            Some(0),
            Some("deadline"),
            "before earliest",
        ),
        (
            Box::new(|v| v["needs"][0]["deadline"] = json!(-1)),
            "needs",
            Some(0),
            Some("deadline"),
            ">= 0",
        ),
        (
            Box::new(|v| v["needs"][0]["indivisible"] = json!("yes")),
            "needs",
            Some(0),
            Some("indivisible"),
            "true or false",
        ),
        (
            Box::new(|v| v["resources"][0]["skills"] = json!("wheelchair")),
            "resources",
            Some(0),
            Some("skills"),
            "list of strings",
        ),
        (
            Box::new(|v| v["needs"][0]["required_skills"] = json!(["ok", 3])),
            "needs",
            Some(0),
            Some("required_skills[1]"),
            "non-empty string",
        ),
        (
            Box::new(|v| v["resources"][0]["capacity"] = json!([10])),
            "resources",
            Some(0),
            Some("capacity"),
            "expected an object",
        ),
        (
            Box::new(|v| v["resources"][0]["capacity"]["beds"] = json!("ten")),
            "resources",
            Some(0),
            Some("capacity.beds"),
            "expected a number",
        ),
        (
            Box::new(|v| v["links"][1] = json!({"resource": "r1", "need": "n1"})),
            "links",
            Some(1),
            Some("need"),
            "duplicate link",
        ),
        (
            Box::new(|v| v["resources"] = json!({})),
            "scenario",
            None,
            Some("resources"),
            "expected a list",
        ),
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("needs");
            }),
            "scenario",
            None,
            Some("needs"),
            "missing required field",
        ),
        (
            Box::new(|v| v["needs"][0] = json!("n1")),
            "needs",
            Some(0),
            None,
            "expected an object",
        ),
        (
            Box::new(|v| v["links"][0]["time"] = json!(-0.5)),
            "links",
            Some(0),
            Some("time"),
            ">= 0",
        ),
        (
            Box::new(|v| v["resources"][0]["capacity"]["beds"] = json!(1e308)),
            "resources",
            Some(0),
            Some("capacity.beds"),
            "too large",
        ),
        (
            Box::new(|v| v["needs"][0]["priority"] = json!(1e300)),
            "needs",
            Some(0),
            Some("priority"),
            "too large",
        ),
    ];
    assert!(cases.len() >= 25);
    for (k, (edit, table, row, field, msg)) in cases.into_iter().enumerate() {
        let found = issues(edit);
        let hit = found.iter().any(|i| {
            i.table == table
                && i.row == row
                && i.field.as_deref() == field
                && i.message.contains(msg)
        });
        assert!(
            hit,
            "case {k}: expected {table}[{row:?}].{field:?} ~ {msg:?}, got {found:#?}"
        );
    }
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
}
