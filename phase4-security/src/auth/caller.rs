//! The caller of a request, from its bearer token: the extractor every protected route names.
//!
//! FastAPI's `Depends(get_current_user)`: a handler that takes a [`Caller`] cannot run without a
//! valid access token, and without one the client gets 401 with a `WWW-Authenticate: Bearer ...`
//! challenge that says why (RFC 6750 §3). A request's token is verified once, by whichever asks
//! first (the rate limiter of 4.9 usually does, to count the request against the user), and the
//! outcome is kept in the request for the others.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use common::ApiError;
use common::extract::bearer_token;

use super::{AccessClaims, CHALLENGE, Scope, Scopes, TokenError, TokenService};
use crate::users::Role;

/// The caller of a request, from a verified access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i32,
    pub username: String,
    pub role: Role,
    pub scopes: Scopes,
}

impl Caller {
    /// 403 unless the token carries `scope` (RFC 6750 §3.1's `insufficient_scope`).
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let challenge = format!(
            r#"{CHALLENGE}, error="insufficient_scope", scope="{}""#,
            scope.as_str()
        );
        Err(
            ApiError::forbidden(format!("this needs the `{}` scope", scope.as_str()))
                .with_header((header::WWW_AUTHENTICATE, challenge)),
        )
    }

    /// The caller, when the request carries a valid bearer token; for middleware that treats
    /// users and anonymous clients differently (rate limits, idempotency keys).
    pub fn identify(req: &HttpRequest) -> Option<Caller> {
        match check(req) {
            Checked::Valid(caller) => Some(caller),
            Checked::NoToken | Checked::Refused(_) | Checked::NoVerifier => None,
        }
    }

    /// Says who the caller of `req` is, found by other means than a bearer JWT (the shortener's
    /// API keys, checked by middleware): the extractor, the rate limiter and the idempotency
    /// keys then take `outcome` as a token's, and no token is verified.
    pub fn vouch(req: &impl HttpMessage, outcome: Result<Caller, TokenError>) {
        let checked = match outcome {
            Ok(caller) => Checked::Valid(caller),
            Err(err) => Checked::Refused(err),
        };
        req.extensions_mut().insert(checked);
    }

    /// The caller holding access token `token`, checked by `tokens`, and when the token
    /// expires (its `exp`): for a connection that outlives a request and must end with its token
    /// (the chat's WebSocket, authenticated at the handshake or by its first frame).
    pub fn from_token(
        tokens: &dyn TokenService,
        token: &str,
    ) -> Result<(Caller, SystemTime), TokenError> {
        let claims = tokens.verify_access(token)?;
        let expires = UNIX_EPOCH + Duration::from_secs(u64::try_from(claims.exp).unwrap_or(0));
        Ok((Caller::from_claims(claims)?, expires))
    }

    /// The demo user `ada` with her usual scopes: who a request without a token is, on a server
    /// started with `--insecure-benchmark-without-tokens` (see `scripts/bench-http`).
    pub fn benchmark() -> Caller {
        Caller {
            user_id: 2,
            username: "ada".to_owned(),
            role: Role::User,
            scopes: Scopes::parse("books:read orders:read orders:write").unwrap_or_default(),
        }
    }

    fn from_claims(claims: AccessClaims) -> Result<Self, TokenError> {
        Ok(Caller {
            user_id: claims.sub.parse().map_err(|_| TokenError::Malformed)?,
            username: claims.preferred_username,
            role: claims.role,
            scopes: Scopes::parse(&claims.scope).map_err(|_| TokenError::Malformed)?,
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match check(req) {
            Checked::Valid(caller) => Ok(caller),
            Checked::Refused(err) => Err(err.into()),
            Checked::NoToken => Err(ApiError::unauthorized(
                CHALLENGE,
                "this needs a bearer token",
            )),
            Checked::NoVerifier => Err(ApiError::internal(anyhow::anyhow!(
                "no TokenService is registered"
            ))),
        })
    }
}

/// What checking a request's bearer token found; kept in the request's extensions.
#[derive(Debug, Clone)]
enum Checked {
    NoToken,
    Valid(Caller),
    Refused(TokenError),
    /// The app registered no [`TokenService`]: a mistake in the app, not the client's.
    NoVerifier,
}

fn check(req: &HttpRequest) -> Checked {
    if let Some(checked) = req.extensions().get::<Checked>() {
        return checked.clone();
    }
    let checked = match bearer_token(req) {
        None => match req.app_data::<web::Data<Caller>>() {
            Some(benchmark) => Checked::Valid(Caller::clone(benchmark)),
            None => Checked::NoToken,
        },
        Some(token) => match req.app_data::<web::Data<dyn TokenService>>() {
            None => Checked::NoVerifier,
            Some(tokens) => match tokens.verify_access(token).and_then(Caller::from_claims) {
                Ok(caller) => Checked::Valid(caller),
                Err(err) => Checked::Refused(err),
            },
        },
    };
    req.extensions_mut().insert(checked.clone());
    checked
}
