//! Topic 3.2 on every backend: diesel-async and sync diesel on the blocking pool answer alike.

use common::db::testing::TestDatabase;
use common::testing::{TestServer, listener};
use phase3_db::async_access::{AsyncDatabase, latest_blocking};
use phase3_db::documents::Mongo;
use phase3_db::key_value::{MemoryStore, Store};
use phase3_db::migrations::SCHEMA;
use phase3_db::{AppState, serve};
use serde_json::Value;

#[tokio::test]
async fn both_paths_return_the_same_reviews() {
    for database in TestDatabase::all_with(&SCHEMA) {
        phase3_db::seed::seed(&database.database).unwrap();
        let backend = database.database.backend;

        let db = database.database.clone();
        let sync_rows = tokio::task::spawn_blocking(move || latest_blocking(&db, 4))
            .await
            .unwrap()
            .unwrap();
        let async_rows = AsyncDatabase::new(database.database.url())
            .unwrap()
            .latest(4)
            .await
            .unwrap();
        assert_eq!(sync_rows, async_rows, "{backend:?}");
        assert_eq!(sync_rows.len(), 4);
        assert!(
            sync_rows.windows(2).all(|pair| pair[0].id > pair[1].id),
            "newest first"
        );

        let state = AppState::with(
            database.database.clone(),
            Store::Memory(MemoryStore::default()),
            Mongo(None),
        )
        .unwrap();
        let server = TestServer::spawn(serve(state, listener().unwrap()).unwrap());
        let get = |via: &'static str| {
            reqwest::get(format!(
                "{}/reviews/latest?via={via}&limit=3",
                server.base_url()
            ))
        };
        let over_async: Value = get("async").await.unwrap().json().await.unwrap();
        let over_blocking: Value = get("blocking").await.unwrap().json().await.unwrap();
        assert_eq!(over_async, over_blocking, "{backend:?}");
        let invalid = reqwest::get(format!("{}/reviews/latest?limit=0", server.base_url()))
            .await
            .unwrap();
        assert_eq!(invalid.status(), 422);
    }
}
