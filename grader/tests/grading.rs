//! The grader grades: phase 1 passes every check, and a wrong server fails every one of them.

use std::collections::BTreeSet;
use std::process::Command;

use actix_web::{App, HttpResponse, HttpServer, web};
use common::testing::TestServer;
use grader::{Status, Target, grade, phase, targets};
use url::Url;

/// A server that answers 200 `{}` to every request, whatever it is.
fn wrong_server() -> TestServer {
    TestServer::start(|listener| {
        Ok(HttpServer::new(|| {
            App::new().default_service(web::to(|| async {
                HttpResponse::Ok().json(serde_json::json!({}))
            }))
        })
        .workers(1)
        .listen(listener)?
        .run())
    })
    .expect("start the wrong server")
}

#[tokio::test]
async fn phase1_passes_every_check() {
    let running = targets::start("phase1").await.unwrap();
    let outcomes = grade(&phase("phase1").unwrap(), &running.target).await;
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != Status::Pass)
        .map(|o| format!("{} {}: {:?}", o.topic, o.check, o.status))
        .collect();
    assert!(
        failures.is_empty(),
        "phase 1 failed checks:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_phase1_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let url = Url::parse(&server.base_url()).unwrap();
    // The wrong server stands in for the hand-written one too.
    let target = Target::new(url.clone()).unwrap().with_raw_url(url);
    let outcomes = grade(&phase("phase1").unwrap(), &target).await;

    let passed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Fail(_)))
        .map(|o| o.check)
        .collect();
    assert!(
        passed.is_empty(),
        "checks that did not fail against a wrong server: {passed:?}"
    );

    let topics: BTreeSet<&str> = outcomes.iter().map(|o| o.topic).collect();
    let expected: BTreeSet<&str> = [
        "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9",
    ]
    .into();
    assert_eq!(topics, expected, "every phase-1 topic is graded");
}

#[tokio::test]
async fn the_report_card_shows_each_failing_topic_and_exits_non_zero() {
    let server = wrong_server();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(["phase1", "--base-url", &server.base_url()])
            .output()
    })
    .await
    .unwrap()
    .expect("run the grader binary");
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status; output:\n{table}"
    );
    for topic in ["1.1", "1.2", "1.3", "1.4", "1.6", "1.7", "1.8", "1.9"] {
        assert!(
            table.contains(&format!("phase1  {topic:<4}")) && table.contains("FAIL"),
            "the table does not show {topic} failing:\n{table}"
        );
    }
    // Without --raw-url the hand-written server's checks are skipped, not failed.
    assert!(table.contains("skip  no --raw-url given"), "{table}");
    assert!(table.contains("1.5  0/0 checks  skipped"), "{table}");
}

#[tokio::test]
async fn json_and_junit_reports_carry_every_outcome() {
    let server = wrong_server();
    let base_url = server.base_url();
    let run = |format: &'static str| {
        let base_url = base_url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_grader"))
                .args(["phase1", "--base-url", &base_url, "--format", format])
                .output()
                .expect("run the grader binary")
        })
    };
    let json = run("json").await.unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), grader::phase1::checks().len());
    assert!(
        outcomes
            .iter()
            .any(|o| o["status"] == "fail" && o["reason"].is_string())
    );

    let junit = run("junit").await.unwrap();
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("<testsuite name=\"phase1\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("<skipped"), "{xml}");
}
