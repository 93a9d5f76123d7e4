//! `GET /health/live` and `GET /health/ready` (feature `health`).
//!
//! Two questions an orchestrator (Kubernetes, a load balancer, Docker's `HEALTHCHECK`) asks, with
//! different consequences:
//!
//! - **live:** is the process able to answer at all? A failure gets it restarted, so this asks
//!   nothing of the database: a database outage must not restart every instance at once.
//! - **ready:** should it get traffic now? It asks each [`Probe`] (the database, Redis, ...), all at
//!   once and each within [`PROBE_TIMEOUT`], and answers `503` naming what is down (why goes to
//!   the log, at `warn`), so that traffic goes to the instances that can serve it. It also answers `503` once the server is shutting
//!   down, so that a load balancer stops sending before the listener closes.
//!
//! Python services write these by hand, or with `fastapi-health` or `django-health-check`; the
//! shape here is the same: a list of named checks.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use futures_util::future::{BoxFuture, join_all};
use serde::Serialize;
use utoipa::openapi::OpenApi;

use crate::error::ApiError;
use crate::server::Stopping;

/// How long a probe may take before it counts as down: a database that does not answer is down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

type Check = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// One dependency the app needs to serve: a name (`database`) and a check that says why it is
/// down, if it is.
#[derive(Clone)]
pub struct Probe {
    name: &'static str,
    check: Arc<Check>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("name", &self.name).finish()
    }
}

impl Probe {
    /// A probe called `name` that runs `check` each time readiness is asked.
    pub fn new<F, Fut>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// Runs the check, within [`PROBE_TIMEOUT`].
    pub async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(PROBE_TIMEOUT, (self.check)()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        }
    }
}

/// The probes readiness asks.
#[derive(Debug, Clone, Default)]
pub struct Health {
    probes: Vec<Probe>,
}

impl Health {
    pub fn new(probes: Vec<Probe>) -> Self {
        Self { probes }
    }

    pub(crate) fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready));
    }

    pub(crate) fn document() -> OpenApi {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths(live, ready), components(schemas(Liveness, Readiness)))]
        struct Doc;
        <Doc as utoipa::OpenApi>::openapi()
    }
}

/// The process answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Liveness {
    /// Always `pass`.
    status: &'static str,
}

/// Every probe passed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `pass`.
    status: &'static str,
    /// Each probe's name and `pass`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    checks: serde_json::Map<String, serde_json::Value>,
}

/// Whether the process can answer at all: what a restart would fix.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "operations",
    operation_id = "health_live",
    responses((status = 200, description = "The process answers.", body = Liveness)),
)]
async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Liveness { status: "pass" })
}

/// Whether the app should get traffic: every dependency answers, and it is not shutting down.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "health_ready",
    responses(
        (status = 200, description = "Every probe passed.", body = Readiness),
        (status = 503, description = "A probe failed, or the server is shutting down; `checks` \
            names each probe with `pass` or `fail`.",
            content_type = "application/problem+json", body = crate::Problem),
    ),
)]
async fn ready(
    health: web::Data<Health>,
    stopping: web::Data<Stopping>,
) -> Result<HttpResponse, ApiError> {
    let results = join_all(health.probes.iter().map(Probe::check)).await;
    let mut checks = serde_json::Map::new();
    let mut down = Vec::new();
    for (probe, result) in health.probes.iter().zip(results) {
        // Why a probe failed goes to the log, not to whoever asks: the reason can name hosts and
        // addresses, and readiness answers anyone.
        let value = match result {
            Ok(()) => "pass",
            Err(why) => {
                tracing::warn!(probe = probe.name, reason = %why, "a readiness probe failed");
                down.push(probe.name);
                "fail"
            }
        };
        checks.insert(probe.name.to_owned(), value.into());
    }
    let detail = if stopping.is_stopping() {
        Some("the server is shutting down".to_owned())
    } else if !down.is_empty() {
        Some(format!("not ready: {} down", down.join(", ")))
    } else {
        None
    };
    match detail {
        None => Ok(HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(Readiness {
                status: "pass",
                checks,
            })),
        Some(detail) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
            .with_member("checks", serde_json::Value::Object(checks))),
    }
}
