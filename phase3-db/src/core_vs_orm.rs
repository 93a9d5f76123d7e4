//! 3.1 Core vs ORM: the query builder, and when to write the SQL yourself.
//!
//! **Roadmap:** "Core vs ORM: Know when to drop down to SQL expression language."
//!
//! **Python:** SQLAlchemy's ORM (`select(Tag).join(...)`) maps rows to objects; Core and
//! `text("SELECT ...")` run expressions or raw SQL when the ORM gets in the way.
//!
//! **Rust:** diesel's query builder *is* typed SQL: [`report_orm`] builds the tag report (books per
//! tag, their reviews and average rating) from joins, `group_by` and aggregates, and the compiler
//! checks every column and type. [`report_sql`] writes the same report as a SQL string with
//! `sql_query`, read into a `#[derive(QueryableByName)]` struct whose fields name their SQL types;
//! nothing is checked until it runs. `tests/api/queries.rs` checks both return the same rows on
//! every backend, and a unit test shows the SQL the builder generates (`debug_query`).
//!
//! Drop down to SQL for what the builder cannot say, or says badly: window functions, recursive
//! CTEs, vendor features (`LATERAL`, `FILTER`), or a hand-tuned query a DBA gave you. Keep values
//! out of the string: bind them (`.bind::<Integer, _>(x)`), never format them in.
//!
//! `GET /reports/tags?using=orm|sql` serves either.
//!
//! **Why:** the builder catches a renamed column at compile time; raw SQL is the escape hatch, and
//! a test that compares the two keeps the hatch honest.

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::schema::{book_tags, tags};
use common::db::{AnyConnection, Database, blocking};
use common::extract::Query;
use diesel::dsl::{count, sum};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use common::db::schema::reviews;

/// One row of the tag report.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName)]
pub struct TagReport {
    #[diesel(sql_type = Text)]
    pub tag: String,
    /// Books with this tag.
    #[diesel(sql_type = BigInt)]
    pub books: i64,
    /// Reviews of those books.
    #[diesel(sql_type = BigInt)]
    pub reviews: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    #[serde(skip)]
    pub rating_sum: Option<i64>,
}

impl TagReport {
    /// The average rating, if the tag's books have any reviews.
    pub fn average_rating(&self) -> Option<f64> {
        let sum = self.rating_sum?;
        (self.reviews > 0).then(|| sum as f64 / self.reviews as f64)
    }
}

/// The report with diesel's query builder.
pub fn report_orm(conn: &mut AnyConnection) -> QueryResult<Vec<TagReport>> {
    let rows: Vec<(String, i64, i64, Option<i64>)> = book_tags::table
        .inner_join(tags::table)
        .left_join(reviews::table.on(reviews::book_id.eq(book_tags::book_id)))
        .group_by(tags::name)
        .select((
            tags::name,
            count(book_tags::book_id).aggregate_distinct(),
            count(reviews::id.nullable()),
            sum(reviews::rating.nullable()),
        ))
        .order(tags::name)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(tag, books, reviews, rating_sum)| TagReport {
            tag,
            books,
            reviews,
            rating_sum,
        })
        .collect())
}

/// The same report in SQL.
pub const REPORT_SQL: &str = "\
    SELECT tags.name AS tag,
           COUNT(DISTINCT book_tags.book_id) AS books,
           COUNT(reviews.id) AS reviews,
           SUM(reviews.rating) AS rating_sum
    FROM book_tags
    JOIN tags ON tags.id = book_tags.tag_id
    LEFT JOIN reviews ON reviews.book_id = book_tags.book_id
    GROUP BY tags.name
    ORDER BY tags.name";

/// The report with `sql_query`.
pub fn report_sql(conn: &mut AnyConnection) -> QueryResult<Vec<TagReport>> {
    diesel::sql_query(REPORT_SQL).load(conn)
}

/// How the report is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Using {
    /// diesel's query builder.
    #[default]
    Orm,
    /// A SQL string.
    Sql,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// `orm` (the default) or `sql`: the same rows either way.
    #[serde(default)]
    #[param(inline)]
    using: Using,
}

/// A report row as the API shows it: the counts and the average rating.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReportRow {
    #[schema(example = "classic")]
    pub tag: String,
    /// Books with this tag.
    #[schema(minimum = 1)]
    pub books: i64,
    /// Reviews of those books.
    #[schema(minimum = 0)]
    pub reviews: i64,
    /// From 1 to 5; `null` when the tag's books have no reviews.
    #[schema(minimum = 1, maximum = 5)]
    pub average_rating: Option<f64>,
}

/// The rows as the API shows them (also what the cache of topic 3.8 stores).
pub fn with_averages(rows: Vec<TagReport>) -> Vec<ReportRow> {
    rows.into_iter()
        .map(|row| ReportRow {
            average_rating: row.average_rating(),
            tag: row.tag,
            books: row.books,
            reviews: row.reviews,
        })
        .collect()
}

/// `GET /reports/tags?using=orm|sql`.
#[utoipa::path(
    tag = "3.1 Core vs ORM",
    params(ReportQuery),
    responses((status = 200, description = "Books, reviews and the average rating per tag, by tag", body = [ReportRow]))
)]
#[get("/reports/tags")]
pub(crate) async fn tag_report(
    database: web::Data<Database>,
    Query(ReportQuery { using }): Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let rows = blocking(move || -> anyhow::Result<Vec<TagReport>> {
        let mut conn = database.conn()?;
        Ok(match using {
            Using::Orm => report_orm(&mut conn)?,
            Using::Sql => report_sql(&mut conn)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(with_averages(rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_writes_the_group_by_it_was_asked_for() {
        let query = book_tags::table
            .inner_join(tags::table)
            .group_by(tags::name)
            .select((tags::name, count(book_tags::book_id).aggregate_distinct()));
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        assert!(sql.contains("INNER JOIN `tags`"), "{sql}");
        assert!(
            sql.contains("count( DISTINCT `book_tags`.`book_id`)"),
            "{sql}"
        );
        assert!(sql.contains("GROUP BY `tags`.`name`"), "{sql}");
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
        assert!(pg.contains(r#"GROUP BY "tags"."name""#), "{pg}");
    }
}
