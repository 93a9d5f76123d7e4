//! 4.4 RBAC: roles decide who may call what; 401 when we do not know who you are, 403 when we do.
//!
//! **Roadmap:** "Role-Based Access Control (RBAC): Restricting endpoints based on user roles (Admin
//! vs User)."
//!
//! **Python:** a FastAPI dependency, `def require_admin(user = Depends(get_current_user))`, that
//! raises `HTTPException(403)`; DRF's `permission_classes = [IsAdminUser]`.
//!
//! **Rust:** the role travels in the access token (signed, so it cannot be edited) and the
//! [`Admin`] extractor, built on `auth::Caller`, admits only admins: a handler that takes `Admin`
//! cannot run for anyone else, and its signature says so. Without a token it is 401 with a
//! `WWW-Authenticate` challenge (log in); with a user's token it is 403 (logging in again will not
//! help).
//!
//! Routes: `GET /admin/users` lists the users; `POST /admin/keys/rotate` rotates the signing key
//! (4.1 says what that does to tokens; at most one rotation every 7.5 minutes, 409 otherwise).
//! Orders (4.7) are shipped by admins only.
//!
//! **Why:** an extractor is checked before the handler body runs, for every route that names it;
//! a check written inside each handler is one forgotten line away from an open endpoint.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use common::ApiError;
use common::db::{Database, blocking};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, TokenService};
use crate::users::{self, Role, User, UserView};

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
        (status = 200, description = "Every user, oldest first", body = Vec<UserView>),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Not an admin"),
    )
)]
#[get("/admin/users")]
pub(crate) async fn list_users(
    _admin: Admin,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let users: Vec<User> =
        blocking(move || users::all(&mut *database.conn()?).map_err(ApiError::internal)).await?;
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
        (status = 200, description = "The new signing key, and every key that still verifies", body = Rotation),
        (status = 401, description = "No valid token"),
        (status = 403, description = "Not an admin"),
        (status = 409, description = "The key was rotated less than 7.5 minutes ago",
            headers(("Retry-After" = u64, description = "Seconds until a rotation is allowed"))),
    )
)]
#[post("/admin/keys/rotate")]
pub(crate) async fn rotate_keys(
    Admin(admin): Admin,
    tokens: web::Data<dyn TokenService>,
) -> Result<HttpResponse, ApiError> {
    let verifying = tokens.rotate_keys()?;
    let signing = verifying.first().cloned().unwrap_or_default();
    tracing::info!(by = %admin.username, kid = %signing, "signing key rotated");
    Ok(HttpResponse::Ok().json(Rotation { signing, verifying }))
}
