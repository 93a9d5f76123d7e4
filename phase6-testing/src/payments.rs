//! The external HTTP dependency: a payment provider, behind a trait, and the mocks of that trait.
//!
//! **Roadmap:** mocking external services (6.3): a trait mocked, and the HTTP dependency stubbed
//! (`tests/api/mocking.rs`).
//!
//! **Python:** `unittest.mock.Mock(spec=PaymentGateway)` with `assert_called_once_with(...)`
//! for an object the code calls; `responses` and `respx` for the HTTP underneath.
//!
//! **Rust:** the service charges a booking through a provider's HTTP API (`POST /v1/charges`,
//! `POST /v1/refunds`, JSON, an `Idempotency-Key` header), as it would Stripe's or Adyen's,
//! behind the [`PaymentGateway`] trait. [`HttpGateway`] bounds each try with a timeout, retries
//! timeouts, refused connections, 5xx and 429 with exponential backoff (the same idempotency key
//! each time, so a retried charge is never charged twice), gives up after a few tries, and treats
//! an answer it cannot read as a failure, never as a payment. mockall's `#[automock]` generates
//! `MockPaymentGateway` from the trait (in this crate's own tests): each test says which calls
//! must happen, how often, with what, and what they return (the tests at the end of this file).
//!
//! **Why:** three kinds of double, each for its job. A *fake* works, in memory: [`LocalGateway`],
//! which the server runs with when no `PAYMENTS_URL` is set, and the tests' `FakePayments`. A
//! *stub server* (wiremock) answers HTTP, to test [`HttpGateway`] on the wire. A *mock* checks
//! the calls themselves, for rules such as "a declined charge is never refunded" and "a
//! cancellation refunds exactly what was charged, once", which a fake would let pass silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::bugs::{self, Bug};
use crate::money::Money;

/// A charge to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub amount: Money,
    /// What the charge is for, as the provider's dashboard shows it: `booking-12`.
    pub reference: String,
    /// The same for every try of one charge, so that the provider makes it once.
    pub idempotency_key: String,
}

/// A charge the provider made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    /// The provider's id for it: `ch_...`.
    pub id: String,
}

/// Why a payment did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentError {
    /// The provider refused it (a declined card): retrying will not help.
    Declined(String),
    /// The provider did not answer usefully after every try: nothing was charged, and later may work.
    Unavailable { attempts: u32, last: String },
    /// The provider answered something that is not its API.
    Malformed(String),
}

/// A payment provider.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Charges `request.amount`.
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
    /// Refunds `amount` of the charge `charge_id`.
    async fn refund(&self, charge_id: &str, amount: Money) -> Result<(), PaymentError>;
    /// What it is, for the tour: `the payment provider at http://...`.
    fn describe(&self) -> String;
}

/// A provider's HTTP API, with timeouts and bounded retries.
#[derive(Debug, Clone)]
pub struct HttpGateway {
    client: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
}

/// How [`HttpGateway`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure; each next one doubles (plus up to 25 % jitter).
    pub backoff: Duration,
    /// How long one try may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt + 1`, after `attempt` failures.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .backoff
            .saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1)))
            .min(Duration::from_secs(10));
        base + base.mul_f64(fastrand::f64() * 0.25)
    }
}

/// An error body, as the provider writes it: `{"error": "card_declined", "message": "..."}`.
#[derive(Debug, Deserialize)]
struct ProviderError {
    message: Option<String>,
    error: Option<String>,
}

impl HttpGateway {
    pub fn new(base: Url, retry: RetryPolicy) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder().timeout(retry.timeout).build()?;
        Ok(Self {
            client,
            base,
            retry,
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Sends what `request` builds until it succeeds, is refused, or the tries run out.
    async fn send<T: DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, PaymentError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = match request().send().await {
                Ok(response) if response.status().is_success() => {
                    return match response.bytes().await {
                        Ok(body) => serde_json::from_slice(&body).map_err(|_| {
                            PaymentError::Malformed(format!(
                                "the provider's answer is not its API: {}",
                                String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(80)
                                    .collect::<String>()
                            ))
                        }),
                        Err(err) => Err(PaymentError::Malformed(format!(
                            "the provider's answer broke off: {err}"
                        ))),
                    };
                }
                Ok(response) if retryable(response.status()) => {
                    format!("the provider answered {}", response.status())
                }
                Ok(response) => {
                    let status = response.status();
                    let reason = response
                        .json::<ProviderError>()
                        .await
                        .ok()
                        .and_then(|body| body.message.or(body.error))
                        .unwrap_or_else(|| format!("the provider answered {status}"));
                    return Err(PaymentError::Declined(reason));
                }
                Err(err) if err.is_timeout() => format!(
                    "the provider did not answer within {} ms",
                    self.retry.timeout.as_millis()
                ),
                Err(_) => "the provider could not be reached".to_owned(),
            };
            let endless = bugs::planted(Bug::EndlessRetry);
            if attempt >= self.retry.attempts && !endless {
                return Err(PaymentError::Unavailable {
                    attempts: attempt,
                    last,
                });
            }
            tracing::warn!(attempt, %last, "payment provider failed; retrying");
            tokio::time::sleep(self.retry.delay(attempt)).await;
        }
    }
}

/// Failures that another try may not have: 5xx, 408 and 429.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

