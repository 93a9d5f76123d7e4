//! Checks for phase 2, the frameworks' strengths (topics 2.1 to 2.10).
//!
//! They create their own authors and books (unique names), so they work on a server that already
//! holds data, such as the seeded demo library, and delete them when they end: a learner's library
//! is left as it was, but for the tags a book write creates (the API cannot delete a tag), which
//! are four, named `grader...`, the same in every run. Writes need the admin token
//! (`admin-token`), reads any token or none.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::Method;
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::check::{
    Check, Target, expect_field_error, expect_json, expect_problem, expect_status, header, unique,
};
use crate::{checks, conventions};

/// The demo token of an admin, who may write; `reader-token` may only read.
const ADMIN: &str = "admin-token";
const READER: &str = "reader-token";

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "2.1", "path, query and body: types, defaults, constraints" => path_query_body,
        "2.2", "CurrentUser comes from the bearer token" => current_user,
        "2.2", "Pagination comes from the query, with bounds" => pagination_dependency,
        "2.3", "a slow upstream does not hold up other requests" => slow_upstream_does_not_block,
        "2.4", "/openapi.json is OpenAPI 3.1 and matches the routes" => openapi_matches_routes,
        "2.4", "Swagger UI and a second viewer are served" => docs_viewers,
        "2.5", "nested read shapes, a different write shape" => nested_serializers,
        "2.5", "writes are validated" => write_validation,
        "2.6", "full CRUD on authors and books" => full_crud,
        "2.6", "writes need the admin token: 401 without a token, 403 for a reader" => writes_need_admin,
        "2.6", "DRF pagination envelope" => pagination_envelope,
        "2.6", "filtering and ordering" => filtering_and_ordering,
        "2.7", "eager loading costs the same queries for any N" => eager_loading_is_constant,
        "2.8", "a blueprint with its own prefix, middleware and 404" => admin_blueprint,
        "2.9", "request id: set by middleware, read by the handler, in a header" => request_context,
        "2.10", "a CORS preflight is answered for allowed origins only" => cors_preflight,
        "2.10", "responses are compressed when asked" => compression,
    ];
    // As the admin, so that the methods and the corpus reach the writes, not their 401.
    checks.extend(conventions::checks(
        |target| Box::pin(conventions::methods_on_every_route(target, Some(ADMIN))),
        |target| Box::pin(conventions::errors_in_the_apis_words(target, Some(ADMIN))),
    ));
    checks
}

/// A write, as the admin.
async fn write(
    target: &Target,
    method: Method,
    path: &str,
    body: &Value,
) -> anyhow::Result<reqwest::Response> {
    Ok(target
        .request(method, path)?
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .await?)
}

async fn post_json(target: &Target, path: &str, body: &Value) -> anyhow::Result<reqwest::Response> {
    write(target, Method::POST, path, body).await
}

async fn delete(target: &Target, path: &str) -> anyhow::Result<reqwest::Response> {
    Ok(target
        .request(Method::DELETE, path)?
        .bearer_auth(ADMIN)
        .send()
        .await?)
}

/// `created` (an author or a book, just made at `collection`), to be deleted when the check ends.
fn made(target: &Target, collection: &str, created: Value) -> anyhow::Result<Value> {
    let id = created["id"]
        .as_i64()
        .with_context(|| format!("no numeric id in {created}"))?;
    target.delete_afterwards(format!("{collection}/{id}"), Some(ADMIN));
    Ok(created)
}

/// Creates an author with a unique name; returns it (201 required).
async fn new_author(target: &Target) -> anyhow::Result<Value> {
    let body = json!({"name": format!("Grader author {}", unique()), "bio": "made by the grader"});
    let author = expect_json(
        post_json(target, "/api/authors", &body).await?,
        201,
        "POST /api/authors",
    )
    .await?;
    made(target, "/api/authors", author)
}

/// Creates a book by `author_id` with `tags`; returns it (201 required).
async fn new_book(
    target: &Target,
    author_id: &Value,
    year: i32,
    tags: &[&str],
) -> anyhow::Result<Value> {
    let body = json!({"title": format!("Grader book {}", unique()), "year": year, "author_id": author_id, "tags": tags});
    let book = expect_json(
        post_json(target, "/api/books", &body).await?,
        201,
        "POST /api/books",
    )
    .await?;
    made(target, "/api/books", book)
}

