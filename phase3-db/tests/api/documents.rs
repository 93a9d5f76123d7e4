//! Topic 3.7 over HTTP: MongoDB's CRUD, unique index, projection, operators and aggregation, against
//! the server `MONGODB_URL` names (SecantusDB in CI); a 503 naming the variable without one.

use common::db::testing::TestDatabase;
use common::testing::{TestServer, listener, service_url, unique_name};
use phase3_db::documents::{Mongo, ReadingLists};
use phase3_db::key_value::{MemoryStore, Store};
use phase3_db::migrations::SCHEMA;
use phase3_db::{AppState, serve};
use serde_json::{Value, json};

fn start(database: &TestDatabase, mongo: Mongo) -> TestServer {
    let state = AppState::with(
        database.database.clone(),
        Store::Memory(MemoryStore::default()),
        mongo,
    )
    .expect("the state");
    TestServer::spawn(serve(state, listener().expect("a port")).expect("start phase 3"))
}

#[tokio::test]
async fn without_mongodb_the_routes_say_which_variable_to_set() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = start(&database, Mongo(None));
    let response = reqwest::get(format!("{}/mongo/reading-lists", server.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("MONGODB_URL"),
        "{problem}"
    );
}

#[tokio::test]
async fn reading_lists_live_in_mongodb() {
    let Some(url) = service_url("MONGODB_URL") else {
        eprintln!("MONGODB_URL is not set: skipped");
        return;
    };
    let lists = ReadingLists::connect(&url, &unique_name("phase3_test"))
        .await
        .unwrap();
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = start(&database, Mongo(Some(lists.clone())));
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url());

    let created = client
        .post(url("/mongo/reading-lists"))
        .json(&json!({"owner": "ada", "name": "summer", "tags": ["sf"], "books": [{"title": "Dune", "author": "Herbert"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/mongo/reading-lists/{}", created["id"].as_str().unwrap())
    );

    // The unique index on (owner, name).
    let twin = client
        .post(url("/mongo/reading-lists"))
        .json(&json!({"owner": "ada", "name": "summer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(twin.status(), 409);
    client
        .post(url("/mongo/reading-lists"))
        .json(&json!({"owner": "bob", "name": "summer", "tags": ["sf", "classic"]}))
        .send()
        .await
        .unwrap();

    // Renaming onto a name the owner uses is the same conflict (a command error this time).
    let other: Value = client
        .post(url("/mongo/reading-lists"))
        .json(&json!({"owner": "ada", "name": "winter"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rename = client
        .patch(url(&format!(
            "/mongo/reading-lists/{}",
            other["id"].as_str().unwrap()
        )))
        .json(&json!({"name": "summer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 409);
    client
        .delete(url(&format!(
            "/mongo/reading-lists/{}",
            other["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();

    // A filter, and a projection that leaves the books out.
    let mine: Value = client
        .get(url("/mongo/reading-lists?owner=ada"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert!(mine[0].get("books").is_none(), "{mine}");
    let tagged: Value = client
        .get(url("/mongo/reading-lists?tag=classic"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tagged[0]["owner"], "bob");

    // Update operators.
    let changed: Value = client
        .patch(url(&location))
        .json(&json!({"name": "summer reads", "add_books": [{"title": "Emma", "author": "Austen"}], "add_tags": ["sf", "classic"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["name"], "summer reads");
    assert_eq!(
        changed["books"].as_array().unwrap().len(),
        2,
        "$push appends"
    );
    assert_eq!(
        changed["tags"],
        json!(["sf", "classic"]),
        "$addToSet adds no duplicate"
    );

    // The aggregation: lists per tag, most first.
    let stats: Value = client
        .get(url("/mongo/stats/tags"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!([{"tag": "classic", "lists": 2}, {"tag": "sf", "lists": 2}])
    );

    // Delete, then it is gone; an id that is no id is a 400.
    assert_eq!(
        client.delete(url(&location)).send().await.unwrap().status(),
        204
    );
    assert_eq!(
        client.get(url(&location)).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        client
            .get(url("/mongo/reading-lists/xyz"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    lists.drop_database().await.unwrap();
}
