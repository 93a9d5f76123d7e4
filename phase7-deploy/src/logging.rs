//! Topic 7.5: structured logging, one JSON object a line.
//!
//! **Roadmap:** "Observability: structured logging, JSON logs for easier parsing/searching".
//!
//! **Python:** `structlog` or `python-json-logger` on the `logging` module, a middleware that binds
//! a request id with `contextvars`, and care not to log `request.headers` whole.
//!
//! **Rust:** `tracing`, set up by `common::telemetry`: `LOG_FORMAT=json` writes one object a line
//! to stderr, with `timestamp`, `level`, `message` and the event's fields, and under `span` the
//! fields of the request's span, which `Conventions` opens for every request: `request_id`,
//! `http.route` (the matched pattern), `http.request.method`, `url.path`. Its access line adds
//! `status` and `latency_ms`; the line that logs a 500's cause adds `sentry_event_id`, the id of
//! the event the error tracker got (7.3), whose `request_id` tag is the same as the line's. Levels
//! come from `RUST_LOG` (`info` by default; `RUST_LOG=debug,h2=info` for more of ours only).
//!
//! ```json
//! {"timestamp":"2026-12-02T18:36:00.962359Z","level":"INFO","message":"request","method":"PATCH",
//!  "path":"/tasks/1","status":200,"latency_ms":1.91,"target":"common::middleware",
//!  "span":{"http.request.method":"PATCH","http.route":"/tasks/{id}","request_id":"1305ffc014df9d44",
//!          "url.path":"/tasks/1","user_agent.original":"curl/7.88.1","name":"request", ...}}
//! ```
//!
//! (one line in the log; broken here to be read).
//!
//! What is never logged: a request's query string, headers or body, and any URL with a password
//! (`common::config::SecretUrl` prints itself redacted). `tests/api/logging.rs` sends a password in
//! a body and a token in a header, then searches the whole log for them.
//!
//! **Why:** a log collector (Loki, Elasticsearch, CloudWatch) indexes fields, not sentences:
//! `status >= 500 AND http.route = "/tasks/{id}"` is a query on JSON and a regular expression on
//! text. A span carries the request's fields to every line logged while serving it, so no handler
//! passes a request id around; and the line that reports an error carries the id that finds its
//! event, and the event carries the request id that finds its lines.
