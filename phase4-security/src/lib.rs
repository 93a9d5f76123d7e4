//! Phase 4 of the roadmap: security, and the practices that make an API safe to call.
//!
//! ## How it reads
//!
//! One chapter per topic ([`MANIFEST`] lists them, and the tour prints them). Each opens with what
//! the roadmap asks, the Python idiom, the Rust idiom here, and why; each imports only the
//! vocabulary below and `common`, never another chapter, so any of them reads on its own (the
//! `layout` test checks it).
//!
//! | ID | topic | chapter |
//! |---|---|---|
//! | 4.1 | JWT access and refresh tokens | [`tokens`]: [`tokens::keys`], [`tokens::refresh`], [`tokens::endpoint`] |
//! | 4.2 | password hashing | [`passwords`] |
//! | 4.3 | OAuth 2.0 / OpenID Connect: the provider | [`provider`] |
//! | 4.3 | OAuth 2.0 / OpenID Connect: "Login with" | [`login`] |
//! | 4.4 | RBAC | [`rbac`] |
//! | 4.5 | scopes | [`scopes`] |
//! | 4.6 | versioning | [`versioning`] |
//! | 4.7 | HATEOAS | [`hateoas`] |
//! | 4.8 | idempotency keys | [`idempotency`] |
//! | 4.9 | rate limiting | [`rate_limit`] |
//!
//! The vocabulary, the words the chapters share (none imports a chapter):
//! - [`users`]: accounts, roles, and the queries on them; usernames compared in one form;
//! - [`auth`]: who is calling ([`auth::Caller`]), what a token may do ([`auth::Scope`]), and what
//!   the chapters need of tokens and passwords ([`auth::TokenService`], [`auth::PasswordCheck`]);
//! - [`books`]: the catalogue, a book with its author;
//! - [`oauth`]: OAuth's small helpers (random tokens, SHA-256, the clock, its error member);
//! - [`schema`]: phase 4's tables.
//!
//! And the assembly, which may use anything: this file ([`Config`], [`AppState`], [`build`],
//! [`serve`]), [`openapi`] (the document), [`seed`] (the demo data) and `main.rs`.
//!
//! Users, refresh tokens, authorization codes and orders live in the database (SQLite, or
//! PostgreSQL with `DATABASE_URL`); idempotency records and rate-limit buckets in Redis with
//! `REDIS_URL`, in process otherwise. [`build`] decides, for the binary, the tests and the grader.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::web;
use common::config::redact_url;
use common::db::{Database, LIBRARY, MigrationSet};
use common::manifest::{Manifest, Topic};
use common::server::Application;
use diesel_migrations::embed_migrations;

pub mod auth;
pub mod books;
pub mod hateoas;
pub mod idempotency;
pub mod login;
pub mod oauth;
pub mod openapi;
pub mod passwords;
pub mod provider;
pub mod rate_limit;
pub mod rbac;
pub mod schema;
pub mod scopes;
pub mod seed;
pub mod tokens;
pub mod users;
pub mod versioning;

use crate::auth::{Caller, PasswordCheck, TokenService};
use crate::idempotency::Records;
use crate::login::{LoginWith, ProviderConfig};
use crate::passwords::Passwords;
use crate::provider::{Clients, RegisteredClient};
use crate::rate_limit::{Limiter, Quota};
use crate::tokens::Tokens;

