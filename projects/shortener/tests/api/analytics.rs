//! Visits: counted off the hot path, bots apart, people once a day, drops counted.

use common::db::testing::TestDatabase;
use serde_json::Value;
use shortener::SCHEMA;

use crate::support::{App, FIREFOX, header, to};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[tokio::test]
async fn people_are_counted_and_bots_previews_and_heads_are_not() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let app = App::start_with(database, |_| {}).await;
        let ada = app.token("ada").await;
        let code = app.link(&ada, to("https://example.com/")).await;
        let path = app.url(&format!("/{code}"));
        let get = |agent: &'static str, referrer: Option<&'static str>| {
            let mut request = app.http.get(&path).header("User-Agent", agent);
            if let Some(referrer) = referrer {
                request = request.header("Referer", referrer);
            }
            request.send()
        };
        for _ in 0..3 {
            assert_eq!(
                get(FIREFOX, Some("https://news.example/item?id=1"))
                    .await
                    .unwrap()
                    .status(),
                302
            );
        }
        assert_eq!(get(CHROME, None).await.unwrap().status(), 302);
        for bot in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "curl/8.5.0",
        ] {
            assert_eq!(
                get(bot, None).await.unwrap().status(),
                302,
                "bots are redirected too"
            );
        }
        for _ in 0..2 {
            let head = app
                .http
                .head(&path)
                .header("User-Agent", FIREFOX)
                .send()
                .await
                .unwrap();
            assert_eq!(head.status(), 302);
        }

        let stats = app.stats_once(&ada, &code, 4, 4).await;
        assert_eq!(stats["visits"], 4, "{stats}");
        assert_eq!(stats["bot_visits"], 4, "{stats}");
        // Two people: one Firefox three times, one Chrome, from the same address.
        assert_eq!(stats["unique_visitors"], 2, "{stats}");
        assert_eq!(stats["by_day"].as_array().unwrap().len(), 1, "{stats}");
        assert_eq!(stats["by_day"][0]["visits"], 4);
        assert_eq!(stats["referrers"][0]["name"], "news.example");
        assert_eq!(stats["referrers"][0]["visits"], 3);
        assert_eq!(stats["referrers"][1]["name"], "direct");
        let browsers: Vec<(&str, i64)> = stats["browsers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["name"].as_str().unwrap(), b["visits"].as_i64().unwrap()))
            .collect();
        assert_eq!(browsers, [("Firefox", 3), ("Chrome", 1)]);
        let text = stats.to_string();
        assert!(!text.contains("127.0.0.1"), "no address is kept: {text}");
    }
}

#[tokio::test]
async fn a_full_buffer_drops_visits_and_counts_them_and_never_fails_a_redirect() {
    let app = App::start_with(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.visit_buffer = 1;
    })
    .await;
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/")).await;
    let visits = (0..300).map(|_| app.visit(&code));
    let responses = futures_util::future::join_all(visits).await;
    assert!(responses.iter().all(|r| r.status() == 302));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (recorded, dropped) = loop {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        let value = |name: &str| -> u64 {
            metrics
                .lines()
                .filter(|line| line.starts_with(name))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
                .sum()
        };
        let counts = (
            value("shortener_visits_recorded_total"),
            value("shortener_visits_dropped_total"),
        );
        if counts.0 + counts.1 == 300 || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        recorded + dropped,
        300,
        "every visit is recorded or counted as dropped"
    );
    assert!(dropped > 0, "a buffer of one overflows under 300 at once");
    let stats = app
        .stats_once(&ada, &code, i64::try_from(recorded).unwrap(), 0)
        .await;
    assert_eq!(stats["visits"].as_u64(), Some(recorded));
}

#[tokio::test]
async fn the_stats_page_is_static_and_talks_to_this_service_only() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let code = app.link(&ada, to("https://example.com/")).await;
    let page = app.get(&format!("/links/{code}/stats.html")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    let policy = header(&page, "content-security-policy").to_owned();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"fetch("stats""#));
    let missing = app.get("/links/nothing-here/stats.html").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "content-type"), "application/problem+json");
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "nothing is loaded"
    );
    // What it fetches is the owner's JSON.
    let stats: Value = app
        .http
        .get(app.url(&format!("/links/{code}/stats")))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["code"], code.as_str());
}
