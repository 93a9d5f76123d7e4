//! Project 1 of the roadmap: a URL shortener with click analytics.
//!
//! ## How it reads
//!
//! The roadmap's first project asks for "high read traffic, caching (Redis), redirect status
//! codes". The phases' pieces, put together as a production service would:
//!
//! | module | what it does | from the phases |
//! |---|---|---|
//! | [`codes`] | random codes (length by arithmetic), aliases, reserved words | |
//! | [`links`] | create, list, edit, delete; destinations refused; owners | phase 4's tokens and rate limiter |
//! | [`api_keys`] | keys for programs, acting as their user; revoked at once | phase 4's `Caller` |
//! | [`redirect`] | `GET /{code}`: each status on purpose, 410 after expiry or the last visit | phase 1's HTTP semantics |
//! | [`tiers`] | process tier, Redis, database; negative entries; every instance told of a change | phase 5's caching |
//! | [`visits`] | a bounded channel, a batching writer, bots flagged, salted unique visitors | phase 5's background work |
//! | [`stats`] | `GET /links/{code}/stats`, and a page with a chart | |
//! | [`qr`] | a QR code per link, PNG and SVG | |
//!
//! Accounts are phase 4's: `POST /auth/register`, then `POST /auth/token` for a bearer token
//! (the demo users `ada` and `admin` exist from the start). Metrics (`/metrics`) and health
//! checks (`/health/live`, `/health/ready`) are phase 7's, switched on in `ServeOptions`.
//!
//! Links and visit counts live in the database (SQLite, or PostgreSQL with `DATABASE_URL`);
//! with `REDIS_URL`, Redis is the shared cache tier and the rate limiter's store, and several
//! instances with the same `REDIS_PREFIX` and `SIGNING_KEY` act as one service.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::web;
use anyhow::Context;
use common::config::SecretUrl;
use common::db::{Database, LIBRARY, MigrationSet};
use common::manifest::{Manifest, Topic};
use common::server::{Application, ServeOptions};
use diesel_migrations::embed_migrations;
use phase4_security::auth::{PasswordCheck, TokenService};
use phase4_security::passwords::Passwords;
use phase4_security::rate_limit::{Limiter, Quota};
use phase4_security::tokens::{KeyRing, Tokens};
use phase5_perf::proxy::{Network, ProxySettings};

pub mod api_keys;
pub mod codes;
pub mod links;
pub mod openapi;
pub mod qr;
pub mod redirect;
pub mod schema;
pub mod stats;
pub mod tiers;
pub mod visits;

use crate::redirect::RedirectMetrics;
use crate::tiers::{Resolver, Shared};
use crate::visits::{VisitMetrics, Visits};

/// What the project is: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "shortener",
    title: "Project 1: a URL shortener with click analytics",
    port: 8101,
    topics: &[Topic {
        id: "P1",
        title: "URL shortener and analytics",
        modules: &[
            "src/codes.rs",
            "src/links.rs",
            "src/api_keys.rs",
            "src/redirect.rs",
            "src/tiers.rs",
            "src/visits.rs",
            "src/stats.rs",
            "src/qr.rs",
        ],
        routes: &[
            "POST /links",
            "GET /{code}",
            "GET /links/{code}/stats",
            "GET /links/{code}/stats.html",
            "GET /links/{code}/qr.svg",
        ],
    }],
    try_it: &[
        "TOKEN=$(curl -s -X POST {base}/auth/token -d grant_type=password -d username=ada -d password=correct-horse-ada | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        r#"curl -s -X POST {base}/links -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"url":"https://www.rust-lang.org/learn","alias":"learn-rust"}'"#,
        "curl -si {base}/learn-rust -A 'Mozilla/5.0 Firefox/133.0'",
        r#"curl -s {base}/links/learn-rust/stats -H "Authorization: Bearer $TOKEN""#,
    ],
};

