//! 4.9 Rate limiting: a token bucket per client, in Redis (one atomic script) or in process.
//!
//! **Roadmap:** "Rate Limiting with Redis: Implementing a sliding window or token bucket algorithm."
//!
//! **Python:** `slowapi` (`@limiter.limit("60/minute")`) or `fastapi-limiter`, which run a Lua
//! script in Redis for each request.
//!
//! **Rust:** a middleware ([`limit`]) that asks a [`Limiter`] whether the caller may go on. The
//! caller is the user of a valid bearer token (`auth::Caller::identify`), or else the client's
//! address (the TCP peer: `X-Forwarded-For` is not trusted, since anyone can send it; behind a
//! proxy you would trust the proxy's header instead). Every response of the API (all but the index,
//! `/docs` and `/openapi.json`, which are static) carries `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`; a refused one is 429 with
//! `Retry-After`. [`Documented`] says so in the OpenAPI document. The Redis script needs Redis 5 or
//! later (a script that reads `TIME` and then writes).
//!
//! The algorithm is GCRA, a token bucket stored as one number: the "theoretical arrival time" (TAT)
//! of the next request. Each request pushes it `period / limit` into the future; a request that
//! would push it more than `period` ahead of now is refused. A full bucket allows `limit` requests
//! at once, then one every `period / limit`.
//! - In Redis, [`SCRIPT`] reads, decides and writes in one round trip, and Redis runs scripts one at
//!   a time, so two servers sharing Redis share the limit exactly (a test runs two). The time comes
//!   from Redis's own clock (`TIME`), so the servers' clocks do not matter.
//! - In process, [`gcra`] runs under a mutex, with the same arithmetic.
//!
//! If Redis fails, requests are let through (and logged, and without rate-limit headers, since
//! there is no count to show): a rate limiter that takes the API down with it protects nothing.
//!
//! **Why:** a token bucket, because a fixed window lets through twice the limit across a window boundary; a
//! sliding log keeps one entry per request (memory grows with the limit); a sliding window counter
//! approximates. A token bucket is exact, allows the short bursts real clients make, and, as GCRA,
//! costs one key of a few bytes per client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use common::ApiError;
use redis::aio::ConnectionManager;
use utoipa::Modify;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::{Header, ObjectBuilder, RefOr, ResponseBuilder, Type};

use crate::auth::Caller;

/// How many requests per how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    fn period_ms(self) -> f64 {
        self.period.as_secs_f64() * 1000.0
    }

    /// The time one request uses up: `period / limit`.
    fn interval_ms(self) -> f64 {
        self.period_ms() / f64::from(self.limit.max(1))
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests that could still be made right now.
    pub remaining: u32,
    /// Until a refused client may try again (zero when allowed).
    pub retry_after: Duration,
    /// Until the bucket is full again.
    pub reset: Duration,
}

fn from_ms(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// GCRA: the decision for a request at `now_ms`, given the stored TAT, and the TAT to store when
/// allowed. Pure, so it is tested on its own; [`SCRIPT`] is the same arithmetic in Lua.
pub fn gcra(now_ms: f64, stored_tat_ms: Option<f64>, quota: Quota) -> (Decision, Option<f64>) {
    let interval = quota.interval_ms();
    let period = quota.period_ms();
    let tat = stored_tat_ms.map_or(now_ms, |tat| tat.max(now_ms));
    let new_tat = tat + interval;
    let ahead = new_tat - now_ms;
    if ahead > period + 1e-6 {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            retry_after: from_ms(ahead - period),
            reset: from_ms(tat - now_ms),
        };
        return (decision, None);
    }
    let remaining = ((period - ahead) / interval + 1e-6).floor();
    let decision = Decision {
        allowed: true,
        // At most `limit`, and whole: the cast cannot truncate anything that matters.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        remaining: remaining.max(0.0) as u32,
        retry_after: Duration::ZERO,
        reset: from_ms(ahead),
    };
    (decision, Some(new_tat))
}