fn results(page: &Value) -> anyhow::Result<&Vec<Value>> {
    page["results"]
        .as_array()
        .with_context(|| format!("no `results` list: {page}"))
}

// ---- 2.1 ----

async fn path_query_body(target: &Target) -> anyhow::Result<()> {
    let author = new_author(target).await?;
    let id = &author["id"];
    let book = json!({"title": "Dry run", "year": 2001});
    let dry = expect_json(
        post_json(
            target,
            &format!("/api/authors/{id}/books?dry_run=true"),
            &book,
        )
        .await?,
        200,
        "a dry run",
    )
    .await?;
    ensure!(
        dry["saved"] == false && dry["author_id"] == *id,
        "the dry run did not echo the author from the path: {dry}"
    );
    ensure!(
        dry["tags"] == json!([]),
        "tags did not default to []: {dry}"
    );

    let saved = post_json(target, &format!("/api/authors/{id}/books"), &book).await?;
    ensure!(
        header(&saved, "location", "POST without dry_run")?.starts_with("/api/books/"),
        "no Location"
    );
    let saved = made(
        target,
        "/api/books",
        expect_json(saved, 201, "POST without dry_run").await?,
    )?;
    ensure!(
        saved["author"]["id"] == *id,
        "the book is not by the author in the path: {saved}"
    );

    let invalid = post_json(
        target,
        &format!("/api/authors/{id}/books"),
        &json!({"title": "", "year": 99}),
    )
    .await?;
    let problem = expect_problem(invalid, 422, "an invalid body").await?;
    expect_field_error(&problem, "title", "an invalid body")?;
    expect_field_error(&problem, "year", "an invalid body")?;
    let bad_path = expect_problem(
        post_json(target, "/api/authors/abc/books", &book).await?,
        400,
        "a path of the wrong type",
    )
    .await?;
    expect_field_error(&bad_path, "author_id", "a path of the wrong type")?;
    let bad_query = expect_problem(
        post_json(
            target,
            &format!("/api/authors/{id}/books?dry_run=maybe"),
            &book,
        )
        .await?,
        400,
        "a query of the wrong type",
    )
    .await?;
    expect_field_error(&bad_query, "dry_run", "a query of the wrong type")?;
    expect_problem(
        post_json(target, "/api/authors/999999999/books", &book).await?,
        404,
        "a book for an author who does not exist",
    )
    .await?;
    Ok(())
}

// ---- 2.2 ----

async fn current_user(target: &Target) -> anyhow::Result<()> {
    let anonymous = target.get("/api/me")?.send().await?;
    header(
        &anonymous,
        "www-authenticate",
        "GET /api/me without a token",
    )?;
    expect_problem(anonymous, 401, "GET /api/me without a token").await?;
    let unknown = target
        .get("/api/me")?
        .header(AUTHORIZATION, "Bearer nobody")
        .send()
        .await?;
    expect_problem(unknown, 401, "an unknown token").await?;
    let reader = target
        .get("/api/me")?
        .header(AUTHORIZATION, "Bearer reader-token")
        .send()
        .await?;
    let user = expect_json(reader, 200, "GET /api/me as the reader").await?;
    ensure!(
        user["role"] == "reader" && user["name"].is_string(),
        "the reader is {user}"
    );
    Ok(())
}

async fn pagination_dependency(target: &Target) -> anyhow::Result<()> {
    let zero = expect_problem(
        target.get("/api/books?page_size=0")?.send().await?,
        422,
        "page_size=0",
    )
    .await?;
    expect_field_error(&zero, "page_size", "page_size=0")?;
    let huge = expect_problem(
        target.get("/api/authors?page_size=1000")?.send().await?,
        422,
        "page_size=1000",
    )
    .await?;
    expect_field_error(&huge, "page_size", "page_size=1000")?;
    let word = expect_problem(
        target.get("/api/books?page=two")?.send().await?,
        400,
        "page=two",
    )
    .await?;
    expect_field_error(&word, "page", "page=two")?;
    let page = expect_json(
        target.get("/api/books?page_size=1")?.send().await?,
        200,
        "page_size=1",
    )
    .await?;
    ensure!(
        results(&page)?.len() <= 1,
        "page_size=1 gave {} results",
        results(&page)?.len()
    );
    Ok(())
}

