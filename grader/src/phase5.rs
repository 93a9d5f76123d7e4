//! Checks for phase 5, performance and scalability (topics 5.1 to 5.5).
//!
//! The contract a phase-5 server keeps, beyond its routes: a catalogue with listings for books 1
//! to 7 (strong `ETag`s of the form `"v{version}"`), the sales report at `/reports/sales` with its
//! counters at `/cache/stats`, and a worker of its own running jobs (the default; `--workers 0`
//! fails the 5.3 checks). What needs nginx or a second instance is tested by `cargo test -p
//! phase5-perf`; its check here says so as a skip.
//!
//! What the checks create stays: sales, jobs, and the version of a listing they rewrite (back to
//! its price and stock, one version later).

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{Check, Skip, Target, expect_json, expect_problem, expect_status, header};
use crate::{checks, conventions};

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "5.1", "a conditional GET answers 304 with the 200's validators" => conditional_get,
        "5.1", "a write needs If-Match: 428 without, 412 when stale" => conditional_write,
        "5.1", "a compressed body has a weak ETag; Vary survives compression" => compressed_representation,
        "5.1", "Cache-Control fits each resource: public, private, no-store, immutable" => cache_control_per_resource,
        "5.2", "the report is cached and says which tier answered" => report_tiers,
        "5.2", "a write invalidates; 50 concurrent misses compute once" => stampede_after_write,
        "5.3", "a job answers 202 with Location, retries, then succeeds" => job_lifecycle,
        "5.3", "a job out of attempts is dead; a scheduled one can be cancelled" => dead_and_cancelled,
        "5.4", "a blocking sleep stalls its worker; the blocking pool does not" => blocking_stalls,
        "5.5", "forwarding headers from an unknown client are ignored; responses name their instance" => untrusted_forwarding,
        "5.5", "nginx in front of two instances" => behind_nginx,
    ];
    checks.extend(conventions::anonymous());
    checks
}

async fn listing(target: &Target, id: u32) -> anyhow::Result<(String, Value)> {
    let response = target.get(&format!("/catalogue/{id}"))?.send().await?;
    let etag = header(&response, "etag", "GET /catalogue/{id}")?.to_owned();
    Ok((
        etag,
        expect_json(response, 200, "GET /catalogue/{id}").await?,
    ))
}

async fn conditional_get(target: &Target) -> anyhow::Result<()> {
    let first = target.get("/catalogue/1")?.send().await?;
    expect_status(&first, 200, "GET /catalogue/1")?;
    let etag = header(&first, "etag", "GET /catalogue/1")?.to_owned();
    ensure!(
        !etag.starts_with("W/"),
        "the listing's ETag is weak ({etag}): its bytes are exact"
    );
    let cache_control = header(&first, "cache-control", "GET /catalogue/1")?.to_owned();
    let modified = header(&first, "last-modified", "GET /catalogue/1")?.to_owned();
    for (name, value) in [
        ("If-None-Match", etag.clone()),
        ("If-None-Match", format!("\"nope\", {etag}")),
        ("If-None-Match", "*".to_owned()),
        ("If-Modified-Since", modified),
    ] {
        let again = target
            .get("/catalogue/1")?
            .header(name, &value)
            .send()
            .await?;
        let what = format!("GET /catalogue/1 with {name}: {value}");
        expect_status(&again, 304, &what)?;
        ensure!(
            header(&again, "etag", &what)? == etag,
            "{what}: the 304's ETag differs"
        );
        ensure!(
            header(&again, "cache-control", &what)? == cache_control,
            "{what}: the 304's Cache-Control differs"
        );
        ensure!(
            again.bytes().await?.is_empty(),
            "{what}: the 304 has a body"
        );
    }
    let precedence = target
        .get("/catalogue/1")?
        .header("If-None-Match", "\"nope\"")
        .header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")
        .send()
        .await?;
    expect_status(
        &precedence,
        200,
        "a non-matching If-None-Match with a future If-Modified-Since (If-None-Match decides)",
    )
}

