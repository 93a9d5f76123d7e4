//! `cargo run -p phase2-frameworks`: the library API with its docs.

use std::process::ExitCode;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use phase2_frameworks::{Config, MANIFEST, build};

#[derive(Debug, Parser)]
#[command(about = "Phase 2: FastAPI, DRF and Flask strengths in actix-web")]
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
