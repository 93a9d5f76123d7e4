//! What a check is, what it runs against, and the assertions checks share.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use common::Problem;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde::Serialize;
use url::Url;

/// How long one check may take before it fails.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// What a check talks to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The phase's HTTP API, such as `http://127.0.0.1:8001`.
    pub base_url: Url,
    /// Phase 1's hand-written server (`phase1-http -- raw`), when there is one to grade.
    pub raw_url: Option<Url>,
    /// A client that does not follow redirects, so that checks see each response as sent.
    pub client: reqwest::Client,
    /// Whether the grader started the server itself (in this process), rather than being pointed
    /// at one with `--base-url`.
    pub in_process: bool,
    /// The workspace whose files (Dockerfile, workflows) the file checks read: this one, unless
    /// a test points them at others.
    pub workspace: std::path::PathBuf,
    /// Where the server under test sends its error events, when the grader gave it the DSN.
    pub errors: Option<Arc<common::tracking::Receiver>>,
    /// The server's log, when it logs into this process (a server the grader started).
    pub log: Option<common::telemetry::CapturedLog>,
    /// The fake Stripe the server under test pays through, when the grader started both: the
    /// shop's payment checks pay and send webhooks with it.
    pub stripe: Option<Arc<shop::fake_stripe::FakeStripe>>,
    /// What the running check created, to delete when it ends (see [`Target::delete_afterwards`]).
    created: Arc<Mutex<Vec<Created>>>,
}

/// A resource a check created on the server under test: `DELETE path`, with `token` if the
/// route needs one.
#[derive(Debug, Clone)]
struct Created {
    path: String,
    token: Option<String>,
}

impl Target {
    pub fn new(base_url: Url) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("api-roadmap-grader")
            .build()?;
        Ok(Self {
            base_url,
            raw_url: None,
            client,
            in_process: false,
            workspace: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            errors: None,
            log: None,
            stripe: None,
            created: Arc::default(),
        })
    }

    /// Grades the files of the workspace at `root` instead of this one.
    pub fn with_workspace(mut self, root: impl Into<std::path::PathBuf>) -> Self {
        self.workspace = root.into();
        self
    }

    /// The server sends its error events to `receiver`.
    pub fn with_errors(mut self, receiver: Arc<common::tracking::Receiver>) -> Self {
        self.errors = Some(receiver);
        self
    }

    /// The server logs into `log`.
    pub fn with_log(mut self, log: common::telemetry::CapturedLog) -> Self {
        self.log = Some(log);
        self
    }

    pub fn with_raw_url(mut self, raw_url: Url) -> Self {
        self.raw_url = Some(raw_url);
        self
    }

    /// Pays through `stripe`, which sends its webhooks to this target's `/webhooks/stripe`.
    pub fn with_stripe(mut self, stripe: shop::fake_stripe::FakeStripe) -> Self {
        stripe.deliver_to(format!(
            "{}/webhooks/stripe",
            self.base_url.as_str().trim_end_matches('/')
        ));
        self.stripe = Some(Arc::new(stripe));
        self
    }

    /// Marks the target as a server the grader started itself.
    pub fn started_in_process(mut self) -> Self {
        self.in_process = true;
        self
    }

    /// What the checks ran against, for the report card: `started in process at
    /// http://127.0.0.1:PORT`, or `graded at http://...` for a server given with `--base-url`.
    pub fn describe(&self) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        let mut text = if self.in_process {
            format!("started in process at {base}")
        } else {
            format!("graded at {base}")
        };
        if let Some(raw) = &self.raw_url {
            text.push_str(&format!(
                " (hand-written server at {})",
                raw.as_str().trim_end_matches('/')
            ));
        }
        text
    }

    /// Asks for `DELETE path` (with `token` as a bearer token, when given) once the running check
    /// ends, however it ends. Checks grade a learner's server, whose data is the learner's: what a
    /// check creates, it removes, where the API has a way to.
    pub fn delete_afterwards(&self, path: impl Into<String>, token: Option<&str>) {
        let mut created = self.created.lock().unwrap_or_else(PoisonError::into_inner);
        created.push(Created {
            path: path.into(),
            token: token.map(str::to_owned),
        });
    }

    /// Deletes what the check created, newest first (a book before its author). A 404 is fine: the
    /// check may have deleted it already, or a parent's deletion took it along.
    async fn clean_up(&self) -> Result<(), String> {
        let created =
            std::mem::take(&mut *self.created.lock().unwrap_or_else(PoisonError::into_inner));
        let mut failures = Vec::new();
        for Created { path, token } in created.into_iter().rev() {
            let request = match self.request(reqwest::Method::DELETE, &path) {
                Ok(request) => request,
                Err(err) => {
                    failures.push(format!("{err:#}"));
                    continue;
                }
            };
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            match request.send().await {
                Ok(response)
                    if response.status().is_success()
                        || response.status() == StatusCode::NOT_FOUND => {}
                Ok(response) => {
                    failures.push(format!("DELETE {path} answered {}", response.status()));
                }
                Err(err) => failures.push(format!("DELETE {path}: {err}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "could not delete what the check created: {}",
                failures.join("; ")
            ))
        }
    }

    /// The absolute URL of `path` on the API.
    pub fn url(&self, path: &str) -> anyhow::Result<Url> {
        self.base_url
            .join(path)
            .with_context(|| format!("cannot join {path} to {}", self.base_url))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        Ok(self.client.get(self.url(path)?))
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        Ok(self.client.request(method, self.url(path)?))
    }
}

