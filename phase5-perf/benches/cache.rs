//! `cargo bench -p phase5-perf --bench cache`: what the report costs as a miss, as a hit in the
//! process tier, and (with `REDIS_URL`) as a hit in Redis, over HTTP to a server in this process.
//! Sequential requests, so each number is one request's latency, not a throughput.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase5_perf::{Config, SCHEMA};

const HITS: usize = 2000;
const MISSES: usize = 20;

async fn start(database: &TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::local(database.database.url());
    config.workers = 0;
    adjust(&mut config);
    let listener = common::testing::listener().expect("a free port");
    TestServer::spawn(phase5_perf::build(config, listener).await.expect("phase 5"))
}

/// The median and the 99th percentile of `samples`, in microseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

async fn timed_get(http: &reqwest::Client, url: &str) -> (Duration, String) {
    let started = Instant::now();
    let response = http.get(url).send().await.expect("GET");
    let status = response
        .headers()
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    response.bytes().await.expect("the body");
    (started.elapsed(), status)
}

#[tokio::main]
async fn main() {
    let http = reqwest::Client::new();
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = start(&database, |_| {}).await;
    let report = format!("{}/reports/sales", server.base_url());

    let mut misses = Vec::new();
    for _ in 0..MISSES {
        let sold = http
            .post(format!("{}/sales", server.base_url()))
            .json(&serde_json::json!({"book_id": 1, "customer": "bench@example.com", "quantity": 1, "price_cents": 100}))
            .send()
            .await
            .expect("POST /sales");
        assert!(sold.status().is_success());
        let (took, status) = timed_get(&http, &report).await;
        assert!(status.contains("fwd=miss"), "{status}");
        misses.push(took);
    }
    let mut hits = Vec::new();
    for _ in 0..HITS {
        let (took, status) = timed_get(&http, &report).await;
        assert!(status.starts_with("phase5-memory; hit"), "{status}");
        hits.push(took);
    }
    let (miss, miss_p99) = summary(misses);
    let (hit, hit_p99) = summary(hits);
    println!("GET /reports/sales over 200 000 sales on SQLite, sequential requests (µs):");
    println!();
    println!("| answered by | median | p99 |");
    println!("|---|---|---|");
    println!("| the database (a miss) | {miss:.0} | {miss_p99:.0} |");
    println!("| the process tier (a hit) | {hit:.0} | {hit_p99:.0} |");

    if let Ok(url) = std::env::var("REDIS_URL") {
        let prefix = common::testing::unique_name("bench");
        let redis_only = start(&database, |config| {
            config.redis_url = Some(url);
            config.redis_prefix = prefix;
            config.skip_memory_tier = true;
        })
        .await;
        let report = format!("{}/reports/sales", redis_only.base_url());
        timed_get(&http, &report).await;
        let mut samples = Vec::new();
        for _ in 0..HITS {
            let (took, status) = timed_get(&http, &report).await;
            assert_eq!(status, "phase5-redis; hit");
            samples.push(took);
        }
        let (redis, redis_p99) = summary(samples);
        println!("| Redis (the process tier left out) | {redis:.0} | {redis_p99:.0} |");
        println!();
        println!("one Redis round trip adds {:.0} µs to a hit", redis - hit);
    }
    println!();
    println!("a hit is {:.0}× faster than a miss", miss / hit);
}
