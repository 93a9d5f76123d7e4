//! A load test of the box office, as Locust writes one: users, weighted transactions, think
//! time, ramp-up, a report, and thresholds that fail the run.
//!
//! **Roadmap:** performance testing (6.5): a load test with a report.
//!
//! **Python:** Locust: a `HttpUser` class with `wait_time = between(0.1, 0.5)` and `@task(4)`
//! methods, run as `locust --headless -u 40 -r 20 -t 15s --html report.html`; k6 states its
//! limits as thresholds (`http_req_duration: ['p(95)<250']`) and exits non-zero when one fails.
//!
//! **Rust:** goose, Locust's model in Rust. Two scenarios are the user classes: browsers (weight
//! 4) list events and read one, buyers (weight 1) create an event of their own when they start
//! (`set_on_start`) and book seats in it; every user waits 100 to 400 ms between transactions.
//! Defaults: 40 users, started at 20 a second, for 15 s, against `http://127.0.0.1:8006`; any of
//! goose's flags overrides them (`--users`, `--increase-rate`, `--run-time`, `--host`). The HTML
//! report goes to `phase6-load-report.html`, and two thresholds fail the run with a non-zero
//! exit: an error rate of 1 % or more, or a 95th percentile of 250 ms or more (`--threshold`
//! replaces them).
//!
//! **Why:** a micro-benchmark (`benches/quote.rs`) says what a function costs; only a load test
//! says what users see when many arrive at once: the database's single writer, the pool, the
//! provider's latency. Thresholds make it a test, not a picture: CI can fail on a regression.
//!
//! ```sh
//! cargo run -p phase6-testing &
//! cargo run --release --manifest-path phase6-testing/load/Cargo.toml
//! ```
//!
//! It is a workspace of its own, since goose's build (about 380 crates) would otherwise change
//! how every crate of the main workspace builds reqwest.

use std::time::Duration;

use goose::prelude::*;
use serde_json::json;

/// The event a buyer books seats in.
#[derive(Debug, Clone)]
struct OwnEvent(u64);

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let browser = scenario!("Browser")
        .set_weight(4)?
        .set_wait_time(Duration::from_millis(100), Duration::from_millis(400))?
        .register_transaction(transaction!(list_events).set_weight(3)?)
        .register_transaction(transaction!(read_event).set_weight(2)?);
    let buyer = scenario!("Buyer")
        .set_weight(1)?
        .set_wait_time(Duration::from_millis(100), Duration::from_millis(400))?
        .register_transaction(transaction!(create_own_event).set_on_start())
        .register_transaction(transaction!(book_seats));
    let metrics = GooseAttack::initialize()?
        .register_scenario(browser)
        .register_scenario(buyer)
        .set_default(GooseDefault::Host, "http://127.0.0.1:8006")?
        .set_default(GooseDefault::Users, 40)?
        .set_default(GooseDefault::IncreaseRate, "20")?
        .set_default(GooseDefault::RunTime, 15)?
        .set_default(GooseDefault::ReportFile, "phase6-load-report.html")?
        .set_default(GooseDefault::Threshold, "error-rate<1%")?
        .set_default(GooseDefault::Threshold, "p95<250ms")?
        .execute()
        .await?;
    println!(
        "{} users, {} s: the report is in phase6-load-report.html",
        metrics.maximum_users, metrics.duration
    );
    Ok(())
}

async fn list_events(user: &mut GooseUser) -> TransactionResult {
    let _page = user.get("/events?per_page=10").await?;
    Ok(())
}

async fn read_event(user: &mut GooseUser) -> TransactionResult {
    let _event = user.get("/events/1").await?;
    Ok(())
}

/// A buyer's own event, big enough never to sell out during the run.
async fn create_own_event(user: &mut GooseUser) -> TransactionResult {
    let title = format!(
        "Load test {} {}",
        std::process::id(),
        user.weighted_users_index
    );
    let event = json!({
        "title": title, "time_zone": "Europe/Paris", "starts_local": "2027-06-21T20:00",
        "capacity": 100_000, "price_minor": 1500, "currency": "EUR",
    });
    let mut created = user.post_json("/events", &event).await?;
    let id = match created.response {
        Ok(response) => response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body["id"].as_u64()),
        Err(_) => None,
    };
    match id {
        Some(id) => {
            user.set_session_data(OwnEvent(id));
            Ok(())
        }
        None => user.set_failure(
            "no event id in the answer",
            &mut created.request,
            None,
            None,
        ),
    }
}

async fn book_seats(user: &mut GooseUser) -> TransactionResult {
    let Some(OwnEvent(id)) = user.get_session_data::<OwnEvent>() else {
        return Ok(());
    };
    let path = format!("/events/{id}/bookings");
    let booking = json!({"email": "load@example.com", "seats": 2});
    // One row in the report for every buyer's event, not one per event id.
    let builder = user
        .get_request_builder(&GooseMethod::Post, &path)?
        .json(&booking);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path.as_str())
        .name("/events/{id}/bookings")
        .set_request_builder(builder)
        .build();
    let _booked = user.request(request).await?;
    Ok(())
}
