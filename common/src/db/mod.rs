//! The shared database layer: diesel over SQLite or PostgreSQL, chosen at run time.
//!
//! SQLAlchemy picks its dialect from the URL (`sqlite:///...`, `postgresql://...`). diesel checks
//! queries at compile time against one backend, so serving both needs a connection that can be
//! either: `#[derive(diesel::MultiConnection)]` generates [`AnyConnection`], an enum over
//! `SqliteConnection` and `PgConnection` that runs the same query on whichever it holds. `DATABASE_URL`
//! decides: a `postgres://` URL uses PostgreSQL, anything else (or nothing) a SQLite file.
//!
//! diesel is synchronous: a query blocks its thread. Handlers therefore run database work on actix's
//! blocking pool with `web::block` (phase 2, topic 2.3); phase 3 compares this with diesel-async.
//!
//! The schema is never changed by hand: [`Database::connect`] runs the embedded migrations (one
//! directory per backend, since their SQL differs) before the first query.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::migration::{Migration, MigrationSource};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub mod models;
pub mod schema;
pub mod seed;
pub mod testing;
pub mod url;

/// A connection to SQLite or PostgreSQL; every diesel query runs on either.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AnyConnection::Postgresql(_) => "AnyConnection::Postgresql",
            AnyConnection::Sqlite(_) => "AnyConnection::Sqlite",
        })
    }
}

/// A pool of connections, shared by all requests.
pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
/// A connection checked out of the pool; it goes back when dropped.
pub type DbConnection = PooledConnection<ConnectionManager<AnyConnection>>;

/// The migrations of one part of the schema, one directory for each backend (their SQL differs).
/// Phases that add tables of their own add a set of their own.
pub struct MigrationSet {
    pub name: &'static str,
    pub sqlite: EmbeddedMigrations,
    pub postgres: EmbeddedMigrations,
}

impl std::fmt::Debug for MigrationSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MigrationSet({})", self.name)
    }
}

/// The library schema every phase shares: authors, books, tags.
pub static LIBRARY: MigrationSet = MigrationSet {
    name: "library",
    sqlite: embed_migrations!("migrations/library/sqlite"),
    postgres: embed_migrations!("migrations/library/postgres"),
};

/// Readers' reviews of the library's books (phase 3): reviews, then reviewers in a table of their
/// own (a data migration, topic 3.5).
pub static REVIEWS: MigrationSet = MigrationSet {
    name: "reviews",
    sqlite: embed_migrations!("migrations/reviews/sqlite"),
    postgres: embed_migrations!("migrations/reviews/postgres"),
};

/// Several sets as one source, so that "the last migration" means the last of them all.
struct Combined<'a>(Vec<&'a EmbeddedMigrations>);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Combined<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        let mut all = Vec::new();
        for set in &self.0 {
            all.extend(MigrationSource::<DB>::migrations(*set)?);
        }
        Ok(all)
    }
}

/// Whether a migration has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// `2026-11-25-000001_library`
    pub name: String,
    pub applied: bool,
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Self {
        match url::DatabaseUrl::parse(url) {
            Ok(url::DatabaseUrl::Postgres(_)) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// The pool and what it connects to.
#[derive(Clone)]
pub struct Database {
    pub pool: DbPool,
    pub backend: Backend,
    /// The URL, without its password: safe to print.
    pub display_url: String,
    /// The migrations that make up this database's schema, in order.
    migrations: &'static [&'static MigrationSet],
    /// The URL as given, password and all: for opening other connections, never for printing.
    url: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("url", &self.display_url)
            .finish_non_exhaustive()
    }
}

/// Runs on every new connection: SQLite needs a busy timeout so that concurrent writers wait instead
/// of failing, and foreign keys switched on (they are off by default).
#[derive(Debug)]
struct SqliteSetup;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(sqlite) = conn {
            sqlite
                .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Database {
    /// Connects to `url` (a `postgres://` URL, or a SQLite file path), then migrates to the latest
    /// library schema.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        const LIBRARY_SCHEMA: &[&MigrationSet] = &[&LIBRARY];
        Self::connect_with(url, LIBRARY_SCHEMA)
    }

