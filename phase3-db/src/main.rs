//! `cargo run -p phase3-db`: the server, or `-- migrate up|down|status`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::config::{ServerArgs, exit_code};
use phase3_db::migrations::{self, MigrateCommand};
use phase3_db::{Config, MANIFEST};

#[derive(Debug, Parser)]
#[command(about = "Phase 3: diesel, migrations, several backends, MongoDB and Redis")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
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

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Migrate { action }) = cli.command {
        // No log subscriber: what the command did is its output, said once.
        let url = cli.config.database_url;
        let output = tokio::task::spawn_blocking(move || migrations::run(&url, action)).await??;
        print!("{output}");
        return Ok(());
    }
    common::telemetry::init(cli.server.log_format);
    let listener = cli.server.bind(MANIFEST.port)?;
    let app = phase3_db::build(cli.config, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}
