//! Server caching: the expensive report, cache-aside in two tiers, coherent across instances.
//!
//! **Roadmap:** cache expensive results on the server, in Redis or Memcached.
//!
//! **Python:** `django.core.cache` or `aiocache` with a Redis backend, `@cached(ttl=...)`;
//! `functools.lru_cache` or `cachetools.TTLCache` in process; `dogpile.cache` for the lock that
//! keeps a stampede to one computation.
//!
//! **Rust:** [`ReportCache`], cache-aside in two tiers: moka in this process (nanoseconds, but
//! one copy per instance) in front of Redis (one round trip, shared by every instance) when
//! `REDIS_URL` is set, then the database. Each tier's TTL is jittered (±10 %), so that entries
//! made together do not expire together. Coherence is a *generation* number: Redis holds the
//! current one, every entry in either tier records the one it was computed at, and an entry of an
//! older generation is a miss. A write (`POST /sales`) increments the generation, publishes it
//! on a Redis channel, and waits until every subscribed instance has acknowledged it before it
//! answers: after a write returns, no instance serves the old report. A stampede (100 requests
//! missing at once) runs the query once per process (moka runs one loader per key and the others
//! wait for it), and once across instances (a `SET lock NX PX` in Redis; the instances without
//! the lock wait for the value to appear). An entry past its TTL is served at once, marked stale
//! in `Cache-Status` (a negative `ttl`), while one request refreshes it in the background
//! (stale-while-revalidate, what `Cache-Control` asks of HTTP caches): an expiry stalls nobody.
//! In front of moka, each HTTP worker thread keeps the entry it served last, so that a fresh hit
//! touches no memory another thread writes. `Cache-Status` (RFC 9211) says which tier answered,
//! and `GET /cache/stats` counts hits, misses and computations.
//!
//! **Why:** pub/sub alone is at most once: a message lost or still in flight lets an instance
//! serve stale data, which is why the generation is checked and the write waits for the
//! acknowledgements (with a one-second bound, after which it logs which instances did not
//! answer). And Redis is a cache, not a dependency: when it fails, each request falls back to
//! the process tier and the database, logs why, and says so in `Cache-Status`; never a 500.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, post, web};
use common::ApiError;
use common::db::{Database, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use common::redis::{Broadcast, Heard, within};
use diesel::prelude::*;
use redis::aio::ConnectionManager;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::now_ms;
use crate::jobs::queue::{DbQueue, Job};
use crate::sales::{self, NewSale, ReportRow, Sale};
use crate::schema::sales as sales_table;

/// How long an instance without the computation lock waits for the one that has it.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The report as the cache keeps it: the bytes sent, and the generation they belong to.
#[derive(Debug, Clone)]
pub struct Entry {
    pub generation: u64,
    /// Reference-counted: a hit sends these bytes without copying them.
    pub body: web::Bytes,
    /// How long the query took, for `Server-Timing`.
    pub took_ms: f64,
    /// When the query ran, in milliseconds since 1970.
    pub computed_at: i64,
    /// How long it is fresh from then: the TTL, jittered.
    fresh_ms: i64,
    /// Set while one request refreshes this entry in the background.
    refreshing: Arc<AtomicBool>,
}

impl Entry {
    fn new(
        generation: u64,
        body: web::Bytes,
        took_ms: f64,
        computed_at: i64,
        ttl: Duration,
    ) -> Self {
        Self {
            generation,
            body,
            took_ms,
            computed_at,
            fresh_ms: i64::try_from(jitter(ttl).as_millis()).unwrap_or(i64::MAX),
            refreshing: Arc::default(),
        }
    }

    /// Seconds of freshness left; negative once stale.
    fn ttl_left(&self, now: i64) -> i64 {
        (self.computed_at + self.fresh_ms - now).div_euclid(1000)
    }
}

/// The report's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesReport {
    /// When it was computed, in milliseconds since 1970.
    pub computed_at: i64,
    /// How long the query took, in milliseconds.
    pub took_ms: f64,
    pub rows: Vec<ReportRow>,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// This process's tier had it.
    Memory,
    /// This process's tier had it, past its TTL: served at once while one request refreshes it
    /// in the background (stale-while-revalidate, so that an expiry stalls nobody).
    Stale,
    /// This request waited for another request of this process that was filling the entry.
    Collapsed,
    /// Redis had it (perhaps after waiting for another instance to compute it).
    Redis,
    /// Computed now.
    Computed,
}

