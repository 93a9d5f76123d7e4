//! OAuth's small words, shared by every chapter that hands out or checks tokens: the clock tokens
//! count in, random tokens, SHA-256, OAuth's error member, and a response no cache may keep.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, HttpResponseBuilder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::ApiError;
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Seconds since the Unix epoch: what `exp`, `iat` and `nbf` count.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, seconds)
}

/// Whole seconds of `duration`, as claims count them.
pub fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// 256 random bits from the operating system, base64url: token ids, codes, claims on a key.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `text`, base64url (PKCE's S256, and how codes and requests are fingerprinted).
pub fn sha256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// An OAuth error (RFC 6749 §5.2): a problem whose `error` member OAuth clients understand.
pub fn oauth_error(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(status, detail).with_member("error", code)
}

/// The parameters of an OAuth request that its endpoint does not know, collected only to be
/// ignored: "The authorization server MUST ignore unrecognized request parameters" (RFC 6749 §3.1
/// and §3.2), where every other route of the API refuses them. A struct takes it as
/// `#[serde(flatten)] #[schema(ignore)] other: Ignored`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Ignored(
    #[allow(dead_code)] // held to be dropped
    BTreeMap<String, OneOrMany>,
);

/// A parameter's value, given once or repeated.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(#[allow(dead_code)] String),
    Many(#[allow(dead_code)] Vec<String>),
}

/// A 200 that no cache may keep (RFC 6749 §5.1 asks it of token responses).
pub fn no_store() -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
    response
}
