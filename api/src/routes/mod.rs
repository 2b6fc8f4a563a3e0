//! The routes of SPEC section 4: the router, its middleware (head limits, request metrics and
//! logs) and the OpenAPI document; the handlers live in one module per resource.
//!
//! - `extract`: the tenant, content negotiation, bodies, ids.
//! - `solve`: `POST /v1/solve`.
//! - `jobs`: `/v1/jobs`.
//! - `sessions`: `/v1/sessions` (create, events, plan, why, delete).
//! - `stream`: the sessions' Server-Sent Events.
//! - `generators`: the pilot generators' scenarios, for the console's planner.
//!
//! Any other `GET` is a file of the embedded web console ([`crate::console`]) or a 404.

mod answers;
use answers::SharedAnswers;
mod extract;
mod generators;
mod jobs;
mod sessions;
mod solve;
mod stream;

pub use extract::{Tenant, Wanted, ARROW_STREAM, PARQUET};
pub use jobs::write_result;

use crate::error::{ApiError, Code, ErrorBody, ErrorDetail, InternalError, Problem, UserError};
use crate::schema::InputRules;
use crate::store::{JobInfo, JobStatus, Owner, Progress, StoreKind};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use utoipa::{OpenApi, ToSchema};

type St = State<Arc<AppState>>;

/// The service's routes, with the body limit, metrics and fallbacks applied.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route(
            "/v1/solve",
            post(solve::solve).layer(middleware::from_fn(vary_accept)),
        )
        .route("/v1/jobs", post(jobs::submit_job).get(jobs::list_jobs))
        .route(
            "/v1/jobs/{id}",
            get(jobs::job_status).delete(jobs::cancel_job),
        )
        .route(
            "/v1/jobs/{id}/result",
            get(jobs::job_result).layer(middleware::from_fn(vary_accept)),
        )
        .route(
            "/v1/sessions",
            post(sessions::create_session).get(sessions::list_sessions),
        )
        .route("/v1/sessions/{id}", delete(sessions::delete_session))
        .route("/v1/sessions/{id}/events", post(sessions::session_events))
        .route(
            "/v1/sessions/{id}/plan",
            get(sessions::session_plan).layer(middleware::from_fn(vary_accept)),
        )
        .route("/v1/sessions/{id}/state", get(sessions::session_state))
        .route("/v1/sessions/{id}/stream", get(stream::session_stream))
        .route(
            "/v1/sessions/{id}/needs/{need}/why",
            get(sessions::session_why),
        )
        .route("/v1/generators/{name}", get(generators::generated_scenario))
        .fallback(console_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            to_session_owner,
        ))
        // Inside `track`: its refusals are counted like any answer.
        .layer(middleware::from_fn_with_state(state.clone(), same_site))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn(head_limits))
        .layer(middleware::map_response(vary_encoding))
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .compress_when(SizeAbove::new(COMPRESS_FROM).and(compressible)),
        )
        .with_state(state)
}

/// `Vary: accept-encoding` on every answer of a type the service gzips, short ones too: a
/// cache between must know that the answer of such a route depends on it, whatever this
/// one's size. (The compression layer names it only on what it gzips.)
async fn vary_encoding(mut res: Response) -> Response {
    let gzippable = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(gzipped_type);
    let named = res
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"));
    if gzippable && !named {
        res.headers_mut().append(
            header::VARY,
            axum::http::HeaderValue::from_static("accept-encoding"),
        );
    }
    res
}

/// The smallest answer gzipped: below it the gzip frame and the CPU outweigh the bytes saved.
pub(crate) const COMPRESS_FROM: u16 = 1024;

/// Which answers are gzipped for a client that accepts it (`Accept-Encoding`): text (JSON,
/// CSV, the console's page, scripts and styles, SVG, the metrics page). Plans, reports and
/// job results in JSON shrink several times over, which a coordinator's phone on a slow link
/// feels; an Arrow stream (its buffers uncompressed) about three times. Not the event stream
/// (gzip holds bytes back until a block fills, so an event would wait for the next ones),
/// not Parquet (compressed already).
fn compressible(
    status: axum::http::StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    if status == axum::http::StatusCode::NOT_MODIFIED {
        return false;
    }
    let Some(media_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    gzipped_type(media_type)
}

/// Whether answers of `media_type` are gzipped (from [`COMPRESS_FROM`] bytes on).
pub(crate) fn gzipped_type(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    [
        "application/json",
        "application/vnd.apache.arrow.stream",
        "text/csv",
        "text/html",
        "text/css",
        "text/javascript",
        "image/svg+xml",
        "application/manifest+json",
        "text/plain",
    ]
    .iter()
    .any(|t| essence.eq_ignore_ascii_case(t))
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

/// `Vary: Accept` on the answers of the routes whose body follows `Accept` (JSON, Arrow or
/// Parquet), so that a cache between client and server keeps them apart.
async fn vary_accept(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    // One line with what the handler named already (a tagged plan varies by encoding too).
    let vary = match res
        .headers()
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
    {
        Some(named) => format!("{named}, accept"),
        None => "accept".to_string(),
    };
    if let Ok(v) = axum::http::HeaderValue::from_str(&vary) {
        res.headers_mut().insert(header::VARY, v);
    }
    res
}

/// Two refusals of what a web page the operator has open elsewhere could do here.
///
/// - A browser's request that changes something (any method but GET, HEAD and OPTIONS) from
///   a page of another origin, without `Authorization`: on a server that asks for no token,
///   that page could create sessions or post dispatches with a form or an untyped `fetch`,
///   which browsers send cross-site without asking first. A browser names the page's origin
///   in `Origin` (`null` from a sandboxed or local page); a request without it is not a
///   browser's cross-site one. The origin must name this server as the client reached it:
///   `Host`, or behind a proxy `X-Forwarded-Host` or `Forwarded: host=` (a default port
///   written or not). A request with a token is not at risk: a page can send one cross-site
///   only after a CORS preflight, which this server does not answer.
/// - On a server without tokens (it listens on loopback only), any request whose `Host` is
///   not a loopback name (`localhost`, `127.x.x.x`, `[::1]`): a page whose name its owner
///   points at 127.0.0.1 (DNS rebinding) is same-origin to the browser, and could otherwise
///   read and write here.
async fn same_site(State(st): St, req: Request, next: Next) -> Response {
    let refusal = if st.tenants.is_none() {
        foreign_host(&req).or_else(|| cross_site_refusal(&req))
    } else {
        cross_site_refusal(&req)
    };
    match refusal {
        Some(refused) => refused.into_response(),
        None => next.run(req).await,
    }
}

/// `host[:port]` without a default port (80 for http, 443 for https), in lower case.
fn canonical_authority(authority: &str, scheme: Option<&str>) -> String {
    let a = authority.trim().trim_end_matches('/').to_ascii_lowercase();
    let default = match scheme {
        Some("https") => Some(":443"),
        Some("http") => Some(":80"),
        _ => None,
    };
    match default {
        Some(port) if a.ends_with(port) => a[..a.len() - port.len()].to_string(),
        _ => a,
    }
}

/// The host name of `host[:port]` (an IPv6 address without its brackets).
fn host_name(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    a.rsplit_once(':').map_or(a, |(h, _)| h)
}

/// [`same_site`]'s second refusal: a `Host` that is no loopback name, on a server without
/// tokens.
fn foreign_host(req: &Request) -> Option<UserError> {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    let name = host_name(host).to_ascii_lowercase();
    let loopback = name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        UserError::new(
            Code::CrossOrigin,
            format!(
                "Host {host:?} is not a loopback name: a server without tokens answers only requests addressed to localhost (start it with --tokens to serve other names)"
            ),
        )
    })
}

