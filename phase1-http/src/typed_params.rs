//! 1.6 Types at the edge: path and query parameters arrive typed, or not at all.
//!
//! **Roadmap:** "Type hinting: essential for modern frameworks (FastAPI checks types at runtime)."
//!
//! **Python:** `def get_user(user_id: int)`: the hint is only a hint to Python itself, but FastAPI
//! reads it at run time and refuses `user_id=abc` before the function runs.
//!
//! **Rust:** the types are the program. A handler declares `Path(BookId { id }): Path<BookId>`, and
//! the extractor deserializes the URL into a `u64` before the handler is called; a handler cannot
//! even be written that receives a string by mistake. The extractors from [`common::extract`] name the
//! failing parameter, so `GET /books/abc` and `GET /books?limit=ten` are 400 problems whose `errors`
//! say `id` and `limit`. A value of the right type that breaks a rule (`limit=1000`) is a different
//! failure: 422, from the `Validate` rules on [`ListQuery`].
//!
//! **Why:** parse, don't validate: once a value is a `u64` or a `ListQuery`, every later line may rely
//! on it, and the compiler checks that it does.

use serde::Deserialize;
use validator::Validate;

use crate::serialization::Book;

/// The `{id}` in `/books/{id}`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct BookId {
    pub id: u64,
}

/// The query of `GET /books`: filters, with defaults for what is left out.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only books whose author contains this text (case-insensitive).
    pub author: Option<String>,
    /// Only books published in or after this year.
    pub year_from: Option<i32>,
    /// Only books published in or before this year.
    pub year_to: Option<i32>,
    /// Only books with this tag.
    pub tag: Option<String>,
    #[serde(default = "default_limit")]
    #[validate(range(min = 1, max = 100))]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
}

fn default_limit() -> usize {
    20
}

impl ListQuery {
    pub fn matches(&self, book: &Book) -> bool {
        self.author
            .as_ref()
            .is_none_or(|author| book.author.to_lowercase().contains(&author.to_lowercase()))
            && self.year_from.is_none_or(|from| book.year >= from)
            && self.year_to.is_none_or(|to| book.year <= to)
            && self.tag.as_ref().is_none_or(|tag| book.tags.contains(tag))
    }
}
