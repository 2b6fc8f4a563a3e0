//! `/v1/jobs`: submit (durable before the `202`), list, status, cancel, result.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{ApiError, Code, ErrorBody, InternalError, UserError};
use crate::jobs::JobRequest;
use crate::store::{run_pages, JobInfo, JobStatus, JobStore, PgStore, StoreError, PAGE_ROWS};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commonsnet_datasets::frames::ParquetStream;
use commonsnet_engine::batch::{rows_to_batch, RunRow};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use utoipa::ToSchema;

/// `202` answer of `POST /v1/jobs`.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: JobStatus,
    pub total: usize,
}

/// The JSON result of a finished job.
#[derive(Serialize, ToSchema)]
pub struct JobResult {
    pub id: String,
    /// One row per run, in run order.
    pub rows: Vec<RunRow>,
}

/// Submit a batch job: scenarios (inline or from a generator) x policies x replicates with
/// perturbations. Answers `202` once the job is durably stored.
#[utoipa::path(post, path = "/v1/jobs", request_body = JobRequest,
    responses(
        (status = 202, description = "Stored and queued", body = Accepted,
            headers(("Location" = String, description = "The job's status URL, /v1/jobs/{id}"))),
        BodyRejected,
        Unauthorized,
        (status = 422, description = "Invalid job", body = ErrorBody),
        (status = 429, description = "Queue full; see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn submit_job(
    State(st): St,
    Tenant(tenant): Tenant,
    req: Request,
) -> Result<Response, ApiError> {
    let (request, share): (JobRequest, _) = json_body_held(&st, req).await?;
    // Off the runtime: inline scenarios are validated, under each policy too, within the
    // body's share of the decode budget.
    let (request, total) = blocking(move || {
        let _share = share;
        let total = request.validate();
        (request, total)
    })
    .await?;
    let total = total?;
    if st.queue.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(InternalError::ShuttingDown.into());
    }
    if let Some(store) = st.replicated.clone() {
        return submit_shared(&st, store, request, tenant, total).await;
    }
    if !st.queue.try_reserve() {
        return Err(queue_full(st.queue.capacity));
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
    Ok(accepted(id, total))
}

fn queue_full(capacity: usize) -> ApiError {
    UserError::new(
        Code::QueueFull,
        format!("{capacity} jobs are waiting already; retry later"),
    )
    .retry_after(5)
    .into()
}

fn accepted(id: String, total: usize) -> Response {
    let location = format!("/v1/jobs/{id}");
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(Accepted {
            id,
            status: JobStatus::Queued,
            total,
        }),
    )
        .into_response()
}

/// A job on the store replicas share: stored (durably, with one lease row per run) and left
/// for the replicas' runners to claim; the bound is on the jobs queued in the store, counted
/// in the transaction that stores the job (one step across replicas).
async fn submit_shared(
    st: &AppState,
    store: Arc<PgStore>,
    request: JobRequest,
    tenant: String,
    total: usize,
) -> Result<Response, ApiError> {
    let id = new_id();
    let spec = serde_json::to_string(&request).map_err(InternalError::from)?;
    let (jid, t) = (id.clone(), tenant.clone());
    let capacity = st.queue.capacity;
    let stored = blocking(move || {
        store.insert_job_within(&jid, &t, &spec, total as i64, Some(capacity as i64))
    })
    .await??;
    if !stored {
        return Err(queue_full(capacity));
    }
    tracing::info!(job = %id, tenant, total, "job accepted");
    Ok(accepted(id, total))
}

pub(super) async fn load_job(st: &AppState, id: &str, tenant: &str) -> Result<JobInfo, ApiError> {
    check_id(id, "job")?;
    let store = st.store.clone();
    let (id, tenant) = (id.to_string(), tenant.to_string());
    blocking(move || store.job(&id, Some(&tenant)))
        .await??
        .ok_or_else(|| UserError::not_found("job").into())
}

/// Most jobs one listing answers.
const MAX_LISTED_JOBS: u32 = 1000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct JobsQuery {
    /// How many of the newest jobs, 1 to 1000 (default 1000).
    #[serde(default = "max_listed")]
    limit: u32,
}

fn max_listed() -> u32 {
    MAX_LISTED_JOBS
}

/// The tenant's jobs, newest first (at most `limit`, 1000). Any other query parameter is
/// refused: `?status=done` was ignored without a word, answering every status.
#[utoipa::path(get, path = "/v1/jobs", params(JobsQuery),
    responses((status = 200, description = "Jobs", body = Vec<JobInfo>),
        (status = 400, description = "A malformed or unknown query parameter", body = ErrorBody),
        Unauthorized))]
