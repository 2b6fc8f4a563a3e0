//! Results of SPEC section 3: the allocations, needs and resources tables, and the summary.

use crate::explain::Why;
use crate::graph::distance;
use crate::model::{snap_time, Fairness, Objective};
use crate::solve::{group_key, Infeasibility, Outcome, SolverUsed, Solvers, Status};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, Field, Schema};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Shares below this are not reported as allocations.
pub(crate) const SHARE_EPS: f64 = 1e-9;

/// The summary of one solve (SPEC section 3), also the audit trail of a plan.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub name: Option<String>,
    pub status: Status,
    /// The policy's main objective value: `V` (coverage), `C` (cost), `V - wC` (weighted),
    /// `sum_g W_g ln(ratio_g)` over the groups served (proportional) or
    /// `sum_n p_n f(1 - y_n) + wC` (deprivation); null when there is no plan.
    pub objective: Option<f64>,
    pub objective_kind: Objective,
    pub coverage_value: f64,
    pub cost: f64,
    /// `V` over the total priority; 1 for a scenario without needs (nothing is left
    /// unserved), as `min_group_ratio` and `jain_index` over no groups.
    pub coverage_ratio: f64,
    /// Share of priority served, per group.
    pub groups: BTreeMap<String, f64>,
    /// Objective proportional: the groups that no plan can serve, left out of its sum; with
    /// indivisible needs also those that no plan serves together with the groups served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups_left_out: Option<Vec<String>>,
    pub min_group_ratio: f64,
    /// Jain's index over the group ratios (1 = all groups served alike).
    pub jain_index: f64,
    /// Gini coefficient of the group ratios, `sum_{g,h} |r_g - r_h| / (2 G^2 mean(r))` (0 =
    /// all groups served alike; 0 also when every ratio is 0).
    pub gini: f64,
    /// Atkinson index of the group ratios with inequality aversion 0.5,
    /// `1 - mean(sqrt(r))^2 / mean(r)` (0 = all alike; 0 also when every ratio is 0).
    pub atkinson_0_5: f64,
    /// When fairness is in force: `(V_eff - V) / V_eff`, the share of coverage value given up
    /// for fairness, `V_eff` being the best coverage value under the same hard constraints
    /// without it (one extra solve within the plan's time limit; 0 when `V_eff` is 0, and when
    /// `V` is within the solver's holds of `V_eff`, `1e-7 (max(1, V_eff) + P)` under max-min
    /// and leximin, `1e-7 max(1, V_eff)` otherwise, `P` the total priority, and within
    /// `1e-6 V_eff`). Null without fairness,
    /// without a plan, when the extra solve did not prove its optimum in time, and for live
    /// session plans.
    pub price_of_fairness: Option<f64>,
    pub needs_served: usize,
    pub needs_partly_served: usize,
    pub mean_access_time_h: Option<f64>,
    /// The solvers that made the plan, joined by `+` (`network_simplex`, `assignment`, `lp`,
    /// `mip`, `greedy`, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub solver: Solvers,
    pub components: usize,
    pub solve_ms: f64,
    /// Relative MIP gap of the plan (MIP and time-limited solves only).
    pub gap: Option<f64>,
    /// Where the shadow prices and marginal values come from: `lp`, `fixed_mip` (the LP with
    /// a MIP's integer choices fixed at the optimum) or `none` (greedy, or no plan).
    pub duals: crate::solve::Duals,
    pub infeasibility: Option<Infeasibility>,
    pub input_digest: String,
    pub engine_version: &'static str,
}

/// One row of the allocations table.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationRow {
    pub resource: String,
    pub need: String,
    pub share: f64,
    pub cost: f64,
    pub time: Option<f64>,
    pub distance_km: Option<f64>,
    /// Capacity used, per dimension (in `Report::dims` order).
    pub amounts: Vec<f64>,
    /// Timed scenarios: when the use starts and ends (`start + duration_h`; `None` for a
    /// need without a duration, which is never returned).
    pub start_h: Option<f64>,
    pub end_h: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NeedRow {
    pub id: String,
    pub coverage: f64,
    pub value: f64,
    /// The dual of the need's `y <= 1` (a gain per unit of coverage); None where the plan has
    /// no duals (`duals: "none"`: greedy, or no plan), where 0 read as "worth nothing".
    pub marginal_value: Option<f64>,
    pub unmet: Vec<f64>,
    /// Timed scenarios: the start the plan gives the need (`None` when unserved).
    pub start_h: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub id: String,
    /// Capacity used, per dimension; for a reusable dimension of a timed scenario, the
    /// largest amount in use at any one instant.
    pub used: Vec<f64>,
    /// `used / capacity`; None where the capacity is 0.
    pub utilisation: Vec<Option<f64>>,
    /// The capacity row's dual per dimension (a gain per extra unit); None where the plan
    /// has no duals (`duals: "none"`), and where the capacity is 0 and the link rules build
    /// the links: one more unit there would bring links the plan does not have (SPEC's rule
    /// 3), which no dual of this plan prices.
    pub shadow_price: Vec<Option<f64>>,
}

