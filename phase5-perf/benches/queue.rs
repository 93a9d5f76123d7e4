//! `cargo bench -p phase5-perf --bench queue`: jobs a second with 1 and 4 workers, and the time
//! from submit to start, through the database queue on SQLite and (with `DATABASE_URL`)
//! PostgreSQL, and through RabbitMQ (with `AMQP_URL`) on each.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use phase5_perf::SCHEMA;
use phase5_perf::jobs::amqp::{AmqpQueue, AmqpSettings};
use phase5_perf::jobs::queue::{DbQueue, JobState, NewJob, Queue};
use phase5_perf::jobs::worker::{Worker, WorkerConfig};
use serde_json::json;

const JOBS: usize = 1000;

fn instant_job() -> NewJob {
    NewJob {
        kind: "sleep".to_owned(),
        payload: json!({"kind": "sleep", "ms": 0}),
        run_at: None,
        max_attempts: 3,
    }
}

/// Runs `workers` workers of one job at a time, each on a queue from `queue_for`, until every
/// queued job has succeeded: jobs a second.
async fn throughput<Q: Queue>(
    db: &TestDatabase,
    workers: usize,
    queue_for: &impl AsyncFn(DbQueue) -> Q,
) -> f64 {
    let queue = DbQueue::new(db.database.clone());
    for _ in 0..JOBS {
        queue.enqueue(instant_job()).await.expect("enqueue");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut handles = Vec::new();
    for n in 0..workers {
        let worker = Worker {
            queue: queue_for(DbQueue::new(db.database.clone())).await,
            database: db.database.clone(),
            config: WorkerConfig {
                concurrency: 1,
                poll: Duration::from_millis(5),
                ..WorkerConfig::named(format!("bench-{n}"))
            },
        };
        let mut stopped = stopped.clone();
        handles.push(tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
    }
    loop {
        let stats = queue.stats().await.expect("stats");
        if stats.counts["queued"] == 0 && stats.counts["running"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    for handle in handles {
        let _ = handle.await;
    }
    let done = queue.stats().await.expect("stats").counts["succeeded"] as usize;
    done as f64 / elapsed.as_secs_f64()
}

/// The median time from enqueue to running, in milliseconds, when the enqueue wakes what hands
/// the job out (a worker in the same process; RabbitMQ's relay in the same process) or when that
/// polls every 200 ms (a worker process; a relay in another process).
async fn submit_to_start<Q: Queue>(
    db: &TestDatabase,
    woken: bool,
    queue_for: &impl AsyncFn(DbQueue) -> Q,
) -> f64 {
    let submitter = DbQueue::new(db.database.clone());
    let worker_queue = queue_for(if woken {
        submitter.clone()
    } else {
        DbQueue::new(db.database.clone())
    })
    .await;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let worker = Worker {
        queue: worker_queue,
        database: db.database.clone(),
        config: WorkerConfig::named("bench-latency"),
    };
    let handle = tokio::spawn(worker.run(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    }));
    let mut samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let job = submitter
            .enqueue(NewJob {
                payload: json!({"kind": "sleep", "ms": 20}),
                ..instant_job()
            })
            .await
            .expect("enqueue");
        loop {
            let state = submitter
                .get(job.id)
                .await
                .expect("get")
                .expect("the job")
                .state;
            if state != JobState::Queued {
                samples.push(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        tokio::time::sleep(
            Duration::from_millis(50) + Duration::from_millis(fastrand::u64(0..200)),
        )
        .await;
    }
    let _ = stop.send(true);
    let _ = handle.await;
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    println!(
        "| queue | jobs/s, 1 worker | jobs/s, 4 workers | submit to start, woken | submit to start, polling 200 ms |"
    );
    println!("|---|---|---|---|---|");
    let broker = std::env::var("AMQP_URL").ok();
    for db in TestDatabase::all_with(&SCHEMA) {
        let in_the_database = async |records: DbQueue| records;
        let name = DbQueue::new(db.database.clone()).kind();
        row(&db, &name, &in_the_database).await;
        let Some(url) = &broker else { continue };
        let settings = AmqpSettings {
            url: url.clone().into(),
            queue: common::testing::unique_name("phase5_bench_jobs"),
            prefetch: 1,
            poll: Duration::from_millis(200),
        };
        let through_rabbitmq = async |records: DbQueue| {
            AmqpQueue::connect(records, settings.clone())
                .await
                .expect("connect to RabbitMQ")
        };
        row(
            &db,
            &format!("RabbitMQ, recorded in {name}"),
            &through_rabbitmq,
        )
        .await;
        through_rabbitmq(DbQueue::new(db.database.clone()))
            .await
            .delete()
            .await
            .expect("delete the bench's queues");
    }
    if broker.is_none() {
        println!("\n(AMQP_URL is not set: RabbitMQ is left out)");
    }
}

/// One line of the table.
async fn row<Q: Queue>(db: &TestDatabase, name: &str, queue_for: &impl AsyncFn(DbQueue) -> Q) {
    let one = throughput(db, 1, queue_for).await;
    let four = throughput(db, 4, queue_for).await;
    let woken = submit_to_start(db, true, queue_for).await;
    let polling = submit_to_start(db, false, queue_for).await;
    println!("| {name} | {one:.0} | {four:.0} | {woken:.1} ms | {polling:.1} ms |");
}
