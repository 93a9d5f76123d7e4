//! 5.4: a blocking call in an async handler stalls the other requests of its worker; the
//! blocking pool and the async API do not.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use phase5_perf::SCHEMA;
use reqwest::StatusCode;

use crate::support::Phase5;

/// The latency of `GET /fast` while two `GET /stall?how=HOW&ms=600` are in flight, on a server
/// with one HTTP worker.
async fn fast_latency_during(app: &Phase5, how: &str) -> Duration {
    let stalls: Vec<_> = (0..2)
        .map(|_| {
            let request = app
                .http
                .get(app.url(&format!("/stall?ms=600&how={how}")))
                .send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let fast = app.get("/fast").await;
    let latency = started.elapsed();
    assert_eq!(fast.status(), StatusCode::OK);
    for stall in stalls {
        assert_eq!(stall.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    latency
}

#[tokio::test]
async fn a_blocking_sleep_stalls_its_worker_and_the_fixes_do_not() {
    let app = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.http_workers = Some(1);
    })
    .await;
    // The stalled worker answers /fast only after the sleeps in front of it: 450 ms or more. The
    // bounds are a third of the stall apart, wide enough for a loaded machine.
    let blocked = fast_latency_during(&app, "thread-sleep").await;
    assert!(
        blocked >= Duration::from_millis(400),
        "thread-sleep: {blocked:?}"
    );
    let hashed = fast_latency_during(&app, "hash").await;
    assert!(hashed >= Duration::from_millis(400), "hash: {hashed:?}");
    for fixed in ["spawn-blocking", "tokio-sleep", "hash-spawn-blocking"] {
        let latency = fast_latency_during(&app, fixed).await;
        assert!(latency < Duration::from_millis(200), "{fixed}: {latency:?}");
    }
}

#[tokio::test]
async fn stall_refuses_what_it_cannot_do() {
    let app = Phase5::sqlite().await;
    assert_eq!(
        app.get("/stall?ms=6000&how=tokio-sleep").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/stall?ms=1&how=nap").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/stall?how=nap").await.status(),
        StatusCode::BAD_REQUEST
    );
}