/// [`same_site`]'s first refusal: a cross-site request without a token, if it is one.
fn cross_site_refusal(req: &Request) -> Option<UserError> {
    use axum::http::{header, Method};
    let method = req.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || req.headers().contains_key(header::AUTHORIZATION)
    {
        return None;
    }
    let origin = req.headers().get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or("null");
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Some(cross_origin(method, origin));
    };
    let scheme = scheme.to_ascii_lowercase();
    let want = canonical_authority(authority, Some(&scheme));
    let matches = |v: &str| canonical_authority(v, Some(&scheme)) == want;
    let values = |h: &str| -> Vec<String> {
        req.headers()
            .get_all(h)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::to_string)
            .collect()
    };
    // `Forwarded: for=...;host=example.org;proto=https` (RFC 7239).
    let forwarded_hosts = values("forwarded").into_iter().filter_map(|element| {
        element.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("host")
                .then(|| v.trim().trim_matches('"').to_string())
        })
    });
    let named = values("host")
        .iter()
        .chain(values("x-forwarded-host").iter())
        .any(|v| matches(v))
        || forwarded_hosts.into_iter().any(|v| matches(&v));
    (!named).then(|| cross_origin(method, origin))
}

fn cross_origin(method: &axum::http::Method, origin: &str) -> UserError {
    UserError::new(
        Code::CrossOrigin,
        format!(
            "a {method} from a page of origin {origin:?}, not this server's, without a token: refused"
        ),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CommonsNet",
        description = "Allocation engine for shared community resources and crisis response (SPEC section 4)."
    ),
    paths(healthz, metrics, openapi, solve::solve, jobs::submit_job, jobs::list_jobs,
        jobs::job_status, jobs::cancel_job, jobs::job_result, sessions::create_session,
        sessions::list_sessions, sessions::delete_session, generators::generated_scenario, sessions::session_events, sessions::session_plan, sessions::session_state,
        stream::session_stream, sessions::session_why),
    components(schemas(ErrorBody, ErrorDetail, Problem, Code, JobStatus, JobInfo, Progress,
        crate::jobs::JobRequest, crate::jobs::GeneratorSpec, jobs::Accepted, solve::SolveResponse,
        sessions::SessionRequest, sessions::EventsRequest, sessions::SessionCreated,
        crate::sessions::SessionListed, sessions::SessionList, sessions::SessionState, generators::GeneratedScenario,
        commonsnet_engine::model::Need, commonsnet_engine::model::Resource, Health,
        jobs::JobResult, crate::sessions::ChangeSet, crate::sessions::Plan, crate::sessions::Overdue,
        commonsnet_engine::Status, commonsnet_engine::model::Objective,
        commonsnet_engine::Summary, commonsnet_engine::solve::Infeasibility,
        commonsnet_engine::session::Dispatch, commonsnet_engine::session::MatchChange,
        commonsnet_engine::session::BookingConflict, commonsnet_engine::session::Proposal,
        commonsnet_engine::batch::RunRow, commonsnet_engine::batch::RunMetrics,
        commonsnet_engine::graph::Excluded, commonsnet_engine::explain::Reason,
        crate::schema::AllocationRow, crate::schema::NeedRow, crate::schema::ResourceRow,
        crate::schema::ScenarioBody, crate::schema::SolveBody, crate::schema::ResourceBody,
        crate::schema::NeedBody, crate::schema::Quantity, crate::schema::LinkBody, crate::schema::PolicyBody,
        crate::schema::FairnessBody, crate::schema::MinShareBody, crate::schema::FairnessName,
        commonsnet_engine::model::GroupBy, commonsnet_engine::model::SolverChoice,
        crate::schema::EventBody,
        commonsnet_engine::session::SessionWhy, commonsnet_engine::explain::Why,
        commonsnet_engine::explain::Candidate, commonsnet_engine::explain::LinkedResource,
        commonsnet_engine::explain::ServedNeed, commonsnet_engine::explain::GroupRatio,
        crate::error::LimitValue)),
    modifiers(&BearerAuth, &SharedAnswers, &InputRules),
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

/// The session a request is about (`/v1/sessions/{id}` and below), percent-decoded as the
/// route's `{id}` is: only a well-formed id, so that nothing else goes to the store to be
/// routed (the route answers 404 for it).
fn session_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v1/sessions/")?;
    let raw = rest.split('/').next().unwrap_or("");
    // The decoder axum's `Path` uses; a malformed escape stays as `%`, which is no id.
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    extract::is_id(&id).then(|| id.into_owned())
}

