//! The whole app as a learner meets it: the index, the document, forwarded headers, the binary.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Phase5, header};

#[tokio::test]
async fn the_index_and_the_document_list_every_topic() {
    let app = Phase5::sqlite().await;
    let index: Value = app
        .http
        .get(app.url("/"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(index["topics"].as_array().unwrap().len(), 5);
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/catalogue",
        "/reports/sales",
        "/jobs/{id}",
        "/stall",
        "/whoami",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn forwarded_headers_are_believed_from_a_trusted_proxy_only() {
    let untrusted = Phase5::sqlite().await;
    let spoofed: Value = untrusted
        .http
        .get(untrusted.url("/whoami"))
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "for=7.7.7.7;proto=https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spoofed["client"]["ip"], "127.0.0.1");
    assert_eq!(spoofed["client"]["scheme"], "http");
    assert_eq!(spoofed["client"]["via_proxy"], false);

    let behind = Phase5::start(
        common::db::testing::TestDatabase::sqlite_with(&phase5_perf::SCHEMA),
        |config| {
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            config.instance = Some("left".into());
        },
    )
    .await;
    let via = |name: &'static str, value: &'static str| {
        let request = behind.http.get(behind.url("/whoami")).header(name, value);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(header(&response, "x-instance"), "left");
            response.json::<Value>().await.unwrap()
        }
    };
    let forwarded = via("Forwarded", "for=203.0.113.9;proto=https;host=shop.example").await;
    assert_eq!(forwarded["client"]["ip"], "203.0.113.9");
    assert_eq!(forwarded["client"]["scheme"], "https");
    assert_eq!(forwarded["client"]["host"], "shop.example");
    assert_eq!(forwarded["client"]["via_proxy"], true);
    // The client wrote the left part itself; only the right-most untrusted hop is believed.
    let chain = via("X-Forwarded-For", "1.1.1.1, 203.0.113.9").await;
    assert_eq!(chain["client"]["ip"], "203.0.113.9");
    let through_two = via("X-Forwarded-For", "203.0.113.9, 127.0.0.1").await;
    assert_eq!(through_two["client"]["ip"], "203.0.113.9");
}

#[tokio::test]
async fn the_binary_prints_its_tour_and_stops_on_ctrl_c() {
    let dir = std::env::temp_dir().join(common::testing::unique_name("phase5_binary"));
    let database = dir.join("phase5.sqlite3");
    let database = database.to_str().unwrap();
    let mut binary = common::testing::RunningBinary::start(
        env!("CARGO_BIN_EXE_phase5-perf"),
        &["--database-url", database, "--sales-rows", "1000"],
        &[],
    );
    assert!(
        binary.tour.contains("5.3  background tasks"),
        "{}",
        binary.tour
    );
    assert!(
        binary.tour.contains("seeded:        1000 sales"),
        "{}",
        binary.tour
    );
    let response = reqwest::get(format!("{}/catalogue/1", binary.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(binary.interrupt().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// Ctrl-C stops the server, and its own worker finishes the job it holds before the process
/// exits: the job is done, not left for its lease to run out.
#[tokio::test]
async fn the_server_finishes_its_jobs_when_stopped() {
    let database = common::db::testing::TestDatabase::sqlite_with(&phase5_perf::SCHEMA);
    let mut binary = common::testing::RunningBinary::start(
        env!("CARGO_BIN_EXE_phase5-perf"),
        &[
            "--database-url",
            database.database.url(),
            "--sales-rows",
            "100",
            "--workers",
            "1",
            "--poll-ms",
            "20",
        ],
        &[],
    );
    let http = crate::support::client();
    let submitted = http
        .post(format!("{}/jobs", binary.base_url))
        .json(&serde_json::json!({"task": {"kind": "sleep", "ms": 1500}}))
        .send()
        .await
        .unwrap();
    let location = header(&submitted, "location").to_owned();
    let url = format!("{}{location}", binary.base_url);
    for _ in 0..200 {
        let job: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        if job["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(binary.interrupt().success());
    let id: i32 = location.trim_start_matches("/jobs/").parse().unwrap();
    let queue = phase5_perf::jobs::queue::DbQueue::new(database.database.clone());
    let job = phase5_perf::jobs::queue::Queue::get(&queue, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.state,
        phase5_perf::jobs::queue::JobState::Succeeded,
        "{job:?}"
    );
}
