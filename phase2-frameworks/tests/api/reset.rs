//! `--reset-demo`: a learner who deleted the demo data gets it back, ids and all; without the flag
//! the library is left as it is.

use crate::support;

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase2_frameworks::{Config, build};
use serde_json::{Value, json};

async fn start(url: &str, reset_demo: bool) -> TestServer {
    let config = Config {
        reset_demo,
        ..Config::new(url)
    };
    let listener = common::testing::listener().expect("a local port");
    TestServer::spawn(build(config, listener).await.expect("build phase 2"))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", server.base_url()))
        .await
        .expect("phase 2 answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn reset_demo_brings_the_demo_library_back() {
    for database in TestDatabase::all() {
        let backend = database.database.backend;
        let url = database.database.url().to_owned();
        let client = reqwest::Client::new();

        // A first start seeds the empty library.
        let server = start(&url, false).await;
        assert_eq!(
            get(&server, "/api/books").await.1["count"],
            7,
            "{backend:?}"
        );
        let gone = client
            .delete(format!("{}/api/authors/1", server.base_url()))
            .bearer_auth(support::ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 204);
        let added = client
            .post(format!("{}/api/authors", server.base_url()))
            .bearer_auth(support::ADMIN)
            .json(&json!({"name": "Added by a learner"}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 201);
        drop(server);

        // Started again without the flag, the library is as the learner left it.
        let server = start(&url, false).await;
        assert_eq!(
            get(&server, "/api/books").await.1["count"],
            4,
            "{backend:?}"
        );
        assert_eq!(get(&server, "/api/books/1").await.0, 404);
        drop(server);

        // With it, the demo library is back, from id 1, and nothing else is.
        let server = start(&url, true).await;
        assert_eq!(
            get(&server, "/api/books").await.1["count"],
            7,
            "{backend:?}"
        );
        let (status, book) = get(&server, "/api/books/1").await;
        assert_eq!(
            (status, book["title"].as_str()),
            (200, Some("A Wizard of Earthsea"))
        );
        let authors = get(&server, "/api/authors?ordering=id").await.1;
        let names: Vec<&str> = authors["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|author| author["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Ursula K. Le Guin", "Octavia E. Butler", "Terry Pratchett"],
            "{backend:?}"
        );
        assert_eq!(authors["results"][0]["id"], 1);
        let (_, tags) = get(&server, "/api/books/4").await;
        assert_eq!(
            tags["tags"][0]["id"].as_i64().map(|id| id <= 4),
            Some(true),
            "{tags}"
        );
    }
}
