//! Every write needs the admin's token (401 with a challenge without one, 403 with the reader's),
//! reads need none, and the document says so on exactly the writes.

use crate::support;

use common::db::testing::TestDatabase;
use reqwest::Method;
use serde_json::{Value, json};

/// Every route that changes something, with a body it would accept.
fn writes() -> Vec<(Method, &'static str, Option<Value>)> {
    let author = json!({"name": "Written by the test"});
    let book = json!({"title": "Test book", "year": 2001, "author_id": 2, "tags": ["sf"]});
    vec![
        (Method::POST, "/api/authors", Some(author.clone())),
        (Method::PUT, "/api/authors/3", Some(author)),
        (
            Method::PATCH,
            "/api/authors/3",
            Some(json!({"bio": "changed"})),
        ),
        (Method::POST, "/api/books", Some(book.clone())),
        (Method::PUT, "/api/books/4", Some(book)),
        (Method::PATCH, "/api/books/4", Some(json!({"year": 1980}))),
        (
            Method::POST,
            "/api/authors/2/books?dry_run=true",
            Some(json!({"title": "Dry", "year": 2002})),
        ),
        (
            Method::POST,
            "/api/authors/2/books",
            Some(json!({"title": "Wet", "year": 2002})),
        ),
        (Method::DELETE, "/api/books/5", None),
        (Method::DELETE, "/api/authors/1", None),
    ]
}

#[tokio::test]
async fn writes_need_the_admin_token_and_reads_need_none() {
    for database in TestDatabase::all() {
        let server = support::start_seeded(&database);
        let client = reqwest::Client::new();
        let backend = database.database.backend;
        for (method, path, body) in writes() {
            let request = |token: Option<&str>| {
                let mut request =
                    client.request(method.clone(), format!("{}{path}", server.base_url()));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = &body {
                    request = request.json(body);
                }
                request.send()
            };
            let anonymous = request(None).await.unwrap();
            assert_eq!(
                anonymous.status(),
                401,
                "{backend:?}: {method} {path} without a token"
            );
            assert_eq!(
                anonymous.headers()["www-authenticate"],
                r#"Bearer realm="phase2""#,
                "{method} {path}"
            );
            let reader = request(Some(support::READER)).await.unwrap();
            assert_eq!(
                reader.status(),
                403,
                "{method} {path} with the reader's token"
            );
            let problem: Value = reader.json().await.unwrap();
            assert!(
                problem["detail"].as_str().unwrap().contains("admin"),
                "{problem}"
            );
            let admin = request(Some(support::ADMIN)).await.unwrap();
            let status = admin.status();
            assert!(
                status.is_success(),
                "{backend:?}: {method} {path} as the admin: {status} {}",
                admin.text().await.unwrap()
            );
        }
        // Nothing was written without the token: one author made by the admin, one deleted.
        let authors: Value = client
            .get(format!("{}/api/authors", server.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(authors["count"], 3, "{backend:?}");
        for read in [
            "/api/authors",
            "/api/books/4",
            "/api/authors-with-books",
            "/api/context",
        ] {
            let response = reqwest::get(format!("{}{read}", server.base_url()))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "GET {read} without a token");
        }
    }
}

#[tokio::test]
async fn a_caller_who_may_not_write_is_refused_before_the_body_is_read() {
    let database = TestDatabase::sqlite();
    let server = support::start_seeded(&database);
    let response = reqwest::Client::new()
        .post(format!("{}/api/books", server.base_url()))
        .header("content-type", "application/json")
        .body("not json at all")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_document_secures_exactly_the_writes_and_the_admin_area() {
    let database = TestDatabase::sqlite();
    let server = support::start(&database, |_| {});
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut secured = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let is_secured = operation["security"]
                .as_array()
                .is_some_and(|list| list.iter().any(|scheme| scheme.get("bearer").is_some()));
            if is_secured {
                assert!(
                    operation["responses"]["401"].is_object()
                        && operation["responses"]["403"].is_object(),
                    "{method} {path} is secured but documents no 401 and 403"
                );
                secured.push(format!("{} {path}", method.to_uppercase()));
            } else {
                assert_eq!(method, "get", "{method} {path} writes without security");
            }
        }
    }
    secured.sort();
    assert_eq!(
        secured,
        [
            "DELETE /api/authors/{id}",
            "DELETE /api/books/{id}",
            "GET /admin/stats",
            "GET /api/me",
            "PATCH /api/authors/{id}",
            "PATCH /api/books/{id}",
            "POST /api/authors",
            "POST /api/authors/{author_id}/books",
            "POST /api/books",
            "PUT /api/authors/{id}",
            "PUT /api/books/{id}",
        ]
    );
}
