//! Topic 2.3: while 64 requests wait on a stalled upstream, the server answers others.
//! No timing is measured: the upstream holds every request until the test releases it.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use common::db::testing::TestDatabase;
use common::testing::TestServer;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// A price service that counts arrivals and answers only when the test adds permits.
struct StalledUpstream {
    arrived: AtomicUsize,
    gate: Semaphore,
}

fn start_upstream(state: Arc<StalledUpstream>, status: u16) -> TestServer {
    TestServer::start(move |listener| {
        Ok(HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
                let state = state.clone();
                async move {
                    state.arrived.fetch_add(1, Ordering::SeqCst);
                    let _permit = state.gate.acquire().await.expect("the gate stays open");
                    let id: i32 = req
                        .path()
                        .rsplit('/')
                        .next()
                        .and_then(|id| id.parse().ok())
                        .unwrap_or(0);
                    HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(status).expect("a status code"),
                    )
                    .json(json!({"book_id": id, "price_cents": 999, "currency": "EUR"}))
                }
            }))
        })
        .workers(1)
        .listen(listener)?
        .run())
    })
    .expect("start the upstream")
}

#[tokio::test]
async fn requests_waiting_on_the_upstream_do_not_block_others() {
    let upstream = Arc::new(StalledUpstream {
        arrived: AtomicUsize::new(0),
        gate: Semaphore::new(0),
    });
    let upstream_server = start_upstream(upstream.clone(), 200);
    let database = TestDatabase::sqlite();
    phase2_frameworks::seed::seed(&database.database).unwrap();
    let price_url = format!("{}/prices/", upstream_server.base_url());
    let server = support::start(&database, |state| {
        state.price_service = Some(price_url.parse().unwrap());
    });
    // A blocked server fails the test instead of hanging it.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // More requests than any machine has cores, so than the server has workers.
    const WAITING: usize = 64;
    let pending: Vec<_> = (0..WAITING)
        .map(|_| {
            let request = client.get(format!("{}/api/books/1/price", server.base_url()));
            tokio::spawn(async move { request.send().await })
        })
        .collect();
    // Wait until every price request is held by the upstream.
    for _ in 0..500 {
        if upstream.arrived.load(Ordering::SeqCst) == WAITING {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(upstream.arrived.load(Ordering::SeqCst), WAITING);

    // All of them are in flight, yet other requests still get in.
    for _ in 0..5 {
        let authors = client
            .get(format!("{}/api/authors", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(authors.status(), 200);
    }
    assert!(pending.iter().all(|handle| !handle.is_finished()));

    upstream.gate.add_permits(WAITING);
    for handle in pending {
        let priced: Value = handle.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(priced["price"]["price_cents"], 999);
        assert_eq!(priced["title"], "A Wizard of Earthsea");
    }
}

#[tokio::test]
async fn a_failing_upstream_is_a_502_problem() {
    let upstream = Arc::new(StalledUpstream {
        arrived: AtomicUsize::new(0),
        gate: Semaphore::new(100),
    });
    let upstream_server = start_upstream(upstream, 500);
    let database = TestDatabase::sqlite();
    phase2_frameworks::seed::seed(&database.database).unwrap();
    let price_url = format!("{}/prices/", upstream_server.base_url());
    let server = support::start(&database, |state| {
        state.price_service = Some(price_url.parse().unwrap());
    });
    let response = reqwest::get(format!("{}/api/books/1/price", server.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let missing = reqwest::get(format!("{}/api/books/999/price", server.base_url()))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
