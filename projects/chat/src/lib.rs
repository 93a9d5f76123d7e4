//! Project 3 of the roadmap: real-time chat over WebSockets.
//!
//! ## How it reads
//!
//! The roadmap's third project asks for "WebSockets (FastAPI supports this natively), async DB
//! writes". The phases' pieces, put together as a production service would:
//!
//! | module | what it does | from the phases |
//! |---|---|---|
//! | [`protocol`] | versioned JSON frames, each mistake answered in the protocol's words | phase 1's problem documents, for sockets |
//! | [`socket`] | `GET /ws`: authentication, heartbeats, rooms, resume, rate limits | phase 4's tokens and rate limiter |
//! | [`fanout`] | a bounded queue per connection, slow clients dropped, Redis between instances | phase 5's pub/sub |
//! | [`store`] | messages stored in batches off the socket's path, then published; ids; dedup | phase 3's transactions |
//! | [`history`] | `GET /rooms`, `GET /rooms/{room}/messages?before=&limit=` | phase 2's pagination, by cursor |
//! | [`presence`] | who is online (Redis with a TTL), typing indicators | |
//! | [`client`] | the browser client at `/chat` | |
//!
//! Accounts are phase 4's: `POST /auth/token` for a bearer token (the demo users `ada` and
//! `admin` exist from the start). Metrics (`/metrics`) and health checks (`/health/live`,
//! `/health/ready`) are phase 7's.
//!
//! Messages live in the database (SQLite, or PostgreSQL with `DATABASE_URL`); with `REDIS_URL`,
//! Redis carries frames between instances, presence and the rate limits, and instances with the
//! same `REDIS_PREFIX`, `SIGNING_KEY` and `PUBLIC_URL` act as one service.

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

pub mod client;
pub mod fanout;
pub mod history;
pub mod openapi;
pub mod presence;
pub mod protocol;
pub mod schema;
pub mod socket;
pub mod store;

use crate::fanout::{Audience, Fanout, Hub};
use crate::presence::Presence;
use crate::protocol::ServerFrame;
use crate::socket::{Chat, Settings, SocketMetrics};
use crate::store::{Store, StoreMetrics};

/// What the project is: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "chat",
    title: "Project 3: real-time chat",
    port: 8103,
    topics: &[Topic {
        id: "P3",
        title: "Real-time chat",
        modules: &[
            "src/protocol.rs",
            "src/socket.rs",
            "src/fanout.rs",
            "src/store.rs",
            "src/history.rs",
            "src/presence.rs",
            "src/client.rs",
        ],
        routes: &[
            "GET /ws",
            "GET /rooms",
            "GET /rooms/{room}/messages",
            "GET /chat",
        ],
    }],
    try_it: &[
        "TOKEN=$(curl -s -X POST {base}/auth/token -d grant_type=password -d username=ada -d password=correct-horse-ada | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        r#"curl -s '{base}/rooms/general/messages?limit=5' -H "Authorization: Bearer $TOKEN""#,
        "curl -si {base}/ws",
    ],
};