/// The links and their visit counts.
pub static LINKS: MigrationSet = MigrationSet {
    name: "links",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything the shortener's database is made of: phase 4's (its accounts, and the library its
/// accounts' orders refer to), then the links.
pub static SCHEMA: [&MigrationSet; 3] = [&LIBRARY, &phase4_security::ACCOUNTS, &LINKS];

/// How many link changes, and logins, a user (or an address, without a token) may make a minute.
pub const DEFAULT_RATE_LIMIT: u32 = 300;

/// What the shortener runs with: flags, or the environment, each also readable from a file named
/// by `NAME_FILE` (`SIGNING_KEY_FILE=/run/secrets/signing_key.pem`).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/shortener.sqlite3",
        hide_env_values = true
    )]
    pub database_url: SecretUrl,
    /// Redis: the shared cache tier, and the rate limits; in process only when absent.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,
    /// What this service's Redis keys start with: instances with the same prefix are one service.
    #[arg(long, env = "REDIS_PREFIX", default_value = "shortener")]
    pub redis_prefix: String,
    /// The URL short links start with (`https://sho.rt`); the listening address when absent.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The key tokens are signed with, a P-256 private key in PKCS#8 PEM; instances that share it
    /// accept each other's tokens. A fresh one at every start when absent.
    #[arg(long, env = "SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// Link changes and logins a client may make per minute.
    #[arg(long, env = "RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// Visits held for the writer; beyond that, visits are dropped and counted.
    #[arg(long, env = "VISIT_BUFFER", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub visit_buffer: u64,
    /// Proxies whose `Forwarded` and `X-Forwarded-For` are believed (`127.0.0.2`, `10.0.0.0/8`).
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<Network>,
    /// Leaves the process tier out, so that every redirect asks Redis or the database: for
    /// `scripts/bench-http` to show what each tier buys.
    #[arg(long, hide = true)]
    pub skip_memory_tier: bool,
    /// Worker threads; one per core when absent.
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
}

impl Config {
    /// The defaults, on `database_url`: everything in process.
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: SecretUrl::from(database_url.into()),
            redis_url: None,
            redis_prefix: "shortener".to_owned(),
            public_url: None,
            signing_key: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            visit_buffer: 65_536,
            trusted_proxies: Vec::new(),
            skip_memory_tier: false,
            workers: None,
        }
    }
}

/// What the routes share.
#[derive(Debug)]
pub struct Shortener {
    pub database: Database,
    pub resolver: Resolver,
    pub visits: Visits,
    pub metrics: RedirectMetrics,
    /// Without a trailing slash: `http://127.0.0.1:8101`.
    pub public_url: String,
    /// `host:port` of the public URL, to refuse links to ourselves.
    pub public_authority: Option<String>,
    /// How long random codes are ([`codes::code_length`]).
    pub code_length: usize,
}

/// `bytes` in lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A name for this instance in its acknowledgements: unique even for two in one process.
fn instance_name() -> String {
    use rand_core::RngCore;
    format!(
        "shortener-{}-{:08x}",
        std::process::id(),
        rand_core::OsRng.next_u32()
    )
}