/// The future a check's body returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// One graded behaviour of one topic.
#[derive(Clone, Copy)]
pub struct Check {
    /// The topic ID from `TOPICS.md`, such as `1.2`.
    pub topic: &'static str,
    /// What the check verifies, in a few words.
    pub name: &'static str,
    pub body: for<'a> fn(&'a Target) -> CheckFuture<'a>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Check({} {})", self.topic, self.name)
    }
}

/// Builds a `Vec<Check>` from `"topic", "name" => async_fn` lines.
#[macro_export]
macro_rules! checks {
    ($($topic:literal, $name:literal => $body:path),* $(,)?) => {
        vec![$($crate::Check { topic: $topic, name: $name, body: |target| Box::pin($body(target)) }),*]
    };
}

/// A check that cannot run against this target says so with this error; it is reported as skipped.
#[derive(Debug)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

/// How the reason of a [`Skip::tested_by`] names its test.
const TESTED_BY: &str = ": tested by `";

impl Skip {
    /// A check of what only a test can set up (nginx in front of two instances): the skip names
    /// the test that covers it. [`Status::tested_elsewhere`] tells such a skip from one whose
    /// service is missing, which under `REQUIRE_SERVICES=1` is a failure.
    pub fn tested_by(what: &str, test: &str) -> Self {
        Self(format!("{what}{TESTED_BY}{test}`"))
    }
}

/// The server under test answered 429 Too Many Requests where a check expected something else. A
/// check fails with this error instead of the consequence it would have reported ("no
/// WWW-Authenticate header", "the token does not work"): the cause is the rate limit, not the
/// behaviour the check grades. The shared assertions below raise it; [`Check::run`] reports it.
#[derive(Debug)]
pub struct RateLimited {
    /// The request that was refused, as the check names it.
    pub what: String,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the server answered 429 Too Many Requests: rate-limited; grade it with a higher \
             limit, e.g. `--rate-limit 1000`",
            self.what
        )
    }
}

impl std::error::Error for RateLimited {}

/// Fails with [`RateLimited`] when `response` is a 429: for checks that look at a status by hand.
pub fn not_limited(response: &Response, what: &str) -> anyhow::Result<()> {
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        return Err(RateLimited { what: what.into() }.into());
    }
    Ok(())
}

/// Pass, fail or skip, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail(String),
    Skip(String),
}

