//! Sync diesel on the blocking pool against diesel-async, under concurrent load:
//! `cargo bench -p phase3-db`.
//!
//! For each backend (SQLite; PostgreSQL too when `DATABASE_URL` names one) it starts phase 3 on a
//! free port and sends `GET /reviews/latest?via=...` 2,000 times, 64 at a time, over HTTP, then
//! prints requests per second and the median and 99th-percentile latency. Bounded: 2,000 requests
//! or 60 seconds a run, whichever comes first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::testing::{TestServer, listener};
use phase3_db::documents::Mongo;
use phase3_db::key_value::{MemoryStore, Store};
use phase3_db::migrations::SCHEMA;
use phase3_db::{AppState, serve};
use tokio::sync::Semaphore;

const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 64;
const TIME_LIMIT: Duration = Duration::from_secs(60);

async fn load(client: &reqwest::Client, url: &str) -> (f64, Duration, Duration, usize) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        if started.elapsed() > TIME_LIMIT {
            break;
        }
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore stays open");
        let request = client.get(url);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = request.send().await.is_ok_and(|r| r.status().is_success());
            drop(permit);
            (sent.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failures = 0;
    for task in tasks {
        let (latency, ok) = task.await.expect("a request task");
        latencies.push(latency);
        failures += usize::from(!ok);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        failures,
    )
}

#[tokio::main]
async fn main() {
    println!(
        "{:<9} {:<9} {:>10} {:>11} {:>11} {:>9}",
        "backend", "via", "req/s", "median ms", "p99 ms", "failures"
    );
    for database in TestDatabase::all_with(&SCHEMA) {
        phase3_db::seed::seed(&database.database).expect("seed");
        let state = AppState::with(
            database.database.clone(),
            Store::Memory(MemoryStore::default()),
            Mongo(None),
        )
        .expect("the state");
        let server =
            TestServer::spawn(serve(state, listener().expect("a port")).expect("start phase 3"));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONCURRENCY)
            .build()
            .expect("a client");
        for via in ["blocking", "async"] {
            let url = format!("{}/reviews/latest?via={via}&limit=20", server.base_url());
            load(&client, &url).await; // warm up pools and caches
            let (rate, median, p99, failures) = load(&client, &url).await;
            println!(
                "{:<9} {:<9} {:>10.0} {:>11.2} {:>11.2} {:>9}",
                format!("{:?}", database.database.backend),
                via,
                rate,
                median.as_secs_f64() * 1000.0,
                p99.as_secs_f64() * 1000.0,
                failures
            );
        }
    }
}
