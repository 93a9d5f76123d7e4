//! Checks for project 1, the URL shortener (topic P1).
//!
//! The contract: phase 4's demo users (`ada` / `correct-horse-ada`, `admin` /
//! `correct-horse-admin`) log in with `POST /auth/token`; `POST /links` takes `url`, and
//! optionally `alias`, `redirect_status`, `valid_until` and `max_visits`, and answers 201 with the
//! link's `code`; `GET /{code}` redirects; `GET /links/{code}/stats` counts `visits` by people and
//! `bot_visits` apart. Every link a check makes is deleted when the check ends. A run makes about
//! 25 links as ada: under the default rate limit of 60 a minute.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{
    Check, Target, expect_field_error, expect_json, expect_problem, expect_status, header, login,
    unique,
};
use crate::{checks, conventions};

const ADA: (&str, &str) = ("ada", "correct-horse-ada");
const ADMIN: (&str, &str) = ("admin", "correct-horse-admin");
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "P1", "a link gets a random code or its alias; a taken alias is 409" => codes_and_aliases,
        "P1", "each redirect status is sent with a Cache-Control to match" => redirect_statuses,
        "P1", "a link is 410 Gone after its expiry and after its last visit" => gone,
        "P1", "script, data and file URLs, and links to the service itself, are refused" => refusals,
        "P1", "only the owner edits and deletes a link; the edit is served at once" => owners,
        "P1", "statistics count people, and neither bots nor HEAD requests" => people_not_bots,
    ];
    checks.extend(conventions::as_ada());
    checks
}

async fn create(target: &Target, token: &str, body: &Value) -> anyhow::Result<reqwest::Response> {
    Ok(target
        .request(Method::POST, "/links")?
        .bearer_auth(token)
        .json(body)
        .send()
        .await?)
}

/// A link made with `body`, deleted when the check ends; its code.
async fn link(target: &Target, token: &str, body: Value) -> anyhow::Result<String> {
    let response = create(target, token, &body).await?;
    let link = expect_json(response, 201, &format!("POST /links {body}")).await?;
    let code = link["code"]
        .as_str()
        .with_context(|| format!("the new link has no code: {link}"))?
        .to_owned();
    target.delete_afterwards(format!("/links/{code}"), Some(token));
    Ok(code)
}

/// `GET /{code}` with `agent` as the user agent.
async fn visit(target: &Target, code: &str, agent: &str) -> anyhow::Result<reqwest::Response> {
    Ok(target
        .get(&format!("/{code}"))?
        .header("User-Agent", agent)
        .send()
        .await?)
}

async fn codes_and_aliases(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let code = link(target, &ada, json!({"url": "https://example.com/random"})).await?;
    ensure!(
        (4..=16).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        "a random code should be a few letters and digits, got `{code}`"
    );
    let alias = format!("grader-{}", unique());
    let made = link(
        target,
        &ada,
        json!({"url": "https://example.com/a", "alias": alias}),
    )
    .await?;
    ensure!(
        made == alias,
        "the alias `{alias}` became the code `{made}`"
    );
    let again = create(
        target,
        &ada,
        &json!({"url": "https://example.com/b", "alias": alias}),
    )
    .await?;
    expect_problem(again, 409, "the same alias again").await?;
    let followed = visit(target, &alias, FIREFOX).await?;
    expect_status(&followed, 302, "following the alias")?;
    let location = header(&followed, "location", "following the alias")?;
    ensure!(
        location == "https://example.com/a",
        "the alias goes to {location}"
    );
    Ok(())
}

async fn redirect_statuses(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    for (asked, cache_control) in [
        (302, "private, no-cache"),
        (301, "public, max-age=86400"),
        (307, "private, no-cache"),
        (308, "public, max-age=86400"),
    ] {
        let code = link(
            target,
            &ada,
            json!({"url": "https://example.com/status", "redirect_status": asked}),
        )
        .await?;
        let what = format!("a link made with redirect_status {asked}");
        let response = visit(target, &code, FIREFOX).await?;
        expect_status(&response, asked, &what)?;
        let sent = header(&response, "cache-control", &what)?;
        ensure!(
            sent == cache_control,
            "{what}: Cache-Control {sent}, expected {cache_control}"
        );
    }
    let default = link(target, &ada, json!({"url": "https://example.com/default"})).await?;
    expect_status(
        &visit(target, &default, FIREFOX).await?,
        302,
        "a link made without a status",
    )?;
    let odd = create(
        target,
        &ada,
        &json!({"url": "https://example.com/", "redirect_status": 303}),
    )
    .await?;
    let problem = expect_problem(odd, 422, "redirect_status 303").await?;
    expect_field_error(&problem, "redirect_status", "redirect_status 303")
}

