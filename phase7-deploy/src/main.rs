//! `cargo run -p phase7-deploy`: the to-do list, deployed as production wants it, with a tour.

use std::process::ExitCode;

use clap::Parser;
use common::config::{ServerArgs, exit_code};
use common::tracking::ErrorTracking;
use phase7_deploy::{Config, MANIFEST, build_with};

#[derive(Debug, Parser)]
#[command(about = "Phase 7: deployment and operations")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    config: Config,
}

fn main() -> ExitCode {
    // Flags, the environment, and `*_FILE` secrets; a bad value stops here, naming the setting.
    let cli: Cli = common::config::parse_with_secret_files();
    common::telemetry::init(cli.server.log_format);
    // Sentry first, before any thread exists: its panic hook then covers every thread, and its
    // guard, dropped at the end of `main`, sends what is still queued.
    let _sentry = cli
        .config
        .error_tracking()
        .map(|settings| sentry::init(common::tracking::options(&settings)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return exit_code(Err(err.into())),
    };
    exit_code(runtime.block_on(serve(cli.server, cli.config)))
}

async fn serve(server: ServerArgs, config: Config) -> anyhow::Result<()> {
    let listener = server.bind(MANIFEST.port)?;
    let tracking = config.sentry_dsn.is_some().then(ErrorTracking::global);
    let app = build_with(config, tracking, listener).await?;
    app.run_with_tour().await?;
    Ok(())
}
