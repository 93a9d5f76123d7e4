//! Project 2 of the roadmap: an e-commerce API.
//!
//! ## How it reads
//!
//! The roadmap's second project asks for "complex relationships (Orders, Items, Products), ACID
//! transactions, Stripe integration". The phases' pieces, put together as a production service
//! would:
//!
//! | module | what it does | from the phases |
//! |---|---|---|
//! | [`catalogue`] | products, variants, categories, images; browsing with filters, ordering and pages; admins manage | phase 2's pagination and eager loading, phase 4's roles |
//! | [`carts`] | a customer's carts, with today's prices | phase 4's tokens |
//! | [`orders`] | a cart made into an order in one transaction; the order's states; reservations that expire | phase 3's transactions, phase 4's HATEOAS and idempotency keys, phase 5's queue |
//! | [`payments`], [`stripe`] | PaymentIntents, the customer's confirmation, refunds by line | phase 4's idempotency keys |
//! | [`webhooks`] | Stripe's signed events, applied once, in any order | |
//!
//! Without `STRIPE_SECRET_KEY` the shop starts [`fake_stripe`] beside itself and pays through it;
//! with it, the same client talks to Stripe (test mode with an `sk_test_` key).
//!
//! Money is `common::money::Money` everywhere: integer minor units beside a currency.
//!
//! Accounts are phase 4's: `POST /auth/register`, then `POST /auth/token` for a bearer token
//! (the demo users `ada`, a customer, and `admin` exist from the start). Metrics (`/metrics`) and
//! health checks (`/health/live`, `/health/ready`) are phase 7's.

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
use phase4_security::idempotency::{self, Records};
use phase4_security::passwords::Passwords;
use phase4_security::rate_limit::{Limiter, Quota};
use phase4_security::tokens::{KeyRing, Tokens};
use phase5_perf::jobs::queue::DbQueue;
use phase5_perf::jobs::worker::{Worker, WorkerConfig};

pub mod carts;
pub mod catalogue;
pub mod fake_stripe;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod schema;
pub mod seed;
pub mod stripe;
pub mod webhooks;

/// What the project is: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "shop",
    title: "Project 2: an e-commerce API",
    port: 8102,
    topics: &[Topic {
        id: "P2",
        title: "E-commerce API",
        modules: &[
            "src/catalogue.rs",
            "src/carts.rs",
            "src/orders.rs",
            "src/payments.rs",
            "src/stripe.rs",
            "src/webhooks.rs",
        ],
        routes: &[
            "GET /products",
            "POST /carts",
            "PUT /carts/{id}/items/{sku}",
            "POST /carts/{id}/checkout",
            "POST /orders/{id}/payment",
            "POST /webhooks/stripe",
            "POST /orders/{id}/refund",
        ],
    }],
    try_it: &[
        "curl -s '{base}/products?category=shoes&ordering=name'",
        "TOKEN=$(curl -s -X POST {base}/auth/token -d grant_type=password -d username=ada -d password=correct-horse-ada | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        r#"CART=$(curl -s -X POST {base}/carts -H "Authorization: Bearer $TOKEN" | sed -E 's/^\{"id":([0-9]+).*/\1/')"#,
        r#"curl -s -X PUT {base}/carts/$CART/items/TRAIL-42-BLUE -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"quantity":2}'"#,
        r#"curl -s -X POST {base}/carts/$CART/checkout -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Idempotency-Key: first-order' -d '{"email":"ada@example.com"}'"#,
    ],
};

