//! Demo data, so that a fresh database has something to list: the library every phase starts with
//! (`common::db::seed`), and a way back to it (`--reset-demo`) after a learner has deleted half of
//! it.

use common::db::schema::{authors, book_tags, books, tags};
use common::db::{AnyConnection, Database, write_transaction};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Fills an empty library with the demo data; a library with books is left alone. Returns whether
/// it filled it.
pub fn seed(database: &Database) -> anyhow::Result<bool> {
    let mut conn = database.conn()?;
    Ok(common::db::seed::library(&mut conn)?)
}

/// Empties the library (authors, books, tags) and fills it with the demo data again, in one
/// transaction: ids start from 1 again, so `/api/books/1` is the first demo book once more.
///
/// On PostgreSQL the tables are truncated with `CASCADE`, which also empties the tables that refer
/// to them (phase 3's reviews, in a database both phases use).
pub fn reset(database: &Database) -> anyhow::Result<()> {
    let mut conn = database.conn()?;
    write_transaction(&mut conn, |conn| -> anyhow::Result<()> {
        match conn {
            AnyConnection::Postgresql(pg) => pg.batch_execute(
                "TRUNCATE book_tags, books, tags, authors RESTART IDENTITY CASCADE",
            )?,
            AnyConnection::Sqlite(_) => {
                diesel::delete(book_tags::table).execute(conn)?;
                diesel::delete(books::table).execute(conn)?;
                diesel::delete(tags::table).execute(conn)?;
                diesel::delete(authors::table).execute(conn)?;
                // AUTOINCREMENT keeps each table's last id here; without its row the next is 1.
                diesel::sql_query(
                    "DELETE FROM sqlite_sequence WHERE name IN ('authors', 'books', 'tags')",
                )
                .execute(conn)?;
            }
        }
        common::db::seed::library(conn)?;
        Ok(())
    })
}
