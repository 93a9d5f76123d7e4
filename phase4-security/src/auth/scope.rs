//! Scopes: what one token may do. Which scopes exist, which role may hold each, and what a login
//! gets when it asks for some or none (4.5 is the chapter about them).

use std::collections::BTreeSet;
use std::fmt;

use actix_web::http::StatusCode;
use common::ApiError;

use crate::oauth::oauth_error;
use crate::users::Role;

/// Every scope this server knows: a route cannot ask for one that does not exist.
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

    /// Whether `role` may hold this scope: only admins may write books.
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
