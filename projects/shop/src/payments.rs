//! Paying for an order, and refunding it: Stripe PaymentIntents, made and read through
//! [`crate::stripe`], and the one function that records a payment, whoever reports it.
//!
//! **Roadmap:** "Stripe integration".
//!
//! **Python:** `stripe.PaymentIntent.create(...)` in a view, `stripe.Refund.create(...)` in
//! another, and a status column updated from both the view and the webhook handler.
//!
//! **Rust:** `POST /orders/{id}/payment` makes the order's PaymentIntent, once: Stripe's
//! `Idempotency-Key` is `order-{id}`, so two calls that race make one intent, and the id is stored
//! with `UPDATE ... WHERE payment_intent IS NULL`. The browser pays with the `client_secret`
//! (Stripe.js; or, in test mode, `POST /v1/payment_intents/{id}/confirm` with
//! `payment_method=pm_card_visa`). Two messages then say it is paid, in either order, or both at
//! once: the customer's `POST /orders/{id}/payment/confirm`, which asks Stripe, and Stripe's
//! webhook ([`crate::webhooks`]). Both call [`record_payment`], which moves the order from
//! pending to paid with one conditional update and queues the receipt in the same transaction:
//! the order is paid once, and one receipt is sent. A payment that arrives after the reservation
//! ended (the order was cancelled and its stock sold again) is refunded at once, whole.
//!
//! `POST /orders/{id}/refund` (admins) refunds some units of some lines, or everything left:
//! Stripe first, with a key made of the order's state (`refund-{id}-{refunded so far}-{amount}`)
//! so that a retry after a lost answer refunds once, then the lines, the stock and the total in
//! one transaction; the order is `refunded` when every unit is.
//!
//! **Why:** money moves in the provider and is recorded here, and the two can be interrupted
//! between; each step is made repeatable, so that the cure for any failure is to try again.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use common::db::{AnyConnection, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use common::money::Money;
use common::{ApiError, FieldError};
use diesel::prelude::*;
use phase4_security::auth::Caller;
use phase4_security::rbac::Admin;
use phase5_perf::jobs::queue::{NewJob, enqueue_in};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::Shop;
use crate::catalogue::currency_of;
use crate::orders::{self, Event, OrderRow, Status, visible, wrong_status};
use crate::schema::{order_lines, shop_orders};
use crate::stripe::Stripe;

/// What the shop pays through.
#[derive(Debug, Clone)]
pub struct Payments {
    pub stripe: Stripe,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
}

/// What recording a payment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The order was pending, and is paid now.
    Paid,
    /// It was paid already (by the other message), or the payment is not this order's.
    Already,
    /// It was cancelled first: the payment must go back.
    TooLate,
}

/// Records that `intent` paid `amount` for order `order`, in the caller's transaction.
pub fn record_payment(
    conn: &mut AnyConnection,
    order: i32,
    intent: &str,
    amount: i64,
) -> Result<Recorded, ApiError> {
    let row: Option<OrderRow> = shop_orders::table
        .find(order)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Recorded::Already);
    };
    if row.payment_intent.as_deref() != Some(intent) || row.total_minor != amount {
        tracing::warn!(
            order,
            intent,
            amount,
            "a payment that does not match its order: ignored"
        );
        return Ok(Recorded::Already);
    }
    if orders::apply(conn, order, Event::Pay)? {
        let total = Money::new(row.total_minor, currency_of(&row.currency)?);
        enqueue_in(
            conn,
            &NewJob {
                kind: "email".to_owned(),
                payload: serde_json::json!({
                    "kind": "email",
                    "to": row.email,
                    "subject": format!("Payment received for order {order}: {}", total.display()),
                }),
                run_at: None,
                max_attempts: 5,
            },
        )?;
        tracing::info!(order, intent, "order paid");
        return Ok(Recorded::Paid);
    }
    Ok(match row.status()? {
        Status::Cancelled => Recorded::TooLate,
        _ => Recorded::Already,
    })
}

/// Gives back a payment that came after its order was cancelled, whole.
pub async fn refund_late_payment(
    shop: &Shop,
    order: i32,
    intent: &str,
    amount: i64,
) -> Result<(), ApiError> {
    shop.payments
        .stripe
        .refund(intent, amount, &format!("late-{order}"))
        .await?;
    let database = shop.database.clone();
    blocking(move || {
        diesel::update(shop_orders::table.find(order))
            .set(shop_orders::refunded_minor.eq(amount))
            .execute(&mut *database.conn()?)
            .map_err(ApiError::from)
    })
    .await?;
    tracing::warn!(order, intent, "paid after its reservation ended: refunded");
    Ok(())
}

