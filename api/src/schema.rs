//! The shapes of the API's answers that the engine builds as JSON rather than as typed values:
//! result table rows (Arrow columns such as `amt_<dimension>` become object fields) and a
//! session's `why`. The engine's own answer types (`Summary`, `Status`, `RunRow`, `Dispatch`,
//! `MatchChange`, `Excluded`, ...) describe themselves through its `openapi` feature, so they
//! are documented once, where they are defined. `routes`' tests check that what the service
//! sends validates against every documented schema.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

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

/// Why a need is unserved or partly served (`GET /v1/sessions/{id}/needs/{need}/why`).
#[derive(Serialize, ToSchema)]
pub struct Why {
    pub need: String,
    pub coverage: f64,
    pub dispatched_fraction: f64,
    pub planned_share_of_open_part: f64,
    pub dispatches: Vec<commonsnet_engine::session::Dispatch>,
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
    pub excluded_by: commonsnet_engine::graph::Excluded,
    pub explanation: String,
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
