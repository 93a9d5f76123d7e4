//! Phase 3 of the roadmap: the database layer, as the roadmap teaches it with SQLAlchemy 2.0,
//! Alembic, Motor and Redis. One module per topic; each opens with what the roadmap asks, the Python
//! idiom, the Rust idiom here, and why.
//!
//! | ID | topic | module |
//! |---|---|---|
//! | 3.1 | Core vs ORM | [`core_vs_orm`] |
//! | 3.2 | async database access | [`async_access`] |
//! | 3.3 | relationships, lazy vs eager | [`relationships`] |
//! | 3.4 | migrations | [`migrations`] |
//! | 3.5 | data migrations | [`data_migration`] |
//! | 3.6 | several backends | [`backends`] |
//! | 3.7 | MongoDB | [`documents`] |
//! | 3.8 | Redis | [`key_value`] |
//!
//! The schema is the library of phase 2 plus readers' reviews: both migration sets, and the tables
//! diesel sees, live in `common::db` (diesel needs tables that are joined declared in one crate).

use std::io;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::web;
use common::db::Database;

pub mod async_access;
pub mod backends;
pub mod core_vs_orm;
pub mod data_migration;
pub mod documents;
pub mod key_value;
pub mod migrations;
pub mod relationships;
pub mod seed;

use crate::key_value::Store;

/// The port `cargo run -p phase3-db` listens on.
pub const DEFAULT_PORT: u16 = 8003;

/// What phase 3 runs with.
#[derive(Debug)]
pub struct Settings {
    /// Connected with [`migrations::SCHEMA`].
    pub database: Database,
    /// The same database, through diesel-async (topic 3.2).
    pub async_database: async_access::AsyncDatabase,
    /// Redis when `REDIS_URL` is set, in process otherwise.
    pub store: Store,
    /// MongoDB when `MONGODB_URL` is set; its routes answer 503 otherwise.
    pub mongo: documents::Mongo,
}

impl Settings {
    /// The settings for `database`: its async pool is opened on the same URL.
    pub fn new(database: Database, store: Store, mongo: documents::Mongo) -> anyhow::Result<Self> {
        let async_database = async_access::AsyncDatabase::new(database.url())?;
        Ok(Self {
            database,
            async_database,
            store,
            mongo,
        })
    }
}

/// Phase 3's app on `listener`.
pub fn serve(listener: TcpListener, settings: Settings) -> io::Result<Server> {
    let database = web::Data::new(settings.database);
    let async_database = web::Data::new(settings.async_database);
    let store = web::Data::new(settings.store);
    let mongo = web::Data::new(settings.mongo);
    common::server::serve(listener, move |cfg| {
        cfg.app_data(database.clone())
            .app_data(async_database.clone())
            .service(async_access::latest)
            .app_data(store.clone())
            .app_data(mongo.clone())
            .service(documents::create)
            .service(documents::summaries)
            .service(documents::retrieve)
            .service(documents::change)
            .service(documents::remove)
            .service(documents::tag_stats)
            .service(core_vs_orm::tag_report)
            .service(relationships::books_with_reviews)
            .service(migrations::status)
            .service(data_migration::list)
            .service(backends::backend)
            .service(key_value::get_value)
            .service(key_value::put_value)
            .service(key_value::delete_value)
            .service(key_value::increment)
            .service(key_value::cached_report);
    })
}