#[async_trait]
impl PaymentGateway for HttpGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let body = serde_json::json!({
            "amount": request.amount.amount_minor,
            "currency": request.amount.currency.code(),
            "reference": request.reference,
        });
        let url = self.url("v1/charges");
        let sent = self
            .send::<Charge>(|| {
                self.client
                    .post(url.clone())
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(&body)
            })
            .await;
        match sent {
            Err(PaymentError::Malformed(_)) if bugs::planted(Bug::MalformedIsPaid) => Ok(Charge {
                id: "unknown".to_owned(),
            }),
            Ok(charge) if charge.id.is_empty() => Err(PaymentError::Malformed(
                "the provider's charge has no id".to_owned(),
            )),
            other => other,
        }
    }

    async fn refund(&self, charge_id: &str, amount: Money) -> Result<(), PaymentError> {
        let body = serde_json::json!({
            "charge": charge_id,
            "amount": amount.amount_minor,
            "currency": amount.currency.code(),
        });
        let url = self.url("v1/refunds");
        let key = format!("refund-{charge_id}");
        self.send::<serde_json::Value>(|| {
            self.client
                .post(url.clone())
                .header("Idempotency-Key", &key)
                .json(&body)
        })
        .await
        .map(drop)
    }

    fn describe(&self) -> String {
        format!("the payment provider at {}", self.base)
    }
}

/// A provider in memory that approves every charge and refund: what the server runs with when no
/// `PAYMENTS_URL` is set, so that it works with nothing installed.
#[derive(Debug, Default)]
pub struct LocalGateway {
    charges: AtomicU64,
}

#[async_trait]
impl PaymentGateway for LocalGateway {
    async fn charge(&self, _: &ChargeRequest) -> Result<Charge, PaymentError> {
        let n = self.charges.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Charge {
            id: format!("ch_local_{n}"),
        })
    }

    async fn refund(&self, _: &str, _: Money) -> Result<(), PaymentError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "an in-process provider that approves everything (set PAYMENTS_URL for a real one)"
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::test::{TestRequest, call_service, read_body_json};
    use common::db::testing::TestDatabase;
    use mockall::predicate::eq;
    use serde_json::{Value, json};

    use super::*;
    use crate::clock::FakeClock;
    use crate::money::Currency;
    use crate::{MANIFEST, SCHEMA, Services, box_office, openapi, routes};

    #[test]
    fn each_wait_doubles_with_at_most_a_quarter_more() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
        };
        for (attempt, base) in [(1, 100), (2, 200), (3, 400)] {
            let delay = policy.delay(attempt).as_millis();
            assert!((base..=base * 5 / 4).contains(&delay), "{attempt}: {delay}");
        }
    }

    /// The app in process on its own SQLite database, paying through `mock`, with one event of
    /// 10 seats at 19.99 EUR; the test keeps the database alive.
    async fn app_paying_through(
        mock: MockPaymentGateway,
    ) -> (
        TestDatabase,
        impl actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
        >,
    ) {
        let database = TestDatabase::sqlite_with(&SCHEMA);
        let services = Services {
            clock: Arc::new(FakeClock::at("2027-01-10T09:00:00Z".parse().unwrap())),
            payments: Arc::new(mock),
        };
        let office = box_office(database.database.clone(), services);
        let app =
            common::server::test_service(&MANIFEST, openapi::document(), routes(office)).await;
        let event = json!({
            "title": "Mocked", "time_zone": "Europe/Paris", "starts_local": "2027-03-20T20:00",
            "capacity": 10, "price_minor": 1999, "currency": "EUR",
        });
        let created = call_service(
            &app,
            TestRequest::post()
                .uri("/events")
                .set_json(event)
                .to_request(),
        )
        .await;
        assert_eq!(created.status(), 201);
        (database, app)
    }

    async fn seats_left(
        app: &impl actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
        >,
    ) -> Value {
        let event: Value = read_body_json(
            call_service(app, TestRequest::get().uri("/events/1").to_request()).await,
        )
        .await;
        event["seats_left"].clone()
    }

    fn book_two() -> actix_http::Request {
        TestRequest::post()
            .uri("/events/1/bookings")
            .set_json(json!({"email": "ada@example.com", "seats": 2}))
            .to_request()
    }

    #[actix_web::test]
    async fn a_declined_charge_is_asked_once_and_never_refunded() {
        let mut mock = MockPaymentGateway::new();
        mock.expect_charge()
            .times(1)
            .withf(|charge| {
                charge.amount == Money::new(4298, Currency::Eur)
                    && charge.idempotency_key == "booking-1"
            })
            .returning(|_| Err(PaymentError::Declined("insufficient funds".to_owned())));
        mock.expect_refund().never();
        let (_database, app) = app_paying_through(mock).await;
        let response = call_service(&app, book_two()).await;
        assert_eq!(response.status(), 402);
        assert_eq!(seats_left(&app).await, 10);
    }

    #[actix_web::test]
    async fn a_cancellation_refunds_what_was_charged_once() {
        let mut mock = MockPaymentGateway::new();
        mock.expect_charge().times(1).returning(|_| {
            Ok(Charge {
                id: "ch_mocked".to_owned(),
            })
        });
        mock.expect_refund()
            .times(1)
            .with(eq("ch_mocked"), eq(Money::new(4298, Currency::Eur)))
            .returning(|_, _| Ok(()));
        let (_database, app) = app_paying_through(mock).await;
        assert_eq!(call_service(&app, book_two()).await.status(), 201);
        assert_eq!(seats_left(&app).await, 8);
        let cancel = TestRequest::post().uri("/bookings/1/cancel").to_request();
        let response = call_service(&app, cancel).await;
        assert_eq!(response.status(), 200);
        assert_eq!(seats_left(&app).await, 10);
        // A second cancel is refused before the provider is asked again (`times(1)` above).
        let again = TestRequest::post().uri("/bookings/1/cancel").to_request();
        assert_eq!(call_service(&app, again).await.status(), 409);
    }
}
