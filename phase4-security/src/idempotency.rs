//! 4.8 Idempotency keys: a POST retried with the same `Idempotency-Key` happens once.
//!
//! **Roadmap:** "Idempotency: Ensuring that retrying a request (like a payment) doesn't process it
//! twice (Idempotency Keys)."
//!
//! **Python:** no framework does it for you: a middleware or decorator that stores responses by key
//! in Redis (`SET key ... NX EX`), as Stripe's API does and the IETF `Idempotency-Key` draft
//! describes.
//!
//! **Rust:** a middleware, [`idempotent`], that the app wraps around the POSTs it makes safe to
//! retry (`POST /orders`, whose handler in 4.7 knows nothing of keys). The first request with a
//! key claims it (an atomic `SET key ... NX GET` in Redis; a map under a mutex in process)
//! together with a fingerprint of the request (SHA-256 of method, path and the body's JSON with its
//! keys sorted), runs, and stores the response for 24 hours. Then:
//! - the same key and fingerprint again: the stored response is replayed (same status, body and
//!   `Location`) with `Idempotent-Replayed: true`, and nothing runs;
//! - the same key with a different request: 409, and no `Retry-After`: the key is not reused for
//!   something else, and retrying will not help;
//! - the same key while the first is still running: 409 with `Retry-After: 1`, so two concurrent
//!   retries create exactly one resource;
//! - a request that fails (4xx or 5xx) frees the key: nothing happened, so the client may retry.
//!
//! `SET ... NX GET` needs Redis 7 or later. Completing and releasing a key are compare-and-set
//! scripts: only the request that claimed a key may write its response or free it.
//!
//! Keys belong to a user (`idempotency:{user}:{key}`): one user's key can neither collide with nor
//! replay another's response; a request without a valid token is passed on untouched (its handler
//! answers 401). A claim that is never completed (the server died mid-request) expires after a
//! minute. [`Records`] is Redis when `REDIS_URL` is set and in process otherwise; the tests run
//! against both. [`Documented`] adds the header and its answers to the OpenAPI document.
//!
//! The IETF draft suggests 422 for a key reused with another request. This API keeps 422 for a
//! request that breaks a rule of its OpenAPI document, which a reused key does not (its body may
//! be perfectly valid); the key is in conflict with the server's state, which is what 409 means
//! (RFC 9110 §15.5.10), as for a username that is taken.
//!
//! **Why:** networks fail after the server acted and before the client heard. Without a key the
//! client cannot tell whether to retry; with one, retrying is always safe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use common::ApiError;
use common::extract::{BodyLimit, DEFAULT_BODY_LIMIT};
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::Modify;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Header, ObjectBuilder, RefOr, Required, ResponseBuilder, Type};

use crate::auth::Caller;
use crate::oauth::{random_token, sha256};

/// The request header that carries the key.
pub const KEY_HEADER: &str = "idempotency-key";
/// The response header on a replay.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a completed response is kept, by default (Stripe keeps them a day).
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim lasts if its request never completes.
pub const CLAIM_FOR: Duration = Duration::from_secs(60);

/// The pattern of a key: 1 to 255 visible ASCII characters. The OpenAPI document's; [`key_of`]
/// applies the same rule (a test checks that they agree).
pub const KEY_PATTERN: &str = "^[\\x21-\\x7E]{1,255}$";

/// A response worth replaying: what a POST that succeeded answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    /// The body as it was sent (JSON, for the routes wrapped here).
    pub body: String,
}

impl Saved {
    fn render(&self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        if let Some(location) = &self.location {
            response.insert_header((header::LOCATION, location.as_str()));
        }
        if let Some(content_type) = &self.content_type {
            response.insert_header((header::CONTENT_TYPE, content_type.as_str()));
        }
        if replayed {
            response.insert_header((HeaderName::from_static(REPLAYED_HEADER), "true"));
        }
        response.body(self.body.clone())
    }

