//! Checks for phase 1, HTTP and the language (topics 1.1 to 1.9).
//!
//! Each check states one behaviour from `TOPICS.md` and fails with the reason when the server does
//! not show it. They create their own books (unique titles and ISBNs), so they do not depend on each
//! other or on what the server already holds.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, IF_NONE_MATCH, USER_AGENT};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::check::{
    Check, Skip, Target, expect_field_error, expect_json, expect_problem, expect_status, header,
    not_limited, unique, unique_isbn,
};
use crate::{checks, conventions};

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "1.1", "GET, HEAD and OPTIONS change nothing" => safe_methods_change_nothing,
        "1.1", "PUT and DELETE repeated leave the same state" => put_and_delete_are_idempotent,
        "1.1", "POST repeated creates two resources" => post_is_not_idempotent,
        "1.1", "PATCH changes only the fields it names" => patch_is_partial,
        "1.1", "HEAD has the headers of GET and no body" => head_has_no_body,
        "1.1", "OPTIONS and 405 carry Allow" => options_and_405_carry_allow,
        "1.2", "201 with a Location that resolves" => created_has_location,
        "1.2", "204 has an empty body" => no_content_is_empty,
        "1.2", "301/302 may turn POST into GET; 307/308 keep it" => redirects_and_methods,
        "1.2", "304 when If-None-Match matches the ETag" => not_modified,
        "1.2", "401 with WWW-Authenticate vs 403" => unauthorized_vs_forbidden,
        "1.2", "404 and 409 as problems" => not_found_and_conflict,
        "1.2", "429 with Retry-After" => too_many_requests,
        "1.2", "500 leaks nothing" => server_error_leaks_nothing,
        "1.3", "Accept chooses JSON, CSV or text; 406 otherwise" => content_negotiation,
        "1.3", "the echo shows what the server received" => echo_shows_request,
        "1.3", "Cache-Control is set" => cache_control_is_set,
        "1.4", "JSON, form and multipart create the same resource" => three_encodings,
        "1.4", "wrong type 415, oversize 413, malformed 400" => body_errors,
        "1.5", "hand-written server: keep-alive and echo" => raw_keep_alive_and_echo,
        "1.5", "hand-written server: 400 on a malformed request" => raw_malformed_request,
        "1.6", "a wrong path or query type is a 400 naming it" => wrong_types_name_the_parameter,
        "1.7", "renames, defaults, tagged enums, RFC 3339" => serialization_shape,
        "1.7", "unknown fields are refused" => unknown_fields_refused,
        "1.8", "422 lists every failing field and rule" => validation_lists_every_field,
        "1.9", "attribute macro and explicit route answer alike" => macro_and_explicit_routes,
        "1.9", "the middleware decorates only what it wraps" => middleware_decorates,
    ];
    checks.extend(conventions::anonymous());
    checks
}

/// GETs `path` and expects a problem with `status`.
async fn get_problem(target: &Target, path: &str, status: u16) -> anyhow::Result<common::Problem> {
    let response = target.get(path)?.send().await?;
    expect_problem(response, status, &format!("GET {path}")).await
}

/// A valid new book with a unique title and ISBN.
fn new_book() -> Value {
    let n = unique();
    json!({
        "title": format!("Grader book {n}"),
        // Unique, and no prefix of another, so `?author=` finds this check's books alone.
        "author": format!("Grader-{n}-"),
        "year": 2001,
        "isbn13": unique_isbn(),
    })
}

/// POSTs a book as JSON and returns what the server answered (201 required). The book is deleted
/// when the check ends.
async fn create(target: &Target, book: &Value) -> anyhow::Result<Value> {
    let response = target
        .request(Method::POST, "/books")?
        .json(book)
        .send()
        .await?;
    created(target, expect_json(response, 201, "POST /books").await?)
}

/// `book`, which the server just created, to be deleted when the check ends.
fn created(target: &Target, book: Value) -> anyhow::Result<Value> {
    target.delete_afterwards(format!("/books/{}", id_of(&book)?), None);
    Ok(book)
}

fn id_of(book: &Value) -> anyhow::Result<u64> {
    book["id"]
        .as_u64()
        .with_context(|| format!("the book has no numeric id: {book}"))
}

