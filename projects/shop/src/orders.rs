//! Orders: a cart made into an order in one transaction, and the states an order goes through.
//!
//! **Roadmap:** "ACID transactions". Taking the stock, writing the order and its lines, emptying
//! the cart and queueing the confirmation email happen together or not at all.
//!
//! **Python:** `with session.begin():`, a `SELECT ... FOR UPDATE` on each product row, then the
//! inserts; the email sent by Celery after the commit (and lost if the process dies in between),
//! or queued in the same transaction with an outbox table.
//!
//! **Rust:** [`checkout`] runs in `common::db::write_transaction` (`BEGIN IMMEDIATE` on SQLite,
//! so that two checkouts never interleave; a plain transaction on PostgreSQL). Each line takes its
//! units with one conditional `UPDATE variants SET stock = stock - n WHERE id = ? AND stock >= n`:
//! on PostgreSQL the row lock makes a second buyer wait for the first to commit and then see what
//! is left, and when nothing is, the update changes no row and the checkout answers 409 and rolls
//! back what it took. Lines are taken in variant order, so that two carts never wait on each
//! other's rows. The schema's `CHECK (stock >= 0)` is the last word. The order copies each line's
//! name and price: a price changed later does not change what was bought. The confirmation email
//! is a job on phase 5's queue, inserted by `enqueue_in` on the same connection: it exists if and
//! only if the order does.
//!
//! The order is a state machine ([`Status::after`]):
//!
//! | from | event | to |
//! |---|---|---|
//! | pending | paid (the customer's confirmation, or Stripe's webhook) | paid |
//! | pending | cancelled by its owner or an admin, or its reservation expired | cancelled, stock returned |
//! | paid | fulfilled by an admin | fulfilled |
//! | paid, fulfilled | refunded, line by line, until every unit is | refunded, stock returned |
//!
//! A move is one `UPDATE ... WHERE status IN (...)` in the transaction that does the rest: two
//! requests that race to move an order find one of them changed a row and the other none, so an
//! order is paid once, and cancelled once. Each order lists, in `_links`, the moves its caller may
//! make now (phase 4's HATEOAS).
//!
//! **Why:** overselling is the bug a shop cannot afford, and the one a test with one buyer never
//! finds; `tests/api/stock.rs` sends 200 buyers for 50 units at once, on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::{AnyConnection, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use common::money::Money;
use diesel::prelude::*;
use phase4_security::auth::Caller;
use phase4_security::hateoas::Link;
use phase4_security::rbac::Admin;
use phase4_security::users::Role;
use phase5_perf::jobs::queue::{NewJob, enqueue_in};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::Shop;
use crate::carts;
use crate::catalogue::currency_of;
use crate::schema::{carts as cart_rows, order_lines, shop_orders, variants};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
}

/// What happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Pay,
    Cancel,
    Fulfil,
    /// The last units refunded.
    RefundAll,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Paid,
        Status::Fulfilled,
        Status::Cancelled,
        Status::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paid => "paid",
            Status::Fulfilled => "fulfilled",
            Status::Cancelled => "cancelled",
            Status::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Where `event` takes an order in this status, if it may happen here at all.
    pub fn after(self, event: Event) -> Option<Status> {
        match (self, event) {
            (Status::Pending, Event::Pay) => Some(Status::Paid),
            (Status::Pending, Event::Cancel) => Some(Status::Cancelled),
            (Status::Paid, Event::Fulfil) => Some(Status::Fulfilled),
            (Status::Paid | Status::Fulfilled, Event::RefundAll) => Some(Status::Refunded),
            _ => None,
        }
    }

    /// Every status `event` may happen in.
    pub fn before(event: Event) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|status| status.after(event).is_some())
            .map(Status::as_str)
            .collect()
    }
}

/// An order, with the moves its caller may make now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: i32,
    pub status: Status,
    pub email: String,
    pub total: Money,
    /// What has been refunded so far.
    pub refunded: Money,
    /// Until when a pending order holds its stock; absent once it is not pending.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reserved_until: Option<DateTime<Utc>>,
    /// Stripe's PaymentIntent, once payment has begun.
    pub payment_intent: Option<String>,
    pub lines: Vec<OrderLine>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// `self`, and each move this caller may make now: `pay`, `confirm_payment`, `cancel`,
    /// `fulfil`, `refund`.
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

/// A line, as bought.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    /// The price when the order was made.
    pub unit_price: Money,
    pub quantity: i32,
    /// Units refunded (and returned to the stock).
    pub refunded: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shop_orders)]
