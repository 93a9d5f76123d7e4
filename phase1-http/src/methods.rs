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
//! which methods exist in an `Allow` header.
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
use crate::store::Library;
use crate::typed_params::{BookId, ListQuery};
use crate::validation::{BookPatch, NewBook};

const COLLECTION_ALLOW: &str = "GET, HEAD, POST, OPTIONS";
const ITEM_ALLOW: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";

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

pub(crate) fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)) })
}

/// A resource that only reads: GET and HEAD, and a 405 with `Allow` for anything else.
pub(crate) fn read_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(read().to(handler))
        .default_service(not_allowed("GET, HEAD"))
}

/// GET /books: safe. The list, in the representation `Accept` asks for.
async fn list_books(
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
async fn get_book(
    req: HttpRequest,
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    negotiate(&req, &[Representation::Json])?;
    Ok(HttpResponse::Ok().json(library.get(id)?))
}

/// PUT /books/{id}: idempotent. The book becomes exactly the body; 201 if it did not exist.
async fn put_book(
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
async fn patch_book(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
    ValidJson(patch): ValidJson<BookPatch>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(library.patch(id, patch)?))
}

/// DELETE /books/{id}: idempotent. 204 the first time, 404 after: the state is the same.
async fn delete_book(
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
    let mut collection = web::resource("/books")
        .route(read().to(list_books))
        .route(options(COLLECTION_ALLOW));
    // POST has one route per body encoding: see `bodies`.
    for route in bodies::create_routes() {
        collection = collection.route(route);
    }
    cfg.service(collection.default_service(not_allowed(COLLECTION_ALLOW)))
        .service(
            web::resource("/books/{id}")
                .route(read().to(get_book))
                .route(web::put().to(put_book))
                .route(web::patch().to(patch_book))
                .route(web::delete().to(delete_book))
                .route(options(ITEM_ALLOW))
                .default_service(not_allowed(ITEM_ALLOW)),
        )
        .service(read_only("/books/{id}/cover", bodies::get_cover));
}
