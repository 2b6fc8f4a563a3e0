//! `POST /v1/solve`: a scenario (JSON or Arrow IPC parts) solved now, on the bounded solve
//! pool.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{problem, ApiError, Code, ErrorBody, InternalError, UserError};
use crate::schema;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use commonsnet_datasets::frames::TableError;
use commonsnet_engine::{scenario_from_value, Report, Scenario};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use utoipa::ToSchema;

/// `POST /v1/solve` JSON answer: the summary and the three result tables.
#[derive(Serialize, ToSchema)]
pub struct SolveResponse {
    #[schema(value_type = commonsnet_engine::Summary)]
    pub summary: Value,
    #[schema(value_type = Vec<schema::AllocationRow>)]
    pub allocations: Vec<Value>,
    #[schema(value_type = Vec<schema::NeedRow>)]
    pub needs: Vec<Value>,
    #[schema(value_type = Vec<schema::ResourceRow>)]
    pub resources: Vec<Value>,
    /// With `"explain": true`: why each need not served in full is served as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Vec<commonsnet_engine::explain::Why>>,
}

impl SolveResponse {
    pub fn new(r: &Report) -> SolveResponse {
        SolveResponse {
            summary: r.summary_json(),
            allocations: r.allocations_json(),
            needs: r.needs_json(),
            resources: r.resources_json(),
            why: r.why.clone(),
        }
    }
}

/// The request's `explain` flag: a top-level `"explain"` of the JSON scenario (taken out before
/// the scenario is validated), or an `explain` part of a multipart form; `true` or `false`.
fn explain_flag(value: Option<Value>) -> Result<bool, UserError> {
    match value {
        // Null is absent, as for every optional field of the scenario.
        None | Some(Value::Null | Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(other) => Err(UserError::invalid_field(
            "scenario",
            "explain",
            format!("must be true or false, not {other}"),
        )),
    }
}

/// The parts of a solve's multipart form as they arrived, before any is decoded.
pub(super) struct FormParts {
    /// `resources`, `needs`, `links`: the bytes, and whether CSV.
    tables: [Option<(axum::body::Bytes, bool)>; 3],
    policy: Option<Value>,
    name: Option<String>,
    explain: bool,
}

/// Read the multipart form of `POST /v1/solve`: table parts (Arrow IPC stream or file, Parquet,
/// or CSV when the part's file name ends in `.csv` or its type is `text/csv`) `resources`,
/// `needs`, optional `links`, a `policy` JSON part, an optional `name` text part and an
/// optional `explain` part (`true` or `false`). Only the taking apart of a body already read
/// (its time to arrive is the caller's), not the decoding ([`scenario_from_parts`]).
pub(super) async fn read_form(
    mut form: Multipart,
    body_limit: usize,
) -> Result<FormParts, ApiError> {
    // The parts as sent (bytes, and whether CSV): read into tables and validated off the
    // async runtime once every part is in.
    let mut tables: [Option<(axum::body::Bytes, bool)>; 3] = [None, None, None];
    let mut policy: Option<Value> = None;
    let mut name: Option<String> = None;
    let mut explain = false;
    // Parts seen, so that one given twice is refused rather than the last one kept.
    let mut seen: Vec<String> = Vec::new();
    let bad = |m: String| UserError::new(Code::BadMultipart, m);
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(body_limit)
        } else {
            bad(format!("malformed multipart body: {}", e.body_text()))
        }
    })? {
        let part = field.name().unwrap_or("").to_string();
        if seen.contains(&part) {
            return Err(bad(format!("part {part:?} given twice")).into());
        }
        seen.push(part.clone());
        // A table part is CSV when its file name or media type says so; Parquet and Arrow
        // IPC are told apart by their magic bytes.
        let csv = field
            .file_name()
            .is_some_and(|f| f.to_ascii_lowercase().ends_with(".csv"))
            || field
                .content_type()
                .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/csv"));
        let data = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(body_limit)
            } else {
                bad(format!("part {part:?}: {}", e.body_text()))
            }
        })?;
        let slot = match part.as_str() {
            "resources" => 0,
            "needs" => 1,
            "links" => 2,
            "policy" => {
                policy = Some(
                    parse_json_as::<Value>(&data, "policy").map_err(|e| UserError {
                        message: format!("part \"policy\": {}", e.message),
                        ..e
                    })?,
                );
                continue;
            }
            "name" => {
                name = Some(String::from_utf8_lossy(&data).into_owned());
                continue;
            }
            "explain" => {
                // The part's text is what a refusal quotes (a word that is not JSON, `yes`,
                // was reported as null).
                let text = String::from_utf8_lossy(&data);
                explain = match text.trim() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(UserError::invalid_table(
                            "explain",
                            format!("part \"explain\" must be true or false, not {other:?}"),
                        )
                        .into())
                    }
                };
                continue;
            }
            other => {
                return Err(bad(format!(
                "unknown part {other:?}: expected resources, needs, links, policy, name or explain"
            ))
                .into())
            }
        };
        tables[slot] = Some((data, csv));
    }
    Ok(FormParts {
        tables,
        policy,
        name,
        explain,
    })
}

