//! Parametrized tests: one test, a table of edge cases, a line of the report for each.
//!
//! **Roadmap:** parametrized tests (6.2): edge cases as a table.
//!
//! **Python:** `@pytest.mark.parametrize("seats, fee", [(1, 0), (20, 2), ...])`, and two
//! `parametrize` decorators stacked for every combination.
//!
//! **Rust:** rstest's `#[case]` attributes are the rows of the table, each its own test named
//! after the row (`cargo test exact_half_rounds_up` runs one); `#[values]` on two arguments runs
//! every combination. The rows here are the edges a box office meets: the smallest and largest
//! amounts, a fee that falls exactly on half a cent, yen (no cents), a title of 100 characters
//! that is 200 bytes, the night the clocks skip an hour and the night they repeat one, a midnight
//! that does not exist, pages at and past the end.
//!
//! **Why:** an edge case written as one more row costs a line, so the table grows as bugs are
//! found; and each row fails alone, naming the input that broke, where a loop over cases inside
//! one test stops at the first and hides the rest.

use common::testing::unique_name;
use phase6_testing::events::check_title;
use phase6_testing::money::{Currency, Money, quote};
use phase6_testing::schedule::{ScheduleError, rfc3339, schedule};
use rstest::rstest;
use serde_json::json;

use crate::fixtures::{concert, empty};
use crate::support::Office;

#[rstest]
#[case::free(0, 1, 0, 0)]
#[case::a_cent_has_no_fee(1, 1, 0, 1)]
#[case::below_half_rounds_down(2, 1, 0, 2)]
#[case::above_half_rounds_up(7, 1, 1, 8)]
#[case::exact_half_rounds_up(20, 1, 2, 22)]
#[case::three_seats(1999, 3, 450, 6447)]
#[case::the_largest_booking(100_000_000, 10, 75_000_000, 1_075_000_000)]
fn the_fee_is_rounded_half_up_to_a_cent(
    #[case] price: i64,
    #[case] seats: u32,
    #[case] fee: i64,
    #[case] total: i64,
) {
    let quote = quote(Money::new(price, Currency::Eur), seats);
    assert_eq!(quote.tickets.amount_minor, price * i64::from(seats));
    assert_eq!(quote.fee.amount_minor, fee, "fee");
    assert_eq!(quote.total.amount_minor, total, "total");
}

#[rstest]
fn every_currency_and_seat_count_adds_up(
    #[values(Currency::Eur, Currency::Usd, Currency::Jpy)] currency: Currency,
    #[values(1, 2, 10)] seats: u32,
    #[values(1, 1999, 100_000_000)] price: i64,
) {
    let quote = quote(Money::new(price, currency), seats);
    assert_eq!(quote.total.currency, currency);
    assert_eq!(
        quote.total.amount_minor,
        quote.tickets.amount_minor + quote.fee.amount_minor
    );
}

#[rstest]
#[case::euros(1250, Currency::Eur, "12.50 EUR")]
#[case::a_cent(1, Currency::Usd, "0.01 USD")]
#[case::yen_have_no_cents(1500, Currency::Jpy, "1500 JPY")]
fn amounts_are_shown_in_their_currencys_digits(
    #[case] minor: i64,
    #[case] currency: Currency,
    #[case] shown: &str,
) {
    assert_eq!(Money::new(minor, currency).display(), shown);
}

#[rstest]
#[case::winter_in_paris("Europe/Paris", "2027-01-15T20:00", "2027-01-15T20:00:00+01:00")]
#[case::summer_in_paris("Europe/Paris", "2027-07-15T20:00", "2027-07-15T20:00:00+02:00")]
#[case::the_first_of_two_0230s("Europe/Paris", "2027-10-31T02:30", "2027-10-31T02:30:00+02:00")]
#[case::the_first_of_two_0130s_in_new_york(
    "America/New_York",
    "2027-11-07T01:30",
    "2027-11-07T01:30:00-04:00"
)]
#[case::half_an_hour_off_utc("Asia/Kolkata", "2027-01-01T00:00", "2027-01-01T00:00:00+05:30")]
#[case::seconds_are_kept("Asia/Tokyo", "2027-05-12T19:00:30", "2027-05-12T19:00:30+09:00")]
#[case::utc("UTC", "2027-01-01T00:00", "2027-01-01T00:00:00+00:00")]
fn a_wall_clock_time_names_the_venues_instant(
    #[case] zone: &str,
    #[case] local: &str,
    #[case] starts_at: &str,
) {
    let schedule = schedule(zone, local).expect("a start");
    assert_eq!(rfc3339(&schedule.starts_at), starts_at);
}

#[rstest]
#[case::paris("Europe/Paris", "2027-03-20T20:00", "2027-03-20T00:00:00+01:00")]
#[case::the_day_the_clocks_skip("Europe/Paris", "2027-03-28T20:00", "2027-03-28T00:00:00+01:00")]
#[case::a_midnight_that_does_not_exist(
    "America/Santiago",
    "2027-09-05T20:00",
    "2027-09-05T01:00:00-03:00"
)]
fn refunds_close_at_the_first_instant_of_the_events_day(
    #[case] zone: &str,
    #[case] local: &str,
    #[case] until: &str,
) {
    let schedule = schedule(zone, local).expect("a start");
    assert_eq!(rfc3339(&schedule.refunds_until), until);
}

