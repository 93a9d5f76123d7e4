//! Connecting to Redis, for the phases that keep state there when `REDIS_URL` is set.

use std::time::Duration;

/// How long to wait for Redis to answer at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One multiplexed connection to `url` that reconnects by itself (clone it freely: clones share
/// the connection). Fails if Redis does not answer within 5 s; the error never shows a password.
pub async fn connect(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let shown = crate::config::redact_url(url);
    let client = redis::Client::open(url)
        .map_err(|err| anyhow::anyhow!("{shown} is not a Redis URL: {err}"))?;
    tokio::time::timeout(CONNECT_TIMEOUT, client.get_connection_manager())
        .await
        .map_err(|_| anyhow::anyhow!("no answer from Redis at {shown} within 5 s"))?
        .map_err(|err| anyhow::anyhow!("cannot connect to Redis at {shown}: {err}"))
}

/// How long a command may take before the caller gives up on Redis for this request: a cache that
/// is down must make a request slower by this much at most, never fail it or hang it (the
/// connection manager retries a lost connection for seconds, with backoff, before it says so).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

/// `command`, given up after [`COMMAND_TIMEOUT`].
pub async fn within<T>(
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> anyhow::Result<T> {
    Ok(tokio::time::timeout(COMMAND_TIMEOUT, command)
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer within {COMMAND_TIMEOUT:?}"))??)
}

/// How long [`Broadcast::publish`] waits for every listening instance to acknowledge.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis channel whose messages are acknowledged: what instances sharing a cache use to tell
/// each other to forget something, with the writer able to wait until they all have.
///
/// Pub/sub alone is at most once: a message is gone if an instance was not listening, and one
/// still in flight when the writer answers leaves another instance serving the old value for a
/// moment. So each message carries an id; an instance that has handled it adds its name to the set
/// `{channel}:acks:{id}`, and [`Broadcast::publish`] returns once the set has as many names as
/// `PUBLISH` reached listeners (or after [`ACK_TIMEOUT`], logging which did not answer). And an
/// instance that lost its subscription is told so ([`Heard::Resubscribed`]), to forget what it may
/// have missed; until it has resubscribed, [`Broadcast::is_listening`] is false.
#[derive(Clone)]
pub struct Broadcast {
    client: redis::Client,
    connection: redis::aio::ConnectionManager,
    channel: String,
    instance: String,
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("channel", &self.channel)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// What a listener hears.
#[derive(Debug)]
pub enum Heard<'a> {
    /// A message (acknowledged once the handler returns).
    Message(&'a str),
    /// The subscription was (re)made: messages sent while it was down are lost.
    Resubscribed,
}

/// How a [`Broadcast::publish`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The instances `PUBLISH` reached, this one included when it listens.
    pub listeners: usize,
    /// How many of them acknowledged within [`ACK_TIMEOUT`].
    pub acknowledged: usize,
}

impl Broadcast {
    /// The channel `channel` on the Redis at `url`, spoken on by `connection` (to the same Redis),
    /// as instance `instance` (its name in acknowledgements).
    pub fn new(
        url: &str,
        connection: redis::aio::ConnectionManager,
        channel: &str,
        instance: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection,
            channel: channel.to_owned(),
            instance: instance.to_owned(),
            listening: std::sync::Arc::default(),
        })
    }

    /// Whether this instance is subscribed now: when not, it may miss a message.
    pub fn is_listening(&self) -> bool {
        self.listening.load(std::sync::atomic::Ordering::Acquire)
    }

    fn acks(&self, id: &str) -> String {
        format!("{}:acks:{id}", self.channel)
    }

    /// Subscribes, and hands every message to `handle` (one at a time, in order) until the process
    /// ends, resubscribing after a failure. Returns once the first subscription is made; an error
    /// if it cannot be within 5 s.
    pub async fn listen<F>(&self, mut handle: F) -> anyhow::Result<()>
    where
        F: FnMut(Heard<'_>) + Send + 'static,
    {
        let mut events = subscribe(&self.client, &self.channel, self.listening.clone()).await?;
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    Event::Resubscribed => handle(Heard::Resubscribed),
                    Event::Message(payload) => {
                        let Some((id, body)) = payload.split_once(' ') else {
                            continue;
                        };
                        handle(Heard::Message(body));
                        this.acknowledge(id).await;
                    }
                }
            }
        });
        Ok(())
    }

    async fn acknowledge(&self, id: &str) {
        let acks = self.acks(id);
        let mut connection = self.connection.clone();
        let done = within(
            redis::pipe()
                .sadd(&acks, &self.instance)
                .ignore()
                .expire(&acks, 60)
                .ignore()
                .query_async::<()>(&mut connection),
        )
        .await;
        if let Err(err) = done {
            tracing::warn!(channel = %self.channel, "cannot acknowledge a message: {err:#}");
        }
    }

    /// Sends `message` to every listening instance (this one too, when it listens), and waits
    /// until each has handled it, or [`ACK_TIMEOUT`] has passed. An error only when Redis did not
    /// take the message.
    pub async fn publish(&self, message: &str) -> anyhow::Result<Delivery> {
        let id = format!("{:016x}{:016x}", random_u64(), random_u64());
        let mut connection = self.connection.clone();
        let listeners: usize = within(
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(format!("{id} {message}"))
                .query_async(&mut connection),
        )
        .await?;
        let acks = self.acks(&id);
        let deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
        loop {
            let acknowledged: usize =
                within(redis::cmd("SCARD").arg(&acks).query_async(&mut connection)).await?;
            if acknowledged >= listeners {
                return Ok(Delivery {
                    listeners,
                    acknowledged,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    channel = %self.channel,
                    listeners,
                    acknowledged,
                    "not every instance acknowledged within {ACK_TIMEOUT:?}"
                );
                return Ok(Delivery {
                    listeners,
                    acknowledged,
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// How often a [`subscribe`]r asks Redis whether its connection is still there.
pub const SUBSCRIPTION_PING: Duration = Duration::from_secs(10);

/// What a [`subscribe`]r receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message's payload.
    Message(String),
    /// The subscription was (re)made: messages sent while it was down are lost.
    Resubscribed,
}

/// Subscribes to `channel` for as long as the receiver is kept, resubscribing a second after a
/// failure; `listening` says meanwhile whether the subscription is up. Returns once the first
/// subscription is made (an error if it cannot be within 5 s); the first event is then
/// [`Event::Resubscribed`].
///
/// The receiver holds up to 1,024 events; a reader that falls further behind makes the
/// subscription wait. (redis-rs buffers a pub/sub connection's messages without a bound of its
/// own, so the process, not Redis, holds what a stalled reader has not taken.)
///
/// A subscriber only reads, so a connection that goes quiet without closing (Redis's host gone,
/// a half-open TCP connection) would look like a channel nobody publishes on, for as long as the
/// kernel takes to notice (hours, without keepalive). So the subscription sends `PING` every
/// [`SUBSCRIPTION_PING`]; no answer within 5 s is a failure, and the subscription is made again.
pub async fn subscribe(
    client: &redis::Client,
    channel: &str,
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<tokio::sync::mpsc::Receiver<Event>> {
    let (events, receiver) = tokio::sync::mpsc::channel(1024);
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    tokio::spawn(run_subscription(
        client.clone(),
        channel.to_owned(),
        listening,
        events,
        subscribed,
    ));
    ready
        .await
        .map_err(|_| anyhow::anyhow!("the listener on {channel} stopped"))??;
    Ok(receiver)
}

async fn run_subscription(
    client: redis::Client,
    channel: String,
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
    events: tokio::sync::mpsc::Sender<Event>,
    subscribed: tokio::sync::oneshot::Sender<anyhow::Result<()>>,
) {
    use futures_util::StreamExt;
    use std::sync::atomic::Ordering;

    let mut subscribed = Some(subscribed);
    loop {
        let pubsub = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let failure = match tokio::time::timeout(CONNECT_TIMEOUT, pubsub).await {
            Ok(Ok(pubsub)) => {
                listening.store(true, Ordering::Release);
                if let Some(ready) = subscribed.take() {
                    let _ = ready.send(Ok(()));
                }
                if events.send(Event::Resubscribed).await.is_err() {
                    return;
                }
                let (mut sink, mut messages) = pubsub.split();
                let mut ping = tokio::time::interval(SUBSCRIPTION_PING);
                // After a long wait on a slow reader, one ping, not one for every tick missed.
                ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ping.tick().await;
                let failure = loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else {
                                break anyhow::anyhow!("the subscription closed");
                            };
                            let Ok(payload) = message.get_payload::<String>() else {
                                continue;
                            };
                            if events.send(Event::Message(payload)).await.is_err() {
                                return;
                            }
                        }
                        _ = ping.tick() => {
                            let pong = sink.ping::<redis::Value>();
                            match tokio::time::timeout(CONNECT_TIMEOUT, pong).await {
                                Ok(Ok(_)) => {}
                                Ok(Err(err)) => break err.into(),
                                Err(_) => {
                                    break anyhow::anyhow!("Redis did not answer PING within 5 s");
                                }
                            }
                        }
                    }
                };
                listening.store(false, Ordering::Release);
                failure
            }
            Ok(Err(err)) => err.into(),
            Err(_) => anyhow::anyhow!("Redis did not answer SUBSCRIBE within 5 s"),
        };
        if let Some(ready) = subscribed.take() {
            let _ = ready.send(Err(failure));
            return;
        }
        tracing::warn!(%channel, "{failure:#}; subscribing again in 1 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// 64 bits for message ids: std's `RandomState` is seeded from the OS, and each one differs.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(u64::from(std::process::id()));
    hasher.finish()
}
