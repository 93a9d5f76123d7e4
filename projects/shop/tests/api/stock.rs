//! No overselling: 200 buyers at once for 50 units buy exactly 50, on every backend.

use common::db::testing::TestDatabase;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;
use shop::SCHEMA;

use crate::support::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_buyers_for_fifty_units_buy_fifty() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let app = App::start_with(database, |config| config.rate_limit = 1_000_000).await;
        let admin = app.token("admin").await;
        let ada = app.token("ada").await;
        let product = json!({
            "slug": "limited-print", "name": "Limited print", "currency": "EUR",
            "variants": [{"sku": "PRINT-50", "price_minor": 5000, "stock": 50}]
        });
        let made = app
            .send(Method::POST, "/products", &admin, Some(product))
            .await;
        assert_eq!(made.status(), 201);
        let mut carts = Vec::new();
        for _ in 0..200 {
            carts.push(app.cart(&ada, &[("PRINT-50", 1)]).await);
        }

        let answers = join_all(carts.iter().map(|cart| app.checkout(&ada, *cart))).await;
        let sold = answers
            .iter()
            .filter(|answer| answer.status() == 201)
            .count();
        let refused = answers
            .iter()
            .filter(|answer| answer.status() == 409)
            .count();
        assert_eq!((sold, refused), (50, 150), "every other answer is an error");
        assert_eq!(app.stock("limited-print", "PRINT-50").await, 0);
        let orders: serde_json::Value = app
            .send(Method::GET, "/orders", &ada, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(orders.as_array().map(Vec::len), Some(50));
    }
}
