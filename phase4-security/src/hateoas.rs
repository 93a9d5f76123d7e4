//! 4.7 HATEOAS: an order's links say what can be done with it now, by this caller.
//!
//! **Roadmap:** "HATEOAS: Hypermedia as the Engine of Application State."
//!
//! **Python:** hand-written `_links` in a Pydantic model or a DRF serializer
//! (`SerializerMethodField`), or HAL libraries such as `halogen`.
//!
//! **Rust:** an order moves `placed → paid → shipped`, or to `cancelled` from `placed` or `paid`.
//! [`Action::next`] is that state machine, and [`Action::permitted`] says who may take each step:
//! the owner pays, an admin ships, either cancels. The `_links` of an order (HAL style:
//! `{"pay": {"href": "/orders/1/pay", "method": "POST"}}`) are exactly the actions that
//! both allow, and `POST /orders/{id}/{action}` enforces the same two functions, so a link is
//! never shown for a step that would be refused, nor hidden for one that would be taken: a shipped
//! order has no `cancel` link, and a user never sees `ship`.
//!
//! Routes: `POST /orders` (`orders:write`), `GET /orders`, `GET /orders/{id}` (`orders:read`; your
//! own orders, or every order for an admin), and `POST /orders/{id}/pay|ship|cancel`
//! (`orders:write`). The app wraps `POST /orders` in 4.8's idempotency keys; this module knows
//! nothing of them.
//!
//! **Why:** a client that follows links instead of re-implementing the server's rules cannot get
//! them wrong, and keeps working when they change.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use common::ApiError;
use common::db::schema::books;
use common::db::{AnyConnection, Database, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::{Caller, Scope};
use crate::oauth::now;
use crate::schema::orders;
use crate::users::Role;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Placed,
    Paid,
    Shipped,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Placed => "placed",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Status::Placed,
            Status::Paid,
            Status::Shipped,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// The steps, as the path of `POST /orders/{id}/{action}` names them (for the document: an unknown
/// one is a 404, as a path that names nothing is).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a document, never built
pub(crate) enum ActionName {
    Pay,
    Ship,
    Cancel,
}

/// A step an order can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pay,
    Ship,
    Cancel,
}

impl Action {
    const ALL: [Action; 3] = [Action::Pay, Action::Ship, Action::Cancel];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pay => "pay",
            Action::Ship => "ship",
            Action::Cancel => "cancel",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }

    /// The state machine: where this action takes an order in `from`, if it applies there.
    pub fn next(self, from: Status) -> Option<Status> {
        match (self, from) {
            (Action::Pay, Status::Placed) => Some(Status::Paid),
            (Action::Ship, Status::Paid) => Some(Status::Shipped),
            (Action::Cancel, Status::Placed | Status::Paid) => Some(Status::Cancelled),
            _ => None,
        }
    }

    /// Who may take it: the owner pays, an admin ships, either cancels.
    pub fn permitted(self, caller: &Caller, owner_id: i32) -> bool {
        let owner = caller.user_id == owner_id;
        let admin = caller.role == Role::Admin;
        match self {
            Action::Pay => owner,
            Action::Ship => admin,
            Action::Cancel => owner || admin,
        }
    }
}

/// An order row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: i32,
    pub user_id: i32,
    pub book_id: i32,
    pub quantity: i32,
    pub status: String,
    pub created_at: i64,
}

impl OrderRow {
    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Cancelled)
    }
}

/// A link: where, and with which method when it is not GET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl Link {
    /// A link to read: `{"href": ...}`.
    pub fn get(href: String) -> Self {
        Self { href, method: None }
    }

    /// An action: `{"href": ..., "method": "POST"}`.
    pub fn post(href: String) -> Self {
        Self {
            href,
            method: Some("POST".to_owned()),
        }
    }
}

/// An order as the API shows it, with the links this caller may follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: i32,
    pub user_id: i32,
    pub book_id: i32,
    pub quantity: i32,
    pub status: Status,
    pub created_at: i64,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

