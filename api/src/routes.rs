//! The routes of SPEC section 4 (sessions excepted), their OpenAPI description, and the
//! middleware around them (tenant authentication, request metrics and logs).

use crate::error::{ApiError, Code, ErrorBody, ErrorDetail, InternalError, Problem, UserError};
use crate::jobs::JobRequest;
use crate::store::{JobInfo, JobStatus, Progress};
use crate::AppState;
use arrow_array::RecordBatch;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Multipart, Path, Request, State,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use commonsnet_engine::{scenario_from_batches, scenario_from_value, Report, Scenario};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use utoipa::{OpenApi, ToSchema};

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
pub const PARQUET: &str = "application/vnd.apache.parquet";

type St = State<Arc<AppState>>;

/// The service's routes, with the body limit, metrics and fallbacks applied.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/solve", axum::routing::post(solve))
        .route("/v1/jobs", axum::routing::post(submit_job).get(list_jobs))
        .route("/v1/jobs/{id}", get(job_status).delete(cancel_job))
        .route("/v1/jobs/{id}/result", get(job_result))
        .route("/v1/sessions", axum::routing::post(create_session))
        .route(
            "/v1/sessions/{id}/events",
            axum::routing::post(session_events),
        )
        .route("/v1/sessions/{id}", axum::routing::delete(delete_session))
        .route("/v1/sessions/{id}/plan", get(session_plan))
        .route("/v1/sessions/{id}/stream", get(session_stream))
        .route("/v1/sessions/{id}/needs/{need}/why", get(session_why))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn(head_limits))
        .with_state(state)
}

/// Longest request target served; longer ones answer 414.
const MAX_URI: usize = 8 << 10;
/// Most header bytes (names, values and separators) and header lines served; more answer 431.
const MAX_HEADER_BYTES: usize = 64 << 10;
const MAX_HEADER_LINES: usize = 100;

/// 414 and 431 with the JSON error body. hyper answers them itself (with no body) only for
/// heads beyond its own, much larger, buffer (`server.rs`).
async fn head_limits(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI {
        return UserError::new(
            Code::UriTooLong,
            format!("the request target has {uri_len} bytes; at most {MAX_URI} are served"),
        )
        .into_response();
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADER_LINES {
        return UserError::new(
Code::HeadersTooLarge,
            format!(
                "{} header lines of {bytes} bytes; at most {MAX_HEADER_LINES} lines and {MAX_HEADER_BYTES} bytes are served",
                headers.len()
            ),
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CommonsNet",
        description = "Allocation engine for shared community resources and crisis response (SPEC section 4)."
    ),
    paths(healthz, metrics, openapi, solve, submit_job, list_jobs, job_status, cancel_job, job_result,
        create_session, delete_session, session_events, session_plan, session_stream, session_why),
    components(schemas(ErrorBody, ErrorDetail, Problem, Code, JobStatus, JobInfo, Progress, JobRequest, crate::jobs::GeneratorSpec, Accepted, SolveResponse, SessionRequest, EventsRequest)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `202` answer of `POST /v1/jobs`.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: JobStatus,
    pub total: usize,
}

/// `POST /v1/solve` JSON answer: the summary and the three result tables.
#[derive(Serialize, ToSchema)]
pub struct SolveResponse {
    #[schema(value_type = Object)]
    pub summary: Value,
    #[schema(value_type = Vec<Object>)]
    pub allocations: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub needs: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<Value>,
}

/// The tenant a request acts for.
pub struct Tenant(pub String);

impl FromRequestParts<Arc<AppState>> for Tenant {
    type Rejection = UserError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(tenants) = &state.tenants else {
            return Ok(Tenant("local".into()));
        };
        let unauthorized = |m: &str| UserError::new(Code::Unauthorized, m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing `Authorization: Bearer TOKEN`"))?;
        // The scheme is case-insensitive (RFC 7235 section 2.1).
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or_else(|| unauthorized("expected `Authorization: Bearer TOKEN`"))?;
        tenants
            .tenant(token.trim())
            .map(|t| Tenant(t.to_string()))
            .ok_or_else(|| unauthorized("unknown token"))
    }
}

/// Counts and times every request, and logs it.
async fn track(State(st): St, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.request(method.as_str(), &route, status, secs);
    tracing::info!(%method, route, status, ms = secs * 1e3, "request");
    resp
}

async fn not_found() -> UserError {
    UserError::new(Code::NotFound, "no such route")
}

async fn method_not_allowed() -> UserError {
    UserError::new(
        Code::MethodNotAllowed,
        "this route does not accept that method",
    )
}

/// What a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Json,
    Arrow,
    Parquet,
}

/// Picks the first media type in `Accept` we can produce (q-values are not weighed: clients
/// send one type). No header, `*/*` and `application/*` mean JSON.
fn negotiate(headers: &HeaderMap, parquet_ok: bool) -> Result<Wanted, UserError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(Wanted::Json);
    };
    let accept = accept.to_str().unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Wanted::Json);
    }
    for item in accept.split(',') {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "*/*" | "application/*" => return Ok(Wanted::Json),
            ARROW_STREAM => return Ok(Wanted::Arrow),
            PARQUET | "application/x-parquet" if parquet_ok => return Ok(Wanted::Parquet),
            _ => {}
        }
    }
    let mut offered = vec!["application/json", ARROW_STREAM];
    if parquet_ok {
        offered.push(PARQUET);
    }
    Err(UserError::new(
        Code::NotAcceptable,
        format!("cannot answer {accept:?}; offered: {}", offered.join(", ")),
    ))
}

