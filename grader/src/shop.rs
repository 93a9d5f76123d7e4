//! Checks for project 2, the shop (topic P2).
//!
//! The contract: phase 4's demo users log in with `POST /auth/token` (`ada`, a customer; `admin`,
//! who manages the catalogue). `GET /products` lists products with their `variants` (`sku`,
//! `price` as `{"amount_minor", "currency"}`, `stock`); `POST /products` (admin) adds one;
//! `POST /carts`, `PUT /carts/{id}/items/{sku}` `{"quantity"}` and `POST /carts/{id}/checkout`
//! `{"email"}` make an order; `POST /orders/{id}/payment` starts its Stripe payment,
//! `POST /orders/{id}/payment/confirm` records it, `POST /webhooks/stripe` takes Stripe's signed
//! events, `POST /orders/{id}/refund` (admin) refunds `{"lines": [{"sku", "quantity"}]}`. The
//! payment checks need the fake Stripe the grader starts with the shop
//! (`shop::fake_stripe`): against a shop given with `--base-url`, they are skipped. The checks
//! make their own products, with unique SKUs, and leave them and their orders behind: the API
//! deletes neither.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use shop::fake_stripe::{FakeStripe, Signing};

use crate::check::{
    Check, Skip, Target, expect_json, expect_problem, expect_status, header, login, unique,
};
use crate::{checks, conventions};

const ADA: (&str, &str) = ("ada", "correct-horse-ada");
const ADMIN: (&str, &str) = ("admin", "correct-horse-admin");

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "P2", "products list with their variants in integer money, filtered, ordered and paged" => browse,
        "P2", "a cart holds items at today's prices and refuses a second currency" => carts,
        "P2", "a checkout makes a pending order that copies the prices and takes the stock" => checkouts,
        "P2", "a retried checkout or payment with its Idempotency-Key makes one" => idempotent_retries,
        "P2", "60 buyers at once for 20 units buy exactly 20" => no_overselling,
        "P2", "an order is paid through Stripe once, by the webhook or the customer's confirmation" => pay,
        "P2", "a webhook with a bad or stale signature is refused; a good one is applied once" => webhook_signatures,
        "P2", "an admin refunds by line, through Stripe, and the units go back in stock" => refund,
    ];
    checks.extend(conventions::as_ada());
    checks
}

