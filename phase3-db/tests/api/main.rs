//! The crate's integration tests, as one test binary: each file here is a module, so the tests link
//! the crate and its dependencies once, not once a file (the root README's "Build once" has the
//! numbers). A new test file is a new `mod` line below; `cargo test -p phase3-db <name>` runs
//! the tests whose path contains `<name>`.

mod async_access;
mod binary;
mod data_migration;
mod documents;
mod http;
mod key_value;
mod queries;
mod support;