/// The rooms and their messages.
pub static CHAT: MigrationSet = MigrationSet {
    name: "chat",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything the chat's database is made of: phase 4's (its accounts, and the library its
/// accounts' orders refer to), then the rooms.
pub static SCHEMA: [&MigrationSet; 3] = [&LIBRARY, &phase4_security::ACCOUNTS, &CHAT];

/// HTTP requests (history, logins) a client may make a minute.
pub const DEFAULT_RATE_LIMIT: u32 = 300;

/// Messages a user may send a minute, over all their connections.
pub const DEFAULT_MESSAGE_RATE: u32 = 120;

/// Each connection's kernel send buffer (see `ServeOptions::send_buffer`).
pub const SEND_BUFFER: usize = 32 * 1024;

/// What the chat runs with: flags, or the environment, each also readable from a file named by
/// `NAME_FILE` (`SIGNING_KEY_FILE=/run/secrets/signing_key.pem`).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/chat.sqlite3",
        hide_env_values = true
    )]
    pub database_url: SecretUrl,
    /// Redis: frames between instances, presence, rate limits; in process only when absent.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,
    /// What this service's Redis keys and channel start with: instances with the same prefix are
    /// one service.
    #[arg(long, env = "REDIS_PREFIX", default_value = "chat")]
    pub redis_prefix: String,
    /// The URL clients reach the service at, the issuer of its tokens; the listening address when
    /// absent.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The key tokens are signed with, a P-256 private key in PKCS#8 PEM; instances that share it
    /// accept each other's tokens. A fresh one at every start when absent.
    #[arg(long, env = "SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// HTTP requests (history, logins) a client may make per minute.
    #[arg(long, env = "RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// Messages a user may send per minute.
    #[arg(long, env = "MESSAGE_RATE", default_value_t = DEFAULT_MESSAGE_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_rate: u32,
    /// Milliseconds between the server's pings.
    #[arg(long, env = "HEARTBEAT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub heartbeat_ms: u64,
    /// Milliseconds of silence after which a connection is dropped.
    #[arg(long, env = "TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub timeout_ms: u64,
    /// Frames a connection's queue holds (96 or more); a client that lets it fill is too slow,
    /// and dropped.
    #[arg(long, env = "OUTBOX_FRAMES", default_value_t = 128, value_parser = clap::value_parser!(u64).range(store::MIN_OUTBOX..=65_536))]
    pub outbox_frames: u64,
    /// Messages waiting for the database; beyond that, senders are told `busy`.
    #[arg(long, env = "STORE_QUEUE", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub store_queue: u64,
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
            redis_prefix: "chat".to_owned(),
            public_url: None,
            signing_key: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            message_rate: DEFAULT_MESSAGE_RATE,
            heartbeat_ms: 10_000,
            timeout_ms: 30_000,
            outbox_frames: 128,
            store_queue: 4096,
            workers: None,
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            outbox: usize::try_from(self.outbox_frames).unwrap_or(128),
            ..Settings::default()
        }
    }
}

/// A name for this instance on the channel: unique even for two in one process.
fn instance_name() -> String {
    use rand_core::RngCore;
    format!(
        "chat-{}-{:08x}",
        std::process::id(),
        rand_core::OsRng.next_u32()
    )
}

/// After this instance lost its subscription for a while: every room it has people in is told
/// to reload, since frames from the other instances may have been missed.
fn reload_everyone(hub: Arc<Hub>, database: Database) -> impl Fn() + Send + 'static {
    move || {
        let (hub, database) = (hub.clone(), database.clone());
        tokio::spawn(async move {
            for (room, _) in hub.occupied() {
                let db = database.clone();
                let name = room.clone();
                let latest = common::db::blocking(move || {
                    let mut conn = db.conn()?;
                    Ok::<_, anyhow::Error>(store::latest(&mut conn, &name)?)
                })
                .await
                .unwrap_or(0);
                let text = ServerFrame::Reload {
                    room: &room,
                    latest,
                }
                .encode();
                hub.deliver(&room, Audience::Everyone, &fanout::Outgoing::Frame(text));
            }
        });
    }
}

