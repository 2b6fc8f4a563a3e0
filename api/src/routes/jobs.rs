//! `/v1/jobs`: submit (durable before the `202`), list, status, cancel, result.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{ApiError, Code, ErrorBody, InternalError, UserError};
use crate::jobs::JobRequest;
use crate::store::{
    run_pages, Inserted, JobInfo, JobStatus, JobStore, Keyed, NewJob, PgStore, Purged, StoreError,
    PAGE_ROWS,
};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commonsnet_datasets::frames::TableStream;
use commonsnet_datasets::TableFormat;
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
    /// `done`; `cancelled` or `failed` for a job that ended before its last run: the rows are
    /// then the runs it finished, which need not be the first ones (runs go in parallel).
    pub status: JobStatus,
    /// The job's runs: the rows' count for a done job, more for one that ended before its
    /// last run (a file saved says how much of the job it holds).
    pub runs_total: u64,
}

/// Submit a batch job: scenarios (inline or from a generator) x policies x replicates with
/// perturbations. Answers `202` once the job is durably stored. With an `Idempotency-Key`
/// header, a retry of the same request (same tenant, same key, same body) stores nothing and
/// answers `200` with the job the key names and `Idempotent-Replayed: true`; the key with
/// another body is a `422`. A key is kept as long as its job (a purge frees it).
#[utoipa::path(post, path = "/v1/jobs", request_body = JobRequest,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters (spaces inside allowed), unique per tenant: a retried submission stores one job")),
    responses(
        (status = 202, description = "Stored and queued", body = Accepted,
            headers(("Location" = String, description = "The job's status URL, /v1/jobs/{id}"))),
        (status = 200, description = "A retry: the job stored before under this Idempotency-Key, in its status now", body = Accepted,
            headers(("Location" = String, description = "The job's status URL, /v1/jobs/{id}"),
                ("Idempotent-Replayed" = String, description = "true"))),
        BodyRejected,
        Unauthorized,
        (status = 422, description = "Invalid job, or an Idempotency-Key used for another request", body = ErrorBody),
        (status = 429, description = "Queue full; see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn submit_job(
    State(st): St,
    Tenant(tenant): Tenant,
    _: QueryArgs<NoParams>,
    req: Request,
) -> Result<Response, ApiError> {
    let key = idempotency_key(req.headers())?;
    let (request, share): (JobRequest, _) = json_body_held(&st, &tenant, req).await?;
    // Off the runtime: inline scenarios are validated, under each policy too, within the
    // body's share of the decode budget.
    let max_links = st.config.max_links;
    let (request, total) = blocking(move || {
        let _share = share;
        let total = request.validate(max_links);
        (request, total)
    })
    .await?;
    let total = total?;
    if st.queue.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(InternalError::ShuttingDown.into());
    }
    let spec = serde_json::to_string(&request).map_err(InternalError::from)?;
    let id = new_id();
    let job = Submitted {
        id,
        tenant,
        spec,
        total: total as i64,
        key,
        tenant_queued_max: st.queued_per_tenant,
    };
    if let Some(store) = st.replicated.clone() {
        return submit_shared(&st, store, job).await;
    }
    if !st.queue.try_reserve() {
        // A retry of a stored job is answered as one, full queue or not.
        if let Some(key) = job.key.clone() {
            let (store, t, spec) = (st.store.clone(), job.tenant.clone(), job.spec.clone());
            if let Some(held) = blocking(move || store.keyed_job(&t, &key, &spec)).await?? {
                return keyed_answer(&st, &job, held).await;
            }
        }
        return Err(queue_full(st.queue.capacity));
    }
    let store = st.store.clone();
    let submitted = job.clone();
    let stored = blocking(move || store.insert_job(&submitted.as_new()))
        .await
        .and_then(|r| r.map_err(ApiError::from));
    match stored {
        Ok(Inserted::Stored) => {
            st.queue.push_reserved(job.id.clone(), job.tenant.clone());
            tracing::info!(job = %job.id, tenant = job.tenant, total, "job accepted");
            Ok(accepted(job.id, total))
        }
        Ok(Inserted::Keyed(held)) => {
            st.queue.release();
            keyed_answer(&st, &job, held).await
        }
        Ok(Inserted::QueueFull) => {
            st.queue.release();
            Err(queue_full(st.queue.capacity))
        }
        Ok(Inserted::TenantShareFull) => {
            st.queue.release();
            Err(past_tenant_share(&job, st.queue.capacity))
        }
        Err(e) => {
            st.queue.release();
            Err(e)
        }
    }
}

