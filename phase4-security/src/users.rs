//! Accounts: who can log in, with which role, and the queries every chapter runs on them.
//!
//! A username is looked up by its [`key`]: NFKC, then lower case, so `Grace`, `grace` and
//! `ｇｒａｃｅ` (full-width) are one account. The unique index is on that key, not on the name as
//! typed: the database, not a look-up before the insert, keeps two people from holding names that
//! only look different (4.2, `passwords`, says why that matters). Accounts that come from another
//! provider (4.3) are named `provider:subject` and kept exactly as the provider wrote them: a
//! subject is an opaque, case-sensitive identifier, and a local name cannot contain `:`.

use common::db::AnyConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use crate::oauth::now;
use crate::schema::users;

/// What a user may do, broadly. Scopes (4.5) narrow it per token; 4.4 is about the difference.
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
    /// As registered, in NFKC (so full-width letters are shown as ASCII); compared without case.
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

/// Whether `username` is an account of another provider (`provider:subject`).
fn is_external(username: &str) -> bool {
    username.contains(':')
}

/// The name as it is kept and shown: NFKC, which turns full-width and other compatibility forms
/// into the characters they stand for, case kept. External names are kept as they are.
pub fn display_form(username: &str) -> String {
    if is_external(username) {
        return username.to_owned();
    }
    username.nfkc().collect()
}

/// The name as it is compared: NFKC, then lower case. External names are compared exactly.
pub fn key(username: &str) -> String {
    if is_external(username) {
        return username.to_owned();
    }
    display_form(username).to_lowercase()
}

/// The user whose name is `username` in any case or width, if any.
pub fn find_by_name(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username_key.eq(key(username)))
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

/// Every user, oldest first.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)
}

/// Inserts a user; `None` when the name (in any case or width) is taken. The unique index on the
/// key decides, not a look-up before the insert: of two concurrent registrations of one name,
/// exactly one inserts.
pub fn insert(
    conn: &mut AnyConnection,
    username: &str,
    password_hash: Option<&str>,
    role: Role,
) -> QueryResult<Option<User>> {
    let inserted = diesel::insert_into(users::table)
        .values((
            users::username.eq(display_form(username)),
            users::username_key.eq(key(username)),
            users::password_hash.eq(password_hash),
            users::role.eq(role.as_str()),
            users::created_at.eq(now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => find_by_name(conn, username),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_in_case_or_width_have_one_key() {
        for name in ["Grace", "grace", "GRACE", "ｇｒａｃｅ", "Ｇｒａｃｅ"] {
            assert_eq!(key(name), "grace", "{name}");
        }
        assert_eq!(display_form("ｇｒａｃｅ"), "grace");
        assert_eq!(display_form("Grace"), "Grace");
        assert_ne!(key("grace"), key("grace2"));
    }

    #[test]
    fn a_providers_subject_is_compared_exactly() {
        assert_eq!(key("local:AbC"), "local:AbC");
        assert_ne!(key("local:AbC"), key("local:abc"));
    }
}