/// Hits, misses and computations since start.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CacheStats {
    pub memory_hits: u64,
    /// Requests that waited for a computation already running in this process.
    pub collapsed: u64,
    pub redis_hits: u64,
    /// Times the query ran in this process.
    pub computations: u64,
    /// Redis commands that failed or timed out (each fell back to the tiers below).
    pub redis_errors: u64,
    /// The generation this instance knows.
    pub generation: u64,
    /// `memory` or `memory+redis`.
    pub tiers: String,
}

#[derive(Debug, Default)]
struct Counters {
    memory_hits: AtomicU64,
    collapsed: AtomicU64,
    redis_hits: AtomicU64,
    computations: AtomicU64,
    redis_errors: AtomicU64,
}

/// Redis, as the shared tier.
#[derive(Clone)]
struct Shared {
    connection: ConnectionManager,
    /// Where invalidations go, acknowledged by every instance.
    broadcast: Broadcast,
    prefix: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn key(&self, name: &str) -> String {
        format!("{}:cache:{name}", self.prefix)
    }
}

/// The two-tier cache of the sales report. See the module's documentation.
#[derive(Debug, Clone)]
pub struct ReportCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Keyed by (name, generation): a new generation misses by construction.
    memory: moka::future::Cache<(&'static str, u64), Entry>,
    shared: Option<Shared>,
    generation: AtomicU64,
    ttl: Duration,
    counters: Counters,
    /// This instance's name, in its acknowledgements.
    instance: String,
    /// Whether the process tier is used (off only to measure what Redis alone costs).
    in_process: bool,
    /// Tells this cache's entries from another's in [`LAST_SERVED`] (tests run several).
    id: u64,
}

thread_local! {
    /// The entry this thread served last, with the id of its cache: the front of the process tier.
    /// A hit of the current generation, still fresh, is then two comparisons and a clone on this
    /// thread alone. moka's own hit is a hash, a lookup in a concurrent map and an entry in its
    /// read log, about half a microsecond, on memory that every HTTP worker writes to; for the one
    /// hot key this cache serves, that was a sixth of the request (the README's numbers).
    static LAST_SERVED: std::cell::RefCell<Option<(u64, Entry)>> = const { std::cell::RefCell::new(None) };
}

/// Each entry is kept for twice its own jittered TTL: fresh for the first, then served stale
/// while it is refreshed.
struct Jittered;

impl moka::Expiry<(&'static str, u64), Entry> for Jittered {
    fn expire_after_create(
        &self,
        _: &(&'static str, u64),
        entry: &Entry,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_millis(
            u64::try_from(entry.fresh_ms).unwrap_or(0) * 2,
        ))
    }
}

/// `ttl`, ±10 %.
fn jitter(ttl: Duration) -> Duration {
    ttl.mul_f64(0.9 + fastrand::f64() * 0.2)
}

const REPORT: &str = "sales-report";

impl ReportCache {
    /// The process tier only.
    pub fn memory(ttl: Duration, instance: &str) -> Self {
        Self::new(ttl, instance, None)
    }

    /// Both tiers, Redis under `prefix`: instances with the same prefix share entries and
    /// invalidations. Subscribes to the invalidations before it returns.
    pub async fn redis(
        url: &str,
        prefix: &str,
        ttl: Duration,
        instance: &str,
    ) -> anyhow::Result<Self> {
        Self::redis_with(url, prefix, ttl, instance, true).await
    }

    /// [`ReportCache::redis`], with the process tier switched off when `in_process` is false: every
    /// request then pays a Redis round trip, which is how `scripts/bench-http` measures one.
    pub async fn redis_with(
        url: &str,
        prefix: &str,
        ttl: Duration,
        instance: &str,
        in_process: bool,
    ) -> anyhow::Result<Self> {
        let connection = common::redis::connect(url).await?;
        let broadcast = Broadcast::new(
            url,
            connection.clone(),
            &format!("{prefix}:cache:invalidations"),
            instance,
        )?;
        let shared = Shared {
            connection,
            broadcast,
            prefix: prefix.to_owned(),
        };
        let mut cache = Self::new(ttl, instance, Some(shared));
        if let Some(inner) = Arc::get_mut(&mut cache.inner) {
            inner.in_process = in_process;
        }
        cache.refresh_generation().await?;
        if let Some(shared) = &cache.inner.shared {
            let listener = cache.clone();
            shared
                .broadcast
                .listen(move |heard| match heard {
                    Heard::Message(generation) => {
                        if let Ok(generation) = generation.parse() {
                            listener.adopt(generation);
                        }
                    }
                    // Whatever was published while we were not listening.
                    Heard::Resubscribed => {
                        let listener = listener.clone();
                        tokio::spawn(async move {
                            if let Err(err) = listener.refresh_generation().await {
                                tracing::warn!("cache: cannot read the generation: {err:#}");
                            }
                        });
                    }
                })
                .await?;
        }
        Ok(cache)
    }

