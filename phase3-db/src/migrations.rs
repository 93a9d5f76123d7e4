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
//! `GET /migrations` shows the same status over HTTP. The server applies pending migrations when it
//! starts.
//!
//! **Why:** a schema changed by hand exists on one machine only; a migration is code, reviewed,
//! versioned, and replayed identically on every database, in tests first.

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::{Database, LIBRARY, MigrationSet, REVIEWS, blocking};

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

/// Runs a `migrate` command and returns what to print.
pub fn run(database: &Database, command: MigrateCommand) -> anyhow::Result<String> {
    Ok(match command {
        MigrateCommand::Up => {
            let applied = database.migrate()?;
            if applied.is_empty() {
                "nothing to apply: the schema is up to date".to_owned()
            } else {
                format!("applied {}", applied.join(", "))
            }
        }
        MigrateCommand::Down => format!("reverted {}", database.revert_last()?),
        MigrateCommand::Status => database
            .migration_status()?
            .iter()
            .map(|m| format!("[{}] {}\n", if m.applied { "x" } else { " " }, m.name))
            .collect(),
    })
}

/// `GET /migrations`: every migration and whether it has run.
#[get("/migrations")]
pub(crate) async fn status(database: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let status = blocking(move || database.migration_status()).await?;
    let body: Vec<serde_json::Value> = status
        .into_iter()
        .map(|m| serde_json::json!({"name": m.name, "applied": m.applied}))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
