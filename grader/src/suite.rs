//! Grading a test suite by the bugs it catches (phase 6).
//!
//! Phase 6's service can be started with a planted bug (`PLANTED_BUG=NAME`, see
//! `phase6-testing/src/bugs.rs`). [`run_all`] builds phase 6's test binaries once (`cargo test
//! --no-run`), runs them on the clean service, then once with each planted bug, and keeps what
//! every test did; the phase 6 checks read the results. The clean run must pass, and each planted
//! bug must make at least one test fail.
//!
//! It runs only from the grader's binary (`cargo run -p grader -- phase6`): under `cargo test`,
//! cargo holds the build lock of the target folder while the tests run, and a build started from
//! inside would wait for ever. The checks then say where they are graded instead.
//!
//! A teacher grades a student's suite the same way: put it in `phase6-testing/tests/` and run
//! the grader; the binaries are whatever that folder builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use phase6_testing::bugs::{self, Bug};
use tokio::process::Command;

/// How long one run of the suite may take: a planted bug may make a careless suite hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// What one run of the suite did.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Every test's full name (`flows::an_event_...`) and whether it passed.
    pub tests: BTreeMap<String, bool>,
    /// Why the run as a whole went wrong (a binary that crashed or hung), if it did.
    pub broken: Option<String>,
    pub took: Duration,
}

impl Run {
    pub fn failed(&self) -> Vec<&str> {
        self.tests
            .iter()
            .filter(|(_, passed)| !**passed)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether the run found something wrong: a failing test, or a suite that did not finish.
    pub fn caught(&self) -> bool {
        self.broken.is_some() || !self.failed().is_empty()
    }
}

/// The runs: the clean service's, and each planted bug's.
#[derive(Debug, Clone)]
pub struct Results {
    pub clean: Run,
    pub bugs: Vec<(Bug, Run)>,
}

static RESULTS: OnceLock<Results> = OnceLock::new();

/// The results of [`run_all`], once it has run in this process.
pub fn results() -> Option<&'static Results> {
    RESULTS.get()
}

/// Builds phase 6's test binaries, runs them clean and with each planted bug, prints a line per
/// run on stderr, and keeps the results for the checks.
pub async fn run_all() -> anyhow::Result<&'static Results> {
    if let Some(results) = RESULTS.get() {
        return Ok(results);
    }
    let binaries = build().await?;
    eprintln!("phase 6's suite: {} test binaries", binaries.len());
    let clean = run(&binaries, None).await;
    eprintln!(
        "  clean service: {} tests, {} failed ({} ms)",
        clean.tests.len(),
        clean.failed().len(),
        clean.took.as_millis()
    );
    let mut runs = Vec::new();
    for bug in Bug::ALL {
        let run = run(&binaries, Some(bug)).await;
        let verdict = match (&run.broken, run.failed().as_slice()) {
            (Some(why), _) => format!("caught: {why}"),
            (None, []) => "MISSED: every test passed".to_owned(),
            (None, failed) => format!("caught by {}: {}", failed.len(), failed.join(", ")),
        };
        eprintln!(
            "  {:<22} {verdict} ({} ms)",
            bug.name(),
            run.took.as_millis()
        );
        runs.push((bug, run));
    }
    Ok(RESULTS.get_or_init(|| Results { clean, bugs: runs }))
}

/// The workspace's folder.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo test -p phase6-testing --no-run`, and the test binaries it names.
async fn build() -> anyhow::Result<Vec<PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "test",
            "-p",
            "phase6-testing",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(workspace())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running cargo to build phase 6's tests")?;
    if !output.status.success() {
        bail!("phase 6's tests do not build: {}", output.status);
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test = message["profile"]["test"] == true;
        if let (true, Some(path)) = (is_test, message["executable"].as_str()) {
            binaries.push(PathBuf::from(path));
        }
    }
    if binaries.is_empty() {
        bail!("cargo built no test binary for phase6-testing");
    }
    Ok(binaries)
}

/// Runs every binary with `bug` planted (none: the clean service).
async fn run(binaries: &[PathBuf], bug: Option<Bug>) -> Run {
    let started = Instant::now();
    let mut run = Run::default();
    for binary in binaries {
        let mut command = Command::new(binary);
        command
            .current_dir(workspace().join("phase6-testing"))
            .env_remove(bugs::ENV)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(bug) = bug {
            command.env(bugs::ENV, bug.name());
        }
        let output = match tokio::time::timeout(RUN_TIMEOUT, command.output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(err)) => {
                run.broken = Some(format!("{} did not start: {err}", binary.display()));
                continue;
            }
            Err(_) => {
                run.broken = Some(format!(
                    "the suite did not finish within {} s",
                    RUN_TIMEOUT.as_secs()
                ));
                continue;
            }
        };
        let (mut seen, mut failed) = (0, 0);
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some((name, passed)) = test_line(line) {
                seen += 1;
                failed += usize::from(!passed);
                run.tests.insert(name.to_owned(), passed);
            }
        }
        if !output.status.success() && failed == 0 {
            run.broken = Some(format!(
                "{} exited with {} after {seen} tests, none failing",
                binary.display(),
                output.status
            ));
        }
    }
    run.took = started.elapsed();
    run
}

/// `test flows::x ... ok` as (`flows::x`, true); `... FAILED` as false; anything else, nothing.
fn test_line(line: &str) -> Option<(&str, bool)> {
    let rest = line.strip_prefix("test ")?;
    let (name, verdict) = rest.rsplit_once(" ... ")?;
    match verdict {
        "ok" => Some((name, true)),
        "FAILED" => Some((name, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_are_read_and_the_rest_ignored() {
        assert_eq!(
            test_line("test cases::x::case_1 ... ok"),
            Some(("cases::x::case_1", true))
        );
        assert_eq!(
            test_line("test flows::y ... FAILED"),
            Some(("flows::y", false))
        );
        assert_eq!(test_line("test flows::z ... ignored"), None);
        assert_eq!(test_line("running 3 tests"), None);
    }
}