/// What phase 4 teaches: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "phase4-security",
    title: "Phase 4: security and API best practices",
    port: 8004,
    topics: &[
        Topic {
            id: "4.1",
            title: "JWT access and refresh tokens",
            modules: &[
                "tokens/mod.rs",
                "tokens/keys.rs",
                "tokens/refresh.rs",
                "tokens/endpoint.rs",
            ],
            routes: &["POST /auth/token", "GET /.well-known/jwks.json"],
        },
        Topic {
            id: "4.2",
            title: "password hashing",
            modules: &["passwords.rs"],
            routes: &["POST /auth/register"],
        },
        Topic {
            id: "4.3",
            title: "OpenID Connect provider",
            modules: &["provider.rs"],
            routes: &[
                "GET /.well-known/openid-configuration",
                "GET /oauth/authorize",
                "POST /oauth/token",
                "GET /oauth/userinfo",
            ],
        },
        Topic {
            id: "4.3",
            title: "\"Login with\" a provider",
            modules: &["login.rs"],
            routes: &["GET /login", "GET /login/local"],
        },
        Topic {
            id: "4.4",
            title: "RBAC",
            modules: &["rbac.rs"],
            routes: &["GET /admin/users", "POST /admin/keys/rotate"],
        },
        Topic {
            id: "4.5",
            title: "scopes",
            modules: &["scopes.rs"],
            routes: &["POST /v2/books"],
        },
        Topic {
            id: "4.6",
            title: "versioning",
            modules: &["versioning.rs"],
            routes: &["GET /v1/books", "GET /v2/books", "GET /books/{id}"],
        },
        Topic {
            id: "4.7",
            title: "HATEOAS",
            modules: &["hateoas.rs"],
            routes: &[
                "GET /orders",
                "GET /orders/{id}",
                "POST /orders/{id}/{action}",
            ],
        },
        Topic {
            id: "4.8",
            title: "idempotency keys",
            modules: &["idempotency.rs"],
            routes: &["POST /orders"],
        },
        Topic {
            id: "4.9",
            title: "rate limiting with Redis",
            modules: &["rate_limit.rs"],
            routes: &["GET /v2/books"],
        },
    ],
    try_it: &[
        r#"curl -s -X POST {base}/auth/register -H 'Content-Type: application/json' -d '{"username":"grace","password":"a long passphrase"}'"#,
        "TOKEN=$(curl -s -X POST {base}/auth/token -d grant_type=password -d username=ada -d password=correct-horse-ada | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        "curl -s {base}/v2/books/1 -H \"Authorization: Bearer $TOKEN\"",
        "curl -si {base}/v1/books/1 -H \"Authorization: Bearer $TOKEN\" | grep -iE 'deprecation|sunset|link'",
        "curl -si {base}/admin/users -H \"Authorization: Bearer $TOKEN\" | head -1",
        r#"curl -s -X POST {base}/orders -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: order-1' -H 'Content-Type: application/json' -d '{"book_id":1,"quantity":2}'"#,
        "for i in $(seq 400); do curl -s -o /dev/null -w '%{http_code}\\n' {base}/v2/books -H \"Authorization: Bearer $TOKEN\"; done | sort | uniq -c",
        "open {base}/login/local in a browser, or {base}/docs/ and \"Authorize\"",
    ],
};

/// The POSTs wrapped in idempotency keys (4.8); the document says so for the same list.
pub const IDEMPOTENT_POSTS: &[&str] = &["/orders"];

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
    period: Duration::from_secs(60),
};

/// What phase 4 runs with: flags, or the environment.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase4.sqlite3")]
    pub database_url: String,
    /// Redis for idempotency records and rate limits; in process when absent.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// What this server's Redis keys start with: servers with the same prefix share their rate
    /// limits and idempotency keys.
    #[arg(long, env = "REDIS_PREFIX", default_value = "phase4")]
    pub redis_prefix: String,
    /// Requests a client may make per period.
    #[arg(long, env = "RATE_LIMIT", default_value_t = DEFAULT_QUOTA.limit, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// The rate limit's period, in seconds.
    #[arg(long, env = "RATE_PERIOD", default_value_t = DEFAULT_QUOTA.period.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_period: u64,
    /// The URL clients reach this server at: the tokens' issuer. Defaults to the listening address.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Another OpenID Connect provider to log in with, by its issuer URL
    /// (`https://accounts.google.com`).
    #[arg(long, env = "OIDC_ISSUER", requires = "oidc_client_id")]
    pub oidc_issuer: Option<String>,
    /// Its name in `/login/{name}`.
    #[arg(long, env = "OIDC_NAME", default_value = "external")]
    pub oidc_name: String,
    #[arg(long, env = "OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    #[arg(long, env = "OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// For `scripts/bench-http` only: a request without a token is served as the demo user `ada`,
    /// so that the token check's own cost can be measured. Never on a server anyone else reaches.
    #[arg(long, hide = true)]
    pub insecure_benchmark_without_tokens: bool,
}

