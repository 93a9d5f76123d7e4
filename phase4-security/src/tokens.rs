//! 4.1 JWT: short-lived access tokens, rotating refresh tokens, pinned algorithms and rotating keys.
//!
//! **Roadmap:** "JWT (JSON Web Tokens): How to implement access/refresh token patterns securely."
//!
//! **Python:** PyJWT or python-jose: `jwt.encode(claims, key, algorithm="HS256")` and
//! `jwt.decode(token, key, algorithms=["HS256"], audience=...)`; FastAPI's tutorial issues a token
//! from `POST /token` and reads it in a `Depends(oauth2_scheme)` dependency.
//!
//! **Rust:** `jsonwebtoken`. Tokens are signed with ES256 (ECDSA on P-256) by a [`KeyRing`]: every
//! key has a `kid`, the public halves are published at `GET /.well-known/jwks.json`, and
//! `POST /admin/keys/rotate` makes a new key the signing key while the previous ones keep verifying,
//! so a rotation logs nobody out. [`Tokens::verify`] pins the algorithm (the token's own `alg` is
//! never trusted: `none`, or HS256 "signed" with our public key, is refused) and checks the
//! signature, `exp`, `nbf`, `iss` and `aud`. The [`Caller`] extractor does this for every handler
//! that names it, and answers 401 with a `WWW-Authenticate: Bearer ...` challenge (RFC 6750).
//!
//! `POST /auth/token` is the OAuth 2.0 token endpoint for the API's own logins (form-encoded, as
//! OAuth and Swagger UI's "Authorize" send it):
//! - `grant_type=password&username=..&password=..[&scope=..]`: an access token (15 minutes) and a
//!   refresh token (14 days);
//! - `grant_type=refresh_token&refresh_token=..`: a new pair. The old refresh token is spent: each
//!   is recorded by its `jti` in `refresh_tokens`, with the family (the login) it belongs to.
//!   Presenting a spent one means two parties hold it, one of them a thief, so the whole family is
//!   revoked and the user must log in again (refresh token rotation with reuse detection, as in
//!   OAuth 2.0 Security BCP §4.14).
//!
//! Errors follow OAuth (RFC 6749 §5.2): a problem document with an `error` member
//! (`invalid_grant`, ...), which OAuth clients read.
//!
//! **Why:** an access token is checked without a database (the signature says it is ours), so it
//! must be short-lived; the refresh token is long-lived, so it is checked against the database and
//! can be revoked. Asymmetric keys let other services (and the OpenID Connect clients of 4.3)
//! verify tokens with the published JWKS without being able to mint them.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::ApiError;
use common::db::{AnyConnection, Database, blocking, write_transaction};
use common::extract::{Form, bearer_token};
use diesel::prelude::*;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::EncodePrivateKey;
use rand_core::{OsRng, RngCore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::passwords::{self, User};
use crate::rbac::Role;
use crate::schema::refresh_tokens;
use crate::scopes::Scopes;

/// The only algorithm accepted, whatever a token's header says.
pub const ALGORITHM: Algorithm = Algorithm::ES256;
/// The `aud` of access tokens for this API.
pub const API_AUDIENCE: &str = "phase4-api";
/// The `aud` of refresh tokens: they are accepted by `POST /auth/token` and nowhere else.
pub const REFRESH_AUDIENCE: &str = "phase4-refresh";
/// How many keys verify at once: the signing key and the two before it.
const KEPT_KEYS: usize = 3;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;
/// The challenge of a 401 without usable credentials.
pub const CHALLENGE: &str = r#"Bearer realm="phase4""#;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// 256 random bits from the operating system, base64url: token ids, codes, states.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `text`, base64url (PKCE's S256, and how codes are stored).
pub fn sha256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Whole seconds of `duration`, as claims count them.
pub fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// One signing key: the private half signs, the public half verifies and is published.
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl Key {
    fn generate() -> anyhow::Result<Self> {
        let secret = p256::ecdsa::SigningKey::random(&mut OsRng);
        let der = secret
            .to_pkcs8_der()
            .map_err(|err| anyhow::anyhow!("encoding a P-256 key: {err}"))?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let kid = random_token()[..16].to_owned();
        let mut jwk = Jwk::from_encoding_key(&encoding, ALGORITHM)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk)?;
        Ok(Self {
            kid,
            encoding,
            decoding,
            jwk,
        })
    }
}

