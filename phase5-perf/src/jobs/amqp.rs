//! The queue on RabbitMQ: the broker carries the deliveries, the database keeps the record.
//!
//! **Roadmap:** Celery with RabbitMQ as its broker: durable queues, persistent messages, a worker
//! that acknowledges a message only when the work is done, a dead-letter queue for what cannot
//! be done.
//!
//! **Python:** Celery puts each task in a message on a durable RabbitMQ queue and keeps its state
//! in a *result backend* (a database, or Redis); `acks_late = True` acknowledges after the task
//! rather than before, so that a crash re-delivers it; `worker_prefetch_multiplier` bounds what a
//! worker takes ahead. Dramatiq's RabbitMQ broker does the same, with a dead-letter queue.
//!
//! **Rust:** [`AmqpQueue`], the same [`Queue`] trait as [`DbQueue`] and the same test suite, over
//! [lapin](https://docs.rs/lapin). The `jobs` table is still the record (what `GET /jobs/{id}`
//! and the monitor read, Celery's result backend), and it is also the *outbox*: enqueueing writes
//! the row only, in the caller's transaction ([`enqueue_in`](crate::jobs::queue::enqueue_in)
//! works unchanged), and a relay task publishes the rows that are due and not yet published. It
//! publishes inside a database transaction that holds those rows, with publisher confirms, and
//! marks them published before it commits: a job is published once when all goes well, and again
//! if the relay dies between the broker's confirm and the commit (at least once, never zero).
//! Then, as RabbitMQ's guides put it:
//! - the queue is **durable** and each message **persistent** (delivery mode 2): both survive a
//!   broker restart;
//! - a worker consumes with **manual acknowledgements** and acknowledges after it has recorded
//!   how the run ended. A worker killed in the middle never acknowledges; the broker sees its
//!   connection close and delivers the message again (`redelivered`), to another worker. No
//!   lease to renew: the connection is the lease;
//! - **`basic.qos` prefetch** is the worker's concurrency, so the broker never hands a worker
//!   more unacknowledged messages than it can run, and the others get the rest;
//! - a job that ends **failed** or **dead** is rejected without requeueing, and RabbitMQ moves its
//!   message to the **dead-letter queue** (`<queue>.dead`, bounded to the latest 10,000); so is a
//!   message no job matches (a poison message).
//!
//! A delivery starts its job only if the row says it may: queued or retrying and due, or running
//! and `redelivered` (its worker died). A duplicate (a job published twice, or cancelled while its
//! message waited) is acknowledged and dropped. Retries and scheduled jobs wait in the row, not in
//! the broker: RabbitMQ has no delayed delivery of its own (a TTL queue dead-lettered back
//! expires messages only at its head, so one long delay blocks every short one behind it), and
//! the row survives a restart as well as a message does. When the time comes, the relay
//! publishes the next delivery.
//!
//! **Why:** a broker is what to reach for when the workers are many or far from the database:
//! they get pushed work instead of polling a table, RabbitMQ spreads it by prefetch, and a dead
//! worker's jobs come back the moment its connection drops instead of when a lease runs out.
//! What a broker cannot do is share a transaction with the write that caused the job: hence the
//! outbox. Two caveats, as for Celery: the broker's `consumer_timeout` (30 minutes by default)
//! closes the channel of a worker that holds a delivery longer than that, so a longer job
//! belongs to the database queue; and a job can run twice, so every handler is idempotent.
//! RabbitMQ's quorum queues (replicated, with a delivery limit) are the production choice on a
//! cluster; a classic durable queue is what one broker on one machine needs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Context;
use common::config::SecretUrl;
use common::db::{AnyConnection, Backend, write_transaction};
use common::with_backend;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::clock::now_ms;
use crate::jobs::queue::{
    Cancelled, Claimed, DbQueue, Failure, Job, JobRow, JobState, Lease, NewJob, Queue, Stats,
};
use crate::schema::jobs;

