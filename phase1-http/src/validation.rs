//! 1.8 Validation: the rules a value must keep, checked before the handler runs.
//!
//! **Roadmap:** "Pydantic: it's the standard for data validation in Python now."
//!
//! **Python:** a Pydantic model declares `title: str = Field(min_length=1, max_length=200)`,
//! `email: EmailStr`, `@field_validator` for custom rules and nested models; FastAPI answers a
//! violation with 422 and a list of every error with its location.
//!
//! **Rust:** serde decides the *shape* (types, required fields); the `validator` crate's
//! `#[derive(Validate)]` checks the *rules*: `length`, `range`, `email`, `regex`, `nested` and
//! `custom` functions. The [`common::extract::ValidJson`] extractor runs both, and
//! [`common::ApiError`]'s `From<ValidationErrors>` turns every failing rule into one 422 problem
//! whose `errors` list each field (`publisher.email`, `isbn13`) with its rule and reason.
//!
//! **Why:** a handler that takes `ValidJson<NewBook>` cannot be called with an invalid book, so the
//! rules are written once, next to the fields they guard, instead of as `if` checks in each handler.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use crate::serialization::Format;

static ISBN13: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, checked by the tests below
    Regex::new(r"^97[89][0-9]{10}$").unwrap()
});

/// A book as clients write it (the write shape): no `id`, no timestamps, unknown fields refused.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    #[validate(length(min = 1, max = 200))]
    pub title: String,
    #[validate(length(min = 1, max = 100))]
    pub author: String,
    #[validate(range(min = 1450, max = 2100))]
    pub year: i32,
    /// Thirteen digits starting 978 or 979 (`regex`), whose check digit is right (`custom`).
    ///
    /// Named as on the wire, not renamed with serde: `validator` reports a failing field by its
    /// Rust name, and a 422 must name the field the client sent.
    #[serde(default)]
    #[validate(
        regex(path = *ISBN13, message = "must be 13 digits starting with 978 or 979"),
        custom(function = "isbn13_check_digit")
    )]
    pub isbn13: Option<String>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    pub tags: Vec<String>,
    #[serde(default)]
    pub format: Option<Format>,
    /// Validated with its own rules (`nested`); its errors come back as `publisher.<field>`.
    #[serde(default)]
    #[validate(nested)]
    pub publisher: Option<Publisher>,
}

/// The publisher of a book, validated as part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    #[validate(email)]
    pub email: String,
}

/// A partial update (PATCH): every field optional, the same rules for those present.
#[derive(Debug, Clone, Default, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    #[validate(length(min = 1, max = 200))]
    pub title: Option<String>,
    #[validate(length(min = 1, max = 100))]
    pub author: Option<String>,
    #[validate(range(min = 1450, max = 2100))]
    pub year: Option<i32>,
    #[validate(
        regex(path = *ISBN13, message = "must be 13 digits starting with 978 or 979"),
        custom(function = "isbn13_check_digit")
    )]
    pub isbn13: Option<String>,
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    pub tags: Option<Vec<String>>,
}

/// A custom rule: the ISBN-13 check digit (weights 1,3,1,3,... make the sum a multiple of 10).
fn isbn13_check_digit(isbn: &str) -> Result<(), ValidationError> {
    let digits: Vec<u32> = isbn.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .zip([1, 3].iter().cycle())
        .map(|(digit, weight)| digit * weight)
        .sum();
    if digits.len() == 13 && sum.is_multiple_of(10) {
        Ok(())
    } else {
        Err(ValidationError::new("isbn13")
            .with_message(Cow::Borrowed("check digit does not match")))
    }
}

#[cfg(test)]
mod tests {
    use common::ApiError;
    use serde_json::json;

    use super::*;

    fn new_book(value: serde_json::Value) -> NewBook {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_valid_book_passes() {
        let book = new_book(json!({
            "title": "Dune", "author": "Frank Herbert", "year": 1965, "isbn13": "9780441013593",
            "tags": ["sf", "classic"], "publisher": {"name": "Chilton", "email": "books@chilton.test"}
        }));
        assert!(book.validate().is_ok());
    }

    #[test]
    fn every_failing_rule_is_reported_with_its_path() {
        let book = new_book(json!({
            "title": "", "author": "A", "year": 99, "isbn13": "9780441013590",
            "tags": ["Not A Slug"], "publisher": {"name": "P", "email": "not-an-email"}
        }));
        let problem = ApiError::from(book.validate().unwrap_err()).problem();
        let fields: Vec<(&str, &str)> = problem
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("isbn13", "isbn13"),
                ("publisher.email", "email"),
                ("tags", "slug"),
                ("title", "length"),
                ("year", "range"),
            ]
        );
        assert_eq!(problem.status, 422);
    }

    #[test]
    fn the_isbn_regex_and_check_digit_agree_on_known_values() {
        assert!(ISBN13.is_match("9780306406157"));
        assert!(isbn13_check_digit("9780306406157").is_ok());
        assert!(isbn13_check_digit("9780306406158").is_err());
        assert!(!ISBN13.is_match("0306406152"));
    }
}
