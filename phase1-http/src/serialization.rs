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
//!
//! **Why:** the shape of the JSON is the type, checked by the compiler; there is no way to return a
//! field the type does not have, nor to forget a conversion.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::Publisher;

/// A book as the API returns it (the read shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Book {
    pub id: u64,
    pub title: String,
    pub author: String,
    pub year: i32,
    /// Called `isbn13` on the wire; left out of the output when unknown.
    #[serde(rename = "isbn13", default, skip_serializing_if = "Option::is_none")]
    pub isbn: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<Publisher>,
    /// Set when the book was created from a multipart form with a cover file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<CoverInfo>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a book is published: a tagged enum, `{"kind": "paperback", "pages": 320}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Format {
    Paperback { pages: u32 },
    Hardcover { pages: u32 },
    Ebook { size_kb: u32 },
    Audiobook { minutes: u32 },
}

/// What is known of an uploaded cover; the bytes are served at `/books/{id}/cover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
