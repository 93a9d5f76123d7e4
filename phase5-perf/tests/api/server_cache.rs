//! 5.2: the report in two tiers, a stampede run once, writes invalidating every instance.

use common::db::testing::TestDatabase;
use common::testing::partition::Partition;
use futures_util::future::join_all;
use phase5_perf::SCHEMA;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Phase5, header, redis};

async fn stats(app: &Phase5) -> Value {
    app.get("/cache/stats").await.json().await.unwrap()
}

/// `n` concurrent reports from each of `apps`: every Cache-Status, and every body.
async fn stampede(apps: &[&Phase5], n: usize) -> Vec<(String, Value)> {
    let requests = apps.iter().flat_map(|app| {
        (0..n).map(move |_| async move {
            let response = app.get("/reports/sales").await;
            assert_eq!(response.status(), StatusCode::OK);
            let status = header(&response, "cache-status").to_owned();
            (status, response.json::<Value>().await.unwrap())
        })
    });
    join_all(requests).await
}

fn units_of(report: &Value, book_id: i64) -> i64 {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["book_id"] == book_id)
        .map_or(0, |row| row["units"].as_i64().unwrap())
}

/// A hit in the process tier, still fresh (a stale one says how long ago its TTL ran out).
fn is_fresh_hit(response: &reqwest::Response) -> bool {
    header(response, "cache-status") == "phase5-memory; hit"
}

#[tokio::test]
async fn a_hundred_concurrent_misses_run_the_query_once() {
    let app = Phase5::sqlite().await;
    let answers = stampede(&[&app], 100).await;
    let stats = stats(&app).await;
    assert_eq!(stats["computations"], 1, "{stats}");
    let first = &answers[0].1;
    assert!(
        answers.iter().all(|(_, body)| body == first),
        "one report for all"
    );
    assert!(
        answers
            .iter()
            .any(|(status, _)| status.contains("collapsed")),
        "some requests waited for the one computation: {:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let hit = app.get("/reports/sales").await;
    assert!(is_fresh_hit(&hit), "{}", header(&hit, "cache-status"));
    assert!(
        header(&hit, "server-timing").is_empty(),
        "nothing was computed"
    );
}

/// Past its TTL the entry is served at once, marked stale (a negative `ttl`), while one request
/// refreshes it in the background: an expiry stalls nobody, and still computes once.
#[tokio::test]
async fn an_expired_report_is_served_stale_while_one_refresh_runs() {
    let app = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.cache_ttl = 1;
    })
    .await;
    let first: Value = app.get("/reports/sales").await.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let answers = stampede(&[&app], 20).await;
    assert!(
        answers.iter().all(
            |(status, body)| status.starts_with("phase5-memory; hit; ttl=-") && body == &first
        ),
        "every request got the stale report at once: {:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let mut refreshed = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let response = app.get("/reports/sales").await;
        if !header(&response, "cache-status").contains("ttl=-") {
            refreshed = response.json().await.unwrap();
            break;
        }
    }
    assert!(
        refreshed["computed_at"].as_i64() > first["computed_at"].as_i64(),
        "refreshed: {refreshed}"
    );
    assert_eq!(
        stats(&app).await["computations"],
        2,
        "one at the start, one refresh"
    );
}

