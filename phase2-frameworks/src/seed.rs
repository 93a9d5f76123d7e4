//! Demo data, so that a fresh database has something to list: a few authors, their books, tags.

use common::db::Database;

use crate::repository::{DbAuthors, DbBooks, RepoError};
use crate::serializers::{AuthorWrite, BookWrite};
use crate::viewsets::Crud;

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

/// Fills an empty library with the demo data; a library with authors is left alone.
pub fn seed(database: &Database) -> Result<bool, RepoError> {
    let authors = DbAuthors(database.clone());
    let books = DbBooks(database.clone());
    let any = crate::dependencies::Pagination {
        page: 1,
        page_size: 1,
    };
    if authors.list(&Default::default(), None, any)?.1 > 0 {
        return Ok(false);
    }
    for (name, bio, their_books) in LIBRARY {
        let author = authors.create(AuthorWrite {
            name: (*name).into(),
            bio: Some((*bio).into()),
        })?;
        for (title, year, tags) in *their_books {
            books.create(BookWrite {
                title: (*title).into(),
                year: *year,
                author_id: author.id,
                tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            })?;
        }
    }
    Ok(true)
}
