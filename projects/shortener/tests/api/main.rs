//! The shortener's API tests, against real servers on 127.0.0.1: SQLite, and PostgreSQL and
//! Redis when `DATABASE_URL` and `REDIS_URL` are set (required with `REQUIRE_SERVICES=1`).

#![allow(clippy::unwrap_used)]

mod analytics;
mod instances;
mod keys;
mod links;
mod redirect;
mod support;
