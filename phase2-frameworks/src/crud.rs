//! What the viewsets (topic 2.6) and the storage behind them (`repository`) share: the [`Crud`]
//! trait a model implements, the [`RepoError`] storage answers with, and the [`Pagination`] and
//! [`Ordering`] a list is asked for.
//!
//! It imports no topic module: the viewsets know models only through this trait, the repositories
//! implement it without knowing the viewsets, and a test implements it again with a fake.

use common::{ApiError, FieldError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// What a model provides to get a viewset: six storage methods and its read, write, patch and
/// filter shapes.
pub trait Crud: Send + Sync + 'static {
    /// The read shape (what every action answers with).
    type Read: Serialize + ToSchema + Send + 'static;
    /// The write shape of create and full update.
    type Write: DeserializeOwned + Validate + ToSchema + Send + 'static;
    /// The shape of a partial update.
    type Patch: DeserializeOwned + Validate + ToSchema + Send + 'static;
    /// The filters the list takes from the query string.
    type Filter: DeserializeOwned + IntoParams + Validate + Send + 'static;

    /// The fields `?ordering=` may name (`-field` sorts descending).
    fn ordering_fields(&self) -> &'static [&'static str];
    /// One page of the filtered, ordered list, and how many there are in all.
    fn list(
        &self,
        filter: &Self::Filter,
        ordering: Option<&Ordering>,
        page: Pagination,
    ) -> Result<(Vec<Self::Read>, i64), RepoError>;
    fn retrieve(&self, id: i32) -> Result<Self::Read, RepoError>;
    fn create(&self, input: Self::Write) -> Result<Self::Read, RepoError>;
    fn update(&self, id: i32, input: Self::Write) -> Result<Self::Read, RepoError>;
    fn partial_update(&self, id: i32, input: Self::Patch) -> Result<Self::Read, RepoError>;
    fn destroy(&self, id: i32) -> Result<(), RepoError>;
}

/// Which page of a list: `page` from 1, `page_size` items on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub page: u32,
    pub page_size: u32,
}

impl Pagination {
    /// How many rows come before this page.
    pub fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.page_size)
    }
}

/// A field to order by, one of [`Crud::ordering_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordering {
    pub field: &'static str,
    pub descending: bool,
}

impl Ordering {
    /// Parses `name` or `-name`; a field not in `allowed` is a 422 naming `ordering`.
    pub fn parse(value: &str, allowed: &'static [&'static str]) -> Result<Self, ApiError> {
        let (descending, name) = match value.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, value),
        };
        let field = allowed
            .iter()
            .find(|field| **field == name)
            .ok_or_else(|| {
                ApiError::unprocessable(vec![FieldError::new(
                    "ordering",
                    "choice",
                    format!(
                        "order by one of {} (prefix - to reverse)",
                        allowed.join(", ")
                    ),
                )])
            })?;
        Ok(Self { field, descending })
    }

    /// Every value `?ordering=` takes for `fields`: each field, and each with `-`. The OpenAPI
    /// document lists them as the parameter's `enum`, from the same list [`Ordering::parse`] checks.
    pub fn choices(fields: &[&str]) -> Vec<String> {
        fields
            .iter()
            .flat_map(|field| [(*field).to_owned(), format!("-{field}")])
            .collect()
    }
}

/// Why storage refused.
#[derive(Debug)]
pub enum RepoError {
    /// The id in the path names nothing: 404.
    NotFound(String),
    /// The input names something that does not exist (a book's author), or clashes with what
    /// does: 409, with the field when there is one. It depends on what is stored now, which no
    /// schema can say, so it is a conflict with the current state, not a malformed request.
    Conflict(String, Option<FieldError>),
    Internal(anyhow::Error),
}

impl From<DieselError> for RepoError {
    fn from(err: DieselError) -> Self {
        match err {
            // The database's own message names constraints and columns: log it, do not show it.
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::info!(message = info.message(), "unique violation");
                RepoError::Conflict("that would duplicate an existing record".to_owned(), None)
            }
            other => RepoError::Internal(other.into()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for RepoError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        RepoError::Internal(err.into())
    }
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::NotFound(what) => ApiError::not_found(what),
            RepoError::Conflict(what, field) => {
                ApiError::conflict(what).with_errors(field.into_iter().collect())
            }
            RepoError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_takes_a_field_or_its_reverse_and_nothing_else() {
        let fields = &["id", "year"];
        assert_eq!(
            Ordering::parse("-year", fields).unwrap(),
            Ordering {
                field: "year",
                descending: true
            }
        );
        assert_eq!(Ordering::parse("secret", fields).unwrap_err().status(), 422);
        // The documented choices are exactly what parses.
        for choice in Ordering::choices(fields) {
            assert!(Ordering::parse(&choice, fields).is_ok(), "{choice}");
        }
        assert_eq!(Ordering::choices(fields), ["id", "-id", "year", "-year"]);
    }

    #[test]
    fn the_first_page_starts_at_the_first_row() {
        let page = Pagination {
            page: 3,
            page_size: 10,
        };
        assert_eq!(page.offset(), 20);
        assert_eq!(
            Pagination {
                page: 1,
                page_size: 10
            }
            .offset(),
            0
        );
    }
}
