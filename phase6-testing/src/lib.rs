//! Phase 6 of the roadmap: testing.
//!
//! ## How it reads
//!
//! Here the tests are the lesson. The crate is a small service worth testing, a box office:
//! events in a venue's time zone with a capacity and a price ([`events`]), bookings that take
//! seats in a transaction and are paid through an external payment provider over HTTP
//! ([`bookings`], [`payments`]), and cancellations refunded until the start of the event's day.
//! Its edges are the ones real services get wrong: pages, time zones and daylight saving, money
//! rounding, capacity under concurrency, lost updates, a provider that times out or answers
//! nonsense.
//!
//! | ID | topic | chapter |
//! |---|---|---|
//! | 6.1 | fixtures | `tests/api/fixtures.rs` |
//! | 6.2 | parametrized tests | `tests/api/cases.rs`, `tests/api/properties.rs` |
//! | 6.3 | mocking external services | `tests/api/mocking.rs`, and the mockall tests in [`bookings`]'s [`payments`] |
//! | 6.4 | integration testing | `tests/api/flows.rs` |
//! | 6.5 | performance testing | `benches/quote.rs`, `load/src/main.rs` |
//!
//! The service's vocabulary: [`money`] (integer minor units), [`schedule`] (wall-clock time in a
//! zone, and the instant it names), [`clock`] (the time, as a dependency), [`bugs`] (the mistakes
//! it can be started with, which grade the tests). The assembly: this file ([`Config`],
//! [`Services`], [`build`]), [`openapi`], [`seed`] and `main.rs`.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use common::config::redact_url;
use common::db::{Database, MigrationSet};
use common::manifest::{Manifest, Topic};
use common::server::Application;
use diesel_migrations::embed_migrations;
use url::Url;

pub mod bookings;
pub mod bugs;
pub mod clock;
pub mod events;
pub mod money;
pub mod openapi;
pub mod payments;
pub mod schedule;
pub mod schema;
pub mod seed;

use crate::clock::{Clock, SystemClock};
use crate::events::BoxOffice;
use crate::payments::{HttpGateway, LocalGateway, PaymentGateway, RetryPolicy};

/// What phase 6 teaches: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "phase6-testing",
    title: "Phase 6: testing",
    port: 8006,
    topics: &[
        Topic {
            id: "6.1",
            title: "fixtures",
            modules: &["tests/api/fixtures.rs"],
            routes: &["POST /events", "GET /events/{id}"],
        },
        Topic {
            id: "6.2",
            title: "parametrized tests",
            modules: &["tests/api/cases.rs", "tests/api/properties.rs"],
            routes: &["GET /events", "POST /events"],
        },
        Topic {
            id: "6.3",
            title: "mocking external services",
            modules: &["tests/api/mocking.rs", "src/payments.rs"],
            routes: &["POST /events/{id}/bookings", "POST /bookings/{id}/cancel"],
        },
        Topic {
            id: "6.4",
            title: "integration testing",
            modules: &["tests/api/flows.rs"],
            routes: &[
                "PATCH /events/{id}",
                "DELETE /events/{id}",
                "GET /bookings/{id}",
            ],
        },
        Topic {
            id: "6.5",
            title: "performance testing",
            modules: &["benches/quote.rs", "load/src/main.rs"],
            routes: &["GET /events", "GET /events/{id}"],
        },
    ],
    try_it: &[
        "curl -s '{base}/events?per_page=2'",
        r#"curl -si -X POST {base}/events -H 'Content-Type: application/json' -d '{"title":"Night of clocks","time_zone":"Europe/Paris","starts_local":"2027-03-28T02:30","capacity":10,"price_minor":1999,"currency":"EUR"}' | head -1"#,
        r#"curl -s -X POST {base}/events/1/bookings -H 'Content-Type: application/json' -d '{"email":"ada@example.com","seats":2}'"#,
        r#"curl -si -X PATCH {base}/events/1 -H 'If-Match: "v0"' -H 'Content-Type: application/json' -d '{"capacity":50}' | head -1"#,
    ],
};