    /// What to keep of a response: `None` for a body that is not text.
    fn of(status: StatusCode, headers: &header::HeaderMap, body: &Bytes) -> Option<Self> {
        let text = |name| {
            headers
                .get(name)
                .and_then(|value: &HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        Some(Self {
            status: status.as_u16(),
            location: text(header::LOCATION),
            content_type: text(header::CONTENT_TYPE),
            body: String::from_utf8(body.to_vec()).ok()?,
        })
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
            claim: Some(random_token()),
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
        Ok(key) if is_key(key) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

fn is_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What identifies a request: its method, its path and its body; a JSON body with its keys
/// sorted, so that whitespace or key order do not make a retry look different.
pub fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(json) => sorted(json).to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    sha256(&format!("{method} {path}\n{body}"))
}

/// `value` with every object's keys in order (serde_json keeps them as written, here).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The request's body, at most the app's body limit (a 413 that says it otherwise, as the JSON
/// extractor would).
async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |limit| limit.0);
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|err| ApiError::bad_request(format!("the body could not be read: {err}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {}", common::extract::size(limit)),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Frees `key` after its request failed: nothing happened, so the client may retry.
async fn release(records: &Records, key: &str, held: &Held) {
    if !matches!(records.release(key, held).await, Ok(true)) {
        tracing::warn!(%key, "the idempotency key could not be released");
    }
}

/// The middleware: `web::post().to(handler).wrap(from_fn(idempotency::idempotent))`, with a
/// `web::Data<Records>` registered. See the module docs for what it answers.
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = key_of(req.request())?;
    let caller = Caller::identify(req.request());
    let records = req.app_data::<web::Data<Records>>().cloned();
    let (Some(key), Some(caller), Some(records)) = (key, caller, records) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let body = read_body(&mut req).await?;
    let fingerprint = fingerprint(req.method(), req.path(), &body);
    let key = format!("idempotency:{}:{key}", caller.user_id);
    let held = match records.claim(&key, &fingerprint).await? {
        Claim::Claimed(held) => held,
        Claim::Replay(saved) => return Ok(req.into_response(saved.render(true))),
        Claim::InFlight => {
            return Err(ApiError::conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .with_header((header::RETRY_AFTER, 1))
            .into());
        }
        Claim::Mismatch => {
            return Err(ApiError::conflict(
                "this Idempotency-Key was already used with a different request; use a new key",
            )
            .into());
        }
    };
    req.set_payload(actix_web::dev::Payload::from(body));
    // The work is done (or failed) now: whatever the store says, the client gets its answer. A
    // record that cannot be stored is logged; the claim then expires, and a retry after that runs
    // again (keeping the record in the same database transaction as the order would close that gap).
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(err) => {
            release(&records, &key, &held).await;
            return Err(err);
        }
    };
    if !response.status().is_success() {
        release(&records, &key, &held).await;
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(body) = actix_web::body::to_bytes(body).await else {
        release(&records, &key, &held).await;
        return Err(
            ApiError::internal(anyhow::anyhow!("the response body could not be read")).into(),
        );
    };
    match Saved::of(head.status(), head.headers(), &body) {
        Some(saved) => match records.complete(&key, &held, &fingerprint, &saved).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(%key, "the idempotency claim expired before the request completed");
            }
            Err(_) => tracing::error!(%key, "the response could not be stored for replay"),
        },
        None => {
            tracing::warn!(%key, "a response that is not text is not kept for replay");
            release(&records, &key, &held).await;
        }
    }
    Ok(ServiceResponse::new(
        request,
        head.set_body(body).map_into_boxed_body(),
    ))
}

/// The document's side: each POST listed takes an optional `Idempotency-Key`, and may answer
/// 409 (in flight, or the key was used for another request) and, on a replay,
/// `Idempotent-Replayed: true`.
#[derive(Debug)]
pub struct Documented {
    /// The paths whose POST the app wraps in [`idempotent`].
    pub posts: &'static [&'static str],
}

impl Modify for Documented {
    fn modify(&self, openapi: &mut Document) {
        for path in self.posts {
            let Some(operation) = openapi
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
            else {
                continue;
            };
            document(operation);
        }
    }
}

fn document(operation: &mut Operation) {
    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes retrying safe: the same key with the same request replays the first response; \
             with another request it is a 409. Keys belong to the caller and are kept 24 hours.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some(KEY_PATTERN)),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(key));
    let responses = &mut operation.responses.responses;
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && status.starts_with('2')
        {
            response.headers.insert(
                "Idempotent-Replayed".to_owned(),
                RefOr::T(
                    Header::builder()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .description(Some(
                            "`true` when this is the replay of an earlier response",
                        ))
                        .build(),
                ),
            );
        }
    }
    responses.insert(
        "409".to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(
                    "A request with this Idempotency-Key is still being processed (retry after \
                     `Retry-After`), or the key was used with a different request (use a new one)",
                )
                .header(
                    "Retry-After",
                    Header::builder()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                        .description(Some("While the first request runs: 1"))
                        .build(),
                )
                .build(),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_rule_and_its_pattern_agree_on_the_edges() {
        let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
        let long = "k".repeat(255);
        let too_long = "k".repeat(256);
        for key in [
            "",
            "k",
            "order-1",
            "~!",
            &long,
            &too_long,
            "with space",
            "tab\t",
            "é",
            "\u{7f}",
        ] {
            assert_eq!(pattern.is_match(key), is_key(key), "{key:?}");
        }
    }

    #[test]
    fn a_fingerprint_ignores_whitespace_and_key_order_but_not_values() {
        let post = Method::POST;
        let a = fingerprint(&post, "/orders", br#"{"book_id": 1, "quantity": 2}"#);
        assert_eq!(
            a,
            fingerprint(&post, "/orders", br#"{"quantity":2,"book_id":1}"#)
        );
        assert_ne!(
            a,
            fingerprint(&post, "/orders", br#"{"quantity":3,"book_id":1}"#)
        );
        assert_ne!(
            a,
            fingerprint(&post, "/other", br#"{"quantity":2,"book_id":1}"#)
        );
    }
}
