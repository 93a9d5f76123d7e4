//! 4.8: idempotency keys, in process and in Redis (when `REDIS_URL` is set).

mod support;

use std::time::Duration;

use common::db::testing::TestDatabase;
use phase4_security::SCHEMA;
use phase4_security::idempotency::Records;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Phase4;

/// Phase 4 with each records store this machine has: in process, and Redis when configured.
async fn phases(keep_for: Duration) -> Vec<Phase4> {
    let mut phases = vec![
        Phase4::start(TestDatabase::sqlite_with(&SCHEMA), |settings| {
            settings.records.keep_for = keep_for;
        })
        .await,
    ];
    if let Some((connection, prefix)) = support::redis().await {
        phases.push(
            Phase4::start(TestDatabase::sqlite_with(&SCHEMA), move |settings| {
                settings.records = Records::redis(connection, &prefix);
                settings.records.keep_for = keep_for;
            })
            .await,
        );
    }
    phases
}

async fn order(phase: &Phase4, token: &str, key: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = phase
        .http
        .post(phase.url("/orders"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.expect("POST /orders")
}

async fn order_count(phase: &Phase4, token: &str) -> i64 {
    phase.get("/orders", token).await.1["count"]
        .as_i64()
        .expect("the list has a count")
}

#[tokio::test]
async fn a_retry_replays_the_first_response_and_creates_nothing() {
    for phase in phases(Duration::from_secs(60)).await {
        let token = phase.ada().await.access_token;
        let first = order(
            &phase,
            &token,
            Some("k1"),
            r#"{"book_id": 1, "quantity": 2}"#,
        )
        .await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let location = first.headers()["location"].clone();
        let body: Value = first.json().await.unwrap();

        // Another spelling of the same JSON is the same request.
        let retry = order(&phase, &token, Some("k1"), r#"{"quantity":2,"book_id":1}"#).await;
        assert_eq!(retry.status(), StatusCode::CREATED);
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(retry.headers()["location"], location);
        assert_eq!(retry.json::<Value>().await.unwrap(), body);
        assert_eq!(order_count(&phase, &token).await, 1);

        // The same key for something else is refused.
        let other = order(
            &phase,
            &token,
            Some("k1"),
            r#"{"book_id": 1, "quantity": 3}"#,
        )
        .await;
        assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Without a key, every POST is a new order.
        order(&phase, &token, None, r#"{"book_id": 1, "quantity": 2}"#).await;
        assert_eq!(order_count(&phase, &token).await, 2);
    }
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_order() {
    for phase in phases(Duration::from_secs(60)).await {
        let token = phase.ada().await.access_token;
        let body = r#"{"book_id": 3, "quantity": 1}"#;
        let attempts = (0..16).map(|_| order(&phase, &token, Some("together"), body));
        let responses = futures_util::future::join_all(attempts).await;
        let mut created = Vec::new();
        for response in responses {
            match response.status() {
                StatusCode::CREATED => {
                    created.push(response.json::<Value>().await.unwrap()["id"].clone());
                }
                StatusCode::CONFLICT => assert_eq!(response.headers()["retry-after"], "1"),
                other => panic!("unexpected {other}"),
            }
        }
        assert!(!created.is_empty());
        assert!(created.iter().all(|id| *id == created[0]), "{created:?}");
        assert_eq!(order_count(&phase, &token).await, 1);
    }
}

#[tokio::test]
async fn keys_belong_to_a_user_and_expire() {
    for phase in phases(Duration::from_millis(400)).await {
        let ada = phase.ada().await.access_token;
        let admin = phase.admin().await.access_token;
        let body = r#"{"book_id": 1, "quantity": 1}"#;
        let (first, second) = (
            order(&phase, &ada, Some("shared"), body).await,
            order(&phase, &admin, Some("shared"), body).await,
        );
        assert!(second.headers().get("idempotent-replayed").is_none());
        assert_ne!(
            first.json::<Value>().await.unwrap()["id"],
            second.json::<Value>().await.unwrap()["id"]
        );

        tokio::time::sleep(Duration::from_millis(600)).await;
        let after = order(&phase, &ada, Some("shared"), body).await;
        assert_eq!(after.status(), StatusCode::CREATED);
        assert!(
            after.headers().get("idempotent-replayed").is_none(),
            "the key expired"
        );
        assert_eq!(order_count(&phase, &ada).await, 2);
    }
}

#[tokio::test]
async fn a_failed_request_frees_its_key_and_a_bad_key_is_refused() {
    for phase in phases(Duration::from_secs(60)).await {
        let token = phase.ada().await.access_token;
        let missing_book = order(
            &phase,
            &token,
            Some("k2"),
            r#"{"book_id": 999, "quantity": 1}"#,
        )
        .await;
        assert_eq!(missing_book.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let fixed = order(
            &phase,
            &token,
            Some("k2"),
            r#"{"book_id": 1, "quantity": 1}"#,
        )
        .await;
        assert_eq!(fixed.status(), StatusCode::CREATED);

        let long_key = "k".repeat(256);
        let bad = order(
            &phase,
            &token,
            Some(&long_key),
            r#"{"book_id": 1, "quantity": 1}"#,
        )
        .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let (_, list) = phase.get("/orders", &token).await;
        assert_eq!(list["count"], json!(1));
    }
}
