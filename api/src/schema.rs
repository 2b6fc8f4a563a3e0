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
    pub marginal_value: Option<f64>,
    /// Timed scenarios only: the hour the plan starts the need (null when unserved or
    /// without `duration_h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_h: Option<Option<f64>>,
    /// `unmet_<dimension>`: demand left unserved, per dimension.
    #[serde(flatten)]
    pub unmet: BTreeMap<String, f64>,
}

/// One row of the resources table: `used_<dimension>`, `utilisation_<dimension>` (null where
/// the capacity is 0) and `shadow_price_<dimension>` (null where the capacity is 0 and the
/// links are built by rule) per dimension.
#[derive(Serialize, ToSchema)]
pub struct ResourceRow {
    pub id: String,
    #[serde(flatten)]
    pub columns: BTreeMap<String, Option<f64>>,
}

/// A scenario as JSON (SPEC section 3): a session's `scenario`, a job's `scenarios`, and with
/// `explain` the body of `POST /v1/solve` ([`SolveBody`]). A shape for the document only: the
/// server reads the body with the engine's validator, which takes exactly these fields (any
/// other is refused, naming it), checks every rule of SPEC section 2 and lists every problem
/// with its table, row and field. An optional field given as null is taken as absent.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ScenarioBody {
    pub name: Option<String>,
    pub resources: Vec<ResourceBody>,
    pub needs: Vec<NeedBody>,
    /// Explicit links; without them the policy's rules build them (kind, community, distance,
    /// skills, time windows).
    pub links: Option<Vec<LinkBody>>,
    pub policy: Option<PolicyBody>,
}

/// The JSON body of `POST /v1/solve`: a scenario ([`ScenarioBody`]'s fields), and whether to
/// explain its plan. Its fields are listed, not flattened from [`ScenarioBody`]: a flattened
/// part is an `allOf`, which cannot refuse unknown fields (`additionalProperties: false` on
/// a part refuses the other part's fields, and utoipa does not write
/// `unevaluatedProperties`). The same holds for the entities' shared fields below.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SolveBody {
    pub name: Option<String>,
    pub resources: Vec<ResourceBody>,
    pub needs: Vec<NeedBody>,
    pub links: Option<Vec<LinkBody>>,
    pub policy: Option<PolicyBody>,
    /// Add the `why` rows (an explanation per need not served in full). Default false.
    pub explain: Option<bool>,
}

/// A quantity of one dimension (a capacity, a demand): at least 0; null is 0. Its schema is
/// written by hand: utoipa's derive takes no bound on a newtype's field, nor an `Option` of a
/// reference as a map's values.
#[derive(Serialize)]
#[allow(dead_code)]
pub struct Quantity(Option<f64>);

impl utoipa::PartialSchema for Quantity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
            .minimum(Some(0.0))
            .description(Some("A quantity of one dimension: at least 0; null is 0."))
            .into()
    }
}

impl ToSchema for Quantity {}

/// A resource as input (SPEC section 2): `id` and `kind` are required.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ResourceBody {
    pub id: String,
    /// Default `"default"`.
    pub community: Option<String>,
    pub kind: String,
    /// Degrees, given together with `lon`.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: Option<f64>,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lon: Option<f64>,
    /// Per dimension, at least 0 (a dimension not listed is 0).
    pub capacity: Option<BTreeMap<String, Quantity>>,
    pub skills: Option<Vec<String>>,
    /// Per full service of one need (default 0).
    #[schema(minimum = 0.0)]
    pub cost: Option<f64>,
    /// Hours from the scenario's start.
    #[schema(minimum = 0.0)]
    pub available_from: Option<f64>,
    /// Hours from the scenario's start, not before `available_from`.
    #[schema(minimum = 0.0)]
    pub available_until: Option<f64>,
    /// Hours after a use before the resource serves again (timed scenarios; default 0).
    #[schema(minimum = 0.0)]
    pub turnaround_h: Option<f64>,
}

/// A need as input (SPEC section 2): `id`, `kind` and a `demand` with one dimension above 0
/// are required.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NeedBody {
    pub id: String,
    /// Default `"default"`.
    pub community: Option<String>,
    pub kind: String,
    /// Degrees, given together with `lon`.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: Option<f64>,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lon: Option<f64>,
    /// Per dimension, at least 0, one of them above 0.
    pub demand: BTreeMap<String, Quantity>,
    /// The value of serving the need in full, above 0 (default 1).
    #[schema(exclusive_minimum = 0.0)]
    pub priority: Option<f64>,
    pub required_skills: Option<Vec<String>>,
    /// The share that must be served (default 0).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub min_fill: Option<f64>,
    /// All or nothing, from one resource (default false).
    pub indivisible: Option<bool>,
    /// Hours from the scenario's start.
    #[schema(minimum = 0.0)]
    pub earliest: Option<f64>,
    /// Hours from the scenario's start, not before `earliest`.
    #[schema(minimum = 0.0)]
    pub deadline: Option<f64>,
    /// How long a use lasts, in hours, above 0 (timed scenarios).
    #[schema(exclusive_minimum = 0.0)]
    pub duration_h: Option<f64>,
}

/// An explicit resource -> need link.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LinkBody {
    pub resource: String,
    pub need: String,
    /// Cost of a full service over this link (default 0).
    pub cost: Option<f64>,
    /// Travel time in hours.
    pub time: Option<f64>,
    /// Per-dimension use of a full service, where it is not the need's demand.
    #[serde(rename = "use")]
    pub use_: Option<BTreeMap<String, f64>>,
}