// ---- 2.3 ----

async fn slow_upstream_does_not_block(target: &Target) -> anyhow::Result<()> {
    let author = new_author(target).await?;
    let book = new_book(target, &author["id"], 2000, &[]).await?;
    let path = format!("/api/books/{}/price", book["id"]);
    // More waiting requests than any server has workers: if waiting blocked a worker, the fast
    // request would queue behind them.
    let mut slow = Vec::new();
    for _ in 0..8 {
        let request = target.get(&path)?;
        slow.push(tokio::spawn(async move { request.send().await }));
    }
    // Let the slow requests reach the server, then ask for something fast.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fast = target.get("/api/authors?page_size=1")?.send().await?;
    expect_status(&fast, 200, "GET /api/authors while prices are pending")?;
    let finished = slow.iter().filter(|handle| handle.is_finished()).count();
    ensure!(
        finished == 0,
        "{finished} of 8 price requests finished before a fast request was answered: waiting on the upstream held it up (or the upstream answers in under 50 ms)"
    );
    for handle in slow {
        let priced = expect_json(handle.await??, 200, &format!("GET {path}")).await?;
        ensure!(
            priced["price"]["price_cents"].is_u64(),
            "no price in {priced}"
        );
    }
    Ok(())
}

// ---- 2.4 ----

/// The routes the checks use: each must be in the document.
const KNOWN_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/authors"),
    ("post", "/api/authors"),
    ("get", "/api/authors/{id}"),
    ("put", "/api/authors/{id}"),
    ("patch", "/api/authors/{id}"),
    ("delete", "/api/authors/{id}"),
    ("get", "/api/books"),
    ("post", "/api/books"),
    ("get", "/api/books/{id}"),
    ("put", "/api/books/{id}"),
    ("patch", "/api/books/{id}"),
    ("delete", "/api/books/{id}"),
    ("post", "/api/authors/{author_id}/books"),
    ("get", "/api/books/{id}/price"),
    ("get", "/api/authors-with-books"),
    ("get", "/api/context"),
    ("get", "/api/me"),
    ("get", "/admin/stats"),
];

async fn openapi_matches_routes(target: &Target) -> anyhow::Result<()> {
    let doc = expect_json(
        target.get("/openapi.json")?.send().await?,
        200,
        "GET /openapi.json",
    )
    .await?;
    let version = doc["openapi"].as_str().unwrap_or_default();
    ensure!(
        version.starts_with("3.1"),
        "the document is OpenAPI {version:?}, expected 3.1"
    );
    let paths = doc["paths"]
        .as_object()
        .context("the document has no paths")?;
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, _)| (method.clone(), path.clone()))
        })
        .collect();
    for (method, path) in KNOWN_ROUTES {
        ensure!(
            documented.contains(&((*method).to_owned(), (*path).to_owned())),
            "{} {path} is served but not documented",
            method.to_uppercase()
        );
    }
    // And every documented operation is served: with a missing id and an empty body it may be a 4xx
    // problem of its own, but not the router's "no route".
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "999999999")
            .replace("{author_id}", "999999999");
        let method = Method::from_bytes(method.to_uppercase().as_bytes())?;
        let mut request = target.request(method.clone(), &concrete)?;
        if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
            request = request.json(&json!({}));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        ensure!(
            status != 405 && !body.contains("nothing lives at") && !body.contains("no route for"),
            "{method} {path} is documented but not served ({status}: {body:.100})"
        );
    }
    Ok(())
}

