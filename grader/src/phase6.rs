//! Checks for phase 6, testing (topics 6.1 to 6.5).
//!
//! Two kinds. Over HTTP, the box office keeps its contract: events read back as created, the
//! edges of time zones, Unicode and bounds answered as documented, a full flow with `If-Match`,
//! and a short load without an error. And the phase's own test suite, graded by [`crate::suite`]:
//! each topic's tests pass on the clean service, and each planted bug is caught by at least one
//! test. The suite's checks are graded from `cargo run -p grader -- phase6`, which builds and runs
//! the suite; elsewhere they say so and skip.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{
    Check, Skip, Target, expect_field_error, expect_json, expect_problem, expect_status, header,
    unique,
};
use crate::{checks, conventions, suite};

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "6.1", "an event reads back as it was created" => reads_back,
        "6.1", "the suite's fixture tests pass" => suite_fixtures,
        "6.2", "edges: a time the clocks skip, 100 accented characters, 11 seats" => edges,
        "6.2", "the suite's case tables and properties pass" => suite_cases,
        "6.3", "the suite's stubs and mocks pass" => suite_mocks,
        "6.4", "a flow: create, read, If-Match, conflict, book, cancel, delete" => full_flow,
        "6.4", "the suite's flows pass in process and over a socket" => suite_flows,
        "6.5", "400 reads, 16 at a time, without an error" => short_load,
        "6.2", "the suite catches page-off-by-one" => caught::<0>,
        "6.4", "the suite catches missing-404" => caught::<1>,
        "6.4", "the suite catches lost-update" => caught::<2>,
        "6.2", "the suite catches time-zone-slip" => caught::<3>,
        "6.3", "the suite catches endless-retry" => caught::<4>,
        "6.2", "the suite catches money-rounding" => caught::<5>,
        "6.2", "the suite catches dropped-validation" => caught::<6>,
        "6.4", "the suite catches leaky-errors" => caught::<7>,
        "6.2", "the suite catches overbooking" => caught::<8>,
        "6.1", "the suite catches seats-not-released" => caught::<9>,
        "6.2", "the suite catches bytes-not-characters" => caught::<10>,
        "6.3", "the suite catches malformed-is-paid" => caught::<11>,
    ];
    checks.extend(conventions::anonymous());
    checks
}

/// A concert in Paris called `title`, with `capacity` seats at 19.99 EUR.
fn concert(title: &str, capacity: u32) -> Value {
    json!({
        "title": title,
        "time_zone": "Europe/Paris",
        "starts_local": "2027-03-20T20:00",
        "capacity": capacity,
        "price_minor": 1999,
        "currency": "EUR",
    })
}

/// Creates `body` as an event, to be deleted when the check ends; its path and JSON.
async fn create(target: &Target, body: &Value) -> anyhow::Result<(String, Value)> {
    let response = target
        .request(Method::POST, "/events")?
        .json(body)
        .send()
        .await?;
    let location = header(&response, "location", "POST /events")?.to_owned();
    let event = expect_json(response, 201, "POST /events").await?;
    target.delete_afterwards(location.clone(), None);
    Ok((location, event))
}

async fn reads_back(target: &Target) -> anyhow::Result<()> {
    let title = format!("Graded {}", unique());
    let (location, created) = create(target, &concert(&title, 10)).await?;
    ensure!(
        created["starts_at"] == "2027-03-20T20:00:00+01:00",
        "20:00 in Paris on 20 March 2027 is +01:00, the event says {}",
        created["starts_at"]
    );
    let read = expect_json(target.get(&location)?.send().await?, 200, "GET the event").await?;
    ensure!(read == created, "read back {read}, created {created}");
    let missing = target.get("/events/2147483647")?.send().await?;
    expect_problem(missing, 404, "GET an unknown event").await?;
    Ok(())
}

async fn edges(target: &Target) -> anyhow::Result<()> {
    let mut skipped = concert(&format!("Skipped {}", unique()), 10);
    skipped["starts_local"] = json!("2027-03-28T02:30");
    let response = target
        .request(Method::POST, "/events")?
        .json(&skipped)
        .send()
        .await?;
    let problem = expect_problem(response, 422, "02:30 on the night Paris skips it").await?;
    expect_field_error(
        &problem,
        "starts_local",
        "02:30 on the night Paris skips it",
    )?;

    let suffix = format!(" {}", unique());
    let accented = "é".repeat(100 - suffix.chars().count()) + &suffix;
    let (location, event) = create(target, &concert(&accented, 10)).await?;
    ensure!(
        event["title"] == accented.as_str(),
        "the title came back as {}",
        event["title"]
    );

    let eleven = target
        .request(Method::POST, &format!("{location}/bookings"))?
        .json(&json!({"email": "ada@example.com", "seats": 11}))
        .send()
        .await?;
    let problem = expect_problem(eleven, 422, "a booking of 11 seats").await?;
    expect_field_error(&problem, "seats", "a booking of 11 seats")?;
    Ok(())
}