/// Across replicas: a request about a session another replica owns is forwarded there (once:
/// a forwarded request is served where it lands). The tenant is checked first, so a request
/// without a valid token cannot move a session. When no process listens at the owner's
/// address any more (it died), this replica takes the session over at once rather than
/// waiting for the lease to expire, and serves the request itself; the body is read first so
/// that it can.
async fn to_session_owner(State(st): St, req: Request, next: Next) -> Response {
    if st.replicated.is_none() || req.headers().contains_key(crate::replicas::FORWARDED) {
        return next.run(req).await;
    }
    let Some(id) = session_of(req.uri().path()) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let tenant = match Tenant::from_request_parts(&mut parts, &st).await {
        Ok(Tenant(t)) => t,
        Err(e) => return e.into_response(),
    };
    // The body, read once the request is to be forwarded (served here, it is passed on as
    // it comes), with its share of the decode budget.
    let mut read: Option<(axum::body::Bytes, _)> = None;
    let mut body = Some(body);
    // Routed again when the lease moves while a forward waits (a third replica took over a
    // frozen holder's session): at most a few times, each a lease at most.
    for _ in 0..3 {
        let hub = st.sessions.clone();
        let (sid, who) = (id.clone(), tenant.clone());
        let addr = match blocking(move || hub.route(&sid, &who)).await {
            Ok(Ok(Owner::Here | Owner::Taken)) => {
                let body = match (body.take(), read.take()) {
                    (Some(body), _) => body,
                    (None, Some((bytes, share))) => {
                        // The handler takes the body's share again: held here too, its wait
                        // for one would wait on this one.
                        drop(share);
                        axum::body::Body::from(bytes)
                    }
                    (None, None) => axum::body::Body::empty(),
                };
                return next.run(Request::from_parts(parts, body)).await;
            }
            Ok(Ok(Owner::Replica(addr))) => addr,
            Ok(Err(e)) => return e.into_response(),
            Err(e) => return e.into_response(),
        };
        // Read within the decode budget as the owner reads it: held until the answer is back.
        if let Some(b) = body.take() {
            match extract::read_body_held(&st, &tenant, &parts.headers, b).await {
                Ok(r) => read = Some(r),
                Err(e) => return e.into_response(),
            }
        }
        let bytes = read.as_ref().map(|r| r.0.clone()).unwrap_or_default();
        let forwarded = Request::from_parts(parts.clone(), axum::body::Body::from(bytes.clone()));
        let forward = st.forwarder.forward(&addr, forwarded);
        let answer = match st.replicated.clone() {
            Some(store) => tokio::select! {
                answer = forward => answer.map(|resp| until_moved(resp, store.clone(), &id, &addr)),
                at = crate::replicas::lease_lapses(store.clone(), id.clone(), addr.clone()) => {
                    tracing::warn!(session = %id, addr = %addr, ?at,
                        "the session's replica lost its lease while a forwarded request waited");
                    match at {
                        crate::store::LeaseAt::Moved | crate::store::LeaseAt::Gone
                            if resend_safe(&parts, &bytes) => continue,
                        // The frozen replica may have applied it before it froze: sent again
                        // elsewhere it would be applied twice (events without ids).
                        crate::store::LeaseAt::Moved | crate::store::LeaseAt::Gone => {
                            return ApiError::from(InternalError::Unavailable(
                                "the session moved to another replica while this request waited \
                                 on the one that served it, which may have applied it: retry \
                                 (events with an event_id are applied at most once)"
                                    .into(),
                            ))
                            .into_response()
                        }
                        _ => Err(crate::replicas::Unreachable::Lapsed),
                    }
                }
            },
            None => forward.await,
        };
        return match answer {
            Ok(resp) => resp,
            Err(
                gone @ (crate::replicas::Unreachable::Dead | crate::replicas::Unreachable::Lapsed),
            ) => {
                let hub = st.sessions.clone();
                let (sid, dead) = (id.clone(), addr.clone());
                // A replica that lets its lease run out may be alive (frozen, slow): its lease
                // is taken only while it is still out of date, in one statement, so a replica
                // that woke and renewed it keeps it (the request is answered "retry").
                let lapsed = matches!(gone, crate::replicas::Unreachable::Lapsed);
                let taken = blocking(move || {
                    if lapsed {
                        hub.log().take_over_lapsed(&sid, &dead)
                    } else {
                        hub.log().take_over(&sid, &dead)
                    }
                });
                match taken.await {
                    Ok(Ok(true)) => {
                        tracing::warn!(session = %id, dead = %addr, "session taken over from a replica that is gone");
                        // The handler takes the body's share again: held here too, its wait for
                        // one would wait on this one (a review found it could hold every large
                        // body of the replica so).
                        drop(read);
                        next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                            .await
                    }
                    // Another replica took it over first: routed there, where that is safe
                    // (a request to a dead replica was never sent).
                    Ok(Ok(false)) if !lapsed || resend_safe(&parts, &bytes) => continue,
                    Ok(Ok(false)) => ApiError::from(InternalError::Unavailable(
                        "the session is moving between replicas; retry".into(),
                    ))
                    .into_response(),
                    Ok(Err(e)) => ApiError::from(e).into_response(),
                    Err(e) => e.into_response(),
                }
            }
            Err(crate::replicas::Unreachable::Failed(resp)) => resp,
        };
    }
    ApiError::from(InternalError::Unavailable(
        "the session is moving between replicas; retry".into(),
    ))
    .into_response()
}

/// Whether a request may be sent to another replica after the one it was forwarded to froze
/// holding it: a read, or a batch of events each with an `event_id` (applied at most once).
fn resend_safe(parts: &axum::http::request::Parts, body: &[u8]) -> bool {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return true;
    }
    parts.method == Method::POST
        && parts.uri.path().ends_with("/events")
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
            v["events"].as_array().is_some_and(|evs| {
                evs.iter()
                    .all(|e| e["event_id"].as_str().is_some_and(|id| !id.is_empty()))
            })
        })
}

/// How long a forwarded event stream may stay silent before the session's lease is looked
/// at: past two of the owner's keep-alive comments (`routes/stream.rs`).
const STREAM_SILENCE: Duration = Duration::from_secs(12);

