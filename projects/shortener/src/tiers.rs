//! The redirect's read path: a process tier in front of Redis in front of the database.
//!
//! **Roadmap:** "high read traffic, caching (Redis)". A short link is read thousands of times for
//! each time it is written, so the read path decides what the service costs.
//!
//! **Python:** `cachetools.TTLCache` in the process, then `redis.get(code)`, then the ORM; a
//! `pubsub.listen()` thread that deletes keys from the local cache when another worker publishes.
//!
//! **Rust:** [`Resolver::resolve`] asks, in order:
//! - the process tier, a moka cache of [`Cached`] entries: a link for 5 minutes, an unknown code
//!   for 5 seconds (a *negative* entry: a scanner trying codes costs one database query per code
//!   per 5 s, not one per request);
//! - Redis, when `REDIS_URL` is set (JSON, 1 hour; unknown codes 5 s), shared by every instance;
//! - the database.
//!
//! What one tier learns, the tiers before it keep. A change ([`Resolver::forget`], after every
//! create, edit and delete) removes the code from every tier of every instance before the request
//! that made it answers:
//! - in Redis, the key is overwritten by a marker for 2 s, and entries are only ever added with
//!   `SET NX`: a read that fetched the old row before the change committed cannot put it back;
//! - each instance's process tier is told through `common::redis::Broadcast`, and the change waits
//!   for every instance's acknowledgement (up to 1 s). An instance drops the entry and bumps its
//!   *epoch*; a read that began before the bump does not keep what it found, since it may be the
//!   old row. An instance whose subscription is down does not use its process tier at all, and
//!   empties it when it resubscribes, because it may have missed a message.
//!
//! A change is refused (503, nothing written) while this instance's subscription is down
//! ([`Resolver::ready_for_change`]): Redis is then most likely unreachable, and a change saved in
//! the database could not be made visible everywhere. Only Redis failing in the moment between
//! that check and the change leaves a saved change answered with 500.
//!
//! Without Redis there is one instance, and forgetting is local.
//!
//! **Why:** the process tier is what makes a redirect as cheap as a static answer (no network
//! round trip), and it is also the tier that goes stale: one copy per instance, each needing to be
//! told. The acknowledgements turn "eventually" into "before the edit returns", which is what the
//! two-instance test holds the service to.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use common::ApiError;
use common::db::{Database, blocking};
use common::redis::{Broadcast, Heard, within};
use diesel::prelude::*;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::schema::links;

/// How long the process tier keeps a link, and an unknown code.
const MEMORY_TTL: Duration = Duration::from_secs(300);
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// How long Redis keeps a link.
const REDIS_TTL: Duration = Duration::from_secs(3600);
/// What a change leaves in Redis, and for how long: longer than a read takes between its
/// database query and its `SET NX`.
const FORGOTTEN: &str = "forgotten";
const FORGOTTEN_FOR: Duration = Duration::from_secs(2);
/// What Redis holds for a code the database does not have.
const ABSENT: &str = "absent";

/// What a redirect needs of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub link_id: i32,
    pub destination: String,
    pub status: u16,
    /// Unix seconds; after it, 410.
    pub valid_until: Option<i64>,
    /// Whether the link has a visit limit: then each visit is taken in the database.
    pub limited: bool,
}

/// A link as the process tier holds it, with its `Location` header made once.
#[derive(Debug)]
pub struct Resolved {
    pub target: Target,
    pub location: HeaderValue,
}

/// An entry of the process tier.
#[derive(Debug, Clone)]
pub enum Cached {
    Found(Arc<Resolved>),
    Absent,
}

/// Which tier answered, for `X-Cache` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Redis,
    Database,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Database => "database",
        }
    }
}

struct ByKind;

impl moka::Expiry<Box<str>, Cached> for ByKind {
    fn expire_after_create(&self, _: &Box<str>, entry: &Cached, _: Instant) -> Option<Duration> {
        Some(match entry {
            Cached::Found(_) => MEMORY_TTL,
            Cached::Absent => NEGATIVE_TTL,
        })
    }
}

