//! 2.8 Flask's blueprints: each feature a self-contained module, mounted in one line.
//!
//! **Roadmap:** "Blueprints: Organizing large applications."
//!
//! **Python:** `catalog = Blueprint("catalog", __name__, url_prefix="/api")` collects routes,
//! `@catalog.before_request` adds middleware to them alone, `@catalog.errorhandler(404)` their own
//! error handling, and `app.register_blueprint(catalog)` mounts it.
//!
//! **Rust:** a blueprint is a function that returns a scope: its prefix, its routes, its middleware
//! (`.wrap`) and its fallback for unknown paths (`.default_service`). The app mounts each with one
//! `.service(...)`. Two here:
//! - [`catalog`] at `/api`: the viewsets (their writes for admins only), the FastAPI-style and
//!   async endpoints, eager loading and the context route; wrapped in CORS, compression and the
//!   request-context middleware.
//! - [`admin`] at `/admin`: only for admins (its own middleware answers 401 or 403 before any
//!   handler runs), with its own 404 that lists what the admin area has.
//!
//! They are utoipa-actix-web scopes, so each also carries its part of the OpenAPI document.
//!
//! **Why:** a feature can be read, tested and moved as one unit, and middleware applies exactly to
//! the routes of the scope it wraps, which the code shows at the mounting point.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::get;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, FromRequest, HttpResponse, web};
use common::ApiError;
use common::db::Database;
use common::db::blocking;
use common::db::schema::{authors, book_tags, books, tags};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::OpenApiFactory;

use crate::dependencies::Admin;
use crate::repository::DbBooks;
use crate::viewsets::ViewSet;
use crate::{async_handlers, contexts, dependencies, eager_loading, extensions, fastapi_core};

/// The library API at `/api`.
pub fn catalog(
    authors: Arc<crate::Authors>,
    books: Arc<DbBooks>,
    cors_origins: &[String],
) -> impl HttpServiceFactory + OpenApiFactory + 'static {
    utoipa_actix_web::scope("/api")
        .wrap(from_fn(contexts::request_context))
        .wrap(extensions::compress())
        .wrap(extensions::cors(cors_origins))
        .service(ViewSet::new("/authors", authors).writes_need::<Admin>("bearer"))
        .service(ViewSet::new("/books", books).writes_need::<Admin>("bearer"))
        .service(fastapi_core::add_book)
        .service(async_handlers::book_price)
        .service(eager_loading::authors_with_books)
        .service(contexts::context)
        .service(dependencies::me)
}

/// Lets admins through; 401 without a user, 403 for anyone else.
async fn admins_only(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // A method the path lacks (or OPTIONS) asks nothing of the blueprint: the router answers it
    // (405 with `Allow`, or 204), whoever is asking.
    if !common::methods::MethodTable::of(req.request()).is_some_and(|table| {
        *req.method() != actix_web::http::Method::OPTIONS && table.allows(req.path(), req.method())
    }) {
        return next.call(req).await;
    }
    let (http_request, mut payload) = req.into_parts();
    // The same dependency the API's writes take, run here for every route of the blueprint.
    Admin::from_request(&http_request, &mut payload).await?;
    next.call(ServiceRequest::from_parts(http_request, payload))
        .await
}

/// Counts of what the library holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub authors: i64,
    pub books: i64,
    pub tags: i64,
    pub book_tags: i64,
}

/// What the library holds (admins only).
#[utoipa::path(tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Row counts", body = Stats),
        (status = 401, description = "No token", body = common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = common::Problem, content_type = "application/problem+json")
    ))]
#[get("/stats")]
async fn stats(db: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let stats = blocking(move || -> anyhow::Result<Stats> {
        let mut conn = db.conn()?;
        Ok(Stats {
            authors: authors::table.count().get_result(&mut conn)?,
            books: books::table.count().get_result(&mut conn)?,
            tags: tags::table.count().get_result(&mut conn)?,
            book_tags: book_tags::table.count().get_result(&mut conn)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// The admin area's own 404.
async fn admin_not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "the admin area has no {}; it has GET /admin/stats",
        req.path()
    )))
}

/// The admin area at `/admin`.
pub fn admin() -> impl HttpServiceFactory + OpenApiFactory + 'static {
    utoipa_actix_web::scope("/admin")
        .wrap(from_fn(admins_only))
        .service(stats)
        .default_service(web::to(admin_not_found))
}