/// Whether a table part's first bytes read as CSV text (printable, with a comma and a line
/// break) rather than as Arrow IPC or Parquet, which begin with their magic or framing bytes.
fn looks_like_csv(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024)];
    !head.starts_with(b"ARROW1")
        && !head.starts_with(b"PAR1")
        && head.contains(&b',')
        && head.contains(&b'\n')
        && head
            .iter()
            .all(|&b| matches!(b, b'\n' | b'\r' | b'\t') || b >= 0x20 && b != 0x7f)
}

/// The scenario and the explain flag of a solve's form ([`read_form`]), decoded off the
/// async runtime.
pub(super) async fn scenario_from_parts(parts: FormParts) -> Result<(Scenario, bool), ApiError> {
    let FormParts {
        tables,
        policy,
        name,
        explain,
    } = parts;
    let missing: Vec<&str> = ["resources", "needs"]
        .iter()
        .zip(&tables)
        .filter(|(_, t)| t.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        let details = missing
            .iter()
            .map(|part| {
                problem(
                    part,
                    None,
                    "missing part: a solve's form needs resources and needs",
                )
            })
            .collect();
        return Err(
            UserError::unprocessable(format!("missing part(s): {}", missing.join(", ")))
                .with_details(details)
                .into(),
        );
    }
    let scenario = blocking(move || {
        let mut read = Vec::with_capacity(3);
        // Cells of CSV parts not of their column's type are listed with every other problem
        // of the tables, as the CLI lists a folder's (the first bad cell was the only answer).
        let mut found = commonsnet_engine::input::Problems::default();
        let mut sources = commonsnet_datasets::frames::RowSources::default();
        for (part, table) in ["resources", "needs", "links"].iter().zip(tables) {
            read.push(match table {
                // CSV sent without its name or type was read as Arrow and refused with a
                // message about Arrow framing ("a message of 1663853673 bytes ...").
                Some((data, false)) if looks_like_csv(&data) => {
                    return Err(UserError::unprocessable(format!(
                        "part {part:?} looks like CSV text: send it with a .csv file name or \
                         Content-Type text/csv (without either a part is read as Arrow IPC or \
                         Parquet)"
                    ))
                    .with_details(vec![problem(part, None, "CSV without a .csv file name or text/csv")]));
                }
                Some((data, csv)) => Some(
                    commonsnet_datasets::frames::read_table_collecting(&data, csv)
                        .map(|mut read| {
                            let source = format!("part {part:?}");
                            read.report(part, &source, &mut found);
                            sources.add(part, &source, read.lines);
                            read.batches
                        })
                        .map_err(|e| {
                        // The details name the table as every other refusal does, and each
                        // refused column as its field.
                        let details = match &e {
                            TableError::Columns(columns) => columns
                                .iter()
                                .map(|c| problem(part, Some(&c.column), &c.message))
                                .collect(),
                            _ => vec![problem(part, None, &e)],
                        };
                        UserError::unprocessable(format!(
                            "part {part:?} is not a readable table (Arrow IPC, Parquet, or CSV with a .csv file name): {e}"
                        ))
                        .with_details(details)
                    })?,
                ),
                None => None,
            });
        }
        commonsnet_engine::ScenarioTables {
            resources: read[0].as_deref().unwrap_or_default(),
            needs: read[1].as_deref().unwrap_or_default(),
            links: read[2].as_deref(),
            policy: policy.as_ref(),
            name: name.as_deref(),
        }
        .scenario_with(found)
        .map_err(|e| UserError::invalid_input(&sources.place(e)))
    })
    .await??;
    Ok((scenario, explain))
}

