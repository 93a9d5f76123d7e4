//! Fixtures: what each test starts from, built from smaller fixtures, and taken down after it.
//!
//! **Roadmap:** fixtures (6.1): database state and fake services set up per test.
//!
//! **Python:** pytest's `@pytest.fixture`: a function whose name, as a test's argument, makes
//! pytest call it first; fixtures that take other fixtures; `yield` for the teardown;
//! `scope="session"` for one value shared by the whole run (pytest-django creates its test
//! database once per session, for instance).
//!
//! **Rust:** rstest's `#[fixture]` does the same: a test marked `#[rstest]` names fixtures as
//! arguments and gets their values. Teardown is `Drop`: a [`SqliteFile`] deletes its file when
//! the test that owns it ends, pass or panic, and so does `TestDatabase`'s PostgreSQL database.
//! [`schema`] is `#[once]`, pytest's session scope: migrated once, then copied for every test.
//! Named states are fixtures built from the others: [`empty`] is an empty box office, [`sold_out`]
//! one whose only event has no seat left, [`booked`] one where Ada holds two seats.
//!
//! **Why:** a test reads as its arguments: `async fn refund(#[future] booked: Booked)` says what
//! the world looks like before it starts, and every test gets a world of its own (its own
//! database file, server, clock and provider), so tests run in parallel and in any order. Three
//! traps: an async fixture is a future, so the test takes it with `#[future]` and awaits it (or
//! marks itself `#[awt]`); a `#[once]` value is never dropped, so it must own nothing that needs
//! a teardown (here: bytes, not a file); and it cannot be async, since it outlives every test's
//! runtime: a server started in one would stop with the first test that ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use common::db::testing::TestDatabase;
use common::db::{Backend, Database};
use common::testing::TestServer;
use diesel::connection::SimpleConnection;
use jiff::Timestamp;
use phase6_testing::clock::FakeClock;
use phase6_testing::events::Event;
use phase6_testing::money::Money;
use phase6_testing::payments::{Charge, ChargeRequest, PaymentError, PaymentGateway};
use phase6_testing::{Config, SCHEMA, Services};
use rstest::{fixture, rstest};
use serde_json::{Value, json};

use crate::support::Office;

/// The box office's schema, migrated once for the whole run: the bytes of a SQLite file.
#[derive(Debug)]
pub struct Schema(Vec<u8>);

/// Migrated once (`#[once]`, pytest's `scope="session"`) and never dropped: which is why it holds
/// bytes, and no file that would need deleting.
#[fixture]
#[once]
pub fn schema() -> Schema {
    let file = SqliteFile::new();
    let database = Database::connect_with(&file.url(), &SCHEMA).expect("migrate the schema");
    // SQLite in WAL mode keeps recent writes beside the file: fold them in before copying it.
    database
        .conn()
        .expect("a connection")
        .batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(database);
    Schema(std::fs::read(&file.path).expect("read the migrated file"))
}

/// A SQLite file of a test's own, deleted (with its WAL files) when dropped: the teardown.
#[derive(Debug)]
pub struct SqliteFile {
    path: PathBuf,
}

impl SqliteFile {
    fn new() -> Self {
        let name = common::testing::unique_name("phase6");
        Self {
            path: std::env::temp_dir().join(format!("{name}.sqlite3")),
        }
    }

    pub fn url(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A test's database: a copy of the migrated schema, or a fresh PostgreSQL database.
#[derive(Debug)]
pub enum TestDb {
    Sqlite(SqliteFile),
    Postgres(TestDatabase),
}

impl TestDb {
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(file) => file.url(),
            TestDb::Postgres(database) => database.database.url().to_owned(),
        }
    }

    /// A database on `backend`, or `None` for PostgreSQL when `DATABASE_URL` names none (a
    /// failure instead under `REQUIRE_SERVICES=1`).
    pub fn on(backend: Backend, schema: &Schema) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(sqlite(schema)),
            Backend::Postgres => TestDatabase::postgres_with(&SCHEMA).map(TestDb::Postgres),
        }
    }
}

/// A SQLite database for one test: a copy of [`schema`], faster than migrating again.
#[fixture]
pub fn sqlite(schema: &Schema) -> TestDb {
    let file = SqliteFile::new();
    std::fs::write(&file.path, &schema.0).expect("copy the schema");
    TestDb::Sqlite(file)
}

/// The time the tests start at: 10 January 2027, 09:00 UTC.
pub const NOW: &str = "2027-01-10T09:00:00Z";

/// A clock that stands at [`NOW`] until the test moves it (freezegun's `freeze_time`).
#[fixture]
pub fn clock() -> Arc<FakeClock> {
    Arc::new(FakeClock::at(NOW.parse().expect("a timestamp")))
}

/// A fake payment provider: it approves every charge unless told to decline, and remembers what
/// it was asked, for the test to look at.
#[derive(Debug, Default)]
pub struct FakePayments {
    charges: Mutex<Vec<ChargeRequest>>,
    refunds: Mutex<Vec<(String, Money)>>,
    decline: Mutex<Option<String>>,
}

impl FakePayments {
    /// Every later charge is declined with `reason`.
    pub fn decline(&self, reason: &str) {
        *self.decline.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }

