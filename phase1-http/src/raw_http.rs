//! 1.5 The protocol by hand: an HTTP/1.1 server and client on bare TCP, no framework.
//!
//! **Roadmap:** "Before touching a framework, master the protocol."
//!
//! **Python:** `socket.socket()`, `accept()`, `recv()` and a loop; or `http.server`, which hides the
//! parsing.
//!
//! **Rust:** tokio's `TcpListener` accepts connections and each one gets a task. HTTP/1.1 is text: a
//! request line (`GET /echo HTTP/1.1`), header lines, an empty line, then `Content-Length` bytes of
//! body. [`serve`] parses exactly that, answers, and keeps the connection open for the next request
//! (keep-alive is the default in HTTP/1.1) until the client sends `Connection: close`, takes longer
//! than [`IDLE_TIMEOUT`] to send a request, or sends something that is not HTTP, which gets a 400 and a closed
//! connection. Limits on the head and body keep a client from exhausting memory.
//!
//! [`inspect`] is the client side: it writes a request by hand and returns the raw bytes both ways,
//! so `cargo run -p phase1-http -- inspect http://127.0.0.1:8001/books` shows what `curl -v` hides.
//!
//! Routes: `GET /` (a greeting), `GET|POST /echo` (the request as the server parsed it), `HEAD` of
//! either; anything else is 404 or 405, as problems.
//!
//! **Why:** every framework in this project does this for you. Having done it once, a 400 for a bad
//! request line, a hung keep-alive connection or a missing `Content-Length` stop being mysteries.

use std::io;
use std::time::Duration;

use actix_web::http::StatusCode;
use common::Problem;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// How long a connection may take to send its next request, from the end of the last one.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this name; names are case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after this request.
    fn keep_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match self.version.as_str() {
            "HTTP/1.1" => connection.as_deref() != Some("close"),
            _ => connection.as_deref() == Some("keep-alive"),
        }
    }
}

/// Why a request could not be read; each is answered with a status, then the connection closes.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not HTTP: a 400 with the reason.
    Malformed(&'static str),
    /// A head over [`MAX_HEAD`]: 431.
    HeadTooLarge,
    /// A body over [`MAX_BODY`]: 413.
    BodyTooLarge,
    /// A chunked body, which this small server does not implement: 501.
    Unsupported,
}

/// Reads one request. `Ok(None)` is a connection closed cleanly between requests.
pub async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> io::Result<Result<Option<Request>, ParseError>> {
    let mut head_size = 0;
    let Some(request_line) = read_line(reader, &mut head_size).await? else {
        return Ok(Ok(None));
    };
    let request_line = match request_line {
        Ok(line) => line,
        Err(err) => return Ok(Err(err)),
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Err(ParseError::Malformed(
            "the request line is not `METHOD target HTTP/1.x`",
        )));
    };
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !is_token(method) || !target.starts_with('/') || !matches!(version, "HTTP/1.1" | "HTTP/1.0")
    {
        return Ok(Err(ParseError::Malformed(
            "the request line is not `METHOD /path HTTP/1.x`",
        )));
    }

    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader, &mut head_size).await? {
            None => {
                return Ok(Err(ParseError::Malformed(
                    "the connection closed inside the head",
                )));
            }
            Some(Err(err)) => return Ok(Err(err)),
            Some(Ok(line)) => line,
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Ok(Err(ParseError::Malformed("a header line has no colon")));
        };
        if !is_token(name) {
            return Ok(Err(ParseError::Malformed("a header name is not a token")));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }

    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Ok(Err(ParseError::Unsupported));
    }
    let length = match request.header("content-length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(length)) => length,
        Some(Err(_)) => return Ok(Err(ParseError::Malformed("Content-Length is not a number"))),
    };
    if length > MAX_BODY {
        return Ok(Err(ParseError::BodyTooLarge));
    }
    request.body.resize(length, 0);
    reader.read_exact(&mut request.body).await?;
    Ok(Ok(Some(request)))
}

/// Reads one CRLF-terminated line of the head, counting it against [`MAX_HEAD`].
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    head_size: &mut usize,
) -> io::Result<Option<Result<String, ParseError>>> {
    let mut line = Vec::new();
    let limit = (MAX_HEAD - *head_size + 1) as u64;
    let read = (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 {
        return Ok(None);
    }
    *head_size += read;
    if *head_size > MAX_HEAD {
        return Ok(Some(Err(ParseError::HeadTooLarge)));
    }
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Ok(Some(Err(ParseError::Malformed(
            "a line does not end with CRLF",
        ))));
    };
    Ok(Some(String::from_utf8(line.to_vec()).map_err(|_| {
        ParseError::Malformed("the head is not UTF-8")
    })))
}

