//! Topic 7.4: metrics, for Prometheus to scrape and Grafana to draw.
//!
//! **Roadmap:** "Observability: Prometheus/Grafana, metrics (requests per second, latency)".
//!
//! **Python:** `prometheus_client` (or `prometheus-fastapi-instrumentator`): module-level
//! `Counter("http_requests_total", ..., ["method", "handler", "status"])` and `Histogram` objects,
//! a middleware that labels each request with its route template, and `make_asgi_app()` mounted at
//! `/metrics`.
//!
//! **Rust:** the `prometheus` crate, in `common::metrics`: a `Registry` per app, a counter and a
//! histogram labelled by method, **matched route** and status, an in-flight gauge and the process
//! collector (CPU, memory, file descriptors), filled in by the `Conventions` middleware that every
//! request already passes through, and served at `GET /metrics` in the text format. This crate
//! adds its business metrics, [`TaskMetrics`], to the same registry. Around it, in
//! `phase7-deploy/deploy/`:
//!
//! - `prometheus/prometheus.yml` scrapes the app every 5 s (`promtool check config`);
//! - `prometheus/alerts.yml` alerts when more than 5 % of requests fail for 5 minutes, and when the
//!   p99 latency of a route is over 500 ms for 10 minutes (`promtool check rules`), and
//!   `prometheus/alerts.test.yml` proves both fire, and stay quiet, on made-up series
//!   (`promtool test rules`);
//! - `grafana/dashboards/phase7.json` draws requests per second, the error rate and the p50, p95
//!   and p99 latency by route, the requests in flight, tasks completed and memory; Grafana is
//!   provisioned with it and with Prometheus as its data source (`grafana/provisioning/`), and
//!   `tests/api/metrics.rs` checks that every query in it names a metric the app emits.
//!
//! **Why:** the route label is the template (`/tasks/{id}`), never the path: each distinct label
//! value is a series Prometheus keeps in memory, and a scanner sending 10,000 paths would make
//! 10,000 of them (a request that matched nothing is `route="unmatched"`). Latency is a histogram,
//! not a summary, because quantiles of a summary cannot be added across instances and histogram
//! buckets can (`histogram_quantile(0.99, sum by (le, route) (rate(..._bucket[5m])))`). A count of
//! requests tells how busy the service is; a business metric tells whether it is doing its job,
//! which is what an alert at 3 a.m. should be about.

use prometheus::{IntCounter, Registry};

/// The Grafana dashboard, as provisioned: the tests check its queries against `/metrics`.
pub const DASHBOARD: &str = include_str!("../deploy/grafana/dashboards/phase7.json");

/// The to-do list's own metrics.
#[derive(Debug, Clone)]
pub struct TaskMetrics {
    created: IntCounter,
    completed: IntCounter,
}

impl TaskMetrics {
    pub fn new() -> prometheus::Result<Self> {
        Ok(Self {
            created: IntCounter::new("tasks_created_total", "Tasks created.")?,
            completed: IntCounter::new(
                "tasks_completed_total",
                "Tasks marked done (each task counted once per time it is done).",
            )?,
        })
    }

    /// Adds these metrics to `registry`, where `/metrics` finds them.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.created.clone()))?;
        registry.register(Box::new(self.completed.clone()))
    }

    pub(crate) fn created(&self) {
        self.created.inc();
    }

    pub(crate) fn completed(&self) {
        self.completed.inc();
    }
}
