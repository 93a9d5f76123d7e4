//! Demo data for phase 3: a few authors, books, tags, reviewers and reviews.

use common::db::models::{BookTag, NewAuthor, NewBook, NewTag};
use common::db::schema::{authors, book_tags, books, tags};
use common::db::{AnyConnection, Database, write_transaction};
use common::with_backend;
use diesel::prelude::*;

use common::db::schema::{reviewers, reviews};

/// (title, author, year, tags, reviews as (reviewer, rating, text))
type SeedBook = (
    &'static str,
    &'static str,
    i32,
    &'static [&'static str],
    &'static [(&'static str, i32, &'static str)],
);

const BOOKS: &[SeedBook] = &[
    (
        "A Wizard of Earthsea",
        "Ursula K. Le Guin",
        1968,
        &["fantasy", "classic"],
        &[("Ged", 5, "True names."), ("Tenar", 4, "")],
    ),
    (
        "The Dispossessed",
        "Ursula K. Le Guin",
        1974,
        &["sf"],
        &[("Shevek", 5, "An ambiguous utopia.")],
    ),
    (
        "Kindred",
        "Octavia E. Butler",
        1979,
        &["sf", "classic"],
        &[("Dana", 5, ""), ("Ged", 4, "")],
    ),
    (
        "Small Gods",
        "Terry Pratchett",
        1992,
        &["fantasy", "humour"],
        &[("Brutha", 5, "Om as a tortoise.")],
    ),
    (
        "Guards! Guards!",
        "Terry Pratchett",
        1989,
        &["fantasy", "humour"],
        &[],
    ),
];

fn id_of_author(conn: &mut AnyConnection, name: &str) -> QueryResult<i32> {
    if let Some(id) = authors::table
        .filter(authors::name.eq(name))
        .select(authors::id)
        .first(conn)
        .optional()?
    {
        return Ok(id);
    }
    with_backend!(&mut *conn, |c| {
        diesel::insert_into(authors::table)
            .values(NewAuthor { name, bio: None })
            .returning(authors::id)
            .get_result(c)
    })
}

fn id_of_tag(conn: &mut AnyConnection, name: &str) -> QueryResult<i32> {
    if let Some(id) = tags::table
        .filter(tags::name.eq(name))
        .select(tags::id)
        .first(conn)
        .optional()?
    {
        return Ok(id);
    }
    with_backend!(&mut *conn, |c| {
        diesel::insert_into(tags::table)
            .values(NewTag { name })
            .returning(tags::id)
            .get_result(c)
    })
}

fn id_of_reviewer(conn: &mut AnyConnection, name: &str) -> QueryResult<i32> {
    if let Some(id) = reviewers::table
        .filter(reviewers::name.eq(name))
        .select(reviewers::id)
        .first(conn)
        .optional()?
    {
        return Ok(id);
    }
    with_backend!(&mut *conn, |c| {
        diesel::insert_into(reviewers::table)
            .values(reviewers::name.eq(name))
            .returning(reviewers::id)
            .get_result(c)
    })
}

/// Fills an empty library; one with books is left alone. Returns whether it filled it.
pub fn seed(database: &Database) -> anyhow::Result<bool> {
    let mut conn = database.conn()?;
    let filled = write_transaction(&mut conn, |conn| -> QueryResult<bool> {
        if books::table.count().get_result::<i64>(conn)? > 0 {
            return Ok(false);
        }
        for (title, author, year, tag_names, book_reviews) in BOOKS {
            let author_id = id_of_author(conn, author)?;
            let book_id: i32 = with_backend!(&mut *conn, |c| {
                diesel::insert_into(books::table)
                    .values(NewBook {
                        author_id,
                        title,
                        year: *year,
                    })
                    .returning(books::id)
                    .get_result(c)
            })?;
            for name in *tag_names {
                let tag_id = id_of_tag(conn, name)?;
                diesel::insert_into(book_tags::table)
                    .values(BookTag { book_id, tag_id })
                    .execute(conn)?;
            }
            for (reviewer, rating, body) in *book_reviews {
                let reviewer_id = id_of_reviewer(conn, reviewer)?;
                diesel::insert_into(reviews::table)
                    .values((
                        reviews::book_id.eq(book_id),
                        reviews::reviewer_id.eq(reviewer_id),
                        reviews::rating.eq(rating),
                        reviews::body.eq(body),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(true)
    })?;
    Ok(filled)
}