/// The signing keys, newest first. Generated when the server starts: a restart invalidates every
/// token (a deployment would load its keys from a secret store instead).
pub struct KeyRing {
    keys: RwLock<Vec<Arc<Key>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kids()).finish()
    }
}

impl KeyRing {
    /// A ring with one fresh key.
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            keys: RwLock::new(vec![Arc::new(Key::generate()?)]),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Key>>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes a fresh key the signing key; the previous ones keep verifying until they fall off the
    /// end of the ring. Returns the new `kid`.
    pub fn rotate(&self) -> anyhow::Result<String> {
        let key = Arc::new(Key::generate()?);
        let kid = key.kid.clone();
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.insert(0, key);
        keys.truncate(KEPT_KEYS);
        Ok(kid)
    }

    /// The `kid`s that verify, the signing one first.
    pub fn kids(&self) -> Vec<String> {
        self.read().iter().map(|key| key.kid.clone()).collect()
    }

    /// The public keys, as `GET /.well-known/jwks.json` shows them.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.read().iter().map(|key| key.jwk.clone()).collect(),
        }
    }

    /// Signs `claims` with the current key; the header names its `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        // A ring is made with a key and rotation only adds: there is always a first one.
        let key = self
            .read()
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the key ring is empty"))?;
        let header = Header {
            kid: Some(key.kid.clone()),
            ..Header::new(ALGORITHM)
        };
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    fn find(&self, kid: &str) -> Option<Arc<Key>> {
        self.read().iter().find(|key| key.kid == kid).cloned()
    }
}

/// The claims of an access token (RFC 9068's, roughly).
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
        }
    }

    fn from_kind(kind: &ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                Self::AlgorithmNotAllowed
            }
            ErrorKind::MissingRequiredClaim(_) => Self::MissingClaim,
            _ => Self::Malformed,
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

/// An OAuth error (RFC 6749 §5.2): a problem whose `error` member OAuth clients understand.
pub fn oauth_error(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(status, detail).with_member("error", code)
}

/// Issues and verifies this server's tokens.
#[derive(Debug)]
pub struct Tokens {
    /// Shared, so that whoever holds it (a test, an admin route) sees rotations.
    pub keys: Arc<KeyRing>,
    /// This server's base URL, the `iss` of every token (and the OpenID Connect issuer).
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Tokens {
    /// Fresh keys; access tokens for 15 minutes, refresh tokens for 14 days.
    pub fn new(issuer: impl Into<String>) -> anyhow::Result<Self> {
        Ok(Self {
            keys: Arc::new(KeyRing::generate()?),
            issuer: issuer.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 60 * 60),
        })
    }

    /// An access token for `user` with `scope`, for this API (`client_id` when issued to an OAuth
    /// client).
    pub fn access_token(
        &self,
        user: &User,
        scope: &Scopes,
        client_id: Option<&str>,
    ) -> anyhow::Result<String> {
        let now = now();
        self.keys.sign(&AccessClaims {
            iss: self.issuer.clone(),
            sub: user.id.to_string(),
            aud: API_AUDIENCE.to_owned(),
            exp: now + seconds(self.access_ttl),
            nbf: now,
            iat: now,
            jti: random_token(),
            scope: scope.to_string(),
            role: user.role(),
            preferred_username: user.username.clone(),
            client_id: client_id.map(str::to_owned),
        })
    }