    fn new(ttl: Duration, instance: &str, shared: Option<Shared>) -> Self {
        Self {
            inner: Arc::new(Inner {
                memory: moka::future::Cache::builder()
                    .max_capacity(64)
                    .expire_after(Jittered)
                    .build(),
                shared,
                generation: AtomicU64::new(0),
                ttl,
                counters: Counters::default(),
                instance: instance.to_owned(),
                in_process: true,
                id: {
                    static NEXT: AtomicU64 = AtomicU64::new(0);
                    NEXT.fetch_add(1, Ordering::Relaxed)
                },
            }),
        }
    }

    pub fn tiers(&self) -> &'static str {
        if self.inner.shared.is_some() {
            "memory+redis"
        } else {
            "memory"
        }
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            memory_hits: c.memory_hits.load(Ordering::Relaxed),
            collapsed: c.collapsed.load(Ordering::Relaxed),
            redis_hits: c.redis_hits.load(Ordering::Relaxed),
            computations: c.computations.load(Ordering::Relaxed),
            redis_errors: c.redis_errors.load(Ordering::Relaxed),
            generation: self.inner.generation.load(Ordering::Acquire),
            tiers: self.tiers().to_owned(),
        }
    }

    /// Adopts Redis's generation if it is newer than ours.
    async fn refresh_generation(&self) -> anyhow::Result<u64> {
        let Some(shared) = &self.inner.shared else {
            return Ok(self.inner.generation.load(Ordering::Acquire));
        };
        let mut connection = shared.connection.clone();
        let current: Option<u64> = within(
            redis::cmd("GET")
                .arg(shared.key("generation"))
                .query_async(&mut connection),
        )
        .await?;
        let current = current.unwrap_or(0);
        self.inner.generation.fetch_max(current, Ordering::AcqRel);
        Ok(current)
    }

    /// Takes `generation` as current, and drops older entries (`Broadcast` acknowledges it).
    fn adopt(&self, generation: u64) {
        self.inner
            .generation
            .fetch_max(generation, Ordering::AcqRel);
        self.inner.memory.invalidate_all();
    }

    /// Forgets every report, here and, through Redis, in every instance; returns once each
    /// subscribed instance has acknowledged (or after `common::redis::ACK_TIMEOUT`, 1 s).
    pub async fn invalidate(&self) {
        let Some(shared) = &self.inner.shared else {
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            self.inner.memory.invalidate_all();
            return;
        };
        if let Err(err) = self.invalidate_everywhere(shared).await {
            self.inner
                .counters
                .redis_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "cache: invalidation through Redis failed, only this instance is fresh: {err:#}"
            );
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            self.inner.memory.invalidate_all();
        }
    }

    async fn invalidate_everywhere(&self, shared: &Shared) -> anyhow::Result<()> {
        let mut connection = shared.connection.clone();
        let generation: u64 = within(
            redis::cmd("INCR")
                .arg(shared.key("generation"))
                .query_async(&mut connection),
        )
        .await?;
        self.adopt(generation);
        shared.broadcast.publish(&generation.to_string()).await?;
        Ok(())
    }

    /// The report, from the first tier that has it at the current generation, else computed by
    /// `compute` (once per process, and once across instances while Redis answers). An entry past
    /// its TTL is served as it is while one request refreshes it in the background.
    pub async fn get_or_compute<F>(&self, compute: F) -> Result<(Entry, Served, bool), ApiError>
    where
        F: Fn() -> Result<(Vec<u8>, f64), ApiError> + Clone + Send + Sync + 'static,
    {
        let generation = self.inner.generation.load(Ordering::Acquire);
        if !self.inner.in_process {
            return self.fill(generation, compute, None).await;
        }
        let now = now_ms();
        let id = self.inner.id;
        let last = LAST_SERVED.with_borrow(|last| match last {
            Some((cache, entry))
                if *cache == id && entry.generation == generation && entry.ttl_left(now) >= 0 =>
            {
                Some(entry.clone())
            }
            _ => None,
        });
        if let Some(entry) = last {
            self.inner
                .counters
                .memory_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok((entry, Served::Memory, false));
        }
        let key = (REPORT, generation);
        if let Some(entry) = self.inner.memory.get(&key).await {
            self.inner
                .counters
                .memory_hits
                .fetch_add(1, Ordering::Relaxed);
            if entry.ttl_left(now) >= 0 {
                LAST_SERVED.set(Some((id, entry.clone())));
                return Ok((entry, Served::Memory, false));
            }
            if !entry.refreshing.swap(true, Ordering::AcqRel) {
                self.refresh(key, &entry, compute);
            }
            return Ok((entry, Served::Stale, false));
        }
        let filled = std::sync::Mutex::new(None);
        let redis_failed = AtomicBool::new(false);
        let entry = self
            .inner
            .memory
            .entry(key)
            .or_try_insert_with(async {
                let (entry, served, failed) = self.fill(generation, compute, None).await?;
                if let Ok(mut slot) = filled.lock() {
                    *slot = Some(served);
                }
                redis_failed.store(failed, Ordering::Relaxed);
                Ok::<_, ApiError>(entry)
            })
            .await
            .map_err(|err| ApiError::internal(anyhow::anyhow!("{err}")))?;
        let served = filled.lock().ok().and_then(|mut slot| slot.take());
        let served = served.unwrap_or_else(|| {
            self.inner
                .counters
                .collapsed
                .fetch_add(1, Ordering::Relaxed);
            Served::Collapsed
        });
        Ok((
            entry.into_value(),
            served,
            redis_failed.load(Ordering::Relaxed),
        ))
    }

    /// Replaces the stale `entry` with a newer one, in a task of its own: the request that found
    /// it stale does not wait.
    fn refresh<F>(&self, key: (&'static str, u64), stale: &Entry, compute: F)
    where
        F: Fn() -> Result<(Vec<u8>, f64), ApiError> + Clone + Send + Sync + 'static,
    {
        let cache = self.clone();
        let (newer_than, refreshing) = (stale.computed_at, stale.refreshing.clone());
        tokio::spawn(async move {
            match cache.fill(key.1, compute, Some(newer_than)).await {
                Ok((fresh, _, _)) => cache.inner.memory.insert(key, fresh).await,
                Err(err) => {
                    tracing::warn!(
                        "cache: refreshing the report failed: {}",
                        err.problem().detail.unwrap_or_default()
                    );
                    // A later request tries again.
                    refreshing.store(false, Ordering::Release);
                }
            }
        });
    }

    /// Below the process tier: Redis, then the database. Returns the entry, where it came from,
    /// and whether Redis failed on the way. A refresh takes from Redis only an entry computed
    /// after `newer_than`, the one it replaces.
    async fn fill<F>(
        &self,
        generation: u64,
        compute: F,
        newer_than: Option<i64>,
    ) -> Result<(Entry, Served, bool), ApiError>
    where
        F: Fn() -> Result<(Vec<u8>, f64), ApiError> + Clone + Send + Sync + 'static,
    {
        let computed = |compute: F| async move {
            self.inner
                .counters
                .computations
                .fetch_add(1, Ordering::Relaxed);
            let computed_at = now_ms();
            let (body, took_ms) = blocking(compute).await?;
            Ok::<_, ApiError>(Entry::new(
                generation,
                body.into(),
                took_ms,
                computed_at,
                self.inner.ttl,
            ))
        };
        let Some(shared) = &self.inner.shared else {
            return Ok((computed(compute).await?, Served::Computed, false));
        };
        let wanted = Wanted {
            generation,
            newer_than: newer_than.unwrap_or(i64::MIN),
        };
        match self
            .through_redis(shared, wanted, compute.clone(), &computed)
            .await
        {
            Ok(found) => Ok((found.0, found.1, false)),
            Err(RedisOr::Api(err)) => Err(err),
            Err(RedisOr::Redis(err)) => {
                self.inner
                    .counters
                    .redis_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!("cache: Redis failed, serving from the database: {err:#}");
                Ok((computed(compute).await?, Served::Computed, true))
            }
        }
    }

    async fn through_redis<F, C, Fut>(
        &self,
        shared: &Shared,
        wanted: Wanted,
        compute: F,
        computed: &C,
    ) -> Result<(Entry, Served), RedisOr>
    where
        C: Fn(F) -> Fut,
        Fut: std::future::Future<Output = Result<Entry, ApiError>>,
    {
        let mut connection = shared.connection.clone();
        let value_key = shared.key(REPORT);
        let lock_key = shared.key(&format!("lock:{REPORT}"));
        let read = |mut connection: ConnectionManager| {
            let value_key = value_key.clone();
            async move {
                let value: Option<Vec<u8>> = within(
                    redis::cmd("GET")
                        .arg(&value_key)
                        .query_async(&mut connection),
                )
                .await?;
                Ok::<_, anyhow::Error>(
                    value.and_then(|bytes| wanted.decode(&bytes, self.inner.ttl)),
                )
            }
        };
        if let Some(entry) = read(connection.clone()).await.map_err(RedisOr::Redis)? {
            self.inner
                .counters
                .redis_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok((entry, Served::Redis));
        }
        let token = format!("{}:{}", self.inner.instance, fastrand::u64(..));
        let locked: Option<String> = within(
            redis::cmd("SET")
                .arg(&lock_key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_WAIT.as_millis() as u64)
                .query_async(&mut connection),
        )
        .await
        .map_err(RedisOr::Redis)?;
        if locked.is_none() {
            // Another instance is computing it: wait for its value rather than run the query too.
            let deadline = Instant::now() + LOCK_WAIT;
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if let Some(entry) = read(connection.clone()).await.map_err(RedisOr::Redis)? {
                    self.inner
                        .counters
                        .redis_hits
                        .fetch_add(1, Ordering::Relaxed);
                    return Ok((entry, Served::Redis));
                }
            }
        }
        let entry = computed(compute).await.map_err(RedisOr::Api)?;
        // Stored only while the generation is still the one the entry was computed at, and the
        // lock released only by its holder: one small script, atomic in Redis. Kept for twice the
        // TTL, like the process tier's entries: stale after one, gone after two.
        let store = redis::Script::new(
            "if tonumber(redis.call('GET', KEYS[2]) or '0') == tonumber(ARGV[1]) then \
                 redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end \
             if redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end \
             return 1",
        );
        let mut value = format!("{} {} ", wanted.generation, entry.computed_at).into_bytes();
        value.extend_from_slice(&entry.body);
        within(
            store
                .key(&value_key)
                .key(shared.key("generation"))
                .key(&lock_key)
                .arg(wanted.generation)
                .arg(value)
                .arg(entry.fresh_ms * 2)
                .arg(&token)
                .invoke_async::<i64>(&mut connection),
        )
        .await
        .map_err(RedisOr::Redis)?;
        Ok((entry, Served::Computed))
    }
}

