//! 4.1, part one: the signing keys, and access tokens signed and verified with them.
//!
//! **Roadmap:** "JWT (JSON Web Tokens): How to implement access/refresh token patterns securely."
//!
//! **Python:** `jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": kid})`, and
//! `jwt.decode(token, key, algorithms=["ES256"], audience=..., issuer=...)`, whose `algorithms`
//! list is the line that keeps `alg: none` out; PyJWT's `PyJWKClient` reads a JWKS.
//!
//! **Rust:** tokens are signed with ES256 (ECDSA on P-256) by a [`KeyRing`]: every key has a
//! `kid`, the public halves are published at `GET /.well-known/jwks.json`, and a rotation
//! (`POST /admin/keys/rotate`, 4.4's admin route) makes a new key the signing key while the
//! previous two keep verifying, so a rotation logs nobody out. Rotations are at most one every
//! [`Tokens::rotation_interval`] (7.5 minutes), so that no access token outlives the keys that
//! verify it. [`Tokens::verify`] pins the algorithm (the token's own `alg` is never trusted:
//! `none`, or HS256 "signed" with our public key, is refused) and checks the signature, `exp`,
//! `nbf`, `iss` and `aud`.
//!
//! What verification costs, and what this does about it: one ES256 verification with RustCrypto's
//! p256 took 443 µs here (release build, 2 cores), a request's whole budget many times over. The
//! options, measured side by side: jsonwebtoken's aws-lc backend verifies ES256 in 78 µs (and RS256
//! in 32 µs) but adds a C library to every build; EdDSA verifies in 69 µs with RustCrypto, at the
//! price of an algorithm many OpenID Connect clients do not accept; RS256 with RustCrypto takes
//! 326 µs. A client sends the same token with every request until it expires, so the cheapest check
//! is the one not repeated: [`TokenService::verify_access`] remembers up to 10,000 verified tokens
//! by their whole text (0.4 µs a look-up), and checks `exp`, `nbf` and the signing key again on
//! every use. Nothing about what is accepted changes: a forged or edited token is a text never
//! seen, and is verified in full.
//!
//! **Why:** a token's header is written by whoever made the token; a verifier that lets it choose
//! the algorithm or the key lets an attacker choose too. Naming the key by `kid` is what lets a
//! new key take over while tokens signed by the old one are still in use.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use base64::Engine;
use common::ApiError;
use common::db::AnyConnection;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::OsRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::auth::{API_AUDIENCE, AccessClaims, Scopes, TokenError, TokenResponse, TokenService};
use crate::oauth::{now, random_token, seconds};
use crate::users::User;

/// The only algorithm accepted, whatever a token's header says.
pub const ALGORITHM: Algorithm = Algorithm::ES256;
/// How many keys verify at once: the signing key and the two before it.
pub const KEPT_KEYS: usize = 3;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;

/// One signing key: the private half signs, the public half verifies and is published.
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl Key {
    fn generate() -> anyhow::Result<Self> {
        Self::new(
            &p256::ecdsa::SigningKey::random(&mut OsRng),
            random_token()[..16].to_owned(),
        )
    }

    /// A key loaded from a PKCS#8 PEM file, named by a hash of its public half: every server
    /// that loads the same file gives it the same `kid`.
    fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let secret = p256::ecdsa::SigningKey::from_pkcs8_der(&pem_body(pem)?)
            .map_err(|_| anyhow::anyhow!("the signing key is not a PKCS#8 P-256 private key"))?;
        let public = secret.verifying_key().to_encoded_point(false);
        let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(public.as_bytes()))[..16]
            .to_owned();
        Self::new(&secret, kid)
    }

    fn new(secret: &p256::ecdsa::SigningKey, kid: String) -> anyhow::Result<Self> {
        let der = secret
            .to_pkcs8_der()
            .map_err(|err| anyhow::anyhow!("encoding a P-256 key: {err}"))?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
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

    /// A ring whose signing key is the PKCS#8 PEM `pem` (`openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256`): what several instances share, so that a token one
    /// issues, another accepts.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        Ok(Self {
            keys: RwLock::new(vec![Arc::new(Key::from_pem(pem)?)]),
        })
    }

    /// A new P-256 private key as PKCS#8 PEM, for [`KeyRing::from_pem`].
    pub fn new_pem() -> anyhow::Result<String> {
        let der = p256::ecdsa::SigningKey::random(&mut OsRng)
            .to_pkcs8_der()
            .map_err(|err| anyhow::anyhow!("encoding a P-256 key: {err}"))?;
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .filter_map(|line| std::str::from_utf8(line).ok())
            .collect();
        Ok(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ))
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

    fn contains(&self, kid: &str) -> bool {
        self.read().iter().any(|key| key.kid == kid)
    }
}