async fn conditional_write(target: &Target) -> anyhow::Result<()> {
    let (etag, before) = listing(target, 3).await?;
    let body = json!({"price_cents": before["price_cents"], "stock": before["stock"]});
    let put = |tag: Option<&str>| -> anyhow::Result<_> {
        let request = target.request(Method::PUT, "/catalogue/3")?.json(&body);
        Ok(match tag {
            Some(tag) => request.header("If-Match", tag),
            None => request,
        })
    };
    expect_problem(put(None)?.send().await?, 428, "PUT without If-Match").await?;
    let written = put(Some(&etag))?.send().await?;
    expect_status(&written, 200, "PUT with the current ETag")?;
    let newer = header(&written, "etag", "PUT with the current ETag")?.to_owned();
    ensure!(newer != etag, "the write did not change the ETag ({etag})");
    expect_problem(
        put(Some(&etag))?.send().await?,
        412,
        "PUT with the ETag it replaced",
    )
    .await?;
    let (current, _) = listing(target, 3).await?;
    ensure!(
        current == newer,
        "GET shows {current}, the PUT answered {newer}"
    );
    Ok(())
}

async fn compressed_representation(target: &Target) -> anyhow::Result<()> {
    let plain = target.get("/catalogue")?.send().await?;
    let what = "GET /catalogue";
    expect_status(&plain, 200, what)?;
    let strong = header(&plain, "etag", what)?.to_owned();
    ensure!(
        !strong.starts_with("W/"),
        "{what}: the identity body's ETag is weak"
    );
    let vary = header(&plain, "vary", what)?.to_ascii_lowercase();
    ensure!(
        vary.contains("accept") && vary.contains("accept-encoding"),
        "{what}: Vary is `{vary}`"
    );
    let what = "GET /catalogue with Accept-Encoding: gzip";
    let gzip = target
        .get("/catalogue")?
        .header("Accept-Encoding", "gzip")
        .send()
        .await?;
    expect_status(&gzip, 200, what)?;
    ensure!(
        header(&gzip, "content-encoding", what)? == "gzip",
        "{what}: not compressed"
    );
    let weak = header(&gzip, "etag", what)?;
    ensure!(
        weak == format!("W/{strong}"),
        "{what}: ETag {weak}, expected W/{strong}"
    );
    let vary = header(&gzip, "vary", what)?.to_ascii_lowercase();
    ensure!(
        vary.contains("accept-encoding") && vary.split(',').any(|v| v.trim() == "accept"),
        "{what}: Vary is `{vary}`"
    );
    Ok(())
}

async fn cache_control_per_resource(target: &Target) -> anyhow::Result<()> {
    let directives = |value: &str| -> Vec<String> {
        value
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .collect()
    };
    let catalogue = target.get("/catalogue/1")?.send().await?;
    let public = directives(header(&catalogue, "cache-control", "GET /catalogue/1")?);
    ensure!(
        public.contains(&"public".into()) && public.iter().any(|d| d.starts_with("max-age=")),
        "the catalogue's Cache-Control is {public:?}"
    );
    let own = target
        .get("/customers/reader1@example.com/purchases")?
        .send()
        .await?;
    let private = directives(header(&own, "cache-control", "a customer's purchases")?);
    ensure!(
        private.contains(&"private".into()) && private.contains(&"no-cache".into()),
        "a customer's purchases: Cache-Control is {private:?}"
    );
    let token = target.get("/catalogue/1/download-token")?.send().await?;
    let secret = directives(header(&token, "cache-control", "a download token")?);
    ensure!(
        secret.contains(&"no-store".into()),
        "a download token: Cache-Control is {secret:?}"
    );
    // The stylesheet's current name is in the tour; a 404 for an old name says it too.
    let missing = target
        .get("/assets/catalogue.000000000000.css")?
        .send()
        .await?;
    let problem = expect_problem(missing, 404, "an asset under an old name").await?;
    let name = problem
        .detail
        .as_deref()
        .and_then(|detail| detail.split("/assets/").nth(1))
        .context("the 404 for an old asset name does not say the current one")?
        .trim()
        .to_owned();
    let asset = target.get(&format!("/assets/{name}"))?.send().await?;
    expect_status(&asset, 200, "the versioned stylesheet")?;
    let forever = directives(header(&asset, "cache-control", "the versioned stylesheet")?);
    ensure!(
        forever.contains(&"immutable".into()) && forever.contains(&"max-age=31536000".into()),
        "the versioned stylesheet: Cache-Control is {forever:?}"
    );
    Ok(())
}

