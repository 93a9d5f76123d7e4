//! 1.8 Validation: the rules a value must keep, checked before the handler runs.
//!
//! **Roadmap:** "Pydantic: it's the standard for data validation in Python now."
//!
//! **Python:** a Pydantic model declares `title: str = Field(min_length=1, max_length=200)`,
//! `email: EmailStr`, `@field_validator` for custom rules and nested models; FastAPI answers a
//! violation with 422 and a list of every error with its location, and puts the same rules in the
//! OpenAPI schema, because both come from the one annotation.
//!
//! **Rust:** serde decides the *shape* (types, required fields); the `validator` crate's
//! `#[derive(Validate)]` checks the *rules*: `length`, `range`, `email`, `regex`, `nested` and
//! `custom` functions. The [`common::extract::ValidJson`] extractor runs both and answers one 422
//! problem whose `errors` list every missing or mistyped field and every broken rule
//! (`publisher.email`, `isbn13`), each with its code and reason.
//!
//! The OpenAPI schema (utoipa's `#[schema(...)]`) is the other half of each rule, written on the
//! line next to it: `length` is `min_length`/`max_length`, `range` is `minimum`/`maximum`, `regex`
//! is `pattern`, `email` is `format = "email"`, `deny_unknown_fields` is
//! `additionalProperties: false`. Two attributes can drift apart where one annotation cannot, so
//! the tests below read the schema and check that the validator accepts exactly what it states,
//! at each boundary.
//!
//! Every rule here is one a schema can state. The custom rule is [`distinct`] (no tag twice),
//! which is `uniqueItems: true`; each tag is a slug (`common::rules::slugs`), which is the items'
//! `pattern`. An ISBN's check digit is not checked: no JSON Schema keyword says "the weighted
//! digit sum is a multiple of 10", so a client, a code generator or a fuzzer reading the contract
//! would send a value the contract calls valid and get a 422. A rule the contract cannot state is
//! one no client or tool can know, so this API keeps none: the pattern stays, the check digit went.
//!
//! **Why:** a handler that takes `ValidJson<NewBook>` cannot be called with an invalid book, so the
//! rules are written once, next to the fields they guard, instead of as `if` checks in each handler;
//! and a client that reads `/openapi.json` knows every one of them before it sends a byte.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};
use validator::{Validate, ValidationError};

use crate::serialization::Format;

/// Thirteen digits starting 978 or 979: the `regex` rule and the schema's `pattern`.
pub const ISBN13_PATTERN: &str = "^97[89][0-9]{10}$";
/// A tag: what `common::rules::slugs` accepts, as a pattern.
pub const SLUG_PATTERN: &str = "^[a-z0-9-]{1,30}$";

static ISBN13: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, compiled by the tests below
    Regex::new(ISBN13_PATTERN).unwrap()
});

/// A book as clients write it (the write shape): no `id`, no timestamps, unknown fields refused.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, examples("Dune"))]
    pub title: String,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, examples("Frank Herbert"))]
    pub author: String,
    #[validate(range(min = 1450, max = 2100))]
    #[schema(minimum = 1450, maximum = 2100, examples(1965))]
    pub year: i32,
    /// Thirteen digits starting with 978 or 979.
    // Named as on the wire, not renamed with serde: `validator` reports a failing field by its
    // Rust name, and a 422 must name the field the client sent.
    #[serde(default)]
    #[validate(regex(path = *ISBN13, message = "must be 13 digits starting with 978 or 979"))]
    #[schema(pattern = "^97[89][0-9]{10}$", examples("9780441013593"))]
    pub isbn13: Option<String>,
    /// Up to 10 different slugs (1-30 of `a-z`, `0-9`, `-`).
    #[serde(default)]
    #[validate(
        length(max = 10),
        custom(function = "common::rules::slugs"),
        custom(function = "distinct")
    )]
    #[schema(schema_with = tag_list)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub format: Option<Format>,
    // Validated with its own rules (`nested`); its errors come back as `publisher.<field>`.
    #[serde(default)]
    #[validate(nested)]
    pub publisher: Option<Publisher>,
}

