//! `GET /v1/sessions/{id}/stream`: a session's plan changes as Server-Sent Events, with the
//! durable log as the backlog for `Last-Event-ID`.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{ApiError, Code, ErrorBody, UserError};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Server-Sent Events: every plan change, `id` = its sequence number. A client reconnecting
/// with `Last-Event-ID` first receives the changes it missed (from the durable log). Streams
/// end when the session is deleted or the server shuts down.
#[utoipa::path(get, path = "/v1/sessions/{id}/stream", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "text/event-stream of plan changes", content_type = "text/event-stream"),
        (status = 400, description = "Last-Event-ID is not a sequence number", body = ErrorBody),
        Unauthorized,
        NoSuchSession,
        SessionsFull))]
pub(super) async fn session_stream(
    State(st): St,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let last: i64 = match headers.get("last-event-id") {
        None => -1,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| {
                UserError::new(
                    Code::BadLastEventId,
                    "Last-Event-ID must be a sequence number",
                )
            })?,
    };
    // Subscribe before reading the backlog, so nothing falls between the two.
    let hub = st.sessions.clone();
    let (sid, t) = (id.clone(), tenant);
    let rx = blocking(move || hub.subscribe(&sid, &t)).await??;
    let backlog = if last >= 0 {
        let hub = st.sessions.clone();
        let sid = id.clone();
        blocking(move || hub.log().changes_after(&sid, last)).await??
    } else {
        Vec::new()
    };
    struct StreamState {
        backlog: std::collections::VecDeque<crate::sessions::PlanChange>,
        rx: tokio::sync::broadcast::Receiver<crate::sessions::PlanChange>,
        last: i64,
        hub: Arc<crate::sessions::SessionHub>,
        id: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    }
    let state = StreamState {
        backlog: backlog.into(),
        rx,
        last,
        hub: st.sessions.clone(),
        id,
        shutdown: st.shutdown.clone(),
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if *s.shutdown.borrow() {
                return None;
            }
            if let Some(c) = s.backlog.pop_front() {
                if c.seq <= s.last {
                    continue;
                }
                s.last = c.seq;
                let ev = Event::default()
                    .id(c.seq.to_string())
                    .event("plan")
                    .data(c.data);
                return Some((Ok::<_, std::convert::Infallible>(ev), s));
            }
            let received = tokio::select! {
                r = s.rx.recv() => r,
                // Shutdown (or the sender gone): end the stream so the connection can close.
                _ = s.shutdown.changed() => return None,
            };
            match received {
                Ok(c) => s.backlog.push_back(c),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // A slow client: catch up from the log.
                    let (hub, id, last) = (s.hub.clone(), s.id.clone(), s.last);
                    let missed =
                        tokio::task::spawn_blocking(move || hub.log().changes_after(&id, last))
                            .await
                            .ok()
                            .and_then(|r| r.ok())
                            .unwrap_or_default();
                    s.backlog.extend(missed);
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