/// A submission on its way to the store.
#[derive(Clone)]
struct Submitted {
    id: String,
    tenant: String,
    spec: String,
    total: i64,
    key: Option<String>,
    tenant_queued_max: Option<i64>,
}

impl Submitted {
    fn as_new(&self) -> NewJob<'_> {
        NewJob {
            id: &self.id,
            tenant: &self.tenant,
            spec: &self.spec,
            total: self.total,
            key: self.key.as_deref(),
            tenant_queued_max: self.tenant_queued_max,
        }
    }
}

/// The refusal of a job that would take its tenant past its share of the queue.
fn past_tenant_share(job: &Submitted, capacity: usize) -> ApiError {
    let held = job.tenant_queued_max.unwrap_or_default() as usize;
    let then = "retry when one has started";
    crate::shares::past_share(&job.tenant, held, "jobs waiting", capacity, then, 5).into()
}

/// The answer to a submission whose idempotency key names a stored job: that job, as it is
/// now, when the request is the same (a retry); a `422` when it is another request.
async fn keyed_answer(st: &AppState, job: &Submitted, held: Keyed) -> Result<Response, ApiError> {
    if !held.same_request {
        return Err(key_reused(job.key.as_deref().unwrap_or_default(), "job", &held.id).into());
    }
    let info = load_job(st, &held.id, &job.tenant).await?;
    tracing::info!(job = %info.id, tenant = job.tenant, "job submission replayed (Idempotency-Key)");
    let location = format!("/v1/jobs/{}", info.id);
    let body = Accepted {
        id: info.id,
        status: info.status,
        total: info.progress.total as usize,
    };
    Ok(created(StatusCode::ACCEPTED, location, body, true))
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
    let body = Accepted {
        id,
        status: JobStatus::Queued,
        total,
    };
    created(StatusCode::ACCEPTED, location, body, false)
}

/// A job on the store replicas share: stored (durably, with one lease row per run) and left
/// for the replicas' runners to claim; the bound is on the jobs queued in the store, counted
/// in the transaction that stores the job (one step across replicas), after the look-up of its
/// idempotency key (a retry is answered whatever the queue holds).
async fn submit_shared(
    st: &AppState,
    store: Arc<PgStore>,
    job: Submitted,
) -> Result<Response, ApiError> {
    let capacity = st.queue.capacity;
    let submitted = job.clone();
    let stored =
        blocking(move || store.insert_job_within(&submitted.as_new(), Some(capacity as i64)))
            .await??;
    match stored {
        Inserted::Stored => {
            tracing::info!(job = %job.id, tenant = job.tenant, total = job.total, "job accepted");
            Ok(accepted(job.id, job.total as usize))
        }
        Inserted::Keyed(held) => keyed_answer(st, &job, held).await,
        Inserted::QueueFull => Err(queue_full(capacity)),
        Inserted::TenantShareFull => Err(past_tenant_share(&job, capacity)),
    }
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
    #[param(minimum = 1, maximum = 1000, default = 1000)]
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
    QueryArgs(q): QueryArgs<JobsQuery>,
) -> Result<Json<Vec<JobInfo>>, ApiError> {
    let limit = listed_limit(q.limit, MAX_LISTED_JOBS)?;
    let store = st.store.clone();
    let jobs = blocking(move || store.list(&tenant, i64::from(limit))).await??;
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
    _: QueryArgs<NoParams>,
) -> Result<Json<JobInfo>, ApiError> {
    Ok(Json(load_job(&st, &id, &tenant).await?))
}

/// `DELETE /v1/jobs/{id}`'s query.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DeleteQuery {
    /// `true`: delete a finished job (done, failed or cancelled) with its runs and result, and
    /// free its idempotency key. Without it the call is a cancel, so a retried cancel never
    /// deletes anything.
    #[serde(default)]
    purge: bool,
}

