//! 4.6 Versioning: two shapes of the same books, chosen by URL or by header; the old one says when
//! it goes away.
//!
//! **Roadmap:** "API Versioning: URL versioning (`/v1/`), Header versioning."
//!
//! **Python:** FastAPI mounts two `APIRouter(prefix="/v1")`s; DRF has `URLPathVersioning` and
//! `AcceptHeaderVersioning` (`request.version`) and a serializer per version.
//!
//! **Rust:** one query, two serde shapes. v2 shows the catalogue's `books::Book` as it is: the
//! author nested (`"author": {"id": 1, "name": ...}`), the list an envelope
//! (`{"count": 7, "items": [...]}`), so v2 can grow without breaking v1 clients. [`BookV1`] is
//! flat (`"author": "Ursula K. Le Guin"`) and its list a bare array.
//! - URL versioning: `GET /v1/books[/{id}]` and `GET /v2/books[/{id}]`.
//! - Header versioning: `GET /books/{id}` with `Api-Version: 1` or
//!   `Accept: application/vnd.phase4.v1+json` (v2 when neither says). The response names its
//!   version in `Api-Version` and `Vary`s on both headers, so caches keep the versions apart.
//!
//! v1 is deprecated: each v1 response carries `Deprecation: @1793491200` (RFC 9745, the date it was
//! deprecated), `Sunset: Thu, 01 Jul 2027 00:00:00 GMT` (RFC 8594, when it stops) and a
//! `Link: <...>; rel="successor-version"` to its v2 counterpart. Every read needs `books:read` (4.5).
//!
//! **Why:** URL versions are easy to see, route, cache and document; header versions keep one URL
//! per resource. Both work; what matters is that a client can tell, from the response alone, that it
//! must move and by when.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, get, web};
use common::ApiError;
use common::db::{Database, blocking};
use common::extract::Path;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::books::{self, Book};

/// When v1 was deprecated, as RFC 9745's structured date (2026-11-01).
pub const V1_DEPRECATED: &str = "@1793491200";
/// When v1 stops answering (RFC 8594).
pub const V1_SUNSET: &str = "Thu, 01 Jul 2027 00:00:00 GMT";
/// The header that names a version.
pub const VERSION_HEADER: &str = "api-version";
/// The media types that name a version in `Accept`.
pub const V1_MEDIA_TYPE: &str = "application/vnd.phase4.v1+json";
pub const V2_MEDIA_TYPE: &str = "application/vnd.phase4.v2+json";

/// A book as v1 shows it: the author is a name.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookV1 {
    pub id: i32,
    pub title: String,
    pub year: i32,
    pub author: String,
}

impl From<Book> for BookV1 {
    fn from(book: Book) -> Self {
        Self {
            id: book.id,
            title: book.title,
            year: book.year,
            author: book.author.name,
        }
    }
}

/// v2's list: an envelope, with room for paging later.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookListV2 {
    pub count: usize,
    pub items: Vec<Book>,
}

/// A book in either version, for the document of `GET /books/{id}`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a document, never built
pub(crate) enum AnyVersion {
    V1(BookV1),
    V2(Book),
}

async fn all_books(database: web::Data<Database>) -> Result<Vec<Book>, ApiError> {
    blocking(move || books::all(&mut *database.conn()?).map_err(ApiError::internal)).await
}

async fn book(database: web::Data<Database>, id: i32) -> Result<Book, ApiError> {
    blocking(move || books::one(&mut *database.conn()?, id).map_err(ApiError::internal))
        .await?
        .ok_or_else(|| ApiError::not_found("no book has this id"))
}

/// A v1 response: announces its deprecation, its sunset and its successor.
fn v1(successor: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("Deprecation", V1_DEPRECATED))
        .insert_header(("Sunset", V1_SUNSET))
        .insert_header((
            header::LINK,
            format!(r#"<{successor}>; rel="successor-version""#),
        ));
    response
}

/// `GET /v1/books` (deprecated): a bare array of flat books.
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:read"]), ("bearer" = [])),
    responses((status = 200, description = "Every book, flat (deprecated)", body = Vec<BookV1>, headers(
        ("Deprecation" = String, description = "When v1 was deprecated (RFC 9745)"),
        ("Sunset" = String, description = "When v1 stops answering (RFC 8594)"),
        ("Link" = String, description = "The v2 successor"),
    )))
)]
#[get("/v1/books")]
pub(crate) async fn list_v1(
    caller: Caller,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksRead)?;
    let books: Vec<BookV1> = all_books(database)
        .await?
        .into_iter()
        .map(BookV1::from)
        .collect();
    Ok(v1("/v2/books").json(books))
}