/// `method path` as the holder of `token`, with a JSON body when there is one.
async fn send(
    target: &Target,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<reqwest::Response> {
    let request = target.request(method, path)?.bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    Ok(request.send().await?)
}

/// A product of the check's own, priced `price_minor` euro cents with `stock` units: its SKU.
async fn product(
    target: &Target,
    admin: &str,
    price_minor: i64,
    stock: i32,
) -> anyhow::Result<String> {
    let n = unique();
    let sku = format!("GRADER-{n}");
    let body = json!({
        "slug": format!("grader-{n}"),
        "name": format!("Grader item {n}"),
        "currency": "EUR",
        "variants": [{"sku": sku, "attributes": {"run": n.to_string()}, "price_minor": price_minor, "stock": stock}],
    });
    let made = send(target, Method::POST, "/products", admin, Some(body)).await?;
    expect_status(&made, 201, "POST /products as admin")?;
    Ok(sku)
}

/// The variant `sku` of product `grader-{n}`, as the catalogue shows it.
async fn variant(target: &Target, sku: &str) -> anyhow::Result<Value> {
    let slug = sku.to_ascii_lowercase();
    let product = expect_json(
        target.get(&format!("/products/{slug}"))?.send().await?,
        200,
        "GET /products/{slug}",
    )
    .await?;
    product["variants"]
        .as_array()
        .and_then(|variants| variants.iter().find(|variant| variant["sku"] == sku))
        .cloned()
        .with_context(|| format!("GET /products/{slug} lists no variant {sku}: {product}"))
}

async fn stock(target: &Target, sku: &str) -> anyhow::Result<i64> {
    variant(target, sku).await?["stock"]
        .as_i64()
        .with_context(|| format!("{sku} has no stock"))
}

/// A new cart of `token`'s holder with `quantity` of `sku`: its id.
async fn new_cart(target: &Target, token: &str, sku: &str, quantity: i32) -> anyhow::Result<i64> {
    let made = expect_json(
        send(target, Method::POST, "/carts", token, None).await?,
        201,
        "POST /carts",
    )
    .await?;
    let id = made["id"]
        .as_i64()
        .with_context(|| format!("POST /carts: no id in {made}"))?;
    let put = send(
        target,
        Method::PUT,
        &format!("/carts/{id}/items/{sku}"),
        token,
        Some(json!({ "quantity": quantity })),
    )
    .await?;
    expect_status(&put, 200, "PUT /carts/{id}/items/{sku}")?;
    Ok(id)
}

async fn post_checkout(
    target: &Target,
    token: &str,
    cart: i64,
    key: Option<&str>,
) -> anyhow::Result<reqwest::Response> {
    let mut request = target
        .request(Method::POST, &format!("/carts/{cart}/checkout"))?
        .bearer_auth(token)
        .json(&json!({"email": "ada@example.com"}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    Ok(request.send().await?)
}

/// A pending order of `quantity` of `sku` for `token`'s holder: its id and total.
async fn order(
    target: &Target,
    token: &str,
    sku: &str,
    quantity: i32,
) -> anyhow::Result<(i64, Value)> {
    let cart = new_cart(target, token, sku, quantity).await?;
    let order = expect_json(
        post_checkout(target, token, cart, None).await?,
        201,
        "POST /carts/{id}/checkout",
    )
    .await?;
    let id = order["id"]
        .as_i64()
        .with_context(|| format!("the order has no id: {order}"))?;
    Ok((id, order["total"].clone()))
}

async fn order_status(target: &Target, token: &str, id: i64) -> anyhow::Result<String> {
    let order = expect_json(
        send(target, Method::GET, &format!("/orders/{id}"), token, None).await?,
        200,
        "GET /orders/{id}",
    )
    .await?;
    Ok(order["status"].as_str().unwrap_or_default().to_owned())
}

async fn browse(target: &Target) -> anyhow::Result<()> {
    let admin = login(target, ADMIN).await?;
    let cheap = product(target, &admin, 1_250, 3).await?;
    let dear = product(target, &admin, 99_000, 0).await?;
    let page = expect_json(
        target
            .get("/products?q=grader+item&ordering=-created_at&page_size=100")?
            .send()
            .await?,
        200,
        "GET /products?q=...",
    )
    .await?;
    let results = page["results"]
        .as_array()
        .context("GET /products: no `results` list")?;
    let skus: Vec<&str> = results
        .iter()
        .flat_map(|product| product["variants"].as_array().into_iter().flatten())
        .filter_map(|variant| variant["sku"].as_str())
        .collect();
    ensure!(
        skus.contains(&cheap.as_str()) && skus.contains(&dear.as_str()),
        "GET /products?q=grader item lists neither or one of {cheap} and {dear}: {skus:?}"
    );
    let price = &variant(target, &cheap).await?["price"];
    ensure!(
        *price == json!({"amount_minor": 1250, "currency": "EUR"}),
        "a price of 12.50 EUR should read {{\"amount_minor\": 1250, \"currency\": \"EUR\"}}, not {price}"
    );
    let stocked = expect_json(
        target
            .get("/products?q=grader+item&in_stock=true&page_size=100")?
            .send()
            .await?,
        200,
        "GET /products?in_stock=true",
    )
    .await?;
    ensure!(
        !stocked.to_string().contains(&dear),
        "in_stock=true lists {dear}, which has no stock"
    );
    let paged = expect_json(
        target.get("/products?page_size=1&page=1")?.send().await?,
        200,
        "GET /products?page_size=1",
    )
    .await?;
    ensure!(
        paged["results"].as_array().map(Vec::len) == Some(1),
        "page_size=1 gives one product, not {}",
        paged["results"]
    );
    let refused = target.get("/products?page_size=0")?.send().await?;
    expect_problem(refused, 422, "GET /products?page_size=0").await?;
    Ok(())
}

async fn carts(target: &Target) -> anyhow::Result<()> {
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 700, 10).await?;
    let id = new_cart(target, &ada, &sku, 3).await?;
    let shown = expect_json(
        send(target, Method::GET, &format!("/carts/{id}"), &ada, None).await?,
        200,
        "GET /carts/{id}",
    )
    .await?;
    ensure!(
        shown["total"] == json!({"amount_minor": 2100, "currency": "EUR"}),
        "3 × 7.00 EUR should total 2100 minor units: {shown}"
    );
    let yen = expect_json(
        target.get("/products?page_size=100")?.send().await?,
        200,
        "GET /products",
    )
    .await?;
    let other = yen["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|product| product["variants"].as_array().into_iter().flatten())
        .find(|variant| variant["price"]["currency"] != "EUR")
        .and_then(|variant| variant["sku"].as_str().map(str::to_owned));
    if let Some(other) = other {
        let mixed = send(
            target,
            Method::PUT,
            &format!("/carts/{id}/items/{other}"),
            &ada,
            Some(json!({"quantity": 1})),
        )
        .await?;
        expect_problem(
            mixed,
            409,
            "a variant in another currency put in a euro cart",
        )
        .await?;
    }
    let stranger = register(target).await?;
    let hidden = send(
        target,
        Method::GET,
        &format!("/carts/{id}"),
        &stranger,
        None,
    )
    .await?;
    expect_problem(hidden, 404, "another customer's cart").await?;
    Ok(())
}

/// A customer of the check's own: their token.
async fn register(target: &Target) -> anyhow::Result<String> {
    let name = format!("grader{}", unique());
    let password = "a-long-grader-password";
    let made = target
        .request(Method::POST, "/auth/register")?
        .json(&json!({"username": name, "password": password}))
        .send()
        .await?;
    expect_status(&made, 201, "POST /auth/register")?;
    login(target, (&name, password)).await
}

async fn checkouts(target: &Target) -> anyhow::Result<()> {
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 1_999, 5).await?;
    let (id, total) = order(target, &ada, &sku, 2).await?;
    ensure!(
        total == json!({"amount_minor": 3998, "currency": "EUR"}),
        "2 × 19.99 EUR should be 3998: {total}"
    );
    ensure!(
        stock(target, &sku).await? == 3,
        "the order should take 2 of the 5 units"
    );
    ensure!(
        order_status(target, &ada, id).await? == "pending",
        "a new order should be pending"
    );
    let repriced = send(
        target,
        Method::PATCH,
        &format!("/variants/{sku}"),
        &admin,
        Some(json!({"price_minor": 2999})),
    )
    .await?;
    expect_status(&repriced, 200, "PATCH /variants/{sku}")?;
    let placed = expect_json(
        send(target, Method::GET, &format!("/orders/{id}"), &ada, None).await?,
        200,
        "GET /orders/{id}",
    )
    .await?;
    ensure!(
        placed["lines"][0]["unit_price"]["amount_minor"] == 1999,
        "the order should keep the price it was made at: {placed}"
    );
    let greedy = new_cart(target, &ada, &sku, 4).await?;
    let refused = post_checkout(target, &ada, greedy, None).await?;
    expect_problem(refused, 409, "a checkout of 4 when 3 are left").await?;
    ensure!(
        stock(target, &sku).await? == 3,
        "a refused checkout takes nothing"
    );
    Ok(())
}

async fn idempotent_retries(target: &Target) -> anyhow::Result<()> {
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 500, 5).await?;
    let cart = new_cart(target, &ada, &sku, 1).await?;
    let key = format!("grader-{}", unique());
    let first = expect_json(
        post_checkout(target, &ada, cart, Some(&key)).await?,
        201,
        "a checkout with an Idempotency-Key",
    )
    .await?;
    let again = post_checkout(target, &ada, cart, Some(&key)).await?;
    let replayed = header(&again, "idempotent-replayed", "the same checkout again")
        .ok()
        .map(str::to_owned);
    let again = expect_json(again, 201, "the same checkout again, with its key").await?;
    ensure!(
        first["id"] == again["id"],
        "the retry made a second order: {} and {}",
        first["id"],
        again["id"]
    );
    ensure!(
        replayed.as_deref() == Some("true"),
        "the retry should say Idempotent-Replayed: true"
    );
    ensure!(
        stock(target, &sku).await? == 4,
        "the retried checkout took the stock twice"
    );
    let id = first["id"].as_i64().context("the order has no id")?;
    let mut intents = Vec::new();
    for key in [format!("pay-{}", unique()), format!("pay-{}", unique())] {
        let started = target
            .request(Method::POST, &format!("/orders/{id}/payment"))?
            .bearer_auth(&ada)
            .header("Idempotency-Key", key)
            .send()
            .await?;
        let payment = expect_json(started, 200, "POST /orders/{id}/payment").await?;
        intents.push(payment["payment_intent"].clone());
    }
    ensure!(
        intents[0] == intents[1] && intents[0].is_string(),
        "two payment starts for one order made two intents: {intents:?}"
    );
    Ok(())
}

async fn no_overselling(target: &Target) -> anyhow::Result<()> {
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 100, 20).await?;
    let mut carts = Vec::new();
    for _ in 0..60 {
        carts.push(new_cart(target, &ada, &sku, 1).await?);
    }
    let answers = join_all(
        carts
            .iter()
            .map(|cart| post_checkout(target, &ada, *cart, None)),
    )
    .await;
    let mut sold = 0;
    for answer in answers {
        match answer?.status().as_u16() {
            201 => sold += 1,
            409 => {}
            other => bail!("a checkout answered {other}: every one should be 201 or 409"),
        }
    }
    ensure!(sold == 20, "60 checkouts for 20 units sold {sold}");
    let left = stock(target, &sku).await?;
    ensure!(left == 0, "after selling out, {left} units are listed");
    Ok(())
}

