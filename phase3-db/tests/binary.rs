//! `cargo run -p phase3-db -- migrate up|down|status`, and the server on the migrated database.

use std::process::Command;

use common::testing::{RunningBinary, unique_name};

fn migrate(url: &str, action: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_phase3-db"))
        .args(["migrate", action])
        .env("DATABASE_URL", url)
        .output()
        .expect("run phase3-db migrate");
    assert!(
        output.status.success(),
        "migrate {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[tokio::test]
async fn the_binary_migrates_up_down_and_serves() {
    let file = std::env::temp_dir().join(format!("{}.sqlite3", unique_name("phase3_binary")));
    let url = file.to_string_lossy().into_owned();

    let fresh = migrate(&url, "status");
    assert_eq!(
        fresh.lines().filter(|line| line.starts_with("[ ]")).count(),
        3,
        "{fresh}"
    );
    assert!(
        migrate(&url, "up").starts_with("applied 20261125000001, 20261126000001, 20261126000002")
    );
    assert_eq!(
        migrate(&url, "up").trim(),
        "nothing to apply: the schema is up to date"
    );
    assert_eq!(migrate(&url, "down").trim(), "reverted 20261126000002");
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
    let migrations: serde_json::Value = reqwest::get(format!("{}/migrations", binary.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        migrations
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied"] == true),
        "{migrations}"
    );
    assert!(binary.interrupt().success());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
