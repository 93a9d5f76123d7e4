//! 5.3: real worker processes. `kill -9` in the middle of a job: the job runs again and completes.
//! SIGTERM: the worker finishes what it holds and takes nothing new.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use phase5_perf::SCHEMA;
use phase5_perf::jobs::amqp::AmqpSettings;
use phase5_perf::jobs::queue::{DbQueue, Job, JobState, NewJob, Queue};

use crate::support::{self, amqp};
use serde_json::json;

/// `phase5-perf worker` on `database_url`, named `name`, one job at a time, a short lease; its
/// jobs through RabbitMQ when `broker` says so.
fn worker(database_url: &str, name: &str, broker: Option<&AmqpSettings>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_phase5-perf"));
    command
        .args(["worker", "--database-url", database_url, "--instance", name])
        .args(["--concurrency", "1", "--lease-ms", "600", "--poll-ms", "50"])
        .env_remove("DATABASE_URL")
        .env_remove("AMQP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(broker) = broker {
        command.args([
            "--amqp-url",
            broker.url.expose(),
            "--amqp-queue",
            &broker.queue,
        ]);
    }
    command.spawn().expect("start a worker process")
}

/// The database alone, and RabbitMQ when `AMQP_URL` names it.
fn brokers() -> Vec<Option<AmqpSettings>> {
    std::iter::once(None).chain(amqp().map(Some)).collect()
}

/// Deletes the test's RabbitMQ queues, if it used any.
async fn delete_queues(db: &TestDatabase, broker: Option<AmqpSettings>) {
    if let Some(settings) = broker {
        support::delete_queues(&db.database, settings).await;
    }
}

async fn sleep_job(queue: &DbQueue, ms: u64) -> Job {
    queue
        .enqueue(NewJob {
            kind: "sleep".to_owned(),
            payload: json!({"kind": "sleep", "ms": ms}),
            run_at: None,
            max_attempts: 3,
        })
        .await
        .unwrap()
}

/// Waits up to 20 s for job `id` to satisfy `done`.
async fn until(queue: &DbQueue, id: i32, what: &str, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = queue.get(id).await.unwrap().unwrap();
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never {what}: {job:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Kills the process when dropped, so a failing test leaves no worker behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_runs_again_and_completes() {
    let databases = TestDatabase::all_with(&SCHEMA);
    for (db, broker) in databases
        .iter()
        .flat_map(|db| brokers().into_iter().map(move |broker| (db, broker)))
    {
        let queue = DbQueue::new(db.database.clone());
        let job = sleep_job(&queue, 1500).await;
        let mut doomed = Reaped(worker(db.database.url(), "doomed", broker.as_ref()));
        until(&queue, job.id, "started", |job| {
            job.state == JobState::Running
        })
        .await;
        doomed.0.kill().expect("kill -9 the worker");
        doomed.0.wait().unwrap();
        let stuck = queue.get(job.id).await.unwrap().unwrap();
        assert_eq!(
            (stuck.state, stuck.worker.as_deref()),
            (JobState::Running, Some("doomed"))
        );

        let rescuer = Reaped(worker(db.database.url(), "rescuer", broker.as_ref()));
        let done = until(&queue, job.id, "succeeded", |job| {
            job.state == JobState::Succeeded
        })
        .await;
        assert_eq!(done.attempts, 2, "{done:?}");
        assert_eq!(done.worker.as_deref(), Some("rescuer"));
        drop(rescuer);
        delete_queues(db, broker).await;
    }
}

#[tokio::test]
async fn sigterm_lets_the_worker_finish_its_job_and_take_no_new_one() {
    for broker in brokers() {
        sigterm_on(broker).await;
    }
}

async fn sigterm_on(broker: Option<AmqpSettings>) {
    let db = TestDatabase::sqlite_with(&SCHEMA);
    let queue = DbQueue::new(db.database.clone());
    let first = sleep_job(&queue, 1000).await;
    let mut process = Reaped(worker(db.database.url(), "polite", broker.as_ref()));
    until(&queue, first.id, "started", |job| {
        job.state == JobState::Running
    })
    .await;
    let second = sleep_job(&queue, 10).await;

    let sent = Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not stop within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(status.success(), "{status}");
    let first = queue.get(first.id).await.unwrap().unwrap();
    assert_eq!(
        first.state,
        JobState::Succeeded,
        "the job it held was finished"
    );
    let second = queue.get(second.id).await.unwrap().unwrap();
    assert_eq!(
        (second.state, second.attempts),
        (JobState::Queued, 0),
        "no new job taken"
    );
    delete_queues(&db, broker).await;
}