pub struct OrderRow {
    pub id: i32,
    pub owner_id: i32,
    pub status: String,
    pub email: String,
    pub currency: String,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub reserved_until: i64,
    pub payment_intent: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_lines)]
pub struct LineRow {
    pub id: i32,
    pub variant_id: i32,
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: i32,
    pub refunded: i32,
}

impl OrderRow {
    pub fn status(&self) -> Result<Status, ApiError> {
        Status::parse(&self.status).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("unknown order status {}", self.status))
        })
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn no_order(id: i32) -> ApiError {
    ApiError::not_found(format!("you have no order {id}"))
}

/// Order `id`, if `caller` may see it (its owner, or an admin): 404 otherwise.
pub fn visible(conn: &mut AnyConnection, id: i32, caller: &Caller) -> Result<OrderRow, ApiError> {
    let row = shop_orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| no_order(id))?;
    if row.owner_id != caller.user_id && caller.role != Role::Admin {
        return Err(no_order(id));
    }
    Ok(row)
}

/// The lines of order `id`.
pub fn lines(conn: &mut AnyConnection, id: i32) -> QueryResult<Vec<LineRow>> {
    order_lines::table
        .filter(order_lines::order_id.eq(id))
        .order(order_lines::id)
        .select(LineRow::as_select())
        .load(conn)
}

/// The order as `caller` sees it.
pub fn view(conn: &mut AnyConnection, row: OrderRow, caller: &Caller) -> Result<Order, ApiError> {
    let currency = currency_of(&row.currency)?;
    let status = row.status()?;
    let id = row.id;
    let mut links = BTreeMap::from([("self".to_owned(), Link::get(format!("/orders/{id}")))]);
    let owner = row.owner_id == caller.user_id;
    let admin = caller.role == Role::Admin;
    let mut offer = |name: &str, path: &str| {
        links.insert(name.to_owned(), Link::post(format!("/orders/{id}{path}")));
    };
    if status == Status::Pending {
        if owner {
            offer("pay", "/payment");
            offer("confirm_payment", "/payment/confirm");
        }
        if owner || admin {
            offer("cancel", "/cancel");
        }
    }
    if admin && status.after(Event::Fulfil).is_some() {
        offer("fulfil", "/fulfil");
    }
    if admin && status.after(Event::RefundAll).is_some() {
        offer("refund", "/refund");
    }
    let lines = lines(conn, id)?
        .into_iter()
        .map(|line| OrderLine {
            sku: line.sku,
            name: line.name,
            unit_price: Money::new(line.unit_price_minor, currency),
            quantity: line.quantity,
            refunded: line.refunded,
        })
        .collect();
    Ok(Order {
        id,
        status,
        email: row.email,
        total: Money::new(row.total_minor, currency),
        refunded: Money::new(row.refunded_minor, currency),
        reserved_until: (status == Status::Pending).then(|| at(row.reserved_until)),
        payment_intent: row.payment_intent,
        lines,
        created_at: at(row.created_at),
        links,
    })
}

/// Moves order `id` by `event`, if it is in a status that allows it: whether it moved. One
/// conditional UPDATE: of two racing moves, one changes the row and the other finds it moved.
pub fn apply(conn: &mut AnyConnection, id: i32, event: Event) -> Result<bool, ApiError> {
    let from = Status::before(event);
    let Some(to) = from
        .first()
        .and_then(|status| Status::parse(status))
        .and_then(|status| status.after(event))
    else {
        return Ok(false);
    };
    let moved = diesel::update(
        shop_orders::table
            .find(id)
            .filter(shop_orders::status.eq_any(from)),
    )
    .set((
        shop_orders::status.eq(to.as_str()),
        shop_orders::updated_at.eq(Utc::now().timestamp()),
    ))
    .execute(conn)?;
    Ok(moved == 1)
}

/// Puts `units` of `variant` back in stock.
pub fn restock(conn: &mut AnyConnection, variant: i32, units: i32) -> QueryResult<()> {
    diesel::update(variants::table.find(variant))
        .set(variants::stock.eq(variants::stock + units))
        .execute(conn)
        .map(|_| ())
}

/// Cancels order `id` if it is pending, returning every unit to the stock: whether it did.
pub fn cancel(conn: &mut AnyConnection, id: i32) -> Result<bool, ApiError> {
    write_transaction(conn, |conn| {
        if !apply(conn, id, Event::Cancel)? {
            return Ok(false);
        }
        for line in lines(conn, id)? {
            restock(conn, line.variant_id, line.quantity - line.refunded)?;
        }
        Ok(true)
    })
}