/// `GET /v1/books/{id}` (deprecated).
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:read"]), ("bearer" = [])),
    params(("id" = i32, Path, description = "The book")),
    responses(
        (status = 200, description = "The book, flat (deprecated)", body = BookV1, headers(
            ("Deprecation" = String, description = "When v1 was deprecated (RFC 9745)"),
            ("Sunset" = String, description = "When v1 stops answering (RFC 8594)"),
            ("Link" = String, description = "The v2 successor"),
        )),
        (status = 404, description = "No book has this id"),
    )
)]
#[get("/v1/books/{id}")]
pub(crate) async fn get_v1(
    caller: Caller,
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksRead)?;
    let book = book(database, id).await?;
    Ok(v1(&format!("/v2/books/{id}")).json(BookV1::from(book)))
}

/// `GET /v2/books`: an envelope of nested books.
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:read"]), ("bearer" = [])),
    responses((status = 200, description = "Every book, its author nested", body = BookListV2))
)]
#[get("/v2/books")]
pub(crate) async fn list_v2(
    caller: Caller,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksRead)?;
    let items = all_books(database).await?;
    Ok(HttpResponse::Ok().json(BookListV2 {
        count: items.len(),
        items,
    }))
}

/// `GET /v2/books/{id}`.
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:read"]), ("bearer" = [])),
    params(("id" = i32, Path, description = "The book")),
    responses(
        (status = 200, description = "The book, its author nested", body = Book),
        (status = 404, description = "No book has this id"),
    )
)]
#[get("/v2/books/{id}")]
pub(crate) async fn get_v2(
    caller: Caller,
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksRead)?;
    Ok(HttpResponse::Ok().json(book(database, id).await?))
}

/// The version a request asks for by header: `Api-Version`, then a versioned media type in
/// `Accept`, then the latest.
fn requested_version(headers: &HeaderMap) -> Result<(u8, bool), ApiError> {
    if let Some(value) = headers.get(VERSION_HEADER) {
        return match value.to_str().map(str::trim) {
            Ok("1") => Ok((1, false)),
            Ok("2") => Ok((2, false)),
            _ => Err(ApiError::bad_request("Api-Version must be 1 or 2")),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    for media in accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or_default().trim())
    {
        if let Some(version) = media
            .strip_prefix("application/vnd.phase4.v")
            .and_then(|rest| rest.strip_suffix("+json"))
        {
            return match version {
                "1" => Ok((1, true)),
                "2" => Ok((2, true)),
                _ => Err(ApiError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    format!("this API serves {V1_MEDIA_TYPE} and {V2_MEDIA_TYPE}"),
                )),
            };
        }
    }
    Ok((2, false))
}

/// `GET /books/{id}`: the version named by `Api-Version` or `Accept`; v2 by default.
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:read"]), ("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The book"),
        ("Api-Version" = Option<String>, Header, description = "`1` or `2` (the default); `Accept: application/vnd.phase4.v1+json` says the same",
            pattern = "^[12]$"),
    ),
    responses(
        (status = 200, description = "The book, in the version asked for", content(
            (AnyVersion = "application/json"),
            (BookV1 = "application/vnd.phase4.v1+json"),
            (Book = "application/vnd.phase4.v2+json"),
        ), headers(
            ("Api-Version" = String, description = "The version served"),
            ("Vary" = String, description = "`Accept, Api-Version`"),
        )),
        (status = 400, description = "An Api-Version other than 1 or 2"),
        (status = 404, description = "No book has this id"),
        (status = 406, description = "A versioned media type this API does not serve"),
    )
)]
#[get("/books/{id}")]
pub(crate) async fn get_negotiated(
    caller: Caller,
    database: web::Data<Database>,
    Path(id): Path<i32>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksRead)?;
    let (version, by_media_type) = requested_version(req.headers())?;
    let book = book(database, id).await?;
    let mut response = match version {
        1 => v1(&format!("/books/{id}")),
        _ => HttpResponse::Ok(),
    };
    response
        .insert_header((VERSION_HEADER, version.to_string()))
        .insert_header((header::VARY, "Accept, Api-Version"));
    if by_media_type {
        response.content_type(format!("application/vnd.phase4.v{version}+json"));
    }
    Ok(match version {
        1 => response.json(BookV1::from(book)),
        _ => response.json(book),
    })
}