impl Order {
    /// `row` as `caller` sees it: `self`, `book`, and each action both the state machine and the
    /// caller's role allow.
    pub fn view(row: &OrderRow, caller: &Caller) -> Self {
        let status = row.status();
        let own = format!("/orders/{}", row.id);
        let mut links = BTreeMap::from([
            ("self".to_owned(), Link::get(own.clone())),
            (
                "book".to_owned(),
                Link::get(format!("/v2/books/{}", row.book_id)),
            ),
        ]);
        for action in Action::ALL {
            if action.next(status).is_some() && action.permitted(caller, row.user_id) {
                links.insert(
                    action.as_str().to_owned(),
                    Link::post(format!("{own}/{}", action.as_str())),
                );
            }
        }
        Self {
            id: row.id,
            user_id: row.user_id,
            book_id: row.book_id,
            quantity: row.quantity,
            status,
            created_at: row.created_at,
            links,
        }
    }
}

/// `GET /orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub count: usize,
    pub items: Vec<Order>,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

/// `POST /orders`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// A book of the catalogue: 404 if there is none with this id.
    pub book_id: i32,
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i32,
}

/// The order `id` if `caller` may see it (its owner, or an admin); `None` otherwise, so that other
/// users' orders look like missing ones.
fn visible(conn: &mut AnyConnection, id: i32, caller: &Caller) -> QueryResult<Option<OrderRow>> {
    let row = orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.filter(|row| row.user_id == caller.user_id || caller.role == Role::Admin))
}

fn no_such_order() -> ApiError {
    ApiError::not_found("no order of yours has this id")
}

/// `POST /orders`: places an order.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    security(("oauth2" = ["orders:write"]), ("bearer" = [])),
    request_body = NewOrder,
    responses(
        (status = 201, description = "The order, with the links this caller may follow", body = Order,
            headers(("Location" = String, description = "`/orders/{id}`"))),
        (status = 403, description = "The token lacks `orders:write`"),
        (status = 404, description = "No book has this `book_id`"),
        (status = 422, description = "The quantity breaks its rule"),
    )
)]
pub(crate) async fn create(
    caller: Caller,
    database: web::Data<Database>,
    ValidJson(order): ValidJson<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::OrdersWrite)?;
    let user_id = caller.user_id;
    let row = blocking(move || -> Result<Option<OrderRow>, ApiError> {
        let mut conn = database.conn()?;
        write_transaction(&mut conn, |conn| {
            let book_exists = books::table
                .find(order.book_id)
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !book_exists {
                return Ok(None);
            }
            let values = (
                orders::user_id.eq(user_id),
                orders::book_id.eq(order.book_id),
                orders::quantity.eq(order.quantity),
                orders::status.eq(Status::Placed.as_str()),
                orders::created_at.eq(now()),
            );
            common::with_backend!(&mut *conn, |c| {
                diesel::insert_into(orders::table)
                    .values(values)
                    .returning(OrderRow::as_returning())
                    .get_result(c)
            })
            .map(Some)
        })
        .map_err(ApiError::internal)
    })
    .await?
    // A body that names a book that does not exist is about a resource that is not there (as
    // JSON:API answers it), not a malformed body: 404.
    .ok_or_else(|| ApiError::not_found("no book has this `book_id`"))?;
    let order = Order::view(&row, &caller);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/orders/{}", order.id)))
        .json(order))
}

/// `GET /orders`: your orders (every order, for an admin).
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    security(("oauth2" = ["orders:read"]), ("bearer" = [])),
    responses((status = 200, description = "Your orders (every order, for an admin), and what you may do next", body = OrderList))
)]
pub(crate) async fn list(
    caller: Caller,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::OrdersRead)?;
    let (user_id, admin) = (caller.user_id, caller.role == Role::Admin);
    let rows: Vec<OrderRow> = blocking(move || {
        let mut query = orders::table
            .select(OrderRow::as_select())
            .order(orders::id)
            .into_boxed();
        if !admin {
            query = query.filter(orders::user_id.eq(user_id));
        }
        query
            .load(&mut *database.conn()?)
            .map_err(ApiError::internal)
    })
    .await?;
    let items: Vec<Order> = rows
        .into_iter()
        .map(|row| Order::view(&row, &caller))
        .collect();
    let mut links = BTreeMap::from([("self".to_owned(), Link::get("/orders".to_owned()))]);
    if caller.scopes.contains(Scope::OrdersWrite) {
        links.insert("create".to_owned(), Link::post("/orders".to_owned()));
    }
    Ok(HttpResponse::Ok().json(OrderList {
        count: items.len(),
        items,
        links,
    }))
}

