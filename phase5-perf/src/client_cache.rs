//! Client caching: `Cache-Control` per resource, validators, conditional requests.
//!
//! **Roadmap:** HTTP caching headers (`Cache-Control`, `ETag`, `Last-Modified`), so clients and
//! CDNs reuse what they have instead of asking again.
//!
//! **Python:** Django's `@cache_control(max_age=60)`, `@condition(etag_func=..., last_modified_func=...)`
//! and `ConditionalGetMiddleware`; in FastAPI, headers set by hand on the `Response` and
//! `If-None-Match` compared by hand (or `fastapi-cache`); Flask's `response.make_conditional()`.
//!
//! **Rust:** actix-web's typed headers (`CacheControl`, `ETag`, `EntityTag`, `IfNoneMatch`,
//! `IfMatch`, `LastModified`, `IfModifiedSince`) and two small functions: [`Representation`]
//! answers a read with a 200 or a 304 (RFC 9110 §13.2.2: `If-None-Match` first, with the weak
//! comparison; `If-Modified-Since` only without it), and [`require_match`](common::conditional::require_match) guards a write with
//! the strong comparison, 428 without `If-Match` (RFC 6585), 412 when the tag is stale.
//! `Cache-Control` is chosen per resource:
//!
//! | resource | `Cache-Control` | why |
//! |---|---|---|
//! | `GET /catalogue`, `/catalogue/{id}` | `public, max-age=60, stale-while-revalidate=300` | the same for everyone; a minute old is fine, and a cache may serve it while it revalidates |
//! | `GET /customers/{email}/purchases` | `private, no-cache` | one person's data: no shared cache may keep it, and the browser asks every time (a cheap 304 with the `ETag`) |
//! | `GET /catalogue/{id}/download-token` | `no-store` | a secret: kept by no cache, not even the browser's history |
//! | `GET /assets/catalogue.<hash>.css` | `public, max-age=31536000, immutable` | the name changes when the bytes do, so the bytes under a name never change |
//!
//! **Why:** a 304 costs a round trip but no body; `max-age` saves even the round trip. Tags are
//! *strong* where the bytes are exact (`"v3"`, the listing's version) and *weak* where the
//! representation varies: the catalogue is gzip-compressed for clients that accept it, and a
//! compressed body is other bytes, so [`tag_encoded`] turns its tag into `W/"..."` then (actix's
//! `Compress` would leave it strong). A 304 repeats the 200's `ETag`, `Cache-Control` and `Vary`
//! (`Compress` skips empty bodies, so `Vary: Accept-Encoding` is set here, not left to it). On
//! writes, `If-Match` is what prevents the lost update: two clients read version 3, both send a
//! change; the first makes it version 4, the second gets 412 and must read again instead of
//! silently overwriting the first (`tests/api/client_cache.rs` shows it).

use std::sync::LazyLock;
use std::time::SystemTime;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, AcceptEncoding, CacheControl, CacheDirective, ContentEncoding, Encoding, EntityTag,
    HeaderValue, HttpDate, IfModifiedSince, IfNoneMatch,
};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, delete, get, patch, put, web};
use common::ApiError;
use common::conditional::require_match;
use common::db::schema::{authors, books};
use common::db::{Database, blocking};
use common::extract::{Path, ValidJson};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use validator::Validate;

use crate::clock::{now_ms, system_time, whole_seconds};
use crate::sales;
use crate::schema::listings;

/// The catalogue's `Cache-Control`: public, a minute fresh, five more served while revalidating.
fn catalogue_cache() -> CacheControl {
    CacheControl(vec![
        CacheDirective::Public,
        CacheDirective::MaxAge(60),
        CacheDirective::Extension("stale-while-revalidate".into(), Some("300".into())),
    ])
}