fn body_rejection(e: BytesRejection) -> UserError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        UserError::new(
            Code::BodyTooLarge,
            "request body exceeds the server's limit",
        )
    } else {
        UserError::new(Code::BadBody, e.body_text())
    }
}

/// Parse a JSON body into `T`: syntax errors are 400, well-formed JSON of the wrong shape
/// (unknown fields included) is 422.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, UserError> {
    use commonsnet_engine::input::{parse_json as strict, JsonError};
    // Syntax first, whatever `T` is, so that a truncated body is a 400 on every route; a key
    // repeated in any object of the body (serde would keep the last silently) is a 422 that
    // names its path.
    let value: Value = strict(bytes).map_err(|e| match e {
        JsonError::Syntax(e) => {
            UserError::new(Code::InvalidJson, format!("body is not valid JSON: {e}"))
        }
        dup => UserError::invalid_input(&dup.into_invalid_input("body")),
    })?;
    serde_json::from_value(value).map_err(|e| UserError::unprocessable(e.to_string()))
}

/// Refuse a body in an encoding we do not decode (415), instead of failing to parse it.
fn check_encoding(headers: &HeaderMap) -> Result<(), UserError> {
    match headers.get(header::CONTENT_ENCODING) {
        None => Ok(()),
        Some(v)
            if v.to_str()
                .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity")) =>
        {
            Ok(())
        }
        Some(v) => Err(UserError::new(
            Code::UnsupportedEncoding,
            format!(
                "Content-Encoding {:?} is not supported: send the body uncompressed",
                v.to_str().unwrap_or("?")
            ),
        )),
    }
}

/// Read a request body within the server's body timeout (408 when the client is too slow).
async fn read_body(st: &Arc<AppState>, req: Request) -> Result<Bytes, UserError> {
    check_encoding(req.headers())?;
    match tokio::time::timeout(st.config.body_timeout, Bytes::from_request(req, st)).await {
        Ok(r) => r.map_err(body_rejection),
        Err(_) => Err(body_timeout(st)),
    }
}

fn body_timeout(st: &AppState) -> UserError {
    UserError::new(
        Code::BodyTimeout,
        format!(
            "the request body did not arrive within {} s",
            st.config.body_timeout.as_secs()
        ),
    )
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Run storage or solver work off the async runtime; a task that dies is our fault (5xx).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| InternalError::from(e).into())
}

/// The allocations table as an Arrow IPC stream response.
fn allocations_stream(report: &Report) -> Result<Response, ApiError> {
    let tables = report.tables().map_err(InternalError::from)?;
    let bytes = arrow_stream_bytes(&tables.allocations)?;
    Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], Body::from(bytes)).into_response())
}

