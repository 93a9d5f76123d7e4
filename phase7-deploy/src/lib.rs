//! Phase 7 of the roadmap: deployment and operations.
//!
//! ## How it reads
//!
//! The API is small on purpose, a to-do list ([`tasks`]) on a database with a Redis cache in
//! front: what this phase teaches is everything around it that production needs.
//!
//! | ID | topic | chapter |
//! |---|---|---|
//! | 7.1 | Docker | [`docker`], and `Dockerfile`, `.dockerignore`, `phase7-deploy/compose.yaml` |
//! | 7.2 | CI/CD | [`ci`], and `.github/workflows/` |
//! | 7.3 | error tracking | [`errors`] (`common::tracking` is the machinery) |
//! | 7.4 | metrics | [`metrics`], and `phase7-deploy/deploy/` (Prometheus, alerts, Grafana) |
//! | 7.5 | structured logging | [`logging`] (`common::telemetry` is the machinery) |
//!
//! Also here, because production needs them: health checks and graceful shutdown ([`health`]),
//! and configuration from the environment with secrets from files ([`Config`],
//! `common::config::parse_with_secret_files`). The pieces every crate can use live in `common`
//! behind features (`metrics`, `health`, `error-tracking`); this crate switches them on in
//! [`build_with`] with one field each of `common::server::ServeOptions`.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use common::config::SecretUrl;
use common::db::{Database, MigrationSet};
use common::manifest::{Manifest, Topic};
use common::server::{Application, ServeOptions};
use common::tracking::ErrorTracking;
use diesel_migrations::embed_migrations;

pub mod ci;
pub mod docker;
pub mod errors;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod schema;
pub mod tasks;

use crate::tasks::TaskList;

/// What phase 7 teaches: the tour, `GET /` and the README's table are made from it.
pub const MANIFEST: Manifest = Manifest {
    package: "phase7-deploy",
    title: "Phase 7: deployment and operations",
    port: 8007,
    topics: &[
        Topic {
            id: "7.1",
            title: "Docker",
            modules: &["src/docker.rs"],
            routes: &["GET /health/live", "GET /health/ready"],
        },
        Topic {
            id: "7.2",
            title: "CI/CD",
            modules: &["src/ci.rs"],
            routes: &[],
        },
        Topic {
            id: "7.3",
            title: "error tracking",
            modules: &["src/errors.rs"],
            routes: &["-- --fault-routes true"],
        },
        Topic {
            id: "7.4",
            title: "metrics",
            modules: &["src/metrics.rs"],
            routes: &["GET /metrics"],
        },
        Topic {
            id: "7.5",
            title: "structured logging",
            modules: &["src/logging.rs"],
            routes: &["POST /tasks", "GET /tasks/{id}"],
        },
    ],
    try_it: &[
        r#"curl -s -X POST {base}/tasks -H 'Content-Type: application/json' -d '{"title":"Ship phase 7"}'"#,
        r#"curl -s -X PATCH {base}/tasks/1 -H 'Content-Type: application/json' -d '{"done":true}'"#,
        "curl -s {base}/metrics | grep -E '^(http_requests_total|tasks_)'",
        "curl -si {base}/health/ready",
    ],
};

/// The tasks table.
pub static TASKS: MigrationSet = MigrationSet {
    name: "tasks",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Everything phase 7's database is made of.
pub static SCHEMA: [&MigrationSet; 1] = [&TASKS];

/// What phase 7 runs with: flags, or the environment (12-factor), each also readable from a file
/// named by `NAME_FILE` (`DATABASE_URL_FILE=/run/secrets/database_url`). Checked at start: a value
/// that does not parse stops the program with a message naming the setting.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/phase7.sqlite3",
        hide_env_values = true
    )]
    pub database_url: SecretUrl,
    /// Redis, to cache tasks in (`redis://127.0.0.1:6379`); no cache when absent.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,
    /// What this instance's Redis keys start with.
    #[arg(long, env = "REDIS_PREFIX", default_value = "phase7")]
    pub redis_prefix: String,
    /// Where errors are sent: a Sentry DSN, `https://KEY@o0.ingest.sentry.io/PROJECT`; nowhere
    /// when absent.
    #[arg(long, env = "SENTRY_DSN", hide_env_values = true)]
    pub sentry_dsn: Option<sentry::types::Dsn>,
    /// The environment errors are filed under.
    #[arg(long, env = "SENTRY_ENVIRONMENT", default_value = "development")]
    pub environment: String,
    /// Seconds to go on serving after SIGTERM, with `/health/ready` answering 503, before the
    /// listener closes: as long as the load balancer takes to notice (5 to 10 on Kubernetes).
    #[arg(long, env = "SHUTDOWN_DRAIN_SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub shutdown_drain_seconds: u64,
    /// Worker threads; one per core when absent.
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// Mounts `/faults/panic`, `/faults/error` and `/faults/slow`, which fail or dawdle on purpose
    /// to show the error tracker and graceful shutdown at work. Never in production.
    #[arg(long, env = "FAULT_ROUTES", default_value_t = false, action = clap::ArgAction::Set)]
    pub fault_routes: bool,
}

