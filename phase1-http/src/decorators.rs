//! 1.9 Decorators: how a route gets registered, and code that wraps a handler.
//!
//! **Roadmap:** "Decorators: how `@app.route` actually works."
//!
//! **Python:** `@app.route("/hello/<name>")` is a function call at import time: it stores the view in
//! the app's URL map and returns the view unchanged. A decorator such as `@timed` replaces the view
//! with a wrapper that runs code before and after it.
//!
//! **Rust:** the same two ideas, both visible here:
//! - `#[get("/hello/{name}")]` is an attribute macro: at compile time it turns the function into a
//!   type that knows its path and method, which `cfg.service(hello)` registers. It is sugar for the
//!   explicit form, `web::resource("/hello-explicit/{name}").route(web::get().to(...))`, which
//!   registers the same handler body at run time. Both routes answer identically.
//! - [`timing`] is middleware written with `middleware::from_fn`: an async function that gets the
//!   request and `next`, runs code around `next.call(req)`, and can change the response, exactly what
//!   a Python decorator does to a view. `.wrap(from_fn(timing))` applies it to one resource, as a
//!   decorator applies to one function: the `/hello` routes get a `Server-Timing` header; `/books`
//!   does not.
//!
//! A macro route guards its resource by method, so on its own a `POST /hello/Ada` would find no
//! route at all (a 404), nor would a `HEAD`; `common`'s middleware answers both from the OpenAPI
//! document (HEAD as GET, 405 with `Allow`), as 1.1 does by hand, and `#[utoipa::path]` sits on
//! each handler to put it in that document.
//!
//! **Why:** the macro keeps the path next to the handler, the explicit form keeps every route in one
//! table; both compile to the same thing, so choose by readability. Middleware, unlike a Python
//! decorator, is typed: it cannot forget to return a response.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, get, web};
use common::extract::Path;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct Name {
    /// Who to greet.
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct Greeting {
    greeting: String,
}

/// The handler body both registrations share.
fn greet(name: &str) -> HttpResponse {
    HttpResponse::Ok().json(Greeting {
        greeting: format!("Hello, {name}!"),
    })
}

/// Registered by the attribute macro.
#[utoipa::path(
    get,
    path = "/hello/{name}",
    tag = "1.9 decorators",
    params(Name),
    responses((status = 200, description = "A greeting", body = Greeting,
        headers(("Server-Timing" = String, description = "How long the handler took, from the middleware")))),
)]
#[get("/hello/{name}", wrap = "from_fn(timing)")]
pub(crate) async fn hello(name: Path<Name>) -> HttpResponse {
    greet(&name.name)
}

/// Registered explicitly, below.
#[utoipa::path(
    get,
    path = "/hello-explicit/{name}",
    tag = "1.9 decorators",
    params(Name),
    responses((status = 200, description = "The same greeting", body = Greeting,
        headers(("Server-Timing" = String, description = "How long the handler took, from the middleware")))),
)]
pub(crate) async fn hello_explicit(name: Path<Name>) -> HttpResponse {
    greet(&name.name)
}

/// Middleware as a decorator: times the handler and reports it in `Server-Timing` (RFC-less but
/// shown by browsers' developer tools).
pub async fn timing(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let mut response = next.call(req).await?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("handler;dur={millis:.3}")) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("server-timing"), value);
    }
    Ok(response)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(hello).service(
        web::resource("/hello-explicit/{name}")
            .wrap(from_fn(timing))
            .route(web::get().to(hello_explicit)),
    );
}
