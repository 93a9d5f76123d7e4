//! A TCP proxy that a test can cut, as a network partition would: a server reaches Redis (or any
//! service) through it, and when the test cuts it, every connection closes and no new one opens.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;

/// A proxy on `127.0.0.1` to one upstream. Dropping it cuts it.
#[derive(Debug)]
pub struct Partition {
    /// Where to connect instead of the upstream.
    pub address: SocketAddr,
    /// The listener's task and each connection's: aborting them closes everything.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Partition {
    /// A proxy to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let connections = tasks.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                lock(&connections).push(connection);
            }
        });
        lock(&tasks).push(accepting);
        Ok(Self { address, tasks })
    }

    /// A proxy to the Redis server of `url`; connect with [`Partition::redis_url`].
    pub async fn to_redis(url: &str) -> std::io::Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        Self::start(format!("{host}:{}", parsed.port().unwrap_or(6379))).await
    }

    /// `redis://` and the proxy's address.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.address)
    }

    /// Closes the listener and every connection through it.
    pub fn cut(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.cut();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