/// The shared tier: Redis, and the channel the instances forget through.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "redis's connection has no Debug"
)]
pub struct Shared {
    pub connection: ConnectionManager,
    pub prefix: String,
    pub broadcast: Broadcast,
}

impl Shared {
    fn key(&self, code: &str) -> String {
        format!("{}:link:{code}", self.prefix)
    }
}

/// The three tiers. Clones share them.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    memory: Option<moka::sync::Cache<Box<str>, Cached>>,
    shared: Option<Shared>,
    database: Database,
    /// Bumped by every change this instance hears of (see the module's documentation).
    epoch: AtomicU64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("tiers", &self.tiers())
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// The tiers over `database`: the process tier unless `memory` is false (benchmarks switch it
    /// off to measure the others), Redis when `shared` is given. Subscribes to the changes of the
    /// other instances before it returns.
    pub async fn new(
        database: Database,
        shared: Option<Shared>,
        memory: bool,
    ) -> anyhow::Result<Self> {
        let resolver = Self {
            inner: Arc::new(Inner {
                memory: memory.then(|| {
                    moka::sync::Cache::builder()
                        .max_capacity(100_000)
                        .expire_after(ByKind)
                        .build()
                }),
                shared,
                database,
                epoch: AtomicU64::new(0),
            }),
        };
        if let Some(shared) = &resolver.inner.shared {
            let listener = resolver.clone();
            shared
                .broadcast
                .listen(move |heard| match heard {
                    Heard::Message(code) => listener.drop_local(Some(code)),
                    Heard::Resubscribed => listener.drop_local(None),
                })
                .await?;
        }
        Ok(resolver)
    }

    /// The tiers, for the tour: `memory+redis+database`.
    pub fn tiers(&self) -> String {
        let mut tiers = Vec::new();
        if self.inner.memory.is_some() {
            tiers.push("memory");
        }
        if self.inner.shared.is_some() {
            tiers.push("redis");
        }
        tiers.push("database");
        tiers.join("+")
    }

    /// The process tier, when it can be trusted: it is on, and, with Redis, this instance hears
    /// the others' changes.
    fn memory(&self) -> Option<&moka::sync::Cache<Box<str>, Cached>> {
        let memory = self.inner.memory.as_ref()?;
        match &self.inner.shared {
            Some(shared) if !shared.broadcast.is_listening() => None,
            _ => Some(memory),
        }
    }

    /// Forgets `code` in this process (every code when `None`), and makes the reads under way
    /// keep what they find to themselves.
    fn drop_local(&self, code: Option<&str>) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(memory) = &self.inner.memory {
            match code {
                Some(code) => memory.invalidate(code),
                None => memory.invalidate_all(),
            }
        }
    }

    /// The link `code` names, and the tier that knew it; `None` for no such link.
    pub async fn resolve(&self, code: &str) -> Result<(Option<Arc<Resolved>>, Tier), ApiError> {
        let memory = self.memory();
        if let Some(memory) = memory
            && let Some(cached) = memory.get(code)
        {
            return Ok((found(cached), Tier::Memory));
        }
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        let (cached, tier) = self.resolve_shared(code).await?;
        if let Some(memory) = memory {
            memory.insert(code.into(), cached.clone());
            // A change heard since the read began may concern what it found: take it back out
            // (a change heard after this line removes it itself).
            if self.inner.epoch.load(Ordering::Acquire) != epoch {
                memory.invalidate(code);
            }
        }
        Ok((found(cached), tier))
    }

    /// Redis, then the database.
    async fn resolve_shared(&self, code: &str) -> Result<(Cached, Tier), ApiError> {
        let Some(shared) = &self.inner.shared else {
            return Ok((self.load(code).await?, Tier::Database));
        };
        let mut connection = shared.connection.clone();
        let found: anyhow::Result<Option<String>> = within(
            redis::cmd("GET")
                .arg(shared.key(code))
                .query_async(&mut connection),
        )
        .await;
        let usable = match found {
            Ok(Some(text)) if text == ABSENT => return Ok((Cached::Absent, Tier::Redis)),
            Ok(Some(text)) => match serde_json::from_str::<Target>(&text) {
                Ok(target) => return Ok((cached(target), Tier::Redis)),
                // The marker a change left: read the database, and store nothing.
                Err(_) => false,
            },
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "Redis is unavailable; reading the database");
                false
            }
        };
        let loaded = self.load(code).await?;
        if usable {
            let (text, ttl) = match &loaded {
                Cached::Found(resolved) => (
                    serde_json::to_string(&resolved.target).map_err(ApiError::internal)?,
                    REDIS_TTL,
                ),
                Cached::Absent => (ABSENT.to_owned(), NEGATIVE_TTL),
            };
            let stored: anyhow::Result<Option<String>> = within(
                redis::cmd("SET")
                    .arg(shared.key(code))
                    .arg(text)
                    .arg("EX")
                    .arg(ttl.as_secs())
                    .arg("NX")
                    .query_async(&mut connection),
            )
            .await;
            if let Err(err) = stored {
                tracing::warn!(error = %format_args!("{err:#}"), "could not cache a link in Redis");
            }
        }
        Ok((loaded, Tier::Database))
    }

    async fn load(&self, code: &str) -> Result<Cached, ApiError> {
        let database = self.inner.database.clone();
        let code = code.to_owned();
        let row = blocking(move || {
            links::table
                .filter(links::code.eq(&code))
                .select((
                    links::id,
                    links::destination,
                    links::redirect_status,
                    links::valid_until,
                    links::max_visits,
                ))
                .first::<(i32, String, i32, Option<i64>, Option<i32>)>(&mut *database.conn()?)
                .optional()
                .map_err(ApiError::from)
        })
        .await?;
        Ok(match row {
            None => Cached::Absent,
            Some((link_id, destination, status, valid_until, max_visits)) => cached(Target {
                link_id,
                destination,
                status: u16::try_from(status).unwrap_or(302),
                valid_until,
                limited: max_visits.is_some(),
            }),
        })
    }

    /// 503 while Redis cannot be reached, before a change: see the module's documentation.
    pub fn ready_for_change(&self) -> Result<(), ApiError> {
        match &self.inner.shared {
            Some(shared) if !shared.broadcast.is_listening() => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the shared cache cannot be reached, so the other instances could not be told of a change: nothing was changed; try again shortly",
            )
            .with_header((header::RETRY_AFTER, "1"))),
            _ => Ok(()),
        }
    }

    /// Removes `code` from every tier of every instance, and returns once each instance has
    /// acknowledged (see the module's documentation). A failure to reach Redis is an error: a
    /// change that cannot be made visible everywhere is not reported as done.
    pub async fn forget(&self, code: &str) -> Result<(), ApiError> {
        let Some(shared) = &self.inner.shared else {
            self.drop_local(Some(code));
            return Ok(());
        };
        let mut connection = shared.connection.clone();
        within(
            redis::cmd("SET")
                .arg(shared.key(code))
                .arg(FORGOTTEN)
                .arg("EX")
                .arg(FORGOTTEN_FOR.as_secs())
                .query_async::<()>(&mut connection),
        )
        .await
        .map_err(|err| ApiError::internal(err.context("forgetting a link in Redis")))?;
        // This instance forgets at once, whether or not it is listening.
        self.drop_local(Some(code));
        shared
            .broadcast
            .publish(code)
            .await
            .map_err(|err| ApiError::internal(err.context("telling the other instances")))?;
        Ok(())
    }
}

fn cached(target: Target) -> Cached {
    match HeaderValue::from_str(&target.destination) {
        Ok(location) => Cached::Found(Arc::new(Resolved { target, location })),
        // A destination is checked to be a URL when it is stored; one that is not a header value
        // (it cannot happen) is a link nobody can follow.
        Err(_) => Cached::Absent,
    }
}

fn found(cached: Cached) -> Option<Arc<Resolved>> {
    match cached {
        Cached::Found(resolved) => Some(resolved),
        Cached::Absent => None,
    }
}