/// Where the broker is and what to call the queue.
#[derive(Debug, Clone)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:5672/%2f` (`%2f` is the default virtual host, `/`).
    pub url: SecretUrl,
    /// The queue's name; its dead letters go to `<queue>.dead`. Servers and workers that share
    /// a queue share the jobs.
    pub queue: String,
    /// Deliveries a consumer holds unacknowledged at most: its worker's concurrency.
    pub prefetch: u16,
    /// How often the relay looks for jobs that became due (a retry, a scheduled job) when no
    /// enqueue in this process woke it.
    pub poll: Duration,
}

/// The jobs of [`DbQueue`], delivered through RabbitMQ. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct AmqpQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DbQueue,
    settings: AmqpSettings,
    connection: Connection,
    /// Publishes, with publisher confirms on.
    publisher: Channel,
    /// Consumes, from the first claim on: a server that only enqueues never takes a delivery
    /// that a worker could run.
    consumer: OnceCell<lapin::Consumer>,
    /// Deliveries [`Queue::wait_for_work`] took off the consumer; the next claim starts them.
    pending: Mutex<VecDeque<Delivery>>,
}

/// What a message carries: which job to run. The row has the rest.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    job_id: i32,
}

/// What a worker holds while it runs a job from RabbitMQ: the delivery it has not acknowledged
/// yet, and the job's lease in the table (its worker and attempt, so that a run that another
/// worker took over cannot record over it).
#[derive(Debug)]
pub struct Unacked {
    pub lease: Lease,
    acker: Acker,
}

