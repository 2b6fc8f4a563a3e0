//! `/v1/jobs`: submit (durable before the `202`), list, status, cancel, result.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{ApiError, Code, ErrorBody, InternalError, UserError};
use crate::jobs::JobRequest;
use crate::store::{JobInfo, JobStatus, PgStore};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
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
    pub rows: Vec<commonsnet_engine::batch::RunRow>,
}

/// Submit a batch job: scenarios (inline or from a generator) x policies x replicates with
/// perturbations. Answers `202` once the job is durably stored.
#[utoipa::path(post, path = "/v1/jobs", request_body = JobRequest,
    responses(
        (status = 202, description = "Stored and queued", body = Accepted),
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
    let request: JobRequest = json_body(&st, req).await?;
    // Off the runtime: inline scenarios are validated, under each policy too.
    let (request, total) = blocking(move || {
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

/// The tenant's jobs, newest first (at most 1000).
#[utoipa::path(get, path = "/v1/jobs",
    responses((status = 200, description = "Jobs", body = Vec<JobInfo>),
        Unauthorized))]
pub(super) async fn list_jobs(
    State(st): St,
    Tenant(tenant): Tenant,
) -> Result<Json<Vec<JobInfo>>, ApiError> {
    let store = st.store.clone();
    let jobs = blocking(move || store.list(&tenant, 1000)).await??;
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
/// application/vnd.apache.parquet`), Arrow IPC stream, or JSON (default).
#[utoipa::path(get, path = "/v1/jobs/{id}/result", params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "One row per run", body = JobResult),
        Unauthorized,
        NoSuchJob,
        NotAcceptable,
        (status = 409, description = "The job is not done", body = ErrorBody)))]
pub(super) async fn job_result(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
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
        if let Some(path) = st.store.result_file(&id) {
            let bytes = tokio::fs::read(path).await?;
            return Ok(([(header::CONTENT_TYPE, PARQUET)], Body::from(bytes)).into_response());
        }
    }
    let store = st.store.clone();
    let rows = blocking(move || store.rows(&id)).await??;
    match wanted {
        Wanted::Arrow | Wanted::Parquet => {
            let batch =
                commonsnet_engine::batch::rows_to_batch(&rows).map_err(InternalError::from)?;
            if wanted == Wanted::Parquet {
                // A store without result files (PostgreSQL): the same table, written now.
                let bytes = parquet_bytes(&batch)?;
                return Ok(([(header::CONTENT_TYPE, PARQUET)], Body::from(bytes)).into_response());
            }
            let bytes = arrow_stream_bytes(&batch)?;
            Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], Body::from(bytes)).into_response())
        }
        _ => Ok(Json(JobResult { id: job.id, rows }).into_response()),
    }
}