/// A read's answer before the conditions are applied: its bytes and what describes them.
#[derive(Debug)]
pub struct Representation {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub etag: EntityTag,
    pub last_modified: Option<SystemTime>,
    pub cache_control: CacheControl,
    /// The request headers the representation depends on.
    pub vary: &'static str,
}

impl Representation {
    /// A strong tag for exact bytes: the first 16 bytes of their SHA-256.
    pub fn tag_of(body: &[u8]) -> EntityTag {
        let digest = Sha256::digest(body);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        EntityTag::new_strong(hex)
    }

    /// 304 Not Modified when the client's copy is current, else 200 with the body. Both carry the
    /// same validators, `Cache-Control` and `Vary`.
    pub fn respond(self, req: &HttpRequest) -> HttpResponse {
        let not_modified = self.not_modified(req);
        let mut response = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header(header::ETag(self.etag.clone()))
            .insert_header(self.cache_control.clone())
            .insert_header((header::VARY, self.vary));
        if let Some(time) = self.last_modified {
            response.insert_header(header::LastModified(HttpDate::from(time)));
        }
        if not_modified {
            return response.finish();
        }
        response.content_type(self.content_type).body(self.body)
    }

    /// RFC 9110 §13.2.2: with `If-None-Match`, it alone decides (weak comparison, `*` matches any
    /// current representation); without it, `If-Modified-Since` does, to the second.
    fn not_modified(&self, req: &HttpRequest) -> bool {
        if req.headers().contains_key(header::IF_NONE_MATCH) {
            return match req.get_header::<IfNoneMatch>() {
                Some(IfNoneMatch::Any) => true,
                Some(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&self.etag)),
                // Unreadable: as if absent, and the full answer is always safe.
                None => false,
            };
        }
        match (req.get_header::<IfModifiedSince>(), self.last_modified) {
            (Some(IfModifiedSince(since)), Some(modified)) => {
                whole_seconds(modified) <= whole_seconds(SystemTime::from(since))
            }
            _ => false,
        }
    }
}

/// The middleware outside `Compress` on a compressed route: a gzip body is another
/// representation, so its tag becomes weak; so does a 304's, for a client to whom the 200 would
/// have been compressed. `Vary` is left with one of each name.
pub async fn tag_encoded(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The choice `Compress` makes for this request (its codecs: gzip and deflate, or none), read
    // the way it reads it, for the 304 that has no body to show it.
    let would_compress = req
        .get_header::<AcceptEncoding>()
        .and_then(|accept| {
            accept.negotiate([Encoding::identity(), Encoding::gzip(), Encoding::deflate()].iter())
        })
        .is_some_and(|chosen| chosen != Encoding::identity());
    let mut res = next.call(req).await?;
    let encoded = match res.headers().get(header::CONTENT_ENCODING) {
        Some(encoding) => encoding != ContentEncoding::Identity.as_str(),
        None => res.status() == StatusCode::NOT_MODIFIED && would_compress,
    };
    let headers = res.headers_mut();
    if encoded
        && let Some(tag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok())
        && !tag.starts_with("W/")
        && let Ok(weak) = HeaderValue::from_str(&format!("W/{tag}"))
    {
        headers.insert(header::ETAG, weak);
    }
    let mut names: Vec<String> = Vec::new();
    for value in headers.get_all(header::VARY) {
        for name in value.to_str().unwrap_or_default().split(',') {
            let name = name.trim();
            if !name.is_empty() && !names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                names.push(name.to_owned());
            }
        }
    }
    if let Ok(vary) = HeaderValue::from_str(&names.join(", ")) {
        headers.insert(header::VARY, vary);
    }
    Ok(res)
}

/// A book on sale.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Listing {
    pub book_id: i32,
    pub title: String,
    pub author: String,
    pub price_cents: i32,
    pub stock: i32,
    /// Incremented by every write: the `ETag` is `"v{version}"`.
    pub version: i32,
    /// The last write, in milliseconds since 1970: `Last-Modified`.
    pub updated_at: i64,
}

