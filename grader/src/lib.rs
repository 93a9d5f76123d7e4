//! The grader: checks that each phase keeps its contract, graded over HTTP.
//!
//! A [`Check`] carries the topic ID it grades (from `TOPICS.md`), a name, and an async body that talks
//! to a [`Target`]: a base URL and an HTTP client. Because checks speak only HTTP, they grade any
//! server that keeps the phase's contract: the phase started in-process, a phase running elsewhere
//! (`--base-url`), or a student's own implementation.
//!
//! `cargo test -p grader` runs every check against every phase started in-process, and against a
//! deliberately wrong server to prove that each check can fail. `cargo run -p grader` prints the
//! report card.

pub mod check;
pub mod phase1;
pub mod phase2;
pub mod phase3;
pub mod phase4;
pub mod report;
pub mod targets;

pub use check::{Check, Outcome, Status, Target};
pub use report::ReportCard;

/// A phase the grader knows: its name on the command line (`phase1`) and its checks.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    /// `phase1`, `phase2`, ...
    pub name: &'static str,
    pub checks: fn() -> Vec<Check>,
}

/// Every phase that has checks, in order.
pub fn phases() -> Vec<Phase> {
    vec![
        Phase {
            name: "phase1",
            checks: phase1::checks,
        },
        Phase {
            name: "phase2",
            checks: phase2::checks,
        },
        Phase {
            name: "phase3",
            checks: phase3::checks,
        },
        Phase {
            name: "phase4",
            checks: phase4::checks,
        },
    ]
}

/// The phase called `name`.
pub fn phase(name: &str) -> Option<Phase> {
    phases().into_iter().find(|phase| phase.name == name)
}

/// Runs every check of `phase` against `target`, one after another.
pub async fn grade(phase: &Phase, target: &Target) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for check in (phase.checks)() {
        outcomes.push(check.run(phase.name, target).await);
    }
    outcomes
}
