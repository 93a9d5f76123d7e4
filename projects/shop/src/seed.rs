//! The demo catalogue a new database starts with (`--no-demo-catalogue` leaves it out): three
//! categories and three products, one of them priced in yen, which have no minor unit.

use common::db::{Database, write_transaction};
use diesel::prelude::*;

use crate::schema::{categories, product_categories, product_images, products, variants};

/// `(slug, name)`.
const CATEGORIES: [(&str, &str); 3] = [
    ("shoes", "Shoes"),
    ("outdoor", "Outdoor"),
    ("gifts", "Gifts"),
];

struct Demo {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    currency: &'static str,
    categories: &'static [&'static str],
    image: &'static str,
    /// `(sku, attributes as JSON, price in minor units, stock)`.
    variants: &'static [(&'static str, &'static str, i64, i32)],
}

const PRODUCTS: [Demo; 3] = [
    Demo {
        slug: "trail-shoe",
        name: "Trail shoe",
        description: "A light shoe for rough paths.",
        currency: "EUR",
        categories: &["shoes", "outdoor"],
        image: "https://images.shop.example/trail-shoe.jpg",
        variants: &[
            (
                "TRAIL-42-BLUE",
                r#"{"colour":"blue","size":"42"}"#,
                8_950,
                12,
            ),
            (
                "TRAIL-43-BLUE",
                r#"{"colour":"blue","size":"43"}"#,
                8_950,
                8,
            ),
            ("TRAIL-42-RED", r#"{"colour":"red","size":"42"}"#, 9_450, 3),
        ],
    },
    Demo {
        slug: "rain-jacket",
        name: "Rain jacket",
        description: "Keeps the rain out and lets the steam through.",
        currency: "EUR",
        categories: &["outdoor"],
        image: "https://images.shop.example/rain-jacket.jpg",
        variants: &[
            ("RAIN-M", r#"{"size":"M"}"#, 12_900, 5),
            ("RAIN-L", r#"{"size":"L"}"#, 12_900, 0),
        ],
    },
    Demo {
        slug: "tenugui-towel",
        name: "Tenugui towel",
        description: "A cotton towel from Osaka, priced in yen.",
        currency: "JPY",
        categories: &["gifts"],
        image: "https://images.shop.example/tenugui.jpg",
        variants: &[("TENUGUI-WAVES", r#"{"pattern":"waves"}"#, 1_500, 40)],
    },
];

/// Adds the demo catalogue to an empty one; a catalogue with any product or category is left alone.
pub fn catalogue(database: &Database) -> anyhow::Result<()> {
    let mut conn = database.conn()?;
    write_transaction(&mut conn, |conn| {
        let made: i64 = products::table.count().get_result(conn)?;
        let named: i64 = categories::table.count().get_result(conn)?;
        if made + named > 0 {
            return Ok(());
        }
        for (slug, name) in CATEGORIES {
            diesel::insert_into(categories::table)
                .values((categories::slug.eq(slug), categories::name.eq(name)))
                .execute(conn)?;
        }
        for demo in &PRODUCTS {
            diesel::insert_into(products::table)
                .values((
                    products::slug.eq(demo.slug),
                    products::name.eq(demo.name),
                    products::description.eq(demo.description),
                    products::currency.eq(demo.currency),
                    products::created_at.eq(0_i64),
                ))
                .execute(conn)?;
            let id: i32 = products::table
                .filter(products::slug.eq(demo.slug))
                .select(products::id)
                .first(conn)?;
            let in_categories = categories::table
                .filter(categories::slug.eq_any(demo.categories))
                .select(categories::id)
                .load::<i32>(conn)?;
            for category in in_categories {
                diesel::insert_into(product_categories::table)
                    .values((
                        product_categories::product_id.eq(id),
                        product_categories::category_id.eq(category),
                    ))
                    .execute(conn)?;
            }
            diesel::insert_into(product_images::table)
                .values((
                    product_images::product_id.eq(id),
                    product_images::url.eq(demo.image),
                    product_images::position.eq(0),
                ))
                .execute(conn)?;
            for (sku, attributes, price, stock) in demo.variants {
                diesel::insert_into(variants::table)
                    .values((
                        variants::product_id.eq(id),
                        variants::sku.eq(sku),
                        variants::attributes.eq(attributes),
                        variants::price_minor.eq(price),
                        variants::stock.eq(stock),
                    ))
                    .execute(conn)?;
            }
        }
        Ok::<_, anyhow::Error>(())
    })
}