fn stripe(target: &Target) -> anyhow::Result<&FakeStripe> {
    target.stripe.as_deref().ok_or_else(|| {
        Skip(
            "needs the fake Stripe the grader starts with the shop: grade it in process".to_owned(),
        )
        .into()
    })
}

/// A paid-for intent's id for a new order of `sku`, and the order's id: the card is charged
/// quietly; the event that says so is for the check to send.
async fn charged(
    target: &Target,
    ada: &str,
    sku: &str,
    quantity: i32,
) -> anyhow::Result<(i64, String, Value)> {
    let stripe = stripe(target)?;
    let (id, _) = order(target, ada, sku, quantity).await?;
    let payment = expect_json(
        send(
            target,
            Method::POST,
            &format!("/orders/{id}/payment"),
            ada,
            None,
        )
        .await?,
        200,
        "POST /orders/{id}/payment",
    )
    .await?;
    let intent = payment["payment_intent"]
        .as_str()
        .context("no payment_intent")?
        .to_owned();
    let event = stripe
        .pay_quietly(&intent)
        .with_context(|| format!("Stripe has no intent {intent}"))?;
    Ok((id, intent, event))
}

async fn pay(target: &Target) -> anyhow::Result<()> {
    let stripe = stripe(target)?;
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 4_200, 5).await?;
    let (id, intent, event) = charged(target, &ada, &sku, 1).await?;
    let before = order_status(target, &ada, id).await?;
    ensure!(
        before == "pending",
        "an order whose webhook has not come is pending, not {before}"
    );
    let confirmed = send(
        target,
        Method::POST,
        &format!("/orders/{id}/payment/confirm"),
        &ada,
        None,
    )
    .await?;
    expect_status(
        &confirmed,
        200,
        "POST /orders/{id}/payment/confirm after paying",
    )?;
    ensure!(
        order_status(target, &ada, id).await? == "paid",
        "confirmed, the order should be paid"
    );
    let delivered = stripe.send(&event, Signing::Good).await?;
    expect_status(&delivered, 200, "the webhook after the confirmation")?;
    ensure!(
        order_status(target, &ada, id).await? == "paid",
        "the webhook after the confirmation should change nothing"
    );
    let again = send(
        target,
        Method::POST,
        &format!("/orders/{id}/payment"),
        &ada,
        None,
    )
    .await?;
    expect_problem(again, 409, "starting a payment for a paid order").await?;
    ensure!(
        stripe.refunded(&intent) == 0,
        "a payment in time should not be refunded"
    );
    Ok(())
}

