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
