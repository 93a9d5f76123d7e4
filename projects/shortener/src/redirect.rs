//! The redirect: `GET /{code}`, the route that takes the traffic.
//!
//! **Roadmap:** "redirect status codes". Each one is a promise to the browser, and the service
//! lives with what the browser does about it.
//!
//! **Python:** `RedirectResponse(url, status_code=302)` in FastAPI, `redirect(url, code=301)` in
//! Flask; `Cache-Control` left to whatever the framework sends (nothing).
//!
//! **Rust:** [`follow`] finds the link through the tiers ([`crate::tiers`]), answers with the
//! link's own status and a `Location`, and hands the visit to the recorder
//! ([`crate::visits::Visits::record`], which never waits). The status is chosen per link:
//!
//! | status | the browser | `Cache-Control` sent |
//! |---|---|---|
//! | 302 Found (the default) | asks again next time; may turn a POST into a GET | `private, no-cache` |
//! | 307 Temporary Redirect | asks again; keeps the method and the body | `private, no-cache` |
//! | 301 Moved Permanently | keeps it, and goes straight to the destination from then on | `public, max-age=86400` |
//! | 308 Permanent Redirect | keeps it, as 301, and keeps the method | `public, max-age=86400` |
//!
//! A browser that has a 301 or 308 never asks the shortener again: later visits from it are not
//! counted, and an edit of the destination never reaches it. Without `Cache-Control` a browser
//! keeps a 301 for as long as it likes (Chrome: until its cache is cleared), so the permanent
//! kinds say `max-age=86400`: one day, at most, before it asks again. A link with an expiry never
//! lets a cache keep it past the expiry; a link with a visit limit says `no-store`, since every
//! visit must reach the service to be counted against the limit.
//!
//! After `valid_until` a link answers 410 Gone, and after `max_visits` visits too. 410 rather than
//! 404: the link existed and is over, which a crawler takes as "remove it" rather than "try later".
//! A visit to a limited link is taken in the database, in one `UPDATE ... WHERE visits_taken <
//! max_visits` (two instances cannot both take the last one), so those links, and only those,
//! wait for the database. Every GET takes one, bots' included: a chat app that previews the link
//! uses up a visit of a one-time link, which is why such links are best sent where nothing
//! previews them. Letting bots through uncounted would undo the limit: a user agent is the
//! client's to choose, and anyone could follow a one-time link forever as `Slackbot`. HEAD answers as GET does, but is not a visit: it is what link checkers
//! and previewers send, and it does not use up a limited link. A query string is ignored, where
//! the other routes refuse a parameter they do not know: sites append their own to every link
//! they pass on (`?fbclid=...`), and a short link must still work.
//!
//! **Why:** picking 301 because "the link will never change" trades away the analytics and the
//! ability to fix a typo, for a round trip saved. A shortener with analytics wants 302 unless told.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::blocking;
use common::middleware::asked_for_head;
use diesel::prelude::*;
use phase5_perf::proxy::Client;

use crate::Shortener;
use crate::codes::plausible;
use crate::schema::links;
use crate::tiers::{Resolved, Tier};
use crate::visits::Visit;

/// How long a browser may keep a permanent redirect.
pub const PERMANENT_FOR: i64 = 86_400;

/// Which tier knew the link (or knew there is none): `memory`, `redis` or `database`.
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");
const TEMPORARY: HeaderValue = HeaderValue::from_static("private, no-cache");
const PERMANENT: HeaderValue = HeaderValue::from_static("public, max-age=86400");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// The `Cache-Control` of a redirect with `status` to `target`, at `now` (Unix seconds).
pub fn cache_control(
    status: u16,
    valid_until: Option<i64>,
    limited: bool,
    now: i64,
) -> HeaderValue {
    if limited {
        return NO_STORE;
    }
    if !matches!(status, 301 | 308) {
        return TEMPORARY;
    }
    match valid_until {
        Some(until) if until - now < PERMANENT_FOR => {
            HeaderValue::from_str(&format!("public, max-age={}", (until - now).max(0)))
                .unwrap_or(NO_STORE)
        }
        _ => PERMANENT,
    }
}

/// Redirects by the tier that answered, for `/metrics` (`shortener_redirects_total{tier}`): the
/// three counters are looked up once, so a redirect pays one atomic increment.
#[derive(Debug, Clone)]
pub struct RedirectMetrics {
    memory: prometheus::IntCounter,
    redis: prometheus::IntCounter,
    database: prometheus::IntCounter,
}

impl RedirectMetrics {
    pub fn new(registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let counter = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "shortener_lookups_total",
                "Redirect look-ups, by the tier that answered (unknown codes included)",
            ),
            &["tier"],
        )?;
        registry.register(Box::new(counter.clone()))?;
        Ok(Self {
            memory: counter.with_label_values(&["memory"]),
            redis: counter.with_label_values(&["redis"]),
            database: counter.with_label_values(&["database"]),
        })
    }

    pub fn served_from(&self, tier: Tier) {
        match tier {
            Tier::Memory => self.memory.inc(),
            Tier::Redis => self.redis.inc(),
            Tier::Database => self.database.inc(),
        }
    }
}

