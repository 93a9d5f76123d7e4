//! 3.4 Migrations: the schema changes only through versioned scripts, run by the binary itself.
//!
//! **Roadmap:** "Never change DB schema manually. Always use migration scripts."
//!
//! **Python:** Alembic: `alembic revision -m "add reviews"` writes a script with `upgrade()` and
//! `downgrade()`; `alembic upgrade head`, `alembic downgrade -1` and `alembic current` apply, undo
//! and show them, tracked in an `alembic_version` table.
//!
//! **Rust:** diesel migrations are directories of `up.sql` and `down.sql`, one per change, named by
//! date so they sort in order (`common/migrations/<set>/sqlite/` and `.../postgres/`: the two
//! dialects differ).
//! `embed_migrations!` compiles them into the binary, so a deployed server carries its schema
//! history and needs no migration tool beside it. diesel records what ran in
//! `__diesel_schema_migrations`. This phase's schema is two sets, the library and the reviews;
//! [`SCHEMA`] lists both, and `common::db::Database` runs, reverts
//! and reports them as one history:
//!
//! ```text
//! cargo run -p phase3-db -- migrate status
//! cargo run -p phase3-db -- migrate down      # undo the last one
//! cargo run -p phase3-db -- migrate up        # apply every pending one
//! ```
//!
//! Each migration is named as its directory is (`2026-11-25-000001_library`) by all three. `status`
//! only looks: it reads `__diesel_schema_migrations` itself, because diesel's harness creates that
//! table (and SQLite the file) before it reports that nothing has run, so `status` on a database
//! that does not exist yet lists every migration as pending and creates nothing; only `up` (or
//! starting the server) creates a SQLite file. `down` with nothing applied says so.
//!
//! `GET /migrations` shows the same status over HTTP. The server applies pending migrations when it
//! starts.
//!
//! **Why:** a schema changed by hand exists on one machine only; a migration is code, reviewed,
//! versioned, and replayed identically on every database, in tests first.

use std::fmt::Write as _;

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::{Database, LIBRARY, MigrationSet, REVIEWS, blocking};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde::Serialize;
use utoipa::ToSchema;

use common::db::url::{self as database, DatabaseUrl, Existing};

/// Everything phase 3's database is made of, in order: the library, then readers' reviews (whose
/// second migration is the data migration of topic 3.5).
pub static SCHEMA: [&MigrationSet; 2] = [&LIBRARY, &REVIEWS];

/// What `migrate` can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MigrateCommand {
    /// Apply every pending migration.
    Up,
    /// Revert the most recent migration.
    Down,
    /// List the migrations and whether each has run.
    Status,
}

/// A migration this build carries: its version (what diesel records) and its name (what people
/// read).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    version: String,
    name: String,
}

/// Every migration of [`SCHEMA`] for `url`'s backend, in order.
fn known(url: &DatabaseUrl) -> anyhow::Result<Vec<Known>> {
    fn listed<DB: diesel::backend::Backend, S: MigrationSource<DB> + 'static>(
        sets: impl Iterator<Item = &'static S>,
    ) -> anyhow::Result<Vec<Known>> {
        let mut all = Vec::new();
        for set in sets {
            for migration in set
                .migrations()
                .map_err(|err| anyhow::anyhow!("listing migrations: {err}"))?
            {
                all.push(Known {
                    version: migration.name().version().to_string(),
                    name: migration.name().to_string(),
                });
            }
        }
        all.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(all)
    }
    match url {
        DatabaseUrl::Sqlite(_) => {
            listed::<diesel::sqlite::Sqlite, _>(SCHEMA.iter().map(|set| &set.sqlite))
        }
        DatabaseUrl::Postgres(_) => {
            listed::<diesel::pg::Pg, _>(SCHEMA.iter().map(|set| &set.postgres))
        }
    }
}