/// Everything a solve reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub dims: Vec<String>,
    pub summary: Summary,
    pub allocations: Vec<AllocationRow>,
    pub needs: Vec<NeedRow>,
    pub resources: Vec<ResourceRow>,
    /// Whether the scenario is timed: the allocations and needs tables then have `start_h`
    /// (and `end_h`) columns. An untimed scenario's tables are as before the time model.
    pub timed: bool,
    /// Why each need not served in full is served as it is, when asked for
    /// ([`Report::explained`]).
    pub why: Option<Vec<Why>>,
}

/// The result tables as Arrow record batches (`why` when the report has explanations).
pub struct ResultTables {
    pub allocations: RecordBatch,
    pub needs: RecordBatch,
    pub resources: RecordBatch,
    pub why: Option<RecordBatch>,
}

/// Whether every value is the same (exactly: then the indices are 0 without rounding noise).
fn all_equal(values: &[f64]) -> bool {
    values.windows(2).all(|w| w[0] == w[1])
}

/// The Gini coefficient of non-negative values, `sum_{i,j} |v_i - v_j| / (2 n^2 mean)`, through
/// the sorted form `sum_i (2i - n + 1) v_(i) / (n^2 mean)` (O(n log n)); 0 when all are equal
/// or all are 0.
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    if sum <= 0.0 || all_equal(values) {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let weighted: f64 = v
        .iter()
        .enumerate()
        .map(|(i, x)| (2.0 * i as f64 - n + 1.0) * x)
        .sum();
    (weighted / (n * sum)).max(0.0)
}

/// The Atkinson index with inequality aversion 0.5 of non-negative values,
/// `1 - mean(sqrt(v))^2 / mean(v)`; 0 when all are equal or all are 0.
pub fn atkinson_0_5(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.is_empty() || mean <= 0.0 || all_equal(values) {
        return 0.0;
    }
    let root_mean = values.iter().map(|v| v.sqrt()).sum::<f64>() / n;
    (1.0 - root_mean * root_mean / mean).max(0.0)
}

/// Jain's fairness index of non-negative values; 1 when all are equal (zeros included).
pub fn jain_index(values: &[f64]) -> f64 {
    let sum: f64 = values.iter().sum();
    let sq: f64 = values.iter().map(|v| v * v).sum();
    if values.is_empty() || sq <= 0.0 {
        1.0
    } else {
        sum * sum / (values.len() as f64 * sq)
    }
}

impl Report {
    /// The report with its explanations ([`crate::explain::explain`]).
    pub fn explained(o: &Outcome) -> Report {
        Report {
            why: Some(crate::explain::explain(o)),
            ..Report::new(o)
        }
    }