fn gone(detail: String) -> ApiError {
    ApiError::new(StatusCode::GONE, detail)
}

fn unknown(code: &str) -> ApiError {
    ApiError::not_found(format!("no link has the code `{code}`"))
}

#[utoipa::path(
    get,
    path = "/{code}",
    tag = "redirect",
    params(("code" = String, Path, description = "A link's code or alias")),
    // Sites add their own parameters to links they pass on (`?fbclid=...`): ignored, not refused.
    extensions(("x-unknown-query-parameters" = json!("ignored"))),
    responses(
        (status = 301, description = "Moved Permanently, for a link made so", headers(("Location" = String), ("Cache-Control" = String), ("X-Cache" = String, description = "The tier that knew the link: `memory`, `redis` or `database`"))),
        (status = 302, description = "Found: the default", headers(("Location" = String), ("Cache-Control" = String), ("X-Cache" = String))),
        (status = 307, description = "Temporary Redirect, for a link made so", headers(("Location" = String), ("Cache-Control" = String), ("X-Cache" = String))),
        (status = 308, description = "Permanent Redirect, for a link made so", headers(("Location" = String), ("Cache-Control" = String), ("X-Cache" = String))),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
        (status = 410, description = "The link has expired, or has had all its visits", content_type = "application/problem+json", body = common::Problem),
    ),
)]
pub(crate) async fn follow(
    req: HttpRequest,
    client: Client,
    shortener: web::Data<Shortener>,
) -> Result<HttpResponse, ApiError> {
    let code = req.match_info().get("code").unwrap_or_default();
    // Nothing that cannot be a code reaches the tiers (nor fills the negative cache).
    if !plausible(code) {
        return Err(unknown(code));
    }
    let (resolved, tier) = shortener.resolver.resolve(code).await?;
    shortener.metrics.served_from(tier);
    let Some(resolved) = resolved else {
        return Err(unknown(code).with_header((X_CACHE, HeaderValue::from_static(tier.as_str()))));
    };
    let target = &resolved.target;
    let now = Utc::now().timestamp();
    if let Some(until) = target.valid_until
        && now >= until
    {
        let when = DateTime::from_timestamp(until, 0).unwrap_or_default();
        return Err(gone(format!(
            "the link `{code}` expired at {}",
            when.to_rfc3339()
        )));
    }
    let head = asked_for_head(&req);
    if target.limited && !take_visit(&shortener, target.link_id, head).await? {
        return Err(gone(format!("the link `{code}` has had all its visits")));
    }
    if !head {
        shortener
            .visits
            .record(Visit::of(&req, target.link_id, client.ip, now));
    }
    Ok(redirect(&resolved, tier, now))
}

fn redirect(resolved: &Resolved, tier: Tier, now: i64) -> HttpResponse {
    let target = &resolved.target;
    let status = StatusCode::from_u16(target.status).unwrap_or(StatusCode::FOUND);
    let mut response = HttpResponse::new(status);
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, resolved.location.clone());
    headers.insert(
        header::CACHE_CONTROL,
        cache_control(target.status, target.valid_until, target.limited, now),
    );
    headers.insert(X_CACHE, HeaderValue::from_static(tier.as_str()));
    response
}

/// Takes one visit of a limited link (only looks, for HEAD); false when none is left.
async fn take_visit(shortener: &Shortener, link_id: i32, head: bool) -> Result<bool, ApiError> {
    let database = shortener.database.clone();
    blocking(move || {
        let mut conn = database.conn()?;
        let left = links::table
            .filter(links::id.eq(link_id))
            .filter(links::visits_taken.nullable().lt(links::max_visits));
        if head {
            let found: Option<i32> = left.select(links::id).first(&mut *conn).optional()?;
            return Ok::<_, ApiError>(found.is_some());
        }
        let taken = diesel::update(left)
            .set(links::visits_taken.eq(links::visits_taken + 1))
            .execute(&mut *conn)?;
        Ok(taken == 1)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_gets_the_cache_control_it_needs() {
        let now = 1_000_000;
        let value = |status, until, limited| {
            cache_control(status, until, limited, now)
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(value(302, None, false), "private, no-cache");
        assert_eq!(value(307, None, false), "private, no-cache");
        assert_eq!(value(301, None, false), "public, max-age=86400");
        assert_eq!(value(308, None, false), "public, max-age=86400");
        // A permanent redirect is never kept past the link's expiry...
        assert_eq!(value(301, Some(now + 60), false), "public, max-age=60");
        assert_eq!(
            value(308, Some(now + 10 * PERMANENT_FOR), false),
            "public, max-age=86400"
        );
        // ... and a limited link is never kept at all.
        assert_eq!(value(301, None, true), "no-store");
        assert_eq!(value(302, Some(now + 60), true), "no-store");
    }
}
