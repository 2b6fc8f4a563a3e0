//! The connection loop. axum's `serve` has no header or idle timeout and no connection limit,
//! so a client that opens connections and sends nothing could starve the service; here hyper
//! serves each HTTP/1.1 connection with a header-read timeout (hyper starts it whenever it
//! waits for a request head, so it is also the idle timeout of a keep-alive connection), at
//! most `max_connections` are open at once, and shutdown stops accepting, lets the requests in
//! flight finish (event streams end on the shutdown signal) and gives up after a few seconds.

use crate::Config;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long shutdown waits for open connections before it closes them.
const DRAIN: Duration = Duration::from_secs(5);

/// Request heads are read into a buffer of this size at most. It is far above the limits
/// that `routes::head_limits` answers with a JSON 414 or 431, so those answers, not hyper's
/// bodiless ones, are what clients see.
const MAX_HEAD_BUFFER: usize = 1 << 20;
const MAX_HEADERS: usize = 1000;

pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    config: &Config,
    signal: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    tokio::pin!(signal);
    loop {
        // Wait for a free slot first: beyond the limit, clients wait in the listen backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("connections still open after {DRAIN:?}; closing them");
        }
    }
}