fn arrow_stream_bytes(batch: &RecordBatch) -> Result<Vec<u8>, InternalError> {
    let mut buf = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(buf)
}

#[utoipa::path(get, path = "/healthz", security(()),
    responses((status = 200, description = "The service is up", body = Object)))]
async fn healthz(State(st): St) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": commonsnet_engine::VERSION,
        "queue_depth": st.queue.depth(),
    }))
}

#[utoipa::path(get, path = "/metrics", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics(State(st): St) -> Result<Response, ApiError> {
    let store = st.store.clone();
    let jobs = blocking(move || store.counts()).await??;
    let text = st
        .metrics
        .render(st.queue.depth(), st.sessions.live_count(), &jobs);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

#[utoipa::path(get, path = "/openapi.json", security(()),
    responses((status = 200, description = "This document", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Read the multipart form of `POST /v1/solve`: Arrow IPC (stream or file) parts `resources`,
/// `needs`, optional `links`, a `policy` JSON part and an optional `name` text part.
async fn scenario_from_multipart(mut form: Multipart) -> Result<Scenario, UserError> {
    let mut tables: [Option<Vec<RecordBatch>>; 3] = [None, None, None];
    let mut policy: Option<Value> = None;
    let mut name: Option<String> = None;
    let bad = |m: String| UserError::new(Code::BadMultipart, m);
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UserError::new(
                Code::BodyTooLarge,
                "request body exceeds the server's limit",
            )
        } else {
            bad(format!("malformed multipart body: {}", e.body_text()))
        }
    })? {
        let part = field.name().unwrap_or("").to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("part {part:?}: {}", e.body_text())))?;
        let slot = match part.as_str() {
            "resources" => 0,
            "needs" => 1,
            "links" => 2,
            "policy" => {
                policy = Some(parse_json::<Value>(&data).map_err(|e| UserError {
                    message: format!("part \"policy\": {}", e.message),
                    ..e
                })?);
                continue;
            }
            "name" => {
                name = Some(String::from_utf8_lossy(&data).into_owned());
                continue;
            }
            other => {
                return Err(bad(format!(
                    "unknown part {other:?}: expected resources, needs, links, policy or name"
                )))
            }
        };
        let batches = commonsnet_datasets::read_batches_from_bytes(&data).map_err(|e| {
            UserError::unprocessable(format!("part {part:?} is not an Arrow IPC table: {e}"))
        })?;
        tables[slot] = Some(batches);
    }
    let [resources, needs, links] = tables;
    let missing: Vec<&str> = [("resources", &resources), ("needs", &needs)]
        .iter()
        .filter(|(_, t)| t.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(UserError::unprocessable(format!(
            "missing part(s): {}",
            missing.join(", ")
        )));
    }
    scenario_from_batches(
        resources.as_deref().unwrap_or_default(),
        needs.as_deref().unwrap_or_default(),
        links.as_deref(),
        policy.as_ref(),
        name.as_deref(),
    )
    .map_err(|e| UserError::invalid_input(&e))
}

/// Solve a scenario now. JSON body (SPEC section 3), or `multipart/form-data` with Arrow IPC
/// parts `resources`, `needs`, optional `links`, and a `policy` JSON part. Answers the summary
/// and the result tables as JSON, or with `Accept: application/vnd.apache.arrow.stream` the
/// allocations table as an Arrow IPC stream (status, objective and solver in `x-commonsnet-*`
/// headers). The server's time limit caps the policy's.
#[utoipa::path(post, path = "/v1/solve",
    request_body(content((Object = "application/json"), (Object = "multipart/form-data")),
        description = "A scenario: JSON, or Arrow IPC parts"),
    responses(
        (status = 200, description = "Solved (any status, infeasible included)", body = SolveResponse,
            content_type = "application/json"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 406, description = "Unsupported Accept", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = ErrorBody),
        (status = 422, description = "Invalid scenario; details name table, row and field", body = ErrorBody),
    ))]
