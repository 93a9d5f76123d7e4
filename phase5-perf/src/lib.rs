//! Phase 5 of the roadmap: performance and scalability.
//!
//! ## How it reads
//!
//! One chapter per topic ([`MANIFEST`] lists them, and the tour prints them). Each opens with what
//! the roadmap asks, the Python idiom, the Rust idiom here, and why.
//!
//! | ID | topic | chapter |
//! |---|---|---|
//! | 5.1 | client caching | [`client_cache`] |
//! | 5.2 | server caching | [`server_cache`] |
//! | 5.3 | background tasks | [`jobs`]: [`jobs::queue`], [`jobs::amqp`], [`jobs::worker`], [`jobs::tasks`], [`jobs::routes`] |
//! | 5.4 | WSGI vs ASGI | [`blocking`] |
//! | 5.5 | reverse proxy | [`proxy`], and `nginx/nginx.conf` |
//!
//! The vocabulary the chapters share: [`sales`] (the report's query, and the write that changes
//! it and queues a receipt through [`jobs::queue`]), [`clock`] (times as milliseconds), [`schema`].
//! And the assembly: this file ([`Config`], [`AppState`], [`build`], [`serve`]), [`openapi`],
//! [`seed`] and `main.rs` (the server, and `worker`, a worker process).
//!
//! Everything lives in the database (SQLite, or PostgreSQL with `DATABASE_URL`): listings, sales
//! and jobs. The report's cache is in process, with Redis as a second, shared tier when
//! `REDIS_URL` is set; the jobs are delivered through RabbitMQ when `AMQP_URL` is set. [`build`]
//! decides, for the binary, the tests and the grader.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use common::config::{SecretUrl, redact_url};
use common::db::{Database, LIBRARY, MigrationSet};
use common::manifest::{Manifest, Topic};
use common::server::Application;
use diesel_migrations::embed_migrations;

pub mod blocking;
pub mod client_cache;
pub mod clock;
pub mod jobs;
pub mod openapi;
pub mod proxy;
pub mod sales;
pub mod schema;
pub mod seed;
pub mod server_cache;

use crate::jobs::amqp::{AmqpQueue, AmqpSettings};
use crate::jobs::queue::DbQueue;
use crate::jobs::worker::{Worker, WorkerConfig};
use crate::proxy::{Network, ProxySettings};
use crate::server_cache::ReportCache;

/// What phase 5 teaches: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "phase5-perf",
    title: "Phase 5: performance and scalability",
    port: 8005,
    topics: &[
        Topic {
            id: "5.1",
            title: "client caching",
            modules: &["client_cache.rs"],
            routes: &[
                "GET /catalogue",
                "GET /catalogue/{book_id}",
                "PUT /catalogue/{book_id}",
                "GET /customers/{email}/purchases",
                "GET /assets/{name}",
            ],
        },
        Topic {
            id: "5.2",
            title: "server caching",
            modules: &["server_cache.rs"],
            routes: &["GET /reports/sales", "POST /sales", "GET /cache/stats"],
        },
        Topic {
            id: "5.3",
            title: "background tasks",
            modules: &[
                "jobs/mod.rs",
                "jobs/queue.rs",
                "jobs/amqp.rs",
                "jobs/worker.rs",
                "jobs/tasks.rs",
                "jobs/routes.rs",
            ],
            routes: &[
                "POST /jobs",
                "GET /jobs/{id}",
                "POST /jobs/{id}/cancel",
                "GET /jobs",
            ],
        },
        Topic {
            id: "5.4",
            title: "WSGI vs ASGI",
            modules: &["blocking.rs"],
            routes: &["GET /stall", "GET /fast"],
        },
        Topic {
            id: "5.5",
            title: "reverse proxy",
            modules: &["proxy.rs"],
            routes: &["GET /whoami"],
        },
    ],
    try_it: &[
        "curl -si {base}/catalogue/1 | grep -iE '^(etag|last-modified|cache-control)'",
        "curl -si {base}/catalogue/1 -H 'If-None-Match: \"v1\"' | head -1",
        r#"curl -si -X PUT {base}/catalogue/1 -H 'Content-Type: application/json' -d '{"price_cents":1200,"stock":5}' | head -1"#,
        r#"curl -si -X PUT {base}/catalogue/1 -H 'If-Match: "v1"' -H 'Content-Type: application/json' -d '{"price_cents":1200,"stock":5}' | head -1"#,
        "curl -s -o /dev/null -D - {base}/reports/sales | grep -iE 'cache-status|server-timing'",
        r#"curl -s -X POST {base}/sales -H 'Content-Type: application/json' -d '{"book_id":1,"customer":"ada@example.com","quantity":1,"price_cents":1200}'"#,
        r#"curl -si -X POST {base}/jobs -H 'Content-Type: application/json' -d '{"task":{"kind":"sleep","ms":2000,"fail_attempts":1}}' | grep -i location"#,
        "curl -s {base}/jobs",
        "curl -s '{base}/stall?ms=2000&how=thread-sleep' & sleep 0.2; time curl -s {base}/fast",
        "curl -s {base}/whoami -H 'X-Forwarded-For: 6.6.6.6'",
    ],
};

