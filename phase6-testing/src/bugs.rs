//! Planted bugs: the mistakes this service can be started with, so that a test suite is graded by
//! what it catches.
//!
//! A suite that passes proves little by itself: it may assert nothing that matters. Mutation
//! testing (Python's `mutmut`, Rust's `cargo-mutants`) makes small changes to the code and counts
//! the tests that notice. Here the changes are a dozen realistic mistakes, written by hand, each
//! one a line in the code it breaks (`if bugs::planted(Bug::...)`). One is switched on at run time,
//! with `--bug NAME` or `PLANTED_BUG=NAME`, so nothing is recompiled: `cargo run -p grader --
//! phase6` runs the suite's test binaries once clean and once for each bug, and reports which
//! tests caught it.
//!
//! The switch is process-wide, as a feature flag is: the functions that a unit test calls directly
//! ([`crate::money::quote`], say) are as buggy as the routes.

use std::sync::OnceLock;

/// The environment variable that plants a bug: `PLANTED_BUG=money-rounding`.
pub const ENV: &str = "PLANTED_BUG";

/// One planted mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bug {
    /// The event listing counts pages from 0: `?page=1` shows the second page.
    PageOffByOne,
    /// An unknown event is a 200 with `null` instead of a 404.
    #[value(name = "missing-404")]
    Missing404,
    /// PATCH ignores which version `If-Match` names: the second of two writers undoes the first.
    LostUpdate,
    /// The venue's wall-clock time is read as UTC.
    TimeZoneSlip,
    /// A payment provider that keeps failing is retried for ever.
    EndlessRetry,
    /// The booking fee is truncated instead of rounded to the nearest minor unit.
    MoneyRounding,
    /// The limit of 10 seats per booking is not checked.
    DroppedValidation,
    /// A taken title is a 500 that shows the database's own error.
    LeakyErrors,
    /// A booking is accepted while any seat is left, however many it asks for.
    Overbooking,
    /// A cancelled booking keeps its seats.
    SeatsNotReleased,
    /// The title's limit of 100 characters counts bytes: `é` counts twice.
    BytesNotCharacters,
    /// A payment answer that cannot be read is taken as paid.
    MalformedIsPaid,
}

impl Bug {
    /// Every bug, in the order the grader reports them.
    pub const ALL: [Bug; 12] = [
        Bug::PageOffByOne,
        Bug::Missing404,
        Bug::LostUpdate,
        Bug::TimeZoneSlip,
        Bug::EndlessRetry,
        Bug::MoneyRounding,
        Bug::DroppedValidation,
        Bug::LeakyErrors,
        Bug::Overbooking,
        Bug::SeatsNotReleased,
        Bug::BytesNotCharacters,
        Bug::MalformedIsPaid,
    ];

    /// Its name for `--bug` and `PLANTED_BUG`: `page-off-by-one`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::PageOffByOne => "page-off-by-one",
            Bug::Missing404 => "missing-404",
            Bug::LostUpdate => "lost-update",
            Bug::TimeZoneSlip => "time-zone-slip",
            Bug::EndlessRetry => "endless-retry",
            Bug::MoneyRounding => "money-rounding",
            Bug::DroppedValidation => "dropped-validation",
            Bug::LeakyErrors => "leaky-errors",
            Bug::Overbooking => "overbooking",
            Bug::SeatsNotReleased => "seats-not-released",
            Bug::BytesNotCharacters => "bytes-not-characters",
            Bug::MalformedIsPaid => "malformed-is-paid",
        }
    }

    /// The bug called `name`.
    pub fn named(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}

static PLANTED: OnceLock<Option<Bug>> = OnceLock::new();

/// Plants `bug` for the rest of the process (the binary's `--bug`); false if one was already
/// chosen, by an earlier call or by a first [`planted`].
pub fn plant(bug: Option<Bug>) -> bool {
    PLANTED.set(bug).is_ok()
}

/// The bug this process runs with: the one [`plant`]ed, or else `PLANTED_BUG`'s.
pub fn current() -> Option<Bug> {
    *PLANTED.get_or_init(|| {
        let name = std::env::var(ENV).ok()?;
        let bug = Bug::named(&name);
        if bug.is_none() {
            let known: Vec<&str> = Bug::ALL.iter().map(|bug| bug.name()).collect();
            tracing::warn!(
                name,
                known = known.join(", "),
                "{ENV} names no bug: none planted"
            );
        }
        bug
    })
}

/// Whether `bug` is the one planted.
pub fn planted(bug: Bug) -> bool {
    current() == Some(bug)
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_bug_has_the_name_clap_gives_it() {
        for bug in Bug::ALL {
            let value = bug.to_possible_value().expect("every bug is a value");
            assert_eq!(value.get_name(), bug.name());
            assert_eq!(Bug::named(bug.name()), Some(bug));
        }
        assert_eq!(Bug::value_variants().len(), Bug::ALL.len());
    }
}
