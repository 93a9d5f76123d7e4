//! Phase 1 over HTTP: the behaviours the grader does not cover, seen as a client sees them.

use common::Problem;
use common::testing::TestServer;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Api {
    server: TestServer,
    client: Client,
}

impl Api {
    fn start() -> Self {
        Self {
            server: TestServer::start(phase1_http::serve).expect("start phase 1"),
            client: Client::new(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.server.base_url()))
    }

    /// POSTs `body` to /books as `content_type`.
    async fn post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.request(Method::POST, "/books")
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("POST /books")
    }

    async fn create(&self, book: Value) -> Value {
        let response = self
            .request(Method::POST, "/books")
            .json(&book)
            .send()
            .await
            .expect("POST /books");
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("a JSON book")
    }
}

async fn problem(response: reqwest::Response, status: u16) -> Problem {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    response.json().await.expect("a problem document")
}

fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "testboundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((content_type, bytes)) = file {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"cover\"; filename=\"c\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn put_creates_then_replaces_and_keeps_the_creation_time() {
    let api = Api::start();
    let book = json!({"title": "Emma", "author": "Austen", "year": 1815});
    let first = api
        .request(Method::PUT, "/books/77")
        .json(&book)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["location"], "/books/77");
    let first: Value = first.json().await.unwrap();

    let changed = json!({"title": "Emma", "author": "Jane Austen", "year": 1815});
    let second = api
        .request(Method::PUT, "/books/77")
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["author"], "Jane Austen");
    assert_eq!(second["created_at"], first["created_at"]);

    // A POST after a PUT to a high id gets a fresh id, never 77 again.
    let posted = api
        .create(json!({"title": "Next", "author": "A", "year": 2000}))
        .await;
    assert!(posted["id"].as_u64().unwrap() > 77);
}

#[tokio::test]
async fn patch_accepts_merge_patch_json_and_validates_what_it_names() {
    let api = Api::start();
    let book = api
        .create(json!({"title": "Dune", "author": "Herbert", "year": 1965}))
        .await;
    let path = format!("/books/{}", book["id"]);
    let patched = api
        .request(Method::PATCH, &path)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .body(r#"{"tags": ["sf"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        patched.json::<Value>().await.unwrap()["tags"],
        json!(["sf"])
    );

    let invalid = api
        .request(Method::PATCH, &path)
        .json(&json!({"year": 3000}))
        .send()
        .await
        .unwrap();
    let problem = problem(invalid, 422).await;
    assert_eq!(problem.errors[0].field, "year");
    let missing = api
        .request(Method::PATCH, "/books/424242")
        .json(&json!({"year": 2000}))
        .send()
        .await
        .unwrap();
    problem_status(missing, 404).await;
}

async fn problem_status(response: reqwest::Response, status: u16) {
    problem(response, status).await;
}