async fn full_flow(target: &Target) -> anyhow::Result<()> {
    let title = format!("Flow {}", unique());
    let (location, _) = create(target, &concert(&title, 10)).await?;
    let change = |tag: Option<&str>, body: Value| -> anyhow::Result<reqwest::RequestBuilder> {
        let request = target.request(Method::PATCH, &location)?.json(&body);
        Ok(match tag {
            Some(tag) => request.header("If-Match", tag),
            None => request,
        })
    };
    let read = target.get(&location)?.send().await?;
    let tag = header(&read, "etag", "GET the event")?.to_owned();
    let response = change(None, json!({"capacity": 20}))?.send().await?;
    expect_problem(response, 428, "PATCH without If-Match").await?;
    let response = change(Some(&tag), json!({"capacity": 20}))?.send().await?;
    let new_tag = header(&response, "etag", "PATCH with If-Match")?.to_owned();
    ensure!(new_tag != tag, "the ETag did not change with the event");
    expect_json(response, 200, "PATCH with If-Match").await?;
    let response = change(Some(&tag), json!({"capacity": 5}))?.send().await?;
    expect_problem(response, 412, "PATCH with the old ETag (a lost update)").await?;

    let again = target
        .request(Method::POST, "/events")?
        .json(&concert(&title, 5))
        .send()
        .await?;
    let problem = expect_problem(again, 409, "the same title twice").await?;
    let detail = problem.detail.unwrap_or_default();
    for internal in ["UNIQUE", "constraint", "events.title"] {
        ensure!(
            !detail.contains(internal),
            "the 409 shows the database's words: {detail}"
        );
    }

    let response = target
        .request(Method::POST, &format!("{location}/bookings"))?
        .json(&json!({"email": "ada@example.com", "seats": 3}))
        .send()
        .await?;
    let booking_at = header(&response, "location", "POST a booking")?.to_owned();
    let booking = expect_json(response, 201, "POST a booking").await?;
    ensure!(
        booking["total"]["amount_minor"] == 6447,
        "3 seats at 19.99 EUR and a 7.5 % fee rounded half up are 6447 cents, not {}",
        booking["total"]["amount_minor"]
    );
    let event = expect_json(target.get(&location)?.send().await?, 200, "GET the event").await?;
    ensure!(
        event["seats_left"] == 17,
        "3 of 20 booked, {} left",
        event["seats_left"]
    );
    let delete = target.request(Method::DELETE, &location)?.send().await?;
    expect_problem(delete, 409, "DELETE an event with a confirmed booking").await?;
    let cancel = target
        .request(Method::POST, &format!("{booking_at}/cancel"))?
        .send()
        .await?;
    expect_json(cancel, 200, "cancel the booking").await?;
    let event = expect_json(target.get(&location)?.send().await?, 200, "GET the event").await?;
    ensure!(
        event["seats_left"] == 20,
        "the cancelled seats did not come back: {}",
        event["seats_left"]
    );
    let delete = target.request(Method::DELETE, &location)?.send().await?;
    expect_status(&delete, 204, "DELETE the event")?;
    expect_problem(
        target.get(&location)?.send().await?,
        404,
        "GET a deleted event",
    )
    .await?;
    Ok(())
}

async fn short_load(target: &Target) -> anyhow::Result<()> {
    let (location, _) = create(target, &concert(&format!("Load {}", unique()), 10)).await?;
    let location = location.as_str();
    let mut latencies = Vec::new();
    for _ in 0..25 {
        let round = (0..16).map(|n| async move {
            let path = if n % 2 == 0 {
                location
            } else {
                "/events?per_page=5"
            };
            let started = Instant::now();
            let response = target.get(path)?.send().await?;
            expect_status(&response, 200, &format!("GET {path} under load"))?;
            Ok::<_, anyhow::Error>(started.elapsed())
        });
        for latency in join_all(round).await {
            latencies.push(latency?);
        }
    }
    latencies.sort();
    let p95 = latencies[latencies.len() * 95 / 100];
    ensure!(
        p95 < Duration::from_secs(1),
        "the 95th percentile of 400 reads is {} ms",
        p95.as_millis()
    );
    Ok(())
}

/// The results of phase 6's suite, or the skip that says where it is graded.
fn results() -> anyhow::Result<&'static suite::Results> {
    suite::results().ok_or_else(|| {
        Skip::tested_by(
            "the suite is built and run (clean and with each planted bug) by the grader's binary",
            "cargo run -p grader -- phase6",
        )
        .into()
    })
}

/// Passes when the suite's tests under the modules `prefixes` exist and pass on the clean service.
fn topic_passes(prefixes: &[&str]) -> anyhow::Result<()> {
    let clean = &results()?.clean;
    if let Some(broken) = &clean.broken {
        bail!("the suite is broken: {broken}");
    }
    let ours: Vec<(&String, &bool)> = clean
        .tests
        .iter()
        .filter(|(name, _)| prefixes.iter().any(|prefix| name.starts_with(prefix)))
        .collect();
    ensure!(!ours.is_empty(), "no test under {}", prefixes.join(", "));
    let failed: Vec<&str> = ours
        .iter()
        .filter(|(_, passed)| !**passed)
        .map(|(name, _)| name.as_str())
        .collect();
    ensure!(
        failed.is_empty(),
        "failing on the clean service: {}",
        failed.join(", ")
    );
    Ok(())
}

async fn suite_fixtures(_: &Target) -> anyhow::Result<()> {
    topic_passes(&["fixtures::"])
}

async fn suite_cases(_: &Target) -> anyhow::Result<()> {
    topic_passes(&["cases::", "properties::"])
}

async fn suite_mocks(_: &Target) -> anyhow::Result<()> {
    topic_passes(&["mocking::", "payments::"])
}

async fn suite_flows(_: &Target) -> anyhow::Result<()> {
    topic_passes(&["flows::"])
}

/// Passes when planted bug number `N` (of `Bug::ALL`) makes the suite fail.
async fn caught<const N: usize>(_: &Target) -> anyhow::Result<()> {
    let results = results()?;
    let (bug, run) = results.bugs.get(N).context("no such planted bug")?;
    ensure!(
        results.clean.failed().is_empty() && results.clean.broken.is_none(),
        "the suite fails on the clean service too, so a failure says nothing about {}",
        bug.name()
    );
    ensure!(
        run.caught(),
        "missed: with {} planted, every test passed",
        bug.name()
    );
    Ok(())
}
