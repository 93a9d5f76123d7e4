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
