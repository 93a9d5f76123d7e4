//! 4.2 Passwords: argon2id hashes, registration, and a login that fails the same way for everyone.
//!
//! **Roadmap:** "Password hashing (Bcrypt, Argon2)."
//!
//! **Python:** `passlib.context.CryptContext(schemes=["argon2"])` or `argon2-cffi`:
//! `ph.hash(password)`, `ph.verify(stored, password)`; FastAPI's tutorial stores the hash on the user
//! and compares in a dependency.
//!
//! **Rust:** the `argon2` crate (RustCrypto). [`hash`] produces a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) that carries its own algorithm, parameters and
//! random salt, so parameters can be raised later without a migration; [`verify`] compares in
//! constant time. Both are slow on purpose (about 20 ms and 19 MiB each), so they run on the
//! blocking thread pool, never on an async worker, and at most [`HASHING_PERMITS`] at a time:
//! without that bound, a burst of logins would allocate 19 MiB per blocking thread, up to 512 of
//! them.
//!
//! A login for a user that does not exist verifies the password against a dummy hash, so that
//! "no such user" and "wrong password" take the same time and give the same answer (OAuth's 400
//! `invalid_grant` at `POST /auth/token`, the form again at `/oauth/authorize`): the response
//! cannot tell an attacker which usernames exist. Hashes are never serialized ([`User`] has no
//! `Serialize`; [`UserView`] is what the API shows) and never logged.
//!
//! `POST /auth/register` `{"username": "...", "password": "..."}` creates a user (role `user`).
//!
//! **Why:** a fast hash (SHA-256) of a leaked table is cracked at billions of guesses a second on a
//! GPU; argon2id is memory-hard, which is what makes GPUs and ASICs slow at it too.

use std::sync::{Arc, LazyLock};

use actix_web::{HttpResponse, post, web};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use common::ApiError;
use common::db::{AnyConnection, Database, blocking};
use common::extract::ValidJson;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use validator::Validate;

use crate::rbac::Role;
use crate::schema::users;

/// How many hashes may be computed at once (each holds 19 MiB while it runs).
pub const HASHING_PERMITS: usize = 4;

static HASHING: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(HASHING_PERMITS)));

/// A hash of a password nobody has, verified when the username is unknown (see the module docs).
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now("a password that is never anybody's").ok());

/// A user row. No `Serialize`: the hash cannot end up in a response by accident.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub created_at: i64,
}

impl User {
    /// The role column, read strictly: an unknown value is a plain user.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }
}

/// What the API shows of a user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: i32,
    pub username: String,
    pub role: Role,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            role: user.role(),
        }
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// 3 to 32 letters, digits, `_` or `-`.
    #[validate(length(min = 3, max = 32), regex(path = *USERNAME))]
    pub username: String,
    /// 12 to 128 characters. The upper bound keeps one request from making the hash expensive.
    #[validate(length(min = 12, max = 128))]
    pub password: String,
}

static USERNAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, used by the tests below
    regex::Regex::new("^[A-Za-z0-9_-]+$").unwrap()
});

fn hash_now(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("hashing failed: {err}"))
}

fn verify_now(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Hashes `password` with argon2id and a fresh random salt, on the blocking pool.
pub async fn hash(password: String) -> Result<String, ApiError> {
    // The permit moves into the blocking work: it is held while the hash runs, even if the request
    // that asked for it is dropped meanwhile.
    let permit = HASHING
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    blocking(move || {
        let hashed = hash_now(&password);
        drop(permit);
        hashed
    })
    .await
}

/// Whether `password` matches `stored` (a PHC string). `None` (an unknown user, or an account with
/// no password) is checked against the dummy hash, and is never a match.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let permit = HASHING
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    blocking(move || -> Result<bool, ApiError> {
        let _permit = permit;
        match stored {
            Some(stored) => Ok(verify_now(&password, &stored)),
            None => {
                if let Some(dummy) = DUMMY_HASH.as_deref() {
                    verify_now(&password, dummy);
                }
                Ok(false)
            }
        }
    })
    .await
}

/// The user called `username`, if any.
pub fn find_by_name(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Inserts a user; `None` when the name is taken. The unique index decides, not a look-up before
/// the insert: of two concurrent registrations of one name, exactly one inserts.
pub fn insert(
    conn: &mut AnyConnection,
    username: &str,
    password_hash: Option<&str>,
    role: Role,
) -> QueryResult<Option<User>> {
    let inserted = diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::password_hash.eq(password_hash),
            users::role.eq(role.as_str()),
            users::created_at.eq(crate::tokens::now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => find_by_name(conn, username),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Checks a username and password: the user when both are right, `None` otherwise, with the same
/// work done either way.
pub async fn authenticate(
    database: &Database,
    username: String,
    password: String,
) -> Result<Option<User>, ApiError> {
    let db = database.clone();
    let user =
        blocking(move || find_by_name(&mut *db.conn()?, &username).map_err(ApiError::internal))
            .await?;
    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    Ok(if verify(password, stored).await? {
        user
    } else {
        None
    })
}

/// `POST /auth/register`: a new user with the role `user`.
#[utoipa::path(
    tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, body = UserView),
        (status = 409, description = "the username is taken", body = common::Problem),
        (status = 422, description = "invalid username or password", body = common::Problem),
    )
)]
#[post("/auth/register")]
pub(crate) async fn register(
    database: web::Data<Database>,
    ValidJson(registration): ValidJson<Registration>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash(registration.password).await?;
    let db = database.clone();
    let username = registration.username;
    let created = blocking(move || {
        insert(&mut *db.conn()?, &username, Some(&hash), Role::User).map_err(ApiError::internal)
    })
    .await?;
    match created {
        Some(user) => Ok(HttpResponse::Created().json(UserView::from(&user))),
        None => Err(ApiError::conflict("that username is taken")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let first = hash_now("correct horse battery").unwrap();
        let second = hash_now("correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$v=19$"), "{first}");
        assert_ne!(first, second, "every hash has its own salt");
        assert!(verify_now("correct horse battery", &first));
        assert!(!verify_now("correct horse battery!", &first));
        assert!(!verify_now("anything", "not a PHC string"));
    }
}
