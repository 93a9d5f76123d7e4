//! The chat's tests, against real servers on 127.0.0.1 spoken to over real WebSockets: SQLite,
//! and PostgreSQL and Redis when `DATABASE_URL` and `REDIS_URL` are set (required with
//! `REQUIRE_SERVICES=1`); the browser test when Chromium and Node are installed.

#![allow(clippy::unwrap_used)]

mod browser;
mod connections;
mod history;
mod instances;
mod protocol;
mod resume;
mod support;
