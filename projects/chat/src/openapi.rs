//! The OpenAPI document: the chat's HTTP routes, phase 4's account routes among them. The
//! WebSocket protocol itself is in the README (OpenAPI describes only the handshake). `common`
//! adds `GET /`, `/metrics` and the health checks, and serves it at `/openapi.json` with Swagger
//! UI at `/docs/`.

use common::openapi::Bearer;
use phase4_security::passwords;
use phase4_security::rate_limit::Documented as RateLimits;
use phase4_security::tokens::{endpoint, keys};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::{client, history, socket};

/// The routes behind the rate limiter.
#[derive(OpenApi)]
#[openapi(
    paths(
        history::list_rooms,
        history::messages,
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
        title = "Project 3: real-time chat",
        description = "Rooms over a WebSocket at `/ws` (its protocol is in the README), the history of each room by cursor, and a browser client at `/chat`. Log in with `POST /auth/token` (the demo user `ada`, password `correct-horse-ada`); send the access token as `Authorization: Bearer ...`, or, from a browser, as the socket's first frame.",
    ),
    paths(socket::connect, client::page, client::script),
    modifiers(&Bearer),
    tags(
        (name = "chat", description = "The socket, the rooms and their history, the browser client"),
        (name = "auth", description = "Accounts and tokens (phase 4's)"),
    ),
)]
struct ApiDoc;

/// The document, before `common` completes it.
pub fn document() -> Document {
    let mut document = ApiDoc::openapi();
    document.merge(Limited::openapi());
    document
}
