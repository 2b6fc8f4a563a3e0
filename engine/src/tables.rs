//! A validated scenario as the Arrow tables of SPEC section 3 (`cap_<dim>`, `dem_<dim>`,
//! `use_<dim>` columns, `list<utf8>` sets): the inverse of [`crate::scenario_from_batches`].

use crate::model::{Fairness, GroupBy, Policy, Scenario, SolverChoice};
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, Field, Schema};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The tables of one scenario.
pub struct ScenarioTables {
    pub resources: RecordBatch,
    pub needs: RecordBatch,
    pub links: Option<RecordBatch>,
    pub policy: Value,
}

fn f64s(v: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(v.into_iter().collect::<Float64Array>())
}

fn strs<'a>(v: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    Arc::new(v.into_iter().map(Some).collect::<StringArray>())
}

fn sets<'a>(v: impl IntoIterator<Item = &'a BTreeSet<String>>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for set in v {
        for s in set {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn batch(cols: Vec<(String, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|c| c.1).collect(),
    )
}

/// The policy as the JSON object `policy.json` holds.
pub fn policy_to_value(p: &Policy) -> Value {
    let mut m = Map::new();
    m.insert("objective".into(), p.objective.as_str().into());
    m.insert("cost_weight".into(), p.cost_weight.into());
    m.insert(
        "fairness".into(),
        match p.fairness {
            Fairness::None => json!("none"),
            Fairness::Maxmin => json!("maxmin"),
            Fairness::Leximin => json!("leximin"),
            Fairness::MinShare(s) => json!({"min_share": s}),
        },
    );
    m.insert(
        "group_by".into(),
        match p.group_by {
            GroupBy::Community => "community",
            GroupBy::Kind => "kind",
        }
        .into(),
    );
    if let Some(v) = p.max_distance_km {
        m.insert("max_distance_km".into(), v.into());
    }
    if let Some(v) = p.speed_kmh {
        m.insert("speed_kmh".into(), v.into());
    }
    m.insert("cost_per_km".into(), p.cost_per_km.into());
    m.insert("cross_community".into(), p.cross_community.into());
    m.insert(
        "solver".into(),
        match p.solver {
            SolverChoice::Auto => "auto",
            SolverChoice::Lp => "lp",
            SolverChoice::Greedy => "greedy",
        }
        .into(),
    );
    if let Some(v) = p.time_limit_s {
        m.insert("time_limit_s".into(), v.into());
    }
    m.insert("mip_gap".into(), p.mip_gap.into());
    if let Some(t) = p.threads {
        m.insert("threads".into(), t.into());
    }
    if let Some(d) = &p.deprivation {
        m.insert("deprivation".into(), json!(d.breakpoints()));
    }
    if !p.reusable.is_empty() {
        m.insert("reusable".into(), json!(p.reusable));
    }
    if let Some(v) = p.slot_h {
        m.insert("slot_h".into(), v.into());
    }
    if let Some(v) = p.max_starts {
        m.insert("max_starts".into(), v.into());
    }
    Value::Object(m)
}

/// The scenario's tables. Quantity columns hold null where a row does not list the dimension.
pub fn scenario_to_tables(s: &Scenario) -> Result<ScenarioTables, ArrowError> {
    let r = &s.resources;
    let mut cols = vec![
        ("id".to_string(), strs(r.iter().map(|x| x.id.as_str()))),
        (
            "community".into(),
            strs(r.iter().map(|x| x.community.as_str())),
        ),
        ("kind".into(), strs(r.iter().map(|x| x.kind.as_str()))),
        ("lat".into(), f64s(r.iter().map(|x| x.lat))),
        ("lon".into(), f64s(r.iter().map(|x| x.lon))),
        ("skills".into(), sets(r.iter().map(|x| &x.skills))),
        ("cost".into(), f64s(r.iter().map(|x| Some(x.cost)))),
        (
            "available_from".into(),
            f64s(r.iter().map(|x| x.available_from)),
        ),
        (
            "available_until".into(),
            f64s(r.iter().map(|x| x.available_until)),
        ),
    ];
    // Time columns only where a row has them: an untimed scenario's tables are as before.
    if r.iter().any(|x| x.turnaround_h.is_some()) {
        cols.push((
            "turnaround_h".into(),
            f64s(r.iter().map(|x| x.turnaround_h)),
        ));
    }
    let dims: BTreeSet<&String> = r.iter().flat_map(|x| x.capacity.keys()).collect();
    for d in dims {
        cols.push((
            format!("cap_{d}"),
            f64s(r.iter().map(|x| x.capacity.get(d).copied())),
        ));
    }
    let resources = batch(cols)?;

    let n = &s.needs;
    let mut cols = vec![
        ("id".to_string(), strs(n.iter().map(|x| x.id.as_str()))),
        (
            "community".into(),
            strs(n.iter().map(|x| x.community.as_str())),
        ),
        ("kind".into(), strs(n.iter().map(|x| x.kind.as_str()))),
        ("lat".into(), f64s(n.iter().map(|x| x.lat))),
        ("lon".into(), f64s(n.iter().map(|x| x.lon))),
        ("priority".into(), f64s(n.iter().map(|x| Some(x.priority)))),
        (
            "required_skills".into(),
            sets(n.iter().map(|x| &x.required_skills)),
        ),
        ("min_fill".into(), f64s(n.iter().map(|x| Some(x.min_fill)))),
        (
            "indivisible".into(),
            Arc::new(
                n.iter()
                    .map(|x| Some(x.indivisible))
                    .collect::<BooleanArray>(),
            ) as ArrayRef,
        ),
        ("earliest".into(), f64s(n.iter().map(|x| x.earliest))),
        ("deadline".into(), f64s(n.iter().map(|x| x.deadline))),
    ];
    if n.iter().any(|x| x.duration_h.is_some()) {
        cols.push(("duration_h".into(), f64s(n.iter().map(|x| x.duration_h))));
    }
    let dims: BTreeSet<&String> = n.iter().flat_map(|x| x.demand.keys()).collect();
    for d in dims {
        cols.push((
            format!("dem_{d}"),
            f64s(n.iter().map(|x| x.demand.get(d).copied())),
        ));
    }
    let needs = batch(cols)?;

    let links = match &s.links {
        None => None,
        Some(l) => {
            let mut cols = vec![
                (
                    "resource".to_string(),
                    strs(l.iter().map(|x| x.resource.as_str())),
                ),
                ("need".into(), strs(l.iter().map(|x| x.need.as_str()))),
                ("cost".into(), f64s(l.iter().map(|x| Some(x.cost)))),
                ("time".into(), f64s(l.iter().map(|x| x.time))),
            ];
            let dims: BTreeSet<&String> = l.iter().flat_map(|x| x.use_.keys()).collect();
            for d in dims {
                cols.push((
                    format!("use_{d}"),
                    f64s(l.iter().map(|x| x.use_.get(d).copied())),
                ));
            }
            Some(batch(cols)?)
        }
    };
    Ok(ScenarioTables {
        resources,
        needs,
        links,
        policy: policy_to_value(&s.policy),
    })
}