    /// Connects, then runs every pending migration of `migrations`.
    pub fn connect_with(
        url: &str,
        migrations: &'static [&'static MigrationSet],
    ) -> anyhow::Result<Self> {
        let database = Self::open(url, migrations)?;
        database.migrate()?;
        Ok(database)
    }

    /// Connects without migrating: for looking at, or undoing, migrations. A SQLite file (and its
    /// folder) is created when missing; a URL of another kind of database is an error naming the
    /// kinds that work, and a PostgreSQL server that does not answer is one line saying so.
    pub fn open(url: &str, migrations: &'static [&'static MigrationSet]) -> anyhow::Result<Self> {
        let parsed = url::DatabaseUrl::parse(url)?;
        let url = parsed.as_str();
        let backend = Backend::of(url);
        let display_url = parsed.display();
        match &parsed {
            url::DatabaseUrl::Postgres(postgres) => drop(url::connect_postgres(postgres)?),
            url::DatabaseUrl::Sqlite(path) => {
                // A file in a folder that does not exist yet (`data/phase2.sqlite3` on a first run).
                if let Some(dir) = std::path::Path::new(path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                // Write-ahead logging lets readers and a writer work at once. It is a property of
                // the file, set once here: switching it from several new pooled connections at
                // once would make them trip over each other.
                SqliteConnection::establish(path)
                    .and_then(|mut conn| {
                        conn.batch_execute("PRAGMA journal_mode = WAL;")
                            .map_err(|err| diesel::ConnectionError::BadConnection(err.to_string()))
                    })
                    .with_context(|| format!("cannot open {display_url}"))?;
            }
        }
        let pool = Pool::builder()
            .max_size(match backend {
                Backend::Postgres => 10,
                // SQLite has one writer at a time; a few connections serve concurrent readers.
                Backend::Sqlite => 4,
            })
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqliteSetup))
            .build(ConnectionManager::new(url))
            .with_context(|| format!("cannot connect to {display_url}"))?;
        Ok(Self {
            pool,
            backend,
            display_url,
            migrations,
            url: url.to_owned(),
        })
    }

    /// The URL this database was opened with, password included: to open another kind of
    /// connection to it (diesel-async, in phase 3). Print [`Database::display_url`] instead.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn source(&self, backend: Backend) -> Combined<'static> {
        Combined(
            self.migrations
                .iter()
                .map(|set| match backend {
                    Backend::Sqlite => &set.sqlite,
                    Backend::Postgres => &set.postgres,
                })
                .collect(),
        )
    }

    /// Runs every migration not yet applied; returns their versions.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.pool.get()?;
        let source = self.source(self.backend);
        let applied: Vec<String> = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .run_pending_migrations(source)
                .map(|versions| versions.iter().map(ToString::to_string).collect()),
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(source)
                .map(|versions| versions.iter().map(ToString::to_string).collect()),
        }
        .map_err(|err| anyhow::anyhow!("migrating {}: {err}", self.display_url))?;
        let names = self.migration_names()?;
        let applied: Vec<String> = applied
            .iter()
            .map(|version| name_of(&names, version))
            .collect();
        for name in &applied {
            tracing::info!(migration = %name, "applied migration");
        }
        Ok(applied)
    }

    /// Every migration of this database's schema as `(version, name)`: `20261125000001` is what
    /// diesel records, `2026-11-25-000001_library` what people read.
    fn migration_names(&self) -> anyhow::Result<Vec<(String, String)>> {
        fn listed<DB: diesel::backend::Backend>(
            source: &Combined<'_>,
        ) -> diesel::migration::Result<Vec<(String, String)>> {
            Ok(MigrationSource::<DB>::migrations(source)?
                .iter()
                .map(|m| (m.name().version().to_string(), m.name().to_string()))
                .collect())
        }
        let source = self.source(self.backend);
        match self.backend {
            Backend::Sqlite => listed::<diesel::sqlite::Sqlite>(&source),
            Backend::Postgres => listed::<diesel::pg::Pg>(&source),
        }
        .map_err(|err| anyhow::anyhow!("listing migrations: {err}"))
    }

    /// Reverts the most recent migration; returns its name. With nothing applied, that is an error
    /// that says so.
    pub fn revert_last(&self) -> anyhow::Result<String> {
        if !self.migration_status()?.iter().any(|m| m.applied) {
            anyhow::bail!(
                "nothing to revert: no migration has been applied to {}",
                self.display_url
            );
        }
        let mut conn = self.pool.get()?;
        let source = self.source(self.backend);
        let version = match &mut *conn {
            AnyConnection::Sqlite(c) => c.revert_last_migration(source).map(|v| v.to_string()),
            AnyConnection::Postgresql(c) => c.revert_last_migration(source).map(|v| v.to_string()),
        }
        .map_err(|err| anyhow::anyhow!("reverting on {}: {err}", self.display_url))?;
        Ok(name_of(&self.migration_names()?, &version))
    }

    /// Every known migration, in order, and whether it has run.
    pub fn migration_status(&self) -> anyhow::Result<Vec<MigrationStatus>> {
        fn listed<DB: diesel::backend::Backend>(
            source: &Combined<'_>,
        ) -> diesel::migration::Result<Vec<(String, String)>> {
            Ok(MigrationSource::<DB>::migrations(source)?
                .iter()
                .map(|m| (m.name().to_string(), m.name().version().to_string()))
                .collect())
        }
        let mut conn = self.pool.get()?;
        let source = self.source(self.backend);
        let (applied, known) = match &mut *conn {
            AnyConnection::Sqlite(c) => (
                c.applied_migrations()
                    .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>()),
                listed::<diesel::sqlite::Sqlite>(&source),
            ),
            AnyConnection::Postgresql(c) => (
                c.applied_migrations()
                    .map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>()),
                listed::<diesel::pg::Pg>(&source),
            ),
        };
        let applied = applied.map_err(|err| anyhow::anyhow!("reading migrations: {err}"))?;
        let mut known = known.map_err(|err| anyhow::anyhow!("listing migrations: {err}"))?;
        known.sort();
        Ok(known
            .into_iter()
            .map(|(name, version)| MigrationStatus {
                applied: applied.contains(&version),
                name,
            })
            .collect())
    }

    /// A connection from the pool. Blocks: call it inside `web::block`.
    pub fn conn(&self) -> anyhow::Result<DbConnection> {
        Ok(self.pool.get()?)
    }

    /// [`Database::conn`], waiting at most `timeout` for one (a health probe's budget, rather than
    /// the pool's 10 s).
    pub fn conn_within(&self, timeout: Duration) -> anyhow::Result<DbConnection> {
        Ok(self.pool.get_timeout(timeout)?)
    }
}

