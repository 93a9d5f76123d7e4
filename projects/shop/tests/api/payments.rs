//! Paying through Stripe (a fake one the test holds), its webhooks, and refunds.

use std::time::{Duration, Instant};

use futures_util::future::join;
use reqwest::Method;
use serde_json::{Value, json};
use shop::fake_stripe::Signing;

use crate::support::{App, SECRET_KEY, emails_queued};

/// A pending order of `items` for ada: its id.
async fn order(app: &App, ada: &str, items: &[(&str, i32)]) -> i64 {
    let cart = app.cart(ada, items).await;
    let placed = app.checkout(ada, cart).await;
    assert_eq!(placed.status(), 201);
    let order: Value = placed.json().await.unwrap();
    order["id"].as_i64().unwrap()
}

/// `POST /orders/{id}/payment` with an idempotency key: the PaymentIntent's id.
async fn start_payment(app: &App, ada: &str, id: i64, key: &str) -> Value {
    let started = app
        .http
        .post(app.url(&format!("/orders/{id}/payment")))
        .bearer_auth(ada)
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    started.json().await.unwrap()
}

async fn status(app: &App, token: &str, id: i64) -> Value {
    let order: Value = app
        .send(Method::GET, &format!("/orders/{id}"), token, None)
        .await
        .json()
        .await
        .unwrap();
    order["status"].clone()
}

