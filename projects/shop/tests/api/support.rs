//! Starting the shop for a test, and talking to it as a client would.

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use reqwest::Method;
use serde_json::{Value, json};
use shop::fake_stripe::FakeStripe;
use shop::{Config, SCHEMA};

/// The fake Stripe's keys in these tests.
pub(crate) const SECRET_KEY: &str = "sk_test_suite";
pub(crate) const WEBHOOK_SECRET: &str = "whsec_suite";

/// A shop on its own database.
pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) database: TestDatabase,
    _server: TestServer,
}

impl App {
    /// On SQLite, with the demo catalogue.
    pub(crate) async fn start() -> Self {
        Self::start_with(TestDatabase::sqlite_with(&SCHEMA), |_| {}).await
    }

    /// On SQLite, paying through a fake Stripe the test holds, with `configure` applied.
    pub(crate) async fn paying(configure: impl FnOnce(&mut Config)) -> (Self, FakeStripe) {
        let fake = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).unwrap();
        let base = fake.base.clone();
        let app = Self::start_with(TestDatabase::sqlite_with(&SCHEMA), |config| {
            config.stripe_api_base = base;
            config.stripe_secret_key = Some(SECRET_KEY.to_owned());
            config.stripe_webhook_secret = Some(WEBHOOK_SECRET.to_owned());
            configure(config);
        })
        .await;
        fake.deliver_to(app.url("/webhooks/stripe"));
        (app, fake)
    }

    /// On `database`, with `configure` applied to the defaults.
    pub(crate) async fn start_with(
        database: TestDatabase,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::local(database.database.url());
        configure(&mut config);
        let app = shop::build(config, common::testing::listener().unwrap())
            .await
            .unwrap();
        let server = TestServer::spawn(app);
        Self {
            base: server.base_url(),
            http: reqwest::Client::new(),
            database,
            _server: server,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An access token for a demo user (`ada`, a customer, or `admin`).
    pub(crate) async fn token(&self, user: &str) -> String {
        let (_, password, _) = phase4_security::seed::DEMO_USERS
            .into_iter()
            .find(|(name, _, _)| *name == user)
            .unwrap();
        self.login(user, password).await
    }

    /// `POST /auth/token` with a password: the access token.
    pub(crate) async fn login(&self, user: &str, password: &str) -> String {
        let response: Value = self
            .http
            .post(self.url("/auth/token"))
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

    /// A new customer `name`, registered and logged in: their token.
    pub(crate) async fn register(&self, name: &str) -> String {
        let password = format!("{name}-long-password");
        let made = self
            .http
            .post(self.url("/auth/register"))
            .json(&json!({ "username": name, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        self.login(name, &password).await
    }

    /// `method path` as the holder of `token`, with a JSON body when there is one.
    pub(crate) async fn send(
        &self,
        method: Method,
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

    /// `GET path`, without a token; the JSON it answers.
    pub(crate) async fn get(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// A new cart of `token`'s holder holding `items` (`(sku, quantity)`): its id.
    pub(crate) async fn cart(&self, token: &str, items: &[(&str, i32)]) -> i64 {
        let cart: Value = self
            .send(Method::POST, "/carts", token, None)
            .await
            .json()
            .await
            .unwrap();
        let id = cart["id"].as_i64().unwrap();
        for (sku, quantity) in items {
            let put = self
                .send(
                    Method::PUT,
                    &format!("/carts/{id}/items/{sku}"),
                    token,
                    Some(json!({ "quantity": quantity })),
                )
                .await;
            assert_eq!(put.status(), 200, "{sku}");
        }
        id
    }

    /// `POST /carts/{cart}/checkout` as `token`'s holder.
    pub(crate) async fn checkout(&self, token: &str, cart: i64) -> reqwest::Response {
        let body = json!({ "email": "ada@example.com" });
        self.send(
            Method::POST,
            &format!("/carts/{cart}/checkout"),
            token,
            Some(body),
        )
        .await
    }

    /// The stock of variant `sku`, from the catalogue.
    pub(crate) async fn stock(&self, product: &str, sku: &str) -> i64 {
        let product = self.get(&format!("/products/{product}")).await;
        product["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|variant| variant["sku"] == sku)
            .and_then(|variant| variant["stock"].as_i64())
            .unwrap()
    }
}

/// How many jobs on phase 5's queue send an email whose subject starts with `subject`.
pub(crate) fn emails_queued(app: &App, subject: &str) -> usize {
    use diesel::prelude::*;
    use phase5_perf::schema::jobs;
    let payloads: Vec<String> = jobs::table
        .filter(jobs::kind.eq("email"))
        .select(jobs::payload)
        .load(&mut *app.database.database.conn().unwrap())
        .unwrap();
    payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<Value>(payload).ok())
        .filter(|payload| {
            payload["subject"]
                .as_str()
                .is_some_and(|text| text.starts_with(subject))
        })
        .count()
}

/// A header as text ("" when absent).
pub(crate) fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}
