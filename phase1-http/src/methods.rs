//! 1.1 Methods: one resource, every method, and what safety and idempotency mean for each.
//!
//! **Roadmap:** "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD. Understand idempotency and safety."
//!
//! **Python:** `@app.route("/books/<int:id>", methods=["GET", "PUT", "DELETE"])` in Flask, one
//! decorator a method in FastAPI (`@app.put(...)`); HEAD and OPTIONS are answered for you.
//!
//! **Rust:** a `web::resource` holds one route a method. Each method keeps its contract from RFC 9110:
//! - *safe* (GET, HEAD, OPTIONS) change nothing: list the books, call them, list again, same answer;
//! - *idempotent* (also PUT, DELETE) leave the same state however often they are repeated: PUT the
//!   same book twice, you have it once; DELETE twice, it is gone (the second answer is 404, but the
//!   state is the same), so a client may retry them after a timeout;
//! - POST is neither: repeat it and you have two books (phase 4's idempotency keys fix that);
//! - PATCH changes only the fields it names, and is not idempotent in general.
//!
//! HEAD is GET without a body (actix drops the body and keeps the headers); OPTIONS and every 405 say
//! which methods exist in an `Allow` header. This module answers them by hand, with [`resource`], to
//! show what they are; `common`'s middleware gives every other crate the same answers from its
//! OpenAPI document, and a test checks that the two agree here.
//!
//! **Why:** clients, proxies and caches rely on these contracts: a browser may prefetch a GET, a proxy
//! may retry a PUT. An API that deletes on GET breaks all of them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, guard, web};
use common::ApiError;
use common::extract::{Path, Query, ValidJson};
use validator::Validate;

use crate::bodies;
use crate::headers::{Representation, negotiate, render_books};
use crate::serialization::Book;
use crate::store::Library;
use crate::typed_params::{BookId, ListQuery};
use crate::validation::{BookPatch, NewBook};

/// What `/books` allows.
pub(crate) const COLLECTION_ALLOW: &str = "GET, HEAD, POST, OPTIONS";
/// What `/books/{id}` allows.
pub(crate) const ITEM_ALLOW: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";
/// What a resource that only reads allows.
pub(crate) const READ_ALLOW: &str = "GET, HEAD, OPTIONS";

/// GET or HEAD.
pub(crate) fn read() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

fn options(allow: &'static str) -> actix_web::Route {
    web::method(actix_web::http::Method::OPTIONS).to(move || async move {
        HttpResponse::NoContent()
            .insert_header((header::ALLOW, allow))
            .finish()
    })
}

fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)) })
}

/// A resource whose methods are `allow`: it answers OPTIONS with `Allow`, and any method it has no
/// route for with 405 and the same `Allow`. Add a route for each method `allow` names.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path)
        .route(options(allow))
        .default_service(not_allowed(allow))
}

/// A resource that only reads: GET and HEAD.
pub(crate) fn read_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    resource(path, READ_ALLOW).route(read().to(handler))
}

/// GET /books: safe. The list, in the representation `Accept` asks for.
#[utoipa::path(
    get,
    path = "/books",
    tag = "1.1 methods",
    params(ListQuery),
    responses(
        (status = 200, description = "The books that match, one page of them, as JSON, CSV or text \
            (`Accept` chooses)",
            content(
                (Vec<Book> = "application/json"),
                (String = "text/csv"),
                (String = "text/plain"),
            ),
            headers(
                ("Vary" = String, description = "`Accept`: the representation depends on it"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate before reuse"),
            ),
        ),
        (status = 406, description = "`Accept` allows none of JSON, CSV and text"),
        (status = 422, description = "A parameter breaks its rule (`limit` from 1 to 100)"),
    ),
)]
pub(crate) async fn list_books(
    req: HttpRequest,
    library: web::Data<Library>,
    Query(query): Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    query.validate()?;
    let representation = negotiate(
        &req,
        &[
            Representation::Json,
            Representation::Csv,
            Representation::Text,
        ],
    )?;
    render_books(representation, &library.list(&query))
}

/// GET /books/{id}: safe.
#[utoipa::path(
    get,
    path = "/books/{id}",
    tag = "1.1 methods",
    params(BookId),
    responses(
        (status = 200, description = "The book", body = Book),
        (status = 404, description = "No book has this id"),
        (status = 406, description = "`Accept` does not allow JSON"),
    ),
)]
pub(crate) async fn get_book(
    req: HttpRequest,
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    negotiate(&req, &[Representation::Json])?;
    Ok(HttpResponse::Ok().json(library.get(id)?))
}

/// PUT /books/{id}: idempotent. The book becomes exactly the body; 201 if it did not exist.
#[utoipa::path(
    put,
    path = "/books/{id}",
    tag = "1.1 methods",
    params(BookId),
    request_body = NewBook,
    responses(
        (status = 200, description = "The book was replaced", body = Book),
        (status = 201, description = "There was no book with this id; now there is", body = Book,
            headers(("Location" = String, description = "Where the book lives: `/books/{id}`"))),
        (status = 409, description = "Another book has this ISBN"),
    ),
)]
pub(crate) async fn put_book(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
    ValidJson(new): ValidJson<NewBook>,
) -> Result<HttpResponse, ApiError> {
    let (book, created) = library.replace(id, new)?;
    Ok(if created {
        bodies::created(&book)
    } else {
        HttpResponse::Ok().json(book)
    })
}

/// PATCH /books/{id}: only the fields present change.
#[utoipa::path(
    patch,
    path = "/books/{id}",
    tag = "1.1 methods",
    params(BookId),
    request_body(content(
        (BookPatch = "application/json"),
        (BookPatch = "application/merge-patch+json"),
    )),
    responses(
        (status = 200, description = "The book, with the fields the body names changed", body = Book),
        (status = 404, description = "No book has this id"),
        (status = 409, description = "Another book has this ISBN"),
    ),
)]
pub(crate) async fn patch_book(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
    ValidJson(patch): ValidJson<BookPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(library.patch(id, patch)?))
}

/// DELETE /books/{id}: idempotent. 204 the first time, 404 after: the state is the same.
#[utoipa::path(
    delete,
    path = "/books/{id}",
    tag = "1.1 methods",
    params(BookId),
    responses(
        (status = 204, description = "Deleted; there is nothing more to say"),
        (status = 404, description = "No book has this id (any more)"),
    ),
)]
pub(crate) async fn delete_book(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    if library.delete(id) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(format!("no book with id {id}")))
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let mut collection = resource("/books", COLLECTION_ALLOW).route(read().to(list_books));
    // POST has one route per body encoding: see `bodies`.
    for route in bodies::create_routes() {
        collection = collection.route(route);
    }
    cfg.service(collection)
        .service(
            resource("/books/{id}", ITEM_ALLOW)
                .route(read().to(get_book))
                .route(web::put().to(put_book))
                .route(web::patch().to(patch_book))
                .route(web::delete().to(delete_book)),
        )
        .service(read_only("/books/{id}/cover", bodies::get_cover));
}
