//! The OpenAPI document, with the security schemes that let Swagger UI log in (4.5).
//!
//! Two schemes: `oauth2`, the password flow against `POST /auth/token` with every scope, so
//! Swagger UI's "Authorize" asks for a username, a password and the scopes to grant; and `bearer`,
//! to paste a token. Each operation names the scopes it needs. Swagger UI is served from the
//! binary (`/docs/`), nothing downloaded.

use actix_web::web;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes as OpenApiScopes, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::scopes::Scope;
use crate::{hateoas, login, passwords, provider, rbac, scopes, tokens, versioning};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 4: security and API best practices",
        description = "JWTs, argon2id, an OpenID Connect provider and client, RBAC, scopes, versioning, HATEOAS, idempotency keys and rate limiting.",
    ),
    paths(
        passwords::register,
        tokens::token_endpoint,
        tokens::jwks,
        provider::discovery,
        provider::authorize,
        provider::sign_in,
        provider::redeem,
        provider::userinfo,
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
    components(schemas(common::Problem, common::FieldError)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Registration, login, refresh (4.1, 4.2)"),
        (name = "openid", description = "The OpenID Connect provider, and logging in with one (4.3)"),
        (name = "admin", description = "Admins only (4.4)"),
        (name = "books", description = "Scopes (4.5) and versions (4.6)"),
        (name = "orders", description = "Links that follow state and role (4.7), idempotent creation (4.8)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = OpenApiScopes::from_iter(
            Scope::ALL
                .iter()
                .map(|scope| (scope.as_str(), scope.description())),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/token",
                scopes,
            ))])),
        );
        components.add_security_scheme("bearer", common::openapi::bearer_scheme());
    }
}

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// `/openapi.json`, and Swagger UI at `/docs/`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    common::openapi::swagger_ui(cfg, document());
}
