//! The grader grades: every phase passes every check, and a wrong server fails every one of them.

use std::collections::BTreeSet;
use std::process::Command;

use actix_web::{App, HttpResponse, HttpServer, web};
use common::db::testing::TestDatabase;
use common::manifest::Manifest;
use common::testing::{TestServer, service_url, unique_name};
use grader::{Outcome, Status, Target, conventions, grade, phase, targets};
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

fn wrong_target(server: &TestServer) -> Target {
    let url = Url::parse(&server.base_url()).expect("the server's URL");
    Target::new(url).expect("a target")
}

/// Fails the test with every check of `name` that did not pass against `target`. A skip (a check
/// whose service is not configured here) is allowed, unless `REQUIRE_SERVICES=1`.
async fn assert_all_pass(name: &str, target: &Target) {
    let outcomes = grade(&phase(name).expect("a known phase"), target).await;
    assert_passed(name, &outcomes);
}

fn assert_passed(name: &str, outcomes: &[Outcome]) {
    let required = common::testing::services_required();
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| match &o.status {
            Status::Pass => false,
            // A check that names the test that covers it (phase 5's nginx) is never run here.
            Status::Skip(_) => required && !o.status.tested_elsewhere(),
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

/// Fails the test unless every check of `name` fails against `target`, and every topic of
/// `manifest` (and every convention's) is graded.
async fn assert_all_fail(name: &str, target: &Target, manifest: &Manifest) {
    let outcomes = grade(&phase(name).expect("a known phase"), target).await;
    // A check graded elsewhere (phase 6's suite, run by the grader's binary) does not look at
    // the server at all.
    let passed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Fail(_)) && !o.status.tested_elsewhere())
        .map(|o| o.check)
        .collect();
    assert!(
        passed.is_empty(),
        "checks that did not fail against a wrong server: {passed:?}"
    );
    let graded: BTreeSet<&str> = outcomes.iter().map(|o| o.topic).collect();
    let expected: BTreeSet<&str> = manifest
        .topic_ids()
        .into_iter()
        .chain(conventions::TOPICS)
        .collect();
    assert_eq!(graded, expected, "every {name} topic is graded");
}

