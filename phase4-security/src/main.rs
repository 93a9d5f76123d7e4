//! `cargo run -p phase4-security`: the server, its demo users, and how to get a token with curl.

use std::process::ExitCode;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use phase4_security::{Config, MANIFEST, build};

#[derive(Debug, Parser)]
#[command(
    about = "Phase 4: tokens, passwords, OpenID Connect, RBAC, scopes and API best practices"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    let listener = cli.server.bind(MANIFEST.port)?;
    let app = build(cli.config, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}
