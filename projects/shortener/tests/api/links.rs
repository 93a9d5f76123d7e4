//! Making links: codes and aliases, the destinations refused, owners.

use common::db::testing::TestDatabase;
use serde_json::{Value, json};
use shortener::SCHEMA;

use crate::support::{App, header, to};

#[tokio::test]
async fn a_link_gets_a_random_code_or_its_alias_and_an_alias_is_taken_once() {
    // Every backend: the unique code is the database's to enforce.
    for database in TestDatabase::all_with(&SCHEMA) {
        let app = App::start_with(database, |_| {}).await;
        let ada = app.token("ada").await;

        let response = app
            .create(&ada, to("https://www.rust-lang.org/learn"))
            .await;
        assert_eq!(response.status(), 201);
        let location = header(&response, "location").to_owned();
        let link: Value = response.json().await.unwrap();
        let code = link["code"].as_str().unwrap();
        assert_eq!(code.len(), 6, "{link}");
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
        assert_eq!(location, format!("/links/{code}"));
        assert_eq!(link["short_url"], app.url(&format!("/{code}")));
        assert_eq!(link["redirect_status"], 302);

        let mine = app
            .link(
                &ada,
                json!({"url": "https://example.com/a", "alias": "my-talk"}),
            )
            .await;
        assert_eq!(mine, "my-talk");
        let again = app
            .create(
                &ada,
                json!({"url": "https://example.com/b", "alias": "my-talk"}),
            )
            .await;
        assert_eq!(again.status(), 409);
        assert_eq!(header(&again, "content-type"), "application/problem+json");
        let problem: Value = again.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("my-talk"),
            "{problem}"
        );

        // Random codes do not repeat.
        let mut codes = std::collections::HashSet::new();
        for _ in 0..20 {
            codes.insert(app.link(&ada, to("https://example.com/")).await);
        }
        assert_eq!(codes.len(), 20);
    }
}

#[tokio::test]
async fn destinations_that_are_not_http_links_elsewhere_are_refused_by_field() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let loop_to_us = app.url("/abc");
    let refusals = [
        (json!({"url": "javascript:alert(1)"}), "url", "scheme"),
        (
            json!({"url": "data:text/html,<script>alert(1)</script>"}),
            "url",
            "scheme",
        ),
        (json!({"url": "file:///etc/passwd"}), "url", "scheme"),
        (json!({"url": "ftp://example.com/file"}), "url", "scheme"),
        (json!({"url": "example.com"}), "url", "url"),
        (
            json!({"url": "https://bank.example@evil.example/"}),
            "url",
            "credentials",
        ),
        (json!({"url": long}), "url", "length"),
        (json!({"url": loop_to_us}), "url", "loop"),
        (
            json!({"url": "https://example.com", "alias": "links"}),
            "alias",
            "reserved",
        ),
        (
            json!({"url": "https://example.com", "alias": "DOCS"}),
            "alias",
            "reserved",
        ),
        (
            json!({"url": "https://example.com", "alias": "a b"}),
            "alias",
            "alias",
        ),
        (
            json!({"url": "https://example.com", "redirect_status": 303}),
            "redirect_status",
            "invalid",
        ),
        (
            json!({"url": "https://example.com", "valid_until": "2001-01-01T00:00:00Z"}),
            "valid_until",
            "future",
        ),
        (
            json!({"url": "https://example.com", "max_visits": 0}),
            "max_visits",
            "range",
        ),
    ];
    for (body, field, code) in refusals {
        let response = app.create(&ada, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{body}: {problem}"
        );
    }
    // Through a proxy the service has another name: a link to the name it was reached by loops.
    let response = app
        .http
        .post(app.url("/links"))
        .bearer_auth(&ada)
        .header("Host", "sho.rt")
        .json(&json!({"url": "http://sho.rt/abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    // A destination is stored as a URL is written: the host in lower case, a path.
    let link: Value = app
        .create(&ada, to("HTTPS://Example.COM"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(link["url"], "https://example.com/");
}

#[tokio::test]
async fn only_the_owner_sees_edits_and_deletes_a_link() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let admin = app.token("admin").await;
    let code = app.link(&ada, to("https://example.com/ada")).await;
    let path = format!("/links/{code}");

    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status(), 401);
    assert!(header(&anonymous, "www-authenticate").starts_with("Bearer"));
    let made = app
        .http
        .post(app.url("/links"))
        .json(&to("https://example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 401);

    for request in [
        app.http.get(app.url(&path)),
        app.http
            .patch(app.url(&path))
            .json(&to("https://example.com/admin")),
        app.http.delete(app.url(&path)),
        app.http.get(app.url(&format!("{path}/stats"))),
    ] {
        let response = request.bearer_auth(&admin).send().await.unwrap();
        assert_eq!(response.status(), 403);
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("someone else"),
            "{problem}"
        );
    }
    let listed: Vec<Value> = app
        .http
        .get(app.url("/links"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.is_empty(), "admin sees only admin's links");
    assert_eq!(
        header(&app.visit(&code).await, "location"),
        "https://example.com/ada"
    );

    let changed = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&ada)
        .json(&json!({"url": "https://example.com/new", "redirect_status": 307, "max_visits": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (
            changed["redirect_status"].clone(),
            changed["visits_left"].clone()
        ),
        (json!(307), json!(5))
    );
    // The change is served at once, though the old destination was cached in this process.
    let visit = app.visit(&code).await;
    assert_eq!(visit.status(), 307);
    assert_eq!(header(&visit, "location"), "https://example.com/new");
    // `null` takes the limit away; a field not sent is left as it is.
    let unlimited: Value = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&ada)
        .json(&json!({"max_visits": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unlimited["max_visits"], Value::Null);
    assert_eq!(unlimited["redirect_status"], 307);

    let deleted = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.visit(&code).await.status(), 404);
    let again = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn making_links_is_rate_limited_per_user_and_following_them_is_not() {
    let app = App::start_with(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.rate_limit = 5;
    })
    .await;
    // The login counts against the address; the links against ada.
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/")).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.create(&ada, to("https://example.com/"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [201, 201, 201, 201, 429]);
    let refused = app.create(&ada, to("https://example.com/")).await;
    assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);
    for _ in 0..20 {
        assert_eq!(app.visit(&code).await.status(), 302);
    }
}

#[tokio::test]
async fn the_qr_codes_are_a_png_and_an_svg_of_the_short_url() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/")).await;
    let png = app.get(&format!("/links/{code}/qr.png")).await;
    assert_eq!(png.status(), 200);
    assert_eq!(header(&png, "content-type"), "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let svg = app.get(&format!("/links/{code}/qr.svg")).await;
    assert_eq!(header(&svg, "content-type"), "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let missing = app.get("/links/nothing/qr.png").await;
    assert_eq!(missing.status(), 404);
}
