//! The container health check: one `GET` to the server on this machine, answered 200 or not.
//!
//! Distroless images have no shell and no curl, so `HEALTHCHECK CMD curl -f ...` cannot run in
//! them; `src/bin/healthcheck.rs` is the few lines that can, built once for every crate's image.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the health check waits for the server.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Asks the server on this machine's `port` for `path`: `Ok` on a 200, else why not. What an
/// image's `HEALTHCHECK` runs (`src/bin/healthcheck.rs`), with std's blocking socket: the check is
/// one request, and a runtime would only add start-up time.
pub fn check(port: u16, path: &str) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|err| err.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: healthcheck\r\n\r\n"
    )
    .map_err(|err| format!("cannot send to {address}: {err}"))?;
    let mut status_line = [0u8; 12];
    stream
        .read_exact(&mut status_line)
        .map_err(|err| format!("no answer from {address}: {err}"))?;
    match &status_line {
        b"HTTP/1.1 200" => Ok(()),
        other => Err(format!(
            "{address} answered {}",
            String::from_utf8_lossy(other).trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server on a free port that answers every request with `status_line`. Every one, not
    /// just the first: another test of this process polling a port it has just closed may reach
    /// this one, which the OS can hand out again.
    fn answering(status_line: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = [0u8; 512];
                let _ = stream.read(&mut request);
                let _ = write!(stream, "{status_line}\r\ncontent-length: 0\r\n\r\n");
            }
        });
        port
    }

    #[test]
    fn a_200_is_healthy_and_anything_else_says_what_it_was() {
        assert_eq!(
            super::check(answering("HTTP/1.1 200 OK"), "/health/live"),
            Ok(())
        );
        let unready = super::check(answering("HTTP/1.1 503 Service Unavailable"), "/");
        assert!(unready.is_err_and(|why| why.ends_with("answered HTTP/1.1 503")));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let nobody = super::check(port, "/");
        assert!(nobody.is_err_and(|why| why.starts_with("cannot connect")));
    }
}