async fn stats(target: &Target) -> anyhow::Result<Value> {
    expect_json(
        target.get("/cache/stats")?.send().await?,
        200,
        "GET /cache/stats",
    )
    .await
}

async fn report_tiers(target: &Target) -> anyhow::Result<()> {
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let response = target.get("/reports/sales")?.send().await?;
        statuses.push(header(&response, "cache-status", "GET /reports/sales")?.to_owned());
        bodies.push(expect_json(response, 200, "GET /reports/sales").await?);
    }
    ensure!(
        statuses[1].starts_with("phase5-memory; hit") || statuses[1].contains("; hit"),
        "the second request was not a hit: Cache-Status `{}`",
        statuses[1]
    );
    ensure!(
        bodies[0] == bodies[1],
        "a hit answered another report than the first request"
    );
    let rows = bodies[1]["rows"]
        .as_array()
        .context("the report has no `rows`")?;
    ensure!(!rows.is_empty(), "the report is empty");
    Ok(())
}

async fn stampede_after_write(target: &Target) -> anyhow::Result<()> {
    let before = expect_json(
        target.get("/reports/sales")?.send().await?,
        200,
        "the report",
    )
    .await?;
    let sold = target
        .request(Method::POST, "/sales")?
        .json(&json!({"book_id": 4, "customer": "grader@example.com", "quantity": 2, "price_cents": 500}))
        .send()
        .await?;
    expect_status(&sold, 201, "POST /sales")?;
    let computed_before = stats(target).await?["computations"]
        .as_u64()
        .context("no computations count")?;
    let responses = join_all((0..50).map(|_| async {
        let response = target.get("/reports/sales")?.send().await?;
        expect_json(response, 200, "GET /reports/sales").await
    }))
    .await;
    let computed = stats(target).await?["computations"].as_u64().unwrap_or(0) - computed_before;
    ensure!(
        computed == 1,
        "50 concurrent requests after a write computed the report {computed} times"
    );
    let units = |report: &Value| {
        report["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["book_id"] == 4))
            .and_then(|row| row["units"].as_i64())
            .unwrap_or(0)
    };
    for response in responses {
        let report = response?;
        ensure!(
            units(&report) == units(&before) + 2,
            "a report after the sale shows {} units of book 4, not {}",
            units(&report),
            units(&before) + 2
        );
    }
    Ok(())
}

async fn submit(target: &Target, body: Value) -> anyhow::Result<String> {
    let response = target
        .request(Method::POST, "/jobs")?
        .json(&body)
        .send()
        .await?;
    expect_status(&response, 202, "POST /jobs")?;
    let location = header(&response, "location", "POST /jobs")?.to_owned();
    ensure!(location.starts_with("/jobs/"), "Location is {location}");
    Ok(location)
}

async fn wait_for(target: &Target, location: &str, state: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut seen = Vec::new();
    loop {
        let job = expect_json(target.get(location)?.send().await?, 200, location).await?;
        let now = job["state"].as_str().unwrap_or_default().to_owned();
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == state {
            return Ok(job);
        }
        if Instant::now() > deadline {
            bail!(
                "{location} went through {seen:?}, never `{state}` (does the server run a worker?)"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job_lifecycle(target: &Target) -> anyhow::Result<()> {
    let location = submit(
        target,
        json!({"task": {"kind": "sleep", "ms": 100, "fail_attempts": 1}, "max_attempts": 3}),
    )
    .await?;
    let retrying = wait_for(target, &location, "retrying").await?;
    ensure!(
        retrying["attempts"] == 1,
        "retrying after {} attempts",
        retrying["attempts"]
    );
    ensure!(
        retrying["error"].is_string(),
        "a retrying job shows no error"
    );
    let done = wait_for(target, &location, "succeeded").await?;
    ensure!(
        done["attempts"] == 2,
        "succeeded after {} attempts, expected 2",
        done["attempts"]
    );
    ensure!(
        done["result"].is_object(),
        "a succeeded job shows no result"
    );
    Ok(())
}

async fn dead_and_cancelled(target: &Target) -> anyhow::Result<()> {
    let dying = submit(
        target,
        json!({"task": {"kind": "sleep", "ms": 1, "fail_attempts": 3}, "max_attempts": 1}),
    )
    .await?;
    let dead = wait_for(target, &dying, "dead").await?;
    ensure!(
        dead["attempts"] == 1,
        "dead after {} attempts, expected 1",
        dead["attempts"]
    );
    let later = submit(
        target,
        json!({"task": {"kind": "sleep", "ms": 1}, "delay_ms": 600000}),
    )
    .await?;
    let cancel_path = format!("{later}/cancel");
    let cancel = target.request(Method::POST, &cancel_path)?.send().await?;
    expect_status(&cancel, 200, "POST /jobs/{id}/cancel for a scheduled job")?;
    wait_for(target, &later, "cancelled").await?;
    let again = target.request(Method::POST, &cancel_path)?.send().await?;
    expect_problem(again, 409, "cancelling a cancelled job").await?;
    let monitor = expect_json(target.get("/jobs")?.send().await?, 200, "GET /jobs").await?;
    ensure!(
        monitor["counts"]["dead"].as_i64().unwrap_or(0) >= 1
            && monitor["counts"]["cancelled"].as_i64().unwrap_or(0) >= 1,
        "the monitor's counts miss the dead or the cancelled job: {}",
        monitor["counts"]
    );
    Ok(())
}

/// The latency of `GET /fast` while blocking calls of 150 ms are in flight, four for each core of
/// this machine: enough to occupy every HTTP worker of a server that starts one per core (actix's
/// default) on a machine like this one, for well under the 5 s in which actix closes a connection
/// whose request it has not read. A client of its own, with no idle connections kept: none is
/// reused after the server dropped it while its worker was blocked.
async fn fast_during(target: &Target, how: &str) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let path = target.url(&format!("/stall?ms=150&how={how}"))?;
    let stalls = join_all((0..4 * cores.clamp(2, 16)).map(|_| client.get(path.clone()).send()));
    let fast = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let response = client.get(target.url("/fast")?).send().await?;
        expect_status(&response, 200, "GET /fast")?;
        Ok::<_, anyhow::Error>(started.elapsed())
    };
    let (stalls, latency) = tokio::join!(stalls, fast);
    for stall in stalls {
        expect_status(&stall?, 200, path.as_str())?;
    }
    latency
}

async fn blocking_stalls(target: &Target) -> anyhow::Result<()> {
    let blocked = fast_during(target, "thread-sleep").await?;
    ensure!(
        blocked >= Duration::from_millis(250),
        "GET /fast took {blocked:?} while thread-sleeps ran on every worker: nothing stalled"
    );
    let pooled = fast_during(target, "spawn-blocking").await?;
    ensure!(
        pooled < Duration::from_millis(250),
        "GET /fast took {pooled:?} while the same sleeps ran on the blocking pool"
    );
    Ok(())
}

async fn untrusted_forwarding(target: &Target) -> anyhow::Result<()> {
    let response = target
        .get("/whoami")?
        .header("X-Forwarded-For", "203.0.113.66")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "for=203.0.113.77;proto=https")
        .send()
        .await?;
    let instance = header(&response, "x-instance", "GET /whoami")?.to_owned();
    ensure!(!instance.is_empty(), "X-Instance is empty");
    let who = expect_json(response, 200, "GET /whoami").await?;
    let ip = who["client"]["ip"].as_str().context("no client.ip")?;
    ensure!(
        !ip.starts_with("203.0.113."),
        "the app believed a forwarding header sent straight to it: client.ip is {ip}"
    );
    ensure!(
        who["client"]["scheme"] == "http",
        "the app believed X-Forwarded-Proto from a client"
    );
    ensure!(
        who["instance"] == instance.as_str(),
        "the body and X-Instance name other instances"
    );
    Ok(())
}

async fn behind_nginx(target: &Target) -> anyhow::Result<()> {
    let response = target.get("/whoami")?.send().await?;
    header(&response, "x-instance", "GET /whoami")?;
    Err(Skip::tested_by(
        "TLS termination, load balancing with failover and the proxy's headers need nginx and two \
         instances",
        "cargo test -p phase5-perf proxy",
    )
    .into())
}
