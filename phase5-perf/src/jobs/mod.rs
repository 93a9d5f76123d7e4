//! Background tasks: `202 Accepted` and a job resource, a durable queue, workers.
//!
//! **Roadmap:** background tasks with Celery (and RabbitMQ or Redis), RQ, Dramatiq: the request
//! queues the slow work and answers at once; a worker does it, retries it, and no job is lost.
//!
//! **Python:** `task.delay(...)` returns an `AsyncResult` whose id the API hands back; the client
//! polls for its state; Flower shows the queue.
//!
//! **Rust:** `POST /jobs` validates a [`tasks::Task`], queues it, and answers `202 Accepted` with
//! `Location: /jobs/{id}`; `GET /jobs/{id}` shows its state (queued, running, retrying with its
//! attempt and next run, succeeded with its result, failed with its error, dead, cancelled), and
//! `POST /jobs/{id}/cancel` cancels one that has not started (a cancelled job is still there to
//! look at, so cancelling is an action on it, not a `DELETE`). [`queue`] is the queue (the trait and its
//! database implementation), [`amqp`] the same queue delivered through RabbitMQ (`AMQP_URL`),
//! [`worker`] the worker, [`tasks`] what a job can do, [`routes`] the API and the monitor
//! (`GET /jobs`, as JSON or as a page, like Flower).
//!
//! **Why:** 202 says "accepted, not done": the job has a URL the client can watch, where a 200
//! would have to lie or wait. The queue is durable so that "accepted" holds through a crash.

pub mod amqp;
pub mod queue;
pub mod routes;
pub mod tasks;
pub mod worker;
