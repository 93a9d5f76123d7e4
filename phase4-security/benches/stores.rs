//! What the rate limiter and the idempotency store cost a request: `cargo bench -p phase4-security`.
//!
//! For the in-process stores, and Redis when `REDIS_URL` is set, it times the calls a request makes:
//! - the rate limiter: one `take` (in Redis, one `EVALSHA` of the GCRA script);
//! - an idempotent POST: `claim` then `complete` (two round trips; `complete` a compare-and-set
//!   script), and a replayed one: `claim`
//!   finding the stored response (one).
//!
//! Also the ES256 verification of a bearer token, which the limiter does to know the user.
//!
//! One at a time gives the latency a request pays; 64 at a time, the throughput the store allows.
//! Bounded: at most 5,000 calls (20,000 concurrently) and 20 seconds per measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use phase4_security::idempotency::{Claim, Records, Saved};
use phase4_security::oauth::now;
use phase4_security::rate_limit::{Limiter, Quota};
use phase4_security::tokens::{API_AUDIENCE, AccessClaims, Tokens};

const SEQUENTIAL: usize = 5_000;
const CONCURRENT: usize = 20_000;
const CONCURRENCY: usize = 64;
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// A quota no measurement exhausts: every call does the full work of an allowed request.
const GENEROUS: Quota = Quota {
    limit: 1_000_000,
    period: Duration::from_secs(60),
};

struct Timings(Vec<Duration>);

impl Timings {
    fn at(&self, quantile: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 * quantile) as usize).min(sorted.len() - 1);
        sorted[index]
    }

    fn row(&self, store: &str, what: &str) {
        let mean = self.0.iter().sum::<Duration>() / self.0.len().max(1) as u32;
        println!(
            "| {store} | {what} | {} | {:.1} µs | {:.1} µs | {:.1} µs |",
            self.0.len(),
            mean.as_secs_f64() * 1e6,
            self.at(0.5).as_secs_f64() * 1e6,
            self.at(0.99).as_secs_f64() * 1e6,
        );
    }
}

/// Times `call(i)` for i in 0.., one at a time.
async fn sequential<F, Fut>(call: F) -> Timings
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let mut timings = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        if started.elapsed() > TIME_LIMIT {
            break;
        }
        let at = Instant::now();
        call(i).await;
        timings.push(at.elapsed());
    }
    Timings(timings)
}

/// Calls per second with 64 tasks calling `call` at once.
async fn throughput<F, Fut>(call: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|task| {
            let call = Arc::clone(&call);
            tokio::spawn(async move {
                let mut done = 0;
                for i in (task..CONCURRENT).step_by(CONCURRENCY) {
                    if started.elapsed() > TIME_LIMIT {
                        break;
                    }
                    call(i).await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("a benchmark task");
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn saved() -> Saved {
    Saved {
        status: 201,
        location: Some("/orders/1".to_owned()),
        content_type: Some("application/json".to_owned()),
        body: serde_json::json!({"id": 1, "book_id": 1, "quantity": 1, "status": "placed"})
            .to_string(),
    }
}

async fn measure(store: &str, limiter: Limiter, records: Records) {
    let limiter = Arc::new(limiter);
    let records = Arc::new(records);

    let l = Arc::clone(&limiter);
    sequential(move |i| {
        let l = Arc::clone(&l);
        async move {
            l.take(&format!("user:{}", i % 100)).await.expect("take");
        }
    })
    .await
    .row(store, "rate limit: take");

    let r = Arc::clone(&records);
    sequential(move |i| {
        let r = Arc::clone(&r);
        async move {
            let key = format!("bench:new:{i}");
            let Claim::Claimed(held) = r.claim(&key, "fingerprint").await.expect("claim") else {
                panic!("{key} was taken already");
            };
            r.complete(&key, &held, "fingerprint", &saved())
                .await
                .expect("complete");
        }
    })
    .await
    .row(store, "idempotent POST: claim + complete");

    let r = Arc::clone(&records);
    sequential(move |i| {
        let r = Arc::clone(&r);
        async move {
            let key = format!("bench:new:{}", i % 100);
            r.claim(&key, "fingerprint").await.expect("replay");
        }
    })
    .await
    .row(store, "idempotent retry: replay");

    let l = Arc::clone(&limiter);
    let takes = throughput(move |i| {
        let l = Arc::clone(&l);
        async move {
            l.take(&format!("user:{}", i % 100)).await.expect("take");
        }
    })
    .await;
    let r = Arc::clone(&records);
    let posts = throughput(move |i| {
        let r = Arc::clone(&r);
        async move {
            let key = format!("bench:concurrent:{i}");
            let Claim::Claimed(held) = r.claim(&key, "fingerprint").await.expect("claim") else {
                panic!("{key} was taken already");
            };
            r.complete(&key, &held, "fingerprint", &saved())
                .await
                .expect("complete");
        }
    })
    .await;
    println!(
        "| {store} | 64 at a time | rate limit {takes:.0} takes/s, idempotency {posts:.0} POSTs/s | | | |"
    );
}

/// The other per-request cost of the limiter: it verifies the bearer token to know the user.
async fn token_verification() {
    let tokens = Arc::new(Tokens::new("http://127.0.0.1:8004").expect("keys"));
    let now = now();
    let token = tokens
        .keys
        .sign(&serde_json::json!({
            "iss": "http://127.0.0.1:8004", "sub": "1", "aud": API_AUDIENCE, "exp": now + 600,
            "nbf": now, "iat": now, "jti": "bench", "scope": "books:read", "role": "user",
            "preferred_username": "bench",
        }))
        .expect("sign");
    sequential(move |_| {
        let (tokens, token) = (Arc::clone(&tokens), token.clone());
        async move {
            tokens
                .verify::<AccessClaims>(&token, API_AUDIENCE)
                .expect("verify");
        }
    })
    .await
    .row("-", "ES256 verification of a bearer token");
}

#[tokio::main]
async fn main() {
    println!("| store | call | calls | mean | median | p99 |");
    println!("|---|---|---|---|---|---|");
    token_verification().await;
    measure("memory", Limiter::memory(GENEROUS), Records::memory()).await;
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            let connection = common::redis::connect(&url)
                .await
                .expect("connect to Redis");
            let prefix = common::testing::unique_name("phase4_bench");
            let mut records = Records::redis(connection.clone(), &format!("{prefix}:idempotency"));
            records.keep_for = Duration::from_secs(60);
            measure(
                "redis",
                Limiter::redis(GENEROUS, connection, &format!("{prefix}:ratelimit")),
                records,
            )
            .await;
            println!("\n(the keys under {prefix}:* expire within a minute)");
        }
        _ => println!("\nREDIS_URL is not set: Redis not measured"),
    }
}
