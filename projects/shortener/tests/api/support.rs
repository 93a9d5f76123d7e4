//! Starting the shortener for a test, and talking to it as a client would.

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use serde_json::{Value, json};
use shortener::{Config, SCHEMA};

/// A browser's user agent: a visit with it is a person's.
pub(crate) const FIREFOX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// A shortener on its own database, and a client that does not follow redirects.
pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    _server: TestServer,
    _database: TestDatabase,
}

impl App {
    /// On SQLite, everything in process.
    pub(crate) async fn start() -> Self {
        Self::start_with(TestDatabase::sqlite_with(&SCHEMA), |_| {}).await
    }

    /// On `database`, with `configure` applied to the defaults.
    pub(crate) async fn start_with(
        database: TestDatabase,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::local(database.database.url());
        configure(&mut config);
        let listener = common::testing::listener().unwrap();
        let app = shortener::build(config, listener).await.unwrap();
        let server = TestServer::spawn(app);
        Self {
            base: server.base_url(),
            http: client(),
            _server: server,
            _database: database,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An access token for a demo user (`ada` or `admin`).
    pub(crate) async fn token(&self, user: &str) -> String {
        token(&self.http, &self.base, user).await
    }

    /// `POST /links` with `body`, as the holder of `token`.
    pub(crate) async fn create(&self, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/links"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path`, without a token.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// `method path`, as the holder of `token`, sent.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let request = self.http.request(method, self.url(path)).bearer_auth(token);
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    /// `GET /links/{code}` as the holder of `token`.
    pub(crate) async fn get_link(&self, token: &str, code: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/links/{code}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A link to `url` made by `token`'s holder; its code.
    pub(crate) async fn link(&self, token: &str, body: Value) -> String {
        let response = self.create(token, body).await;
        assert_eq!(response.status(), 201);
        let link: Value = response.json().await.unwrap();
        link["code"].as_str().unwrap().to_owned()
    }

    /// `GET /{code}` as a person with Firefox.
    pub(crate) async fn visit(&self, code: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/{code}")))
            .header("User-Agent", FIREFOX)
            .send()
            .await
            .unwrap()
    }

    /// The link's statistics, once they count `people` visits by people and `bots` by bots (the
    /// writer is a few milliseconds behind); the last ones seen after 5 s.
    pub(crate) async fn stats_once(
        &self,
        token: &str,
        code: &str,
        people: i64,
        bots: i64,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let stats: Value = self
                .http
                .get(self.url(&format!("/links/{code}/stats")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let counted = (stats["visits"].as_i64(), stats["bot_visits"].as_i64());
            if counted == (Some(people), Some(bots)) || std::time::Instant::now() > deadline {
                return stats;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A client that does not follow redirects.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An access token for a demo user from the server at `base`.
pub(crate) async fn token(http: &reqwest::Client, base: &str, user: &str) -> String {
    let password = match user {
        "ada" => "correct-horse-ada",
        _ => "correct-horse-admin",
    };
    let response: Value = http
        .post(format!("{base}/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {response}"))
        .to_owned()
}

/// A header as text ("" when absent).
pub(crate) fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// A JSON body for `POST /links` to `url`.
pub(crate) fn to(url: &str) -> Value {
    json!({ "url": url })
}
