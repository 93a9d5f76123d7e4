//! Starting phase 4 for a test, and the requests most tests make.
#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use std::sync::Arc;

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase4_security::tokens::{KeyRing, TokenResponse};
use phase4_security::{SCHEMA, Settings};
use reqwest::StatusCode;
use serde_json::Value;

/// Phase 4 on a free port, with its demo data.
pub struct Phase4 {
    pub base: String,
    /// Follows no redirects: the tests read `Location` themselves.
    pub http: reqwest::Client,
    /// The server's signing keys, to forge tokens with the right key and the wrong claims.
    pub keys: Arc<KeyRing>,
    _server: TestServer,
    pub database: TestDatabase,
}

impl Phase4 {
    /// Phase 4 on `database`, everything else in process; `configure` may swap parts of the settings.
    pub async fn start(database: TestDatabase, configure: impl FnOnce(&mut Settings)) -> Self {
        phase4_security::seed::seed(&database.database)
            .await
            .expect("seed phase 4");
        let db = database.database.clone();
        let mut keys = None;
        let server = TestServer::start(|listener| {
            let base = format!("http://{}", listener.local_addr()?);
            let mut settings = Settings::new(db, &base).map_err(std::io::Error::other)?;
            configure(&mut settings);
            keys = Some(Arc::clone(&settings.tokens.keys));
            phase4_security::serve(listener, settings)
        })
        .expect("start phase 4");
        Self {
            base: server.base_url(),
            http: client(),
            keys: keys.expect("the settings were built"),
            _server: server,
            database,
        }
    }

    /// Phase 4 on a SQLite file, everything in process.
    pub async fn sqlite() -> Self {
        Self::start(TestDatabase::sqlite_with(&SCHEMA), |_| {}).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in with the password grant; panics unless it succeeds.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> TokenResponse {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(self.url("/auth/token"))
            .form(&form)
            .send()
            .await
            .expect("POST /auth/token");
        assert_eq!(response.status(), StatusCode::OK, "login as {username}");
        response.json().await.expect("a token response")
    }

    /// The demo user `ada`'s tokens, every scope her role allows.
    pub async fn ada(&self) -> TokenResponse {
        self.login("ada", "correct-horse-ada", None).await
    }

    /// The demo admin's tokens.
    pub async fn admin(&self) -> TokenResponse {
        self.login("admin", "correct-horse-admin", None).await
    }

    /// Registers `username` and logs in as them.
    pub async fn new_user(&self, username: &str) -> TokenResponse {
        let response = self
            .http
            .post(self.url("/auth/register"))
            .json(&serde_json::json!({"username": username, "password": "a long passphrase"}))
            .send()
            .await
            .expect("POST /auth/register");
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        self.login(username, "a long passphrase", None).await
    }

    /// GET `path` with a bearer token: the status and the body as JSON (`Null` when not JSON).
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POST `body` as JSON to `path` with a bearer token.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// An HTTP client that follows no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A Redis connection for a test, when `REDIS_URL` is set (a failure without it under
/// `REQUIRE_SERVICES=1`), and a prefix no other test uses.
pub async fn redis() -> Option<(redis::aio::ConnectionManager, String)> {
    let url = common::testing::service_url("REDIS_URL")?;
    let connection = common::redis::connect(&url)
        .await
        .expect("connect to Redis");
    Some((connection, common::testing::unique_name("phase4_test")))
}
