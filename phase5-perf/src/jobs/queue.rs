//! The queue: one trait, and the implementation that keeps jobs in the database.
//!
//! **Roadmap:** background tasks that survive a crash: a durable queue, retries, scheduling.
//!
//! **Python:** Celery and Dramatiq keep jobs in a broker (RabbitMQ or Redis), RQ in Redis lists;
//! django-q and Procrastinate (PostgreSQL) keep them in the database you already have.
//!
//! **Rust:** a [`Queue`] trait with the six things a worker and an API need (enqueue, claim,
//! keep hold, finish, look up, cancel), implemented twice: [`DbQueue`] here, which keeps jobs in
//! the `jobs` table of SQLite or PostgreSQL, and
//! [`AmqpQueue`](crate::jobs::amqp::AmqpQueue), which delivers them through RabbitMQ. One test
//! suite runs against both (`tests/api/jobs.rs`). A worker *claims* due jobs: on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so several workers never take the same row and never wait for each other; on SQLite
//! inside a `BEGIN IMMEDIATE` transaction, since SQLite has one writer at a time anyway. A claim is
//! a *lease*: the job is the worker's until `lease_until`, which the worker pushes forward while
//! it runs. A worker killed in the middle stops pushing, the lease runs out, and the next claim
//! takes the job again. Every update names the lease it holds (job, worker, attempt), so a worker
//! that lost its lease cannot overwrite what the next one did.
//!
//! **Why:** the database as the queue gives what a broker cannot: [`enqueue_in`] writes the job in
//! the same transaction as the change that caused it, so a committed sale always has its receipt
//! queued and a rolled-back one never sends it (a broker needs an outbox for that, which is how
//! [`AmqpQueue`](crate::jobs::amqp::AmqpQueue) uses this same table). Retries
//! wait in the row (`run_at`), so a job that waits for its next try survives a restart. The
//! guarantee is *at least once*: a job whose worker died after the work but before the commit
//! runs again, so every handler must be idempotent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use common::db::{AnyConnection, Backend, Database, write_transaction};
use common::with_backend;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::clock::now_ms;
use crate::schema::jobs;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its first run (`run_at` may be in the future: a scheduled job).
    Queued,
    /// A worker holds its lease.
    Running,
    /// Failed, and waits for its next try at `run_at`.
    Retrying,
    /// Done; `result` holds what it returned.
    Succeeded,
    /// Failed in a way no retry can fix (`error` says why).
    Failed,
    /// Failed on every attempt it had.
    Dead,
    /// Cancelled before it ran.
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retrying,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

/// A job as the `jobs` table keeps it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = jobs)]
pub(crate) struct JobRow {
    pub(crate) id: i32,
    pub(crate) kind: String,
    pub(crate) payload: String,
    pub(crate) state: String,
    pub(crate) attempts: i32,
    pub(crate) max_attempts: i32,
    pub(crate) run_at: i64,
    pub(crate) lease_until: Option<i64>,
    pub(crate) worker: Option<String>,
    pub(crate) result: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// A job, as the API shows it and a worker runs it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Job {
    pub id: i32,
    /// What to do: `email`, `report` or `sleep`.
    pub kind: String,
    /// Its arguments.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub state: JobState,
    /// Runs started so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it may run (next): milliseconds since 1970.
    pub run_at: i64,
    /// Until when the running worker holds it.
    pub lease_until: Option<i64>,
    /// The worker that ran it last.
    pub worker: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The last failure.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = anyhow::Error;

    fn try_from(row: JobRow) -> anyhow::Result<Self> {
        let state = JobState::parse(&row.state)
            .with_context(|| format!("job {} has an unknown state {:?}", row.id, row.state))?;
        let parse = |text: &str| serde_json::from_str(text).context("a job's stored JSON");
        Ok(Self {
            id: row.id,
            kind: row.kind,
            payload: parse(&row.payload)?,
            state,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            lease_until: row.lease_until,
            worker: row.worker,
            result: row.result.as_deref().map(parse).transpose()?,
            error: row.error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Not before this time (milliseconds since 1970); now when `None`.
    pub run_at: Option<i64>,
    pub max_attempts: i32,
}

/// A worker's hold on a job: the job, the worker, and which attempt. Every update a worker makes
/// names its lease, and does nothing if the job has moved on (another worker took it over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i32,
    pub worker: String,
    pub attempt: i32,
}

impl Job {
    /// The lease the worker that claimed this job holds.
    pub fn lease(&self) -> Lease {
        Lease {
            job_id: self.id,
            worker: self.worker.clone().unwrap_or_default(),
            attempt: self.attempts,
        }
    }
}

/// A job a worker has taken, and what it holds the job by until it records how the run ended.
#[derive(Debug)]
pub struct Claimed<H> {
    pub job: Job,
    pub hold: H,
}

/// How a run ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (a timeout, a server that said "later").
    Retryable(String),
    /// No retry can fix it (an address that does not exist).
    Permanent(String),
}

/// What [`Queue::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    Done,
    /// The job has started or ended already: too late.
    TooLate(JobState),
    NoSuchJob,
}

