//! What handlers take from a request: the tenant, the wanted media type, a body read within
//! the limits (size, time, encoding, content type), ids; and the Arrow stream answers.

use crate::error::{problem, ApiError, Code, InternalError, UserError};
use crate::{AppState, DecodeBudget, Share};
use arrow_array::RecordBatch;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commonsnet_engine::input::ListBounds;
use commonsnet_engine::Report;
use serde_json::Value;
use std::sync::Arc;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
pub const PARQUET: &str = "application/vnd.apache.parquet";

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

/// What a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Json,
    Arrow,
    Parquet,
}

/// Picks the media type in `Accept` we can produce with the highest weight (`q`, 1 when not
/// given; the first of equal weights; `q=0` means "not this"). No header, `*/*` and
/// `application/*` mean JSON.
pub(super) fn negotiate(headers: &HeaderMap, parquet_ok: bool) -> Result<Wanted, UserError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(Wanted::Json);
    };
    let accept = accept.to_str().unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Wanted::Json);
    }
    // Each media range with its weight (`q`, `Q` too: parameter names are case-insensitive).
    let ranges: Vec<(String, f64)> = accept
        .split(',')
        .map(|item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    let (name, value) = p.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then_some(value)
                })
                .filter_map(|q| q.trim().parse::<f64>().ok())
                .next_back()
                .unwrap_or(1.0);
            (media, q)
        })
        .collect();
    // A type named exactly sets its own weight whatever a wildcard says (RFC 9110 12.5.1):
    // `application/json;q=0, */*;q=0.1` refuses JSON.
    let exact = |media: &str| ranges.iter().find(|(m, _)| m == media).map(|(_, q)| *q);
    let mut best: Option<(f64, Wanted)> = None;
    for (media, q) in &ranges {
        let (wanted, q) = match media.as_str() {
            "application/json" => (Wanted::Json, *q),
            // The most specific range that names JSON sets its weight.
            "*/*" | "application/*" => (
                Wanted::Json,
                exact("application/json")
                    .or_else(|| exact("application/*"))
                    .unwrap_or(*q),
            ),
            ARROW_STREAM => (Wanted::Arrow, *q),
            PARQUET | "application/x-parquet" if parquet_ok => (Wanted::Parquet, *q),
            _ => continue,
        };
        if q.is_nan() || q <= 0.0 {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| q > *b) {
            best = Some((q, wanted));
        }
    }
    if let Some((_, wanted)) = best {
        return Ok(wanted);
    }
    // A wildcard stands for JSON, the default answer; where JSON is refused and no type we
    // make is named, it stands for Arrow, then Parquet (`*/*;q=0.1, application/json;q=0`
    // takes anything but JSON).
    // A type's weight is its most specific range's (all of ours are `application/`).
    let open = |media: &str| {
        exact(media)
            .or_else(|| exact("application/*"))
            .or_else(|| exact("*/*"))
            .is_some_and(|q| q > 0.0)
    };
    if open(ARROW_STREAM) {
        return Ok(Wanted::Arrow);
    }
    if parquet_ok && open(PARQUET) && exact("application/x-parquet").is_none_or(|q| q > 0.0) {
        return Ok(Wanted::Parquet);
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

/// A request body past the server's limit (`--body-limit-mib`), as every route answers it
/// (413), the limit stated: a client can tell how much to split off.
pub(super) fn too_large(limit: usize) -> UserError {
    UserError::new(
        Code::BodyTooLarge,
        format!("the body is larger than the server's limit of {limit} bytes"),
    )
}

/// Parse a JSON body into `T`: syntax errors are 400, well-formed JSON of the wrong shape
/// (unknown fields included) is 422. The body is table `root` (`"scenario"`: a key given
/// twice in `resources[0]` is named as row 0 of `resources`, as the CLI names it; `"policy"`;
/// `"body"` elsewhere).
pub(super) fn parse_json_as<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    root: &str,
) -> Result<T, UserError> {
    parse_json_within(bytes, root, ListBounds::SCENARIO)
}