/// A payment under way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub payment_intent: String,
    /// Stripe's status: `requires_payment_method`, `processing`, `succeeded`, ...
    pub status: String,
    /// For Stripe.js in the browser.
    pub client_secret: Option<String>,
    pub amount: Money,
}

fn pending(row: &OrderRow, what: &str) -> Result<(), ApiError> {
    match row.status()? {
        Status::Pending => Ok(()),
        _ => Err(wrong_status(row, what)),
    }
}

#[utoipa::path(
    post,
    path = "/orders/{id}/payment",
    tag = "payments",
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order's PaymentIntent: made now, or the one made before", body = Payment),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such order", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The order is not pending", content_type = "application/problem+json", body = common::Problem),
        (status = 502, description = "Stripe did not complete the request; it is safe to retry", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn start_payment(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let state = shop.clone();
    let row = blocking(move || visible(&mut *state.database.conn()?, id, &caller)).await?;
    pending(&row, "paid")?;
    let stripe = &shop.payments.stripe;
    let intent = match &row.payment_intent {
        Some(intent) => stripe.payment_intent(intent).await?,
        None => {
            let total = Money::new(row.total_minor, currency_of(&row.currency)?);
            let intent = stripe
                .create_payment_intent(total, id, &format!("order-{id}"))
                .await?;
            let state = shop.clone();
            let stored = intent.id.clone();
            blocking(move || {
                diesel::update(
                    shop_orders::table
                        .find(id)
                        .filter(shop_orders::payment_intent.is_null()),
                )
                .set(shop_orders::payment_intent.eq(stored))
                .execute(&mut *state.database.conn()?)
                .map_err(ApiError::from)
            })
            .await?;
            intent
        }
    };
    let currency = currency_of(&row.currency)?;
    Ok(HttpResponse::Ok().json(Payment {
        payment_intent: intent.id,
        status: intent.status,
        client_secret: intent.client_secret,
        amount: Money::new(intent.amount, currency),
    }))
}

#[utoipa::path(
    tag = "payments",
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Stripe says it is paid: the order, paid (once, whether or not the webhook came first)", body = orders::Order),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such order", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "No payment has begun, Stripe does not say it succeeded, or the reservation ended first (the payment is refunded)", content_type = "application/problem+json", body = common::Problem),
        (status = 502, description = "Stripe did not answer; it is safe to retry", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/orders/{id}/payment/confirm")]
pub(crate) async fn confirm_payment(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let state = shop.clone();
    let who = caller.clone();
    let row = blocking(move || visible(&mut *state.database.conn()?, id, &who)).await?;
    let intent = row
        .payment_intent
        .as_deref()
        .ok_or_else(|| ApiError::conflict(format!("no payment has begun for order {id}")))?;
    let intent = shop.payments.stripe.payment_intent(intent).await?;
    if intent.status != "succeeded" {
        return Err(ApiError::conflict(format!(
            "Stripe says the payment is `{}`, not `succeeded`",
            intent.status
        )));
    }
    let state = shop.clone();
    let (intent_id, amount) = (intent.id.clone(), intent.amount);
    let recorded = blocking(move || {
        let mut conn = state.database.conn()?;
        write_transaction(&mut conn, |conn| {
            record_payment(conn, id, &intent_id, amount)
        })
    })
    .await?;
    if recorded == Recorded::TooLate {
        refund_late_payment(&shop, id, &intent.id, intent.amount).await?;
        return Err(ApiError::conflict(
            "the order's reservation ended before the payment: it is cancelled, and the payment refunded",
        ));
    }
    shop.jobs.notify();
    let state = shop.clone();
    let order = blocking(move || {
        let mut conn = state.database.conn()?;
        let row = visible(&mut conn, id, &caller)?;
        orders::view(&mut conn, row, &caller)
    })
    .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// `POST /orders/{id}/refund`'s body: which units to refund; every unit left when `lines` is
/// absent.
#[derive(Debug, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[validate(length(min = 1, max = 50, message = "1 to 50 lines"))]
    #[validate(nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub lines: Option<Vec<RefundLine>>,
}

/// Units of one line to refund.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    pub sku: String,
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i32,
}