/// Counts by state, and the latest failures: what the monitor shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stats {
    /// Every state, with 0 for those no job is in.
    #[schema(value_type = Object)]
    pub counts: std::collections::BTreeMap<&'static str, i64>,
    /// The ten most recently failed jobs (retrying, failed or dead), newest first.
    pub recent_failures: Vec<Job>,
    /// Messages in RabbitMQ's dead-letter queue, when the jobs go through RabbitMQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<u32>,
}

/// What a queue does, whatever keeps the jobs. Native `async fn` in a trait is not object-safe,
/// so code that takes "any queue" is generic over `Q: Queue` (the worker, the shared test suite)
/// rather than holding a `dyn Queue`.
pub trait Queue: Clone + Send + Sync + 'static {
    /// What a worker holds a job by while it runs it: a [`Lease`] in the `jobs` table
    /// ([`DbQueue`]), or a delivery it has not acknowledged yet
    /// ([`AmqpQueue`](crate::jobs::amqp::AmqpQueue)). Either way, a worker that dies lets go of it
    /// by itself: the lease runs out, or the broker sees the connection close.
    type Hold: std::fmt::Debug + Send + Sync + 'static;

    /// Adds a job; it runs at `job.run_at` or later.
    fn enqueue(&self, job: NewJob) -> impl Future<Output = anyhow::Result<Job>> + Send;

    /// Takes up to `limit` due jobs for `worker`; a [`DbQueue`] holds each for `lease`. A job
    /// whose worker died is due again.
    fn claim(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> impl Future<Output = anyhow::Result<Vec<Claimed<Self::Hold>>>> + Send;

    /// Keeps the job for another `by`; `false` when it was lost (another worker may have it).
    fn extend(
        &self,
        hold: &Self::Hold,
        by: Duration,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Records success; `false` when the job was lost (the result is dropped).
    fn succeed(
        &self,
        hold: &Self::Hold,
        result: serde_json::Value,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Records a failure: retrying at `retry_at`, or failed, or dead when it was the last attempt.
    fn fail(
        &self,
        hold: &Self::Hold,
        failure: Failure,
        retry_at: i64,
    ) -> impl Future<Output = anyhow::Result<JobState>> + Send;

    fn get(&self, id: i32) -> impl Future<Output = anyhow::Result<Option<Job>>> + Send;

    /// Cancels a job that has not started (queued, or waiting to retry).
    fn cancel(&self, id: i32) -> impl Future<Output = anyhow::Result<Cancelled>> + Send;

    fn stats(&self) -> impl Future<Output = anyhow::Result<Stats>> + Send;

    /// Resolves when a job may have become due: at once after an enqueue in this process, or
    /// after `poll` (another process may have enqueued).
    fn wait_for_work(&self, poll: Duration) -> impl Future<Output = ()> + Send;

    /// What keeps the jobs, for the tour: `the database (SQLite)`.
    fn kind(&self) -> String;
}

/// Jobs in the `jobs` table.
#[derive(Debug, Clone)]
pub struct DbQueue {
    database: Database,
    /// Wakes this process's workers when this process enqueues.
    enqueued: Arc<Notify>,
}

impl DbQueue {
    pub fn new(database: Database) -> Self {
        Self {
            database,
            enqueued: Arc::new(Notify::new()),
        }
    }

    /// Wakes this process's workers: call after committing a transaction that used [`enqueue_in`].
    pub fn notify(&self) {
        self.enqueued.notify_waiters();
    }

    /// Which database keeps the jobs.
    pub fn backend(&self) -> Backend {
        self.database.backend
    }

    /// Runs `work` on a pooled connection, on a blocking thread.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let database = self.database.clone();
        tokio::task::spawn_blocking(move || work(&mut *database.conn()?)).await?
    }
}

/// Adds `job` on `conn`, inside whatever transaction `conn` is in: commit the transaction and the
/// job is queued; roll it back and it never was.
pub fn enqueue_in(conn: &mut AnyConnection, job: &NewJob) -> anyhow::Result<Job> {
    let now = now_ms();
    let row: JobRow = with_backend!(&mut *conn, |c| {
        diesel::insert_into(jobs::table)
            .values((
                jobs::kind.eq(&job.kind),
                jobs::payload.eq(job.payload.to_string()),
                jobs::state.eq(JobState::Queued.as_str()),
                jobs::attempts.eq(0),
                jobs::max_attempts.eq(job.max_attempts),
                jobs::run_at.eq(job.run_at.unwrap_or(now)),
                jobs::created_at.eq(now),
                jobs::updated_at.eq(now),
            ))
            .returning(JobRow::as_returning())
            .get_result(c)
    })?;
    row.try_into()
}

/// The claim, as one statement: the due jobs, oldest first, become this worker's. PostgreSQL
/// skips rows another worker is claiming at this moment; SQLite runs it under its write lock.
fn claim_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2, updated_at = $3
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE (state IN ('queued', 'retrying') AND run_at <= $3)
                    OR (state = 'running' AND lease_until < $3)
                 ORDER BY run_at, id
                 LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING *"
        }
        Backend::Sqlite => {
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ?1, worker = ?2, updated_at = ?3
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE (state IN ('queued', 'retrying') AND run_at <= ?3)
                    OR (state = 'running' AND lease_until < ?3)
                 ORDER BY run_at, id
                 LIMIT ?4)
             RETURNING *"
        }
    }
}