/// The chat from its configuration, listening on `listener`: what the binary, the tests and
/// the grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let public_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listener.local_addr()?),
    };
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

    let requests = Quota {
        limit: config.rate_limit,
        period: Duration::from_secs(60),
    };
    let messages = Quota {
        limit: config.message_rate,
        period: Duration::from_secs(60),
    };
    let prefix = &config.redis_prefix;
    let hub = Arc::new(Hub::default());
    let (fanout, presence, limiter, message_limiter, redis) = match &config.redis_url {
        Some(url) => {
            let connection = common::redis::connect(url.expose())
                .await
                .context("REDIS_URL")?;
            let fanout = Fanout::redis(
                hub.clone(),
                url.expose(),
                connection.clone(),
                &format!("{prefix}:frames"),
                &instance_name(),
                reload_everyone(hub.clone(), database.clone()),
            )
            .await
            .context("REDIS_URL")?;
            let presence = Presence::redis(hub.clone(), connection.clone(), prefix);
            let limiter =
                Limiter::redis(requests, connection.clone(), &format!("{prefix}:ratelimit"));
            let message_limiter =
                Limiter::redis(messages, connection.clone(), &format!("{prefix}:messages"));
            (fanout, presence, limiter, message_limiter, Some(connection))
        }
        None => (
            Fanout::local(hub.clone()),
            Presence::local(hub.clone()),
            Limiter::memory(requests),
            Limiter::memory(messages),
            None,
        ),
    };
    let fanout = Arc::new(fanout);

    let http_metrics = common::metrics::HttpMetrics::new()?;
    let store_metrics = StoreMetrics::new(http_metrics.registry())?;
    let socket_metrics = SocketMetrics::new(http_metrics.registry())?;
    let queue = usize::try_from(config.store_queue).unwrap_or(4096);
    let (store, writer) = Store::start(database.clone(), fanout.clone(), queue, store_metrics);
    let settings = config.settings();
    let stopping = common::server::Stopping::default();
    let refresher = presence.keep_fresh(stopping.clone());

    let notes = vec![
        "demo users (never use these anywhere real):".to_owned(),
        "  ada    correct-horse-ada".to_owned(),
        "  admin  correct-horse-admin".to_owned(),
        String::new(),
        format!("browser client: {public_url}/chat"),
        format!(
            "WebSocket:      {}/ws",
            public_url.replacen("http", "ws", 1)
        ),
        format!("database:       {}", database.display_url),
        format!("fan-out:        {}", fanout.kind()),
        format!("presence:       {}", presence.kind()),
        format!(
            "heartbeat:      a ping every {:?}; silent connections dropped after {:?}",
            settings.heartbeat, settings.timeout
        ),
        format!(
            "rate limits:    {} messages a minute per user, {} requests a minute per client, in {}",
            messages.limit,
            requests.limit,
            limiter.kind()
        ),
    ];
    let chat = Chat {
        database: database.clone(),
        fanout,
        store,
        presence,
        limiter: message_limiter,
        tokens: tokens.clone(),
        settings,
        stopping: stopping.clone(),
        metrics: socket_metrics,
    };
    let options = ServeOptions {
        workers: config.workers.map(usize::from),
        metrics: Some(http_metrics),
        health: Some(phase7_deploy::health::readiness(database.clone(), redis)),
        // A client that stops reading fills its outbox after ~32 KiB in the kernel, not the
        // megabytes Linux would let a loopback connection's buffer grow to.
        send_buffer: Some(SEND_BUFFER),
        stopping,
        ..ServeOptions::default()
    };
    let state = State {
        chat: web::Data::new(chat),
        database: web::Data::new(database),
        token_service: web::Data::from(tokens.clone() as Arc<dyn TokenService>),
        tokens: web::Data::from(tokens),
        password_check: web::Data::from(passwords.clone() as Arc<dyn PasswordCheck>),
        passwords: web::Data::from(passwords),
        limiter: web::Data::new(limiter),
    };
    let mut app = Application::with_options(
        listener,
        &MANIFEST,
        openapi::document(),
        notes,
        options,
        routes(state),
    )?
    .with_background(writer);
    if let Some(refresher) = refresher {
        app = app.with_background(refresher);
    }
    Ok(app)
}

/// What the routes are given.
#[derive(Clone)]
struct State {
    chat: web::Data<Chat>,
    database: web::Data<Database>,
    token_service: web::Data<dyn TokenService>,
    tokens: web::Data<Tokens>,
    password_check: web::Data<dyn PasswordCheck>,
    passwords: web::Data<Passwords>,
    limiter: web::Data<Limiter>,
}

/// The routes. The socket and the client are not rate-limited per request (the socket limits
/// messages per user); history and the account routes are.
fn routes(state: State) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        let state = state.clone();
        cfg.app_data(state.chat)
            .app_data(state.database)
            .app_data(state.token_service)
            .app_data(state.tokens)
            .app_data(state.password_check)
            .app_data(state.passwords)
            .app_data(state.limiter)
            .service(socket::connect)
            .service(client::page)
            .service(client::script)
            .service(
                web::scope("")
                    .wrap(from_fn(phase4_security::rate_limit::limit))
                    .service(phase4_security::passwords::register)
                    .service(phase4_security::tokens::endpoint::token_endpoint)
                    .service(phase4_security::tokens::keys::jwks)
                    .service(history::list_rooms)
                    .service(history::messages),
            );
    }
}
