//! Phase 4 of the roadmap: security, and the practices that make an API safe to call. One module
//! per topic; each opens with what the roadmap asks, the Python idiom, the Rust idiom here, and why.
//!
//! | ID | topic | module |
//! |---|---|---|
//! | 4.1 | JWT access and refresh tokens | [`tokens`] |
//! | 4.2 | password hashing | [`passwords`] |
//! | 4.3 | OAuth 2.0 / OpenID Connect: the provider | [`provider`] |
//! | 4.3 | OAuth 2.0 / OpenID Connect: "Login with" | [`login`] |
//! | 4.4 | RBAC | [`rbac`] |
//! | 4.5 | scopes | [`scopes`] (and [`openapi`]) |
//! | 4.6 | versioning | [`versioning`] |
//! | 4.7 | HATEOAS | [`hateoas`] |
//! | 4.8 | idempotency keys | [`idempotency`] |
//! | 4.9 | rate limiting | [`rate_limit`] |
//!
//! Users, refresh tokens, authorization codes and orders live in the database (SQLite, or
//! PostgreSQL with `DATABASE_URL`); idempotency records and rate-limit buckets in Redis with
//! `REDIS_URL`, in process otherwise.

use std::io;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web;
use common::db::{Database, LIBRARY, MigrationSet};
use diesel_migrations::embed_migrations;

pub mod hateoas;
pub mod idempotency;
pub mod login;
pub mod openapi;
pub mod passwords;
pub mod provider;
pub mod rate_limit;
pub mod rbac;
pub mod schema;
pub mod scopes;
pub mod seed;
pub mod tokens;
pub mod versioning;

use crate::idempotency::Records;
use crate::login::{LoginWith, ProviderConfig};
use crate::provider::{Clients, RegisteredClient};
use crate::rate_limit::{Limiter, Quota};
use crate::tokens::Tokens;

/// The port `cargo run -p phase4-security` listens on.
pub const DEFAULT_PORT: u16 = 8004;

/// Phase 4's own tables: users, refresh tokens, authorization codes, orders.
pub static ACCOUNTS: MigrationSet = MigrationSet {
    name: "accounts",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything phase 4's database is made of: the shared library, then the accounts.
pub static SCHEMA: [&MigrationSet; 2] = [&LIBRARY, &ACCOUNTS];

/// The default quota: 300 requests a minute per user (or per address, without a token): five a
/// second sustained, with bursts of up to 300.
pub const DEFAULT_QUOTA: Quota = Quota {
    limit: 300,
    period: std::time::Duration::from_secs(60),
};

/// What phase 4 runs with.
#[derive(Debug)]
pub struct Settings {
    /// Migrated with [`SCHEMA`].
    pub database: Database,
    pub tokens: Tokens,
    /// The OpenID Connect provider's clients.
    pub clients: Clients,
    /// The providers of "Login with".
    pub login: LoginWith,
    pub records: Records,
    pub limiter: Limiter,
}

impl Settings {
    /// Everything in process, for a server reached at `base_url` (`http://127.0.0.1:8004`): that is
    /// the tokens' issuer. The server's own provider is registered as the `local` login provider,
    /// and the demo public client (`demo-client`) with it.
    pub fn new(database: Database, base_url: &str) -> anyhow::Result<Self> {
        let base_url = base_url.trim_end_matches('/');
        let local = RegisteredClient {
            id: "phase4-login".to_owned(),
            secret: Some(tokens::random_token()),
            redirect_uris: vec![format!("{base_url}/login/local/callback")],
        };
        let provider = ProviderConfig {
            name: "local".to_owned(),
            issuer: base_url.to_owned(),
            client_id: local.id.clone(),
            client_secret: local.secret.clone(),
        };
        Ok(Self {
            database,
            tokens: Tokens::new(base_url)?,
            clients: Clients(vec![local, provider::demo_client()]),
            login: LoginWith::new(vec![provider], base_url)?,
            records: Records::memory(),
            limiter: Limiter::memory(DEFAULT_QUOTA),
        })
    }

    /// Another provider to log in with.
    pub fn with_provider(mut self, provider: ProviderConfig) -> Self {
        self.login.providers.push(provider);
        self
    }
}

/// Phase 4's app on `listener`.
pub fn serve(listener: TcpListener, settings: Settings) -> io::Result<Server> {
    let database = web::Data::new(settings.database);
    let tokens = web::Data::new(settings.tokens);
    let clients = web::Data::new(settings.clients);
    let login = web::Data::new(settings.login);
    let records = web::Data::new(settings.records);
    let limiter = web::Data::new(settings.limiter);
    common::server::serve(listener, move |cfg| {
        cfg.app_data(database.clone())
            .app_data(tokens.clone())
            .app_data(clients.clone())
            .app_data(login.clone())
            .app_data(records.clone())
            .app_data(limiter.clone())
            .configure(openapi::routes)
            .service(
                web::scope("")
                    .wrap(from_fn(rate_limit::limit))
                    .service(passwords::register)
                    .service(tokens::token_endpoint)
                    .service(tokens::jwks)
                    .service(provider::discovery)
                    .service(provider::authorize)
                    .service(provider::sign_in)
                    .service(provider::redeem)
                    .service(provider::userinfo)
                    .service(login::list_providers)
                    .service(login::callback)
                    .service(login::start)
                    .service(rbac::list_users)
                    .service(rbac::rotate_keys)
                    .service(versioning::list_v1)
                    .service(versioning::get_v1)
                    .service(versioning::list_v2)
                    .service(versioning::get_v2)
                    .service(versioning::get_negotiated)
                    .service(scopes::create_book)
                    .service(hateoas::create)
                    .service(hateoas::list)
                    .service(hateoas::retrieve)
                    .service(hateoas::act),
            );
    })
}
