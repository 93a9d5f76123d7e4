//! A stand-in for Stripe: the few routes the shop calls, and webhooks signed as Stripe signs
//! them, for the tests, the grader, and `cargo run -p shop` without `STRIPE_SECRET_KEY`.
//!
//! It answers `POST /v1/payment_intents` (replaying the first answer for a repeated
//! `Idempotency-Key`), `GET /v1/payment_intents/{id}`, `POST /v1/payment_intents/{id}/confirm`
//! with `payment_method=pm_card_visa` (as Stripe's test mode does; the intent succeeds and the
//! webhook goes out) and `POST /v1/refunds`, each behind the secret key as a bearer token. A
//! test can also send any event itself, signed well, with a stale time or with the wrong secret,
//! and as often and in whatever order it likes ([`FakeStripe::send`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use common::testing::TestServer;
use serde_json::{Value, json};

use crate::webhooks::sign;

/// How a test signs an event it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// As Stripe would: now, with the endpoint's secret.
    Good,
    /// With the right secret, ten minutes ago: a replayed delivery.
    Stale,
    /// Now, with another secret: a forgery.
    Forged,
}

#[derive(Debug, Default)]
struct Ledger {
    intents: BTreeMap<String, Value>,
    /// The answer given for each idempotency key.
    answers: HashMap<String, Value>,
    /// Refunded so far, per intent.
    refunded: HashMap<String, i64>,
    made: u64,
}

#[derive(Debug)]
struct Shared {
    secret_key: String,
    webhook_secret: String,
    /// Where webhooks go: the shop's `/webhooks/stripe`.
    endpoint: Mutex<Option<String>>,
    ledger: Mutex<Ledger>,
    http: reqwest::Client,
}

/// The fake, listening on `127.0.0.1`; it stops when dropped.
#[derive(Debug)]
pub struct FakeStripe {
    pub base: String,
    shared: Arc<Shared>,
    _server: TestServer,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn refused(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "message": message } }))
}

fn authorised(req: &HttpRequest, shared: &Shared) -> bool {
    common::extract::bearer_token(req) == Some(shared.secret_key.as_str())
}

impl FakeStripe {
    /// A fake that takes `secret_key` and signs its webhooks with `webhook_secret`.
    pub fn start(secret_key: &str, webhook_secret: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            endpoint: Mutex::new(None),
            ledger: Mutex::new(Ledger::default()),
            http: reqwest::Client::new(),
        });
        let data = web::Data::from(shared.clone());
        let server = TestServer::start(move |listener| {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .route("/v1/payment_intents", web::post().to(create_intent))
                    .route("/v1/payment_intents/{id}", web::get().to(get_intent))
                    .route(
                        "/v1/payment_intents/{id}/confirm",
                        web::post().to(confirm_intent),
                    )
                    .route("/v1/refunds", web::post().to(create_refund))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run())
        })?;
        Ok(Self {
            base: server.base_url(),
            shared,
            _server: server,
        })
    }

    /// Sends webhooks to `url` from now on.
    pub fn deliver_to(&self, url: impl Into<String>) {
        *lock(&self.shared.endpoint) = Some(url.into());
    }

    /// The intent `id`, as Stripe would show it.
    pub fn intent(&self, id: &str) -> Option<Value> {
        lock(&self.shared.ledger).intents.get(id).cloned()
    }

    /// What has been refunded of intent `id`, in minor units.
    pub fn refunded(&self, id: &str) -> i64 {
        lock(&self.shared.ledger)
            .refunded
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// Marks intent `id` paid, as a customer's card would, without telling the shop: the event
    /// that would say so, for the test to send when it likes.
    pub fn pay_quietly(&self, id: &str) -> Option<Value> {
        succeed(&self.shared, id)
    }

    /// Sends `event` to the shop's webhook endpoint, signed as `signing` says.
    pub async fn send(
        &self,
        event: &Value,
        signing: Signing,
    ) -> reqwest::Result<reqwest::Response> {
        deliver(&self.shared, event, signing).await
    }
}

/// The intent succeeds; its `payment_intent.succeeded` event.
fn succeed(shared: &Shared, id: &str) -> Option<Value> {
    let mut ledger = lock(&shared.ledger);
    let intent = ledger.intents.get_mut(id)?;
    intent["status"] = json!("succeeded");
    let intent = intent.clone();
    ledger.made += 1;
    Some(json!({
        "id": format!("evt_{}", ledger.made),
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": Utc::now().timestamp(),
        "data": { "object": intent },
    }))
}

