//! How every phase is served: one app assembly, graceful shutdown, and the start-up tour.
//!
//! A phase describes its routes in a `configure(&mut web::ServiceConfig)` function (Flask's
//! `register_blueprint`, in spirit). [`serve`] wraps them in what every phase shares: a tracing span
//! with a request id for each request, an access log line, problem+json errors and a 404 problem for
//! unknown paths. The binary, the tests and the grader
//! all start a phase through it, so they all see the same app.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::error::ApiError;
use crate::middleware::{access_log, problem_details};

/// How long in-flight requests may take to finish after Ctrl-C before the server stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `configure`'s routes on `listener`. The returned server runs when awaited or spawned;
/// [`run_until_stopped`] adds graceful shutdown on Ctrl-C, `Server::handle()` stops it from code.
pub fn serve<F>(listener: TcpListener, configure: F) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let server = HttpServer::new(move || {
        App::new()
            .configure(configure.clone())
            .default_service(web::to(not_found))
            // The last `wrap` is the outermost: the span opens first, the log line sees the final
            // status, and errors are problems before anything logs them.
            .wrap(from_fn(problem_details))
            .wrap(from_fn(access_log))
            .wrap(TracingLogger::default())
    })
    .listen(listener)?
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    // actix would treat Ctrl-C (SIGINT) as a forced stop; `run_until_stopped` makes it graceful.
    .disable_signals()
    .run();
    Ok(server)
}

/// Runs `server` until Ctrl-C or SIGTERM, then stops it gracefully: no new connections, and requests
/// in flight get up to 5 s to finish.
pub async fn run_until_stopped(server: Server) -> io::Result<()> {
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the requests in flight");
        handle.stop(true).await;
    });
    server.await
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `docker stop` and systemd send).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// What a phase prints when it starts: where it listens, what it teaches, and what to try first.
#[derive(Debug)]
pub struct Tour<'a> {
    /// The phase, as a title: "Phase 1: HTTP and the language".
    pub title: &'a str,
    pub address: SocketAddr,
    /// `(topic ID, topic, a path or command to try)`.
    pub topics: &'a [(&'a str, &'a str, &'a str)],
    /// Lines printed between the topics and the commands (demo users, what the phase is connected to).
    pub notes: &'a [String],
    /// Copy-paste commands; `{base}` is replaced by the server's base URL.
    pub try_it: &'a [&'a str],
}

impl fmt::Display for Tour<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = format!("http://{}", self.address);
        writeln!(f, "{}", self.title)?;
        writeln!(f, "listening on {base}  (Ctrl-C stops)")?;
        writeln!(f)?;
        writeln!(f, "topics:")?;
        for (id, topic, path) in self.topics {
            writeln!(f, "  {id:<4} {topic:<36} {path}")?;
        }
        writeln!(f)?;
        for note in self.notes {
            writeln!(f, "{note}")?;
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
        }
        writeln!(f, "try:")?;
        for line in self.try_it {
            writeln!(f, "  {}", line.replace("{base}", &base))?;
        }
        Ok(())
    }
}
