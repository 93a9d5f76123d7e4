//! The demo library every phase starts with: three authors, their books, and tags.

use diesel::prelude::*;

use super::models::{BookTag, NewAuthor, NewBook, NewTag};
use super::schema::{authors, book_tags, books, tags};
use super::{AnyConnection, write_transaction};
use crate::with_backend;

/// A book: title, year, tags.
type SeedBook = (&'static str, i32, &'static [&'static str]);

/// An author: name, bio, books.
const LIBRARY: &[(&str, &str, &[SeedBook])] = &[
    (
        "Ursula K. Le Guin",
        "Wrote of Earthsea and the Hainish worlds.",
        &[
            ("A Wizard of Earthsea", 1968, &["fantasy", "classic"]),
            ("The Left Hand of Darkness", 1969, &["sf", "classic"]),
            ("The Dispossessed", 1974, &["sf"]),
        ],
    ),
    (
        "Octavia E. Butler",
        "MacArthur fellow, author of the Xenogenesis books.",
        &[
            ("Kindred", 1979, &["sf", "classic"]),
            ("Parable of the Sower", 1993, &["sf"]),
        ],
    ),
    (
        "Terry Pratchett",
        "Forty-one Discworld novels.",
        &[
            ("Guards! Guards!", 1989, &["fantasy", "humour"]),
            ("Small Gods", 1992, &["fantasy", "humour"]),
        ],
    ),
];

/// The id of the tag called `name`, created if it does not exist.
pub fn tag_id(conn: &mut AnyConnection, name: &str) -> QueryResult<i32> {
    let existing = tags::table
        .filter(tags::name.eq(name))
        .select(tags::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => Ok(id),
        None => with_backend!(&mut *conn, |c| {
            diesel::insert_into(tags::table)
                .values(NewTag { name })
                .returning(tags::id)
                .get_result(c)
        }),
    }
}

/// Fills an empty library with the demo data, in one transaction; a library with books is left
/// alone. Returns whether it filled it.
pub fn library(conn: &mut AnyConnection) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        if books::table.count().get_result::<i64>(conn)? > 0 {
            return Ok(false);
        }
        for (name, bio, their_books) in LIBRARY {
            let author_id: i32 = with_backend!(&mut *conn, |c| {
                diesel::insert_into(authors::table)
                    .values(NewAuthor {
                        name,
                        bio: Some(bio),
                    })
                    .returning(authors::id)
                    .get_result(c)
            })?;
            for (title, year, tag_names) in *their_books {
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
                    let tag_id = tag_id(conn, name)?;
                    diesel::insert_into(book_tags::table)
                        .values(BookTag { book_id, tag_id })
                        .execute(conn)?;
                }
            }
        }
        Ok(true)
    })
}
