//! 4.1, part two: refresh tokens, rotated on every use, recorded by family.
//!
//! **Roadmap:** "JWT (JSON Web Tokens): How to implement access/refresh token patterns securely."
//!
//! **Python:** a `refresh_tokens` table next to the users (SQLAlchemy), one row per token issued:
//! `POST /token` with `grant_type=refresh_token` looks the row up, marks it used and issues the
//! next; libraries such as `fastapi-users` keep the same record.
//!
//! **Rust:** each refresh token is a signed JWT whose `jti` is a row of `refresh_tokens`, with the
//! family (the login) it belongs to. [`refresh`] spends the token in the same `UPDATE` that checks
//! it is unspent, and issues the next pair of its family. Presenting a spent one means two
//! parties hold it, one of them a thief: the family's refresh tokens are revoked and the user
//! must log in again (refresh token rotation with reuse detection, OAuth 2.0 Security BCP §4.14).
//! The access tokens already issued to that login are not recalled: they are checked by signature
//! alone, so they keep working until they expire, at most 15 minutes later. (Recalling them would
//! mean a look-up on every request, the cost that short-lived access tokens exist to avoid.)
//!
//! **Why:** the refresh token is the long-lived secret, so it is the one the server must be able
//! to revoke; rotation makes a stolen copy detectable the first time either holder uses it.

use actix_web::http::StatusCode;
use common::ApiError;
use common::db::{AnyConnection, write_transaction};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::keys::Tokens;
use crate::auth::{Scopes, TokenResponse};
use crate::oauth::{now, oauth_error, random_token, seconds};
use crate::schema::refresh_tokens;
use crate::users::{self, User};

/// The `aud` of refresh tokens: they are accepted by `POST /auth/token` and nowhere else.
pub const REFRESH_AUDIENCE: &str = "phase4-refresh";

/// The claims of a refresh token: who, which login (`fam`), and its id in `refresh_tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub fam: String,
}

/// Issues an access token and a refresh token for `user`; the refresh token joins `family`, or
/// starts a new one (a new login).
pub fn issue(
    conn: &mut AnyConnection,
    tokens: &Tokens,
    user: &User,
    scope: &Scopes,
    family: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let now = now();
    let claims = RefreshClaims {
        iss: tokens.issuer.clone(),
        sub: user.id.to_string(),
        aud: REFRESH_AUDIENCE.to_owned(),
        exp: now + seconds(tokens.refresh_ttl),
        nbf: now,
        iat: now,
        jti: random_token(),
        fam: family.map_or_else(random_token, str::to_owned),
    };
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(&claims.jti),
            refresh_tokens::family.eq(&claims.fam),
            refresh_tokens::user_id.eq(user.id),
            refresh_tokens::scope.eq(scope.to_string()),
            refresh_tokens::expires_at.eq(claims.exp),
        ))
        .execute(conn)
        .map_err(ApiError::internal)?;
    Ok(TokenResponse {
        access_token: tokens.access_token(user, scope, None)?,
        token_type: "Bearer".to_owned(),
        expires_in: seconds(tokens.access_ttl),
        refresh_token: tokens.keys.sign(&claims)?,
        scope: scope.to_string(),
    })
}

/// What presenting a refresh token led to.
enum Refreshed {
    Issued(TokenResponse),
    /// Spent already, or revoked: the family is revoked now.
    Reused,
}

/// Spends `refresh_token` and issues the next pair of its family; a reused token revokes the
/// family's refresh tokens.
pub fn refresh(
    conn: &mut AnyConnection,
    tokens: &Tokens,
    refresh_token: &str,
) -> Result<TokenResponse, ApiError> {
    let claims: RefreshClaims = tokens
        .verify(refresh_token, REFRESH_AUDIENCE)
        .map_err(|err| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", err.describe()))?;
    // Spend it in the same statement that checks it is unspent: of two concurrent uses, exactly one
    // updates the row.
    let outcome = write_transaction(conn, |conn| -> Result<Refreshed, ApiError> {
        // One refresh of a family at a time. SQLite's write transaction already serializes; on
        // PostgreSQL the family's rows are locked first, so that a revocation below is a statement
        // that starts after any concurrent rotation committed, and sees the token it inserted.
        if let AnyConnection::Postgresql(pg) = conn {
            refresh_tokens::table
                .filter(refresh_tokens::family.eq(&claims.fam))
                .select(refresh_tokens::id)
                .for_update()
                .load::<String>(pg)
                .map_err(ApiError::internal)?;
        }
        let spent = diesel::update(
            refresh_tokens::table
                .find(&claims.jti)
                .filter(refresh_tokens::used.eq(false))
                .filter(refresh_tokens::revoked.eq(false)),
        )
        .set(refresh_tokens::used.eq(true))
        .execute(conn)
        .map_err(ApiError::internal)?;
        if spent == 0 {
            diesel::update(refresh_tokens::table.filter(refresh_tokens::family.eq(&claims.fam)))
                .set(refresh_tokens::revoked.eq(true))
                .execute(conn)
                .map_err(ApiError::internal)?;
            return Ok(Refreshed::Reused);
        }
        let granted: String = refresh_tokens::table
            .find(&claims.jti)
            .select(refresh_tokens::scope)
            .first(conn)
            .map_err(ApiError::internal)?;
        let user_id = claims.sub.parse().unwrap_or(0);
        let Some(user) = users::find(conn, user_id).map_err(ApiError::internal)? else {
            return Ok(Refreshed::Reused);
        };
        // The role may have changed since the login: keep only what it still allows.
        let scope = Scopes::parse(&granted)
            .unwrap_or_default()
            .allowed_for(user.role());
        issue(conn, tokens, &user, &scope, Some(&claims.fam)).map(Refreshed::Issued)
    })?;
    match outcome {
        Refreshed::Issued(response) => Ok(response),
        Refreshed::Reused => {
            tracing::warn!(family = %claims.fam, user = %claims.sub, "refresh token reused: family revoked");
            Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                format!(
                    "this refresh token was already used, so every refresh token of this login is \
                     revoked: log in again. Access tokens already issued to it keep working until \
                     they expire, within {} minutes",
                    tokens.access_ttl.as_secs() / 60
                ),
            ))
        }
    }
}