#[tokio::test]
async fn phase1_passes_every_check() {
    let running = targets::start("phase1").await.unwrap();
    assert_all_pass("phase1", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase2_passes_every_check_on_sqlite() {
    let running = targets::start("phase2").await.unwrap();
    assert_all_pass("phase2", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase2_passes_every_check_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let running = targets::start_phase2(database).await.unwrap();
    assert_all_pass("phase2", &running.target).await;
    running.stop().await.unwrap();
}

/// Graded as a learner's server is, the phase keeps no row a check made: its authors and books are
/// the demo library's, before and after.
#[tokio::test]
async fn grading_phase2_leaves_its_library_as_it_was() {
    let running = targets::start("phase2").await.unwrap();
    let client = reqwest::Client::new();
    let count = |path: &'static str| {
        let url = running.target.url(path).unwrap();
        let client = client.clone();
        async move {
            let page: serde_json::Value =
                client.get(url).send().await.unwrap().json().await.unwrap();
            page["count"].as_i64().expect("a count")
        }
    };
    let before = (count("/api/authors").await, count("/api/books").await);
    let outcomes = grade(&phase("phase2").unwrap(), &running.target).await;
    let after = (count("/api/authors").await, count("/api/books").await);
    assert_eq!(after, before, "(authors, books) before and after grading");
    assert_passed("phase2", &outcomes);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase3_passes_every_check_on_sqlite() {
    let running = targets::start("phase3").await.unwrap();
    assert_all_pass("phase3", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase3_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&phase3_db::migrations::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let mut config = targets::phase3_config(&database);
    config.redis_url = service_url("REDIS_URL");
    let running = targets::start_phase3(database, config.clone())
        .await
        .unwrap();
    assert_all_pass("phase3", &running.target).await;
    // Stopping removes the run's keys (and its MongoDB database): none is left under its prefix.
    running.stop().await.unwrap();
    if let Some(url) = &config.redis_url {
        let store = phase3_db::key_value::RedisStore::connect(url, &config.namespace)
            .await
            .unwrap();
        assert_eq!(store.clear().await.unwrap(), 0, "keys left in Redis");
    }
}

#[tokio::test]
async fn phase4_passes_every_check_on_sqlite() {
    let running = targets::start("phase4").await.unwrap();
    assert_all_pass("phase4", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase4_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&phase4_security::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let mut config = phase4_security::Config::local(database.database.url());
    config.redis_url = service_url("REDIS_URL");
    config.redis_prefix = unique_name("grader");
    let running = targets::start_phase4(database, config).await.unwrap();
    assert_all_pass("phase4", &running.target).await;
    running.stop().await.unwrap();
}

/// Graded with the limit the README suggests trying (`--rate-limit 5`), the checks fail because
/// the server answers 429, and the card says so, not what the 429 made go wrong downstream.
#[tokio::test]
async fn a_rate_limited_server_is_reported_as_rate_limited() {
    let database = TestDatabase::sqlite_with(&phase4_security::SCHEMA);
    let mut config = phase4_security::Config::local(database.database.url());
    config.rate_limit = 5;
    let running = targets::start_phase4(database, config).await.unwrap();
    let outcomes = grade(&phase("phase4").unwrap(), &running.target).await;
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Fail(_)))
        .collect();
    assert!(
        failed.len() >= 10,
        "only {} checks failed against a limit of 5 requests a minute",
        failed.len()
    );
    for outcome in failed {
        let Status::Fail(reason) = &outcome.status else {
            unreachable!()
        };
        assert!(
            reason.contains("the server answered 429 Too Many Requests: rate-limited")
                && reason.contains("--rate-limit 1000"),
            "{} {} failed for another reason: {reason}",
            outcome.topic,
            outcome.check
        );
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_phase1_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    let url = Url::parse(&server.base_url()).unwrap();
    // The wrong server stands in for the hand-written one too.
    let target = Target::new(url.clone()).unwrap().with_raw_url(url);
    assert_all_fail("phase1", &target, &phase1_http::MANIFEST).await;
}

#[tokio::test]
async fn every_phase2_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail(
        "phase2",
        &wrong_target(&server),
        &phase2_frameworks::MANIFEST,
    )
    .await;
}

#[tokio::test]
async fn every_phase3_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("phase3", &wrong_target(&server), &phase3_db::MANIFEST).await;
}

#[tokio::test]
async fn every_phase4_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("phase4", &wrong_target(&server), &phase4_security::MANIFEST).await;
}

#[tokio::test]
async fn phase5_passes_every_check_on_sqlite() {
    let running = targets::start("phase5").await.unwrap();
    assert_all_pass("phase5", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase5_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&phase5_perf::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let mut config = phase5_perf::Config::local(database.database.url());
    config.redis_url = service_url("REDIS_URL");
    config.redis_prefix = unique_name("grader");
    let running = targets::start_phase5(database, config).await.unwrap();
    assert_all_pass("phase5", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_phase5_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("phase5", &wrong_target(&server), &phase5_perf::MANIFEST).await;
}

/// Runs the grader binary with `args`; its exit code and standard output.
#[tokio::test]
async fn phase6_passes_every_check_on_sqlite() {
    let running = targets::start("phase6").await.unwrap();
    assert_all_pass("phase6", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_phase6_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("phase6", &wrong_target(&server), &phase6_testing::MANIFEST).await;
}

#[tokio::test]
async fn phase7_passes_every_check_on_sqlite() {
    let database = TestDatabase::sqlite_with(&phase7_deploy::SCHEMA);
    let mut config = targets::phase7_config(&database);
    config.redis_url = None;
    let running = targets::start_phase7(database, config).await.unwrap();
    assert_all_pass("phase7", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn phase7_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&phase7_deploy::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let config = targets::phase7_config(&database);
    if config.redis_url.is_none() {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    }
    let running = targets::start_phase7(database, config).await.unwrap();
    assert_all_pass("phase7", &running.target).await;
    running.stop().await.unwrap();
}

/// The wrong server, with a workspace that has none of phase 7's files, an error receiver it
/// never sends to, and the log of this process, where it never logs.
#[tokio::test]
async fn every_phase7_check_fails_against_a_wrong_server_and_files() {
    let server = wrong_server();
    let empty = std::env::temp_dir().join(unique_name("grader_empty_workspace"));
    std::fs::create_dir_all(&empty).unwrap();
    let receiver = std::sync::Arc::new(common::tracking::Receiver::start().unwrap());
    let mut target = wrong_target(&server)
        .with_workspace(&empty)
        .with_errors(receiver);
    if let Some(log) = common::telemetry::capture() {
        target = target.with_log(log);
    }
    assert_all_fail("phase7", &target, &phase7_deploy::MANIFEST).await;
    std::fs::remove_dir_all(&empty).unwrap();
}

async fn run_grader(args: Vec<String>) -> (Option<i32>, String) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_grader"))
            .args(args)
            .output()
            .expect("run the grader binary")
    })
    .await
    .expect("the grader ran");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_report_card_shows_each_failing_topic_and_exits_non_zero() {
    let server = wrong_server();
    let base_url = server.base_url();
    let (code, table) =
        run_grader(vec!["phase1".into(), "--base-url".into(), base_url.clone()]).await;
    assert_eq!(code, Some(1), "exit status; output:\n{table}");
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
    // The card says what it graded, and counts every check.
    assert!(
        table.contains(&format!("phase1  graded at {base_url}")),
        "{table}"
    );
    let checks = grader::phase1::checks().len();
    assert!(
        table.contains(&format!("0 passed, {} failed, 2 skipped", checks - 2)),
        "{table}"
    );
}

#[tokio::test]
async fn the_report_card_names_a_phase_it_started_itself() {
    let (code, table) = run_grader(vec!["phase1".into()]).await;
    assert_eq!(code, Some(0), "{table}");
    assert!(
        table.contains("phase1  started in process at http://127.0.0.1:"),
        "{table}"
    );
    let checks = grader::phase1::checks().len();
    assert!(
        table.contains(&format!("{checks} passed, 0 failed, 0 skipped")),
        "{table}"
    );
}

#[tokio::test]
async fn json_and_junit_reports_carry_every_outcome_and_the_url() {
    let server = wrong_server();
    let base_url = server.base_url();
    let args = |format: &str| {
        ["phase1", "--base-url", &base_url, "--format", format]
            .map(str::to_owned)
            .to_vec()
    };
    let (_, json) = run_grader(args("json")).await;
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), grader::phase1::checks().len());
    assert!(
        outcomes
            .iter()
            .any(|o| o["status"] == "fail" && o["reason"].is_string())
    );
    assert_eq!(report["graded"][0]["phase"], "phase1");
    assert_eq!(report["graded"][0]["base_url"], base_url.as_str());
    assert_eq!(report["graded"][0]["in_process"], false);

    let (_, xml) = run_grader(args("junit")).await;
    assert!(xml.contains("<testsuite name=\"phase1\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("<skipped"), "{xml}");
    assert!(
        xml.contains(&format!("<property name=\"base_url\" value=\"{base_url}\"")),
        "{xml}"
    );
}

#[tokio::test]
async fn the_shortener_passes_every_check_on_sqlite() {
    let database = TestDatabase::sqlite_with(&shortener::SCHEMA);
    let mut config = targets::shortener_config(&database);
    config.redis_url = None;
    let running = targets::start_shortener(database, config).await.unwrap();
    assert_all_pass("shortener", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_shortener_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&shortener::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let config = targets::shortener_config(&database);
    if config.redis_url.is_none() {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    }
    let running = targets::start_shortener(database, config).await.unwrap();
    assert_all_pass("shortener", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_shortener_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("shortener", &wrong_target(&server), &shortener::MANIFEST).await;
}

#[tokio::test]
async fn the_chat_passes_every_check_on_sqlite() {
    let database = TestDatabase::sqlite_with(&chat::SCHEMA);
    let mut config = targets::chat_config(&database);
    config.redis_url = None;
    let running = targets::start_chat(database, config).await.unwrap();
    assert_all_pass("chat", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&chat::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let config = targets::chat_config(&database);
    if config.redis_url.is_none() {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    }
    let running = targets::start_chat(database, config).await.unwrap();
    assert_all_pass("chat", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_chat_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    assert_all_fail("chat", &wrong_target(&server), &chat::MANIFEST).await;
}

#[tokio::test]
async fn the_shop_passes_every_check_on_sqlite() {
    let database = TestDatabase::sqlite_with(&shop::SCHEMA);
    let mut config = targets::shop_config(&database);
    config.redis_url = None;
    let running = targets::start_shop(database, config).await.unwrap();
    assert_all_pass("shop", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_shop_passes_every_check_on_postgres_and_redis() {
    let Some(database) = TestDatabase::postgres_with(&shop::SCHEMA) else {
        eprintln!("DATABASE_URL is not a PostgreSQL URL: skipped");
        return;
    };
    let config = targets::shop_config(&database);
    if config.redis_url.is_none() {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    }
    let running = targets::start_shop(database, config).await.unwrap();
    assert_all_pass("shop", &running.target).await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_shop_check_fails_against_a_wrong_server() {
    let server = wrong_server();
    // With a fake Stripe too, so that the payment checks grade the server rather than skip.
    let mut config = shop::Config::local("");
    let stripe = targets::fake_stripe(&mut config).unwrap();
    let target = wrong_target(&server).with_stripe(stripe);
    assert_all_fail("shop", &target, &shop::MANIFEST).await;
}
