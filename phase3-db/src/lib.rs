//! Phase 3 of the roadmap: the database layer, as the roadmap teaches it with SQLAlchemy 2.0,
//! Alembic, Motor and Redis. One module per topic; each opens with what the roadmap asks, the Python
//! idiom, the Rust idiom here, and why. [`MANIFEST`] lists them; the tour, `GET /` and the README
//! table follow it.
//!
//! The chapters are the topic modules ([`core_vs_orm`] to [`key_value`]); the rest is vocabulary
//! they share: [`seed`] (demo data) and
//! [`openapi`] (the document every route is listed in); `common::db::url` reads `DATABASE_URL`.
//!
//! The schema is the library of phase 2 plus readers' reviews: both migration sets, and the tables
//! diesel sees, live in `common::db` (diesel needs tables that are joined declared in one crate).
//!
//! This file assembles the app: [`Config`] is what it runs with, [`AppState`] what it runs on
//! (connected, migrated, seeded), and [`build`] goes from one to a running [`Application`], for the
//! binary, the tests and the grader alike.

use std::io;
use std::net::TcpListener;

use actix_web::web;
use common::config::redact_url;
use common::db::{Backend, Database};
use common::extract::BodyLimit;
use common::manifest::{Manifest, Topic};
use common::server::Application;

pub mod async_access;
pub mod backends;
pub mod core_vs_orm;
pub mod data_migration;
pub mod documents;
pub mod key_value;
pub mod migrations;
pub mod openapi;
pub mod relationships;
pub mod seed;

use crate::async_access::AsyncDatabase;
use crate::documents::{Mongo, ReadingLists};
use crate::key_value::{MemoryStore, RedisStore, Store};

/// Phase 3's topics, routes and first commands.
pub const MANIFEST: Manifest = Manifest {
    package: "phase3-db",
    title: "Phase 3: databases",
    port: 8003,
    topics: &[
        Topic {
            id: "3.1",
            title: "Core vs ORM",
            modules: &["core_vs_orm.rs"],
            routes: &["GET /reports/tags"],
        },
        Topic {
            id: "3.2",
            title: "async database access",
            modules: &["async_access.rs"],
            routes: &["GET /reviews/latest"],
        },
        Topic {
            id: "3.3",
            title: "relationships, lazy vs eager",
            modules: &["relationships.rs"],
            routes: &["GET /books-with-reviews"],
        },
        Topic {
            id: "3.4",
            title: "migrations",
            modules: &["migrations.rs"],
            routes: &[
                "-- migrate status",
                "-- migrate up",
                "-- migrate down",
                "GET /migrations",
            ],
        },
        Topic {
            id: "3.5",
            title: "data migrations",
            modules: &["data_migration.rs"],
            routes: &["GET /reviewers"],
        },
        Topic {
            id: "3.6",
            title: "several backends",
            modules: &["backends.rs"],
            routes: &["GET /backend"],
        },
        Topic {
            id: "3.7",
            title: "MongoDB",
            modules: &["documents.rs"],
            routes: &[
                "POST /mongo/reading-lists",
                "GET /mongo/reading-lists",
                "GET /mongo/reading-lists/{id}",
                "PATCH /mongo/reading-lists/{id}",
                "DELETE /mongo/reading-lists/{id}",
                "GET /mongo/stats/tags",
            ],
        },
        Topic {
            id: "3.8",
            title: "Redis",
            modules: &["key_value.rs"],
            routes: &[
                "GET /kv/{key}",
                "PUT /kv/{key}",
                "DELETE /kv/{key}",
                "POST /counters/{name}",
                "GET /reports/tags/cached",
            ],
        },
    ],
    try_it: &[
        "curl -s '{base}/reports/tags?using=sql'",
        "curl -s '{base}/reviews/latest?via=async&limit=3'",
        "curl -si '{base}/books-with-reviews?strategy=lazy' | grep -i x-query-count",
        "cargo run -p phase3-db -- migrate status",
        "curl -s {base}/migrations",
        "curl -s {base}/reviewers",
        "curl -s {base}/backend",
        r#"curl -s -X PUT {base}/kv/greeting -H 'Content-Type: application/json' -d '{"value":"hello","ttl_seconds":60}'"#,
        "curl -s -X POST {base}/counters/visits",
        "curl -si {base}/reports/tags/cached | grep -i x-cache",
        r#"curl -si {base}/mongo/reading-lists -H 'Content-Type: application/json' -d '{"owner":"ada","name":"summer","tags":["sf"]}'"#,
    ],
};

/// Where `cargo run -p phase3-db` keeps its data when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE: &str = "data/phase3.sqlite3";

