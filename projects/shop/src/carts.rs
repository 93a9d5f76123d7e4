//! Carts: what a customer means to buy, kept on the server until it becomes an order.
//!
//! **Roadmap:** the "Items" between a customer and the products.
//!
//! **Python:** a `Cart` model with `CartItem` rows, or a cart in the session; the total summed in
//! a property with `Decimal`.
//!
//! **Rust:** a cart belongs to the user whose token made it; its items are `(cart, variant,
//! quantity)` rows, and putting an item sets its quantity (`PUT /carts/{id}/items/{sku}` is
//! idempotent: twice is the same cart). A cart holds no stock: the stock is taken when it becomes
//! an order ([`crate::orders::checkout`]), so that abandoned carts hide nothing from other
//! shoppers. Prices shown are today's; the order copies them. A cart is in one currency: a
//! product in another is refused (409), since no total could be stated.
//!
//! **Why:** the server keeps the cart so that a phone and a laptop see the same one, and the
//! checkout reads what the server knows, never a price the client sends.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, put, web};
use chrono::Utc;
use common::ApiError;
use common::db::{AnyConnection, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use common::money::{Currency, Money};
use diesel::prelude::*;
use phase4_security::auth::Caller;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::Shop;
use crate::catalogue::currency_of;
use crate::schema::{cart_items, carts, products, variants};

/// The most units of one variant a cart may hold.
pub const MAX_QUANTITY: i32 = 100;
/// The most lines a cart may hold.
pub const MAX_LINES: i64 = 50;

/// A cart, with today's prices.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub id: i32,
    pub items: Vec<CartItem>,
    /// The sum of the lines; absent while the cart is empty.
    pub total: Option<Money>,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, String>,
}

/// A line of a cart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CartItem {
    pub sku: String,
    /// The product's name.
    pub name: String,
    pub quantity: i32,
    pub unit_price: Money,
    pub line_total: Money,
}

/// One item of a cart as the database has it, with what the order will copy.
#[derive(Debug, Clone, Queryable)]
pub struct ItemRow {
    pub variant_id: i32,
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub price_minor: i64,
    pub quantity: i32,
}

/// The items of cart `id`, by variant (the order in which checkout takes their stock).
pub fn items(conn: &mut AnyConnection, id: i32) -> QueryResult<Vec<ItemRow>> {
    cart_items::table
        .inner_join(variants::table.inner_join(products::table))
        .filter(cart_items::cart_id.eq(id))
        .order(cart_items::variant_id)
        .select((
            variants::id,
            variants::sku,
            products::name,
            products::currency,
            variants::price_minor,
            cart_items::quantity,
        ))
        .load(conn)
}

fn no_cart(id: i32) -> ApiError {
    ApiError::not_found(format!("you have no cart {id}"))
}

/// Cart `id`, if `caller` made it: 404 otherwise (a cart's id says nothing to anyone else).
pub fn owned(conn: &mut AnyConnection, id: i32, caller: &Caller) -> Result<(), ApiError> {
    let owner: Option<i32> = carts::table
        .find(id)
        .select(carts::owner_id)
        .first(conn)
        .optional()?;
    match owner {
        Some(owner) if owner == caller.user_id => Ok(()),
        _ => Err(no_cart(id)),
    }
}

/// The sum of `lines`, in their one currency.
pub fn total(lines: impl IntoIterator<Item = Money>) -> Result<Option<Money>, ApiError> {
    let mut sum: Option<Money> = None;
    for line in lines {
        sum = Some(match sum {
            None => line,
            Some(sum) => sum
                .checked_add(line)
                .ok_or_else(|| ApiError::conflict("the lines do not add up in one currency"))?,
        });
    }
    Ok(sum)
}

fn view(conn: &mut AnyConnection, id: i32) -> Result<Cart, ApiError> {
    let mut lines = Vec::new();
    for row in items(conn, id)? {
        let unit_price = Money::new(row.price_minor, currency_of(&row.currency)?);
        let quantity = u32::try_from(row.quantity).unwrap_or(0);
        lines.push(CartItem {
            line_total: unit_price
                .times(quantity)
                .ok_or_else(|| ApiError::conflict("the line is too large to add up"))?,
            sku: row.sku,
            name: row.name,
            quantity: row.quantity,
            unit_price,
        });
    }
    Ok(Cart {
        id,
        total: total(lines.iter().map(|line| line.line_total))?,
        items: lines,
        links: BTreeMap::from([
            ("self".to_owned(), format!("/carts/{id}")),
            ("checkout".to_owned(), format!("/carts/{id}/checkout")),
        ]),
    })
}

