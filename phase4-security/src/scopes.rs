//! 4.5 Scopes: each token carries what it may do, and each route names the scope it needs.
//!
//! **Roadmap:** "Scopes: Fine-grained permissions (e.g., `read:items`, `write:items`)."
//!
//! **Python:** FastAPI's `Security(get_current_user, scopes=["items:write"])` with `SecurityScopes`,
//! the scopes declared on `OAuth2PasswordBearer(scopes={...})` so Swagger UI offers them.
//!
//! **Rust:** `auth::Scope` is an enum, so a route cannot ask for a scope that does not exist; a
//! token's `scope` claim parses into `auth::Scopes`, and a handler calls
//! `caller.require_scope(Scope::BooksWrite)?` (403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope"` otherwise). A role caps what a token may
//! get (`Scopes::allowed_for`): only admins get `books:write`; anyone may ask for less
//! (`scope=books:read` at login gives a read-only token). [`SecuritySchemes`] declares an OAuth 2.0
//! password flow with these scopes in the OpenAPI document, and each route its requirement, so
//! Swagger UI's "Authorize" button logs in and picks scopes (`/docs/`).
//!
//! Routes: `POST /v2/books` (here) needs `books:write`; reading books (4.6) needs `books:read`;
//! orders (4.7) need `orders:read` and `orders:write`.
//!
//! **Why:** roles say who someone is; scopes say what one token may do. A token handed to a
//! reporting script gets `books:read` and nothing else, whoever issued it.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use common::ApiError;
use common::db::schema::{authors, books};
use common::db::{Database, blocking, write_transaction};
use common::extract::ValidJson;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::Modify;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes as OpenApiScopes, SecurityScheme};
use validator::Validate;

use crate::auth::{Caller, Scope};
use crate::books::{self as catalogue, Book};

/// A title: 1 to 200 characters, none of them a control character (line breaks and tabs
/// allowed). The schema's pattern; `common::rules::printable` is the validator's (a test checks
/// that they agree).
pub const TITLE_PATTERN: &str = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$";

/// `POST /v2/books`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    #[validate(length(min = 1, max = 200), custom(function = common::rules::printable))]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub title: String,
    #[validate(range(min = -3000, max = 2100))]
    #[schema(minimum = -3000, maximum = 2100)]
    pub year: i32,
    /// An author of the catalogue: 404 if there is none with this id.
    pub author_id: i32,
}

/// `POST /v2/books`: add a book to the catalogue (`books:write`).
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:write"]), ("bearer" = [])),
    request_body = NewBook,
    responses(
        (status = 201, description = "The new book, in the v2 shape", body = Book,
            headers(("Location" = String, description = "`/v2/books/{id}`"))),
        (status = 403, description = "The token lacks `books:write`"),
        (status = 404, description = "No author has this `author_id`"),
        (status = 422, description = "The title or the year breaks its rule"),
    )
)]
#[post("/v2/books")]
pub(crate) async fn create_book(
    caller: Caller,
    database: web::Data<Database>,
    ValidJson(book): ValidJson<NewBook>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksWrite)?;
    let created = blocking(move || -> Result<Option<Book>, ApiError> {
        let mut conn = database.conn()?;
        write_transaction(&mut conn, |conn| {
            let author_exists = authors::table
                .find(book.author_id)
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !author_exists {
                return Ok(None);
            }
            let values = (
                books::title.eq(&book.title),
                books::year.eq(book.year),
                books::author_id.eq(book.author_id),
            );
            let id: i32 = common::with_backend!(&mut *conn, |c| {
                diesel::insert_into(books::table)
                    .values(values)
                    .returning(books::id)
                    .get_result(c)
            })?;
            catalogue::one(conn, id)
        })
        .map_err(ApiError::internal)
    })
    .await?;
    // A body that names an author who does not exist is about a resource that is not there (as
    // JSON:API answers it), not a malformed body: 404.
    let book = created.ok_or_else(|| ApiError::not_found("no author has this `author_id`"))?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/books/{}", book.id)))
        .json(book))
}

/// The OpenAPI document's security schemes: `oauth2`, the password flow against
/// `POST /auth/token` with every scope, so Swagger UI's "Authorize" asks for a username, a
/// password and the scopes to grant; and `bearer`, to paste a token.
#[derive(Debug)]
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = OpenApiScopes::from_iter(
            Scope::ALL
                .iter()
                .map(|scope| (scope.as_str(), scope.description())),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/token",
                scopes,
            ))])),
        );
        components.add_security_scheme("bearer", common::openapi::bearer_scheme());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_rule_and_its_schema_agree_on_the_edges() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(NewBook::schema()).unwrap();
        let title = &schema["properties"]["title"];
        assert_eq!(title["pattern"], TITLE_PATTERN);
        let pattern = regex::Regex::new(TITLE_PATTERN).unwrap();
        let (min, max) = (
            title["minLength"].as_u64().unwrap(),
            title["maxLength"].as_u64().unwrap(),
        );
        let long = "é".repeat(200);
        let too_long = "é".repeat(201);
        for text in [
            "",
            "M",
            "Mort\nand more",
            "tab\there",
            "nul\0byte",
            "\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}",
            "\u{a0}nbsp",
            &long,
            &too_long,
        ] {
            let chars = text.chars().count() as u64;
            let by_schema = pattern.is_match(text) && (min..=max).contains(&chars);
            let book = NewBook {
                title: text.to_owned(),
                year: 2000,
                author_id: 1,
            };
            assert_eq!(by_schema, book.validate().is_ok(), "{text:?}");
        }
        let year = &schema["properties"]["year"];
        for value in [-3001, -3000, 2100, 2101] {
            let by_schema = (year["minimum"].as_i64().unwrap()..=year["maximum"].as_i64().unwrap())
                .contains(&i64::from(value));
            let book = NewBook {
                title: "T".to_owned(),
                year: value,
                author_id: 1,
            };
            assert_eq!(by_schema, book.validate().is_ok(), "{value}");
        }
    }
}
