//! The grader: checks that each phase keeps its contract, graded over HTTP.
//!
//! A [`Check`] carries the topic ID it grades (from the crate's manifest), a name, and an async
//! body that talks to a [`Target`]: a base URL and an HTTP client. Because checks speak only HTTP (and WebSocket, which starts as HTTP),
//! they grade any server that keeps the phase's contract: the phase started in-process, a phase
//! running elsewhere (`--base-url`), or a student's own implementation.
//!
//! Each phase's checks grade its topics; [`conventions`] adds the checks every crate is graded on
//! (HEAD, OPTIONS and 405 on every documented route; the index at `/`; errors in the API's words),
//! read from the crate's own OpenAPI document. A check deletes what it created when it ends
//! ([`Target::delete_afterwards`]), so grading a learner's server leaves its data as it was; a 429
//! from the server is reported as the rate limit it is, not as the failure it caused downstream.
//!
//! `cargo test -p grader` runs every check against every phase started in-process, and against a
//! deliberately wrong server to prove that each check can fail; `tests/api/manifest.rs` checks that the
//! checks, each crate's README table and its topic modules agree with the crate's manifest.
//! `cargo run -p grader` prints the report card.

pub mod chat;
pub mod check;
pub mod conventions;
pub mod phase1;
pub mod phase2;
pub mod phase3;
pub mod phase4;
pub mod phase5;
pub mod phase6;
pub mod phase7;
pub mod report;
pub mod shop;
pub mod shortener;
pub mod suite;
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

/// Every phase that has checks, in order, then the projects.
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
        Phase {
            name: "phase5",
            checks: phase5::checks,
        },
        Phase {
            name: "phase6",
            checks: phase6::checks,
        },
        Phase {
            name: "phase7",
            checks: phase7::checks,
        },
        Phase {
            name: "shortener",
            checks: shortener::checks,
        },
        Phase {
            name: "shop",
            checks: shop::checks,
        },
        Phase {
            name: "chat",
            checks: chat::checks,
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