/// A tag: a slug of 1-30 of `a-z`, `0-9` and `-`.
// Only the schema of one item of `tags`; the rule itself is `common::rules::slugs`.
#[derive(Debug, ToSchema)]
#[schema(
    pattern = "^[a-z0-9-]{1,30}$",
    min_length = 1,
    max_length = 30,
    examples("sf")
)]
#[allow(dead_code)]
pub struct Tag(String);

/// The publisher of a book, validated as part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100, examples("Chilton"))]
    pub name: String,
    #[validate(email)]
    #[schema(format = "email", examples("books@chilton.example"))]
    pub email: String,
}

/// A partial update (PATCH): every field optional, the same rules for those present.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookPatch {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub author: Option<String>,
    #[validate(range(min = 1450, max = 2100))]
    #[schema(minimum = 1450, maximum = 2100)]
    #[serde(default)]
    pub year: Option<i32>,
    #[validate(regex(path = *ISBN13, message = "must be 13 digits starting with 978 or 979"))]
    #[schema(pattern = "^97[89][0-9]{10}$")]
    pub isbn13: Option<String>,
    #[validate(
        length(max = 10),
        custom(function = "common::rules::slugs"),
        custom(function = "distinct")
    )]
    #[schema(schema_with = tag_list_or_null)]
    pub tags: Option<Vec<String>>,
}

/// The schema of `tags`, beside its rules: at most 10 (`length(max = 10)` is `maxItems`), none
/// twice (`distinct` is `uniqueItems`), each a [`Tag`] (`slugs` is the items' `pattern`).
pub fn tag_list() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(Tag::schema())
        .max_items(Some(10))
        .unique_items(true)
}

/// [`tag_list`], or `null` for "no change" in a patch.
pub fn tag_list_or_null() -> ArrayBuilder {
    tag_list().schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
}

/// The custom rule: no tag twice (the schema's `uniqueItems: true`).
pub fn distinct(tags: &[String]) -> Result<(), ValidationError> {
    let mut seen = BTreeSet::new();
    match tags.iter().find(|tag| !seen.insert(tag.as_str())) {
        None => Ok(()),
        Some(twice) => Err(ValidationError::new("unique")
            .with_message(Cow::Owned(format!("`{twice}` is given more than once")))),
    }
}

#[cfg(test)]
mod tests {
    use common::ApiError;
    use serde_json::{Value, json};
    use utoipa::PartialSchema;

    use super::*;