/// [`parse_json_as`] with the body's lists held to `bounds` as they are read.
pub(super) fn parse_json_within<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    root: &str,
    bounds: ListBounds,
) -> Result<T, UserError> {
    use commonsnet_engine::input::JsonError;
    // Syntax first, whatever `T` is, so that a truncated body is a 400 on every route; a key
    // repeated in any object of the body (serde would keep the last silently) is a 422 that
    // names its path.
    let value: Value =
        commonsnet_engine::input::parse_json_within(bytes, bounds).map_err(|e| match e {
            JsonError::Syntax(e) => {
                UserError::new(Code::InvalidJson, format!("body is not valid JSON: {e}"))
            }
            // Named as what it is on every route (not "invalid scenario" on the events route).
            dup => {
                let e = dup.into_invalid_input(root);
                let first = e
                    .issues
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                UserError::invalid_input(&e).with_message(first)
            }
        })?;
    // A request body (root `body`) is an object of named fields: serde would take a list for
    // it by position (`[]` was "invalid length 0, expected struct EventsRequest with 1
    // element", and `[[...]]` a batch of events).
    if root == "body" && value.is_array() {
        let inner = "expected a JSON object, got a list";
        return Err(UserError::invalid_table("body", inner));
    }
    // Through `serde_path_to_error`, so that a value of the wrong type names where it is
    // (`generator.count`), not only what was expected.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // The root's path is `.`: no field to name.
        let field = (path != ".").then_some(path);
        let message = match &field {
            Some(f) => format!("{f}: {inner}"),
            None => inner.clone(),
        };
        UserError::unprocessable(message).with_details(vec![problem(
            "body",
            field.as_deref(),
            inner,
        )])
    })
}

/// Refuse a body in an encoding we do not decode (415), instead of failing to parse it.
pub(super) fn check_encoding(headers: &HeaderMap) -> Result<(), UserError> {
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

/// The body's length as its `Content-Length` declares it (hyper holds the body to it).
pub(super) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Read a request body whole, within the body limit and `--body-timeout-s`, and its share of
/// the decode budget: taken before the body is read, so that large bodies past the budget
/// wait unread (a connection's kernel buffers hold what its client has sent), not read into
/// memory by every connection at once (a review measured 25 parallel 60 MB solves at 2.4 GB
/// before any was decoded).
pub(super) async fn read_body_held(
    st: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Share), ApiError> {
    check_encoding(headers)?;
    let limits = BodyLimits {
        bytes: st.config.body_limit,
        time: st.config.body_timeout,
    };
    let declared = declared_length(headers);
    read_within(&st.decode_budget, tenant, limits, declared, body).await
}

/// The most a body may hold, and the time it may take to arrive.
#[derive(Clone, Copy)]
pub(super) struct BodyLimits {
    pub bytes: usize,
    pub time: std::time::Duration,
}

/// [`read_body_held`] over its parts. A body of declared length takes its share first; one
/// sent in chunks takes none while it is small and, at its first MiB, the share of the
/// largest body (its length is not known), holding under a MiB and a chunk while it waits.
/// The time to arrive does not count the wait.
async fn read_within(
    budget: &DecodeBudget,
    tenant: &str,
    limits: BodyLimits,
    declared: Option<usize>,
    body: Body,
) -> Result<(Bytes, Share), ApiError> {
    use futures_util::StreamExt;
    if declared.is_some_and(|n| n > limits.bytes) {
        return Err(too_large(limits.bytes).into());
    }
    let closed = |_| ApiError::from(InternalError::ShuttingDown);
    let mut share = match declared {
        Some(n) => budget.share(tenant, n).await.map_err(closed)?,
        None => None,
    };
    let mut deadline = tokio::time::Instant::now() + limits.time;
    let mut chunks = body.into_data_stream();
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0));
    // Bytes received by the plain deadline: only what comes after it earns more time.
    let mut by_deadline = 0;
    loop {
        let allowed = deadline + slow_link_allowance(declared, buf.len(), by_deadline, limits);
        let next = tokio::time::timeout_at(allowed, chunks.next())
            .await
            .map_err(|_| body_timeout(limits.time))?;
        if tokio::time::Instant::now() <= deadline {
            by_deadline = buf.len()
                + next
                    .as_ref()
                    .map_or(0, |c| c.as_ref().map_or(0, Bytes::len));
        }
        let Some(chunk) = next else {
            return Ok((buf.freeze(), share));
        };
        let chunk = chunk.map_err(|e| {
            UserError::new(Code::BadBody, format!("the body could not be read: {e}"))
        })?;
        let total = buf.len() + chunk.len();
        if total > limits.bytes {
            return Err(too_large(limits.bytes).into());
        }
        if share.is_none() && total >= DecodeBudget::SMALL_BODY {
            let waited = tokio::time::Instant::now();
            share = budget.share(tenant, limits.bytes).await.map_err(closed)?;
            deadline += waited.elapsed();
        }
        buf.extend_from_slice(&chunk);
    }
}