/// Cancels the pending orders whose reservation ended before `now`: how many.
pub fn expire_due(conn: &mut AnyConnection, now: i64) -> Result<usize, ApiError> {
    let due: Vec<i32> = shop_orders::table
        .filter(shop_orders::status.eq(Status::Pending.as_str()))
        .filter(shop_orders::reserved_until.lt(now))
        .order(shop_orders::id)
        .limit(100)
        .select(shop_orders::id)
        .load(conn)?;
    let mut expired = 0;
    for id in due {
        if cancel(conn, id)? {
            tracing::info!(
                order = id,
                "reservation expired: order cancelled, stock returned"
            );
            expired += 1;
        }
    }
    Ok(expired)
}

/// The sweep that ends reservations: every `every`, until `stop` resolves.
pub async fn sweep(shop: web::Data<Shop>, every: Duration, stop: impl Future<Output = ()>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {}
        }
        let state = shop.clone();
        let swept =
            blocking(move || expire_due(&mut *state.database.conn()?, Utc::now().timestamp()))
                .await;
        if let Err(err) = swept {
            tracing::warn!(error = %err, "the reservation sweep failed; it runs again");
        }
    }
}

/// `POST /carts/{id}/checkout`'s body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    /// Where the confirmation goes.
    #[validate(email(message = "must be an email address, such as ada@example.com"))]
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
}

/// Makes cart `cart` into an order for `caller`, in one transaction (see the module).
pub fn checkout(
    conn: &mut AnyConnection,
    cart: i32,
    caller: &Caller,
    email: &str,
    reservation: Duration,
) -> Result<OrderRow, ApiError> {
    write_transaction(conn, |conn| {
        carts::owned(conn, cart, caller)?;
        let items = carts::items(conn, cart)?;
        let currency = carts::currency(&items)?.ok_or_else(|| {
            ApiError::conflict(format!("cart {cart} is empty: put an item in it first"))
        })?;
        let mut lines = Vec::with_capacity(items.len());
        for item in &items {
            let taken = diesel::update(
                variants::table
                    .find(item.variant_id)
                    .filter(variants::stock.ge(item.quantity)),
            )
            .set(variants::stock.eq(variants::stock - item.quantity))
            .execute(conn)?;
            if taken == 0 {
                let left: i32 = variants::table
                    .find(item.variant_id)
                    .select(variants::stock)
                    .first(conn)?;
                return Err(ApiError::conflict(format!(
                    "only {left} of `{}` left, and the cart asks for {}",
                    item.sku, item.quantity
                ))
                .with_member("sku", item.sku.clone())
                .with_member("available", left));
            }
            let unit = Money::new(item.price_minor, currency);
            lines.push(
                unit.times(u32::try_from(item.quantity).unwrap_or(0))
                    .ok_or_else(|| ApiError::conflict("the order is too large to add up"))?,
            );
        }
        let total = carts::total(lines)?.unwrap_or(Money::new(0, currency));
        let now = Utc::now().timestamp();
        let hold = i64::try_from(reservation.as_secs()).unwrap_or(i64::MAX);
        let order: OrderRow = common::with_backend!(&mut *conn, |c| {
            diesel::insert_into(shop_orders::table)
                .values((
                    shop_orders::owner_id.eq(caller.user_id),
                    shop_orders::status.eq(Status::Pending.as_str()),
                    shop_orders::email.eq(email),
                    shop_orders::currency.eq(currency.code()),
                    shop_orders::total_minor.eq(total.amount_minor),
                    shop_orders::reserved_until.eq(now.saturating_add(hold)),
                    shop_orders::created_at.eq(now),
                    shop_orders::updated_at.eq(now),
                ))
                .returning(OrderRow::as_returning())
                .get_result(c)
        })?;
        for item in &items {
            diesel::insert_into(order_lines::table)
                .values((
                    order_lines::order_id.eq(order.id),
                    order_lines::variant_id.eq(item.variant_id),
                    order_lines::sku.eq(&item.sku),
                    order_lines::name.eq(&item.name),
                    order_lines::unit_price_minor.eq(item.price_minor),
                    order_lines::quantity.eq(item.quantity),
                ))
                .execute(conn)?;
        }
        diesel::delete(cart_rows::table.find(cart)).execute(conn)?;
        enqueue_in(
            conn,
            &NewJob {
                kind: "email".to_owned(),
                payload: serde_json::json!({
                    "kind": "email",
                    "to": email,
                    "subject": format!("Your order {}: {}", order.id, total.display()),
                }),
                run_at: None,
                max_attempts: 5,
            },
        )?;
        Ok(order)
    })
}

