//! `cargo run -p phase2-frameworks`, as a learner runs it: a database of its own, the demo data,
//! the tour, the docs, and a request id in the log line of each request (topic 2.9).

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
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
