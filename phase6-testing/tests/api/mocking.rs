//! The payment provider's HTTP API, stubbed: canned answers, failures and nonsense on a local
//! port, and what the service sent, verified.
//!
//! **Roadmap:** mocking external services (6.3): an HTTP dependency stubbed.
//!
//! **Python:** `responses` (for `requests`) and `respx` (for `httpx`) intercept the client's calls
//! and answer them; `responses.calls` and `respx`'s routes say how often each was called and with
//! what. `unittest.mock.Mock` is the other tool, for objects (see the mockall tests at the end
//! of `src/payments.rs`).
//!
//! **Rust:** wiremock starts a real HTTP server on 127.0.0.1 for each test; `Mock::given(...)`
//! says which requests a stub answers (method, path, a header, part of the JSON body) and with
//! what (a status, a body, a delay), and `.expect(n)` is checked when the server drops: called
//! exactly n times, or the test fails. The service talks to it through its real client
//! ([`HttpGateway`]), so the timeouts, the retries, the idempotency key and the JSON are all
//! tested, which an in-memory fake would skip.
//!
//! **Why:** what to use where. A *fake* (the `FakePayments` of `fixtures.rs`) is a working
//! implementation in memory: most tests use it, since they are about the box office and not the
//! provider. A *stub server* is for the client's own behaviour on the wire: retries on 500s and
//! timeouts, giving up, reading a malformed answer as a failure. A *mock* (mockall) states which
//! calls must happen and is for the rules of the code that makes them: a declined charge is never
//! refunded, a cancellation refunds what was charged, once.

use std::sync::Arc;
use std::time::Duration;

use phase6_testing::payments::{HttpGateway, RetryPolicy};
use rstest::rstest;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fixtures::{Schema, clock, concert, schema, sqlite, start_with};
use crate::support::{Office, Response};

/// Three tries, 10 ms apart (then 20 ms), 300 ms each: short, so that giving up takes well under
/// a second.
const POLICY: RetryPolicy = RetryPolicy {
    attempts: 3,
    backoff: Duration::from_millis(10),
    timeout: Duration::from_millis(300),
};

/// A box office whose provider is `provider`, through the real HTTP client.
async fn office_paying_through(provider: &MockServer, schema: &Schema) -> Office {
    let url = provider.uri().parse().expect("the stub's URL");
    let gateway = HttpGateway::new(url, POLICY).expect("a client");
    start_with(sqlite(schema), clock(), Arc::new(gateway)).await
}

/// Books 2 seats, failing the test if that takes more than 5 s (a retry loop that never ends).
async fn book_two(office: &Office, event: i32) -> Response {
    tokio::time::timeout(Duration::from_secs(5), office.book(event, 2))
        .await
        .expect("the booking answers within 5 s, however the provider behaves")
}

fn charged(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"id": id, "status": "succeeded"}))
}

#[rstest]
#[actix_web::test]
async fn a_charge_is_sent_once_with_its_amount_and_key(schema: &Schema) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .and(header("Idempotency-Key", "booking-1"))
        .and(body_partial_json(
            json!({"amount": 4298, "currency": "EUR", "reference": "booking-1"}),
        ))
        .respond_with(charged("ch_123"))
        .expect(1)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Stubbed", 10)).await;
    let booking = book_two(&office, event.id).await.expect_status(201).json();
    assert_eq!(booking["payment_id"], "ch_123");
    assert_eq!(booking["status"], "confirmed");
    assert_eq!(booking["total"]["amount_minor"], 4298);
}

#[rstest]
#[actix_web::test]
async fn failures_are_retried_with_the_same_key_until_one_succeeds(schema: &Schema) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .and(header("Idempotency-Key", "booking-1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .and(header("Idempotency-Key", "booking-1"))
        .respond_with(charged("ch_third_time"))
        .expect(1)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Flaky", 10)).await;
    let booking = book_two(&office, event.id).await.expect_status(201).json();
    assert_eq!(booking["payment_id"], "ch_third_time");
}

#[rstest]
#[case::server_errors(ResponseTemplate::new(500))]
#[case::rate_limited(ResponseTemplate::new(429))]
#[case::too_slow(charged("ch_late").set_delay(Duration::from_secs(1)))]
#[actix_web::test]
async fn a_provider_that_keeps_failing_is_tried_three_times_then_the_seats_go_back(
    schema: &Schema,
    #[case] answer: ResponseTemplate,
) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .respond_with(answer)
        .expect(3)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Down", 10)).await;
    let response = book_two(&office, event.id).await;
    assert_eq!(response.header("retry-after"), "30");
    let problem = response.expect_problem(503);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("after 3 tries"),
        "{problem}"
    );
    assert_eq!(office.event(event.id).await.seats_left, 10);
    let failed = office.get("/bookings/1").await.expect_status(200).json();
    assert_eq!(failed["status"], "failed");
}

#[rstest]
#[case::html(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))]
#[case::no_id(ResponseTemplate::new(201).set_body_json(json!({"status": "succeeded"})))]
#[case::an_empty_id(ResponseTemplate::new(201).set_body_json(json!({"id": ""})))]
#[actix_web::test]
async fn an_answer_that_is_not_the_api_is_never_taken_as_paid(
    schema: &Schema,
    #[case] answer: ResponseTemplate,
) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .respond_with(answer)
        .expect(1)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Nonsense", 10)).await;
    book_two(&office, event.id).await.expect_problem(502);
    assert_eq!(office.event(event.id).await.seats_left, 10);
    let booking = office.get("/bookings/1").await.expect_status(200).json();
    assert_eq!(booking["status"], "failed");
    assert_eq!(booking["payment_id"], json!(null));
}

#[rstest]
#[actix_web::test]
async fn a_declined_card_is_a_402_and_is_not_retried(schema: &Schema) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .respond_with(
            ResponseTemplate::new(402)
                .set_body_json(json!({"error": "card_declined", "message": "insufficient funds"})),
        )
        .expect(1)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Declined", 10)).await;
    let problem = book_two(&office, event.id).await.expect_problem(402);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("insufficient funds"),
        "{problem}"
    );
    assert_eq!(office.event(event.id).await.seats_left, 10);
}

#[rstest]
#[actix_web::test]
async fn a_cancellation_refunds_the_charge_it_made(schema: &Schema) {
    let provider = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/charges"))
        .respond_with(charged("ch_refund_me"))
        .expect(1)
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("Idempotency-Key", "refund-ch_refund_me"))
        .and(body_partial_json(
            json!({"charge": "ch_refund_me", "amount": 4298, "currency": "EUR"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "re_1"})))
        .expect(1)
        .mount(&provider)
        .await;
    let office = office_paying_through(&provider, schema).await;
    let event = office.create_event(concert("Refunded", 10)).await;
    let booking = book_two(&office, event.id).await.expect_status(201).json();
    let id = booking["id"].as_i64().expect("an id");
    let cancelled = office.cancel(id).await.expect_status(200).json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(office.event(event.id).await.seats_left, 10);
}
