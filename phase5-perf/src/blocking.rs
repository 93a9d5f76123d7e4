//! Blocking against async: what a blocking call does to the other requests of its worker.
//!
//! **Roadmap:** WSGI against ASGI: Gunicorn's sync workers, Uvicorn's event loop.
//!
//! **Python:** under Gunicorn's sync workers each request has a process (or thread) of its own,
//! so `time.sleep(1)` costs only its own request, and concurrency is the number of workers. Under
//! Uvicorn, one event loop serves every request of the process: a `time.sleep(1)` in an
//! `async def` stops all of them for a second; `await asyncio.sleep(1)` or
//! `run_in_threadpool(...)` does not.
//!
//! **Rust:** actix-web is the Uvicorn model, times N: `HttpServer` starts one worker thread per
//! core (`--http-workers` to change), each with its own single-threaded runtime, and a connection
//! stays on the worker that accepted it. `GET /stall?how=thread-sleep` calls `std::thread::sleep`
//! in the handler: every other request on that worker waits, including `GET /fast`. The fixes,
//! each its own `how`: `spawn-blocking` moves the same call to the blocking pool
//! (`web::block`, tokio's `spawn_blocking`); `tokio-sleep` awaits a timer instead, the async API;
//! `hash` is CPU work (SHA-256 for `ms` milliseconds), which blocks as a sleep does and moves to the
//! pool the same way (`hash-spawn-blocking`). More workers only dilute the harm: with W workers, W
//! blocking calls stall everything again. `cargo bench -p phase5-perf --bench blocking` measures
//! the latency of `GET /fast` while blocking calls are in flight, for each.
//!
//! **Why:** nothing warns you. A synchronous file read, a diesel query or a password hash on the
//! async worker compiles and works in a test, then stalls every connection of that worker under
//! load. The rule: anything that may take more than about a hundred microseconds without an
//! `.await` goes to the blocking pool (phase 2 runs diesel there; phase 4, argon2).

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::extract::Query;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

/// How `GET /stall` spends its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// `std::thread::sleep` on the async worker: stalls it.
    ThreadSleep,
    /// The same sleep on the blocking pool: the worker stays free.
    SpawnBlocking,
    /// `tokio::time::sleep`: nothing blocks.
    TokioSleep,
    /// SHA-256 in a loop on the async worker: stalls it.
    Hash,
    /// The same hashing on the blocking pool.
    HashSpawnBlocking,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Stall {
    /// Milliseconds to spend, at most 5000.
    #[param(minimum = 0, maximum = 5000)]
    pub ms: u64,
    #[param(inline)]
    pub how: How,
}

/// What `GET /stall` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stalled {
    pub how: How,
    /// How long it took, in milliseconds.
    pub took_ms: f64,
    /// Hashes computed, for `hash`.
    pub hashes: u64,
}

/// SHA-256 over and over for `duration`: CPU work that never yields.
fn hash_for(duration: Duration) -> u64 {
    let started = Instant::now();
    let mut digest = [0u8; 32];
    let mut hashes = 0;
    while started.elapsed() < duration {
        for _ in 0..64 {
            digest = Sha256::digest(digest).into();
            hashes += 1;
        }
    }
    hashes
}

#[utoipa::path(
    tag = "blocking vs async",
    params(Stall),
    responses(
        (status = 200, description = "Done, and how long it took", body = Stalled),
        (status = 422, description = "`ms` is over 5000"),
    )
)]
#[get("/stall")]
pub(crate) async fn stall(Query(stall): Query<Stall>) -> Result<HttpResponse, ApiError> {
    if stall.ms > 5000 {
        return Err(ApiError::unprocessable(vec![common::FieldError {
            field: "ms".into(),
            code: "range".into(),
            message: "must be at most 5000".into(),
        }]));
    }
    let duration = Duration::from_millis(stall.ms);
    let started = Instant::now();
    let hashes = match stall.how {
        How::ThreadSleep => {
            std::thread::sleep(duration);
            0
        }
        How::SpawnBlocking => {
            web::block(move || std::thread::sleep(duration))
                .await
                .map_err(ApiError::internal)?;
            0
        }
        How::TokioSleep => {
            tokio::time::sleep(duration).await;
            0
        }
        How::Hash => hash_for(duration),
        How::HashSpawnBlocking => web::block(move || hash_for(duration))
            .await
            .map_err(ApiError::internal)?,
    };
    Ok(HttpResponse::Ok().json(Stalled {
        how: stall.how,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        hashes,
    }))
}

/// What `GET /fast` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fast {
    pub ok: bool,
}

#[utoipa::path(
    tag = "blocking vs async",
    responses((status = 200, description = "At once, unless its worker is blocked", body = Fast))
)]
#[get("/fast")]
pub(crate) async fn fast() -> HttpResponse {
    HttpResponse::Ok().json(Fast { ok: true })
}
