//! The demo data: the shared library, and two users to log in as.

use common::db::{Database, write_transaction};
use diesel::QueryResult;

use crate::passwords::Passwords;
use crate::users::{self, Role};

/// The demo users: username, password, role. Printed by the tour; never use them anywhere real.
pub const DEMO_USERS: [(&str, &str, Role); 2] = [
    ("admin", "correct-horse-admin", Role::Admin),
    ("ada", "correct-horse-ada", Role::User),
];

/// Fills the library if it is empty, and creates the demo users that do not exist yet.
pub async fn seed(database: &Database, passwords: &Passwords) -> anyhow::Result<()> {
    let db = database.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = db.conn()?;
        write_transaction(&mut conn, |conn| -> QueryResult<bool> {
            common::db::seed::library(conn)
        })?;
        Ok(())
    })
    .await??;
    for (username, password, role) in DEMO_USERS {
        let db = database.clone();
        let exists = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            Ok(users::find_by_name(&mut *db.conn()?, username)?.is_some())
        })
        .await??;
        if exists {
            continue;
        }
        let hash = passwords
            .hash(password.to_owned())
            .await
            .map_err(|err| anyhow::anyhow!("hashing a demo password: {err}"))?;
        let db = database.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            users::insert(&mut *db.conn()?, username, Some(&hash), role)?;
            Ok(())
        })
        .await??;
    }
    Ok(())
}
