//! `cargo run -p chat`: the chat server and its browser client, with a tour.

use std::process::ExitCode;

use chat::{Config, MANIFEST, build};
use clap::Parser;
use common::config::{ServerArgs, exit_code};

#[derive(Debug, Parser)]
#[command(about = "Project 3: real-time chat over WebSockets")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Flags, the environment, and `*_FILE` secrets; a bad value stops here, naming the setting.
    let cli: Cli = common::config::parse_with_secret_files();
    common::telemetry::init(cli.server.log_format);
    exit_code(serve(cli.server, cli.config).await)
}

async fn serve(server: ServerArgs, config: Config) -> anyhow::Result<()> {
    let listener = server.bind(MANIFEST.port)?;
    let app = build(config, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}