/// `GET /orders/{id}`.
#[utoipa::path(
    tag = "orders",
    security(("oauth2" = ["orders:read"]), ("bearer" = [])),
    params(("id" = i32, Path, description = "The order")),
    responses(
        (status = 200, description = "The order, with the links this caller may follow", body = Order),
        (status = 404, description = "No order of yours has this id"),
    )
)]
#[get("/orders/{id}")]
pub(crate) async fn retrieve(
    caller: Caller,
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::OrdersRead)?;
    let viewer = caller.clone();
    let row =
        blocking(move || visible(&mut *database.conn()?, id, &viewer).map_err(ApiError::internal))
            .await?
            .ok_or_else(no_such_order)?;
    Ok(HttpResponse::Ok().json(Order::view(&row, &caller)))
}

/// The path of `POST /orders/{id}/{action}`, by name: an error names `id`, as the route does.
#[derive(Debug, Deserialize)]
pub struct Step {
    pub id: i32,
    pub action: String,
}

/// `POST /orders/{id}/{action}`: `pay`, `ship` or `cancel`.
#[utoipa::path(
    tag = "orders",
    security(("oauth2" = ["orders:write"]), ("bearer" = [])),
    params(
        ("id" = i32, Path, description = "The order"),
        ("action" = inline(ActionName), Path, description = "The step to take"),
    ),
    responses(
        (status = 200, description = "The order after the step, with its new links", body = Order),
        (status = 403, description = "Your role may not take this step"),
        (status = 404, description = "No order of yours has this id, or no such action"),
        (status = 409, description = "The order's state does not allow this step, or it changed meanwhile"),
    )
)]
#[post("/orders/{id}/{action}")]
pub(crate) async fn act(
    caller: Caller,
    database: web::Data<Database>,
    Path(Step { id, action }): Path<Step>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::OrdersWrite)?;
    let action = Action::parse(&action)
        .ok_or_else(|| ApiError::not_found("an order can be paid, shipped or cancelled"))?;
    let actor = caller.clone();
    let row = blocking(move || -> Result<OrderRow, ApiError> {
        let mut conn = database.conn()?;
        write_transaction(&mut conn, |conn| {
            let row = visible(conn, id, &actor)
                .map_err(ApiError::internal)?
                .ok_or_else(no_such_order)?;
            if !action.permitted(&actor, row.user_id) {
                return Err(ApiError::forbidden(format!(
                    "your role may not {} this order",
                    action.as_str()
                )));
            }
            let from = row.status();
            let to = action.next(from).ok_or_else(|| {
                ApiError::conflict(format!(
                    "a {} order cannot be {}",
                    from.as_str(),
                    match action {
                        Action::Pay => "paid",
                        Action::Ship => "shipped",
                        Action::Cancel => "cancelled",
                    }
                ))
            })?;
            // Only from the state read above: of two concurrent steps (an admin ships while the
            // owner cancels), the second finds the state changed and is refused.
            let changed = diesel::update(
                orders::table
                    .find(id)
                    .filter(orders::status.eq(from.as_str())),
            )
            .set(orders::status.eq(to.as_str()))
            .execute(conn)
            .map_err(ApiError::internal)?;
            if changed == 0 {
                return Err(ApiError::conflict(
                    "the order changed meanwhile; read it again",
                ));
            }
            Ok(OrderRow {
                status: to.as_str().to_owned(),
                ..row
            })
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(Order::view(&row, &caller)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantity_rule_and_its_schema_agree_on_the_edges() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(NewOrder::schema()).unwrap();
        let quantity = &schema["properties"]["quantity"];
        let range = quantity["minimum"].as_i64().unwrap()..=quantity["maximum"].as_i64().unwrap();
        for value in [0, 1, 100, 101] {
            let order = NewOrder {
                book_id: 1,
                quantity: value,
            };
            assert_eq!(
                range.contains(&i64::from(value)),
                order.validate().is_ok(),
                "{value}"
            );
        }
    }

    #[test]
    fn the_documented_actions_are_the_state_machines() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(ActionName::schema()).unwrap();
        let names: Vec<&str> = Action::ALL.iter().map(|action| action.as_str()).collect();
        assert_eq!(schema["enum"], serde_json::json!(names));
    }
}