/// The policy (SPEC section 2, "Policy"); every field optional, with SPEC's defaults.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PolicyBody {
    pub objective: Option<commonsnet_engine::model::Objective>,
    /// `w` of the weighted objective `V - w C` (default 1).
    #[schema(minimum = 0.0)]
    pub cost_weight: Option<f64>,
    pub fairness: Option<FairnessBody>,
    /// What a fairness group is (default `community`).
    pub group_by: Option<commonsnet_engine::model::GroupBy>,
    #[schema(minimum = 0.0)]
    pub max_distance_km: Option<f64>,
    #[schema(exclusive_minimum = 0.0)]
    pub speed_kmh: Option<f64>,
    #[schema(minimum = 0.0)]
    pub cost_per_km: Option<f64>,
    /// Whether a resource may serve another community's needs (default true).
    pub cross_community: Option<bool>,
    /// `auto` (default), `lp` (force HiGHS) or `greedy` (the by-hand baseline).
    pub solver: Option<commonsnet_engine::model::SolverChoice>,
    /// Seconds (the server's `--time-limit` applies when smaller).
    #[schema(exclusive_minimum = 0.0)]
    pub time_limit_s: Option<f64>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub mip_gap: Option<f64>,
    #[schema(minimum = 1, maximum = 1024)]
    pub threads: Option<u32>,
    /// Objective `deprivation` only: breakpoints `[[u, c], ...]` of a convex, increasing cost
    /// of the unmet share from (0, 0) to u = 1.
    pub deprivation: Option<Vec<[f64; 2]>>,
    /// Dimensions used for an interval and then freed (`beds`, `units`).
    pub reusable: Option<Vec<String>>,
    /// Spacing of a need's candidate starts, in hours (default 1; at least 1e-9).
    #[schema(minimum = 1e-9)]
    pub slot_h: Option<f64>,
    /// The most candidate starts one need's window may hold (default 1,000).
    #[schema(minimum = 1, maximum = 10000)]
    pub max_starts: Option<u32>,
}

/// `policy.fairness`: a rule by name, or a floor on every group's ratio.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum FairnessBody {
    /// `none` (default), `maxmin` or `leximin`.
    Named(FairnessName),
    MinShare(MinShareBody),
}

/// `ratio_g >= min_share` for every group (hard).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MinShareBody {
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub min_share: f64,
}

/// The fairness rules named by a word.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FairnessName {
    None,
    Maxmin,
    Leximin,
}

/// One event of a live session (SPEC section 4), by its `type`. Each may carry an `event_id`
/// (a retry under the same id with the same event is skipped; another event under it is
/// refused) and `at`, the session clock in hours (never decreasing).
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventBody {
    NeedAdded {
        need: NeedBody,
        event_id: Option<String>,
        at: Option<f64>,
    },
    /// The need as it is now (every field; it replaces the one before).
    NeedUpdated {
        need: NeedBody,
        event_id: Option<String>,
        at: Option<f64>,
    },
    NeedWithdrawn {
        id: String,
        event_id: Option<String>,
        at: Option<f64>,
    },
    ResourceAdded {
        resource: ResourceBody,
        event_id: Option<String>,
        at: Option<f64>,
    },
    /// The resource as it is now (every field; it replaces the one before).
    ResourceUpdated {
        resource: ResourceBody,
        event_id: Option<String>,
        at: Option<f64>,
    },
    ResourceWithdrawn {
        id: String,
        event_id: Option<String>,
        at: Option<f64>,
    },
    /// Fix a proposed match: it is never moved by a re-plan.
    Dispatched {
        need: String,
        resource: String,
        event_id: Option<String>,
        at: Option<f64>,
    },
    /// The resource `id` is back (in a timed session one loan: `need`'s, else the earliest
    /// started).
    ResourceReturned {
        id: String,
        need: Option<String>,
        event_id: Option<String>,
        at: Option<f64>,
    },
    /// Undo a dispatch (a booking in conflict, or one made in error).
    DispatchReleased {
        need: String,
        resource: String,
        event_id: Option<String>,
        at: Option<f64>,
    },
}

/// The input rules that `ToSchema`'s attributes cannot state, written into the document:
/// `lat` and `lon` of a resource or a need come together (`dependentRequired`), and a
/// deprivation cost is 2 to `MAX_DEPRIVATION_BREAKPOINTS` pairs `[u, c]`.
pub struct InputRules;

impl utoipa::Modify for InputRules {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ArrayItems, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = api.components.as_mut() else {
            return;
        };
        for name in ["ResourceBody", "NeedBody"] {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(name) {
                let rule = serde_json::json!({"lat": ["lon"], "lon": ["lat"]});
                o.extensions
                    .get_or_insert_with(Default::default)
                    .insert("dependentRequired".into(), rule);
            }
        }
        let Some(RefOr::T(Schema::Object(policy))) = components.schemas.get_mut("PolicyBody")
        else {
            return;
        };
        if let Some(RefOr::T(Schema::Array(points))) = policy.properties.get_mut("deprivation") {
            points.min_items = Some(2);
            points.max_items = Some(commonsnet_engine::input::MAX_DEPRIVATION_BREAKPOINTS);
            if let ArrayItems::RefOrSchema(item) = &mut points.items {
                if let RefOr::T(Schema::Array(pair)) = item.as_mut() {
                    (pair.min_items, pair.max_items) = (Some(2), Some(2));
                }
            }
        }
    }
}
