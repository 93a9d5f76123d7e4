//! The crate's integration tests, as one test binary: each file here is a module, so the tests link
//! the crate and its dependencies once, not once a file (the root README's "Build once" has the
//! numbers). A new test file is a new `mod` line below; `cargo test -p phase2-frameworks <name>` runs
//! the tests whose path contains `<name>`.

mod async_handlers;
mod binary;
mod concurrency;
mod dependencies;
mod methods;
mod openapi;
mod relations;
mod reset;
mod rules;
mod support;
mod viewsets;
mod writes;
