//! 4.1 JWT: short-lived access tokens, rotating refresh tokens, pinned algorithms and rotating keys.
//!
//! **Roadmap:** "JWT (JSON Web Tokens): How to implement access/refresh token patterns securely."
//!
//! **Python:** PyJWT or python-jose: `jwt.encode(claims, key, algorithm="HS256")` and
//! `jwt.decode(token, key, algorithms=["HS256"], audience=...)`; FastAPI's tutorial issues a token
//! from `POST /token` and reads it in a `Depends(oauth2_scheme)` dependency.
//!
//! **Rust:** `jsonwebtoken`, in three parts, one job each:
//! - [`keys`]: the signing keys (ES256, each with a `kid`, published at
//!   `GET /.well-known/jwks.json`, rotated without logging anyone out) and [`Tokens`], which signs
//!   access tokens and verifies them with the algorithm pinned;
//! - [`refresh`]: refresh tokens, recorded by family so that a reused one revokes every refresh token of its login (its
//!   access tokens run out within minutes);
//! - [`endpoint`]: `POST /auth/token`, the OAuth 2.0 token endpoint for the API's own logins.
//!
//! The rest of the API sees tokens only through `auth::TokenService`, which [`Tokens`]
//! implements, and `auth::Caller`, the extractor that checks a request's bearer token with it.
//!
//! **Why:** an access token is checked without a database (the signature says it is ours), so it
//! must be short-lived; the refresh token is long-lived, so it is checked against the database and
//! can be revoked. Asymmetric keys let other services (and the OpenID Connect clients of 4.3)
//! verify tokens with the published JWKS without being able to mint them.

pub mod endpoint;
pub mod keys;
pub mod refresh;

pub use crate::auth::{API_AUDIENCE, AccessClaims, TokenResponse};
pub use keys::{ALGORITHM, KeyRing, Tokens};
pub use refresh::{REFRESH_AUDIENCE, RefreshClaims};
