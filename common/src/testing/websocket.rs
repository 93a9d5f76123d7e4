//! A WebSocket client for tests and the grader: JSON frames in and out, with deadlines, and the
//! handshake's refusal or the server's close code as values to assert on.
//!
//! tokio-tungstenite does the protocol. It answers the server's pings only while it is read, so
//! a test that stops calling [`Socket::next`] is a client that neither reads nor pongs: what a
//! dead or slow connection looks like from the server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open connection.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").finish_non_exhaustive()
    }
}

/// What reading gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A text frame, as JSON (`Value::String` when it was not JSON).
    Frame(Value),
    /// A close frame with its code and reason, or the connection's end (`None`).
    Closed(Option<(u16, String)>),
}

/// The handshake's answer when it was not 101: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

fn request(
    url: &str,
    bearer: Option<&str>,
) -> anyhow::Result<tungstenite::handshake::client::Request> {
    let mut request = url.into_client_request()?;
    if let Some(token) = bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    Ok(request)
}

fn refused(err: tungstenite::Error) -> anyhow::Result<Result<Socket, Refused>> {
    match err {
        tungstenite::Error::Http(response) => Ok(Err(Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|body| String::from_utf8_lossy(body).into_owned())
                .unwrap_or_default(),
        })),
        err => Err(err.into()),
    }
}

impl Socket {
    /// Opens `url` (`ws://...`), with `Authorization: Bearer` when `bearer` is given.
    pub async fn open(url: &str, bearer: Option<&str>) -> anyhow::Result<Result<Socket, Refused>> {
        match tokio_tungstenite::connect_async(request(url, bearer)?).await {
            Ok((stream, _)) => Ok(Ok(Socket { stream })),
            Err(err) => refused(err),
        }
    }

    /// Opens `url` over a TCP socket whose receive buffer is `receive_buffer` bytes: a client
    /// that stops reading then holds little, and the server's queue for it fills sooner.
    pub async fn open_small(url: &str, receive_buffer: u32) -> anyhow::Result<Socket> {
        let parsed = url::Url::parse(url)?;
        let address = parsed
            .socket_addrs(|| Some(80))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("{url} has no address"))?;
        let socket = match address {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_recv_buffer_size(receive_buffer)?;
        let tcp = socket.connect(address).await?;
        let (stream, _) =
            tokio_tungstenite::client_async(request(url, None)?, MaybeTlsStream::Plain(tcp))
                .await?;
        Ok(Socket { stream })
    }

    /// Sends `frame` as a text frame.
    pub async fn send(&mut self, frame: &Value) -> anyhow::Result<()> {
        self.send_text(&frame.to_string()).await
    }

    /// Sends `text` as it is.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        Ok(self.stream.send(Message::text(text)).await?)
    }

    /// Sends `bytes` as a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        Ok(self.stream.send(Message::binary(bytes)).await?)
    }

    /// Closes the connection from this side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    /// The next text frame or the close, within `within` (pings and pongs are skipped).
    pub async fn next(&mut self, within: Duration) -> anyhow::Result<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .map_err(|_| anyhow::anyhow!("no frame within {within:?}"))?;
            match message {
                None => return Ok(Received::Closed(None)),
                Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(_)
                    | tungstenite::Error::Io(_),
                )) => return Ok(Received::Closed(None)),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Text(text))) => {
                    let value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| Value::String(text.as_str().to_owned()));
                    return Ok(Received::Frame(value));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Received::Closed(frame.map(|frame| {
                        (u16::from(frame.code), frame.reason.as_str().to_owned())
                    })));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next frame of type `kind`, skipping others, within `within`; an error naming what came
    /// instead when the connection closes first.
    pub async fn expect(&mut self, kind: &str, within: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self
                .next(left)
                .await
                .map_err(|_| anyhow::anyhow!("no `{kind}` frame within {within:?}"))?
            {
                Received::Frame(frame) if frame["type"] == kind => return Ok(frame),
                Received::Frame(_) => {}
                Received::Closed(close) => {
                    anyhow::bail!("the connection closed ({close:?}) before a `{kind}` frame")
                }
            }
        }
    }

    /// Reads until the connection closes, within `within`: the close code and reason, and the
    /// text frames before it.
    pub async fn until_closed(
        &mut self,
        within: Duration,
    ) -> anyhow::Result<(Option<(u16, String)>, Vec<Value>)> {
        let deadline = tokio::time::Instant::now() + within;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self
                .next(left)
                .await
                .map_err(|_| anyhow::anyhow!("still open after {within:?}"))?
            {
                Received::Frame(frame) => frames.push(frame),
                Received::Closed(close) => return Ok((close, frames)),
            }
        }
    }
}
