//! The report card: the outcomes of a grading run as a table, JSON or JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use crate::check::{Outcome, Status};

/// How one topic fared: checks passed, out of those that ran (skips do not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTally {
    pub phase: &'static str,
    pub topic: &'static str,
    pub passed: usize,
    pub ran: usize,
}

/// Every outcome of one grading run.
#[derive(Debug, Default, Serialize)]
pub struct ReportCard {
    pub outcomes: Vec<Outcome>,
}

impl ReportCard {
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

    /// A table for a terminal: one line a check, then one line a topic.
    pub fn table(&self) -> String {
        let mut out = String::new();
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
        let total = self.outcomes.len();
        let _ = writeln!(
            out,
            "\n{} passed, {} failed",
            total - self.failed() - self.skipped(),
            self.failed()
        );
        out
    }

    fn skipped(&self) -> usize {
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
        report.add_test_suites(suites.into_values());
        Ok(report.to_string()?)
    }
}
