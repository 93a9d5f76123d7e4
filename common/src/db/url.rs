//! `DATABASE_URL`, read before anything is opened, with answers for a learner's first mistakes.
//!
//! A URL names a SQLite file (a path, or `sqlite://PATH`) or a PostgreSQL server (`postgres://`);
//! anything else (`mysql://x`) is an error naming what works, rather than a SQLite file called
//! `mysql:/x`. [`Database::open`](super::Database::open) creates a SQLite file (and its folder) when
//! it is missing, which is right for serving and for applying migrations; [`connect_existing`]
//! creates nothing, for commands that only look. A PostgreSQL server is tried with one connection
//! before a pool is built, so that its failure is one line ("the server at 127.0.0.1:5999 refused
//! the connection"), not a pool's retries and a timeout.

use std::path::Path;

use anyhow::{anyhow, bail};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

use crate::config::redact_url;

/// The databases every crate can use, as an error message names them.
pub const SUPPORTED: &str = "a SQLite file (`data/app.sqlite3`, or `sqlite://data/app.sqlite3`) \
     or a PostgreSQL URL (`postgres://user@host:5432/database`)";

/// What `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file, given as a path or as `sqlite://PATH`; held as the path.
    Sqlite(String),
    /// A PostgreSQL server: `postgres://` or `postgresql://`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads `url`; a scheme other than SQLite's and PostgreSQL's is an error naming the ones
    /// that work.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.trim().is_empty() {
            bail!("the database URL is empty: give {SUPPORTED}");
        }
        let Some((scheme, rest)) = url
            .split_once("://")
            .filter(|(scheme, _)| is_scheme(scheme))
        else {
            return Ok(DatabaseUrl::Sqlite(url.to_owned()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" if rest.is_empty() => {
                bail!("`{url}` names no file: give {SUPPORTED}")
            }
            "sqlite" => Ok(DatabaseUrl::Sqlite(rest.to_owned())),
            lower @ ("postgres" | "postgresql") => {
                Ok(DatabaseUrl::Postgres(format!("{lower}://{rest}")))
            }
            _ => bail!(
                "`{}` is not a database this can use ({scheme}:// is not supported): give {SUPPORTED}",
                redact_url(url)
            ),
        }
    }

    /// What is opened: the SQLite path, or the PostgreSQL URL.
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(path) => path,
            DatabaseUrl::Postgres(url) => url,
        }
    }

    /// Fit to print: a path, or a URL without its password.
    pub fn display(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => path.clone(),
            DatabaseUrl::Postgres(url) => redact_url(url),
        }
    }
}

/// `mysql` in `mysql://...`, as RFC 3986 spells a scheme (a letter, then letters, digits, `+-.`).
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// One connection that creates nothing, for looking: a SQLite file that does not exist is `None`.
pub enum Existing {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl std::fmt::Debug for Existing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Existing::Sqlite(_) => "Existing::Sqlite",
            Existing::Postgres(_) => "Existing::Postgres",
        })
    }
}

/// Connects to the database `url` names if it exists; never creates a file or a folder.
pub fn connect_existing(url: &DatabaseUrl) -> anyhow::Result<Option<Existing>> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if !Path::new(path).is_file() {
                return Ok(None);
            }
            // SQLite would create a missing file; this one exists.
            let conn = SqliteConnection::establish(path)
                .map_err(|err| anyhow!("cannot open {path}: {}", first_line(&err.to_string())))?;
            Ok(Some(Existing::Sqlite(conn)))
        }
        DatabaseUrl::Postgres(postgres) => {
            Ok(Some(Existing::Postgres(connect_postgres(postgres)?)))
        }
    }
}

pub(super) fn connect_postgres(url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::establish(url).map_err(|err| postgres_error(&redact_url(url), &err))
}

/// libpq's several lines (and, through a pool of `MultiConnection`s, diesel's "Invalid connection
/// url for multiconnection" on every retry) as one line that says what happened.
fn postgres_error(shown: &str, err: &ConnectionError) -> anyhow::Error {
    let message = err.to_string();
    let first = first_line(&message);
    // `connection to server at "127.0.0.1", port 5999 failed: Connection refused`
    let reason = match first
        .strip_prefix("connection to server at ")
        .and_then(|rest| rest.split_once(" failed: "))
    {
        Some((place, reason)) => {
            let host = place.split('"').nth(1).unwrap_or(place);
            let server = match place.rsplit_once(", port ") {
                Some((_, port)) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let reason = without_severity(reason);
            if reason.eq_ignore_ascii_case("connection refused") {
                format!(
                    "the server at {server} refused the connection (is PostgreSQL running there?)"
                )
            } else {
                format!("the server at {server} answered: {reason}")
            }
        }
        None => without_severity(first).to_owned(),
    };
    anyhow!("cannot connect to PostgreSQL at {shown}: {reason}")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// `FATAL:  database "x" does not exist` → `database "x" does not exist`.
fn without_severity(reason: &str) -> &str {
    reason
        .trim()
        .strip_prefix("FATAL:")
        .unwrap_or(reason)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_name_a_file_and_postgres_urls_a_server() {
        let sqlite = |path: &str| DatabaseUrl::Sqlite(path.to_owned());
        assert_eq!(
            DatabaseUrl::parse("data/phase3.sqlite3").unwrap(),
            sqlite("data/phase3.sqlite3")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.sqlite3").unwrap(),
            sqlite("data/x.sqlite3")
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.sqlite3").unwrap(),
            sqlite("/tmp/x.sqlite3")
        );
        // A colon alone is part of a file name (and `C:\` a drive).
        assert_eq!(DatabaseUrl::parse("a:b.db").unwrap(), sqlite("a:b.db"));
        assert_eq!(
            DatabaseUrl::parse("PostgreSQL://app@db/app").unwrap(),
            DatabaseUrl::Postgres("postgresql://app@db/app".to_owned())
        );
    }

    #[test]
    fn other_schemes_are_refused_naming_what_works_and_no_password() {
        for url in [
            "mysql://x",
            "mongodb://127.0.0.1:27017",
            "redis://u:hunter2@h",
        ] {
            let message = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(message.contains("is not supported"), "{message}");
            assert!(
                message.contains("sqlite://") && message.contains("postgres://"),
                "{message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
        }
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn libpq_failures_read_as_one_line() {
        let refused = ConnectionError::BadConnection(
            "connection to server at \"127.0.0.1\", port 5999 failed: Connection refused\n\
             \tIs the server running on that host and accepting TCP/IP connections?\n"
                .to_owned(),
        );
        let message = postgres_error("postgres://app@127.0.0.1:5999/app", &refused).to_string();
        assert_eq!(
            message,
            "cannot connect to PostgreSQL at postgres://app@127.0.0.1:5999/app: the server at \
             127.0.0.1:5999 refused the connection (is PostgreSQL running there?)"
        );
        let missing = ConnectionError::BadConnection(
            "connection to server at \"localhost\" (::1), port 5432 failed: FATAL:  database \"nope\" does not exist\n"
                .to_owned(),
        );
        let message = postgres_error("postgres://localhost/nope", &missing).to_string();
        assert!(
            message.ends_with(
                "the server at localhost:5432 answered: database \"nope\" does not exist"
            ),
            "{message}"
        );
    }
}
