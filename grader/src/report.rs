//! The report card: the outcomes of a grading run as a table, JSON or JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use crate::check::{Outcome, Status, Target};

/// How one topic fared: checks passed, out of those that ran (skips do not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTally {
    pub phase: &'static str,
    pub topic: &'static str,
    pub passed: usize,
    pub ran: usize,
}

/// Which server a phase was graded on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graded {
    pub phase: &'static str,
    /// The API's base URL.
    pub base_url: String,
    /// Phase 1's hand-written server, when it was graded too.
    pub raw_url: Option<String>,
    /// Whether the grader started the server itself rather than grading one at `--base-url`.
    pub in_process: bool,
    /// The same, for people: `started in process at http://127.0.0.1:PORT`.
    pub description: String,
}

impl Graded {
    pub fn new(phase: &'static str, target: &Target) -> Self {
        Self {
            phase,
            base_url: target.base_url.as_str().trim_end_matches('/').to_owned(),
            raw_url: target
                .raw_url
                .as_ref()
                .map(|url| url.as_str().trim_end_matches('/').to_owned()),
            in_process: target.in_process,
            description: target.describe(),
        }
    }
}

/// Every outcome of one grading run, and what was graded.
#[derive(Debug, Default, Serialize)]
pub struct ReportCard {
    pub graded: Vec<Graded>,
    pub outcomes: Vec<Outcome>,
}

impl ReportCard {
    /// Adds the outcomes of grading `phase` on `target`.
    pub fn add(&mut self, phase: &'static str, target: &Target, outcomes: Vec<Outcome>) {
        self.graded.push(Graded::new(phase, target));
        self.outcomes.extend(outcomes);
    }

    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Pass))
            .count()
    }

    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Fail(_)))
            .count()
    }

    /// Per phase and topic, in the order the checks ran.
    pub fn topics(&self) -> Vec<TopicTally> {
        let mut topics: Vec<TopicTally> = Vec::new();
        for outcome in &self.outcomes {
            let index = match topics
                .iter()
                .position(|t| t.phase == outcome.phase && t.topic == outcome.topic)
            {
                Some(index) => index,
                None => {
                    topics.push(TopicTally {
                        phase: outcome.phase,
                        topic: outcome.topic,
                        passed: 0,
                        ran: 0,
                    });
                    topics.len() - 1
                }
            };
            let tally = &mut topics[index];
            match outcome.status {
                Status::Pass => {
                    tally.passed += 1;
                    tally.ran += 1;
                }
                Status::Fail(_) => tally.ran += 1,
                Status::Skip(_) => {}
            }
        }
        topics
    }

    /// A table for a terminal: what was graded, one line a check, one line a topic, and the sums.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for graded in &self.graded {
            let _ = writeln!(out, "{:<7} {}", graded.phase, graded.description);
        }
        if !self.graded.is_empty() {
            let _ = writeln!(out);
        }
        let width = self
            .outcomes
            .iter()
            .map(|o| o.check.len())
            .max()
            .unwrap_or(0);
        for outcome in &self.outcomes {
            let (mark, reason) = match &outcome.status {
                Status::Pass => ("pass", ""),
                Status::Fail(reason) => ("FAIL", reason.as_str()),
                Status::Skip(reason) => ("skip", reason.as_str()),
            };
            let _ = writeln!(
                out,
                "{:<7} {:<4} {:<width$}  {mark}  {reason}",
                outcome.phase, outcome.topic, outcome.check
            );
        }
        let _ = writeln!(out);
        for TopicTally {
            phase,
            topic,
            passed,
            ran,
        } in self.topics()
        {
            let verdict = if ran == 0 {
                "skipped"
            } else if passed == ran {
                "pass"
            } else {
                "FAIL"
            };
            let _ = writeln!(
                out,
                "{phase:<7} {topic:<4} {passed}/{ran} checks  {verdict}"
            );
        }
        let _ = writeln!(
            out,
            "\n{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        );
        out
    }

    pub fn skipped(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Skip(_)))
            .count()
    }

    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// JUnit XML, which CI systems show as test results: a suite a phase, a case a check.
    pub fn junit(&self) -> anyhow::Result<String> {
        let mut report = Report::new("grader");
        let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
        for outcome in &self.outcomes {
            let status = match &outcome.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Fail(reason) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(reason.as_str());
                    status
                }
                Status::Skip(reason) => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(reason.as_str());
                    status
                }
            };
            let mut case = TestCase::new(format!("{} {}", outcome.topic, outcome.check), status);
            case.set_classname(format!("{}.{}", outcome.phase, outcome.topic));
            case.set_time(std::time::Duration::from_millis(
                outcome.millis.try_into().unwrap_or(u64::MAX),
            ));
            suites
                .entry(outcome.phase)
                .or_insert_with(|| TestSuite::new(outcome.phase))
                .add_test_case(case);
        }
        for graded in &self.graded {
            if let Some(suite) = suites.get_mut(graded.phase) {
                suite.add_property(("base_url", graded.base_url.as_str()));
                if let Some(raw_url) = &graded.raw_url {
                    suite.add_property(("raw_url", raw_url.as_str()));
                }
                suite.add_property(("graded", graded.description.as_str()));
            }
        }
        report.add_test_suites(suites.into_values());
        Ok(report.to_string()?)
    }
}
