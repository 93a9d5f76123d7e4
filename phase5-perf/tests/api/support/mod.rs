//! Starting phase 5 for a test, and the requests most tests make.
#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase5_perf::{AppState, Config, SCHEMA};

/// Sales seeded for most tests: enough for the report to be real, few enough to seed fast.
pub const SALES_ROWS: u32 = 20_000;

/// Phase 5 on a free port.
pub struct Phase5 {
    pub base: String,
    /// Follows no redirects and asks for no compression (tests that want gzip say so).
    pub http: reqwest::Client,
    _server: TestServer,
    pub database: TestDatabase,
}

impl Phase5 {
    /// Phase 5 on `database`, from the configuration `configure` leaves (everything in process,
    /// no worker of its own, [`SALES_ROWS`] sales).
    pub async fn start(database: TestDatabase, configure: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::local(database.database.url());
        config.sales_rows = SALES_ROWS;
        config.workers = 0;
        configure(&mut config);
        let state = AppState::connect(&config).await.expect("phase 5's state");
        let listener = common::testing::listener().expect("a free port");
        let app = phase5_perf::serve(state, listener).expect("start phase 5");
        let server = TestServer::spawn(app);
        Self {
            base: server.base_url(),
            http: client(),
            _server: server,
            database,
        }
    }

    /// Phase 5 on a SQLite file of its own.
    pub async fn sqlite() -> Self {
        Self::start(TestDatabase::sqlite_with(&SCHEMA), |_| {}).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }
}

/// An HTTP client that follows no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A response header as text ("" when absent).
pub fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Redis settings no other test shares, when `REDIS_URL` is set (a failure without it under
/// `REQUIRE_SERVICES=1`).
pub fn redis() -> Option<(String, String)> {
    let url = common::testing::service_url("REDIS_URL")?;
    Some((url, common::testing::unique_name("phase5_test")))
}

/// RabbitMQ settings with a queue no other test shares, when `AMQP_URL` is set (a failure without
/// it under `REQUIRE_SERVICES=1`): a prefetch of 10, and a relay that looks for due jobs every
/// 20 ms.
/// Deletes a test's RabbitMQ queues (those `settings` names), connecting for the purpose.
pub async fn delete_queues(
    database: &common::db::Database,
    settings: phase5_perf::jobs::amqp::AmqpSettings,
) {
    let records = phase5_perf::jobs::queue::DbQueue::new(database.clone());
    let queue = phase5_perf::jobs::amqp::AmqpQueue::connect(records, settings);
    queue
        .await
        .expect("connect to RabbitMQ")
        .delete()
        .await
        .expect("delete the queues");
}

pub fn amqp() -> Option<phase5_perf::jobs::amqp::AmqpSettings> {
    let url = common::testing::service_url("AMQP_URL")?;
    Some(phase5_perf::jobs::amqp::AmqpSettings {
        url: url.into(),
        queue: common::testing::unique_name("phase5_test_jobs"),
        prefetch: 10,
        poll: std::time::Duration::from_millis(20),
    })
}
