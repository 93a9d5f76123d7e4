//! Who is calling, and what they may do: the words every chapter that checks a caller uses.
//!
//! - [`Caller`]: the extractor a handler names to need a valid access token; its role and its
//!   [`Scopes`], with [`Caller::require_scope`] for a route's requirement.
//! - [`Scope`] and [`Scopes`]: what a token may do, and which role may hold which scope.
//! - [`TokenService`] and [`PasswordCheck`]: what the chapters need of 4.1's tokens and 4.2's
//!   passwords, so that they can use both without reading how either is made.

mod caller;
mod credentials;
mod scope;

pub use caller::Caller;
pub use credentials::{
    API_AUDIENCE, AccessClaims, CHALLENGE, PasswordCheck, TokenError, TokenResponse, TokenService,
};
pub use scope::{Scope, Scopes};
