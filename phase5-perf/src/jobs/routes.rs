//! The jobs API and the monitor.
//!
//! **Roadmap:** submit a slow job, watch its state, see the queue at a glance.
//!
//! **Python:** a view that calls `task.delay()` and returns `{"task_id": ...}` with 202; another
//! that reads `AsyncResult(task_id).state`; Flower's dashboard.
//!
//! **Rust:** four handlers over the jobs' records ([`DbQueue`]: the table, whether or not
//! RabbitMQ delivers them), and one monitor route that answers JSON or an HTML page by `Accept`.
//!
//! **Why:** the job's URL is the contract: the client gets it in `Location`, and everything it may
//! want to know (state, attempt, next run, result, error) is there.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use common::ApiError;
use common::extract::{Path, ValidJson};
use common::manifest::escape;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::clock::now_ms;
use crate::jobs::amqp::AmqpQueue;
use crate::jobs::queue::{Cancelled, DbQueue, Job, JobState, NewJob, Queue, Stats};
use crate::jobs::tasks::Task;

/// A job to submit.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    #[validate(nested)]
    pub task: Task,
    /// Run it this many milliseconds from now (a scheduled job); at once by default.
    #[serde(default)]
    #[validate(range(
        min = 0,
        max = 604_800_000,
        message = "must be 0 to 604800000 (a week)"
    ))]
    #[schema(minimum = 0, maximum = 604800000)]
    pub delay_ms: i64,
    /// Runs it may take before it is dead.
    #[serde(default = "default_attempts")]
    #[validate(range(min = 1, max = 25, message = "must be 1 to 25"))]
    #[schema(minimum = 1, maximum = 25, default = 5)]
    pub max_attempts: i32,
}

fn default_attempts() -> i32 {
    5
}

#[utoipa::path(
    tag = "background tasks",
    request_body = Submission,
    responses(
        (status = 202, description = "Queued: watch it at `Location`", body = Job,
            headers(("Location" = String, description = "`/jobs/{id}`"))),
    )
)]
#[post("/jobs")]
pub(crate) async fn submit(
    queue: web::Data<DbQueue>,
    ValidJson(submission): ValidJson<Submission>,
) -> Result<HttpResponse, ApiError> {
    let job = queue
        .enqueue(NewJob {
            kind: submission.task.kind().to_owned(),
            payload: serde_json::to_value(&submission.task).map_err(ApiError::internal)?,
            run_at: Some(now_ms().saturating_add(submission.delay_ms)),
            max_attempts: submission.max_attempts,
        })
        .await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/jobs/{}", job.id)))
        .json(job))
}

#[utoipa::path(
    tag = "background tasks",
    params(("id" = i32, Path, description = "The job")),
    responses(
        (status = 200, description = "The job and its state", body = Job),
        (status = 404, description = "No job has this id"),
    )
)]
#[get("/jobs/{id}")]
pub(crate) async fn status(
    queue: web::Data<DbQueue>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let job = queue.get(id).await?.ok_or_else(|| no_job(id))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(job))
}

fn no_job(id: i32) -> ApiError {
    ApiError::not_found(format!("no job has the id {id}"))
}

#[utoipa::path(
    tag = "background tasks",
    params(("id" = i32, Path, description = "The job")),
    responses(
        (status = 200, description = "Cancelled: it will not run; the job stays, to be looked at", body = Job),
        (status = 404, description = "No job has this id"),
        (status = 409, description = "It has started or ended already", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[post("/jobs/{id}/cancel")]
pub(crate) async fn cancel(
    queue: web::Data<DbQueue>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    match queue.cancel(id).await? {
        Cancelled::Done => {
            let job = queue.get(id).await?.ok_or_else(|| no_job(id))?;
            Ok(HttpResponse::Ok().json(job))
        }
        Cancelled::NoSuchJob => Err(no_job(id)),
        Cancelled::TooLate(state) => Err(ApiError::conflict(format!(
            "job {id} is {}: only a queued or retrying job can be cancelled",
            state.as_str()
        ))
        .with_member("state", state.as_str())),
    }
}

#[utoipa::path(
    tag = "background tasks",
    params(("Accept" = Option<String>, Header, description = "`text/html` for the page")),
    responses(
        (status = 200, description = "Jobs by state and the latest failures: JSON, or a page for a browser",
            content((Stats = "application/json"), (String = "text/html"))),
    )
)]
#[get("/jobs")]
pub(crate) async fn monitor(
    req: HttpRequest,
    queue: web::Data<DbQueue>,
    broker: Option<web::Data<AmqpQueue>>,
) -> Result<HttpResponse, ApiError> {
    let mut stats = queue.stats().await?;
    // A broker that cannot answer leaves its count out; the table's counts are still worth
    // showing, so that is no 500.
    if let Some(broker) = broker {
        match broker.dead_letters().await {
            Ok(count) => stats.dead_letters = Some(count),
            Err(err) => tracing::warn!("cannot count RabbitMQ's dead letters: {err:#}"),
        }
    }
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if !wants_html {
        return Ok(response.json(stats));
    }
    Ok(response
        .content_type("text/html; charset=utf-8")
        .body(page(&stats)))
}

/// The monitor as a page that refreshes itself every two seconds.
fn page(stats: &Stats) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>Jobs</title></head><body>\
         <h1>Jobs</h1><table><tr><th>state</th><th>jobs</th></tr>",
    );
    for state in JobState::ALL {
        let count = stats.counts.get(state.as_str()).copied().unwrap_or(0);
        html.push_str(&format!(
            "<tr><td>{}</td><td>{count}</td></tr>",
            state.as_str()
        ));
    }
    if let Some(dead_letters) = stats.dead_letters {
        html.push_str(&format!(
            "<tr><td>RabbitMQ's dead letters</td><td>{dead_letters}</td></tr>"
        ));
    }
    html.push_str("</table><h2>Latest failures</h2><table><tr><th>job</th><th>kind</th><th>state</th><th>attempts</th><th>error</th></tr>");
    for job in &stats.recent_failures {
        html.push_str(&format!(
            "<tr><td><a href=\"/jobs/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td></tr>",
            escape(&job.kind),
            job.state.as_str(),
            job.attempts,
            job.max_attempts,
            escape(job.error.as_deref().unwrap_or_default()),
            id = job.id,
        ));
    }
    html.push_str("</table></body></html>");
    html
}
