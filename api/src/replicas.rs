//! Replicas over PostgreSQL (SPEC section 6): the leased job runner, the heartbeat that keeps
//! this replica's leases, and the forwarding of a session's requests to the replica that owns
//! it.
//!
//! - **Jobs.** Every replica runs a [`LeasedRunner`]: `--job-threads` workers, each claiming one
//!   run at a time from the store (the oldest unfinished job first), running it, and storing
//!   its row with the lease released in the same transaction. Several replicas thus work on one
//!   job's runs at once, and a replica killed mid-run leaves leases that expire and are claimed
//!   again by the others. A run's row depends only on the job and the run's index (the seeding
//!   rule), so the result does not depend on who ran which run. A run claimed more than
//!   [`MAX_CLAIMS`] times (each of its replicas died running it) becomes an `error` row, so one
//!   run cannot take the replicas down one after another. Cancel marks the job cancelled and
//!   deletes its leases: no replica claims another of its runs, and a run in flight is
//!   dropped when it ends.
//! - **Sessions.** A session is served by the replica that holds its lease (taken when it is
//!   created or, when the lease is free or expired, by the first replica a request reaches).
//!   Other replicas forward its requests there, streams included, so a client behind one
//!   address sees one session wherever its requests land. Forwarding rather than redirecting:
//!   the replicas' own addresses need not be reachable by clients, only by each other; rather
//!   than moving the session on every request: a move costs a replay of its log. When the
//!   owner dies, its lease expires and the next request rebuilds the session by replay on the
//!   replica it reaches; a stream client reconnects with `Last-Event-ID` and is served the
//!   changes it missed from the log.
//! - **Heartbeat.** Every third of the lease, a replica extends the leases it holds; a session
//!   whose lease it finds lost leaves its memory (counted in `lease_losses_total`).

use crate::error::{ApiError, InternalError};
use crate::jobs::{Faults, JobRequest, JobScenarios, RunObserver};
use crate::metrics::{LeaseKind, Metrics};
use crate::sessions::SessionHub;
use crate::store::{ClaimedRun, LeaseAt, PgStore, StoreError};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use commonsnet_engine::batch::{panic_message, Batch};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Claims of one run after which it is recorded as an `error` row instead of run again. Only
/// claims after a failure count (`PgStore::claim_run` says which): the run's holder died or
/// hung (it stopped beating), or the run failed on this replica; a lease taken from a holder
/// still beating, or given back at a shutdown, does not count.
pub const MAX_CLAIMS: i32 = 3;

/// A replica's name in leases: its host name and a random suffix, unique per start (a
/// restarted replica does not inherit the leases of its previous life).
pub fn replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "replica".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &id[..8])
}

/// The header a forwarded request carries, so that it is never forwarded twice.
pub const FORWARDED: &str = "x-commonsnet-forwarded";

/// The runs a replica is running now, whose leases its heartbeat extends.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<(String, i64)>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, i64)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn runs(&self) -> Vec<(String, i64)> {
        self.lock().iter().cloned().collect()
    }
}

/// The jobs of a replica on PostgreSQL.
pub struct LeasedRunner {
    pub store: Arc<PgStore>,
    pub threads: usize,
    pub server_time_limit_s: f64,
    pub observer: Arc<dyn RunObserver>,
    pub metrics: Arc<Metrics>,
    /// Raised at shutdown: claim nothing more, finish the runs in flight, give leases back.
    pub shutdown: Arc<AtomicBool>,
    /// How long a worker waits before looking again when there is nothing to claim.
    pub poll: Duration,
    pub in_flight: Arc<InFlight>,
}

type JobBatch = Arc<Batch<JobScenarios>>;