impl Listing {
    pub fn etag(&self) -> EntityTag {
        EntityTag::new_strong(format!("v{}", self.version))
    }

    fn representation(&self) -> Result<Representation, ApiError> {
        Ok(Representation {
            body: serde_json::to_vec(self).map_err(ApiError::internal)?,
            content_type: "application/json",
            etag: self.etag(),
            last_modified: Some(system_time(self.updated_at)),
            cache_control: catalogue_cache(),
            vary: "Accept-Encoding",
        })
    }
}

/// The listings (one, or all), with their books' titles and authors: two queries, since the
/// books are `common`'s table and diesel joins only tables declared together.
fn load_listings(
    conn: &mut common::db::AnyConnection,
    id: Option<i32>,
) -> QueryResult<Vec<Listing>> {
    let mut query = listings::table
        .select((
            listings::book_id,
            listings::price_cents,
            listings::stock,
            listings::version,
            listings::updated_at,
        ))
        .order(listings::book_id)
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(listings::book_id.eq(id));
    }
    let rows: Vec<(i32, i32, i32, i32, i64)> = query.load(conn)?;
    let ids: Vec<i32> = rows.iter().map(|row| row.0).collect();
    let names: std::collections::HashMap<i32, (String, String)> = books::table
        .inner_join(authors::table)
        .filter(books::id.eq_any(&ids))
        .select((books::id, books::title, authors::name))
        .load::<(i32, String, String)>(conn)?
        .into_iter()
        .map(|(id, title, author)| (id, (title, author)))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(book_id, price_cents, stock, version, updated_at)| {
            let (title, author) = names.get(&book_id)?.clone();
            Some(Listing {
                book_id,
                title,
                author,
                price_cents,
                stock,
                version,
                updated_at,
            })
        })
        .collect())
}

async fn listing(database: web::Data<Database>, id: i32) -> Result<Listing, ApiError> {
    blocking(move || load_listings(&mut *database.conn()?, Some(id)).map_err(ApiError::from))
        .await?
        .pop()
        .ok_or_else(|| no_listing(id))
}

fn no_listing(id: i32) -> ApiError {
    ApiError::not_found(format!("book {id} is not in the catalogue"))
}

/// The catalogue as CSV, one line a listing.
fn as_csv(listings: &[Listing]) -> Vec<u8> {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let mut csv = String::from("book_id,title,author,price_cents,stock,version\r\n");
    for l in listings {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            l.book_id,
            quoted(&l.title),
            quoted(&l.author),
            l.price_cents,
            l.stock,
            l.version
        ));
    }
    csv.into_bytes()
}

/// JSON unless `Accept` prefers CSV; `None` when it accepts neither.
fn negotiate(req: &HttpRequest) -> Option<&'static str> {
    let Some(accept) = req.get_header::<header::Accept>() else {
        return Some("application/json");
    };
    if accept.is_empty() {
        return Some("application/json");
    }
    accept.ranked().into_iter().find_map(|mime| {
        match (mime.type_().as_str(), mime.subtype().as_str()) {
            ("application", "json") | ("application", "*") | ("*", "*") => Some("application/json"),
            ("text", "csv") | ("text", "*") => Some("text/csv"),
            _ => None,
        }
    })
}

