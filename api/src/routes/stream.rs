//! `GET /v1/sessions/{id}/stream`: a session's plan changes as Server-Sent Events, with the
//! durable log as the backlog for `Last-Event-ID`.

use super::answers::*;
use super::extract::*;
use super::{blocking, St};
use crate::error::{ApiError, Code, ErrorBody, UserError};
use crate::sessions::{PlanChange, SessionHub};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Server-Sent Events: every plan change, `id` = its sequence number. A client reconnecting
/// with `Last-Event-ID` first receives the changes it missed (from the durable log). Streams
/// end when the session is deleted or the server shuts down.
#[utoipa::path(get, path = "/v1/sessions/{id}/stream", params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "text/event-stream: first `retry: 1000`, then each plan change as an event `plan` (its id the change's sequence number, its data the change set); when the session is deleted, a last event `deleted` with data `{\"session\": id}`", content_type = "text/event-stream"),
        (status = 400, description = "Last-Event-ID is not a sequence number, or is ahead of the session's last change", body = ErrorBody),
        Unauthorized,
        NoSuchSession,
        (status = 429, description = "Too many event streams open (`--max-event-streams`), or too many live sessions to load this one; see Retry-After", body = ErrorBody)))]
pub(super) async fn session_stream(
    State(st): St,
    Tenant(tenant): Tenant,
    Params(id): Params<String>,
    _: QueryArgs<NoParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    check_id(&id, "session")?;
    // Held for the stream's life: streams alone cannot take every connection.
    let permit = st.event_streams.clone().try_acquire_owned().map_err(|_| {
        UserError::new(
            Code::QueueFull,
            format!(
                "{} event streams are open already (--max-event-streams); retry later",
                st.config.max_event_streams
            ),
        )
        .retry_after(5)
    })?;
    let share = st.stream_shares.try_take(&tenant).ok_or_else(|| {
        crate::shares::past_share(
            &tenant,
            st.stream_shares.max(),
            "event streams open",
            st.config.max_event_streams,
            "close one or retry later",
            5,
        )
    })?;
    let open = (permit, share, st.metrics.event_stream_opened());
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
    let (sid, t) = (id.clone(), tenant.clone());
    let rx = blocking(move || hub.subscribe(&sid, &t)).await??;
    let backlog = if last >= 0 {
        // From `last` itself: the change numbered `last` shows that the session gave that id
        // out (the stream skips it). One page; the stream reads the rest as it sends.
        let hub = st.sessions.clone();
        let sid = id.clone();
        blocking(move || hub.log().changes_after(&sid, last - 1, CATCH_UP_PAGE)).await??
    } else {
        Vec::new()
    };
    let behind = backlog.len() == CATCH_UP_PAGE;
    if last > 0 && backlog.is_empty() {
        // An id the session never gave out (another session's, or one from the future): taken
        // as is, the changes up to it would be skipped without a word.
        let hub = st.sessions.clone();
        let (sid, t) = (id.clone(), tenant);
        let rx = blocking(move || hub.read_with_seq(&sid, &t, |_, seq| seq)).await??;
        let current = crate::sessions::answer(rx).await??;
        if last > current {
            return Err(UserError::new(
                Code::BadLastEventId,
                format!(
                    "Last-Event-ID {last} is ahead of the session's last change ({current}); \
                     reconnect without it to follow the session from now"
                ),
            )
            .into());
        }
    }
    let state = StreamState {
        backlog: backlog.into(),
        behind,
        rx,
        last,
        hub: st.sessions.clone(),
        id,
        shutdown: st.shutdown.clone(),
        ended: false,
        _open: open,
    };
    // First the reconnection delay for clients that reconnect on their own (EventSource's
    // default is 3 s; a coordinator's page should be back sooner).
    let retry = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(Event::default().retry(RECONNECT_AFTER))
    });
    let events = plan_changes(state).map(|item| {
        Ok::<_, std::convert::Infallible>(match item {
            StreamItem::Change(c) => Event::default()
                .id(c.seq.to_string())
                .event("plan")
                .data(c.data),
            StreamItem::Deleted(id) => Event::default()
                .event("deleted")
                .data(serde_json::json!({ "session": id }).to_string()),
        })
    });
    let events = retry.chain(events);
    Ok(Sse::new(events)
        // Every 5 s: a replica that forwards the stream takes a longer silence for a sign
        // that the one serving it froze (`routes::until_moved`).
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(5)))
        .into_response())
}

/// Changes a stream reads from the log at a time while it catches up: a client that
/// reconnects far behind costs one page of memory, not the session's whole log.
const CATCH_UP_PAGE: usize = 256;

/// The `retry:` a stream starts with: how long a client waits before it reconnects.
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// What a stream sends: a plan change, or, last, that its session was deleted (so a client
/// stops rather than reconnect to a 404).
enum StreamItem {
    Change(PlanChange),
    Deleted(String),
}

