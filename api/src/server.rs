//! The connection loop. axum's `serve` has no header or idle timeout and no connection limit,
//! so a client that opens connections and sends nothing could starve the service; here hyper
//! serves each HTTP/1.1 connection with a header-read timeout (hyper starts it whenever it
//! waits for a request head, so it is also the idle timeout of a keep-alive connection), at
//! most `max_connections` are open at once, a connection whose client stops reading its
//! answers is closed after `write_timeout` ([`StallGuard`]), and shutdown stops accepting, lets
//! the requests in flight finish (event streams end on the shutdown signal), calls off the
//! solves still running after a few seconds (they answer 503) and closes what is left.

use crate::Config;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long shutdown waits for the requests in flight before it calls their solves off.
const DRAIN: Duration = Duration::from_secs(5);
/// How long it then waits for them to answer before it closes their connections. A MIP
/// answers its call-off only once HiGHS reaches a point that checks it: presolve, clique
/// extraction and the feasibility-jump heuristic do not, and a solve called off in its first
/// seconds took 3 s and more to answer on a loaded machine (its client got no answer at 3 s).
const CALLED_OFF: Duration = Duration::from_secs(15);

/// Request heads are read into a buffer of this size at most. It is far above the limits
/// that `routes::head_limits` answers with a JSON 414 or 431, so those answers are what
/// clients see, except where hyper answers before any route, without a body: a head past
/// this buffer or past [`MAX_HEADERS`] lines, a target past the 64 KiB an `http::Uri` holds,
/// and a head that is not HTTP (a control byte in a header value, a space in the target).
const MAX_HEAD_BUFFER: usize = 1 << 20;
const MAX_HEADERS: usize = 1000;

pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    config: &Config,
    signal: impl Future<Output = ()>,
    call_off: &commonsnet_engine::Cancel,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let per_peer = Arc::new(PerPeer::new(config.max_connections_per_ip));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
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
                Ok((stream, peer)) => match per_peer.take(peer.ip()) {
                    Ok(held) => (stream, held),
                    Err(open) => {
                        // Answered while few are (each for 0.2 s at most), else closed at
                        // once: a flood of refusals holds neither the connections' slots
                        // nor more than a few sockets.
                        if let Ok(answering) = refusals.clone().try_acquire_owned() {
                            tokio::spawn(refuse_peer(stream, open, answering));
                        }
                        continue;
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let (stream, peer_held) = stream;
        let _ = stream.set_nodelay(true);
        let stream = StallGuard::new(stream, config.write_timeout);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop((permit, peer_held));
        });
    }
    drop(listener);
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    tokio::select! {
        () = &mut drained => return,
        () = tokio::time::sleep(DRAIN) => {}
    }
    // Solves still running are called off: their requests answer 503 `shutting_down` (a
    // retry goes to the next server) instead of being cut without an answer, and the process
    // does not wait for them after its last connection closed.
    tracing::warn!("requests still running after {DRAIN:?}; calling their solves off");
    call_off.cancel();
    tokio::select! {
        () = &mut drained => {}
        () = tokio::time::sleep(CALLED_OFF) => {
            tracing::warn!("connections still open {CALLED_OFF:?} later; closing them");
        }
    }
}

/// Connections open per peer address, at most `max` each (0: no bound): one client that opens
/// connections and trickles its heads (each closed after the header timeout, and opened
/// again) cannot hold every connection of the server (a review held 150 of 120 so, and a
/// bystander's request waited 7-8 s).
struct PerPeer {
    max: usize,
    open: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// The address a peer is counted under: an IPv4 client on an IPv6 socket as on an IPv4 one,
/// and an IPv6 one by its /64, the block a single site or host is given (a client holding a
/// /64 would otherwise have 2^64 addresses to spread its connections over).
fn client_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            std::net::IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// A connection counted against its peer's address; given back when dropped.
struct PeerHeld {
    peers: Option<Arc<PerPeer>>,
    ip: std::net::IpAddr,
}

impl PerPeer {
    fn new(max: usize) -> PerPeer {
        PerPeer {
            max,
            open: Default::default(),
        }
    }