/// The books by `book`'s author: the check's own, however many the server holds.
async fn list_books(target: &Target, book: &Value) -> anyhow::Result<Value> {
    let author = book["author"].as_str().context("the book has no author")?;
    let mut url = target.url("/books")?;
    url.query_pairs_mut()
        .append_pair("author", author)
        .append_pair("limit", "100");
    expect_json(
        target.client.get(url).send().await?,
        200,
        "GET /books?author=",
    )
    .await
}

// ---- 1.1 methods ----

async fn safe_methods_change_nothing(target: &Target) -> anyhow::Result<()> {
    let book = create(target, &new_book()).await?;
    let path = format!("/books/{}", id_of(&book)?);
    let before = list_books(target, &book).await?;
    ensure!(
        before.as_array().is_some_and(|books| books.len() == 1),
        "GET /books?author= does not list the new book: {before}"
    );
    let one_before = expect_json(target.get(&path)?.send().await?, 200, "GET").await?;
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        target.request(method.clone(), "/books")?.send().await?;
        target.request(method, &path)?.send().await?;
    }
    ensure!(
        list_books(target, &book).await? == before,
        "the list changed after GET, HEAD and OPTIONS"
    );
    let one_after = expect_json(target.get(&path)?.send().await?, 200, "GET").await?;
    ensure!(
        one_before == one_after,
        "the book changed after GET, HEAD and OPTIONS"
    );
    Ok(())
}

async fn put_and_delete_are_idempotent(target: &Target) -> anyhow::Result<()> {
    let id = 1_000_000 + unique() % 1_000_000;
    let path = format!("/books/{id}");
    target.delete_afterwards(&path, None);
    let body = new_book();
    let first = target
        .request(Method::PUT, &path)?
        .json(&body)
        .send()
        .await?;
    not_limited(&first, "the first PUT")?;
    ensure!(
        matches!(first.status().as_u16(), 200 | 201),
        "the first PUT {path}: expected 201 (or 200), got {}",
        first.status()
    );
    let second = expect_json(
        target
            .request(Method::PUT, &path)?
            .json(&body)
            .send()
            .await?,
        200,
        "a repeated PUT",
    )
    .await?;
    ensure!(
        second["title"] == body["title"] && id_of(&second)? == id,
        "the repeated PUT changed the book: {second}"
    );
    let matching = list_books(target, &body)
        .await?
        .as_array()
        .map_or(0, |books| {
            books.iter().filter(|b| b["title"] == body["title"]).count()
        });
    ensure!(
        matching == 1,
        "after two PUTs the list has {matching} copies of the book, expected 1"
    );

    expect_status(
        &target.request(Method::DELETE, &path)?.send().await?,
        204,
        "DELETE",
    )?;
    let again = target.request(Method::DELETE, &path)?.send().await?;
    expect_problem(again, 404, "a repeated DELETE").await?;
    expect_problem(target.get(&path)?.send().await?, 404, "GET after DELETE").await?;
    Ok(())
}

async fn post_is_not_idempotent(target: &Target) -> anyhow::Result<()> {
    let mut body = new_book();
    // Without an ISBN, so the second POST is not a conflict.
    body.as_object_mut().map(|b| b.remove("isbn13"));
    let first = id_of(&create(target, &body).await?)?;
    let second = id_of(&create(target, &body).await?)?;
    ensure!(first != second, "two POSTs returned the same id {first}");
    let copies = list_books(target, &body)
        .await?
        .as_array()
        .map_or(0, |books| {
            books.iter().filter(|b| b["title"] == body["title"]).count()
        });
    ensure!(
        copies == 2,
        "after two POSTs the list has {copies} copies, expected 2"
    );
    Ok(())
}

async fn patch_is_partial(target: &Target) -> anyhow::Result<()> {
    let book = create(target, &new_book()).await?;
    let path = format!("/books/{}", id_of(&book)?);
    let patched = target
        .request(Method::PATCH, &path)?
        .json(&json!({"year": 1999}))
        .send()
        .await?;
    let patched = expect_json(patched, 200, "PATCH").await?;
    ensure!(
        patched["year"] == 1999,
        "PATCH did not change the year: {patched}"
    );
    ensure!(
        patched["title"] == book["title"] && patched["author"] == book["author"],
        "PATCH changed fields it did not name: {patched}"
    );
    Ok(())
}

