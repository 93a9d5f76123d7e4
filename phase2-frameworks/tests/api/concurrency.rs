//! Concurrent writes all succeed, on SQLite too, where a read-then-write transaction that does not
//! take the write lock first fails with "database is locked" (see `common::db::write_transaction`).

use crate::support;

use common::db::testing::TestDatabase;
use serde_json::json;

#[tokio::test]
async fn fifty_concurrent_books_are_fifty_books() {
    for database in TestDatabase::all() {
        phase2_frameworks::seed::seed(&database.database).unwrap();
        let server = support::start(&database, |_| {});
        let client = reqwest::Client::new();
        let writes: Vec<_> = (0..50)
            .map(|n| {
                let request = client
                    .post(format!("{}/api/books", server.base_url()))
                    .bearer_auth(support::ADMIN)
                    .json(&json!({"title": format!("Concurrent {n}"), "year": 2000, "author_id": 1, "tags": ["shared", format!("own-{n}")]}));
                tokio::spawn(async move { request.send().await })
            })
            .collect();
        for write in writes {
            let response = write.await.unwrap().unwrap();
            assert_eq!(
                response.status(),
                201,
                "{:?}: {}",
                database.database.backend,
                response.text().await.unwrap()
            );
        }
        let page: serde_json::Value = client
            .get(format!(
                "{}/api/books?tag=shared&page_size=1",
                server.base_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["count"], 50);
    }
}