async fn docs_viewers(target: &Target) -> anyhow::Result<()> {
    let swagger = target.get("/docs/")?.send().await?;
    expect_status(&swagger, 200, "GET /docs/")?;
    ensure!(
        swagger.text().await?.to_lowercase().contains("swagger"),
        "/docs/ is not Swagger UI"
    );
    let rapidoc = target.get("/rapidoc")?.send().await?;
    expect_status(&rapidoc, 200, "GET /rapidoc")?;
    let page = rapidoc.text().await?;
    ensure!(
        page.contains("<rapi-doc") && page.contains("/openapi.json"),
        "/rapidoc is not a RapiDoc page for /openapi.json"
    );
    let script = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the RapiDoc page loads no script")?;
    ensure!(
        script.starts_with('/'),
        "the RapiDoc script is not served by the API itself: {script}"
    );
    let js = target.get(script)?.send().await?;
    expect_status(&js, 200, script)?;
    ensure!(
        js.bytes().await?.len() > 100_000,
        "the RapiDoc script is too small to be RapiDoc"
    );
    Ok(())
}

// ---- 2.5 ----

async fn nested_serializers(target: &Target) -> anyhow::Result<()> {
    let author = new_author(target).await?;
    let tag = "grader".to_owned();
    let book = new_book(target, &author["id"], 1999, &[&tag]).await?;
    ensure!(
        book.get("author_id").is_none() && book["author"]["name"] == author["name"],
        "the read shape should nest the author, not its id: {book}"
    );
    ensure!(
        book["tags"][0]["name"] == tag.as_str() && book["tags"][0]["id"].is_i64(),
        "tags should read as objects: {}",
        book["tags"]
    );
    let fetched = expect_json(
        target
            .get(&format!("/api/books/{}", book["id"]))?
            .send()
            .await?,
        200,
        "GET the book",
    )
    .await?;
    ensure!(
        fetched == book,
        "GET and POST disagree: {fetched} vs {book}"
    );

    // The newest author is on the last page, however many the server holds.
    let authors = expect_json(
        target.get("/api/authors?page_size=1")?.send().await?,
        200,
        "GET /api/authors",
    )
    .await?;
    let last_page = authors["count"]
        .as_i64()
        .context("no count")?
        .saturating_sub(1)
        / 100
        + 1;
    let nested = expect_json(
        target
            .get(&format!(
                "/api/authors-with-books?page_size=100&page={last_page}"
            ))?
            .send()
            .await?,
        200,
        "authors with books",
    )
    .await?;
    let mine = nested
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == author["id"]);
    let mine = mine.context("the new author is not on the last page of /api/authors-with-books")?;
    ensure!(
        mine["books"][0]["title"] == book["title"] && mine["books"][0]["tags"] == json!([tag]),
        "the author's nested books are wrong: {mine}"
    );
    Ok(())
}

async fn write_validation(target: &Target) -> anyhow::Result<()> {
    let invalid = json!({"title": "", "year": 99, "author_id": 1, "tags": ["Not A Slug"]});
    let problem = expect_problem(
        post_json(target, "/api/books", &invalid).await?,
        422,
        "an invalid book",
    )
    .await?;
    for field in ["title", "year", "tags"] {
        expect_field_error(&problem, field, "an invalid book")?;
    }
    // Well-formed, but naming an author who does not exist: a conflict with the server's state.
    let orphan = json!({"title": "Orphan", "year": 2000, "author_id": 999999999});
    let problem = expect_problem(
        post_json(target, "/api/books", &orphan).await?,
        409,
        "a book by no author",
    )
    .await?;
    expect_field_error(&problem, "author_id", "a book by no author")?;
    let control = json!({"name": "nul\u{0}byte"});
    let problem = expect_problem(
        post_json(target, "/api/authors", &control).await?,
        422,
        "a name with a NUL byte",
    )
    .await?;
    expect_field_error(&problem, "name", "a name with a NUL byte")?;
    let unknown = json!({"name": "X", "colour": "red"});
    expect_problem(
        post_json(target, "/api/authors", &unknown).await?,
        422,
        "an unknown field",
    )
    .await?;
    Ok(())
}

// ---- 2.6 ----