async fn head_has_no_body(target: &Target) -> anyhow::Result<()> {
    let book = create(target, &new_book()).await?;
    let path = format!("/books/{}", id_of(&book)?);
    let get = target.get(&path)?.send().await?;
    expect_status(&get, 200, "GET")?;
    let get_type = header(&get, CONTENT_TYPE.as_str(), "GET")?.to_owned();
    let get_length = get.bytes().await?.len();
    let head = target.request(Method::HEAD, &path)?.send().await?;
    expect_status(&head, 200, "HEAD")?;
    ensure!(
        header(&head, CONTENT_TYPE.as_str(), "HEAD")? == get_type,
        "HEAD and GET differ in Content-Type"
    );
    let length: usize = header(&head, "content-length", "HEAD")?.parse()?;
    ensure!(
        length == get_length,
        "HEAD says Content-Length {length}, GET sent {get_length} bytes"
    );
    ensure!(head.bytes().await?.is_empty(), "HEAD sent a body");
    Ok(())
}

fn allow_lists(allow: &str, methods: &[&str]) -> anyhow::Result<()> {
    let listed: Vec<String> = allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .collect();
    for method in methods {
        ensure!(
            listed.iter().any(|m| m == method),
            "Allow `{allow}` does not list {method}"
        );
    }
    Ok(())
}

async fn options_and_405_carry_allow(target: &Target) -> anyhow::Result<()> {
    let options = target.request(Method::OPTIONS, "/books")?.send().await?;
    not_limited(&options, "OPTIONS /books")?;
    ensure!(
        options.status().is_success(),
        "OPTIONS /books: expected 2xx, got {}",
        options.status()
    );
    allow_lists(
        header(&options, "allow", "OPTIONS /books")?,
        &["GET", "HEAD", "POST", "OPTIONS"],
    )?;
    let options = target.request(Method::OPTIONS, "/books/1")?.send().await?;
    allow_lists(
        header(&options, "allow", "OPTIONS /books/1")?,
        &["GET", "PUT", "PATCH", "DELETE"],
    )?;

    let delete = target.request(Method::DELETE, "/books")?.send().await?;
    let allow = header(&delete, "allow", "DELETE /books")?.to_owned();
    allow_lists(&allow, &["GET", "POST"])?;
    ensure!(
        !allow.contains("DELETE"),
        "405 for DELETE lists DELETE as allowed: {allow}"
    );
    expect_problem(delete, 405, "DELETE /books").await?;
    Ok(())
}

// ---- 1.2 status codes ----

async fn created_has_location(target: &Target) -> anyhow::Result<()> {
    let response = target
        .request(Method::POST, "/books")?
        .json(&new_book())
        .send()
        .await?;
    let location = header(&response, "location", "POST /books")?.to_owned();
    let book = created(target, expect_json(response, 201, "POST /books").await?)?;
    let fetched = expect_json(target.get(&location)?.send().await?, 200, "GET Location").await?;
    ensure!(
        fetched["id"] == book["id"],
        "Location {location} leads to another book"
    );
    Ok(())
}

async fn no_content_is_empty(target: &Target) -> anyhow::Result<()> {
    let book = create(target, &new_book()).await?;
    let response = target
        .request(Method::DELETE, &format!("/books/{}", id_of(&book)?))?
        .send()
        .await?;
    expect_status(&response, 204, "DELETE")?;
    ensure!(response.bytes().await?.is_empty(), "204 came with a body");
    Ok(())
}

async fn redirects_and_methods(target: &Target) -> anyhow::Result<()> {
    for code in [301, 302, 307, 308] {
        let response = target
            .request(Method::POST, &format!("/status/redirect/{code}"))?
            .send()
            .await?;
        expect_status(&response, code, &format!("POST /status/redirect/{code}"))?;
        header(&response, "location", &format!("{code}"))?;
    }
    // A client that follows redirects as browsers do (reqwest's default policy).
    let following = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    for (code, method) in [(302, "GET"), (301, "GET"), (307, "POST"), (308, "POST")] {
        let response = following
            .post(target.url(&format!("/status/redirect/{code}"))?)
            .body("x=1")
            .send()
            .await?;
        let arrived = expect_json(response, 200, &format!("following {code}")).await?;
        ensure!(
            arrived["method"] == method,
            "after following {code} with a POST the server saw {}, expected {method}",
            arrived["method"]
        );
    }
    Ok(())
}

