//! `cargo run -p phase6-testing`: the box office, with a tour. `-- --bug NAME` starts it with a
//! planted bug, to see what the tests (or a student's) make of it.

use std::process::ExitCode;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use phase6_testing::bugs::{self, Bug};
use phase6_testing::{Config, MANIFEST, build};

#[derive(Debug, Parser)]
#[command(about = "Phase 6: a box office worth testing, and its tests")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
    /// Starts the server with this mistake in it (see `src/bugs.rs`).
    #[arg(long, env = bugs::ENV, value_enum)]
    bug: Option<Bug>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    bugs::plant(cli.bug);
    exit_code(serve(cli.server, cli.config).await)
}

async fn serve(server: ServerArgs, config: Config) -> anyhow::Result<()> {
    common::telemetry::init(server.log_format);
    let listener = server.bind(MANIFEST.port)?;
    let app = build(config, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}
