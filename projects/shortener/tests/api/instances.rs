//! Two instances sharing a database and Redis, behind phase 5's nginx: one service; and one
//! that loses Redis.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use common::testing::nginx::{Nginx, installed};
use common::testing::partition::Partition;
use reqwest::Method;
use serde_json::{Value, json};
use shortener::{Config, SCHEMA};

use crate::support::{App, FIREFOX, client, header, to, token};

/// The database the instances share: PostgreSQL when there is one, else one SQLite file.
fn shared_database() -> TestDatabase {
    TestDatabase::postgres_with(&SCHEMA).unwrap_or_else(|| TestDatabase::sqlite_with(&SCHEMA))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_is_served_by_the_other_before_it_returns() {
    let Some(redis) = common::testing::service_url("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipped (two instances share their cache through Redis)");
        return;
    };
    let database = shared_database();
    let prefix = common::testing::unique_name("shortener");
    let key = phase4_security::tokens::KeyRing::new_pem().unwrap();
    let start = |public_url: Option<String>, listener| {
        let mut config = Config::local(database.database.url());
        config.redis_url = Some(redis.clone().into());
        config.redis_prefix.clone_from(&prefix);
        config.signing_key = Some(key.clone());
        config.public_url = public_url;
        config.trusted_proxies = vec!["127.0.0.2".parse().unwrap()];
        shortener::build(config, listener)
    };
    let (listener_a, listener_b) = (
        common::testing::listener().unwrap(),
        common::testing::listener().unwrap(),
    );
    let (url_a, url_b) = (
        format!("http://{}", listener_a.local_addr().unwrap()),
        format!("http://{}", listener_b.local_addr().unwrap()),
    );
    let nginx = (installed("nginx") && installed("openssl") && installed("curl")).then(|| {
        Nginx::start(
            include_str!("../../../../phase5-perf/nginx/nginx.conf"),
            &url_a,
            &url_b,
            concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
        )
    });
    let public = nginx
        .as_ref()
        .map(|nginx| format!("https://localhost:{}", nginx.https));
    let a = TestServer::spawn(start(public.clone(), listener_a).await.unwrap());
    let b = TestServer::spawn(start(public.clone(), listener_b).await.unwrap());
    let (a, b) = (a.base_url(), b.base_url());
    let http = client();

    // A token from one instance is good at the other: they share the signing key.
    let ada = token(&http, &a, "ada").await;
    let visit = |base: &str, code: &str| {
        http.get(format!("{base}/{code}"))
            .header("User-Agent", FIREFOX)
            .send()
    };

    // B has the code cached as unknown; A makes the link; B redirects at once.
    assert_eq!(visit(&b, "shared-link").await.unwrap().status(), 404);
    let made = http
        .post(format!("{a}/links"))
        .bearer_auth(&ada)
        .json(&json!({"url": "https://example.com/one", "alias": "shared-link"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let seen = visit(&b, "shared-link").await.unwrap();
    assert_eq!(seen.status(), 302);
    assert_eq!(header(&seen, "location"), "https://example.com/one");

    // B serves it from its process tier; an edit through A reaches it before A answers.
    for round in 0..20 {
        let cached = visit(&b, "shared-link").await.unwrap();
        assert_eq!(header(&cached, "x-cache"), "memory");
        let destination = format!("https://example.com/edit-{round}");
        let edited = http
            .patch(format!(
                "{b_or_a}/links/shared-link",
                b_or_a = if round % 2 == 0 { &a } else { &b }
            ))
            .bearer_auth(&ada)
            .json(&json!({ "url": destination }))
            .send()
            .await
            .unwrap();
        assert_eq!(edited.status(), 200);
        for base in [&a, &b] {
            let after = visit(base, "shared-link").await.unwrap();
            assert_eq!(
                header(&after, "location"),
                destination,
                "round {round}, {base}"
            );
        }
    }

    // A delete through B: both answer 404 at once.
    let deleted = http
        .delete(format!("{b}/links/shared-link"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    for base in [&a, &b] {
        assert_eq!(visit(base, "shared-link").await.unwrap().status(), 404);
    }

    // Behind nginx, the two are one service at one address.
    let Some(nginx) = nginx else {
        eprintln!("nginx, openssl or curl is not installed: the part behind nginx is skipped");
        return;
    };
    let login = nginx.https(
        "/auth/token",
        &[
            "-d",
            "grant_type=password",
            "-d",
            "username=ada",
            "-d",
            "password=correct-horse-ada",
        ],
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Authorization: Bearer {token}");
    let body = json!({"url": "https://example.com/via-nginx", "alias": "via-nginx"}).to_string();
    let made = nginx.https(
        "/links",
        &[
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ],
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let short_url = made.json()["short_url"].as_str().unwrap().to_owned();
    assert_eq!(
        short_url,
        format!("{}/via-nginx", public.unwrap_or_default())
    );
    // A link to the service's public name is a loop.
    let looped = json!({"url": short_url}).to_string();
    let refused = nginx.https(
        "/links",
        &[
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            &looped,
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    // nginx spreads these over both instances; every one redirects.
    for _ in 0..10 {
        let followed = nginx.https("/via-nginx", &["-A", FIREFOX]);
        assert_eq!(followed.status, 302);
        assert_eq!(followed.header("location"), "https://example.com/via-nginx");
    }
    let stats = nginx.https("/links/via-nginx/stats", &["-H", &bearer]);
    assert_eq!(stats.status, 200);
}

#[tokio::test]
async fn without_redis_a_change_is_refused_before_it_is_saved_and_redirects_go_on() {
    let Some(redis) = common::testing::service_url("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: skipped");
        return;
    };
    let proxy = Partition::to_redis(&redis).await.unwrap();
    let app = App::start_with(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.redis_url = Some(proxy.redis_url().into());
        config.redis_prefix = common::testing::unique_name("shortener");
    })
    .await;
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/before")).await;

    proxy.cut();
    // The instance learns within milliseconds that its subscription is gone; until then a change
    // may still be tried (and fail after it is saved), so the test waits for the refusal.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempt = 0;
    let (refused, tried) = loop {
        attempt += 1;
        let tried = format!("https://example.com/attempt-{attempt}");
        let body = json!({ "url": tried });
        let response = app
            .send(Method::PATCH, &format!("/links/{code}"), &ada, Some(body))
            .await;
        if response.status() == 503 || Instant::now() > deadline {
            break (response, tried);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused.status(), 503);
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{problem}"
    );
    let link: Value = app.get_link(&ada, &code).await.json().await.unwrap();
    assert_ne!(
        link["url"],
        tried.as_str(),
        "the refused change was not saved"
    );
    let made = app.create(&ada, to("https://example.com/new")).await;
    assert_eq!(made.status(), 503);

    // Following links does not need Redis: the database answers.
    let visit = app.visit(&code).await;
    assert_eq!(visit.status(), 302);
    assert_eq!(header(&visit, "x-cache"), "database");
}