/// A forwarded event stream (SSE), ended once it has been silent for [`STREAM_SILENCE`] and
/// the session's lease has left `addr` (another replica holds it, it ran out, the session is
/// gone): a stream forwarded to a frozen replica whose lease another took over stayed open
/// and silent, so its client neither saw the new holder's changes nor reconnected (with
/// `Last-Event-ID`, to any replica). The database is asked only after a silence, not for
/// every open stream all the time. Other answers are passed on as they are.
fn until_moved(
    resp: Response,
    store: std::sync::Arc<crate::store::PgStore>,
    id: &str,
    addr: &str,
) -> Response {
    use crate::store::LeaseAt;
    use futures_util::StreamExt;
    let stream = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !stream {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let watched = (
        body.into_data_stream(),
        store,
        id.to_string(),
        addr.to_string(),
    );
    let body = futures_util::stream::unfold(watched, |(mut data, store, id, addr)| async move {
        loop {
            match tokio::time::timeout(STREAM_SILENCE, data.next()).await {
                Ok(Some(chunk)) => return Some((chunk, (data, store, id, addr))),
                Ok(None) => return None,
                Err(_silent) => {
                    let (s, i, a) = (store.clone(), id.clone(), addr.clone());
                    let at = tokio::task::spawn_blocking(move || s.lease_at(&i, &a)).await;
                    if let Ok(Ok(LeaseAt::Moved | LeaseAt::Lapsed | LeaseAt::Gone)) = at {
                        tracing::warn!(session = %id, addr = %addr,
                            "a forwarded stream's replica lost the session's lease: the stream ends");
                        return None;
                    }
                }
            }
        }
    });
    Response::from_parts(parts, axum::body::Body::from_stream(body))
}

/// Counts and times every request, and logs it.
async fn track(State(st): St, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // The methods HTTP defines keep their names; any other is `OTHER`, so a client cannot
    // make a label (a metrics series, a log field) of its choosing, of any length.
    use axum::http::Method;
    let method = match *req.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::PATCH
        | Method::HEAD
        | Method::OPTIONS
        | Method::TRACE
        | Method::CONNECT => req.method().as_str().to_string(),
        _ => "OTHER".to_string(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.request(&method, &route, status, secs);
    tracing::info!(%method, route, status, ms = secs * 1e3, "request");
    resp
}

/// The web console's files (`GET /` and its assets), else the JSON 404 of the API.
async fn console_or_not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    crate::console::serve(&method, &uri, &headers)
        .unwrap_or_else(|| UserError::new(Code::NotFound, "no such route").into_response())
}

async fn method_not_allowed() -> UserError {
    UserError::new(
        Code::MethodNotAllowed,
        "this route does not accept that method",
    )
}

/// Run storage or solver work off the async runtime; a task that dies is our fault (5xx).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| InternalError::from(e).into())
}

#[utoipa::path(get, path = "/healthz", security(()),
    responses((status = 200, description = "The service and its store are up", body = Health),
        (status = 503, description = "The store is out of reach, or its data directory takes no writes (a full disk, a read-only file system)", body = Health)))]
async fn healthz(State(st): St) -> Response {
    let store = st.store.clone();
    let store_ok = match blocking(move || store.check()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the store cannot be reached or written");
            false
        }
        Err(_) => false,
    };
    let body = Json(Health {
        status: if store_ok { "ok" } else { "store_unavailable" },
        version: commonsnet_engine::VERSION,
        queue_depth: if store_ok {
            queue_depth(&st).await.unwrap_or(0)
        } else {
            0
        },
        store: st.store.kind(),
        store_ok,
        replica: st.replicated.as_ref().map(|p| p.settings().replica.clone()),
    });
    if store_ok {
        body.into_response()
    } else {
        // As every other 503 of the store: when to look again.
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            body,
        )
            .into_response()
    }
}

/// Jobs waiting to start: in this server's queue (SQLite), or queued in the shared store
/// (PostgreSQL: any replica may take them up).
async fn queue_depth(st: &AppState) -> Result<usize, ApiError> {
    if st.replicated.is_none() {
        return Ok(st.queue.depth());
    }
    let store = st.store.clone();
    Ok(blocking(move || store.queued_count()).await?? as usize)
}

/// `GET /healthz` answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `store_unavailable` (with status 503) when the store cannot be reached.
    pub status: &'static str,
    /// The engine's version.
    pub version: &'static str,
    /// Jobs accepted and waiting to start (SQLite: on this server; PostgreSQL: on all
    /// replicas).
    pub queue_depth: usize,
    /// Which store the service runs on.
    pub store: StoreKind,
    /// Whether the store answered a query just now.
    pub store_ok: bool,
    /// This replica's name in leases (PostgreSQL store only).
    pub replica: Option<String>,
}

#[utoipa::path(get, path = "/metrics", security(()),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics(State(st): St) -> Result<Response, ApiError> {
    // What the store says, when it answers; without it (the database down) the gauges keep
    // their last values and the rest is served.
    let store = st.store.clone();
    let jobs = blocking(move || store.counts()).await?.ok();
    if let Some(pg) = st.replicated.clone() {
        if let Ok((runs, sessions)) = blocking(move || pg.leases_held()).await? {
            st.metrics.set_leases(runs, sessions);
        }
    }
    let depth = queue_depth(&st).await.ok();
    let text = st
        .metrics
        .render(depth, st.sessions.live_count(), jobs.as_deref())
        .map_err(InternalError::from)?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