/// Cancel a queued or running job (cooperatively: runs in flight finish first), or with
/// `?purge=true` delete a finished one.
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path, description = "Job id"), DeleteQuery),
    responses((status = 200, description = "Cancelled", body = JobInfo),
        (status = 204, description = "Purged: the job, its runs and its result are deleted"),
        (status = 400, description = "A malformed or unknown query parameter", body = ErrorBody),
        Unauthorized,
        NoSuchJob,
        (status = 409, description = "A cancel of a job that had already finished (job_finished), or a purge of one still queued or running (job_unfinished)", body = ErrorBody)))]
pub(super) async fn cancel_job(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    QueryArgs(q): QueryArgs<DeleteQuery>,
) -> Result<Response, ApiError> {
    check_id(&id, "job")?;
    let store = st.store.clone();
    let (jid, t) = (id.clone(), tenant.clone());
    if q.purge {
        return match blocking(move || store.purge(&jid, &t)).await?? {
            Purged::Deleted => {
                tracing::info!(job = %id, tenant, "job purged");
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Purged::NotFound => Err(UserError::not_found("job").into()),
            Purged::Unfinished(status) => Err(UserError::new(
                Code::JobUnfinished,
                format!("the job is {status}: cancel it (DELETE without ?purge) before purging it"),
            )
            .into()),
        };
    }
    let status = blocking(move || store.cancel(&jid, &t)).await??;
    match status {
        None => Err(UserError::not_found("job").into()),
        Some(JobStatus::Cancelled) => {
            st.queue.cancel(&id);
            Ok(Json(load_job(&st, &id, &tenant).await?).into_response())
        }
        Some(other) => Err(UserError::new(
            Code::JobFinished,
            format!(
                "the job is {other} and can no longer be cancelled (DELETE ?purge=true deletes it)"
            ),
        )
        .into()),
    }
}

/// A done job's result file, opened before the answer starts, when it is there and whole as
/// far as its ends show (Parquet's magic `PAR1` at both): else `None`, logged, and the answer
/// is made from the stored runs as for a cancelled job (a file removed or cut short on disk
/// was answered 500, or streamed damaged).
fn intact_parquet(path: &std::path::Path) -> Option<std::fs::File> {
    use std::io::{Read, Seek, SeekFrom};
    let opened = std::fs::File::open(path).and_then(|mut f| {
        let mut head = [0u8; 4];
        let mut tail = [0u8; 4];
        let whole = f.metadata()?.len() >= 12
            && f.read_exact(&mut head).is_ok()
            && f.seek(SeekFrom::End(-4)).is_ok()
            && f.read_exact(&mut tail).is_ok()
            && &head == b"PAR1"
            && &tail == b"PAR1";
        f.seek(SeekFrom::Start(0))?;
        Ok(whole.then_some(f))
    });
    match opened {
        Ok(Some(f)) => Some(f),
        Ok(None) => {
            tracing::warn!(path = %path.display(), "job result file damaged; answered from the stored runs");
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "job result file unreadable; answered from the stored runs");
            None
        }
    }
}

/// The result of a finished job, one row per run: Parquet (`Accept:
/// application/vnd.apache.parquet`), Arrow IPC stream, or JSON (default). A cancelled or
/// failed job answers the runs it finished; the `commonsnet-job-status` header says which.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "One row per run", body = JobResult,
            headers(("commonsnet-job-status" = String, description = "The job's status: done, cancelled or failed (a cancelled or failed job answers the runs it finished)"))),
        Unauthorized,
        NoSuchJob,
        NotAcceptable,
        (status = 409, description = "The job is queued or running", body = ErrorBody),
        (status = 429, description = "Too many results being downloaded, or this tenant's share of them (`--tenant-share`); see Retry-After", body = ErrorBody),
        (status = 503, description = "This server does not serve job results", body = ErrorBody)))]
