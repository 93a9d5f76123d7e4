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
//! say `id` and `limit`, in the client's words ("must be a whole number, 0 or more, not `-1`"), not
//! in Rust's. A value of the right type that breaks a rule (`limit=1000`) is a different failure:
//! 422, from the `Validate` rules on [`ListQuery`]. A parameter the route does not have
//! (`?colour=red`, or a typo such as `?limits=5`) is a 400 too: ignoring it would answer a question
//! the client did not ask. A list is a repeated parameter: `?tag=sf&tag=classic`.
//!
//! `#[derive(IntoParams)]` writes the same types into the OpenAPI document: `id` is an integer of
//! at least 0, `limit` one from 1 to 100 (its `#[param]` sits next to its `#[validate]`), `tag` an
//! array sent as repeated parameters.
//!
//! **Why:** parse, don't validate: once a value is a `u64` or a `ListQuery`, every later line may rely
//! on it, and the compiler checks that it does.

use serde::Deserialize;
use utoipa::IntoParams;
use validator::Validate;

use crate::serialization::Book;

/// The `{id}` in `/books/{id}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BookId {
    /// The book's id, a whole number (0 or more).
    // Every `u64`, stated exactly: `int64`, utoipa's default for it, would stop at 2^63 - 1.
    #[param(format = "uint64", maximum = 18446744073709551615usize)]
    pub id: u64,
}

/// The query of `GET /books`: filters, with defaults for what is left out. A parameter it does not
/// have is refused by `common::extract::Query`, which names it.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only books whose author contains this text (case-insensitive).
    pub author: Option<String>,
    /// Only books published in or after this year.
    #[serde(default, deserialize_with = "common::query::present")]
    pub year_from: Option<i32>,
    /// Only books published in or before this year.
    #[serde(default, deserialize_with = "common::query::present")]
    pub year_to: Option<i32>,
    /// Only books with every one of these tags: repeat the parameter, `?tag=sf&tag=classic`.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub tag: Vec<String>,
    /// How many books a page holds.
    #[serde(default = "default_limit")]
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: usize,
    /// How many matching books to skip.
    #[serde(default)]
    #[param(default = 0, format = "uint64", maximum = 18446744073709551615usize)]
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
            && self.tag.iter().all(|tag| book.tags.contains(tag))
    }
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams;
    use utoipa::openapi::path::{Parameter, ParameterIn};
    use validator::Validate;

    use super::*;

    fn query(limit: usize) -> ListQuery {
        ListQuery {
            author: None,
            year_from: None,
            year_to: None,
            tag: Vec::new(),
            limit,
            offset: 0,
        }
    }

    fn schema_of(parameter: &Parameter) -> serde_json::Value {
        serde_json::to_value(parameter.schema.as_ref().expect("a schema")).unwrap()
    }

    /// `limit`'s `#[param]` and its `#[validate]` state one rule: they agree at each boundary.
    #[test]
    fn the_limit_rule_and_its_schema_agree() {
        let parameters = ListQuery::into_params(|| Some(ParameterIn::Query));
        let limit = parameters
            .iter()
            .find(|p| p.name == "limit")
            .expect("limit");
        let schema = schema_of(limit);
        let (min, max) = (
            schema["minimum"].as_u64().unwrap(),
            schema["maximum"].as_u64().unwrap(),
        );
        for value in [min - 1, min, max, max + 1] {
            let value = usize::try_from(value).unwrap();
            let inside = (min..=max).contains(&(value as u64));
            assert_eq!(query(value).validate().is_ok(), inside, "limit={value}");
        }
        assert_eq!(schema["default"], default_limit());
        let tag = parameters.iter().find(|p| p.name == "tag").expect("tag");
        assert_eq!(schema_of(tag)["type"], "array");
    }

    #[test]
    fn an_empty_year_is_not_a_year() {
        let parse = |query: &str| {
            let (req, mut payload) = actix_web::test::TestRequest::get()
                .uri(&format!("/books?{query}"))
                .to_http_parts();
            let extracted =
                <common::extract::Query<ListQuery> as actix_web::FromRequest>::from_request(
                    &req,
                    &mut payload,
                );
            extracted
                .into_inner()
                .map(common::extract::Query::into_inner)
        };
        assert_eq!(parse("year_from=1990").unwrap().year_from, Some(1990));
        assert_eq!(parse("").unwrap().year_from, None);
        assert!(parse("year_from=").is_err());
        assert!(parse("year_to=soon").is_err());
    }
}
