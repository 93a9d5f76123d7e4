//! 2.5 Serializers: what the API reads and writes, apart from how the database stores it.
//!
//! **Roadmap:** "Serializers: deeply nested relationships (`ModelSerializer`)."
//!
//! **Python:** a DRF `ModelSerializer` derives fields from the model; nesting another serializer
//! (`books = BookSerializer(many=True, read_only=True)`) renders relations, and `validate_<field>`
//! checks writes. One class often serves reading and writing, with `read_only`/`write_only` flags.
//!
//! **Rust:** plain structs, one per direction: [`BookRead`] nests its author and tags, while
//! [`BookWrite`] takes an `author_id` and tag *names* (created on first use), because a client writes
//! references and reads objects. [`AuthorDetail`] nests books, which nest tags. Writes carry
//! `validator` rules and are refused with a 422 before any query runs; `From` impls convert database
//! rows (`common::db::models`) into read shapes. Every shape derives `ToSchema`, so the OpenAPI
//! document shows exactly these; each rule's `#[validate]` has its `#[schema]` beside it (topic
//! 2.1 says why), and `#[serde(deny_unknown_fields)]` becomes `additionalProperties: false`.
//!
//! Text fields refuse control characters (`common::rules::printable`: a NUL byte, an escape
//! sequence), which no name or title needs and PostgreSQL refuses outright; the schema says it with
//! a `pattern` that excludes exactly the characters Rust's `char::is_control` names, but the line
//! break, carriage return and tab.
//!
//! **Why:** separate types make it impossible to leak a column by accident (a field not in the struct
//! cannot be serialized) and let each direction change without breaking the other.

use common::db::models::{Author, Book, Tag};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// An author, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorRead {
    pub id: i32,
    pub name: String,
    pub bio: Option<String>,
}

impl From<Author> for AuthorRead {
    fn from(author: Author) -> Self {
        Self {
            id: author.id,
            name: author.name,
            bio: author.bio,
        }
    }
}

/// An author with their books, each with its tags: the nested read shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorDetail {
    pub id: i32,
    pub name: String,
    pub bio: Option<String>,
    pub books: Vec<BookNested>,
}

/// A book inside its author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookNested {
    pub id: i32,
    pub title: String,
    pub year: i32,
    pub tags: Vec<String>,
}

/// An author as clients write it (create and full update).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorWrite {
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[serde(default)]
    #[validate(length(max = 2000), custom(function = "common::rules::printable"))]
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub bio: Option<String>,
}

/// A partial update of an author: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorPatch {
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[validate(length(max = 2000), custom(function = "common::rules::printable"))]
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub bio: Option<String>,
}

/// Filters for the author list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct AuthorFilter {
    /// Only authors whose name contains this text (case-insensitive).
    #[validate(custom(function = "common::rules::printable"))]
    #[param(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
}

/// A book, as read: its author and tags nested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookRead {
    pub id: i32,
    pub title: String,
    pub year: i32,
    pub author: AuthorRead,
    pub tags: Vec<TagRead>,
}

impl BookRead {
    pub fn new(book: Book, author: Author, tags: Vec<Tag>) -> Self {
        Self {
            id: book.id,
            title: book.title,
            year: book.year,
            author: author.into(),
            tags: tags.into_iter().map(TagRead::from).collect(),
        }
    }
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TagRead {
    pub id: i32,
    pub name: String,
}

impl From<Tag> for TagRead {
    fn from(tag: Tag) -> Self {
        Self {
            id: tag.id,
            name: tag.name,
        }
    }
}

/// A book as clients write it: the author by id, tags by name.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookWrite {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    #[validate(range(min = 1450, max = 2100))]
    #[schema(minimum = 1450, maximum = 2100)]
    pub year: i32,
    /// The author's id; one that does not exist is a 409.
    pub author_id: i32,
    /// Tag names (slugs); a tag that does not exist yet is created.
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    #[schema(
        max_items = 10,
        min_length = 1,
        max_length = 30,
        pattern = "^[a-z0-9-]*$"
    )]
    pub tags: Vec<String>,
}

/// A partial update of a book.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    #[serde(default)]
    #[validate(range(min = 1450, max = 2100))]
    #[schema(minimum = 1450, maximum = 2100)]
    pub year: Option<i32>,
    #[serde(default)]
    pub author_id: Option<i32>,
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    #[schema(
        max_items = 10,
        min_length = 1,
        max_length = 30,
        pattern = "^[a-z0-9-]*$"
    )]
    pub tags: Option<Vec<String>>,
}

/// Filters for the book list, as DRF's `filterset_fields` would give.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct BookFilter {
    /// Only books by this author.
    #[serde(default, deserialize_with = "common::query::present")]
    pub author_id: Option<i32>,
    /// Only books published in or after this year (a `year_min` above `year_max` matches nothing).
    #[serde(default, deserialize_with = "common::query::present")]
    pub year_min: Option<i32>,
    /// Only books published in or before this year.
    #[serde(default, deserialize_with = "common::query::present")]
    pub year_max: Option<i32>,
    /// Only books with every one of these tags: repeat the parameter, `?tag=sf&tag=classic`.
    #[serde(default)]
    #[validate(custom(function = "common::rules::slugs"))]
    #[param(style = Form, explode, min_length = 1, max_length = 30, pattern = "^[a-z0-9-]*$")]
    pub tag: Vec<String>,
    /// Only books whose title contains this text (case-insensitive).
    #[validate(custom(function = "common::rules::printable"))]
    #[param(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
}