/// Written by hand so that no password (in a URL) or client secret reaches a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("rate_limit", &self.rate_limit)
            .field("rate_period", &self.rate_period)
            .field("public_url", &self.public_url)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_name", &self.oidc_name)
            .field("oidc_client_id", &self.oidc_client_id)
            .field(
                "oidc_client_secret",
                &self.oidc_client_secret.as_ref().map(|_| "***"),
            )
            .field(
                "insecure_benchmark_without_tokens",
                &self.insecure_benchmark_without_tokens,
            )
            .finish()
    }
}

impl Config {
    /// The defaults, on `database_url`: everything in process, no other provider. What the flags
    /// give when only `--database-url` is set and no variable of the environment is.
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            redis_prefix: "phase4".to_owned(),
            rate_limit: DEFAULT_QUOTA.limit,
            rate_period: DEFAULT_QUOTA.period.as_secs(),
            public_url: None,
            oidc_issuer: None,
            oidc_name: "external".to_owned(),
            oidc_client_id: None,
            oidc_client_secret: None,
            insecure_benchmark_without_tokens: false,
        }
    }

    pub fn quota(&self) -> Quota {
        Quota {
            limit: self.rate_limit,
            period: Duration::from_secs(self.rate_period),
        }
    }
}

/// The running app's state: its database, its keys and clients, and its stores.
#[derive(Debug)]
pub struct AppState {
    /// Migrated with [`SCHEMA`] and seeded.
    pub database: Database,
    pub tokens: Arc<Tokens>,
    pub passwords: Arc<Passwords>,
    /// The OpenID Connect provider's clients.
    pub clients: Clients,
    /// The providers of "Login with".
    pub login: LoginWith,
    pub records: Records,
    pub limiter: Limiter,
    /// The caller of requests without a token, with `--insecure-benchmark-without-tokens`.
    pub benchmark_caller: Option<Caller>,
}

impl AppState {
    /// Connects to `config`'s database (migrating and seeding it) and, when it names one, its
    /// Redis, for a server reached at `base_url` (`http://127.0.0.1:8004`): the tokens' issuer.
    pub async fn connect(config: &Config, base_url: &str) -> anyhow::Result<Self> {
        let url = config.database_url.clone();
        let database =
            tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA)).await??;
        let passwords = Arc::new(Passwords::default());
        seed::seed(&database, &passwords).await?;

        let base_url = base_url.trim_end_matches('/');
        // The server's own provider is the `local` login provider, and its client is registered
        // with it, next to the demo public client.
        let local = RegisteredClient {
            id: "phase4-login".to_owned(),
            secret: Some(oauth::random_token()),
            redirect_uris: vec![format!("{base_url}/login/local/callback")],
        };
        let mut providers = vec![ProviderConfig {
            name: "local".to_owned(),
            issuer: base_url.to_owned(),
            client_id: local.id.clone(),
            client_secret: local.secret.clone(),
        }];
        if let (Some(issuer), Some(client_id)) = (&config.oidc_issuer, &config.oidc_client_id) {
            providers.push(ProviderConfig {
                name: config.oidc_name.clone(),
                issuer: issuer.clone(),
                client_id: client_id.clone(),
                client_secret: config.oidc_client_secret.clone(),
            });
        }

        let quota = config.quota();
        let (records, limiter) = match &config.redis_url {
            Some(url) => {
                let connection = common::redis::connect(url).await?;
                let prefix = &config.redis_prefix;
                (
                    Records::redis(connection.clone(), &format!("{prefix}:idempotency")),
                    Limiter::redis(quota, connection, &format!("{prefix}:ratelimit")),
                )
            }
            None => (Records::memory(), Limiter::memory(quota)),
        };
        Ok(Self {
            database,
            tokens: Arc::new(Tokens::new(base_url)?),
            passwords,
            clients: Clients(vec![local, provider::demo_client()]),
            login: LoginWith::new(providers, base_url)?,
            records,
            limiter,
            benchmark_caller: config
                .insecure_benchmark_without_tokens
                .then(Caller::benchmark),
        })
    }

    /// What the tour says about this instance: the demo users, and what it is connected to.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = vec!["demo users (never use these anywhere real):".to_owned()];
        for (username, password, role) in seed::DEMO_USERS {
            notes.push(format!("  {username:<6} {password:<22} {}", role.as_str()));
        }
        notes.push(String::new());
        notes.push(format!("issuer:        {}", self.tokens.issuer));
        notes.push(format!("database:      {}", self.database.display_url));
        notes.push(format!(
            "rate limits:   {} requests / {} s per client, in {}; idempotency keys in {}",
            self.limiter.quota.limit,
            self.limiter.quota.period.as_secs(),
            self.limiter.kind(),
            self.records.kind()
        ));
        let providers: Vec<&str> = self
            .login
            .providers
            .iter()
            .map(|provider| provider.name.as_str())
            .collect();
        notes.push(format!("log in with:   {}", providers.join(", ")));
        if self.benchmark_caller.is_some() {
            notes.push(
                "WARNING: --insecure-benchmark-without-tokens: requests without a token act as ada"
                    .to_owned(),
            );
        }
        notes
    }
}