/// Phase 5's own tables: listings, sales, jobs, sent emails.
pub static PERF: MigrationSet = MigrationSet {
    name: "perf",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything phase 5's database is made of: the shared library, then phase 5's tables.
pub static SCHEMA: [&MigrationSet; 2] = [&LIBRARY, &PERF];

/// How jobs run, for the server's own workers and for `phase5-perf worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobSettings {
    /// How long a worker's claim on a job lasts without renewal, in milliseconds.
    #[arg(long, env = "JOB_LEASE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(300..))]
    pub lease_ms: u64,
    /// How often an idle worker looks for due jobs, in milliseconds.
    #[arg(long, env = "JOB_POLL_MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_ms: u64,
    /// The first retry's delay, in milliseconds; each next one doubles (with jitter), up to 5 min.
    #[arg(long, env = "JOB_RETRY_BASE_MS", default_value_t = 1_000)]
    pub retry_base_ms: u64,
    /// RabbitMQ, to deliver the jobs through (`amqp://guest:guest@127.0.0.1:5672/%2f`); the
    /// database alone when absent. The jobs' records stay in the database either way.
    #[arg(long, env = "AMQP_URL")]
    pub amqp_url: Option<SecretUrl>,
    /// The RabbitMQ queue: servers and workers on the same one share its jobs.
    #[arg(long, env = "AMQP_QUEUE", default_value = "phase5.jobs")]
    pub amqp_queue: String,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease_ms: 30_000,
            poll_ms: 200,
            retry_base_ms: 1_000,
            amqp_url: None,
            amqp_queue: "phase5.jobs".to_owned(),
        }
    }
}

impl JobSettings {
    /// A worker called `name` running `concurrency` jobs at once.
    pub fn worker(&self, name: String, concurrency: usize) -> WorkerConfig {
        WorkerConfig {
            concurrency,
            lease: Duration::from_millis(self.lease_ms),
            poll: Duration::from_millis(self.poll_ms),
            retry_base: Duration::from_millis(self.retry_base_ms),
            ..WorkerConfig::named(name)
        }
    }

    /// The RabbitMQ queue in front of `records`, when `amqp_url` names a broker; `prefetch` is
    /// the concurrency of the worker that will consume from it.
    pub async fn broker(
        &self,
        records: &DbQueue,
        prefetch: usize,
    ) -> anyhow::Result<Option<AmqpQueue>> {
        let Some(url) = &self.amqp_url else {
            return Ok(None);
        };
        let settings = AmqpSettings {
            url: url.clone(),
            queue: self.amqp_queue.clone(),
            prefetch: u16::try_from(prefetch.max(1)).unwrap_or(u16::MAX),
            poll: Duration::from_millis(self.poll_ms),
        };
        Ok(Some(AmqpQueue::connect(records.clone(), settings).await?))
    }
}

/// A name for this process: `phase5-<pid>`.
pub fn default_instance() -> String {
    format!("phase5-{}", std::process::id())
}