/// The rate a small body keeps to be given more time: a phone on 2G sends 1.5-5 KB/s.
pub(super) const SLOW_LINK_BYTES_PER_S: usize = 1024;

/// The time a body gets past `--body-timeout-s` while it keeps coming at a slow link's pace:
/// a grace of the timeout itself (10 s at most), and a second for each
/// [`SLOW_LINK_BYTES_PER_S`] received after the plain deadline (`by_deadline` bytes came
/// before it). A coordinator's 91 KB session sent at 1.5 KB/s needs 61 s (a review had it
/// refused at the 60 s default). What came before the deadline earns nothing: otherwise a
/// client could send a body but its last byte at once and hold the connection and its
/// buffer for 17 minutes on that credit (a review held 200 of them, 380 MB). Only a small
/// body (under [`DecodeBudget::SMALL_BODY`], declared or so far): a large one holds a share
/// of the decode budget, and keeps the plain deadline.
fn slow_link_allowance(
    declared: Option<usize>,
    received: usize,
    by_deadline: usize,
    limits: BodyLimits,
) -> std::time::Duration {
    if declared.unwrap_or(received).max(received) >= DecodeBudget::SMALL_BODY {
        return std::time::Duration::ZERO;
    }
    let grace = limits.time.min(std::time::Duration::from_secs(10));
    let after = received.saturating_sub(by_deadline);
    grace + std::time::Duration::from_secs_f64(after as f64 / SLOW_LINK_BYTES_PER_S as f64)
}

pub(super) fn body_timeout(time: std::time::Duration) -> UserError {
    UserError::new(
        Code::BodyTimeout,
        format!(
            "the request body did not arrive within {} s (a body under 1 MiB that keeps coming \
             gets a second more for each KiB it sends after that)",
            time.as_secs()
        ),
    )
}

pub(super) fn content_type(headers: &HeaderMap) -> String {
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

/// The allocations table as an Arrow IPC stream response.
pub(super) fn allocations_stream(report: &Report) -> Result<Response, ApiError> {
    let tables = report.tables().map_err(InternalError::from)?;
    let bytes = arrow_stream_bytes(&tables.allocations)?;
    Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], Body::from(bytes)).into_response())
}

/// The allocations table as a Parquet file response.
pub(super) fn allocations_parquet(report: &Report) -> Result<Response, ApiError> {
    let tables = report.tables().map_err(InternalError::from)?;
    let buf = parquet_bytes(&tables.allocations)?;
    Ok(([(header::CONTENT_TYPE, PARQUET)], Body::from(buf)).into_response())
}

/// One record batch as a Parquet file in memory.
pub(super) fn parquet_bytes(batch: &RecordBatch) -> Result<Vec<u8>, InternalError> {
    let mut buf = Vec::new();
    commonsnet_datasets::frames::write_parquet(
        &mut buf,
        batch.schema(),
        std::slice::from_ref(batch),
    )?;
    Ok(buf)
}