    pub fn charges(&self) -> Vec<ChargeRequest> {
        self.charges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn refunds(&self) -> Vec<(String, Money)> {
        self.refunds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl PaymentGateway for FakePayments {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        if let Some(reason) = self
            .decline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(PaymentError::Declined(reason));
        }
        let mut charges = self.charges.lock().unwrap_or_else(PoisonError::into_inner);
        charges.push(request.clone());
        Ok(Charge {
            id: format!("ch_fake_{}", charges.len()),
        })
    }

    async fn refund(&self, charge_id: &str, amount: Money) -> Result<(), PaymentError> {
        self.refunds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((charge_id.to_owned(), amount));
        Ok(())
    }

    fn describe(&self) -> String {
        "a fake provider in the test".to_owned()
    }
}

#[fixture]
pub fn payments() -> Arc<FakePayments> {
    Arc::new(FakePayments::default())
}

/// The box office on its database, with the fake clock and `payments`, on a port of its own.
pub async fn start_with(
    database: TestDb,
    clock: Arc<FakeClock>,
    payments: Arc<dyn PaymentGateway>,
) -> Office {
    let config = Config::local(database.url());
    let services = Services {
        clock: clock.clone(),
        payments,
    };
    let listener = common::testing::listener().expect("a free port");
    let app = phase6_testing::build_with(&config, services, listener)
        .await
        .expect("start the box office");
    Office::new(TestServer::spawn(app), database, clock)
}

/// [`start_with`] the fake provider, which the test can then look at (`office.fake()`).
pub async fn start(database: TestDb, clock: Arc<FakeClock>, payments: Arc<FakePayments>) -> Office {
    start_with(database, clock, payments.clone())
        .await
        .with_fake(payments)
}

/// An empty box office: a fixture made of three others.
#[fixture]
pub async fn empty(sqlite: TestDb, clock: Arc<FakeClock>, payments: Arc<FakePayments>) -> Office {
    start(sqlite, clock, payments).await
}

/// A concert in Paris on 20 March 2027, 20:00, at 19.99 EUR a seat.
pub fn concert(title: &str, capacity: u32) -> Value {
    json!({
        "title": title,
        "time_zone": "Europe/Paris",
        "starts_local": "2027-03-20T20:00",
        "capacity": capacity,
        "price_minor": 1999,
        "currency": "EUR",
    })
}

/// A box office with one event of 2 seats, both booked.
#[fixture]
pub async fn sold_out(#[future] empty: Office) -> (Office, Event) {
    let office = empty.await;
    let event = office.create_event(concert("Sold out", 2)).await;
    office.book(event.id, 2).await.expect_status(201);
    let event = office.event(event.id).await;
    (office, event)
}

/// A box office where Ada has booked 2 of an event's 10 seats.
#[derive(Debug)]
pub struct Booked {
    pub office: Office,
    pub event: Event,
    pub booking: Value,
}

#[fixture]
pub async fn booked(#[future] empty: Office) -> Booked {
    let office = empty.await;
    let event = office.create_event(concert("Ada's concert", 10)).await;
    let booking = office.book(event.id, 2).await.expect_status(201).json();
    Booked {
        event: office.event(event.id).await,
        office,
        booking,
    }
}

// ---- the fixtures at work ----

#[rstest]
#[actix_web::test]
async fn an_empty_box_office_lists_no_events(#[future] empty: Office) {
    let office = empty.await;
    let page = office.get("/events").await.expect_status(200).json();
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total"], 0);
}

#[rstest]
#[actix_web::test]
async fn a_sold_out_event_refuses_one_more_seat(#[future] sold_out: (Office, Event)) {
    let (office, event) = sold_out.await;
    assert_eq!(event.seats_left, 0);
    let refused = office.book(event.id, 1).await.expect_problem(409);
    assert_eq!(refused["seats_left"], 0);
    assert_eq!(office.event(event.id).await.seats_left, 0);
    assert_eq!(
        office.fake().charges().len(),
        1,
        "only the first booking was charged"
    );
}

#[rstest]
#[actix_web::test]
#[awt]
async fn each_test_gets_a_world_of_its_own(
    #[future] empty: Office,
    #[future]
    #[from(empty)]
    other: Office,
) {
    empty.create_event(concert("Only here", 5)).await;
    assert_eq!(empty.get("/events").await.json()["total"], 1);
    assert_eq!(other.get("/events").await.json()["total"], 0);
    assert_ne!(empty.base, other.base);
}

#[rstest]
fn the_teardown_deletes_the_database_file(schema: &Schema) {
    let database = sqlite(schema);
    let url = database.url();
    assert!(std::path::Path::new(&url).exists());
    drop(database);
    assert!(!std::path::Path::new(&url).exists(), "{url} is still there");
}

#[rstest]
#[actix_web::test]
async fn the_fake_clock_decides_when_refunds_close(#[future] booked: Booked) {
    let Booked {
        office,
        event,
        booking,
    } = booked.await;
    // Refunds close at the start of the event's day, Paris time: 20 March 2027, 00:00 (+01:00).
    assert_eq!(event.refunds_until, "2027-03-20T00:00:00+01:00");
    let closes: Timestamp = "2027-03-19T23:00:00Z".parse().expect("a timestamp");
    office.clock.set(closes);
    let id = booking["id"].as_i64().expect("an id");
    office.cancel(id).await.expect_problem(409);
    office
        .clock
        .set(closes - jiff::SignedDuration::from_secs(1));
    office.cancel(id).await.expect_status(200);
    let charged = booking["payment_id"].as_str().expect("a charge").to_owned();
    let total = Money::new(4298, phase6_testing::money::Currency::Eur);
    assert_eq!(office.fake().refunds(), [(charged, total)]);
}

#[rstest]
#[actix_web::test]
async fn a_fake_told_to_decline_leaves_every_seat(#[future] empty: Office) {
    let office = empty.await;
    let event = office.create_event(concert("Declined", 4)).await;
    office.fake().decline("card expired");
    let problem = office.book(event.id, 2).await.expect_problem(402);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("card expired"),
        "{problem}"
    );
    assert_eq!(office.event(event.id).await.seats_left, 4);
    assert!(office.fake().charges().is_empty());
}