/// The name of migration `version`, or the version itself for one this build does not carry.
fn name_of(names: &[(String, String)], version: &str) -> String {
    names
        .iter()
        .find(|(known, _)| known == version)
        .map_or_else(|| version.to_owned(), |(_, name)| name.clone())
}

/// A database failure nobody planned for is a 500; its cause goes to the log.
impl From<diesel::result::Error> for crate::ApiError {
    fn from(err: diesel::result::Error) -> Self {
        crate::ApiError::internal(err)
    }
}

diesel::define_sql_function! {
    /// SQL's `LOWER`, the same on SQLite and PostgreSQL: with [`contains_pattern`], a search that
    /// ignores case on both.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `%text%` for a case-insensitive `LIKE` (against [`lower`] of a column, with `.escape('\\')`),
/// with the wildcards in `text` escaped.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}

/// Whether `err` is a unique constraint refusing a row: a taken alias, slug or id, which a route
/// answers with 409 (or, for an event seen before, with nothing at all).
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Runs blocking work (diesel queries) on actix's blocking thread pool, so the async worker stays
/// free for other requests; its error becomes an [`ApiError`](crate::ApiError).
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, crate::ApiError>
where
    T: Send + 'static,
    E: Into<crate::ApiError> + Send + 'static,
{
    actix_web::web::block(work)
        .await
        .map_err(crate::ApiError::internal)?
        .map_err(Into::into)
}

/// Runs `work` in a transaction that may write.
///
/// On PostgreSQL it is an ordinary transaction. On SQLite it begins with `BEGIN IMMEDIATE`, taking
/// the write lock first: a default (deferred) transaction that reads and then writes cannot wait for
/// another writer, and fails with "database is locked" as soon as one commits in between, which
/// under concurrent requests is often. An immediate one waits its turn (up to the busy timeout).
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    let AnyConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    // Inside a transaction already (the lock is held): an ordinary nested one, a savepoint.
    let nested = AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()
        .is_ok_and(|depth| depth.is_some());
    if nested {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    let AnyConnection::Sqlite(sqlite) = conn else {
        return Err(diesel::result::Error::BrokenTransactionManager.into());
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(err) => {
            // The work's error is the one to report; a failed rollback leaves the connection
            // broken, which the pool notices and replaces.
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(err)
        }
    }
}

/// Runs `body` with `conn` bound to the concrete connection inside an [`AnyConnection`].
///
/// `MultiConnection` runs what both backends understand the same way; `INSERT ... RETURNING` is not
/// among it (diesel builds it per backend). This macro compiles `body` once for each backend, so the
/// code is still written once:
///
/// ```text
/// let author: Author = with_backend!(&mut *conn, |c| {
///     diesel::insert_into(authors::table).values(&new).returning(Author::as_returning()).get_result(c)
/// })?;
/// ```
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
        }
    };
}

/// Counts the queries run on a connection: diesel calls it at the start of each one.
///
/// Install it with `conn.set_instrumentation(counter.clone())` for a piece of work, then read
/// [`QueryCounter::count`]: that is how `X-Query-Count` shows N+1 against eager loading.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicUsize>);

