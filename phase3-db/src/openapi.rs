//! Phase 3's OpenAPI document: every route, what it takes, and every answer it gives.
//!
//! Each handler carries its own `#[utoipa::path]`, next to the route it documents; this module only
//! lists them. `common::server` serves the document at `/openapi.json` with Swagger UI at `/docs/`,
//! adds the answers the shared layer gives (400, 404, 413, 415, 422 as problem documents) and derives
//! `HEAD`, `OPTIONS` and `405` from it, so a route missing here would answer 405.
//!
//! The MongoDB routes are listed only when MongoDB is configured. Without it, everything under
//! `/mongo` answers 503 naming `MONGODB_URL`, and the document says so in its description: it
//! describes what this server offers, and a route that can only fail is not an offer.

use utoipa::OpenApi;

use crate::{
    async_access, backends, core_vs_orm, data_migration, documents, key_value, migrations,
    relationships,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 3: databases",
        description = "diesel's query builder and raw SQL, async and blocking access, lazy and eager \
            loading, migrations (with data), SQLite or PostgreSQL, MongoDB documents and a Redis \
            (or in-process) key-value store, over readers' reviews of a small library.",
    ),
    paths(
        core_vs_orm::tag_report,
        async_access::latest,
        relationships::books_with_reviews,
        migrations::status,
        data_migration::list,
        backends::backend,
        key_value::get_value,
        key_value::put_value,
        key_value::delete_value,
        key_value::increment,
        key_value::cached_report,
    )
)]
struct Relational;

#[derive(OpenApi)]
#[openapi(paths(
    documents::create,
    documents::summaries,
    documents::retrieve,
    documents::change,
    documents::remove,
    documents::tag_stats,
))]
struct Documents;

/// What the description adds when MongoDB is not configured.
pub const NO_MONGODB: &str = "\n\nThis server runs without MongoDB: every request under `/mongo` (topic 3.7) \
    answers 503, naming MONGODB_URL, and those routes are listed here once it is set.";

/// The document; with `mongodb`, the MongoDB routes too.
pub fn document(mongodb: bool) -> utoipa::openapi::OpenApi {
    let mut doc = Relational::openapi();
    if mongodb {
        doc.merge(Documents::openapi());
    } else if let Some(description) = &mut doc.info.description {
        description.push_str(NO_MONGODB);
    }
    doc
}

/// Every rule is written twice, side by side: a `validate` attribute for the server and a `schema`
/// or `param` attribute for the document. These tests read the rule back from the document and
/// check, at its boundaries, that the server refuses exactly what the document says it refuses.
#[cfg(test)]
mod tests {
    use serde_json::Value;
    use validator::Validate;

    use super::*;
    use crate::async_access::{LatestQuery, Via};
    use crate::documents::{ListChanges, ListedBook, NewList, PRINTABLE};
    use crate::key_value::{CounterPath, Increment, KeyPath, PutValue};
    use crate::relationships::{LoadQuery, Strategy};

    /// Whether the server accepts a text field holding this value.
    type Accepts<'a> = Box<dyn Fn(String) -> bool + 'a>;

    fn doc() -> Value {
        serde_json::to_value(document(true)).expect("the document is JSON")
    }

