//! 2.1 FastAPI's core: path, query and body parameters, typed, with defaults and constraints.
//!
//! **Roadmap:** "Core: Path parameters, Query parameters, Request bodies (Pydantic models)."
//!
//! **Python:** `async def add_book(author_id: int, dry_run: bool = False, book: BookIn)`: FastAPI reads each parameter's type, default and constraints,
//! validates them, answers 422 listing every violation, and documents all of it in OpenAPI.
//!
//! **Rust:** the extractors do the reading and checking ([`common::extract`]): `Path<AuthorId>`,
//! `Query<AddBookQuery>` (with `#[serde(default)]` for defaults) and `ValidJson<NewAuthorBook>`
//! (serde for the shape, `validator` for the constraints). `#[utoipa::path]` documents the same
//! parameters for `/openapi.json`, and `IntoParams`/`ToSchema` derive their schemas from the very
//! structs the handler uses, so the documentation cannot drift from the code.
//!
//! `POST /api/authors/{author_id}/books?dry_run=true` checks a new book (its fields, and that the
//! author exists) without saving it; without `dry_run` it creates it (201 with `Location`).
//!
//! **Why:** one declaration gives parsing, validation and documentation, as in FastAPI, and the
//! compiler adds that the handler really uses what was declared.

use actix_web::http::header;
use actix_web::post;
use actix_web::{HttpResponse, web};
use common::ApiError;
use common::db::blocking;
use common::extract::{Path, Query, ValidJson};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::repository::DbBooks;
use crate::serializers::{BookRead, BookWrite};
use crate::viewsets::Crud;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AuthorId {
    /// The author the book is by.
    pub author_id: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddBookQuery {
    /// Check the book and answer with what would be saved, without saving it.
    #[serde(default)]
    pub dry_run: bool,
}

/// A book for a given author: the author comes from the path.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorBook {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    pub title: String,
    #[validate(range(min = 1450, max = 2100))]
    pub year: i32,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    pub tags: Vec<String>,
}

/// Adds a book to an author.
#[utoipa::path(
    tag = "fastapi",
    params(AuthorId, AddBookQuery),
    request_body = NewAuthorBook,
    responses(
        (status = 201, description = "Created", body = BookRead),
        (status = 200, description = "Dry run: valid, not saved", body = NewAuthorBookEcho),
        (status = 400, description = "A parameter of the wrong type", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule broken, or no such author", body = common::Problem, content_type = "application/problem+json")
    )
)]
#[post("/authors/{author_id}/books")]
pub(crate) async fn add_book(
    books: web::Data<DbBooks>,
    Path(AuthorId { author_id }): Path<AuthorId>,
    Query(AddBookQuery { dry_run }): Query<AddBookQuery>,
    ValidJson(book): ValidJson<NewAuthorBook>,
) -> Result<HttpResponse, ApiError> {
    let books = books.into_inner();
    if dry_run {
        // The same checks as a real run, short of saving.
        let repo = books.clone();
        blocking(move || repo.check_author(author_id)).await?;
        return Ok(HttpResponse::Ok().json(NewAuthorBookEcho {
            author_id,
            title: book.title,
            year: book.year,
            tags: book.tags,
            saved: false,
        }));
    }
    let write = BookWrite {
        title: book.title,
        year: book.year,
        author_id,
        tags: book.tags,
    };
    let created: BookRead = blocking(move || books.create(write)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/books/{}", created.id)))
        .json(created))
}

/// What a dry run would have saved.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct NewAuthorBookEcho {
    pub author_id: i32,
    pub title: String,
    pub year: i32,
    pub tags: Vec<String>,
    pub saved: bool,
}