/// [`gcra`] in Lua, run by Redis atomically. KEYS[1]: the client's key; ARGV: period and interval
/// in milliseconds. Returns `{allowed, remaining, retry_after_ms, reset_ms}`, whole numbers.
pub const SCRIPT: &str = r"
local period = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period + 0.000001 then
  return {0, 0, math.ceil(ahead - period), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.max(1, math.ceil(ahead)))
return {1, math.floor((period - ahead) / interval + 0.000001), 0, math.ceil(ahead)}
";

/// Where buckets live, and the quota every client gets.
#[derive(Debug)]
pub struct Limiter {
    pub quota: Quota,
    buckets: Buckets,
}

#[derive(Debug)]
enum Buckets {
    /// TATs in milliseconds since `epoch`.
    Memory {
        epoch: Instant,
        tats: Mutex<HashMap<String, f64>>,
        decisions: AtomicUsize,
    },
    Redis {
        connection: ConnectionManager,
        prefix: String,
        script: redis::Script,
    },
}

/// Every this many decisions, the in-process limiter forgets clients whose bucket is full again.
const SWEEP_EVERY: usize = 1024;

impl Limiter {
    pub fn memory(quota: Quota) -> Self {
        Self {
            quota,
            buckets: Buckets::Memory {
                epoch: Instant::now(),
                tats: Mutex::new(HashMap::new()),
                decisions: AtomicUsize::new(0),
            },
        }
    }

    /// Buckets in Redis under `prefix`: servers with the same prefix share their limits.
    pub fn redis(quota: Quota, connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            quota,
            buckets: Buckets::Redis {
                connection,
                prefix: prefix.to_owned(),
                script: redis::Script::new(SCRIPT),
            },
        }
    }

    /// Where the buckets are: `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self.buckets {
            Buckets::Memory { .. } => "memory",
            Buckets::Redis { .. } => "redis",
        }
    }

    /// Takes one request from `client`'s bucket.
    pub async fn take(&self, client: &str) -> Result<Decision, redis::RedisError> {
        match &self.buckets {
            Buckets::Memory {
                epoch,
                tats,
                decisions,
            } => {
                let now = epoch.elapsed().as_secs_f64() * 1000.0;
                let mut tats = tats.lock().unwrap_or_else(PoisonError::into_inner);
                if decisions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    tats.retain(|_, tat| *tat > now);
                }
                let (decision, new_tat) = gcra(now, tats.get(client).copied(), self.quota);
                if let Some(new_tat) = new_tat {
                    tats.insert(client.to_owned(), new_tat);
                }
                Ok(decision)
            }
            Buckets::Redis {
                connection,
                prefix,
                script,
            } => {
                // EVALSHA, and EVAL once if Redis has not seen the script yet.
                let (allowed, remaining, retry_ms, reset_ms): (u8, u32, u64, u64) = script
                    .key(format!("{prefix}:{client}"))
                    .arg(self.quota.period_ms())
                    .arg(self.quota.interval_ms())
                    .invoke_async(&mut connection.clone())
                    .await?;
                Ok(Decision {
                    allowed: allowed == 1,
                    remaining,
                    retry_after: Duration::from_millis(retry_ms),
                    reset: Duration::from_millis(reset_ms),
                })
            }
        }
    }
}

