//! The OpenAPI document: every route of the shop, phase 4's account routes among them. `common`
//! adds `GET /`, `/metrics` and the health checks, and serves it at `/openapi.json` with Swagger
//! UI at `/docs/`.

use common::openapi::Bearer;
use phase4_security::idempotency::Documented as Idempotent;
use phase4_security::passwords;
use phase4_security::rate_limit::Documented as RateLimits;
use phase4_security::tokens::{endpoint, keys};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::{carts, catalogue, orders, payments, webhooks};

/// The checkout takes an `Idempotency-Key`.
const IDEMPOTENT: Idempotent = Idempotent {
    posts: crate::IDEMPOTENT_POSTS,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Project 2: an e-commerce API",
        description = "A catalogue of products and their variants, carts, and orders made in one transaction that never oversells. Prices are integer minor units beside a currency. Log in with `POST /auth/token` (the demo customer `ada`, password `correct-horse-ada`; the admin `admin`, password `correct-horse-admin`), then send the access token as `Authorization: Bearer ...`.",
    ),
    paths(
        catalogue::list_products,
        catalogue::get_product,
        catalogue::create_product,
        catalogue::change_variant,
        catalogue::list_categories,
        catalogue::create_category,
        carts::create_cart,
        carts::get_cart,
        carts::put_item,
        carts::remove_item,
        orders::checkout_cart,
        orders::list_orders,
        orders::get_order,
        orders::cancel_order,
        orders::fulfil_order,
        payments::start_payment,
        payments::confirm_payment,
        payments::refund_order,
        webhooks::receive,
        passwords::register,
        endpoint::token_endpoint,
        keys::jwks,
    ),
    modifiers(&Bearer, &RateLimits, &IDEMPOTENT),
    tags(
        (name = "catalogue", description = "Products, their variants and categories: anyone browses, admins manage"),
        (name = "carts", description = "What you mean to buy"),
        (name = "orders", description = "Carts made into orders, and what happens to them"),
        (name = "payments", description = "Stripe: paying, refunds, and its webhooks"),
        (name = "auth", description = "Accounts and tokens (phase 4's)"),
    ),
)]
struct ApiDoc;

/// The document, before `common` completes it.
pub fn document() -> Document {
    ApiDoc::openapi()
}