/// The shortener from its configuration, listening on `listener`: what the binary, the tests and
/// the grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let public_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let public_authority = url::Url::parse(&public_url)
        .with_context(|| format!("PUBLIC_URL ({public_url}) is not a URL"))?;
    let public_authority = public_authority
        .host_str()
        .zip(public_authority.port_or_known_default())
        .map(|(host, port)| format!("{}:{port}", host.to_ascii_lowercase()));

    let url = config.database_url.expose().to_owned();
    let database = tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA))
        .await?
        .with_context(|| format!("DATABASE_URL ({})", config.database_url))?;
    let passwords = Arc::new(Passwords::default());
    phase4_security::seed::seed(&database, &passwords).await?;
    let keys = match &config.signing_key {
        Some(pem) => KeyRing::from_pem(pem).context("SIGNING_KEY")?,
        None => KeyRing::generate()?,
    };
    let tokens = Arc::new(Tokens::with_keys(public_url.clone(), keys));

    let quota = Quota {
        limit: config.rate_limit,
        period: Duration::from_secs(60),
    };
    let prefix = &config.redis_prefix;
    let (shared, limiter, redis) = match &config.redis_url {
        Some(url) => {
            let connection = common::redis::connect(url.expose())
                .await
                .context("REDIS_URL")?;
            let broadcast = common::redis::Broadcast::new(
                url.expose(),
                connection.clone(),
                &format!("{prefix}:changes"),
                &instance_name(),
            )?;
            let shared = Shared {
                connection: connection.clone(),
                prefix: prefix.clone(),
                broadcast,
            };
            let limiter = Limiter::redis(quota, connection.clone(), &format!("{prefix}:ratelimit"));
            (Some(shared), limiter, Some(connection))
        }
        None => (None, Limiter::memory(quota), None),
    };
    let resolver = Resolver::new(database.clone(), shared, !config.skip_memory_tier).await?;

    let http_metrics = common::metrics::HttpMetrics::new()?;
    let visit_metrics = VisitMetrics::new(http_metrics.registry())?;
    let redirect_metrics = RedirectMetrics::new(http_metrics.registry())?;
    let capacity = usize::try_from(config.visit_buffer).unwrap_or(65_536);
    let (visits, writer) = Visits::start(database.clone(), capacity, visit_metrics);

    let notes = vec![
        "demo users (never use these anywhere real):".to_owned(),
        "  ada    correct-horse-ada".to_owned(),
        "  admin  correct-horse-admin".to_owned(),
        String::new(),
        format!("short links:   {public_url}/CODE"),
        format!("database:      {}", database.display_url),
        format!("redirects via: {}", resolver.tiers()),
        format!(
            "rate limits:   {} link changes and logins a minute per client, in {}",
            quota.limit,
            limiter.kind()
        ),
        format!("visit buffer:  {capacity} visits"),
    ];
    let shortener = Shortener {
        database: database.clone(),
        resolver,
        visits,
        metrics: redirect_metrics,
        public_url,
        public_authority,
        code_length: codes::code_length(codes::EXPECTED_LINKS, codes::RETRY_ODDS),
    };
    let options = ServeOptions {
        workers: config.workers.map(usize::from),
        metrics: Some(http_metrics),
        health: Some(phase7_deploy::health::readiness(database.clone(), redis)),
        ..ServeOptions::default()
    };
    let proxies = ProxySettings {
        trusted: config.trusted_proxies.clone(),
        instance: String::new(),
    };
    let state = State {
        shortener: web::Data::new(shortener),
        database: web::Data::new(database),
        token_service: web::Data::from(tokens.clone() as Arc<dyn TokenService>),
        tokens: web::Data::from(tokens),
        password_check: web::Data::from(passwords.clone() as Arc<dyn PasswordCheck>),
        passwords: web::Data::from(passwords),
        limiter: web::Data::new(limiter),
        proxies: web::Data::new(proxies),
    };
    Ok(Application::with_options(
        listener,
        &MANIFEST,
        openapi::document(),
        notes,
        options,
        routes(state),
    )?
    .with_background(writer))
}

/// What the routes are given.
#[derive(Clone)]
struct State {
    shortener: web::Data<Shortener>,
    database: web::Data<Database>,
    token_service: web::Data<dyn TokenService>,
    tokens: web::Data<Tokens>,
    password_check: web::Data<dyn PasswordCheck>,
    passwords: web::Data<Passwords>,
    limiter: web::Data<Limiter>,
    proxies: web::Data<ProxySettings>,
}

/// The routes. Fixed paths are matched before patterns, and `/links` and `/api-keys` before
/// `/{code}`, which would take them; everything but the redirect, the QR codes and the page is
/// rate-limited, after an API key, if one is sent, has said who the caller is.
fn routes(state: State) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        let state = state.clone();
        cfg.app_data(state.shortener)
            .app_data(state.database)
            .app_data(state.token_service)
            .app_data(state.tokens)
            .app_data(state.password_check)
            .app_data(state.passwords)
            .app_data(state.limiter)
            .app_data(state.proxies)
            .service(
                web::resource("/links")
                    .wrap(from_fn(phase4_security::rate_limit::limit))
                    .wrap(from_fn(api_keys::authenticate))
                    .route(web::get().to(links::list_links))
                    .route(web::post().to(links::create_link)),
            )
            .service(
                web::resource("/api-keys")
                    .wrap(from_fn(phase4_security::rate_limit::limit))
                    .wrap(from_fn(api_keys::authenticate))
                    .route(web::get().to(api_keys::list_keys))
                    .route(web::post().to(api_keys::create_key)),
            )
            .service(web::resource("/{code}").route(web::get().to(redirect::follow)))
            .service(qr::qr_png)
            .service(qr::qr_svg)
            .service(stats::stats_page)
            .service(
                web::scope("")
                    .wrap(from_fn(phase4_security::rate_limit::limit))
                    .wrap(from_fn(api_keys::authenticate))
                    .service(phase4_security::passwords::register)
                    .service(phase4_security::tokens::endpoint::token_endpoint)
                    .service(phase4_security::tokens::keys::jwks)
                    .service(stats::link_stats)
                    .service(links::get_link)
                    .service(links::change_link)
                    .service(links::delete_link)
                    .service(api_keys::revoke_key),
            );
    }
}
