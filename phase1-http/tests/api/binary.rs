//! `cargo run -p phase1-http`, as a learner runs it: the tour, the server, its logs, and Ctrl-C.

use common::testing::RunningBinary;

fn start(args: &[&str]) -> RunningBinary {
    RunningBinary::start(env!("CARGO_BIN_EXE_phase1-http"), args, &[])
}

fn get(url: &str) -> String {
    let exchange = tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(phase1_http::raw_http::inspect(url))
        .expect("an answer");
    String::from_utf8(exchange.response).expect("UTF-8")
}

#[test]
fn the_binary_prints_the_tour_serves_and_stops_on_ctrl_c() {
    let mut binary = start(&[]);
    let (base, tour) = (binary.base_url.clone(), binary.tour.clone());
    for id in [
        "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9",
    ] {
        assert!(
            tour.contains(&format!("  {id} ")),
            "the tour does not list {id}:\n{tour}"
        );
    }
    assert!(
        tour.contains(&format!("curl -i {base}/books")),
        "the curl lines use the real address:\n{tour}"
    );
    assert!(get(&format!("{base}/books")).starts_with("HTTP/1.1 200 OK"));
    assert!(binary.interrupt().success(), "Ctrl-C is a clean exit");
    let logs = binary.logs();
    assert!(
        logs.contains("shutting down"),
        "no word of the shutdown:\n{logs}"
    );
    // People read one short line a request; the OpenTelemetry fields are for `--log-format json`.
    let access = logs
        .lines()
        .find(|line| line.contains("GET /books 200"))
        .unwrap_or_else(|| panic!("no access line in:\n{logs}"));
    assert!(access.len() < 160, "a long access line: {access}");
    for field in ["http.request.method", "user_agent.original", "otel.kind"] {
        assert!(
            !access.contains(field),
            "{field} in the short line: {access}"
        );
    }
}

#[test]
fn json_logs_have_one_object_a_line_with_the_request() {
    let mut binary = start(&["--log-format", "json"]);
    assert!(get(&format!("{}/books/abc", binary.base_url)).starts_with("HTTP/1.1 400"));
    binary.interrupt();
    let logs = binary.logs();

    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let request = lines
        .iter()
        .find(|line| line["message"] == "request")
        .unwrap_or_else(|| panic!("no request line in:\n{logs}"));
    assert_eq!(request["level"], "INFO");
    assert_eq!(request["status"], 400);
    assert_eq!(request["path"], "/books/abc");
    assert!(request["latency_ms"].is_number());
    assert!(
        request["span"]["request_id"].is_string(),
        "no request id: {request}"
    );
    // A log collector gets the OpenTelemetry HTTP fields.
    assert_eq!(request["span"]["otel.kind"], "server", "{request}");
    assert_eq!(request["span"]["http.request.method"], "GET", "{request}");
    assert_eq!(request["span"]["http.route"], "/books/{id}", "{request}");
}

#[test]
fn a_server_error_logs_its_cause_without_the_password() {
    let mut binary = start(&["--log-format", "json"]);
    let answer = get(&format!("{}/status/crash", binary.base_url));
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(
        !answer.contains("postgres"),
        "the client sees the cause: {answer}"
    );
    binary.interrupt();
    let logs = binary.logs();
    let cause = logs
        .lines()
        .find(|line| line.contains("request failed"))
        .unwrap_or_else(|| panic!("the 500 logged no cause:\n{logs}"));
    assert!(
        cause.contains("postgres://app:***@db.internal:5432/app"),
        "{cause}"
    );
    assert!(!logs.contains("hunter2"), "a password in the log:\n{logs}");
}

#[test]
fn the_tour_names_every_topic_of_the_manifest_and_a_file_that_exists() {
    let binary = start(&[]);
    for topic in phase1_http::MANIFEST.topics {
        assert!(
            binary.tour.contains(topic.title),
            "{}: {}",
            topic.id,
            binary.tour
        );
    }
    // The multipart line uploads a file that ships with the crate, from the repository's root.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for path in binary
        .tour
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("cover=@"))
    {
        assert!(std::path::Path::new(root).join(path).is_file(), "{path}");
    }
    assert!(binary.tour.contains("cover=@phase1-http/assets/cover.png"));
}