async fn solve(State(st): St, _tenant: Tenant, req: Request) -> Result<Response, ApiError> {
    let wanted = negotiate(req.headers(), false)?;
    let ctype = content_type(req.headers());
    let scenario = match ctype.as_str() {
        "application/json" | "" => {
            let bytes = read_body(&st, req).await?;
            let value: Value = parse_json(&bytes)?;
            scenario_from_value(&value).map_err(|e| UserError::invalid_input(&e))?
        }
        "multipart/form-data" => {
            check_encoding(req.headers())?;
            let form = Multipart::from_request(req, &st)
                .await
                .map_err(|e| UserError::new(Code::BadMultipart, e.body_text()))?;
            tokio::time::timeout(st.config.body_timeout, scenario_from_multipart(form))
                .await
                .map_err(|_| body_timeout(&st))??
        }
        other => {
            return Err(UserError::new(
                Code::UnsupportedMediaType,
                format!("Content-Type {other:?}: send application/json or multipart/form-data"),
            )
            .into())
        }
    };
    let permit = st
        .solve_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| InternalError::ShuttingDown)?;
    let opts = commonsnet_engine::SolveOptions {
        time_limit_s: Some(st.config.time_limit_s),
        ..Default::default()
    };
    // A solver failure is ours, not the client's: a 500, logged with what failed.
    let report = blocking(move || {
        let _permit = permit;
        commonsnet_engine::solve::try_solve_with(&scenario, &opts).map(|o| Report::new(&o))
    })
    .await?
    .map_err(InternalError::from)?;
    st.metrics
        .solve(&report.summary.solver, report.summary.solve_ms);
    match wanted {
        Wanted::Arrow => {
            let mut resp = allocations_stream(&report)?;
            let h = resp.headers_mut();
            let s = &report.summary;
            let put = |h: &mut HeaderMap, k: &'static str, v: String| {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            };
            put(h, "x-commonsnet-status", s.status.as_str().to_string());
            put(
                h,
                "x-commonsnet-objective",
                s.objective.map_or("null".into(), |o| o.to_string()),
            );
            put(h, "x-commonsnet-solver", s.solver.clone());
            put(h, "x-commonsnet-solve-ms", format!("{:.3}", s.solve_ms));
            Ok(resp)
        }
        _ => Ok(Json(solve_body(&report)).into_response()),
    }
}

fn solve_body(r: &Report) -> Value {
    json!({
        "summary": r.summary_json(),
        "allocations": r.allocations_json(),
        "needs": r.needs_json(),
        "resources": r.resources_json(),
    })
}

/// Submit a batch job: scenarios (inline or from a generator) x policies x replicates with
/// perturbations. Answers `202` once the job is durably stored.
#[utoipa::path(post, path = "/v1/jobs", request_body = JobRequest,
    responses(
        (status = 202, description = "Stored and queued", body = Accepted),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = ErrorBody),
        (status = 422, description = "Invalid job", body = ErrorBody),
        (status = 429, description = "Queue full; see Retry-After", body = ErrorBody),
    ))]
async fn submit_job(
    State(st): St,
    Tenant(tenant): Tenant,
    req: Request,
) -> Result<Response, ApiError> {
    let request: JobRequest = json_body(&st, req).await?;
    let total = request.validate()?;
    if st.queue.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(InternalError::ShuttingDown.into());
    }
    if !st.queue.try_reserve() {
        return Err(UserError::new(
            Code::QueueFull,
            format!(
                "{} jobs are waiting already; retry later",
                st.queue.capacity
            ),
        )
        .retry_after(5)
        .into());
    }
    let id = new_id();
    let spec = serde_json::to_string(&request).map_err(InternalError::from)?;
    let store = st.store.clone();
    let (jid, t) = (id.clone(), tenant.clone());
    let stored = blocking(move || store.insert_job(&jid, &t, &spec, total as i64))
        .await
        .and_then(|r| r.map_err(ApiError::from));
    if let Err(e) = stored {
        st.queue.release();
        return Err(e);
    }
    st.queue.push_reserved(id.clone());
    tracing::info!(job = %id, tenant, total, "job accepted");
    let location = format!("/v1/jobs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(Accepted {
            id,
            status: JobStatus::Queued,
            total,
        }),
    )
        .into_response())
}