    pub fn new(o: &Outcome) -> Report {
        let s = o.scenario;
        let net = &o.network;
        let sol = &o.solution;
        let nd = net.num_dims();
        let mut y = vec![0.0; s.needs.len()];
        let mut used = vec![0.0; s.resources.len() * nd];
        let mut allocations = Vec::new();
        // Timed scenarios: each need's start, and per resource and dimension the occupations.
        let mut start: Vec<Option<f64>> = vec![None; s.needs.len()];
        let mut occupied: Vec<Vec<(f64, f64, f64)>> = match net.time {
            Some(_) => vec![Vec::new(); used.len()],
            None => Vec::new(),
        };
        let mut cost = 0.0;
        let (mut time_sum, mut time_weight) = (0.0, 0.0);
        for (e, edge) in net.edges.iter().enumerate() {
            let share = sol.x[e];
            if share <= SHARE_EPS {
                continue;
            }
            y[edge.need()] += share;
            let amounts: Vec<f64> = net.edge_use(e).iter().map(|u| u * share).collect();
            for (d, a) in amounts.iter().enumerate() {
                used[edge.resource() * nd + d] += a;
            }
            cost += edge.cost * share;
            if let Some(t) = edge.time() {
                time_sum += t * share;
                time_weight += share;
            }
            let need = &s.needs[edge.need()];
            let start_h = net.start(e);
            if let (Some(t), Some(at)) = (&net.time, start_h) {
                start[edge.need()] = Some(at);
                for (d, a) in amounts.iter().enumerate().filter(|&(d, _)| t.reusable[d]) {
                    let o = t.occupation[e];
                    occupied[edge.resource() * nd + d].push((o.start, o.end, *a));
                }
            }
            allocations.push(AllocationRow {
                resource: s.resources[edge.resource()].id.clone(),
                need: need.id.clone(),
                share,
                cost: edge.cost * share,
                time: edge.time(),
                distance_km: distance(&s.resources[edge.resource()], need),
                amounts,
                start_h: start_h.filter(|_| need.duration_h.is_some()),
                end_h: start_h.zip(need.duration_h).map(|(a, d)| snap_time(a + d)),
            });
        }
        if let Some(t) = &net.time {
            for (k, bookings) in occupied.iter().enumerate() {
                if t.reusable[k % nd] {
                    used[k] = crate::timed::peak_load(bookings);
                }
            }
        }
        let y: Vec<f64> = y.into_iter().map(|v: f64| v.min(1.0)).collect();
        // No prices where the plan has no duals (greedy, or no plan: `solve` says which).
        let priced = sol.duals != crate::solve::Duals::None;
        let needs: Vec<NeedRow> = s
            .needs
            .iter()
            .enumerate()
            .map(|(n, need)| NeedRow {
                id: need.id.clone(),
                coverage: y[n],
                value: need.priority * y[n],
                // (`+ 0.0`: a dual of -0 from a solver is written 0, a gain never negative.)
                marginal_value: priced.then(|| sol.marginal[n] + 0.0),
                unmet: net.dem(n).iter().map(|d| d * (1.0 - y[n])).collect(),
                start_h: start[n].filter(|_| need.duration_h.is_some()),
            })
            .collect();
        let resources: Vec<ResourceRow> = s
            .resources
            .iter()
            .enumerate()
            .map(|(r, res)| ResourceRow {
                id: res.id.clone(),
                used: used[r * nd..(r + 1) * nd].to_vec(),
                utilisation: (0..nd)
                    .map(|d| {
                        let c = net.cap(r)[d];
                        (c > 0.0).then(|| used[r * nd + d] / c)
                    })
                    .collect(),
                shadow_price: (0..nd)
                    .map(|d| {
                        let rule = net.cap(r)[d] > 0.0 || s.links.is_some();
                        (priced && rule).then(|| sol.shadow[r * nd + d])
                    })
                    .collect(),
            })
            .collect();

        // `+ 0.0`: an empty f64 sum is -0.0.
        let value: f64 = needs.iter().map(|n| n.value).sum::<f64>() + 0.0;
        let cost = cost + 0.0;
        let total_priority: f64 = s.needs.iter().map(|n| n.priority).sum();
        let mut group_totals: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for (n, need) in s.needs.iter().enumerate() {
            let g = group_totals.entry(group_key(s, need)).or_default();
            g.0 += need.priority * y[n];
            g.1 += need.priority;
        }
        // Of the whole group: a live session's dispatched parts count (`Policy::group_ratio`).
        let mut groups: BTreeMap<String, f64> = group_totals
            .iter()
            .map(|(k, &(v, p))| (k.clone(), s.policy.group_ratio(k, v, p)))
            .collect();
        // A group whose every need is dispatched whole has none left here, and its ratio.
        for (k, b) in &s.policy.group_base {
            if b.total > 0.0 {
                groups.entry(k.clone()).or_insert(b.served / b.total);
            }
        }
        // Proportional: the groups no plan serves are left out of `sum_g W_g ln(ratio_g)`
        // (at its optimum every group that some plan can serve has a positive ratio).
        let proportional = s.policy.objective == Objective::Proportional;
        let groups_left_out: Option<Vec<String>> = proportional.then(|| {
            groups
                .iter()
                .filter(|(_, &r)| r <= 0.0)
                .map(|(g, _)| g.clone())
                .collect()
        });
        let proportional_value: f64 = group_totals
            .iter()
            .map(|(k, &(_, p))| (s.policy.group_scale(k, p).0, groups[k]))
            .filter(|&(_, r)| r > 0.0)
            .map(|(w, r)| w * r.ln())
            .sum::<f64>()
            + 0.0;
        let deprivation_value = |f: &crate::model::DeprivationCost| {
            let unmet: f64 = s
                .needs
                .iter()
                .zip(&y)
                .map(|(n, y)| n.priority * f.cost(1.0 - y))
                .sum();
            unmet + s.policy.cost_weight * cost + 0.0
        };
        let ratios: Vec<f64> = groups.values().copied().collect();
        // Served in full as the explanations count it (one threshold: `why` lists the rest).
        let bands = crate::explain::hold_bands(s, value);
        let in_full = |n: usize| crate::explain::served_in_full(bands[n], y[n]);
        let objective = match sol.status {
            Status::Infeasible if sol.solver != Solvers::one(SolverUsed::Greedy) => None,
            Status::TimeLimit if allocations.is_empty() && sol.gap.is_none() => None,
            Status::Error => None,
            _ => Some(match s.policy.objective {
                Objective::Coverage => value,
                Objective::Cost => cost,
                Objective::Weighted => value - s.policy.cost_weight * cost,
                Objective::Proportional => proportional_value,
                Objective::Deprivation => {
                    s.policy.deprivation.as_ref().map_or(0.0, deprivation_value)
                }
            }),
        };
        let summary = Summary {
            name: s.name.clone(),
            status: sol.status,
            objective,
            objective_kind: s.policy.objective,
            coverage_value: value,
            cost,
            // No needs (priorities are > 0): nothing asked is left unserved, 1 as the
            // fairness figures over no groups (it was 0 beside a `min_group_ratio` of 1).
            coverage_ratio: if total_priority > 0.0 {
                value / total_priority
            } else {
                1.0
            },
            min_group_ratio: ratios
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .min(1.0),
            jain_index: jain_index(&ratios),
            gini: gini(&ratios),
            atkinson_0_5: atkinson_0_5(&ratios),
            price_of_fairness: o
                .efficient
                .as_ref()
                .map(|e| e.value)
                .filter(|_| objective.is_some())
                .map(|v_eff| {
                    // A plan within the stages' holds of `V_eff` gave nothing up: the cost stage
                    // may spend SPEC's hold `1e-7 max(1, V*)` and the group bounds of max-min
                    // and leximin 1e-7 of each group's ratio, and a price of 1e-7 where the
                    // true one is 0 would be read as a cost of fairness.
                    let total: f64 = s.needs.iter().map(|n| n.priority).sum();
                    let group_bounds = s.couples_groups()
                        && matches!(s.policy.fairness, Fairness::Maxmin | Fairness::Leximin);
                    let held = 1.001
                        * crate::lp::LEX_TOL
                        * (v_eff.max(1.0) + if group_bounds { total } else { 0.0 });
                    // (Never past a millionth of `V_eff`: a total priority far above it must
                    // not hide a real price.)
                    if v_eff > 0.0 && v_eff - value > held.min(1e-6 * v_eff) {
                        (v_eff - value) / v_eff
                    } else {
                        0.0
                    }
                }),
            groups,
            groups_left_out,
            needs_served: (0..y.len()).filter(|&n| in_full(n)).count(),
            needs_partly_served: (0..y.len())
                .filter(|&n| y[n] > SHARE_EPS && !in_full(n))
                .count(),
            mean_access_time_h: (time_weight > 0.0).then(|| time_sum / time_weight),
            solver: sol.solver.clone(),
            components: sol.components,
            solve_ms: sol.solve_ms,
            gap: sol.gap,
            duals: sol.duals,
            infeasibility: sol.infeasibility.clone(),
            input_digest: s.digest(),
            engine_version: crate::VERSION,
        };
        Report {
            dims: net.dims.clone(),
            summary,
            allocations,
            needs,
            resources,
            timed: net.time.is_some(),
            why: None,
        }
    }

