//! 4.8: idempotency keys, in process and in Redis (when `REDIS_URL` is set).

use crate::support;

use std::time::Duration;

use common::db::testing::TestDatabase;
use phase4_security::SCHEMA;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Phase4;

/// Phase 4 with each records store this machine has: in process, and Redis when configured.
async fn phases(keep_for: Duration) -> Vec<Phase4> {
    let keep = move |state: &mut phase4_security::AppState| state.records.keep_for = keep_for;
    let mut phases = vec![Phase4::start(TestDatabase::sqlite_with(&SCHEMA), |_| {}, keep).await];
    if let Some(redis) = support::redis() {
        let phase = Phase4::start(TestDatabase::sqlite_with(&SCHEMA), redis, keep).await;
        phases.push(phase);
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

        // The same key for something else is refused, and retrying will not help.
        let other = order(
            &phase,
            &token,
            Some("k1"),
            r#"{"book_id": 1, "quantity": 3}"#,
        )
        .await;
        assert_eq!(other.status(), StatusCode::CONFLICT);
        assert!(other.headers().get("retry-after").is_none());
        let problem: Value = other.json().await.unwrap();
        assert_eq!(
            problem["detail"],
            "this Idempotency-Key was already used with a different request; use a new key"
        );
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
        assert_eq!(missing_book.status(), StatusCode::NOT_FOUND);
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

#[tokio::test]
async fn a_post_without_a_valid_token_is_passed_on_untouched() {
    let phase = Phase4::sqlite().await;
    let response = phase
        .http
        .post(phase.url("/orders"))
        .header("idempotency-key", "anonymous")
        .json(&json!({"book_id": 1, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The key was not claimed for anyone: a user may use it.
    let token = phase.ada().await.access_token;
    let first = order(
        &phase,
        &token,
        Some("anonymous"),
        r#"{"book_id": 1, "quantity": 1}"#,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn the_document_describes_the_key_the_server_checks() {
    let phase = Phase4::sqlite().await;
    let (_, doc) = phase.get("/openapi.json", "").await;
    let post = &doc["paths"]["/orders"]["post"];
    let key = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("Idempotency-Key is documented");
    assert_eq!(key["in"], "header");
    assert_eq!(
        key["schema"]["pattern"],
        phase4_security::idempotency::KEY_PATTERN
    );
    assert_eq!(key["schema"]["maxLength"], 255);
    assert!(post["responses"]["409"]["headers"]["Retry-After"].is_object());
    assert!(post["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());
    assert!(
        doc["paths"]["/orders"]["get"]["parameters"].is_null(),
        "GET /orders takes no key"
    );
}