/// A job whose lease ran out on its last attempt has none left: it is dead, not due.
fn bury_abandoned(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::state.eq(JobState::Running.as_str()))
            .filter(jobs::lease_until.lt(now))
            .filter(jobs::attempts.ge(jobs::max_attempts)),
    )
    .set((
        jobs::state.eq(JobState::Dead.as_str()),
        jobs::error.eq("its worker stopped during the last attempt (the lease ran out)"),
        jobs::lease_until.eq(None::<i64>),
        jobs::updated_at.eq(now),
    ))
    .execute(conn)
}

/// The rows a lease may update: the job, still running, under this worker and attempt.
macro_rules! leased {
    ($lease:expr) => {
        jobs::table
            .filter(jobs::id.eq($lease.job_id))
            .filter(jobs::state.eq(JobState::Running.as_str()))
            .filter(jobs::worker.eq(&$lease.worker))
            .filter(jobs::attempts.eq($lease.attempt))
    };
}

impl Queue for DbQueue {
    type Hold = Lease;

    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        let job = self.run(move |conn| enqueue_in(conn, &job)).await?;
        self.notify();
        Ok(job)
    }

    async fn claim(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<Vec<Claimed<Lease>>> {
        let worker = worker.to_owned();
        let backend = self.database.backend;
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<JobRow> = self
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let now = now_ms();
                    bury_abandoned(conn, now)?;
                    with_backend!(&mut *conn, |c| {
                        diesel::sql_query(claim_sql(backend))
                            .bind::<BigInt, _>(now.saturating_add(lease_ms))
                            .bind::<Text, _>(&worker)
                            .bind::<BigInt, _>(now)
                            .bind::<BigInt, _>(limit)
                            .load::<JobRow>(c)
                    })
                })
                .map_err(anyhow::Error::from)
            })
            .await?;
        let mut jobs: Vec<Job> = rows
            .into_iter()
            .map(Job::try_from)
            .collect::<anyhow::Result<_>>()?;
        jobs.sort_by_key(|job| (job.run_at, job.id));
        Ok(jobs
            .into_iter()
            .map(|job| Claimed {
                hold: job.lease(),
                job,
            })
            .collect())
    }

    async fn extend(&self, lease: &Lease, by: Duration) -> anyhow::Result<bool> {
        let lease = lease.clone();
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let now = now_ms();
            let updated = diesel::update(leased!(lease))
                .set((
                    jobs::lease_until.eq(now.saturating_add(by)),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(updated == 1)
        })
        .await
    }

    async fn succeed(&self, lease: &Lease, result: serde_json::Value) -> anyhow::Result<bool> {
        let lease = lease.clone();
        self.run(move |conn| {
            let updated = diesel::update(leased!(lease))
                .set((
                    jobs::state.eq(JobState::Succeeded.as_str()),
                    jobs::result.eq(result.to_string()),
                    jobs::error.eq(None::<String>),
                    jobs::lease_until.eq(None::<i64>),
                    jobs::updated_at.eq(now_ms()),
                ))
                .execute(conn)?;
            Ok(updated == 1)
        })
        .await
    }

    async fn fail(
        &self,
        lease: &Lease,
        failure: Failure,
        retry_at: i64,
    ) -> anyhow::Result<JobState> {
        let lease = lease.clone();
        self.run(move |conn| {
            let max_attempts: Option<i32> = leased!(lease)
                .select(jobs::max_attempts)
                .first(conn)
                .optional()?;
            let Some(max_attempts) = max_attempts else {
                // The lease is gone: whoever holds the job now decides.
                return Ok(JobState::Running);
            };
            let (state, error) = match failure {
                Failure::Permanent(error) => (JobState::Failed, error),
                Failure::Retryable(error) if lease.attempt >= max_attempts => {
                    (JobState::Dead, error)
                }
                Failure::Retryable(error) => (JobState::Retrying, error),
            };
            let run_at = if state == JobState::Retrying {
                retry_at
            } else {
                now_ms()
            };
            diesel::update(leased!(lease))
                .set((
                    jobs::state.eq(state.as_str()),
                    jobs::error.eq(error),
                    jobs::run_at.eq(run_at),
                    jobs::lease_until.eq(None::<i64>),
                    // For the RabbitMQ queue's relay: the next try is a new delivery to publish.
                    jobs::published_at.eq(None::<i64>),
                    jobs::updated_at.eq(now_ms()),
                ))
                .execute(conn)?;
            Ok(state)
        })
        .await
    }

    async fn get(&self, id: i32) -> anyhow::Result<Option<Job>> {
        let row = self
            .run(move |conn| {
                Ok(jobs::table
                    .find(id)
                    .select(JobRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        row.map(Job::try_from).transpose()
    }

    async fn cancel(&self, id: i32) -> anyhow::Result<Cancelled> {
        self.run(move |conn| {
            let cancelled = diesel::update(jobs::table.find(id).filter(
                jobs::state.eq_any([JobState::Queued.as_str(), JobState::Retrying.as_str()]),
            ))
            .set((
                jobs::state.eq(JobState::Cancelled.as_str()),
                jobs::updated_at.eq(now_ms()),
            ))
            .execute(conn)?;
            if cancelled == 1 {
                return Ok(Cancelled::Done);
            }
            let state: Option<String> = jobs::table
                .find(id)
                .select(jobs::state)
                .first(conn)
                .optional()?;
            Ok(match state.as_deref().and_then(JobState::parse) {
                Some(state) => Cancelled::TooLate(state),
                None => Cancelled::NoSuchJob,
            })
        })
        .await
    }

    async fn stats(&self) -> anyhow::Result<Stats> {
        let (counted, failures) = self
            .run(|conn| {
                let counted: Vec<(String, i64)> = jobs::table
                    .group_by(jobs::state)
                    .select((jobs::state, diesel::dsl::count_star()))
                    .load(conn)?;
                let failures: Vec<JobRow> = jobs::table
                    .filter(jobs::error.is_not_null())
                    .filter(jobs::state.eq_any([
                        JobState::Retrying.as_str(),
                        JobState::Failed.as_str(),
                        JobState::Dead.as_str(),
                    ]))
                    .order((jobs::updated_at.desc(), jobs::id.desc()))
                    .limit(10)
                    .select(JobRow::as_select())
                    .load(conn)?;
                Ok((counted, failures))
            })
            .await?;
        let mut counts: std::collections::BTreeMap<&'static str, i64> = JobState::ALL
            .iter()
            .map(|state| (state.as_str(), 0))
            .collect();
        for (state, count) in counted {
            if let Some(state) = JobState::parse(&state) {
                counts.insert(state.as_str(), count);
            }
        }
        Ok(Stats {
            counts,
            recent_failures: failures
                .into_iter()
                .map(Job::try_from)
                .collect::<anyhow::Result<_>>()?,
            dead_letters: None,
        })
    }

    async fn wait_for_work(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.enqueued.notified()).await;
    }

    fn kind(&self) -> String {
        match self.database.backend {
            Backend::Sqlite => "the database (SQLite)".to_owned(),
            Backend::Postgres => "the database (PostgreSQL, FOR UPDATE SKIP LOCKED)".to_owned(),
        }
    }
}

/// How long a retry waits: `base × 2^(attempt − 1)`, at most `cap`, then scaled by a random factor
/// between ½ and 1 ("equal jitter"), so that jobs that failed together do not all retry together.
pub fn backoff(attempt: i32, base: Duration, cap: Duration) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let full = base.saturating_mul(1 << exponent).min(cap);
    full.mul_f64(0.5 + fastrand::f64() * 0.5)
}
