//! `cargo run -p phase1-http`: the phase-1 server, the hand-written server, or the raw client.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::config::{ServerArgs, exit_code};
use common::server::Tour;

#[derive(Debug, Parser)]
#[command(about = "Phase 1: HTTP and the language")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
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

const TOPICS: &[(&str, &str, &str)] = &[
    ("1.1", "methods, safety, idempotency", "/books, /books/{id}"),
    ("1.2", "status codes", "/status/..."),
    (
        "1.3",
        "headers and negotiation",
        "/headers/echo, Accept on /books",
    ),
    ("1.4", "JSON, form and multipart bodies", "POST /books"),
    ("1.5", "HTTP by hand", "-- raw, -- inspect URL"),
    ("1.6", "types at the edge", "/books/abc, /books?limit=ten"),
    ("1.7", "serialization", "GET /books/{id}"),
    ("1.8", "validation", "POST /books with bad fields"),
    (
        "1.9",
        "decorators and middleware",
        "/hello/{name}, /hello-explicit/{name}",
    ),
];

const TRY_IT: &[&str] = &[
    r#"curl -i {base}/books -H 'Content-Type: application/json' -d '{"title":"Dune","author":"Frank Herbert","year":1965}'"#,
    r#"curl -i {base}/books -d title=Emma -d author=Austen -d year=1815"#,
    r#"curl -i {base}/books -F title=Ulysses -F author=Joyce -F year=1922 -F cover=@some.png"#,
    r#"curl -i {base}/books -H 'Accept: text/csv'"#,
    r#"curl -i -X PUT {base}/books/42 -H 'Content-Type: application/json' -d '{"title":"H","author":"A","year":2000}'"#,
    r#"curl -i {base}/books -H 'Content-Type: application/json' -d '{"title":"","author":"A","year":99}'"#,
    r#"curl -i -L -d x=1 {base}/status/redirect/302    (then 307: the POST survives)"#,
    r#"curl -i {base}/status/admin -H 'Authorization: Bearer user-token'"#,
    r#"curl -i {base}/headers/echo"#,
];

#[tokio::main]
async fn main() -> ExitCode {
    exit_code(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    common::telemetry::init(cli.server.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = cli.server.bind(phase1_http::DEFAULT_PORT)?;
            let tour = Tour {
                title: "Phase 1: HTTP and the language",
                address: listener.local_addr()?,
                topics: TOPICS,
                notes: &[],
                try_it: TRY_IT,
            };
            println!("{tour}");
            common::server::run_until_stopped(phase1_http::serve(listener)?).await?;
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
