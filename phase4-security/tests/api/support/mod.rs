//! Starting phase 4 for a test, and the requests most tests make.
#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use std::sync::Arc;

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase4_security::tokens::{KeyRing, TokenResponse};
use phase4_security::{AppState, Config, SCHEMA};
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
    /// Phase 4 on `database`, from the configuration `configure` leaves (everything in process by
    /// default), its state built as `phase4_security::build` builds it; `adjust` may then swap a
    /// part of the state.
    pub async fn start(
        database: TestDatabase,
        configure: impl FnOnce(&mut Config),
        adjust: impl FnOnce(&mut AppState),
    ) -> Self {
        let mut config = Config::local(database.database.url());
        configure(&mut config);
        let listener = common::testing::listener().expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let mut state = AppState::connect(&config, &base)
            .await
            .expect("phase 4's state");
        adjust(&mut state);
        let keys = Arc::clone(&state.tokens.keys);
        let app = phase4_security::serve(state, listener).expect("start phase 4");
        let server = TestServer::spawn(app);
        Self {
            base: server.base_url(),
            http: client(),
            keys,
            _server: server,
            database,
        }
    }

    /// Phase 4 on a SQLite file, everything in process.
    pub async fn sqlite() -> Self {
        Self::start(TestDatabase::sqlite_with(&SCHEMA), |_| {}, |_| {}).await
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

/// A configuration that keeps rate limits and idempotency records in Redis under a prefix no
/// other test uses, when `REDIS_URL` is set (a failure without it under `REQUIRE_SERVICES=1`).
pub fn redis() -> Option<impl Fn(&mut Config) + Clone> {
    let url = common::testing::service_url("REDIS_URL")?;
    let prefix = common::testing::unique_name("phase4_test");
    Some(move |config: &mut Config| {
        config.redis_url = Some(url.clone());
        config.redis_prefix.clone_from(&prefix);
    })
}
