//! Phase 2 of the roadmap: what FastAPI, Django REST Framework and Flask are loved for, done the
//! actix-web way, on a small library of authors, books and tags. One module per topic; each opens
//! with what the roadmap asks, the Python idiom, the Rust idiom here, and why.
//!
//! | ID | topic | module |
//! |---|---|---|
//! | 2.1 | FastAPI core: path, query, body | [`fastapi_core`] |
//! | 2.2 | dependency injection | [`dependencies`] |
//! | 2.3 | async endpoints | [`async_handlers`] |
//! | 2.4 | auto docs | [`openapi`] |
//! | 2.5 | DRF serializers | [`serializers`] |
//! | 2.6 | DRF viewsets and routers | [`viewsets`] |
//! | 2.7 | `select_related` / `prefetch_related` | [`eager_loading`] |
//! | 2.8 | Flask blueprints | [`blueprints`] |
//! | 2.9 | Flask contexts | [`contexts`] |
//! | 2.10 | Flask extensions | [`extensions`] |
//!
//! [`repository`] holds the diesel implementations the viewsets use, and [`seed`] the demo data.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::web;
use common::db::Database;
use url::Url;

pub mod async_handlers;
pub mod blueprints;
pub mod contexts;
pub mod dependencies;
pub mod eager_loading;
pub mod extensions;
pub mod fastapi_core;
pub mod openapi;
pub mod repository;
pub mod seed;
pub mod serializers;
pub mod viewsets;

use crate::async_handlers::PriceService;
use crate::dependencies::Users;
use crate::repository::{DbAuthors, DbBooks};

/// The port `cargo run -p phase2-frameworks` listens on.
pub const DEFAULT_PORT: u16 = 8002;

/// The author repository the app is built around: any storage with the author shapes. The app uses
/// diesel ([`DbAuthors`]); `tests/dependencies.rs` swaps in an in-memory fake (topic 2.2).
pub type Authors = dyn viewsets::Crud<
        Read = serializers::AuthorRead,
        Write = serializers::AuthorWrite,
        Patch = serializers::AuthorPatch,
        Filter = serializers::AuthorFilter,
    >;

/// What phase 2 runs with.
#[derive(Clone)]
pub struct Settings {
    pub database: Database,
    pub authors: Arc<Authors>,
    /// The price service (topic 2.3); `None` uses the simulated one on this server.
    pub price_service: Option<Url>,
    /// Origins allowed by CORS (topic 2.10).
    pub cors_origins: Vec<String>,
    pub users: Users,
}

impl Settings {
    /// Defaults for everything but the database.
    pub fn new(database: Database) -> Self {
        Self {
            authors: Arc::new(DbAuthors(database.clone())),
            database,
            price_service: None,
            cors_origins: extensions::DEFAULT_ORIGINS
                .iter()
                .map(|o| (*o).to_owned())
                .collect(),
            users: Users::demo(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database", &self.database.display_url)
            .field("price_service", &self.price_service)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

/// Phase 2's app on `listener`.
pub fn serve(listener: TcpListener, settings: Settings) -> io::Result<Server> {
    let own_prices = format!("http://{}/upstream/prices/", listener.local_addr()?);
    let price_url = match settings.price_service.clone() {
        Some(url) => url,
        None => Url::parse(&own_prices).map_err(io::Error::other)?,
    };
    let prices = web::Data::new(PriceService::new(price_url).map_err(io::Error::other)?);
    let authors = settings.authors;
    let books = Arc::new(DbBooks(settings.database.clone()));
    let database = web::Data::new(settings.database.clone());
    let users = web::Data::new(settings.users.clone());
    let stats = web::Data::new(contexts::AppStats::default());
    let cors_origins = settings.cors_origins;
    common::server::serve(listener, move |cfg| {
        let catalog = blueprints::catalog(authors.clone(), books.clone(), &cors_origins);
        let admin = blueprints::admin();
        let doc = openapi::document(&[&catalog, &admin]);
        cfg.app_data(database.clone())
            .app_data(users.clone())
            .app_data(stats.clone())
            .app_data(prices.clone())
            .app_data(web::Data::from(books.clone()))
            .service(catalog)
            .service(admin)
            .route(
                "/upstream/prices/{id}",
                web::get().to(async_handlers::simulated_price),
            )
            .configure(openapi::routes(doc));
    })
}
