//! 1.2 Status codes: each one returned on purpose, by a route you can call.
//!
//! **Roadmap:** "Beyond 200/404/500. Learn 201 Created, 204 No Content, 301/302 Redirects, 401 vs 403,
//! 422 Unprocessable Entity, 429 Too Many Requests."
//!
//! **Python:** `return JSONResponse(status_code=201, ...)`, `raise HTTPException(status_code=404)`.
//!
//! **Rust:** a handler returns `HttpResponse::Created()` or an [`ApiError`] whose status is the
//! meaning. Where each code comes from in this phase:
//!
//! | code | route | why |
//! |---|---|---|
//! | 200 | `GET /books` | here it is |
//! | 201 + `Location` | `POST /books` | created, and this is where it lives |
//! | 204 | `DELETE /books/{id}`, `OPTIONS /books` | done, nothing to say (the body is empty) |
//! | 204 | `GET /books/{id}/cover` of a book without one | it exists, and is empty |
//! | 301, 302 | `/status/redirect/301`, `/302` | moved; a client may turn a POST into a GET |
//! | 307, 308 | `/status/redirect/307`, `/308` | moved; the method and body must be kept |
//! | 304 | `GET /status/cached` with `If-None-Match` | your copy is still good |
//! | 400 | `POST /books` with broken JSON, `GET /books/abc`, `GET /books?colour=red` | the request cannot be read |
//! | 401 + `WWW-Authenticate` | `GET /status/admin` without a usable token | who are you? |
//! | 403 | `GET /status/admin` with `Bearer user-token` | we know you; no |
//! | 404 | `GET /books/999` | no such thing |
//! | 405 + `Allow` | `DELETE /books` | not with that method |
//! | 406 | `GET /books` with `Accept: image/png` | cannot produce what you accept |
//! | 409 | `POST /books` with an ISBN already used | clashes with the current state |
//! | 413 | `POST /books` with a body over 64 KiB | too large, and the limit is said |
//! | 415 | `POST /books` with `Content-Type: text/plain`, or a cover that is not an image | cannot read that format |
//! | 422 | `POST /books` with `"year": 99` | readable, but breaks the rules |
//! | 429 + `Retry-After` | `GET /status/limited`, more than 3 times in 10 s | slow down |
//! | 500 | `GET /status/crash` | our fault; the cause is logged, not shown |
//!
//! Each route's OpenAPI operation lists the codes above that it can answer, with the headers that
//! come with them (`Location`, `WWW-Authenticate`, `Retry-After`, `ETag`), so a client knows them
//! before it meets them.
//!
//! **Why:** the status code is what clients, proxies and monitoring read first. 401 vs 403 tells a
//! client whether new credentials could help; 302 vs 307 whether a retried POST stays a POST.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ETag, EntityTag, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, web};
use common::ApiError;
use common::config::redact_url;
use common::extract::{BodyLimit, DEFAULT_BODY_LIMIT, Path, size};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::headers::{Credentials, credentials};
use crate::methods::{read, read_only, resource};

/// What `/status/redirect/{code}` allows: a GET, and the POST whose fate the codes decide.
pub(crate) const REDIRECT_ALLOW: &str = "GET, HEAD, POST, OPTIONS";
/// What `/status/method` and `/headers/echo` allow.
pub(crate) const ANY_ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RedirectCode {
    /// The redirect to answer with: 301 or 302 (a client may turn a POST into a GET), 307 or 308
    /// (it must keep the method and the body).
    #[param(value_type = RedirectStatus, inline)]
    code: u16,
}

/// The codes `/status/redirect/{code}` answers with, as the document states them.
pub(crate) struct RedirectStatus;

impl PartialSchema for RedirectStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some([301, 302, 307, 308]))
            .into()
    }
}

impl ToSchema for RedirectStatus {}