#[utoipa::path(
    post,
    path = "/carts",
    tag = "carts",
    responses(
        (status = 201, description = "An empty cart", body = Cart,
            headers(("Location" = String, description = "`/carts/{id}`"))),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_cart(
    caller: Caller,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    let cart = blocking(move || {
        let mut conn = shop.database.conn()?;
        let id: i32 = common::with_backend!(&mut *conn, |c| {
            diesel::insert_into(carts::table)
                .values((
                    carts::owner_id.eq(caller.user_id),
                    carts::created_at.eq(Utc::now().timestamp()),
                ))
                .returning(carts::id)
                .get_result(c)
        })?;
        view(&mut conn, id)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/carts/{}", cart.id)))
        .json(cart))
}

#[utoipa::path(
    tag = "carts",
    params(("id" = i32, Path, description = "The cart's id")),
    responses(
        (status = 200, description = "The cart, with today's prices", body = Cart),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such cart", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/carts/{id}")]
pub(crate) async fn get_cart(
    caller: Caller,
    shop: web::Data<Shop>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let cart = blocking(move || {
        let mut conn = shop.database.conn()?;
        owned(&mut conn, id, &caller)?;
        view(&mut conn, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// `PUT /carts/{id}/items/{sku}`'s body.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemQuantity {
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100, example = 2)]
    pub quantity: i32,
}

#[utoipa::path(
    tag = "carts",
    params(
        ("id" = i32, Path, description = "The cart's id"),
        ("sku" = String, Path, description = "The variant's SKU"),
    ),
    request_body = ItemQuantity,
    responses(
        (status = 200, description = "The cart, with the item at that quantity", body = Cart),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such cart, or no variant has the SKU", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The variant is priced in another currency than the cart, or the cart is full", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/carts/{id}/items/{sku}")]
pub(crate) async fn put_item(
    caller: Caller,
    shop: web::Data<Shop>,
    Path((id, sku)): Path<(i32, String)>,
    ValidJson(item): ValidJson<ItemQuantity>,
) -> Result<HttpResponse, ApiError> {
    let cart = blocking(move || {
        let mut conn = shop.database.conn()?;
        write_transaction(&mut conn, |conn| {
            owned(conn, id, &caller)?;
            let variant: Option<(i32, String)> = variants::table
                .inner_join(products::table)
                .filter(variants::sku.eq(&sku))
                .select((variants::id, products::currency))
                .first(conn)
                .optional()?;
            let (variant, currency) = variant
                .ok_or_else(|| ApiError::not_found(format!("no variant has the SKU `{sku}`")))?;
            let present = items(conn, id)?;
            if let Some(other) = present.iter().find(|row| row.currency != currency) {
                return Err(ApiError::conflict(format!(
                    "the cart is in {}, and `{sku}` is priced in {currency}",
                    other.currency
                )));
            }
            let held = present.iter().any(|row| row.variant_id == variant);
            if held {
                diesel::update(cart_items::table.find((id, variant)))
                    .set(cart_items::quantity.eq(item.quantity))
                    .execute(conn)?;
            } else {
                if i64::try_from(present.len()).unwrap_or(i64::MAX) >= MAX_LINES {
                    return Err(ApiError::conflict(format!(
                        "a cart holds at most {MAX_LINES} lines"
                    )));
                }
                diesel::insert_into(cart_items::table)
                    .values((
                        cart_items::cart_id.eq(id),
                        cart_items::variant_id.eq(variant),
                        cart_items::quantity.eq(item.quantity),
                    ))
                    .execute(conn)?;
            }
            view(conn, id)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(cart))
}

#[utoipa::path(
    tag = "carts",
    params(
        ("id" = i32, Path, description = "The cart's id"),
        ("sku" = String, Path, description = "The variant's SKU"),
    ),
    responses(
        (status = 200, description = "The cart, without the item (whether or not it held it)", body = Cart),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "You have no such cart", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[delete("/carts/{id}/items/{sku}")]
pub(crate) async fn remove_item(
    caller: Caller,
    shop: web::Data<Shop>,
    Path((id, sku)): Path<(i32, String)>,
) -> Result<HttpResponse, ApiError> {
    let cart = blocking(move || {
        let mut conn = shop.database.conn()?;
        owned(&mut conn, id, &caller)?;
        let variant = variants::table
            .filter(variants::sku.eq(&sku))
            .select(variants::id);
        diesel::delete(
            cart_items::table
                .filter(cart_items::cart_id.eq(id))
                .filter(cart_items::variant_id.eq_any(variant)),
        )
        .execute(&mut *conn)?;
        view(&mut conn, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// The currency of a cart's items, read strictly.
pub fn currency(rows: &[ItemRow]) -> Result<Option<Currency>, ApiError> {
    rows.first()
        .map(|row| currency_of(&row.currency))
        .transpose()
}