/// Job and session ids: 128 random-looking bits as 32 hex characters: time, process, a counter and the address of a
/// fresh allocation, hashed. Unguessable enough for ids that are also tenant-checked.
fn new_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let probe = Box::new(0u8);
    let mut h = Sha256::new();
    h.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update((&*probe as *const u8 as usize).to_le_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_id(id: &str) -> Result<(), UserError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(UserError::not_found("job"))
    }
}

async fn load_job(st: &AppState, id: &str, tenant: &str) -> Result<JobInfo, ApiError> {
    check_id(id)?;
    let store = st.store.clone();
    let (id, tenant) = (id.to_string(), tenant.to_string());
    blocking(move || store.job(&id, Some(&tenant)))
        .await??
        .ok_or_else(|| UserError::not_found("job").into())
}

/// The tenant's jobs, newest first (at most 1000).
#[utoipa::path(get, path = "/v1/jobs",
    responses((status = 200, description = "Jobs", body = Vec<JobInfo>),
        (status = 401, description = "Missing or unknown token", body = ErrorBody)))]
async fn list_jobs(State(st): St, Tenant(tenant): Tenant) -> Result<Json<Vec<JobInfo>>, ApiError> {
    let store = st.store.clone();
    let jobs = blocking(move || store.list(&tenant, 1000)).await??;
    Ok(Json(jobs))
}

/// Status, progress (runs done / total) and timings of a job.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = JobInfo),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such job for this tenant", body = ErrorBody)))]
async fn job_status(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<JobInfo>, ApiError> {
    Ok(Json(load_job(&st, &id, &tenant).await?))
}

/// Cancel a queued or running job (cooperatively: runs in flight finish first).
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Cancelled", body = JobInfo),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such job for this tenant", body = ErrorBody),
        (status = 409, description = "The job had already finished", body = ErrorBody)))]
async fn cancel_job(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<JobInfo>, ApiError> {
    check_id(&id)?;
    let store = st.store.clone();
    let (jid, t) = (id.clone(), tenant.clone());
    let status = blocking(move || store.cancel(&jid, &t)).await??;
    match status {
        None => Err(UserError::not_found("job").into()),
        Some(JobStatus::Cancelled) => {
            st.queue.cancel(&id);
            Ok(Json(load_job(&st, &id, &tenant).await?))
        }
        Some(other) => Err(UserError::new(
            Code::JobFinished,
            format!("the job is {other} and can no longer be cancelled"),
        )
        .into()),
    }
}

/// The result of a finished job, one row per run: Parquet (`Accept:
/// application/vnd.apache.parquet`), Arrow IPC stream, or JSON (default).
#[utoipa::path(get, path = "/v1/jobs/{id}/result", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "One row per run", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such job for this tenant", body = ErrorBody),
        (status = 406, description = "Unsupported Accept", body = ErrorBody),
        (status = 409, description = "The job is not done", body = ErrorBody)))]
async fn job_result(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wanted = negotiate(&headers, true)?;
    let job = load_job(&st, &id, &tenant).await?;
    if job.status != JobStatus::Done {
        return Err(UserError::new(
            Code::JobNotDone,
            format!(
                "the job is {}{}",
                job.status,
                job.error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        )
        .into());
    }
    if wanted == Wanted::Parquet {
        let bytes = tokio::fs::read(st.store.result_path(&id)).await?;
        return Ok(([(header::CONTENT_TYPE, PARQUET)], Body::from(bytes)).into_response());
    }
    let store = st.store.clone();
    let rows = blocking(move || store.rows(&id)).await??;
    match wanted {
        Wanted::Arrow => {
            let batch =
                commonsnet_engine::batch::rows_to_batch(&rows).map_err(InternalError::from)?;
            let bytes = arrow_stream_bytes(&batch)?;
            Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], Body::from(bytes)).into_response())
        }
        _ => Ok(Json(json!({"id": job.id, "rows": rows})).into_response()),
    }
}

