//! The OpenAPI document: every route, and what the chapters add to it. 4.5 declares the security
//! schemes (Swagger UI's "Authorize" logs in with them), 4.8 the `Idempotency-Key` header, 4.9
//! the rate-limit headers and 429. `common` adds the answers every crate shares (problem
//! documents for 400, 404, 413, 415, 422, 401 and 403), `GET /`, and serves it at
//! `/openapi.json` with Swagger UI at `/docs/`.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::rate_limit::Documented as RateLimits;
use crate::scopes::SecuritySchemes;
use crate::tokens::{endpoint, keys};
use crate::{hateoas, idempotency, login, passwords, provider, rbac, scopes, versioning};

/// The POSTs the app wraps in idempotency keys (4.8).
pub const IDEMPOTENT: idempotency::Documented = idempotency::Documented {
    posts: crate::IDEMPOTENT_POSTS,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 4: security and API best practices",
        description = "JWTs, argon2id, an OpenID Connect provider and client, RBAC, scopes, versioning, HATEOAS, idempotency keys and rate limiting.",
    ),
    paths(
        passwords::register,
        endpoint::token_endpoint,
        keys::jwks,
        provider::discovery,
        provider::authorize,
        provider::sign_in,
        provider::redeem,
        provider::userinfo,
        provider::userinfo_by_post,
        login::list_providers,
        login::start,
        login::callback,
        rbac::list_users,
        rbac::rotate_keys,
        versioning::list_v1,
        versioning::get_v1,
        versioning::list_v2,
        versioning::get_v2,
        versioning::get_negotiated,
        scopes::create_book,
        hateoas::create,
        hateoas::list,
        hateoas::retrieve,
        hateoas::act,
    ),
    modifiers(&SecuritySchemes, &IDEMPOTENT, &RateLimits),
    tags(
        (name = "auth", description = "Registration, login, refresh, signing keys (4.1, 4.2)"),
        (name = "openid", description = "The OpenID Connect provider, and logging in with one (4.3)"),
        (name = "admin", description = "Admins only (4.4)"),
        (name = "books", description = "Scopes (4.5) and versions (4.6)"),
        (name = "orders", description = "Links that follow state and role (4.7), idempotent creation (4.8)"),
    )
)]
struct ApiDoc;

/// The document, before `common` completes it.
pub fn document() -> Document {
    ApiDoc::openapi()
}