/// What an entry read from Redis must be: of this generation, and computed after `newer_than`.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    generation: u64,
    newer_than: i64,
}

impl Wanted {
    /// `"{generation} {computed_at} {body}"` from Redis, if it is what is wanted.
    fn decode(self, bytes: &[u8], ttl: Duration) -> Option<Entry> {
        let mut parts = bytes.splitn(3, |b| *b == b' ');
        let mut number = || std::str::from_utf8(parts.next()?).ok()?.parse::<i64>().ok();
        let (generation, computed_at) = (number()?, number()?);
        let body = parts.next()?;
        (u64::try_from(generation).ok() == Some(self.generation) && computed_at > self.newer_than)
            .then(|| {
                Entry::new(
                    self.generation,
                    web::Bytes::copy_from_slice(body),
                    0.0,
                    computed_at,
                    ttl,
                )
            })
    }
}

/// A failure below the process tier: Redis's (fall back) or the query's (answer with it).
enum RedisOr {
    Redis(anyhow::Error),
    Api(ApiError),
}

/// `Cache-Status` (RFC 9211): one member per tier, the one nearest the database first.
fn cache_status(
    served: Served,
    shared: bool,
    in_process: bool,
    redis_failed: bool,
    ttl_left: i64,
) -> String {
    let memory = "phase5-memory";
    let redis = "phase5-redis";
    let below = |stored: &str| {
        if !shared {
            return String::new();
        }
        if redis_failed {
            return format!("{redis}; fwd=miss; detail=unavailable, ");
        }
        format!("{redis}; {stored}, ")
    };
    if !in_process {
        let status = below(if served == Served::Redis {
            "hit"
        } else {
            "fwd=miss; stored"
        });
        return status.trim_end_matches(", ").to_owned();
    }
    match served {
        Served::Memory => format!("{memory}; hit"),
        Served::Stale => format!("{memory}; hit; ttl={ttl_left}"),
        Served::Collapsed => format!("{}{memory}; fwd=miss; collapsed", below("hit")),
        Served::Redis => format!("{}{memory}; fwd=miss; stored", below("hit")),
        Served::Computed => format!("{}{memory}; fwd=miss; stored", below("fwd=miss; stored")),
    }
}

