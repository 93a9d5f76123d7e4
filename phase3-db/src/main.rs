//! `cargo run -p phase3-db`: the server, or `-- migrate up|down|status`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::config::{ServerArgs, exit_code};
use common::db::Database;
use common::server::Tour;
use phase3_db::documents::{Mongo, ReadingLists};
use phase3_db::key_value::{MemoryStore, RedisStore, Store};
use phase3_db::migrations::{self, MigrateCommand, SCHEMA};
use phase3_db::{Settings, seed, serve};

#[derive(Debug, Parser)]
#[command(about = "Phase 3: diesel, migrations, several backends, MongoDB and Redis")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase3.sqlite3")]
    database_url: String,
    /// Redis for the key-value routes; the in-process store when absent.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// MongoDB for the /mongo routes, which answer 503 without it.
    #[arg(long, env = "MONGODB_URL")]
    mongodb_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the phase-3 API (the default).
    Serve,
    /// Apply, revert or list the schema's migrations (topic 3.4).
    Migrate {
        #[arg(value_enum)]
        action: MigrateCommand,
    },
}

const TOPICS: &[(&str, &str, &str)] = &[
    ("3.1", "Core vs ORM", "/reports/tags?using=orm|sql"),
    (
        "3.2",
        "async access vs blocking pool",
        "/reviews/latest?via=async|blocking",
    ),
    (
        "3.3",
        "relationships, lazy vs eager",
        "/books-with-reviews?strategy=lazy",
    ),
    ("3.4", "migrations", "-- migrate status, /migrations"),
    ("3.5", "a data migration", "/reviewers"),
    ("3.6", "SQLite or PostgreSQL", "/backend"),
    (
        "3.7",
        "MongoDB documents",
        "/mongo/reading-lists, /mongo/stats/tags",
    ),
    ("3.8", "Redis, or in process", "/kv/{key}, /counters/{name}"),
];

const TRY_IT: &[&str] = &[
    "curl -s '{base}/reports/tags?using=sql'",
    "curl -s '{base}/reviews/latest?via=async&limit=3'",
    "curl -si '{base}/books-with-reviews?strategy=lazy' | grep -i x-query-count",
    "curl -s {base}/migrations",
    "curl -s {base}/reviewers",
    "curl -s {base}/backend",
    r#"curl -s -X PUT {base}/kv/greeting -H 'Content-Type: application/json' -d '{"value":"hello","ttl_seconds":60}'"#,
    "curl -s -X POST {base}/counters/visits",
    "curl -si {base}/reports/tags/cached | grep -i x-cache",
    r#"curl -si {base}/mongo/reading-lists -H 'Content-Type: application/json' -d '{"owner":"ada","name":"summer","tags":["sf"]}'"#,
];

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    let url = cli.database_url.clone();
    if let Some(Command::Migrate { action }) = cli.command {
        let output = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let database = Database::open(&url, &SCHEMA)?;
            migrations::run(&database, action)
        })
        .await??;
        print!("{output}");
        if !output.ends_with('\n') {
            println!();
        }
        return Ok(());
    }
    let database = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
        let database = Database::connect_with(&url, &SCHEMA)?;
        seed::seed(&database)?;
        Ok(database)
    })
    .await??;
    let store = match &cli.redis_url {
        Some(url) => Store::Redis(RedisStore::connect(url, "phase3").await?),
        None => Store::Memory(MemoryStore::default()),
    };
    let mongo = match &cli.mongodb_url {
        Some(url) => Mongo(Some(ReadingLists::connect(url, "phase3").await?)),
        None => Mongo(None),
    };
    let listener = cli.server.bind(phase3_db::DEFAULT_PORT)?;
    let tour = Tour {
        title: "Phase 3: databases",
        address: listener.local_addr()?,
        topics: TOPICS,
        notes: &[],
        try_it: TRY_IT,
    };
    println!("{tour}");
    let mongo_state = if mongo.0.is_some() {
        "connected"
    } else {
        "not configured (MONGODB_URL)"
    };
    println!(
        "database: {}   key-value store: {}   MongoDB: {mongo_state}\n",
        database.display_url,
        store.name()
    );
    let settings = Settings::new(database, store, mongo)?;
    common::server::run_until_stopped(serve(listener, settings)?).await?;
    Ok(())
}
