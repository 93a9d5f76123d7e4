//! The catalogue: products with variants, categories and images; browsed by anyone, managed by
//! admins.
//!
//! **Roadmap:** "complex relationships (Orders, Items, Products)": a product has many variants
//! and images, belongs to many categories, and each variant is what an order line points at.
//!
//! **Python:** SQLAlchemy models with `relationship()` and a `secondary` association table,
//! `selectinload()` to load a page's variants and categories without a query per product, and
//! `Decimal` prices (or, more often and wrongly, floats).
//!
//! **Rust:** diesel tables joined by `joinable!`, and a page of products loaded in four queries
//! whatever its size ([`load_views`]): the products, then their variants, categories and images,
//! each with one `IN (...)` and grouped in memory, as phase 2's eager loading taught. Listing
//! takes phase 2's `page` and `page_size`, an `ordering`, and filters (`category`, `q`,
//! `min_price`, `max_price`, `in_stock`), each one `WHERE` on a boxed query. A price is
//! `common::money::Money`: integer minor units beside the product's currency, so that `JPY` has no
//! cents and nothing is ever a float. Writes take phase 4's [`Admin`] extractor: a customer's
//! token gets 403.
//!
//! **Why:** a catalogue is read far more than it is written, and the page that lists it is the
//! page that N+1 queries make slow: the number of queries must not grow with the page.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, web};
use chrono::Utc;
use common::db::{
    AnyConnection, MultiBackend, blocking, contains_pattern, is_unique_violation, lower,
    write_transaction,
};
use common::extract::{Path, ValidJson};
use common::money::{Currency, Money};
use common::{ApiError, FieldError};
use diesel::prelude::*;
use phase2_frameworks::crud::Ordering;
use phase2_frameworks::dependencies::Paginated;
use phase4_security::rbac::Admin;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::Shop;
use crate::schema::{categories, product_categories, product_images, products, variants};

/// The fields `?ordering=` takes (each also with `-`).
pub const ORDERING: &[&str] = &["name", "created_at"];
/// The most units of one variant an admin may hold in stock.
pub const MAX_STOCK: i32 = 1_000_000;

/// A product and everything a shopper needs to pick a variant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Product {
    #[schema(example = "trail-shoe")]
    pub slug: String,
    pub name: String,
    pub description: String,
    pub currency: Currency,
    /// The slugs of its categories.
    pub categories: Vec<String>,
    /// Image URLs, in order.
    pub images: Vec<String>,
    pub variants: Vec<Variant>,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, String>,
}

/// What is sold: one SKU.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    #[schema(example = "TRAIL-42-BLUE")]
    pub sku: String,
    /// Size, colour and the like.
    #[schema(example = json!({"size": "42", "colour": "blue"}))]
    pub attributes: BTreeMap<String, String>,
    pub price: Money,
    /// Units that can be bought now.
    pub stock: i32,
}

/// A page of products.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    /// How many products match, on every page.
    pub count: i64,
    pub page: u32,
    pub page_size: u32,
    pub results: Vec<Product>,
}

/// What `GET /products` filters by, beside the page.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilters {
    /// Only products in this category (its slug).
    pub category: Option<String>,
    /// Only products whose name contains this, ignoring case.
    pub q: Option<String>,
    /// Only products with a variant at this price or more, in minor units.
    #[serde(default, deserialize_with = "common::query::present")]
    #[param(minimum = 0, maximum = 2147483647)]
    pub min_price: Option<u32>,
    /// Only products with a variant at this price or less, in minor units.
    #[serde(default, deserialize_with = "common::query::present")]
    #[param(minimum = 0, maximum = 2147483647)]
    pub max_price: Option<u32>,
    /// Only products with a variant in stock.
    #[serde(default, deserialize_with = "common::query::present")]
    pub in_stock: Option<bool>,
    /// `name`, `created_at`, or either with `-` to reverse; by id when absent.
    #[param(inline, value_type = Option<String>, pattern = "^-?(name|created_at)$")]
    pub ordering: Option<String>,
}

