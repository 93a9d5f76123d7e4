//! Topic 7.4: `/metrics` counts and times requests by matched route, never by path; a scrape is
//! what promtool accepts; the dashboard and the alerts ask only for metrics the app emits.

use std::collections::BTreeSet;

use phase7_deploy::Config;
use serde_json::json;

use crate::support::in_process;

/// The scrape's samples: each line that is not a comment, as (series, value).
fn samples(scrape: &str) -> Vec<(String, f64)> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(scrape: &str, series: &str) -> Option<f64> {
    samples(scrape)
        .into_iter()
        .find(|(name, _)| name == series)
        .map(|(_, value)| value)
}

async fn scrape(base_url: &str) -> String {
    let response = reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("a body")
}

/// The names of the metrics that `text` selects (`name{...}`), Prometheus's own `up` aside.
fn selected_metrics(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('{') {
        let start = bytes[..at]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b':'))
            .map_or(0, |before| before + 1);
        let name = &text[start..at];
        if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name != "up" {
            names.insert(name.to_owned());
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_counted_by_route_and_a_scanner_makes_one_series() {
    let (server, _database) = in_process(Config::local("")).await;
    let base = server.base_url();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/tasks"))
        .json(&json!({"title": "Count me"}))
        .send()
        .await
        .expect("an answer");
    let location = crate::support::created(&created);
    let done = client
        .patch(format!("{base}{location}"))
        .json(&json!({"done": true}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(done.status(), 200);
    for n in 0..3 {
        let read = reqwest::get(format!("{base}{location}"))
            .await
            .expect("an answer");
        assert_eq!(read.status(), 200, "read {n}");
    }
    for n in 0..40 {
        let scanned = reqwest::get(format!("{base}/wp-admin/{n}.php"))
            .await
            .expect("an answer");
        assert_eq!(scanned.status(), 404);
    }

    let text = scrape(&base).await;
    assert_eq!(
        value(
            &text,
            r#"http_requests_total{method="GET",route="/tasks/{id}",status="200"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"http_request_duration_seconds_count{method="POST",route="/tasks",status="201"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        Some(40.0),
        "a scanner's 404s are one series"
    );
    assert!(
        !text.contains("wp-admin") && !text.contains(&location),
        "a path became a label"
    );
    assert_eq!(value(&text, "tasks_created_total"), Some(1.0));
    assert_eq!(value(&text, "tasks_completed_total"), Some(1.0));
    // The scrape itself is in flight while it is written; nothing else is.
    assert_eq!(value(&text, "http_requests_in_flight"), Some(1.0));
    assert!(
        value(&text, "process_resident_memory_bytes").is_some_and(|bytes| bytes > 1e6),
        "the process metrics are there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_accepts_a_scrape() {
    let Ok(output) = std::process::Command::new("promtool")
        .arg("--version")
        .output()
    else {
        assert!(
            !common::testing::services_required(),
            "promtool is not installed (Debian's `prometheus` package), and REQUIRE_SERVICES=1"
        );
        eprintln!("skipped: promtool is not installed (Debian's `prometheus` package)");
        return;
    };
    assert!(output.status.success());
    let (server, _database) = in_process(Config::local("")).await;
    let listed = reqwest::get(format!("{}/tasks", server.base_url()))
        .await
        .expect("an answer");
    assert_eq!(listed.status(), 200);
    let text = scrape(&server.base_url()).await;

    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    promtool
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("the scrape is written to promtool");
    let checked = promtool.wait_with_output().expect("promtool finishes");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_and_the_alerts_ask_only_for_metrics_the_app_emits() {
    let (server, _database) = in_process(Config::local("")).await;
    let listed = reqwest::get(format!("{}/tasks", server.base_url()))
        .await
        .expect("an answer");
    assert_eq!(listed.status(), 200);
    let text = scrape(&server.base_url()).await;
    let emitted: BTreeSet<String> = samples(&text)
        .into_iter()
        .map(|(series, _)| series.split('{').next().unwrap_or_default().to_owned())
        .collect();

    let dashboard: serde_json::Value =
        serde_json::from_str(phase7_deploy::metrics::DASHBOARD).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queries = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            queries.push(target["expr"].as_str().expect("a query").to_owned());
        }
    }
    let alerts = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/alerts.yml"
    ))
    .expect("the alert rules");
    queries.push(alerts);
    let mut asked = BTreeSet::new();
    for query in &queries {
        asked.extend(selected_metrics(query));
    }
    for wanted in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "tasks_completed_total",
    ] {
        assert!(
            asked.contains(wanted),
            "nothing asks for {wanted}: {asked:?}"
        );
    }
    let missing: Vec<&String> = asked.difference(&emitted).collect();
    assert!(missing.is_empty(), "asked for, never emitted: {missing:?}");
}

#[test]
fn the_metric_names_are_read_from_a_query() {
    assert_eq!(
        selected_metrics(
            r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="$job"}[5m]))) / up{job="x"}"#
        ),
        BTreeSet::from(["a_bucket".to_owned()])
    );
}
