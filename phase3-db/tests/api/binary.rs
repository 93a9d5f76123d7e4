//! `cargo run -p phase3-db -- migrate up|down|status`, and the server on the migrated database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::testing::{RunningBinary, unique_name};

/// Runs `phase3-db migrate ACTION` on `url`, in `dir`, with no service URL of the test's own.
fn run_migrate(url: &str, action: &str, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phase3-db"))
        .args(["migrate", action])
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env_remove("REDIS_URL")
        .env_remove("MONGODB_URL")
        .output()
        .expect("run phase3-db migrate")
}

fn migrate(url: &str, action: &str) -> String {
    let output = run_migrate(url, action, &std::env::temp_dir());
    assert!(
        output.status.success(),
        "migrate {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What the command did is its output, said once: no log lines beside it.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "migrate {action} logged"
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// A folder of its own under the temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("phase3_binary"));
        std::fs::create_dir(&dir).expect("a scratch folder");
        Self(dir)
    }

    fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .expect("the scratch folder")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NAMES: [&str; 3] = [
    "2026-11-25-000001_library",
    "2026-11-26-000001_reviews",
    "2026-11-26-000002_reviewers_table",
];

#[tokio::test]
async fn the_binary_migrates_up_down_and_serves() {
    let scratch = Scratch::new();
    let url = scratch
        .0
        .join("phase3.sqlite3")
        .to_string_lossy()
        .into_owned();

    let fresh = migrate(&url, "status");
    assert_eq!(
        fresh.lines().filter(|line| line.starts_with("[ ]")).count(),
        3,
        "{fresh}"
    );
    // One name for a migration everywhere: status, up and down all say `2026-11-25-000001_library`.
    let applied = migrate(&url, "up");
    let expected: Vec<String> = NAMES.iter().map(|name| format!("applied {name}")).collect();
    assert_eq!(applied.lines().collect::<Vec<_>>(), expected, "{applied}");
    assert_eq!(
        migrate(&url, "up").trim(),
        format!("nothing to apply: the schema of {url} is up to date")
    );
    assert_eq!(
        migrate(&url, "down").trim(),
        "reverted 2026-11-26-000002_reviewers_table"
    );
    let status = migrate(&url, "status");
    assert!(
        status.contains("[x] 2026-11-26-000001_reviews")
            && status.contains("[ ] 2026-11-26-000002_reviewers_table"),
        "{status}"
    );

    // The server applies what is pending when it starts.
    let mut binary = RunningBinary::start(
        env!("CARGO_BIN_EXE_phase3-db"),
        &[],
        &[("DATABASE_URL", &url)],
    );
    assert!(
        binary.tour.contains("database: ")
            && binary.tour.contains("key-value store: in process")
            && binary.tour.contains("MongoDB: not configured"),
        "{}",
        binary.tour
    );
    let migrations: serde_json::Value = reqwest::get(format!("{}/migrations", binary.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = migrations
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, NAMES, "{migrations}");
    assert!(
        migrations
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == true),
        "{migrations}"
    );
    assert!(binary.interrupt().success());
}

#[test]
fn down_with_nothing_applied_says_so_in_the_courses_words() {
    let scratch = Scratch::new();
    let url = scratch.0.join("x.sqlite3").to_string_lossy().into_owned();
    migrate(&url, "up");
    for name in NAMES.iter().rev() {
        assert_eq!(migrate(&url, "down").trim(), format!("reverted {name}"));
    }
    let nothing = migrate(&url, "down");
    assert_eq!(
        nothing.trim(),
        format!("nothing to revert: no migration has been applied to {url}")
    );
    assert!(!nothing.contains("diesel"), "{nothing}");
}

#[test]
fn status_and_down_create_nothing() {
    let scratch = Scratch::new();
    let folder = scratch.0.join("not").join("there");
    let url = folder.join("x.sqlite3").to_string_lossy().into_owned();

    let status = migrate(&url, "status");
    let pending: Vec<String> = NAMES.iter().map(|name| format!("[ ] {name}")).collect();
    assert_eq!(
        status.lines().take(3).collect::<Vec<_>>(),
        pending,
        "{status}"
    );
    assert!(
        status.contains(&format!("{url} does not exist yet")),
        "{status}"
    );
    assert_eq!(
        migrate(&url, "down").trim(),
        format!("nothing to revert: {url} does not exist yet")
    );
    assert!(
        scratch.entries().is_empty(),
        "status or down created {:?}",
        scratch.entries()
    );

    // `up` is the one that creates the file, and its folder.
    migrate(&url, "up");
    assert!(folder.join("x.sqlite3").is_file());

    // On an existing file, status leaves nothing behind either (no -wal, no -shm).
    let before = std::fs::read_dir(&folder).unwrap().count();
    migrate(&url, "status");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), before);
}

#[test]
fn an_unsupported_scheme_is_refused_naming_the_supported_ones() {
    let scratch = Scratch::new();
    for url in [
        "mysql://x",
        "mongodb://127.0.0.1:27017",
        "redis://:hunter2@localhost",
    ] {
        for action in ["status", "up", "down"] {
            let output = run_migrate(url, action, &scratch.0);
            assert!(!output.status.success(), "{url} {action} succeeded");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let scheme = url.split_once("://").unwrap().0;
            assert!(
                stderr.contains(&format!("{scheme}:// is not supported"))
                    && stderr.contains("SQLite file")
                    && stderr.contains("sqlite://")
                    && stderr.contains("postgres://"),
                "{stderr}"
            );
            assert!(!stderr.contains("hunter2"), "{stderr}");
        }
    }
    // `mysql://x` is not taken for a file called `mysql:/x`.
    assert!(scratch.entries().is_empty(), "{:?}", scratch.entries());

    // The server refuses it the same way, before it listens.
    let output = Command::new(env!("CARGO_BIN_EXE_phase3-db"))
        .args(["--port", "0", "--database-url", "mysql://x"])
        .current_dir(&scratch.0)
        .output()
        .expect("run phase3-db");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("mysql:// is not supported"));
}

/// A PostgreSQL URL on a port nothing listens on.
fn refused_postgres_url() -> (String, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    (
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        port,
    )
}

#[test]
fn a_postgres_that_is_not_running_is_one_clear_line() {
    let (url, port) = refused_postgres_url();
    let expected = format!(
        "error: cannot connect to PostgreSQL at {url}: the server at 127.0.0.1:{port} refused the connection (is PostgreSQL running there?)"
    );
    for action in ["status", "up", "down"] {
        let started = std::time::Instant::now();
        let output = run_migrate(&url, action, &std::env::temp_dir());
        assert!(!output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim(),
            expected,
            "migrate {action}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "migrate {action} waited for a pool"
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_phase3-db"))
        .args(["--port", "0", "--database-url", &url])
        .env_remove("REDIS_URL")
        .env_remove("MONGODB_URL")
        .output()
        .expect("run phase3-db");
    assert!(!output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), expected);
}