pub(super) async fn list_jobs(
    State(st): St,
    Tenant(tenant): Tenant,
    query: Result<axum::extract::Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<JobInfo>>, ApiError> {
    let axum::extract::Query(q) =
        query.map_err(|e| UserError::new(Code::BadQuery, format!("query: {}", e.body_text())))?;
    if !(1..=MAX_LISTED_JOBS).contains(&q.limit) {
        return Err(UserError::new(
            Code::BadQuery,
            format!("query: limit {} is not in 1..={MAX_LISTED_JOBS}", q.limit),
        )
        .into());
    }
    let store = st.store.clone();
    let jobs = blocking(move || store.list(&tenant, i64::from(q.limit))).await??;
    Ok(Json(jobs))
}

/// Status, progress (runs done / total) and timings of a job.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = JobInfo),
        Unauthorized,
        NoSuchJob))]
pub(super) async fn job_status(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
) -> Result<Json<JobInfo>, ApiError> {
    Ok(Json(load_job(&st, &id, &tenant).await?))
}

/// Cancel a queued or running job (cooperatively: runs in flight finish first).
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Cancelled", body = JobInfo),
        Unauthorized,
        NoSuchJob,
        (status = 409, description = "The job had already finished", body = ErrorBody)))]
pub(super) async fn cancel_job(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
) -> Result<Json<JobInfo>, ApiError> {
    check_id(&id, "job")?;
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
/// application/vnd.apache.parquet`), Arrow IPC stream, or JSON (default). A cancelled or
/// failed job answers the runs it finished; the `commonsnet-job-status` header says which.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "One row per run", body = JobResult),
        Unauthorized,
        NoSuchJob,
        NotAcceptable,
        (status = 409, description = "The job is queued or running", body = ErrorBody),
        (status = 429, description = "Too many results being downloaded; see Retry-After", body = ErrorBody),
        (status = 503, description = "This server does not serve job results", body = ErrorBody)))]
pub(super) async fn job_result(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wanted = negotiate(&headers, true)?;
    let job = load_job(&st, &id, &tenant).await?;
    // A cancelled or failed job's runs are final too: its finished runs are served (they were
    // out of reach, 6,762 runs of a cancelled job among them), the status said in a header.
    if job.status.is_unfinished() {
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
    if st.config.max_result_streams == 0 {
        // Off on this server (`--max-result-streams 0`): not a wait, so no Retry-After.
        return Ok(ErrorBody::new(
            Code::Unavailable,
            "this server does not serve job results (--max-result-streams 0); ask another replica",
            vec![],
        )
        .into_response_with(None));
    }
    let permit = st.result_streams.clone().try_acquire_owned().map_err(|_| {
        UserError::new(
            Code::QueueFull,
            format!(
                "{} job results are being downloaded already; retry later",
                st.config.max_result_streams
            ),
        )
        .retry_after(1)
    })?;
    let status = job.status.to_string();
    // A done job's Parquet file; a cancelled or failed one has none (its rows are paged).
    if wanted == Wanted::Parquet && job.status == JobStatus::Done {
        if let Some(path) = st.store.result_file(&id) {
            // Opened before the answer starts: a missing file is an error answer, as before.
            let mut file = tokio::fs::File::open(path).await?.into_std().await;
            let body = streamed_body(id, permit, move |out| {
                Ok(std::io::copy(&mut file, out).map(drop)?)
            });
            return Ok((
                [
                    (header::CONTENT_TYPE, PARQUET.to_string()),
                    (header::HeaderName::from_static(JOB_STATUS_HEADER), status),
                ],
                body,
            )
                .into_response());
        }
    }
    // The first page is read before the answer starts too, so that a store out of reach is
    // still a 503 to retry rather than a transfer that fails.
    let store = st.store.clone();
    let (s, jid, limit) = (store.clone(), id.clone(), st.config.time_limit_s);
    let (first, provenance) = blocking(move || {
        let first = s.runs_from(&jid, 0, PAGE_ROWS)?;
        let provenance = match wanted {
            Wanted::Json => HashMap::new(),
            Wanted::Arrow | Wanted::Parquet => provenance(&*s, &jid, limit)?,
        };
        Ok::<_, StoreError>((first, provenance))
    })
    .await??;
    let content_type = match wanted {
        Wanted::Json => "application/json",
        Wanted::Arrow => ARROW_STREAM,
        Wanted::Parquet => PARQUET,
    };
    let body = streamed_body(id.clone(), permit, move |out| {
        // A done job's rows are final, so pages read in separate statements make the table
        // one read would: a job is marked done once its last run is stored (after it on
        // SQLite's one runner, in the same transaction on PostgreSQL), a run is stored once
        // (its key is the job and run index), and a replica stores no run of a job that is
        // no longer queued or running.
        let pages = std::iter::once(Ok(first.rows)).chain(run_pages(&*store, &id, first.next));
        write_result(&id, pages, wanted, provenance, out)
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::HeaderName::from_static(JOB_STATUS_HEADER), status),
        ],
        body,
    )
        .into_response())
}

/// The job's status beside its result: `done`, or `cancelled` and `failed` for the runs they
/// finished (the rows then hold fewer runs than the job's total).
pub const JOB_STATUS_HEADER: &str = "commonsnet-job-status";

