//! Topic 3.8: one test suite, run against the in-process store and against Redis (`REDIS_URL`).

use std::time::Duration;

use common::testing::{service_url, unique_name};
use phase3_db::key_value::{KeyValue, KvError, MemoryStore, RedisStore};

async fn suite(store: &impl KeyValue) {
    // Plain values.
    assert_eq!(store.get("missing").await.expect("the store answers"), None);
    store.set("k", "v", None).await.expect("the store answers");
    assert_eq!(
        store.get("k").await.expect("the store answers").as_deref(),
        Some("v")
    );
    assert_eq!(
        store.time_to_live("k").await.expect("the store answers"),
        None,
        "no expiry set"
    );
    store.set("k", "w", None).await.expect("the store answers");
    assert_eq!(
        store.get("k").await.expect("the store answers").as_deref(),
        Some("w")
    );
    assert!(store.delete("k").await.expect("the store answers"));
    assert!(
        !store.delete("k").await.expect("the store answers"),
        "nothing left to delete"
    );

    // The value and its time left, together.
    store
        .set("both", "v", Some(Duration::from_secs(60)))
        .await
        .expect("the store answers");
    let (value, ttl) = store
        .get_with_ttl("both")
        .await
        .expect("the store answers")
        .expect("present");
    assert_eq!(value, "v");
    assert!(ttl.is_some_and(|ttl| ttl > Duration::from_secs(50) && ttl <= Duration::from_secs(60)));
    assert_eq!(
        store
            .get_with_ttl("absent")
            .await
            .expect("the store answers"),
        None
    );

    // Expiry.
    store
        .set("short", "lived", Some(Duration::from_millis(200)))
        .await
        .expect("the store answers");
    let left = store
        .time_to_live("short")
        .await
        .expect("the store answers")
        .expect("a time to live");
    assert!(left <= Duration::from_millis(200));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.get("short").await.expect("the store answers"),
        None,
        "expired"
    );

    // Counters: atomic, from 0, and only on integers.
    assert_eq!(store.increment("n", 1).await.expect("the store answers"), 1);
    assert_eq!(
        store.increment("n", 41).await.expect("the store answers"),
        42
    );
    assert_eq!(
        store.increment("n", -2).await.expect("the store answers"),
        40
    );
    store
        .set("word", "abc", None)
        .await
        .expect("the store answers");
    assert!(matches!(
        store.increment("word", 1).await,
        Err(KvError::NotAnInteger(_))
    ));
    store
        .set("big", &i64::MAX.to_string(), None)
        .await
        .expect("the store answers");
    assert!(matches!(
        store.increment("big", 1).await,
        Err(KvError::Overflow(_))
    ));
}

async fn concurrent_increments(store: std::sync::Arc<impl KeyValue>) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { store.increment("hits", 1).await.expect("the store answers") },
            )
        })
        .collect();
    for task in tasks {
        task.await.expect("the store answers");
    }
    assert_eq!(
        store
            .get("hits")
            .await
            .expect("the store answers")
            .as_deref(),
        Some("50"),
        "no increment lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_in_process_store_keeps_the_contract() {
    suite(&MemoryStore::default()).await;
    concurrent_increments(std::sync::Arc::new(MemoryStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_keeps_the_same_contract() {
    let Some(url) = service_url("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    };
    // A prefix of its own, so parallel tests and other users of this Redis never meet.
    let store = RedisStore::connect(&url, &unique_name("test"))
        .await
        .expect("the store answers");
    suite(&store).await;
    assert!(
        store.clear().await.expect("clear") > 0,
        "the suite left keys to clear"
    );
    let store = RedisStore::connect(&url, &unique_name("test"))
        .await
        .expect("the store answers");
    concurrent_increments(std::sync::Arc::new(store.clone())).await;
    store.clear().await.expect("clear");
    assert_eq!(
        store.get("hits").await.expect("the store answers"),
        None,
        "cleared"
    );
}
