//! `GET /v1/generators/{name}`: a pilot generator's scenario (SPEC section 5), so the
//! console's planner can start from a seeded scenario without a file.

use super::answers::*;
use super::extract::{bad_query, Params, QueryArgs};
use super::{blocking, St};
use crate::error::{ApiError, ErrorBody, InternalError, UserError};
use axum::extract::State;
use axum::Json;
use commonsnet_datasets::generate::{Clock, GenerateError, Generator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Largest scale served here: the console draws every entity of the scenario, and a scale of
/// 20 is already thousands of needs. `commonsnet generate` and jobs go to the generators' own
/// limit.
pub const MAX_SERVED_SCALE: f64 = 20.0;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct GeneratorQuery {
    /// The seed, 0 to 2^64 - 1 (default 0).
    #[serde(default)]
    #[param(format = "uint64", minimum = 0)]
    seed: u64,
    /// Entity counts grow linearly with it; in (0, 20] (default 1).
    #[serde(default = "one")]
    #[param(exclusive_minimum = 0.0, maximum = 20.0)]
    scale: f64,
    /// With the time model: loans, stays, jobs and shifts with durations (default false).
    #[serde(default)]
    timed: bool,
}

fn one() -> f64 {
    1.0
}

/// `200` answer of `GET /v1/generators/{name}`: a scenario in the layout of SPEC section 3, as
/// the generator writes it (fields it leaves out take SPEC's defaults).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratedScenario {
    /// `NAME-sSEED` with the scale and clock when they are not the defaults.
    pub name: String,
    /// Resources (SPEC section 3 fields).
    pub resources: Vec<BTreeMap<String, Value>>,
    /// Needs (SPEC section 3 fields).
    pub needs: Vec<BTreeMap<String, Value>>,
    /// The policy the generator sets (SPEC section 2 fields).
    pub policy: BTreeMap<String, Value>,
}

/// A generated scenario as JSON (SPEC section 3).
#[utoipa::path(get, path = "/v1/generators/{name}",
    params(("name" = String, Path, description = "urban, rural, intentional or disaster"), GeneratorQuery),
    responses((status = 200, description = "The scenario (SPEC section 3)", body = GeneratedScenario),
        (status = 400, description = "A malformed or unknown query parameter, or a scale out of (0, 20]", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such generator", body = ErrorBody),
        (status = 422, description = "A scale past what this generator makes within the engine's bounds", body = ErrorBody)))]
pub(super) async fn generated_scenario(
    State(_st): St,
    _tenant: super::Tenant,
    Params(name): Params<String>,
    QueryArgs(q): QueryArgs<GeneratorQuery>,
) -> Result<Json<GeneratedScenario>, ApiError> {
    let generator: Generator = name
        .parse()
        .map_err(|e: GenerateError| UserError::new(crate::error::Code::NotFound, e.to_string()))?;
    if !(q.scale > 0.0 && q.scale <= MAX_SERVED_SCALE) {
        let why = format!("{} is not in (0, {MAX_SERVED_SCALE}]", q.scale);
        return Err(bad_query("scale", why).into());
    }
    let clock = if q.timed {
        Clock::Timed
    } else {
        Clock::Snapshot
    };
    let value = blocking(move || generator.generate_with(q.scale, q.seed, clock))
        .await?
        .map_err(|e| match e {
            // A scale within (0, 20] that this generator's timed scenarios cannot reach.
            GenerateError::Scale { .. } => {
                ApiError::from(UserError::invalid_field("query", "scale", e.to_string()))
            }
            // The name was parsed above, and an invalid scenario is a generator's bug.
            GenerateError::UnknownGenerator(_) | GenerateError::Invalid { .. } => {
                InternalError::Generate(e).into()
            }
        })?;
    let scenario = serde_json::from_value(value).map_err(InternalError::from)?;
    Ok(Json(scenario))
}
