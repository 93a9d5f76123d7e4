//! Conditional writes: `If-Match`, the guard against the lost update (RFC 9110 §13.1.1).
//!
//! Two clients read version 3 of a resource and both send a change: without a guard, the second
//! silently undoes the first. With `If-Match: "v3"` the first write makes it version 4, and the
//! second is refused with 412, so that its client reads again. A route that requires the header
//! answers 428 without it (RFC 6585), so that a client cannot forget it. Phase 5 teaches it (topic
//! 5.1); every crate that takes writes guards them with [`require_match`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, IfMatch};
use actix_web::{HttpMessage, HttpRequest};

use crate::ApiError;

/// What a request's `If-Match` says, read once so that the check can run later, away from the
/// request (inside a database transaction on a blocking thread, where the `HttpRequest` cannot go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`.
    Missing,
    /// An `If-Match` that is not a list of tags or `*`: it names no version.
    Unreadable,
    Given(IfMatch),
}

impl Precondition {
    /// The `If-Match` of `req`.
    pub fn of(req: &HttpRequest) -> Self {
        if !req.headers().contains_key(header::IF_MATCH) {
            return Precondition::Missing;
        }
        req.get_header::<IfMatch>()
            .map_or(Precondition::Unreadable, Precondition::Given)
    }

    /// `Ok` when it names `current` (strong comparison) or is `*`; 428 when there is none, 412
    /// when it is stale (the problem says the current tag).
    pub fn require(&self, current: &EntityTag) -> Result<(), ApiError> {
        let matches = match self {
            Precondition::Missing => {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_REQUIRED,
                    "this write needs If-Match with the ETag you read (GET it first), so that it \
                     cannot overwrite a change you have not seen",
                ));
            }
            Precondition::Unreadable => false,
            Precondition::Given(IfMatch::Any) => true,
            Precondition::Given(IfMatch::Items(tags)) => {
                tags.iter().any(|tag| tag.strong_eq(current))
            }
        };
        if matches {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "If-Match does not name the current version ({current}): someone changed it since \
                 you read it; GET it again and retry"
            ),
        )
        .with_member("current_etag", current.to_string())
        .with_header(header::ETag(current.clone())))
    }
}

/// The guard of a write: `Ok` when `If-Match` names `current` (strong comparison) or is `*`;
/// 428 without the header, 412 with a stale one (the problem says the current tag).
pub fn require_match(req: &HttpRequest, current: &EntityTag) -> Result<(), ApiError> {
    Precondition::of(req).require(current)
}