async fn full_crud(target: &Target) -> anyhow::Result<()> {
    let response = post_json(
        target,
        "/api/authors",
        &json!({"name": format!("Crud {}", unique())}),
    )
    .await?;
    let location = header(&response, "location", "POST /api/authors")?.to_owned();
    let author = made(
        target,
        "/api/authors",
        expect_json(response, 201, "POST /api/authors").await?,
    )?;
    let path = format!("/api/authors/{}", author["id"]);
    ensure!(
        location.ends_with(&path),
        "Location {location} is not {path}"
    );
    let got = expect_json(target.get(&path)?.send().await?, 200, "retrieve").await?;
    ensure!(got == author, "retrieve gave {got}");
    let put = write(
        target,
        Method::PUT,
        &path,
        &json!({"name": format!("Renamed {}", unique()), "bio": "b"}),
    )
    .await?;
    let put = expect_json(put, 200, "update").await?;
    ensure!(
        put["name"]
            .as_str()
            .is_some_and(|name| name.starts_with("Renamed "))
            && put["bio"] == "b",
        "update gave {put}"
    );
    let patch = write(
        target,
        Method::PATCH,
        &path,
        &json!({"bio": "only the bio"}),
    )
    .await?;
    let patch = expect_json(patch, 200, "partial update").await?;
    ensure!(
        patch["name"] == put["name"] && patch["bio"] == "only the bio",
        "partial update gave {patch}"
    );

    let book = new_book(target, &author["id"], 2010, &["grader-crud"]).await?;
    let book_path = format!("/api/books/{}", book["id"]);
    let patched = write(target, Method::PATCH, &book_path, &json!({"year": 2011})).await?;
    let patched = expect_json(patched, 200, "partial update of a book").await?;
    ensure!(
        patched["year"] == 2011
            && patched["title"] == book["title"]
            && patched["tags"] == book["tags"],
        "the book's partial update changed too much: {patched}"
    );

    for path in [&book_path, &path] {
        expect_status(&delete(target, path).await?, 204, &format!("DELETE {path}"))?;
        expect_problem(
            target.get(path)?.send().await?,
            404,
            &format!("GET {path} after DELETE"),
        )
        .await?;
    }
    Ok(())
}

async fn writes_need_admin(target: &Target) -> anyhow::Result<()> {
    let body = json!({"name": format!("Grader author {}", unique())});
    let anonymous = target
        .request(Method::POST, "/api/authors")?
        .json(&body)
        .send()
        .await?;
    header(
        &anonymous,
        "www-authenticate",
        "POST /api/authors without a token",
    )?;
    expect_problem(anonymous, 401, "POST /api/authors without a token").await?;
    let reader = target
        .request(Method::POST, "/api/authors")?
        .bearer_auth(READER)
        .json(&body)
        .send()
        .await?;
    expect_problem(reader, 403, "POST /api/authors as a reader").await?;

    let author = new_author(target).await?;
    let path = format!("/api/authors/{}", author["id"]);
    let refused = target
        .request(Method::DELETE, &path)?
        .bearer_auth(READER)
        .send()
        .await?;
    expect_problem(refused, 403, &format!("DELETE {path} as a reader")).await?;
    let still = expect_json(
        target.get(&path)?.send().await?,
        200,
        "the author after a reader's DELETE",
    )
    .await?;
    ensure!(
        still == author,
        "a reader's DELETE changed the author: {still}"
    );
    Ok(())
}

async fn pagination_envelope(target: &Target) -> anyhow::Result<()> {
    let author = new_author(target).await?;
    for year in [2001, 2002, 2003] {
        new_book(target, &author["id"], year, &[]).await?;
    }
    let first = expect_json(
        target
            .get(&format!(
                "/api/books?author_id={}&page_size=2",
                author["id"]
            ))?
            .send()
            .await?,
        200,
        "page 1",
    )
    .await?;
    ensure!(
        first["count"] == 3,
        "count is {}, expected 3",
        first["count"]
    );
    ensure!(first["previous"].is_null(), "page 1 has a previous page");
    ensure!(
        results(&first)?.len() == 2,
        "page 1 has {} results",
        results(&first)?.len()
    );
    let next = first["next"].as_str().context("page 1 has no next page")?;
    let second = expect_json(target.client.get(next).send().await?, 200, "the next page").await?;
    ensure!(
        results(&second)?.len() == 1 && second["next"].is_null(),
        "page 2 is wrong: {second}"
    );
    ensure!(
        second["previous"].is_string(),
        "page 2 has no previous page"
    );
    Ok(())
}

