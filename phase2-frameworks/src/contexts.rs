//! 2.9 Flask's contexts: what belongs to the application, and what to one request.
//!
//! **Roadmap:** "Contexts: Application context vs Request context."
//!
//! **Python:** Flask's `current_app` and `g` are context-local proxies: `current_app.config` is
//! application state, `g.request_id` lives for one request; both are reached through globals that
//! Flask swaps per request.
//!
//! **Rust:** no globals, two explicit places:
//! - application state is `web::Data<T>`, created once and shared by every worker (an `Arc`):
//!   [`AppStats`] counts the API's requests (those under `/api`) with an atomic, so sharing it
//!   needs no lock;
//! - request state lives in the request's *extensions*, a type-keyed map that dies with the request:
//!   the middleware every crate runs (`common::middleware::Conventions`) puts a [`RequestId`]
//!   there (and into the request's log span, so the access line carries it), the
//!   [`request_context`] middleware copies it into an `X-Request-Id` response header, and a
//!   handler reads it like any other extractor, as `GET /api/context` does.
//!
//! **Why:** both kinds of state are in the handler's signature, so a handler that needs the request
//! id says so, and nothing can read another request's `g` by mistake.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::get;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use common::RequestId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Application-wide state: created once, shared by every request on every worker.
#[derive(Debug)]
pub struct AppStats {
    pub started: Instant,
    pub requests: AtomicU64,
}

impl Default for AppStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            requests: AtomicU64::new(0),
        }
    }
}

/// Counts the request in the application state and returns its id in `X-Request-Id`.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(stats) = req.app_data::<web::Data<AppStats>>() {
        stats.requests.fetch_add(1, Ordering::Relaxed);
    }
    let request_id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

/// What `GET /api/context` shows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Context {
    /// This request's id (request state), also in `X-Request-Id` and in the log line.
    pub request_id: String,
    /// Requests the API (`/api`) has served so far, on every worker (application state).
    pub requests_served: u64,
    pub uptime_seconds: u64,
}

/// Both contexts side by side.
#[utoipa::path(tag = "flask",
    responses((status = 200, description = "The request's and the application's context", body = Context)))]
#[get("/context")]
pub(crate) async fn context(request_id: RequestId, stats: web::Data<AppStats>) -> HttpResponse {
    HttpResponse::Ok().json(Context {
        request_id: request_id.to_string(),
        requests_served: stats.requests.load(Ordering::Relaxed),
        uptime_seconds: stats.started.elapsed().as_secs(),
    })
}
