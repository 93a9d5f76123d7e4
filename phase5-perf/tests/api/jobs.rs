//! 5.3: the queue's contract, one suite for every implementation; the API's 202 and job states.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::db::write_transaction;
use phase5_perf::SCHEMA;
use phase5_perf::clock::now_ms;
use phase5_perf::jobs::amqp::{AmqpQueue, AmqpSettings};
use phase5_perf::jobs::queue::{Cancelled, Claimed, DbQueue, Failure, JobState, NewJob, Queue};
use phase5_perf::sales::{self, NewSale};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Phase5, amqp, delete_queues, header};

fn sleep_job(ms: u64) -> NewJob {
    NewJob {
        kind: "sleep".to_owned(),
        payload: json!({"kind": "sleep", "ms": ms}),
        run_at: None,
        max_attempts: 2,
    }
}

const LEASE: Duration = Duration::from_millis(300);

/// One implementation of [`Queue`] under test: its workers, and how one of them dies.
trait Harness {
    type Q: Queue;

    /// The queue as a new worker process has it (for RabbitMQ, a connection of its own).
    async fn worker(&self) -> Self::Q;

    /// `worker` dies without a word (no acknowledgement, no renewal): what it held must come back.
    async fn kill(&self, worker: &Self::Q);
}

/// The database queue: a worker that dies stops renewing, and its lease runs out.
struct InTheDatabase(DbQueue);

impl Harness for InTheDatabase {
    type Q = DbQueue;

    async fn worker(&self) -> DbQueue {
        self.0.clone()
    }

    async fn kill(&self, _worker: &DbQueue) {
        tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    }
}

/// RabbitMQ: a worker that dies closes its connection, and the broker delivers again.
struct ThroughRabbitMq {
    records: DbQueue,
    settings: AmqpSettings,
}

impl ThroughRabbitMq {
    /// RabbitMQ in front of `db`'s jobs, on a queue named for `settings` and `db`'s backend.
    fn on(db: &TestDatabase, settings: &AmqpSettings) -> Self {
        Self {
            records: DbQueue::new(db.database.clone()),
            settings: AmqpSettings {
                queue: format!("{}.{:?}", settings.queue, db.database.backend),
                ..settings.clone()
            },
        }
    }

    /// Deletes the test's queues from the broker.
    async fn delete_queues(&self) {
        self.worker().await.delete().await.unwrap();
    }
}

impl Harness for ThroughRabbitMq {
    type Q = AmqpQueue;

    async fn worker(&self) -> AmqpQueue {
        AmqpQueue::connect(self.records.clone(), self.settings.clone())
            .await
            .expect("connect to RabbitMQ")
    }

    async fn kill(&self, worker: &AmqpQueue) {
        worker.close().await.unwrap();
    }
}

/// Claims for `worker` until `n` jobs came, for at most 5 s.
async fn claim_n<Q: Queue>(queue: &Q, worker: &str, n: usize) -> Vec<Claimed<Q::Hold>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut claimed = Vec::new();
    loop {
        claimed.extend(queue.claim(worker, n - claimed.len(), LEASE).await.unwrap());
        if claimed.len() == n {
            return claimed;
        }
        assert!(
            Instant::now() < deadline,
            "{worker} claimed {} of {n} jobs in 5 s",
            claimed.len()
        );
        queue.wait_for_work(Duration::from_millis(20)).await;
    }
}

/// Whether `worker` claims nothing, however often it tries, for `window`.
async fn claims_nothing<Q: Queue>(queue: &Q, worker: &str, window: Duration) -> bool {
    let until = Instant::now() + window;
    while Instant::now() < until {
        if !queue.claim(worker, 10, LEASE).await.unwrap().is_empty() {
            return false;
        }
        queue.wait_for_work(Duration::from_millis(10)).await;
    }
    true
}

