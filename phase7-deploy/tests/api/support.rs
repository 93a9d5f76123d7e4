//! Starting phase 7 for a test: the binary (on a free port, on its own SQLite file), or the app in
//! this process.

use common::db::testing::TestDatabase;
use common::testing::{RunningBinary, TestServer, listener};
use phase7_deploy::{Config, SCHEMA};

/// The binary the tests run.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_phase7-deploy");

/// The binary, running with `envs` on a database of its own (deleted when the test ends).
pub(crate) struct Binary {
    pub(crate) process: RunningBinary,
    _database: TestDatabase,
}

impl Binary {
    pub(crate) fn start(envs: &[(&str, &str)]) -> Self {
        let database = TestDatabase::sqlite_with(&SCHEMA);
        let mut all = vec![("DATABASE_URL", database.database.url())];
        all.extend_from_slice(envs);
        Self {
            process: RunningBinary::start(BINARY, &[], &all),
            _database: database,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base_url)
    }

    /// Stops it as `docker stop` does (SIGTERM), and returns its log, one JSON object a line.
    pub(crate) fn stop_and_read_log(self) -> Vec<serde_json::Value> {
        self.process.signal("TERM");
        self.stop_and_read_log_after_exit()
    }

    /// Waits for it to exit (it has been signalled), checks that it exited 0, and returns its log.
    pub(crate) fn stop_and_read_log_after_exit(mut self) -> Vec<serde_json::Value> {
        let status = self.process.wait(std::time::Duration::from_secs(15));
        assert!(status.success(), "the binary exited with {status}");
        json_lines(&self.process.logs())
    }
}

/// Each line of `log` as JSON; a line that is not an object fails the test.
pub(crate) fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(value) if value.is_object() => value,
                _ => panic!("a log line that is not a JSON object: {line}"),
            },
        )
        .collect()
}

/// The app in this process, with `config` pointed at a database of its own.
pub(crate) async fn in_process(mut config: Config) -> (TestServer, TestDatabase) {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    config.database_url = database.database.url().to_owned().into();
    let app = phase7_deploy::build(config, listener().expect("a free port"))
        .await
        .expect("phase 7 starts");
    (TestServer::spawn(app), database)
}

/// The path of the task a `POST /tasks` answered with; fails the test unless it is a 201.
pub(crate) fn created(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 201, "POST /tasks");
    response.headers()["location"]
        .to_str()
        .expect("a Location")
        .to_owned()
}