/// The DER inside a PEM's `-----BEGIN PRIVATE KEY-----` lines.
fn pem_body(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| {
            anyhow::anyhow!("the signing key is not PEM (base64 between BEGIN and END lines)")
        })
}

fn refusal(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(_) => TokenError::MissingClaim,
        _ => TokenError::Malformed,
    }
}

/// How many verified access tokens are remembered (about 1 KiB each).
const VERIFIED_TOKENS: u64 = 10_000;

/// An access token that passed [`Tokens::verify`]: its claims, and the key that signed it.
#[derive(Debug)]
struct Verified {
    claims: AccessClaims,
    kid: String,
}

/// Issues and verifies this server's tokens.
#[derive(Debug)]
pub struct Tokens {
    /// Shared, so that whoever holds it (a test, an admin route) sees rotations.
    pub keys: Arc<KeyRing>,
    /// Access tokens already verified, by their whole text: see [`TokenService::verify_access`].
    verified: moka::sync::Cache<String, Arc<Verified>>,
    /// This server's base URL, the `iss` of every token (and the OpenID Connect issuer).
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// When `POST /admin/keys/rotate` last rotated.
    rotated: Mutex<Option<Instant>>,
}

impl Tokens {
    /// Fresh keys; access tokens for 15 minutes, refresh tokens for 14 days.
    pub fn new(issuer: impl Into<String>) -> anyhow::Result<Self> {
        Ok(Self::with_keys(issuer, KeyRing::generate()?))
    }

    /// [`Tokens::new`] with the keys given.
    pub fn with_keys(issuer: impl Into<String>, keys: KeyRing) -> Self {
        let access_ttl = Duration::from_secs(15 * 60);
        Self {
            keys: Arc::new(keys),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(access_ttl)
                .build(),
            issuer: issuer.into(),
            access_ttl,
            refresh_ttl: Duration::from_secs(14 * 24 * 60 * 60),
            rotated: Mutex::new(None),
        }
    }

    /// The shortest time between two rotations: a token signed just before one stays verifiable
    /// through `KEPT_KEYS - 1` more, which must outlast it.
    pub fn rotation_interval(&self) -> Duration {
        self.access_ttl / u32::try_from(KEPT_KEYS - 1).unwrap_or(1)
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
        self.verify_with_key(token, audience)
            .map(|(claims, _)| claims)
    }

    /// [`Tokens::verify`], and the `kid` of the key that signed the token.
    fn verify_with_key<T: DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<(T, String), TokenError> {
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
            .map_err(|err| refusal(err.kind()))?
            .claims;
        let claims = serde_json::from_value(claims).map_err(|_| TokenError::Malformed)?;
        Ok((claims, kid))
    }
}