/// What every queue must do. Run against each implementation.
async fn queue_contract<H: Harness>(harness: &H) {
    let (w1, w2) = (harness.worker().await, harness.worker().await);

    // Claimed once: nobody else gets it while its worker lives.
    let job = w1.enqueue(sleep_job(1)).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    let held = claim_n(&w1, "w1", 1).await.remove(0);
    assert_eq!(
        (held.job.id, held.job.state, held.job.attempts),
        (job.id, JobState::Running, 1)
    );
    assert!(claims_nothing(&w2, "w2", Duration::from_millis(200)).await);
    assert!(w1.extend(&held.hold, LEASE).await.unwrap());

    // Its worker dies: the next claim takes it, and the dead worker can record nothing.
    harness.kill(&w1).await;
    let retaken = claim_n(&w2, "w2", 1).await.remove(0);
    assert_eq!(
        (
            retaken.job.id,
            retaken.job.attempts,
            retaken.job.worker.as_deref()
        ),
        (job.id, 2, Some("w2"))
    );
    assert!(!w1.succeed(&held.hold, json!("late")).await.unwrap());
    assert!(!w1.extend(&held.hold, LEASE).await.unwrap());
    assert!(
        w2.succeed(&retaken.hold, json!({"ok": true}))
            .await
            .unwrap()
    );
    let done = w2.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.result),
        (JobState::Succeeded, Some(json!({"ok": true})))
    );

    // A failure waits for its retry time, then runs again; the last attempt's failure is dead.
    let flaky = w2.enqueue(sleep_job(1)).await.unwrap();
    let first = claim_n(&w2, "w2", 1).await.remove(0);
    let retry_at = now_ms() + 300;
    let state = w2
        .fail(&first.hold, Failure::Retryable("busy".into()), retry_at)
        .await
        .unwrap();
    assert_eq!(state, JobState::Retrying);
    let waiting = w2.get(flaky.id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.run_at, waiting.error.as_deref()),
        (retry_at, Some("busy"))
    );
    assert!(
        claims_nothing(&w2, "w2", Duration::from_millis(100)).await,
        "not before run_at"
    );
    let second = claim_n(&w2, "w2", 1).await.remove(0);
    assert!(now_ms() >= retry_at, "claimed before its retry time");
    assert_eq!((second.job.id, second.job.attempts), (flaky.id, 2));
    let state = w2
        .fail(
            &second.hold,
            Failure::Retryable("still busy".into()),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead);

    // A permanent failure is final at once.
    let doomed = w2.enqueue(sleep_job(1)).await.unwrap();
    let run = claim_n(&w2, "w2", 1).await.remove(0);
    let state = w2
        .fail(
            &run.hold,
            Failure::Permanent("no such address".into()),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(state, JobState::Failed);
    assert_eq!(
        w2.get(doomed.id).await.unwrap().unwrap().error.as_deref(),
        Some("no such address")
    );

    // A scheduled job is not due before its time, and can be cancelled until it starts.
    let later = w2
        .enqueue(NewJob {
            run_at: Some(now_ms() + 60_000),
            ..sleep_job(1)
        })
        .await
        .unwrap();
    assert!(claims_nothing(&w2, "w2", Duration::from_millis(100)).await);
    assert_eq!(w2.cancel(later.id).await.unwrap(), Cancelled::Done);
    assert_eq!(
        w2.cancel(job.id).await.unwrap(),
        Cancelled::TooLate(JobState::Succeeded)
    );
    assert_eq!(w2.cancel(999_999).await.unwrap(), Cancelled::NoSuchJob);

    // A job whose worker dies on its last attempt is dead, not due again. (w2 stops first, so
    // that the broker cannot hand w2 the job meant for w3.)
    harness.kill(&w2).await;
    let (w3, w4) = (harness.worker().await, harness.worker().await);
    let abandoned = w3
        .enqueue(NewJob {
            max_attempts: 1,
            ..sleep_job(1)
        })
        .await
        .unwrap();
    claim_n(&w3, "w3", 1).await;
    harness.kill(&w3).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while w4.get(abandoned.id).await.unwrap().unwrap().state != JobState::Dead {
        assert!(w4.claim("w4", 10, LEASE).await.unwrap().is_empty());
        assert!(Instant::now() < deadline, "the abandoned job never died");
        w4.wait_for_work(Duration::from_millis(10)).await;
    }

    let stats = w4.stats().await.unwrap();
    assert_eq!(stats.counts["succeeded"], 1);
    assert_eq!(stats.counts["dead"], 2);
    assert_eq!(stats.counts["failed"], 1);
    assert_eq!(stats.counts["cancelled"], 1);
    assert_eq!(stats.recent_failures.len(), 3);

    // Concurrent claims never hand one job to two workers, and every job is handed out.
    for _ in 0..20 {
        w4.enqueue(sleep_job(1)).await.unwrap();
    }
    let mut workers = vec![w4];
    for _ in 0..4 {
        workers.push(harness.worker().await);
    }
    let mut ids: Vec<i32> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ids.len() < 20 {
        assert!(
            Instant::now() < deadline,
            "{} of 20 jobs claimed in 5 s",
            ids.len()
        );
        let claims = futures_util::future::join_all(workers.iter().enumerate().map(
            |(n, queue)| async move { queue.claim(&format!("c{n}"), 3, LEASE).await.unwrap() },
        ))
        .await;
        ids.extend(claims.iter().flatten().map(|claimed| claimed.job.id));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a job was claimed twice");
}

#[tokio::test]
async fn the_database_queue_keeps_the_contract_on_every_backend() {
    for db in TestDatabase::all_with(&SCHEMA) {
        queue_contract(&InTheDatabase(DbQueue::new(db.database.clone()))).await;
    }
}

#[tokio::test]
async fn the_rabbitmq_queue_keeps_the_same_contract() {
    let Some(settings) = amqp() else {
        eprintln!("AMQP_URL is not set: the RabbitMQ queue is not tested");
        return;
    };
    for db in TestDatabase::all_with(&SCHEMA) {
        let harness = ThroughRabbitMq::on(&db, &settings);
        queue_contract(&harness).await;
        harness.delete_queues().await;
    }
}

#[tokio::test]
async fn rabbitmq_dead_letters_the_jobs_that_end_badly_and_the_messages_no_job_matches() {
    let Some(settings) = amqp() else {
        eprintln!("AMQP_URL is not set: RabbitMQ's dead letters are not tested");
        return;
    };
    let db = TestDatabase::sqlite_with(&SCHEMA);
    let worker = AmqpQueue::connect(DbQueue::new(db.database.clone()), settings)
        .await
        .unwrap();
    for job in [sleep_job(1), sleep_job(1)] {
        worker.enqueue(job).await.unwrap();
    }
    let mut claimed = claim_n(&worker, "w", 2).await;
    let (second, first) = (claimed.pop().unwrap(), claimed.pop().unwrap());
    assert!(worker.succeed(&first.hold, json!(1)).await.unwrap());
    let failure = Failure::Permanent("no".into());
    assert_eq!(
        worker.fail(&second.hold, failure, now_ms()).await.unwrap(),
        JobState::Failed
    );
    worker.publish_raw(b"{\"job_id\": 424242}").await.unwrap();
    worker.publish_raw(b"not JSON").await.unwrap();
    assert!(claims_nothing(&worker, "w", Duration::from_millis(300)).await);
    // The failed job and the two messages no job matches; not the one that succeeded.
    assert_eq!(worker.dead_letters().await.unwrap(), 3);
    worker.delete().await.unwrap();
}

/// Commits one sale and rolls another back; the committed one's receipt reaches a worker of
/// `harness`, and nothing else does.
async fn only_the_committed_write_has_its_job<H: Harness>(db: &TestDatabase, harness: &H) {
    let worker = harness.worker().await;
    let database = db.database.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut conn = database.conn().unwrap();
        let sale = |book_id| NewSale {
            book_id,
            customer: "ada@example.com".into(),
            quantity: 1,
            price_cents: 100,
        };
        let kept = write_transaction(&mut conn, |conn| sales::record(conn, &sale(1)));
        // No book 999: the sale fails on its foreign key after the receipt was queued.
        let lost = write_transaction(&mut conn, |conn| sales::record(conn, &sale(999)));
        (kept.is_ok(), lost.is_err())
    })
    .await
    .unwrap();
    assert_eq!(outcome, (true, true));
    let receipt = claim_n(&worker, "w", 1).await.remove(0);
    assert_eq!(receipt.job.payload["to"], "ada@example.com");
    assert!(worker.succeed(&receipt.hold, json!({})).await.unwrap());
    assert!(claims_nothing(&worker, "w", Duration::from_millis(200)).await);
    let stats = worker.stats().await.unwrap();
    assert_eq!(
        (stats.counts["succeeded"], stats.counts["queued"]),
        (1, 0),
        "only the committed sale's receipt"
    );
}