    /// The summary as a JSON object.
    pub fn summary_json(&self) -> Value {
        serde_json::to_value(&self.summary).unwrap_or(Value::Null)
    }

    /// The allocations as JSON objects with the table's column names.
    pub fn allocations_json(&self) -> Vec<Value> {
        json_rows(&self.allocations, &self.allocation_columns())
    }

    /// Timed scenarios: each resource's bookings in start order (`need`, `start_h`, `end_h`,
    /// `share`; a need without a duration first, with null times: it is never returned), the
    /// schedule a tool library or a shelter reads: which need holds each item when.
    pub fn schedule_json(&self) -> Option<Value> {
        if !self.timed {
            return None;
        }
        let mut by_resource: BTreeMap<&str, Vec<&AllocationRow>> = BTreeMap::new();
        for a in &self.allocations {
            by_resource.entry(&a.resource).or_default().push(a);
        }
        let schedule: serde_json::Map<String, Value> = by_resource
            .into_iter()
            .map(|(r, mut rows)| {
                rows.sort_by(|a, b| {
                    let key = |x: &AllocationRow| x.start_h.unwrap_or(f64::NEG_INFINITY);
                    key(a).total_cmp(&key(b)).then_with(|| a.need.cmp(&b.need))
                });
                let list = rows
                    .iter()
                    .map(|a| {
                        serde_json::json!({"need": a.need, "start_h": a.start_h,
                            "end_h": a.end_h, "share": a.share})
                    })
                    .collect();
                (r.to_string(), Value::Array(list))
            })
            .collect();
        Some(Value::Object(schedule))
    }

