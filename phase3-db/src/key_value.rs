//! 3.8 Redis: a cache with expiry, atomic counters and plain key-value storage.
//!
//! **Roadmap:** "Redis: Caching, simple key-value storage."
//!
//! **Python:** `redis.asyncio.Redis`: `await r.set("k", "v", ex=60)`, `await r.incr("hits")`,
//! `await r.get("k")`; tests swap in `fakeredis`.
//!
//! **Rust:** the [`KeyValue`] trait says what the API needs (get, set with an optional time to live,
//! delete, atomic increment, time left); [`RedisStore`] implements it with the async `redis` crate
//! over a `ConnectionManager` (one multiplexed connection that reconnects by itself), and
//! [`MemoryStore`] in process, with the same semantics: expiry, and `INCR` refusing a value that is
//! not an integer. `tests/api/key_value.rs` runs one test suite against both, Redis when `REDIS_URL`
//! is set. The server uses Redis when `REDIS_URL` is set and the in-process store otherwise; the
//! `X-Store` header says which.
//!
//! Routes: `GET|PUT|DELETE /kv/{key}` (PUT takes `{"value": "...", "ttl_seconds": 60}`; keys are
//! stored under `kv:`, apart from the counters and the cache), `POST /counters/{name}?by=1`
//! (atomic), and `GET /reports/tags/cached`, the tag report of topic 3.1 cached for 30 seconds
//! (`X-Cache: hit` or `miss`).
//!
//! **Why:** a trait with two implementations lets every test run without a server and the real one
//! run in CI; `INCR` is atomic in Redis and under a lock in process, so counters never lose a hit.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, put, web};
use common::ApiError;
use common::db::{Database, blocking};
use common::extract::{Path, Query, ValidJson};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::core_vs_orm::{ReportRow, TagReport, report_orm, with_averages};

/// Why the store refused.
#[derive(Debug)]
pub enum KvError {
    /// `INCR` on a value that is not an integer.
    NotAnInteger(String),
    /// `INCR` past the largest (or smallest) 64-bit integer.
    Overflow(String),
    /// The store itself failed (Redis unreachable, ...).
    Unavailable(anyhow::Error),
}

