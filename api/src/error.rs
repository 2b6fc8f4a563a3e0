//! The error body of SPEC section 4, `{"error": {"code", "message", "details": [...]}}`, the
//! [`Code`] enum every answer's code comes from, and the split between what the client got
//! wrong (4xx, said plainly) and our own faults (5xx, logged in full, answered with a generic
//! message).

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commonsnet_engine::solve::SolveError;
use commonsnet_engine::InvalidInput;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

closed_set! {
    /// Stable machine-readable error code of an error body; each has one HTTP status.
    pub enum Code {
        /// 400: the body is not JSON.
        InvalidJson = "invalid_json",
        /// 400: the body could not be read.
        BadBody = "bad_body",
        /// 400: the multipart form is malformed, has an unknown part or a part given twice.
        BadMultipart = "bad_multipart",
        /// 400: `Last-Event-ID` is not a sequence number, or is ahead of the session's last
        /// change.
        BadLastEventId = "bad_last_event_id",
        /// 400: a query parameter is malformed or unknown.
        BadQuery = "bad_query",
        /// 400: a request header is malformed (`Idempotency-Key`).
        BadHeader = "bad_header",
        Unauthorized = "unauthorized",
        /// 403: a browser request from another site (its `Origin` is not this server's) that
        /// carries no token: a page the operator has open elsewhere may not act here.
        CrossOrigin = "cross_origin",
        NotFound = "not_found",
        MethodNotAllowed = "method_not_allowed",
        NotAcceptable = "not_acceptable",
        BodyTimeout = "body_timeout",
        /// 409: cancel of a job that already finished.
        JobFinished = "job_finished",
        /// 409: the result of a job that is not done.
        JobNotDone = "job_not_done",
        /// 409: a purge of a job that is queued or running (cancel it first).
        JobUnfinished = "job_unfinished",
        /// 409: an event conflicts with the session's state; the batch was not applied.
        EventRejected = "event_rejected",
        BodyTooLarge = "body_too_large",
        UriTooLong = "uri_too_long",
        UnsupportedMediaType = "unsupported_media_type",
        UnsupportedEncoding = "unsupported_encoding",
        /// 422: the input is well-formed but wrong; details name table, row and field.
        InvalidInput = "invalid_input",
        /// 422: the job asks for more than the server's limits.
        JobTooLarge = "job_too_large",
        /// 422: the solver failed on a scenario whose values of one kind span more orders of
        /// magnitude than it solves reliably; details name the smallest and the largest.
        ValuesTooWide = "values_too_wide",
        /// 422: an `Idempotency-Key` used before by this tenant for another request.
        IdempotencyKeyReused = "idempotency_key_reused",
        QueueFull = "queue_full",
        TooManySessions = "too_many_sessions",
        HeadersTooLarge = "headers_too_large",
        Internal = "internal",
        ShuttingDown = "shutting_down",
        Unavailable = "unavailable",
        /// 503: the store is out of reach (PostgreSQL) or cannot be written (a full disk, a
        /// read-only or failing file system), or a session moved to another replica while
        /// the request was on its way; retry after `Retry-After`.
        StoreUnavailable = "store_unavailable",
    }
}

