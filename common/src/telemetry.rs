//! Logging set-up with `tracing`: readable lines by default, JSON with `--log-format json`.
//!
//! Python's `logging` module writes strings; `tracing` records structured events and spans (a request
//! is a span, so every line logged while serving it carries its request id, route and status). The
//! level comes from `RUST_LOG` (for example `RUST_LOG=debug`), `info` by default.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

static JSON: AtomicBool = AtomicBool::new(false);

/// Whether logs are JSON (`--log-format json`): the request span then carries the OpenTelemetry HTTP
/// fields a log collector indexes; people get a short line instead.
pub fn json_logs() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Installs the global subscriber. Call it once, at the top of `main`; later calls change nothing.
pub fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, so that stdout carries only what a program prints for its user (the tour).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init` fails only when a subscriber is already set, as in tests that start several servers.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
