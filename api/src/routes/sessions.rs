//! `/v1/sessions`: create, apply events, read the plan and the explanations, delete. Each
//! session's work runs on its actor ([`crate::sessions`]).

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::conditional;
use crate::error::{ApiError, ErrorBody, UserError};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commonsnet_engine::input::ListBounds;
use commonsnet_engine::scenario_from_value;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The initial scenario (SPEC section 3; needs and resources may be empty lists, links
    /// are built by the policy's rules).
    #[schema(value_type = crate::schema::ScenarioBody)]
    pub scenario: Value,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    /// Events of SPEC section 4 (`need_added`, `need_updated`, `need_withdrawn`,
    /// `resource_added`, `resource_updated`, `resource_withdrawn`, `dispatched`,
    /// `resource_returned`), and `dispatch_released` (`need`, `resource`: undo a dispatch, as
    /// for a booking in conflict), each with an optional `event_id` for idempotent retries (the
    /// session remembers its newest 100,000) and
    /// an optional `at`: the session clock in hours, never decreasing. In a session with
    /// `policy.reusable`, no start is planned before the clock, a dispatch is a booking whose
    /// resource, start and share never move, and `resource_returned` records the return at the
    /// clock (one loan: that of its optional `need`, else the earliest started); a return
    /// after the booking's end lists the bookings it leaves over capacity as `conflicts`, as
    /// does a `resource_updated` that lowers a capacity below what is dispatched on it.
    #[schema(value_type = Vec<crate::schema::EventBody>)]
    pub events: Value,
}

/// `201` answer of `POST /v1/sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionCreated {
    pub id: String,
    /// Needs and resources of the initial scenario.
    pub needs: usize,
    pub resources: usize,
}

/// Open a live matching session. With an `Idempotency-Key` header, a retry of the same
/// request (same tenant, key and scenario) makes nothing and answers `200` with the session
/// the key names and `Idempotent-Replayed: true`; the key with another scenario is a `422`.
/// A key lives as long as its session.
#[utoipa::path(post, path = "/v1/sessions", request_body = SessionRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters (spaces inside allowed), unique per tenant: a retried creation makes one session")),
    responses((status = 201, description = "Created; the initial plan is ready", body = SessionCreated,
            headers(("Location" = String, description = "The session's URL, /v1/sessions/{id}"))),
        (status = 200, description = "A retry: the session created before under this Idempotency-Key", body = SessionCreated,
            headers(("Location" = String, description = "The session's URL, /v1/sessions/{id}"),
                ("Idempotent-Replayed" = String, description = "true"))),
        BodyRejected,
        Unauthorized,
        (status = 422, description = "Invalid scenario, or an Idempotency-Key used for another scenario", body = ErrorBody),
        (status = 429, description = "Too many live sessions; see Retry-After", body = ErrorBody),
        (status = 503, description = "No thread for a new session now; see Retry-After", body = ErrorBody)))]
pub(super) async fn create_session(
    State(st): St,
    Tenant(tenant): Tenant,
    _: QueryArgs<NoParams>,
    req: Request,
) -> Result<Response, ApiError> {
    let key = idempotency_key(req.headers())?;
    let (body, share): (SessionRequest, _) = json_body_held(&st, &tenant, req).await?;
    let id = new_id();
    let hub = st.sessions.clone();
    let (sid, raw, k) = (id.clone(), body.scenario, key.clone());
    // Validated off the async runtime, with the session's creation, within the body's share
    // of the decode budget.
    let (needs, resources, held) = blocking(move || {
        let _share = share;
        let scenario = scenario_from_value(&raw).map_err(|e| UserError::invalid_input(&e))?;
        let held = hub.create_keyed(&sid, &tenant, &scenario, &raw, k.as_deref())?;
        Ok::<_, ApiError>((scenario.needs().len(), scenario.resources().len(), held))
    })
    .await??;
    let (id, replayed) = match held {
        None => (id, false),
        Some(held) if held.same_request => {
            tracing::info!(session = %held.id, "session creation replayed (Idempotency-Key)");
            (held.id, true)
        }
        Some(held) => {
            return Err(key_reused(key.as_deref().unwrap_or_default(), "session", &held.id).into())
        }
    };
    let location = format!("/v1/sessions/{id}");
    let body = SessionCreated {
        id,
        needs,
        resources,
    };
    Ok(created(StatusCode::CREATED, location, body, replayed))
}

/// Most sessions `GET /v1/sessions` lists (the newest).
pub const MAX_LISTED_SESSIONS: usize = 500;

/// `200` answer of `GET /v1/sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// The tenant's sessions, newest first (at most 500).
    pub sessions: Vec<crate::sessions::SessionListed>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SessionsQuery {
    /// How many of the newest sessions, 1 to 500 (default 500).
    #[serde(default = "max_listed")]
    #[param(minimum = 1, maximum = 500, default = 500)]
    limit: usize,
}

fn max_listed() -> usize {
    MAX_LISTED_SESSIONS
}

