//! Topic 7.3: a panic and a 500 become events at the DSN, with the request, the release, the
//! environment and the request id, and nothing secret; the log line of each error carries its
//! event's id.

use std::time::Duration;

use common::tracking::Receiver;
use serde_json::Value;

use crate::support::Binary;

/// What a request sends that must never reach the tracker.
const SECRETS: [(&str, &str); 3] = [
    ("Authorization", "Bearer secret-token-0123"),
    ("Cookie", "session=secret-cookie-4567"),
    ("X-Api-Key", "secret-key-89ab"),
];

async fn get_with_secrets(url: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in SECRETS {
        request = request.header(name, value);
    }
    request.send().await.expect("the server answers")
}

/// The text of an event's exceptions.
fn exceptions(event: &Value) -> String {
    event["exception"]["values"].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_and_a_500_reach_the_tracker_with_the_request_and_nothing_secret() {
    let receiver = Receiver::start().expect("the receiver starts");
    let dsn = receiver.dsn().to_string();
    let binary = Binary::start(&[
        ("SENTRY_DSN", dsn.as_str()),
        ("SENTRY_ENVIRONMENT", "testing"),
        ("FAULT_ROUTES", "true"),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ]);

    let panicked = get_with_secrets(&binary.url("/faults/panic")).await;
    assert_eq!(panicked.status(), 500, "a panic is answered, as a 500");
    assert_eq!(
        panicked.headers()["content-type"],
        "application/problem+json"
    );
    let body = panicked.text().await.expect("a body");
    assert!(
        !body.contains("deliberate"),
        "the panic's message reached the client: {body}"
    );

    let failed = get_with_secrets(&binary.url("/faults/error")).await;
    assert_eq!(failed.status(), 500);
    let body = failed.text().await.expect("a body");
    assert!(
        !body.contains("ledger"),
        "the cause reached the client: {body}"
    );

    // The server goes on serving after the panic.
    let alive = reqwest::get(binary.url("/health/live"))
        .await
        .expect("an answer");
    assert_eq!(alive.status(), 200);

    let wait = Duration::from_secs(10);
    let panic_event = receiver
        .wait_for(wait, |event| event["transaction"] == "GET /faults/panic")
        .await
        .expect("an event for the panic");
    let error_event = receiver
        .wait_for(wait, |event| event["transaction"] == "GET /faults/error")
        .await
        .expect("an event for the 500");

    assert!(
        exceptions(&panic_event).contains("a deliberate panic"),
        "{panic_event}"
    );
    assert!(
        exceptions(&error_event).contains("out of balance by 3 cents"),
        "{error_event}"
    );
    let release = concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));
    for event in [&panic_event, &error_event] {
        assert_eq!(event["release"], release);
        assert_eq!(event["environment"], "testing");
        assert_eq!(event["request"]["method"], "GET");
        let url = event["request"]["url"].as_str().unwrap_or_default();
        assert!(url.contains("/faults/"), "the event's URL is {url}");
        let id = event["tags"]["request_id"].as_str().unwrap_or_default();
        assert_eq!(
            id.len(),
            16,
            "the event's request id is {:?}",
            event["tags"]
        );
    }
    let sent = receiver.envelopes().join("\n");
    for (name, value) in SECRETS {
        assert!(
            !sent.contains(value),
            "the {name} header reached the tracker"
        );
    }

    // Each event's id is on the log line of its error, whose request id is the event's tag.
    let log = binary.stop_and_read_log();
    for event in [&panic_event, &error_event] {
        let line = common::tracking::line_of_event(&log, event)
            .unwrap_or_else(|| panic!("no log line carries the id of {}", event["event_id"]));
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(
            line["span"]["request_id"], event["tags"]["request_id"],
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_dsn_nothing_is_sent_and_a_panic_is_still_a_500() {
    let receiver = Receiver::start().expect("the receiver starts");
    let binary = Binary::start(&[("FAULT_ROUTES", "true")]);
    let panicked = reqwest::get(binary.url("/faults/panic"))
        .await
        .expect("an answer");
    assert_eq!(panicked.status(), 500);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.envelopes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fault_routes_are_not_there_unless_asked_for() {
    let binary = Binary::start(&[]);
    for path in ["/faults/panic", "/faults/error", "/faults/slow?ms=1"] {
        let response = reqwest::get(binary.url(path)).await.expect("an answer");
        assert_eq!(response.status(), 404, "{path}");
    }
}
