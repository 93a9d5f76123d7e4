//! Stripe's webhooks: signed, delivered at least once, in any order.
//!
//! **Roadmap:** the half of "Stripe integration" that happens when nobody is waiting: Stripe tells
//! the shop a payment succeeded by calling it.
//!
//! **Python:** `stripe.Webhook.construct_event(payload, sig_header, endpoint_secret)`, which checks
//! the signature, then a handler that must not apply the same event twice.
//!
//! **Rust:** `Stripe-Signature` is `t=<unix time>,v1=<hex>,v1=<hex>...`: HMAC-SHA256, keyed with
//! the endpoint's secret, over `{t}.` and the raw body, exactly as received (so the route takes
//! `web::Bytes`, never a parsed body). [`verify`] tries every `v1` (Stripe sends two while a
//! secret is being rolled), compares with hmac's `verify_slice`, in constant time, and refuses a
//! `t` more than [`TOLERANCE`] from now, so that a captured delivery cannot be replayed later. A
//! refused delivery is 400, which Stripe retries and lists in its dashboard.
//!
//! An accepted event is applied in one transaction that first inserts its id into
//! `stripe_events`: a second delivery of the same event finds the id taken and changes nothing.
//! Events may come in any order, and each one only moves an order forward
//! ([`crate::payments::record_payment`]): `payment_intent.succeeded` pays a pending order and is
//! a no-op for one already paid, by this event or by the customer's own confirmation racing it.
//!
//! **Why:** the webhook is the only word on a payment that does not depend on the customer's
//! browser staying open; everything about it must assume an attacker, a retry or a delay.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use common::ApiError;
use common::db::{blocking, is_unique_violation, write_transaction};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::Shop;
use crate::payments::{Recorded, record_payment};
use crate::schema::stripe_events;

/// How far a signature's time may be from ours: Stripe's own libraries' default.
pub const TOLERANCE: i64 = 300;

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `Stripe-Signature`, or no `t` or `v1` in it.
    Malformed,
    /// `t` is more than [`TOLERANCE`] seconds from now.
    Stale,
    /// No `v1` is the body's signature with our secret.
    Mismatch,
}

impl SignatureError {
    fn describe(self) -> &'static str {
        match self {
            SignatureError::Malformed => "the Stripe-Signature header is missing or malformed",
            SignatureError::Stale => "the signature's timestamp is more than 300 s from now",
            SignatureError::Mismatch => "no signature in Stripe-Signature matches the body",
        }
    }
}

/// The `Stripe-Signature` value for `body` at time `t` with `secret`: what Stripe sends, and
/// what the fake sends.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={:x}",
        mac(secret, t, body).finalize().into_bytes()
    )
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Checks `header` (a `Stripe-Signature`) against `body` with `secret`, at time `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(unhex(value)),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok())
        .then_some(())
        .ok_or(SignatureError::Mismatch)
}

/// The parts of an event the shop reads.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Debug, Deserialize)]
struct EventObject {
    id: String,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[utoipa::path(
    tag = "payments",
    request_body(content = String, content_type = "application/json", description = "A Stripe event, signed in `Stripe-Signature`"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256>`")),
    responses(
        (status = 200, description = "Applied, or known already: Stripe stops sending it"),
        (status = 400, description = "The signature is missing, wrong or stale, or the body is not an event", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[post("/webhooks/stripe")]
pub(crate) async fn receive(
    req: HttpRequest,
    shop: web::Data<Shop>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let payments = &shop.payments;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    verify(
        &payments.webhook_secret,
        header,
        &body,
        Utc::now().timestamp(),
    )
    .map_err(|err| ApiError::bad_request(err.describe()))?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("the body is not a Stripe event"))?;
    let state = shop.clone();
    let refund = blocking(move || {
        let mut conn = state.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let first = diesel::insert_into(stripe_events::table)
                .values((
                    stripe_events::id.eq(&event.id),
                    stripe_events::kind.eq(&event.kind),
                    stripe_events::received_at.eq(Utc::now().timestamp()),
                ))
                .execute(conn);
            match first {
                Err(err) if is_unique_violation(&err) => {
                    tracing::info!(event = %event.id, "a Stripe event delivered again: ignored");
                    return Ok(None);
                }
                other => other?,
            };
            if event.kind != "payment_intent.succeeded" {
                return Ok(None);
            }
            let order = event
                .data
                .object
                .metadata
                .get("order_id")
                .and_then(|id| id.parse::<i32>().ok());
            let Some(order) = order else {
                tracing::warn!(event = %event.id, "a payment for no order of ours");
                return Ok(None);
            };
            let recorded =
                record_payment(conn, order, &event.data.object.id, event.data.object.amount)?;
            Ok::<_, ApiError>(match recorded {
                Recorded::TooLate => Some((
                    order,
                    event.data.object.id.clone(),
                    event.data.object.amount,
                )),
                Recorded::Paid | Recorded::Already => None,
            })
        })
    })
    .await?;
    if let Some((order, intent, amount)) = refund {
        crate::payments::refund_late_payment(&shop, order, &intent, amount).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "received": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_body_its_secret_and_five_minutes() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_test", 1_000, body);
        assert_eq!(verify("whsec_test", &header, body, 1_000), Ok(()));
        assert_eq!(verify("whsec_test", &header, body, 1_300), Ok(()));
        assert_eq!(
            verify("whsec_test", &header, body, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("whsec_other", &header, body, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_test", &header, br#"{"id":"evt_2"}"#, 1_000),
            Err(SignatureError::Mismatch)
        );
        // While a secret is rolled, Stripe signs with both: any one that matches will do.
        let old = sign("whsec_old", 1_000, body);
        let both = format!(
            "{header},v1={}",
            old.split_once(",v1=").unwrap_or_default().1
        );
        assert_eq!(verify("whsec_old", &both, body, 1_000), Ok(()));
        assert_eq!(
            verify("whsec_test", "t=1000", body, 1_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("whsec_test", "v1=00", body, 1_000),
            Err(SignatureError::Malformed)
        );
    }
}