#[utoipa::path(
    post,
    path = "/carts/{id}/checkout",
    tag = "orders",
    params(("id" = i32, Path, description = "The cart's id")),
    request_body = Checkout,
    responses(
        (status = 201, description = "The order, pending payment; its stock is held until `reserved_until`. The cart is gone.", body = Order,
            headers(("Location" = String, description = "`/orders/{id}`"))),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such cart", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The cart is empty, or a line asks for more than is left: `sku` and `available` say which", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn checkout_cart(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(cart): Path<i32>,
    ValidJson(body): ValidJson<Checkout>,
) -> Result<HttpResponse, ApiError> {
    let state = shop.clone();
    let order = blocking(move || {
        let mut conn = state.database.conn()?;
        let row = checkout(&mut conn, cart, &caller, &body.email, state.reservation)?;
        view(&mut conn, row, &caller)
    })
    .await?;
    shop.jobs.notify();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/orders/{}", order.id)))
        .json(order))
}

#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    responses(
        (status = 200, description = "Your 100 most recent orders (an admin's: everyone's), newest first", body = [Order]),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list_orders(
    caller: Caller,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    let orders = blocking(move || {
        let mut conn = shop.database.conn()?;
        let mut query = shop_orders::table
            .order(shop_orders::id.desc())
            .limit(100)
            .select(OrderRow::as_select())
            .into_boxed();
        if caller.role != Role::Admin {
            query = query.filter(shop_orders::owner_id.eq(caller.user_id));
        }
        let rows = query.load(&mut *conn)?;
        rows.into_iter()
            .map(|row| view(&mut conn, row, &caller))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(orders))
}

#[utoipa::path(
    tag = "orders",
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order, with the moves you may make now in `_links`", body = Order),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such order", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/orders/{id}")]
pub(crate) async fn get_order(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let order = blocking(move || {
        let mut conn = shop.database.conn()?;
        let row = visible(&mut conn, id, &caller)?;
        view(&mut conn, row, &caller)
    })
    .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// 409: the order is not in a status that allows the move.
pub fn wrong_status(row: &OrderRow, what: &str) -> ApiError {
    ApiError::conflict(format!(
        "order {} is {}: it cannot be {what} now",
        row.id, row.status
    ))
}

#[utoipa::path(
    tag = "orders",
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Cancelled; its stock is back on sale", body = Order),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such order", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The order is not pending", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/orders/{id}/cancel")]
pub(crate) async fn cancel_order(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let order = blocking(move || {
        let mut conn = shop.database.conn()?;
        let row = visible(&mut conn, id, &caller)?;
        if !cancel(&mut conn, id)? {
            return Err(wrong_status(&row, "cancelled"));
        }
        let row = visible(&mut conn, id, &caller)?;
        view(&mut conn, row, &caller)
    })
    .await?;
    Ok(HttpResponse::Ok().json(order))
}

#[utoipa::path(
    tag = "orders",
    params(("id" = i32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Fulfilled: shipped", body = Order),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such order", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The order is not paid", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/orders/{id}/fulfil")]
pub(crate) async fn fulfil_order(
    Admin(caller): Admin,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let order = blocking(move || {
        let mut conn = shop.database.conn()?;
        let row = visible(&mut conn, id, &caller)?;
        if !apply(&mut conn, id, Event::Fulfil)? {
            return Err(wrong_status(&row, "fulfilled"));
        }
        let row = visible(&mut conn, id, &caller)?;
        view(&mut conn, row, &caller)
    })
    .await?;
    Ok(HttpResponse::Ok().json(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_happens_only_where_the_table_says() {
        use Event::*;
        use Status::*;
        assert_eq!(Pending.after(Pay), Some(Paid));
        assert_eq!(Paid.after(Pay), None, "an order is paid once");
        assert_eq!(Pending.after(Cancel), Some(Cancelled));
        assert_eq!(
            Paid.after(Cancel),
            None,
            "a paid order is refunded, not cancelled"
        );
        assert_eq!(Pending.after(Fulfil), None);
        assert_eq!(Fulfilled.after(RefundAll), Some(Refunded));
        assert_eq!(Cancelled.after(RefundAll), None);
        assert_eq!(Status::before(RefundAll), ["paid", "fulfilled"]);
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
    }
}