async fn deliver(
    shared: &Shared,
    event: &Value,
    signing: Signing,
) -> reqwest::Result<reqwest::Response> {
    let body = event.to_string();
    let now = Utc::now().timestamp();
    let signature = match signing {
        Signing::Good => sign(&shared.webhook_secret, now, body.as_bytes()),
        Signing::Stale => sign(&shared.webhook_secret, now - 600, body.as_bytes()),
        Signing::Forged => sign("whsec_someone_else", now, body.as_bytes()),
    };
    let endpoint = lock(&shared.endpoint).clone().unwrap_or_default();
    shared
        .http
        .post(endpoint)
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
}

async fn create_intent(
    req: HttpRequest,
    shared: web::Data<Shared>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    if !authorised(&req, &shared) {
        return refused(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        );
    }
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut ledger = lock(&shared.ledger);
    if let Some(answer) = key.as_ref().and_then(|key| ledger.answers.get(key)) {
        return HttpResponse::Ok().json(answer);
    }
    let Some(amount) = form
        .get("amount")
        .and_then(|amount| amount.parse::<i64>().ok())
    else {
        return refused(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Missing required param: amount.",
        );
    };
    let metadata: BTreeMap<&str, &String> = form
        .iter()
        .filter_map(|(name, value)| {
            let name = name.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name, value))
        })
        .collect();
    ledger.made += 1;
    let id = format!("pi_{}", ledger.made);
    let intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "currency": form.get("currency"),
        "status": "requires_payment_method",
        "client_secret": format!("{id}_secret_{}", ledger.made),
        "metadata": metadata,
    });
    ledger.intents.insert(id, intent.clone());
    if let Some(key) = key {
        ledger.answers.insert(key, intent.clone());
    }
    HttpResponse::Ok().json(intent)
}

async fn get_intent(
    req: HttpRequest,
    shared: web::Data<Shared>,
    id: web::Path<String>,
) -> HttpResponse {
    if !authorised(&req, &shared) {
        return refused(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        );
    }
    match lock(&shared.ledger).intents.get(id.as_str()) {
        Some(intent) => HttpResponse::Ok().json(intent),
        None => refused(
            actix_web::http::StatusCode::NOT_FOUND,
            "No such payment_intent",
        ),
    }
}

async fn confirm_intent(
    req: HttpRequest,
    shared: web::Data<Shared>,
    id: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    if !authorised(&req, &shared) {
        return refused(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        );
    }
    if form.get("payment_method").map(String::as_str) != Some("pm_card_visa") {
        return refused(
            actix_web::http::StatusCode::PAYMENT_REQUIRED,
            "Your card was declined. (The fake takes payment_method=pm_card_visa.)",
        );
    }
    let Some(event) = succeed(&shared, &id) else {
        return refused(
            actix_web::http::StatusCode::NOT_FOUND,
            "No such payment_intent",
        );
    };
    let intent = event["data"]["object"].clone();
    // Stripe tells the endpoint a moment later, on its own schedule.
    let shared = shared.into_inner();
    tokio::spawn(async move {
        if let Err(err) = deliver(&shared, &event, Signing::Good).await {
            tracing::warn!(error = %err, "the fake Stripe could not deliver a webhook");
        }
    });
    HttpResponse::Ok().json(intent)
}

async fn create_refund(
    req: HttpRequest,
    shared: web::Data<Shared>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    if !authorised(&req, &shared) {
        return refused(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        );
    }
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut ledger = lock(&shared.ledger);
    if let Some(answer) = key.as_ref().and_then(|key| ledger.answers.get(key)) {
        return HttpResponse::Ok().json(answer);
    }
    let intent = form.get("payment_intent").cloned().unwrap_or_default();
    let Some(paid) = ledger
        .intents
        .get(&intent)
        .filter(|found| found["status"] == "succeeded")
        .and_then(|found| found["amount"].as_i64())
    else {
        return refused(
            actix_web::http::StatusCode::BAD_REQUEST,
            "This PaymentIntent does not have a successful charge to refund.",
        );
    };
    let amount = form
        .get("amount")
        .and_then(|amount| amount.parse::<i64>().ok())
        .unwrap_or(paid);
    let already = ledger.refunded.get(&intent).copied().unwrap_or(0);
    if amount <= 0 || already + amount > paid {
        return refused(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Refund amount is greater than the unrefunded amount on the charge.",
        );
    }
    ledger.refunded.insert(intent.clone(), already + amount);
    ledger.made += 1;
    let refund = json!({
        "id": format!("re_{}", ledger.made),
        "object": "refund",
        "amount": amount,
        "payment_intent": intent,
        "status": "succeeded",
    });
    if let Some(key) = key {
        ledger.answers.insert(key, refund.clone());
    }
    HttpResponse::Ok().json(refund)
}