#[tokio::test]
async fn list_filters_and_pages() {
    let api = Api::start();
    for (title, author, year) in [
        ("A", "Le Guin", 1969),
        ("B", "Le Guin", 1974),
        ("C", "Butler", 1993),
    ] {
        api.create(json!({"title": title, "author": author, "year": year, "tags": ["sf"]}))
            .await;
    }
    let titles = |books: Value| -> Vec<String> {
        books
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |query: &'static str| api.request(Method::GET, query).send();
    assert_eq!(
        titles(
            get("/books?author=le%20guin")
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        ),
        ["A", "B"]
    );
    assert_eq!(
        titles(
            get("/books?year_from=1970&tag=sf")
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        ),
        ["B", "C"]
    );
    assert_eq!(
        titles(
            get("/books?limit=1&offset=1")
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        ),
        ["B"]
    );
    problem_status(get("/books?colour=red").await.unwrap(), 400).await;
}

#[tokio::test]
async fn a_single_book_is_json_only() {
    let api = Api::start();
    let book = api
        .create(json!({"title": "T", "author": "A", "year": 2000}))
        .await;
    let csv = api
        .request(Method::GET, &format!("/books/{}", book["id"]))
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .unwrap();
    problem_status(csv, 406).await;
}

#[tokio::test]
async fn form_and_multipart_type_errors_name_the_field() {
    let api = Api::start();
    let form = api
        .post(
            "application/x-www-form-urlencoded",
            "title=T&author=A&year=soon",
        )
        .await;
    assert_eq!(problem(form, 422).await.errors[0].field, "year");

    let (content_type, body) =
        multipart(&[("title", "T"), ("author", "A"), ("year", "soon")], None);
    let upload = api.post(&content_type, body).await;
    assert_eq!(problem(upload, 422).await.errors[0].field, "year");

    let (content_type, body) = multipart(&[("author", "A"), ("year", "2000")], None);
    let missing = api.post(&content_type, body).await;
    assert_eq!(problem(missing, 422).await.errors[0].field, "title");
}

#[tokio::test]
async fn a_cover_must_be_a_small_image() {
    let api = Api::start();
    let fields = [("title", "T"), ("author", "A"), ("year", "2000")];
    for (kind, bytes) in [
        ("text/html", &b"<script>alert(1)</script>"[..]),
        (
            "image/svg+xml",
            &b"<svg><script>alert(1)</script></svg>"[..],
        ),
    ] {
        let (content_type, body) = multipart(&fields, Some((kind, bytes)));
        let refused = api.post(&content_type, body).await;
        assert_eq!(
            problem(refused, 422).await.errors[0].field,
            "cover",
            "{kind}"
        );
    }

    let big = vec![0u8; 1024 * 1024 + 1];
    let (content_type, body) = multipart(&fields, Some(("image/png", &big)));
    let oversize = api.post(&content_type, body).await;
    problem_status(oversize, 413).await;

    let (content_type, body) = multipart(&fields, Some(("image/png", b"png")));
    let ok = api.post(&content_type, body).await;
    let book: Value = ok.json().await.unwrap();
    let cover = api
        .request(Method::GET, &format!("/books/{}/cover", book["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(cover.headers()["x-content-type-options"], "nosniff");
    let none = api
        .request(Method::GET, "/books/999/cover")
        .send()
        .await
        .unwrap();
    problem_status(none, 404).await;
}

#[tokio::test]
async fn a_garbled_authorization_header_is_a_400() {
    let api = Api::start();
    for value in ["Bearer", "Basic !!!not-base64", "nonsense"] {
        let response = api
            .request(Method::GET, "/headers/echo")
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        problem_status(response, 400).await;
    }
    let basic = api
        .request(Method::GET, "/headers/echo")
        .basic_auth("ada", Some("pw"))
        .send()
        .await
        .unwrap();
    let echo: Value = basic.json().await.unwrap();
    assert_eq!(
        echo["authorization"],
        json!({"scheme": "Basic", "user": "ada"})
    );
    assert!(!echo.to_string().contains("pw\""));
}

#[tokio::test]
async fn inspect_shows_the_bytes_on_the_wire() {
    let api = Api::start();
    let url = format!("{}/hello/wire", api.server.base_url());
    let exchange = phase1_http::raw_http::inspect(&url).await.unwrap();
    let request = String::from_utf8(exchange.request).unwrap();
    assert!(request.starts_with(&format!(
        "GET /hello/wire HTTP/1.1\r\nHost: {}\r\n",
        api.server.address()
    )));
    assert!(request.ends_with("\r\n\r\n"));
    let response = String::from_utf8(exchange.response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(r#"{"greeting":"Hello, wire!"}"#),
        "{response}"
    );

    assert!(
        phase1_http::raw_http::inspect("https://example.com/")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_put_to_the_last_id_leaves_post_a_clear_conflict() {
    let api = Api::start();
    let book = json!({"title": "Last", "author": "A", "year": 2000});
    let put = api
        .request(Method::PUT, &format!("/books/{}", u64::MAX))
        .json(&book)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let post = api
        .request(Method::POST, "/books")
        .json(&book)
        .send()
        .await
        .unwrap();
    problem_status(post, 409).await;
}

#[tokio::test]
async fn a_refused_type_is_not_chosen_through_a_wildcard() {
    let api = Api::start();
    let response = api
        .request(Method::GET, "/books")
        .header(ACCEPT, "text/*, text/csv;q=0")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}
