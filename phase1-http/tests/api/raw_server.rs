//! The hand-written HTTP/1.1 server, over real TCP.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(phase1_http::raw_http::serve(listener));
    address
}

/// Sends `request` and reads until the server closes the connection.
async fn exchange(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server closed the connection")
        .expect("read");
    String::from_utf8(response).expect("a UTF-8 response")
}

#[tokio::test]
async fn head_sends_headers_only_and_close_is_honoured() {
    let address = start().await;
    let response = exchange(&address, b"HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Length: 43\r\n"), "{response}");
    assert!(
        response.ends_with("Connection: close\r\n\r\n"),
        "a HEAD response has no body: {response}"
    );
}

#[tokio::test]
async fn errors_are_problems() {
    let address = start().await;
    let not_found = exchange(&address, b"GET /nope HTTP/1.0\r\n\r\n").await;
    assert!(
        not_found.starts_with("HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json"),
        "{not_found}"
    );
    let wrong_method = exchange(&address, b"DELETE /echo HTTP/1.0\r\n\r\n").await;
    assert!(
        wrong_method.starts_with("HTTP/1.1 405") && wrong_method.contains("Allow: GET, HEAD, POST"),
        "{wrong_method}"
    );
    let chunked = exchange(
        &address,
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 501"), "{chunked}");
    let oversize = exchange(
        &address,
        b"POST /echo HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    assert!(oversize.starts_with("HTTP/1.1 413"), "{oversize}");
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let address = start().await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let mut buffer = [0u8; 16];
    let started = std::time::Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the idle connection was not closed: {read:?}"
    );
    assert!(started.elapsed() >= phase1_http::raw_http::IDLE_TIMEOUT);
}