impl Code {
    pub const fn status(self) -> StatusCode {
        match self {
            Code::InvalidJson
            | Code::BadBody
            | Code::BadMultipart
            | Code::BadLastEventId
            | Code::BadQuery
            | Code::BadHeader => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::CrossOrigin => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Code::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::JobFinished | Code::JobNotDone | Code::JobUnfinished | Code::EventRejected => {
                StatusCode::CONFLICT
            }
            Code::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UriTooLong => StatusCode::URI_TOO_LONG,
            Code::UnsupportedMediaType | Code::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Code::InvalidInput
            | Code::JobTooLarge
            | Code::ValuesTooWide
            | Code::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Code::QueueFull | Code::TooManySessions => StatusCode::TOO_MANY_REQUESTS,
            Code::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::ShuttingDown | Code::Unavailable | Code::StoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// `{"error": {"code", "message", "details"}}`: every error answer of the service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: Code,
    pub message: String,
    /// One entry per problem (invalid input, a rejected event, a job limit).
    #[schema(value_type = Vec<Problem>)]
    pub details: Vec<Value>,
}

/// One problem of a refused request. Input problems name `table`, `row` and `field`;
/// `job_too_large` names the `field`, its `limit` and the `value` asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `scenario`, `resources`, `needs`, `links`, `policy`, `events` (the row is the event's
    /// index in its batch), `scenarios[i].needs`...
    pub table: Option<String>,
    /// Row index inside the table (0-based), when the problem belongs to one row.
    pub row: Option<usize>,
    /// The field (JSON path, or Arrow column name for table input).
    pub field: Option<String>,
    pub message: String,
    /// `job_too_large`: the server's limit.
    #[schema(value_type = Option<f64>)]
    pub limit: Option<Value>,
    /// `job_too_large`: what the job asked for.
    #[schema(value_type = Option<LimitValue>)]
    pub value: Option<Value>,
}

/// One detail of a refusal that belongs to no row (a [`Problem`] without `limit` or
/// `value`): the table (a request body's kind, a form part, `query`, `headers`), the field
/// when one is at fault, and the message. Every hand-made detail is built here.
pub fn problem(table: &str, field: Option<&str>, message: impl std::fmt::Display) -> Value {
    serde_json::json!({
        "table": table,
        "row": null,
        "field": field,
        "message": message.to_string(),
    })
}

/// What a job asked for beyond a limit: a number, or `a x b x c` when the product overflows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LimitValue {
    Number(f64),
    Product(String),
}

impl ErrorBody {
    pub fn new(code: Code, message: impl Into<String>, details: Vec<Value>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                details,
            },
        }
    }

    /// The body as a response with its code's status.
    pub(crate) fn into_response_with(mut self, retry_after: Option<u64>) -> Response {
        // A body that cannot be read names it too (a client lists `details`, and these came
        // with none): the body, or the form, and the message.
        let e = &mut self.error;
        if e.details.is_empty() && matches!(e.code, Code::InvalidJson | Code::BadMultipart) {
            let table = if e.code == Code::BadMultipart {
                "form"
            } else {
                "body"
            };
            e.details.push(problem(table, None, &e.message));
        }
        // A refused input names what it refuses (SPEC section 4): tests run debug builds, so
        // an answer that forgot its details fails the test that reaches it.
        debug_assert!(
            self.error.code != Code::InvalidInput || !self.error.details.is_empty(),
            "invalid_input without details: {}",
            self.error.message
        );
        let unauthorized = self.error.code == Code::Unauthorized;
        let mut resp = (self.error.code.status(), axum::Json(self)).into_response();
        // RFC 9110 section 11.6.1: a 401 names the scheme that would authenticate.
        if unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"commonsnet\""),
            );
        }
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Something the client sent that we refuse: always a 4xx.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UserError {
    pub code: Code,
    pub message: String,
    pub details: Vec<Value>,
    /// Seconds a client should wait before retrying (429 only).
    pub retry_after: Option<u64>,
}

impl UserError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        debug_assert!(code.status().is_client_error());
        UserError {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidInput, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// One field of a request body (`table`: the body's kind, `job`; `field`: its path, as
    /// `generator.scale`) is invalid: the message names it, and so does the one detail, as
    /// a scenario's issues do.
    pub fn invalid_field(table: &str, field: &str, message: impl std::fmt::Display) -> Self {
        Self::unprocessable(format!("{field}: {message}")).with_details(vec![problem(
            table,
            Some(field),
            &message,
        )])
    }

    /// One table, or one part of a form, is refused as a whole: the one detail names it
    /// with no row or field, so that every `invalid_input` answer lists what it refuses.
    pub fn invalid_table(table: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let detail = problem(table, None, &message);
        Self::unprocessable(message).with_details(vec![detail])
    }

    /// A scenario that failed validation; every issue names its table, row and field.
    pub fn invalid_input(e: &InvalidInput) -> Self {
        let details = e
            .issues
            .iter()
            .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
            .collect();
        Self::unprocessable(e.to_string()).with_details(details)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code, self.message.clone(), self.details.clone())
    }
}