/// `/status/redirect/{code}`: a redirect to `/status/method`, which says which method arrived.
/// Follow 302 with a POST and you arrive with a GET; follow 307 and you arrive with the POST.
#[utoipa::path(
    method(get, post),
    path = "/status/redirect/{code}",
    tag = "1.2 status codes",
    params(RedirectCode),
    responses(
        (status = 301, description = "Moved Permanently", headers(("Location" = String))),
        (status = 302, description = "Found", headers(("Location" = String))),
        (status = 307, description = "Temporary Redirect: keep the method and body", headers(("Location" = String))),
        (status = 308, description = "Permanent Redirect: keep the method and body", headers(("Location" = String))),
        (status = 404, description = "No redirect has this code"),
    ),
)]
pub(crate) async fn redirect(
    Path(RedirectCode { code }): Path<RedirectCode>,
) -> Result<HttpResponse, ApiError> {
    let status = match code {
        301 => StatusCode::MOVED_PERMANENTLY,
        302 => StatusCode::FOUND,
        307 => StatusCode::TEMPORARY_REDIRECT,
        308 => StatusCode::PERMANENT_REDIRECT,
        _ => {
            return Err(ApiError::not_found(format!(
                "no redirect {code}; try 301, 302, 307 or 308"
            )));
        }
    };
    Ok(HttpResponse::build(status)
        .insert_header((header::LOCATION, "/status/method"))
        .finish())
}

/// What arrived at `/status/method`.
#[derive(Debug, Serialize, ToSchema)]
struct Arrival {
    /// The method the server saw.
    method: String,
    /// How many bytes of body came with it.
    body_bytes: usize,
}

/// Says which method and how many body bytes arrived (the end of every redirect). The body is
/// read up to the app's body limit, and only counted.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/status/method",
    tag = "1.2 status codes",
    request_body(
        description = "Anything; only its size is reported",
        content(("application/octet-stream"), ("text/plain"), ("application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "The method and the body's size", body = Arrival),
        (status = 413, description = "The body is over 64 KiB"),
    ),
)]
pub(crate) async fn which_method(
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |limit| limit.0);
    let body = payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {}", size(limit)),
            )
        })?
        .map_err(|_| ApiError::bad_request("the body could not be read to its end"))?;
    Ok(HttpResponse::Ok().json(Arrival {
        method: req.method().to_string(),
        body_bytes: body.len(),
    }))
}

/// What `/status/cached` caches.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Greeting {
    greeting: &'static str,
}

/// `GET /status/cached`: 200 with an `ETag`, or 304 with no body when `If-None-Match` matches.
#[utoipa::path(
    get,
    path = "/status/cached",
    tag = "1.2 status codes",
    params(("If-None-Match" = Option<String>, Header,
        description = "The `ETag` of the copy you have: `\"greeting-v1\"`")),
    responses(
        (status = 200, description = "A greeting, and the tag of this version of it",
            body = Greeting,
            headers(("ETag" = String, description = "`\"greeting-v1\"`"))),
        (status = 304, description = "Your copy is still good: no body",
            headers(("ETag" = String))),
    ),
)]
pub(crate) async fn cached(if_none_match: Option<web::Header<IfNoneMatch>>) -> HttpResponse {
    let tag = EntityTag::new_strong("greeting-v1".to_owned());
    let still_fresh = match if_none_match.map(web::Header::into_inner) {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&tag)),
        None => false,
    };
    let mut response = if still_fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response.insert_header(ETag(tag));
    if still_fresh {
        response.finish()
    } else {
        response.json(Greeting { greeting: "hello" })
    }
}

/// Stand-ins for real tokens (phase 4 issues real ones): who each bearer token is.
const DEMO_TOKENS: [(&str, &str); 2] = [("user-token", "user"), ("admin-token", "admin")];

/// What an admin sees.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminArea {
    role: &'static str,
    secret: &'static str,
}

/// `GET /status/admin`: 401 without credentials, 403 for a user, 200 for an admin.
#[utoipa::path(
    get,
    path = "/status/admin",
    tag = "1.2 status codes",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`Bearer admin-token`: welcome", body = AdminArea),
        (status = 401, description = "No token, one that cannot be read, or one nobody issued: who are you?",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"phase1\"`"))),
        (status = 403, description = "`Bearer user-token`: we know you; no"),
    ),
)]
pub(crate) async fn admin_only(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let challenge = r#"Bearer realm="phase1""#;
    // A header that cannot be read is credentials that cannot be used: a 401 that says how to
    // authenticate helps the client more than a 400.
    let given = credentials(&req).map_err(|_| {
        ApiError::unauthorized(
            challenge,
            "the Authorization header is not `Bearer <token>`",
        )
    })?;
    let role = match given {
        Some(Credentials::Bearer(token)) => DEMO_TOKENS
            .iter()
            .find(|(known, _)| *known == token)
            .map(|(_, role)| *role)
            .ok_or_else(|| ApiError::unauthorized(challenge, "unknown bearer token"))?,
        Some(_) => return Err(ApiError::unauthorized(challenge, "use a Bearer token")),
        None => {
            return Err(ApiError::unauthorized(
                challenge,
                "this route needs a Bearer token",
            ));
        }
    };
    if role != "admin" {
        return Err(ApiError::forbidden("only admins may see this"));
    }
    Ok(HttpResponse::Ok().json(AdminArea {
        role,
        secret: "the admin area",
    }))
}