/// What a stream holds between two of its changes.
struct StreamState {
    /// Changes to send before waiting on `rx` (the log's, then those received).
    backlog: VecDeque<PlanChange>,
    /// The log may hold changes after `last` that are not in `backlog`: read the next page
    /// before waiting on `rx`.
    behind: bool,
    rx: broadcast::Receiver<PlanChange>,
    /// The last sequence number sent (or the client's `Last-Event-ID`).
    last: i64,
    hub: Arc<SessionHub>,
    id: String,
    shutdown: watch::Receiver<bool>,
    /// The last item is sent: the stream ends.
    ended: bool,
    /// Its place among `--max-event-streams`, in its tenant's share of them and in the
    /// open-streams gauge, for its life.
    _open: (
        tokio::sync::OwnedSemaphorePermit,
        crate::shares::ShareHeld,
        crate::metrics::GaugeHeld,
    ),
}

/// The session's changes after `last`, in order, each once. Ends at shutdown, when the
/// session's feed closes (it was deleted: [`StreamItem::Deleted`] is the last item; or it
/// left this server's memory), or when the changes a slow client missed cannot be read from
/// the log: the client then reconnects with `Last-Event-ID`, rather than go on past a gap it
/// cannot see.
fn plan_changes(state: StreamState) -> impl Stream<Item = StreamItem> {
    // Fused, as a body's stream must be: it may be polled again after its end.
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if *s.shutdown.borrow() || s.ended {
                return None;
            }
            if let Some(c) = s.backlog.pop_front() {
                if c.seq <= s.last {
                    continue;
                }
                s.last = c.seq;
                return Some((StreamItem::Change(c), s));
            }
            if s.behind {
                // Catching up from the log, a page at a time (what `rx` holds meanwhile is
                // skipped by sequence number if the log gave it already).
                let (hub, id, last) = (s.hub.clone(), s.id.clone(), s.last);
                let page = tokio::task::spawn_blocking(move || {
                    hub.log().changes_after(&id, last, CATCH_UP_PAGE)
                })
                .await;
                match page {
                    Ok(Ok(page)) => {
                        s.behind = page.len() == CATCH_UP_PAGE;
                        s.backlog.extend(page);
                        continue;
                    }
                    Ok(Err(e)) => {
                        // A log removed under the read: the session was deleted.
                        if deleted(&s).await {
                            s.ended = true;
                            let id = s.id.clone();
                            return Some((StreamItem::Deleted(id), s));
                        }
                        tracing::warn!(session = %s.id, error = %e, "stream ended: cannot read the changes a client missed");
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(session = %s.id, error = %e, "stream ended: the catch-up read failed");
                        return None;
                    }
                }
            }
            let received = tokio::select! {
                r = s.rx.recv() => r,
                // Shutdown (or the sender gone): end the stream so the connection can close.
                _ = s.shutdown.changed() => return None,
            };
            match received {
                Ok(c) => s.backlog.push_back(c),
                // A slow client: catch up from the log.
                Err(broadcast::error::RecvError::Lagged(_)) => s.behind = true,
                Err(broadcast::error::RecvError::Closed) => {
                    // Deleted, or out of memory here (idle, or moved to another replica): the
                    // client is told only of the first, and reconnects after the second.
                    if !deleted(&s).await {
                        return None;
                    }
                    s.ended = true;
                    let id = s.id.clone();
                    return Some((StreamItem::Deleted(id), s));
                }
            }
        }
    })
    .fuse()
}

