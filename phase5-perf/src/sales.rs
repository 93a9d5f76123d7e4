//! Sales: what the expensive report (5.2) reads, and the write that changes it (and queues a job,
//! 5.3). Shared vocabulary: the chapters use it, it uses no chapter.

use common::db::{AnyConnection, Backend};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::clock::now_ms;
use crate::jobs::queue::{Job, NewJob, enqueue_in};
use crate::schema::sales;

/// One row of the sales report: a book's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, QueryableByName, ToSchema)]
pub struct ReportRow {
    #[diesel(sql_type = Integer)]
    pub book_id: i32,
    #[diesel(sql_type = Text)]
    pub title: String,
    /// Sales of it.
    #[diesel(sql_type = BigInt)]
    pub sales: i64,
    /// Copies sold.
    #[diesel(sql_type = BigInt)]
    pub units: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue_cents: i64,
    /// Buyers, counted once each.
    #[diesel(sql_type = BigInt)]
    pub customers: i64,
    /// The latest sale, in milliseconds since 1970.
    #[diesel(sql_type = BigInt)]
    pub last_sold_at: i64,
}

/// Every book's totals over every sale, best-selling first: a full scan, a join, a distinct count
/// and a sort. Over the 200 000 seeded sales it takes tens of milliseconds on SQLite; that is why
/// 5.2 caches it.
const REPORT_SQL: &str = "
    SELECT books.id AS book_id, books.title AS title,
           CAST(COUNT(*) AS BIGINT) AS sales,
           CAST(SUM(sales.quantity) AS BIGINT) AS units,
           CAST(SUM(sales.quantity * sales.price_cents) AS BIGINT) AS revenue_cents,
           CAST(COUNT(DISTINCT sales.customer) AS BIGINT) AS customers,
           CAST(MAX(sales.sold_at) AS BIGINT) AS last_sold_at
    FROM sales JOIN books ON books.id = sales.book_id
    GROUP BY books.id, books.title
    ORDER BY revenue_cents DESC, books.id";

pub fn report(conn: &mut AnyConnection) -> QueryResult<Vec<ReportRow>> {
    diesel::sql_query(REPORT_SQL).load(conn)
}

/// A sale to record.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSale {
    pub book_id: i32,
    /// Who bought it; their receipt goes to this address.
    #[validate(email(message = "must be an email address, such as ada@example.com"))]
    #[schema(format = "email", max_length = 254)]
    pub customer: String,
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i32,
    #[validate(range(min = 1, max = 1_000_000, message = "must be 1 to 1000000 cents"))]
    #[schema(minimum = 1, maximum = 1000000)]
    pub price_cents: i32,
}

/// A recorded sale.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = sales)]
pub struct Sale {
    pub id: i32,
    pub book_id: i32,
    pub customer: String,
    pub quantity: i32,
    pub price_cents: i32,
    pub sold_at: i64,
}

/// Records `sale` and queues its receipt email, on `conn` in one transaction the caller opened:
/// both or neither. A `book_id` that names no book fails on the foreign key, and the receipt
/// queued just before goes with the rollback.
pub fn record(conn: &mut AnyConnection, sale: &NewSale) -> anyhow::Result<(Sale, Job)> {
    let receipt = enqueue_in(
        conn,
        &NewJob {
            kind: "email".to_owned(),
            payload: serde_json::json!({
                "kind": "email",
                "to": sale.customer,
                "subject": format!("Your receipt: {} × book {}", sale.quantity, sale.book_id),
            }),
            run_at: None,
            max_attempts: 5,
        },
    )?;
    let sale: Sale = common::with_backend!(&mut *conn, |c| {
        diesel::insert_into(sales::table)
            .values((
                sales::book_id.eq(sale.book_id),
                sales::customer.eq(&sale.customer),
                sales::quantity.eq(sale.quantity),
                sales::price_cents.eq(sale.price_cents),
                sales::sold_at.eq(now_ms()),
            ))
            .returning(Sale::as_returning())
            .get_result(c)
    })?;
    Ok((sale, receipt))
}

/// A customer's own purchases, newest first (5.1's private resource).
pub fn purchases_of(conn: &mut AnyConnection, customer: &str) -> QueryResult<Vec<Sale>> {
    sales::table
        .filter(sales::customer.eq(customer))
        .order((sales::sold_at.desc(), sales::id.desc()))
        .limit(50)
        .select(Sale::as_select())
        .load(conn)
}

/// Fills an empty `sales` table with `rows` made-up sales of the library's books, in one
/// statement the database runs by itself (a recursive CTE on SQLite, `generate_series` on
/// PostgreSQL): a few hundred milliseconds for 200 000 rows, where as many inserts from Rust
/// would take seconds. The same rows every time: book, customer, quantity and price follow from the
/// row's number.
pub fn seed(conn: &mut AnyConnection, backend: Backend, rows: u32) -> QueryResult<usize> {
    let existing: i64 = sales::table.count().get_result(conn)?;
    if existing > 0 || rows == 0 {
        return Ok(0);
    }
    let numbers = match backend {
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) SELECT i FROM n"
        }
        Backend::Postgres => "SELECT i FROM generate_series(1, $1) AS i",
    };
    let sql = format!(
        "INSERT INTO sales (book_id, customer, quantity, price_cents, sold_at)
         SELECT b.id, 'reader' || (n.i * 7919 % 5000) || '@example.com', 1 + n.i % 4,
                500 + (n.i * 31 % 2500), {start} - n.i * 60000
         FROM ({numbers}) AS n
         JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k, COUNT(*) OVER () AS total FROM books) AS b
           ON b.k = n.i % b.total",
        start = now_ms(),
    );
    common::with_backend!(&mut *conn, |c| diesel::sql_query(&sql)
        .bind::<BigInt, _>(i64::from(rows))
        .execute(c))
}