#[utoipa::path(
    get,
    path = "/catalogue",
    tag = "client caching",
    params(
        ("Accept" = Option<String>, Header, description = "`application/json` (the default) or `text/csv`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag`s you hold, or `*`"),
        ("If-Modified-Since" = Option<String>, Header, description = "The `Last-Modified` you hold"),
    ),
    responses(
        (status = 200, description = "Every listing, as JSON or CSV; gzip-compressed for `Accept-Encoding: gzip`, with a weak `ETag` then",
            headers(
                ("ETag" = String, description = "Strong for the identity body, weak (`W/`) for a compressed one"),
                ("Last-Modified" = String, description = "The latest write to any listing"),
                ("Cache-Control" = String, description = "`public, max-age=60, stale-while-revalidate=300`"),
                ("Vary" = String, description = "`Accept, Accept-Encoding`"),
            ),
            content((Vec<Listing> = "application/json"), (String = "text/csv"))),
        (status = 304, description = "Your copy is current: no body, the same `ETag`, `Cache-Control` and `Vary`"),
        (status = 406, description = "`Accept` names neither JSON nor CSV", content_type = "application/problem+json", body = common::Problem),
    )
)]
pub(crate) async fn catalogue(
    req: HttpRequest,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let content_type = negotiate(&req).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "the catalogue is served as application/json or text/csv",
        )
    })?;
    let all = blocking(move || load_listings(&mut *database.conn()?, None).map_err(ApiError::from))
        .await?;
    let body = if content_type == "text/csv" {
        as_csv(&all)
    } else {
        serde_json::to_vec(&all).map_err(ApiError::internal)?
    };
    Ok(Representation {
        etag: Representation::tag_of(&body),
        body,
        content_type,
        last_modified: all.iter().map(|l| l.updated_at).max().map(system_time),
        cache_control: catalogue_cache(),
        vary: "Accept, Accept-Encoding",
    }
    .respond(&req))
}

#[utoipa::path(
    tag = "client caching",
    params(
        ("book_id" = i32, Path, description = "The book"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag`s you hold, or `*`"),
        ("If-Modified-Since" = Option<String>, Header, description = "The `Last-Modified` you hold"),
    ),
    responses(
        (status = 200, description = "The listing", body = Listing,
            headers(
                ("ETag" = String, description = "`\"v{version}\"`, strong"),
                ("Last-Modified" = String, description = "Its last write"),
                ("Cache-Control" = String, description = "`public, max-age=60, stale-while-revalidate=300`"),
            )),
        (status = 304, description = "Your copy is current"),
        (status = 404, description = "The book is not in the catalogue"),
    )
)]
#[get("/catalogue/{book_id}")]
pub(crate) async fn get_listing(
    req: HttpRequest,
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    Ok(listing(database, id).await?.representation()?.respond(&req))
}

/// A listing's new price and stock.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingUpdate {
    #[validate(range(min = 1, max = 1_000_000, message = "must be 1 to 1000000 cents"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub price_cents: i32,
    #[validate(range(min = 0, max = 1_000_000, message = "must be 0 to 1000000"))]
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: i32,
}

/// Some of a listing's fields.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingPatch {
    #[validate(range(min = 1, max = 1_000_000, message = "must be 1 to 1000000 cents"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub price_cents: Option<i32>,
    #[validate(range(min = 0, max = 1_000_000, message = "must be 0 to 1000000"))]
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: Option<i32>,
}

/// PUT and PATCH: the listing as read, guarded by `If-Match`, written with the price and stock
/// `change` makes of it, answered with its new validators.
async fn conditional_write(
    req: &HttpRequest,
    database: web::Data<Database>,
    id: i32,
    change: impl FnOnce(&Listing) -> (i32, i32),
) -> Result<HttpResponse, ApiError> {
    let seen = listing(database.clone(), id).await?;
    require_match(req, &seen.etag())?;
    let (price_cents, stock) = change(&seen);
    let now = write_if_current(database, id, &seen, price_cents, stock).await?;
    Ok(written(&now))
}