#[utoipa::path(get, path = "/openapi.json", security(()),
    responses((status = 200, description = "This document", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    //! The OpenAPI document describes what the service sends: every answer's schema has real
    //! fields, and values the service builds validate against the documented schemas.

    use super::*;

    /// A request held by a replica that froze is sent to the session's new replica only when
    /// a second copy cannot apply twice: a read, or events that all carry an `event_id`.
    #[test]
    fn only_reads_and_events_with_ids_are_resent() {
        let parts = |method: &str, path: &str| {
            let req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(())
                .unwrap();
            req.into_parts().0
        };
        let events = "/v1/sessions/0123456789abcdef0123456789abcdef/events";
        assert!(resend_safe(&parts("GET", "/v1/sessions/x/plan"), b""));
        let with_ids = br#"{"events": [{"type": "need_withdrawn", "id": "n", "event_id": "e1"}]}"#;
        assert!(resend_safe(&parts("POST", events), with_ids));
        let one_without = br#"{"events": [{"type": "need_withdrawn", "id": "n", "event_id": "e1"},
            {"type": "need_withdrawn", "id": "m"}]}"#;
        assert!(!resend_safe(&parts("POST", events), one_without));
        let empty_id = br#"{"events": [{"type": "need_withdrawn", "id": "n", "event_id": ""}]}"#;
        assert!(!resend_safe(&parts("POST", events), empty_id));
        assert!(!resend_safe(&parts("POST", events), b"{not json"));
        assert!(!resend_safe(&parts("DELETE", "/v1/sessions/x"), b""));
    }
    use commonsnet_engine::session::{parse_events, Session};
    use commonsnet_engine::Status;
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
        let s = &doc["components"]["schemas"][name];
        assert!(s.is_object(), "no component schema {name}");
        s
    }

    fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => resolve(
                doc,
                component(doc, r.trim_start_matches("#/components/schemas/")),
            ),
            None => s,
        }
    }

    /// Strict validation of `v` against `s`: types, enums, required fields, and no field that
    /// the schema does not document (`additionalProperties` only where it is given).
    fn check(doc: &Value, s: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
        let s = resolve(doc, s);
        if s.as_object().is_some_and(|m| m.is_empty()) {
            return; // `{}`: any value (a `serde_json::Value`)
        }
        if let Some(alts) = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array)
        {
            let fits = |a: &Value| {
                let mut o = Vec::new();
                check(doc, a, v, path, &mut o);
                o.is_empty()
            };
            if !alts.iter().any(fits) {
                out.push(format!("{path}: {v} fits no alternative"));
            }
            return;
        }
        if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
            // A flattened struct (`#[serde(flatten)]`): one object with the fields of every
            // part, checked strictly as a whole.
            let (mut props, mut required) = (serde_json::Map::new(), Vec::new());
            for part in parts {
                let part = resolve(doc, part);
                assert!(part.get("allOf").is_none(), "{path}: nested allOf");
                if let Some(p) = part.get("properties").and_then(Value::as_object) {
                    props.extend(p.clone());
                }
                if let Some(r) = part.get("required").and_then(Value::as_array) {
                    required.extend(r.iter().cloned());
                }
            }
            let merged = serde_json::json!({
                "type": "object", "properties": props, "required": required
            });
            check(doc, &merged, v, path, out);
            return;
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            if !values.contains(v) {
                out.push(format!("{path}: {v} is not one of {values:?}"));
            }
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let fits = types.iter().any(|t| match *t {
                "null" => v.is_null(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                // JSON Schema's integers are numbers without a fraction (1.0 is one).
                "integer" => v.as_f64().is_some_and(|x| x.fract() == 0.0),
                "number" => v.is_number(),
                "object" => v.is_object(),
                "array" => v.is_array(),
                _ => false,
            });
            if !fits {
                out.push(format!("{path}: {v} is not {t}"));
                return;
            }
        }
        if let Some(x) = v.as_f64() {
            let bound = |key: &str| s.get(key).and_then(Value::as_f64);
            let outside = [
                bound("minimum").filter(|&b| x < b),
                bound("maximum").filter(|&b| x > b),
                bound("exclusiveMinimum").filter(|&b| x <= b),
                bound("exclusiveMaximum").filter(|&b| x >= b),
            ];
            if outside.iter().any(Option::is_some) {
                out.push(format!("{path}: {v} is outside the bounds of {s}"));
            }
        }
        if let Some(items) = v.as_array() {
            let count = |key: &str| s.get(key).and_then(Value::as_u64);
            let n = items.len() as u64;
            if count("minItems").is_some_and(|m| n < m) || count("maxItems").is_some_and(|m| n > m)
            {
                out.push(format!("{path}: {n} items, outside the counts of {s}"));
            }
        }
        match v {
            Value::Object(m) => {
                let props = s.get("properties").and_then(Value::as_object);
                for (k, x) in m {
                    let at = format!("{path}.{k}");
                    match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                        (Some(p), _) => check(doc, p, x, &at, out),
                        (None, Some(ap)) if ap.is_object() => check(doc, ap, x, &at, out),
                        (None, Some(Value::Bool(true))) => {}
                        _ => out.push(format!("{at}: not documented")),
                    }
                }
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let r = r.as_str().unwrap();
                    if !m.contains_key(r) {
                        out.push(format!("{path}.{r}: required but missing"));
                    }
                }
                let dependent = s.get("dependentRequired").and_then(Value::as_object);
                for (given, wanted) in dependent.into_iter().flatten() {
                    for w in wanted.as_array().unwrap() {
                        let w = w.as_str().unwrap();
                        if m.contains_key(given) && !m.contains_key(w) {
                            out.push(format!("{path}.{w}: required with {given} but missing"));
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = s.get("items") {
                    for (i, x) in items.iter().enumerate() {
                        check(doc, item, x, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// What `check` finds of `v` against component `name`.
    fn problems(doc: &Value, name: &str, v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        check(doc, component(doc, name), v, name, &mut out);
        out
    }

    fn conforms(doc: &Value, name: &str, v: &impl serde::Serialize) {
        let v = serde_json::to_value(v).unwrap();
        let problems = problems(doc, name, &v);
        assert!(problems.is_empty(), "{problems:#?}\n{v:#}");
    }

    /// A schema that says nothing of its fields: `{"type": "object"}` alone.
    fn bare(doc: &Value, s: &Value) -> bool {
        let s = resolve(doc, s);
        let is_object = s.get("type").is_some_and(|t| {
            t == "object"
                || t.as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "object"))
        });
        is_object
            && s.get("properties").is_none()
            && !s.get("additionalProperties").is_some_and(Value::is_object)
    }

    /// The properties of component `name`.
    fn properties(doc: &Value, name: &str) -> serde_json::Map<String, Value> {
        component(doc, name)["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no properties"))
            .clone()
    }

    /// Every schema reachable from `s`, each once.
    fn reachable<'a>(
        doc: &'a Value,
        s: &'a Value,
        seen: &mut Vec<String>,
        out: &mut Vec<&'a Value>,
    ) {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            if seen.iter().any(|x| x == r) {
                return;
            }
            seen.push(r.to_string());
        }
        let s = resolve(doc, s);
        out.push(s);
        for key in ["oneOf", "anyOf", "allOf"] {
            for a in s.get(key).and_then(Value::as_array).into_iter().flatten() {
                reachable(doc, a, seen, out);
            }
        }
        for p in s
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            reachable(doc, p.1, seen, out);
        }
        for key in ["items", "additionalProperties"] {
            if let Some(x) = s.get(key).filter(|x| x.is_object()) {
                reachable(doc, x, seen, out);
            }
        }
    }

    /// Only a well-formed session id is routed between replicas, decoded as the route's
    /// `{id}` is; anything else is left to the route's 404.
    #[test]
    fn session_of_takes_only_well_formed_ids() {
        let id = "0123456789abcdef0123456789ABCDEF";
        for path in [
            format!("/v1/sessions/{id}"),
            format!("/v1/sessions/{id}/plan"),
            format!("/v1/sessions/{id}/needs/n1/why"),
            "/v1/sessions/%30123456789abcdef0123456789ABCDE%46/state".to_string(),
        ] {
            assert_eq!(session_of(&path).as_deref(), Some(id), "{path}");
        }
        for path in [
            "/v1/sessions",
            "/v1/sessions/",
            "/v1/sessions/%00",
            "/v1/sessions/%00/plan",
            "/v1/sessions/0123/plan",
            "/v1/sessions/0123456789abcdef0123456789abcdef0",
            "/v1/sessions/0123456789abcdef0123456789abcde%",
            "/v1/sessions/0123456789abcdef0123456789abcde%0",
            "/v1/sessions/0123456789abcdef0123456789abcde%00",
            "/v1/sessions/0123456789abcdef0123456789abcde%zz",
            "/v1/sessions/0123456789abcdef0123456789abcde%C3%A9",
            "/v1/jobs/0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(session_of(path), None, "{path}");
        }
    }

    #[test]
    fn json_answers_document_their_fields() {
        let doc = doc();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, resp) in op["responses"].as_object().unwrap() {
                    let Some(schema) = resp["content"]["application/json"].get("schema") else {
                        continue;
                    };
                    if path == "/openapi.json" {
                        continue; // the document itself: OpenAPI's own schema
                    }
                    let mut all = Vec::new();
                    reachable(&doc, schema, &mut Vec::new(), &mut all);
                    for s in all {
                        assert!(!bare(&doc, s), "{method} {path} {status}: bare object {s}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "{checked}");
    }

    /// The request bodies document exactly the fields the engine's validator reads: the
    /// scenario's, a resource's, a need's, a link's and the policy's names from the schema
    /// catalogue (`commonsnet_engine::schema`), and the nine event types; each route's body
    /// refers to them (they were bare objects).
    #[test]
    fn request_bodies_document_the_fields_the_validator_reads() {
        use commonsnet_engine::schema::*;
        let doc = doc();
        let names = |schema: &str| -> Vec<String> {
            let mut v: Vec<String> = properties(&doc, schema).keys().cloned().collect();
            v.sort();
            v
        };
        let sorted = |xs: &[&str]| {
            let mut v: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(names("ScenarioBody"), sorted(SCENARIO_FIELDS));
        assert_eq!(names("PolicyBody"), sorted(POLICY_FIELDS));
        assert_eq!(names("LinkBody"), sorted(LINK_FIELDS));
        assert_eq!(names("ResourceBody"), sorted(RESOURCE_FIELDS));
        assert_eq!(names("NeedBody"), sorted(NEED_FIELDS));
        // The output shapes of a validated scenario have the same fields.
        assert_eq!(names("Resource"), sorted(RESOURCE_FIELDS));
        assert_eq!(names("Need"), sorted(NEED_FIELDS));
        // A solve's JSON body is a scenario and `explain`.
        let mut solve = sorted(SCENARIO_FIELDS);
        solve.push("explain".into());
        solve.sort();
        assert_eq!(names("SolveBody"), solve);
        // Each input object is closed, as the validator is: an unknown field is refused.
        for schema in [
            "ScenarioBody",
            "SolveBody",
            "ResourceBody",
            "NeedBody",
            "LinkBody",
            "PolicyBody",
        ] {
            assert_eq!(
                component(&doc, schema)["additionalProperties"],
                false,
                "{schema}"
            );
        }
        let types: Vec<String> = component(&doc, "EventBody")["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["properties"]["type"]["enum"][0]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            types,
            [
                "need_added",
                "need_updated",
                "need_withdrawn",
                "resource_added",
                "resource_updated",
                "resource_withdrawn",
                "dispatched",
                "resource_returned",
                "dispatch_released"
            ]
        );
        let body = |path: &str| {
            doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                .clone()
        };
        assert_eq!(body("/v1/solve")["$ref"], "#/components/schemas/SolveBody");
        let session = resolve(&doc, &body("/v1/sessions"))["properties"]["scenario"].clone();
        assert_eq!(session["$ref"], "#/components/schemas/ScenarioBody");
        let events =
            resolve(&doc, &body("/v1/sessions/{id}/events"))["properties"]["events"].clone();
        assert_eq!(events["items"]["$ref"], "#/components/schemas/EventBody");
    }

    #[test]
    fn the_solve_summary_status_and_the_error_codes_are_enums() {
        let doc = doc();
        let ok = &doc["paths"]["/v1/solve"]["post"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        let summary = resolve(&doc, &resolve(&doc, ok)["properties"]["summary"]);
        let status = resolve(&doc, &summary["properties"]["status"]);
        let want: Vec<Value> = Status::ALL.iter().map(|s| s.as_str().into()).collect();
        assert_eq!(status["enum"].as_array().unwrap(), &want);

        let bad = &doc["paths"]["/v1/solve"]["post"]["responses"]["422"]["content"]
            ["application/json"]["schema"];
        let detail = resolve(&doc, &resolve(&doc, bad)["properties"]["error"]);
        let code = resolve(&doc, &detail["properties"]["code"]);
        let want: Vec<Value> = Code::ALL.iter().map(|c| c.as_str().into()).collect();
        assert_eq!(code["enum"].as_array().unwrap(), &want);
    }

    /// The request schemas and the engine's validator agree both ways: every example and
    /// generated scenario (snapshot and timed) the validator takes validates against
    /// `ScenarioBody` (resources and needs without their defaulted fields were refused by the
    /// document, which required them), and each bounded field of a resource, a need and a
    /// policy, set just past the bound the document gives, is refused by the validator naming
    /// that field, and set at the bound (or just inside an exclusive one) is not.
    #[test]
    fn request_schemas_take_what_the_validator_takes() {
        use commonsnet_datasets::generate::{Clock, Generator};
        let doc = doc();
        let schema_problems = |v: &Value| problems(&doc, "ScenarioBody", v);
        let mut scenarios = vec![scenario()];
        let examples =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/examples");
        for entry in std::fs::read_dir(examples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                scenarios.push(serde_json::from_str(&text).unwrap());
            }
        }
        for g in Generator::ALL {
            for clock in [Clock::Snapshot, Clock::Timed] {
                scenarios.push(g.generate_with(0.3, 7, clock).unwrap());
            }
        }
        assert!(scenarios.len() >= 10, "{}", scenarios.len());
        for v in &scenarios {
            commonsnet_engine::scenario_from_value(v).expect("the validator takes it");
            let problems = schema_problems(v);
            assert!(
                problems.is_empty(),
                "{:#?}",
                &problems[..problems.len().min(10)]
            );
        }

        let base = serde_json::json!({
            "resources": [{"id": "r", "kind": "k", "capacity": {"u": 1}}],
            "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}],
            "policy": {}
        });
        let mut bounded = 0;
        for (schema, table) in [
            ("ResourceBody", "resources"),
            ("NeedBody", "needs"),
            ("PolicyBody", "policy"),
        ] {
            for (field, p) in &properties(&doc, schema) {
                let p = resolve(&doc, p);
                let bound = |key: &str| p.get(key).and_then(Value::as_f64);
                let cases = [
                    bound("minimum").map(|m| (m - 1.0, m)),
                    bound("maximum").map(|m| (m + 1.0, m)),
                    bound("exclusiveMinimum").map(|m| (m, m + 1.0)),
                ];
                for (past, within) in cases.into_iter().flatten() {
                    bounded += 1;
                    for (x, refused) in [(past, true), (within, false)] {
                        let mut v = base.clone();
                        let target = match table {
                            "policy" => &mut v["policy"],
                            t => &mut v[t][0],
                        };
                        // Coordinates come in pairs; the partner is set inside its range.
                        let partner = [("lat", "lon"), ("lon", "lat")]
                            .into_iter()
                            .find(|(f, _)| f == field)
                            .map(|(_, p)| p);
                        if let Some(p) = partner {
                            target[p] = serde_json::json!(0.0);
                        }
                        target[field.as_str()] = serde_json::json!(x);
                        let named = match commonsnet_engine::scenario_from_value(&v) {
                            Ok(_) => false,
                            Err(e) => e.issues.iter().any(|i| {
                                i.table == table && i.field.as_deref() == Some(field.as_str())
                            }),
                        };
                        assert_eq!(named, refused, "{table}.{field} = {x}");
                        assert_eq!(
                            schema_problems(&v).is_empty(),
                            !refused,
                            "{table}.{field} = {x}"
                        );
                    }
                }
            }
        }
        // Every bound the document states is tried (30 today: a bound dropped from a field fails here).
        assert_eq!(bounded, 30);
        // What the validator refuses beyond bounds, the document refuses too: unknown fields
        // anywhere, and a negative quantity (a review found each schema-valid).
        let solve_problems = |v: &Value| problems(&doc, "SolveBody", v);
        let mut typo = base.clone();
        typo["explian"] = serde_json::json!(true);
        assert!(!solve_problems(&typo).is_empty());
        let mut with_explain = base.clone();
        with_explain["explain"] = serde_json::json!(true);
        assert_eq!(solve_problems(&with_explain), Vec::<String>::new());
        let refused = [
            ("/resources/0", "colour", serde_json::json!("red")),
            ("/needs/0", "urgency", serde_json::json!(3)),
            ("/policy", "objectiv", serde_json::json!("cost")),
            ("/resources/0/capacity", "u", serde_json::json!(-1)),
            ("/needs/0/demand", "v", serde_json::json!(-2)),
            ("", "scenario", serde_json::json!({})),
        ];
        for (at, key, x) in refused {
            let mut v = base.clone();
            v.pointer_mut(at).unwrap()[key] = x;
            assert!(
                commonsnet_engine::scenario_from_value(&v).is_err(),
                "{at}/{key}"
            );
            assert!(!schema_problems(&v).is_empty(), "{at}/{key}");
        }
        let mut share = base.clone();
        share["policy"]["fairness"] = serde_json::json!({"min_share": 0.5, "x": 1});
        assert!(commonsnet_engine::scenario_from_value(&share).is_err());
        assert!(!schema_problems(&share).is_empty());
        // What the attributes cannot say (`InputRules`): coordinates come in pairs, and a
        // deprivation cost is 2 to 64 pairs.
        let pairs = |n: usize| -> Vec<[f64; 2]> {
            (0..n)
                .map(|k| [k as f64 / (n - 1) as f64, k as f64])
                .collect()
        };
        let deprivation = |points: Value| {
            let mut v = base.clone();
            v["policy"] = serde_json::json!({"objective": "deprivation", "deprivation": points});
            v
        };
        let cases = [
            (serde_json::json!({"lat": 52.0}), true),
            (serde_json::json!({"lon": 4.0}), true),
            (serde_json::json!({"lat": 52.0, "lon": 4.0}), false),
        ]
        .into_iter()
        .flat_map(|(spot, refused)| {
            ["resources", "needs"].map(|t| {
                let mut v = base.clone();
                for (k, x) in spot.as_object().unwrap() {
                    v[t][0][k.as_str()] = x.clone();
                }
                (v, refused)
            })
        })
        .chain([
            (deprivation(serde_json::json!([[0, 0]])), true),
            (deprivation(serde_json::json!([[0, 0], [1]])), true),
            (deprivation(serde_json::json!([[0, 0], [1, 2, 3]])), true),
            (deprivation(serde_json::json!(pairs(65))), true),
            (deprivation(serde_json::json!(pairs(64))), false),
            (deprivation(serde_json::json!([[0, 0], [1, 2]])), false),
        ]);
        for (v, refused) in cases {
            let engine = commonsnet_engine::scenario_from_value(&v);
            assert_eq!(engine.is_err(), refused, "{v}: {engine:?}");
            assert_eq!(schema_problems(&v).is_empty(), !refused, "{v}");
        }
        // A floor on every group: a share in [0, 1].
        for (share, refused) in [(1.5, true), (-0.5, true), (1.0, false)] {
            let mut v = base.clone();
            v["policy"]["fairness"] = serde_json::json!({ "min_share": share });
            assert_eq!(commonsnet_engine::scenario_from_value(&v).is_err(), refused);
            assert_eq!(schema_problems(&v).is_empty(), !refused, "{share}");
        }
    }

    fn scenario() -> Value {
        serde_json::json!({
            "name": "two-towns",
            "resources": [
                {"id": "van", "kind": "water", "capacity": {"l": 10}, "lat": 52.0, "lon": 4.0},
                {"id": "bus", "kind": "ride", "capacity": {"seats": 4}, "lat": 52.0, "lon": 4.1}
            ],
            "needs": [
                {"id": "a", "kind": "water", "demand": {"l": 6}, "lat": 52.01, "lon": 4.0},
                {"id": "b", "kind": "water", "demand": {"l": 6}, "lat": 52.02, "lon": 4.0,
                    "priority": 2},
                {"id": "c", "kind": "food", "demand": {"kg": 1}, "lat": 52.0, "lon": 4.0}
            ]
        })
    }

    #[test]
    fn what_the_service_sends_validates_against_the_document() {
        let doc = doc();
        let raw = scenario();
        let s = commonsnet_engine::scenario_from_value(&raw).unwrap();
        let report = commonsnet_engine::solve_report(&s);
        conforms(&doc, "SolveResponse", &solve::SolveResponse::new(&report));
        let mut infeasible = raw.clone();
        infeasible["needs"][0]["min_fill"] = 1.into();
        infeasible["needs"][1]["min_fill"] = 1.into();
        let s2 = commonsnet_engine::scenario_from_value(&infeasible).unwrap();
        let r2 = commonsnet_engine::solve_report(&s2);
        assert!(r2.summary.infeasibility.is_some());
        conforms(&doc, "SolveResponse", &solve::SolveResponse::new(&r2));
        // A timed scenario's tables carry `start_h` and `end_h` (null where untimed).
        let timed = serde_json::json!({
            "resources": [{"id": "drill", "kind": "tool", "capacity": {"units": 2}}],
            "needs": [
                {"id": "a", "kind": "tool", "demand": {"units": 1}, "duration_h": 24,
                 "deadline": 48},
                {"id": "b", "kind": "tool", "demand": {"units": 1}}
            ],
            "policy": {"reusable": ["units"]}
        });
        let s3 = commonsnet_engine::scenario_from_value(&timed).unwrap();
        let r3 = commonsnet_engine::solve_report(&s3);
        let starts: Vec<Value> = r3
            .allocations_json()
            .iter()
            .map(|a| a["start_h"].clone())
            .collect();
        assert_eq!(starts, [Value::from(0.0), Value::Null]);
        conforms(&doc, "SolveResponse", &solve::SolveResponse::new(&r3));

        let mut session = Session::new(&s).unwrap();
        let events = parse_events(&serde_json::json!([
            {"type": "dispatched", "need": "b", "resource": "van"}
        ]))
        .unwrap();
        let (out, _) = session.stage(&events).unwrap();
        let _ = session.flush();
        conforms(&doc, "ChangeSet", &crate::sessions::ChangeSet::new(1, out));
        conforms(
            &doc,
            "Plan",
            &crate::sessions::plan(&session.report(), &session, 1),
        );
        for need in ["a", "b", "c"] {
            conforms(&doc, "SessionWhy", &session.why(need).unwrap());
        }
        conforms(
            &doc,
            "SessionState",
            &sessions::SessionState::of(&session, 1),
        );
        // A session over time with a late return: booking conflicts in both answers.
        let drill = |id: &str, earliest: u32, hours: u32| {
            serde_json::json!({"id": id, "kind": "drill", "demand": {"units": 1},
                "indivisible": true, "earliest": earliest, "duration_h": hours})
        };
        let lending = commonsnet_engine::scenario_from_value(&serde_json::json!({
            "resources": [{"id": "d1", "kind": "drill", "capacity": {"units": 1}},
                          {"id": "d2", "kind": "drill", "capacity": {"units": 1}, "cost": 5,
                           "available_from": 17}],
            "needs": [drill("a", 0, 10), drill("b", 12, 5)],
            "policy": {"reusable": ["units"], "slot_h": 1}}))
        .unwrap();
        let mut timed = Session::new(&lending).unwrap();
        let mut conflicts = 0;
        for batch in [
            serde_json::json!([{"type": "dispatched", "need": "a", "resource": "d1", "at": 0},
                               {"type": "dispatched", "need": "b", "resource": "d1"}]),
            serde_json::json!([{"type": "resource_returned", "id": "d1", "at": 18}]),
        ] {
            let (out, _) = timed.apply(&parse_events(&batch).unwrap()).unwrap();
            conflicts = out.conflicts.len();
            conforms(&doc, "ChangeSet", &crate::sessions::ChangeSet::new(2, out));
        }
        assert_eq!(conflicts, 1, "the late return answers b's booking");
        let state = sessions::SessionState::of(&timed, 2);
        assert_eq!(state.conflicts.len(), 1, "b's booking is in conflict");
        conforms(&doc, "SessionState", &state);
        let listed = crate::sessions::SessionListed {
            id: "s1".into(),
            name: None,
            created_ms: 1,
            seq: 0,
        };
        conforms(
            &doc,
            "SessionList",
            &sessions::SessionList {
                sessions: vec![listed],
            },
        );
        for g in commonsnet_datasets::generate::GENERATORS {
            let v = commonsnet_datasets::generate::generate(g, 0.2, 1).unwrap();
            let typed: generators::GeneratedScenario = serde_json::from_value(v).unwrap();
            conforms(&doc, "GeneratedScenario", &typed);
        }

        let job: crate::jobs::JobRequest =
            serde_json::from_value(serde_json::json!({"scenarios": [raw]})).unwrap();
        let batch = job.into_batch(10.0).unwrap();
        conforms(&doc, "RunRow", &batch.run(0));
        conforms(&doc, "RunRow", &batch.error_row(0, "boom"));

        let e =
            commonsnet_engine::scenario_from_value(&serde_json::json!({"needs": 1})).unwrap_err();
        conforms(&doc, "ErrorBody", &UserError::invalid_input(&e).body());
        let too_many = serde_json::json!({"scenarios": [scenario()], "replicates": 1_000_000});
        let job: crate::jobs::JobRequest = serde_json::from_value(too_many).unwrap();
        conforms(
            &doc,
            "ErrorBody",
            &job.validate(commonsnet_engine::input::MAX_LINKS)
                .unwrap_err()
                .body(),
        );
    }
}