/// A database of `SCHEMA` with the shared library in it (the books that sales refer to), for each
/// backend this machine has.
async fn libraries() -> Vec<TestDatabase> {
    let mut databases = Vec::new();
    for db in TestDatabase::all_with(&SCHEMA) {
        let database = db.database.clone();
        tokio::task::spawn_blocking(move || {
            common::db::seed::library(&mut database.conn().unwrap()).unwrap();
        })
        .await
        .unwrap();
        databases.push(db);
    }
    databases
}

#[tokio::test]
async fn a_job_is_queued_with_its_write_or_not_at_all() {
    for db in libraries().await {
        let harness = InTheDatabase(DbQueue::new(db.database.clone()));
        only_the_committed_write_has_its_job(&db, &harness).await;
    }
}

#[tokio::test]
async fn through_rabbitmq_a_job_is_published_with_its_write_or_not_at_all() {
    let Some(settings) = amqp() else {
        eprintln!("AMQP_URL is not set: the RabbitMQ queue's outbox is not tested");
        return;
    };
    for db in libraries().await {
        let harness = ThroughRabbitMq::on(&db, &settings);
        only_the_committed_write_has_its_job(&db, &harness).await;
        harness.delete_queues().await;
    }
}

async fn wait_for(app: &Phase5, location: &str, state: &str) -> Value {
    for _ in 0..200 {
        let job: Value = app.get(location).await.json().await.unwrap();
        if job["state"] == state {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{location} never became {state}");
}

#[tokio::test]
async fn a_submitted_job_answers_202_and_shows_each_state() {
    let through_rabbitmq = amqp();
    submitted_jobs_on(None).await;
    if let Some(settings) = through_rabbitmq {
        submitted_jobs_on(Some(settings)).await;
    }
}

/// The API's flow, with the server's own worker, on the database queue or through RabbitMQ.
async fn submitted_jobs_on(broker: Option<AmqpSettings>) {
    let app = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.workers = 2;
        config.jobs.poll_ms = 20;
        config.jobs.retry_base_ms = 100;
        if let Some(broker) = &broker {
            config.jobs.amqp_url = Some(broker.url.clone());
            config.jobs.amqp_queue = broker.queue.clone();
        }
    })
    .await;
    let submit = |body: Value| app.http.post(app.url("/jobs")).json(&body).send();

    let accepted = submit(json!({"task": {"kind": "sleep", "ms": 300, "fail_attempts": 1}}))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let location = header(&accepted, "location").to_owned();
    assert!(location.starts_with("/jobs/"), "{location}");
    let running = wait_for(&app, &location, "running").await;
    assert_eq!(running["attempts"], 1);
    let retrying = wait_for(&app, &location, "retrying").await;
    assert!(
        retrying["error"]
            .as_str()
            .unwrap()
            .contains("fails, as asked")
    );
    assert!(retrying["run_at"].as_i64().unwrap() > retrying["updated_at"].as_i64().unwrap() - 1);
    let done = wait_for(&app, &location, "succeeded").await;
    assert_eq!(
        (done["attempts"].clone(), done["result"]["slept_ms"].clone()),
        (json!(2), json!(300))
    );

    let email = submit(json!({"task": {"kind": "email", "to": "x@example.invalid", "subject": "hi"}, "max_attempts": 3}))
        .await
        .unwrap();
    let email = header(&email, "location").to_owned();
    let failed = wait_for(&app, &email, "failed").await;
    assert_eq!(failed["attempts"], 1, "a permanent failure is not retried");
    assert!(failed["error"].as_str().unwrap().contains("RFC 6761"));

    let dying =
        submit(json!({"task": {"kind": "sleep", "ms": 1, "fail_attempts": 5}, "max_attempts": 2}))
            .await
            .unwrap();
    let dying = header(&dying, "location").to_owned();
    assert_eq!(wait_for(&app, &dying, "dead").await["attempts"], 2);

    let report = submit(json!({"task": {"kind": "report"}})).await.unwrap();
    let report = header(&report, "location").to_owned();
    let built = wait_for(&app, &report, "succeeded").await;
    assert!(built["result"]["units"].as_i64().unwrap() > 0);

    // Scheduled for later: cancellable; afterwards, too late.
    let later = submit(json!({"task": {"kind": "sleep", "ms": 1}, "delay_ms": 60000}))
        .await
        .unwrap();
    let later = header(&later, "location").to_owned();
    let cancel_url = app.url(&format!("{later}/cancel"));
    let cancel = app.http.post(&cancel_url).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    assert_eq!(cancel.json::<Value>().await.unwrap()["state"], "cancelled");
    assert_eq!(wait_for(&app, &later, "cancelled").await["attempts"], 0);
    let again = app.http.post(&cancel_url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let monitor: Value = app.get("/jobs").await.json().await.unwrap();
    assert_eq!(monitor["counts"]["succeeded"], 2);
    assert_eq!(monitor["counts"]["failed"], 1);
    assert_eq!(monitor["counts"]["dead"], 1);
    assert_eq!(monitor["recent_failures"][0]["state"], "dead");
    // Through RabbitMQ, the failed email's and the dead sleep's messages are dead letters.
    let dead_letters = broker.as_ref().map(|_| json!(2)).unwrap_or(Value::Null);
    assert_eq!(monitor["dead_letters"], dead_letters);
    let page = app
        .http
        .get(app.url("/jobs"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(header(&page, "content-type").starts_with("text/html"));
    let page = page.text().await.unwrap();
    assert!(page.contains("<td>dead</td><td>1</td>") && page.contains("example.invalid"));
    if let Some(settings) = broker {
        delete_queues(&app.database.database, settings).await;
    }
}

#[tokio::test]
async fn a_task_with_bad_arguments_is_refused_before_it_is_queued() {
    let app = Phase5::sqlite().await;
    for (body, field) in [
        (
            json!({"task": {"kind": "email", "to": "not an address", "subject": "x"}}),
            "task.to",
        ),
        (json!({"task": {"kind": "sleep", "ms": 600000}}), "task.ms"),
        (
            json!({"task": {"kind": "sleep", "ms": 1}, "max_attempts": 0}),
            "max_attempts",
        ),
    ] {
        let response = app
            .http
            .post(app.url("/jobs"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{problem}"
        );
    }
    let unknown = app
        .http
        .post(app.url("/jobs"))
        .json(&json!({"task": {"kind": "mine-bitcoin"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let monitor: Value = app.get("/jobs").await.json().await.unwrap();
    assert!(
        monitor["counts"]
            .as_object()
            .unwrap()
            .values()
            .all(|n| n == 0)
    );
}
