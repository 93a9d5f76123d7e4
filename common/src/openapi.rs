//! What the phases' OpenAPI documents share: the bearer scheme, and Swagger UI at `/docs/`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

/// `Authorization: Bearer <JWT>`, as a security scheme Swagger UI can fill in.
pub fn bearer_scheme() -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build(),
    )
}

/// `doc` at `/openapi.json`, Swagger UI at `/docs/` (compiled in by utoipa-swagger-ui's `vendored`
/// feature: nothing is downloaded) and `/docs` redirecting there.
pub fn swagger_ui(cfg: &mut web::ServiceConfig, doc: OpenApi) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        );
}
