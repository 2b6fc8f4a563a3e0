//! Prometheus metrics through `prometheus-client`, exposed in the Prometheus text format
//! (version 0.0.4), which every scraper reads.

use crate::store::JobStatus;
use commonsnet_engine::Status;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::fmt::Write;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency and solve-time histogram buckets: from a cached
/// health check (1 ms) to a large synchronous solve (30 s).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SolverLabels {
    solver: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    status: StatusLabel,
}

/// The engine's status as a label value (a local type: both the trait and `Status` are foreign).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct StatusLabel(Status);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    status: JobStatus,
}

/// What a replica holds a lease on (PostgreSQL store).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LeaseKind {
    Run,
    Session,
}

impl EncodeLabelValue for LeaseKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            LeaseKind::Run => "run",
            LeaseKind::Session => "session",
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    kind: LeaseKind,
}

impl EncodeLabelValue for StatusLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0.as_str())
    }
}

impl EncodeLabelValue for JobStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The service's metrics. Counters and histograms are updated as things happen; the gauges
/// (queue depth, live sessions, jobs by status) are read when scraped.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    solve: Histograms<SolverLabels>,
    runs: Family<RunLabels, Counter>,
    queue_depth: Gauge,
    sessions_live: Gauge,
    jobs: Family<JobLabels, Gauge>,
    leases: Family<LeaseLabels, Gauge>,
    lease_losses: Family<LeaseLabels, Counter>,
    solves_called_off: Counter,
    solves_running: Gauge,
    event_streams_open: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("commonsnet");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Histograms<RouteLabels> = Family::new_with_constructor(histogram);
        let solve: Histograms<SolverLabels> = Family::new_with_constructor(histogram);
        let runs = Family::<RunLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let sessions_live = Gauge::default();
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency",
            latency.clone(),
        );
        registry.register(
            "solve_duration_seconds",
            "Time in the solver, by solver",
            solve.clone(),
        );
        registry.register(
            "job_runs",
            "Batch runs finished, by run status",
            runs.clone(),
        );
        registry.register(
            "job_queue_depth",
            "Jobs accepted and waiting to start",
            queue_depth.clone(),
        );
        registry.register(
            "sessions_live",
            "Live sessions held in memory",
            sessions_live.clone(),
        );
        registry.register("jobs", "Jobs in the store, by status", jobs.clone());
        let leases = Family::<LeaseLabels, Gauge>::default();
        let lease_losses = Family::<LeaseLabels, Counter>::default();
        registry.register(
            "leases_held",
            "Leases this replica holds now (PostgreSQL store), by kind",
            leases.clone(),
        );
        registry.register(
            "lease_losses",
            "Leases this replica lost to another replica (it stopped renewing in time), by kind",
            lease_losses.clone(),
        );
        let event_streams_open = Gauge::default();
        registry.register(
            "event_streams_open",
            "Session event streams open now (at most --max-event-streams)",
            event_streams_open.clone(),
        );
        let solves_called_off = Counter::default();
        registry.register(
            "solves_called_off",
            "Synchronous solves called off before they answered: their client went away, or the server shut down",
            solves_called_off.clone(),
        );
        let solves_running = Gauge::default();
        registry.register(
            "solves_running",
            "Synchronous solves (/v1/solve) in the solver now (at most --solve-workers)",
            solves_running.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            solve,
            runs,
            queue_depth,
            sessions_live,
            jobs,
            leases,
            lease_losses,
            solves_called_off,
            solves_running,
            event_streams_open,
        }
    }
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, secs: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(secs);
    }

    pub fn solve(&self, solver: &str, ms: f64) {
        self.solve
            .get_or_create(&SolverLabels {
                solver: solver.to_string(),
            })
            .observe(ms / 1e3);
    }

    pub fn solve_called_off(&self) {
        self.solves_called_off.inc();
    }

    /// One event stream more open, until the guard is dropped.
    pub fn event_stream_opened(&self) -> GaugeHeld {
        self.event_streams_open.inc();
        GaugeHeld(self.event_streams_open.clone())
    }

    /// One synchronous solve more in the solver, until the guard is dropped.
    pub fn solve_started(&self) -> GaugeHeld {
        self.solves_running.inc();
        GaugeHeld(self.solves_running.clone())
    }

    pub fn run(&self, status: Status) {
        self.runs
            .get_or_create(&RunLabels {
                status: StatusLabel(status),
            })
            .inc();
    }

    pub fn lease_lost(&self, kind: LeaseKind, n: u64) {
        self.lease_losses
            .get_or_create(&LeaseLabels { kind })
            .inc_by(n);
    }

    /// The leases held now, read at scrape time.
    pub fn set_leases(&self, runs: i64, sessions: i64) {
        for (kind, n) in [(LeaseKind::Run, runs), (LeaseKind::Session, sessions)] {
            self.leases.get_or_create(&LeaseLabels { kind }).set(n);
        }
    }

    /// The exposition text; gauges read at scrape time are passed in (every job status is
    /// listed, zeros included).
    pub fn render(
        &self,
        queue_depth: Option<usize>,
        sessions_live: usize,
        jobs: Option<&[(JobStatus, i64)]>,
    ) -> Result<String, std::fmt::Error> {
        // `None`: the store did not answer; the last values stay.
        if let Some(d) = queue_depth {
            self.queue_depth.set(d as i64);
        }
        self.sessions_live.set(sessions_live as i64);
        if let Some(jobs) = jobs {
            for &status in JobStatus::ALL {
                let n = jobs
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                self.jobs.get_or_create(&JobLabels { status }).set(n);
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Counts one open event stream in `commonsnet_event_streams_open` while it lives.
/// A gauge's one more, taken back when dropped (an open event stream, a running solve).
pub struct GaugeHeld(Gauge);

impl Drop for GaugeHeld {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_the_documented_ones() {
        let m = Metrics::default();
        m.request("POST", "/v1/jobs", 429, 0.002);
        m.solve("network_simplex", 12.0);
        m.run(Status::TimeLimit);
        m.set_leases(3, 1);
        m.lease_lost(LeaseKind::Session, 2);
        m.solve_called_off();
        let (open, closed) = (m.event_stream_opened(), m.event_stream_opened());
        drop(closed);
        let text = m
            .render(Some(1), 2, Some(&[(JobStatus::Running, 1)]))
            .unwrap();
        for line in [
            "# TYPE commonsnet_http_requests_total counter",
            "commonsnet_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"429\"} 1",
            "commonsnet_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/jobs\",le=\"0.0025\"} 1",
            "commonsnet_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/jobs\"} 1",
            "commonsnet_solve_duration_seconds_count{solver=\"network_simplex\"} 1",
            "commonsnet_job_runs_total{status=\"time_limit\"} 1",
            "commonsnet_job_queue_depth 1",
            "commonsnet_sessions_live 2",
            "commonsnet_jobs{status=\"running\"} 1",
            "commonsnet_jobs{status=\"done\"} 0",
            "commonsnet_leases_held{kind=\"run\"} 3",
            "commonsnet_leases_held{kind=\"session\"} 1",
            "commonsnet_lease_losses_total{kind=\"session\"} 2",
            "commonsnet_solves_called_off_total 1",
            "commonsnet_event_streams_open 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        drop(open);
    }
}