impl LeasedRunner {
    /// Run until shutdown; then give back the leases of runs not started.
    pub fn run(self) {
        let Some(pool) = crate::jobs::worker_pool(self.threads) else {
            return;
        };
        let faults = crate::jobs::Faults::from_env();
        // The jobs this replica has seen, made into batches once (a job's runs share it).
        let batches: Mutex<HashMap<String, Option<JobBatch>>> = Mutex::new(HashMap::new());
        pool.scope(|s| {
            for _ in 0..pool.current_num_threads() {
                s.spawn(|_| self.worker(&batches, &faults));
            }
        });
        match self.store.release_run_leases() {
            Ok(n) if n > 0 => tracing::info!(runs = n, "run leases given back"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot give the run leases back; they expire"),
        }
        tracing::info!("job runner stopped");
    }

    fn worker(&self, batches: &Mutex<HashMap<String, Option<JobBatch>>>, faults: &Faults) {
        while !self.shutdown.load(Ordering::SeqCst) {
            // Not the runs this replica runs now: its lease on one may have lapsed (the
            // heartbeat late), but a second worker here would run it twice and count a claim.
            match self.store.claim_run(&self.in_flight.runs()) {
                Ok(Some(claim)) => {
                    let key = (claim.job.clone(), claim.index as i64);
                    self.in_flight.lock().insert(key.clone());
                    // A panic outside the run itself (making the job's batch, its error row)
                    // fails the job: every replica would panic the same way on each of its
                    // runs.
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        self.run_claimed(batches, &claim, faults)
                    }));
                    self.in_flight.lock().remove(&key);
                    match outcome {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::error!(job = %claim.job, run = claim.index, error = %e, "run not stored; its lease is given back and it is claimed again");
                            if let Err(e) = self.store.release_run(&claim.job, claim.index) {
                                tracing::warn!(job = %claim.job, run = claim.index, error = %e, "cannot give the run's lease back; it expires");
                            }
                        }
                        Err(panic) => {
                            let message = format!("the job panicked: {}", panic_message(&*panic));
                            tracing::error!(job = %claim.job, error = %message, "job failed");
                            if let Err(e) = self.store.fail_job(&claim.job, &message) {
                                tracing::error!(job = %claim.job, error = %e, "cannot mark the job failed");
                            }
                        }
                    }
                }
                Ok(None) => std::thread::sleep(self.poll),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim runs");
                    std::thread::sleep(self.poll.max(Duration::from_millis(500)));
                }
            }
        }
    }

    /// The batch of a job, made on its first claim here; `None` for a job that cannot run
    /// (marked failed).
    fn batch(
        &self,
        batches: &Mutex<HashMap<String, Option<JobBatch>>>,
        job: &str,
        faults: &Faults,
    ) -> Result<Option<JobBatch>, StoreError> {
        // Held while the job is taken up, so that this process takes each job up once
        // (`attempts` counts the processes), however many of its workers claim its runs.
        let mut all = batches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = all.get(job) {
            return Ok(b.clone());
        }
        // Retried while the store is out of reach: the run is claimed, and its lease renewed.
        let started = self.while_store_away("take the job up", || self.store.start_job(job))?;
        let made = match started {
            Some((spec, status)) if status.is_unfinished() => {
                if faults.job_panic {
                    panic!("injected fault: job {job} panics");
                }
                let batch = serde_json::from_str::<JobRequest>(&spec)
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        r.into_batch(self.server_time_limit_s)
                            .map_err(|e| e.to_string())
                    });
                match batch {
                    Ok(b) => Some(Arc::new(b)),
                    Err(e) => {
                        tracing::error!(job, error = %e, "job failed");
                        self.store.fail_job(job, &e)?;
                        None
                    }
                }
            }
            _ => None,
        };
        // Jobs end; their batches need not stay. A few hundred jobs in flight at once is
        // already more than a replica runs.
        if all.len() >= 256 {
            all.clear();
        }
        all.insert(job.to_string(), made.clone());
        Ok(made)
    }

    /// `f` again, with growing pauses, while the store is out of reach (until shutdown).
    fn while_store_away<T>(
        &self,
        what: &str,
        mut f: impl FnMut() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut wait = Duration::from_millis(250);
        loop {
            match f() {
                Err(e) if e.is_unavailable() && !self.shutdown.load(Ordering::SeqCst) => {
                    tracing::warn!(error = %e, "cannot {what} yet; retrying");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    fn run_claimed(
        &self,
        batches: &Mutex<HashMap<String, Option<JobBatch>>>,
        claim: &ClaimedRun,
        faults: &Faults,
    ) -> Result<(), StoreError> {
        let Some(batch) = self.batch(batches, &claim.job, faults)? else {
            return Ok(());
        };
        let i = claim.index as usize;
        let started = std::time::Instant::now();
        let row = if claim.claims > MAX_CLAIMS {
            batch.error_row(
                i,
                &format!(
                    "run abandoned: claimed {} times, and each replica running it stopped before it ended",
                    claim.claims - 1
                ),
            )
        } else {
            catch_unwind(AssertUnwindSafe(|| {
                if faults.run_panic == Some(i) {
                    panic!("injected fault: run {i} panics");
                }
                batch.run(i)
            }))
            .unwrap_or_else(|panic| batch.error_row(i, &panic_message(&*panic)))
        };
        let finished = std::time::Instant::now();
        // The row is made: keep trying to store it while the store is out of reach (a
        // database restart), rather than run it again later.
        let stored = self.while_store_away("store the run", || {
            self.store.store_run(&claim.job, &row, started, finished)
        })?;
        self.observer.run_finished(&row);
        if !stored.lease_held {
            self.metrics.lease_lost(LeaseKind::Run, 1);
        }
        if stored.job_done {
            tracing::info!(job = %claim.job, "job done");
            batches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&claim.job);
        }
        Ok(())
    }
}

/// Extend this replica's leases every third of the lease until `stop`, which is raised only
/// once the runner has finished the runs in flight (their leases must outlive them).
pub fn heartbeat(
    store: Arc<PgStore>,
    sessions: Arc<SessionHub>,
    in_flight: Arc<InFlight>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) {
    let every = store.settings().lease / 3;
    let mut next = std::time::Instant::now() + every;
    while !stop.load(Ordering::SeqCst) {
        // Short sleeps, so that shutdown is not held up by a long lease; the period is kept
        // against a deadline, whatever the renewals take.
        std::thread::sleep(Duration::from_millis(50));
        if std::time::Instant::now() < next {
            continue;
        }
        next += every;
        // Each statement is bounded well within the period (`PgStore::heartbeat_tx`), so one
        // that is stuck delays the others by a fraction of a lease, not past it.
        if let Err(e) = store.beat() {
            tracing::warn!(error = %e, "cannot record this replica's heartbeat");
        }
        if let Err(e) = store.renew_run_leases(&in_flight.runs()) {
            tracing::warn!(error = %e, "cannot renew run leases");
        }
        match sessions.renew_leases() {
            Ok(lost) if lost > 0 => metrics.lease_lost(LeaseKind::Session, lost as u64),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot renew session leases"),
        }
    }
}

/// Forwards requests to the replica that owns a session.
#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
}

impl Default for Forwarder {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        connector.set_nodelay(true);
        Forwarder {
            client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
        }
    }
}

