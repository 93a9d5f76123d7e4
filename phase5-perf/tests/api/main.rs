//! The crate's integration tests, as one test binary: each file here is a module, so the tests link
//! the crate and its dependencies once. A new test file is a new `mod` line below; `cargo test -p
//! phase5-perf <name>` runs the tests whose path contains `<name>`.

// clippy.toml lets `#[test]` functions unwrap; the shared checks here (the queue's contract, the
// request helpers) are plain functions that tests call, and a panic in them is a failing test too.
#![allow(clippy::unwrap_used)]

mod app;
mod blocking;
mod client_cache;
mod jobs;
mod proxy;
mod server_cache;
mod support;
mod workers;
