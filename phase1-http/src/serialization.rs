//! 1.7 Serialization: Rust values to JSON and back.
//!
//! **Roadmap:** "Converting Python objects to JSON and back": the `json` module, then Pydantic models.
//!
//! **Python:** `json.dumps(obj.__dict__)` knows nothing of types; Pydantic's `model_dump_json()` and
//! `Model.model_validate_json()` add them, with `Field(alias=...)`, defaults, `Optional`, discriminated
//! unions and `datetime` as ISO 8601.
//!
//! **Rust:** `#[derive(Serialize, Deserialize)]` (serde) writes the conversion at compile time, with no
//! reflection at run time. Each Pydantic feature has a serde attribute, all shown on [`Book`]:
//! - a rename: the field `isbn` is `isbn13` on the wire (`#[serde(rename)]`, Pydantic's `alias`);
//! - defaults: `tags` may be left out (`#[serde(default)]`, `Field(default_factory=list)`);
//! - optional fields: `Option<T>` is `null`-able, and omitted from output when `None`;
//! - a tagged enum: `format` is `{"kind": "ebook", "size_kb": 2048}`, each kind with its own fields
//!   (`#[serde(tag = "kind")]`, a discriminated union);
//! - timestamps: `chrono::DateTime<Utc>` is RFC 3339 text (`2026-11-25T16:05:27Z`);
//! - unknown fields rejected: the write shapes in [`crate::validation`] use
//!   `#[serde(deny_unknown_fields)]` (Pydantic's `extra="forbid"`), so a typo is a 422, not a silently
//!   dropped field.
//! - one kind of number: JSON has no integers, only numbers, so `2000.0` is the number 2000 and a
//!   JSON Schema `integer` accepts it. serde reads an `i32` only from `2000`; `common::extract`'s
//!   `Json` reads both, as Pydantic does, and still refuses `2000.5`.
//!
//! `#[derive(ToSchema)]` (utoipa) reads the same attributes to write each shape into the OpenAPI
//! document: a rename, a default, an `Option` and a tagged enum are described as serde writes them.
//!
//! **Why:** the shape of the JSON is the type, checked by the compiler; there is no way to return a
//! field the type does not have, nor to forget a conversion.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{Modify, ToSchema};

use crate::validation::Publisher;

/// A book as the API returns it (the read shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Book {
    pub id: u64,
    pub title: String,
    pub author: String,
    pub year: i32,
    /// Left out when unknown.
    // Called `isbn13` on the wire.
    #[serde(rename = "isbn13", default, skip_serializing_if = "Option::is_none")]
    pub isbn: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::validation::tag_list)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<Publisher>,
    /// Set when the book was created from a multipart form with a cover file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<CoverInfo>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// How a book is published: a tagged enum, `{"kind": "paperback", "pages": 320}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Format {
    Paperback {
        #[schema(format = "uint32", maximum = 4294967295usize)]
        pages: u32,
    },
    Hardcover {
        #[schema(format = "uint32", maximum = 4294967295usize)]
        pages: u32,
    },
    Ebook {
        #[schema(format = "uint32", maximum = 4294967295usize)]
        size_kb: u32,
    },
    Audiobook {
        #[schema(format = "uint32", maximum = 4294967295usize)]
        minutes: u32,
    },
}

/// Closes each variant of [`Format`] in the document, as `deny_unknown_fields` closes it for serde:
/// utoipa writes an internally tagged enum as one object schema per variant, but leaves them open
/// to any other property, which would invite a client to send fields the server refuses.
#[derive(Debug)]
pub struct ClosedVariants;

impl Modify for ClosedVariants {
    fn modify(&self, openapi: &mut OpenApi) {
        let schemas = openapi.components.as_mut().map(|c| &mut c.schemas);
        let Some(RefOr::T(Schema::OneOf(format))) = schemas.and_then(|s| s.get_mut("Format"))
        else {
            return;
        };
        for variant in &mut format.items {
            if let RefOr::T(Schema::Object(object)) = variant {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// What is known of an uploaded cover; the bytes are served at `/books/{id}/cover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CoverInfo {
    pub file_name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn book() -> Book {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 16, 5, 27).unwrap();
        Book {
            id: 7,
            title: "Dune".into(),
            author: "Frank Herbert".into(),
            year: 1965,
            isbn: Some("9780441013593".into()),
            tags: vec!["sf".into()],
            format: Some(Format::Ebook { size_kb: 2048 }),
            publisher: None,
            cover: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn the_wire_shape_uses_renames_tags_and_rfc3339() {
        let value = serde_json::to_value(book()).unwrap();
        assert_eq!(
            value,
            json!({
                "id": 7, "title": "Dune", "author": "Frank Herbert", "year": 1965,
                "isbn13": "9780441013593", "tags": ["sf"],
                "format": {"kind": "ebook", "size_kb": 2048},
                "created_at": "2026-11-25T16:05:27Z", "updated_at": "2026-11-25T16:05:27Z"
            })
        );
    }

    #[test]
    fn a_round_trip_gives_back_the_same_value() {
        let text = serde_json::to_string(&book()).unwrap();
        assert_eq!(serde_json::from_str::<Book>(&text).unwrap(), book());
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let book: Book = serde_json::from_value(json!({
            "id": 1, "title": "t", "author": "a", "year": 2000,
            "created_at": "2026-01-01T00:00:00+01:00", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        assert!(book.tags.is_empty() && book.isbn.is_none() && book.format.is_none());
        assert_eq!(book.created_at.to_rfc3339(), "2025-12-31T23:00:00+00:00");
    }

    #[test]
    fn an_unknown_kind_or_field_in_a_tagged_enum_is_refused() {
        assert!(serde_json::from_value::<Format>(json!({"kind": "scroll"})).is_err());
        assert!(serde_json::from_value::<Format>(json!({"kind": "ebook", "pages": 3})).is_err());
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction() {
        let ebook = |size: serde_json::Value| {
            let body = json!({"kind": "ebook", "size_kb": size}).to_string();
            common::extract::decode_json::<Format>(body.as_bytes())
                .map_err(|err| Box::new(err.problem()))
        };
        assert_eq!(ebook(json!(2048.0)), Ok(Format::Ebook { size_kb: 2048 }));
        assert_eq!(ebook(json!(2048)), Ok(Format::Ebook { size_kb: 2048 }));
        for wrong in [json!(2048.5), json!(-1), json!("2048")] {
            let problem = ebook(wrong.clone()).unwrap_err();
            assert_eq!(problem.status, 422, "{wrong}");
            // serde reads a tagged enum through a buffer, which loses the inner field's name: the
            // problem names the enum (here the whole body; in a book, `format`).
            assert!(
                problem.errors[0]
                    .message
                    .starts_with("must be a whole number from 0"),
                "{problem:?}"
            );
        }
    }

    #[test]
    fn the_document_closes_every_format_as_serde_does() {
        let document = serde_json::to_value(crate::openapi()).unwrap();
        let variants = document["components"]["schemas"]["Format"]["oneOf"]
            .as_array()
            .expect("Format is a oneOf");
        assert_eq!(variants.len(), 4);
        for variant in variants {
            assert_eq!(variant["additionalProperties"], false, "{variant}");
        }
    }
}