/// How long a forwarded request may wait for the head of its answer (a stream's body may
/// last longer): a session's re-plan answers well within it.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether the connection was refused: nothing listens at the address, so no process there
/// serves the session. A timeout or a name that does not resolve says nothing of the kind
/// (the replica may be alive behind a slow network), so it is not taken over for those.
fn refused(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Why a forwarded request got no answer from the session's replica.
pub enum Unreachable {
    /// Nothing listens at its address: the replica is gone (the request was not sent).
    Dead,
    /// It let the session's lease run out while the request waited for its answer (frozen,
    /// or cut off from the database): it may be alive, and the request may reach it yet.
    Lapsed,
    /// It failed some other way (a timeout, a connection cut mid-answer): the answer to give.
    Failed(Response),
}

/// Resolves once the lease of session `id` held at `addr` has run out, while a request
/// forwarded there waits for its answer: looked at every third of a lease, a lapse counted
/// once a whole lease has passed.
/// A replica frozen mid-request (stopped, a paused VM) accepts connections and never answers,
/// so a coordinator's dispatch waited the whole forward timeout (120 s) although another
/// replica could serve it once the lease ran out (10 s). Taking over then is safe: a log row
/// is written only under a live lease, so the frozen replica, if it wakes, writes nothing.
///
/// It also resolves once another replica holds the lease ([`LeaseAt::Moved`]) or the session
/// is gone: a request forwarded to a frozen replica whose lease a third replica took over
/// waited the whole forward timeout (120 s, where the new holder answered at once).
pub async fn lease_lapses(store: Arc<PgStore>, id: String, addr: String) -> LeaseAt {
    use crate::store::SessionLog;
    let lease = store.lease().unwrap_or(Duration::from_secs(10));
    // A move is looked for from the start (every third of a lease); a lapse after a lease.
    let started = tokio::time::Instant::now();
    loop {
        tokio::time::sleep((lease / 3).max(Duration::from_millis(100))).await;
        let (s, i, a) = (store.clone(), id.clone(), addr.clone());
        match tokio::task::spawn_blocking(move || s.lease_at(&i, &a)).await {
            Ok(Ok(at @ (LeaseAt::Moved | LeaseAt::Gone))) => return at,
            Ok(Ok(LeaseAt::Lapsed)) if started.elapsed() >= lease => return LeaseAt::Lapsed,
            _ => {}
        }
    }
}

impl Forwarder {
    /// Send `req` to the replica at `addr` and stream its answer back.
    pub async fn forward(&self, addr: &str, mut req: Request) -> Result<Response, Unreachable> {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let uri: Uri = format!("http://{addr}{path}").parse().map_err(|e| {
            Unreachable::Failed(
                ApiError::from(InternalError::Unavailable(format!(
                    "the session's replica has a bad address {addr:?}: {e}"
                )))
                .into_response(),
            )
        })?;
        *req.uri_mut() = uri;
        // Hop-by-hop headers describe the client's connection, not this one; the body is
        // whole here, so its length is set anew.
        for h in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "content-length",
        ] {
            req.headers_mut().remove(h);
        }
        req.headers_mut()
            .insert(FORWARDED, HeaderValue::from_static("1"));
        let answer = tokio::time::timeout(FORWARD_TIMEOUT, self.client.request(req)).await;
        let Ok(answer) = answer else {
            tracing::warn!(addr, "the session's replica did not answer in time");
            return Err(Unreachable::Failed(
                ApiError::from(InternalError::Unavailable(
                    "the replica serving this session did not answer in time; retry".into(),
                ))
                .into_response(),
            ));
        };
        match answer {
            Ok(resp) => Ok(resp.map(Body::new)),
            Err(e) if refused(&e) => {
                tracing::warn!(addr, error = %e, "the session's replica is gone");
                Err(Unreachable::Dead)
            }
            Err(e) => {
                tracing::warn!(addr, error = %e, "cannot reach the session's replica");
                let mut r = ApiError::from(InternalError::Unavailable(
                    "the replica serving this session did not answer; retry".into(),
                ))
                .into_response();
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                Err(Unreachable::Failed(r))
            }
        }
    }
}
