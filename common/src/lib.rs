//! What every phase shares, so that each phase crate holds only what it teaches.
//!
//! - [`problem`] and [`error`]: one error type, rendered as `application/problem+json` (RFC 9457).
//! - [`middleware`]: what every request goes through: a request id and a log line, HEAD, OPTIONS
//!   and 405 for every route (from [`methods`]), and a problem for every error, actix's own included.
//! - [`extract`]: `Path`, `Query`, `Json` and `Form` extractors whose errors name the failing field;
//!   [`query`]: one query string read by several extractors.
//! - [`manifest`]: a crate's topics, from which its tour and its `GET /` index are made.
//! - [`openapi`]: the errors every document shares, and Swagger UI.
//! - [`money`]: amounts in integer minor units with their currency, for phase 6 and the shop.
//! - [`config`], [`telemetry`], [`server`]: flags and env, logging, serving with graceful shutdown.
//! - [`testing`]: start any phase on `127.0.0.1:0` for a test or the grader.
//! - What phase 7 teaches, for any crate to switch on in its [`server::ServeOptions`]: [`metrics`]
//!   (`/metrics` for Prometheus, feature `metrics`), [`health`] (`/health/live` and
//!   `/health/ready`, feature `health`) and [`tracking`] (500s and panics sent to Sentry, feature
//!   `error-tracking`).

pub mod conditional;
pub mod config;
#[cfg(feature = "db")]
pub mod db;
pub mod error;
pub mod extract;
#[cfg(feature = "health")]
pub mod health;
pub mod healthcheck;
pub mod manifest;
pub mod methods;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod middleware;
pub mod money;
pub mod openapi;
pub mod problem;
pub mod query;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "validation")]
pub mod rules;
pub mod server;
pub mod telemetry;
pub mod testing;
#[cfg(feature = "error-tracking")]
pub mod tracking;

pub use error::ApiError;
pub use middleware::RequestId;
pub use problem::{FieldError, Problem};
