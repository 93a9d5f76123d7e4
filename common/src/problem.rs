//! The wire shape of an error: Problem Details for HTTP APIs (RFC 9457).
//!
//! Python frameworks each invent a shape (`{"detail": ...}` in FastAPI, `{"field": ["msg"]}` in DRF).
//! RFC 9457 is the standard one, with its own media type so that a client can tell an error body from
//! a resource before parsing it. Every 4xx and 5xx this project sends has this shape.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

/// The media type of a problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document (RFC 9457): the body of every 4xx and 5xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` means "only what the status code says".
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the kind of problem; with `about:blank` it is the status code's phrase.
    pub title: String,
    /// The HTTP status code, repeated so the body stands on its own.
    pub status: u16,
    /// What went wrong this time, for a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// One entry for each failing field or parameter (an extension member of this project).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Other extension members (RFC 9457 §3.2), such as OAuth 2.0's `error` code on a token endpoint's
    /// error, which OAuth clients read.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// One failing field: where it is, which rule it broke, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// A dotted path into the input: `title`, `publisher.email`, `tags[2]`.
    pub field: String,
    /// The rule that failed, machine-readable: `length`, `range`, `email`, `type`, ...
    pub code: String,
    /// The reason, for a human.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    /// A problem that says no more than its status code.
    pub fn from_status(status: StatusCode) -> Self {
        Self {
            type_uri: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
        }
    }
}
