//! 3.2 Async database access: diesel-async with a pool, against sync diesel on a blocking pool.
//!
//! **Roadmap:** "AsyncSession: Using SQLAlchemy with asyncio (required for high-perf FastAPI)."
//!
//! **Python:** `async with AsyncSession(engine) as session: await session.execute(...)`, over
//! asyncpg: the event loop waits for PostgreSQL without a thread per query. A sync session in an
//! `async def` blocks the loop, so it goes to a thread pool instead.
//!
//! **Rust:** both ways serve `GET /reviews/latest?via=async|blocking&limit=20` here, with the same
//! query:
//! - `via=blocking`: sync diesel on a pooled connection, inside `web::block` (actix's blocking
//!   thread pool): what phases 2 and 3 do everywhere else. Simple, every diesel feature, and
//!   `MultiConnection` for two backends; each query in flight holds a thread.
//! - `via=async`: `diesel-async`, whose `AsyncPgConnection` speaks PostgreSQL's protocol on tokio
//!   (tokio-postgres), from a deadpool pool: a query in flight holds no thread at all. For SQLite,
//!   which has no network protocol, diesel-async wraps the sync connection and runs it on tokio's
//!   blocking threads: the same trade as `web::block`, behind an async interface.
//!
//! The trade-off: the async path pays off with many concurrent, slow (network-bound) queries; the
//! blocking path is simpler, has the whole of diesel (`MultiConnection`, migrations) and is as fast
//! while the blocking pool has threads to spare. `cargo bench -p phase3-db` measures both under
//! concurrent load and prints the numbers.
//!
//! **Why:** "async" is not faster by itself; it is cheaper per waiting query. Measure before
//! choosing.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::schema::{books, reviewers, reviews};
use common::db::{Backend, Database, blocking};
use common::extract::Query;
use diesel::prelude::*;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A review with its book's title and its reviewer's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Queryable, ToSchema)]
pub struct LatestReview {
    pub id: i32,
    /// The book's title.
    pub book: String,
    /// The reviewer's name.
    pub reviewer: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
}

/// The query both paths run, written once as a macro so that each backend's connection type gets
/// its own copy (diesel-async has no `MultiConnection`).
macro_rules! latest_reviews {
    ($limit:expr) => {
        reviews::table
            .inner_join(books::table)
            .inner_join(reviewers::table)
            .select((reviews::id, books::title, reviewers::name, reviews::rating))
            .order(reviews::id.desc())
            .limit($limit)
    };
}

/// The latest reviews, sync.
pub fn latest_blocking(database: &Database, limit: i64) -> anyhow::Result<Vec<LatestReview>> {
    let mut conn = database.conn()?;
    Ok(latest_reviews!(limit).load(&mut conn)?)
}

/// A pool of async connections to the same database.
#[derive(Clone)]
pub enum AsyncDatabase {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SyncConnectionWrapper<diesel::SqliteConnection>>),
}

impl std::fmt::Debug for AsyncDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AsyncDatabase::Postgres(_) => "AsyncDatabase::Postgres",
            AsyncDatabase::Sqlite(_) => "AsyncDatabase::Sqlite",
        })
    }
}

/// Like the sync pool: wait at most 10 s for a connection, 5 s to open one, instead of forever.
fn with_timeouts<M: deadpool::managed::Manager>(
    builder: deadpool::managed::PoolBuilder<M>,
) -> deadpool::managed::PoolBuilder<M> {
    builder
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
}

impl AsyncDatabase {
    /// A pool for `url`, whose schema the sync `Database` has already migrated.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(match Backend::of(url) {
            Backend::Postgres => {
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
                AsyncDatabase::Postgres(with_timeouts(Pool::builder(manager).max_size(10)).build()?)
            }
            Backend::Sqlite => {
                let manager = AsyncDieselConnectionManager::<
                    SyncConnectionWrapper<diesel::SqliteConnection>,
                >::new(url);
                AsyncDatabase::Sqlite(with_timeouts(Pool::builder(manager).max_size(4)).build()?)
            }
        })
    }

    /// The latest reviews, async.
    pub async fn latest(&self, limit: i64) -> anyhow::Result<Vec<LatestReview>> {
        // diesel's prelude brings a sync `load` too: name the async one.
        use diesel_async::RunQueryDsl as AsyncRunQueryDsl;
        Ok(match self {
            AsyncDatabase::Postgres(pool) => {
                let mut conn = pool.get().await?;
                AsyncRunQueryDsl::load(latest_reviews!(limit), &mut conn).await?
            }
            AsyncDatabase::Sqlite(pool) => {
                let mut conn = pool.get().await?;
                AsyncRunQueryDsl::load(latest_reviews!(limit), &mut conn).await?
            }
        })
    }
}

/// Which path serves the request.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// diesel-async, from a deadpool pool.
    Async,
    /// Sync diesel inside `web::block`.
    #[default]
    Blocking,
}

/// The query of `GET /reviews/latest`. Each rule is written twice, side by side: `validate` for
/// the server, `param` for the document (a test checks that they agree).
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// `blocking` (the default) or `async`: the same rows either way.
    #[serde(default)]
    #[param(inline)]
    pub via: Via,
    /// How many reviews, newest first.
    #[serde(default = "twenty")]
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: u32,
}

fn twenty() -> u32 {
    20
}

/// `GET /reviews/latest?via=async|blocking&limit=20`.
#[utoipa::path(
    tag = "3.2 async database access",
    params(LatestQuery),
    responses(
        (status = 200, description = "The latest reviews, newest first", body = [LatestReview]),
        (status = 422, description = "`limit` is outside 1 to 100")
    )
)]
#[get("/reviews/latest")]
pub(crate) async fn latest(
    database: web::Data<Database>,
    async_database: web::Data<AsyncDatabase>,
    Query(query): Query<LatestQuery>,
) -> Result<HttpResponse, ApiError> {
    query.validate()?;
    let limit = i64::from(query.limit);
    let rows = match query.via {
        Via::Blocking => blocking(move || latest_blocking(&database, limit)).await?,
        Via::Async => async_database.latest(limit).await?,
    };
    Ok(HttpResponse::Ok().json(rows))
}
