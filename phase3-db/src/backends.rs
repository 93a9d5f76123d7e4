//! 3.6 Several backends: the same code on SQLite and PostgreSQL, chosen by `DATABASE_URL`.
//!
//! **Roadmap:** SQLAlchemy's engines: one model, any database its URL names.
//!
//! **Python:** `create_engine("sqlite:///app.db")` or `create_engine("postgresql://...")`; the ORM
//! writes each dialect's SQL.
//!
//! **Rust:** diesel checks queries against a backend at compile time, so "any backend" is a type:
//! `common::db::AnyConnection`, derived with `#[derive(diesel::MultiConnection)]`, is an enum over a
//! `SqliteConnection` and a `PgConnection`, and a query written once runs on whichever the URL
//! chose. The choice and its limits, worth knowing before choosing it yourself:
//! - what both backends share (selects, joins, aggregates, inserts, updates, `sql_query`) is written
//!   once; what is backend-specific (`INSERT ... RETURNING`, `ON CONFLICT`) goes through
//!   `common::with_backend!`, which compiles the same code once for each backend;
//! - the migrations are two directories, because the SQL differs (`SERIAL` against
//!   `AUTOINCREMENT`, and SQLite rebuilding a table where PostgreSQL alters it);
//! - every test of this phase runs on SQLite, and on PostgreSQL too when `DATABASE_URL` names one.
//!
//! The alternatives: generic code over `diesel::Connection` (every function generic, hard to read),
//! or one backend only (simplest, and usually right for a real service).
//!
//! The URL decides: a file path (or `sqlite://PATH`) is SQLite, a `postgres://` URL PostgreSQL, and
//! any other scheme (`mysql://`, `mongodb://`) is refused with the list of what works, rather than
//! taken for a file name ([`crate::database`] reads it).
//!
//! `GET /backend` says which backend serves, and its version.
//!
//! **Why:** SQLite makes `cargo run` work with nothing installed; PostgreSQL is what production
//! runs. Running the same tests on both keeps the two honest.

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::{AnyConnection, Backend, Database, blocking};
use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The server's own description of itself: `SELECT sqlite_version()` or `SELECT version()`.
pub fn version(conn: &mut AnyConnection) -> QueryResult<String> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => "SELECT sqlite_version() AS version",
        AnyConnection::Postgresql(_) => "SELECT version() AS version",
    };
    diesel::sql_query(sql)
        .get_result::<Version>(conn)
        .map(|v| v.version)
}

/// Which database serves this phase.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    Sqlite,
    Postgres,
}

/// What `GET /backend` says.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackendInfo {
    backend: BackendName,
    /// The server's own words: `SELECT sqlite_version()` or `SELECT version()`.
    version: String,
    /// The database's URL or path, without a password.
    url: String,
}

/// `GET /backend`: which database serves this phase.
#[utoipa::path(
    tag = "3.6 several backends",
    responses((status = 200, description = "The backend, its version, and its URL without a password", body = BackendInfo))
)]
#[get("/backend")]
pub(crate) async fn backend(database: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let info = blocking(move || -> anyhow::Result<BackendInfo> {
        let mut conn = database.conn()?;
        Ok(BackendInfo {
            backend: match database.backend {
                Backend::Sqlite => BackendName::Sqlite,
                Backend::Postgres => BackendName::Postgres,
            },
            version: version(&mut conn)?,
            url: database.display_url.clone(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(info))
}
