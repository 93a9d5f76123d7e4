//! 3.5 Data migrations: change the schema and move the data with it.
//!
//! **Roadmap:** "Handling data migrations (moving data while changing schema)."
//!
//! **Python:** an Alembic `upgrade()` mixes `op.create_table(...)`, `op.execute("INSERT ... SELECT
//! ...")` and `op.drop_column(...)`, and `downgrade()` moves the data back.
//!
//! **Rust:** the same, in SQL: migration `2026-11-26-000002_reviewers_table` gives reviewers a table
//! of their own. Reviews used to carry a typed-in name (`reviews.reviewer`); `up.sql` creates
//! `reviewers` from the distinct names, points every review at its reviewer (`reviewer_id`), then
//! drops the old column; `down.sql` puts the names back and drops the table. diesel runs each
//! migration in a transaction, so a failure halfway leaves the database as it was. SQLite cannot add
//! a `NOT NULL` foreign key to a filled table, so its version rebuilds the table (create, copy,
//! drop, rename), the documented SQLite way; PostgreSQL alters it in place.
//!
//! `tests/api/data_migration.rs` fills the old schema, migrates up and checks every review kept its
//! reviewer, then migrates down and checks again, on SQLite and PostgreSQL.
//!
//! `GET /reviewers` lists reviewers with how many reviews each wrote: the new shape at work.
//!
//! **Why:** deploying a schema change and a data fix separately leaves a window where the code and
//! the data disagree; one migration, in one transaction, leaves none.

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::{Database, blocking};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use common::db::schema::{reviewers, reviews};

/// A reviewer and how many reviews they wrote.
#[derive(Debug, Serialize, Queryable, ToSchema)]
pub struct ReviewerSummary {
    pub id: i32,
    pub name: String,
    #[schema(minimum = 0)]
    pub reviews: i64,
}

/// `GET /reviewers`: each reviewer with the number of reviews they wrote.
#[utoipa::path(
    tag = "3.5 data migrations",
    responses((status = 200, description = "Every reviewer, by name, with a count of their reviews", body = [ReviewerSummary]))
)]
#[get("/reviewers")]
pub(crate) async fn list(database: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let summaries = blocking(move || -> anyhow::Result<Vec<ReviewerSummary>> {
        let mut conn = database.conn()?;
        Ok(reviewers::table
            .left_join(reviews::table)
            .group_by((reviewers::id, reviewers::name))
            .select((
                reviewers::id,
                reviewers::name,
                diesel::dsl::count(reviews::id.nullable()),
            ))
            .order(reviewers::name)
            .load(&mut conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(summaries))
}