pub(super) async fn job_result(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
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
    // The bound first: with one tenant its share is the whole bound, and the refusal names it.
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
    let mine = st.result_shares.try_take(&tenant).ok_or_else(|| {
        let (held, limit) = (st.result_shares.max(), st.config.max_result_streams);
        let what = "job results downloading";
        crate::shares::past_share(&tenant, held, what, limit, "retry later", 1)
    })?;
    let permit = (permit, mine);
    let status = job.status.to_string();
    // A done job's Parquet file; a cancelled or failed one has none (its rows are paged).
    if wanted == Wanted::Parquet && job.status == JobStatus::Done {
        let file = match st.store.result_file(&id) {
            Some(path) => blocking(move || intact_parquet(&path)).await?,
            None => None,
        };
        if let Some(mut file) = file {
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
    let expected = usize::try_from(job.progress.done).unwrap_or(0);
    // A table downloaded keeps no header: one of a job that ended early says so itself.
    let mut provenance = provenance;
    if job.status != JobStatus::Done {
        provenance.insert(JOB_STATUS_KEY.into(), status.clone());
        provenance.insert(RUNS_TOTAL_KEY.into(), job.progress.total.to_string());
    }
    let (job_status, runs_total) = (job.status, u64::try_from(job.progress.total).unwrap_or(0));
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
        let pages = WholePages::new(pages, expected, &id);
        write_result(
            &id,
            (job_status, runs_total),
            pages,
            wanted,
            provenance,
            out,
        )
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

/// A finished job's pages of runs, ending in an error when they hold fewer rows than
/// `expected` (the runs the job had when its download began: a finished job's runs do not
/// change, unless it is purged while read). A shorter table must not pass for the whole one:
/// the error aborts the transfer.
struct WholePages<I> {
    pages: I,
    seen: usize,
    expected: usize,
    job: String,
    ended: bool,
}

impl<I> WholePages<I> {
    fn new(pages: I, expected: usize, job: &str) -> Self {
        WholePages {
            pages,
            seen: 0,
            expected,
            job: job.to_string(),
            ended: false,
        }
    }
}

impl<I: Iterator<Item = Result<Vec<RunRow>, StoreError>>> Iterator for WholePages<I> {
    type Item = Result<Vec<RunRow>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let page = self.pages.next();
        match &page {
            Some(Ok(rows)) => self.seen += rows.len(),
            Some(Err(_)) => self.ended = true,
            None => {
                self.ended = true;
                if self.seen < self.expected {
                    return Some(Err(StoreError::JobGone(self.job.clone())));
                }
            }
        }
        page
    }
}

/// The job's status beside its result: `done`, or `cancelled` and `failed` for the runs they
/// finished (the rows then hold fewer runs than the job's total).
pub const JOB_STATUS_HEADER: &str = "commonsnet-job-status";

/// The schema metadata of the Arrow and Parquet result of a job that ended before its last
/// run (`cancelled` or `failed`): its status and how many runs it had (the rows are fewer).
/// Absent from a done job's table, which holds every run.
pub const JOB_STATUS_KEY: &str = "commonsnet.job_status";
pub const RUNS_TOTAL_KEY: &str = "commonsnet.runs_total";

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
/// page, with `provenance` as the table's schema metadata. `ended` is the job's status and
/// its runs (the JSON's `status` and `runs_total`). Only one page is in memory at a time,
/// whatever the job's size.
pub fn write_result(
    id: &str,
    ended: (JobStatus, u64),
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
        out.write_all(b"],\"status\":")?;
        serde_json::to_writer(&mut out, &ended.0)?;
        write!(out, ",\"runs_total\":{}}}", ended.1)?;
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
        let mut w = TableStream::new(out, schema.clone(), TableFormat::Parquet)?;
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
/// `AppState::result_streams` and of the tenant's `result_shares`) and sent in chunks through a
/// bounded channel: a client that reads slowly holds the writer back (at most
/// [`CHUNKS_AHEAD`] chunks wait), and one that goes away stops it. When `write` fails mid-way
/// (the store, say) or panics, that is logged and the body ends with an error: hyper closes
/// the connection before the last chunk, so the client sees a failed transfer, never a
/// well-formed document with rows missing.
fn streamed_body(
    job: String,
    permit: (tokio::sync::OwnedSemaphorePermit, crate::shares::ShareHeld),
    write: impl FnOnce(&mut ChunkWriter) -> Result<(), InternalError> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            chunk: Vec::with_capacity(CHUNK_BYTES),
            tx,
        };
        // Held while this thread writes (`AppState::result_streams`, `result_shares`), and declared after
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
    // Fused: a body may be polled again after its end (tower-http's gzip encoder does, to
    // write its trailer), which an `unfold` answers with a panic.
    Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) },
    )))
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
