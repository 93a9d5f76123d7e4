//! 2.3 Async endpoints: waiting without blocking.
//!
//! **Roadmap:** "Async/Await: Writing non-blocking endpoints."
//!
//! **Python:** `async def` endpoints await I/O (`await client.get(...)`) and free the event loop
//! meanwhile; blocking work in an `async def` (a sync ORM call, `time.sleep`) stalls every request,
//! so it goes to `run_in_threadpool` or a plain `def` endpoint.
//!
//! **Rust:** the same two rules. `GET /api/books/{id}/price` first reads the book with diesel, which
//! blocks, so it runs on actix's blocking thread pool (`common::db::blocking`, over `web::block`); then it asks a price service
//! over HTTP with reqwest and `.await`s the answer, so the worker serves other requests while the
//! upstream thinks. The upstream is `PRICE_SERVICE_URL`, or by default a simulated one mounted on
//! this server at `/upstream/prices/{id}` that takes 300 ms to answer.
//! `tests/api/async_handlers.rs` holds 64 price requests at a stalled upstream and shows that other
//! requests are still answered.
//!
//! **Why:** an actix worker is one thread running many requests; a request that blocks it blocks all
//! of them. Awaiting is free, blocking is not: the type system does not stop you, so the rule is
//! worth learning once.

use std::time::Duration;

use actix_web::dev::HttpServiceFactory;
use actix_web::get;
use actix_web::{HttpResponse, web};
use common::ApiError;
use common::db::blocking;
use common::extract::Path;
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::OpenApiFactory;

use crate::crud::Crud;
use crate::repository::DbBooks;

/// The price service this server calls.
#[derive(Debug, Clone)]
pub struct PriceService {
    pub client: reqwest::Client,
    /// Prices are at `{base_url}/{book_id}`.
    pub base_url: Url,
}

impl PriceService {
    pub fn new(base_url: Url) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { client, base_url })
    }
}

/// What the price service answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub book_id: i32,
    pub price_cents: u32,
    pub currency: String,
}

/// A book's title with its current price.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PricedBook {
    pub id: i32,
    pub title: String,
    pub price: Quote,
}

/// The `{id}` of a book in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BookId {
    /// The book's id.
    pub id: i32,
}

/// The book from the database (blocking pool), its price from the upstream (awaited).
#[utoipa::path(
    tag = "async",
    params(BookId),
    responses(
        (status = 200, description = "The book with its price", body = PricedBook),
        (status = 404, description = "No such book", body = common::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The price service failed", body = common::Problem, content_type = "application/problem+json")
    )
)]
#[get("/books/{id}/price")]
pub(crate) async fn book_price(
    books: web::Data<DbBooks>,
    prices: web::Data<PriceService>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    let books = books.into_inner();
    let book = blocking(move || books.retrieve(id)).await?;
    let url = prices
        .base_url
        .join(&book.id.to_string())
        .map_err(ApiError::internal)?;
    let upstream_failed = |err: reqwest::Error| {
        tracing::warn!(error = %err, "price service failed");
        ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "the price service did not answer",
        )
    };
    let price: Quote = prices
        .client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(upstream_failed)?
        .json()
        .await
        .map_err(upstream_failed)?;
    Ok(HttpResponse::Ok().json(PricedBook {
        id: book.id,
        title: book.title,
        price,
    }))
}

/// The simulated price service at `/upstream`, for when `PRICE_SERVICE_URL` names none.
pub fn upstream() -> impl HttpServiceFactory + OpenApiFactory + 'static {
    utoipa_actix_web::scope("/upstream").service(simulated_price)
}

/// The simulated price service: answers after 300 ms, as a slow upstream would.
#[utoipa::path(
    tag = "async",
    params(BookId),
    responses((status = 200, description = "A price for any id, after 300 ms", body = Quote))
)]
#[get("/prices/{id}")]
async fn simulated_price(Path(BookId { id }): Path<BookId>) -> HttpResponse {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let price_cents = 500 + u32::try_from(id.rem_euclid(40)).unwrap_or(0) * 100;
    HttpResponse::Ok().json(Quote {
        book_id: id,
        price_cents,
        currency: "EUR".into(),
    })
}