impl ProductFilters {
    /// 422 for a price beyond the document's `maximum` (an `int32`, as every integer here).
    fn check(&self) -> Result<(), ApiError> {
        let beyond = |price: Option<u32>| price.is_some_and(|price| i32::try_from(price).is_err());
        for (field, price) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if beyond(price) {
                return Err(ApiError::unprocessable(vec![FieldError::new(
                    field,
                    "range",
                    "must be at most 2147483647",
                )]));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub currency: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = variants, belongs_to(ProductRow, foreign_key = product_id))]
pub struct VariantRow {
    pub id: i32,
    pub product_id: i32,
    pub sku: String,
    pub attributes: String,
    pub price_minor: i64,
    pub stock: i32,
}

/// The currency column, read strictly: the schema's CHECK allows only these.
pub fn currency_of(code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown currency {code} stored")))
}

impl VariantRow {
    fn view(&self, currency: Currency) -> Variant {
        Variant {
            sku: self.sku.clone(),
            attributes: serde_json::from_str(&self.attributes).unwrap_or_default(),
            price: Money::new(self.price_minor, currency),
            stock: self.stock,
        }
    }
}

type ProductQuery<'a> = products::BoxedQuery<'a, MultiBackend>;

fn filtered(filters: &ProductFilters) -> ProductQuery<'_> {
    let mut query = products::table.into_boxed();
    if let Some(slug) = &filters.category {
        let members = product_categories::table
            .inner_join(categories::table)
            .filter(categories::slug.eq(slug.clone()))
            .select(product_categories::product_id);
        query = query.filter(products::id.eq_any(members));
    }
    if let Some(text) = &filters.q {
        query = query.filter(
            lower(products::name)
                .like(contains_pattern(text))
                .escape('\\'),
        );
    }
    if let Some(min) = filters.min_price {
        let priced = variants::table
            .filter(variants::price_minor.ge(i64::from(min)))
            .select(variants::product_id);
        query = query.filter(products::id.eq_any(priced));
    }
    if let Some(max) = filters.max_price {
        let priced = variants::table
            .filter(variants::price_minor.le(i64::from(max)))
            .select(variants::product_id);
        query = query.filter(products::id.eq_any(priced));
    }
    if filters.in_stock == Some(true) {
        let stocked = variants::table
            .filter(variants::stock.gt(0))
            .select(variants::product_id);
        query = query.filter(products::id.eq_any(stocked));
    }
    query
}

/// `rows` with their variants, categories and images: three queries for any number of products.
pub fn load_views(
    conn: &mut AnyConnection,
    rows: Vec<ProductRow>,
) -> Result<Vec<Product>, ApiError> {
    let variants = VariantRow::belonging_to(&rows)
        .select(VariantRow::as_select())
        .order(variants::id)
        .load(conn)?
        .grouped_by(&rows);
    let ids: Vec<i32> = rows.iter().map(|row| row.id).collect();
    let mut categories_of: HashMap<i32, Vec<String>> = HashMap::new();
    for (product, slug) in product_categories::table
        .inner_join(categories::table)
        .filter(product_categories::product_id.eq_any(&ids))
        .order(categories::slug)
        .select((product_categories::product_id, categories::slug))
        .load::<(i32, String)>(conn)?
    {
        categories_of.entry(product).or_default().push(slug);
    }
    let mut images_of: HashMap<i32, Vec<String>> = HashMap::new();
    for (product, url) in product_images::table
        .filter(product_images::product_id.eq_any(&ids))
        .order((product_images::product_id, product_images::position))
        .select((product_images::product_id, product_images::url))
        .load::<(i32, String)>(conn)?
    {
        images_of.entry(product).or_default().push(url);
    }
    rows.into_iter()
        .zip(variants)
        .map(|(row, variants)| {
            let currency = currency_of(&row.currency)?;
            Ok(Product {
                links: BTreeMap::from([("self".to_owned(), format!("/products/{}", row.slug))]),
                categories: categories_of.remove(&row.id).unwrap_or_default(),
                images: images_of.remove(&row.id).unwrap_or_default(),
                variants: variants
                    .iter()
                    .map(|variant| variant.view(currency))
                    .collect(),
                slug: row.slug,
                name: row.name,
                description: row.description,
                currency,
            })
        })
        .collect()
}

fn no_product(slug: &str) -> ApiError {
    ApiError::not_found(format!("no product has the slug `{slug}`"))
}

fn find_product(conn: &mut AnyConnection, slug: &str) -> Result<Product, ApiError> {
    let row = products::table
        .filter(products::slug.eq(slug))
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| no_product(slug))?;
    load_views(conn, vec![row])?
        .pop()
        .ok_or_else(|| no_product(slug))
}