impl AmqpQueue {
    /// Connects, declares the queue and its dead-letter queue, and starts the relay that publishes
    /// what `db` has due. The relay stops when the last clone is dropped or [`close`](Self::close)
    /// is called.
    pub async fn connect(db: DbQueue, settings: AmqpSettings) -> anyhow::Result<Self> {
        let connection =
            Connection::connect(settings.url.expose(), ConnectionProperties::default())
                .await
                .with_context(|| format!("cannot connect to RabbitMQ at {}", settings.url))?;
        let publisher = connection.create_channel().await?;
        declare(&publisher, &settings.queue).await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let inner = Arc::new(Inner {
            db,
            settings,
            connection,
            publisher,
            consumer: OnceCell::new(),
            pending: Mutex::new(VecDeque::new()),
        });
        tokio::spawn(relay(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// The queue [`enqueue`](Queue::enqueue), `GET /jobs/{id}` and the monitor use: the table.
    pub fn records(&self) -> &DbQueue {
        &self.inner.db
    }

    /// Closes the connection, as a worker that stops does: the broker delivers whatever this
    /// queue holds unacknowledged to the other consumers.
    pub async fn close(&self) -> anyhow::Result<()> {
        self.inner
            .connection
            .close(200, "closed".into())
            .await
            .context("closing the RabbitMQ connection")
    }

    /// Messages waiting in the dead-letter queue: the jobs that failed or died, and the messages
    /// no job matched.
    pub async fn dead_letters(&self) -> anyhow::Result<u32> {
        let dead = self
            .inner
            .publisher
            .queue_declare(
                dead_letter_queue(&self.inner.settings.queue).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(dead.message_count())
    }

    /// Publishes `body` as a message on the queue, as the relay does: for tests that need a
    /// message no job matches.
    pub async fn publish_raw(&self, body: &[u8]) -> anyhow::Result<()> {
        publish(&self.inner.publisher, &self.inner.settings.queue, body).await
    }

    /// Deletes the queue and its dead-letter queue: for tests, which each use queues of their own.
    pub async fn delete(&self) -> anyhow::Result<()> {
        let queue = &self.inner.settings.queue;
        for name in [queue.clone(), dead_letter_queue(queue)] {
            self.inner
                .publisher
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    async fn consumer(&self) -> anyhow::Result<&lapin::Consumer> {
        self.inner
            .consumer
            .get_or_try_init(|| async {
                let channel = self.inner.connection.create_channel().await?;
                channel
                    .basic_qos(self.inner.settings.prefetch, BasicQosOptions::default())
                    .await?;
                let consumer = channel
                    .basic_consume(
                        self.inner.settings.queue.as_str().into(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                anyhow::Ok(consumer)
            })
            .await
    }

    /// Up to `limit` deliveries that are here already: those `wait_for_work` took, then what the
    /// consumer has buffered. Never waits.
    async fn deliveries(&self, limit: usize) -> anyhow::Result<Vec<Delivery>> {
        let mut consumer = self.consumer().await?.clone();
        let mut taken: Vec<Delivery> = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            let n = pending.len().min(limit);
            pending.drain(..n).collect()
        };
        while taken.len() < limit {
            match consumer.next().now_or_never() {
                Some(Some(delivery)) => taken.push(delivery?),
                Some(None) => anyhow::bail!("the RabbitMQ consumer was cancelled"),
                None => break,
            }
        }
        Ok(taken)
    }
}

/// `<queue>.dead`.
fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// The queue, durable, dead-lettering into `<queue>.dead` through the default exchange; and
/// `<queue>.dead`, durable, keeping the latest 10,000. Declaring is idempotent: every process
/// declares, whoever starts first.
async fn declare(channel: &Channel, queue: &str) -> anyhow::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let dead = dead_letter_queue(queue);
    let mut bounded = FieldTable::default();
    bounded.insert("x-max-length".into(), AMQPValue::LongInt(10_000));
    channel
        .queue_declare(dead.as_str().into(), durable, bounded)
        .await
        .with_context(|| format!("declaring the queue {dead}"))?;
    let mut dead_lettered = FieldTable::default();
    dead_lettered.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    dead_lettered.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(dead.as_str().into()),
    );
    channel
        .queue_declare(queue.into(), durable, dead_lettered)
        .await
        .with_context(|| format!("declaring the queue {queue}"))?;
    Ok(())
}

/// One persistent message on `queue`, through the default exchange, confirmed by the broker.
async fn publish(channel: &Channel, queue: &str, body: &[u8]) -> anyhow::Result<()> {
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
        )
        .await?;
    match confirm.await? {
        Confirmation::Nack(_) => anyhow::bail!("RabbitMQ refused the message"),
        Confirmation::Ack(_) | Confirmation::NotRequested => Ok(()),
    }
}

/// Publishes the due jobs, a batch at a time, whenever this process enqueues or every `poll`,
/// until the queue is dropped or closed.
async fn relay(inner: Weak<Inner>) {
    loop {
        let Some(queue) = inner.upgrade() else { return };
        if !queue.connection.status().connected() {
            return;
        }
        match publish_due(&queue).await {
            // A full batch: there may be more.
            Ok(published) if published == RELAY_BATCH => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!("the job relay cannot publish: {err:#}"),
        }
        let (db, poll) = (queue.db.clone(), queue.settings.poll);
        drop(queue);
        db.wait_for_work(poll).await;
    }
}

/// Rows a relay round publishes at most.
const RELAY_BATCH: usize = 100;

/// The due jobs not yet published, oldest first, locked until the transaction ends (PostgreSQL
/// skips rows another relay holds; SQLite's write lock admits one relay at a time).
fn due_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "SELECT id FROM jobs
             WHERE state IN ('queued', 'retrying') AND run_at <= $1 AND published_at IS NULL
             ORDER BY run_at, id LIMIT $2
             FOR UPDATE SKIP LOCKED"
        }
        Backend::Sqlite => {
            "SELECT id FROM jobs
             WHERE state IN ('queued', 'retrying') AND run_at <= ?1 AND published_at IS NULL
             ORDER BY run_at, id LIMIT ?2"
        }
    }
}

#[derive(QueryableByName)]
struct DueId {
    #[diesel(sql_type = Integer)]
    id: i32,
}

/// One relay round: in one transaction, the due rows, their messages published and confirmed,
/// the rows marked. The broker is awaited from the blocking thread that holds the transaction
/// (`Handle::block_on`), so that the mark commits only after the confirms.
async fn publish_due(queue: &Inner) -> anyhow::Result<usize> {
    let channel = queue.publisher.clone();
    let name = queue.settings.queue.clone();
    let backend = queue.db.backend();
    let runtime = tokio::runtime::Handle::current();
    queue
        .db
        .run(move |conn| {
            write_transaction(conn, |conn: &mut AnyConnection| {
                let now = now_ms();
                let due: Vec<DueId> = with_backend!(&mut *conn, |c| {
                    diesel::sql_query(due_sql(backend))
                        .bind::<BigInt, _>(now)
                        .bind::<BigInt, _>(RELAY_BATCH as i64)
                        .load::<DueId>(c)
                })?;
                if due.is_empty() {
                    return Ok(0);
                }
                let ids: Vec<i32> = due.iter().map(|row| row.id).collect();
                runtime.block_on(async {
                    let bodies = ids
                        .iter()
                        .map(|&job_id| serde_json::to_vec(&Message { job_id }).unwrap_or_default());
                    let confirms = bodies.map(|body| {
                        let (channel, name) = (&channel, &name);
                        async move { publish(channel, name, &body).await }
                    });
                    futures_util::future::try_join_all(confirms).await
                })?;
                diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                    .set(jobs::published_at.eq(now))
                    .execute(conn)?;
                anyhow::Ok(ids.len())
            })
        })
        .await
}

/// What a delivery comes to, against the job's row.
#[derive(Debug)]
enum Delivered {
    /// The job is this worker's now: running, one attempt more.
    Start(Box<Job>),
    /// Nothing to do (done, cancelled, a duplicate, not due yet): acknowledge and drop.
    Stale,
    /// Its worker died on the last attempt: dead now, and the message goes to the dead letters.
    Buried,
    /// No job matches the message: a dead letter.
    Poison,
}

/// Decides what `delivery` means for job `job_id` and, when it starts the job, records that.
fn start_delivered(
    conn: &mut AnyConnection,
    job_id: i32,
    redelivered: bool,
    worker: &str,
) -> anyhow::Result<Delivered> {
    write_transaction(conn, |conn| {
        let row: Option<JobRow> = jobs::table
            .find(job_id)
            .select(JobRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = row else {
            return Ok(Delivered::Poison);
        };
        let now = now_ms();
        let startable = match row.state.as_str() {
            "queued" | "retrying" => row.run_at <= now,
            // Only a worker that died (and so never acknowledged) makes the broker redeliver.
            "running" => redelivered,
            _ => false,
        };
        if !startable {
            return Ok(Delivered::Stale);
        }
        if row.attempts >= row.max_attempts {
            diesel::update(jobs::table.find(job_id))
                .set((
                    jobs::state.eq(JobState::Dead.as_str()),
                    jobs::error.eq(
                        "its worker stopped during the last attempt (the broker redelivered it)",
                    ),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?;
            return Ok(Delivered::Buried);
        }
        let started: JobRow = with_backend!(&mut *conn, |c| {
            diesel::update(jobs::table.find(job_id))
                .set((
                    jobs::state.eq(JobState::Running.as_str()),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::worker.eq(worker),
                    jobs::lease_until.eq(None::<i64>),
                    jobs::updated_at.eq(now),
                ))
                .returning(JobRow::as_returning())
                .get_result(c)
        })?;
        Ok(Delivered::Start(Box::new(started.try_into()?)))
    })
}

async fn ack(acker: &Acker) {
    if let Err(err) = acker.ack(BasicAckOptions::default()).await {
        // The channel is gone: the broker delivers the message again, and the row makes that
        // delivery stale.
        tracing::warn!("cannot acknowledge a delivery: {err}");
    }
}

async fn dead_letter(acker: &Acker) {
    if let Err(err) = acker.reject(BasicRejectOptions { requeue: false }).await {
        tracing::warn!("cannot reject a delivery: {err}");
    }
}

impl Queue for AmqpQueue {
    type Hold = Unacked;

    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        // The row is the outbox: the relay, woken by the enqueue, publishes it.
        self.inner.db.enqueue(job).await
    }

    async fn claim(
        &self,
        worker: &str,
        limit: usize,
        _lease: Duration,
    ) -> anyhow::Result<Vec<Claimed<Unacked>>> {
        let deliveries = self.deliveries(limit).await?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let worker_name = worker.to_owned();
        let messages: Vec<(Option<i32>, bool)> = deliveries
            .iter()
            .map(|delivery| {
                let message = serde_json::from_slice::<Message>(&delivery.data).ok();
                (message.map(|m| m.job_id), delivery.redelivered)
            })
            .collect();
        let outcomes = self
            .inner
            .db
            .run(move |conn| {
                messages
                    .into_iter()
                    .map(|(job_id, redelivered)| match job_id {
                        Some(id) => start_delivered(conn, id, redelivered, &worker_name),
                        None => Ok(Delivered::Poison),
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .await?;
        let mut claimed = Vec::new();
        for (delivery, outcome) in deliveries.into_iter().zip(outcomes) {
            match outcome {
                Delivered::Start(job) => claimed.push(Claimed {
                    hold: Unacked {
                        lease: job.lease(),
                        acker: delivery.acker,
                    },
                    job: *job,
                }),
                Delivered::Stale => ack(&delivery.acker).await,
                Delivered::Buried | Delivered::Poison => {
                    tracing::warn!(
                        body = %String::from_utf8_lossy(&delivery.data),
                        "a delivery goes to the dead letters: {outcome:?}"
                    );
                    dead_letter(&delivery.acker).await;
                }
            }
        }
        Ok(claimed)
    }

    async fn extend(&self, hold: &Unacked, _by: Duration) -> anyhow::Result<bool> {
        // The broker keeps the delivery for as long as the channel lives.
        Ok(hold.acker.usable())
    }

    async fn succeed(&self, hold: &Unacked, result: serde_json::Value) -> anyhow::Result<bool> {
        // Recorded, then acknowledged: a crash in between re-delivers a job whose row says done.
        let kept = self.inner.db.succeed(&hold.lease, result).await?;
        ack(&hold.acker).await;
        Ok(kept)
    }

    async fn fail(
        &self,
        hold: &Unacked,
        failure: Failure,
        retry_at: i64,
    ) -> anyhow::Result<JobState> {
        let state = self.inner.db.fail(&hold.lease, failure, retry_at).await?;
        match state {
            // Its next delivery is the relay's, at `retry_at`.
            JobState::Retrying => ack(&hold.acker).await,
            JobState::Failed | JobState::Dead => dead_letter(&hold.acker).await,
            // The lease was lost: whoever has the job now acknowledges its own delivery.
            _ => ack(&hold.acker).await,
        }
        Ok(state)
    }

    async fn get(&self, id: i32) -> anyhow::Result<Option<Job>> {
        self.inner.db.get(id).await
    }

    async fn cancel(&self, id: i32) -> anyhow::Result<Cancelled> {
        // A message already published finds the row cancelled, and is dropped.
        self.inner.db.cancel(id).await
    }

    async fn stats(&self) -> anyhow::Result<Stats> {
        self.inner.db.stats().await
    }

    async fn wait_for_work(&self, poll: Duration) {
        let has_pending = !self
            .inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if has_pending {
            return;
        }
        let Ok(consumer) = self.consumer().await else {
            tokio::time::sleep(poll).await;
            return;
        };
        let mut consumer = consumer.clone();
        // Cancel-safe: a delivery is taken only when `next` completes, and kept for the claim.
        if let Ok(Some(Ok(delivery))) = tokio::time::timeout(poll, consumer.next()).await {
            self.inner
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(delivery);
        }
    }

    fn kind(&self) -> String {
        format!(
            "RabbitMQ (queue {} at {}, prefetch {}), recorded in {}",
            self.inner.settings.queue,
            self.inner.settings.url,
            self.inner.settings.prefetch,
            self.inner.db.kind()
        )
    }
}