/// Whole seconds, rounded up: a client told "0" would retry at once.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn add_headers(headers: &mut HeaderMap, quota: Quota, decision: &Decision) {
    let values = [
        ("ratelimit-limit", quota.limit.to_string()),
        ("ratelimit-remaining", decision.remaining.to_string()),
        ("ratelimit-reset", ceil_secs(decision.reset).to_string()),
        (
            "ratelimit-policy",
            format!("{};w={}", quota.limit, quota.period.as_secs()),
        ),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// Who a request counts against: `user:{id}` for a valid bearer token, `ip:{address}` otherwise
/// (an invalid token does not buy a fresh bucket). Checking the token here also saves the handler
/// from checking it again (an ES256 verification costs about 0.3 ms; see
/// `cargo bench -p phase4-security`): `Caller` keeps the outcome in the request.
fn client_of(req: &ServiceRequest) -> String {
    if let Some(caller) = Caller::identify(req.request()) {
        return format!("user:{}", caller.user_id);
    }
    let ip = req.peer_addr().map_or_else(
        || "unknown".to_owned(),
        |addr| IpAddr::to_string(&addr.ip()),
    );
    format!("ip:{ip}")
}

/// The middleware: `web::scope("").wrap(from_fn(rate_limit::limit))`, with a `web::Data<Limiter>`
/// registered. Without one it lets everything through.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(limiter) = req.app_data::<web::Data<Limiter>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let client = client_of(&req);
    let decision = match limiter.take(&client).await {
        Ok(decision) => decision,
        Err(err) => {
            tracing::warn!(error = %err, "rate limiter unavailable: request let through");
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
    };
    if !decision.allowed {
        let retry_after = ceil_secs(decision.retry_after).max(1);
        let mut error = ApiError::too_many_requests(retry_after);
        let mut headers = HeaderMap::new();
        add_headers(&mut headers, limiter.quota, &decision);
        for (name, value) in headers {
            error = error.with_header((name, value));
        }
        return Err(error.into());
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    add_headers(response.headers_mut(), limiter.quota, &decision);
    Ok(response)
}

/// The headers every limited response carries, as the document describes them.
const HEADERS: [(&str, &str, Type); 4] = [
    (
        "RateLimit-Limit",
        "Requests allowed per period",
        Type::Integer,
    ),
    (
        "RateLimit-Remaining",
        "Requests that could still be made now",
        Type::Integer,
    ),
    (
        "RateLimit-Reset",
        "Seconds until the quota is whole again",
        Type::Integer,
    ),
    (
        "RateLimit-Policy",
        "The quota: `{limit};w={seconds}`",
        Type::String,
    ),
];

/// The document's side: every operation it holds answers with the rate-limit headers, and may
/// answer 429 with `Retry-After`. Applied before `common` adds its own routes, which are not limited.
#[derive(Debug)]
pub struct Documented;

impl Modify for Documented {
    fn modify(&self, openapi: &mut Document) {
        let header = |description: &str, kind: Type| {
            Header::builder()
                .schema(Some(ObjectBuilder::new().schema_type(kind)))
                .description(Some(description.to_owned()))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut refused = ResponseBuilder::new()
                    .description("Too many requests: wait `Retry-After` seconds")
                    .header("Retry-After", header("Seconds to wait", Type::Integer));
                for (name, description, kind) in HEADERS {
                    refused = refused.header(name, header(description, kind));
                }
                responses.insert("429".to_owned(), RefOr::T(refused.build()));
                for response in responses.values_mut() {
                    if let RefOr::T(response) = response {
                        for (name, description, kind) in HEADERS {
                            response
                                .headers
                                .entry(name.to_owned())
                                .or_insert_with(|| RefOr::T(header(description, kind.clone())));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_A_SECOND: Quota = Quota {
        limit: 5,
        period: Duration::from_secs(1),
    };

    #[test]
    fn a_full_bucket_allows_the_limit_at_once_then_one_per_interval() {
        let mut tat = None;
        for expected_remaining in (0..5).rev() {
            let (decision, next) = gcra(0.0, tat, FIVE_A_SECOND);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            tat = next;
        }
        let (refused, unchanged) = gcra(0.0, tat, FIVE_A_SECOND);
        assert!(!refused.allowed);
        assert_eq!(unchanged, None);
        assert_eq!(refused.retry_after, Duration::from_millis(200));
        // One interval later, exactly one more request fits.
        let (decision, next) = gcra(200.0, tat, FIVE_A_SECOND);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert!(!gcra(200.0, next, FIVE_A_SECOND).0.allowed);
        // A whole period later the bucket is full again.
        assert_eq!(gcra(1200.0, next, FIVE_A_SECOND).0.remaining, 4);
    }
}
