//! 2.1 FastAPI's core: path, query and body parameters, typed, with defaults and constraints.
//!
//! **Roadmap:** "Core: Path parameters, Query parameters, Request bodies (Pydantic models)."
//!
//! **Python:** `async def add_book(author_id: int, dry_run: bool = False, book: BookIn)`: FastAPI
//! reads each parameter's type, default and constraints, validates them, answers 422 listing every
//! violation, and documents all of it in OpenAPI. One annotation does both jobs: in
//! `title: str = Field(min_length=1, max_length=200)` Pydantic's `Field` is the rule that refuses
//! `""` *and* the `minLength: 1` of the generated schema, because Pydantic builds the JSON Schema
//! from the same field definition it validates with.
//!
//! **Rust:** the extractors do the reading and checking ([`common::extract`]): `Path<AuthorId>`,
//! `Query<AddBookQuery>` (with `#[serde(default)]` for defaults) and `ValidJson<NewAuthorBook>`
//! (serde for the shape, `validator` for the constraints). `#[utoipa::path]` documents the same
//! parameters for `/openapi.json`, and `IntoParams`/`ToSchema` derive their schemas from the very
//! structs the handler uses, so a field, its type and whether it is required cannot drift from the
//! code. The constraints are another matter: `validator` and utoipa are two derives, and each reads
//! only its own attribute, so a rule is written twice, side by side on the field:
//!
//! ```text
//! #[validate(length(min = 1, max = 200))]   // refuses "" with a 422
//! #[schema(min_length = 1, max_length = 200)] // says so in the document
//! pub title: String,
//! ```
//!
//! and `tests/api/rules.rs` reads every rule back out of the generated document and checks that the
//! validator accepts exactly the boundary values the schema accepts (a length of 0, 1, 200, 201; a
//! year of 1449, 1450, 2100, 2101; each character the `pattern` excludes). Writing one attribute and
//! forgetting the other fails that test, which is what the single annotation gives FastAPI for free.
//! A rule the schema cannot state (one field against another) is not made at all: a document that
//! calls a request valid must not see it refused.
//!
//! `POST /api/authors/{author_id}/books?dry_run=true` checks a new book (its fields, and that the
//! author exists: 404 otherwise) without saving it; without `dry_run` it creates it (201 with
//! `Location`). It writes, so it needs an admin's token, as every write of this API does.
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

use crate::crud::Crud;
use crate::dependencies::Admin;
use crate::repository::DbBooks;
use crate::serializers::{BookRead, BookWrite};

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
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    #[validate(range(min = 1450, max = 2100))]
    #[schema(minimum = 1450, maximum = 2100)]
    pub year: i32,
    /// Tag names (slugs); a tag that does not exist yet is created.
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    #[schema(
        max_items = 10,
        min_length = 1,
        max_length = 30,
        pattern = "^[a-z0-9-]*$"
    )]
    pub tags: Vec<String>,
}

/// Adds a book to an author.
#[utoipa::path(
    tag = "fastapi",
    params(AuthorId, AddBookQuery),
    request_body = NewAuthorBook,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = BookRead,
         headers(("Location" = String, description = "The URL of the new book"))),
        (status = 200, description = "Dry run: valid, not saved", body = NewAuthorBookEcho),
        (status = 400, description = "A parameter of the wrong type", body = common::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No author has this id", body = common::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The author was deleted meanwhile", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule broken", body = common::Problem, content_type = "application/problem+json")
    )
)]
#[post("/authors/{author_id}/books")]
pub(crate) async fn add_book(
    _admin: Admin,
    books: web::Data<DbBooks>,
    Path(AuthorId { author_id }): Path<AuthorId>,
    Query(AddBookQuery { dry_run }): Query<AddBookQuery>,
    ValidJson(book): ValidJson<NewAuthorBook>,
) -> Result<HttpResponse, ApiError> {
    let books = books.into_inner();
    // The path names the author: one that does not exist is a 404, in a dry run as in a real one.
    let repo = books.clone();
    blocking(move || repo.find_author(author_id)).await?;
    if dry_run {
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