/// A solve counted among those waiting for a worker while it lives.
struct WaitingSolve(Arc<AtomicUsize>);

impl WaitingSolve {
    /// Count one more waiting solve, unless `max` wait already.
    fn join(waiting: &Arc<AtomicUsize>, max: usize) -> Option<WaitingSolve> {
        waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| WaitingSolve(waiting.clone()))
    }
}

impl Drop for WaitingSolve {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Solve a scenario now. JSON body (SPEC section 3), or `multipart/form-data` with Arrow IPC
/// parts `resources`, `needs`, optional `links`, and a `policy` JSON part. `"explain": true`
/// (a top-level field of the JSON, or an `explain` part) adds the `why` rows. Answers the summary
/// and the result tables as JSON, or with `Accept: application/vnd.apache.arrow.stream` (or
/// `application/vnd.apache.parquet`) the allocations table as an Arrow IPC stream (or a Parquet
/// file), with status, objective and solver in `x-commonsnet-*` headers. The server's time limit caps the policy's.
#[utoipa::path(post, path = "/v1/solve",
    request_body(content((crate::schema::SolveBody = "application/json"), (Object = "multipart/form-data")),
        description = "A scenario: JSON, or table parts (`resources`, `needs`, optional `links`: Arrow IPC, Parquet or CSV files; `policy`: JSON; `explain`)"),
    responses(
        (status = 200, description = "Solved (any status, infeasible included)", body = SolveResponse,
            content_type = "application/json"),
        BodyRejected,
        Unauthorized,
        NotAcceptable,
        (status = 422, description = "Invalid scenario (details name table, row and field), or values that span more orders of magnitude than the solver takes reliably (`values_too_wide`: details name the smallest and the largest)", body = ErrorBody),
        (status = 429, description = "Too many solves waiting for a worker, or this tenant's share of them (`--tenant-share`); see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn solve(
    State(st): St,
    Tenant(tenant): Tenant,
    _: QueryArgs<NoParams>,
    req: Request,
) -> Result<Response, ApiError> {
    let wanted = negotiate(req.headers(), true)?;
    let ctype = content_type(req.headers());
    let (scenario, explain) = match ctype.as_str() {
        "application/json" => {
            let (parts, body) = req.into_parts();
            let (bytes, share) = read_body_held(&st, &tenant, &parts.headers, body).await?;
            // Off the async runtime: validating a large scenario takes a while.
            blocking(move || {
                let _share = share;
                let mut value: Value = parse_json_as(&bytes, "scenario")?;
                let explain =
                    explain_flag(value.as_object_mut().and_then(|m| m.remove("explain")))?;
                let scenario =
                    scenario_from_value(&value).map_err(|e| UserError::invalid_input(&e))?;
                Ok::<_, UserError>((scenario, explain))
            })
            .await??
        }
        "multipart/form-data" => {
            // Read whole within the body's limits and its share, as a JSON body is; the form
            // is then taken apart from memory.
            let (head, body) = req.into_parts();
            let (bytes, _share) = read_body_held(&st, &tenant, &head.headers, body).await?;
            let req = Request::from_parts(head, axum::body::Body::from(bytes));
            let form = Multipart::from_request(req, &st)
                .await
                .map_err(|e| UserError::new(Code::BadMultipart, e.body_text()))?;
            let parts = read_form(form, st.config.body_limit).await?;
            scenario_from_parts(parts).await?
        }
        other => {
            return Err(UserError::new(
                Code::UnsupportedMediaType,
                format!("Content-Type {other:?}: send application/json or multipart/form-data"),
            )
            .into())
        }
    };
    let max_links = st.config.max_links;
    let scenario = blocking(move || {
        commonsnet_engine::input::links_within(&scenario, max_links)
            .map(|()| scenario)
            .map_err(|e| UserError::invalid_input(&e))
    })
    .await??;
    let permit = match st.solve_slots.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(tokio::sync::TryAcquireError::Closed) => return Err(InternalError::ShuttingDown.into()),
        Err(tokio::sync::TryAcquireError::NoPermits) => {
            // Waiting requests each hold their scenario: at most `max_waiting_solves` wait.
            let waiting = WaitingSolve::join(&st.solves_waiting, st.config.max_waiting_solves)
                .ok_or_else(|| {
                    ApiError::from(
                        UserError::new(
                            Code::QueueFull,
                            format!(
                                "{} solves are waiting already; retry later",
                                st.config.max_waiting_solves
                            ),
                        )
                        .retry_after(1),
                    )
                })?;
            // With several tenants, one may hold only its share of the waiting places, and
            // the line is served in turns across tenants.
            let _mine = st.solve_waits.try_take(&tenant).ok_or_else(|| {
                let (held, limit) = (st.solve_waits.max(), st.config.max_waiting_solves);
                crate::shares::past_share(&tenant, held, "solves waiting", limit, "retry later", 1)
            })?;
            let place = st.solve_turns.place(&tenant).await;
            let permit = st
                .solve_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| InternalError::ShuttingDown)?;
            drop((place, waiting));
            permit
        }
    };
    // A client that goes away drops this handler's future and `_gone` with it: its solve is
    // called off and its worker freed (it ran to the time limit before). Shutdown calls it off
    // through the parent (`AppState::call_off`).
    let cancel = st.call_off.child();
    let _gone = commonsnet_engine::cancel::CancelOnDrop(cancel.clone());
    let opts = commonsnet_engine::SolveOptions {
        time_limit_s: Some(st.config.time_limit_s),
        cancel: Some(cancel),
        ..Default::default()
    };
    // A solver failure is ours (a 500, logged with what failed), unless the scenario's
    // values span too many orders of magnitude (a 422 naming them): `From<SolveError>`.
    let metrics = st.metrics.clone();
    let report = blocking(move || {
        let _permit = permit;
        let _running = metrics.solve_started();
        let solved = commonsnet_engine::solve::try_solve_with(&scenario, &opts);
        // Counted here: the handler of a client that went away is gone.
        if let Err(commonsnet_engine::solve::SolveError::Cancelled) = solved {
            metrics.solve_called_off();
        }
        solved.map(|o| {
            if explain {
                Report::explained(&o)
            } else {
                Report::new(&o)
            }
        })
    })
    .await?
    .map_err(ApiError::from)?;
    st.metrics
        .solve(&report.summary.solver.to_string(), report.summary.solve_ms);
    match wanted {
        Wanted::Arrow | Wanted::Parquet => {
            let mut resp = if wanted == Wanted::Arrow {
                allocations_stream(&report)?
            } else {
                allocations_parquet(&report)?
            };
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
            put(h, "x-commonsnet-solver", s.solver.to_string());
            put(h, "x-commonsnet-solve-ms", format!("{:.3}", s.solve_ms));
            Ok(resp)
        }
        _ => Ok(Json(SolveResponse::new(&report)).into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At most `max` solves wait; one that stops waiting makes room.
    #[test]
    fn waiting_solves_are_counted_and_bounded() {
        let waiting = Arc::new(AtomicUsize::new(0));
        let a = WaitingSolve::join(&waiting, 2).expect("room");
        let b = WaitingSolve::join(&waiting, 2).expect("room");
        assert!(
            WaitingSolve::join(&waiting, 2).is_none(),
            "two wait already"
        );
        assert!(WaitingSolve::join(&waiting, 0).is_none());
        drop(a);
        assert_eq!(waiting.load(Ordering::SeqCst), 1);
        let c = WaitingSolve::join(&waiting, 2).expect("room again");
        drop((b, c));
        assert_eq!(waiting.load(Ordering::SeqCst), 0);
    }
}