/// Writes `price_cents` and `stock` if the listing is still at `version`, as one `UPDATE ...
/// WHERE version = ?`: the check and the write cannot be split by another writer.
async fn write_if_current(
    database: web::Data<Database>,
    id: i32,
    seen: &Listing,
    price_cents: i32,
    stock: i32,
) -> Result<Listing, ApiError> {
    let version = seen.version;
    let db = database.clone();
    let written = blocking(move || {
        diesel::update(
            listings::table
                .filter(listings::book_id.eq(id))
                .filter(listings::version.eq(version)),
        )
        .set((
            listings::price_cents.eq(price_cents),
            listings::stock.eq(stock),
            listings::version.eq(version + 1),
            listings::updated_at.eq(now_ms()),
        ))
        .execute(&mut *db.conn()?)
        .map_err(ApiError::from)
    })
    .await?;
    let current = listing(database, id).await?;
    if written == 0 {
        // Changed between our read and our write: the same answer as a stale If-Match.
        return Err(stale(&current));
    }
    Ok(current)
}

fn stale(current: &Listing) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        format!(
            "the listing changed while this write ran; it is at {} now",
            current.etag()
        ),
    )
    .with_member("current_etag", current.etag().to_string())
}

fn written(listing: &Listing) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ETag(listing.etag()))
        .insert_header(header::LastModified(HttpDate::from(system_time(
            listing.updated_at,
        ))))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(listing)
}

#[utoipa::path(
    tag = "client caching",
    params(
        ("book_id" = i32, Path, description = "The book"),
        ("If-Match" = String, Header, description = "The `ETag` you read, or `*`"),
    ),
    request_body = ListingUpdate,
    responses(
        (status = 200, description = "The listing as it is now, with its new `ETag`", body = Listing),
        (status = 404, description = "The book is not in the catalogue"),
        (status = 412, description = "The `ETag` in `If-Match` is stale: someone changed the listing since you read it", content_type = "application/problem+json", body = common::Problem),
        (status = 428, description = "No `If-Match`: this write needs one", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[put("/catalogue/{book_id}")]
pub(crate) async fn put_listing(
    req: HttpRequest,
    database: web::Data<Database>,
    Path(id): Path<i32>,
    ValidJson(update): ValidJson<ListingUpdate>,
) -> Result<HttpResponse, ApiError> {
    conditional_write(&req, database, id, |_| (update.price_cents, update.stock)).await
}

#[utoipa::path(
    tag = "client caching",
    params(
        ("book_id" = i32, Path, description = "The book"),
        ("If-Match" = String, Header, description = "The `ETag` you read, or `*`"),
    ),
    request_body = ListingPatch,
    responses(
        (status = 200, description = "The listing as it is now, with its new `ETag`", body = Listing),
        (status = 404, description = "The book is not in the catalogue"),
        (status = 412, description = "The `ETag` in `If-Match` is stale", content_type = "application/problem+json", body = common::Problem),
        (status = 428, description = "No `If-Match`: this write needs one", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[patch("/catalogue/{book_id}")]
pub(crate) async fn patch_listing(
    req: HttpRequest,
    database: web::Data<Database>,
    Path(id): Path<i32>,
    ValidJson(patch): ValidJson<ListingPatch>,
) -> Result<HttpResponse, ApiError> {
    conditional_write(&req, database, id, |seen| {
        (
            patch.price_cents.unwrap_or(seen.price_cents),
            patch.stock.unwrap_or(seen.stock),
        )
    })
    .await
}

#[utoipa::path(
    tag = "client caching",
    params(
        ("book_id" = i32, Path, description = "The book"),
        ("If-Match" = String, Header, description = "The `ETag` you read, or `*`"),
    ),
    responses(
        (status = 204, description = "Taken off the catalogue (the book stays in the library)"),
        (status = 404, description = "The book is not in the catalogue"),
        (status = 412, description = "The `ETag` in `If-Match` is stale", content_type = "application/problem+json", body = common::Problem),
        (status = 428, description = "No `If-Match`: this delete needs one", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[delete("/catalogue/{book_id}")]
pub(crate) async fn delete_listing(
    req: HttpRequest,
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let seen = listing(database.clone(), id).await?;
    require_match(&req, &seen.etag())?;
    let version = seen.version;
    let db = database.clone();
    let deleted = blocking(move || {
        diesel::delete(
            listings::table
                .filter(listings::book_id.eq(id))
                .filter(listings::version.eq(version)),
        )
        .execute(&mut *db.conn()?)
        .map_err(ApiError::from)
    })
    .await?;
    if deleted == 0 {
        return Err(stale(&listing(database, id).await?));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "client caching",
    params(
        ("email" = String, Path, description = "The customer, such as `reader42@example.com`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` you hold"),
    ),
    responses(
        (status = 200, description = "Their latest 50 purchases, newest first", body = Vec<sales::Sale>,
            headers(
                ("ETag" = String, description = "Of the exact bytes"),
                ("Cache-Control" = String, description = "`private, no-cache`: only their browser keeps it, and revalidates every time"),
            )),
        (status = 304, description = "Your copy is current"),
    )
)]
#[get("/customers/{email}/purchases")]
pub(crate) async fn purchases(
    req: HttpRequest,
    database: web::Data<Database>,
    Path(email): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bought = blocking(move || {
        sales::purchases_of(&mut *database.conn()?, &email).map_err(ApiError::from)
    })
    .await?;
    let body = serde_json::to_vec(&bought).map_err(ApiError::internal)?;
    Ok(Representation {
        etag: Representation::tag_of(&body),
        body,
        content_type: "application/json",
        last_modified: None,
        cache_control: CacheControl(vec![CacheDirective::Private, CacheDirective::NoCache]),
        vary: "Accept-Encoding",
    }
    .respond(&req))
}

/// A short-lived download token.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadToken {
    /// 256 random bits, hex.
    pub token: String,
    /// Seconds it is good for.
    pub expires_in: u32,
}

#[utoipa::path(
    tag = "client caching",
    params(("book_id" = i32, Path, description = "The book")),
    responses(
        (status = 200, description = "A new token for each request", body = DownloadToken,
            headers(("Cache-Control" = String, description = "`no-store`: a secret no cache may keep"))),
        (status = 404, description = "The book is not in the catalogue"),
    )
)]
#[get("/catalogue/{book_id}/download-token")]
pub(crate) async fn download_token(
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    use rand_core::RngCore;
    listing(database, id).await?;
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(DownloadToken {
            token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            expires_in: 300,
        }))
}

/// The stylesheet, under a name that carries a hash of its bytes.
pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::versioned(
        "catalogue",
        "css",
        include_bytes!("../static/catalogue.css"),
    )
});

