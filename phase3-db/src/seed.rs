//! Demo data for phase 3: the library every phase starts with (`common::db::seed`), and readers'
//! reviews of some of its books.

use common::db::schema::{books, reviewers, reviews};
use common::db::{AnyConnection, Database, write_transaction};
use common::with_backend;
use diesel::prelude::*;

/// Reviews: book title, reviewer, rating, text.
const REVIEWS: &[(&str, &str, i32, &str)] = &[
    ("A Wizard of Earthsea", "Ged", 5, "True names."),
    ("A Wizard of Earthsea", "Tenar", 4, ""),
    ("The Dispossessed", "Shevek", 5, "An ambiguous utopia."),
    ("Kindred", "Dana", 5, ""),
    ("Kindred", "Ged", 4, ""),
    ("Small Gods", "Brutha", 5, "Om as a tortoise."),
];

fn reviewer_id(conn: &mut AnyConnection, name: &str) -> QueryResult<i32> {
    let existing = reviewers::table
        .filter(reviewers::name.eq(name))
        .select(reviewers::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => Ok(id),
        None => with_backend!(&mut *conn, |c| {
            diesel::insert_into(reviewers::table)
                .values(reviewers::name.eq(name))
                .returning(reviewers::id)
                .get_result(c)
        }),
    }
}

/// Fills an empty library and its reviews; a library with books is left alone. Returns whether it
/// filled it.
pub fn seed(database: &Database) -> anyhow::Result<bool> {
    let mut conn = database.conn()?;
    let filled = write_transaction(&mut conn, |conn| -> QueryResult<bool> {
        if !common::db::seed::library(conn)? {
            return Ok(false);
        }
        for (title, reviewer, rating, body) in REVIEWS {
            let book_id: i32 = books::table
                .filter(books::title.eq(title))
                .select(books::id)
                .first(conn)?;
            let reviewer_id = reviewer_id(conn, reviewer)?;
            diesel::insert_into(reviews::table)
                .values((
                    reviews::book_id.eq(book_id),
                    reviews::reviewer_id.eq(reviewer_id),
                    reviews::rating.eq(rating),
                    reviews::body.eq(body),
                ))
                .execute(conn)?;
        }
        Ok(true)
    })?;
    Ok(filled)
}
