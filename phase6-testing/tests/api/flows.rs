//! Whole flows, as a client sees them: once in process, once over a real socket, on SQLite and on
//! PostgreSQL.
//!
//! **Roadmap:** integration testing (6.4): the full request flow against a test database.
//!
//! **Python:** Starlette's and FastAPI's `TestClient(app)` calls the app in process, without a
//! socket; DRF's `APIClient` does the same for Django; pytest-django's `live_server` starts a real
//! one. Both on a test database.
//!
//! **Rust:** `actix_web::test::init_service` is the `TestClient`: the app as a service, called
//! with `call_service`, no port, no HTTP parsing (`common::server::test_service` builds it exactly
//! as the server does, middleware and all). The other side is the binary's own server on
//! 127.0.0.1 port 0, talked to with reqwest. One [`Client`] trait hides the difference, so the
//! same flow runs both ways, on every database: `#[values]` makes the four combinations.
//!
//! **Why:** in process is fast and needs no port; a real socket also tests what only exists on
//! the wire (the HTTP parser, `Content-Length`, keep-alive, the server's own error pages). A flow
//! that passes on one and fails on the other has found a bug in the part between.

use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use common::db::{Backend, Database};
use phase6_testing::events::Event;
use phase6_testing::{MANIFEST, SCHEMA, Services, box_office, openapi, routes};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rstest::rstest;
use serde_json::{Value, json};

use crate::fixtures::{FakePayments, Schema, TestDb, clock, concert, schema, start};
use crate::support::{Office, Response};

/// Something that answers requests: the real server, or the app in process. The future is boxed
/// so that a flow can take either as `&dyn Client`.
trait Client {
    fn send<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = Response> + 'a>>;
}

impl Client for Office {
    fn send<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = Response> + 'a>> {
        Box::pin(Office::send(self, method, path, headers, body))
    }
}

/// The app as a service in this process, on a database of its own.
struct InProcess<S> {
    service: S,
    _database: TestDb,
}

impl<S, B> Client for InProcess<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    fn send<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: Option<&'a Value>,
    ) -> Pin<Box<dyn Future<Output = Response> + 'a>> {
        Box::pin(self.call(method, path, headers, body))
    }
}

impl<S, B> InProcess<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    /// One request through `actix_web::test::call_service`, read as a client would see it.
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let method =
            actix_web::http::Method::from_bytes(method.as_str().as_bytes()).expect("a method");
        let mut request = actix_web::test::TestRequest::default()
            .method(method)
            .uri(path);
        for header in headers {
            request = request.insert_header(*header);
        }
        if let Some(body) = body {
            request = request.set_json(body);
        }
        let response = actix_web::test::call_service(&self.service, request.to_request()).await;
        let status = response.status().as_u16();
        let mut seen = HeaderMap::new();
        for (name, value) in response.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                seen.append(name, value);
            }
        }
        let body = actix_web::test::read_body(response).await.to_vec();
        Response {
            status,
            headers: seen,
            body,
        }
    }
}

/// How the flow reaches the app.
#[derive(Debug, Clone, Copy)]
enum Mode {
    InProcess,
    Server,
}

/// Runs `flow` against the box office reached through `mode`, on `backend` (skipped, saying so,
/// for PostgreSQL without `DATABASE_URL`).
async fn on<F>(mode: Mode, backend: Backend, schema: &Schema, flow: F)
where
    F: AsyncFnOnce(&dyn Client),
{
    let Some(database) = TestDb::on(backend, schema) else {
        eprintln!("PostgreSQL is not configured (DATABASE_URL): skipped");
        return;
    };
    match mode {
        Mode::Server => {
            let office = start(database, clock(), Arc::new(FakePayments::default())).await;
            flow(&office).await;
        }
        Mode::InProcess => {
            let url = database.url();
            let db = tokio::task::spawn_blocking(move || Database::connect_with(&url, &SCHEMA))
                .await
                .expect("join")
                .expect("the database");
            let services = Services {
                clock: clock(),
                payments: Arc::new(FakePayments::default()),
            };
            let service = common::server::test_service(
                &MANIFEST,
                openapi::document(),
                routes(box_office(db, services)),
            )
            .await;
            let app = InProcess {
                service,
                _database: database,
            };
            flow(&app).await;
        }
    }
}

async fn get(app: &dyn Client, path: &str) -> Response {
    app.send(Method::GET, path, &[], None).await
}

async fn post(app: &dyn Client, path: &str, body: &Value) -> Response {
    app.send(Method::POST, path, &[], Some(body)).await
}

async fn patch(app: &dyn Client, path: &str, if_match: Option<&str>, body: &Value) -> Response {
    let headers: Vec<(&str, &str)> = if_match.map(|tag| ("If-Match", tag)).into_iter().collect();
    app.send(Method::PATCH, path, &headers, Some(body)).await
}

