//! Phase 1 over HTTP: the behaviours the grader does not cover, seen as a client sees them.

use common::Problem;
use common::testing::{TestServer, listener};
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// A real PNG (8x8), the file the README's multipart line sends.
const PNG: &[u8] = include_bytes!("../../assets/cover.png");

struct Api {
    server: TestServer,
    client: Client,
}

impl Api {
    /// Phase 1 as the binary starts it, on a free port.
    async fn start() -> Self {
        let app = phase1_http::build(phase1_http::Config::default(), listener().expect("a port"))
            .await
            .expect("start phase 1");
        Self {
            server: TestServer::spawn(app),
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
    let fields = [("title", "T"), ("author", "A"), ("year", "2000")];
    // What the client calls them does not matter: their bytes are not images.
    for (kind, bytes) in [
        ("text/html", &b"<script>alert(1)</script>"[..]),
        (
            "image/svg+xml",
            &b"<svg><script>alert(1)</script></svg>"[..],
        ),
        ("image/png", &b"this is text in a file called fake.png"[..]),
    ] {
        let (content_type, body) = multipart(&fields, Some((kind, bytes)));
        let refused = api.post(&content_type, body).await;
        assert_eq!(
            problem(refused, 415).await.errors[0].field,
            "cover",
            "{kind}"
        );
    }

    let big = [PNG, &vec![0u8; 1024 * 1024]].concat();
    let (content_type, body) = multipart(&fields, Some(("image/png", &big)));
    let oversize = api.post(&content_type, body).await;
    let detail = problem(oversize, 413).await.detail.unwrap();
    assert!(detail.contains("1 MiB"), "{detail}");

    // A real PNG, sent as `text/plain`: stored, and served, as the PNG its bytes say it is.
    let (content_type, body) = multipart(&fields, Some(("text/plain", PNG)));
    let ok = api.post(&content_type, body).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let book: Value = ok.json().await.unwrap();
    assert_eq!(book["cover"]["content_type"], "image/png");
    let cover = api
        .request(Method::GET, &format!("/books/{}/cover", book["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(cover.headers()["x-content-type-options"], "nosniff");
    assert_eq!(cover.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(cover.bytes().await.unwrap(), PNG);

    let plain = api
        .create(json!({"title": "No cover", "author": "A", "year": 2000}))
        .await;
    let empty = api
        .request(Method::GET, &format!("/books/{}/cover", plain["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    let none = api
        .request(Method::GET, "/books/999/cover")
        .send()
        .await
        .unwrap();
    problem_status(none, 404).await;
}

#[tokio::test]
async fn a_garbled_authorization_header_is_a_400() {
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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
    let api = Api::start().await;
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

/// The errors of a problem as (field, code, message), for comparing two answers.
fn errors(problem: &Problem) -> Vec<(String, String, String)> {
    problem
        .errors
        .iter()
        .map(|e| (e.field.clone(), e.code.clone(), e.message.clone()))
        .collect()
}

fn fields(problem: &Problem) -> Vec<&str> {
    problem.errors.iter().map(|e| e.field.as_str()).collect()
}

#[tokio::test]
async fn one_422_names_every_missing_field() {
    let api = Api::start().await;
    let empty = problem(api.post("application/json", "{}").await, 422).await;
    assert_eq!(fields(&empty), ["author", "title", "year"]);
    assert!(
        empty.errors.iter().all(|e| e.message == "is required"),
        "{empty:?}"
    );
    let title_only = problem(api.post("application/json", r#"{"title":"T"}"#).await, 422).await;
    assert_eq!(fields(&title_only), ["author", "year"]);

    // A missing field, a mistyped one and a broken rule, all in one answer.
    let mixed = api
        .post(
            "application/json",
            r#"{"title":"","year":"soon","tags":["sf","sf"]}"#,
        )
        .await;
    let mixed = problem(mixed, 422).await;
    assert_eq!(fields(&mixed), ["author", "tags", "title", "year"]);
}

#[tokio::test]
async fn a_json_array_is_not_a_book() {
    let api = Api::start().await;
    let array = problem(api.post("application/json", r#"["T","A",2000]"#).await, 422).await;
    assert_eq!(fields(&array), ["body"]);
    assert_eq!(array.errors[0].message, "must be a JSON object");
    let books: Value = api
        .request(Method::GET, "/books")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(books, json!([]), "the array created a book");
}

#[tokio::test]
async fn a_mistake_reads_the_same_in_a_form_and_in_multipart() {
    let api = Api::start().await;
    let cases: [&[(&str, &str)]; 3] = [
        &[("title", "T"), ("author", "A"), ("year", "abc")],
        &[("author", "A"), ("year", "2000"), ("isbn13", "123")],
        &[
            ("title", "T"),
            ("author", "A"),
            ("year", "2000"),
            ("colour", "red"),
        ],
    ];
    for fields in cases {
        let form: String = fields
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        let form = problem(
            api.post("application/x-www-form-urlencoded", form).await,
            422,
        )
        .await;
        let (content_type, body) = multipart(fields, None);
        let upload = problem(api.post(&content_type, body).await, 422).await;
        assert_eq!(errors(&form), errors(&upload), "{fields:?}");
        assert_eq!(form.detail, upload.detail, "{fields:?}");
    }
    let (content_type, body) = multipart(&[("title", "T"), ("author", "A"), ("year", "abc")], None);
    let upload = problem(api.post(&content_type, body).await, 422).await;
    assert_eq!(
        upload.errors[0].message,
        "must be a whole number, not `abc`"
    );
}

#[tokio::test]
async fn lists_are_repeated_parameters_in_forms_multipart_and_queries() {
    let api = Api::start().await;
    let form = api
        .post(
            "application/x-www-form-urlencoded",
            "title=Emma&author=Austen&year=1815&tags=classic&tags=romance",
        )
        .await;
    assert_eq!(form.status(), StatusCode::CREATED);
    assert_eq!(
        form.json::<Value>().await.unwrap()["tags"],
        json!(["classic", "romance"])
    );
    let (content_type, body) = multipart(
        &[
            ("title", "Ulysses"),
            ("author", "Joyce"),
            ("year", "1922"),
            ("tags", "classic"),
        ],
        None,
    );
    assert_eq!(
        api.post(&content_type, body).await.status(),
        StatusCode::CREATED
    );

    let found: Value = api
        .request(Method::GET, "/books?tag=classic&tag=romance")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["title"], "Emma");
}

#[tokio::test]
async fn a_413_states_the_limit() {
    let api = Api::start().await;
    let title = "x".repeat(64 * 1024);
    let json = api
        .post(
            "application/json",
            format!(r#"{{"title":"{title}","author":"A","year":2000}}"#),
        )
        .await;
    assert_eq!(
        problem(json, 413).await.detail.as_deref(),
        Some("the body is over 64 KiB")
    );
    let form = api
        .post(
            "application/x-www-form-urlencoded",
            format!("title={title}"),
        )
        .await;
    assert_eq!(
        problem(form, 413).await.detail.as_deref(),
        Some("the body is over 64 KiB")
    );
    let echo = api
        .request(Method::POST, "/status/method")
        .body(title.clone() + "x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(echo, 413).await.detail.as_deref(),
        Some("the body is over 64 KiB")
    );
}

#[tokio::test]
async fn bad_numbers_are_400s_in_the_apis_words() {
    let api = Api::start().await;
    let get = |path: &'static str| api.request(Method::GET, path).send();
    let negative = problem(get("/books/-1").await.unwrap(), 400).await;
    assert_eq!(negative.errors[0].field, "id");
    assert_eq!(
        negative.errors[0].message,
        "must be a whole number, 0 or more, not `-1`"
    );
    let limit = problem(get("/books?limit=-1").await.unwrap(), 400).await;
    assert_eq!(limit.errors[0].field, "limit");
    assert!(limit.errors[0].message.contains("0 or more"), "{limit:?}");
    let huge = problem(get("/books/99999999999999999999").await.unwrap(), 400).await;
    assert_eq!(huge.errors[0].field, "id");
    let empty = problem(get("/books?year_from=").await.unwrap(), 400).await;
    assert_eq!(empty.errors[0].field, "year_from");
    let unknown = problem(get("/books?limits=5").await.unwrap(), 400).await;
    assert_eq!(unknown.errors[0].field, "limits");
    // A value of the right type that breaks a rule is the other failure: 422.
    problem_status(get("/books?limit=0").await.unwrap(), 422).await;
}

#[tokio::test]
async fn a_whole_number_may_be_written_as_json_writes_it() {
    let api = Api::start().await;
    let book = api
        .create(json!({"title": "T", "author": "A", "year": 1965.0, "format": {"kind": "ebook", "size_kb": 9.0}}))
        .await;
    assert_eq!(
        (book["year"].clone(), book["format"]["size_kb"].clone()),
        (json!(1965), json!(9))
    );
    let fraction = api
        .post(
            "application/json",
            r#"{"title":"T","author":"A","year":1965.5}"#,
        )
        .await;
    assert_eq!(problem(fraction, 422).await.errors[0].field, "year");
}

/// What a client sees of errors must be about HTTP and the API, never about Rust.
#[tokio::test]
async fn no_error_speaks_rust() {
    let api = Api::start().await;
    let json = "application/json";
    // Each request: method, path, and the body with its media type.
    type Body<'a> = Option<(&'a str, &'a str)>;
    let requests: Vec<(Method, &str, Body<'_>)> = vec![
        (Method::GET, "/books/-1", None),
        (Method::GET, "/books/abc", None),
        (Method::GET, "/books/99999999999999999999", None),
        (Method::GET, "/books?limit=-1", None),
        (Method::GET, "/books?limit=ten&offset=1.5", None),
        (Method::GET, "/books?tag=a&limit=1&limit=2", None),
        (Method::GET, "/status/redirect/70000", None),
        (Method::POST, "/books", Some((json, r#""a string""#))),
        (Method::POST, "/books", Some((json, r#"["T","A",2000]"#))),
        (
            Method::POST,
            "/books",
            Some((
                json,
                r#"{"title":"T","author":"A","year":99999999999999999999}"#,
            )),
        ),
        (
            Method::POST,
            "/books",
            Some((json, r#"{"title":"T","author":"A","year":"1965"}"#)),
        ),
        (
            Method::POST,
            "/books",
            Some((
                json,
                r#"{"title":"T","author":"A","year":1,"format":{"kind":"ebook"}}"#,
            )),
        ),
        (Method::POST, "/books", Some((json, r#"{"title": "#))),
        (
            Method::POST,
            "/books",
            Some((
                "application/x-www-form-urlencoded",
                "title=T&author=A&year=-99999999999",
            )),
        ),
        (Method::PATCH, "/books/1", Some((json, r#"{"year":[1]}"#))),
        (Method::DELETE, "/books", None),
    ];
    for (method, path, body) in requests {
        let mut request = api.request(method.clone(), path);
        if let Some((content_type, body)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{method} {path}: {status}");
        let problem: Problem = response.json().await.unwrap();
        let text = format!(
            "{} {}",
            problem.detail.clone().unwrap_or_default(),
            problem
                .errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        for rust in [
            "u64",
            "i32",
            "u32",
            "usize",
            "struct ",
            "line 1 column",
            "invalid digit",
            "ParseInt",
            "serde",
        ] {
            assert!(
                !text.contains(rust),
                "{method} {path} says `{rust}`: {text}"
            );
        }
        assert!(
            !text.trim().is_empty(),
            "{method} {path}: a problem that says nothing"
        );
    }
}

#[tokio::test]
async fn every_route_answers_head_options_and_405_as_its_document_says() {
    let api = Api::start().await;
    let head = api
        .request(Method::HEAD, "/hello/Ada")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.status(),
        StatusCode::OK,
        "HEAD on an attribute-macro route"
    );
    let options = api
        .request(Method::OPTIONS, "/hello/Ada")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()[ALLOW], "GET, HEAD, OPTIONS");
    let post = api
        .request(Method::POST, "/hello/Ada")
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()[ALLOW], "GET, HEAD, OPTIONS");
    let post = problem(post, 405).await;
    assert!(post.detail.unwrap().contains("POST"));

    // Each documented path lists, in OPTIONS, exactly the methods its document gives it.
    let document: Value = api
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "1")
            .replace("{name}", "Ada")
            .replace("{code}", "307");
        let response = api
            .request(Method::OPTIONS, &concrete)
            .send()
            .await
            .unwrap();
        let allow = response.headers()[ALLOW].to_str().unwrap().to_owned();
        for method in ["get", "post", "put", "patch", "delete"] {
            let listed = allow.split(", ").any(|m| m.eq_ignore_ascii_case(method));
            assert_eq!(
                listed,
                item.get(method).is_some(),
                "{path}: {method} in `{allow}`"
            );
        }
        let trace = api.request(Method::TRACE, &concrete).send().await.unwrap();
        assert_eq!(
            trace.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "TRACE {path}"
        );
    }
}

#[tokio::test]
async fn the_front_door_and_the_docs_answer() {
    let api = Api::start().await;
    let html = api.request(Method::GET, "/").send().await.unwrap();
    assert!(
        html.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = html.text().await.unwrap();
    assert!(page.contains("/docs/") && page.contains("1.9"), "{page}");
    let index: Value = api
        .request(Method::GET, "/")
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        index["topics"].as_array().unwrap().len(),
        phase1_http::MANIFEST.topics.len()
    );
    let docs = api.request(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);

    // Every route the manifest names is in the document, with its method.
    let document: Value = api
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for topic in phase1_http::MANIFEST.topics {
        for route in topic.routes {
            let Some((method, path)) = route.split_once(' ') else {
                continue;
            };
            if !path.starts_with('/') || path.contains(['?', ' ']) || path == "/books/abc" {
                continue;
            }
            let method = method.to_ascii_lowercase();
            let item = &document["paths"][path];
            assert!(
                method == "options" || item.get(&method).is_some(),
                "{} names {route}, which the document lacks",
                topic.id
            );
        }
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_read_asks_for_one_that_can() {
    let api = Api::start().await;
    for value in ["Bearer", "Basic !!!not-base64", "Bearer "] {
        let response = api
            .request(Method::GET, "/status/admin")
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{value}"
        );
        problem_status(response, 401).await;
    }
}

#[tokio::test]
async fn redirects_take_the_methods_they_document() {
    let api = Api::start().await;
    let put = api
        .request(Method::PUT, "/status/redirect/307")
        .send()
        .await
        .unwrap();
    assert_eq!(put.headers()[ALLOW], "GET, HEAD, POST, OPTIONS");
    problem_status(put, 405).await;
    let unknown = problem(
        api.request(Method::POST, "/status/redirect/303")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert!(unknown.detail.unwrap().contains("307"));
}