#[rstest]
#[case::paris_springs_forward("Europe/Paris", "2027-03-28T02:30")]
#[case::new_york_springs_forward("America/New_York", "2027-03-14T02:15")]
fn a_time_the_clocks_skip_is_refused(#[case] zone: &str, #[case] local: &str) {
    let err = schedule(zone, local).expect_err("no such time");
    assert!(matches!(err, ScheduleError::Skipped { .. }), "{err:?}");
}

#[rstest]
#[case::no_such_zone("Mars/Olympus_Mons", "2027-01-01T20:00", ScheduleError::UnknownZone)]
#[case::no_such_day("Europe/Paris", "2027-02-30T20:00", ScheduleError::NotADateTime)]
#[case::an_offset_is_not_a_wall_clock(
    "Europe/Paris",
    "2027-01-01T20:00+01:00",
    ScheduleError::NotADateTime
)]
#[case::a_date_alone("Europe/Paris", "2027-01-01", ScheduleError::NotADateTime)]
#[case::empty("Europe/Paris", "", ScheduleError::NotADateTime)]
fn what_is_not_a_start_says_why(
    #[case] zone: &str,
    #[case] local: &str,
    #[case] expected: ScheduleError,
) {
    assert_eq!(schedule(zone, local).expect_err("not a start"), expected);
}

#[rstest]
#[case::one_character("a", true)]
#[case::a_hundred_ascii(&"a".repeat(100), true)]
#[case::a_hundred_accented(&"é".repeat(100), true)]
#[case::a_hundred_emoji(&"🎷".repeat(100), true)]
#[case::a_hundred_and_one(&"é".repeat(101), false)]
#[case::empty("", false)]
#[case::only_spaces("   ", false)]
fn titles_are_counted_in_characters(#[case] title: &str, #[case] valid: bool) {
    assert_eq!(check_title(title).is_ok(), valid, "{} bytes", title.len());
}

#[rstest]
#[case::the_first_page(1, 10, 1..11)]
#[case::the_last_page_is_short(3, 10, 21..26)]
#[case::past_the_end(4, 10, 26..26)]
#[case::all_on_one_page(1, 100, 1..26)]
#[case::one_at_a_time(25, 1, 25..26)]
#[actix_web::test]
async fn pages_hold_the_events_in_order(
    #[future] empty: Office,
    #[case] page: u32,
    #[case] per_page: u32,
    #[case] expected: std::ops::Range<usize>,
) {
    let office = empty.await;
    let mut titles = Vec::new();
    for n in 1..=25 {
        let title = format!("Event {n:02}");
        office.create_event(concert(&title, 5)).await;
        titles.push(title);
    }
    let body = office
        .get(&format!("/events?page={page}&per_page={per_page}"))
        .await
        .expect_status(200)
        .json();
    let shown: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["title"].as_str().unwrap_or_default())
        .collect();
    let wanted: Vec<&str> = expected.map(|n| titles[n - 1].as_str()).collect();
    assert_eq!(shown, wanted);
    assert_eq!(body["total"], 25);
    assert_eq!(body["pages"], 25_u32.div_ceil(per_page));
}

#[rstest]
#[case::no_seat(json!({"email": "ada@example.com", "seats": 0}), "seats")]
#[case::more_than_ten(json!({"email": "ada@example.com", "seats": 11}), "seats")]
#[case::far_too_many(json!({"email": "ada@example.com", "seats": 4_000_000_000_u32}), "seats")]
#[case::not_an_email(json!({"email": "ada", "seats": 1}), "email")]
#[case::a_seat_count_that_overflows(json!({"email": "ada@example.com", "seats": 5_000_000_000_u64}), "seats")]
#[actix_web::test]
async fn a_booking_out_of_bounds_is_a_422_naming_the_field(
    #[future] empty: Office,
    #[case] body: serde_json::Value,
    #[case] field: &str,
) {
    let office = empty.await;
    let event = office
        .create_event(concert(&unique_name("Bounds"), 100))
        .await;
    let problem = office
        .post(&format!("/events/{}/bookings", event.id), &body)
        .await
        .expect_problem(422);
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    assert_eq!(office.event(event.id).await.seats_left, 100);
}

#[rstest]
#[case::a_page_of_0("page=0", "page")]
#[case::no_events_per_page("per_page=0", "per_page")]
#[case::too_many_per_page("per_page=101", "per_page")]
#[actix_web::test]
async fn a_page_out_of_range_is_a_422(
    #[future] empty: Office,
    #[case] query: &str,
    #[case] field: &str,
) {
    let office = empty.await;
    let problem = office
        .get(&format!("/events?{query}"))
        .await
        .expect_problem(422);
    assert_eq!(problem["errors"][0]["field"], field);
}
