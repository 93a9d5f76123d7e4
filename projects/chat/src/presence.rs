//! Presence: who is in a room now, on every instance; and typing indicators, never stored.
//!
//! **Roadmap:** a chat shows who is online, and who is typing.
//!
//! **Python:** a `set` of names per room in the process (wrong as soon as there are two
//! processes), or Redis `SADD`/`SREM` on connect and disconnect, which leaves ghosts behind
//! whenever a process dies before its `SREM`.
//!
//! **Rust:** with Redis, each room is a sorted set of users scored by when their presence
//! expires. Each instance renews its own users every [`REFRESH`], for [`TTL`]; reading drops what
//! has expired. A crashed instance's users fade out within the TTL instead of staying online
//! for ever. Without Redis, the process's own rooms are the answer. Arrivals and departures are
//! also sent to the room as `presence` frames, so clients need not poll.
//!
//! Typing indicators are frames only: they go to the room (not to the typist) and are forgotten.
//! A connection may send one per room every [`TYPING_EVERY`]; more are dropped silently, since a
//! late "is typing" is worth nothing.
//!
//! **Why:** a TTL rather than a count, because connections end without saying so (a laptop lid, a
//! dead process). A count kept by `INCR`/`DECR` drifts with every one of them; an expiry heals
//! itself. The price is a user shown online up to [`TTL`] after a crash; one who leaves normally
//! goes at once. A user connected to two instances who leaves one is shown offline until the
//! other's next refresh.

use std::sync::Arc;
use std::time::Duration;

use crate::fanout::Hub;

/// How long a user stays present after their instance last said so.
pub const TTL: Duration = Duration::from_secs(30);

/// How often an instance renews its users' presence.
pub const REFRESH: Duration = Duration::from_secs(10);

/// The fewest time between two typing frames of one connection in one room.
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Where presence is kept.
#[derive(Debug, Clone)]
pub struct Presence {
    hub: Arc<Hub>,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

impl Presence {
    /// In this process: the hub's rooms.
    pub fn local(hub: Arc<Hub>) -> Self {
        Self { hub, redis: None }
    }

    /// In Redis, under `{prefix}:presence:{room}`.
    pub fn redis(hub: Arc<Hub>, connection: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            hub,
            redis: Some((connection, prefix.to_owned())),
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.redis.is_some() {
            "Redis, with a 30 s TTL"
        } else {
            "this process"
        }
    }

    fn key(prefix: &str, room: &str) -> String {
        format!("{prefix}:presence:{room}")
    }

    fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// `user` is in `room` (for the next [`TTL`]).
    pub async fn arrived(&self, room: &str, user: &str) {
        self.renew(&[(room.to_owned(), vec![user.to_owned()])])
            .await;
    }

    async fn renew(&self, rooms: &[(String, Vec<String>)]) {
        let Some((connection, prefix)) = &self.redis else {
            return;
        };
        let until = Self::now_ms() + TTL.as_millis() as i64;
        let mut pipe = redis::pipe();
        for (room, users) in rooms {
            let key = Self::key(prefix, room);
            for user in users {
                pipe.zadd(&key, user, until).ignore();
            }
            pipe.expire(&key, TTL.as_secs() as i64).ignore();
        }
        let mut connection = connection.clone();
        if let Err(err) = common::redis::within(pipe.query_async::<()>(&mut connection)).await {
            tracing::warn!("cannot record presence: {err:#}");
        }
    }

    /// `user`'s last connection on this instance left `room`.
    pub async fn departed(&self, room: &str, user: &str) {
        let Some((connection, prefix)) = &self.redis else {
            return;
        };
        let mut connection = connection.clone();
        let mut command = redis::cmd("ZREM");
        command.arg(Self::key(prefix, room)).arg(user);
        let removed = command.query_async::<()>(&mut connection);
        if let Err(err) = common::redis::within(removed).await {
            tracing::warn!("cannot record a departure: {err:#}");
        }
    }

    /// Who is in `room`, on any instance, sorted. With Redis unreachable, those on this one.
    pub async fn members(&self, room: &str) -> Vec<String> {
        let Some((connection, prefix)) = &self.redis else {
            return self.hub.members(room);
        };
        let mut connection = connection.clone();
        let mut command = redis::cmd("ZRANGEBYSCORE");
        command
            .arg(Self::key(prefix, room))
            .arg(Self::now_ms())
            .arg("+inf");
        let present = command.query_async::<Vec<String>>(&mut connection);
        match common::redis::within(present).await {
            Ok(mut users) => {
                users.sort_unstable();
                users
            }
            Err(err) => {
                tracing::warn!("cannot read presence: {err:#}");
                self.hub.members(room)
            }
        }
    }

    /// How many are in each of `rooms`, on any instance: one round trip to Redis for them all.
    /// With Redis unreachable, those on this one.
    pub async fn counts(&self, rooms: &[String]) -> Vec<usize> {
        let here = || {
            rooms
                .iter()
                .map(|room| self.hub.members(room).len())
                .collect()
        };
        let Some((connection, prefix)) = &self.redis else {
            return here();
        };
        if rooms.is_empty() {
            return Vec::new();
        }
        let now = Self::now_ms();
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.zcount(Self::key(prefix, room), now, "+inf");
        }
        let mut connection = connection.clone();
        match common::redis::within(pipe.query_async::<Vec<usize>>(&mut connection)).await {
            Ok(counts) => counts,
            Err(err) => {
                tracing::warn!("cannot read presence: {err:#}");
                here()
            }
        }
    }

    /// Renews this instance's users every [`REFRESH`], until the server stops.
    pub fn keep_fresh(
        &self,
        stopping: common::server::Stopping,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.redis.as_ref()?;
        let presence = self.clone();
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(REFRESH);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let stopped = stopping.stopped();
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    () = &mut stopped => return,
                    _ = every.tick() => {}
                }
                let occupied = presence.hub.occupied();
                if !occupied.is_empty() {
                    presence.renew(&occupied).await;
                }
            }
        }))
    }
}