/// Waits for order `id` to be `wanted`.
async fn until(app: &App, token: &str, id: i64, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(app, token, id).await != wanted {
        assert!(
            Instant::now() < deadline,
            "order {id} never became {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_card_payment_reaches_the_order_through_the_webhook_and_is_recorded_once() {
    let (app, stripe) = App::paying(|_| {}).await;
    let ada = app.token("ada").await;
    let id = order(&app, &ada, &[("TRAIL-42-BLUE", 2)]).await;

    let payment = start_payment(&app, &ada, id, "pay-1").await;
    let intent = payment["payment_intent"].as_str().unwrap().to_owned();
    assert_eq!(
        payment["amount"],
        json!({"amount_minor": 17900, "currency": "EUR"})
    );
    assert!(
        payment["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(&intent)
    );
    let again = start_payment(&app, &ada, id, "pay-2").await;
    assert_eq!(
        again["payment_intent"],
        intent.as_str(),
        "one intent per order"
    );
    let metadata = &stripe.intent(&intent).unwrap()["metadata"];
    assert_eq!(metadata["order_id"], id.to_string());

    // The customer pays (Stripe's test card); Stripe calls the webhook.
    let paid = app
        .http
        .post(format!(
            "{}/v1/payment_intents/{intent}/confirm",
            stripe.base
        ))
        .bearer_auth(SECRET_KEY)
        .form(&[("payment_method", "pm_card_visa")])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    until(&app, &ada, id, "paid").await;

    // "I have paid" afterwards changes nothing: one receipt.
    let confirmed = app
        .send(
            Method::POST,
            &format!("/orders/{id}/payment/confirm"),
            &ada,
            None,
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(
        emails_queued(&app, &format!("Payment received for order {id}")),
        1
    );
    let again = app
        .http
        .post(app.url(&format!("/orders/{id}/payment")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a paid order is not paid again");
}

#[tokio::test]
async fn a_webhook_is_refused_unless_signed_now_with_our_secret_and_applied_once_in_any_order() {
    let (app, stripe) = App::paying(|_| {}).await;
    let ada = app.token("ada").await;
    let id = order(&app, &ada, &[("RAIN-M", 1)]).await;
    let intent = start_payment(&app, &ada, id, "pay").await["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = stripe.pay_quietly(&intent).unwrap();

    for signing in [Signing::Forged, Signing::Stale] {
        let refused = stripe.send(&event, signing).await.unwrap();
        assert_eq!(refused.status(), 400, "{signing:?}");
        assert_eq!(status(&app, &ada, id).await, "pending", "{signing:?}");
    }
    let unsigned = app
        .http
        .post(app.url("/webhooks/stripe"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);

    // The customer's confirmation comes first; the webhook after it, twice.
    let confirmed = app
        .send(
            Method::POST,
            &format!("/orders/{id}/payment/confirm"),
            &ada,
            None,
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    for _ in 0..2 {
        let delivered = stripe.send(&event, Signing::Good).await.unwrap();
        assert_eq!(delivered.status(), 200);
    }
    assert_eq!(status(&app, &ada, id).await, "paid");
    assert_eq!(
        emails_queued(&app, &format!("Payment received for order {id}")),
        1
    );
}

#[tokio::test]
async fn the_confirmation_and_the_webhook_racing_pay_the_order_once() {
    let (app, stripe) = App::paying(|_| {}).await;
    let ada = app.token("ada").await;
    for round in 0..5 {
        let id = order(&app, &ada, &[("TENUGUI-WAVES", 1)]).await;
        let intent =
            start_payment(&app, &ada, id, &format!("race-{round}")).await["payment_intent"]
                .as_str()
                .unwrap()
                .to_owned();
        let event = stripe.pay_quietly(&intent).unwrap();
        let (confirmed, delivered) = join(
            app.send(
                Method::POST,
                &format!("/orders/{id}/payment/confirm"),
                &ada,
                None,
            ),
            stripe.send(&event, Signing::Good),
        )
        .await;
        assert_eq!(
            (
                confirmed.status().as_u16(),
                delivered.unwrap().status().as_u16()
            ),
            (200, 200)
        );
        assert_eq!(status(&app, &ada, id).await, "paid");
        assert_eq!(
            emails_queued(&app, &format!("Payment received for order {id}")),
            1
        );
    }
}

#[tokio::test]
async fn an_admin_refunds_by_line_and_the_units_go_back_on_sale() {
    let (app, stripe) = App::paying(|_| {}).await;
    let ada = app.token("ada").await;
    let admin = app.token("admin").await;
    let id = order(&app, &ada, &[("TRAIL-42-BLUE", 2), ("TRAIL-42-RED", 1)]).await;
    let intent = start_payment(&app, &ada, id, "pay").await["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = stripe.pay_quietly(&intent).unwrap();
    assert_eq!(
        stripe.send(&event, Signing::Good).await.unwrap().status(),
        200
    );
    let fulfilled = app
        .send(Method::POST, &format!("/orders/{id}/fulfil"), &admin, None)
        .await;
    assert_eq!(fulfilled.status(), 200);
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-BLUE").await, 10);

    let refund = |body: Value, token: String| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                &format!("/orders/{id}/refund"),
                &token,
                Some(body),
            )
            .await
        }
    };
    let by_customer = refund(json!({}), ada.clone()).await;
    assert_eq!(by_customer.status(), 403);
    let one = refund(
        json!({"lines": [{"sku": "TRAIL-42-BLUE", "quantity": 1}]}),
        admin.clone(),
    )
    .await;
    assert_eq!(one.status(), 200);
    let order: Value = one.json().await.unwrap();
    assert_eq!(order["status"], "fulfilled");
    assert_eq!(order["refunded"]["amount_minor"], 8950);
    assert_eq!(order["lines"][0]["refunded"], 1);
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-BLUE").await, 11);
    assert_eq!(stripe.refunded(&intent), 8950);

    let too_many = refund(
        json!({"lines": [{"sku": "TRAIL-42-BLUE", "quantity": 2}]}),
        admin.clone(),
    )
    .await;
    assert_eq!(too_many.status(), 409);
    let rest = refund(json!({}), admin.clone()).await;
    assert_eq!(rest.status(), 200);
    let order: Value = rest.json().await.unwrap();
    assert_eq!(order["status"], "refunded");
    assert_eq!(order["refunded"], order["total"]);
    assert_eq!(stripe.refunded(&intent), 8950 * 2 + 9450);
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-BLUE").await, 12);
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-RED").await, 3);
    let nothing_left = refund(json!({}), admin).await;
    assert_eq!(nothing_left.status(), 409);
}

#[tokio::test]
async fn a_payment_after_the_reservation_ended_is_refunded_whole() {
    let (app, stripe) = App::paying(|config| config.reservation_seconds = 1).await;
    let ada = app.token("ada").await;
    let id = order(&app, &ada, &[("RAIN-M", 1)]).await;
    let intent = start_payment(&app, &ada, id, "pay").await["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    until(&app, &ada, id, "cancelled").await;
    let event = stripe.pay_quietly(&intent).unwrap();
    assert_eq!(
        stripe.send(&event, Signing::Good).await.unwrap().status(),
        200
    );
    assert_eq!(status(&app, &ada, id).await, "cancelled");
    assert_eq!(stripe.refunded(&intent), 12900);
    let order: Value = app
        .send(Method::GET, &format!("/orders/{id}"), &ada, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["refunded"]["amount_minor"], 12900);
}
