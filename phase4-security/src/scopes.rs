//! 4.5 Scopes: each token carries what it may do, and each route names the scope it needs.
//!
//! **Roadmap:** "Scopes: Fine-grained permissions (e.g., `read:items`, `write:items`)."
//!
//! **Python:** FastAPI's `Security(get_current_user, scopes=["items:write"])` with `SecurityScopes`,
//! the scopes declared on `OAuth2PasswordBearer(scopes={...})` so Swagger UI offers them.
//!
//! **Rust:** [`Scope`] is an enum, so a route cannot ask for a scope that does not exist; a token's
//! `scope` claim parses into [`Scopes`], and a handler calls `caller.require_scope(Scope::BooksWrite)?`
//! (403 with `WWW-Authenticate: Bearer error="insufficient_scope"` otherwise). A role caps what a
//! token may get ([`Scopes::allowed_for`]): only admins get `books:write`; anyone may ask for less
//! (`scope=books:read` at login gives a read-only token). The OpenAPI document declares an OAuth 2.0
//! password flow with these scopes and each route's requirement, so Swagger UI's "Authorize" button
//! logs in and picks scopes (`/docs/`).
//!
//! Routes: reading books (4.6) needs `books:read`; `POST /v2/books` needs `books:write`; orders (4.7)
//! need `orders:read` and `orders:write`.
//!
//! **Why:** roles say who someone is; scopes say what one token may do. A token handed to a
//! reporting script gets `books:read` and nothing else, whoever issued it.

use std::collections::BTreeSet;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use common::ApiError;
use common::db::schema::{authors, books};
use common::db::{Database, blocking, write_transaction};
use common::extract::ValidJson;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::rbac::Role;
use crate::tokens::{Caller, oauth_error};
use crate::versioning::{BookV2, load_v2};

/// Every scope this server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    BooksRead,
    BooksWrite,
    OrdersRead,
    OrdersWrite,
    /// OpenID Connect: the client wants an ID token (4.3).
    OpenId,
    /// OpenID Connect: the user's name in the ID token and at userinfo.
    Profile,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::BooksRead,
        Scope::BooksWrite,
        Scope::OrdersRead,
        Scope::OrdersWrite,
        Scope::OpenId,
        Scope::Profile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::BooksRead => "books:read",
            Scope::BooksWrite => "books:write",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
        }
    }

    /// What Swagger UI shows next to the scope.
    pub fn description(self) -> &'static str {
        match self {
            Scope::BooksRead => "read the catalogue",
            Scope::BooksWrite => "add books (admins)",
            Scope::OrdersRead => "read your orders",
            Scope::OrdersWrite => "place, pay and cancel orders",
            Scope::OpenId => "sign in with OpenID Connect",
            Scope::Profile => "your username in the ID token",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// Whether `role` may hold this scope.
    pub fn allowed_for(self, role: Role) -> bool {
        self != Scope::BooksWrite || role == Role::Admin
    }

    /// Scopes of the API itself, given when a login asks for none.
    fn is_api(self) -> bool {
        !matches!(self, Scope::OpenId | Scope::Profile)
    }
}

/// A set of scopes; shown space-separated, as OAuth writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses `books:read orders:read`; the unknown scope is the error.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split_whitespace()
            .map(|name| Scope::parse(name).ok_or_else(|| name.to_owned()))
            .collect::<Result<_, _>>()
            .map(Scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Only the scopes `role` may hold.
    pub fn allowed_for(self, role: Role) -> Self {
        Scopes(self.0.into_iter().filter(|s| s.allowed_for(role)).collect())
    }

    /// The scopes a login asked for (every API scope the role allows when it asked for none); asking
    /// for an unknown scope, or one the role may not hold, is OAuth's `invalid_scope`.
    pub fn requested(text: Option<&str>, role: Role) -> Result<Self, ApiError> {
        let invalid =
            |detail: String| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", detail);
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            return Ok(Scopes(
                Scope::ALL
                    .into_iter()
                    .filter(|s| s.is_api() && s.allowed_for(role))
                    .collect(),
            ));
        };
        let scopes =
            Self::parse(text).map_err(|name| invalid(format!("no scope called `{name}`")))?;
        if let Some(denied) = scopes.0.iter().find(|s| !s.allowed_for(role)) {
            return Err(invalid(format!(
                "the `{}` scope is not available to the {} role",
                denied.as_str(),
                role.as_str()
            )));
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

/// `POST /v2/books`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBook {
    #[validate(length(min = 1, max = 200), custom(function = common::rules::printable))]
    pub title: String,
    #[validate(range(min = -3000, max = 2100))]
    pub year: i32,
    pub author_id: i32,
}

/// `POST /v2/books`: add a book to the catalogue (`books:write`).
#[utoipa::path(
    tag = "books",
    security(("oauth2" = ["books:write"]), ("bearer" = [])),
    request_body = NewBook,
    responses(
        (status = 201, body = BookV2),
        (status = 401, description = "no valid token", body = common::Problem),
        (status = 403, description = "the token lacks `books:write`", body = common::Problem),
        (status = 422, description = "invalid book, or no such author", body = common::Problem),
    )
)]
#[post("/v2/books")]
pub(crate) async fn create_book(
    caller: Caller,
    database: web::Data<Database>,
    ValidJson(book): ValidJson<NewBook>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BooksWrite)?;
    let created = blocking(move || -> Result<Option<BookV2>, ApiError> {
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
            load_v2(conn, id)
        })
        .map_err(ApiError::internal)
    })
    .await?;
    let book = created.ok_or_else(|| {
        ApiError::unprocessable(vec![common::FieldError::new(
            "author_id",
            "exists",
            "no author has this id",
        )])
    })?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/books/{}", book.id)))
        .json(book))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_caps_the_scopes_a_login_may_ask_for() {
        let all = Scopes::requested(None, Role::User).unwrap();
        assert_eq!(all.to_string(), "books:read orders:read orders:write");
        let admin = Scopes::requested(None, Role::Admin).unwrap();
        assert!(admin.contains(Scope::BooksWrite));
        let read_only = Scopes::requested(Some("books:read"), Role::Admin).unwrap();
        assert_eq!(read_only.to_string(), "books:read");
        assert!(Scopes::requested(Some("books:write"), Role::User).is_err());
        assert!(Scopes::requested(Some("books:delete"), Role::Admin).is_err());
    }
}
