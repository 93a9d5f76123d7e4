//! Checks for phase 3, databases (topics 3.1 to 3.8).
//!
//! What they write (key-value entries, reading lists) they delete when they end; the counters of
//! 3.8 have no route that deletes them, so a run leaves its `grader-...` counters behind.

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{
    Check, Skip, Target, expect_field_error, expect_json, expect_problem, expect_status, header,
    unique,
};
use crate::{checks, conventions};

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "3.1", "the ORM and the SQL report agree" => orm_and_sql_agree,
        "3.2", "async and blocking access answer alike" => async_and_blocking_agree,
        "3.3", "lazy loading costs 1 + 2N queries, eager a constant" => lazy_against_eager,
        "3.4", "every migration is listed, in order, and applied" => migrations_applied,
        "3.5", "reviewers have a table, and every review a reviewer" => reviewers_table,
        "3.6", "the server says which backend serves it" => backend_named,
        "3.7", "MongoDB: CRUD, unique index, projection, operators, aggregation" => mongodb_documents,
        "3.8", "key-value: set, get with a TTL, delete" => key_value_round_trip,
        "3.8", "20 concurrent increments count 20" => counters_are_atomic,
        "3.8", "the report is cached: a miss, then hits" => report_is_cached,
    ];
    checks.extend(conventions::anonymous());
    checks
}

async fn orm_and_sql_agree(target: &Target) -> anyhow::Result<()> {
    let orm = expect_json(
        target.get("/reports/tags?using=orm")?.send().await?,
        200,
        "the ORM report",
    )
    .await?;
    let sql = expect_json(
        target.get("/reports/tags?using=sql")?.send().await?,
        200,
        "the SQL report",
    )
    .await?;
    ensure!(orm == sql, "the two reports differ:\n{orm}\n{sql}");
    let rows = orm.as_array().context("the report is not a list")?;
    ensure!(!rows.is_empty(), "the report is empty");
    for row in rows {
        ensure!(
            row["tag"].is_string() && row["books"].as_i64().is_some_and(|n| n > 0),
            "a row without tag or books: {row}"
        );
        let (reviews, average) = (row["reviews"].as_i64(), row["average_rating"].as_f64());
        ensure!(
            matches!((reviews, average), (Some(0), None))
                || average.is_some_and(|a| (1.0..=5.0).contains(&a)),
            "an impossible average: {row}"
        );
    }
    let mut sorted: Vec<&str> = rows.iter().filter_map(|r| r["tag"].as_str()).collect();
    sorted.sort_unstable();
    ensure!(
        rows.iter()
            .filter_map(|r| r["tag"].as_str())
            .eq(sorted.iter().copied()),
        "the report is not ordered by tag"
    );
    Ok(())
}

async fn async_and_blocking_agree(target: &Target) -> anyhow::Result<()> {
    let latest = |via: &str| format!("/reviews/latest?via={via}&limit=5");
    let over_async = expect_json(
        target.get(&latest("async"))?.send().await?,
        200,
        "via=async",
    )
    .await?;
    let over_blocking = expect_json(
        target.get(&latest("blocking"))?.send().await?,
        200,
        "via=blocking",
    )
    .await?;
    ensure!(
        over_async == over_blocking,
        "the two paths differ:\n{over_async}\n{over_blocking}"
    );
    let rows = over_async.as_array().context("not a list")?;
    ensure!(
        !rows.is_empty() && rows.len() <= 5,
        "{} rows for limit=5",
        rows.len()
    );
    let ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
    ensure!(
        ids.len() == rows.len() && ids.windows(2).all(|p| p[0] > p[1]),
        "not newest first: {ids:?}"
    );
    ensure!(
        rows.iter()
            .all(|r| r["book"].is_string() && r["reviewer"].is_string()),
        "rows lack book or reviewer"
    );
    expect_problem(
        target.get("/reviews/latest?limit=0")?.send().await?,
        422,
        "limit=0",
    )
    .await?;
    Ok(())
}

async fn loading(target: &Target, strategy: &str, limit: usize) -> anyhow::Result<(usize, Value)> {
    let response = target
        .get(&format!(
            "/books-with-reviews?strategy={strategy}&limit={limit}"
        ))?
        .send()
        .await?;
    let queries = header(&response, "x-query-count", strategy)?.parse()?;
    Ok((queries, expect_json(response, 200, strategy).await?))
}

async fn lazy_against_eager(target: &Target) -> anyhow::Result<()> {
    for limit in [1, 3] {
        let (lazy, lazy_books) = loading(target, "lazy", limit).await?;
        let (eager, eager_books) = loading(target, "eager", limit).await?;
        let n = lazy_books.as_array().map_or(0, Vec::len);
        ensure!(n > 0, "no books to load");
        ensure!(
            lazy == 1 + 2 * n,
            "lazy loading of {n} books took {lazy} queries, expected {}",
            1 + 2 * n
        );
        ensure!(eager == 3, "eager loading took {eager} queries, expected 3");
        ensure!(
            lazy_books == eager_books,
            "lazy and eager loading answer differently"
        );
    }
    let bad = target.get("/books-with-reviews?limit=0")?.send().await?;
    expect_problem(bad, 422, "limit=0").await?;
    Ok(())
}

