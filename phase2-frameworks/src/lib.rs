//! Phase 2 of the roadmap: what FastAPI, Django REST Framework and Flask are loved for, done the
//! actix-web way, on a small library of authors, books and tags. One module per topic, listed in
//! [`MANIFEST`]; each opens with what the roadmap asks, the Python idiom, the Rust idiom here, and
//! why.
//!
//! The topic modules share [`crud`], which imports none of them: the trait a model implements for
//! a viewset, its errors, a page and an ordering. [`repository`] is that trait's diesel
//! implementation, in the shapes of [`serializers`] (2.5); [`viewsets`] (2.6) sees it only through
//! the trait, so neither imports the other. [`seed`] holds the demo data.
//!
//! [`build`] turns a [`Config`] into a running [`Application`]: the binary, the tests and the grader
//! all start phase 2 through it (or through [`serve`], with an [`AppState`] a test has changed).

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::web;
use anyhow::Context;
use common::db::Database;
use common::manifest::{Manifest, Topic};
use common::server::Application;
use url::Url;

pub mod async_handlers;
pub mod blueprints;
pub mod contexts;
pub mod crud;
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

/// What phase 2 teaches: the tour, `GET /` and the README's table are made from this list.
pub const MANIFEST: Manifest = Manifest {
    package: "phase2-frameworks",
    title: "Phase 2: the frameworks' strengths",
    port: 8002,
    topics: &[
        Topic {
            id: "2.1",
            title: "FastAPI core: path, query, body",
            modules: &["fastapi_core.rs"],
            routes: &["POST /api/authors/{author_id}/books"],
        },
        Topic {
            id: "2.2",
            title: "dependency injection",
            modules: &["dependencies.rs"],
            routes: &["GET /api/me"],
        },
        Topic {
            id: "2.3",
            title: "async endpoints",
            modules: &["async_handlers.rs"],
            routes: &["GET /api/books/{id}/price"],
        },
        Topic {
            id: "2.4",
            title: "auto docs: OpenAPI and its viewers",
            modules: &["openapi.rs"],
            routes: &["GET /openapi.json", "GET /docs/", "GET /rapidoc"],
        },
        Topic {
            id: "2.5",
            title: "DRF serializers, nested",
            modules: &["serializers.rs"],
            routes: &["GET /api/books/{id}"],
        },
        Topic {
            id: "2.6",
            title: "DRF viewsets and routers",
            modules: &["viewsets.rs"],
            routes: &[
                "GET /api/authors",
                "POST /api/authors",
                "GET /api/books",
                "DELETE /api/books/{id}",
            ],
        },
        Topic {
            id: "2.7",
            title: "select_related / prefetch_related",
            modules: &["eager_loading.rs"],
            routes: &["GET /api/authors-with-books"],
        },
        Topic {
            id: "2.8",
            title: "Flask blueprints",
            modules: &["blueprints.rs"],
            routes: &["GET /admin/stats"],
        },
        Topic {
            id: "2.9",
            title: "Flask contexts: application, request",
            modules: &["contexts.rs"],
            routes: &["GET /api/context"],
        },
        Topic {
            id: "2.10",
            title: "Flask extensions: CORS, compression",
            modules: &["extensions.rs"],
            routes: &["OPTIONS /api/books"],
        },
    ],
    try_it: &[
        "curl -s '{base}/api/books?ordering=-year&page_size=3'",
        "curl -s '{base}/api/books?tag=sf&tag=classic&year_min=1970'",
        "curl -si '{base}/api/authors-with-books?strategy=naive' | grep -i x-query-count",
        "curl -si '{base}/api/authors-with-books?strategy=eager' | grep -i x-query-count",
        r#"curl -si {base}/api/authors -H 'Authorization: Bearer admin-token' -H 'Content-Type: application/json' -d '{"name":"Iain M. Banks"}'"#,
        r#"curl -si '{base}/api/authors/1/books?dry_run=true' -H 'Authorization: Bearer admin-token' -H 'Content-Type: application/json' -d '{"title":"","year":99}'"#,
        "curl -si -X DELETE {base}/api/books/1 -H 'Authorization: Bearer reader-token'",
        "curl -s {base}/api/books/1/price",
        "curl -si {base}/admin/stats -H 'Authorization: Bearer admin-token'",
        "curl -si -X OPTIONS {base}/api/books -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST'",
        "open {base}/docs/ or {base}/rapidoc in a browser",
    ],
};

