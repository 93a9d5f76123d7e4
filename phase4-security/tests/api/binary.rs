//! `cargo run -p phase4-security`: the tour, the demo users, and the curl walk-through's first steps.

use common::testing::{RunningBinary, unique_name};
use serde_json::Value;

#[tokio::test]
async fn the_binary_prints_its_demo_users_and_they_can_log_in() {
    let file = std::env::temp_dir().join(format!("{}.sqlite3", unique_name("phase4_binary")));
    let url = file.to_string_lossy().into_owned();
    let mut binary = RunningBinary::start(
        env!("CARGO_BIN_EXE_phase4-security"),
        &["--rate-limit", "3"],
        &[("DATABASE_URL", &url)],
    );
    assert!(
        binary.tour.contains("4.9  rate limiting"),
        "{}",
        binary.tour
    );
    assert!(
        binary.tour.contains("grant_type=password"),
        "{}",
        binary.tour
    );
    assert!(
        binary.tour.contains("  ada    correct-horse-ada      user"),
        "{}",
        binary.tour
    );
    assert!(
        binary
            .tour
            .contains("3 requests / 60 s per client, in memory"),
        "{}",
        binary.tour
    );

    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/auth/token", binary.base_url))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", "correct-horse-ada"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["ratelimit-limit"], "3");
    let tokens: Value = response.json().await.unwrap();
    let discovery: Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            binary.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], binary.base_url.as_str());
    let books = http
        .get(format!("{}/v2/books/1", binary.base_url))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(books.status(), 200);

    assert!(binary.interrupt().success());
    let logs = binary.logs();
    assert!(
        !logs.contains("correct-horse"),
        "no password is logged:\n{logs}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
