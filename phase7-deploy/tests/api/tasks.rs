//! The API itself: a task created, read, changed and deleted, on SQLite and, with `REDIS_URL`,
//! through the Redis cache, which a change must never leave stale.

use common::testing::{service_url, unique_name};
use phase7_deploy::Config;
use serde_json::{Value, json};

use crate::support::{created, in_process};

/// `GET url` as JSON.
async fn read(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("an answer");
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.expect("JSON")
}

async fn lifecycle(config: Config) {
    let (server, _database) = in_process(config).await;
    let base = server.base_url();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/tasks"))
        .json(&json!({"title": "Water the plants"}))
        .send()
        .await
        .expect("an answer");
    let location = created(&response);
    let task: Value = response.json().await.expect("JSON");
    assert_eq!(task["done"], false);

    // Read twice: the second may come from the cache, and must be the same.
    for _ in 0..2 {
        let read = read(&client, &format!("{base}{location}")).await;
        assert_eq!(read, task);
    }
    let changed = client
        .patch(format!("{base}{location}"))
        .json(&json!({"done": true}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(changed.status(), 200);
    let read = read(&client, &format!("{base}{location}")).await;
    assert_eq!(
        read["done"], true,
        "a change is never served stale from the cache"
    );

    let deleted = client
        .delete(format!("{base}{location}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(deleted.status(), 204);
    let gone = client
        .get(format!("{base}{location}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        gone.status(),
        404,
        "a deleted task is not served from the cache"
    );
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_lives_and_dies_on_sqlite() {
    lifecycle(Config::local("")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_lives_and_dies_through_the_redis_cache() {
    let Some(redis_url) = service_url("REDIS_URL") else {
        eprintln!("skipped: REDIS_URL is not set");
        return;
    };
    let mut config = Config::local("");
    config.redis_url = Some(redis_url.into());
    config.redis_prefix = unique_name("phase7_tasks");
    lifecycle(config).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_title_is_one_to_200_printable_characters() {
    let (server, _database) = in_process(Config::local("")).await;
    let client = reqwest::Client::new();
    for title in [String::new(), "x".repeat(201), "nul\u{0}byte".to_owned()] {
        let response = client
            .post(format!("{}/tasks", server.base_url()))
            .json(&json!({"title": title}))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 422, "{title:?}");
        let problem: Value = response.json().await.expect("a problem");
        assert_eq!(problem["errors"][0]["field"], "title", "{problem}");
    }
}
