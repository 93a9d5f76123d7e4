//! API keys: a credential for a program, made by a user and acting as them.
//!
//! **Roadmap:** links "belong to a user or an API key": a script that shortens links on a
//! schedule should not hold a person's password, nor a token that lasts fifteen minutes.
//!
//! **Python:** FastAPI's `APIKeyHeader` dependency, a key from `secrets.token_urlsafe(32)`, and
//! a table with a hash of it.
//!
//! **Rust:** `POST /api-keys`, with a user's token, answers the key once:
//! `shk_{id}_{secret}`, a public id of 12 base62 characters and a secret of 43 (256 random
//! bits). Only the secret's SHA-256 is stored. A request that sends the key as
//! `Authorization: Bearer shk_...` is checked by [`authenticate`], middleware in front of phase
//! 4's rate limiter, which tells the limiter and every `Caller` extractor after it who the caller
//! is (`Caller::vouch`): the key's user. A key makes, edits and deletes its user's links, and a
//! link it makes says so (`api_key`). A key cannot make or revoke keys, so that a leaked key
//! cannot give itself a successor. `DELETE /api-keys/{id}` revokes a key at once on every
//! instance: each request reads the key's row (one lookup by a unique column), and no cache has
//! to be told.
//!
//! **Why:** SHA-256 and not argon2. A slow hash protects a password a person chose from being
//! guessed; 256 random bits cannot be guessed, and a slow hash on every request would make each
//! call cost what a login costs. The hashes are compared as they are: a timing difference says
//! how much of a hash matched, which tells nothing about a secret. The `shk_` prefix lets a
//! secret scanner recognise a leaked key, and the public id finds the row.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, delete, web};
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::blocking;
use common::extract::{Path, ValidJson, bearer_token};
use diesel::prelude::*;
use phase4_security::auth::{Caller, Scopes, TokenError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use validator::Validate;

use crate::Shortener;
use crate::codes::random_code;
use crate::schema::api_keys;

/// What every key starts with.
pub const PREFIX: &str = "shk_";
/// How long a key's public id is.
pub const ID_LENGTH: usize = 12;
/// How long its secret is: 62⁴³ > 2²⁵⁶.
pub const SECRET_LENGTH: usize = 43;
/// The most keys a user may hold.
pub const MAX_KEYS: i64 = 20;

/// The key a request was authenticated with, in its extensions.
#[derive(Debug, Clone)]
struct ViaKey(String);

/// The public id of the API key the request came with, if it came with one.
pub fn via_key(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<ViaKey>().map(|key| key.0.clone())
}

/// `shk_{id}_{secret}` split, when it has that shape.
fn parse(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    let base62 = |text: &str, length| {
        text.len() == length && text.bytes().all(|byte| byte.is_ascii_alphanumeric())
    };
    (base62(id, ID_LENGTH) && base62(secret, SECRET_LENGTH)).then_some((id, secret))
}

fn digest(secret: &str) -> String {
    crate::hex(&Sha256::digest(secret.as_bytes()))
}

/// Middleware: a request whose bearer credential is an API key is authenticated here, as the
/// key's user; any other request passes untouched, to phase 4's token check.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let presented = bearer_token(req.request())
        .filter(|credential| credential.starts_with(PREFIX))
        .map(str::to_owned);
    let (Some(key), Some(shortener)) = (presented, req.app_data::<web::Data<Shortener>>()) else {
        return next.call(req).await;
    };
    let shortener = shortener.clone();
    let found = blocking(move || {
        let Some((id, secret)) = parse(&key) else {
            return Ok(None);
        };
        let mut conn = shortener.database.conn()?;
        let row: Option<(i32, String)> = api_keys::table
            .filter(api_keys::public_id.eq(id))
            .select((api_keys::owner_id, api_keys::secret_hash))
            .first(&mut *conn)
            .optional()?;
        let Some((owner, _)) = row.filter(|(_, hash)| *hash == digest(secret)) else {
            return Ok(None);
        };
        let user = phase4_security::users::find(&mut conn, owner)?;
        Ok::<_, ApiError>(user.map(|user| (id.to_owned(), user)))
    })
    .await?;
    match found {
        Some((id, user)) => {
            Caller::vouch(
                &req,
                Ok(Caller {
                    user_id: user.id,
                    role: user.role(),
                    username: user.username,
                    scopes: Scopes::default(),
                }),
            );
            req.extensions_mut().insert(ViaKey(id));
        }
        None => Caller::vouch(&req, Err(TokenError::Revoked)),
    }
    next.call(req).await
}

/// 403 for a request made with a key: keys are managed with a user's token.
fn by_a_person(req: &HttpRequest) -> Result<(), ApiError> {
    match via_key(req) {
        None => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            "an API key cannot make, list or revoke API keys: use a user's access token",
        )),
    }
}

