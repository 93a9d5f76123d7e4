//! Request metrics in Prometheus's text format, at `GET /metrics` (feature `metrics`).
//!
//! Phase 7 (topic 7.4) teaches what these mean and how Prometheus and Grafana use them; this
//! module is the machinery, so that any crate switches it on with one line of its
//! [`ServeOptions`](crate::server::ServeOptions). Every request through
//! [`Conventions`](crate::middleware::Conventions) is counted and timed:
//!
//! - `http_requests_total{method, route, status}`: a counter;
//! - `http_request_duration_seconds{method, route, status}`: a histogram (buckets from 1 ms to
//!   10 s), which Prometheus can add up across instances and turn into quantiles;
//! - `http_requests_in_flight`: a gauge, up while a request is served and down when it is
//!   answered, or when its client goes away first;
//! - `process_*`: CPU seconds, resident memory, open file descriptors, start time (Linux).
//!
//! `route` is the pattern the request matched (`/tasks/{id}`), never its path: a path holds ids,
//! and a scanner sends thousands of paths; each distinct label value is a new time series kept in
//! Prometheus's memory. A request that matched no route is `route="unmatched"`, and a method
//! outside HTTP's nine is `method="OTHER"`, for the same reason. A crate adds its own metrics (a
//! business metric) to [`HttpMetrics::registry`].
//!
//! Python's `prometheus_client` (or `prometheus-fastapi-instrumentator`) does the same with
//! module-level globals; here a [`Registry`] belongs to the app, so that two apps in one test
//! process count apart.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpResponse, web};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use utoipa::openapi::OpenApi;

use crate::error::ApiError;

/// The path the metrics are served at.
pub const PATH: &str = "/metrics";

/// The histogram's upper bounds, in seconds: fine where an API's answers are (milliseconds), coarse
/// where only a timeout is.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// An app's metrics: the HTTP ones, the process's, and whatever the crate registers. Cloning it is
/// cheap and shares the counts.
#[derive(Clone)]
pub struct HttpMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics")
            .field("in_flight", &self.inner.in_flight.get())
            .finish_non_exhaustive()
    }
}

impl HttpMetrics {
    /// A registry with the HTTP metrics and (on Linux) the process metrics in it.
    pub fn new() -> prometheus::Result<Self> {
        const LABELS: &[&str] = &["method", "route", "status"];
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered."),
            LABELS,
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from a request's arrival to its response, in seconds.",
            )
            .buckets(BUCKETS.to_vec()),
            LABELS,
        )?;
        let in_flight =
            IntGauge::new("http_requests_in_flight", "HTTP requests being served now.")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                duration,
                in_flight,
            }),
        })
    }

    /// The registry, for a crate's own metrics (`registry().register(Box::new(counter.clone()))`).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Every metric, in Prometheus's text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.inner.registry.gather())
    }

    /// A request has arrived: the gauge goes up until the returned guard is finished or dropped.
    pub(crate) fn start(&self) -> InFlight {
        self.inner.in_flight.inc();
        InFlight {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// Mounts `GET /metrics`.
    pub(crate) fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route(PATH, web::get().to(scrape));
    }

    /// `GET /metrics` in an OpenAPI document, so that it answers HEAD and OPTIONS like any route.
    pub(crate) fn document() -> OpenApi {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths(scrape), tags((name = "operations", description = "What operators and their tools read: metrics and health.")))]
        struct Doc;
        <Doc as utoipa::OpenApi>::openapi()
    }
}

/// A request being served. Dropped without [`InFlight::finish`] (its client went away), it only
/// brings the gauge back down.
#[derive(Debug)]
pub(crate) struct InFlight {
    metrics: HttpMetrics,
    started: Instant,
}

impl InFlight {
    /// Counts and times the answered request. `route` is the pattern it matched, if any.
    pub(crate) fn finish(self, method: &Method, route: Option<&str>, status: StatusCode) {
        let labels = [
            method_label(method),
            route.unwrap_or(UNMATCHED),
            status.as_str(),
        ];
        let inner = &self.metrics.inner;
        inner.requests.with_label_values(&labels).inc();
        inner
            .duration
            .with_label_values(&labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.inner.in_flight.dec();
    }
}

/// HTTP's own methods as themselves; anything else as `OTHER`, so that a client cannot make
/// series by inventing methods.
fn method_label(method: &Method) -> &str {
    match *method {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS
        | Method::TRACE
        | Method::CONNECT => method.as_str(),
        _ => "OTHER",
    }
}

/// The app's metrics, for Prometheus to scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Every metric, in Prometheus's text exposition format 0.0.4.",
            content_type = "text/plain", body = String),
    ),
)]
async fn scrape(metrics: web::Data<HttpMetrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics
        .render()
        .map_err(|err| ApiError::internal(anyhow::anyhow!("rendering the metrics: {err}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            format!("{}; charset=utf-8", prometheus::TEXT_FORMAT),
        ))
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
        .body(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_by_route_and_the_gauge_comes_back_down() {
        let metrics = HttpMetrics::new().expect("the metrics register");
        let first = metrics.start();
        let second = metrics.start();
        assert!(
            metrics
                .render()
                .unwrap()
                .contains("http_requests_in_flight 2")
        );
        first.finish(&Method::GET, Some("/tasks/{id}"), StatusCode::OK);
        drop(second);
        let text = metrics.render().unwrap();
        assert!(text.contains("http_requests_in_flight 0"), "{text}");
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/tasks/{id}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/tasks/{id}",status="200",le="+Inf"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn invented_methods_and_unmatched_paths_share_one_series() {
        let metrics = HttpMetrics::new().expect("the metrics register");
        for method in ["BREW", "PROPFIND"] {
            metrics.start().finish(
                &Method::from_bytes(method.as_bytes()).unwrap(),
                None,
                StatusCode::NOT_FOUND,
            );
        }
        let text = metrics.render().unwrap();
        assert!(
            text.contains(
                r#"http_requests_total{method="OTHER",route="unmatched",status="404"} 2"#
            ),
            "{text}"
        );
    }
}
