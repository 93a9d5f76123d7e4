//! What a job can do: the tasks, and the code that runs each.
//!
//! **Roadmap:** the slow work a request should not wait for: a report to build, an email to send.
//!
//! **Python:** a Celery `@app.task` (or an RQ function, a Dramatiq `@actor`): a function whose
//! arguments are serialised into the broker's message, looked up by name in the worker.
//!
//! **Rust:** a [`Task`] enum, serialised as JSON with its `kind` as the tag, and one `match` in
//! [`run`] that the compiler checks covers every kind. The API validates a task before it is
//! queued, so a worker never meets arguments it cannot read.
//!
//! **Why:** the queue guarantees *at least once*, so each task is written to be run twice
//! safely. [`Task::Email`] records its delivery under the job's id (`ON CONFLICT DO NOTHING`):
//! a worker killed after sending but before reporting success sends it again as a no-op, not as
//! a second email. [`Task::Report`] only reads. [`Task::Sleep`] waits and may fail on purpose: it
//! is how the tests and the tour show retries, leases and shutdown.

use std::time::{Duration, Instant};

use common::db::Database;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use crate::clock::now_ms;
use crate::jobs::queue::{Failure, Job};
use crate::sales;
use crate::schema::sent_emails;

/// A task to run in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Task {
    /// Sends an email (into the `sent_emails` table: the outbox a real mailer would read). An
    /// address at `example.invalid` fails for good: that domain cannot exist (RFC 6761).
    Email {
        /// The recipient, such as `ada@example.com`.
        #[schema(
            min_length = 3,
            max_length = 254,
            pattern = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+$"
        )]
        to: String,
        #[schema(min_length = 1, max_length = 200)]
        subject: String,
    },
    /// Builds the sales report (the query 5.2 caches) and keeps its totals as the result.
    Report {},
    /// Waits `ms` milliseconds, after failing its first `fail_attempts` attempts: for watching
    /// retries, leases and shutdown.
    Sleep {
        #[schema(minimum = 0, maximum = 60000)]
        ms: u64,
        #[serde(default)]
        #[schema(minimum = 0, maximum = 20)]
        fail_attempts: i32,
    },
}

impl Task {
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Email { .. } => "email",
            Task::Report {} => "report",
            Task::Sleep { .. } => "sleep",
        }
    }
}

impl Validate for Task {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut broken = |field: &'static str, message: &'static str| {
            let mut error = ValidationError::new("rule");
            error.message = Some(message.into());
            errors.add(field, error);
        };
        match self {
            Task::Email { to, subject } => {
                // The document's pattern, character for character: one `@` with something on
                // either side, and no space or control character of ASCII anywhere.
                let plain = |part: &str| {
                    !part.is_empty() && !part.chars().any(|c| c == '@' || c <= ' ' || c == '\x7f')
                };
                let valid = (3..=254).contains(&to.chars().count())
                    && to
                        .split_once('@')
                        .is_some_and(|(user, host)| plain(user) && plain(host));
                if !valid {
                    broken("to", "must be an email address, such as ada@example.com");
                }
                if subject.is_empty() || subject.chars().count() > 200 {
                    broken("subject", "must be 1 to 200 characters");
                }
            }
            Task::Report {} => {}
            Task::Sleep { ms, fail_attempts } => {
                if *ms > 60_000 {
                    broken("ms", "must be at most 60000 (a minute)");
                }
                if !(0..=20).contains(fail_attempts) {
                    broken("fail_attempts", "must be 0 to 20");
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Runs `job` to its end: a result to keep, or the failure.
pub async fn run(job: &Job, database: &Database) -> Result<serde_json::Value, Failure> {
    let task: Task = serde_json::from_value(job.payload.clone())
        .map_err(|err| Failure::Permanent(format!("the job's arguments cannot be read: {err}")))?;
    match task {
        Task::Email { to, subject } => send_email(database, job.id, to, subject).await,
        Task::Report {} => {
            let database = database.clone();
            let started = Instant::now();
            let rows = tokio::task::spawn_blocking(move || {
                let mut conn = database.conn()?;
                Ok::<_, anyhow::Error>(sales::report(&mut conn)?)
            })
            .await
            .map_err(|err| Failure::Retryable(err.to_string()))?
            .map_err(|err| Failure::Retryable(format!("{err:#}")))?;
            Ok(serde_json::json!({
                "books": rows.len(),
                "units": rows.iter().map(|row| row.units).sum::<i64>(),
                "revenue_cents": rows.iter().map(|row| row.revenue_cents).sum::<i64>(),
                "took_ms": started.elapsed().as_millis(),
            }))
        }
        Task::Sleep { ms, fail_attempts } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if job.attempts <= fail_attempts {
                return Err(Failure::Retryable(format!(
                    "attempt {} of the first {fail_attempts} fails, as asked",
                    job.attempts
                )));
            }
            Ok(serde_json::json!({ "slept_ms": ms, "attempt": job.attempts }))
        }
    }
}

/// "Sends" the email: records it once per job, so a second run after a crash sends nothing twice.
async fn send_email(
    database: &Database,
    job_id: i32,
    to: String,
    subject: String,
) -> Result<serde_json::Value, Failure> {
    if to.ends_with("@example.invalid") {
        return Err(Failure::Permanent(format!(
            "{to}: the domain example.invalid does not exist (RFC 6761), so no retry can deliver it"
        )));
    }
    let database = database.clone();
    let recipient = to.clone();
    let first = tokio::task::spawn_blocking(move || {
        let mut conn = database.conn()?;
        let values = (
            sent_emails::job_id.eq(job_id),
            sent_emails::recipient.eq(&recipient),
            sent_emails::subject.eq(&subject),
            sent_emails::sent_at.eq(now_ms()),
        );
        let inserted =
            common::with_backend!(&mut *conn, |c| diesel::insert_into(sent_emails::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c))?;
        Ok::<_, anyhow::Error>(inserted == 1)
    })
    .await
    .map_err(|err| Failure::Retryable(err.to_string()))?
    .map_err(|err| Failure::Retryable(format!("{err:#}")))?;
    Ok(serde_json::json!({ "sent_to": to, "first_delivery": first }))
}