/// The name of the migration `version`, as `status` shows it.
fn name_of(known: &[Known], version: &str) -> String {
    known.iter().find(|m| m.version == version).map_or_else(
        || format!("{version} (not a migration of this build)"),
        |m| m.name.clone(),
    )
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The versions diesel has recorded as run, read without creating anything: `None` when the
/// database does not exist yet, empty when no migration has run.
fn applied_versions(url: &DatabaseUrl) -> anyhow::Result<Option<Vec<String>>> {
    const VERSIONS: &str = "SELECT version FROM __diesel_schema_migrations ORDER BY version";
    let read = |err: diesel::result::Error| {
        anyhow::anyhow!("reading the migrations of {}: {err}", url.display())
    };
    let versions: Vec<Version> = match database::connect_existing(url)? {
        None => return Ok(None),
        Some(Existing::Sqlite(mut conn)) => {
            let table: Present = diesel::sql_query(
                "SELECT COUNT(*) > 0 AS present FROM sqlite_master \
                 WHERE type = 'table' AND name = '__diesel_schema_migrations'",
            )
            .get_result(&mut conn)
            .map_err(read)?;
            if !table.present {
                return Ok(Some(Vec::new()));
            }
            diesel::sql_query(VERSIONS).load(&mut conn).map_err(read)?
        }
        Some(Existing::Postgres(mut conn)) => {
            let table: Present = diesel::sql_query(
                "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present",
            )
            .get_result(&mut conn)
            .map_err(read)?;
            if !table.present {
                return Ok(Some(Vec::new()));
            }
            diesel::sql_query(VERSIONS).load(&mut conn).map_err(read)?
        }
    };
    Ok(Some(versions.into_iter().map(|v| v.version).collect()))
}

/// Runs a `migrate` command on the database `url` names, and returns what to print.
pub fn run(url: &str, command: MigrateCommand) -> anyhow::Result<String> {
    let url = DatabaseUrl::parse(url)?;
    let known = known(&url)?;
    let shown = url.display();
    let mut out = String::new();
    match command {
        MigrateCommand::Up => {
            let applied = Database::open(url.as_str(), &SCHEMA)?.migrate()?;
            if applied.is_empty() {
                writeln!(out, "nothing to apply: the schema of {shown} is up to date")?;
            }
            for name in applied {
                writeln!(out, "applied {name}")?;
            }
        }
        MigrateCommand::Down => match applied_versions(&url)? {
            None => writeln!(out, "nothing to revert: {shown} does not exist yet")?,
            Some(applied) if applied.is_empty() => {
                writeln!(
                    out,
                    "nothing to revert: no migration has been applied to {shown}"
                )?;
            }
            Some(_) => {
                let name = Database::open(url.as_str(), &SCHEMA)?.revert_last()?;
                writeln!(out, "reverted {name}")?;
            }
        },
        MigrateCommand::Status => {
            let applied = applied_versions(&url)?;
            let ran = applied.as_deref().unwrap_or_default();
            for migration in &known {
                let mark = if ran.contains(&migration.version) {
                    "x"
                } else {
                    " "
                };
                writeln!(out, "[{mark}] {}", migration.name)?;
            }
            for version in ran
                .iter()
                .filter(|v| !known.iter().any(|m| &m.version == *v))
            {
                writeln!(out, "[x] {}", name_of(&known, version))?;
            }
            if applied.is_none() {
                writeln!(
                    out,
                    "{shown} does not exist yet: `migrate up`, or starting the server, creates it"
                )?;
            }
        }
    }
    Ok(out)
}

/// A migration and whether it has run.
#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationState {
    /// As its directory is named: `2026-11-25-000001_library`.
    #[schema(example = "2026-11-25-000001_library")]
    name: String,
    applied: bool,
}

/// `GET /migrations`: every migration and whether it has run.
#[utoipa::path(
    tag = "3.4 migrations",
    responses((status = 200, description = "Every migration, in order, and whether it has run", body = [MigrationState]))
)]
#[get("/migrations")]
pub(crate) async fn status(database: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let status = blocking(move || database.migration_status()).await?;
    let body: Vec<MigrationState> = status
        .into_iter()
        .map(|m| MigrationState {
            name: m.name,
            applied: m.applied,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