#[utoipa::path(
    get,
    path = "/products",
    tag = "catalogue",
    params(phase2_frameworks::dependencies::PageParams, ProductFilters),
    responses(
        (status = 200, description = "A page of products, each with its variants, categories and images", body = ProductPage),
        (status = 422, description = "A parameter breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
)]
pub(crate) async fn list_products(
    shop: web::Data<Shop>,
    Paginated(page, filters): Paginated<ProductFilters>,
) -> Result<HttpResponse, ApiError> {
    filters.check()?;
    let ordering = filters
        .ordering
        .as_deref()
        .map(|value| Ordering::parse(value, ORDERING))
        .transpose()?;
    let body = blocking(move || {
        let mut conn = shop.database.conn()?;
        let count: i64 = filtered(&filters).count().get_result(&mut *conn)?;
        let query = filtered(&filters).select(ProductRow::as_select());
        let query = match ordering.as_ref().map(|o| (o.field, o.descending)) {
            Some(("name", false)) => query.order((products::name.asc(), products::id.asc())),
            Some(("name", true)) => query.order((products::name.desc(), products::id.desc())),
            Some((_, false)) => query.order((products::created_at.asc(), products::id.asc())),
            Some((_, true)) => query.order((products::created_at.desc(), products::id.desc())),
            None => query.order(products::id.asc()),
        };
        let rows = query
            .limit(i64::from(page.page_size))
            .offset(page.offset())
            .load(&mut *conn)?;
        Ok::<_, ApiError>(ProductPage {
            count,
            page: page.page,
            page_size: page.page_size,
            results: load_views(&mut conn, rows)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    tag = "catalogue",
    params(("slug" = String, Path, description = "The product's slug")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[get("/products/{slug}")]
pub(crate) async fn get_product(
    shop: web::Data<Shop>,
    Path(slug): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let product = blocking(move || find_product(&mut *shop.database.conn()?, &slug)).await?;
    Ok(HttpResponse::Ok().json(product))
}

fn slug_rule(text: &str) -> Result<(), validator::ValidationError> {
    let ok = (1..=64).contains(&text.len())
        && text.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    ok.then_some(()).ok_or_else(|| {
        validator::ValidationError::new("slug")
            .with_message("must be 1 to 64 of a-z and 0-9, in words joined by -".into())
    })
}

fn sku_rule(text: &str) -> Result<(), validator::ValidationError> {
    let ok = (1..=64).contains(&text.len())
        && text.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
    ok.then_some(()).ok_or_else(|| {
        validator::ValidationError::new("sku")
            .with_message("must be 1 to 64 of A-Z and 0-9, in words joined by -".into())
    })
}

fn image_rule(text: &str) -> Result<(), validator::ValidationError> {
    match url::Url::parse(text) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() && text.len() <= 2048 => {
            Ok(())
        }
        _ => Err(validator::ValidationError::new("url")
            .with_message("must be an https URL of at most 2048 characters".into())),
    }
}

/// `POST /products`' body: a product with its variants.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    #[validate(custom(function = "slug_rule"))]
    #[schema(
        example = "trail-shoe",
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 64
    )]
    pub slug: String,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Trail shoe", min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[validate(length(max = 5000, message = "must be at most 5000 characters"))]
    #[schema(max_length = 5000)]
    pub description: String,
    pub currency: Currency,
    /// Slugs of existing categories.
    #[serde(default)]
    #[validate(length(max = 20, message = "at most 20 categories"))]
    #[schema(max_items = 20)]
    pub categories: Vec<String>,
    /// https URLs of its images, in order.
    #[serde(default)]
    #[validate(length(max = 20, message = "at most 20 images"))]
    #[validate(custom(function = "images_rule"))]
    #[schema(max_items = 20)]
    pub images: Vec<String>,
    #[validate(length(min = 1, max = 50, message = "1 to 50 variants"))]
    #[validate(nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub variants: Vec<NewVariant>,
}

fn images_rule(images: &[String]) -> Result<(), validator::ValidationError> {
    images.iter().try_for_each(|image| image_rule(image))
}

/// A variant, as an admin adds it.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariant {
    #[validate(custom(function = "sku_rule"))]
    #[schema(
        example = "TRAIL-42-BLUE",
        pattern = "^[A-Z0-9]+(-[A-Z0-9]+)*$",
        max_length = 64
    )]
    pub sku: String,
    #[serde(default)]
    #[validate(length(max = 10, message = "at most 10 attributes"))]
    pub attributes: BTreeMap<String, String>,
    /// In minor units of the product's currency: cents, or yen.
    #[validate(range(min = 0, max = 1_000_000_000))]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub price_minor: i64,
    #[validate(range(min = 0, max = 1_000_000))]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: i32,
}