pub(super) fn arrow_stream_bytes(batch: &RecordBatch) -> Result<Vec<u8>, InternalError> {
    let mut buf = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(buf)
}

/// Read a JSON request body (content type checked, size limited), its lists held to `bounds`
/// as they are read.
pub(super) async fn json_body_within<T: serde::de::DeserializeOwned>(
    st: &Arc<AppState>,
    tenant: &str,
    req: Request,
    bounds: ListBounds,
) -> Result<T, ApiError> {
    Ok(json_body_held_within(st, tenant, req, bounds).await?.0)
}

/// [`json_body_within`] with its share of the decode budget, for a handler that goes on decoding
/// the value (a scenario validated, a job's scenarios) and keeps the share until it is done.
pub(super) async fn json_body_held<T: serde::de::DeserializeOwned>(
    st: &Arc<AppState>,
    tenant: &str,
    req: Request,
) -> Result<(T, Share), ApiError> {
    json_body_held_within(st, tenant, req, ListBounds::SCENARIO).await
}

async fn json_body_held_within<T: serde::de::DeserializeOwned>(
    st: &Arc<AppState>,
    tenant: &str,
    req: Request,
    bounds: ListBounds,
) -> Result<(T, Share), ApiError> {
    let ctype = content_type(req.headers());
    // A body without a Content-Type is refused too: a browser sends one cross-site without
    // asking first (a "simple" request), so taking it would let any page the operator has
    // open post here where no token is needed.
    if ctype != "application/json" {
        return Err(UserError::new(
            Code::UnsupportedMediaType,
            format!("Content-Type {ctype:?}: send application/json"),
        )
        .into());
    }
    let (parts, body) = req.into_parts();
    let (bytes, share) = read_body_held(st, tenant, &parts.headers, body).await?;
    Ok((parse_json_within(&bytes, "body", bounds)?, share))
}

/// Path parameters (`{id}`, `{need}`, `{name}`), as axum's `Path` takes them, refused in the
/// API's error body. Our parameters are all text, so the one refusal is a parameter that is
/// not UTF-8 once percent-decoded: it names no job, session, need or generator, so it is the
/// 404 of an unknown one, naming the parameter (axum's own answer is a plain-text 400).
pub(super) struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = UserError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(Params(t)),
            Err(e) => {
                let key = match &e {
                    PathRejection::FailedToDeserializePathParams(f) => match f.kind() {
                        ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                let what = match key.as_deref() {
                    Some("need") => "need",
                    Some("name") => "generator",
                    _ if parts.uri.path().starts_with("/v1/jobs/") => "job",
                    _ => "session",
                };
                let why = key.map_or_else(|| e.body_text(), |k| format!("`{k}` is not UTF-8"));
                Err(UserError::new(
                    Code::NotFound,
                    format!("{what} not found: {why}"),
                ))
            }
        }
    }
}

/// A route's query parameters, typed: a parameter that does not parse, is not the route's,
/// or is given twice is a 400 `bad_query` whose details name it (`field`: `limit`), as a
/// body's fields are named (axum's `Query` put the name only inside its message, with no
/// details).
pub(super) struct QueryArgs<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryArgs<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = UserError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(QueryArgs)
    }
}

/// The query of a route that takes no parameters: any one is refused, named.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// `query` as `T`. Every parameter of our routes has a default, so a parameter on its own
/// is refused as a whole (path `.`) only when it is not the route's: that is how the one to
/// name is found when serde's refusal names none.
fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, UserError> {
    let from = |query: &str| {
        let pairs = form_urlencoded::parse(query.as_bytes());
        serde_path_to_error::deserialize::<_, T>(serde_urlencoded::Deserializer::new(pairs))
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    for (i, (key, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k, _)| k == key) {
            return Err(bad_query(key, "given twice"));
        }
    }
    from(query).map_err(|e| {
        let mut field = e.path().to_string();
        if field == "." {
            let alone = |(k, v): &(String, String)| {
                let one = form_urlencoded::Serializer::new(String::new())
                    .append_pair(k, v)
                    .finish();
                from(&one).is_err_and(|e| e.path().to_string() == ".")
            };
            if let Some((k, _)) = pairs.iter().find(|p| alone(p)) {
                field.clone_from(k);
            }
        }
        bad_query(&field, e.inner())
    })
}

