//! The shapes of the API's answers that come from the engine, as OpenAPI schemas. The engine
//! builds these bodies (its `Summary`, result rows, session explanations); the types here
//! document them field by field, and `routes`' tests check that what the service sends
//! validates against them. Engine types are not annotated: the engine knows nothing of HTTP.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

closed_set! {
    /// The status of a solve (SPEC section 3), and so of a batch run: `feasible` is the
    /// greedy baseline's plan, `error` a solver that failed (or, for a run, a scenario that
    /// could not be made).
    pub enum SolveStatus {
        Optimal = "optimal",
        Feasible = "feasible",
        Infeasible = "infeasible",
        TimeLimit = "time_limit",
        Error = "error",
    }
}

/// The engine's status, as documented here: every engine status has its spelling (the match
/// is exhaustive, so a new engine status does not compile until it is documented).
impl From<commonsnet_engine::Status> for SolveStatus {
    fn from(s: commonsnet_engine::Status) -> SolveStatus {
        use commonsnet_engine::Status as S;
        match s {
            S::Optimal => SolveStatus::Optimal,
            S::Feasible => SolveStatus::Feasible,
            S::Infeasible => SolveStatus::Infeasible,
            S::TimeLimit => SolveStatus::TimeLimit,
            S::Error => SolveStatus::Error,
        }
    }
}

closed_set! {
    /// The policy's main objective (SPEC section 2).
    pub enum ObjectiveKind {
        Coverage = "coverage",
        Cost = "cost",
        Weighted = "weighted",
    }
}

closed_set! {
    /// Why a need is served as it is: `served` in full; `no_compatible_resource`: no resource
    /// passes the link rules; `capacity_exhausted`: its linked resources serve needs the plan
    /// values more; or the status of its component's solve when that was not optimal.
    pub enum WhyReason {
        Served = "served",
        NoCompatibleResource = "no_compatible_resource",
        CapacityExhausted = "capacity_exhausted",
        Feasible = "feasible",
        Infeasible = "infeasible",
        TimeLimit = "time_limit",
        Error = "error",
    }
}

/// The summary of a solve (SPEC section 3), also the audit trail of a plan.
#[derive(Serialize, ToSchema)]
pub struct Summary {
    pub name: Option<String>,
    pub status: SolveStatus,
    /// The policy's main objective value: `V` (coverage), `C` (cost) or `V - wC` (weighted);
    /// null when there is no plan.
    pub objective: Option<f64>,
    pub objective_kind: ObjectiveKind,
    pub coverage_value: f64,
    pub cost: f64,
    pub coverage_ratio: f64,
    /// Share of priority served, per group.
    pub groups: BTreeMap<String, f64>,
    pub min_group_ratio: f64,
    /// Jain's index over the group ratios (1 = all groups served alike).
    pub jain_index: f64,
    pub needs_served: usize,
    pub needs_partly_served: usize,
    pub mean_access_time_h: Option<f64>,
    /// The solvers that made the plan, joined by `+` (`network_simplex`, `assignment`, `lp`,
    /// `mip`, `greedy`, ...).
    pub solver: String,
    pub components: usize,
    pub solve_ms: f64,
    /// Relative MIP gap of the plan (MIP and time-limited solves only).
    pub gap: Option<f64>,
    pub infeasibility: Option<Infeasibility>,
    pub input_digest: String,
    pub engine_version: String,
}

/// Why a scenario has no plan: the needs and groups whose hard constraints cannot hold.
#[derive(Serialize, ToSchema)]
pub struct Infeasibility {
    pub message: String,
    pub needs: Vec<String>,
    pub groups: Vec<String>,
}

/// One row of the allocations table; `amt_<dimension>` columns give the capacity used.
#[derive(Serialize, ToSchema)]
pub struct AllocationRow {
    pub resource: String,
    pub need: String,
    pub share: f64,
    pub cost: f64,
    pub time: Option<f64>,
    pub distance_km: Option<f64>,
    /// `amt_<dimension>`: capacity used, per dimension.
    #[serde(flatten)]
    pub amounts: BTreeMap<String, f64>,
}

/// One row of the needs table; `unmet_<dimension>` columns give the demand left unserved.
#[derive(Serialize, ToSchema)]
pub struct NeedRow {
    pub id: String,
    pub coverage: f64,
    pub value: f64,
    pub marginal_value: f64,
    /// `unmet_<dimension>`: demand left unserved, per dimension.
    #[serde(flatten)]
    pub unmet: BTreeMap<String, f64>,
}

/// One row of the resources table: `used_<dimension>`, `utilisation_<dimension>` (null where
/// the capacity is 0) and `shadow_price_<dimension>` per dimension.
#[derive(Serialize, ToSchema)]
pub struct ResourceRow {
    pub id: String,
    #[serde(flatten)]
    pub columns: BTreeMap<String, Option<f64>>,
}