#[rstest]
#[actix_web::test]
async fn an_event_from_creation_to_deletion(
    #[values(Mode::InProcess, Mode::Server)] mode: Mode,
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
    schema: &Schema,
) {
    on(mode, backend, schema, async |app| {
        // Create: 201, where it is, and its version.
        let created = post(app, "/events", &concert("Flow", 10))
            .await
            .expect_status(201);
        let location = created.header("location").to_owned();
        assert_eq!(created.header("etag"), "\"v1\"");
        let event: Event = created.parse();
        assert_eq!(location, format!("/events/{}", event.id));
        assert_eq!(event.starts_at, "2027-03-20T20:00:00+01:00");
        assert_eq!(event.seats_left, 10);

        // Read: the same event, the same tag.
        let read = get(app, &location).await.expect_status(200);
        assert_eq!(read.header("etag"), "\"v1\"");
        assert_eq!(read.parse::<Event>(), event);

        // Update: without If-Match 428, with the tag 200 and a new tag, with the old one 412.
        let change = json!({"capacity": 20});
        patch(app, &location, None, &change)
            .await
            .expect_problem(428);
        let changed = patch(app, &location, Some("\"v1\""), &change)
            .await
            .expect_status(200);
        assert_eq!(changed.header("etag"), "\"v2\"");
        assert_eq!(changed.parse::<Event>().capacity, 20);
        let stale = patch(app, &location, Some("\"v1\""), &json!({"capacity": 5}))
            .await
            .expect_problem(412);
        assert_eq!(stale["current_etag"], "\"v2\"");

        // Conflict: the same title again is the client's 409, in the API's words.
        let taken = post(app, "/events", &concert("Flow", 5))
            .await
            .expect_problem(409);
        let detail = taken["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("`Flow`"), "{detail}");
        for internal in ["UNIQUE", "constraint", "events.title", "diesel"] {
            assert!(
                !detail.contains(internal),
                "the 409 shows `{internal}`: {detail}"
            );
        }

        // A booking holds seats, and the event cannot go while it is confirmed.
        let booking = post(
            app,
            &format!("{location}/bookings"),
            &json!({"email": "ada@example.com", "seats": 3}),
        )
        .await
        .expect_status(201);
        let booking_at = booking.header("location").to_owned();
        assert_eq!(get(app, &location).await.parse::<Event>().seats_left, 17);
        let delete = app.send(Method::DELETE, &location, &[], None).await;
        delete.expect_problem(409);
        let cancelled = post(app, &format!("{booking_at}/cancel"), &json!({}))
            .await
            .expect_status(200)
            .json();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(get(app, &location).await.parse::<Event>().seats_left, 20);

        // Delete: 204, then 404 for the event and its bookings.
        let deleted = app.send(Method::DELETE, &location, &[], None).await;
        deleted.expect_status(204);
        let gone = get(app, &location).await.expect_problem(404);
        assert_eq!(gone["detail"], format!("no event has the id {}", event.id));
        get(app, &booking_at).await.expect_problem(404);
    })
    .await;
}

#[rstest]
#[actix_web::test]
async fn of_two_writers_who_read_the_same_version_the_second_is_told(
    #[values(Mode::InProcess, Mode::Server)] mode: Mode,
    schema: &Schema,
) {
    on(mode, Backend::Sqlite, schema, async |app| {
        let event: Event = post(app, "/events", &concert("Two writers", 10))
            .await
            .parse();
        let path = format!("/events/{}", event.id);
        // Both read version 1.
        let alice = get(app, &path).await.header("etag").to_owned();
        let bob = get(app, &path).await.header("etag").to_owned();
        assert_eq!(alice, bob);
        // Alice raises the capacity; Bob, who has not seen it, changes the price.
        patch(app, &path, Some(&alice), &json!({"capacity": 50}))
            .await
            .expect_status(200);
        patch(app, &path, Some(&bob), &json!({"price_minor": 500}))
            .await
            .expect_problem(412);
        let now: Event = get(app, &path).await.parse();
        assert_eq!(
            (now.capacity, now.price.amount_minor),
            (50, 1999),
            "Alice's change stands"
        );
    })
    .await;
}

#[rstest]
#[actix_web::test]
async fn an_unknown_event_is_a_404_problem(
    #[values(Mode::InProcess, Mode::Server)] mode: Mode,
    schema: &Schema,
) {
    on(mode, Backend::Sqlite, schema, async |app| {
        let problem = get(app, "/events/4242").await.expect_problem(404);
        assert_eq!(problem["detail"], "no event has the id 4242");
        get(app, "/bookings/4242").await.expect_problem(404);
    })
    .await;
}

#[rstest]
#[actix_web::test]
async fn twenty_buyers_of_two_seats_each_for_five_seats_get_two_bookings(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
    schema: &Schema,
) {
    let Some(database) = TestDb::on(backend, schema) else {
        eprintln!("PostgreSQL is not configured (DATABASE_URL): skipped");
        return;
    };
    let office = start(database, clock(), Arc::new(FakePayments::default())).await;
    let event = office.create_event(concert("Rush", 5)).await;
    let buyers = (0..20).map(|_| office.book(event.id, 2));
    let statuses: Vec<u16> = futures_util::future::join_all(buyers)
        .await
        .iter()
        .map(|response| response.status)
        .collect();
    let sold = statuses.iter().filter(|status| **status == 201).count();
    let refused = statuses.iter().filter(|status| **status == 409).count();
    assert_eq!((sold, refused), (2, 18), "{statuses:?}");
    assert_eq!(office.event(event.id).await.seats_left, 1);
    assert_eq!(office.fake().charges().len(), 2);
}