    fn new_book(value: Value) -> NewBook {
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
            "title": "", "author": "A", "year": 99, "isbn13": "0441013590",
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
                ("isbn13", "regex"),
                ("publisher.email", "email"),
                ("tags", "slug"),
                ("title", "length"),
                ("year", "range"),
            ]
        );
        assert_eq!(problem.status, 422);
    }

    #[test]
    fn a_tag_given_twice_is_refused_by_the_custom_rule() {
        let book =
            new_book(json!({"title": "T", "author": "A", "year": 2000, "tags": ["sf", "sf"]}));
        let problem = ApiError::from(book.validate().unwrap_err()).problem();
        assert_eq!(problem.errors[0].field, "tags");
        assert_eq!(problem.errors[0].code, "unique");
        assert_eq!(problem.errors[0].message, "`sf` is given more than once");
        assert!(distinct(&["sf".into(), "classic".into()]).is_ok());
    }

    /// A schema as JSON, with `$ref`s into `components` left as they are.
    fn schema_of<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    fn number(schema: &Value, key: &str) -> i64 {
        schema[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no {key} in {schema}"))
    }

    /// Whether `book` (a JSON value) passes the validator's rules.
    fn accepted(book: Value) -> bool {
        new_book(book).validate().is_ok()
    }

    fn with(field: &str, value: Value) -> Value {
        let mut book = json!({"title": "T", "author": "A", "year": 2000});
        book[field] = value;
        book
    }

    /// The schema states the rules; the validator must accept exactly what the schema allows, just
    /// inside and just outside each bound. If someone changes one attribute and not the other,
    /// this fails.
    #[test]
    fn the_validator_and_the_schema_agree_on_every_boundary() {
        let schema = schema_of::<NewBook>();
        let properties = &schema["properties"];
        assert_eq!(schema["additionalProperties"], false, "deny_unknown_fields");

        for field in ["title", "author"] {
            let (min, max) = (
                number(&properties[field], "minLength"),
                number(&properties[field], "maxLength"),
            );
            for length in [min - 1, min, max, max + 1] {
                let text = "x".repeat(usize::try_from(length).unwrap());
                let inside = (min..=max).contains(&length);
                assert_eq!(
                    accepted(with(field, json!(text))),
                    inside,
                    "{field} of length {length}"
                );
            }
            // Lengths count characters, in JSON Schema and in validator alike.
            let wide = "é".repeat(usize::try_from(max).unwrap());
            assert!(
                accepted(with(field, json!(wide))),
                "{field}: {max} two-byte characters"
            );
        }

        let year = &properties["year"];
        let (min, max) = (number(year, "minimum"), number(year, "maximum"));
        for value in [min - 1, min, max, max + 1] {
            assert_eq!(
                accepted(with("year", json!(value))),
                (min..=max).contains(&value),
                "year {value}"
            );
        }

        let pattern = properties["isbn13"]["pattern"].as_str().unwrap();
        let stated = Regex::new(pattern).unwrap();
        for isbn in [
            "9780441013593",
            "9790000000000",
            "9770441013593",
            "978044101359",
            "97804410135930",
            "978044101359x",
            "",
        ] {
            assert_eq!(
                accepted(with("isbn13", json!(isbn))),
                stated.is_match(isbn),
                "isbn13 {isbn:?}"
            );
        }

        let tags = &properties["tags"];
        assert_eq!(tags["uniqueItems"], true);
        let max_items = usize::try_from(number(tags, "maxItems")).unwrap();
        let many = |n: usize| json!((0..n).map(|i| format!("t{i}")).collect::<Vec<_>>());
        assert!(accepted(with("tags", many(max_items))));
        assert!(!accepted(with("tags", many(max_items + 1))));
        assert!(!accepted(with("tags", json!(["sf", "sf"]))));

        let tag = schema_of::<Tag>();
        let slug = Regex::new(tag["pattern"].as_str().unwrap()).unwrap();
        let longest = "a".repeat(usize::try_from(number(&tag, "maxLength")).unwrap());
        for candidate in [
            "sf",
            "new-wave-2",
            "",
            "Sci Fi",
            "é",
            "a_b",
            longest.as_str(),
            &format!("{longest}a"),
        ] {
            assert_eq!(
                accepted(with("tags", json!([candidate]))),
                slug.is_match(candidate),
                "tag {candidate:?}"
            );
        }
    }

    #[test]
    fn the_publisher_schema_states_the_publisher_rules() {
        let schema = schema_of::<Publisher>();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["email"]["format"], "email");
        let name = &schema["properties"]["name"];
        let publisher = |name: &str, email: &str| Publisher {
            name: name.to_owned(),
            email: email.to_owned(),
        };
        let max = usize::try_from(number(name, "maxLength")).unwrap();
        assert_eq!(number(name, "minLength"), 1);
        assert!(
            publisher(&"p".repeat(max), "a@b.example")
                .validate()
                .is_ok()
        );
        assert!(
            publisher(&"p".repeat(max + 1), "a@b.example")
                .validate()
                .is_err()
        );
        assert!(publisher("", "a@b.example").validate().is_err());
        assert!(publisher("P", "not-an-email").validate().is_err());
    }

    #[test]
    fn a_patch_states_the_same_rules_as_a_new_book() {
        let new = schema_of::<NewBook>();
        let patch = schema_of::<BookPatch>();
        assert_eq!(patch["additionalProperties"], false);
        assert!(
            patch.get("required").is_none(),
            "every field of a patch is optional"
        );
        for (field, keys) in [
            ("title", &["minLength", "maxLength"][..]),
            ("author", &["minLength", "maxLength"]),
            ("year", &["minimum", "maximum"]),
            ("isbn13", &["pattern"]),
            ("tags", &["maxItems", "uniqueItems"]),
        ] {
            for key in keys {
                assert_eq!(
                    patch["properties"][field][key], new["properties"][field][key],
                    "{field}.{key}"
                );
            }
        }
        assert_eq!(ISBN13_PATTERN, new["properties"]["isbn13"]["pattern"]);
        assert_eq!(SLUG_PATTERN, schema_of::<Tag>()["pattern"]);
        let patch: BookPatch = serde_json::from_value(json!({"year": 1449})).unwrap();
        assert!(patch.validate().is_err());
    }
}