/// What phase 5 runs with: flags, or the environment.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase5.sqlite3")]
    pub database_url: String,
    /// Redis, the report cache's shared tier; in process only when absent.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// What this server's Redis keys start with: instances with the same prefix share a cache.
    #[arg(long, env = "REDIS_PREFIX", default_value = "phase5")]
    pub redis_prefix: String,
    /// How long the report stays cached, in seconds (each entry ±10 %).
    #[arg(long, env = "CACHE_TTL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_ttl: u64,
    /// Leaves the report cache's process tier out, so that every request asks Redis: for measuring
    /// what one Redis round trip costs (`scripts/bench-http`), not for serving.
    #[arg(long, requires = "redis_url")]
    pub skip_memory_tier: bool,
    /// Sales to make up for the report when the table is empty.
    #[arg(long, env = "SALES_ROWS", default_value_t = 200_000)]
    pub sales_rows: u32,
    /// Jobs the server runs at once itself; 0 leaves them to `phase5-perf worker` processes.
    #[arg(long, env = "WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// actix's worker threads (each an event loop); one per core when absent.
    #[arg(long, env = "HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_workers: Option<u16>,
    /// This instance's name, in `X-Instance` and in the jobs it runs.
    #[arg(long, env = "INSTANCE")]
    pub instance: Option<String>,
    /// Proxies whose `Forwarded` and `X-Forwarded-*` headers are believed, as addresses or
    /// networks, comma-separated (`127.0.0.2,10.0.0.0/8`). None by default.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<Network>,
    #[command(flatten)]
    pub jobs: JobSettings,
}

/// Written by hand so that no password (in a URL) reaches a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("cache_ttl", &self.cache_ttl)
            .field("skip_memory_tier", &self.skip_memory_tier)
            .field("sales_rows", &self.sales_rows)
            .field("workers", &self.workers)
            .field("http_workers", &self.http_workers)
            .field("instance", &self.instance)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("jobs", &self.jobs)
            .finish()
    }
}

impl Config {
    /// The defaults, on `database_url`: everything in process.
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            redis_prefix: "phase5".to_owned(),
            cache_ttl: 30,
            skip_memory_tier: false,
            sales_rows: 200_000,
            workers: 2,
            http_workers: None,
            instance: None,
            trusted_proxies: Vec::new(),
            jobs: JobSettings::default(),
        }
    }
}

/// The running app's state.
#[derive(Debug)]
pub struct AppState {
    /// Migrated with [`SCHEMA`] and seeded.
    pub database: Database,
    /// The jobs' records: what the API reads and writes.
    pub queue: DbQueue,
    /// RabbitMQ, delivering the jobs, when `AMQP_URL` names it.
    pub broker: Option<AmqpQueue>,
    pub cache: ReportCache,
    pub proxy: ProxySettings,
    /// The server's own worker, if it runs one.
    pub worker: Option<WorkerConfig>,
    pub http_workers: Option<usize>,
    notes: Vec<String>,
}

impl AppState {
    /// Connects to `config`'s database (migrating and seeding it) and, when it names one, Redis.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let url = config.database_url.clone();
        let database =
            tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA)).await??;
        let (seeded, took) = seed::seed(&database, config.sales_rows).await?;
        let instance = config.instance.clone().unwrap_or_else(default_instance);
        let ttl = Duration::from_secs(config.cache_ttl);
        let cache = match &config.redis_url {
            Some(url) => {
                let in_process = !config.skip_memory_tier;
                ReportCache::redis_with(url, &config.redis_prefix, ttl, &instance, in_process)
                    .await?
            }
            None => ReportCache::memory(ttl, &instance),
        };
        let queue = DbQueue::new(database.clone());
        let broker = config.jobs.broker(&queue, config.workers).await?;
        let worker = (config.workers > 0).then(|| {
            config
                .jobs
                .worker(format!("{instance}-server"), config.workers)
        });
        let mut notes = vec![
            format!("instance:      {instance}"),
            format!("database:      {}", database.display_url),
            format!(
                "report cache:  {} (TTL {} s ±10 %)",
                cache.tiers(),
                config.cache_ttl
            ),
            format!(
                "jobs:          in {}; {}",
                match &broker {
                    Some(broker) => jobs::queue::Queue::kind(broker),
                    None => jobs::queue::Queue::kind(&queue),
                },
                match &worker {
                    Some(worker) => format!("this server runs {} at a time", worker.concurrency),
                    None => "run them with `cargo run -p phase5-perf -- worker`".to_owned(),
                }
            ),
        ];
        if seeded > 0 {
            notes.push(format!(
                "seeded:        {seeded} sales in {} ms",
                took.as_millis()
            ));
        }
        notes.push(format!(
            "stylesheet:    /assets/{}",
            client_cache::STYLESHEET.name
        ));
        Ok(Self {
            database,
            queue,
            broker,
            cache,
            proxy: ProxySettings {
                trusted: config.trusted_proxies.clone(),
                instance,
            },
            worker,
            http_workers: config.http_workers.map(usize::from),
            notes,
        })
    }
}