/// The shop's tables.
pub static SHOP: MigrationSet = MigrationSet {
    name: "shop",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything the shop's database is made of: phase 4's accounts (and the library its orders
/// refer to), phase 5's job queue (and its outbox of sent emails), then the shop's own.
pub static SCHEMA: [&MigrationSet; 4] = [
    &LIBRARY,
    &phase4_security::ACCOUNTS,
    &phase5_perf::PERF,
    &SHOP,
];

/// The POSTs that take an `Idempotency-Key`; the document says so for the same list.
pub const IDEMPOTENT_POSTS: &[&str] = &["/carts/{id}/checkout", "/orders/{id}/payment"];

/// How many requests a client may make a minute.
pub const DEFAULT_RATE_LIMIT: u32 = 600;

/// What the shop runs with: flags, or the environment, each also readable from a file named by
/// `NAME_FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/shop.sqlite3",
        hide_env_values = true
    )]
    pub database_url: SecretUrl,
    /// Redis: idempotency records and rate limits shared by every instance; in process when
    /// absent.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,
    /// What this service's Redis keys start with.
    #[arg(long, env = "REDIS_PREFIX", default_value = "shop")]
    pub redis_prefix: String,
    /// The key tokens are signed with, a P-256 private key in PKCS#8 PEM; a fresh one at every
    /// start when absent.
    #[arg(long, env = "SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// How long a pending order holds its stock, in seconds.
    #[arg(long, env = "RESERVATION_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reservation_seconds: u64,
    /// Requests a client may make per minute.
    #[arg(long, env = "RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// Stripe's API.
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// A Stripe secret key (`sk_test_...` for test mode). Without one, payments go through a
    /// fake Stripe started beside the shop.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// The webhook endpoint's signing secret (`whsec_...`), needed with `STRIPE_SECRET_KEY`.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
    /// Leaves the demo catalogue out of a new database.
    #[arg(long)]
    pub no_demo_catalogue: bool,
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
            redis_prefix: "shop".to_owned(),
            signing_key: None,
            reservation_seconds: 900,
            stripe_api_base: "https://api.stripe.com".to_owned(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            no_demo_catalogue: false,
            workers: None,
        }
    }
}

/// What the routes share.
#[derive(Debug)]
pub struct Shop {
    pub database: Database,
    /// Phase 5's queue, for waking its worker after a commit that enqueued.
    pub jobs: DbQueue,
    /// How long a pending order holds its stock.
    pub reservation: Duration,
    pub payments: payments::Payments,
    /// The fake Stripe payments go through without `STRIPE_SECRET_KEY`, kept for as long as the
    /// shop runs.
    pub fake_stripe: Option<fake_stripe::FakeStripe>,
}

/// The demo secrets of the fake Stripe the shop starts without `STRIPE_SECRET_KEY`.
pub const FAKE_SECRET_KEY: &str = "sk_test_fake";
pub const FAKE_WEBHOOK_SECRET: &str = "whsec_fake";

/// Stripe as configured, or a fake one started now that sends its webhooks to `public_url`.
fn payments(
    config: &Config,
    public_url: &str,
) -> anyhow::Result<(payments::Payments, Option<fake_stripe::FakeStripe>)> {
    let (base, key, secret, fake) = match &config.stripe_secret_key {
        Some(key) => {
            let secret = config
                .stripe_webhook_secret
                .clone()
                .context("STRIPE_WEBHOOK_SECRET is needed with STRIPE_SECRET_KEY")?;
            (config.stripe_api_base.clone(), key.clone(), secret, None)
        }
        None => {
            let fake = fake_stripe::FakeStripe::start(FAKE_SECRET_KEY, FAKE_WEBHOOK_SECRET)?;
            fake.deliver_to(format!("{public_url}/webhooks/stripe"));
            (
                fake.base.clone(),
                FAKE_SECRET_KEY.to_owned(),
                FAKE_WEBHOOK_SECRET.to_owned(),
                Some(fake),
            )
        }
    };
    let stripe = stripe::Stripe::new(base, key)?;
    Ok((
        payments::Payments {
            stripe,
            webhook_secret: secret,
        },
        fake,
    ))
}