    /// The needs table as JSON objects with the table's column names.
    pub fn needs_json(&self) -> Vec<Value> {
        json_rows(&self.needs, &self.need_columns())
    }

    /// The resources table as JSON objects with the table's column names.
    pub fn resources_json(&self) -> Vec<Value> {
        json_rows(&self.resources, &self.resource_columns())
    }

    /// The three result tables as Arrow record batches, with the same columns as the JSON.
    pub fn tables(&self) -> Result<ResultTables, ArrowError> {
        Ok(ResultTables {
            allocations: batch(&self.allocations, &self.allocation_columns())?,
            needs: batch(&self.needs, &self.need_columns())?,
            resources: batch(&self.resources, &self.resource_columns())?,
            why: match &self.why {
                Some(rows) => Some(batch(rows, &why_columns())?),
                None => None,
            },
        })
    }

    /// The allocations table's columns (SPEC section 3), `amt_<dimension>` last.
    fn allocation_columns(&self) -> Vec<Column<'_, AllocationRow>> {
        let mut cols = vec![
            Column::text("resource", |r: &AllocationRow| &r.resource),
            Column::text("need", |r: &AllocationRow| &r.need),
            Column::num("share", |r: &AllocationRow| r.share),
            Column::num("cost", |r: &AllocationRow| r.cost),
            Column::opt_num("time", |r: &AllocationRow| r.time),
            Column::opt_num("distance_km", |r: &AllocationRow| r.distance_km),
        ];
        if self.timed {
            cols.push(Column::opt_num("start_h", |r: &AllocationRow| r.start_h));
            cols.push(Column::opt_num("end_h", |r: &AllocationRow| r.end_h));
        }
        for (d, dim) in self.dims.iter().enumerate() {
            cols.push(Column::num(
                format!("amt_{dim}"),
                move |r: &AllocationRow| r.amounts[d],
            ));
        }
        cols
    }

    /// The needs table's columns, `unmet_<dimension>` last.
    fn need_columns(&self) -> Vec<Column<'_, NeedRow>> {
        let mut cols = vec![
            Column::text("id", |r: &NeedRow| &r.id),
            Column::num("coverage", |r: &NeedRow| r.coverage),
            Column::num("value", |r: &NeedRow| r.value),
            Column::opt_num("marginal_value", |r: &NeedRow| r.marginal_value),
        ];
        if self.timed {
            cols.push(Column::opt_num("start_h", |r: &NeedRow| r.start_h));
        }
        for (d, dim) in self.dims.iter().enumerate() {
            cols.push(Column::num(format!("unmet_{dim}"), move |r: &NeedRow| {
                r.unmet[d]
            }));
        }
        cols
    }

    /// The resources table's columns: per dimension, used, utilisation and shadow price.
    fn resource_columns(&self) -> Vec<Column<'_, ResourceRow>> {
        let mut cols = vec![Column::text("id", |r: &ResourceRow| &r.id)];
        for (d, dim) in self.dims.iter().enumerate() {
            cols.push(Column::num(
                format!("used_{dim}"),
                move |r: &ResourceRow| r.used[d],
            ));
            let utilisation = move |r: &ResourceRow| r.utilisation[d];
            cols.push(Column::opt_num(format!("utilisation_{dim}"), utilisation));
            let price = move |r: &ResourceRow| r.shadow_price[d];
            cols.push(Column::opt_num(format!("shadow_price_{dim}"), price));
        }
        cols
    }
}

