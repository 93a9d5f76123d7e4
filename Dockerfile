# syntax=docker/dockerfile:1
#
# A production image of any crate of the workspace (phase 7, topic 7.1; phase7-deploy/src/docker.rs
# explains each choice):
#
#   docker build --build-arg CRATE=phase7-deploy -t phase7 .
#   docker run --rm -p 8007:8080 phase7
#
# Dependencies are compiled in a layer of their own (cargo-chef), so that a change to our code
# rebuilds only our crates. The runtime is distroless: glibc, CA certificates and a non-root user,
# no shell; the service and its health check are the only files added.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app
# Symbols are for profiling on a workstation; the image carries the stripped binary.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG CRATE=phase7-deploy
COPY --from=planner /app/recipe.json recipe.json
# The dependency layer: rebuilt only when the recipe (manifests, lock file) changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json --package "${CRATE}" --package common
COPY . .
RUN cargo build --release --locked --package "${CRATE}" --bin "${CRATE}" --package common --bin healthcheck \
    && mkdir -p /out \
    && cp "target/release/${CRATE}" /out/service \
    && cp target/release/healthcheck /out/healthcheck

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG CRATE=phase7-deploy
# The release workflow adds the source, version and revision labels (docker/metadata-action).
ARG REVISION=unknown
LABEL org.opencontainers.image.title="${CRATE}" \
      org.opencontainers.image.description="One crate of the Rust API roadmap workspace" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=builder /out/service /out/healthcheck /usr/local/bin/
# Listen on every interface of the container; logs as JSON for the collector. A crate with
# `/health/live` (phase 7, the projects) is built with HEALTHCHECK_PATH=/health/live.
ARG HEALTHCHECK_PATH=/
ENV HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json \
    HEALTHCHECK_PATH=${HEALTHCHECK_PATH}
EXPOSE 8080
# distroless's `nonroot` user, by number, so that the host and Kubernetes (`runAsNonRoot`) can
# tell it is not root without reading the image's /etc/passwd.
USER 65532:65532
# SIGTERM is a graceful stop: readiness goes down, requests in flight finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]
