//! The error body of SPEC section 4, `{"error": {"code", "message", "details": [...]}}`, and
//! the split between what the client got wrong (4xx, said plainly) and our own faults (5xx,
//! logged in full, answered with a generic message).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commonsnet_engine::InvalidInput;
use serde_json::{json, Value};

/// Something the client sent that we refuse: always a 4xx.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UserError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    /// Seconds a client should wait before retrying (429 only).
    pub retry_after: Option<u64>,
}

impl UserError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(status.is_client_error());
        UserError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
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
}

/// A fault of ours (storage, a panicking solver, a full disk): always a 5xx.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("dataset: {0}")]
    Dataset(#[from] commonsnet_datasets::DatasetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("worker: {0}")]
    Worker(String),
    #[error("shutting down")]
    ShuttingDown,
    /// A temporary lack of resources (a thread that cannot start): 503, worth a retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What a handler returns on failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

/// The JSON error body.
pub fn error_body(code: &str, message: &str, details: &[Value]) -> Value {
    json!({"error": {"code": code, "message": message, "details": details}})
}

/// The error body for rejected scenario input (also used by the CLI's tests).
pub fn invalid_input_body(e: &InvalidInput) -> Value {
    let u = UserError::invalid_input(e);
    error_body(u.code, &u.message, &u.details)
}

impl IntoResponse for UserError {
    fn into_response(self) -> Response {
        let body = error_body(self.code, &self.message, &self.details);
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::User(u) => u.into_response(),
            ApiError::Internal(InternalError::ShuttingDown) => (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(error_body(
                    "shutting_down",
                    "the server is shutting down; retry shortly",
                    &[],
                )),
            )
                .into_response(),
            ApiError::Internal(InternalError::Unavailable(m)) => {
                tracing::warn!(reason = %m, "service unavailable");
                let mut resp = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(error_body("unavailable", &m, &[])),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
                resp
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(error_body(
                        "internal",
                        "internal error; it has been logged",
                        &[],
                    )),
                )
                    .into_response()
            }
        }
    }
}
