//! 2.10 Flask's extensions: cross-cutting features from the ecosystem, as middleware.
//!
//! **Roadmap:** "Extensions: Flask-RESTful or Flask-Smorest."
//!
//! **Python:** Flask stays small and grows by extensions: Flask-CORS (`CORS(app, origins=[...])`),
//! Flask-Compress (`Compress(app)`), Flask-Smorest for OpenAPI (here: utoipa, topic 2.4).
//!
//! **Rust:** the same features are crates that provide actix middleware, added with `.wrap(...)`:
//! - [`cors`]: actix-cors, the Flask-CORS of actix. Browsers on the listed origins may call the API;
//!   a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered with the
//!   allowed origin, methods and headers; other origins get no CORS headers, so the browser refuses.
//! - [`compress`]: actix-web's `Compress`, the Flask-Compress: a response is gzip-compressed when the
//!   client sends `Accept-Encoding: gzip`.
//!
//! **Why:** middleware composes: each extension is a value wrapped around a scope, visible in the
//! code that mounts it, and applies exactly where it is wrapped.

use actix_cors::Cors;
use actix_web::http::{Method, header};
use actix_web::middleware::Compress;

/// Origins allowed to call the API from a browser: a front end in development, by default.
pub const DEFAULT_ORIGINS: &[&str] = &["http://localhost:3000", "http://127.0.0.1:3000"];

/// CORS for `origins`: the methods and headers the API uses, preflights cached for an hour.
pub fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([
            header::LOCATION,
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600)
}

/// gzip (the only encoding this build compiles in) when the client accepts it.
pub fn compress() -> Compress {
    Compress::default()
}