impl Config {
    /// The defaults, on `database_url`: no Redis, no error tracking, no fault routes.
    pub fn local(database_url: impl Into<String>) -> Self {
        Self {
            database_url: SecretUrl::from(database_url.into()),
            redis_url: None,
            redis_prefix: "phase7".to_owned(),
            sentry_dsn: None,
            environment: "development".to_owned(),
            shutdown_drain_seconds: 0,
            workers: None,
            fault_routes: false,
        }
    }

    /// What the error tracker is told, when there is a DSN.
    pub fn error_tracking(&self) -> Option<common::tracking::Settings> {
        self.sentry_dsn
            .clone()
            .map(|dsn| common::tracking::Settings {
                dsn,
                environment: self.environment.clone(),
                release: sentry::release_name!().map_or_else(String::new, String::from),
            })
    }
}

/// Phase 7 from its configuration, listening on `listener`, with an error tracker of its own when
/// there is a DSN: what the tests and the grader start.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    let tracking = config
        .error_tracking()
        .map(|settings| ErrorTracking::for_app(&settings));
    build_with(config, tracking, listener).await
}

/// [`build`] with the error tracker given: the binary gives the process's own (`sentry::init`).
pub async fn build_with(
    config: Config,
    tracking: Option<ErrorTracking>,
    listener: TcpListener,
) -> anyhow::Result<Application> {
    let url = config.database_url.expose().to_owned();
    let database = tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA))
        .await?
        .with_context(|| format!("DATABASE_URL ({})", config.database_url))?;
    let cache = match &config.redis_url {
        Some(url) => Some(
            common::redis::connect(url.expose())
                .await
                .context("REDIS_URL")?,
        ),
        None => None,
    };
    let business = metrics::TaskMetrics::new()?;
    let http_metrics = common::metrics::HttpMetrics::new()?;
    business.register(http_metrics.registry())?;

    let list = TaskList {
        database: database.clone(),
        cache: cache.clone().map(|connection| tasks::Cache {
            connection,
            prefix: config.redis_prefix.clone(),
        }),
        metrics: business,
    };
    let mut notes = vec![
        format!("database:      {}", database.display_url),
        format!(
            "cache:         {}",
            config
                .redis_url
                .as_ref()
                .map_or_else(|| "none (set REDIS_URL)".to_owned(), ToString::to_string)
        ),
        format!(
            "errors go to:  {}",
            config.sentry_dsn.as_ref().map_or_else(
                || "nowhere (set SENTRY_DSN)".to_owned(),
                |dsn| format!("{}://{}:{}", dsn.scheme(), dsn.host(), dsn.port())
            )
        ),
    ];
    if config.fault_routes {
        notes.push("fault routes:  /faults/panic, /faults/error, /faults/slow?ms=500".to_owned());
    }
    let options = ServeOptions {
        workers: config.workers.map(usize::from),
        drain: Duration::from_secs(config.shutdown_drain_seconds),
        metrics: Some(http_metrics),
        health: Some(health::readiness(database, cache)),
        error_tracking: tracking,
        ..ServeOptions::default()
    };
    let fault_routes = config.fault_routes;
    Ok(Application::with_options(
        listener,
        &MANIFEST,
        openapi::document(fault_routes),
        notes,
        options,
        routes(list, fault_routes),
    )?)
}

/// The routes, on `list`; the fault routes too when asked.
pub fn routes(
    list: TaskList,
    fault_routes: bool,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let list = web::Data::new(list);
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(list.clone())
            .service(tasks::list_tasks)
            .service(tasks::create_task)
            .service(tasks::get_task)
            .service(tasks::change_task)
            .service(tasks::delete_task);
        if fault_routes {
            cfg.service(errors::panic)
                .service(errors::fail)
                .service(errors::slow);
        }
    }
}