/// Units of one order line to refund, and the variant they go back to.
#[derive(Debug, Clone, Copy)]
struct Refunding {
    line: i32,
    variant: i32,
    units: i32,
}

/// What to refund, and its amount, from `request` and the order's lines.
fn plan(
    request: &RefundRequest,
    lines: &[orders::LineRow],
) -> Result<(Vec<Refunding>, i64), ApiError> {
    let mut wanted: BTreeMap<&str, i32> = BTreeMap::new();
    match &request.lines {
        None => {
            for line in lines {
                wanted.insert(&line.sku, line.quantity - line.refunded);
            }
        }
        Some(asked) => {
            for line in asked {
                *wanted.entry(&line.sku).or_default() += line.quantity;
            }
        }
    }
    let mut plan = Vec::new();
    let mut amount: i64 = 0;
    for (sku, units) in wanted {
        let line = lines.iter().find(|line| line.sku == sku).ok_or_else(|| {
            ApiError::unprocessable(vec![FieldError::new(
                "lines",
                "unknown",
                format!("the order has no line `{sku}`"),
            )])
        })?;
        if units > line.quantity - line.refunded {
            return Err(ApiError::conflict(format!(
                "line `{sku}` has {} units left to refund, not {units}",
                line.quantity - line.refunded
            )));
        }
        if units > 0 {
            plan.push(Refunding {
                line: line.id,
                variant: line.variant_id,
                units,
            });
            amount += line.unit_price_minor * i64::from(units);
        }
    }
    if plan.is_empty() {
        return Err(ApiError::conflict("nothing is left to refund"));
    }
    Ok((plan, amount))
}

#[utoipa::path(
    tag = "payments",
    params(("id" = i32, Path, description = "The order's id")),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded, and the units back in stock; `refunded` once every unit is", body = orders::Order),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such order", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The order is not paid or fulfilled, or a line has fewer units left to refund", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule, or names no line of the order: `errors` says which", content_type = "application/problem+json", body = common::Problem),
        (status = 502, description = "Stripe did not complete the refund; it is safe to retry", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/orders/{id}/refund")]
pub(crate) async fn refund_order(
    Admin(caller): Admin,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
    ValidJson(request): ValidJson<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let state = shop.clone();
    let who = caller.clone();
    let (row, lines) = blocking(move || {
        let mut conn = state.database.conn()?;
        let row = visible(&mut conn, id, &who)?;
        let lines = orders::lines(&mut conn, id)?;
        Ok::<_, ApiError>((row, lines))
    })
    .await?;
    if row.status()?.after(Event::RefundAll).is_none() {
        return Err(wrong_status(&row, "refunded"));
    }
    let (plan, amount) = plan(&request, &lines)?;
    let intent = row.payment_intent.as_deref().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("a paid order {id} without a payment"))
    })?;
    shop.payments
        .stripe
        .refund(
            intent,
            amount,
            &format!("refund-{id}-{}-{amount}", row.refunded_minor),
        )
        .await?;
    let state = shop.clone();
    let order = blocking(move || {
        let mut conn = state.database.conn()?;
        write_transaction(&mut conn, |conn| {
            for Refunding {
                line,
                variant,
                units,
            } in &plan
            {
                let taken = diesel::update(
                    order_lines::table
                        .find(line)
                        .filter((order_lines::refunded + units).le(order_lines::quantity)),
                )
                .set(order_lines::refunded.eq(order_lines::refunded + units))
                .execute(conn)?;
                if taken == 0 {
                    return Err(ApiError::conflict(
                        "another refund of these units came first",
                    ));
                }
                orders::restock(conn, *variant, *units)?;
            }
            diesel::update(shop_orders::table.find(id))
                .set((
                    shop_orders::refunded_minor.eq(shop_orders::refunded_minor + amount),
                    shop_orders::updated_at.eq(Utc::now().timestamp()),
                ))
                .execute(conn)?;
            let left: i64 = orders::lines(conn, id)?
                .iter()
                .map(|line| i64::from(line.quantity - line.refunded))
                .sum();
            if left == 0 {
                orders::apply(conn, id, Event::RefundAll)?;
            }
            let row = visible(conn, id, &caller)?;
            orders::view(conn, row, &caller)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(order))
}
