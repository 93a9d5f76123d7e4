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
//! | 301, 302 | `/status/redirect/301`, `/302` | moved; a client may turn a POST into a GET |
//! | 307, 308 | `/status/redirect/307`, `/308` | moved; the method and body must be kept |
//! | 304 | `GET /status/cached` with `If-None-Match` | your copy is still good |
//! | 400 | `POST /books` with broken JSON, `GET /books/abc` | the request cannot be read |
//! | 401 + `WWW-Authenticate` | `GET /status/admin` without a token | who are you? |
//! | 403 | `GET /status/admin` with `Bearer user-token` | we know you; no |
//! | 404 | `GET /books/999` | no such thing |
//! | 405 + `Allow` | `DELETE /books` | not with that method |
//! | 406 | `GET /books` with `Accept: image/png` | cannot produce what you accept |
//! | 409 | `POST /books` with an ISBN already used | clashes with the current state |
//! | 413 | `POST /books` with a body over 64 KiB | too large |
//! | 415 | `POST /books` with `Content-Type: text/plain` | cannot read that format |
//! | 422 | `POST /books` with `"year": 99` | readable, but breaks the rules |
//! | 429 + `Retry-After` | `GET /status/limited`, more than 3 times in 10 s | slow down |
//! | 500 | `GET /status/crash` | our fault; the cause is logged, not shown |
//!
//! **Why:** the status code is what clients, proxies and monitoring read first. 401 vs 403 tells a
//! client whether new credentials could help; 302 vs 307 whether a retried POST stays a POST.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, ETag, EntityTag, IfNoneMatch};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use common::ApiError;
use common::extract::Path;
use serde::Deserialize;

use crate::headers::{Credentials, credentials};
use crate::methods::read_only;

#[derive(Debug, Deserialize)]
struct RedirectCode {
    code: u16,
}

/// `/status/redirect/{code}`: a redirect to `/status/method`, which says which method arrived.
/// Follow 302 with a POST and you arrive with a GET; follow 307 and you arrive with the POST.
async fn redirect(
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

/// Any method: says which method and how many body bytes arrived (the end of every redirect).
async fn which_method(method: Method, body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .json(serde_json::json!({"method": method.as_str(), "body_bytes": body.len()}))
}

/// `GET /status/cached`: 200 with an `ETag`, or 304 with no body when `If-None-Match` matches.
async fn cached(if_none_match: Option<web::Header<IfNoneMatch>>) -> HttpResponse {
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
        response.json(serde_json::json!({"greeting": "hello"}))
    }
}

/// Stand-ins for real tokens (phase 4 issues real ones): who each bearer token is.
const DEMO_TOKENS: [(&str, &str); 2] = [("user-token", "user"), ("admin-token", "admin")];

/// `GET /status/admin`: 401 without credentials, 403 for a user, 200 for an admin.
async fn admin_only(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let challenge = r#"Bearer realm="phase1""#;
    let role = match credentials(&req)? {
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
    Ok(HttpResponse::Ok().json(serde_json::json!({"role": role, "secret": "the admin area"})))
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

/// `GET /status/limited`: 3 requests per 10 s per client address, then 429 with `Retry-After`.
async fn limited(
    req: HttpRequest,
    limiter: web::Data<FixedWindow>,
) -> Result<HttpResponse, ApiError> {
    let client = req
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    limiter
        .check(client, Instant::now())
        .map_err(ApiError::too_many_requests)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
}

/// `GET /status/crash`: a failure with a sensitive cause. The client gets a bare 500 problem; the
/// cause, connection string and all, goes only to the log.
async fn crash() -> Result<HttpResponse, ApiError> {
    Err(ApiError::internal(anyhow::anyhow!(
        "connecting to postgres://app:hunter2@db.internal:5432/app failed: connection refused"
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
            .route("/redirect/{code}", web::route().to(redirect))
            .route("/method", web::route().to(which_method))
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