async fn migrations_applied(target: &Target) -> anyhow::Result<()> {
    let list = expect_json(
        target.get("/migrations")?.send().await?,
        200,
        "GET /migrations",
    )
    .await?;
    let list = list.as_array().context("not a list")?;
    ensure!(list.len() >= 3, "only {} migrations listed", list.len());
    let names: Vec<&str> = list.iter().filter_map(|m| m["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    ensure!(names == sorted, "migrations are not in order: {names:?}");
    ensure!(
        list.iter().all(|m| m["applied"] == true),
        "a migration has not run: {list:?}"
    );
    ensure!(
        names.iter().any(|n| n.ends_with("_reviewers_table")),
        "no reviewers migration: {names:?}"
    );
    Ok(())
}

async fn reviewers_table(target: &Target) -> anyhow::Result<()> {
    let reviewers = expect_json(
        target.get("/reviewers")?.send().await?,
        200,
        "GET /reviewers",
    )
    .await?;
    let reviewers = reviewers.as_array().context("not a list")?;
    ensure!(!reviewers.is_empty(), "no reviewers");
    let total: i64 = reviewers.iter().filter_map(|r| r["reviews"].as_i64()).sum();
    let (_, books) = loading(target, "eager", 100).await?;
    let reviews: usize = books
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["reviews"].as_array().map_or(0, Vec::len))
        .sum();
    ensure!(
        usize::try_from(total).ok() == Some(reviews),
        "reviewers account for {total} reviews, the books show {reviews}"
    );
    let names: Vec<&str> = reviewers
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    let distinct: std::collections::HashSet<&str> = names.iter().copied().collect();
    ensure!(
        distinct.len() == names.len(),
        "a reviewer appears twice: {names:?}"
    );
    Ok(())
}

async fn backend_named(target: &Target) -> anyhow::Result<()> {
    let info = expect_json(target.get("/backend")?.send().await?, 200, "GET /backend").await?;
    let backend = info["backend"].as_str().context("no backend")?;
    ensure!(
        matches!(backend, "sqlite" | "postgres"),
        "unknown backend {backend}"
    );
    ensure!(
        info["version"].as_str().is_some_and(|v| !v.is_empty()),
        "no version: {info}"
    );
    // The URL is shown to anyone who asks: no password may be in it.
    let shown = info["url"].as_str().context("no url")?;
    if let Ok(url) = url::Url::parse(shown) {
        ensure!(
            url.password().is_none_or(|p| p == "***"),
            "GET /backend shows a database password"
        );
        ensure!(
            url.query().is_none(),
            "GET /backend shows the URL's query, which may hold a password"
        );
    }
    Ok(())
}

async fn key_value_round_trip(target: &Target) -> anyhow::Result<()> {
    let key = format!("grader-{}", unique());
    let path = format!("/kv/{key}");
    target.delete_afterwards(&path, None);
    let put = target
        .request(Method::PUT, &path)?
        .json(&json!({"value": "hello", "ttl_seconds": 60}))
        .send()
        .await?;
    expect_status(&put, 200, "PUT")?;
    let got = expect_json(target.get(&path)?.send().await?, 200, "GET").await?;
    ensure!(got["value"] == "hello", "GET gave {got}");
    let ttl = got["ttl_seconds"].as_u64().context("no ttl_seconds")?;
    ensure!(
        (50..=60).contains(&ttl),
        "ttl_seconds is {ttl}, expected just under 60"
    );
    expect_status(
        &target.request(Method::DELETE, &path)?.send().await?,
        204,
        "DELETE",
    )?;
    expect_problem(target.get(&path)?.send().await?, 404, "GET after DELETE").await?;
    let bad = target
        .request(Method::PUT, &path)?
        .json(&json!({"value": "x", "ttl_seconds": 0}))
        .send()
        .await?;
    expect_problem(bad, 422, "ttl_seconds 0").await?;
    Ok(())
}

async fn counters_are_atomic(target: &Target) -> anyhow::Result<()> {
    let name = format!("grader-{}", unique());
    let path = format!("/counters/{name}");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let request = target.request(Method::POST, &path);
            tokio::spawn(async move { request?.send().await.map_err(anyhow::Error::from) })
        })
        .collect();
    for task in tasks {
        expect_status(&task.await??, 200, "POST a counter")?;
    }
    let last = expect_json(
        target
            .request(Method::POST, &format!("{path}?by=0"))?
            .send()
            .await?,
        200,
        "the counter",
    )
    .await?;
    ensure!(
        last["value"] == 20,
        "20 concurrent increments gave {}",
        last["value"]
    );
    Ok(())
}

