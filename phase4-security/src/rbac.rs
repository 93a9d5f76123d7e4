//! 4.4 RBAC: roles decide who may call what; 401 when we do not know who you are, 403 when we do.
//!
//! **Roadmap:** "Role-Based Access Control (RBAC): Restricting endpoints based on user roles (Admin
//! vs User)."
//!
//! **Python:** a FastAPI dependency, `def require_admin(user = Depends(get_current_user))`, that
//! raises `HTTPException(403)`; DRF's `permission_classes = [IsAdminUser]`.
//!
//! **Rust:** the role travels in the access token (signed, so it cannot be edited) and the
//! [`Admin`] extractor admits only admins: a handler that takes `Admin` cannot run for anyone else,
//! and its signature says so. Without a token it is 401 with a `WWW-Authenticate` challenge (log
//! in); with a user's token it is 403 (logging in again will not help).
//!
//! Routes: `GET /admin/users` lists the users; `POST /admin/keys/rotate` rotates the signing key
//! (4.1). Orders (4.7) are shipped by admins only.
//!
//! **Why:** an extractor is checked before the handler body runs, for every route that names it;
//! a check written inside each handler is one forgotten line away from an open endpoint.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use common::ApiError;
use common::db::{Database, blocking};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::passwords::{User, UserView};
use crate::schema::users;
use crate::tokens::{Caller, Tokens};

/// What a user may do, broadly. Scopes (4.5) narrow it per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A caller with the admin role; anyone else is refused before the handler runs.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            match caller.role {
                Role::Admin => Ok(Admin(caller)),
                Role::User => Err(ApiError::forbidden("this needs the admin role")),
            }
        })
    }
}

/// `GET /admin/users`: every user (admins only).
#[utoipa::path(
    tag = "admin",
    security(("oauth2" = []), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<UserView>),
        (status = 401, description = "no valid token", body = common::Problem),
        (status = 403, description = "not an admin", body = common::Problem),
    )
)]
#[get("/admin/users")]
pub(crate) async fn list_users(
    _admin: Admin,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let users: Vec<User> = blocking(move || {
        users::table
            .order(users::id)
            .select(User::as_select())
            .load(&mut *database.conn()?)
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::Ok().json(users.iter().map(UserView::from).collect::<Vec<_>>()))
}

/// What `POST /admin/keys/rotate` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotation {
    /// The new signing key.
    pub signing: String,
    /// Every key that still verifies, the signing one first.
    pub verifying: Vec<String>,
}

/// `POST /admin/keys/rotate`: a new signing key; tokens signed by the previous keys stay valid.
#[utoipa::path(
    tag = "admin",
    security(("oauth2" = []), ("bearer" = [])),
    responses(
        (status = 200, body = Rotation),
        (status = 401, description = "no valid token", body = common::Problem),
        (status = 403, description = "not an admin", body = common::Problem),
    )
)]
#[post("/admin/keys/rotate")]
pub(crate) async fn rotate_keys(
    Admin(admin): Admin,
    tokens: web::Data<Tokens>,
) -> Result<HttpResponse, ApiError> {
    let signing = tokens.keys.rotate()?;
    tracing::info!(by = %admin.username, kid = %signing, "signing key rotated");
    Ok(HttpResponse::Ok().json(Rotation {
        signing,
        verifying: tokens.keys.kids(),
    }))
}
