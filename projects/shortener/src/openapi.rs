//! The OpenAPI document: every route of the shortener, phase 4's account routes among them.
//! `common` adds `GET /`, `/metrics` and the health checks, and serves it at `/openapi.json`
//! with Swagger UI at `/docs/`.

use common::openapi::Bearer;
use phase4_security::passwords;
use phase4_security::rate_limit::Documented as RateLimits;
use phase4_security::tokens::{endpoint, keys};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{api_keys, links, qr, redirect, stats};

/// The routes behind the rate limiter.
#[derive(OpenApi)]
#[openapi(
    paths(
        links::create_link,
        links::list_links,
        links::get_link,
        links::change_link,
        links::delete_link,
        api_keys::create_key,
        api_keys::list_keys,
        api_keys::revoke_key,
        stats::link_stats,
        passwords::register,
        endpoint::token_endpoint,
        keys::jwks,
    ),
    modifiers(&RateLimits),
)]
struct Limited;

/// The routes that are not limited, and the document's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Project 1: a URL shortener with click analytics",
        description = "Short links with aliases, a redirect status per link, expiry and visit limits, QR codes, and visit statistics that leave bots out. Log in with `POST /auth/token` (the demo user `ada`, password `correct-horse-ada`), then send the access token as `Authorization: Bearer ...`; or make an API key with `POST /api-keys` and send that instead.",
    ),
    paths(redirect::follow, qr::qr_png, qr::qr_svg, stats::stats_page),
    modifiers(&Bearer, &ApiKey),
    tags(
        (name = "redirect", description = "Following a short link"),
        (name = "links", description = "Your links: made, changed, deleted; their QR codes"),
        (name = "api-keys", description = "Keys for programs: each acts as the user who made it"),
        (name = "analytics", description = "What your links' visits add up to"),
        (name = "auth", description = "Accounts and tokens (phase 4's)"),
    ),
)]
struct ApiDoc;

/// The API keys of `POST /api-keys`, which the link routes take as well as a token.
struct ApiKey;

impl Modify for ApiKey {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let key = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("shk_{id}_{secret}")
            .description(Some("An API key from `POST /api-keys`"))
            .build();
        components.add_security_scheme("api_key", SecurityScheme::Http(key));
    }
}

/// The document, before `common` completes it.
pub fn document() -> Document {
    let mut document = ApiDoc::openapi();
    document.merge(Limited::openapi());
    document
}