/// A response, written by [`Response::write_to`].
#[derive(Debug)]
pub struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: String) -> Self {
        Self {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    fn problem(status: StatusCode, detail: &str) -> Self {
        let problem = Problem {
            detail: Some(detail.to_owned()),
            ..Problem::from_status(status)
        };
        Self {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or_default(),
            content_type: common::problem::CONTENT_TYPE,
            headers: Vec::new(),
            body: serde_json::to_vec(&problem).unwrap_or_default(),
        }
    }

    async fn write_to<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut W,
        head_only: bool,
        close: bool,
    ) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(if close {
            "Connection: close\r\n\r\n"
        } else {
            "\r\n"
        });
        writer.write_all(head.as_bytes()).await?;
        if !head_only {
            writer.write_all(&self.body).await?;
        }
        writer.flush().await
    }
}

/// The router of this tiny server.
fn respond(request: &Request) -> Response {
    let path = request.target.split('?').next().unwrap_or_default();
    let method = match request.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    match (method, path) {
        ("GET", "/") => Response::text(
            200,
            "OK",
            "Hello from a hand-written HTTP/1.1 server.\n".into(),
        ),
        ("GET" | "POST", "/echo") => {
            let mut text = format!(
                "{} {} {}\n",
                request.method, request.target, request.version
            );
            for (name, value) in &request.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            text.push_str(&format!("\n{}", String::from_utf8_lossy(&request.body)));
            Response::text(200, "OK", text)
        }
        (_, "/" | "/echo") => {
            let mut response = Response::problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "this path allows GET, HEAD and POST",
            );
            response.headers.push(("Allow", "GET, HEAD, POST".into()));
            response
        }
        _ => Response::problem(StatusCode::NOT_FOUND, "try / or /echo"),
    }
}

/// Serves one connection: requests one after another until it closes, idles or misbehaves.
pub async fn handle_connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> io::Result<()> {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    loop {
        let next = match tokio::time::timeout(IDLE_TIMEOUT, read_request(&mut reader)).await {
            Ok(next) => next?,
            Err(_idle) => return Ok(()),
        };
        let request = match next {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(err) => {
                let response = match err {
                    ParseError::Malformed(reason) => {
                        Response::problem(StatusCode::BAD_REQUEST, reason)
                    }
                    ParseError::BodyTooLarge => {
                        Response::problem(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 64 KiB")
                    }
                    ParseError::HeadTooLarge => Response::problem(
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "the head is over 8 KiB",
                    ),
                    ParseError::Unsupported => Response::problem(
                        StatusCode::NOT_IMPLEMENTED,
                        "chunked request bodies are not supported",
                    ),
                };
                return response.write_to(&mut writer, false, true).await;
            }
        };
        let close = !request.keep_alive();
        respond(&request)
            .write_to(&mut writer, request.method == "HEAD", close)
            .await?;
        if close {
            return Ok(());
        }
    }
}

/// Accepts connections forever, one task each.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        // Accepting can fail for one connection (it was reset) or for a while (out of file
        // descriptors): log it, pause, and keep serving.
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(err) = handle_connection(stream).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
}

/// One exchange as bytes on the wire.
#[derive(Debug)]
pub struct Exchange {
    pub request: Vec<u8>,
    pub response: Vec<u8>,
}

/// The largest response [`inspect`] reads.
const MAX_INSPECT: u64 = 1024 * 1024;

/// Sends `GET url` by hand and returns the bytes sent and received. Plain `http://` only.
pub async fn inspect(url: &str) -> anyhow::Result<Exchange> {
    let url = Url::parse(url)?;
    anyhow::ensure!(
        url.scheme() == "http",
        "inspect speaks plain http:// only, not {}",
        url.scheme()
    );
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("the URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target = format!("{target}?{query}");
    }
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: phase1-http-inspect\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        // `host` keeps the brackets of an IPv6 address, which `host:port` needs.
        let mut stream = TcpStream::connect(format!("{host}:{port}")).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.take(MAX_INSPECT).read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange).await??;
    Ok(Exchange {
        request: request.into_bytes(),
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Option<Request>, ParseError> {
        read_request(&mut BufReader::new(bytes)).await.unwrap()
    }

    #[tokio::test]
    async fn a_request_with_a_body_is_parsed() {
        let request =
            parse(b"POST /echo?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap()
                .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/echo?x=1");
        assert_eq!(request.header("content-length"), Some("5"));
        assert_eq!(request.body, b"hello");
        assert!(request.keep_alive());
    }

    #[tokio::test]
    async fn garbage_and_oversize_are_refused() {
        assert!(matches!(
            parse(b"hello\r\n\r\n").await,
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\nHost: a\n\n").await,
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").await,
            Err(ParseError::Malformed(_))
        ));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(huge.as_bytes()).await, Err(ParseError::HeadTooLarge));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n").await,
            Err(ParseError::BodyTooLarge)
        );
        assert_eq!(parse(b"").await, Ok(None));
    }

    #[tokio::test]
    async fn http10_closes_unless_asked_to_keep_alive() {
        let request = parse(b"GET / HTTP/1.0\r\n\r\n").await.unwrap().unwrap();
        assert!(!request.keep_alive());
    }
}