/// A fault of ours (storage, a panicking solver, a full disk): always a 5xx.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("dataset: {0}")]
    Dataset(#[from] commonsnet_datasets::DatasetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A result table could not be written (Parquet).
    #[error("table: {0}")]
    Table(#[from] commonsnet_datasets::frames::TableError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("worker task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The solver failed on a valid scenario (not the client's fault).
    #[error("solve: {0}")]
    Solve(#[from] SolveError),
    /// A session's actor failed on the request (it was restored from its log).
    #[error("the session failed while handling this request; it was restored from its log and the request was not applied")]
    SessionFailed,
    /// A session's stored log could not be replayed.
    #[error("session {session} log: {message}")]
    SessionLog { session: String, message: String },
    /// A generator made a scenario the engine refuses (a generator's bug).
    #[error("generator: {0}")]
    Generate(#[from] commonsnet_datasets::generate::GenerateError),
    #[error("metrics exposition: {0}")]
    Metrics(#[from] std::fmt::Error),
    #[error("shutting down")]
    ShuttingDown,
    /// A temporary lack of resources (a thread that cannot start): 503, worth a retry; the
    /// message is shown to the client.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl InternalError {
    /// Worth a retry (503): a lack of resources, an unreachable store, a session that moved.
    pub fn is_unavailable(&self) -> bool {
        match self {
            InternalError::Unavailable(_) => true,
            InternalError::Store(e) => e.is_unavailable(),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for InternalError {
    fn from(e: rusqlite::Error) -> Self {
        InternalError::Store(e.into())
    }
}

/// What a handler returns on failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

macro_rules! internal_sources {
    ($($t:ty),+ $(,)?) => {
        $(impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ApiError::Internal(e.into())
            }
        })+
    };
}
internal_sources!(
    StoreError,
    rusqlite::Error,
    std::io::Error,
    serde_json::Error,
    tokio::task::JoinError,
    arrow_schema::ArrowError,
);

/// A solve that failed: a 422 when the input's values span more orders of magnitude than
/// the solver takes reliably (the input can mend it: details name the two values),
/// otherwise ours, a 500 logged with what failed.
impl From<SolveError> for ApiError {
    fn from(e: SolveError) -> Self {
        match &e {
            SolveError::WideValues { span, .. } => {
                let place = |at: &commonsnet_engine::solve::ValueAt| {
                    serde_json::json!({
                        "table": at.table,
                        "row": at.row,
                        "field": at.field,
                        "value": at.value,
                    })
                };
                let details = vec![place(&span.smallest), place(&span.largest)];
                UserError::new(Code::ValuesTooWide, e.to_string())
                    .with_details(details)
                    .into()
            }
            SolveError::Solver(_) => ApiError::Internal(e.into()),
            // The server calls a solve off only when it shuts down (a client that went away
            // reads no answer).
            SolveError::Cancelled => InternalError::ShuttingDown.into(),
            // The input can mend it (the message says how): the client's to change.
            SolveError::TooLarge(_) => UserError::new(Code::InvalidInput, e.to_string())
                .with_details(vec![serde_json::json!({
                    "table": "scenario",
                    "row": null,
                    "field": null,
                    "message": e.to_string(),
                })])
                .into(),
        }
    }
}

/// The error body for rejected scenario input (also used by the CLI's tests).
pub fn invalid_input_body(e: &InvalidInput) -> Value {
    serde_json::to_value(UserError::invalid_input(e).body()).unwrap_or(Value::Null)
}

impl IntoResponse for UserError {
    fn into_response(self) -> Response {
        let retry = self.retry_after;
        ErrorBody::new(self.code, self.message, self.details).into_response_with(retry)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::User(u) => u.into_response(),
            ApiError::Internal(InternalError::ShuttingDown) => ErrorBody::new(
                Code::ShuttingDown,
                "the server is shutting down; retry shortly",
                vec![],
            )
            .into_response_with(Some(1)),
            ApiError::Internal(InternalError::Unavailable(m)) => {
                tracing::warn!(reason = %m, "service unavailable");
                ErrorBody::new(Code::Unavailable, m, vec![]).into_response_with(Some(5))
            }
            ApiError::Internal(InternalError::Store(e)) if e.is_unavailable() => {
                tracing::warn!(error = %e, "store unavailable");
                ErrorBody::new(
                    Code::StoreUnavailable,
                    "the store is out of reach or cannot be written now (a full disk, a \
                     read-only or failing file system), or the session moved; retry shortly",
                    vec![],
                )
                .into_response_with(Some(2))
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ErrorBody::new(Code::Internal, "internal error; it has been logged", vec![])
                    .into_response_with(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite failing for want of room or of a working, writable file system (a store
    /// review filled a disk: every write answered 500 `internal`) is a 503 to retry; a
    /// damaged database stays a 500, our fault.
    #[test]
    fn a_full_or_failing_disk_is_a_503_to_retry() {
        use rusqlite::ffi;
        let sqlite =
            |code| StoreError::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None));
        let io = |kind| StoreError::Io {
            path: "results".into(),
            source: std::io::Error::from(kind),
        };
        let answered = |e: StoreError| {
            let r = ApiError::from(e).into_response();
            (
                r.status().as_u16(),
                r.headers().contains_key(header::RETRY_AFTER),
            )
        };
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_BUSY,
            ffi::SQLITE_CANTOPEN,
        ] {
            assert_eq!(answered(sqlite(code)), (503, true), "{code}");
        }
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::ReadOnlyFilesystem,
        ] {
            assert_eq!(answered(io(kind)), (503, true), "{kind}");
        }
        assert_eq!(answered(sqlite(ffi::SQLITE_CORRUPT)), (500, false));
        assert_eq!(answered(io(std::io::ErrorKind::NotFound)), (500, false));
    }

    #[test]
    fn every_code_has_its_status_and_one_spelling() {
        let expected = [
            ("invalid_json", 400),
            ("bad_body", 400),
            ("bad_multipart", 400),
            ("bad_last_event_id", 400),
            ("bad_query", 400),
            ("bad_header", 400),
            ("unauthorized", 401),
            ("cross_origin", 403),
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("not_acceptable", 406),
            ("body_timeout", 408),
            ("job_finished", 409),
            ("job_not_done", 409),
            ("job_unfinished", 409),
            ("event_rejected", 409),
            ("body_too_large", 413),
            ("uri_too_long", 414),
            ("unsupported_media_type", 415),
            ("unsupported_encoding", 415),
            ("invalid_input", 422),
            ("job_too_large", 422),
            ("values_too_wide", 422),
            ("idempotency_key_reused", 422),
            ("queue_full", 429),
            ("too_many_sessions", 429),
            ("headers_too_large", 431),
            ("internal", 500),
            ("shutting_down", 503),
            ("unavailable", 503),
            ("store_unavailable", 503),
        ];
        assert_eq!(Code::ALL.len(), expected.len());
        for (&code, (name, status)) in Code::ALL.iter().zip(expected) {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status().as_u16(), status, "{name}");
            assert_eq!(serde_json::to_value(code).unwrap(), name);
            assert_eq!(serde_json::from_value::<Code>(name.into()).unwrap(), code);
            assert_eq!(name.parse::<Code>().unwrap(), code);
        }
    }

    #[test]
    fn the_body_is_the_documented_shape() {
        let body = UserError::new(Code::QueueFull, "full").retry_after(5);
        let resp = body.clone().into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            serde_json::to_value(body.body()).unwrap(),
            serde_json::json!({"error": {"code": "queue_full", "message": "full", "details": []}})
        );
    }

    #[test]
    fn internal_errors_answer_generic_5xx() {
        let io = std::io::Error::other("disk on fire");
        let resp = ApiError::from(io).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let resp = ApiError::Internal(InternalError::Unavailable("later".into())).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
    }
}