/// What phase 3 runs with: flags, or the environment variables they name.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// A SQLite file (created if missing; `sqlite://PATH` also works) or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE, global = true)]
    pub database_url: String,
    /// Redis for the key-value routes; the in-process store when absent.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// MongoDB for the /mongo routes, which answer 503 without it.
    #[arg(long, env = "MONGODB_URL")]
    pub mongodb_url: Option<String>,
    /// The prefix of every Redis key and the name of the MongoDB database, so that several apps
    /// (or tests) can share one server.
    #[arg(long, default_value = "phase3")]
    pub namespace: String,
}

impl Config {
    /// The database at `database_url`, the in-process store, no MongoDB.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            mongodb_url: None,
            namespace: "phase3".to_owned(),
        }
    }
}

/// By hand, not derived: a configuration gets logged, and its URLs may carry passwords.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |url: &Option<String>| url.as_deref().map(redact_url);
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &redacted(&self.redis_url))
            .field("mongodb_url", &redacted(&self.mongodb_url))
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// What the running app works on.
#[derive(Debug)]
pub struct AppState {
    /// Migrated with [`migrations::SCHEMA`], demo data in.
    pub database: Database,
    /// The same database, through diesel-async (topic 3.2).
    pub async_database: AsyncDatabase,
    /// Redis when `REDIS_URL` is set, in process otherwise (topic 3.8).
    pub store: Store,
    /// MongoDB when `MONGODB_URL` is set; its routes answer 503 otherwise (topic 3.7).
    pub mongo: Mongo,
}

impl AppState {
    /// Connects to everything `config` names, migrates the database and fills it with demo data
    /// when it is empty.
    pub async fn new(config: &Config) -> anyhow::Result<Self> {
        let url = config.database_url.clone();
        let database = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
            let database = Database::connect_with(&url, &migrations::SCHEMA)?;
            seed::seed(&database)?;
            Ok(database)
        })
        .await??;
        let store = match &config.redis_url {
            Some(url) => Store::Redis(RedisStore::connect(url, &config.namespace).await?),
            None => Store::Memory(MemoryStore::default()),
        };
        let mongo = match &config.mongodb_url {
            Some(url) => Mongo(Some(ReadingLists::connect(url, &config.namespace).await?)),
            None => Mongo(None),
        };
        Self::with(database, store, mongo)
    }

    /// The state over parts made elsewhere (a test's own database or store); the async pool is
    /// opened on `database`'s URL.
    pub fn with(database: Database, store: Store, mongo: Mongo) -> anyhow::Result<Self> {
        let async_database = AsyncDatabase::new(database.url())?;
        Ok(Self {
            database,
            async_database,
            store,
            mongo,
        })
    }

    /// The tour's lines about this instance: what it is connected to.
    fn notes(&self) -> Vec<String> {
        let mongo = match &self.mongo.0 {
            Some(lists) => format!("MongoDB: connected, database `{}`", lists.database_name()),
            None => {
                "MongoDB: not configured; the /mongo routes answer 503 (set MONGODB_URL)".to_owned()
            }
        };
        let store = match &self.store {
            Store::Memory(_) => "in process (set REDIS_URL for Redis)".to_owned(),
            Store::Redis(redis) => format!("Redis, keys under `{}:`", redis.prefix()),
        };
        let backend = match self.database.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        vec![
            format!("database: {} ({backend})", self.database.display_url),
            format!("key-value store: {store}"),
            mongo,
        ]
    }
}

/// The largest request body read: 1 MiB. A body is refused with 413 before its rules are checked,
/// so the limit must exceed the largest body the rules allow, or a valid request gets a 413: a
/// key-value entry's 65,536 characters, each written as a JSON escape pair of 12 bytes, come to
/// 768 KiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Connects what `config` names and serves phase 3 on `listener`.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let state = AppState::new(&config).await?;
    Ok(serve(state, listener)?)
}

/// Serves phase 3 over `state` on `listener`.
pub fn serve(state: AppState, listener: TcpListener) -> io::Result<Application> {
    let notes = state.notes();
    let mongodb = state.mongo.0.is_some();
    let document = openapi::document(mongodb);
    let database = web::Data::new(state.database);
    let async_database = web::Data::new(state.async_database);
    let store = web::Data::new(state.store);
    let mongo = web::Data::new(state.mongo);
    Application::new(listener, &MANIFEST, document, notes, move |cfg| {
        cfg.app_data(BodyLimit(BODY_LIMIT))
            .app_data(database.clone())
            .app_data(async_database.clone())
            .app_data(store.clone())
            .app_data(mongo.clone())
            .service(core_vs_orm::tag_report)
            .service(async_access::latest)
            .service(relationships::books_with_reviews)
            .service(migrations::status)
            .service(data_migration::list)
            .service(backends::backend)
            .configure(|cfg| documents::routes(cfg, mongodb))
            .service(key_value::cached_report)
            .service(key_value::get_value)
            .service(key_value::put_value)
            .service(key_value::delete_value)
            .service(key_value::increment);
    })
}