impl From<KvError> for ApiError {
    fn from(err: KvError) -> Self {
        match err {
            KvError::NotAnInteger(key) => {
                ApiError::conflict(format!("`{key}` holds a value that is not an integer"))
            }
            KvError::Overflow(key) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{key}` would leave the 64-bit integer range"),
            ),
            KvError::Unavailable(cause) => {
                tracing::error!(error = %format_args!("{cause:#}"), "key-value store failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the key-value store is unavailable",
                )
            }
        }
    }
}

/// What the API needs from a key-value store. (Native `async fn` in traits would not promise
/// `Send` futures, which actix's multi-threaded runtime needs, so the methods say
/// `impl Future + Send`; the implementations still write `async fn`.)
pub trait KeyValue: Send + Sync + 'static {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, KvError>> + Send;
    /// Stores `value`; with a `ttl` it disappears after that long.
    fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), KvError>> + Send;
    /// Whether there was something to delete.
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool, KvError>> + Send;
    /// Adds `by` to the integer at `key` (0 if absent), atomically; returns the new value.
    fn increment(&self, key: &str, by: i64) -> impl Future<Output = Result<i64, KvError>> + Send;
    /// How long `key` has left, if it exists and expires.
    fn time_to_live(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Duration>, KvError>> + Send;
    /// The value and its time left, read together: no change can fall between the two.
    fn get_with_ttl(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(String, Option<Duration>)>, KvError>> + Send;
}

/// The in-process store: a map behind a mutex, entries with an optional deadline.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (String, Option<Instant>)>>,
    writes: std::sync::atomic::AtomicU64,
}

/// Every this many writes, expired entries that nobody read again are swept out.
const SWEEP_EVERY: u64 = 1024;

impl MemoryStore {
    /// The entries. An expired one is removed when it is looked at, and the rest by a sweep every
    /// [`SWEEP_EVERY`] writes, so keys written once and never read cannot pile up.
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Option<Instant>)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn live<'a>(
        entries: &'a mut HashMap<String, (String, Option<Instant>)>,
        key: &str,
    ) -> Option<&'a mut (String, Option<Instant>)> {
        if entries
            .get(key)
            .is_some_and(|(_, deadline)| deadline.is_some_and(|d| d <= Instant::now()))
        {
            entries.remove(key);
        }
        entries.get_mut(key)
    }
}

impl KeyValue for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(Self::live(&mut self.entries(), key).map(|(value, _)| value.clone()))
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        let now = Instant::now();
        let deadline = ttl.map(|ttl| now + ttl);
        let mut entries = self.entries();
        let writes = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if writes % SWEEP_EVERY == SWEEP_EVERY - 1 {
            entries.retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
        }
        entries.insert(key.to_owned(), (value.to_owned(), deadline));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut entries = self.entries();
        let existed = Self::live(&mut entries, key).is_some();
        entries.remove(key);
        Ok(existed)
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, KvError> {
        let mut entries = self.entries();
        let (value, deadline) = match Self::live(&mut entries, key) {
            Some(entry) => entry.clone(),
            None => ("0".to_owned(), None),
        };
        let current: i64 = value
            .parse()
            .map_err(|_| KvError::NotAnInteger(key.to_owned()))?;
        let next = current
            .checked_add(by)
            .ok_or_else(|| KvError::Overflow(key.to_owned()))?;
        entries.insert(key.to_owned(), (next.to_string(), deadline));
        Ok(next)
    }

    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, KvError> {
        Ok(Self::live(&mut self.entries(), key)
            .and_then(|(_, deadline)| *deadline)
            .map(|deadline| deadline.saturating_duration_since(Instant::now())))
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<Duration>)>, KvError> {
        let now = Instant::now();
        Ok(
            Self::live(&mut self.entries(), key).map(|(value, deadline)| {
                (
                    value.clone(),
                    deadline.map(|d| d.saturating_duration_since(now)),
                )
            }),
        )
    }
}

/// Redis, through one reconnecting, multiplexed connection. Every key is prefixed, so several
/// apps (or tests) can share one Redis without meeting.
#[derive(Clone)]
pub struct RedisStore {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({})", self.prefix)
    }
}

fn unavailable(err: redis::RedisError) -> KvError {
    KvError::Unavailable(err.into())
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`); keys are stored as `{prefix}:{key}`.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        Ok(Self {
            connection: common::redis::connect(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    /// What every key of this store starts with (before its `:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// Deletes every key under this store's prefix (tests clean up with it). `SCAN`, not `KEYS`:
    /// it does not block a shared Redis while it walks the keys.
    pub async fn clear(&self) -> Result<usize, KvError> {
        use futures_util::TryStreamExt;

        let mut connection = self.connection.clone();
        let keys: Vec<String> = connection
            .scan_match::<_, String>(format!("{}:*", self.prefix))
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        if keys.is_empty() {
            return Ok(0);
        }
        let removed: usize = self
            .connection
            .clone()
            .del(&keys)
            .await
            .map_err(unavailable)?;
        Ok(removed)
    }
}

impl KeyValue for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.connection
            .clone()
            .get(self.key(key))
            .await
            .map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        let mut connection = self.connection.clone();
        let key = self.key(key);
        match ttl {
            // PX: milliseconds, so sub-second TTLs behave as in the in-process store.
            Some(ttl) => {
                let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                connection.pset_ex(key, value, millis).await
            }
            None => connection.set(key, value).await,
        }
        .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let removed: i64 = self
            .connection
            .clone()
            .del(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, KvError> {
        self.connection
            .clone()
            .incr(self.key(key), by)
            .await
            .map_err(|err| {
                // Redis says what was wrong in its error text.
                let message = err.to_string();
                if message.contains("not an integer") {
                    KvError::NotAnInteger(key.to_owned())
                } else if message.contains("overflow") {
                    KvError::Overflow(key.to_owned())
                } else {
                    unavailable(err)
                }
            })
    }

    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, KvError> {
        // PTTL: -2 no such key, -1 no expiry, otherwise milliseconds left.
        let millis: i64 = self
            .connection
            .clone()
            .pttl(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(millis).ok().map(Duration::from_millis))
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<Duration>)>, KvError> {
        // MULTI/EXEC: both answers come from the same moment.
        let key = self.key(key);
        let (value, millis): (Option<String>, i64) = redis::pipe()
            .atomic()
            .get(&key)
            .pttl(&key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(value.map(|value| (value, u64::try_from(millis).ok().map(Duration::from_millis))))
    }
}

/// The store the server uses: Redis when configured, in process otherwise.
#[derive(Debug)]
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    pub fn name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }
}

impl KeyValue for Store {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        match self {
            Store::Memory(store) => store.get(key).await,
            Store::Redis(store) => store.get(key).await,
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        match self {
            Store::Memory(store) => store.set(key, value, ttl).await,
            Store::Redis(store) => store.set(key, value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        match self {
            Store::Memory(store) => store.delete(key).await,
            Store::Redis(store) => store.delete(key).await,
        }
    }

    async fn increment(&self, key: &str, by: i64) -> Result<i64, KvError> {
        match self {
            Store::Memory(store) => store.increment(key, by).await,
            Store::Redis(store) => store.increment(key, by).await,
        }
    }

    async fn time_to_live(&self, key: &str) -> Result<Option<Duration>, KvError> {
        match self {
            Store::Memory(store) => store.time_to_live(key).await,
            Store::Redis(store) => store.time_to_live(key).await,
        }
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<Duration>)>, KvError> {
        match self {
            Store::Memory(store) => store.get_with_ttl(key).await,
            Store::Redis(store) => store.get_with_ttl(key).await,
        }
    }
}

/// A key: what the store files a value under. The rule is written twice, side by side:
/// `validate` for the server, `param` for the document (a test checks that they agree).
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// 1 to 200 characters, none of them a control character.
    #[validate(length(min = 1, max = 200), custom(function = "no_control_characters"))]
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub key: String,
}

/// A counter's name, under the same rule as a key.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CounterPath {
    /// 1 to 200 characters, none of them a control character.
    #[validate(length(min = 1, max = 200), custom(function = "no_control_characters"))]
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
}

/// A key is printed in logs and error messages: no line breaks or escape sequences in it.
fn no_control_characters(text: &str) -> Result<(), validator::ValidationError> {
    if text.chars().any(char::is_control) {
        return Err(validator::ValidationError::new("printable")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
}

/// The body of `PUT /kv/{key}`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutValue {
    /// Up to 65,536 characters.
    #[validate(length(max = 65536))]
    #[schema(max_length = 65536)]
    pub value: String,
    /// Seconds until the value disappears, up to a year; it stays when absent.
    #[validate(range(min = 1, max = 31_536_000))]
    #[schema(minimum = 1, maximum = 31_536_000)]
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// A stored value.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    key: String,
    value: String,
    /// Whole seconds left before it disappears; `null` when it does not expire.
    ttl_seconds: Option<u64>,
}

fn with_store(
    store: &Store,
    mut response: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    response.insert_header(("X-Store", store.name()));
    response
}

/// Where a client's key lives: under `kv:`, apart from the counters (`counter:`) and the cache
/// (`cache:`), so no client key can overwrite either.
fn user_key(key: &str) -> String {
    format!("kv:{key}")
}

/// `GET /kv/{key}`: the value and its time left, or 404.
#[utoipa::path(
    tag = "3.8 Redis",
    params(KeyPath),
    responses(
        (status = 200, description = "The value and its time left", body = Entry,
            headers(("X-Store" = String, description = "Which store answered: `memory` or `redis`"))),
        (status = 404, description = "No value under this key (or it expired)"),
        (status = 422, description = "The key breaks its rule"),
        (status = 503, description = "The key-value store is unavailable")
    )
)]
#[get("/kv/{key}")]
pub(crate) async fn get_value(
    store: web::Data<Store>,
    Path(path): Path<KeyPath>,
) -> Result<HttpResponse, ApiError> {
    path.validate()?;
    let key = path.key;
    let (value, ttl) = store
        .get_with_ttl(&user_key(&key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no key `{key}`")))?;
    Ok(with_store(&store, HttpResponse::Ok()).json(Entry {
        ttl_seconds: ttl.map(|ttl| ttl.as_secs()),
        key,
        value,
    }))
}

/// `PUT /kv/{key}`: stores a value, with an optional time to live.
#[utoipa::path(
    tag = "3.8 Redis",
    params(KeyPath),
    request_body = PutValue,
    responses(
        (status = 200, description = "Stored", body = Entry,
            headers(("X-Store" = String, description = "Which store answered: `memory` or `redis`"))),
        (status = 503, description = "The key-value store is unavailable")
    )
)]
#[put("/kv/{key}")]
pub(crate) async fn put_value(
    store: web::Data<Store>,
    Path(path): Path<KeyPath>,
    ValidJson(body): ValidJson<PutValue>,
) -> Result<HttpResponse, ApiError> {
    path.validate()?;
    let key = path.key;
    store
        .set(
            &user_key(&key),
            &body.value,
            body.ttl_seconds.map(Duration::from_secs),
        )
        .await?;
    Ok(with_store(&store, HttpResponse::Ok()).json(Entry {
        key,
        value: body.value,
        ttl_seconds: body.ttl_seconds,
    }))
}

/// `DELETE /kv/{key}`: 204, or 404 when there was nothing.
#[utoipa::path(
    tag = "3.8 Redis",
    params(KeyPath),
    responses(
        (status = 204, description = "Deleted",
            headers(("X-Store" = String, description = "Which store answered: `memory` or `redis`"))),
        (status = 404, description = "No value under this key (or it expired)"),
        (status = 422, description = "The key breaks its rule"),
        (status = 503, description = "The key-value store is unavailable")
    )
)]
#[delete("/kv/{key}")]
pub(crate) async fn delete_value(
    store: web::Data<Store>,
    Path(path): Path<KeyPath>,
) -> Result<HttpResponse, ApiError> {
    path.validate()?;
    if store.delete(&user_key(&path.key)).await? {
        Ok(with_store(&store, HttpResponse::NoContent()).finish())
    } else {
        Err(ApiError::not_found(format!("no key `{}`", path.key)))
    }
}

