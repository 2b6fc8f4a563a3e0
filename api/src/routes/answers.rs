//! Error answers that several routes give, documented once for `/openapi.json`. The types only
//! describe answers (their bodies are built by `ApiError`), so none is ever constructed.
#![allow(dead_code)]

use crate::error::ErrorBody;
use utoipa::IntoResponses;

/// Routes behind the token check.
#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or unknown token")]
pub(super) struct Unauthorized(ErrorBody);

/// Routes that read a body (`extract::json_body`, multipart on `/v1/solve`).
#[derive(IntoResponses)]
pub(super) enum BodyRejected {
    #[response(status = 400, description = "Malformed body")]
    Malformed(ErrorBody),
    #[response(status = 408, description = "The body did not arrive in time")]
    TooSlow(ErrorBody),
    #[response(status = 413, description = "Body too large")]
    TooLarge(ErrorBody),
    #[response(
        status = 415,
        description = "Unsupported Content-Type or Content-Encoding"
    )]
    UnsupportedMedia(ErrorBody),
}

/// Routes that answer in more than one format (`extract::negotiate`).
#[derive(IntoResponses)]
#[response(status = 406, description = "Unsupported Accept")]
pub(super) struct NotAcceptable(ErrorBody);

/// Routes under `/v1/jobs/{id}`.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such job for this tenant")]
pub(super) struct NoSuchJob(ErrorBody);

/// Routes under `/v1/sessions/{id}`.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such session for this tenant")]
pub(super) struct NoSuchSession(ErrorBody);

/// Routes that may load an unloaded session (`SessionHub`'s live limit).
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many live sessions to load this one; see Retry-After"
)]
pub(super) struct SessionsFull(ErrorBody);
