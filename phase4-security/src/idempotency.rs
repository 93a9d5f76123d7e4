//! 4.8 Idempotency keys: a POST retried with the same `Idempotency-Key` happens once.
//!
//! **Roadmap:** "Idempotency: Ensuring that retrying a request (like a payment) doesn't process it
//! twice (Idempotency Keys)."
//!
//! **Python:** no framework does it for you: a middleware or decorator that stores responses by key
//! in Redis (`SET key ... NX EX`), as Stripe's API does and the IETF `Idempotency-Key` draft
//! describes.
//!
//! **Rust:** [`run`] wraps the work of a POST. The first request with a key claims it (an atomic
//! `SET key ... NX GET` in Redis; a map under a mutex in process) together with a fingerprint of the
//! request (SHA-256 of method, path and the parsed body), runs, and stores the response for 24 hours.
//! Then:
//! - the same key and fingerprint again: the stored response is replayed (same status, body and
//!   `Location`) with `Idempotent-Replayed: true`, and nothing runs;
//! - the same key with a different request: 422, the key is not reused for something else;
//! - the same key while the first is still running: 409 with `Retry-After: 1`, so two concurrent
//!   retries create exactly one resource;
//! - a request that fails (4xx or 5xx) frees the key: nothing happened, so the client may retry.
//!
//! `SET ... NX GET` needs Redis 7 or later. Completing and releasing a key are compare-and-set
//! scripts: only the request that claimed a key may write its response or free it.
//!
//! Keys belong to a user (`idempotency:{user}:{key}`): one user's key can neither collide with nor
//! replay another's response. A claim that is never completed (the server died mid-request) expires
//! after a minute. [`Records`] is Redis when `REDIS_URL` is set and in process otherwise; the tests
//! run against both.
//!
//! **Why:** networks fail after the server acted and before the client heard. Without a key the
//! client cannot tell whether to retry; with one, retrying is always safe.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse};
use common::ApiError;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// The request header that carries the key.
pub const KEY_HEADER: &str = "idempotency-key";
/// The response header on a replay.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a completed response is kept, by default (Stripe keeps them a day).
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim lasts if its request never completes.
pub const CLAIM_FOR: Duration = Duration::from_secs(60);

/// A response worth replaying: what a POST that creates something answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub status: u16,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

impl Saved {
    fn render(&self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        if let Some(location) = &self.location {
            response.insert_header((header::LOCATION, location.as_str()));
        }
        if replayed {
            response.insert_header((HeaderName::from_static(REPLAYED_HEADER), "true"));
        }
        response.json(&self.body)
    }
}

/// What is stored under a key: the request's fingerprint, and its response once there is one.
/// While the request runs, `claim` is a random id: only the request that wrote it may complete or
/// release the key (after a claim expired and was taken again, the late first request may not).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<String>,
    response: Option<Saved>,
}

/// A key this request holds: the exact record it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held(String);

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key was free; it is ours now.
    Claimed(Held),
    /// The same request already ran; this is its response.
    Replay(Saved),
    /// The same request is running now.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

impl Claim {
    fn of(existing: Option<&str>, fingerprint: &str, ours: String) -> Result<Self, ApiError> {
        let Some(existing) = existing else {
            return Ok(Claim::Claimed(Held(ours)));
        };
        let record: Record = serde_json::from_str(existing).map_err(ApiError::internal)?;
        Ok(match record {
            Record { fingerprint: f, .. } if f != fingerprint => Claim::Mismatch,
            Record {
                response: Some(saved),
                ..
            } => Claim::Replay(saved),
            Record { response: None, .. } => Claim::InFlight,
        })
    }
}

/// Where records live, and for how long.
#[derive(Debug)]
pub struct Records {
    store: Store,
    /// How long a completed response is kept ([`KEEP_FOR`] unless changed).
    pub keep_for: Duration,
}

#[derive(Debug)]
enum Store {
    Memory(MemoryRecords),
    Redis {
        connection: ConnectionManager,
        prefix: String,
        /// [`REPLACE_IF_HELD`], sent once and then called by its hash.
        replace: redis::Script,
    },
}

/// Records in process: a map under a mutex, entries with a deadline.
#[derive(Debug, Default)]
struct MemoryRecords {
    entries: Mutex<HashMap<String, (String, Instant)>>,
    claims: AtomicUsize,
}

/// Every this many claims, expired records are swept out of the in-process store.
const SWEEP_EVERY: usize = 1024;