impl QueryCounter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `work` on `conn` and returns its result with the number of queries it ran.
pub fn count_queries<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> T,
) -> (T, usize) {
    let counter = QueryCounter::default();
    conn.set_instrumentation(counter.clone());
    let result = work(conn);
    // The connection goes back to the pool: leave it as diesel sets up new ones.
    conn.set_instrumentation(diesel::connection::get_default_instrumentation());
    (result, counter.count())
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::models::*;
    use super::schema::*;
    use super::testing::TestDatabase;
    use super::*;

    #[test]
    fn the_same_queries_run_on_every_backend() {
        for db in TestDatabase::all() {
            let mut conn = db.database.conn().unwrap();
            let author: Author = crate::with_backend!(&mut *conn, |c| {
                diesel::insert_into(authors::table)
                    .values(NewAuthor {
                        name: "Le Guin",
                        bio: None,
                    })
                    .returning(Author::as_returning())
                    .get_result(c)
            })
            .unwrap();
            let book: Book = crate::with_backend!(&mut *conn, |c| {
                diesel::insert_into(books::table)
                    .values(NewBook {
                        author_id: author.id,
                        title: "Earthsea",
                        year: 1968,
                    })
                    .returning(Book::as_returning())
                    .get_result(c)
            })
            .unwrap();
            let tag: Tag = crate::with_backend!(&mut *conn, |c| {
                diesel::insert_into(tags::table)
                    .values(NewTag { name: "fantasy" })
                    .returning(Tag::as_returning())
                    .get_result(c)
            })
            .unwrap();
            diesel::insert_into(book_tags::table)
                .values(BookTag {
                    book_id: book.id,
                    tag_id: tag.id,
                })
                .execute(&mut conn)
                .unwrap();

            let mut ordered = books::table.select(Book::as_select()).into_boxed();
            ordered = ordered.order(books::title.desc());
            assert_eq!(
                ordered.load(&mut conn).unwrap(),
                std::slice::from_ref(&book)
            );
            let count: i64 = books::table.count().get_result(&mut conn).unwrap();
            assert_eq!(count, 1);

            let (by_author, queries) = count_queries(&mut conn, |conn| {
                let authors = authors::table
                    .select(Author::as_select())
                    .load(conn)
                    .unwrap();
                let books = Book::belonging_to(&authors)
                    .select(Book::as_select())
                    .load(conn)
                    .unwrap();
                books.grouped_by(&authors)
            });
            assert_eq!(by_author, [vec![book.clone()]]);
            assert_eq!(queries, 2);

            let names: Vec<String> = book_tags::table
                .inner_join(tags::table)
                .filter(book_tags::book_id.eq(book.id))
                .select(tags::name)
                .load(&mut conn)
                .unwrap();
            assert_eq!(names, ["fantasy"]);

            // Foreign keys hold on SQLite too (they are off unless switched on).
            let orphan = diesel::insert_into(books::table)
                .values(NewBook {
                    author_id: 999,
                    title: "x",
                    year: 1,
                })
                .execute(&mut conn);
            assert!(orphan.is_err(), "{:?}", db.database.backend);
        }
    }

    #[test]
    fn migrations_go_down_and_up_again() {
        for db in TestDatabase::all() {
            let database = &db.database;
            let status = database.migration_status().unwrap();
            assert_eq!(status.len(), 1);
            assert!(status[0].applied && status[0].name.ends_with("_library"));

            assert_eq!(database.revert_last().unwrap(), "2026-11-25-000001_library");
            assert!(!database.migration_status().unwrap()[0].applied);
            let mut conn = database.conn().unwrap();
            assert!(
                authors::table.count().get_result::<i64>(&mut conn).is_err(),
                "the table is gone"
            );
            assert!(database.revert_last().is_err(), "nothing left to revert");

            assert_eq!(database.migrate().unwrap(), ["2026-11-25-000001_library"]);
            assert_eq!(
                authors::table.count().get_result::<i64>(&mut conn).unwrap(),
                0
            );
        }
    }

    #[test]
    fn write_transactions_nest_and_roll_back_together() {
        for db in TestDatabase::all() {
            let mut conn = db.database.conn().unwrap();
            let insert = |c: &mut AnyConnection, name: &str| {
                diesel::insert_into(authors::table)
                    .values(NewAuthor { name, bio: None })
                    .execute(c)
            };
            write_transaction(&mut conn, |c| {
                insert(c, "outer")?;
                write_transaction(c, |c| insert(c, "inner"))
            })
            .unwrap();
            let failed: QueryResult<()> = write_transaction(&mut conn, |c| {
                insert(c, "lost")?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(failed.is_err());
            let names: Vec<String> = authors::table
                .select(authors::name)
                .order(authors::id)
                .load(&mut conn)
                .unwrap();
            assert_eq!(names, ["outer", "inner"], "{:?}", db.database.backend);
        }
    }
}