/// A commitment: part of a need served by a resource, never moved by a re-plan.
#[derive(Serialize, ToSchema)]
pub struct Dispatch {
    pub need: String,
    pub resource: String,
    /// Part of the need's full demand this dispatch serves.
    pub fraction: f64,
    /// Capacity consumed, per dimension.
    pub amounts: BTreeMap<String, f64>,
    /// False once the resource has been returned.
    pub active: bool,
}

/// One match whose share changed.
#[derive(Serialize, ToSchema)]
pub struct MatchChange {
    pub resource: String,
    pub need: String,
    /// Share of the need's open part before and after (0 = no match).
    pub before: f64,
    pub after: f64,
}

/// One row per batch run (`GET /v1/jobs/{id}/result`).
#[derive(Serialize, ToSchema)]
pub struct RunRow {
    pub run: u64,
    pub scenario: String,
    pub policy: String,
    pub replicate: u64,
    /// The seed of this replicate's perturbations (shared by all policies).
    pub seed: u64,
    pub status: SolveStatus,
    pub error: Option<String>,
    pub objective: Option<f64>,
    pub coverage_value: Option<f64>,
    pub cost: Option<f64>,
    pub coverage_ratio: Option<f64>,
    pub min_group_ratio: Option<f64>,
    pub jain_index: Option<f64>,
    pub needs_served: Option<u64>,
    pub needs_partly_served: Option<u64>,
    pub mean_access_time_h: Option<f64>,
    pub solver: Option<String>,
    pub solve_ms: Option<f64>,
    /// 90th percentile of the needs' access time.
    pub access_time_p90_h: Option<f64>,
    /// Share of all needs served in full within 1 hour.
    pub served_within_1h: Option<f64>,
    /// Mean of `used / capacity` over resources and dimensions with capacity.
    pub utilisation: Option<f64>,
    /// Value served per unit of capacity offered.
    pub value_per_capacity: Option<f64>,
    pub resources_used: Option<u64>,
    /// Resources needed if nothing were shared.
    pub resources_unshared: Option<u64>,
    /// `resources_unshared - resources_used`.
    pub duplication_avoided: Option<i64>,
}

/// Why a need is unserved or partly served (`GET /v1/sessions/{id}/needs/{need}/why`).
#[derive(Serialize, ToSchema)]
pub struct Why {
    pub need: String,
    pub coverage: f64,
    pub dispatched_fraction: f64,
    pub planned_share_of_open_part: f64,
    pub dispatches: Vec<Dispatch>,
    pub marginal_value: f64,
    pub reason: WhyReason,
    pub explanation: String,
    /// `no_compatible_resource`: the nearest resources (at most 5) and the rule excluding each.
    pub candidates: Option<Vec<Candidate>>,
    /// `capacity_exhausted` and solve statuses: the linked resources and what they serve.
    pub linked_resources: Option<Vec<LinkedResource>>,
}

/// A resource that the link rules exclude for a need.
#[derive(Serialize, ToSchema)]
pub struct Candidate {
    pub resource: String,
    pub distance_km: Option<f64>,
    pub excluded_by: Excluded,
    pub explanation: String,
}

/// The first of SPEC's link rules (in SPEC order) that excludes a pair.
#[derive(Serialize, ToSchema)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Excluded {
    /// Rule 1: the kinds differ.
    Kind {
        resource_kind: String,
        need_kind: String,
    },
    /// Rule 6: other community and `cross_community` is false.
    Community {
        resource_community: String,
        need_community: String,
    },
    /// Rule 2: skills the resource lacks.
    Skills { missing: Vec<String> },
    /// Rule 3: no capacity left in a demanded dimension.
    Capacity { dimension: String },
    /// Rule 4: beyond `max_distance_km`.
    Distance {
        distance_km: f64,
        max_distance_km: f64,
    },
    /// Rule 5: cannot arrive before the deadline.
    Deadline { arrival_h: f64, deadline_h: f64 },
    /// Rule 5: the resource is gone before the need starts.
    Window {
        available_until_h: f64,
        earliest_h: f64,
    },
}

/// A resource linked to a need, with what its capacity serves instead.
#[derive(Serialize, ToSchema)]
pub struct LinkedResource {
    pub resource: String,
    pub capacity_left: BTreeMap<String, f64>,
    /// Value one more unit of capacity would add, per dimension (dimensions at 0 left out).
    pub shadow_price: BTreeMap<String, f64>,
    pub serves_instead: Vec<ServesInstead>,
}

#[derive(Serialize, ToSchema)]
pub struct ServesInstead {
    pub need: String,
    pub share: f64,
    pub priority_of_open_part: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's status and ours are spelled alike.
    #[test]
    fn solve_status_matches_the_engine() {
        use commonsnet_engine::Status;
        let engine = [
            Status::Optimal,
            Status::Feasible,
            Status::Infeasible,
            Status::TimeLimit,
            Status::Error,
        ];
        assert_eq!(engine.len(), SolveStatus::ALL.len());
        for (e, &s) in engine.into_iter().zip(SolveStatus::ALL) {
            assert_eq!(serde_json::to_value(e).unwrap(), s.as_str());
            assert_eq!(e.as_str().parse::<SolveStatus>().unwrap(), s);
        }
    }
}