/// Phase 4 from its configuration, listening on `listener`: what the binary, the tests and the
/// grader start. The issuer is `--public-url`, or the listener's address.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let base_url = match &config.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let state = AppState::connect(&config, &base_url).await?;
    Ok(serve(state, listener)?)
}

/// Phase 4 on `listener` with `state`, for a test that has swapped a part of it.
pub fn serve(state: AppState, listener: TcpListener) -> io::Result<Application> {
    let notes = state.notes();
    let database = web::Data::new(state.database);
    let token_service: Arc<dyn TokenService> = state.tokens.clone();
    let token_service = web::Data::from(token_service);
    let tokens = web::Data::from(state.tokens);
    let password_check: Arc<dyn PasswordCheck> = state.passwords.clone();
    let password_check = web::Data::from(password_check);
    let passwords = web::Data::from(state.passwords);
    let clients = web::Data::new(state.clients);
    let login = web::Data::new(state.login);
    let records = web::Data::new(state.records);
    let limiter = web::Data::new(state.limiter);
    let benchmark_caller = state.benchmark_caller.map(web::Data::new);
    let document = openapi::document();
    // The rate limiter wraps every route of this crate (`common` mounts `GET /`, `/openapi.json`
    // and `/docs/` before them, outside it).
    let configure = move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(database.clone())
            .app_data(token_service.clone())
            .app_data(tokens.clone())
            .app_data(password_check.clone())
            .app_data(passwords.clone())
            .app_data(clients.clone())
            .app_data(login.clone())
            .app_data(records.clone())
            .app_data(limiter.clone());
        if let Some(caller) = &benchmark_caller {
            cfg.app_data(caller.clone());
        }
        cfg.service(
            web::scope("")
                .wrap(from_fn(rate_limit::limit))
                .service(passwords::register)
                .service(tokens::endpoint::token_endpoint)
                .service(tokens::keys::jwks)
                .service(provider::discovery)
                .service(provider::authorize)
                .service(provider::sign_in)
                .service(provider::redeem)
                .service(provider::userinfo)
                .service(provider::userinfo_by_post)
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
                .service(
                    web::resource("/orders")
                        .route(web::get().to(hateoas::list))
                        .route(
                            web::post()
                                .to(hateoas::create)
                                .wrap(from_fn(idempotency::idempotent)),
                        ),
                )
                .service(hateoas::retrieve)
                .service(hateoas::act),
        );
    };
    Application::new(listener, &MANIFEST, document, notes, configure)
}

#[cfg(test)]
mod layout;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_never_shows_a_secret() {
        let mut config = Config::local("postgres://app:hunter2@db:5432/app");
        config.redis_url = Some("redis://:swordfish@cache:6379".to_owned());
        config.oidc_client_secret = Some("the-client-secret".to_owned());
        let shown = format!("{config:?}");
        for secret in ["hunter2", "swordfish", "the-client-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("postgres://app:***@db:5432/app"), "{shown}");
    }
}
