//! The shop's API tests, against real servers on 127.0.0.1: SQLite, and PostgreSQL when
//! `DATABASE_URL` is set (required with `REQUIRE_SERVICES=1`).

#![allow(clippy::unwrap_used)]

mod catalogue;
mod orders;
mod payments;
mod stock;
mod support;
