//! Topic 7.5: one JSON object a line, with the request's fields; the level from `RUST_LOG`; no
//! secret in the log, even at `debug`.

use serde_json::{Value, json};

use crate::support::Binary;

const PASSWORD: &str = "correct-horse-battery-staple";
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl";

/// The access line of the request `method path` that answered `status`.
fn access_line<'l>(log: &'l [Value], method: &str, path: &str, status: u16) -> &'l Value {
    log.iter()
        .find(|line| {
            line["message"] == "request"
                && line["method"] == method
                && line["path"] == path
                && line["status"] == status
        })
        .unwrap_or_else(|| panic!("no access line for {method} {path} {status}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_line_is_one_json_object_with_the_request_fields_and_no_secret() {
    let binary = Binary::start(&[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")]);
    let client = reqwest::Client::new();
    let created = client
        .post(binary.url("/tasks"))
        .bearer_auth(TOKEN)
        .json(&json!({"title": "Write the runbook"}))
        .send()
        .await
        .expect("an answer");
    let location = crate::support::created(&created);
    let refused = client
        .post(binary.url("/tasks"))
        .json(&json!({"title": "Log in", "password": PASSWORD}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        refused.status(),
        422,
        "a field the route does not take is refused"
    );
    let read = client
        .get(binary.url(&location))
        .header("Cookie", format!("session={TOKEN}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(read.status(), 200);
    let with_query = client
        .get(binary.url(&format!("{location}?password={PASSWORD}")))
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        with_query.status(),
        400,
        "an undocumented query parameter is refused"
    );

    let log = binary.stop_and_read_log();
    for line in &log {
        assert!(line["timestamp"].is_string(), "no timestamp: {line}");
        assert!(line["level"].is_string(), "no level: {line}");
        assert!(line["message"].is_string(), "no message: {line}");
    }
    let line = access_line(&log, "POST", "/tasks", 201);
    assert_eq!(line["level"], "INFO");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert_eq!(line["span"]["http.route"], "/tasks");
    let id = line["span"]["request_id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    let line = access_line(&log, "GET", &location, 200);
    assert_eq!(
        line["span"]["http.route"], "/tasks/{id}",
        "the route is the pattern"
    );

    let text = serde_json::to_string(&log).expect("the log serializes");
    assert!(!text.contains(PASSWORD), "the password is in the log");
    assert!(!text.contains(TOKEN), "the token is in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_level_comes_from_rust_log() {
    let binary = Binary::start(&[
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "warn"),
        ("FAULT_ROUTES", "true"),
    ]);
    let listed = reqwest::get(binary.url("/tasks")).await.expect("an answer");
    assert_eq!(listed.status(), 200);
    let failed = reqwest::get(binary.url("/faults/error"))
        .await
        .expect("an answer");
    assert_eq!(failed.status(), 500);
    let log = binary.stop_and_read_log();
    assert!(
        log.iter().all(|line| line["level"] != "INFO"),
        "RUST_LOG=warn, and an INFO line was written"
    );
    let line = access_line(&log, "GET", "/faults/error", 500);
    assert_eq!(line["level"], "WARN", "a 5xx's access line is a warning");
    assert!(
        log.iter()
            .any(|line| line["level"] == "ERROR" && line["message"] == "request failed"),
        "the 500's cause is logged at ERROR"
    );
}
