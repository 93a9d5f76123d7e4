//! 5.3: the queue's contract, one suite for every implementation; the API's 202 and job states.

use std::time::Duration;

use common::db::testing::TestDatabase;
use common::db::write_transaction;
use phase5_perf::SCHEMA;
use phase5_perf::clock::now_ms;
use phase5_perf::jobs::queue::{Cancelled, DbQueue, Failure, JobState, NewJob, Queue};
use phase5_perf::sales::{self, NewSale};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Phase5, header};

fn sleep_job(ms: u64) -> NewJob {
    NewJob {
        kind: "sleep".to_owned(),
        payload: json!({"kind": "sleep", "ms": ms}),
        run_at: None,
        max_attempts: 2,
    }
}

const LEASE: Duration = Duration::from_millis(300);

/// What every queue must do. Run against each implementation.
async fn queue_contract<Q: Queue>(queue: Q) {
    // Claimed once: a second claim finds nothing while the lease holds.
    let job = queue.enqueue(sleep_job(1)).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    let claimed = queue.claim("w1", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let held = &claimed[0];
    assert_eq!(
        (held.id, held.state, held.attempts),
        (job.id, JobState::Running, 1)
    );
    assert!(queue.claim("w2", 10, LEASE).await.unwrap().is_empty());

    // Extending keeps it; a lease that runs out hands it to the next claim, and the old holder
    // can no longer record anything.
    assert!(queue.extend(&held.lease(), LEASE).await.unwrap());
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let retaken = queue.claim("w2", 10, LEASE).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(
        (retaken[0].attempts, retaken[0].worker.as_deref()),
        (2, Some("w2"))
    );
    assert!(!queue.succeed(&held.lease(), json!("late")).await.unwrap());
    assert!(!queue.extend(&held.lease(), LEASE).await.unwrap());
    assert!(
        queue
            .succeed(&retaken[0].lease(), json!({"ok": true}))
            .await
            .unwrap()
    );
    let done = queue.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.result),
        (JobState::Succeeded, Some(json!({"ok": true})))
    );

    // A failure waits for its retry time, then runs again; the last attempt's failure is dead.
    let flaky = queue.enqueue(sleep_job(1)).await.unwrap();
    let first = queue.claim("w1", 10, LEASE).await.unwrap().remove(0);
    let retry_at = now_ms() + 300;
    let state = queue
        .fail(&first.lease(), Failure::Retryable("busy".into()), retry_at)
        .await
        .unwrap();
    assert_eq!(state, JobState::Retrying);
    let waiting = queue.get(flaky.id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.run_at, waiting.error.as_deref()),
        (retry_at, Some("busy"))
    );
    assert!(
        queue.claim("w1", 10, LEASE).await.unwrap().is_empty(),
        "not before run_at"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let second = queue.claim("w1", 10, LEASE).await.unwrap().remove(0);
    assert_eq!(second.attempts, 2);
    let state = queue
        .fail(
            &second.lease(),
            Failure::Retryable("still busy".into()),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(state, JobState::Dead);

    // A permanent failure is final at once.
    let doomed = queue.enqueue(sleep_job(1)).await.unwrap();
    let run = queue.claim("w1", 10, LEASE).await.unwrap().remove(0);
    let state = queue
        .fail(
            &run.lease(),
            Failure::Permanent("no such address".into()),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(state, JobState::Failed);
    assert_eq!(
        queue
            .get(doomed.id)
            .await
            .unwrap()
            .unwrap()
            .error
            .as_deref(),
        Some("no such address")
    );

    // A scheduled job is not due before its time, and can be cancelled until it starts.
    let later = queue
        .enqueue(NewJob {
            run_at: Some(now_ms() + 60_000),
            ..sleep_job(1)
        })
        .await
        .unwrap();
    assert!(queue.claim("w1", 10, LEASE).await.unwrap().is_empty());
    assert_eq!(queue.cancel(later.id).await.unwrap(), Cancelled::Done);
    assert_eq!(
        queue.cancel(job.id).await.unwrap(),
        Cancelled::TooLate(JobState::Succeeded)
    );
    assert_eq!(queue.cancel(999_999).await.unwrap(), Cancelled::NoSuchJob);

    // A job abandoned on its last attempt is dead, not due again.
    let abandoned = queue
        .enqueue(NewJob {
            max_attempts: 1,
            ..sleep_job(1)
        })
        .await
        .unwrap();
    queue.claim("w1", 10, LEASE).await.unwrap();
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    assert!(queue.claim("w2", 10, LEASE).await.unwrap().is_empty());
    assert_eq!(
        queue.get(abandoned.id).await.unwrap().unwrap().state,
        JobState::Dead
    );

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.counts["succeeded"], 1);
    assert_eq!(stats.counts["dead"], 2);
    assert_eq!(stats.counts["failed"], 1);
    assert_eq!(stats.counts["cancelled"], 1);
    assert_eq!(stats.recent_failures.len(), 3);

    // Concurrent claims never hand one job to two workers.
    for _ in 0..20 {
        queue.enqueue(sleep_job(1)).await.unwrap();
    }
    let claims = futures_util::future::join_all((0..5).map(|n| {
        let queue = queue.clone();
        async move { queue.claim(&format!("c{n}"), 3, LEASE).await.unwrap() }
    }))
    .await;
    let mut ids: Vec<i32> = claims.iter().flatten().map(|job| job.id).collect();
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a job was claimed twice");
    assert_eq!(claimed, 15);
}

#[tokio::test]
async fn the_database_queue_keeps_the_contract_on_every_backend() {
    for db in TestDatabase::all_with(&SCHEMA) {
        queue_contract(DbQueue::new(db.database.clone())).await;
    }
}

#[tokio::test]
async fn a_job_is_queued_with_its_write_or_not_at_all() {
    for db in TestDatabase::all_with(&SCHEMA) {
        let database = db.database.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut conn = database.conn().unwrap();
            common::db::seed::library(&mut conn).unwrap();
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
        let stats = DbQueue::new(db.database.clone()).stats().await.unwrap();
        assert_eq!(
            stats.counts["queued"], 1,
            "only the committed sale's receipt"
        );
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
    let app = Phase5::start(TestDatabase::sqlite_with(&SCHEMA), |config| {
        config.workers = 2;
        config.jobs.poll_ms = 20;
        config.jobs.retry_base_ms = 100;
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
