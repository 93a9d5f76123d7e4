//! The crate's integration tests, as one test binary: each file here is a module, so the tests link
//! the crate and its dependencies once, not once a file (the root README's "Build once" has the
//! numbers). A new test file is a new `mod` line below; `cargo test -p phase4-security <name>` runs
//! the tests whose path contains `<name>`.

mod app;
mod authorization;
mod binary;
mod idempotency;
mod openid;
mod rate_limit;
mod support;
mod tokens;