/// The why table's columns: the row's scalars, and its evidence (candidates, linked
/// resources or group ratios) as one JSON text column.
fn why_columns() -> Vec<Column<'static, Why>> {
    vec![
        Column::text("need", |w: &Why| &w.need),
        Column::num("coverage", |w: &Why| w.coverage),
        Column::text("reason", |w: &Why| w.reason.as_str()),
        Column::text("explanation", |w: &Why| &w.explanation),
        Column::opt_num("marginal_value", |w: &Why| w.marginal_value),
        Column::owned_text("evidence", |w: &Why| w.evidence().to_string()),
    ]
}

/// One column of a result table: its name and how a row gives its cell. Each table's columns
/// are listed once and serve both its JSON objects and its Arrow batch.
struct Column<'a, R> {
    name: String,
    get: Cell<'a, R>,
}

enum Cell<'a, R> {
    Text(Box<dyn Fn(&R) -> &str + 'a>),
    OwnedText(Box<dyn Fn(&R) -> String + 'a>),
    /// A number; `None` is null (JSON null, Arrow null in a nullable column).
    Num {
        get: NumberOf<'a, R>,
        nullable: bool,
    },
}

type NumberOf<'a, R> = Box<dyn Fn(&R) -> Option<f64> + 'a>;

impl<'a, R> Column<'a, R> {
    fn text(name: impl Into<String>, get: impl Fn(&R) -> &str + 'a) -> Self {
        let get = Cell::Text(Box::new(get));
        Column {
            name: name.into(),
            get,
        }
    }
    fn owned_text(name: impl Into<String>, get: impl Fn(&R) -> String + 'a) -> Self {
        let get = Cell::OwnedText(Box::new(get));
        Column {
            name: name.into(),
            get,
        }
    }
    fn num(name: impl Into<String>, get: impl Fn(&R) -> f64 + 'a) -> Self {
        let get = Box::new(move |r: &R| Some(get(r)));
        let get = Cell::Num {
            get,
            nullable: false,
        };
        Column {
            name: name.into(),
            get,
        }
    }
    fn opt_num(name: impl Into<String>, get: impl Fn(&R) -> Option<f64> + 'a) -> Self {
        let get = Cell::Num {
            get: Box::new(get),
            nullable: true,
        };
        Column {
            name: name.into(),
            get,
        }
    }
}

fn json_rows<R>(rows: &[R], cols: &[Column<'_, R>]) -> Vec<Value> {
    let object = |r: &R| {
        let cell = |c: &Column<'_, R>| match &c.get {
            Cell::Text(get) => Value::from(get(r)),
            Cell::OwnedText(get) => Value::from(get(r)),
            Cell::Num { get, .. } => Value::from(get(r)),
        };
        Value::Object(
            cols.iter()
                .map(|c| (c.name.clone(), cell(c)))
                .collect::<Map<_, _>>(),
        )
    };
    rows.iter().map(object).collect()
}

fn batch<R>(rows: &[R], cols: &[Column<'_, R>]) -> Result<RecordBatch, ArrowError> {
    let (mut fields, mut arrays) = (Vec::new(), Vec::<ArrayRef>::new());
    for c in cols {
        let (array, nullable): (ArrayRef, bool) = match &c.get {
            Cell::Text(get) => (
                Arc::new(rows.iter().map(|r| Some(get(r))).collect::<StringArray>()),
                false,
            ),
            Cell::OwnedText(get) => (
                Arc::new(rows.iter().map(|r| Some(get(r))).collect::<StringArray>()),
                false,
            ),
            Cell::Num { get, nullable } => (
                Arc::new(rows.iter().map(get).collect::<Float64Array>()),
                *nullable,
            ),
        };
        fields.push(Field::new(&c.name, array.data_type().clone(), nullable));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}
