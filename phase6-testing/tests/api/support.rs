//! What the tests share: a running box office, and a response as a client sees it.

use std::sync::Arc;

use common::testing::TestServer;
use phase6_testing::clock::FakeClock;
use phase6_testing::events::Event;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::fixtures::{FakePayments, TestDb};

/// The box office, started for one test on a port of its own. Dropping it stops the server and
/// deletes its database.
#[derive(Debug)]
pub struct Office {
    pub base: String,
    pub http: reqwest::Client,
    /// The clock it reads: move it to move its time.
    pub clock: Arc<FakeClock>,
    fake: Option<Arc<FakePayments>>,
    _server: TestServer,
    _database: TestDb,
}

impl Office {
    pub fn new(server: TestServer, database: TestDb, clock: Arc<FakeClock>) -> Self {
        Self {
            base: server.base_url(),
            http: reqwest::Client::new(),
            clock,
            fake: None,
            _server: server,
            _database: database,
        }
    }

    pub fn with_fake(mut self, fake: Arc<FakePayments>) -> Self {
        self.fake = Some(fake);
        self
    }

    /// The fake provider it was started with.
    pub fn fake(&self) -> &FakePayments {
        self.fake
            .as_deref()
            .expect("started with the fake provider")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        Response {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("a body").to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// Creates an event, expecting 201.
    pub async fn create_event(&self, body: Value) -> Event {
        self.post("/events", &body).await.expect_status(201).parse()
    }

    /// The event `id`, expecting 200.
    pub async fn event(&self, id: i32) -> Event {
        self.get(&format!("/events/{id}"))
            .await
            .expect_status(200)
            .parse()
    }

    /// Ada books `seats` seats of event `id`.
    pub async fn book(&self, id: i32, seats: u32) -> Response {
        let body = json!({"email": "ada@example.com", "seats": seats});
        self.post(&format!("/events/{id}/bookings"), &body).await
    }

    pub async fn cancel(&self, booking: i64) -> Response {
        self.send(
            Method::POST,
            &format!("/bookings/{booking}/cancel"),
            &[],
            None,
        )
        .await
    }
}

/// A response, read whole: what a client saw.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// Itself, after checking its status (the body is in the message when it is not).
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// The problem document of an error with `status`.
    #[track_caller]
    pub fn expect_problem(self, status: u16) -> Value {
        let response = self.expect_status(status);
        assert_eq!(response.header("content-type"), "application/problem+json");
        let problem = response.json();
        assert_eq!(problem["status"], status);
        problem
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    #[track_caller]
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "not the expected JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}
