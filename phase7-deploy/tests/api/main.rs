//! Phase 7's tests: what an operator sees of the service. Most start the binary itself, as a
//! container would, and read what it writes and sends: its JSON log, the events a Sentry stand-in
//! receives, its answers while SIGTERM stops it under load.

mod config;
mod errors;
mod health;
mod logging;
mod metrics;
mod shutdown;
mod support;
mod tasks;
