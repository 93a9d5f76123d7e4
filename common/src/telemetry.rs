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
    // Logs go to stderr, so that stdout carries only what a program prints for its user (the tour).
    // `try_init` fails only when a subscriber is already set, as in tests that start several servers.
    let installed = match format {
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => install_json(std::io::stderr),
    };
    if installed.is_ok() && format == LogFormat::Json {
        log_panics();
    }
}

/// The level filter: `RUST_LOG`, or `info`.
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the JSON subscriber, writing to `writer`: the event's fields flattened into the line,
/// the current span's fields (the request's) under `span`.
fn install_json<W>(writer: W) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .with_ansi(false)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .try_init()
}

/// Reports a panic as one JSON line (in the span of the request that panicked, so with its
/// request id), where the standard hook would write several lines of text into the JSON log.
/// Hooks installed later (sentry's) still run first and then call this one.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        let location = info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()));
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
            .then(|| backtrace.to_string());
        tracing::error!(
            panic = message,
            location = location.as_deref(),
            backtrace = backtrace.as_deref(),
            thread = std::thread::current().name(),
            "panicked"
        );
    }));
}

/// What a panic said: `panic!("...")` carries a `&str` or a `String`.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// The log of this process, kept in memory as JSON lines: what the grader reads to grade the logs
/// of the servers it starts (topic 7.5). At most [`CapturedLog::CAPACITY`] lines are kept.
#[derive(Debug, Clone, Default)]
pub struct CapturedLog {
    lines: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl CapturedLog {
    pub const CAPACITY: usize = 50_000;

    /// Every line kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<String>> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::io::Write for CapturedLog {
    /// The formatter writes each event whole, with its newline, in one call.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.lock();
        for line in String::from_utf8_lossy(bytes).lines() {
            if lines.len() == Self::CAPACITY {
                lines.pop_front();
            }
            lines.push_back(line.to_owned());
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a JSON subscriber that writes into memory (`RUST_LOG`, `info` by default), once per
/// process; later calls return the same log. `None` when another subscriber was installed first.
pub fn capture() -> Option<CapturedLog> {
    static CAPTURED: std::sync::OnceLock<Option<CapturedLog>> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let log = CapturedLog::default();
            let writer = log.clone();
            install_json(move || writer.clone()).is_ok().then(|| {
                JSON.store(true, Ordering::Relaxed);
                log
            })
        })
        .clone()
}
