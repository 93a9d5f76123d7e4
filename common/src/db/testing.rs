//! A database of its own for each test: a SQLite file, or a fresh PostgreSQL database when
//! `DATABASE_URL` names a PostgreSQL server. Both are migrated, and removed when dropped.

use std::path::PathBuf;

use diesel::{Connection, PgConnection, RunQueryDsl};

use super::{Backend, Database, LIBRARY, MigrationSet};
use crate::testing::{service_url, unique_name};

const LIBRARY_SCHEMA: &[&MigrationSet] = &[&LIBRARY];

/// A migrated, empty database that disappears when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub database: Database,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
    Done,
}

impl TestDatabase {
    /// A SQLite database in a temporary file, with the library schema.
    pub fn sqlite() -> Self {
        Self::sqlite_with(LIBRARY_SCHEMA)
    }

    /// A SQLite database in a temporary file, migrated with `schema`.
    pub fn sqlite_with(schema: &'static [&'static MigrationSet]) -> Self {
        let path = std::env::temp_dir().join(format!("{}.sqlite3", unique_name("roadmap")));
        let url = path.to_string_lossy().into_owned();
        Self {
            database: Database::connect_with(&url, schema).expect("create a SQLite test database"),
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A fresh database with the library schema on the PostgreSQL server `DATABASE_URL` names, or
    /// `None` when it names none (a failure instead, with `REQUIRE_SERVICES=1`).
    pub fn postgres() -> Option<Self> {
        Self::postgres_with(LIBRARY_SCHEMA)
    }

    /// The same, migrated with `schema`.
    pub fn postgres_with(schema: &'static [&'static MigrationSet]) -> Option<Self> {
        let admin_url = service_url("DATABASE_URL")?;
        if Backend::of(&admin_url) != Backend::Postgres {
            assert!(
                !crate::testing::services_required(),
                "DATABASE_URL must be a postgres:// URL when REQUIRE_SERVICES=1"
            );
            return None;
        }
        let name = unique_name("roadmap_test");
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(admin) => admin,
            Err(err) => {
                // Unreachable is a skip, like unset, unless the tests must use the real service.
                assert!(
                    !crate::testing::services_required(),
                    "cannot reach PostgreSQL at DATABASE_URL: {err}"
                );
                eprintln!("PostgreSQL at DATABASE_URL is unreachable ({err}): skipped");
                return None;
            }
        };
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .expect("create a test database");
        // The guard exists before anything can fail, so a failed migration leaves no database.
        let cleanup = Cleanup::PostgresDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let mut url = url::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&name);
        let database = match Database::connect_with(url.as_str(), schema) {
            Ok(database) => database,
            Err(err) => {
                cleanup_now(cleanup);
                panic!("cannot connect to the test database: {err:#}");
            }
        };
        Some(Self { database, cleanup })
    }

    /// SQLite always, and PostgreSQL too when `DATABASE_URL` is set: run a test on each.
    pub fn all() -> Vec<Self> {
        Self::all_with(LIBRARY_SCHEMA)
    }

    /// The same, migrated with `schema`.
    pub fn all_with(schema: &'static [&'static MigrationSet]) -> Vec<Self> {
        std::iter::once(Self::sqlite_with(schema))
            .chain(Self::postgres_with(schema))
            .collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        cleanup_now(std::mem::replace(&mut self.cleanup, Cleanup::Done));
    }
}

fn cleanup_now(cleanup: Cleanup) {
    match cleanup {
        Cleanup::SqliteFile(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
        Cleanup::PostgresDatabase { admin_url, name } => {
            // FORCE closes the pool's connections, which may still be open at this point.
            if let Ok(mut admin) = PgConnection::establish(&admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin);
            }
        }
        Cleanup::Done => {}
    }
}