/// How often the sweep looks for ended reservations: a few times a reservation, at most every 5 s.
fn sweep_interval(reservation: Duration) -> Duration {
    (reservation / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

/// The shop from its configuration, listening on `listener`: what the binary, the tests and the
/// grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let public_url = format!("http://{}", listener.local_addr()?);
    let url = config.database_url.expose().to_owned();
    let database = tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA))
        .await?
        .with_context(|| format!("DATABASE_URL ({})", config.database_url))?;
    let passwords = Arc::new(Passwords::default());
    phase4_security::seed::seed(&database, &passwords).await?;
    if !config.no_demo_catalogue {
        let seeding = database.clone();
        tokio::task::spawn_blocking(move || seed::catalogue(&seeding)).await??;
    }
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
    let (records, limiter, redis) = match &config.redis_url {
        Some(url) => {
            let connection = common::redis::connect(url.expose())
                .await
                .context("REDIS_URL")?;
            (
                Records::redis(connection.clone(), &format!("{prefix}:idempotency")),
                Limiter::redis(quota, connection.clone(), &format!("{prefix}:ratelimit")),
                Some(connection),
            )
        }
        None => (Records::memory(), Limiter::memory(quota), None),
    };

    let jobs = DbQueue::new(database.clone());
    let worker = tokio::spawn(
        Worker {
            queue: jobs.clone(),
            database: database.clone(),
            config: WorkerConfig::named(format!("shop-{}", std::process::id())),
        }
        .run(common::server::shutdown_signal()),
    );
    let reservation = Duration::from_secs(config.reservation_seconds);
    let (payments, fake_stripe) = payments(&config, &public_url)?;
    let paying_through = match &fake_stripe {
        Some(fake) => format!(
            "a fake Stripe at {} (secret key {FAKE_SECRET_KEY}); set STRIPE_SECRET_KEY for Stripe",
            fake.base
        ),
        None => config.stripe_api_base.clone(),
    };
    let shop = web::Data::new(Shop {
        database: database.clone(),
        jobs,
        reservation,
        payments,
        fake_stripe,
    });
    let sweeper = tokio::spawn(orders::sweep(
        shop.clone(),
        sweep_interval(reservation),
        common::server::shutdown_signal(),
    ));

    let notes = vec![
        "demo users (never use these anywhere real):".to_owned(),
        "  ada    correct-horse-ada     a customer".to_owned(),
        "  admin  correct-horse-admin   manages the catalogue".to_owned(),
        String::new(),
        format!("database:      {}", database.display_url),
        format!(
            "reservations:  a pending order holds its stock for {} s",
            reservation.as_secs()
        ),
        format!("payments:      {paying_through}"),
        format!(
            "rate limits:   {} requests a minute per client, in {}",
            quota.limit,
            limiter.kind()
        ),
    ];
    let options = ServeOptions {
        workers: config.workers.map(usize::from),
        metrics: Some(common::metrics::HttpMetrics::new()?),
        health: Some(phase7_deploy::health::readiness(database.clone(), redis)),
        ..ServeOptions::default()
    };
    let state = State {
        shop,
        database: web::Data::new(database),
        token_service: web::Data::from(tokens.clone() as Arc<dyn TokenService>),
        tokens: web::Data::from(tokens),
        password_check: web::Data::from(passwords.clone() as Arc<dyn PasswordCheck>),
        passwords: web::Data::from(passwords),
        limiter: web::Data::new(limiter),
        records: web::Data::new(records),
    };
    Ok(Application::with_options(
        listener,
        &MANIFEST,
        openapi::document(),
        notes,
        options,
        routes(state),
    )?
    .with_background(worker)
    .with_background(sweeper))
}

/// What the routes are given.
#[derive(Clone)]
struct State {
    shop: web::Data<Shop>,
    database: web::Data<Database>,
    token_service: web::Data<dyn TokenService>,
    tokens: web::Data<Tokens>,
    password_check: web::Data<dyn PasswordCheck>,
    passwords: web::Data<Passwords>,
    limiter: web::Data<Limiter>,
    records: web::Data<Records>,
}

/// The routes, every one behind the rate limiter; the checkout also behind idempotency keys.
fn routes(state: State) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        let state = state.clone();
        cfg.service(
            web::scope("")
                .app_data(state.shop)
                .app_data(state.database)
                .app_data(state.token_service)
                .app_data(state.tokens)
                .app_data(state.password_check)
                .app_data(state.passwords)
                .app_data(state.limiter)
                .app_data(state.records)
                .wrap(from_fn(phase4_security::rate_limit::limit))
                .service(phase4_security::passwords::register)
                .service(phase4_security::tokens::endpoint::token_endpoint)
                .service(phase4_security::tokens::keys::jwks)
                .service(
                    web::resource("/products")
                        .route(web::get().to(catalogue::list_products))
                        .route(web::post().to(catalogue::create_product)),
                )
                .service(catalogue::get_product)
                .service(catalogue::change_variant)
                .service(
                    web::resource("/categories")
                        .route(web::get().to(catalogue::list_categories))
                        .route(web::post().to(catalogue::create_category)),
                )
                .service(web::resource("/carts").route(web::post().to(carts::create_cart)))
                .service(carts::get_cart)
                .service(carts::put_item)
                .service(carts::remove_item)
                .service(
                    web::resource("/carts/{id}/checkout").route(
                        web::post()
                            .to(orders::checkout_cart)
                            .wrap(from_fn(idempotency::idempotent)),
                    ),
                )
                .service(web::resource("/orders").route(web::get().to(orders::list_orders)))
                .service(orders::get_order)
                .service(orders::cancel_order)
                .service(orders::fulfil_order)
                .service(
                    web::resource("/orders/{id}/payment").route(
                        web::post()
                            .to(payments::start_payment)
                            .wrap(from_fn(idempotency::idempotent)),
                    ),
                )
                .service(payments::confirm_payment)
                .service(payments::refund_order)
                .service(webhooks::receive),
        );
    }
}
