//! `cargo bench -p phase5-perf --bench blocking`: the latency of `GET /fast` while blocking calls
//! are in flight, for each way of making them, with 1 and 2 HTTP workers.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase5_perf::{Config, SCHEMA};

/// Blocking calls in flight at once, and how long each takes.
const IN_FLIGHT: usize = 4;
const STALL_MS: u64 = 300;

async fn fast_latency(http: &reqwest::Client, base: &str, how: &str) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let stalls: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                tokio::spawn(
                    http.get(format!("{base}/stall?ms={STALL_MS}&how={how}"))
                        .send(),
                )
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        http.get(format!("{base}/fast"))
            .send()
            .await
            .expect("GET /fast");
        samples.push(started.elapsed());
        for stall in stalls {
            let _ = stall.await;
        }
    }
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let http = reqwest::Client::new();
    let database = TestDatabase::sqlite_with(&SCHEMA);
    println!("GET /fast while {IN_FLIGHT} calls of {STALL_MS} ms run (median of 5, ms):");
    println!();
    println!("| how the calls wait | 1 HTTP worker | 2 HTTP workers |");
    println!("|---|---|---|");
    let mut servers = Vec::new();
    for workers in [1, 2] {
        let mut config = Config::local(database.database.url());
        config.workers = 0;
        config.sales_rows = 0;
        config.http_workers = Some(workers);
        let listener = common::testing::listener().expect("a free port");
        servers.push(TestServer::spawn(
            phase5_perf::build(config, listener).await.expect("phase 5"),
        ));
    }
    for how in [
        "thread-sleep",
        "hash",
        "spawn-blocking",
        "hash-spawn-blocking",
        "tokio-sleep",
    ] {
        let mut row = format!("| `{how}` |");
        for server in &servers {
            let latency = fast_latency(&http, &server.base_url(), how).await;
            row.push_str(&format!(" {:.1} |", latency.as_secs_f64() * 1000.0));
        }
        println!("{row}");
    }
}
