//! Topic 7.3: error tracking, with Sentry.
//!
//! **Roadmap:** "Observability: Sentry, error tracking".
//!
//! **Python:** `sentry_sdk.init(dsn=..., environment=..., release=..., send_default_pii=False,
//! integrations=[FastApiIntegration()])` at import time; unhandled exceptions and 500s become
//! events with the request attached, and `before_send` scrubs what must not leave.
//!
//! **Rust:** the `sentry` crate, initialised in `main` before the runtime starts (its transport
//! runs on a thread of its own, and its panic hook must be in place before any thread can panic),
//! its guard kept alive until the end so that queued events are flushed. `common::tracking` does
//! the rest for any crate: `sentry-actix` gives each request a scope holding the request (method,
//! URL without its query, a short allow-list of headers) and the matched route as the event's
//! transaction; `Conventions` tags the scope with the request id and sends the cause of every 500;
//! a panic is sent by sentry's panic hook and answered as a 500 problem instead of a dropped
//! connection. Events carry the `release` (`phase7-deploy@0.1.0`) and the `environment`
//! (`SENTRY_ENVIRONMENT`). The envelopes travel over the workspace's reqwest and rustls.
//!
//! With `--fault-routes` (never in production), this module's routes fail on purpose:
//! `GET /faults/panic` panics, `GET /faults/error` fails with a cause, and `GET /faults/slow?ms=N`
//! takes N milliseconds (for watching a graceful shutdown). `tests/api/errors.rs` runs a receiver
//! on 127.0.0.1 as the DSN and reads the envelopes: what a stranger's Sentry would get.
//!
//! **Why:** a log line says that something failed; an error tracker groups the failures, counts
//! them per release, and keeps the stack trace and the request, so that "since the deploy at
//! 14:02, 3 % of `PATCH /tasks/{id}` fail with this error" is one page. The request id joins an
//! event to the log lines of the same request. What the tracker receives leaves the company:
//! `Authorization`, cookies, query strings and bodies are removed before sending, whatever the
//! SDK's defaults.

use std::time::Duration;

use actix_web::{HttpResponse, get};
use common::ApiError;
use common::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A panic, on purpose: the tracker gets an event, the client a 500 problem, and the worker goes
/// on serving.
#[utoipa::path(
    tag = "faults",
    operation_id = "fault_panic",
    responses((status = 500, description = "Always: the handler panics", content_type = "application/problem+json", body = common::Problem)),
)]
#[get("/faults/panic")]
pub(crate) async fn panic() -> HttpResponse {
    panic!("a deliberate panic, to show the error tracker at work")
}

/// A failure with a cause, on purpose: the tracker gets the cause; the client sees none of it.
#[utoipa::path(
    tag = "faults",
    operation_id = "fault_error",
    responses((status = 500, description = "Always: the handler fails", content_type = "application/problem+json", body = common::Problem)),
)]
#[get("/faults/error")]
pub(crate) async fn fail() -> Result<HttpResponse, ApiError> {
    let cause = anyhow::anyhow!("the ledger is out of balance by 3 cents")
        .context("a deliberate failure, to show the error tracker at work");
    Err(ApiError::internal(cause))
}

/// How long to take.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Slow {
    /// Milliseconds, up to 10 000.
    #[param(minimum = 0, maximum = 10_000)]
    pub ms: u64,
}

/// What `GET /faults/slow` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Slept {
    pub slept_ms: u64,
}

/// A request that takes `ms` milliseconds: one in flight when SIGTERM arrives still finishes, if it
/// takes less than the drain and the 5 s grace together.
#[utoipa::path(
    tag = "faults",
    operation_id = "fault_slow",
    params(Slow),
    responses((status = 200, description = "After `ms` milliseconds", body = Slept)),
)]
#[get("/faults/slow")]
pub(crate) async fn slow(Query(slow): Query<Slow>) -> Result<HttpResponse, ApiError> {
    if slow.ms > 10_000 {
        return Err(ApiError::unprocessable(vec![common::FieldError::new(
            "ms",
            "range",
            "must be from 0 to 10000",
        )]));
    }
    tokio::time::sleep(Duration::from_millis(slow.ms)).await;
    Ok(HttpResponse::Ok().json(Slept { slept_ms: slow.ms }))
}
