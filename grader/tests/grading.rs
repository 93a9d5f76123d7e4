//! The grader grades: phase 1 passes every check, and a wrong server fails every one of them.

use std::collections::BTreeSet;
use std::process::Command;

use actix_web::{App, HttpResponse, HttpServer, web};
use common::testing::TestServer;
use grader::{Status, Target, grade, phase, targets};
use phase3_db::key_value::{MemoryStore, RedisStore, Store};
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

/// Fails the test with every check of `name` that did not pass against `target`. A skip (a check
/// whose service is not configured here) is allowed, unless `REQUIRE_SERVICES=1`.
async fn assert_all_pass(name: &str, target: &Target) {
    let outcomes = grade(&phase(name).expect("a known phase"), target).await;
    let required = common::testing::services_required();
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| match o.status {
            Status::Pass => false,
            Status::Skip(_) => required,
            Status::Fail(_) => true,
        })
        .map(|o| format!("{} {}: {:?}", o.topic, o.check, o.status))
        .collect();
    assert!(
        failures.is_empty(),
        "{name} failed checks:\n{}",
        failures.join("\n")
    );
}

/// Fails the test unless every check of `name` fails against `target`, and every topic is graded.
async fn assert_all_fail(name: &str, target: &Target, topics: &[&str]) {
    let outcomes = grade(&phase(name).expect("a known phase"), target).await;
    let passed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Fail(_)))
        .map(|o| o.check)
        .collect();
    assert!(
        passed.is_empty(),
        "checks that did not fail against a wrong server: {passed:?}"
    );
    let graded: BTreeSet<&str> = outcomes.iter().map(|o| o.topic).collect();
    assert_eq!(
        graded,
        topics.iter().copied().collect(),
        "every {name} topic is graded"
    );
}

#[tokio::test]
async fn phase1_passes_every_check() {
    let running = targets::start("phase1").await.unwrap();
    assert_all_pass("phase1", &running.target).await;
}

#[tokio::test]
async fn phase2_passes_every_check_on_sqlite() {
    let running = targets::start("phase2").await.unwrap();
    assert_all_pass("phase2", &running.target).await;
}

#[tokio::test]
async fn phase2_passes_every_check_on_postgres() {
    let Some(database) = common::db::testing::TestDatabase::postgres() else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let running = targets::start_phase2(database).await.unwrap();
    assert_all_pass("phase2", &running.target).await;
}

#[tokio::test]
async fn phase3_passes_every_check_on_sqlite() {
    let running = targets::start("phase3").await.unwrap();
    assert_all_pass("phase3", &running.target).await;
}

#[tokio::test]
async fn phase3_passes_every_check_on_postgres_and_redis() {
    let Some(database) =
        common::db::testing::TestDatabase::postgres_with(&phase3_db::migrations::SCHEMA)
    else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let redis = match common::testing::service_url("REDIS_URL") {
        Some(url) => Some(
            RedisStore::connect(&url, &common::testing::unique_name("grader"))
                .await
                .unwrap(),
        ),
        None => None,
    };
    let store = redis
        .clone()
        .map_or_else(|| Store::Memory(MemoryStore::default()), Store::Redis);
    let running = targets::start_phase3(database, store).await.unwrap();
    assert_all_pass("phase3", &running.target).await;
    if let Some(redis) = redis {
        redis.clear().await.unwrap();
    }
}

#[tokio::test]
async fn every_phase3_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let target = Target::new(Url::parse(&server.base_url()).unwrap()).unwrap();
    let topics = ["3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8"];
    assert_all_fail("phase3", &target, &topics).await;
}

#[tokio::test]
async fn phase4_passes_every_check_on_sqlite() {
    let running = targets::start("phase4").await.unwrap();
    assert_all_pass("phase4", &running.target).await;
}

#[tokio::test]
async fn phase4_passes_every_check_on_postgres_and_redis() {
    let Some(database) = common::db::testing::TestDatabase::postgres_with(&phase4_security::SCHEMA)
    else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let redis = match common::testing::service_url("REDIS_URL") {
        Some(url) => Some((
            common::redis::connect(&url).await.unwrap(),
            common::testing::unique_name("grader"),
        )),
        None => None,
    };
    let running = targets::start_phase4(database, redis).await.unwrap();
    assert_all_pass("phase4", &running.target).await;
}

#[tokio::test]
async fn every_phase4_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let target = Target::new(Url::parse(&server.base_url()).unwrap()).unwrap();
    let topics = [
        "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8", "4.9",
    ];
    assert_all_fail("phase4", &target, &topics).await;
}

#[tokio::test]
async fn every_phase1_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let url = Url::parse(&server.base_url()).unwrap();
    // The wrong server stands in for the hand-written one too.
    let target = Target::new(url.clone()).unwrap().with_raw_url(url);
    let topics = [
        "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9",
    ];
    assert_all_fail("phase1", &target, &topics).await;
}

#[tokio::test]
async fn every_phase2_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let target = Target::new(Url::parse(&server.base_url()).unwrap()).unwrap();
    let topics = [
        "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
    ];
    assert_all_fail("phase2", &target, &topics).await;
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
            table
                .lines()
                .any(|line| line.starts_with(&format!("phase1  {topic:<4} "))
                    && line.contains(" checks ")
                    && line.ends_with("FAIL")),
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
