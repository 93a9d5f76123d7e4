//! Topic 7.1: Docker, a small production image of any crate of the workspace.
//!
//! **Roadmap:** "Docker: writing efficient multistage Dockerfiles (reduce image size)".
//!
//! **Python:** a `python:3.12-slim` builder stage that `pip wheel`s the requirements, a runtime
//! stage that installs the wheels, `USER app`, `CMD ["gunicorn", ...]`; the image carries the
//! interpreter and every dependency's source, some hundreds of megabytes.
//!
//! **Rust:** the workspace's `Dockerfile` (at its root, since the build context is the whole
//! workspace): `docker build --build-arg CRATE=phase7-deploy -t phase7 .`.
//!
//! - **Stage `planner`/`builder`, with cargo-chef:** `cargo chef prepare` reduces the workspace
//!   to a recipe (the manifests and lock file), `cargo chef cook --release --locked` builds every
//!   dependency from it in a layer of its own, and only then is the source copied in and the one
//!   crate built. Editing a handler rebuilds our crates, not the 400 below them. The recipe
//!   changes with every new workspace member or dependency, and then the layer is rebuilt: that is
//!   the cost, paid once per dependency change. BuildKit cache mounts (`--mount=type=cache` on
//!   `target/` and the registry) would keep the compiled units across any change instead, but they
//!   live on the build host, not in the image's layers, so a CI runner that starts empty (as
//!   GitHub's do) gets nothing from them; a cooked layer is a layer, which BuildKit's exported
//!   cache carries from one run to the next (`release.yml` keeps it in GitHub's cache).
//! - **Stage `runtime`, `gcr.io/distroless/cc-debian12:nonroot`:** glibc, CA certificates, a
//!   `nonroot` user (65532), no shell and no package manager: nothing for an intruder to use and
//!   nothing to patch. The binary and its health check are the only files added. SQLite and libpq are compiled into it,
//!   and TLS is rustls, so nothing else is needed. The image is the base's 23 MB or so plus the
//!   binary (22.6 MB stripped for this crate) and the health check (1 MB): some 47 MB, where a
//!   Python one is 150 to 400.
//! - **`HEALTHCHECK`** runs `healthcheck`, a twenty-line binary of `common`'s
//!   (`common/src/bin/healthcheck.rs`) copied in beside the service: the image has no shell and
//!   no curl. It asks `http://127.0.0.1:$PORT$HEALTHCHECK_PATH` (`/health/live` for this crate,
//!   `/` for the others) and exits 0 on a 200. It reads the port from `PORT`, as the service
//!   does: change the port with `-e PORT=...`, not with a `--port` flag, which it cannot see. **`STOPSIGNAL SIGTERM`**, which the server takes
//!   as a graceful stop (see `crate::health`). OCI labels name the source and the crate.
//! - `.dockerignore` keeps `target/`, `.git/` and local databases out of the build context.
//!
//! `phase7-deploy/compose.yaml` runs the crate with PostgreSQL, Redis, Prometheus scraping it and
//! Grafana showing the dashboard of 7.4: `docker compose -f phase7-deploy/compose.yaml up`.
//! Secrets go in as files (`DATABASE_URL_FILE`, compose's `secrets:`), never as environment
//! variables that `docker inspect` would show. CI lints the Dockerfile with hadolint and checks the
//! compose file, and builds the release binary the image would hold (no Docker engine runs there).
//!
//! **Why:** a Rust binary needs no runtime beside libc, so the image can be the binary: small to
//! pull, quick to start, with nothing in it that is not the service. The cached dependency layer
//! is what keeps a Rust image build from taking the ten minutes a full build does on every push.
