//! `cargo run -p phase5-perf`: the server, with its own worker. `cargo run -p phase5-perf --
//! worker`: a worker process, as `celery worker` is.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::config::{ServerArgs, exit_code};
use common::db::Database;
use phase5_perf::jobs::queue::{DbQueue, Queue};
use phase5_perf::jobs::worker::{Worker, WorkerConfig};
use phase5_perf::{Config, JobSettings, MANIFEST, SCHEMA, build, default_instance};

#[derive(Debug, Parser)]
#[command(
    about = "Phase 5: HTTP caching, a two-tier cache, a durable job queue, blocking vs async, a reverse proxy",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs jobs from the queue until Ctrl-C or SIGTERM, then finishes the ones it holds.
    Worker(WorkerArgs),
}

#[derive(Debug, clap::Args)]
struct WorkerArgs {
    /// The server's database: a postgres:// URL, or its SQLite file.
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase5.sqlite3")]
    database_url: String,
    /// Jobs run at once.
    #[arg(long, env = "CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Its name in the jobs it runs; `phase5-<pid>` by default.
    #[arg(long, env = "INSTANCE")]
    instance: Option<String>,
    #[arg(long, value_enum, default_value_t = common::config::LogFormat::Pretty)]
    log_format: common::config::LogFormat,
    #[command(flatten)]
    jobs: JobSettings,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_code(match cli.command {
        Some(Command::Worker(args)) => worker(args).await,
        None => serve(cli.server, cli.config).await,
    })
}

async fn serve(server: ServerArgs, config: Config) -> anyhow::Result<()> {
    common::telemetry::init(server.log_format);
    let listener = server.bind(MANIFEST.port)?;
    let app = build(config, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    common::telemetry::init(args.log_format);
    let url = args.database_url.clone();
    let database =
        tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA)).await??;
    let name = args.instance.unwrap_or_else(default_instance);
    let config = args.jobs.worker(name, usize::from(args.concurrency));
    let records = DbQueue::new(database.clone());
    let broker = args.jobs.broker(&records, config.concurrency).await?;
    println!(
        "worker {}: {} jobs at a time from {}; Ctrl-C or SIGTERM to stop after the jobs it holds",
        config.name,
        config.concurrency,
        match &broker {
            Some(broker) => broker.kind(),
            None => format!("{} (lease {} ms)", records.kind(), args.jobs.lease_ms),
        }
    );
    let stop = common::server::shutdown_signal();
    match broker {
        Some(broker) => run(broker, database, config, stop).await,
        None => run(records, database, config, stop).await,
    }
    Ok(())
}

/// A worker on `queue` until `stop`.
async fn run<Q: Queue>(
    queue: Q,
    database: Database,
    config: WorkerConfig,
    stop: impl Future<Output = ()>,
) {
    Worker {
        queue,
        database,
        config,
    }
    .run(stop)
    .await;
}