async fn filtering_and_ordering(target: &Target) -> anyhow::Result<()> {
    let author = new_author(target).await?;
    // The check's books are found by their author; the tag's name need not be unique.
    let tag = "grader-filter".to_owned();
    for (year, tags) in [
        (1990, vec![tag.as_str()]),
        (2005, vec![]),
        (1970, vec![tag.as_str()]),
    ] {
        new_book(target, &author["id"], year, &tags).await?;
    }
    let years = |page: &Value| -> anyhow::Result<Vec<i64>> {
        Ok(results(page)?
            .iter()
            .filter_map(|b| b["year"].as_i64())
            .collect())
    };
    let base = format!("/api/books?author_id={}", author["id"]);
    let descending = expect_json(
        target
            .get(&format!("{base}&ordering=-year"))?
            .send()
            .await?,
        200,
        "ordering=-year",
    )
    .await?;
    ensure!(
        years(&descending)? == [2005, 1990, 1970],
        "ordering=-year gave {:?}",
        years(&descending)?
    );
    let ascending = expect_json(
        target.get(&format!("{base}&ordering=year"))?.send().await?,
        200,
        "ordering=year",
    )
    .await?;
    ensure!(
        years(&ascending)? == [1970, 1990, 2005],
        "ordering=year gave {:?}",
        years(&ascending)?
    );
    let tagged = expect_json(
        target
            .get(&format!("{base}&tag={tag}&ordering=year"))?
            .send()
            .await?,
        200,
        "tag=",
    )
    .await?;
    ensure!(
        years(&tagged)? == [1970, 1990],
        "tag={tag} gave {:?}",
        years(&tagged)?
    );
    let range = expect_json(
        target
            .get(&format!("{base}&year_min=1980&year_max=2000"))?
            .send()
            .await?,
        200,
        "a year range",
    )
    .await?;
    ensure!(
        years(&range)? == [1990],
        "year_min=1980&year_max=2000 gave {:?}",
        years(&range)?
    );
    let bogus = expect_problem(
        target
            .get("/api/books?ordering=secret_column")?
            .send()
            .await?,
        422,
        "ordering=secret_column",
    )
    .await?;
    expect_field_error(&bogus, "ordering", "ordering=secret_column")?;
    Ok(())
}

// ---- 2.7 ----

async fn query_count(
    target: &Target,
    strategy: &str,
    page_size: usize,
) -> anyhow::Result<(usize, Value)> {
    let response = target
        .get(&format!(
            "/api/authors-with-books?strategy={strategy}&page_size={page_size}"
        ))?
        .send()
        .await?;
    let count = header(&response, "x-query-count", strategy)?.parse()?;
    Ok((count, expect_json(response, 200, strategy).await?))
}

async fn eager_loading_is_constant(target: &Target) -> anyhow::Result<()> {
    // Enough authors with books for two page sizes.
    for _ in 0..4 {
        let author = new_author(target).await?;
        new_book(target, &author["id"], 2000, &["grader-eager"]).await?;
    }
    let (eager_small, body_small) = query_count(target, "eager", 2).await?;
    let (eager_large, body_large) = query_count(target, "eager", 4).await?;
    let (naive_small, naive_body) = query_count(target, "naive", 2).await?;
    let (naive_large, _) = query_count(target, "naive", 4).await?;
    ensure!(
        eager_small == eager_large,
        "eager loading took {eager_small} queries for 2 authors and {eager_large} for 4"
    );
    ensure!(
        naive_large > naive_small && naive_small > eager_small,
        "naive loading should grow with N: {naive_small} for 2, {naive_large} for 4 (eager {eager_small})"
    );
    ensure!(
        naive_body == body_small,
        "naive and eager loading answer differently"
    );
    ensure!(
        body_large.as_array().map_or(0, Vec::len) == 4,
        "page_size=4 did not give 4 authors"
    );
    Ok(())
}

// ---- 2.8 ----

