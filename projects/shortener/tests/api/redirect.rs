//! Following links: each status with its `Cache-Control`, expiry and visit limits, the tiers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{App, FIREFOX, header, to};

#[tokio::test]
async fn each_redirect_status_is_sent_with_the_caching_it_needs() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let cases = [
        (None, 302, "private, no-cache"),
        (Some(301), 301, "public, max-age=86400"),
        (Some(302), 302, "private, no-cache"),
        (Some(307), 307, "private, no-cache"),
        (Some(308), 308, "public, max-age=86400"),
    ];
    for (asked, status, cache_control) in cases {
        let mut body = to("https://example.com/there?x=1");
        if let Some(asked) = asked {
            body["redirect_status"] = json!(asked);
        }
        let code = app.link(&ada, body).await;
        let response = app.visit(&code).await;
        assert_eq!(response.status(), status, "{asked:?}");
        assert_eq!(
            header(&response, "location"),
            "https://example.com/there?x=1"
        );
        assert_eq!(
            header(&response, "cache-control"),
            cache_control,
            "{status}"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // A permanent redirect is never kept past its link's expiry.
    let until = chrono::Utc::now() + chrono::Duration::seconds(120);
    let code = app
        .link(
            &ada,
            json!({"url": "https://example.com/", "redirect_status": 301, "valid_until": until}),
        )
        .await;
    let max_age: u64 = header(&app.visit(&code).await, "cache-control")
        .trim_start_matches("public, max-age=")
        .parse()
        .unwrap();
    assert!((110..=120).contains(&max_age), "{max_age}");
}

#[tokio::test]
async fn a_link_is_gone_after_its_expiry_and_after_its_last_visit() {
    let app = App::start().await;
    let ada = app.token("ada").await;

    let until = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let brief = app
        .link(
            &ada,
            json!({"url": "https://example.com/", "valid_until": until}),
        )
        .await;
    assert_eq!(app.visit(&brief).await.status(), 302);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let gone = app.visit(&brief).await;
    assert_eq!(gone.status(), 410);
    assert_eq!(header(&gone, "content-type"), "application/problem+json");
    let problem: Value = gone.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );

    let twice = app
        .link(
            &ada,
            json!({"url": "https://example.com/", "max_visits": 2}),
        )
        .await;
    // HEAD is not a visit: it uses up nothing.
    for _ in 0..3 {
        let head = app
            .http
            .head(app.url(&format!("/{twice}")))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 302);
        assert_eq!(header(&head, "cache-control"), "no-store");
    }
    assert_eq!(app.visit(&twice).await.status(), 302);
    assert_eq!(app.visit(&twice).await.status(), 302);
    let over = app.visit(&twice).await;
    assert_eq!(over.status(), 410);
    let problem: Value = over.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("all its visits"),
        "{problem}"
    );
    assert_eq!(
        app.http
            .head(app.url(&format!("/{twice}")))
            .send()
            .await
            .unwrap()
            .status(),
        410
    );

    // Twenty at once for the last three visits: three get through.
    let three = app
        .link(
            &ada,
            json!({"url": "https://example.com/", "max_visits": 3}),
        )
        .await;
    let visits = (0..20).map(|_| app.visit(&three));
    let statuses: Vec<u16> = futures_util::future::join_all(visits)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        17,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_unknown_code_is_cached_as_unknown_until_a_link_takes_it() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let missing = app.visit("later-link").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "content-type"), "application/problem+json");
    // The second miss is answered from the negative entry, not the database.
    assert_eq!(header(&app.visit("later-link").await, "x-cache"), "memory");
    // Making the link forgets the negative entry at once.
    app.link(
        &ada,
        json!({"url": "https://example.com/", "alias": "later-link"}),
    )
    .await;
    let found = app.visit("later-link").await;
    assert_eq!(found.status(), 302);
    assert_eq!(header(&found, "x-cache"), "database");
    assert_eq!(header(&app.visit("later-link").await, "x-cache"), "memory");
    // What cannot be a code is not looked up at all.
    assert_eq!(app.visit("no.such~code").await.status(), 404);
}

#[tokio::test]
async fn the_redirect_keeps_phase_one_s_conventions() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/")).await;
    let options = app
        .http
        .request(reqwest::Method::OPTIONS, app.url(&format!("/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "allow"), "GET, HEAD, OPTIONS");
    let post = app
        .http
        .post(app.url(&format!("/{code}")))
        .header("User-Agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(header(&post, "allow"), "GET, HEAD, OPTIONS");
    assert_eq!(header(&post, "content-type"), "application/problem+json");
    // What sites add to the links they pass on is ignored (elsewhere it is refused).
    let query = app.visit(&format!("{code}?fbclid=IwAR0abc")).await;
    assert_eq!(query.status(), 302);
    assert_eq!(header(&query, "location"), "https://example.com/");
    let listed = app
        .http
        .get(app.url("/links?fbclid=x"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 400);
}
