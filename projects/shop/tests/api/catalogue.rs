//! Browsing the catalogue, and managing it as an admin.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{App, header};

#[tokio::test]
async fn products_come_with_their_variants_categories_and_images_in_integer_money() {
    let app = App::start().await;
    let page = app.get("/products").await;
    assert_eq!(page["count"], 3, "{page}");
    let shoe = &page["results"][0];
    assert_eq!(shoe["slug"], "trail-shoe");
    assert_eq!(shoe["categories"], json!(["outdoor", "shoes"]));
    assert_eq!(
        shoe["images"][0],
        "https://images.shop.example/trail-shoe.jpg"
    );
    assert_eq!(shoe["variants"][0]["sku"], "TRAIL-42-BLUE");
    assert_eq!(
        shoe["variants"][0]["price"],
        json!({"amount_minor": 8950, "currency": "EUR"})
    );
    assert_eq!(
        shoe["variants"][0]["attributes"],
        json!({"colour": "blue", "size": "42"})
    );
    let towel = app.get("/products/tenugui-towel").await;
    assert_eq!(
        towel["variants"][0]["price"],
        json!({"amount_minor": 1500, "currency": "JPY"}),
        "yen have no minor unit: 1500 is ¥1500"
    );
}

#[tokio::test]
async fn the_list_filters_orders_and_pages() {
    let app = App::start().await;
    let slugs = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|product| product["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    let outdoor = app.get("/products?category=outdoor&ordering=-name").await;
    assert_eq!(slugs(&outdoor), ["trail-shoe", "rain-jacket"]);
    assert_eq!(
        slugs(&app.get("/products?q=JACK").await),
        ["rain-jacket"],
        "the search ignores case"
    );
    assert_eq!(
        slugs(&app.get("/products?min_price=9000&max_price=10000").await),
        ["trail-shoe"]
    );
    let second = app.get("/products?ordering=name&page=2&page_size=2").await;
    assert_eq!(
        (second["count"].as_i64(), second["page"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(slugs(&second), ["trail-shoe"]);
    assert_eq!(
        slugs(&app.get("/products?q=100%25").await),
        Vec::<String>::new()
    );

    let refused = app
        .http
        .get(app.url("/products?ordering=price"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    let too_big = app
        .http
        .get(app.url("/products?page_size=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 422);
}

#[tokio::test]
async fn admins_manage_the_catalogue_and_customers_cannot() {
    let app = App::start().await;
    let admin = app.token("admin").await;
    let ada = app.token("ada").await;
    let product = json!({
        "slug": "wool-socks",
        "name": "Wool socks",
        "currency": "EUR",
        "categories": ["outdoor"],
        "variants": [{"sku": "SOCKS-M", "attributes": {"size": "M"}, "price_minor": 1200, "stock": 10}]
    });
    let by_customer = app
        .send(Method::POST, "/products", &ada, Some(product.clone()))
        .await;
    assert_eq!(by_customer.status(), 403);
    let made = app
        .send(Method::POST, "/products", &admin, Some(product.clone()))
        .await;
    assert_eq!(made.status(), 201);
    assert_eq!(header(&made, "location"), "/products/wool-socks");
    let again = app
        .send(Method::POST, "/products", &admin, Some(product))
        .await;
    assert_eq!(again.status(), 409);

    let nowhere = json!({
        "slug": "kite", "name": "Kite", "currency": "USD", "categories": ["toys"],
        "variants": [{"sku": "KITE", "price_minor": 100, "stock": 1}]
    });
    let refused = app
        .send(Method::POST, "/products", &admin, Some(nowhere))
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "categories", "{problem}");
    let bad = json!({
        "slug": "Bad Slug", "name": "", "currency": "GBP",
        "variants": []
    });
    let refused = app.send(Method::POST, "/products", &admin, Some(bad)).await;
    assert!(
        matches!(refused.status().as_u16(), 400 | 422),
        "{}",
        refused.status()
    );

    // Stock changes are relative and never go below zero.
    let restocked = app
        .send(
            Method::PATCH,
            "/variants/SOCKS-M",
            &admin,
            Some(json!({"stock_change": 5, "price_minor": 1100})),
        )
        .await;
    assert_eq!(restocked.status(), 200);
    let variant: Value = restocked.json().await.unwrap();
    assert_eq!(
        (
            variant["stock"].as_i64(),
            variant["price"]["amount_minor"].as_i64()
        ),
        (Some(15), Some(1100))
    );
    let short = app
        .send(
            Method::PATCH,
            "/variants/SOCKS-M",
            &admin,
            Some(json!({"stock_change": -16})),
        )
        .await;
    assert_eq!(short.status(), 409);
    assert_eq!(app.stock("wool-socks", "SOCKS-M").await, 15);
}