async fn report_is_cached(target: &Target) -> anyhow::Result<()> {
    // Twice, so that the second is a hit whatever the first was (another check may have filled it).
    let first = target.get("/reports/tags/cached")?.send().await?;
    let first_cache = header(&first, "x-cache", "the cached report")?.to_owned();
    ensure!(
        matches!(first_cache.as_str(), "hit" | "miss"),
        "X-Cache is `{first_cache}`"
    );
    expect_status(&first, 200, "the cached report")?;
    let second = target.get("/reports/tags/cached")?.send().await?;
    ensure!(
        header(&second, "x-cache", "the cached report")? == "hit",
        "the second request was not served from the cache"
    );
    let cached = expect_json(second, 200, "the cached report").await?;
    let fresh = expect_json(
        target.get("/reports/tags?using=orm")?.send().await?,
        200,
        "the report",
    )
    .await?;
    ensure!(
        cached == fresh,
        "the cached report differs from the report:\n{cached}\n{fresh}"
    );
    Ok(())
}

async fn mongodb_documents(target: &Target) -> anyhow::Result<()> {
    let owner = format!("grader-{}", unique());
    let first = target
        .request(Method::POST, "/mongo/reading-lists")?
        .json(&json!({"owner": owner, "name": "one", "tags": ["grader-tag"], "books": [{"title": "T", "author": "A"}]}))
        .send()
        .await?;
    if first.status().as_u16() == 503 {
        let problem = expect_problem(first, 503, "POST /mongo/reading-lists").await?;
        ensure!(
            problem
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("MONGODB_URL")),
            "the 503 does not name MONGODB_URL"
        );
        return Err(Skip("the server has no MongoDB (it says to set MONGODB_URL)".into()).into());
    }
    let location = header(&first, "location", "POST /mongo/reading-lists")?.to_owned();
    target.delete_afterwards(&location, None);
    let created = expect_json(first, 201, "POST /mongo/reading-lists").await?;
    ensure!(
        created["id"]
            .as_str()
            .is_some_and(|id| location.ends_with(id)),
        "Location {location} is not the list's"
    );
    let twin = target
        .request(Method::POST, "/mongo/reading-lists")?
        .json(&json!({"owner": owner, "name": "one"}))
        .send()
        .await?;
    expect_problem(twin, 409, "a second list of the same name").await?;
    let other = target
        .request(Method::POST, "/mongo/reading-lists")?
        .json(&json!({"owner": owner, "name": "two"}))
        .send()
        .await?;
    let other_location = header(&other, "location", "POST a second list")?.to_owned();
    target.delete_afterwards(&other_location, None);
    expect_status(&other, 201, "POST a second list")?;
    let rename = target
        .request(Method::PATCH, &other_location)?
        .json(&json!({"name": "one"}))
        .send()
        .await?;
    expect_problem(rename, 409, "renaming onto a taken name").await?;
    let deleted = target
        .request(Method::DELETE, &other_location)?
        .send()
        .await?;
    expect_status(&deleted, 204, "DELETE the second list")?;

    let mut url = target.url("/mongo/reading-lists")?;
    url.query_pairs_mut().append_pair("owner", &owner);
    let mine = expect_json(target.client.get(url).send().await?, 200, "GET ?owner=").await?;
    ensure!(
        mine.as_array().map_or(0, Vec::len) == 1,
        "?owner= found {mine}"
    );
    ensure!(
        mine[0].get("books").is_none(),
        "the summary should leave the books out: {mine}"
    );

    let changed = target
        .request(Method::PATCH, &location)?
        .json(&json!({"add_books": [{"title": "U", "author": "B"}], "add_tags": ["grader-tag", "grader-other"]}))
        .send()
        .await?;
    let changed = expect_json(changed, 200, "PATCH").await?;
    ensure!(
        changed["books"].as_array().map_or(0, Vec::len) == 2,
        "$push did not append: {changed}"
    );
    ensure!(
        changed["tags"] == json!(["grader-tag", "grader-other"]),
        "$addToSet: {}",
        changed["tags"]
    );

    let stats = expect_json(
        target.get("/mongo/stats/tags")?.send().await?,
        200,
        "GET /mongo/stats/tags",
    )
    .await?;
    ensure!(
        stats.as_array().into_iter().flatten().any(
            |row| row["tag"] == "grader-other" && row["lists"].as_i64().is_some_and(|n| n >= 1)
        ),
        "the aggregation does not count the new tag: {stats}"
    );
    let bad = expect_problem(
        target.get("/mongo/reading-lists/not-an-id")?.send().await?,
        400,
        "a malformed id",
    )
    .await?;
    expect_field_error(&bad, "id", "a malformed id")?;
    expect_status(
        &target.request(Method::DELETE, &location)?.send().await?,
        204,
        "DELETE",
    )?;
    expect_problem(
        target.get(&location)?.send().await?,
        404,
        "GET after DELETE",
    )
    .await?;
    Ok(())
}
