//! 5.5: nginx (the crate's `nginx/nginx.conf`) in front of two instances. Needs `nginx`, `openssl`
//! and `curl` (HTTPS requests go through curl, so the test build compiles no TLS stack); skipped,
//! saying so, when one is missing, and a failure then under `REQUIRE_SERVICES=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use phase5_perf::SCHEMA;
use serde_json::Value;

use crate::support::redis;

/// A program the test needs, or `None` (a skip) when it is not installed.
fn installed(program: &str) -> bool {
    let found = Command::new("sh")
        .args([
            "-c",
            &format!("command -v {program} || test -x /usr/sbin/{program}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found || !common::testing::services_required(),
        "{program} is not installed, and REQUIRE_SERVICES=1 says this test must run"
    );
    found
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// A free port on 127.0.0.1 (free when asked; nginx binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// nginx running from a folder of its own; stopped and removed when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
    http: u16,
    https: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers; killed, it would leave
        // them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    /// The shipped configuration, filled in, in front of `a` and `b`, with a certificate for
    /// `localhost` made now.
    fn start(a: &str, b: &str) -> Self {
        let dir = std::env::temp_dir().join(common::testing::unique_name("phase5_nginx"));
        std::fs::create_dir_all(&dir).unwrap();
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl made no certificate");
        let (http, https) = (free_port(), free_port());
        let strip = |url: &str| url.trim_start_matches("http://").to_owned();
        let conf = include_str!("../../nginx/nginx.conf")
            .replace("{{DIR}}", dir.to_str().unwrap())
            .replace("{{UPSTREAM_A}}", &strip(a))
            .replace("{{UPSTREAM_B}}", &strip(b))
            .replace("{{HTTP_PORT}}", &http.to_string())
            .replace("{{HTTPS_PORT}}", &https.to_string())
            .replace("{{CERT}}", dir.join("cert.pem").to_str().unwrap())
            .replace("{{KEY}}", dir.join("key.pem").to_str().unwrap())
            .replace("{{STATIC}}", concat!(env!("CARGO_MANIFEST_DIR"), "/static"));
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let checked = Command::new(nginx_binary())
            .args(["-q", "-t", "-p"])
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let nginx = Self {
            child,
            dir,
            http,
            https,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// `curl` over HTTPS to `path`, trusting the test's certificate: status, headers (lower
    /// case), body.
    fn https(&self, path: &str, extra: &[&str]) -> Response {
        let url = format!("https://localhost:{}{path}", self.https);
        curl(
            &url,
            &["--cacert", self.dir.join("cert.pem").to_str().unwrap()],
            extra,
        )
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

fn curl(url: &str, options: &[&str], extra: &[&str]) -> Response {
    let output = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10", "--noproxy", "*"])
        .args(options)
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "curl {url}: no response ({})",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

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
    let nginx = Nginx::start(&a.binary.base_url, &b.binary.base_url);
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
