//! 4.9: the rate limiter, in process and in Redis, and one limit shared by two servers.

use crate::support;

use common::db::testing::TestDatabase;
use phase4_security::{Config, SCHEMA};
use reqwest::StatusCode;
use serde_json::Value;
use support::Phase4;

/// `--rate-limit 5 --rate-period 60`.
fn five_a_minute(config: &mut Config) {
    config.rate_limit = 5;
    config.rate_period = 60;
}

/// Phase 4 limited to five requests a minute, with each limiter this machine has.
async fn phases() -> Vec<Phase4> {
    let mut phases =
        vec![Phase4::start(TestDatabase::sqlite_with(&SCHEMA), five_a_minute, |_| {}).await];
    if let Some(redis) = support::redis() {
        let configure = move |config: &mut Config| {
            five_a_minute(config);
            redis(config);
        };
        phases.push(Phase4::start(TestDatabase::sqlite_with(&SCHEMA), configure, |_| {}).await);
    }
    phases
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name]
        .to_str()
        .expect("the header is text")
        .to_owned()
}

#[tokio::test]
async fn every_response_counts_down_and_the_sixth_is_429() {
    for phase in phases().await {
        // The login is the address's first request; the user's requests have a bucket of their own.
        let token = phase.ada().await.access_token;
        let mut remaining = Vec::new();
        for _ in 0..5 {
            let response = phase
                .http
                .get(phase.url("/v2/books"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(header(&response, "ratelimit-limit"), "5");
            assert_eq!(header(&response, "ratelimit-policy"), "5;w=60");
            remaining.push(header(&response, "ratelimit-remaining"));
        }
        assert_eq!(remaining, ["4", "3", "2", "1", "0"]);

        let refused = phase
            .http
            .get(phase.url("/v2/books"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!(
            (1..=12).contains(&retry_after),
            "{retry_after}: one request comes back every 12 s"
        );
        assert_eq!(header(&refused, "ratelimit-remaining"), "0");
        assert_eq!(header(&refused, "content-type"), "application/problem+json");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["status"], 429);
        // A refusal from the limiter is a problem like any other: it says why and of what.
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|detail| !detail.is_empty()),
            "{problem}"
        );
        assert_eq!(problem["instance"], "/v2/books", "{problem}");

        // Another client has its own bucket: the address, with one request spent on the login.
        let anonymous = phase.http.get(phase.url("/login")).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::OK);
        assert_eq!(header(&anonymous, "ratelimit-remaining"), "3");
        // A 401 counts too, against the address: a forged token buys no fresh bucket.
        let forged = phase
            .http
            .get(phase.url("/v2/books"))
            .bearer_auth("forged")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&forged, "ratelimit-remaining"), "2");
    }
}

#[tokio::test]
async fn two_servers_sharing_redis_share_the_limit() {
    let Some(redis) = support::redis() else {
        return;
    };
    let mut servers = Vec::new();
    for _ in 0..2 {
        // One prefix for both: the servers share their buckets.
        let redis = redis.clone();
        let configure = move |config: &mut Config| {
            five_a_minute(config);
            redis(config);
        };
        servers.push(Phase4::start(TestDatabase::sqlite_with(&SCHEMA), configure, |_| {}).await);
    }
    let mut statuses = Vec::new();
    for round in 0..6 {
        let server = &servers[round % 2];
        let response = server.http.get(server.url("/login")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429],
        "alternating between two servers"
    );
}
