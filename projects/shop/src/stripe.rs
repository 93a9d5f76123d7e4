//! A thin Stripe client: the three calls the shop makes, over the workspace's reqwest.
//!
//! **Roadmap:** "Stripe integration".
//!
//! **Python:** `stripe.PaymentIntent.create(amount=..., currency=..., metadata={...},
//! idempotency_key=...)` from the official `stripe` package.
//!
//! **Rust:** Stripe's API is form-encoded (`metadata[order_id]=7`), authenticated with the secret
//! key as a bearer token, and takes an `Idempotency-Key` on every POST, so that a retry after a
//! lost answer makes no second charge or refund. [`Stripe`] sends exactly that with reqwest's
//! `form`, reads the few fields the shop uses, and turns Stripe's error body
//! (`{"error": {"message": ...}}`) into a [`StripeError`]. The base URL is a setting: the tests
//! and the binary without `STRIPE_SECRET_KEY` point it at [`crate::fake_stripe`].
//!
//! **Why:** three calls do not need the `async-stripe` crate. It is generated from Stripe's
//! whole OpenAPI document, a type for every object of every product, and its build is measured
//! in minutes: about 50 s in debug and 2 min in release for the crate alone on a 16-core Ryzen
//! 9 5950X (async-stripe issue #275, 2022), 1 min 40 s cut to 50 s by switching off the features
//! one project did not use (estuary/flow pull request #2666, 2026), 7 min in a report of 2025
//! (async-stripe issue #679). This machine has 2 cores, and every minute of build is paid by
//! every learner and every CI run, for three endpoints whose fields fit on a screen.

use std::time::Duration;

use common::ApiError;
use common::money::Money;
use serde::Deserialize;

/// How long a call to Stripe may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Stripe's API, at `base` (`https://api.stripe.com`), with a secret key.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    base: String,
    secret_key: String,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The fields of a PaymentIntent the shop reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    /// `requires_payment_method`, `processing`, `succeeded`, `canceled`, ...
    pub status: String,
    pub amount: i64,
    /// Lower case, as Stripe writes it: `eur`.
    pub currency: String,
    /// What the browser hands to Stripe.js to pay.
    pub client_secret: Option<String>,
}

/// The fields of a Refund the shop reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub status: String,
    pub amount: i64,
}

/// Why a call to Stripe failed.
#[derive(Debug)]
pub enum StripeError {
    /// Stripe answered, and refused: its status and message.
    Refused { status: u16, message: String },
    /// Stripe did not answer, or not in a form we read.
    Unreachable(String),
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StripeError::Refused { status, message } => {
                write!(f, "Stripe refused ({status}): {message}")
            }
            StripeError::Unreachable(why) => write!(f, "Stripe could not be reached: {why}"),
        }
    }
}

/// A failed payment call is the provider's failure, not the client's: 502, in words the client
/// can act on. Stripe's own message goes to the log.
impl From<StripeError> for ApiError {
    fn from(err: StripeError) -> Self {
        tracing::warn!(error = %err, "a call to Stripe failed");
        ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "the payment provider did not complete the request; nothing was charged twice, and it is safe to retry",
        )
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

impl Stripe {
    pub fn new(base: impl Into<String>, secret_key: impl Into<String>) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            base: base.into().trim_end_matches('/').to_owned(),
            secret_key: secret_key.into(),
        })
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StripeError> {
        let response = request
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|err| StripeError::Unreachable(err.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|err| StripeError::Unreachable(err.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|body| body.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            return Err(StripeError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|err| StripeError::Unreachable(err.to_string()))
    }

    /// `POST /v1/payment_intents`: `amount` for order `order_id`, made once per `idempotency_key`.
    pub async fn create_payment_intent(
        &self,
        amount: Money,
        order_id: i32,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let form = [
            ("amount", amount.amount_minor.to_string()),
            ("currency", amount.currency.code().to_ascii_lowercase()),
            ("metadata[order_id]", order_id.to_string()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
        ];
        let request = self
            .http
            .post(format!("{}/v1/payment_intents", self.base))
            .header("Idempotency-Key", idempotency_key)
            .form(&form);
        self.send(request).await
    }

    /// `GET /v1/payment_intents/{id}`: where the payment is now.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        let id = url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>();
        let request = self
            .http
            .get(format!("{}/v1/payment_intents/{id}", self.base));
        self.send(request).await
    }

    /// `POST /v1/refunds`: `amount_minor` of `payment_intent` back, once per `idempotency_key`.
    pub async fn refund(
        &self,
        payment_intent: &str,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let form = [
            ("payment_intent", payment_intent.to_owned()),
            ("amount", amount_minor.to_string()),
        ];
        let request = self
            .http
            .post(format!("{}/v1/refunds", self.base))
            .header("Idempotency-Key", idempotency_key)
            .form(&form);
        self.send(request).await
    }
}