    /// Verifies `token` for `audience`: the algorithm is pinned to ES256, the key is found by the
    /// header's `kid`, and `exp`, `nbf`, `iss` and `aud` are all required and checked.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<T, TokenError> {
        // The header is read only to find the key; it decides nothing else.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != ALGORITHM {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.find(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        validation.required_spec_claims = ["exp", "nbf", "iss", "aud", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        // Validated as plain JSON first, so that a token of another kind (a refresh token here)
        // is refused for its audience, not for its shape.
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
            .map_err(|err| TokenError::from_kind(err.kind()))?
            .claims;
        serde_json::from_value(claims).map_err(|_| TokenError::Malformed)
    }
}

/// What `POST /auth/token` answers (RFC 6749 §5.1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
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

/// Spends `refresh_token` and issues the next pair of its family; a reused token revokes the family.
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
        let Some(user) = passwords::find(conn, user_id).map_err(ApiError::internal)? else {
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
                "this refresh token was already used; every token of this login is revoked, log in again",
            ))
        }
    }
}

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
    pub fn require_scope(&self, scope: crate::scopes::Scope) -> Result<(), ApiError> {
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
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(caller(req))
    }
}

/// The claims of this request's bearer token, verified already (by the rate limiter, 4.9).
#[derive(Debug, Clone)]
pub struct Verified(pub AccessClaims);

fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let verified = req.extensions().get::<Verified>().map(|v| v.0.clone());
    let claims = match verified {
        Some(claims) => claims,
        None => {
            let tokens = req
                .app_data::<web::Data<Tokens>>()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("Tokens is not registered")))?;
            let token = bearer_token(req)
                .ok_or_else(|| ApiError::unauthorized(CHALLENGE, "this needs a bearer token"))?;
            tokens.verify::<AccessClaims>(token, API_AUDIENCE)?
        }
    };
    let user_id = claims
        .sub
        .parse()
        .map_err(|_| ApiError::from(TokenError::Malformed))?;
    Ok(Caller {
        user_id,
        username: claims.preferred_username,
        role: claims.role,
        scopes: Scopes::parse(&claims.scope).map_err(|_| TokenError::Malformed)?,
    })
}

/// `POST /auth/token`, form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` or `refresh_token`. (Every field is optional to the parser, so that a missing one
    /// is OAuth's 400 `invalid_request`, not a generic 422.)
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Space-separated; every scope the role allows when absent.
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
}

/// `POST /auth/token`: log in (`grant_type=password`) or refresh (`grant_type=refresh_token`).
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "wrong credentials, a spent refresh token, an unknown grant or scope: `error` says which", body = common::Problem),
    )
)]
#[post("/auth/token")]
pub(crate) async fn token_endpoint(
    database: web::Data<Database>,
    tokens: web::Data<Tokens>,
    Form(request): Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(grant_type) = request.grant_type.as_deref() else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required: password or refresh_token",
        ));
    };
    let response = match grant_type {
        "password" => {
            let (Some(username), Some(password)) = (request.username, request.password) else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the password grant needs `username` and `password`",
                ));
            };
            let user = passwords::authenticate(&database, username, password)
                .await?
                .ok_or_else(|| {
                    oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "wrong username or password",
                    )
                })?;
            let scope = Scopes::requested(request.scope.as_deref(), user.role())?;
            blocking(move || issue(&mut *database.conn()?, &tokens, &user, &scope, None)).await?
        }
        "refresh_token" => {
            let refresh_token = request.refresh_token.ok_or_else(|| {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the refresh_token grant needs `refresh_token`",
                )
            })?;
            blocking(move || refresh(&mut *database.conn()?, &tokens, &refresh_token)).await?
        }
        other => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "`{other}` is not a grant this endpoint knows: use password or refresh_token"
                ),
            ));
        }
    };
    Ok(no_store().json(response))
}

/// A 200 that no cache may keep (RFC 6749 §5.1 asks it of token responses).
pub fn no_store() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]));
    response
}

/// `GET /.well-known/jwks.json`: the public keys that verify this server's tokens.
#[utoipa::path(tag = "auth", responses((status = 200, description = "a JWK set (RFC 7517)")))]
#[get("/.well-known/jwks.json")]
pub(crate) async fn jwks(tokens: web::Data<Tokens>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::MaxAge(300)]))
        .json(tokens.keys.jwks())
}
