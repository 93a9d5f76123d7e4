//! The browser client: `GET /chat`, a page and its script, served from the binary.
//!
//! **Roadmap:** a chat is used from a browser; the project ships one, without a CDN or a build
//! step, so it works offline and a learner can read all of it.
//!
//! **Python:** FastAPI's WebSocket tutorial returns an `HTMLResponse` with the page in a string,
//! its script inline; `StaticFiles` for anything larger.
//!
//! **Rust:** `include_str!` compiles `static/chat.html` and `static/chat.js` into the binary: one
//! file to deploy, nothing read from disk at run time. The script is a file of its own so that
//! the page's `Content-Security-Policy` can forbid inline scripts (`script-src 'self'`): text a
//! user wrote can never run as code, even if the page made a mistake rendering it (it uses
//! `textContent` throughout). `connect-src 'self'` lets the page open `/ws` and call the API on
//! its own origin, and nothing else.
//!
//! **Why:** `sessionStorage` keeps the token (see the script) because it is per tab and per origin
//! (host and port), gone when the tab closes, and never sent by the browser on its own, unlike a
//! cookie.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get};

const PAGE: &str = include_str!("../static/chat.html");
const SCRIPT: &str = include_str!("../static/chat.js");

/// What the page may load: its own script, its own origin's API and socket.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[utoipa::path(
    tag = "chat",
    responses((status = 200, description = "The browser client: log in, pick a room, talk", content_type = "text/html")),
)]
#[get("/chat")]
pub(crate) async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        ))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(PAGE)
}

#[utoipa::path(
    tag = "chat",
    responses((status = 200, description = "The browser client's script", content_type = "text/javascript")),
)]
#[get("/chat.js")]
pub(crate) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(SCRIPT)
}
