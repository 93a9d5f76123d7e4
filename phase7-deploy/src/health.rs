//! Health checks and graceful shutdown: what an orchestrator needs to run the service.
//!
//! `GET /health/live` answers while the process can answer: a failure gets it restarted, so it
//! asks nothing of the database. `GET /health/ready` asks the database (`SELECT 1`) and Redis
//! (`PING`), each within 2 s, and answers 503 naming what is down (`common::health`).
//!
//! On SIGTERM (what `docker stop` and Kubernetes send), `common::server::Stopper` stops the
//! server in three steps: readiness answers 503 and every response closes its connection; for
//! `SHUTDOWN_DRAIN_SECONDS` the server goes on serving, while the load balancer notices; then the
//! listener closes (new connections are refused) and the requests in flight get up to 5 s to
//! finish. `tests/api/shutdown.rs` sends SIGTERM to the binary in the middle of a load and counts
//! the errors its clients saw: none. Python's servers do the same with `uvicorn
//! --timeout-graceful-shutdown` or gunicorn's `graceful_timeout`.

use common::db::Database;
use common::health::{Health, Probe};
use diesel::connection::SimpleConnection;

/// Readiness over the database and, when there is one, Redis.
pub fn readiness(database: Database, redis: Option<redis::aio::ConnectionManager>) -> Health {
    let mut probes = vec![Probe::new("database", move || {
        let database = database.clone();
        async move {
            common::db::blocking(move || {
                let mut conn = database.conn_within(common::health::PROBE_TIMEOUT)?;
                conn.batch_execute("SELECT 1")
                    .map_err(common::ApiError::from)
            })
            .await
            .map_err(|err| {
                err.cause()
                    .map_or_else(|| err.to_string(), |cause| format!("{cause:#}"))
            })
        }
    })];
    if let Some(redis) = redis {
        probes.push(Probe::new("redis", move || {
            let mut connection = redis.clone();
            async move {
                common::redis::within(redis::cmd("PING").query_async::<String>(&mut connection))
                    .await
                    .map(drop)
                    .map_err(|err| format!("{err:#}"))
            }
        }));
    }
    Health::new(probes)
}
