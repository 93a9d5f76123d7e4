//! Phase 3 over HTTP as a client meets it, built from its `Config` as the binary builds it, on every
//! backend: one policy for query parameters, 405 for a method a path lacks, every route in the
//! OpenAPI document, and bodies up to the largest the rules allow.

use crate::support;

use common::db::testing::TestDatabase;
use phase3_db::MANIFEST;
use phase3_db::migrations::SCHEMA;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::Phase3;

/// Rust's words, which no client should read.
const RUST_WORDS: [&str; 8] = [
    "u32",
    "u64",
    "i32",
    "i64",
    "f64",
    "invalid digit",
    "struct ",
    "line 1 column",
];

async fn problem(response: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{what}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    let body: Value = response.json().await.expect("a problem document");
    let words = body.to_string();
    for rust in RUST_WORDS {
        assert!(!words.contains(rust), "{what}: `{rust}` in {body}");
    }
    body
}

/// The one field a problem's `errors` names, and what it says of it.
fn error_of(problem: &Value) -> (&str, &str) {
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{problem}");
    (
        errors[0]["field"].as_str().expect("a field"),
        errors[0]["message"].as_str().expect("a message"),
    )
}

#[tokio::test]
async fn the_app_builds_from_its_config_and_says_what_it_uses() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let app = Phase3::start(database).await;
        for line in ["database: ", "key-value store: ", "MongoDB: "] {
            assert!(app.tour.contains(line), "{line}\n{}", app.tour);
        }
        let store = if app.config.redis_url.is_some() {
            "redis"
        } else {
            "memory"
        };
        let put = reqwest::Client::new()
            .put(app.url("/kv/greeting"))
            .json(&json!({"value": "hello"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        assert_eq!(put.headers()["x-store"], store);
        let backend: Value = reqwest::get(app.url("/backend"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            backend["backend"],
            format!("{:?}", app.backend()).to_lowercase()
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn query_parameters_follow_one_policy() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let app = Phase3::start(database).await;
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(app.url(path)).send();

        // Counts and limits are whole numbers, 0 or more: `-1` is of the wrong type, a 400.
        for path in ["/reviews/latest?limit=-1", "/books-with-reviews?limit=-1"] {
            let body = problem(get(path).await.unwrap(), 400, path).await;
            assert_eq!(
                error_of(&body),
                ("limit", "must be a whole number, 0 or more, not `-1`"),
                "{path}"
            );
        }
        let body = problem(get("/reviews/latest?limit=ten").await.unwrap(), 400, "ten").await;
        assert_eq!(error_of(&body).0, "limit");

        // A well-typed value that breaks a rule is a 422.
        for path in [
            "/reviews/latest?limit=0",
            "/reviews/latest?limit=101",
            "/books-with-reviews?limit=0",
            "/books-with-reviews?limit=101",
        ] {
            let body = problem(get(path).await.unwrap(), 422, path).await;
            assert_eq!(error_of(&body).0, "limit", "{path}");
        }
        let within = get("/reviews/latest?limit=100").await.unwrap();
        assert_eq!(within.status(), 200);

        // Unknown, repeated or mistyped: 400, naming the parameter.
        let body = problem(get("/reviews/latest?lmit=3").await.unwrap(), 400, "typo").await;
        assert_eq!(
            error_of(&body),
            ("lmit", "is not a parameter of this route")
        );
        let body = problem(
            get("/reviews/latest?limit=1&limit=2").await.unwrap(),
            400,
            "repeated",
        )
        .await;
        assert_eq!(error_of(&body).0, "limit");
        for (path, field) in [
            ("/reviews/latest?via=sideways", "via"),
            ("/books-with-reviews?strategy=lazier", "strategy"),
            ("/reports/tags?using=nosql", "using"),
        ] {
            let body = problem(get(path).await.unwrap(), 400, path).await;
            assert_eq!(error_of(&body).0, field, "{path}");
        }

        // A counter counts down with a negative `by`, within its range.
        let name = common::testing::unique_name("policy");
        let post = |query: &str| {
            client
                .post(app.url(&format!("/counters/{name}{query}")))
                .send()
        };
        let down: Value = post("?by=-5").await.unwrap().json().await.unwrap();
        assert_eq!(down["value"], -5);
        let body = problem(post("?by=2000000").await.unwrap(), 422, "by too large").await;
        assert_eq!(error_of(&body).0, "by");
        problem(post("?by=1.5").await.unwrap(), 400, "by=1.5").await;
        app.stop().await;
    }
}

#[tokio::test]
async fn a_method_a_path_lacks_is_405_and_head_and_options_answer() {
    let app = Phase3::start(TestDatabase::sqlite_with(&SCHEMA)).await;
    let client = reqwest::Client::new();

    // The counter is POST only: GET is a 405 that says what the path has.
    let response = client
        .get(app.url("/counters/visits"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    let body = problem(response, 405, "GET /counters/visits").await;
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );

    let options = client
        .request(Method::OPTIONS, app.url("/kv/greeting"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        options.headers()["allow"],
        "GET, HEAD, PUT, DELETE, OPTIONS"
    );

    let head = client.head(app.url("/reviewers")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert!(head.bytes().await.unwrap().is_empty());

    let post = client.post(app.url("/reviewers")).send().await.unwrap();
    assert_eq!(post.headers()["allow"], "GET, HEAD, OPTIONS");
    problem(post, 405, "POST /reviewers").await;
    app.stop().await;
}

#[tokio::test]
async fn the_document_lists_every_route_of_the_manifest() {
    let app = Phase3::start(TestDatabase::sqlite_with(&SCHEMA)).await;
    let doc: Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mongodb = app.config.mongodb_url.is_some();
    for topic in MANIFEST.topics {
        for route in topic.routes {
            let Some((method, path)) = route.split_once(' ').filter(|(m, _)| *m != "--") else {
                continue;
            };
            let operation = &doc["paths"][path][method.to_lowercase()];
            if path.starts_with("/mongo") && !mongodb {
                assert!(operation.is_null(), "{route} is listed without MongoDB");
                continue;
            }
            assert!(operation.is_object(), "{route} is not in the document");
            let answers = operation["responses"].as_object().expect("responses");
            assert!(
                answers.keys().any(|status| status.starts_with('2')),
                "{route} documents no success"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn without_mongodb_everything_under_mongo_names_the_variable() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let config = phase3_db::Config::new(database.database.url());
    let app = Phase3::start_with(database, config).await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (Method::GET, "/mongo/reading-lists"),
        (Method::POST, "/mongo/reading-lists"),
        (Method::PUT, "/mongo/reading-lists"),
        (
            Method::OPTIONS,
            "/mongo/reading-lists/0123456789abcdef01234567",
        ),
        (Method::GET, "/mongo/stats/tags"),
    ] {
        let response = client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let body = problem(response, 503, &format!("{method} {path}")).await;
        assert!(
            body["detail"].as_str().unwrap().contains("MONGODB_URL"),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn keys_and_values_follow_their_rules() {
    let app = Phase3::start(TestDatabase::sqlite_with(&SCHEMA)).await;
    let client = reqwest::Client::new();

    // A key of 200 characters (not bytes) is fine; 201, or a control character, breaks the rule.
    let long = "é".repeat(200);
    let absent = client
        .get(app.url(&format!("/kv/{long}")))
        .send()
        .await
        .unwrap();
    problem(absent, 404, "200 characters").await;
    let too_long = format!("/kv/{long}é");
    let body = problem(
        client.get(app.url(&too_long)).send().await.unwrap(),
        422,
        "201",
    )
    .await;
    assert_eq!(error_of(&body).0, "key");
    let body = problem(
        client.get(app.url("/kv/bell%07")).send().await.unwrap(),
        422,
        "a control character",
    )
    .await;
    assert_eq!(
        error_of(&body),
        ("key", "must not contain control characters")
    );

    // JSON Schema counts 60.0 as an integer, as the document promises; 1.5 is not one.
    let put = |body: String| {
        client
            .put(app.url("/kv/ttl"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let stored: Value = put(r#"{"value": "v", "ttl_seconds": 60.0}"#.to_owned())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["ttl_seconds"], 60);
    for ttl in ["1.5", "-1"] {
        let message = format!("must be a whole number, 0 or more, not `{ttl}`");
        let body = problem(
            put(format!(r#"{{"value": "v", "ttl_seconds": {ttl}}}"#))
                .await
                .unwrap(),
            422,
            ttl,
        )
        .await;
        assert_eq!(error_of(&body), ("ttl_seconds", message.as_str()), "{ttl}");
    }
    let body = problem(
        put(r#"{"value": "v", "ttl_seconds": 0}"#.to_owned())
            .await
            .unwrap(),
        422,
        "ttl 0",
    )
    .await;
    assert_eq!(error_of(&body).0, "ttl_seconds");

    // The largest value the rules allow, each character a JSON escape pair (12 bytes), fits the
    // body limit: a valid body is never a 413.
    let largest = format!(r#"{{"value": "{}"}}"#, r"\ud83d\ude00".repeat(65_536));
    assert!(largest.len() > 768 * 1024);
    let response = put(largest).await.unwrap();
    assert_eq!(response.status(), 200);
    let over = format!(r#"{{"value": "{}"}}"#, "x".repeat(65_537));
    let body = problem(put(over).await.unwrap(), 422, "65,537 characters").await;
    assert_eq!(error_of(&body).0, "value");
    app.stop().await;
}