impl Status {
    /// A skip made by [`Skip::tested_by`]: graded by a test of the crate, not over HTTP.
    pub fn tested_elsewhere(&self) -> bool {
        matches!(self, Status::Skip(reason) if reason.contains(TESTED_BY))
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub phase: &'static str,
    pub topic: &'static str,
    pub check: &'static str,
    #[serde(flatten)]
    pub status: Status,
    pub millis: u128,
}

impl Check {
    /// Runs the check with a time limit.
    pub async fn run(&self, phase: &'static str, target: &Target) -> Outcome {
        let started = Instant::now();
        let status = match tokio::time::timeout(CHECK_TIMEOUT, (self.body)(target)).await {
            Ok(Ok(())) => Status::Pass,
            Ok(Err(err)) => {
                let limited = err
                    .chain()
                    .find_map(|cause| cause.downcast_ref::<RateLimited>());
                match (err.downcast_ref::<Skip>(), limited) {
                    (Some(skip), _) => Status::Skip(skip.0.clone()),
                    (None, Some(limited)) => Status::Fail(limited.to_string()),
                    (None, None) => Status::Fail(format!("{err:#}")),
                }
            }
            Err(_) => Status::Fail(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        let status = match (target.clean_up().await, status) {
            (Ok(()), status) => status,
            (Err(leftover), Status::Pass) => Status::Fail(leftover),
            (Err(leftover), Status::Fail(reason)) => Status::Fail(format!("{reason}; {leftover}")),
            (Err(leftover), Status::Skip(reason)) => Status::Skip(format!("{reason}; {leftover}")),
        };
        Outcome {
            phase,
            topic: self.topic,
            check: self.name,
            status,
            millis: started.elapsed().as_millis(),
        }
    }
}

/// Fails unless `response` has `status` (with [`RateLimited`] for an unexpected 429).
pub fn expect_status(response: &Response, status: u16, what: &str) -> anyhow::Result<()> {
    if status != 429 {
        not_limited(response, what)?;
    }
    ensure!(
        response.status().as_u16() == status,
        "{what}: expected {status}, got {}",
        response.status()
    );
    Ok(())
}

/// The value of header `name`, or a failure saying it is missing (or that the response was a 429,
/// which explains why).
pub fn header<'r>(response: &'r Response, name: &str, what: &str) -> anyhow::Result<&'r str> {
    let Some(value) = response.headers().get(name) else {
        not_limited(response, what)?;
        bail!("{what}: no {name} header");
    };
    value
        .to_str()
        .with_context(|| format!("{what}: {name} is not text"))
}

/// Fails unless `response` is an `application/problem+json` body with `status`; returns the problem.
pub async fn expect_problem(
    response: Response,
    status: u16,
    what: &str,
) -> anyhow::Result<Problem> {
    expect_status(&response, status, what)?;
    let content_type = header(&response, CONTENT_TYPE.as_str(), what)?.to_owned();
    ensure!(
        content_type.starts_with(common::problem::CONTENT_TYPE),
        "{what}: expected Content-Type application/problem+json, got {content_type}"
    );
    let text = response.text().await?;
    let problem: Problem = serde_json::from_str(&text)
        .with_context(|| format!("{what}: the body is not a problem document: {text}"))?;
    ensure!(
        problem.status == status,
        "{what}: the problem says status {}, the response {status}",
        problem.status
    );
    Ok(problem)
}

/// Fails unless the problem names `field`, or a field inside it (`field.x`, `field[0]`), among its
/// `errors`.
pub fn expect_field_error(problem: &Problem, field: &str, what: &str) -> anyhow::Result<()> {
    let names = |error: &common::FieldError| {
        error.field == field
            || error
                .field
                .strip_prefix(field)
                .is_some_and(|rest| rest.starts_with(['.', '[']))
    };
    if problem.errors.iter().any(names) {
        return Ok(());
    }
    let named: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    bail!("{what}: expected an error for `{field}`, the problem names {named:?}")
}

/// An access token from `POST /auth/token` with a password (phase 4's, which the projects serve).
pub async fn login(target: &Target, (username, password): (&str, &str)) -> anyhow::Result<String> {
    let response = target
        .request(Method::POST, "/auth/token")?
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await?;
    let tokens = expect_json(response, 200, &format!("logging in as {username}")).await?;
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access_token in the token response: {tokens}"))
}

/// The JSON body of a response with `status`.
pub async fn expect_json(
    response: Response,
    status: u16,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    expect_status(&response, status, what)?;
    let text = response.text().await?;
    serde_json::from_str(&text).with_context(|| format!("{what}: the body is not JSON: {text}"))
}

/// A number no other call in this process has had, and unlikely to repeat across runs: checks use
/// it to make their data unique, so they can run against a server that already has data.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let _ = NEXT.compare_exchange(
        0,
        seed % 1_000_000_000,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A valid ISBN-13 that no other check has used.
pub fn unique_isbn() -> String {
    let body = format!("978{:09}", unique() % 1_000_000_000);
    let sum: u32 = body
        .chars()
        .filter_map(|c| c.to_digit(10))
        .zip([1, 3].into_iter().cycle())
        .map(|(digit, weight)| digit * weight)
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod skip_tests {
    use super::*;

    #[test]
    fn only_a_skip_that_names_its_test_is_tested_elsewhere() {
        let covered = Status::Skip(Skip::tested_by("nginx", "cargo test -p x proxy").0);
        assert!(covered.tested_elsewhere());
        assert_eq!(
            covered,
            Status::Skip("nginx: tested by `cargo test -p x proxy`".into())
        );
        assert!(!Status::Skip("the server has no MongoDB".into()).tested_elsewhere());
        assert!(!Status::Fail("tested by `cargo test`".into()).tested_elsewhere());
    }
}
