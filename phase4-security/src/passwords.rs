//! 4.2 Passwords: argon2id hashes, registration, usernames in one form, and a login that fails the
//! same way for everyone.
//!
//! **Roadmap:** "Password hashing (Bcrypt, Argon2)."
//!
//! **Python:** `passlib.context.CryptContext(schemes=["argon2"])` or `argon2-cffi`:
//! `ph.hash(password)`, `ph.verify(stored, password)`; FastAPI's tutorial stores the hash on the user
//! and compares in a dependency. Django compares usernames as typed, and recommends a
//! case-insensitive lookup (`username__iexact`) for login.
//!
//! **Rust:** the `argon2` crate (RustCrypto). [`Passwords::hash`] produces a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) that carries its own algorithm, parameters and
//! random salt, so parameters can be raised later without a migration; [`Passwords::verify`]
//! compares in constant time. Both are slow on purpose (about 20 ms and 19 MiB each), so they run
//! on the blocking thread pool, never on an async worker, and at most [`HASHING_PERMITS`] at a
//! time: without that bound, a burst of logins would allocate 19 MiB per blocking thread, up to
//! 512 of them.
//!
//! A login for a user that does not exist verifies the password against a dummy hash, so that
//! "no such user" and "wrong password" take the same time and give the same answer (OAuth's 400
//! `invalid_grant` at `POST /auth/token`, the form again at `/oauth/authorize`): the response
//! cannot tell an attacker which usernames exist. Hashes are never serialized (`users::User` has
//! no `Serialize`; `UserView` is what the API shows) and never logged. Other chapters check
//! passwords through `auth::PasswordCheck`, which [`Passwords`] implements.
//!
//! `POST /auth/register` `{"username": "...", "password": "..."}` creates a user (role `user`). A
//! username is 3 to 32 letters, digits, `_` or `-`, and is compared in one form (`users::key`:
//! Unicode NFKC, then lower case), with the unique index on that form: `Grace`, `grace` and
//! `ｇｒａｃｅ` (full-width, as some keyboards type it) are one account. The full-width forms of
//! those characters are accepted and stored as the ASCII they stand for; nothing else outside
//! ASCII is, because NFKC does not fold look-alikes across scripts (a Cyrillic `а` stays a
//! different letter from the Latin `a`). This is RFC 8265's `UsernameCaseMapped` profile, for the
//! characters allowed here.
//!
//! **Why:** a fast hash (SHA-256) of a leaked table is cracked at billions of guesses a second on a
//! GPU; argon2id is memory-hard, which is what makes GPUs and ASICs slow at it too. And a name
//! compared as typed lets `Admin` register next to `admin`, or `ａｄｍｉｎ` next to both: accounts
//! that people (and the admins reading a list of users) cannot tell apart are what impersonation is
//! made of.

use std::sync::{Arc, LazyLock};

use actix_web::{HttpResponse, post, web};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use common::ApiError;
use common::db::{Database, blocking};
use common::extract::ValidJson;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::PasswordCheck;
use crate::users::{self, Role, User, UserView};

/// How many hashes may be computed at once (each holds 19 MiB while it runs).
pub const HASHING_PERMITS: usize = 4;

/// A username as typed: 3 to 32 letters, digits, `_` or `-`, ASCII or full-width. The same
/// pattern is the OpenAPI schema's (a test checks that they agree).
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_\\-Ａ-Ｚａ-ｚ０-９＿－]{3,32}$";

static USERNAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, compiled by the tests below
    regex::Regex::new(USERNAME_PATTERN).unwrap()
});

/// A hash of a password nobody has, verified when the username is unknown (see the module docs).
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now("a password that is never anybody's").ok());

/// `POST /auth/register`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// 3 to 32 letters, digits, `_` or `-` (full-width forms count as their ASCII letters);
    /// compared without regard to case or width.
    #[validate(regex(
        path = *USERNAME,
        code = "username",
        message = "must be 3 to 32 letters (a-z, A-Z), digits, `_` or `-`; names that differ only in case or width (Grace, grace, ｇｒａｃｅ) are one name"
    ))]
    #[schema(
        pattern = "^[A-Za-z0-9_\\-Ａ-Ｚａ-ｚ０-９＿－]{3,32}$",
        min_length = 3,
        max_length = 32
    )]
    pub username: String,
    /// 12 to 128 characters. The upper bound keeps one request from making the hash expensive.
    #[validate(length(min = 12, max = 128, message = "must be 12 to 128 characters"))]
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

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

