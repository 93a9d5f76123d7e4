//! `cargo run -p phase1-http`, as a learner runs it: the tour, the server, its logs, and Ctrl-C.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

/// The binary, running.
struct Running {
    child: Child,
    base: String,
    tour: String,
    /// Everything it logs, once it has exited.
    logs: JoinHandle<String>,
}

/// Starts the binary on a free port and reads its tour.
fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phase1-http"))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start phase1-http");
    let mut stderr = child.stderr.take().expect("stderr");
    let logs = thread::spawn(move || {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).expect("read the logs");
        logs
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut tour = Vec::new();
    // The tour ends with its `try:` list, whose last line is the echo.
    for line in stdout.by_ref() {
        let line = line.expect("a line of the tour");
        let last = line.trim_start().starts_with("curl") && line.contains("/headers/echo");
        tour.push(line);
        if last {
            break;
        }
    }
    // Keep reading, so the binary never writes to a closed pipe.
    thread::spawn(move || stdout.for_each(drop));
    let tour = tour.join("\n");
    let base = tour
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:"))
        .expect("the tour names the address")
        .to_owned();
    Running {
        child,
        base,
        tour,
        logs,
    }
}

fn get(url: &str) -> String {
    let exchange = tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(phase1_http::raw_http::inspect(url))
        .expect("an answer");
    String::from_utf8(exchange.response).expect("UTF-8")
}

/// Sends Ctrl-C (SIGINT) and waits up to 10 s for the process to exit.
fn interrupt(child: &mut Child) -> ExitStatus {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("the server did not stop within 10 s of Ctrl-C");
        }
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_binary_prints_the_tour_serves_and_stops_on_ctrl_c() {
    let Running {
        mut child,
        base,
        tour,
        logs,
    } = start(&[]);
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
    assert!(interrupt(&mut child).success(), "Ctrl-C is a clean exit");
    let logs = logs.join().expect("the logs");
    assert!(
        logs.contains("shutting down"),
        "no word of the shutdown:\n{logs}"
    );
}

#[test]
fn json_logs_have_one_object_a_line_with_the_request() {
    let Running {
        mut child,
        base,
        logs,
        ..
    } = start(&["--log-format", "json"]);
    assert!(get(&format!("{base}/books/abc")).starts_with("HTTP/1.1 400"));
    interrupt(&mut child);
    let logs = logs.join().expect("the logs");

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
}
