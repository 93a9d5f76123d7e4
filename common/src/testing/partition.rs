//! A TCP proxy that a test can cut, as a network partition would: a server reaches Redis (or any
//! service) through it, and when the test cuts it, every connection closes and no new one opens.
//! Or the test stalls it: connections stay open and carry nothing, as when a peer vanishes
//! without a word (a half-open TCP connection), until the test lets them flow again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A proxy on `127.0.0.1` to one upstream. Dropping it cuts it.
#[derive(Debug)]
pub struct Partition {
    /// Where to connect instead of the upstream.
    pub address: SocketAddr,
    /// The listener's task and each connection's: aborting them closes everything.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Whether bytes get through (false while stalled).
    flowing: watch::Sender<bool>,
}

impl Partition {
    /// A proxy to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let connections = tasks.clone();
        let (flowing, _) = watch::channel(true);
        let gate = flowing.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let (up, down) = (gate.subscribe(), gate.subscribe());
                let connection = tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(upstream).await {
                        let (client_reads, client_writes) = client.into_split();
                        let (server_reads, server_writes) = server.into_split();
                        tokio::join!(
                            forward(client_reads, server_writes, up),
                            forward(server_reads, client_writes, down),
                        );
                    }
                });
                lock(&connections).push(connection);
            }
        });
        lock(&tasks).push(accepting);
        Ok(Self {
            address,
            tasks,
            flowing,
        })
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

    /// Holds every byte sent either way, on the connections open and on new ones, without
    /// closing anything, until [`Partition::resume`].
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Lets what was held, and what comes, through again.
    pub fn resume(&self) {
        self.flowing.send_replace(true);
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

/// Copies `from` to `to`, holding what it read while the proxy is stalled; at the end of `from`,
/// ends `to`.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read @ 1..) = from.read(&mut buffer).await {
        if flowing.wait_for(|flowing| *flowing).await.is_err()
            || to.write_all(&buffer[..read]).await.is_err()
        {
            return;
        }
    }
    let _ = to.shutdown().await;
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
