//! The demo data: the shared library, a listing for each of its books, and the made-up sales the
//! report reads.

use std::time::Instant;

use common::db::schema::books;
use common::db::{Database, write_transaction};
use diesel::prelude::*;

use crate::clock::now_ms;
use crate::sales;
use crate::schema::listings;

/// Fills what is empty: the library, the listings, then `sales_rows` sales. Returns how many sales
/// it wrote and how long that took.
pub async fn seed(
    database: &Database,
    sales_rows: u32,
) -> anyhow::Result<(usize, std::time::Duration)> {
    let database = database.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = database.conn()?;
        let backend = database.backend;
        write_transaction(&mut conn, |conn| -> QueryResult<()> {
            common::db::seed::library(conn)?;
            let listed: i64 = listings::table.count().get_result(conn)?;
            if listed == 0 {
                let ids: Vec<i32> = books::table.select(books::id).order(books::id).load(conn)?;
                let now = now_ms();
                for id in ids {
                    diesel::insert_into(listings::table)
                        .values((
                            listings::book_id.eq(id),
                            listings::price_cents.eq(900 + id * 100),
                            listings::stock.eq(10 * id),
                            listings::version.eq(1),
                            listings::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(())
        })?;
        let started = Instant::now();
        let written = write_transaction(&mut conn, |conn| sales::seed(conn, backend, sales_rows))?;
        Ok((written, started.elapsed()))
    })
    .await?
}
