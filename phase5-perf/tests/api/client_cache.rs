//! 5.1: Cache-Control per resource, validators, conditional reads and writes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Phase5, header};

#[tokio::test]
async fn a_listing_has_a_strong_etag_and_a_conditional_get_answers_304() {
    let app = Phase5::sqlite().await;
    let first = app.get("/catalogue/1").await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = header(&first, "etag").to_owned();
    let last_modified = header(&first, "last-modified").to_owned();
    assert_eq!(etag, "\"v1\"");
    assert_eq!(
        header(&first, "cache-control"),
        "public, max-age=60, stale-while-revalidate=300"
    );
    assert!(!last_modified.is_empty());

    for if_none_match in [etag.as_str(), "\"v0\", \"v1\"", "*", "W/\"v1\""] {
        let again = app
            .http
            .get(app.url("/catalogue/1"))
            .header("If-None-Match", if_none_match)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{if_none_match}");
        assert_eq!(header(&again, "etag"), etag);
        assert_eq!(
            header(&again, "cache-control"),
            header(&first, "cache-control")
        );
        assert_eq!(header(&again, "vary"), header(&first, "vary"));
        assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
    let other = app
        .http
        .get(app.url("/catalogue/1"))
        .header("If-None-Match", "\"v0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // If-Modified-Since alone decides only without If-None-Match.
    let since = app
        .http
        .get(app.url("/catalogue/1"))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), StatusCode::NOT_MODIFIED);
    let stale_tag_wins = app
        .http
        .get(app.url("/catalogue/1"))
        .header("If-Modified-Since", &last_modified)
        .header("If-None-Match", "\"v0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale_tag_wins.status(),
        StatusCode::OK,
        "If-None-Match takes precedence"
    );
    let long_ago = app
        .http
        .get(app.url("/catalogue/1"))
        .header("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(long_ago.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_compressed_catalogue_has_a_weak_etag_and_keeps_vary() {
    let app = Phase5::sqlite().await;
    let plain = app.get("/catalogue").await;
    let strong = header(&plain, "etag").to_owned();
    assert!(
        strong.starts_with('"'),
        "identity bytes, strong tag: {strong}"
    );
    assert_eq!(header(&plain, "vary"), "Accept, Accept-Encoding");

    let gzip = app
        .http
        .get(app.url("/catalogue"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&gzip, "content-encoding"), "gzip");
    assert_eq!(header(&gzip, "etag"), format!("W/{strong}"));
    assert_eq!(header(&gzip, "vary"), "Accept, Accept-Encoding");

    // A 304 to the same client carries the tag its 200 had, and the same Vary.
    let revalidated = app
        .http
        .get(app.url("/catalogue"))
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", format!("W/{strong}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&revalidated, "etag"), format!("W/{strong}"));
    assert_eq!(header(&revalidated, "vary"), "Accept, Accept-Encoding");

    // A client that refuses gzip gets the identity bytes, so its 304 keeps the strong tag.
    let refuses = app
        .http
        .get(app.url("/catalogue"))
        .header("Accept-Encoding", "gzip;q=0, identity")
        .header("If-None-Match", &strong)
        .send()
        .await
        .unwrap();
    assert_eq!(refuses.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&refuses, "etag"), strong);

    // CSV is another representation of the same URL: another tag.
    let csv = app
        .http
        .get(app.url("/catalogue"))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&csv, "content-type"), "text/csv");
    assert_ne!(header(&csv, "etag"), strong);
    assert!(
        csv.text()
            .await
            .unwrap()
            .starts_with("book_id,title,author")
    );
    let neither = app
        .http
        .get(app.url("/catalogue"))
        .header("Accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(neither.status(), StatusCode::NOT_ACCEPTABLE);
}

/// The lost update: two clients read version 1 and both write. Without If-Match the second
/// write would silently undo the first; with it, the second gets 412 and reads again.
#[tokio::test]
async fn if_match_prevents_the_lost_update_of_two_clients() {
    let app = Phase5::sqlite().await;
    let (alice, bob) = (crate::support::client(), crate::support::client());
    let read = |client: reqwest::Client| {
        let url = app.url("/catalogue/2");
        async move {
            let response = client.get(url).send().await.unwrap();
            let etag = header(&response, "etag").to_owned();
            (etag, response.json::<Value>().await.unwrap())
        }
    };
    let (alice_tag, _) = read(alice.clone()).await;
    let (bob_tag, _) = read(bob.clone()).await;
    assert_eq!(alice_tag, bob_tag);

    let put = |client: &reqwest::Client, tag: Option<&str>, price: i32| {
        let mut request = client
            .put(app.url("/catalogue/2"))
            .json(&json!({"price_cents": price, "stock": 3}));
        if let Some(tag) = tag {
            request = request.header("If-Match", tag);
        }
        request.send()
    };
    let missing = put(&alice, None, 1500).await.unwrap();
    assert_eq!(missing.status(), StatusCode::PRECONDITION_REQUIRED);
    assert!(header(&missing, "content-type").starts_with("application/problem+json"));

    let first = put(&alice, Some(&alice_tag), 1500).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "etag"), "\"v2\"");

    let second = put(&bob, Some(&bob_tag), 999).await.unwrap();
    assert_eq!(second.status(), StatusCode::PRECONDITION_FAILED);
    let problem: Value = second.json().await.unwrap();
    assert_eq!(problem["current_etag"], "\"v2\"");

    let (now_tag, now) = read(bob.clone()).await;
    assert_eq!(now["price_cents"], 1500, "Alice's change survived");
    let retried = put(&bob, Some(&now_tag), 999).await.unwrap();
    assert_eq!(retried.status(), StatusCode::OK);

    // A weak tag never passes If-Match (the strong comparison), and PATCH and DELETE are guarded
    // the same way.
    let weak = app
        .http
        .patch(app.url("/catalogue/2"))
        .header("If-Match", "W/\"v3\"")
        .json(&json!({"stock": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::PRECONDITION_FAILED);
    let patched = app
        .http
        .patch(app.url("/catalogue/2"))
        .header("If-Match", "\"v3\"")
        .json(&json!({"stock": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["price_cents"].clone(), patched["stock"].clone()),
        (json!(999), json!(1))
    );
    let delete = |tag: &'static str| {
        app.http
            .delete(app.url("/catalogue/2"))
            .header("If-Match", tag)
            .send()
    };
    assert_eq!(
        delete("\"v3\"").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        delete("\"v4\"").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/catalogue/2").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn each_resource_has_the_cache_control_its_data_needs() {
    let app = Phase5::sqlite().await;
    let private = app.get("/customers/reader1@example.com/purchases").await;
    assert_eq!(private.status(), StatusCode::OK);
    assert_eq!(header(&private, "cache-control"), "private, no-cache");
    let tag = header(&private, "etag").to_owned();
    let again = app
        .http
        .get(app.url("/customers/reader1@example.com/purchases"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let token = app.get("/catalogue/1/download-token").await;
    assert_eq!(header(&token, "cache-control"), "no-store");
    let first: Value = token.json().await.unwrap();
    let second: Value = app
        .get("/catalogue/1/download-token")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["token"], second["token"]);
    assert_eq!(first["token"].as_str().unwrap().len(), 64);

    let name = &phase5_perf::client_cache::STYLESHEET.name;
    let asset = app.get(&format!("/assets/{name}")).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, "content-type").starts_with("text/css"));
    assert_eq!(
        app.get("/assets/catalogue.000000000000.css").await.status(),
        StatusCode::NOT_FOUND,
        "an old name is gone, never served with new bytes"
    );
}