async fn gone(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let brief = link(
        target,
        &ada,
        json!({"url": "https://example.com/", "valid_until": until}),
    )
    .await?;
    expect_status(
        &visit(target, &brief, FIREFOX).await?,
        302,
        "a link before its expiry",
    )?;
    let limited = link(
        target,
        &ada,
        json!({"url": "https://example.com/", "max_visits": 2}),
    )
    .await?;
    let head = target
        .request(Method::HEAD, &format!("/{limited}"))?
        .send()
        .await?;
    expect_status(&head, 302, "HEAD of a link with two visits")?;
    for visit_number in 1..=2 {
        let response = visit(target, &limited, FIREFOX).await?;
        expect_status(
            &response,
            302,
            &format!("visit {visit_number} of 2 (a HEAD before is not a visit)"),
        )?;
    }
    expect_problem(
        visit(target, &limited, FIREFOX).await?,
        410,
        "a third visit of a link with two",
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if visit(target, &brief, FIREFOX).await?.status() != 302 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    expect_problem(
        visit(target, &brief, FIREFOX).await?,
        410,
        "a link after its expiry",
    )
    .await?;
    Ok(())
}

async fn refusals(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let ours = target.url("/somewhere")?.to_string();
    for (body, field) in [
        (json!({"url": "javascript:alert(1)"}), "url"),
        (json!({"url": "data:text/html,<b>hi</b>"}), "url"),
        (json!({"url": "file:///etc/passwd"}), "url"),
        (json!({"url": "https://bank.example@evil.example/"}), "url"),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(2100))}),
            "url",
        ),
        (json!({"url": ours}), "url"),
        (
            json!({"url": "https://example.com/", "alias": "links"}),
            "alias",
        ),
        (
            json!({"url": "https://example.com/", "valid_until": "2001-01-01T00:00:00Z"}),
            "valid_until",
        ),
    ] {
        let what = format!(
            "POST /links {}",
            body.to_string().chars().take(80).collect::<String>()
        );
        let response = create(target, &ada, &body).await?;
        if response.status() == 201 {
            let made: Value = response.json().await.unwrap_or_default();
            if let Some(code) = made["code"].as_str() {
                target.delete_afterwards(format!("/links/{code}"), Some(&ada));
            }
            bail!("{what}: made a link that should have been refused");
        }
        let problem = expect_problem(response, 422, &what).await?;
        expect_field_error(&problem, field, &what)?;
    }
    Ok(())
}

async fn owners(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let admin = login(target, ADMIN).await?;
    let code = link(target, &ada, json!({"url": "https://example.com/before"})).await?;
    let path = format!("/links/{code}");
    let anonymous = target
        .request(Method::PATCH, &path)?
        .json(&json!({"url": "https://example.com/anonymous"}))
        .send()
        .await?;
    expect_problem(anonymous, 401, "PATCH without a token").await?;
    let others = target
        .request(Method::PATCH, &path)?
        .bearer_auth(&admin)
        .json(&json!({"url": "https://example.com/admin"}))
        .send()
        .await?;
    expect_problem(others, 403, "PATCH of ada's link by another user").await?;
    let deleted = target
        .request(Method::DELETE, &path)?
        .bearer_auth(&admin)
        .send()
        .await?;
    expect_problem(deleted, 403, "DELETE of ada's link by another user").await?;
    // Followed once, so that every tier has the old destination.
    expect_status(
        &visit(target, &code, FIREFOX).await?,
        302,
        "following the link",
    )?;
    let edited = target
        .request(Method::PATCH, &path)?
        .bearer_auth(&ada)
        .json(&json!({"url": "https://example.com/after"}))
        .send()
        .await?;
    expect_status(&edited, 200, "PATCH by the owner")?;
    let followed = visit(target, &code, FIREFOX).await?;
    let location = header(&followed, "location", "following the link after the edit")?;
    ensure!(
        location == "https://example.com/after",
        "after the owner's edit the link still goes to {location}"
    );
    let deleted = target
        .request(Method::DELETE, &path)?
        .bearer_auth(&ada)
        .send()
        .await?;
    expect_status(&deleted, 204, "DELETE by the owner")?;
    expect_problem(
        visit(target, &code, FIREFOX).await?,
        404,
        "following a deleted link",
    )
    .await?;
    Ok(())
}

async fn people_not_bots(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let code = link(target, &ada, json!({"url": "https://example.com/counted"})).await?;
    for _ in 0..3 {
        expect_status(
            &visit(target, &code, FIREFOX).await?,
            302,
            "a visit by a person",
        )?;
    }
    for bot in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ] {
        expect_status(&visit(target, &code, bot).await?, 302, "a visit by a bot")?;
    }
    let head = target
        .request(Method::HEAD, &format!("/{code}"))?
        .header("User-Agent", FIREFOX)
        .send()
        .await?;
    expect_status(&head, 302, "HEAD of the link")?;
    // The counts are written behind the redirects: wait for them, a little.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = target
            .get(&format!("/links/{code}/stats"))?
            .bearer_auth(&ada)
            .send()
            .await?;
        let stats = expect_json(response, 200, "the link's statistics").await?;
        let counted = (stats["visits"].as_i64(), stats["bot_visits"].as_i64());
        if counted == (Some(3), Some(3)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "3 visits by a person, 3 by bots and a HEAD should count visits 3 and bot_visits 3; the statistics say {stats}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