/// The query of `POST /counters/{name}`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Increment {
    /// What to add: negative to count down.
    #[serde(default = "one")]
    #[validate(range(min = -1_000_000, max = 1_000_000))]
    #[param(minimum = -1_000_000, maximum = 1_000_000, default = 1)]
    pub by: i64,
}

fn one() -> i64 {
    1
}

/// A counter after an increment.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counter {
    name: String,
    value: i64,
}

/// `POST /counters/{name}?by=1`: adds `by` (1 by default) atomically and returns the new value.
#[utoipa::path(
    tag = "3.8 Redis",
    params(CounterPath, Increment),
    responses(
        (status = 200, description = "The counter's new value", body = Counter,
            headers(("X-Store" = String, description = "Which store answered: `memory` or `redis`"))),
        (status = 409, description = "The counter holds something that is not a whole number"),
        (status = 422, description = "The name breaks its rule, `by` is outside -1,000,000 to 1,000,000, or the sum would leave the 64-bit range"),
        (status = 503, description = "The key-value store is unavailable")
    )
)]
#[post("/counters/{name}")]
pub(crate) async fn increment(
    store: web::Data<Store>,
    Path(path): Path<CounterPath>,
    Query(increment): Query<Increment>,
) -> Result<HttpResponse, ApiError> {
    path.validate()?;
    increment.validate()?;
    let name = path.name;
    let value = store
        .increment(&format!("counter:{name}"), increment.by)
        .await?;
    Ok(with_store(&store, HttpResponse::Ok()).json(Counter { name, value }))
}

