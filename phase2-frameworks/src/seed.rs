//! Demo data, so that a fresh database has something to list: the library every phase starts with
//! (`common::db::seed`).

use common::db::Database;

/// Fills an empty library with the demo data; a library with books is left alone.
pub fn seed(database: &Database) -> anyhow::Result<bool> {
    let mut conn = database.conn()?;
    Ok(common::db::seed::library(&mut conn)?)
}