fn unavailable(err: &redis::RedisError) -> ApiError {
    tracing::error!(error = %err, "idempotency store failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the idempotency store is unavailable; retry with the same key",
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Records {
    pub fn memory() -> Self {
        Self {
            store: Store::Memory(MemoryRecords::default()),
            keep_for: KEEP_FOR,
        }
    }

    /// Records in Redis, every key under `prefix`.
    pub fn redis(connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            store: Store::Redis {
                connection,
                prefix: prefix.to_owned(),
                replace: redis::Script::new(REPLACE_IF_HELD),
            },
            keep_for: KEEP_FOR,
        }
    }

    /// Where the records are: `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self.store {
            Store::Memory(_) => "memory",
            Store::Redis { .. } => "redis",
        }
    }

    /// Claims `key` for a request with `fingerprint`, or says what holds it.
    pub async fn claim(&self, key: &str, fingerprint: &str) -> Result<Claim, ApiError> {
        let record = Record {
            fingerprint: fingerprint.to_owned(),
            claim: Some(crate::tokens::random_token()),
            response: None,
        };
        let value = serde_json::to_string(&record).map_err(ApiError::internal)?;
        match &self.store {
            Store::Memory(memory) => {
                let now = Instant::now();
                let mut entries = memory
                    .entries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if memory.claims.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    entries.retain(|_, (_, deadline)| *deadline > now);
                }
                if let Some((existing, _)) =
                    entries.get(key).filter(|(_, deadline)| *deadline > now)
                {
                    return Claim::of(Some(existing), fingerprint, value);
                }
                entries.insert(key.to_owned(), (value.clone(), now + CLAIM_FOR));
                Ok(Claim::Claimed(Held(value)))
            }
            Store::Redis {
                connection, prefix, ..
            } => {
                // One atomic command: set if absent, and return what was there if not.
                let existing: Option<String> = redis::cmd("SET")
                    .arg(format!("{prefix}:{key}"))
                    .arg(&value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(CLAIM_FOR))
                    .arg("GET")
                    .query_async(&mut connection.clone())
                    .await
                    .map_err(|err| unavailable(&err))?;
                Claim::of(existing.as_deref(), fingerprint, value)
            }
        }
    }

    /// Stores the response of the request that holds `key`. `false` when it no longer held it (its
    /// claim expired, and another request may have taken the key).
    pub async fn complete(
        &self,
        key: &str,
        held: &Held,
        fingerprint: &str,
        saved: &Saved,
    ) -> Result<bool, ApiError> {
        let record = Record {
            fingerprint: fingerprint.to_owned(),
            claim: None,
            response: Some(saved.clone()),
        };
        let value = serde_json::to_string(&record).map_err(ApiError::internal)?;
        self.replace_if_held(key, held, Some((&value, self.keep_for)))
            .await
    }

    /// Frees `key` after its request failed; `false` when the request no longer held it.
    pub async fn release(&self, key: &str, held: &Held) -> Result<bool, ApiError> {
        self.replace_if_held(key, held, None).await
    }

    /// Replaces the record under `key` with `new` (or deletes it), if it is still `held`'s.
    async fn replace_if_held(
        &self,
        key: &str,
        held: &Held,
        new: Option<(&str, Duration)>,
    ) -> Result<bool, ApiError> {
        match &self.store {
            Store::Memory(memory) => {
                let mut entries = memory
                    .entries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if entries.get(key).is_none_or(|(value, _)| *value != held.0) {
                    return Ok(false);
                }
                match new {
                    Some((value, keep_for)) => {
                        entries.insert(
                            key.to_owned(),
                            (value.to_owned(), Instant::now() + keep_for),
                        );
                    }
                    None => {
                        entries.remove(key);
                    }
                }
                Ok(true)
            }
            Store::Redis {
                connection,
                prefix,
                replace,
            } => {
                // Compare and set (or delete) in one script: nothing can come between the two.
                let (value, keep_ms) =
                    new.map_or(("", 0), |(value, keep_for)| (value, millis(keep_for)));
                let replaced: i32 = replace
                    .key(format!("{prefix}:{key}"))
                    .arg(&held.0)
                    .arg(value)
                    .arg(keep_ms)
                    .invoke_async(&mut connection.clone())
                    .await
                    .map_err(|err| unavailable(&err))?;
                Ok(replaced == 1)
            }
        }
    }
}

/// KEYS[1]: the key; ARGV: the record the caller holds, the new record ("" to delete), and how
/// long to keep it (ms).
const REPLACE_IF_HELD: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
";

/// The `Idempotency-Key` of a request: `None` without one, 400 if it is not 1 to 255 visible ASCII
/// characters.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(KEY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// What identifies a request: its method, its path and its parsed body (so that whitespace or key
/// order in the JSON do not make a retry look different).
pub fn fingerprint(req: &HttpRequest, body: &impl Serialize) -> Result<String, ApiError> {
    let body = serde_json::to_string(body).map_err(ApiError::internal)?;
    Ok(crate::tokens::sha256(&format!(
        "{} {}\n{body}",
        req.method(),
        req.path()
    )))
}

/// Runs `work` at most once for `user`'s `key`; see the module docs. Without a key, `work` just runs.
pub async fn run<Fut>(
    records: &Records,
    user_id: i32,
    key: Option<String>,
    fingerprint: String,
    work: impl FnOnce() -> Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: Future<Output = Result<Saved, ApiError>>,
{
    let Some(key) = key else {
        return Ok(work().await?.render(false));
    };
    let key = format!("idempotency:{user_id}:{key}");
    let held = match records.claim(&key, &fingerprint).await? {
        Claim::Claimed(held) => held,
        Claim::Replay(saved) => return Ok(saved.render(true)),
        Claim::InFlight => {
            return Err(ApiError::conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .with_header((header::RETRY_AFTER, 1)));
        }
        Claim::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was already used with a different request",
            ));
        }
    };
    // The work is done (or failed) now: whatever the store says, the client gets its answer. A
    // record that cannot be stored is logged; the claim then expires, and a retry after that runs
    // again (keeping the record in the same database transaction as the order would close that gap).
    match work().await {
        Ok(saved) => {
            match records.complete(&key, &held, &fingerprint, &saved).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%key, "the idempotency claim expired before the request completed");
                }
                Err(_) => tracing::error!(%key, "the response could not be stored for replay"),
            }
            Ok(saved.render(false))
        }
        Err(err) => {
            if !matches!(records.release(&key, &held).await, Ok(true)) {
                tracing::warn!(%key, "the idempotency key could not be released");
            }
            Err(err)
        }
    }
}
