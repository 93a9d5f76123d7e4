//! `cargo run -p phase2-frameworks`: the library API with its docs.

use std::process::ExitCode;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use common::db::Database;
use common::server::Tour;
use phase2_frameworks::{Settings, seed, serve};
use url::Url;

#[derive(Debug, Parser)]
#[command(about = "Phase 2: FastAPI, DRF and Flask strengths in actix-web")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase2.sqlite3")]
    database_url: String,
    /// The price service to call (topic 2.3); by default a simulated one on this server.
    #[arg(long, env = "PRICE_SERVICE_URL")]
    price_service_url: Option<Url>,
    /// Origins allowed by CORS, comma-separated (topic 2.10).
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
}

const TOPICS: &[(&str, &str, &str)] = &[
    (
        "2.1",
        "path, query and body parameters",
        "POST /api/authors/{id}/books?dry_run=true",
    ),
    (
        "2.2",
        "dependency injection",
        "Bearer tokens, ?page=, the repository",
    ),
    ("2.3", "async endpoints", "GET /api/books/{id}/price"),
    (
        "2.4",
        "OpenAPI and its viewers",
        "/openapi.json, /docs/, /rapidoc",
    ),
    ("2.5", "serializers, nested", "GET /api/books/1"),
    ("2.6", "viewsets and routers", "/api/authors, /api/books"),
    (
        "2.7",
        "N+1 against eager loading",
        "/api/authors-with-books?strategy=naive",
    ),
    ("2.8", "blueprints", "/api/..., /admin/..."),
    (
        "2.9",
        "application and request contexts",
        "GET /api/context",
    ),
    (
        "2.10",
        "extensions: CORS, compression",
        "OPTIONS /api/books with Origin",
    ),
];

const TRY_IT: &[&str] = &[
    "curl -s '{base}/api/books?ordering=-year&page_size=3'",
    "curl -s '{base}/api/books?tag=sf&year_min=1970'",
    "curl -si '{base}/api/authors-with-books?strategy=naive' | grep -i x-query-count",
    "curl -si '{base}/api/authors-with-books?strategy=eager' | grep -i x-query-count",
    r#"curl -si {base}/api/authors -H 'Content-Type: application/json' -d '{"name":"Iain M. Banks"}'"#,
    r#"curl -si '{base}/api/authors/1/books?dry_run=true' -H 'Content-Type: application/json' -d '{"title":"","year":99}'"#,
    "curl -s {base}/api/books/1/price",
    "curl -si {base}/admin/stats -H 'Authorization: Bearer admin-token'",
    "curl -si -X OPTIONS {base}/api/books -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST'",
    "open {base}/docs/ or {base}/rapidoc in a browser",
];

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    let database = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
        let database = Database::connect(&cli.database_url)?;
        seed::seed(&database).map_err(|err| anyhow::anyhow!("seeding the demo data: {err:?}"))?;
        Ok(database)
    })
    .await??;
    let listener = cli.server.bind(phase2_frameworks::DEFAULT_PORT)?;
    let mut settings = Settings::new(database.clone());
    settings.price_service = cli.price_service_url;
    if !cli.cors_origins.is_empty() {
        settings.cors_origins = cli.cors_origins;
    }
    let tour = Tour {
        title: "Phase 2: the frameworks' strengths",
        address: listener.local_addr()?,
        topics: TOPICS,
        notes: &[],
        try_it: TRY_IT,
    };
    println!("{tour}");
    println!(
        "database: {}   tokens: reader-token, admin-token\n",
        database.display_url
    );
    common::server::run_until_stopped(serve(listener, settings)?).await?;
    Ok(())
}
