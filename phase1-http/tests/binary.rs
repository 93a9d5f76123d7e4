//! `cargo run -p phase1-http`, as a learner runs it: it prints the tour and serves.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn the_binary_prints_the_tour_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phase1-http"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start phase1-http");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut tour = Vec::new();
    // The tour ends with its `try:` list; read until the last curl line.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.trim_start().starts_with("curl") && line.contains("/headers/echo");
        tour.push(line);
        if done {
            break;
        }
    }
    let tour = tour.join("\n");
    let base = tour
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:"))
        .expect("the tour names the address")
        .to_owned();
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

    let exchange = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(phase1_http::raw_http::inspect(&format!("{base}/books")));
    child.kill().unwrap();
    child.wait().unwrap();
    let response = String::from_utf8(exchange.unwrap().response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
}