/// The tenant's sessions, newest first (at most `limit`, 500). Any other query parameter is
/// refused, as on `/v1/jobs`: one ignored without a word would seem to filter.
#[utoipa::path(get, path = "/v1/sessions", params(SessionsQuery),
    responses((status = 200, description = "The tenant's sessions, newest first (at most `limit`, 500)", body = SessionList),
        (status = 400, description = "An unknown query parameter, or a limit outside 1 to 500", body = ErrorBody),
        Unauthorized))]
pub(super) async fn list_sessions(
    State(st): St,
    Tenant(tenant): Tenant,
    QueryArgs(q): QueryArgs<SessionsQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let limit = listed_limit(q.limit, MAX_LISTED_SESSIONS)?;
    let hub = st.sessions.clone();
    let sessions = blocking(move || hub.log().list(&tenant, limit)).await??;
    Ok(Json(SessionList { sessions }))
}

/// Delete a session: its log is removed and its streams end.
#[utoipa::path(delete, path = "/v1/sessions/{id}", params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Deleted"),
        Unauthorized,
        NoSuchSession))]
pub(super) async fn delete_session(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
) -> Result<StatusCode, ApiError> {
    check_id(&id, "session")?;
    let hub = st.sessions.clone();
    blocking(move || hub.delete(&id, &tenant)).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Apply events (one batch, all or nothing) and answer the matches that changed.
#[utoipa::path(post, path = "/v1/sessions/{id}/events", request_body = EventsRequest,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Applied: sequence number, changed matches, new dispatches", body = crate::sessions::ChangeSet),
        BodyRejected,
        Unauthorized,
        NoSuchSession,
        (status = 409, description = "An event conflicts with the session's state; nothing applied", body = ErrorBody),
        (status = 422, description = "Malformed events; details name the event and field", body = ErrorBody),
        SessionsFull,
        (status = 500, description = "The session failed on this batch; nothing was applied and it was restored from its log", body = ErrorBody)))]
pub(super) async fn session_events(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
    req: Request,
) -> Result<Json<crate::sessions::ChangeSet>, ApiError> {
    check_id(&id, "session")?;
    // Its lists held to a batch's bounds as they are read (`parse_events` checks the batch's
    // length again for a text parsed elsewhere).
    let body: EventsRequest = json_body_within(&st, &tenant, req, ListBounds::EVENTS).await?;
    let events = commonsnet_engine::session::parse_events(&body.events).map_err(|e| {
        let first = e
            .issues
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        UserError::invalid_input(&e).with_message(format!("malformed events; first: {first}"))
    })?;
    let hub = st.sessions.clone();
    let session = id.clone();
    let rx = blocking(move || hub.events(&id, &tenant, events)).await??;
    let mut out = crate::sessions::answer(rx).await??;
    if out.applied == 0 && !out.duplicates.is_empty() {
        // A retry whose answer was lost: the number of the oldest batch that applied its
        // events, so the client can read from the stream what those batches changed (it had
        // the current number, past the changes the client missed). Looked up in the log, off the actor,
        // over its last LANDED_WINDOW batches (a retry comes soon; the log is never cut).
        let hub = st.sessions.clone();
        let ids = out.duplicates.clone();
        let after = out.seq.saturating_sub(LANDED_WINDOW);
        if let Some(seq) = blocking(move || hub.log().landed(&session, &ids, after)).await?? {
            out.seq = seq;
        }
    }
    Ok(Json(out))
}

/// How many of a session's latest batches a retry's batch is looked for in: an older one is
/// answered with the current number, as any batch that changed nothing (the lookup reads
/// these rows' event ids, under SQLite's one connection).
const LANDED_WINDOW: i64 = 10_000;

/// Run a read on a session's actor (loading the session first if it was unloaded).
pub(super) async fn session_read<T: Send + 'static>(
    st: &AppState,
    id: String,
    tenant: String,
    f: impl FnOnce(&commonsnet_engine::session::Session) -> T + Send + 'static,
) -> Result<T, ApiError> {
    session_read_at(st, id, tenant, move |s, _| f(s)).await
}

/// [`session_read`] with the sequence number of the last batch the session holds.
async fn session_read_at<T: Send + 'static>(
    st: &AppState,
    id: String,
    tenant: String,
    f: impl FnOnce(&commonsnet_engine::session::Session, i64) -> T + Send + 'static,
) -> Result<T, ApiError> {
    check_id(&id, "session")?;
    let hub = st.sessions.clone();
    let rx = blocking(move || hub.read_with_seq(&id, &tenant, f)).await??;
    crate::sessions::answer(rx).await?
}

/// A conditional read on a session's actor: the weak tag of answer `kind` at the session's last
/// batch, with `build`'s value unless `headers` name that tag in `If-None-Match` (then `None`,
/// answered `304`). Tag and value come from the same step of the actor, so they are of the
/// same batch.
async fn session_read_tagged<T: Send + 'static>(
    st: &AppState,
    id: String,
    tenant: String,
    headers: HeaderMap,
    kind: &'static str,
    build: impl FnOnce(&commonsnet_engine::session::Session, i64) -> T + Send + 'static,
) -> Result<(String, Option<T>), ApiError> {
    let read = move |s: &commonsnet_engine::session::Session, seq: i64| {
        let tag = conditional::session_tag(kind, seq, s.warm_mode());
        let built = (!conditional::none_match(&headers, &tag)).then(|| build(s, seq));
        (tag, built)
    };
    session_read_at(st, id, tenant, read).await
}