/// A 400 `bad_query` naming the query parameter `field` (`.` when the query as a whole is
/// wrong) in its details.
pub(super) fn bad_query(field: &str, message: impl std::fmt::Display) -> UserError {
    UserError::new(Code::BadQuery, format!("query: {field}: {message}"))
        .with_details(vec![problem("query", Some(field), message)])
}

/// A list route's `limit`: 1 to `max`, else the 400 `bad_query` naming it.
pub(super) fn listed_limit<T>(limit: T, max: T) -> Result<T, UserError>
where
    T: PartialOrd + From<u8> + std::fmt::Display,
{
    if limit < T::from(1) || limit > max {
        return Err(bad_query("limit", format!("{limit} is not in 1..={max}")));
    }
    Ok(limit)
}

/// Job and session ids: UUID v4 (122 random bits, unguessable; ids are also tenant-checked)
/// in the 32-hex-digit form the API has always used. v4 rather than v7: an id need not tell
/// when it was made.
pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Longest `Idempotency-Key` taken.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The request's `Idempotency-Key`: 1 to 255 visible ASCII characters, spaces inside
/// allowed, bare or as a quoted string (the IETF draft's form, the quotes not part of the
/// key). Given twice, empty or otherwise it is refused: a key the client cannot have meant
/// must not pass for no key.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, UserError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |why: &str| {
        UserError::new(Code::BadHeader, format!("Idempotency-Key: {why}"))
            .with_details(vec![problem("headers", Some("Idempotency-Key"), why)])
    };
    if values.next().is_some() {
        return Err(bad("given more than once"));
    }
    let text = value.to_str().map_err(|_| bad("not visible ASCII"))?;
    let key = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(bad(&format!(
            "{} characters, where 1 to {MAX_IDEMPOTENCY_KEY} are taken",
            key.len()
        )));
    }
    if !key.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) || key.contains('"') {
        return Err(bad(
            "not visible ASCII (tabs and quotes inside are not taken)",
        ));
    }
    if key.starts_with(' ') || key.ends_with(' ') {
        return Err(bad("begins or ends with a space"));
    }
    Ok(Some(key.to_string()))
}

/// Set on the `200` answer to a retried submission (the IETF draft's name).
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A creation's answer (`status` and `body`, the new thing's `location`); with `replayed`,
/// the `200` of a retry whose Idempotency-Key named a stored job or session, saying so.
pub(super) fn created(
    status: StatusCode,
    location: String,
    body: impl serde::Serialize,
    replayed: bool,
) -> Response {
    let status = if replayed { StatusCode::OK } else { status };
    let mut resp = (status, [(header::LOCATION, location)], axum::Json(body)).into_response();
    if replayed {
        resp.headers_mut().insert(
            header::HeaderName::from_static(REPLAYED_HEADER),
            header::HeaderValue::from_static("true"),
        );
    }
    resp
}

/// The refusal of an idempotency key the tenant used for another request: the job or
/// session (`what`) it names.
pub(super) fn key_reused(key: &str, what: &str, id: &str) -> UserError {
    UserError::new(
        Code::IdempotencyKeyReused,
        format!(
            "Idempotency-Key {key:?} was used for {what} {id} with another request; use a new key for a new {what}"
        ),
    )
    .with_details(vec![problem(
        "headers",
        Some("Idempotency-Key"),
        format!("used for {what} {id} with another request"),
    )])
}

