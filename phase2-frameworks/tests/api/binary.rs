//! `cargo run -p phase2-frameworks`, as a learner runs it: a database of its own, the demo data,
//! the tour, the docs, a request id in the log line of each request (topic 2.9), and
//! `--reset-demo` to have the demo data back.

use common::testing::{RunningBinary, unique_name};

#[tokio::test]
async fn the_binary_seeds_its_database_prints_the_tour_and_logs_request_ids() {
    let file = std::env::temp_dir().join(format!("{}.sqlite3", unique_name("phase2_binary")));
    let url = file.to_string_lossy().into_owned();
    let mut binary = RunningBinary::start(
        env!("CARGO_BIN_EXE_phase2-frameworks"),
        &["--log-format", "json"],
        &[("DATABASE_URL", &url)],
    );
    for id in [
        "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
    ] {
        assert!(
            binary.tour.contains(&format!("  {id} ")),
            "the tour does not list {id}:\n{}",
            binary.tour
        );
    }
    let response = reqwest::get(format!("{}/api/books?page_size=100", binary.base_url))
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["count"], 7, "the demo library");
    let docs = reqwest::get(format!("{}/docs/", binary.base_url))
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);

    assert!(
        binary.tour.contains("--reset-demo"),
        "the tour does not say how to reset:\n{}",
        binary.tour
    );
    let deleted = reqwest::Client::new()
        .delete(format!("{}/api/books/1", binary.base_url))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    assert!(binary.interrupt().success());
    let logs = binary.logs();
    let line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "request" && line["path"] == "/api/books")
        .unwrap_or_else(|| panic!("no log line for the request:\n{logs}"));
    assert_eq!(
        line["span"]["request_id"],
        request_id.as_str(),
        "the log line and the header agree"
    );

    let mut again = RunningBinary::start(
        env!("CARGO_BIN_EXE_phase2-frameworks"),
        &["--reset-demo"],
        &[("DATABASE_URL", &url)],
    );
    let page: serde_json::Value = reqwest::get(format!("{}/api/books", again.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["count"], 7,
        "--reset-demo brings the deleted book back"
    );
    assert!(again.interrupt().success());

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