#[utoipa::path(
    tag = "server caching",
    responses(
        (status = 200, description = "Every book's sales totals, best-selling first", body = SalesReport,
            headers(
                ("Cache-Status" = String, description = "Which tier answered (RFC 9211): `phase5-memory; hit`, or each tier's `fwd=miss` down to the one that had it"),
                ("Server-Timing" = String, description = "`db;dur=...`: how long the query took when this response computed it"),
            )),
    )
)]
#[get("/reports/sales")]
pub(crate) async fn sales_report(
    cache: web::Data<ReportCache>,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let compute = move || {
        let started = Instant::now();
        let rows = sales::report(&mut *database.conn()?)?;
        let took_ms = started.elapsed().as_secs_f64() * 1000.0;
        let report = SalesReport {
            computed_at: now_ms(),
            took_ms: (took_ms * 10.0).round() / 10.0,
            rows,
        };
        Ok((
            serde_json::to_vec(&report).map_err(ApiError::internal)?,
            took_ms,
        ))
    };
    let (entry, served, redis_failed) = cache.get_or_compute(compute).await?;
    let mut response = HttpResponse::Ok();
    if served == Served::Memory {
        // The common case, without formatting anything.
        response.insert_header((
            "Cache-Status",
            HeaderValue::from_static("phase5-memory; hit"),
        ));
    } else {
        response.insert_header((
            "Cache-Status",
            cache_status(
                served,
                cache.inner.shared.is_some(),
                cache.inner.in_process,
                redis_failed,
                entry.ttl_left(now_ms()),
            ),
        ));
    }
    if served == Served::Computed {
        response.insert_header(("Server-Timing", format!("db;dur={:.1}", entry.took_ms)));
    }
    // The server caches it; clients should not, or a write would not show until they expire.
    // (Static header values: a hit is a few microseconds, and parsing them would be part of it.)
    response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    Ok(response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(entry.body))
}

