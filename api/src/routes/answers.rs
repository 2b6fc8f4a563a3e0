//! Error answers that several routes give, documented once for `/openapi.json`. The types only
//! describe answers (their bodies are built by `ApiError`), so none is ever constructed.
#![allow(dead_code)]

use super::extract::{ARROW_STREAM, PARQUET};
use crate::error::ErrorBody;
use utoipa::IntoResponses;

/// Routes behind the token check.
#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or unknown token")]
pub(super) struct Unauthorized(ErrorBody);

/// Routes that read a body (`extract::json_body`, multipart on `/v1/solve`).
#[derive(IntoResponses)]
pub(super) enum BodyRejected {
    #[response(
        status = 400,
        description = "Malformed body (`invalid_json`, `bad_multipart`), a malformed `Idempotency-Key` where the route takes one (`bad_header`), or a query parameter that is not the route's (`bad_query`)"
    )]
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

/// Answers a request may get on any route, before or around its handler: the page-origin and
/// host checks (403 `cross_origin`), the request line and headers past the server's limits
/// (414, 431), and the server's own failures (500 `internal`; 503 `shutting_down` or
/// `store_unavailable`). Added to every operation that does not document the status itself.
const ANY_ROUTE: [(&str, &str); 5] = [
    (
        "403",
        "A request from a page of another origin without a token, or to a host name the server does not answer for (`cross_origin`)",
    ),
    ("414", "The request's URI is past the server's limit (`uri_too_long`)"),
    (
        "431",
        "The request's headers are past the server's limit (`headers_too_large`)",
    ),
    ("500", "A fault in the server (`internal`)"),
    (
        "503",
        "The server is shutting down (`shutting_down`) or its store cannot be reached (`store_unavailable`)",
    ),
];

/// What a `/v1` route answers a query parameter it does not take, or one given twice (every
/// route reads its query through `extract::QueryArgs`).
const BAD_QUERY: (&str, &str) = (
    "400",
    "A query parameter that is not the route's, malformed or given twice (`bad_query`)",
);

/// Answers that are tables rather than JSON, by `Accept`: each (path, 200's media types).
const TABLE_ANSWERS: [(&str, &[&str]); 3] = [
    ("/v1/solve", &[ARROW_STREAM, PARQUET]),
    ("/v1/jobs/{id}/result", &[ARROW_STREAM, PARQUET]),
    ("/v1/sessions/{id}/plan", &[ARROW_STREAM]),
];

/// Completes the document with what every route shares ([`ANY_ROUTE`]) and the table media
/// types of [`TABLE_ANSWERS`]; `routes`' tests check each against a running server.
pub(super) struct SharedAnswers;

impl utoipa::Modify for SharedAnswers {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        for (path, item) in api.paths.paths.iter_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let v1 = path.starts_with("/v1/").then_some(BAD_QUERY);
                for (status, description) in ANY_ROUTE.into_iter().chain(v1) {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            let body = ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build();
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content("application/json", body)
                                    .build(),
                            )
                        });
                }
                if let Some(RefOr::T(busy)) = op.responses.responses.get_mut("429") {
                    busy.headers
                        .entry("Retry-After".to_string())
                        .or_insert_with(|| {
                            HeaderBuilder::new()
                                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                                .description(Some("Seconds to wait before trying again"))
                                .build()
                        });
                }
                let Some((_, types)) = TABLE_ANSWERS.iter().find(|(p, _)| p == path) else {
                    continue;
                };
                if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") {
                    for media in *types {
                        let binary = ObjectBuilder::new()
                            .schema_type(Type::String)
                            .content_media_type(*media);
                        let content = ContentBuilder::new().schema(Some(binary)).build();
                        ok.content.insert(media.to_string(), content);
                    }
                }
            }
        }
    }
}