/// The box office's tables.
pub static BOX_OFFICE: MigrationSet = MigrationSet {
    name: "box_office",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything phase 6's database is made of.
pub static SCHEMA: [&MigrationSet; 1] = [&BOX_OFFICE];

/// What phase 6 runs with: flags, or the environment.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase6.sqlite3")]
    pub database_url: String,
    /// The payment provider's API (`http://127.0.0.1:9000`); an in-process one that approves
    /// everything when absent.
    #[arg(long, env = "PAYMENTS_URL")]
    pub payments_url: Option<Url>,
    /// Tries of one payment call, the first included.
    #[arg(long, env = "PAYMENTS_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub payments_attempts: u32,
    /// The wait after a failed try, in milliseconds; it doubles each time.
    #[arg(long, env = "PAYMENTS_BACKOFF_MS", default_value_t = 200)]
    pub payments_backoff_ms: u64,
    /// How long one try may take, in milliseconds.
    #[arg(long, env = "PAYMENTS_TIMEOUT_MS", default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub payments_timeout_ms: u64,
    /// Adds the demo events to an empty database.
    #[arg(long, env = "SEED", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed: bool,
}

/// Written by hand so that no password (in a URL) reaches a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "payments_url",
                &self
                    .payments_url
                    .as_ref()
                    .map(|url| redact_url(url.as_str())),
            )
            .field("payments_attempts", &self.payments_attempts)
            .field("payments_backoff_ms", &self.payments_backoff_ms)
            .field("payments_timeout_ms", &self.payments_timeout_ms)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Config {
    /// The defaults, on `database_url`: the in-process provider, no demo events.
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            payments_url: None,
            payments_attempts: 3,
            payments_backoff_ms: 200,
            payments_timeout_ms: 2_000,
            seed: false,
        }
    }

    /// How payment calls are retried.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.payments_attempts,
            backoff: Duration::from_millis(self.payments_backoff_ms),
            timeout: Duration::from_millis(self.payments_timeout_ms),
        }
    }
}

/// What the service depends on besides its database: given to [`build_with`], so that a test
/// can give a fake clock and a fake, stubbed or mocked provider.
#[derive(Clone)]
pub struct Services {
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentGateway>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("clock", &self.clock)
            .field("payments", &self.payments.describe())
            .finish()
    }
}

impl Services {
    /// The system clock, and the provider `config` names (or the in-process one).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let payments: Arc<dyn PaymentGateway> = match &config.payments_url {
            Some(url) => Arc::new(HttpGateway::new(url.clone(), config.retry())?),
            None => Arc::new(LocalGateway::default()),
        };
        Ok(Self {
            clock: Arc::new(SystemClock),
            payments,
        })
    }
}

/// Opens and migrates `config`'s database, seeding it when asked.
pub async fn connect(config: &Config) -> anyhow::Result<Database> {
    let url = config.database_url.clone();
    let database =
        tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA)).await??;
    if config.seed {
        let seeding = database.clone();
        tokio::task::spawn_blocking(move || seed::demo(&seeding)).await??;
    }
    Ok(database)
}

/// Phase 6 from its configuration, listening on `listener`: what the binary and the grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let services = Services::from_config(&config)?;
    build_with(&config, services, listener).await
}

/// [`build`] with the services given: what the tests start.
pub async fn build_with(
    config: &Config,
    services: Services,
    listener: TcpListener,
) -> anyhow::Result<Application> {
    let database = connect(config).await?;
    Ok(serve(box_office(database, services), listener)?)
}

/// The state the routes share.
pub fn box_office(database: Database, services: Services) -> BoxOffice {
    BoxOffice {
        database,
        clock: services.clock,
        payments: services.payments,
    }
}

/// The routes, on `office`: for [`serve`], and for `common::server::test_service` in the tests
/// that call the app in process.
pub fn routes(office: BoxOffice) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let office = web::Data::new(office);
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(office.clone())
            .service(events::list_events)
            .service(events::create_event)
            .service(events::get_event)
            .service(events::change_event)
            .service(events::delete_event)
            .service(bookings::book)
            .service(bookings::get_booking)
            .service(bookings::cancel);
    }
}

/// Phase 6 on `listener`.
pub fn serve(office: BoxOffice, listener: TcpListener) -> io::Result<Application> {
    let mut notes = vec![
        format!("database:      {}", office.database.display_url),
        format!("payments:      {}", office.payments.describe()),
    ];
    if let Some(bug) = bugs::current() {
        notes.push(format!(
            "PLANTED BUG:   {} (this server is wrong on purpose)",
            bug.name()
        ));
    }
    Application::new(
        listener,
        &MANIFEST,
        openapi::document(),
        notes,
        routes(office),
    )
}
