//! The app as `build` assembles it: the routes `common` adds next to phase 4's, the methods every
//! path answers, the document that describes them, and the README that lists the topics.

use crate::support;

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase4_security::{Config, MANIFEST, SCHEMA};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Phase 4 from its configuration, exactly as the binary starts it.
async fn built(database: &TestDatabase) -> TestServer {
    let config = Config::local(database.database.url());
    let listener = common::testing::listener().expect("a free port");
    let app = phase4_security::build(config, listener)
        .await
        .expect("phase 4 builds");
    TestServer::spawn(app)
}

#[tokio::test]
async fn build_serves_the_index_the_document_and_swagger_ui_next_to_the_api() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = built(&database).await;
    let http = support::client();
    let base = server.base_url();

    let index: Value = http
        .get(format!("{base}/"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = index["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|topic| topic["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = MANIFEST.topics.iter().map(|topic| topic.id).collect();
    assert_eq!(ids, expected);
    // The rate-limited routes do not hide what `common` serves after them.
    for path in ["/openapi.json", "/docs/"] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers().get("ratelimit-limit").is_none(),
            "{path}"
        );
    }
    let api = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(api.headers()["ratelimit-limit"], "300");
    let nowhere = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        nowhere.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn every_path_answers_head_options_and_405_with_allow() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = built(&database).await;
    let http = support::client();
    let base = server.base_url();
    let cases = [
        (
            Method::GET,
            "/auth/token",
            StatusCode::METHOD_NOT_ALLOWED,
            "POST, OPTIONS",
        ),
        (
            Method::DELETE,
            "/v2/books",
            StatusCode::METHOD_NOT_ALLOWED,
            "GET, HEAD, POST, OPTIONS",
        ),
        (
            Method::PUT,
            "/oauth/userinfo",
            StatusCode::METHOD_NOT_ALLOWED,
            "GET, HEAD, POST, OPTIONS",
        ),
        (
            Method::OPTIONS,
            "/orders",
            StatusCode::NO_CONTENT,
            "GET, HEAD, POST, OPTIONS",
        ),
        (
            Method::OPTIONS,
            "/orders/7/pay",
            StatusCode::NO_CONTENT,
            "POST, OPTIONS",
        ),
    ];
    for (method, path, status, allow) in cases {
        let response = http
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    let trace = http
        .request(
            Method::from_bytes(b"TRACE").unwrap(),
            format!("{base}/login"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(trace.status(), StatusCode::METHOD_NOT_ALLOWED);
    // HEAD is GET without the body: the same status and headers.
    let head = http
        .head(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["cache-control"], "max-age=300");
    let anonymous = http.head(format!("{base}/v2/books")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_document_lists_every_route_of_the_manifest_and_the_rate_limits() {
    let phase = support::Phase4::sqlite().await;
    let (_, doc) = phase.get("/openapi.json", "").await;
    for topic in MANIFEST.topics {
        for route in topic.routes {
            let (method, path) = route.split_once(' ').unwrap();
            let path = if path == "/login/local" {
                "/login/{provider}"
            } else {
                path
            };
            let operation = &doc["paths"][path][method.to_lowercase()];
            assert!(
                operation.is_object(),
                "{}: {route} is not documented",
                topic.id
            );
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not a problem document"
                    );
                }
            }
            if path == "/" {
                continue;
            }
            let refused = &responses["429"];
            assert!(
                refused["headers"]["Retry-After"].is_object(),
                "{method} {path}"
            );
            for (status, response) in responses {
                // (The errors `common` adds to the document come after phase 4's own; only the
                // answers a handler documents carry the headers in it.)
                if status.starts_with('2') || status == "429" {
                    assert!(
                        response["headers"]["RateLimit-Remaining"].is_object(),
                        "{method} {path} {status} lacks the rate-limit headers"
                    );
                }
            }
        }
    }
}

/// The README's table: one row per topic of the manifest, in order, its file column linking
/// exactly the topic's modules.
#[test]
fn the_readme_table_is_the_manifests() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<Vec<&str>> = readme
        .lines()
        .filter(|line| line.starts_with("| 4."))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), MANIFEST.topics.len(), "one row per topic");
    for (row, topic) in rows.iter().zip(MANIFEST.topics) {
        assert_eq!(row[0], topic.id);
        assert_eq!(row[1], topic.title, "{}", topic.id);
        let links: Vec<String> = topic
            .modules
            .iter()
            .map(|module| format!("[`{module}`](src/{module})"))
            .collect();
        assert_eq!(row[4], links.join(", "), "{}", topic.id);
    }
}

/// `--insecure-benchmark-without-tokens` exists for `scripts/bench-http`, to measure what the token
/// check costs; it is off unless asked for, and even then a token that is sent is still checked.
#[tokio::test]
async fn only_the_benchmark_setting_serves_a_request_without_a_token() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = built(&database).await;
    let url = format!("{}/v2/books/1", server.base_url());
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let mut config = Config::local(database.database.url());
    config.insecure_benchmark_without_tokens = true;
    let app = phase4_security::build(config, common::testing::listener().unwrap())
        .await
        .unwrap();
    assert!(app.tour().contains("WARNING"), "{}", app.tour());
    let open = TestServer::spawn(app);
    let url = format!("{}/v2/books/1", open.base_url());
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let forged = http
        .get(&url)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_query_parameter_is_refused_except_where_oauth_says_ignore_it() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let server = built(&database).await;
    let http = support::client();
    let base = server.base_url();

    // A route that reads no query at all: a typo is not silently ignored.
    let response = http
        .get(format!("{base}/.well-known/jwks.json?kid=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "kid");
    assert_eq!(
        problem["detail"],
        "Query parameter `kid` is not a parameter of this route; it takes none"
    );
    assert_eq!(problem["instance"], "/.well-known/jwks.json");

    // The authorization endpoint ignores what it does not know (RFC 6749 §3.1): an OpenID client
    // that sends `prompt` or `ui_locales` still gets the login form, and the document says so.
    let login = http
        .get(format!(
            "{base}/oauth/authorize?response_type=code&client_id=demo-client\
             &redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=openid\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\
             &prompt=login&ui_locales=en"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/oauth/authorize"]["get"]["x-unknown-query-parameters"],
        "ignored"
    );
}
