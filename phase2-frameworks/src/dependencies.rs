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
//!   [`Users`]; a handler that takes it cannot run without a user (401 with `WWW-Authenticate`).
//!   [`Admin`] is built on it, as one `Depends` can use another: every write of the API takes it,
//!   so a reader's token gets a 403;
//! - [`Paginated`] reads `?page=&page_size=` with defaults and bounds (422 when out of range) and
//!   hands the rest of the query string to the handler's own parameters (see [`crate::query`]);
//! - the author repository is `Arc<dyn Crud<...>>` in the app's `AppState` (see [`crate::crud`]):
//!   the author routes run on whatever implementation they are given, and `tests/api/dependencies.rs`
//!   gives them an in-memory fake without changing a handler. (Books stay on diesel: one swappable
//!   repository is enough to show the idea.)
//!
//! The tokens are stand-ins, `reader-token` and `admin-token`; phase 4 replaces them with signed
//! JWTs.
//!
//! **Why:** the compiler checks that every dependency can be built before the app starts, a handler's
//! signature lists all it depends on, and overriding one in a test is passing a different value.

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use common::ApiError;
use common::extract::Query;
use serde::de::{DeserializeOwned, MapAccess};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::crud::Pagination;
use common::query::{QueryPart, Split};

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
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        CHALLENGE,
                        "this token is not known here (the demo tokens are reader-token and admin-token)",
                    )
                })
        })();
        ready(user)
    }
}

/// A caller who may write: an admin. 401 without a usable token, like [`CurrentUser`]; 403 for a
/// known user who is not an admin.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // One dependency built on another, as `Depends(current_user)` inside `Depends(admin)`.
        let admin = CurrentUser::from_request(req, payload)
            .into_inner()
            .and_then(|CurrentUser(user)| match user.role {
                Role::Admin => Ok(Admin(user)),
                Role::Reader => Err(ApiError::forbidden(format!(
                    "{} is a reader; this needs an admin's token",
                    user.name
                ))),
            });
        ready(admin)
    }
}

/// The page a list asks for, and the rest of its query string as `T`: `?page=` (from 1) and
/// `?page_size=` (1 to 100, 10 by default) with their rules, and whatever parameters `T` takes.
/// A wrong type is a 400 naming the parameter; a value out of range a 422.
#[derive(Debug)]
pub struct Paginated<T>(pub Pagination, pub T);

impl<T: DeserializeOwned> FromRequest for Paginated<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let page = Query::<Split<PageParams, T>>::from_request(req, payload)
            .into_inner()
            .and_then(|Query(Split(params, rest))| {
                params.validate()?;
                Ok(Paginated(params.pagination(), rest))
            });
        ready(page)
    }
}

/// The paging parameters. Each rule is written twice, side by side: `#[validate]` enforces it and
/// `#[param]` documents it (see [`crate::fastapi_core`] for why); `tests/api/rules.rs` proves the two
/// agree on the boundary values. They are unsigned, as every count in a query of this course is
/// (`common::extract` gives the policy): `-1` or `abc` is not a page at all (400, as phases 1 and
/// 3 answer `?limit=-1`); `0` is a number that breaks a rule (422). The document calls them
/// `int32`, as it does every integer of this API, so a page past 2147483647 breaks a rule too.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The page, from 1.
    #[validate(range(min = 1, max = 2147483647))]
    #[param(minimum = 1, maximum = 2147483647, default = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100.
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub page_size: Option<u32>,
}

impl PageParams {
    pub const DEFAULT_PAGE_SIZE: u32 = 10;

    /// The page asked for, with the defaults filled in; call it on validated parameters.
    pub fn pagination(self) -> Pagination {
        Pagination {
            page: self.page.unwrap_or(1).max(1),
            page_size: self
                .page_size
                .unwrap_or(Self::DEFAULT_PAGE_SIZE)
                .clamp(1, 100),
        }
    }
}

impl QueryPart for PageParams {
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            // Read as numbers, not `Option`s: `?page=` is not a page (see `common::query::present`).
            "page" => self.page = Some(map.next_value()?),
            "page_size" => self.page_size = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
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
