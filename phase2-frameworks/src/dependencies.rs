//! 2.2 Dependency injection: what a handler needs, declared in its signature and supplied per request.
//!
//! **Roadmap:** "Dependency Injection: This is FastAPI's superpower. Learn to inject easy-to-test
//! components."
//!
//! **Python:** `def list_books(user: User = Depends(current_user), page: Page = Depends(paginate),
//! repo: Repo = Depends(get_repo))`; tests swap a dependency with
//! `app.dependency_overrides[get_repo] = fake_repo`.
//!
//! **Rust:** every handler argument is an extractor, a type implementing `FromRequest`, so a
//! dependency is a type:
//! - [`CurrentUser`] reads `Authorization: Bearer ...` and looks the token up in the app's
//!   [`Users`]; a handler that takes it cannot run without a user (401 with `WWW-Authenticate`);
//! - [`Pagination`] reads `?page=&page_size=` with defaults and bounds (422 when out of range);
//! - the author repository is `Arc<dyn Crud<...>>` in the app's `Settings` (see
//!   [`crate::viewsets`]): the author routes run on whatever implementation they are given, and
//!   `tests/dependencies.rs` gives them an in-memory fake without changing a handler. (Books stay on
//!   diesel: one swappable repository is enough to show the idea.)
//!
//! **Why:** the compiler checks that every dependency can be built before the app starts, a handler's
//! signature lists all it depends on, and overriding one in a test is passing a different value.

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use common::ApiError;
use common::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Admin,
}

/// Who each bearer token belongs to. Phase 4 replaces these fixed tokens with signed JWTs.
#[derive(Debug, Clone)]
pub struct Users(HashMap<String, User>);

impl Users {
    pub fn new(tokens: impl IntoIterator<Item = (&'static str, &'static str, Role)>) -> Self {
        Self(
            tokens
                .into_iter()
                .map(|(token, name, role)| {
                    (
                        token.to_owned(),
                        User {
                            name: name.to_owned(),
                            role,
                        },
                    )
                })
                .collect(),
        )
    }

    /// The demo users: `reader-token` and `admin-token`.
    pub fn demo() -> Self {
        Self::new([
            ("reader-token", "Rita", Role::Reader),
            ("admin-token", "Ada", Role::Admin),
        ])
    }
}

/// The user who sent the request; a 401 when there is none.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

const CHALLENGE: &str = r#"Bearer realm="phase2""#;

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = (|| {
            let users = req.app_data::<web::Data<Users>>().ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("Users is not in the app data"))
            })?;
            let token = common::extract::bearer_token(req).ok_or_else(|| {
                ApiError::unauthorized(CHALLENGE, "send Authorization: Bearer <token>")
            })?;
            users
                .0
                .get(token)
                .cloned()
                .map(CurrentUser)
                .ok_or_else(|| ApiError::unauthorized(CHALLENGE, "unknown token"))
        })();
        ready(user)
    }
}

/// `?page=` (from 1) and `?page_size=` (1 to 100, 10 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Validate)]
pub struct Pagination {
    #[validate(range(min = 1))]
    pub page: u32,
    #[validate(range(min = 1, max = 100))]
    pub page_size: u32,
}

impl Pagination {
    /// How many rows come before this page.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.page_size)
    }
}

fn first_page() -> u32 {
    1
}

fn default_page_size() -> u32 {
    10
}

impl FromRequest for Pagination {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Reuse the typed query extractor (a wrong type is a 400 naming the parameter), then the
        // rules (a value out of range is a 422).
        let page = Query::<PaginationQuery>::from_request(req, payload)
            .into_inner()
            .and_then(|Query(query)| {
                let page = Pagination {
                    page: query.page,
                    page_size: query.page_size,
                };
                page.validate()?;
                Ok(page)
            });
        ready(page)
    }
}

/// The paging parameters alone, so other query parameters are left to other extractors.
#[derive(Debug, Deserialize)]
struct PaginationQuery {
    #[serde(default = "first_page")]
    page: u32,
    #[serde(default = "default_page_size")]
    page_size: u32,
}

/// Who am I? A handler that cannot run without a user: the dependency is in its signature.
#[utoipa::path(tag = "fastapi", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user the token belongs to", body = User),
        (status = 401, description = "No token, or an unknown one", body = common::Problem, content_type = "application/problem+json")
    ))]
#[get("/me")]
pub(crate) async fn me(CurrentUser(user): CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(user)
}
