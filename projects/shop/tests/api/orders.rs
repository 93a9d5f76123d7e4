//! Carts made into orders: prices copied, the email queued with the order, retries safe, and the
//! states an order may move through.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{App, header};

#[tokio::test]
async fn a_cart_becomes_an_order_that_keeps_its_prices_and_queues_its_email() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let admin = app.token("admin").await;
    let cart = app
        .cart(&ada, &[("TRAIL-42-BLUE", 2), ("TRAIL-42-RED", 1)])
        .await;
    let shown: Value = app
        .send(Method::GET, &format!("/carts/{cart}"), &ada, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["total"],
        json!({"amount_minor": 27350, "currency": "EUR"})
    );

    let placed = app.checkout(&ada, cart).await;
    assert_eq!(placed.status(), 201);
    let order: Value = placed.json().await.unwrap();
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"]["amount_minor"], 27350);
    assert_eq!(order["lines"][0]["unit_price"]["amount_minor"], 8950);
    assert!(
        order["_links"]["cancel"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/cancel")
    );
    assert!(
        order["_links"].get("fulfil").is_none(),
        "only an admin fulfils"
    );
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-BLUE").await, 10);
    assert_eq!(app.stock("trail-shoe", "TRAIL-42-RED").await, 2);
    let gone = app
        .send(Method::GET, &format!("/carts/{cart}"), &ada, None)
        .await;
    assert_eq!(gone.status(), 404, "the cart became the order");

    // A later price change does not touch what was bought.
    let repriced = app
        .send(
            Method::PATCH,
            "/variants/TRAIL-42-BLUE",
            &admin,
            Some(json!({"price_minor": 9999})),
        )
        .await;
    assert_eq!(repriced.status(), 200);
    let order: Value = app
        .send(Method::GET, &format!("/orders/{id}"), &ada, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["lines"][0]["unit_price"]["amount_minor"], 8950);

    // The confirmation was queued with the order, and phase 5's worker sends it.
    let subject = format!("Your order {id}: 273.50 EUR");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent: Vec<String> = {
            use phase5_perf::schema::sent_emails;
            let mut conn = app.database.database.conn().unwrap();
            sent_emails::table
                .filter(sent_emails::recipient.eq("ada@example.com"))
                .select(sent_emails::subject)
                .load(&mut *conn)
                .unwrap()
        };
        if sent.contains(&subject) {
            break;
        }
        assert!(Instant::now() < deadline, "no email: {sent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An admin sees every order; another customer, none of ada's.
    let theirs = app
        .send(Method::GET, &format!("/orders/{id}"), &admin, None)
        .await;
    assert_eq!(theirs.status(), 200);
    let grace = app.register("grace").await;
    let hidden = app
        .send(Method::GET, &format!("/orders/{id}"), &grace, None)
        .await;
    assert_eq!(hidden.status(), 404);
    let listed: Value = app
        .send(Method::GET, "/orders", &grace, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn a_retried_checkout_with_its_key_makes_one_order() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let cart = app.cart(&ada, &[("RAIN-M", 1)]).await;
    let send = || {
        app.http
            .post(app.url(&format!("/carts/{cart}/checkout")))
            .bearer_auth(&ada)
            .header("Idempotency-Key", "checkout-7f3a")
            .json(&json!({"email": "ada@example.com"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(header(&again, "idempotent-replayed"), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.stock("rain-jacket", "RAIN-M").await, 4, "taken once");
}

#[tokio::test]
async fn checkout_refuses_an_empty_cart_and_more_than_is_left() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let empty = app.cart(&ada, &[]).await;
    assert_eq!(app.checkout(&ada, empty).await.status(), 409);
    let greedy = app
        .cart(&ada, &[("TRAIL-42-BLUE", 1), ("TRAIL-42-RED", 4)])
        .await;
    let refused = app.checkout(&ada, greedy).await;
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        (problem["sku"].as_str(), problem["available"].as_i64()),
        (Some("TRAIL-42-RED"), Some(3))
    );
    assert_eq!(
        app.stock("trail-shoe", "TRAIL-42-BLUE").await,
        12,
        "what the checkout took before it failed was put back"
    );
    let mixed = app.cart(&ada, &[("TENUGUI-WAVES", 1)]).await;
    let refused = app
        .send(
            Method::PUT,
            &format!("/carts/{mixed}/items/RAIN-M"),
            &ada,
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(refused.status(), 409, "a cart is in one currency");
}

#[tokio::test]
async fn an_order_moves_only_as_its_state_allows_and_a_cancel_returns_the_stock() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let admin = app.token("admin").await;
    let cart = app.cart(&ada, &[("TENUGUI-WAVES", 3)]).await;
    let order: Value = app.checkout(&ada, cart).await.json().await.unwrap();
    let id = order["id"].as_i64().unwrap();
    assert_eq!(app.stock("tenugui-towel", "TENUGUI-WAVES").await, 37);

    let early = app
        .send(Method::POST, &format!("/orders/{id}/fulfil"), &admin, None)
        .await;
    assert_eq!(early.status(), 409, "a pending order is not fulfilled");
    let by_customer = app
        .send(Method::POST, &format!("/orders/{id}/fulfil"), &ada, None)
        .await;
    assert_eq!(by_customer.status(), 403);

    let cancelled = app
        .send(Method::POST, &format!("/orders/{id}/cancel"), &ada, None)
        .await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["_links"].as_object().unwrap().len(),
        1,
        "{cancelled}"
    );
    assert_eq!(app.stock("tenugui-towel", "TENUGUI-WAVES").await, 40);
    let twice = app
        .send(Method::POST, &format!("/orders/{id}/cancel"), &ada, None)
        .await;
    assert_eq!(twice.status(), 409);
    assert_eq!(
        app.stock("tenugui-towel", "TENUGUI-WAVES").await,
        40,
        "returned once"
    );
}

#[tokio::test]
async fn a_reservation_that_ends_cancels_the_order_and_returns_the_stock() {
    let app = App::start_with(
        common::db::testing::TestDatabase::sqlite_with(&shop::SCHEMA),
        |config| config.reservation_seconds = 1,
    )
    .await;
    let ada = app.token("ada").await;
    let cart = app.cart(&ada, &[("RAIN-M", 5)]).await;
    let order: Value = app.checkout(&ada, cart).await.json().await.unwrap();
    let id = order["id"].as_i64().unwrap();
    assert_eq!(app.stock("rain-jacket", "RAIN-M").await, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let order: Value = app
            .send(Method::GET, &format!("/orders/{id}"), &ada, None)
            .await
            .json()
            .await
            .unwrap();
        if order["status"] == "cancelled" {
            break;
        }
        assert!(Instant::now() < deadline, "still {order}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.stock("rain-jacket", "RAIN-M").await, 5);
}
