//! Start a phase on a free local port, for tests and the grader.
//!
//! pytest + `TestClient` run the app in-process; here the phase runs as a real server on
//! `127.0.0.1:0` (the OS picks a free port), so a test talks HTTP to it exactly as a user would, and
//! many tests can run at once without clashing.

use std::io;
use std::net::{SocketAddr, TcpListener};

use actix_web::dev::{Server, ServerHandle};

pub mod nginx;
pub mod partition;
#[cfg(feature = "websocket-client")]
pub mod websocket;

/// A server started for a test. Dropping it stops the server.
#[derive(Debug)]
pub struct TestServer {
    address: SocketAddr,
    handle: ServerHandle,
}

impl TestServer {
    /// Runs `app` on the current Tokio runtime until the returned guard is dropped.
    pub fn spawn(app: crate::server::Application) -> Self {
        let address = app.address();
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        Self { address, handle }
    }

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

/// A listener on `127.0.0.1` and a port the OS picks: what tests build their apps on.
pub fn listener() -> io::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
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

/// A name no other test in this process, a concurrent test process, or an earlier run (whose
/// process id may come again) has: the process id, the time, and a counter.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() % 1_000_000_000_000);
    format!(
        "{prefix}_{}_{micros}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A phase's binary, started as a learner starts it: on a free port, printing its tour.
///
/// Dropping it kills the process; [`RunningBinary::interrupt`] stops it as Ctrl-C does.
#[derive(Debug)]
pub struct RunningBinary {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`, read from the tour.
    pub base_url: String,
    /// What the binary printed, up to the end of its tour.
    pub tour: String,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl RunningBinary {
    /// Runs `program --port 0 ARGS` with `envs` set, and reads its tour from stdout. The service
    /// URLs of the test's own environment (`DATABASE_URL`, `REDIS_URL`, `MONGODB_URL`,
    /// `SENTRY_DSN`) are not passed on: the binary gets only what `envs` gives it.
    pub fn start(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader, Read};
        use std::process::{Command, Stdio};

        let mut child = Command::new(program)
            .args(["--port", "0"])
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("MONGODB_URL")
            .env_remove("SENTRY_DSN")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program}: {err}"));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let logs = std::thread::spawn(move || {
            let mut logs = String::new();
            let _ = stderr.read_to_string(&mut logs);
            logs
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let mut tour = Vec::new();
        // The tour ends with its `try:` list and a blank line.
        let mut in_try = false;
        for line in stdout.by_ref() {
            let line = line.expect("a line of the tour");
            if in_try && line.trim().is_empty() {
                break;
            }
            in_try |= line == "try:";
            tour.push(line);
        }
        // Keep reading, so the binary never writes to a closed pipe.
        std::thread::spawn(move || stdout.for_each(drop));
        let tour = tour.join("\n");
        let base_url = tour
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("the tour names no address:\n{tour}"))
            .to_owned();
        Self {
            child,
            base_url,
            tour,
            logs: Some(logs),
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits up to 10 s for the process to exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        self.signal("INT");
        self.wait(std::time::Duration::from_secs(10))
    }

    /// Sends `signal` (`TERM`, `INT`, ...) and returns at once.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to exit, and fails the test if it does not.
    pub fn wait(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the binary") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the binary did not stop within {timeout:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Everything the binary logged; call after it has exited.
    pub fn logs(&mut self) -> String {
        self.logs
            .take()
            .map(|logs| logs.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