async fn not_modified(target: &Target) -> anyhow::Result<()> {
    let first = target.get("/status/cached")?.send().await?;
    expect_status(&first, 200, "GET /status/cached")?;
    let etag = header(&first, "etag", "GET /status/cached")?.to_owned();
    let second = target
        .get("/status/cached")?
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await?;
    expect_status(&second, 304, "GET with If-None-Match")?;
    ensure!(second.bytes().await?.is_empty(), "304 came with a body");
    let other = target
        .get("/status/cached")?
        .header(IF_NONE_MATCH, "\"other\"")
        .send()
        .await?;
    expect_status(&other, 200, "GET with a stale If-None-Match")?;
    Ok(())
}

async fn unauthorized_vs_forbidden(target: &Target) -> anyhow::Result<()> {
    let anonymous = target.get("/status/admin")?.send().await?;
    let challenge = header(&anonymous, "www-authenticate", "401")?.to_owned();
    ensure!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate should name the Bearer scheme: {challenge}"
    );
    expect_problem(anonymous, 401, "no credentials").await?;
    let user = target
        .get("/status/admin")?
        .header(AUTHORIZATION, "Bearer user-token")
        .send()
        .await?;
    expect_problem(user, 403, "a user's token").await?;
    let admin = target
        .get("/status/admin")?
        .header(AUTHORIZATION, "Bearer admin-token")
        .send()
        .await?;
    expect_status(&admin, 200, "an admin's token")?;
    Ok(())
}

async fn not_found_and_conflict(target: &Target) -> anyhow::Result<()> {
    let missing = target.get("/books/999999999")?.send().await?;
    let problem = expect_problem(missing, 404, "GET /books/999999999").await?;
    ensure!(
        problem.instance.as_deref() == Some("/books/999999999"),
        "the 404 problem's instance is {:?}",
        problem.instance
    );

    let book = new_book();
    create(target, &book).await?;
    let mut twin = new_book();
    twin["isbn13"] = book["isbn13"].clone();
    let clash = target
        .request(Method::POST, "/books")?
        .json(&twin)
        .send()
        .await?;
    expect_problem(clash, 409, "a second book with the same ISBN").await?;
    Ok(())
}

async fn too_many_requests(target: &Target) -> anyhow::Result<()> {
    for _ in 0..20 {
        let response = target.get("/status/limited")?.send().await?;
        if response.status().as_u16() == 429 {
            let retry_after: u64 = header(&response, "retry-after", "429")?
                .parse()
                .context("Retry-After is not a number of seconds")?;
            ensure!(retry_after >= 1, "Retry-After is {retry_after}");
            expect_problem(response, 429, "GET /status/limited").await?;
            return Ok(());
        }
        expect_status(&response, 200, "GET /status/limited within the limit")?;
    }
    bail!("20 requests in a row to /status/limited were never limited")
}

async fn server_error_leaks_nothing(target: &Target) -> anyhow::Result<()> {
    let response = target.get("/status/crash")?.send().await?;
    expect_status(&response, 500, "GET /status/crash")?;
    let text = response.text().await?;
    for secret in ["hunter2", "postgres", "db.internal", "panicked"] {
        ensure!(
            !text.contains(secret),
            "the 500 body leaks `{secret}`: {text}"
        );
    }
    let problem: common::Problem =
        serde_json::from_str(&text).context("the 500 body is not a problem")?;
    ensure!(
        problem.status == 500 && problem.detail.is_none(),
        "the 500 problem explains too much: {text}"
    );
    Ok(())
}

// ---- 1.3 headers ----

async fn content_negotiation(target: &Target) -> anyhow::Result<()> {
    create(target, &new_book()).await?;
    let cases = [
        ("application/json", "application/json"),
        ("text/csv", "text/csv"),
        ("text/plain", "text/plain"),
        ("text/csv;q=0.5, text/plain", "text/plain"),
        ("image/png, */*;q=0.1", "application/json"),
    ];
    for (accept, expected) in cases {
        let response = target.get("/books")?.header(ACCEPT, accept).send().await?;
        expect_status(&response, 200, &format!("Accept: {accept}"))?;
        let content_type = header(&response, CONTENT_TYPE.as_str(), accept)?.to_owned();
        ensure!(
            content_type.starts_with(expected),
            "Accept: {accept} gave {content_type}, expected {expected}"
        );
        let vary = header(&response, "vary", accept)?.to_ascii_lowercase();
        ensure!(vary.contains("accept"), "Vary does not name Accept: {vary}");
        let body = response.text().await?;
        match expected {
            "text/csv" => ensure!(
                body.starts_with("id,title,author"),
                "the CSV has no header row: {body:.80}"
            ),
            "application/json" => ensure!(
                serde_json::from_str::<Vec<Value>>(&body).is_ok(),
                "not a JSON list"
            ),
            _ => ensure!(
                body.contains(" by "),
                "the text list is not `title by author`: {body:.80}"
            ),
        }
    }
    let refused = target
        .get("/books")?
        .header(ACCEPT, "image/png")
        .send()
        .await?;
    expect_problem(refused, 406, "Accept: image/png").await?;
    Ok(())
}

