//! Tokens and passwords, as the chapters that use them see them.
//!
//! 4.1 (`tokens`) signs and checks this API's tokens, 4.2 (`passwords`) checks passwords, and
//! other chapters need a little of each: the provider (4.3) checks a password and hands out an
//! access token and an ID token, "Login with" (4.3) ends in a login, the admin routes (4.4)
//! rotate the signing key, and every route checks a bearer token through [`Caller`](super::Caller).
//! They see only the two traits here. The app registers them as `web::Data<dyn TokenService>`
//! and `web::Data<dyn PasswordCheck>`, backed by 4.1's `Tokens` and 4.2's `Passwords`, so that a
//! chapter reads without the chapters that make tokens and hash passwords (and a test could hand
//! it a stand-in).
//!
//! `dyn` rather than a type parameter (axum's `dependency-injection` example weighs the two):
//! generic handlers would carry the type through every route registration and the OpenAPI
//! document, for one virtual call per request, which costs nothing next to an ES256 signature.

use std::time::Duration;

use common::ApiError;
use common::db::{AnyConnection, Database};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Scopes;
use crate::users::{Role, User};

/// The `aud` of access tokens for this API.
pub const API_AUDIENCE: &str = "phase4-api";
/// The challenge of a 401 without usable credentials (RFC 6750 §3).
pub const CHALLENGE: &str = r#"Bearer realm="phase4""#;

/// What an access token says (RFC 9068's claims, roughly).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// Space-separated, as in OAuth.
    pub scope: String,
    pub role: Role,
    pub preferred_username: String,
    /// The OAuth client the token was issued to, when it came from the provider (4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Why a token was refused. Shown to the client in `error_description`: none of it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    AlgorithmNotAllowed,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    /// A credential the app looks up (an API key) that it does not know, or no longer.
    Revoked,
}

impl TokenError {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Malformed => "the token is not a well-formed JWT",
            Self::AlgorithmNotAllowed => "the token is not signed with ES256",
            Self::UnknownKey => "the token names no key of this server",
            Self::BadSignature => "the token's signature does not match",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::WrongIssuer => "the token was issued by someone else",
            Self::WrongAudience => "the token is not meant for this API",
            Self::MissingClaim => "the token lacks a required claim",
            Self::Revoked => "the key is unknown or has been revoked",
        }
    }
}

/// A refused access token: 401, and the challenge says why (RFC 6750 §3).
impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        let challenge = format!(
            r#"{CHALLENGE}, error="invalid_token", error_description="{}""#,
            err.describe()
        );
        ApiError::unauthorized(&challenge, err.describe())
    }
}

/// What a login ends with (RFC 6749 §5.1): a short-lived access token and a refresh token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// This API's tokens: issued and checked by 4.1's `tokens::Tokens`.
pub trait TokenService: Send + Sync {
    /// The `iss` of every token: this server's base URL (and the OpenID Connect issuer).
    fn issuer(&self) -> &str;

    /// How long an access token lasts.
    fn access_ttl(&self) -> Duration;

    /// Checks a bearer token: signature, algorithm, expiry, issuer and audience.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// An access token for `user` with `scope`, issued to an OAuth client when `client_id` is given.
    fn access_token(
        &self,
        user: &User,
        scope: &Scopes,
        client_id: Option<&str>,
    ) -> anyhow::Result<String>;

    /// Signs other claims with the current key (the provider's ID tokens).
    fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String>;

    /// A new login for `user`: an access token, and the first refresh token of a new family.
    fn issue(
        &self,
        conn: &mut AnyConnection,
        user: &User,
        scope: &Scopes,
    ) -> Result<TokenResponse, ApiError>;

    /// Makes a new key the signing key; returns the `kid`s that verify now, the new one first.
    fn rotate_keys(&self) -> Result<Vec<String>, ApiError>;
}

/// Checking a username and a password: 4.2's `passwords::Passwords`.
pub trait PasswordCheck: Send + Sync {
    /// The user when the name (in any case or width) and the password are right, `None`
    /// otherwise; an unknown name and a wrong password take the same time and look alike.
    fn authenticate(
        &self,
        database: Database,
        username: String,
        password: String,
    ) -> LocalBoxFuture<'_, Result<Option<User>, ApiError>>;
}