/// A fixed-window rate limiter per client address: `limit` requests a `window`. Phase 4 shows a
/// real one, shared through Redis; this one only makes 429 visible.
#[derive(Debug)]
pub struct FixedWindow {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FixedWindow {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: Mutex::default(),
        }
    }

    /// `Ok(())` if `client` may go on, or `Err(seconds to wait)`.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget windows that have ended, so the map cannot grow without bound.
        if hits.len() > 10_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let (start, count) = hits.entry(client).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        if *count >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(*start));
            // Round up: "retry in 0 s" would invite an immediate retry that fails again.
            return Err((left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1));
        }
        *count += 1;
        Ok(())
    }
}

/// What `/status/limited` answers within the limit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Allowed {
    ok: bool,
}

/// `GET /status/limited`: 3 requests per 10 s per client address, then 429 with `Retry-After`.
#[utoipa::path(
    get,
    path = "/status/limited",
    tag = "1.2 status codes",
    responses(
        (status = 200, description = "Within the limit", body = Allowed),
        (status = 429, description = "More than 3 requests in 10 s from this address",
            headers(("Retry-After" = u64, description = "Seconds until the window ends"))),
    ),
)]
pub(crate) async fn limited(
    req: HttpRequest,
    limiter: web::Data<FixedWindow>,
) -> Result<HttpResponse, ApiError> {
    let client = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    limiter
        .check(client, Instant::now())
        .map_err(ApiError::too_many_requests)?;
    Ok(HttpResponse::Ok().json(Allowed { ok: true }))
}

/// The connection string `/status/crash` pretends to have failed with: a password in a URL, as
/// real configurations have them.
const CRASH_DATABASE_URL: &str = "postgres://app:hunter2@db.internal:5432/app";

/// `GET /status/crash`: a failure with a sensitive cause. The client gets a bare 500 problem; the
/// cause goes only to the log, and even there without the password: logs are read by more people,
/// and kept longer, than secrets should be (`redact_url` keeps the user, host and database).
#[utoipa::path(
    get,
    path = "/status/crash",
    tag = "1.2 status codes",
    responses(
        (status = 500, description = "Always, on purpose: a server error that shows no cause"),
    ),
)]
pub(crate) async fn crash() -> Result<HttpResponse, ApiError> {
    Err(ApiError::internal(anyhow::anyhow!(
        "connecting to {} failed: connection refused",
        redact_url(CRASH_DATABASE_URL)
    )))
}

/// The limiter of `/status/limited`: 3 requests per 10 s per client address. Create it once per
/// server, not per worker, or each worker would count on its own.
pub fn limiter() -> web::Data<FixedWindow> {
    web::Data::new(FixedWindow::new(3, Duration::from_secs(10)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/status")
            .service(
                resource("/redirect/{code}", REDIRECT_ALLOW)
                    .route(read().to(redirect))
                    .route(web::post().to(redirect)),
            )
            .service(
                [web::post(), web::put(), web::patch(), web::delete()]
                    .into_iter()
                    .fold(
                        resource("/method", ANY_ALLOW).route(read().to(which_method)),
                        |resource, route| resource.route(route.to(which_method)),
                    ),
            )
            .service(read_only("/cached", cached))
            .service(read_only("/admin", admin_only))
            .service(read_only("/limited", limited))
            .service(read_only("/crash", crash)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_the_limit_then_says_how_long_to_wait() {
        let limiter = FixedWindow::new(2, Duration::from_secs(10));
        let client = IpAddr::from([127, 0, 0, 1]);
        let t0 = Instant::now();
        assert_eq!(limiter.check(client, t0), Ok(()));
        assert_eq!(limiter.check(client, t0), Ok(()));
        assert_eq!(limiter.check(client, t0 + Duration::from_secs(4)), Err(6));
        // Another client has its own window; a new window starts afresh.
        assert_eq!(limiter.check(IpAddr::from([10, 0, 0, 1]), t0), Ok(()));
        assert_eq!(limiter.check(client, t0 + Duration::from_secs(10)), Ok(()));
    }
}
