//! Start a phase on a free local port, for tests and the grader.
//!
//! pytest + `TestClient` run the app in-process; here the phase runs as a real server on
//! `127.0.0.1:0` (the OS picks a free port), so a test talks HTTP to it exactly as a user would, and
//! many tests can run at once without clashing.

use std::io;
use std::net::{SocketAddr, TcpListener};

use actix_web::dev::{Server, ServerHandle};

/// A server started for a test. Dropping it stops the server.
#[derive(Debug)]
pub struct TestServer {
    address: SocketAddr,
    handle: ServerHandle,
}

impl TestServer {
    /// Binds `127.0.0.1:0`, builds the server with `start`, and runs it on the current Tokio runtime.
    pub fn start(start: impl FnOnce(TcpListener) -> io::Result<Server>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let server = start(listener)?;
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { address, handle })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // `stop` sends the command at once; awaiting the returned future would only wait for it.
        drop(self.handle.stop(false));
    }
}

/// The URL of a real service for a test, from the environment variable `var`.
///
/// Unset, the test should skip the real service (and run its in-process stand-in); but with
/// `REQUIRE_SERVICES=1`, as CI sets it, an unset URL is a failure, so that CI cannot pass by
/// skipping what it was meant to test.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                !services_required(),
                "{var} is not set, and REQUIRE_SERVICES=1 says the tests must use the real service"
            );
            None
        }
    }
}

/// Whether `REQUIRE_SERVICES=1` is set.
pub fn services_required() -> bool {
    std::env::var("REQUIRE_SERVICES").is_ok_and(|value| value == "1")
}

/// A name no other test in this process, nor a concurrent test process, has.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