/// Hashes and verifies passwords, at most [`HASHING_PERMITS`] at a time.
#[derive(Debug)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(HASHING_PERMITS)),
        }
    }
}

impl Passwords {
    /// Hashes `password` with argon2id and a fresh random salt, on the blocking pool.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        // The permit moves into the blocking work: it is held while the hash runs, even if the
        // request that asked for it is dropped meanwhile.
        let permit = self
            .permits
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

    /// Whether `password` matches `stored` (a PHC string). `None` (an unknown user, or an account
    /// with no password) is checked against the dummy hash, and is never a match.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let permit = self
            .permits
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
}

/// Checks a username and password: the user when both are right, `None` otherwise, with the same
/// work done either way.
impl PasswordCheck for Passwords {
    fn authenticate(
        &self,
        database: Database,
        username: String,
        password: String,
    ) -> LocalBoxFuture<'_, Result<Option<User>, ApiError>> {
        Box::pin(async move {
            let user = blocking(move || {
                users::find_by_name(&mut *database.conn()?, &username).map_err(ApiError::internal)
            })
            .await?;
            let stored = user.as_ref().and_then(|user| user.password_hash.clone());
            Ok(if self.verify(password, stored).await? {
                user
            } else {
                None
            })
        })
    }
}

/// `POST /auth/register`: a new user with the role `user`.
#[utoipa::path(
    tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, description = "The new user", body = UserView),
        (status = 409, description = "The username is taken, in some case or width"),
        (status = 422, description = "The username or the password breaks its rule: `errors` says which"),
    )
)]
#[post("/auth/register")]
// Public for the projects that serve it too (actix's macro keeps the function inside the
// service it makes, hence the lint).
#[allow(unreachable_pub)]
pub async fn register(
    database: web::Data<Database>,
    passwords: web::Data<Passwords>,
    ValidJson(registration): ValidJson<Registration>,
) -> Result<HttpResponse, ApiError> {
    let hash = passwords.hash(registration.password).await?;
    let username = registration.username;
    let created = blocking(move || {
        users::insert(&mut *database.conn()?, &username, Some(&hash), Role::User)
            .map_err(ApiError::internal)
    })
    .await?;
    match created {
        Some(user) => Ok(HttpResponse::Created().json(UserView::from(&user))),
        None => Err(ApiError::conflict(
            "that username is taken (names that differ only in case or width are one name)",
        )),
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

    fn registration(username: &str, password: &str) -> Registration {
        Registration {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The rules the validator applies and the ones the OpenAPI document states, on the values
    /// at their edges.
    #[test]
    fn the_validator_and_the_schema_agree_on_the_edges() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Registration::schema()).unwrap();
        let username = &schema["properties"]["username"];
        let password = &schema["properties"]["password"];
        assert_eq!(username["pattern"], USERNAME_PATTERN);
        let documented = regex::Regex::new(username["pattern"].as_str().unwrap()).unwrap();
        let (min, max) = (
            username["minLength"].as_u64().unwrap(),
            username["maxLength"].as_u64().unwrap(),
        );
        for name in [
            "abc",
            "ab",
            "Grace",
            "ｇｒａｃｅ",
            "a-b_c",
            &"x".repeat(32),
            &"x".repeat(33),
            &"ｘ".repeat(32),
            &"ｘ".repeat(33),
            "no:colons",
            "José",
            "gr ace",
            "аdmin",
            "",
        ] {
            let chars = name.chars().count() as u64;
            let by_schema = documented.is_match(name) && (min..=max).contains(&chars);
            let by_validator = registration(name, "a long passphrase").validate().is_ok();
            assert_eq!(by_schema, by_validator, "{name:?}");
        }
        let (min, max) = (
            password["minLength"].as_u64().unwrap(),
            password["maxLength"].as_u64().unwrap(),
        );
        for length in [0, 11, 12, 128, 129] {
            for unit in ["a", "é", "ｇ"] {
                let password = unit.repeat(length);
                let by_schema = (min..=max).contains(&(length as u64));
                let by_validator = registration("grace", &password).validate().is_ok();
                assert_eq!(by_schema, by_validator, "{length} × {unit}");
            }
        }
    }

    #[test]
    fn a_bad_username_is_told_the_rule() {
        let errors = registration("no:colons", "a long passphrase")
            .validate()
            .unwrap_err();
        let problem = ApiError::from(errors).problem();
        assert_eq!(problem.errors[0].field, "username");
        let message = &problem.errors[0].message;
        assert!(message.starts_with("must be 3 to 32 letters"), "{message}");
        assert!(message.contains("case or width"), "{message}");
    }
}
