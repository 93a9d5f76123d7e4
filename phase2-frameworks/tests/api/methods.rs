//! HEAD, OPTIONS and a method a path lacks, on every documented route, the viewsets' own
//! resources included: the `Allow` of a 405 and of an OPTIONS is what the document lists.

use crate::support;

use common::db::testing::TestDatabase;
use reqwest::Method;
use serde_json::Value;

/// What `Allow` should say for a path with `methods` (lower case, as the document has them).
fn allow(methods: &[String]) -> String {
    let has = |method: &str| methods.iter().any(|m| m == method);
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .into_iter()
        .filter(|method| match *method {
            "HEAD" => has("get"),
            "OPTIONS" => true,
            other => has(&other.to_lowercase()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn every_documented_path_answers_options_head_and_405_as_documented() {
    let database = TestDatabase::sqlite();
    let server = support::start_seeded(&database);
    let client = reqwest::Client::new();
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let methods: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
        let expected = allow(&methods);
        let concrete = path.replace("{id}", "1").replace("{author_id}", "1");
        let url = format!("{}{concrete}", server.base_url());
        // The admin's token, so that the admin area's guard lets the request reach the router.
        let request = |method: Method| client.request(method, &url).bearer_auth(support::ADMIN);

        let options = request(Method::OPTIONS).send().await.unwrap();
        assert_eq!(options.status(), 204, "OPTIONS {concrete}");
        assert_eq!(
            options.headers()["allow"],
            expected.as_str(),
            "OPTIONS {concrete}"
        );

        for unsupported in ["TRACE", "PUT", "POST", "DELETE"] {
            if methods.contains(&unsupported.to_lowercase()) {
                continue;
            }
            let method = Method::from_bytes(unsupported.as_bytes()).unwrap();
            let response = request(method).send().await.unwrap();
            assert_eq!(response.status(), 405, "{unsupported} {concrete}");
            assert_eq!(
                response.headers()["allow"],
                expected.as_str(),
                "{unsupported} {concrete}"
            );
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.unwrap();
            assert!(
                problem["detail"].is_string(),
                "{unsupported} {concrete}: {problem}"
            );
        }

        if methods.iter().any(|m| m == "get") {
            let get = request(Method::GET).send().await.unwrap();
            let head = request(Method::HEAD).send().await.unwrap();
            assert_eq!(head.status(), get.status(), "HEAD {concrete}");
            assert_eq!(
                head.headers().get("content-type"),
                get.headers().get("content-type"),
                "HEAD {concrete}"
            );
            assert!(
                head.bytes().await.unwrap().is_empty(),
                "HEAD {concrete} sent a body"
            );
        }
    }
}

#[tokio::test]
async fn the_viewsets_own_resources_list_head_and_options() {
    let database = TestDatabase::sqlite();
    let server = support::start_seeded(&database);
    let client = reqwest::Client::new();
    for (method, path, allow) in [
        (Method::PUT, "/api/authors/1/books", "POST, OPTIONS"),
        (
            Method::POST,
            "/api/authors/1",
            "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
        ),
        (Method::DELETE, "/api/books", "GET, HEAD, POST, OPTIONS"),
        (Method::GET, "/api/authors/1/books", "POST, OPTIONS"),
    ] {
        let response = client
            .request(method.clone(), format!("{}{path}", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}
