//! The shapes of the API's answers that the engine builds as JSON rather than as typed values:
//! result table rows (Arrow columns such as `amt_<dimension>` become object fields). The
//! engine's own answer types (`Summary`, `Status`, `RunRow`, `Dispatch`, `MatchChange`,
//! `Excluded`, `Why`, `SessionWhy`, ...) describe themselves through its `openapi` feature, so they
//! are documented once, where they are defined. `routes`' tests check that what the service
//! sends validates against every documented schema.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One row of the allocations table; `amt_<dimension>` columns give the capacity used.
#[derive(Serialize, ToSchema)]
pub struct AllocationRow {
    pub resource: String,
    pub need: String,
    pub share: f64,
    pub cost: f64,
    pub time: Option<f64>,
    pub distance_km: Option<f64>,
    /// Timed scenarios only (SPEC "Allocation over time"): the hour the use starts, null for
    /// a need without `duration_h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_h: Option<Option<f64>>,
    /// Timed scenarios only: `start_h + duration_h`, null for a need without `duration_h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_h: Option<Option<f64>>,
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
    /// Timed scenarios only: the hour the plan starts the need (null when unserved or
    /// without `duration_h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_h: Option<Option<f64>>,
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
