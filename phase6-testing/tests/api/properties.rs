//! Property tests: rules that hold for every input, checked on hundreds of generated ones.
//!
//! **Roadmap:** parametrized tests (6.2): a property test beside the table of cases.
//!
//! **Python:** Hypothesis: `@given(st.integers(min_value=0), st.integers(1, 10))` generates
//! inputs, and when one fails, shrinks it to the simplest that still fails; its database
//! remembers failures for the next run.
//!
//! **Rust:** proptest, the same model: strategies (`0..=100_000_000i64`, `"\\PC{1,90}"`, a
//! `Vec` of steps) generate inputs, `prop_assert!` states the rule, and a failure is shrunk and
//! written to `proptest-regressions/properties.txt`, committed so that every later run tries
//! those inputs first. (While a planted bug runs, nothing is written unless `PROPTEST_RECORD_BUGS=1`: its
//! counterexamples are the bug's, not the code's.) Three properties here: a round trip (what is serialized reads back
//! equal; a title the API accepts comes back as sent), an arithmetic rule (the fee is within
//! half a minor unit of 7.5 %, ties round up, nothing is negative), and an invariant of the
//! domain under any sequence of bookings and cancellations: the seats left are the capacity
//! minus the seats of the confirmed bookings, so the capacity is never exceeded.
//!
//! **Why:** a table holds the cases someone thought of; a property finds the ones nobody did, and
//! shrinking turns a failure into a small example a person can read (the README shows one).

use std::sync::Arc;

use phase6_testing::bugs;
use phase6_testing::money::{Currency, FEE_BASIS_POINTS, Money, Quote, quote};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use serde_json::json;

use crate::fixtures::{FakePayments, clock, concert, schema, sqlite, start};
use crate::support::Office;

/// `cases` cases, remembering failures unless a bug is planted (`PROPTEST_RECORD_BUGS=1` keeps a
/// planted bug's too: `proptest-regressions/properties.txt` holds money-rounding's, so every run
/// tries that price first).
fn config(cases: u32) -> ProptestConfig {
    let record_bugs = std::env::var("PROPTEST_RECORD_BUGS").is_ok_and(|value| value == "1");
    ProptestConfig {
        cases,
        failure_persistence: if bugs::current().is_some() && !record_bugs {
            None
        } else {
            Some(Box::new(FileFailurePersistence::SourceParallel(
                "proptest-regressions",
            )))
        },
        ..ProptestConfig::default()
    }
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::Eur),
        Just(Currency::Usd),
        Just(Currency::Jpy)
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_fee_is_the_nearest_minor_unit_to_its_rate(
        price in 0..=100_000_000_i64,
        seats in 1..=10_u32,
        currency in currency(),
    ) {
        let quote = quote(Money::new(price, currency), seats);
        // 10 000 × the fee, against the exact 7.5 % of the tickets: within half a minor unit.
        let exact = i128::from(quote.tickets.amount_minor) * i128::from(FEE_BASIS_POINTS);
        let charged = i128::from(quote.fee.amount_minor) * 10_000;
        let error = (charged - exact).abs() * 2;
        prop_assert!(error <= 10_000, "fee {} for tickets {}", quote.fee.amount_minor, quote.tickets.amount_minor);
        if error == 10_000 {
            prop_assert!(charged > exact, "a tie rounds up");
        }
        prop_assert_eq!(quote.total.amount_minor, quote.tickets.amount_minor + quote.fee.amount_minor);
        prop_assert!(quote.total.amount_minor >= quote.tickets.amount_minor);
        prop_assert!(quote.tickets.amount_minor >= 0);
    }

    #[test]
    fn a_quote_reads_back_as_it_was_written(
        price in 0..=100_000_000_i64,
        seats in 1..=10_u32,
        currency in currency(),
    ) {
        let quote = quote(Money::new(price, currency), seats);
        let text = serde_json::to_string(&quote).expect("serialize");
        prop_assert_eq!(serde_json::from_str::<Quote>(&text).expect("deserialize"), quote);
    }
}

/// A runtime of the property's own: proptest calls a plain closure, once per case.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn office() -> Office {
    start(
        sqlite(&schema()),
        clock(),
        Arc::new(FakePayments::default()),
    )
    .await
}

#[test]
fn any_title_the_api_accepts_comes_back_as_sent() {
    let runtime = runtime();
    let office = runtime.block_on(office());
    let mut runner = TestRunner::new(config(48));
    let n = std::cell::Cell::new(0);
    let result = runner.run(&"\\PC{1,95}", |title| {
        prop_assume!(!title.trim().is_empty());
        n.set(n.get() + 1);
        let title = format!("{title} {:03}", n.get());
        runtime.block_on(async {
            let response = office.post("/events", &concert(&title, 5)).await;
            prop_assert_eq!(
                response.status,
                201,
                "{} ({} characters): {}",
                title,
                title.chars().count(),
                String::from_utf8_lossy(&response.body)
            );
            prop_assert_eq!(&response.json()["title"], &json!(title));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// One thing a customer does.
#[derive(Debug, Clone)]
enum Step {
    /// Book this many seats (more than 10 is refused).
    Book(u32),
    /// Cancel the n-th confirmed booking (modulo how many there are).
    Cancel(usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (1..=12_u32).prop_map(Step::Book),
        1 => any::<usize>().prop_map(Step::Cancel),
    ];
    proptest::collection::vec(step, 1..14)
}

#[test]
fn no_sequence_of_bookings_and_cancellations_exceeds_the_capacity() {
    let runtime = runtime();
    let mut runner = TestRunner::new(config(24));
    let result = runner.run(&(1..=8_u32, steps()), |(capacity, steps)| {
        runtime.block_on(async {
            let office = office().await;
            let event = office.create_event(concert("Property", capacity)).await;
            let mut confirmed: Vec<(i64, u32)> = Vec::new();
            for step in &steps {
                let taken: u32 = confirmed.iter().map(|(_, seats)| seats).sum();
                match *step {
                    Step::Book(seats) => {
                        let response = office.book(event.id, seats).await;
                        let expected = if seats > 10 {
                            422
                        } else if taken + seats <= capacity {
                            201
                        } else {
                            409
                        };
                        prop_assert_eq!(
                            response.status,
                            expected,
                            "{:?} with {} of {} taken",
                            step,
                            taken,
                            capacity
                        );
                        if response.status == 201 {
                            let id = response.json()["id"].as_i64().unwrap_or_default();
                            confirmed.push((id, seats));
                        }
                    }
                    Step::Cancel(n) if !confirmed.is_empty() => {
                        let (id, _) = confirmed.remove(n % confirmed.len());
                        prop_assert_eq!(office.cancel(id).await.status, 200);
                    }
                    Step::Cancel(_) => {}
                }
                let taken: u32 = confirmed.iter().map(|(_, seats)| seats).sum();
                let left = office.event(event.id).await.seats_left;
                prop_assert!(
                    taken <= capacity,
                    "{} seats confirmed of {}",
                    taken,
                    capacity
                );
                prop_assert_eq!(left, capacity - taken, "seats left after {:?}", step);
            }
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