    fn parameter(doc: &Value, path: &str, method: &str, name: &str) -> Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
    }

    fn property(doc: &Value, schema: &str, name: &str) -> Value {
        doc["components"]["schemas"][schema]["properties"][name].clone()
    }

    fn number(schema: &Value, keyword: &str) -> i64 {
        schema[keyword]
            .as_i64()
            .unwrap_or_else(|| panic!("no {keyword} in {schema}"))
    }

    fn length(schema: &Value, keyword: &str) -> usize {
        usize::try_from(number(schema, keyword)).expect("a length")
    }

    /// The characters a `^[...]*$` or `^[^...]*$` pattern of single characters, `a-z` ranges and
    /// `\uXXXX` escapes allows: a reader of just the patterns this document uses.
    fn allows(pattern: &str, c: char) -> bool {
        let class = pattern
            .strip_prefix("^[")
            .and_then(|rest| rest.strip_suffix("]*$"))
            .unwrap_or_else(|| panic!("not a character-class pattern: {pattern}"));
        let (negated, class) = match class.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, class),
        };
        let mut items = Vec::new();
        let mut rest = class;
        while let Some(first) = rest.chars().next() {
            let (item, after) = match rest.strip_prefix("\\u") {
                Some(hex) => {
                    let code = u32::from_str_radix(&hex[..4], 16).expect("four hex digits");
                    (char::from_u32(code).expect("a character"), &hex[4..])
                }
                None => (first, &rest[first.len_utf8()..]),
            };
            items.push(item);
            rest = after;
        }
        let mut matched = false;
        let mut i = 0;
        while i < items.len() {
            if i + 2 < items.len() && items[i + 1] == '-' {
                matched |= (items[i]..=items[i + 2]).contains(&c);
                i += 3;
            } else {
                matched |= items[i] == c;
                i += 1;
            }
        }
        matched != negated
    }

    /// Characters worth trying against a pattern: ASCII, Latin-1 (with the C1 controls) and a few
    /// from further on.
    fn samples() -> impl Iterator<Item = char> {
        (0u32..=0x17f)
            .chain([0x2028, 0xfeff, 0x1f600])
            .filter_map(char::from_u32)
    }

    #[test]
    fn the_limits_of_the_queries_agree() {
        let doc = doc();
        for path in ["/reviews/latest", "/books-with-reviews"] {
            let schema = parameter(&doc, path, "get", "limit");
            let (min, max) = (number(&schema, "minimum"), number(&schema, "maximum"));
            for (limit, documented) in
                [(min - 1, false), (min, true), (max, true), (max + 1, false)]
            {
                let limit = u32::try_from(limit).expect("limits are not negative");
                let server = if path == "/reviews/latest" {
                    LatestQuery {
                        via: Via::Async,
                        limit,
                    }
                    .validate()
                    .is_ok()
                } else {
                    LoadQuery {
                        strategy: Strategy::Lazy,
                        limit,
                    }
                    .validate()
                    .is_ok()
                };
                assert_eq!(server, documented, "{path} limit={limit}");
            }
        }
        let by = parameter(&doc, "/counters/{name}", "post", "by");
        let (min, max) = (number(&by, "minimum"), number(&by, "maximum"));
        for (value, documented) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            assert_eq!(
                Increment { by: value }.validate().is_ok(),
                documented,
                "by={value}"
            );
        }
    }

    #[test]
    fn keys_and_counter_names_follow_their_documented_rule() {
        let doc = doc();
        for (path, method, name) in [
            ("/kv/{key}", "get", "key"),
            ("/kv/{key}", "put", "key"),
            ("/kv/{key}", "delete", "key"),
            ("/counters/{name}", "post", "name"),
        ] {
            let schema = parameter(&doc, path, method, name);
            let server = |text: String| {
                if name == "key" {
                    KeyPath { key: text }.validate().is_ok()
                } else {
                    CounterPath { name: text }.validate().is_ok()
                }
            };
            let (min, max) = (length(&schema, "minLength"), length(&schema, "maxLength"));
            // Lengths count characters, not bytes.
            for (n, documented) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                assert_eq!(server("é".repeat(n)), documented, "{path}: {n} characters");
            }
            let pattern = schema["pattern"].as_str().expect("a pattern");
            for c in samples() {
                assert_eq!(server(format!("k{c}")), allows(pattern, c), "{path}: {c:?}");
            }
        }
    }

    #[test]
    fn a_stored_value_follows_its_documented_rules() {
        let doc = doc();
        let value = property(&doc, "PutValue", "value");
        let max = length(&value, "maxLength");
        let ttl = property(&doc, "PutValue", "ttl_seconds");
        let (min_ttl, max_ttl) = (number(&ttl, "minimum"), number(&ttl, "maximum"));
        let put = |value: String, ttl: i64| PutValue {
            value,
            ttl_seconds: Some(u64::try_from(ttl).expect("not negative")),
        };
        assert!(put("é".repeat(max), min_ttl).validate().is_ok());
        assert!(put("é".repeat(max + 1), min_ttl).validate().is_err());
        assert!(put(String::new(), max_ttl).validate().is_ok());
        assert!(put(String::new(), max_ttl + 1).validate().is_err());
        assert!(put(String::new(), min_ttl - 1).validate().is_err());
    }

    #[test]
    fn reading_lists_follow_their_documented_rules() {
        let doc = doc();
        let book = |title: String, author: String| ListedBook { title, author };
        let new_list = |owner: String, name: String| NewList {
            owner,
            name,
            books: Vec::new(),
            tags: Vec::new(),
        };
        let ok_book = || book("T".into(), "A".into());
        let text_rules: [(&str, &str, Accepts<'_>); 5] = [
            (
                "ListedBook",
                "title",
                Box::new(|t| book(t, "A".into()).validate().is_ok()),
            ),
            (
                "ListedBook",
                "author",
                Box::new(|a| book("T".into(), a).validate().is_ok()),
            ),
            (
                "NewList",
                "owner",
                Box::new(|o| new_list(o, "n".into()).validate().is_ok()),
            ),
            (
                "NewList",
                "name",
                Box::new(|n| new_list("o".into(), n).validate().is_ok()),
            ),
            (
                "ListChanges",
                "name",
                Box::new(|n| {
                    ListChanges {
                        name: Some(n),
                        ..ListChanges::default()
                    }
                    .validate()
                    .is_ok()
                }),
            ),
        ];
        for (schema, field, server) in &text_rules {
            let documented = property(&doc, schema, field);
            let (min, max) = (
                length(&documented, "minLength"),
                length(&documented, "maxLength"),
            );
            for (n, expected) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                assert_eq!(
                    server("é".repeat(n)),
                    expected,
                    "{schema}.{field}: {n} characters"
                );
            }
            let pattern = documented["pattern"].as_str().expect("a pattern");
            assert_eq!(pattern, PRINTABLE, "{schema}.{field}");
            for c in samples() {
                assert_eq!(
                    server(format!("x{c}")),
                    allows(pattern, c),
                    "{schema}.{field}: {c:?}"
                );
            }
        }

        // Lists: how many books and tags, and what a tag is.
        let books = property(&doc, "NewList", "books");
        let max_books = length(&books, "maxItems");
        let with_books = |n: usize| NewList {
            books: vec![ok_book(); n],
            ..new_list("o".into(), "n".into())
        };
        assert!(with_books(max_books).validate().is_ok());
        assert!(with_books(max_books + 1).validate().is_err());
        let tags = property(&doc, "NewList", "tags");
        let max_tags = length(&tags, "maxItems");
        let with_tags = |tags: Vec<String>| NewList {
            tags,
            ..new_list("o".into(), "n".into())
        };
        assert!(with_tags(vec!["sf".into(); max_tags]).validate().is_ok());
        assert!(
            with_tags(vec!["sf".into(); max_tags + 1])
                .validate()
                .is_err()
        );
        let tag = &doc["components"]["schemas"]["Tag"];
        let (min, max) = (length(tag, "minLength"), length(tag, "maxLength"));
        for (n, expected) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            assert_eq!(
                with_tags(vec!["a".repeat(n)]).validate().is_ok(),
                expected,
                "a tag of {n}"
            );
        }
        let pattern = tag["pattern"].as_str().expect("a pattern");
        for c in samples() {
            assert_eq!(
                with_tags(vec![format!("a{c}")]).validate().is_ok(),
                allows(pattern, c),
                "a tag with {c:?}"
            );
        }
        for (schema, field) in [("ListChanges", "add_books"), ("ListChanges", "add_tags")] {
            let changes = property(&doc, schema, field);
            let same = if field == "add_books" { &books } else { &tags };
            assert_eq!(changes["maxItems"], same["maxItems"], "{schema}.{field}");
        }
    }

    #[test]
    fn a_list_id_is_what_mongodb_parses() {
        let doc = doc();
        let id = parameter(&doc, "/mongo/reading-lists/{id}", "get", "id");
        assert_eq!(id["pattern"], "^[0-9a-fA-F]{24}$");
        let parses = |text: &str| mongodb::bson::oid::ObjectId::parse_str(text).is_ok();
        assert!(parses(&"a".repeat(24)) && parses(&"F".repeat(24)));
        assert!(!parses(&"a".repeat(23)) && !parses(&"a".repeat(25)) && !parses(&"g".repeat(24)));
    }

    #[test]
    fn without_mongodb_the_document_says_why_its_routes_are_missing() {
        let without = serde_json::to_value(document(false)).expect("JSON");
        let paths = without["paths"].as_object().expect("paths");
        assert!(!paths.keys().any(|path| path.starts_with("/mongo")));
        let description = without["info"]["description"]
            .as_str()
            .expect("a description");
        assert!(description.contains("MONGODB_URL") && description.contains("503"));
        let with = doc();
        for operation in with["paths"]["/mongo/reading-lists"]
            .as_object()
            .expect("ops")
            .values()
        {
            let unavailable = operation["responses"]["503"]["description"]
                .as_str()
                .expect("a 503");
            assert!(unavailable.contains("MONGODB_URL"), "{unavailable}");
        }
    }
}
