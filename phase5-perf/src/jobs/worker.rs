//! The worker: claims due jobs, runs a bounded number at once, and stops without losing one.
//!
//! **Roadmap:** workers that process the queue, as their own processes.
//!
//! **Python:** `celery -A app worker --concurrency 4` (a pool of processes or threads, each taking
//! one message at a time, `acks_late` so that a crash re-delivers), `rq worker`, `dramatiq app`.
//!
//! **Rust:** one async loop ([`Worker::run`]), generic over the [`Queue`], that claims as many
//! jobs as it has free slots and runs each as a task of a `JoinSet`; `concurrency` bounds the
//! slots (and is the prefetch, through RabbitMQ). While a job runs, its task keeps hold of it
//! every third of the lease: on the database queue that pushes the lease forward, so a long job
//! keeps it and a dead worker loses it within one lease; through RabbitMQ the unacknowledged
//! delivery is the hold, and the task only checks that the channel is still there. A failure is recorded with the time of its next try
//! ([`backoff`]), in the row, so a restart does not forget it. `cargo run -p phase5-perf --
//! worker` runs one as its own process; the server runs one in process too (`--workers`, 0 for
//! none), which is the embedded default.
//!
//! **Why:** the shutdown is the part that loses jobs when done wrong. On SIGTERM (what `docker
//! stop`, systemd and Kubernetes send) the worker stops claiming and waits for the jobs it is
//! running, as Celery's warm shutdown does. On `kill -9` nothing can run, and nothing needs to:
//! the leases of its jobs run out (or the broker sees the connection drop) and another worker
//! claims them again.

use std::future::Future;
use std::time::Duration;

use common::db::Database;
use tokio::task::JoinSet;

use crate::clock::now_ms;
use crate::jobs::queue::{Claimed, Failure, JobState, Queue, backoff};
use crate::jobs::tasks;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Its name in the `jobs` table and the logs; unique per process (host name and pid).
    pub name: String,
    /// Jobs run at once, at most.
    pub concurrency: usize,
    /// How long a claim holds a job before another worker may take it.
    pub lease: Duration,
    /// How often to look for due jobs when nothing wakes it.
    pub poll: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
}

impl WorkerConfig {
    /// `worker-<pid>-<n>`, a concurrency of 4, a 30 s lease, polling every 200 ms, retrying after
    /// 1 s, 2 s, 4 s ... up to 5 minutes.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            concurrency: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(300),
        }
    }
}

/// A worker over queue `Q`.
#[derive(Debug, Clone)]
pub struct Worker<Q> {
    pub queue: Q,
    pub database: Database,
    pub config: WorkerConfig,
}

impl<Q: Queue> Worker<Q> {
    /// Runs jobs until `shutdown` resolves, then finishes the jobs it holds and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            queue,
            database,
            config,
        } = self;
        tracing::info!(
            worker = %config.name,
            concurrency = config.concurrency,
            lease_ms = config.lease.as_millis() as u64,
            queue = %queue.kind(),
            "worker started"
        );
        let mut running = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            while running.try_join_next().is_some() {}
            let free = config.concurrency.saturating_sub(running.len());
            if free > 0 {
                match queue.claim(&config.name, free, config.lease).await {
                    Ok(claimed_jobs) => {
                        let claimed = claimed_jobs.len();
                        for claimed in claimed_jobs {
                            running.spawn(run_one(
                                queue.clone(),
                                database.clone(),
                                config.clone(),
                                claimed,
                            ));
                        }
                        // A full claim: more may be due at once.
                        if claimed == free {
                            continue;
                        }
                    }
                    Err(err) => tracing::warn!(worker = %config.name, "cannot claim jobs: {err:#}"),
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = queue.wait_for_work(config.poll) => {}
            }
        }
        tracing::info!(
            worker = %config.name,
            running = running.len(),
            "worker stopping: finishing the jobs it holds, taking no new ones"
        );
        while running.join_next().await.is_some() {}
        tracing::info!(worker = %config.name, "worker stopped");
    }
}

/// Runs one claimed job, keeping hold of it, and records how it ended.
async fn run_one<Q: Queue>(
    queue: Q,
    database: Database,
    config: WorkerConfig,
    Claimed { job, hold }: Claimed<Q::Hold>,
) {
    tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempts, worker = %config.name, "job started");
    let work = tasks::run(&job, &database);
    tokio::pin!(work);
    let mut renew = tokio::time::interval(config.lease / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = renew.tick() => match queue.extend(&hold, config.lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = job.id, "lost hold of the job: another worker may have it now");
                    return;
                }
                Err(err) => tracing::warn!(job = job.id, "cannot extend the lease: {err:#}"),
            },
        }
    };
    let recorded = match outcome {
        Ok(result) => queue.succeed(&hold, result).await.map(|kept| {
            if kept {
                tracing::info!(job = job.id, "job succeeded");
            } else {
                tracing::warn!(
                    job = job.id,
                    "job done, but it was lost meanwhile: result dropped"
                );
            }
        }),
        Err(failure) => {
            let delay = backoff(job.attempts, config.retry_base, config.retry_cap);
            let retry_at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(0));
            let error = match &failure {
                Failure::Retryable(error) | Failure::Permanent(error) => error.clone(),
            };
            queue
                .fail(&hold, failure, retry_at)
                .await
                .map(|state| match state {
                    JobState::Retrying => tracing::warn!(
                        job = job.id,
                        attempt = job.attempts,
                        retry_in_ms = delay.as_millis() as u64,
                        "job failed, will retry: {error}"
                    ),
                    state => {
                        tracing::warn!(job = job.id, state = state.as_str(), "job failed: {error}");
                    }
                })
        }
    };
    if let Err(err) = recorded {
        // The lease runs out and another claim runs the job again: at least once.
        tracing::error!(job = job.id, "cannot record how the job ended: {err:#}");
    }
}
