//! 4.1, part three: `POST /auth/token`, the OAuth 2.0 token endpoint for the API's own logins.
//!
//! **Roadmap:** "JWT (JSON Web Tokens): How to implement access/refresh token patterns securely."
//!
//! **Python:** FastAPI's tutorial: `@app.post("/token")` with `OAuth2PasswordRequestForm`, which
//! reads `username`, `password` and `scope` from a form, as OAuth's password grant sends them.
//!
//! **Rust:** one handler, form-encoded as OAuth and Swagger UI's "Authorize" send it:
//! - `grant_type=password&username=..&password=..[&scope=..]`: an access token (15 minutes) and a
//!   refresh token (14 days), the first of a new family;
//! - `grant_type=refresh_token&refresh_token=..`: the next pair of the family (see [`refresh`]).
//!
//! The password is checked through `auth::PasswordCheck` (4.2 implements it). Errors follow OAuth
//! (RFC 6749 §5.2): a problem document with an `error` member (`invalid_grant`, ...), which OAuth
//! clients read; a parameter the endpoint does not know is ignored, as RFC 6749 §3.2 requires.
//!
//! **Why:** one endpoint, one response shape and one error vocabulary for every way of getting a
//! token is what lets any OAuth client library (and Swagger UI) log in without custom code.
//!
//! [`refresh`]: super::refresh

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use common::ApiError;
use common::db::{Database, blocking};
use common::extract::Form;
use serde::Deserialize;
use utoipa::ToSchema;

use super::keys::Tokens;
use super::refresh::{issue, refresh};
use crate::auth::{PasswordCheck, Scopes, TokenResponse};
use crate::oauth::{Ignored, no_store, oauth_error};

/// `POST /auth/token`, form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` or `refresh_token`. (Every field is optional to the parser, so that a missing one
    /// is OAuth's 400 `invalid_request`, not a generic 422.)
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Space-separated; every scope the role allows when absent.
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    /// Anything else (a `client_id` Swagger UI may send): ignored, as OAuth requires.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Ignored,
}

/// A parameter sent without a value counts as not sent (RFC 6749 §3.2).
fn given(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

fn invalid_request(detail: &str) -> ApiError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", detail)
}

/// `POST /auth/token`: log in (`grant_type=password`) or refresh (`grant_type=refresh_token`).
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token and a refresh token; never cached", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "Wrong credentials, a spent refresh token, an unknown grant or scope: the `error` member says which"),
    )
)]
#[post("/auth/token")]
// Public for the projects that serve it too (actix's macro keeps the function inside the
// service it makes, hence the lint).
#[allow(unreachable_pub)]
pub async fn token_endpoint(
    database: web::Data<Database>,
    tokens: web::Data<Tokens>,
    passwords: web::Data<dyn PasswordCheck>,
    Form(request): Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let Some(grant_type) = given(request.grant_type) else {
        return Err(invalid_request(
            "grant_type is required: password or refresh_token",
        ));
    };
    let response = match grant_type.as_str() {
        "password" => {
            let (Some(username), Some(password)) =
                (given(request.username), given(request.password))
            else {
                return Err(invalid_request(
                    "the password grant needs `username` and `password`",
                ));
            };
            let user = passwords
                .authenticate(database.get_ref().clone(), username, password)
                .await?
                .ok_or_else(|| {
                    oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "wrong username or password",
                    )
                })?;
            let scope = Scopes::requested(request.scope.as_deref(), user.role())?;
            blocking(move || issue(&mut *database.conn()?, &tokens, &user, &scope, None)).await?
        }
        "refresh_token" => {
            let refresh_token = given(request.refresh_token)
                .ok_or_else(|| invalid_request("the refresh_token grant needs `refresh_token`"))?;
            blocking(move || refresh(&mut *database.conn()?, &tokens, &refresh_token)).await?
        }
        other => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "`{other}` is not a grant this endpoint knows: use password or refresh_token"
                ),
            ));
        }
    };
    Ok(no_store().json(response))
}
