//! `cargo run -p phase1-http`: the phase-1 server, the hand-written server, or the raw client.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::config::{ServerArgs, exit_code};
use phase1_http::Config;

#[derive(Debug, Parser)]
#[command(about = "Phase 1: HTTP and the language")]
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
    /// Serve the phase-1 API with actix-web (the default).
    Serve,
    /// Serve a tiny HTTP/1.1 server written by hand on tokio's TcpListener (topic 1.5).
    Raw,
    /// Send GET to a URL by hand and print the raw request and response bytes (topic 1.5).
    Inspect {
        /// An http:// URL, such as http://127.0.0.1:8001/books
        url: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = cli.server.bind(phase1_http::DEFAULT_PORT)?;
            let app = phase1_http::build(cli.config, listener).await?;
            app.run_with_tour().await?;
        }
        Command::Raw => {
            let listener = cli.server.bind(phase1_http::RAW_DEFAULT_PORT)?;
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            println!(
                "A hand-written HTTP/1.1 server on http://{}  (Ctrl-C stops)",
                listener.local_addr()?
            );
            println!(
                "try:  curl -v http://{}/echo -d hello",
                listener.local_addr()?
            );
            tokio::select! {
                served = phase1_http::raw_http::serve(listener) => served?,
                () = common::server::shutdown_signal() => println!("stopped"),
            }
        }
        Command::Inspect { url } => {
            let exchange = phase1_http::raw_http::inspect(&url).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "--- request ({} bytes) ---", exchange.request.len())?;
            out.write_all(&exchange.request)?;
            writeln!(out, "--- response ({} bytes) ---", exchange.response.len())?;
            out.write_all(&exchange.response)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
