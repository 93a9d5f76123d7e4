//! Rows of the library tables, as diesel reads and writes them. What the API shows of them is each
//! phase's business (phase 2's serializers); these are the database's shapes.

use diesel::prelude::*;

use super::schema::{authors, book_tags, books, tags};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = authors)]
pub struct Author {
    pub id: i32,
    pub name: String,
    pub bio: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = books, belongs_to(Author))]
pub struct Book {
    pub id: i32,
    pub author_id: i32,
    pub title: String,
    pub year: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tags)]
pub struct Tag {
    pub id: i32,
    pub name: String,
}

/// The many-to-many link between books and tags.
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Associations, Insertable,
)]
#[diesel(table_name = book_tags, primary_key(book_id, tag_id), belongs_to(Book), belongs_to(Tag))]
pub struct BookTag {
    pub book_id: i32,
    pub tag_id: i32,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = authors)]
pub struct NewAuthor<'a> {
    pub name: &'a str,
    pub bio: Option<&'a str>,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = books)]
pub struct NewBook<'a> {
    pub author_id: i32,
    pub title: &'a str,
    pub year: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tags)]
pub struct NewTag<'a> {
    pub name: &'a str,
}
