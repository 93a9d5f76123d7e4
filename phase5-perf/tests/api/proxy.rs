//! 5.5: nginx (the crate's `nginx/nginx.conf`) in front of two instances. Needs `nginx`, `openssl`
//! and `curl` (HTTPS requests go through curl, as an outside client: `common::testing::nginx`); skipped,
//! saying so, when one is missing, and a failure then under `REQUIRE_SERVICES=1`.

use std::time::Duration;

use common::db::testing::TestDatabase;
use common::testing::nginx::{Nginx, curl, installed};
use phase5_perf::SCHEMA;
use serde_json::Value;

use crate::support::redis;

/// A phase-5 binary, and a client for it.
struct Instance {
    binary: common::testing::RunningBinary,
    http: reqwest::Client,
}

impl Instance {
    fn start(args: &[&str]) -> Self {
        let binary =
            common::testing::RunningBinary::start(env!("CARGO_BIN_EXE_phase5-perf"), args, &[]);
        Self {
            binary,
            http: crate::support::client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.binary.base_url)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_terminates_tls_balances_two_instances_and_survives_one() {
    if !(installed("nginx") && installed("openssl") && installed("curl")) {
        eprintln!("nginx, openssl or curl is not installed: skipped");
        return;
    }
    let shared = redis();
    let database = TestDatabase::sqlite_with(&SCHEMA);
    // The instances are processes of their own, as in production, so that one can be killed.
    let start = |name: &str| {
        let mut args = vec![
            "--database-url",
            database.database.url(),
            "--instance",
            name,
            "--trusted-proxies",
            "127.0.0.2",
            "--workers",
            "1",
            "--poll-ms",
            "20",
            "--sales-rows",
            "20000",
        ];
        if let Some((url, prefix)) = &shared {
            args.extend(["--redis-url", url, "--redis-prefix", prefix]);
        }
        Instance::start(&args)
    };
    let a = start("a");
    let b = start("b");
    let nginx = Nginx::start(
        include_str!("../../nginx/nginx.conf"),
        &a.binary.base_url,
        &b.binary.base_url,
        concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
    );
    // curl blocks: its thread is lent to it, so the runtime's other tasks (the worker, the cache's
    // listener) go on meanwhile.
    let run = |path: &str, extra: &[&str]| tokio::task::block_in_place(|| nginx.https(path, extra));

    // HTTP is redirected; HTTPS carries HSTS.
    let plain = tokio::task::block_in_place(|| {
        curl(&format!("http://127.0.0.1:{}/whoami", nginx.http), &[], &[])
    });
    assert_eq!(plain.status, 308);
    assert_eq!(
        plain.header("location"),
        format!("https://127.0.0.1:{}/whoami", nginx.https)
    );
    let secure = run("/whoami", &[]);
    assert_eq!(secure.status, 200, "{secure:?}");
    assert!(
        secure
            .header("strict-transport-security")
            .starts_with("max-age=31536000")
    );

    // The app believes nginx: the client is the connection nginx saw, over HTTPS; what the
    // client wrote into the headers itself is gone.
    let spoofed = run(
        "/whoami",
        &[
            "-H",
            "X-Forwarded-For: 6.6.6.6",
            "-H",
            "Forwarded: for=7.7.7.7",
        ],
    );
    let who = spoofed.json();
    assert_eq!(who["client"]["ip"], "127.0.0.1", "{who}");
    assert_eq!(who["client"]["scheme"], "https");
    assert_eq!(who["client"]["via_proxy"], true);
    assert_eq!(who["client"]["host"], format!("localhost:{}", nginx.https));

    // Both instances answer, and each response says which.
    let mut seen: Vec<String> = (0..8)
        .map(|_| run("/fast", &[]).header("x-instance").to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["a", "b"]);

    // Static files come from nginx, compressed; JSON too.
    let css = run("/static/catalogue.css", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-encoding"), "gzip");
    assert!(css.header("x-instance").is_empty(), "no instance served it");

    // A job submitted through nginx is seen by each instance, as is a sale's effect on the
    // report when Redis ties their caches together.
    let job = run(
        "/jobs",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"task":{"kind":"sleep","ms":1}}"#,
        ],
    );
    assert_eq!(job.status, 202);
    let location = job.header("location").to_owned();
    for instance in [&a, &b] {
        assert_eq!(
            instance.get(&location).await.status(),
            reqwest::StatusCode::OK
        );
    }
    if shared.is_some() {
        let before: Value = b.get("/reports/sales").await.json().await.unwrap();
        let sold = a
            .http
            .post(a.url("/sales"))
            .json(&serde_json::json!({"book_id": 5, "customer": "ada@example.com", "quantity": 4, "price_cents": 100}))
            .send()
            .await
            .unwrap();
        assert_eq!(sold.status(), reqwest::StatusCode::CREATED);
        let after: Value = b.get("/reports/sales").await.json().await.unwrap();
        let units = |report: &Value| {
            report["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|row| row["book_id"] == 5)
                .unwrap()["units"]
                .as_i64()
                .unwrap()
        };
        assert_eq!(units(&after), units(&before) + 4);
    }

    // One instance is killed (SIGKILL): every request still succeeds, from the other.
    drop(a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..6 {
        let answer = run("/fast", &[]);
        assert_eq!(
            (answer.status, answer.header("x-instance")),
            (200, "b"),
            "{answer:?}"
        );
    }

    // Limits: a big body and a slow answer get nginx's problem documents. Last, because a timeout
    // counts as a failure of the instance (`max_fails`), which nginx then leaves out for 5 s.
    let big = format!(
        "{{\"book_id\":1,\"customer\":\"{}@example.com\"}}",
        "a".repeat(70_000)
    );
    let too_large = run(
        "/sales",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &big,
        ],
    );
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.header("content-type"), "application/problem+json");
    let slow = run("/stall?ms=3000&how=tokio-sleep", &[]);
    assert_eq!(slow.status, 504);
    assert_eq!(slow.json()["status"], 504);
}