async fn webhook_signatures(target: &Target) -> anyhow::Result<()> {
    let stripe = stripe(target)?;
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 1_000, 5).await?;
    let (id, _, event) = charged(target, &ada, &sku, 1).await?;
    for (signing, what) in [
        (Signing::Forged, "signed with another secret"),
        (Signing::Stale, "signed ten minutes ago"),
    ] {
        let refused = stripe.send(&event, signing).await?;
        expect_status(&refused, 400, &format!("a webhook {what}"))?;
        ensure!(
            order_status(target, &ada, id).await? == "pending",
            "a webhook {what} changed the order"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for round in 0..2 {
        let delivered = stripe.send(&event, Signing::Good).await?;
        expect_status(
            &delivered,
            200,
            if round == 0 {
                "a good webhook"
            } else {
                "the same webhook again"
            },
        )?;
    }
    while order_status(target, &ada, id).await? != "paid" {
        ensure!(
            Instant::now() < deadline,
            "a good webhook did not pay the order"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn refund(target: &Target) -> anyhow::Result<()> {
    let stripe = stripe(target)?;
    let admin = login(target, ADMIN).await?;
    let ada = login(target, ADA).await?;
    let sku = product(target, &admin, 2_500, 5).await?;
    let (id, intent, event) = charged(target, &ada, &sku, 3).await?;
    expect_status(
        &stripe.send(&event, Signing::Good).await?,
        200,
        "the payment's webhook",
    )?;
    ensure!(stock(target, &sku).await? == 2, "3 of 5 units sold");
    let by_customer = send(
        target,
        Method::POST,
        &format!("/orders/{id}/refund"),
        &ada,
        Some(json!({})),
    )
    .await?;
    expect_problem(by_customer, 403, "a refund asked by the customer").await?;
    let one = send(
        target,
        Method::POST,
        &format!("/orders/{id}/refund"),
        &admin,
        Some(json!({"lines": [{"sku": sku, "quantity": 1}]})),
    )
    .await?;
    let order = expect_json(one, 200, "a refund of one unit").await?;
    ensure!(
        order["refunded"]["amount_minor"] == 2500,
        "one unit of 25.00 EUR refunded should read 2500: {order}"
    );
    ensure!(
        stripe.refunded(&intent) == 2500,
        "Stripe refunded {} instead of 2500",
        stripe.refunded(&intent)
    );
    ensure!(
        stock(target, &sku).await? == 3,
        "the refunded unit should be back in stock"
    );
    let rest = send(
        target,
        Method::POST,
        &format!("/orders/{id}/refund"),
        &admin,
        Some(json!({})),
    )
    .await?;
    let order = expect_json(rest, 200, "a refund of the rest").await?;
    ensure!(
        order["status"] == "refunded",
        "every unit refunded, the order should be refunded: {order}"
    );
    ensure!(
        stripe.refunded(&intent) == 7500,
        "Stripe refunded {} of 7500",
        stripe.refunded(&intent)
    );
    let more = send(
        target,
        Method::POST,
        &format!("/orders/{id}/refund"),
        &admin,
        Some(json!({})),
    )
    .await?;
    expect_problem(more, 409, "a refund of a refunded order").await?;
    Ok(())
}