    /// One more connection from `ip`, or how many it holds already when that is the most.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Result<PeerHeld, usize> {
        let ip = client_of(ip);
        if self.max == 0 {
            return Ok(PeerHeld { peers: None, ip });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return Err(*n);
        }
        *n += 1;
        Ok(PeerHeld {
            peers: Some(self.clone()),
            ip,
        })
    }
}

impl Drop for PeerHeld {
    fn drop(&mut self) {
        let Some(peers) = &self.peers else {
            return;
        };
        let mut open = peers.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Refusals of connections past their address's bound answered at once; more are closed.
const MAX_REFUSALS: usize = 32;

/// The answer to a connection past its address's bound: 429 with the API's error body and
/// `Retry-After`, written without reading the request, then closed (within 0.2 s).
async fn refuse_peer(
    mut stream: tokio::net::TcpStream,
    open: usize,
    _answering: tokio::sync::OwnedSemaphorePermit,
) {
    use tokio::io::AsyncWriteExt;
    let body = crate::error::ErrorBody::new(
        crate::error::Code::QueueFull,
        format!(
            "{open} connections from this address are open already \
             (--max-connections-per-ip); close one or retry later"
        ),
        vec![],
    );
    let body = serde_json::to_string(&body).unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        use tokio::io::AsyncReadExt;
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // What the client sent is read (and dropped) before the close: a close with unread
        // data resets the connection, and the client may lose the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), write).await;
}

/// A connection whose writes must make progress: a write that stays pending (the client does
/// not read, its window is full) for `limit` fails with `TimedOut`, and hyper closes the
/// connection. Reads are left alone (hyper times the request head itself).
struct StallGuard<S> {
    inner: S,
    limit: Duration,
    /// Started when a write first stays pending; cleared by any write that goes through.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// The outcome of a write poll, timed: pending for `limit` in a row is an error.
    fn timed<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer for the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An address holds at most its bound, given back on drop; IPv4 is one client however
    /// it arrives, and an IPv6 /64 is one client; another /64 is another.
    #[test]
    fn peers_are_counted_by_client() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let peers = Arc::new(PerPeer::new(2));
        let a = peers.take(ip("192.0.2.7")).unwrap();
        let _b = peers.take(ip("::ffff:192.0.2.7")).unwrap();
        assert_eq!(peers.take(ip("192.0.2.7")).err(), Some(2));
        drop(a);
        assert!(peers.take(ip("192.0.2.7")).is_ok());
        let _c = peers.take(ip("2001:db8:1:2::1")).unwrap();
        let _d = peers.take(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert_eq!(peers.take(ip("2001:db8:1:2::77")).err(), Some(2));
        assert!(peers.take(ip("2001:db8:1:3::1")).is_ok());
        let unbounded = Arc::new(PerPeer::new(0));
        let held: Vec<_> = (0..5).map(|_| unbounded.take(ip("192.0.2.7"))).collect();
        assert!(held.iter().all(Result::is_ok));
    }

    /// A writer whose reader stops reading fails after the limit; while the reader reads,
    /// writes go on however long they take in all.
    #[tokio::test]
    async fn a_write_that_makes_no_progress_times_out() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(ours, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            // Reads 64 KiB slowly, then stops reading.
            let mut got = 0;
            while got < 64 << 10 {
                got += theirs.read(&mut buf).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            theirs
        });
        let chunk = vec![7u8; 4096];
        let mut sent = 0usize;
        let err = loop {
            match guarded.write_all(&chunk).await {
                Ok(()) => sent += chunk.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            sent >= 60 << 10,
            "slow reading is progress: {sent} bytes went through"
        );
        drop(reader.await.unwrap());
    }
}
