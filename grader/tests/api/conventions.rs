//! The conventions every crate is graded on, checked against servers made to break them.
//!
//! Errors in the API's words, for every crate: the corpus of bad requests that the grader makes
//! from a crate's OpenAPI document (wrong path and query types, numbers too large for any integer,
//! bodies that are not objects or hold wrong types, unknown parameters) is answered without a
//! Rust type name or a parser's wording, and a server that leaks them fails. HTTP methods: a
//! route whose HEAD is not its GET fails, as phase 1's two hello routes once did unnoticed.

use actix_web::{App, HttpResponse, HttpServer, web};
use common::testing::TestServer;
use grader::{Status, Target, conventions, phase, targets};
use serde_json::json;
use url::Url;

/// The outcome of phase `name`'s convention check of `topic` against `target`.
async fn convention(name: &str, topic: &str, target: &Target) -> Status {
    let names: Vec<&str> = conventions::anonymous()
        .iter()
        .filter(|check| check.topic == topic)
        .map(|check| check.name)
        .collect();
    let checks = (phase(name).expect("a known phase").checks)();
    let check = checks
        .iter()
        .find(|check| check.topic == topic && names.contains(&check.name))
        .expect("every phase has the conventions' checks");
    check.run("test", target).await.status
}

async fn wording(name: &str, target: &Target) -> Status {
    convention(name, "1.6", target).await
}

#[test]
fn every_crate_is_graded_on_the_conventions() {
    // A crate added to the grader inherits HEAD/OPTIONS/405, the index and the error wording.
    let conventions = conventions::anonymous();
    for phase in grader::phases() {
        let checks = (phase.checks)();
        for convention in &conventions {
            assert!(
                checks
                    .iter()
                    .any(|check| check.topic == convention.topic && check.name == convention.name),
                "{} is not graded on {} {}",
                phase.name,
                convention.topic,
                convention.name
            );
        }
    }
}

#[tokio::test]
async fn every_crate_answers_bad_requests_in_the_apis_words() {
    for phase in grader::phases() {
        let running = targets::start(phase.name).await.unwrap();
        assert_eq!(
            wording(phase.name, &running.target).await,
            Status::Pass,
            "{}",
            phase.name
        );
        running.stop().await.unwrap();
    }
}

/// A server documenting one route, `GET /items/{id}`, whose 400 says `detail`.
fn leaky_server(detail: &'static str, content_type: &'static str) -> TestServer {
    TestServer::start(move |listener| {
        Ok(HttpServer::new(move || {
            App::new()
                .route(
                    "/openapi.json",
                    web::get().to(|| async {
                        HttpResponse::Ok().json(json!({
                            "openapi": "3.1.0",
                            "paths": {"/items/{id}": {"get": {
                                "parameters": [{"name": "id", "in": "path", "required": true,
                                                "schema": {"type": "integer"}}],
                                "responses": {"200": {"description": "the item"}}
                            }}}
                        }))
                    }),
                )
                .default_service(web::to(move || async move {
                    HttpResponse::BadRequest()
                        .content_type(content_type)
                        .body(json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}).to_string())
                }))
        })
        .workers(1)
        .listen(listener)?
        .run())
    })
    .expect("start the server")
}

async fn wording_of(server: &TestServer) -> Status {
    let url = Url::parse(&server.base_url()).expect("the server's URL");
    wording("phase3", &Target::new(url).expect("a target")).await
}

#[tokio::test]
async fn a_problem_in_rusts_words_fails() {
    for (detail, word) in [
        (r#"can not parse "abc" to a u64"#, "can not parse"),
        ("invalid digit found in string", "invalid digit"),
        ("expected i32", "i32"),
        ("expected struct NewBook at line 1 column 8", "struct "),
    ] {
        let server = leaky_server(detail, "application/problem+json");
        match wording_of(&server).await {
            Status::Fail(reason) => assert!(reason.contains(&format!("`{word}`")), "{reason}"),
            other => panic!("{detail}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_same_words_pass_and_an_error_that_is_no_problem_fails() {
    let server = leaky_server("`id` must be a whole number", "application/problem+json");
    assert_eq!(wording_of(&server).await, Status::Pass);
    let server = leaky_server("`id` must be a whole number", "text/plain");
    match wording_of(&server).await {
        Status::Fail(reason) => assert!(reason.contains("not a problem document"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A server documenting `GET /hello` and answering it, but not HEAD: actix's router alone, without
/// `common`'s middleware, answers HEAD on a GET-only route with 404.
#[tokio::test]
async fn a_route_whose_head_is_not_its_get_fails() {
    let server = TestServer::start(|listener| {
        Ok(HttpServer::new(|| {
            App::new()
                .route(
                    "/openapi.json",
                    web::get().to(|| async {
                        HttpResponse::Ok().json(json!({
                            "openapi": "3.1.0",
                            "paths": {"/hello": {"get": {"responses": {"200": {"description": "hi"}}}}}
                        }))
                    }),
                )
                .route("/hello", web::get().to(|| async { HttpResponse::Ok().json("hi") }))
        })
        .workers(1)
        .listen(listener)?
        .run())
    })
    .expect("start the server");
    let target = Target::new(Url::parse(&server.base_url()).unwrap()).unwrap();
    match convention("phase1", "1.1", &target).await {
        Status::Fail(reason) => {
            assert!(reason.contains("/hello: HEAD answered 404"), "{reason}");
            assert!(reason.contains("OPTIONS /hello answered 404"), "{reason}");
            assert!(reason.contains("PATCH /hello: expected 405"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