/// Read a JSON request body (content type checked, size limited).
async fn json_body<T: serde::de::DeserializeOwned>(
    st: &Arc<AppState>,
    req: Request,
) -> Result<T, UserError> {
    let ctype = content_type(req.headers());
    if !matches!(ctype.as_str(), "application/json" | "") {
        return Err(UserError::new(
            Code::UnsupportedMediaType,
            format!("Content-Type {ctype:?}: send application/json"),
        ));
    }
    let bytes = read_body(st, req).await?;
    parse_json(&bytes)
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The initial scenario (SPEC section 3; needs and resources may be empty lists, links
    /// are built by the policy's rules).
    #[schema(value_type = Object)]
    pub scenario: Value,
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    /// Events of SPEC section 4, each with an optional `event_id` for idempotent retries.
    #[schema(value_type = Vec<Object>)]
    pub events: Value,
}

/// Open a live matching session.
#[utoipa::path(post, path = "/v1/sessions", request_body = SessionRequest,
    responses((status = 201, description = "Created; the initial plan is ready", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = ErrorBody),
        (status = 422, description = "Invalid scenario", body = ErrorBody),
        (status = 429, description = "Too many live sessions; see Retry-After", body = ErrorBody),
        (status = 503, description = "No thread for a new session now; see Retry-After", body = ErrorBody)))]
async fn create_session(
    State(st): St,
    Tenant(tenant): Tenant,
    req: Request,
) -> Result<Response, ApiError> {
    let body: SessionRequest = json_body(&st, req).await?;
    let scenario = scenario_from_value(&body.scenario).map_err(|e| UserError::invalid_input(&e))?;
    let id = new_id();
    let hub = st.sessions.clone();
    let (sid, raw) = (id.clone(), body.scenario);
    let (needs, resources) = (scenario.needs.len(), scenario.resources.len());
    blocking(move || hub.create(&sid, &tenant, &scenario, &raw)).await??;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/sessions/{id}"))],
        Json(json!({"id": id, "needs": needs, "resources": resources})),
    )
        .into_response())
}

/// Delete a session: its log is removed and its streams end.
#[utoipa::path(delete, path = "/v1/sessions/{id}", params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such session for this tenant", body = ErrorBody)))]
async fn delete_session(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hub = st.sessions.clone();
    blocking(move || hub.delete(&id, &tenant)).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Apply events (one batch, all or nothing) and answer the matches that changed.
#[utoipa::path(post, path = "/v1/sessions/{id}/events", request_body = EventsRequest,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Applied: sequence number, changed matches, new dispatches", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such session for this tenant", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 409, description = "An event conflicts with the session's state; nothing applied", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = ErrorBody),
        (status = 422, description = "Malformed events; details name the event and field", body = ErrorBody),
        (status = 429, description = "Too many live sessions to load this one; see Retry-After", body = ErrorBody),
        (status = 500, description = "The session failed on this batch; nothing was applied and it was restored from its log", body = ErrorBody)))]
async fn session_events(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let body: EventsRequest = json_body(&st, req).await?;
    let events = commonsnet_engine::session::parse_events(&body.events).map_err(|issues| {
        let details = issues
            .iter()
            .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
            .collect();
        UserError::unprocessable(format!("{} problem(s) in the events", issues.len()))
            .with_details(details)
    })?;
    let hub = st.sessions.clone();
    let rx = blocking(move || hub.events(&id, &tenant, events)).await??;
    Ok(Json(crate::sessions::answer(rx).await??))
}

/// Run a read on a session's actor (loading the session first if it was unloaded).
async fn session_read<T: Send + 'static>(
    st: &AppState,
    id: String,
    tenant: String,
    f: impl FnOnce(&commonsnet_engine::session::Session) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let hub = st.sessions.clone();
    let rx = blocking(move || hub.read(&id, &tenant, f)).await??;
    crate::sessions::answer(rx).await
}