#[utoipa::path(
    tag = "server caching",
    responses((status = 200, description = "Hits by tier, misses and computations since start", body = CacheStats))
)]
#[get("/cache/stats")]
pub(crate) async fn stats(cache: web::Data<ReportCache>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(cache.stats())
}

/// A recorded sale, and the receipt job it queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recorded {
    pub sale: Sale,
    pub receipt: Job,
}

#[utoipa::path(
    tag = "server caching",
    request_body = NewSale,
    responses(
        (status = 201, description = "Recorded, its receipt queued in the same transaction, and the report invalidated in every instance", body = Recorded,
            headers(("Location" = String, description = "`/sales/{id}`"))),
        (status = 404, description = "No book has this `book_id` (nothing was recorded, and no receipt queued)"),
    )
)]
#[post("/sales")]
pub(crate) async fn record_sale(
    cache: web::Data<ReportCache>,
    database: web::Data<Database>,
    queue: web::Data<DbQueue>,
    ValidJson(sale): ValidJson<NewSale>,
) -> Result<HttpResponse, ApiError> {
    let book_id = sale.book_id;
    let recorded = blocking(move || {
        let mut conn = database.conn()?;
        let exists: Option<i32> = common::db::schema::books::table
            .find(book_id)
            .select(common::db::schema::books::id)
            .first(&mut conn)
            .optional()?;
        if exists.is_none() {
            return Err(ApiError::not_found(format!("no book has the id {book_id}")));
        }
        write_transaction(&mut conn, |conn| {
            sales::record(conn, &sale).map_err(ApiError::from)
        })
    })
    .await?;
    queue.notify();
    cache.invalidate().await;
    let (sale, receipt) = recorded;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/sales/{}", sale.id)))
        .json(Recorded { sale, receipt }))
}

#[utoipa::path(
    tag = "server caching",
    params(("id" = i32, Path, description = "The sale")),
    responses(
        (status = 200, description = "The sale", body = Sale),
        (status = 404, description = "No sale has this id"),
    )
)]
#[get("/sales/{id}")]
pub(crate) async fn get_sale(
    database: web::Data<Database>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let sale = blocking(move || {
        sales_table::table
            .find(id)
            .select(Sale::as_select())
            .first(&mut *database.conn()?)
            .optional()
            .map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no sale has the id {id}")))?;
    Ok(HttpResponse::Ok().json(sale))
}