/// How a job's runs were made, as its result tables' schema metadata ([`Batch::provenance`],
/// what `commonsnet simulate` writes): from the request stored with the job, its time limit
/// capped by this server's `--time-limit` as the runner caps it. Empty, with a warning, for a
/// request this binary no longer reads (a job stored by an older one): the rows still come.
fn provenance(
    store: &dyn JobStore,
    id: &str,
    server_time_limit_s: f64,
) -> Result<HashMap<String, String>, StoreError> {
    let Some(spec) = store.request(id)? else {
        return Ok(HashMap::new());
    };
    Ok(
        match JobRequest::provenance_of(&spec, server_time_limit_s) {
            Ok(provenance) => provenance,
            Err(error) => {
                tracing::warn!(job = id, %error, "the job's request no longer reads: its result has no provenance");
                HashMap::new()
            }
        },
    )
}

/// A finished job's result from its rows, a page at a time in run order, as `wanted`: the
/// JSON document of [`JobResult`] (written row by row, byte for byte what serde writes for the
/// whole), an Arrow IPC stream of a record batch per page, or a Parquet file of a row group per
/// page, with `provenance` as the table's schema metadata. Only one page is in memory at a
/// time, whatever the job's size.
pub fn write_result(
    id: &str,
    pages: impl Iterator<Item = Result<Vec<RunRow>, StoreError>>,
    wanted: Wanted,
    provenance: HashMap<String, String>,
    mut out: impl Write + Send,
) -> Result<(), InternalError> {
    if wanted == Wanted::Json {
        out.write_all(b"{\"id\":")?;
        serde_json::to_writer(&mut out, id)?;
        out.write_all(b",\"rows\":[")?;
        let mut first = true;
        for page in pages {
            for row in page? {
                if !std::mem::take(&mut first) {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut out, &row)?;
            }
        }
        out.write_all(b"]}")?;
        return Ok(());
    }
    // `rows_to_batch` has the same columns whatever the rows: every page fits this schema.
    let schema = Arc::new(
        rows_to_batch(&[])?
            .schema()
            .as_ref()
            .clone()
            .with_metadata(provenance),
    );
    // Tables: the first page even if it is empty (a job of no runs is one empty batch, as
    // before), no empty page after it (the last one, when the runs fill whole pages).
    let batches = pages
        .enumerate()
        .filter(|(k, page)| *k == 0 || page.as_ref().map_or(true, |rows| !rows.is_empty()))
        .map(|(_, page)| {
            Ok::<_, InternalError>(rows_to_batch(&page?)?.with_schema(schema.clone())?)
        });
    if wanted == Wanted::Arrow {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(out, &schema)?;
        for batch in batches {
            w.write(&batch?)?;
        }
        w.finish()?;
    } else {
        let mut w = ParquetStream::new(out, schema.clone())?;
        for batch in batches {
            w.write(&batch?)?;
        }
        w.finish()?;
    }
    Ok(())
}

/// Chunks of a streamed answer that may wait for its client, [`CHUNK_BYTES`] each: what a slow
/// client makes the server hold beyond the page being written.
const CHUNKS_AHEAD: usize = 4;
const CHUNK_BYTES: usize = 64 << 10;

/// An answer's body written by `write` on a blocking thread (holding `permit`, one of
/// `AppState::result_streams`) and sent in chunks through a
/// bounded channel: a client that reads slowly holds the writer back (at most
/// [`CHUNKS_AHEAD`] chunks wait), and one that goes away stops it. When `write` fails mid-way
/// (the store, say) or panics, that is logged and the body ends with an error: hyper closes
/// the connection before the last chunk, so the client sees a failed transfer, never a
/// well-formed document with rows missing.
fn streamed_body(
    job: String,
    permit: tokio::sync::OwnedSemaphorePermit,
    write: impl FnOnce(&mut ChunkWriter) -> Result<(), InternalError> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            chunk: Vec::with_capacity(CHUNK_BYTES),
            tx,
        };
        // Held while this thread writes (`AppState::result_streams`), and declared after
        // `out` so that it is given back before `out`'s sender closes the body: a client
        // that has read the whole answer finds the permit free.
        let _permit = permit;
        let written = catch_unwind(AssertUnwindSafe(|| {
            write(&mut out)?;
            Ok::<_, InternalError>(out.send()?)
        }));
        let error = match written {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the writer panicked".to_string(),
        };
        if out.tx.is_closed() {
            tracing::debug!(job, error, "the client left before the end of the answer");
            return;
        }
        tracing::error!(
            job,
            error,
            "job result failed mid-way; its transfer is aborted"
        );
        let _ = out.tx.blocking_send(Err(std::io::Error::other(error)));
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// The writing end of [`streamed_body`]: bytes gathered into chunks of [`CHUNK_BYTES`], each
/// sent once full (waiting while [`CHUNKS_AHEAD`] are unread), the last by `send`. `flush`
/// sends nothing: the answer is only whole at its end, and a chunk per flush of an encoder
/// would be a small chunk.
struct ChunkWriter {
    chunk: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES));
        self.tx.blocking_send(Ok(chunk.into())).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(buf);
        if self.chunk.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