/// The current plan: summary, proposed matches and dispatches (JSON), or the matches as an
/// Arrow IPC stream.
#[utoipa::path(get, path = "/v1/sessions/{id}/plan", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The plan", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such session for this tenant", body = ErrorBody),
        (status = 406, description = "Unsupported Accept", body = ErrorBody),
        (status = 429, description = "Too many live sessions to load this one; see Retry-After", body = ErrorBody)))]
async fn session_plan(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wanted = negotiate(&headers, false)?;
    let (report, body) = session_read(&st, id, tenant, |s| {
        let r = s.report();
        let body = crate::sessions::plan_json(&r, s);
        (r, body)
    })
    .await?;
    match wanted {
        Wanted::Arrow => allocations_stream(&report),
        _ => Ok(Json(body).into_response()),
    }
}

/// Why a need is unserved or partly served.
#[utoipa::path(get, path = "/v1/sessions/{id}/needs/{need}/why",
    params(("id" = String, Path, description = "Session id"), ("need" = String, Path, description = "Need id")),
    responses((status = 200, description = "The explanation", body = Object),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such session or need", body = ErrorBody),
        (status = 429, description = "Too many live sessions to load this one; see Retry-After", body = ErrorBody)))]
async fn session_why(
    State(st): St,
    Tenant(tenant): Tenant,
    Path((id, need)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    session_read(&st, id, tenant, move |s| s.why(&need))
        .await?
        .map(Json)
        .ok_or_else(|| UserError::not_found("need").into())
}

/// Server-Sent Events: every plan change, `id` = its sequence number. A client reconnecting
/// with `Last-Event-ID` first receives the changes it missed (from the durable log). Streams
/// end when the session is deleted or the server shuts down.
#[utoipa::path(get, path = "/v1/sessions/{id}/stream", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "text/event-stream of plan changes", content_type = "text/event-stream"),
        (status = 400, description = "Last-Event-ID is not a sequence number", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 404, description = "No such session for this tenant", body = ErrorBody),
        (status = 429, description = "Too many live sessions to load this one; see Retry-After", body = ErrorBody)))]
async fn session_stream(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let last: i64 = match headers.get("last-event-id") {
        None => -1,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| {
                UserError::new(
                    Code::BadLastEventId,
                    "Last-Event-ID must be a sequence number",
                )
            })?,
    };
    // Subscribe before reading the backlog, so nothing falls between the two.
    let hub = st.sessions.clone();
    let (sid, t) = (id.clone(), tenant);
    let rx = blocking(move || hub.subscribe(&sid, &t)).await??;
    let backlog = if last >= 0 {
        let hub = st.sessions.clone();
        let sid = id.clone();
        blocking(move || hub.log().changes_after(&sid, last)).await??
    } else {
        Vec::new()
    };
    struct StreamState {
        backlog: std::collections::VecDeque<crate::sessions::PlanChange>,
        rx: tokio::sync::broadcast::Receiver<crate::sessions::PlanChange>,
        last: i64,
        hub: Arc<crate::sessions::SessionHub>,
        id: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    }
    let state = StreamState {
        backlog: backlog.into(),
        rx,
        last,
        hub: st.sessions.clone(),
        id,
        shutdown: st.shutdown.clone(),
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if *s.shutdown.borrow() {
                return None;
            }
            if let Some(c) = s.backlog.pop_front() {
                if c.seq <= s.last {
                    continue;
                }
                s.last = c.seq;
                let ev = Event::default()
                    .id(c.seq.to_string())
                    .event("plan")
                    .data(c.data);
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            }
            let received = tokio::select! {
                r = s.rx.recv() => r,
                // Shutdown (or the sender gone): end the stream so the connection can close.
                _ = s.shutdown.changed() => return None,
            };
            match received {
                Ok(c) => s.backlog.push_back(c),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // A slow client: catch up from the log.
                    let (hub, id, last) = (s.hub.clone(), s.id.clone(), s.last);
                    let missed =
                        tokio::task::spawn_blocking(move || hub.log().changes_after(&id, last))
                            .await
                            .ok()
                            .and_then(|r| r.ok())
                            .unwrap_or_default();
                    s.backlog.extend(missed);
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
