//! `cargo run --release -p bench --bin bare-actix`: the yardstick of `scripts/bench-http`.
//!
//! The least an actix-web server can do for `GET /books/1`: no middleware, no logging, no store,
//! one handler that serializes a book of the same shape as phase 1's. Whatever a crate adds on top
//! (the shared middleware, extractors, a store, a token check) shows as the gap between its numbers
//! and this one's, measured side by side on the same machine. It also answers `GET /r/{code}` with a
//! 302 from a `HashMap`, the yardstick of a redirect, and `GET /report` with the bytes of the file
//! `--report` names (phase 5's cached report, saved by `scripts/bench-http`): the yardstick of a
//! cached JSON response.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use clap::Parser;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "A bare actix-web handler, for benchmarks")]
struct Cli {
    #[command(flatten)]
    server: common::config::ServerArgs,
    /// A JSON file for `GET /report` to answer with.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Book {
    id: u64,
    title: &'static str,
    author: &'static str,
    year: i32,
    tags: [&'static str; 2],
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn book(path: web::Path<u64>) -> HttpResponse {
    // A timestamp with nanoseconds, as a stored book's is: the same bytes to write as phase 1's.
    let now = DateTime::from_timestamp(1_764_633_542, 623_443_574).unwrap_or_default();
    HttpResponse::Ok().json(Book {
        id: path.into_inner(),
        title: "Dune",
        author: "Frank Herbert",
        year: 1965,
        tags: ["sf", "classic"],
        created_at: now,
        updated_at: now,
    })
}

async fn redirect(
    path: web::Path<String>,
    links: web::Data<HashMap<String, String>>,
) -> HttpResponse {
    match links.get(path.as_str()) {
        Some(target) => HttpResponse::Found()
            .insert_header((header::LOCATION, target.as_str()))
            .finish(),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn report(body: web::Data<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.get_ref().clone())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = cli.server.bind(8900)?;
    println!("bare actix-web on http://{}", listener.local_addr()?);
    let report_body = match &cli.report {
        Some(path) => std::fs::read(path)?,
        None => b"{}".to_vec(),
    };
    let report_body = web::Data::new(web::Bytes::from(report_body));
    let links = web::Data::new(HashMap::from([(
        "abc123".to_owned(),
        "https://example.com/".to_owned(),
    )]));
    HttpServer::new(move || {
        App::new()
            .app_data(links.clone())
            .app_data(report_body.clone())
            .route("/books/{id}", web::get().to(book))
            .route("/report", web::get().to(report))
            .route("/r/{code}", web::get().to(redirect))
    })
    .listen(listener)?
    .run()
    .await?;
    Ok(())
}