#[tokio::test]
async fn a_sale_invalidates_the_report() {
    let app = Phase5::sqlite().await;
    let before: Value = app.get("/reports/sales").await.json().await.unwrap();
    let created = app
        .http
        .post(app.url("/sales"))
        .json(&json!({"book_id": 1, "customer": "ada@example.com", "quantity": 3, "price_cents": 1200}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(&created, "location").to_owned();
    let recorded: Value = created.json().await.unwrap();
    assert_eq!(recorded["receipt"]["state"], "queued");
    assert_eq!(recorded["receipt"]["payload"]["to"], "ada@example.com");
    assert_eq!(app.get(&location).await.status(), StatusCode::OK);

    let after = app.get("/reports/sales").await;
    assert!(
        header(&after, "cache-status").contains("fwd=miss"),
        "the write emptied the cache"
    );
    assert!(header(&after, "server-timing").starts_with("db;dur="));
    let after: Value = after.json().await.unwrap();
    assert_eq!(units_of(&after, 1), units_of(&before, 1) + 3);

    // A sale of a book that does not exist records nothing and queues nothing.
    let jobs_before: Value = app.get("/jobs").await.json().await.unwrap();
    let missing = app
        .http
        .post(app.url("/sales"))
        .json(&json!({"book_id": 999, "customer": "ada@example.com", "quantity": 1, "price_cents": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let jobs_after: Value = app.get("/jobs").await.json().await.unwrap();
    assert_eq!(jobs_after["counts"], jobs_before["counts"]);
}

/// Two instances with the same Redis prefix: one computation between them, and a write through
/// one is seen through the other as soon as it returns.
#[tokio::test]
async fn two_instances_share_redis_compute_once_and_never_serve_stale() {
    let Some((url, prefix)) = redis() else {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    };
    // Both on one database, as two instances behind a proxy are.
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let database_url = database.database.url().to_owned();
    let configure = |instance: &'static str| {
        let (url, prefix, database_url) = (url.clone(), prefix.clone(), database_url.clone());
        move |config: &mut phase5_perf::Config| {
            config.database_url = database_url;
            config.redis_url = Some(url);
            config.redis_prefix = prefix;
            config.instance = Some(instance.to_owned());
        }
    };
    let a = Phase5::start(database, configure("a")).await;
    let b = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), configure("b")).await;

    let answers = stampede(&[&a, &b], 50).await;
    let (sa, sb) = (stats(&a).await, stats(&b).await);
    let computations = sa["computations"].as_u64().unwrap() + sb["computations"].as_u64().unwrap();
    assert_eq!(computations, 1, "{sa} {sb}");
    assert!(answers.iter().all(|(_, body)| body == &answers[0].1));
    assert_eq!(sa["tiers"], "memory+redis");

    // Warm both process tiers, then write through A.
    let before: Value = b.get("/reports/sales").await.json().await.unwrap();
    assert!(is_fresh_hit(&b.get("/reports/sales").await));
    for round in 1..=5 {
        let written = a
            .http
            .post(a.url("/sales"))
            .json(&json!({"book_id": 2, "customer": "ada@example.com", "quantity": 1, "price_cents": 100}))
            .send()
            .await
            .unwrap();
        assert_eq!(written.status(), StatusCode::CREATED);
        let seen: Value = b.get("/reports/sales").await.json().await.unwrap();
        assert_eq!(
            units_of(&seen, 2),
            units_of(&before, 2) + round,
            "B after write {round}"
        );
    }
    clear(&url, &prefix).await;
}

/// A Redis that stops answering after start: every report still comes back, from the process
/// tier or the database, and says Redis was unavailable.
#[tokio::test]
async fn a_failing_redis_degrades_to_the_process_tier_and_the_database() {
    let Some((url, prefix)) = redis() else {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    };
    let proxy = Partition::to_redis(&url).await.unwrap();
    let app = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.redis_url = Some(proxy.redis_url());
        config.redis_prefix = prefix.clone();
    })
    .await;
    assert_eq!(app.get("/reports/sales").await.status(), StatusCode::OK);

    proxy.cut();
    let written = app
        .http
        .post(app.url("/sales"))
        .json(&json!({"book_id": 1, "customer": "ada@example.com", "quantity": 1, "price_cents": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        written.status(),
        StatusCode::CREATED,
        "a write does not need the cache"
    );
    let degraded = app.get("/reports/sales").await;
    assert_eq!(degraded.status(), StatusCode::OK);
    assert!(
        header(&degraded, "cache-status").contains("phase5-redis; fwd=miss; detail=unavailable"),
        "{}",
        header(&degraded, "cache-status")
    );
    let served = app.get("/reports/sales").await;
    assert!(is_fresh_hit(&served), "{}", header(&served, "cache-status"));
    let stats = stats(&app).await;
    assert!(stats["redis_errors"].as_u64().unwrap() >= 1, "{stats}");
    clear(&url, &prefix).await;
}

/// Removes the test's keys.
async fn clear(url: &str, prefix: &str) {
    use redis::AsyncCommands;
    let mut connection = common::redis::connect(url).await.unwrap();
    let keys: Vec<String> = connection.keys(format!("{prefix}:*")).await.unwrap();
    if !keys.is_empty() {
        let _: usize = connection.del(&keys).await.unwrap();
    }
}