/// What the other chapters may do with tokens (see `auth::TokenService`).
impl TokenService for Tokens {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// An ES256 verification costs a few hundred microseconds, and a client sends the same token
    /// with every request for its 15 minutes; a token seen before is looked up by its whole text
    /// (a forged one is another text, and is verified as if new). The claims of a remembered token
    /// are checked again on every use: `exp` and `nbf` against the clock, and its key against the
    /// ring, so a token stops working when it expires or its key is rotated out, as before.
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if let Some(known) = self.verified.get(token) {
            let now = now();
            let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
            if known.claims.exp + leeway < now {
                return Err(TokenError::Expired);
            }
            if known.claims.nbf - leeway > now {
                return Err(TokenError::NotYetValid);
            }
            if !self.keys.contains(&known.kid) {
                self.verified.invalidate(token);
                return Err(TokenError::UnknownKey);
            }
            return Ok(known.claims.clone());
        }
        let (claims, kid): (AccessClaims, _) = self.verify_with_key(token, API_AUDIENCE)?;
        self.verified.insert(
            token.to_owned(),
            Arc::new(Verified {
                claims: claims.clone(),
                kid,
            }),
        );
        Ok(claims)
    }

    fn access_token(
        &self,
        user: &User,
        scope: &Scopes,
        client_id: Option<&str>,
    ) -> anyhow::Result<String> {
        Tokens::access_token(self, user, scope, client_id)
    }

    fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        self.keys.sign(claims)
    }

    fn issue(
        &self,
        conn: &mut AnyConnection,
        user: &User,
        scope: &Scopes,
    ) -> Result<TokenResponse, ApiError> {
        super::refresh::issue(conn, self, user, scope, None)
    }

    fn rotate_keys(&self) -> Result<Vec<String>, ApiError> {
        let interval = self.rotation_interval();
        let mut rotated = self.rotated.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(wait) = rotated.and_then(|at| interval.checked_sub(at.elapsed())) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "the signing key was rotated {} s ago; keys rotate at most every {} s, so \
                     that no access token outlives the keys that verify it",
                    (interval - wait).as_secs(),
                    interval.as_secs()
                ),
            )
            .with_header((header::RETRY_AFTER, wait.as_secs().max(1))));
        }
        self.keys.rotate()?;
        *rotated = Some(Instant::now());
        Ok(self.keys.kids())
    }
}

/// `GET /.well-known/jwks.json`: the public keys that verify this server's tokens.
#[utoipa::path(
    tag = "auth",
    responses((
        status = 200,
        description = "The public keys, as a JWK set (RFC 7517); cacheable for five minutes",
        body = JwkSetDoc,
        headers(("Cache-Control" = String, description = "`max-age=300`")),
    ))
)]
#[get("/.well-known/jwks.json")]
// Public for the projects that serve it too (actix's macro keeps the function inside the
// service it makes, hence the lint).
#[allow(unreachable_pub)]
pub async fn jwks(tokens: web::Data<Tokens>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::MaxAge(300)]))
        .json(tokens.keys.jwks())
}

/// The shape of `GET /.well-known/jwks.json`, for the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JwkSet)]
#[allow(dead_code)] // a document, never built
pub struct JwkSetDoc {
    /// One public key each: `kty` `EC`, `crv` `P-256`, `alg` `ES256`, `use` `sig`, and its `kid`.
    keys: Vec<JwkDoc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Jwk)]
#[allow(dead_code)] // a document, never built
pub struct JwkDoc {
    kty: String,
    crv: String,
    x: String,
    y: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    key_use: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens_and_token() -> (Tokens, String) {
        let tokens = Tokens::new("http://127.0.0.1:8004").unwrap();
        let user = User {
            id: 7,
            username: "ada".into(),
            password_hash: None,
            role: "user".into(),
            created_at: 0,
        };
        let scopes = Scopes::parse("books:read").unwrap();
        let token = tokens.access_token(&user, &scopes, None).unwrap();
        (tokens, token)
    }

    #[test]
    fn a_remembered_token_is_the_same_token_and_an_edited_one_is_checked_anew() {
        let (tokens, token) = tokens_and_token();
        let first = tokens.verify_access(&token).unwrap();
        let again = tokens.verify_access(&token).unwrap();
        assert_eq!((first.sub, first.jti), (again.sub, again.jti));
        // moka counts lazily: its pending work first, then the count is exact.
        tokens.verified.run_pending_tasks();
        assert_eq!(tokens.verified.entry_count(), 1);
        // One character of the signature changed: not the remembered text, so verified, and refused.
        let mut forged = token;
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(tokens.verify_access(&forged).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let (tokens, token) = tokens_and_token();
        let mut claims = tokens.verify_access(&token).unwrap();
        claims.exp = now() - 60;
        tokens.verified.insert(
            token.clone(),
            Arc::new(Verified {
                claims,
                kid: tokens.keys.kids()[0].clone(),
            }),
        );
        assert!(matches!(
            tokens.verify_access(&token),
            Err(TokenError::Expired)
        ));
    }
}
