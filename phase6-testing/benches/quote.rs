//! Micro-benchmarks of the functions every booking and every event read runs.
//!
//! **Roadmap:** performance testing (6.5): how fast a piece of code is, measured, not guessed.
//!
//! **Python:** `timeit`, or `pytest-benchmark`'s `benchmark(fn)` fixture, which runs a function
//! many times and reports its mean and spread.
//!
//! **Rust:** criterion: it warms up, samples until the estimate is stable, reports a confidence
//! interval, and says whether the code got faster or slower than the last run it saved under
//! `target/criterion/`. `black_box` keeps the compiler from computing the answer at build time.
//! Built with `default-features = false`: no plotters and no rayon, so the benchmarks compile in
//! seconds and report in the terminal.
//!
//! **Why:** a load test (`load/`) says how the whole service behaves; this says which part to
//! look at. `quote` is integer arithmetic and should cost nanoseconds; `schedule` resolves a time
//! zone, a bigger cost on every event read, and the one worth caching if reads were hot.
//!
//! `cargo bench -p phase6-testing`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use phase6_testing::money::{Currency, Money, quote};
use phase6_testing::schedule::schedule;

fn benchmarks(c: &mut Criterion) {
    c.bench_function("quote: 3 seats at 19.99 EUR", |b| {
        b.iter(|| quote(black_box(Money::new(1999, Currency::Eur)), black_box(3)));
    });
    c.bench_function("schedule: Europe/Paris, 20:00", |b| {
        b.iter(|| schedule(black_box("Europe/Paris"), black_box("2027-03-28T20:00")));
    });
    c.bench_function("schedule: a time the clocks skip", |b| {
        b.iter(|| schedule(black_box("Europe/Paris"), black_box("2027-03-28T02:30")));
    });
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
