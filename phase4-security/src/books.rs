//! The catalogue as this phase shows it: a book with its author, read from the library every
//! phase shares. Versioning (4.6) shows it as it is for v2 and flattens it for v1; scopes (4.5)
//! add to it.

use common::db::AnyConnection;
use common::db::schema::{authors, books};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// A book, its author nested: what v2 shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Book {
    pub id: i32,
    pub title: String,
    pub year: i32,
    pub author: AuthorRef,
}

/// An author, as a book names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorRef {
    pub id: i32,
    pub name: String,
}

type Row = (i32, String, i32, i32, String);

fn load(conn: &mut AnyConnection, id: Option<i32>) -> QueryResult<Vec<Book>> {
    let mut query = books::table
        .inner_join(authors::table)
        .select((
            books::id,
            books::title,
            books::year,
            authors::id,
            authors::name,
        ))
        .order(books::id)
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(books::id.eq(id));
    }
    Ok(query
        .load::<Row>(conn)?
        .into_iter()
        .map(|(id, title, year, author_id, name)| Book {
            id,
            title,
            year,
            author: AuthorRef {
                id: author_id,
                name,
            },
        })
        .collect())
}

/// Every book, by id.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<Book>> {
    load(conn, None)
}

/// One book, if it exists.
pub fn one(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<Book>> {
    Ok(load(conn, Some(id))?.pop())
}
