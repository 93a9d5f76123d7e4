//! `cargo run -p phase4-security`: the server, its demo users, and how to get a token with curl.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use common::db::Database;
use common::server::Tour;
use phase4_security::idempotency::Records;
use phase4_security::login::ProviderConfig;
use phase4_security::rate_limit::{Limiter, Quota};
use phase4_security::seed::{DEMO_USERS, seed};
use phase4_security::{SCHEMA, Settings, serve};

#[derive(Debug, Parser)]
#[command(
    about = "Phase 4: tokens, passwords, OpenID Connect, RBAC, scopes and API best practices"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// A postgres:// URL, or a SQLite file (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = "data/phase4.sqlite3")]
    database_url: String,
    /// Redis for idempotency records and rate limits; in process when absent.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Requests a client may make per period.
    #[arg(long, env = "RATE_LIMIT", default_value_t = phase4_security::DEFAULT_QUOTA.limit, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: u32,
    /// The rate limit's period, in seconds.
    #[arg(long, env = "RATE_PERIOD", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    rate_period: u64,
    /// The URL clients reach this server at: the tokens' issuer. Defaults to the listening address.
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,
    /// Another OpenID Connect provider to log in with, by its issuer URL
    /// (`https://accounts.google.com`; HTTPS needs the `tls` feature).
    #[arg(long, env = "OIDC_ISSUER", requires = "oidc_client_id")]
    oidc_issuer: Option<String>,
    /// Its name in `/login/{name}`.
    #[arg(long, env = "OIDC_NAME", default_value = "external")]
    oidc_name: String,
    #[arg(long, env = "OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    #[arg(long, env = "OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
}

const TOPICS: &[(&str, &str, &str)] = &[
    (
        "4.1",
        "JWT access and refresh tokens",
        "POST /auth/token, /.well-known/jwks.json",
    ),
    ("4.2", "argon2id passwords", "POST /auth/register"),
    (
        "4.3",
        "OpenID Connect provider",
        "/.well-known/openid-configuration",
    ),
    ("4.3", "\"Login with\" a provider", "/login, /login/local"),
    ("4.4", "RBAC: admin vs user", "/admin/users"),
    (
        "4.5",
        "scopes",
        "/v2/books (books:read), POST /v2/books (books:write)",
    ),
    (
        "4.6",
        "versioning, URL and header",
        "/v1/books, /v2/books, /books/{id}",
    ),
    ("4.7", "HATEOAS", "/orders/{id} and its _links"),
    (
        "4.8",
        "idempotency keys",
        "POST /orders with Idempotency-Key",
    ),
    (
        "4.9",
        "rate limiting",
        "RateLimit-* headers on every API response",
    ),
];

const TRY_IT: &[&str] = &[
    r#"curl -s -X POST {base}/auth/register -H 'Content-Type: application/json' -d '{"username":"grace","password":"a long passphrase"}'"#,
    "TOKEN=$(curl -s -X POST {base}/auth/token -d grant_type=password -d username=ada -d password=correct-horse-ada | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
    "curl -s {base}/v2/books/1 -H \"Authorization: Bearer $TOKEN\"",
    "curl -si {base}/v1/books/1 -H \"Authorization: Bearer $TOKEN\" | grep -iE 'deprecation|sunset|link'",
    "curl -si {base}/admin/users -H \"Authorization: Bearer $TOKEN\" | head -1",
    r#"curl -s -X POST {base}/orders -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: order-1' -H 'Content-Type: application/json' -d '{"book_id":1,"quantity":2}'"#,
    "curl -s -X POST {base}/auth/token -d grant_type=refresh_token -d refresh_token=<refresh_token from the login>",
    "for i in $(seq 330); do curl -s -o /dev/null -w '%{http_code}\\n' {base}/v2/books -H \"Authorization: Bearer $TOKEN\"; done | sort | uniq -c",
    "open {base}/login/local in a browser, or {base}/docs/ and \"Authorize\"",
];

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    let url = cli.database_url.clone();
    let database =
        tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA)).await??;
    seed(&database).await?;
    let listener = cli.server.bind(phase4_security::DEFAULT_PORT)?;
    let address = listener.local_addr()?;
    let base_url = cli
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));

    let quota = Quota {
        limit: cli.rate_limit,
        period: Duration::from_secs(cli.rate_period),
    };
    let mut settings = Settings::new(database, &base_url)?;
    if let Some(url) = &cli.redis_url {
        let connection = common::redis::connect(url).await?;
        settings.records = Records::redis(connection.clone(), "phase4:idempotency");
        settings.limiter = Limiter::redis(quota, connection, "phase4:ratelimit");
    } else {
        settings.limiter = Limiter::memory(quota);
    }
    if let (Some(issuer), Some(client_id)) = (cli.oidc_issuer, cli.oidc_client_id) {
        settings = settings.with_provider(ProviderConfig {
            name: cli.oidc_name,
            issuer,
            client_id,
            client_secret: cli.oidc_client_secret,
        });
    }

    let mut notes = vec!["demo users (never use these anywhere real):".to_owned()];
    for (username, password, role) in DEMO_USERS {
        notes.push(format!("  {username:<6} {password:<22} {}", role.as_str()));
    }
    notes.push(String::new());
    notes.push(format!("issuer:        {base_url}"));
    notes.push(format!("database:      {}", settings.database.display_url));
    notes.push(format!(
        "rate limits:   {} requests / {} s per client, in {}; idempotency keys in {}",
        quota.limit,
        quota.period.as_secs(),
        settings.limiter.kind(),
        settings.records.kind()
    ));
    let providers: Vec<&str> = settings
        .login
        .providers
        .iter()
        .map(|provider| provider.name.as_str())
        .collect();
    notes.push(format!("log in with:   {}", providers.join(", ")));
    notes.push(format!("docs:          {base_url}/docs/"));
    let tour = Tour {
        title: "Phase 4: security and API best practices",
        address,
        topics: TOPICS,
        notes: &notes,
        try_it: TRY_IT,
    };
    println!("{tour}");
    common::server::run_until_stopped(serve(listener, settings)?).await?;
    Ok(())
}