async fn admin_blueprint(target: &Target) -> anyhow::Result<()> {
    let anonymous = target.get("/admin/stats")?.send().await?;
    header(
        &anonymous,
        "www-authenticate",
        "GET /admin/stats without a token",
    )?;
    expect_problem(anonymous, 401, "GET /admin/stats without a token").await?;
    let reader = target
        .get("/admin/stats")?
        .header(AUTHORIZATION, "Bearer reader-token")
        .send()
        .await?;
    expect_problem(reader, 403, "GET /admin/stats as a reader").await?;
    let admin = target
        .get("/admin/stats")?
        .header(AUTHORIZATION, "Bearer admin-token")
        .send()
        .await?;
    let stats = expect_json(admin, 200, "GET /admin/stats as an admin").await?;
    ensure!(
        stats["authors"].as_i64().is_some_and(|n| n > 0),
        "stats without authors: {stats}"
    );
    let missing = target
        .get("/admin/nothing-here")?
        .header(AUTHORIZATION, "Bearer admin-token")
        .send()
        .await?;
    let problem = expect_problem(missing, 404, "an unknown admin path").await?;
    ensure!(
        problem
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("/admin/stats")),
        "the admin area's 404 should list what it has: {:?}",
        problem.detail
    );
    // The admin middleware guards only its blueprint.
    expect_status(
        &target.get("/api/authors")?.send().await?,
        200,
        "GET /api/authors without a token",
    )?;
    Ok(())
}

// ---- 2.9 ----

async fn request_context(target: &Target) -> anyhow::Result<()> {
    let first = target.get("/api/context")?.send().await?;
    let header_id = header(&first, "x-request-id", "GET /api/context")?.to_owned();
    let first = expect_json(first, 200, "GET /api/context").await?;
    ensure!(
        first["request_id"] == header_id.as_str(),
        "the handler saw request id {}, the header says {header_id}",
        first["request_id"]
    );
    let second = expect_json(
        target.get("/api/context")?.send().await?,
        200,
        "GET /api/context again",
    )
    .await?;
    ensure!(
        second["request_id"] != first["request_id"],
        "two requests had the same id"
    );
    let (before, after) = (
        first["requests_served"].as_u64(),
        second["requests_served"].as_u64(),
    );
    ensure!(
        matches!((before, after), (Some(b), Some(a)) if a > b),
        "the application-wide request count did not grow: {before:?} then {after:?}"
    );
    Ok(())
}

// ---- 2.10 ----

async fn preflight(target: &Target, origin: &str) -> anyhow::Result<reqwest::Response> {
    Ok(target
        .request(Method::OPTIONS, "/api/books")?
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await?)
}

async fn cors_preflight(target: &Target) -> anyhow::Result<()> {
    let allowed = preflight(target, "http://localhost:3000").await?;
    ensure!(
        allowed.status().is_success(),
        "the preflight from an allowed origin got {}",
        allowed.status()
    );
    let origin = header(&allowed, "access-control-allow-origin", "the preflight")?;
    ensure!(
        origin == "http://localhost:3000",
        "Access-Control-Allow-Origin is {origin}"
    );
    let methods = header(&allowed, "access-control-allow-methods", "the preflight")?;
    ensure!(
        methods.contains("POST"),
        "Access-Control-Allow-Methods does not allow POST: {methods}"
    );
    let refused = preflight(target, "http://evil.example").await?;
    if refused
        .headers()
        .contains_key("access-control-allow-origin")
    {
        bail!("a preflight from an origin not on the list was allowed");
    }
    Ok(())
}

async fn compression(target: &Target) -> anyhow::Result<()> {
    let response = target
        .get("/api/books?page_size=100")?
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await?;
    expect_status(&response, 200, "GET /api/books with Accept-Encoding: gzip")?;
    let encoding = header(&response, "content-encoding", "Accept-Encoding: gzip")?;
    ensure!(encoding == "gzip", "Content-Encoding is {encoding}");
    ensure!(
        response.headers().get(CONTENT_TYPE).is_some(),
        "no Content-Type"
    );
    let plain = target.get("/api/books?page_size=100")?.send().await?;
    ensure!(
        plain.headers().get("content-encoding").is_none(),
        "compressed without being asked"
    );
    Ok(())
}