/// A file whose name changes whenever its bytes do.
#[derive(Debug)]
pub struct Asset {
    /// `catalogue.3f2a9c1d5e7b.css`
    pub name: String,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

impl Asset {
    fn versioned(stem: &str, extension: &str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            name: format!("{stem}.{hash}.{extension}"),
            bytes,
            content_type: "text/css; charset=utf-8",
        }
    }
}

#[utoipa::path(
    tag = "client caching",
    params(("name" = String, Path, description = "A versioned file name, such as the one the tour prints")),
    responses(
        (status = 200, description = "The file", content_type = "text/css",
            headers(("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"))),
        (status = 404, description = "No file has this name (an old version, or none)"),
    )
)]
#[get("/assets/{name}")]
pub(crate) async fn asset(Path(name): Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = &*STYLESHEET;
    if name != asset.name {
        return Err(ApiError::not_found(format!(
            "no asset is called {name}; the stylesheet is /assets/{}",
            asset.name
        )));
    }
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .insert_header(header::ETag(Representation::tag_of(asset.bytes)))
        .content_type(asset.content_type)
        .body(asset.bytes))
}

/// The catalogue's list, compressed, with its tag weakened outside the compressor (the last
/// `wrap` is the outermost).
pub fn compressed_catalogue() -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource("/catalogue")
        .route(web::get().to(catalogue))
        .wrap(actix_web::middleware::Compress::default())
        .wrap(actix_web::middleware::from_fn(tag_encoded))
}