/// How long the cached report lives.
pub const REPORT_TTL: Duration = Duration::from_secs(30);

/// `GET /reports/tags/cached`: the tag report from the cache, or computed and cached for 30 s.
#[utoipa::path(
    tag = "3.8 Redis",
    responses(
        (status = 200, description = "The report of `GET /reports/tags`", body = [ReportRow],
            headers(
                ("X-Cache" = String, description = "`hit`: from the cache; `miss`: computed, and cached for 30 s"),
                ("X-Store" = String, description = "Which store answered: `memory` or `redis`")
            )),
        (status = 503, description = "The key-value store is unavailable")
    )
)]
#[get("/reports/tags/cached")]
pub(crate) async fn cached_report(
    store: web::Data<Store>,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    const KEY: &str = "cache:reports:tags";
    if let Some(cached) = store.get(KEY).await? {
        return Ok(with_store(&store, HttpResponse::Ok())
            .insert_header(("X-Cache", "hit"))
            .content_type("application/json")
            .body(cached));
    }
    let rows: Vec<TagReport> = blocking(move || -> anyhow::Result<Vec<TagReport>> {
        let mut conn = database.conn()?;
        Ok(report_orm(&mut conn)?)
    })
    .await?;
    let body = serde_json::to_string(&with_averages(rows)).map_err(ApiError::internal)?;
    store.set(KEY, &body, Some(REPORT_TTL)).await?;
    Ok(with_store(&store, HttpResponse::Ok())
        .insert_header(("X-Cache", "miss"))
        .content_type("application/json")
        .body(body))
}