#[utoipa::path(
    post,
    path = "/products",
    tag = "catalogue",
    request_body = NewProduct,
    responses(
        (status = 201, description = "Created", body = Product,
            headers(("Location" = String, description = "`/products/{slug}`"))),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The slug or a SKU is taken", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule, or names a category that does not exist: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_product(
    _admin: Admin,
    shop: web::Data<Shop>,
    ValidJson(new): ValidJson<NewProduct>,
) -> Result<HttpResponse, ApiError> {
    let product = blocking(move || {
        let mut conn = shop.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let category_ids: Vec<(i32, String)> = categories::table
                .filter(categories::slug.eq_any(&new.categories))
                .select((categories::id, categories::slug))
                .load(conn)?;
            if let Some(missing) = new
                .categories
                .iter()
                .find(|slug| !category_ids.iter().any(|(_, known)| known == *slug))
            {
                return Err(ApiError::unprocessable(vec![FieldError::new(
                    "categories",
                    "unknown",
                    format!("no category has the slug `{missing}`"),
                )]));
            }
            let inserted = diesel::insert_into(products::table)
                .values((
                    products::slug.eq(&new.slug),
                    products::name.eq(&new.name),
                    products::description.eq(&new.description),
                    products::currency.eq(new.currency.code()),
                    products::created_at.eq(Utc::now().timestamp()),
                ))
                .execute(conn);
            match inserted {
                Err(err) if is_unique_violation(&err) => {
                    return Err(ApiError::conflict(format!(
                        "the slug `{}` is taken",
                        new.slug
                    )));
                }
                other => other?,
            };
            let id: i32 = products::table
                .filter(products::slug.eq(&new.slug))
                .select(products::id)
                .first(conn)?;
            for (category, _) in &category_ids {
                diesel::insert_into(product_categories::table)
                    .values((
                        product_categories::product_id.eq(id),
                        product_categories::category_id.eq(category),
                    ))
                    .execute(conn)?;
            }
            for (position, url) in (0..).zip(&new.images) {
                diesel::insert_into(product_images::table)
                    .values((
                        product_images::product_id.eq(id),
                        product_images::url.eq(url),
                        product_images::position.eq(position),
                    ))
                    .execute(conn)?;
            }
            for variant in &new.variants {
                let inserted = diesel::insert_into(variants::table)
                    .values((
                        variants::product_id.eq(id),
                        variants::sku.eq(&variant.sku),
                        variants::attributes.eq(serde_json::to_string(&variant.attributes)
                            .map_err(ApiError::internal)?),
                        variants::price_minor.eq(variant.price_minor),
                        variants::stock.eq(variant.stock),
                    ))
                    .execute(conn);
                match inserted {
                    Err(err) if is_unique_violation(&err) => {
                        return Err(ApiError::conflict(format!(
                            "the SKU `{}` is taken",
                            variant.sku
                        )));
                    }
                    other => other?,
                };
            }
            find_product(conn, &new.slug)
        })
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/products/{}", product.slug)))
        .json(product))
}

/// `PATCH /variants/{sku}`'s body: a new price, and units added to or taken from the stock.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantChange {
    /// The new price, in minor units; orders already made keep theirs.
    #[validate(range(min = 0, max = 1_000_000_000))]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub price_minor: Option<i64>,
    /// Units to add (a delivery) or, negative, to take away (a count found short). Relative, so
    /// that it never undoes a sale made meanwhile.
    #[validate(range(min = -1_000_000, max = 1_000_000))]
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub stock_change: Option<i32>,
}