/// Whether `id` is of the form [`new_id`] makes: 32 hex digits (job ids made before UUIDs were
/// 128 hashed bits in the same form).
pub(super) fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A job or session id (`what`), checked before it goes near the store: anything else (a NUL,
/// a 10 kB string, a byte PostgreSQL refuses) names no job or session, so it is a 404.
pub(super) fn check_id(id: &str, what: &str) -> Result<(), UserError> {
    if is_id(id) {
        Ok(())
    } else {
        Err(UserError::not_found(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights of `Accept` are honoured: `q=0` refuses a type, the heaviest one we can
    /// produce wins, the first among equals.
    #[test]
    fn accept_weights_choose_the_answer() {
        let pick = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, accept.parse().unwrap());
            negotiate(&h, true).map_err(|e| e.code)
        };
        let arrow = ARROW_STREAM;
        assert_eq!(
            pick(&format!("{arrow};q=0, application/json")),
            Ok(Wanted::Json)
        );
        assert_eq!(
            pick(&format!("application/json;q=0.5, {arrow}")),
            Ok(Wanted::Arrow)
        );
        assert_eq!(
            pick(&format!("{arrow}, application/json")),
            Ok(Wanted::Arrow)
        );
        assert_eq!(
            pick(&format!("{PARQUET};q=0.9, {arrow};q=0.8")),
            Ok(Wanted::Parquet)
        );
        assert_eq!(pick("text/html, */*;q=0.1"), Ok(Wanted::Json));
        assert_eq!(pick(&format!("{arrow};q=0")), Err(Code::NotAcceptable));
        // A type named at q=0 is refused whatever a wildcard weighs (RFC 9110 12.5.1); the
        // wildcard still takes the others.
        assert_eq!(pick("application/json;q=0, */*;q=0.1"), Ok(Wanted::Arrow));
        assert_eq!(
            pick(&format!("application/json;q=0, */*, {arrow};q=0.2")),
            Ok(Wanted::Arrow)
        );
        assert_eq!(
            pick("application/*;q=0.3, application/json;q=0.1"),
            Ok(Wanted::Json)
        );
        assert_eq!(pick("application/*;q=0, */*"), Err(Code::NotAcceptable));
        // Where JSON is refused, a wildcard takes what else we make: Arrow, then Parquet.
        assert_eq!(pick("*/*;q=0.1, application/json;q=0"), Ok(Wanted::Arrow));
        assert_eq!(
            pick("application/json;q=0, application/*;q=0.5"),
            Ok(Wanted::Arrow)
        );
        assert_eq!(
            pick(&format!("application/json;q=0, {arrow};q=0, */*")),
            Ok(Wanted::Parquet)
        );
        assert_eq!(
            pick(&format!(
                "application/json;q=0, {arrow};q=0, {PARQUET};q=0, */*"
            )),
            Err(Code::NotAcceptable)
        );
        // `Q` is `q`: parameter names are case-insensitive.
        assert_eq!(
            pick(&format!("application/json;Q=0.2, {arrow};q=0.5")),
            Ok(Wanted::Arrow)
        );
        assert_eq!(
            pick(&format!("application/json;Q=0.9, {arrow};q=0.5")),
            Ok(Wanted::Json)
        );
    }

    #[test]
    fn new_ids_pass_the_id_check_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(check_id(&a, "job").is_ok());
        // Ids made before UUIDs (hashed bits, any version nibble) stay valid.
        assert!(check_id("00000000000000000000000000000000", "job").is_ok());
        assert!(check_id("d41d8cd98f00b204e9800998ecf8427e", "job").is_ok());
        for bad in [
            "",
            "xyz",
            "\0",
            "d41d8cd9-8f00-b204-e980-0998ecf8427e",
            "d41d8cd98f00b204e9800998ecf8427g",
            "d41d8cd98f00b204e9800998ecf8427\0",
        ] {
            assert!(check_id(bad, "job").is_err(), "{bad}");
        }
        let e = check_id("\0", "session").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (Code::NotFound, "session not found")
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: usize,
    }

    /// A body of the wrong shape names the path of what is wrong, in the message and in a
    /// detail of the `body` table.
    #[test]
    fn a_mistyped_body_field_is_named_by_its_path() {
        let e = parse_json_as::<Outer>(br#"{"inner": {"count": "three"}}"#, "body").unwrap_err();
        assert_eq!(e.code, Code::InvalidInput);
        assert_eq!(
            e.message,
            r#"inner.count: invalid type: string "three", expected usize"#
        );
        assert_eq!(
            e.details,
            vec![
                serde_json::json!({"table": "body", "row": null, "field": "inner.count",
                "message": r#"invalid type: string "three", expected usize"#})
            ]
        );
        // A mistake of the root itself has no field to name.
        let e = parse_json_as::<Outer>(b"3", "body").unwrap_err();
        assert_eq!(
            e.message,
            "invalid type: integer `3`, expected struct Outer"
        );
        assert_eq!(e.details[0]["field"], Value::Null);
        assert_eq!(e.message, e.details[0]["message"]);
        // A list is not taken for the struct's fields by position.
        for list in [&b"[]"[..], b"[{\"count\": 3}]"] {
            let e = parse_json_as::<Outer>(list, "body").unwrap_err();
            assert_eq!(
                (e.code, e.message.as_str()),
                (Code::InvalidInput, "expected a JSON object, got a list")
            );
        }
        assert_eq!(
            parse_json_as::<Outer>(br#"{"inner": {"count": 3}}"#, "body")
                .unwrap()
                .inner
                .count,
            3
        );
    }

    /// A body whose chunks count their reads: `chunks` of `size` bytes, each 20 ms after the
    /// last was asked for, `stall` leaving the stream open after them.
    fn counted_body(
        chunks: usize,
        size: usize,
        stall: bool,
    ) -> (Body, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let read = Arc::new(AtomicUsize::new(0));
        let counter = read.clone();
        let stream = futures_util::stream::unfold(0, move |k| {
            let counter = counter.clone();
            async move {
                if k == chunks {
                    if stall {
                        std::future::pending::<()>().await;
                    }
                    return None;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(vec![7u8; size])), k + 1))
            }
        });
        (Body::from_stream(stream), read)
    }

    fn status(r: Result<(Bytes, Share), ApiError>) -> StatusCode {
        match r {
            Ok(_) => StatusCode::OK,
            Err(e) => e.into_response().status(),
        }
    }

    /// A large body waits for its share of the decode budget before any of it is read (a
    /// review found 25 bodies of 60 MB read at once, 2.4 GB, before the first was decoded);
    /// sent in chunks, under a MiB and a chunk is read before it waits; a small body passes a
    /// budget in use; one declared past the limit is refused unread; the wait does not count
    /// against the time a body may take (the chunks after it take 20 ms each, past a deadline
    /// that counted the wait), a body that stops coming does.
    #[tokio::test]
    async fn large_bodies_wait_unread_for_the_decode_budget() {
        use std::sync::atomic::Ordering;
        use std::time::Duration;
        const MIB: usize = 1 << 20;
        let budget = Arc::new(DecodeBudget::new(1));
        let limits = BodyLimits {
            bytes: 8 * MIB,
            time: Duration::from_millis(300),
        };
        let wait = Duration::from_millis(400);
        for declared in [Some(2 * MIB), None] {
            let held = budget.share("t", MIB).await.unwrap();
            let (body, read) = counted_body(8, MIB / 4, false);
            let b = budget.clone();
            let reader =
                tokio::spawn(async move { read_within(&b, "t", limits, declared, body).await });
            tokio::time::sleep(wait).await;
            let before = read.load(Ordering::SeqCst);
            match declared {
                Some(_) => assert_eq!(before, 0, "read while the budget was taken"),
                None => assert!(before <= 4, "{before} chunks of 256 KiB read while waiting"),
            }
            assert!(!reader.is_finished());
            // A small body is not held up meanwhile.
            let (small, _) = counted_body(2, 1000, false);
            let (bytes, share) = read_within(&budget, "t", limits, Some(2000), small)
                .await
                .unwrap();
            assert_eq!((bytes.len(), share.is_none()), (2000, true));
            drop(held);
            let (bytes, share) = reader.await.unwrap().unwrap();
            assert_eq!((bytes.len(), share.is_some()), (2 * MIB, true));
            assert_eq!(read.load(Ordering::SeqCst), 8);
        }
        let (body, read) = counted_body(1, 10, false);
        let refused = read_within(&budget, "t", limits, Some(9 * MIB), body).await;
        assert_eq!(status(refused), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::SeqCst), 0);
        let (body, _) = counted_body(40, MIB / 4, false);
        let small_limit = BodyLimits {
            bytes: 2 * MIB,
            time: Duration::from_secs(10),
        };
        let refused = read_within(&budget, "t", small_limit, None, body).await;
        assert_eq!(status(refused), StatusCode::PAYLOAD_TOO_LARGE);
        let (body, _) = counted_body(1, 10, true);
        let stalled = read_within(&budget, "t", limits, None, body).await;
        assert_eq!(status(stalled), StatusCode::REQUEST_TIMEOUT);
    }

    /// A body of chunks, each `(wait, bytes)`: sent `wait` after the one before.
    fn paced_body(chunks: Vec<(std::time::Duration, usize)>) -> Body {
        let stream = futures_util::stream::unfold(0, move |k| {
            let next = chunks.get(k).copied();
            async move {
                let (wait, size) = next?;
                tokio::time::sleep(wait).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(vec![7u8; size])), k + 1))
            }
        });
        Body::from_stream(stream)
    }

    /// A small body that keeps coming at a slow link's rate is read past the body timeout: a
    /// grace of the timeout, then a second for each KiB sent after it (sixteen 512-byte chunks
    /// a quarter second apart take 4 s against a 1 s timeout). A large one at the same pace is
    /// not, nor a small one slower than the rate, nor one that sent nearly all of itself at
    /// once and then waits on that credit (a review held 200 such bodies open for minutes).
    #[tokio::test]
    async fn small_bodies_on_a_slow_link_get_time_for_what_they_send() {
        use std::time::Duration;
        const MIB: usize = 1 << 20;
        let budget = DecodeBudget::new(64);
        let limits = BodyLimits {
            bytes: 8 * MIB,
            time: Duration::from_secs(1),
        };
        let every = |n: usize, wait: u64, size: usize| {
            paced_body(vec![(Duration::from_millis(wait), size); n])
        };
        for declared in [Some(8192), None] {
            let (bytes, _) = read_within(&budget, "t", limits, declared, every(16, 250, 512))
                .await
                .unwrap();
            assert_eq!(bytes.len(), 8192);
        }
        // Declared large: the plain deadline.
        let r = read_within(&budget, "t", limits, Some(2 * MIB), every(16, 250, 512)).await;
        assert_eq!(status(r), StatusCode::REQUEST_TIMEOUT);
        // Slower than a KiB a second: 64 bytes every 0.4 s earn 62.5 ms each.
        let r = read_within(&budget, "t", limits, None, every(16, 400, 64)).await;
        assert_eq!(status(r), StatusCode::REQUEST_TIMEOUT);
        // All but a byte at once, the last 2.5 s later: what came before the deadline earns
        // nothing (it would have earned 3.9 s).
        let banked = paced_body(vec![
            (Duration::ZERO, 4000),
            (Duration::from_millis(2500), 1),
        ]);
        let r = read_within(&budget, "t", limits, Some(4001), banked).await;
        assert_eq!(status(r), StatusCode::REQUEST_TIMEOUT);
        let second = Duration::from_secs(1);
        assert_eq!(slow_link_allowance(Some(100), 2048, 0, limits), 3 * second);
        assert_eq!(slow_link_allowance(Some(100), 2048, 2048, limits), second);
        assert_eq!(
            slow_link_allowance(Some(MIB), 2048, 0, limits),
            Duration::ZERO
        );
        assert_eq!(slow_link_allowance(None, MIB, 0, limits), Duration::ZERO);
    }
}