/// `POST /api-keys`'s body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, to recognise it in the list.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "nightly newsletter", min_length = 1, max_length = 100)]
    pub name: String,
}

/// A key, as its owner sees it in the list: never the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    #[schema(example = "4fQ1xZ0bLmNa")]
    pub id: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// A key just made: the only time its secret is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[schema(example = "4fQ1xZ0bLmNa")]
    pub id: String,
    pub name: String,
    /// Send it as `Authorization: Bearer shk_...`; it is not shown again.
    #[schema(example = "shk_4fQ1xZ0bLmNa_0123456789abcdefghijABCDEFGHIJklmnopqrstuvwxyzA")]
    pub key: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "api-keys",
    request_body = NewApiKey,
    responses(
        (status = 201, description = "Created: `key` is shown this once", body = CreatedApiKey,
            headers(("Location" = String, description = "`/api-keys/{id}`"))),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Sent with an API key, or the user holds 20 keys already", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_key(
    req: HttpRequest,
    caller: Caller,
    shortener: web::Data<Shortener>,
    ValidJson(new): ValidJson<NewApiKey>,
) -> Result<HttpResponse, ApiError> {
    by_a_person(&req)?;
    let (id, secret) = (random_code(ID_LENGTH), random_code(SECRET_LENGTH));
    let now = Utc::now().timestamp();
    let created = CreatedApiKey {
        key: format!("{PREFIX}{id}_{secret}"),
        id,
        name: new.name,
        created_at: at(now),
    };
    let (row_id, name) = (created.id.clone(), created.name.clone());
    blocking(move || {
        let mut conn = shortener.database.conn()?;
        let held: i64 = api_keys::table
            .filter(api_keys::owner_id.eq(caller.user_id))
            .count()
            .get_result(&mut *conn)?;
        if held >= MAX_KEYS {
            return Err(ApiError::forbidden(format!(
                "a user may hold {MAX_KEYS} API keys; revoke one first"
            )));
        }
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::public_id.eq(row_id),
                api_keys::owner_id.eq(caller.user_id),
                api_keys::name.eq(name),
                api_keys::secret_hash.eq(digest(&secret)),
                api_keys::created_at.eq(now),
            ))
            .execute(&mut *conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api-keys/{}", created.id)))
        .json(created))
}

#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "api-keys",
    responses(
        (status = 200, description = "Your keys, oldest first, without their secrets", body = [ApiKey]),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Sent with an API key", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list_keys(
    req: HttpRequest,
    caller: Caller,
    shortener: web::Data<Shortener>,
) -> Result<HttpResponse, ApiError> {
    by_a_person(&req)?;
    let rows: Vec<(String, String, i64)> = blocking(move || {
        api_keys::table
            .filter(api_keys::owner_id.eq(caller.user_id))
            .order(api_keys::id)
            .select((api_keys::public_id, api_keys::name, api_keys::created_at))
            .load(&mut *shortener.database.conn()?)
            .map_err(ApiError::from)
    })
    .await?;
    let keys: Vec<ApiKey> = rows
        .into_iter()
        .map(|(id, name, created_at)| ApiKey {
            id,
            name,
            created_at: at(created_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}

#[utoipa::path(
    tag = "api-keys",
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 204, description = "Revoked: the key is refused from now on, by every instance; its links stay"),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Sent with an API key", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You hold no key with this id", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[delete("/api-keys/{id}")]
pub(crate) async fn revoke_key(
    req: HttpRequest,
    caller: Caller,
    shortener: web::Data<Shortener>,
    Path(id): Path<String>,
) -> Result<HttpResponse, ApiError> {
    by_a_person(&req)?;
    let deleted = blocking(move || {
        diesel::delete(
            api_keys::table
                .filter(api_keys::public_id.eq(&id))
                .filter(api_keys::owner_id.eq(caller.user_id)),
        )
        .execute(&mut *shortener.database.conn()?)
        .map_err(ApiError::from)
    })
    .await?;
    if deleted == 0 {
        return Err(ApiError::not_found("you hold no API key with this id"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_of_the_right_shape_are_looked_up() {
        let id = random_code(ID_LENGTH);
        let secret = random_code(SECRET_LENGTH);
        let key = format!("{PREFIX}{id}_{secret}");
        assert_eq!(parse(&key), Some((id.as_str(), secret.as_str())));
        for bad in [
            "shk_",
            "shk_abc_def",
            &format!("shk_{id}{secret}"),
            &format!("shk_{id}_{secret}x"),
            &format!("shk_{id}_{}", "é".repeat(SECRET_LENGTH)),
            &format!("sk_{id}_{secret}"),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
