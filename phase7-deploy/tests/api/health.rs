//! `/health/live` and `/health/ready`: ready asks the database and Redis, answers 503 naming what
//! is down, and goes down when the server starts stopping.

use std::time::Duration;

use common::db::testing::TestDatabase;
use common::testing::partition::Partition;
use common::testing::{TestServer, listener, service_url};
use phase7_deploy::{Config, SCHEMA};
use serde_json::Value;

use crate::support::in_process;

async fn get(url: String) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = reqwest::get(url).await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.expect("JSON"), headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn live_asks_nothing_and_ready_asks_the_database() {
    let (server, _database) = in_process(Config::local("")).await;
    let (status, body, _) = get(format!("{}/health/live", server.base_url())).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "pass"})));
    let (status, body, headers) = get(format!("{}/health/ready", server.base_url())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "pass");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_goes_down_as_soon_as_the_server_is_told_to_stop() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let mut config = Config::local(database.database.url());
    config.shutdown_drain_seconds = 2;
    let app = phase7_deploy::build(config, listener().expect("a free port"))
        .await
        .expect("phase 7 starts");
    let stopper = app.stopper();
    let server = TestServer::spawn(app);
    let stopping = tokio::spawn(async move { stopper.stop().await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (status, body, headers) = get(format!("{}/health/ready", server.base_url())).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["detail"], "the server is shutting down");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(
        headers["connection"], "close",
        "a stopping server closes each connection"
    );
    // During the drain the API still answers.
    let (status, _, _) = get(format!("{}/tasks", server.base_url())).await;
    assert_eq!(status, 200);
    stopping.await.expect("the stop completes");
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_names_redis_when_redis_is_down_and_reads_still_work() {
    let Some(redis_url) = service_url("REDIS_URL") else {
        eprintln!("skipped: REDIS_URL is not set");
        return;
    };
    let proxy = Partition::to_redis(&redis_url).await.expect("a proxy");
    let mut config = Config::local("");
    config.redis_url = Some(proxy.redis_url().into());
    config.redis_prefix = common::testing::unique_name("phase7_health");
    let (server, _database) = in_process(config).await;
    let base = server.base_url();

    let (status, body, _) = get(format!("{base}/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["redis"], "pass");
    let created = reqwest::Client::new()
        .post(format!("{base}/tasks"))
        .json(&serde_json::json!({"title": "Survive an outage"}))
        .send()
        .await
        .expect("an answer");
    let location = crate::support::created(&created);

    proxy.cut();
    let (status, body, _) = get(format!("{base}/health/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["detail"], "not ready: redis down", "{body}");
    assert_eq!(body["checks"]["database"], "pass");
    assert_eq!(
        body["checks"]["redis"], "fail",
        "why is for the log, not the client"
    );
    let started = std::time::Instant::now();
    let (status, task, _) = get(format!("{base}{location}")).await;
    assert_eq!(
        status, 200,
        "a read goes to the database when the cache is down: {task}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a read waited {:?} for a Redis that is down",
        started.elapsed()
    );
}
