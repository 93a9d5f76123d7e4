//! What every phase shares, so that each phase crate holds only what it teaches.
//!
//! - [`problem`] and [`error`]: one error type, rendered as `application/problem+json` (RFC 9457).
//! - [`middleware`]: turns every error response, actix's own included, into a problem.
//! - [`extract`]: `Path`, `Query`, `Json` and `Form` extractors whose errors name the failing field.
//! - [`config`], [`telemetry`], [`server`]: flags and env, logging, serving with graceful shutdown and
//!   the start-up tour.
//! - [`testing`]: start any phase on `127.0.0.1:0` for a test or the grader.

pub mod config;
#[cfg(feature = "db")]
pub mod db;
pub mod error;
pub mod extract;
pub mod middleware;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod problem;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "validation")]
pub mod rules;
pub mod server;
pub mod telemetry;
pub mod testing;

pub use error::ApiError;
pub use problem::{FieldError, Problem};
