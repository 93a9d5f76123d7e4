//! Configuration from the environment, with secrets from files (`NAME_FILE`), checked at start
//! with a message that names the setting.

use std::process::Command;

use common::db::testing::TestDatabase;
use phase7_deploy::SCHEMA;

use crate::support::BINARY;

/// A file holding `text`, deleted when dropped.
struct SecretFile(std::path::PathBuf);

impl SecretFile {
    fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(common::testing::unique_name("phase7_secret"));
        std::fs::write(&path, text).expect("the secret file is written");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The binary run with `envs` until it exits (it should, at once): its status and stderr.
fn run(envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(["--port", "0"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("SENTRY_DSN")
        .envs(envs.iter().copied())
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_setting_can_come_from_a_file_named_by_its_file_variable() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let secret = SecretFile::new(&format!("{}\n", database.database.url()));
    let mut binary =
        common::testing::RunningBinary::start(BINARY, &[], &[("DATABASE_URL_FILE", secret.path())]);
    assert!(
        binary
            .tour
            .contains(&format!("database:      {}", database.database.url())),
        "the tour names the database read from the file (without its newline):\n{}",
        binary.tour
    );
    assert!(binary.interrupt().success());
}

#[test]
fn a_setting_and_its_file_together_are_refused() {
    let secret = SecretFile::new("data/elsewhere.sqlite3");
    let (status, stderr) = run(&[
        ("DATABASE_URL", "data/here.sqlite3"),
        ("DATABASE_URL_FILE", secret.path()),
    ]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("DATABASE_URL and DATABASE_URL_FILE are both set"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    let (status, stderr) = run(&[("SENTRY_DSN_FILE", "/nonexistent/sentry_dsn")]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains("SENTRY_DSN_FILE: cannot read /nonexistent/sentry_dsn"),
        "{stderr}"
    );
}

#[test]
fn a_value_that_does_not_parse_stops_the_start_naming_the_setting() {
    for (name, value, named) in [
        ("SENTRY_DSN", "not a dsn", "--sentry-dsn <SENTRY_DSN>"),
        ("SHUTDOWN_DRAIN_SECONDS", "600", "--shutdown-drain-seconds"),
        ("FAULT_ROUTES", "sometimes", "--fault-routes"),
    ] {
        let (status, stderr) = run(&[(name, value)]);
        assert_eq!(status, Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains(named), "{name}={value}: {stderr}");
    }
}

#[test]
fn a_database_that_cannot_be_reached_stops_the_start_naming_the_setting() {
    let (status, stderr) = run(&[(
        "DATABASE_URL",
        "postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2",
    )]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the password is printed: {stderr}"
    );
}