/// Phase 5 from its configuration, listening on `listener`: what the binary, the tests and the
/// grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let state = AppState::connect(&config).await?;
    Ok(serve(state, listener)?)
}

/// Phase 5 on `listener` with `state`; starts the server's own worker, which runs until the
/// process gets Ctrl-C or SIGTERM (or its runtime ends), and finishes the jobs it holds then.
pub fn serve(state: AppState, listener: TcpListener) -> io::Result<Application> {
    // The server's own worker stops on the signal that stops the server, and the binary waits for
    // it to finish the jobs it holds (`Application::with_background`).
    let worker = state.worker.clone().map(|config| {
        let database = state.database.clone();
        let stop = common::server::shutdown_signal();
        match &state.broker {
            Some(broker) => tokio::spawn(
                Worker {
                    queue: broker.clone(),
                    database,
                    config,
                }
                .run(stop),
            ),
            None => tokio::spawn(
                Worker {
                    queue: state.queue.clone(),
                    database,
                    config,
                }
                .run(stop),
            ),
        }
    });
    let database = web::Data::new(state.database);
    let queue = web::Data::new(state.queue);
    // The monitor shows the broker's dead letters; holding it also keeps its relay running.
    let broker = state.broker.map(web::Data::new);
    let cache = web::Data::new(state.cache);
    let instance = state.proxy.instance.clone();
    let proxy = web::Data::new(state.proxy);
    let configure = move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(database.clone())
            .app_data(queue.clone())
            .app_data(cache.clone())
            .app_data(proxy.clone());
        if let Some(broker) = &broker {
            cfg.app_data(broker.clone());
        }
        cfg.service(
            web::scope("")
                .wrap(DefaultHeaders::new().add(("X-Instance", instance.clone())))
                // actix tries routes in this order, and a path with a `{parameter}` costs a regex
                // match (a few hundred nanoseconds): the fixed paths go first, so that the cached
                // report never waits behind the catalogue's patterns.
                .service(server_cache::sales_report)
                .service(server_cache::stats)
                .service(server_cache::record_sale)
                .service(client_cache::compressed_catalogue())
                .service(jobs::routes::submit)
                .service(jobs::routes::monitor)
                .service(blocking::stall)
                .service(blocking::fast)
                .service(proxy::whoami)
                .service(client_cache::get_listing)
                .service(client_cache::put_listing)
                .service(client_cache::patch_listing)
                .service(client_cache::delete_listing)
                .service(client_cache::download_token)
                .service(client_cache::purchases)
                .service(client_cache::asset)
                .service(server_cache::get_sale)
                .service(jobs::routes::status)
                .service(jobs::routes::cancel),
        );
    };
    let app = Application::with_workers(
        listener,
        &MANIFEST,
        openapi::document(),
        state.notes,
        state.http_workers,
        configure,
    )?;
    Ok(match worker {
        Some(worker) => app.with_background(worker),
        None => app,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_never_shows_a_secret() {
        let mut config = Config::local("postgres://app:hunter2@db:5432/app");
        config.redis_url = Some("redis://:swordfish@cache:6379".to_owned());
        let shown = format!("{config:?}");
        for secret in ["hunter2", "swordfish"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
