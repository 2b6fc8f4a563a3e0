//! Prometheus metrics, kept in a few maps behind one lock (a scrape is rare; an update is a
//! hash lookup and a few additions) and rendered in the text exposition format.

use crate::schema::SolveStatus;
use crate::store::JobStatus;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency and solve-time histogram buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    /// (method, route, status) -> requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) -> latency.
    latency: BTreeMap<(String, String), Histogram>,
    /// solver -> solve time (synchronous solves and job runs).
    solve: BTreeMap<String, Histogram>,
    /// status -> job runs finished.
    runs: BTreeMap<SolveStatus, u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Label values are our own route templates and solver names; escape anyway.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn request(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut m = self.lock();
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        m.latency
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(secs);
    }

    pub fn solve(&self, solver: &str, ms: f64) {
        self.lock()
            .solve
            .entry(solver.to_string())
            .or_default()
            .observe(ms / 1e3);
    }

    pub fn run(&self, status: SolveStatus) {
        *self.lock().runs.entry(status).or_default() += 1;
    }

    /// The exposition text; gauges read at scrape time are passed in.
    pub fn render(
        &self,
        queue_depth: usize,
        sessions_live: usize,
        jobs: &[(JobStatus, i64)],
    ) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str("# HELP commonsnet_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE commonsnet_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "commonsnet_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                esc(method),
                esc(route)
            );
        }
        out.push_str("# HELP commonsnet_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE commonsnet_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", esc(method), esc(route));
            h.render(
                &mut out,
                "commonsnet_http_request_duration_seconds",
                &labels,
            );
        }
        out.push_str("# HELP commonsnet_solve_duration_seconds Time in the solver, by solver.\n");
        out.push_str("# TYPE commonsnet_solve_duration_seconds histogram\n");
        for (solver, h) in &m.solve {
            let labels = format!("solver=\"{}\"", esc(solver));
            h.render(&mut out, "commonsnet_solve_duration_seconds", &labels);
        }
        out.push_str("# HELP commonsnet_job_runs_total Batch runs finished, by run status.\n");
        out.push_str("# TYPE commonsnet_job_runs_total counter\n");
        for (status, n) in &m.runs {
            let _ = writeln!(
                out,
                "commonsnet_job_runs_total{{status=\"{}\"}} {n}",
                status.as_str()
            );
        }
        out.push_str("# HELP commonsnet_job_queue_depth Jobs accepted and waiting to start.\n");
        out.push_str("# TYPE commonsnet_job_queue_depth gauge\n");
        let _ = writeln!(out, "commonsnet_job_queue_depth {queue_depth}");
        out.push_str("# HELP commonsnet_sessions_live Live sessions held in memory.\n");
        out.push_str("# TYPE commonsnet_sessions_live gauge\n");
        let _ = writeln!(out, "commonsnet_sessions_live {sessions_live}");
        out.push_str("# HELP commonsnet_jobs Jobs in the store, by status.\n");
        out.push_str("# TYPE commonsnet_jobs gauge\n");
        for &status in JobStatus::ALL {
            let n = jobs
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "commonsnet_jobs{{status=\"{status}\"}} {n}");
        }
        out
    }
}