async fn echo_shows_request(target: &Target) -> anyhow::Result<()> {
    let response = target
        .get("/headers/echo?q=1")?
        .header(USER_AGENT, "grader-agent/1.0")
        .header(AUTHORIZATION, "Bearer sekrit-token-123")
        .header("x-grader", "hello")
        .send()
        .await?;
    expect_status(&response, 200, "GET /headers/echo")?;
    let text = response.text().await?;
    ensure!(
        !text.contains("sekrit-token-123"),
        "the echo shows the bearer token"
    );
    let echo: Value = serde_json::from_str(&text)?;
    ensure!(
        echo["user_agent"] == "grader-agent/1.0",
        "the echo's user_agent is {}",
        echo["user_agent"]
    );
    ensure!(
        echo["method"] == "GET" && echo["query"] == "q=1",
        "the echo's method/query are wrong: {echo}"
    );
    ensure!(
        echo["authorization"]["scheme"] == "Bearer",
        "the echo did not parse Authorization: {}",
        echo["authorization"]
    );
    ensure!(
        echo["headers"]["x-grader"] == "hello",
        "the echo does not show x-grader: {}",
        echo["headers"]
    );
    Ok(())
}

async fn cache_control_is_set(target: &Target) -> anyhow::Result<()> {
    let list = target.get("/books")?.send().await?;
    header(&list, "cache-control", "GET /books")?;
    let echo = target.get("/headers/echo")?.send().await?;
    let directive = header(&echo, "cache-control", "GET /headers/echo")?;
    ensure!(
        directive.contains("no-store"),
        "the echo is personal and must be no-store, is `{directive}`"
    );
    Ok(())
}

// ---- 1.4 bodies ----

async fn three_encodings(target: &Target) -> anyhow::Result<()> {
    let n = unique();
    let form_title = format!("Form book {n}");
    let form = target
        .request(Method::POST, "/books")?
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "title=Form+book+{n}&author=Grader&year=1999&tags=a&tags=b"
        ))
        .send()
        .await?;
    let form = created(
        target,
        expect_json(form, 201, "POST /books as a form").await?,
    )?;
    ensure!(
        form["title"] == form_title.as_str() && form["year"] == 1999,
        "the form book is wrong: {form}"
    );
    ensure!(
        form["tags"] == json!(["a", "b"]),
        "the form's tags are wrong: {}",
        form["tags"]
    );

    let cover: Vec<u8> = b"\x89PNG\r\n\x1a\n grader cover".to_vec();
    let boundary = "graderboundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in [
        ("title", format!("Multipart book {n}")),
        ("author", "Grader".into()),
        ("year", "1998".into()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"cover\"; filename=\"cover.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend(&cover);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let multipart = target
        .request(Method::POST, "/books")?
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await?;
    let multipart = created(
        target,
        expect_json(multipart, 201, "POST /books as multipart").await?,
    )?;
    ensure!(
        multipart["year"] == 1998,
        "the multipart book is wrong: {multipart}"
    );
    let got = target
        .get(&format!("/books/{}/cover", id_of(&multipart)?))?
        .send()
        .await?;
    expect_status(&got, 200, "GET the cover")?;
    ensure!(
        header(&got, CONTENT_TYPE.as_str(), "the cover")? == "image/png",
        "the cover lost its type"
    );
    ensure!(got.bytes().await? == cover, "the cover's bytes changed");

    let json = create(target, &new_book()).await?;
    for book in [&form, &multipart, &json] {
        for field in ["id", "title", "author", "year", "created_at"] {
            ensure!(
                !book[field].is_null(),
                "a book created from one encoding lacks `{field}`: {book}"
            );
        }
    }
    Ok(())
}