#[utoipa::path(
    tag = "catalogue",
    params(("sku" = String, Path, description = "The variant's SKU")),
    request_body = VariantChange,
    responses(
        (status = 200, description = "The variant, changed", body = Variant),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such variant", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The stock would go below zero, or above the most allowed", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[patch("/variants/{sku}")]
pub(crate) async fn change_variant(
    _admin: Admin,
    shop: web::Data<Shop>,
    Path(sku): Path<String>,
    ValidJson(change): ValidJson<VariantChange>,
) -> Result<HttpResponse, ApiError> {
    let variant = blocking(move || {
        let mut conn = shop.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let target = variants::table.filter(variants::sku.eq(&sku));
            let found: Option<(i32, String)> = target
                .inner_join(products::table)
                .select((variants::id, products::currency))
                .first(conn)
                .optional()?;
            let (id, currency) =
                found.ok_or_else(|| ApiError::not_found(format!("no variant has the SKU `{sku}`")))?;
            if let Some(price) = change.price_minor {
                diesel::update(variants::table.find(id))
                    .set(variants::price_minor.eq(price))
                    .execute(conn)?;
            }
            if let Some(delta) = change.stock_change {
                // Relative and conditional: a sale committed meanwhile is kept, and the stock
                // never leaves 0..=MAX_STOCK.
                let changed = diesel::update(
                    variants::table
                        .find(id)
                        .filter(variants::stock.ge(-delta))
                        .filter(variants::stock.le(MAX_STOCK - delta)),
                )
                .set(variants::stock.eq(variants::stock + delta))
                .execute(conn)?;
                if changed == 0 {
                    return Err(ApiError::conflict(format!(
                        "the stock of `{sku}` cannot change by {delta}: it would leave 0 to {MAX_STOCK}"
                    )));
                }
            }
            let row: VariantRow = variants::table
                .find(id)
                .select(VariantRow::as_select())
                .first(conn)?;
            Ok(row.view(currency_of(&currency)?))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(variant))
}

/// A category.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    #[validate(custom(function = "slug_rule"))]
    #[schema(
        example = "shoes",
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 64
    )]
    pub slug: String,
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "Shoes", min_length = 1, max_length = 100)]
    pub name: String,
}

#[utoipa::path(
    get,
    path = "/categories",
    tag = "catalogue",
    responses((status = 200, description = "Every category, by slug", body = [Category])),
)]
pub(crate) async fn list_categories(shop: web::Data<Shop>) -> Result<HttpResponse, ApiError> {
    let rows: Vec<(String, String)> = blocking(move || {
        categories::table
            .order(categories::slug)
            .select((categories::slug, categories::name))
            .load(&mut *shop.database.conn()?)
            .map_err(ApiError::from)
    })
    .await?;
    let categories: Vec<Category> = rows
        .into_iter()
        .map(|(slug, name)| Category { slug, name })
        .collect();
    Ok(HttpResponse::Ok().json(categories))
}

#[utoipa::path(
    post,
    path = "/categories",
    tag = "catalogue",
    request_body = Category,
    responses(
        (status = 201, description = "Created", body = Category),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The slug is taken", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_category(
    _admin: Admin,
    shop: web::Data<Shop>,
    ValidJson(category): ValidJson<Category>,
) -> Result<HttpResponse, ApiError> {
    let made = category.clone();
    blocking(move || {
        let inserted = diesel::insert_into(categories::table)
            .values((
                categories::slug.eq(&made.slug),
                categories::name.eq(&made.name),
            ))
            .execute(&mut *shop.database.conn()?);
        match inserted {
            Err(err) if is_unique_violation(&err) => Err(ApiError::conflict(format!(
                "the category `{}` exists",
                made.slug
            ))),
            other => other.map(|_| ()).map_err(ApiError::from),
        }
    })
    .await?;
    Ok(HttpResponse::Created().json(category))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_skus_are_words_joined_by_dashes() {
        assert!(slug_rule("trail-shoe-2").is_ok());
        for bad in ["", "Trail", "trail--shoe", "-trail", "trail_shoe"] {
            assert!(slug_rule(bad).is_err(), "{bad}");
        }
        assert!(sku_rule("TRAIL-42-BLUE").is_ok());
        for bad in ["trail-42", "TRAIL--42", "TRAIL 42"] {
            assert!(sku_rule(bad).is_err(), "{bad}");
        }
        assert!(image_rule("https://img.example/shoe.jpg").is_ok());
        assert!(image_rule("http://img.example/shoe.jpg").is_err());
    }
}