/// The current plan: summary, proposed matches and dispatches (JSON), or the matches as an
/// Arrow IPC stream.
#[utoipa::path(get, path = "/v1/sessions/{id}/plan", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The plan", body = crate::sessions::Plan,
            headers(("ETag" = String, description = "Weak; changes with every batch applied (and with the server's version)"))),
        (status = 304, description = "Not modified: `If-None-Match` names the plan's current tag (the JSON and the Arrow answer have their own)"),
        Unauthorized,
        NoSuchSession,
        NotAcceptable,
        SessionsFull))]
pub(super) async fn session_plan(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wanted = negotiate(&headers, false)?;
    let kind = match wanted {
        Wanted::Arrow => "arrow",
        _ => "plan",
    };
    let read = |s: &commonsnet_engine::session::Session, seq: i64| {
        let r = s.report();
        let body = crate::sessions::plan(&r, s, seq);
        (r, body)
    };
    let (tag, answer) = session_read_tagged(&st, id, tenant, headers, kind, read).await?;
    let Some((report, body)) = answer else {
        return Ok(conditional::not_modified(&tag));
    };
    let resp = match wanted {
        Wanted::Arrow => allocations_stream(&report)?,
        _ => Json(body).into_response(),
    };
    Ok(conditional::tagged(resp, &tag))
}

/// `200` answer of `GET /v1/sessions/{id}/state`: the plan and the entities it is over, read
/// in one step of the session's actor, so they are of the same batch.
#[derive(Serialize, ToSchema)]
pub struct SessionState {
    /// The sequence number of the last batch applied (0 before the first).
    pub seq: i64,
    pub plan: crate::sessions::Plan,
    /// The needs in the session now (withdrawn ones are gone), as last defined.
    pub needs: Vec<commonsnet_engine::model::Need>,
    /// Each need's part not yet dispatched (1 = all open); the plan's shares are of this part.
    pub open: std::collections::BTreeMap<String, f64>,
    /// The resources in the session now, as last defined (dispatches not subtracted).
    pub resources: Vec<commonsnet_engine::model::Resource>,
    /// The session clock (hours): the latest `at` of its events; absent before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<f64>,
    /// The confirmed bookings in conflict now (a resource came back late, or its capacity
    /// was lowered below what is dispatched on it), each with what the
    /// re-plan proposes once they are all released; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<commonsnet_engine::session::BookingConflict>,
}

impl SessionState {
    pub fn of(s: &commonsnet_engine::session::Session, seq: i64) -> SessionState {
        SessionState {
            seq,
            plan: crate::sessions::plan(&s.report(), s, seq),
            needs: s.needs().map(|(n, _)| n.clone()).collect(),
            open: s.needs().map(|(n, open)| (n.id.clone(), open)).collect(),
            resources: s.resources().to_vec(),
            clock: s.clock(),
            conflicts: s.conflicts(),
        }
    }
}

/// The plan and the needs and resources it is over, with the batch they follow: what the
/// coordinator's map and lists show.
#[utoipa::path(get, path = "/v1/sessions/{id}/state", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session's plan, needs and resources", body = SessionState,
            headers(("ETag" = String, description = "Weak; changes with every batch applied (and with the server's version)"))),
        (status = 304, description = "Not modified: `If-None-Match` names the state's current tag"),
        Unauthorized,
        NoSuchSession,
        SessionsFull))]
pub(super) async fn session_state(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (tag, state) =
        session_read_tagged(&st, id, tenant, headers, "state", SessionState::of).await?;
    Ok(match state {
        Some(state) => conditional::tagged(Json(state).into_response(), &tag),
        None => conditional::not_modified(&tag),
    })
}

/// Why a need is served as it is (SPEC section 2, "Explanations"): the reason, its evidence,
/// and what dispatches have served.
#[utoipa::path(get, path = "/v1/sessions/{id}/needs/{need}/why",
    params(("id" = String, Path, description = "Session id"), ("need" = String, Path, description = "Need id")),
    responses((status = 200, description = "The explanation", body = commonsnet_engine::session::SessionWhy),
        Unauthorized,
        (status = 404, description = "No such session or need", body = ErrorBody),
        SessionsFull))]
pub(super) async fn session_why(
    State(st): St,
    Tenant(tenant): Tenant,
    Params((id, need)): Params<(String, String)>,
    _: QueryArgs<NoParams>,
) -> Result<Json<commonsnet_engine::session::SessionWhy>, ApiError> {
    session_read(&st, id, tenant, move |s| s.why(&need))
        .await?
        .map(Json)
        .ok_or_else(|| UserError::not_found("need").into())
}