async fn body_errors(target: &Target) -> anyhow::Result<()> {
    let text = target
        .request(Method::POST, "/books")?
        .header(CONTENT_TYPE, "text/plain")
        .body("Dune")
        .send()
        .await?;
    expect_problem(text, 415, "POST /books as text/plain").await?;
    let mut huge = new_book();
    huge["title"] = Value::String("x".repeat(200 * 1024));
    let oversize = target
        .request(Method::POST, "/books")?
        .json(&huge)
        .send()
        .await?;
    expect_problem(oversize, 413, "a 200 KiB JSON body").await?;
    let broken = target
        .request(Method::POST, "/books")?
        .header(CONTENT_TYPE, "application/json")
        .body("{\"title\": ")
        .send()
        .await?;
    expect_problem(broken, 400, "malformed JSON").await?;
    Ok(())
}

// ---- 1.5 the protocol by hand ----

/// Reads one HTTP/1.1 response: status code, head text and body (by Content-Length).
async fn read_response<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        ensure!(
            reader.read_line(&mut line).await? > 0,
            "the connection closed inside a response head"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP status line: {head:.60}"))?;
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok((status, head, body))
}

fn raw_address(target: &Target) -> anyhow::Result<String> {
    let url = target
        .raw_url
        .as_ref()
        .ok_or_else(|| Skip("no --raw-url given for the hand-written server".into()))?;
    let host = url.host_str().context("the raw URL has no host")?;
    Ok(format!(
        "{host}:{}",
        url.port_or_known_default().unwrap_or(80)
    ))
}

async fn raw_keep_alive_and_echo(target: &Target) -> anyhow::Result<()> {
    let stream = TcpStream::connect(raw_address(target)?).await?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    for n in 1..=2 {
        let request =
            format!("POST /echo?n={n} HTTP/1.1\r\nHost: grader\r\nContent-Length: 5\r\n\r\nhello");
        writer.write_all(request.as_bytes()).await?;
        let (status, _, body) = read_response(&mut reader)
            .await
            .with_context(|| format!("request {n} on one connection"))?;
        ensure!(status == 200, "POST /echo answered {status}");
        let body = String::from_utf8_lossy(&body);
        ensure!(
            body.starts_with(&format!("POST /echo?n={n} HTTP/1.1")),
            "the echo does not start with the request line: {body:.80}"
        );
        ensure!(
            body.ends_with("hello"),
            "the echo does not end with the body: {body:.80}"
        );
    }
    Ok(())
}

async fn raw_malformed_request(target: &Target) -> anyhow::Result<()> {
    let stream = TcpStream::connect(raw_address(target)?).await?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"THIS IS NOT HTTP\r\n\r\n").await?;
    let (status, head, body) = read_response(&mut reader).await?;
    ensure!(
        status == 400,
        "a malformed request got {status}, expected 400"
    );
    let head = head.to_ascii_lowercase();
    ensure!(
        head.contains("connection: close"),
        "the 400 does not close the connection"
    );
    ensure!(
        head.contains("content-type: application/problem+json"),
        "the 400 is not a problem document"
    );
    let problem: common::Problem =
        serde_json::from_slice(&body).context("the 400 body is not a problem")?;
    ensure!(
        problem.detail.is_some_and(|d| !d.is_empty()),
        "the 400 problem does not say what was wrong"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), reader.read_to_end(&mut rest)).await;
    ensure!(
        matches!(closed, Ok(Ok(0))),
        "the connection stayed open after the 400"
    );
    Ok(())
}

// ---- 1.6 types at the edge ----

async fn wrong_types_name_the_parameter(target: &Target) -> anyhow::Result<()> {
    let path = get_problem(target, "/books/abc", 400).await?;
    expect_field_error(&path, "id", "GET /books/abc")?;
    let query = get_problem(target, "/books?limit=ten", 400).await?;
    expect_field_error(&query, "limit", "GET /books?limit=ten")?;
    let rule = get_problem(target, "/books?limit=1000", 422).await?;
    expect_field_error(&rule, "limit", "GET /books?limit=1000")?;
    Ok(())
}

// ---- 1.7 serialization ----