/// What phase 2 runs with: flags, or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created, with the demo data, if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase2.sqlite3")]
    pub database_url: String,
    /// The price service to call (topic 2.3); by default a simulated one on this server.
    #[arg(long, env = "PRICE_SERVICE_URL")]
    pub price_service_url: Option<Url>,
    /// Origins allowed by CORS, comma-separated (topic 2.10).
    #[arg(
        long,
        env = "CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:3000,http://127.0.0.1:3000"
    )]
    pub cors_origins: Vec<String>,
    /// Empty the library and fill it with the demo data again before serving (ids from 1 again).
    #[arg(long)]
    pub reset_demo: bool,
}

impl Config {
    /// The defaults, on `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            price_service_url: None,
            cors_origins: extensions::DEFAULT_ORIGINS
                .iter()
                .map(|origin| (*origin).to_owned())
                .collect(),
            reset_demo: false,
        }
    }
}

/// The author repository the app is built around: any storage with the author shapes. The app uses
/// diesel ([`DbAuthors`]); `tests/api/dependencies.rs` swaps in an in-memory fake (topic 2.2).
pub type Authors = dyn crud::Crud<
        Read = serializers::AuthorRead,
        Write = serializers::AuthorWrite,
        Patch = serializers::AuthorPatch,
        Filter = serializers::AuthorFilter,
    >;

/// The running app's state: its database and the parts a test may swap.
#[derive(Clone)]
pub struct AppState {
    pub database: Database,
    pub authors: Arc<Authors>,
    /// The price service (topic 2.3); `None` uses the simulated one on this server.
    pub price_service: Option<Url>,
    /// Origins allowed by CORS (topic 2.10).
    pub cors_origins: Vec<String>,
    pub users: Users,
}

impl AppState {
    /// The state on `database` (connected and migrated), with the defaults of [`Config`].
    pub fn new(database: Database) -> Self {
        Self::with_config(database, Config::new(""))
    }

    fn with_config(database: Database, config: Config) -> Self {
        Self {
            authors: Arc::new(DbAuthors(database.clone())),
            database,
            price_service: config.price_service_url,
            cors_origins: config.cors_origins,
            users: Users::demo(),
        }
    }

    /// Connects to the configured database, migrates it, and seeds the demo data into an empty
    /// library (or, with `--reset-demo`, into an emptied one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let url = config.database_url.clone();
        let reset = config.reset_demo;
        let database = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
            let database = Database::connect(&url)?;
            if reset {
                seed::reset(&database).context("resetting the demo data")?;
                tracing::info!("the demo data is back as it was");
            } else if seed::seed(&database).context("seeding the demo data")? {
                tracing::info!("seeded the demo data");
            }
            Ok(database)
        })
        .await??;
        Ok(Self::with_config(database, config))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("database", &self.database.display_url)
            .field("price_service", &self.price_service)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

/// Phase 2 from its configuration, listening on `listener`: what `main` runs.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let state = AppState::build(config).await?;
    Ok(serve(state, listener)?)
}

/// Phase 2 on `state`, listening on `listener`.
pub fn serve(state: AppState, listener: TcpListener) -> io::Result<Application> {
    let own_prices = format!("http://{}/upstream/prices/", listener.local_addr()?);
    let price_url = match state.price_service.clone() {
        Some(url) => url,
        None => Url::parse(&own_prices).map_err(io::Error::other)?,
    };
    let prices = web::Data::new(PriceService::new(price_url).map_err(io::Error::other)?);
    let notes = vec![
        format!("database: {}", state.database.display_url),
        "tokens: reader-token reads; admin-token reads and writes (POST, PUT, PATCH, DELETE)"
            .to_owned(),
        "deleted the demo data? restart with --reset-demo to have it back".to_owned(),
    ];
    let authors = state.authors;
    let books = Arc::new(DbBooks(state.database.clone()));
    let database = web::Data::new(state.database);
    let users = web::Data::new(state.users);
    let stats = web::Data::new(contexts::AppStats::default());
    let cors_origins = state.cors_origins;
    // The document is needed before the server starts (the shared layer answers OPTIONS and 405
    // from it), so it is made once here, from blueprints built only to be described.
    let document = openapi::document(&[
        &blueprints::catalog(authors.clone(), books.clone(), &cors_origins),
        &blueprints::admin(),
        &async_handlers::upstream(),
    ]);
    Application::new(listener, &MANIFEST, document, notes, move |cfg| {
        cfg.app_data(database.clone())
            .app_data(users.clone())
            .app_data(stats.clone())
            .app_data(prices.clone())
            .app_data(web::Data::from(books.clone()))
            .service(blueprints::catalog(
                authors.clone(),
                books.clone(),
                &cors_origins,
            ))
            .service(blueprints::admin())
            .service(async_handlers::upstream())
            .configure(openapi::routes);
    })
}