/// Whether the stream's session is gone from the log (`SessionHub::deleted`, off the
/// runtime); false when that cannot be read.
async fn deleted(s: &StreamState) -> bool {
    let (hub, id) = (s.hub.clone(), s.id.clone());
    let gone = tokio::task::spawn_blocking(move || hub.deleted(&id)).await;
    matches!(gone, Ok(Ok(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::SessionLimits;
    use crate::store::{LogEntry, LogRow, SessionListed, SessionLog, StoreError};

    /// A log that answers `changes` to a catch-up read, or fails it (and every read) when
    /// `None`; it holds session "s" unless `gone`.
    struct CatchUp {
        changes: Option<Vec<PlanChange>>,
        gone: bool,
        /// The size of each page read.
        reads: std::sync::Mutex<Vec<usize>>,
    }

    impl SessionLog for CatchUp {
        fn create(&self, _: &str, _: &str, _: &str) -> Result<(), StoreError> {
            unreachable!()
        }
        fn append(&self, _: &str, _: &LogEntry) -> Result<(), StoreError> {
            unreachable!()
        }
        fn changes_after(
            &self,
            _: &str,
            seq: i64,
            limit: usize,
        ) -> Result<Vec<PlanChange>, StoreError> {
            match &self.changes {
                Some(c) => {
                    let page: Vec<PlanChange> = c
                        .iter()
                        .filter(|c| c.seq > seq)
                        .take(limit)
                        .cloned()
                        .collect();
                    self.reads.lock().unwrap().push(page.len());
                    Ok(page)
                }
                None => Err(StoreError::Settings("the store is down".into())),
            }
        }
        fn list(&self, _: &str, _: usize) -> Result<Vec<SessionListed>, StoreError> {
            unreachable!()
        }
        fn session(&self, _: &str) -> Result<Option<(String, String)>, StoreError> {
            match (&self.changes, self.gone) {
                (None, _) => Err(StoreError::Settings("the store is down".into())),
                (Some(_), true) => Ok(None),
                (Some(_), false) => Ok(Some(("t".into(), "{}".into()))),
            }
        }
        fn rows_after(&self, _: &str, _: i64, _: usize) -> Result<Vec<LogRow>, StoreError> {
            unreachable!()
        }
        fn delete(&self, _: &str) -> Result<bool, StoreError> {
            unreachable!()
        }
    }

    fn change(seq: i64) -> PlanChange {
        PlanChange {
            seq,
            data: format!("{{\"seq\":{seq}}}"),
        }
    }

    /// A change's sequence number; -1 for the end of a deleted session.
    fn seq(item: StreamItem) -> i64 {
        match item {
            StreamItem::Change(c) => c.seq,
            StreamItem::Deleted(_) => -1,
        }
    }

    /// A stream of session "s" as the route opens one (its place taken), reading `rx` and,
    /// when `behind`, the hub's log first; the sender stops it when dropped.
    fn a_stream(
        hub: Arc<SessionHub>,
        rx: broadcast::Receiver<PlanChange>,
        behind: bool,
    ) -> (watch::Sender<bool>, StreamState) {
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let (stop, shutdown) = watch::channel(false);
        let state = StreamState {
            backlog: VecDeque::new(),
            behind,
            rx,
            last: 0,
            hub,
            id: "s".into(),
            shutdown,
            ended: false,
            _open: (
                permit,
                crate::shares::TenantShare::new(1).try_take("t").unwrap(),
                crate::metrics::Metrics::default().event_stream_opened(),
            ),
        };
        (stop, state)
    }

    /// The sequence numbers a stream of session "s" sends (at most 10, or until it ends)
    /// when `sent` changes went to a feed of `room` that then closed, with `log` as the
    /// session's log.
    async fn after_the_feed_closed(log: CatchUp, room: usize, sent: i64) -> Vec<i64> {
        let hub = Arc::new(SessionHub::new(Arc::new(log), SessionLimits::default()));
        let (tx, rx) = broadcast::channel(room);
        for seq in 1..=sent {
            tx.send(change(seq)).unwrap();
        }
        drop(tx);
        let (_stop, state) = a_stream(hub, rx, false);
        let stream = plan_changes(state).map(seq).take(10).collect();
        tokio::time::timeout(std::time::Duration::from_secs(10), stream)
            .await
            .expect("the stream ends")
    }

    /// The sequence numbers a client that fell 3 changes behind a feed of 2 receives, with
    /// the log answering `changes` (`None`: failing); at most 10, or until the stream ends.
    async fn lagging_client(changes: Option<Vec<PlanChange>>) -> Vec<i64> {
        let log = CatchUp {
            changes,
            gone: false,
            reads: Default::default(),
        };
        after_the_feed_closed(log, 2, 5).await
    }

    /// A slow client catches up from the log; when the log cannot be read the stream ends
    /// (the client reconnects with `Last-Event-ID`) instead of skipping what it missed.
    #[tokio::test]
    async fn a_lagging_client_catches_up_from_the_log_or_the_stream_ends() {
        let logged = (1..=5).map(change).collect();
        assert_eq!(lagging_client(Some(logged)).await, [1, 2, 3, 4, 5]);
        assert_eq!(lagging_client(None).await, Vec::<i64>::new());
    }

    /// A client far behind (1,000 changes in the log, none on the feed) gets every change
    /// once, in order, reading the log a page at a time.
    #[tokio::test]
    async fn a_client_far_behind_reads_the_log_a_page_at_a_time() {
        let log = Arc::new(CatchUp {
            changes: Some((1..=1000).map(change).collect()),
            gone: false,
            reads: Default::default(),
        });
        let hub = Arc::new(SessionHub::new(log.clone(), SessionLimits::default()));
        let (tx, rx) = broadcast::channel(4);
        let (_stop, state) = a_stream(hub, rx, true);
        let stream = plan_changes(state).map(seq).take(1000).collect::<Vec<_>>();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), stream)
            .await
            .expect("the stream catches up");
        drop(tx);
        assert_eq!(got, (1..=1000).collect::<Vec<i64>>());
        assert_eq!(*log.reads.lock().unwrap(), [256, 256, 256, 232]);
    }

    /// A stream whose session's feed closes ends with a `deleted` item when the log no longer
    /// holds the session, and without one when it does (the session left memory: the client
    /// reconnects) or cannot be read.
    #[tokio::test]
    async fn a_deleted_sessions_stream_says_so_last() {
        for (changes, gone, want) in [
            (Some(vec![]), true, vec![1, 2, -1]),
            (Some(vec![]), false, vec![1, 2]),
            (None, true, vec![1, 2]),
        ] {
            let log = CatchUp {
                changes,
                gone,
                reads: Default::default(),
            };
            assert_eq!(after_the_feed_closed(log, 4, 2).await, want, "gone: {gone}");
        }
    }
}