async fn serialization_shape(target: &Target) -> anyhow::Result<()> {
    let mut book = new_book();
    book["format"] = json!({"kind": "ebook", "size_kb": 2048});
    let created = create(target, &book).await?;
    let fetched = expect_json(
        target
            .get(&format!("/books/{}", id_of(&created)?))?
            .send()
            .await?,
        200,
        "GET",
    )
    .await?;
    ensure!(
        fetched["isbn13"] == book["isbn13"] && fetched.get("isbn").is_none(),
        "the ISBN is not called isbn13: {fetched}"
    );
    ensure!(
        fetched["tags"] == json!([]),
        "tags did not default to []: {}",
        fetched["tags"]
    );
    ensure!(
        fetched["format"] == book["format"],
        "the tagged format came back as {}",
        fetched["format"]
    );
    for field in ["created_at", "updated_at"] {
        let stamp = fetched[field]
            .as_str()
            .with_context(|| format!("{field} is not text"))?;
        chrono::DateTime::parse_from_rfc3339(stamp)
            .with_context(|| format!("{field} `{stamp}` is not RFC 3339"))?;
    }
    let wrong_kind = target
        .request(Method::POST, "/books")?
        .json(&json!({"title": "t", "author": "a", "year": 2000, "format": {"kind": "scroll"}}))
        .send()
        .await?;
    let problem = expect_problem(wrong_kind, 422, "an unknown format kind").await?;
    expect_field_error(&problem, "format", "an unknown format kind")?;
    Ok(())
}

async fn unknown_fields_refused(target: &Target) -> anyhow::Result<()> {
    let mut book = new_book();
    book["colour"] = json!("blue");
    let response = target
        .request(Method::POST, "/books")?
        .json(&book)
        .send()
        .await?;
    let problem = expect_problem(response, 422, "a book with an unknown field").await?;
    let text = serde_json::to_string(&problem)?;
    ensure!(
        text.contains("colour"),
        "the problem does not name the unknown field: {text}"
    );
    Ok(())
}

// ---- 1.8 validation ----

async fn validation_lists_every_field(target: &Target) -> anyhow::Result<()> {
    let invalid = json!({
        "title": "", "author": "Grader", "year": 99, "isbn13": "123",
        "tags": ["Not A Slug"], "publisher": {"name": "P", "email": "not-an-email"}
    });
    let response = target
        .request(Method::POST, "/books")?
        .json(&invalid)
        .send()
        .await?;
    let problem = expect_problem(response, 422, "an invalid book").await?;
    for field in ["title", "year", "isbn13", "tags", "publisher.email"] {
        expect_field_error(&problem, field, "an invalid book")?;
    }
    ensure!(
        problem.errors.iter().all(|e| !e.message.is_empty()),
        "an error has no reason"
    );
    Ok(())
}

// ---- 1.9 decorators ----

async fn macro_and_explicit_routes(target: &Target) -> anyhow::Result<()> {
    let by_macro = expect_json(
        target.get("/hello/Ada")?.send().await?,
        200,
        "GET /hello/Ada",
    )
    .await?;
    let explicit = expect_json(
        target.get("/hello-explicit/Ada")?.send().await?,
        200,
        "GET /hello-explicit/Ada",
    )
    .await?;
    ensure!(
        by_macro == explicit,
        "the two registrations answer differently: {by_macro} vs {explicit}"
    );
    ensure!(
        by_macro.to_string().contains("Ada"),
        "the greeting does not use the path parameter: {by_macro}"
    );
    // However a route is registered, it keeps HTTP's contract: HEAD is GET without the body.
    for path in ["/hello/Ada", "/hello-explicit/Ada"] {
        let head = target.request(Method::HEAD, path)?.send().await?;
        expect_status(&head, 200, &format!("HEAD {path}"))?;
        ensure!(head.bytes().await?.is_empty(), "HEAD {path} sent a body");
    }
    Ok(())
}

async fn middleware_decorates(target: &Target) -> anyhow::Result<()> {
    for path in ["/hello/Ada", "/hello-explicit/Ada"] {
        let response = target.get(path)?.send().await?;
        let timing = header(&response, "server-timing", path)?;
        ensure!(
            timing.contains("dur="),
            "Server-Timing has no duration: {timing}"
        );
    }
    let books = target.get("/books")?.send().await?;
    not_limited(&books, "GET /books")?;
    ensure!(
        books.status().is_success(),
        "GET /books failed: {}",
        books.status()
    );
    ensure!(
        books.headers().get("server-timing").is_none(),
        "/books is decorated too; the middleware should wrap only /hello"
    );
    Ok(())
}
