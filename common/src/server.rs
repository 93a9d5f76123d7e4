//! How every crate is served: one app assembly, graceful shutdown.
//!
//! A crate describes its routes in a `configure(&mut web::ServiceConfig)` closure (Flask's
//! `register_blueprint`, in spirit), its topics in a [`Manifest`] and its contract in an OpenAPI
//! document. [`serve`] adds what every crate shares: `GET /` (the index), `/openapi.json` and
//! Swagger UI at `/docs/`, a 404 problem for unknown paths, and the [`Conventions`] middleware
//! (request ids, access log, HEAD/OPTIONS/405 from the document, problem+json for every error).
//! The binary, the tests and the grader all start a crate through it, so they all see the same app.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::{App, HttpServer, web};
use utoipa::openapi::OpenApi;

use crate::error::ApiError;
use crate::manifest::Manifest;
use crate::methods::MethodTable;
use crate::middleware::Conventions;

/// How long in-flight requests may take to finish after Ctrl-C before the server stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The app every crate serves: the shared routes first (a crate that wraps all of its own in one
/// `web::scope("")` would otherwise hide them), then the crate's, then a 404 problem for the rest,
/// all inside the [`Conventions`] middleware, and that inside the error tracker's when there is one.
macro_rules! app {
    ($manifest:expr, $openapi:expr, $methods:expr, $options:expr, $configure:expr) => {{
        let (manifest, openapi, methods, options) =
            ($manifest, $openapi, $methods.clone(), $options);
        App::new()
            .app_data(web::Data::from(methods.clone()))
            .app_data(web::Data::new(options.stopping.clone()))
            .configure(|cfg| manifest.routes(cfg))
            .configure(|cfg| crate::openapi::swagger_ui(cfg, openapi))
            .configure(|cfg| options.routes(cfg))
            .configure($configure.clone())
            .default_service(web::to(not_found))
            .wrap(Conventions::new(methods, options))
            .wrap(options.error_tracker())
    }};
}

/// What a crate switches on for production, beyond its routes: each is one field. `Default` is
/// none of them, one worker per core, and no drain.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Worker threads (each its own event loop); one per core when `None`.
    pub workers: Option<usize>,
    /// After Ctrl-C or SIGTERM, how long to keep serving (with `/health/ready` answering 503)
    /// before the listener closes, so that a load balancer has time to stop sending.
    pub drain: Duration,
    /// `GET /metrics`, and every request counted and timed (see [`crate::metrics`]).
    #[cfg(feature = "metrics")]
    pub metrics: Option<crate::metrics::HttpMetrics>,
    /// `GET /health/live` and `GET /health/ready` over these probes (see [`crate::health`]).
    #[cfg(feature = "health")]
    pub health: Option<crate::health::Health>,
    /// 500s and panics sent to Sentry (see [`crate::tracking`]).
    #[cfg(feature = "error-tracking")]
    pub error_tracking: Option<crate::tracking::ErrorTracking>,
    /// Each connection's kernel send buffer, in bytes, fixed; Linux's own grows it (up to
    /// `net.ipv4.tcp_wmem`'s maximum, megabytes on loopback) as a connection sends. A server
    /// that must notice a client that has stopped reading (the chat's slow WebSocket clients)
    /// fixes it, so that a few kilobytes, not megabytes, sit in the kernel for it.
    pub send_buffer: Option<usize>,
    /// Set when the server starts shutting down. The default is a new flag; a crate that
    /// gives its own can also read it (a background worker that should stop taking work).
    pub stopping: Stopping,
}

impl ServeOptions {
    /// The routes the options bring.
    #[cfg_attr(
        not(any(feature = "metrics", feature = "health")),
        expect(clippy::unused_self, reason = "the routes come with features")
    )]
    fn routes(&self, _cfg: &mut web::ServiceConfig) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.routes(_cfg);
        }
        #[cfg(feature = "health")]
        if let Some(health) = &self.health {
            health.routes(_cfg);
        }
    }

    /// `openapi` with the routes the options bring.
    #[cfg_attr(
        not(any(feature = "metrics", feature = "health")),
        expect(clippy::unused_self, reason = "the routes come with features")
    )]
    fn document(&self, openapi: OpenApi) -> OpenApi {
        #[cfg(any(feature = "metrics", feature = "health"))]
        let mut openapi = openapi;
        #[cfg(feature = "metrics")]
        if self.metrics.is_some() {
            openapi.merge(crate::metrics::HttpMetrics::document());
        }
        #[cfg(feature = "health")]
        if self.health.is_some() {
            openapi.merge(crate::health::Health::document());
        }
        openapi
    }

    /// The error tracker's middleware, switched on when there is a tracker.
    #[cfg(feature = "error-tracking")]
    fn error_tracker(&self) -> actix_web::middleware::Condition<sentry_actix::Sentry> {
        let tracker = self.error_tracking.as_ref();
        actix_web::middleware::Condition::new(
            tracker.is_some(),
            tracker.map_or_else(sentry_actix::Sentry::new, |tracker| tracker.middleware()),
        )
    }

    /// Without the feature, a middleware that is never switched on: one branch a request.
    #[cfg(not(feature = "error-tracking"))]
    #[expect(clippy::unused_self, reason = "the tracker comes with a feature")]
    fn error_tracker(
        &self,
    ) -> actix_web::middleware::Condition<actix_web::middleware::DefaultHeaders> {
        actix_web::middleware::Condition::new(false, actix_web::middleware::DefaultHeaders::new())
    }
}

/// Whether the server has been told to stop: `/health/ready` then answers 503, and every response
/// closes its connection, so that clients reconnect (to another instance) instead of sending more
/// on a connection about to close.
#[derive(Debug, Clone, Default)]
pub struct Stopping(Arc<(AtomicBool, tokio::sync::Notify)>);

impl Stopping {
    pub fn is_stopping(&self) -> bool {
        self.0.0.load(Ordering::Acquire)
    }

    /// Returns once the server has begun to shut down (at once if it has): for work that
    /// should end then, such as a WebSocket telling its client to reconnect.
    pub async fn stopped(&self) {
        let notified = self.0.1.notified();
        tokio::pin!(notified);
        // Registered before the flag is read: a `start` in between still wakes it.
        notified.as_mut().enable();
        if !self.is_stopping() {
            notified.await;
        }
    }

    fn start(&self) {
        self.0.0.store(true, Ordering::Release);
        self.0.1.notify_waiters();
    }
}

/// The methods each documented path answers, read from the completed document.
fn method_table(openapi: &OpenApi) -> Arc<MethodTable> {
    Arc::new(
        MethodTable::from_openapi(openapi)
            .with("/openapi.json", &[Method::GET])
            .with("/docs", &[Method::GET])
            .with("/docs/{_:.*}", &[Method::GET]),
    )
}

/// The app that [`serve`] serves, as a service in this process, without a socket: what
/// `actix_web::test::init_service` makes of it, for tests that call the app the way Starlette's
/// `TestClient` does (`actix_web::test::call_service`).
pub async fn test_service<F>(
    manifest: &'static Manifest,
    openapi: OpenApi,
    configure: F,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
>
where
    F: Fn(&mut web::ServiceConfig) + Clone + 'static,
{
    let openapi = crate::openapi::complete(openapi, manifest);
    let methods = method_table(&openapi);
    let options = &ServeOptions::default();
    actix_web::test::init_service(app!(manifest, openapi, methods, options, configure)).await
}

/// Serves `configure`'s routes on `listener`, documented by `openapi` and described by `manifest`.
/// The returned server runs when awaited or spawned; [`Application::run_with_tour`] adds
/// graceful shutdown on Ctrl-C, `Server::handle()` stops it from code.
pub fn serve<F>(
    listener: TcpListener,
    manifest: &'static Manifest,
    openapi: OpenApi,
    configure: F,
) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    serve_with(
        listener,
        manifest,
        openapi,
        &ServeOptions::default(),
        configure,
    )
}

/// [`serve`] with `options`: workers, drain, and what production adds (metrics, health, error
/// tracking).
pub fn serve_with<F>(
    listener: TcpListener,
    manifest: &'static Manifest,
    openapi: OpenApi,
    options: &ServeOptions,
    configure: F,
) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let openapi = options.document(crate::openapi::complete(openapi, manifest));
    let methods = method_table(&openapi);
    let shared = options.clone();
    let mut server = HttpServer::new(move || {
        let options = &shared;
        app!(manifest, openapi.clone(), methods, options, configure)
    });
    if let Some(workers) = options.workers {
        server = server.workers(workers);
    }
    if let Some(bytes) = options.send_buffer {
        server = server.on_connect(move |connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Err(err) = socket2::SockRef::from(tcp).set_send_buffer_size(bytes)
            {
                tracing::warn!("cannot set a connection's send buffer: {err}");
            }
        });
    }
    let server = server
        .listen(listener)?
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        // actix would treat Ctrl-C (SIGINT) as a forced stop; `run_with_tour` makes it graceful.
        .disable_signals()
        .run();
    Ok(server)
}

/// A crate's app, listening: what its binary runs, and what its tests and the grader start. Each
/// crate's library builds one from its configuration (zero-to-production's `Application::build`).
pub struct Application {
    server: Server,
    address: SocketAddr,
    manifest: &'static Manifest,
    notes: Vec<String>,
    /// Work that runs beside the server and stops on the same signal (phase 5's job worker):
    /// [`Application::run_with_tour`] waits for it after the server has stopped.
    background: Vec<tokio::task::JoinHandle<()>>,
    stopping: Stopping,
    drain: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("package", &self.manifest.package)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Serves `configure` on `listener` (see [`serve`]); `notes` are the tour's lines about this
    /// instance (demo users, which stores it uses).
    pub fn new<F>(
        listener: TcpListener,
        manifest: &'static Manifest,
        openapi: OpenApi,
        notes: Vec<String>,
        configure: F,
    ) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        Self::with_workers(listener, manifest, openapi, notes, None, configure)
    }

    /// [`Application::new`] with `workers` worker threads instead of one per core.
    pub fn with_workers<F>(
        listener: TcpListener,
        manifest: &'static Manifest,
        openapi: OpenApi,
        notes: Vec<String>,
        workers: Option<usize>,
        configure: F,
    ) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let options = ServeOptions {
            workers,
            ..ServeOptions::default()
        };
        Self::with_options(listener, manifest, openapi, notes, options, configure)
    }

    /// [`Application::new`] with [`ServeOptions`]: metrics, health, error tracking, a drain.
    pub fn with_options<F>(
        listener: TcpListener,
        manifest: &'static Manifest,
        openapi: OpenApi,
        notes: Vec<String>,
        options: ServeOptions,
        configure: F,
    ) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let address = listener.local_addr()?;
        let server = serve_with(listener, manifest, openapi, &options, configure)?;
        Ok(Self {
            server,
            address,
            manifest,
            notes,
            background: Vec::new(),
            stopping: options.stopping,
            drain: options.drain,
        })
    }

    /// Also waits for `task` when stopping: a task that ends on Ctrl-C or SIGTERM itself (it
    /// awaits [`shutdown_signal`]), such as a worker finishing the jobs it holds.
    pub fn with_background(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.background.push(task);
        self
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What the binary prints when it starts.
    pub fn tour(&self) -> String {
        self.manifest.tour(self.address, &self.notes).to_string()
    }

    /// The server, to await or spawn (tests do, through `common::testing::TestServer`).
    pub fn into_server(self) -> Server {
        self.server
    }

    /// The server, and what tells it to stop as the binary does (see [`Application::stopper`]).
    pub fn into_server_with_stopper(self) -> (Server, Stopper) {
        let stopper = self.stopper();
        (self.server, stopper)
    }

    /// What stops this server the way Ctrl-C does: readiness goes down and responses close their
    /// connections, then after the drain the listener closes and the requests in flight finish.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            handle: self.server.handle(),
            stopping: self.stopping.clone(),
            drain: self.drain,
        }
    }

    /// Prints the tour, then serves until Ctrl-C or SIGTERM and stops gracefully (see
    /// [`Stopper::stop`]): what a binary's `main` ends with. The signals are caught before the tour
    /// is printed, so a signal from whoever read it (a test, a supervisor) stops the server
    /// gracefully instead of killing the process.
    pub async fn run_with_tour(self) -> io::Result<()> {
        let signals = Signals::catch()?;
        println!("{}", self.tour());
        self.run_until(signals).await
    }

    async fn run_until(self, mut signals: Signals) -> io::Result<()> {
        let stopper = self.stopper();
        tokio::spawn(async move {
            signals.recv().await;
            let forced = stopper.clone();
            tokio::select! {
                () = stopper.stop() => {}
                // A second Ctrl-C, during a drain or a slow request: stop now.
                () = signals.recv() => {
                    tracing::warn!("a second signal: stopping without waiting for the requests in flight");
                    forced.force().await;
                }
            }
        });
        self.server.await?;
        for task in self.background {
            if let Err(err) = task.await {
                tracing::error!("a background task failed: {err}");
            }
        }
        Ok(())
    }
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, caught from the moment [`Signals::catch`] returns:
/// until then either would end the process at once.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn catch() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the next of them.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Stops a server gracefully, in three steps (what Kubernetes expects of a pod it terminates):
/// 1. [`Stopping`] is set: `/health/ready` answers 503 and every response closes its connection;
/// 2. for the drain, the server goes on serving, so that a load balancer that polls readiness
///    stops sending before anything is refused;
/// 3. the listener closes (new connections are refused) and the requests in flight get up to
///    5 s to finish.
///
/// A second Ctrl-C or SIGTERM, during the drain or the wait, stops the server at once.
#[derive(Debug, Clone)]
pub struct Stopper {
    handle: actix_web::dev::ServerHandle,
    stopping: Stopping,
    drain: Duration,
}

impl Stopper {
    pub async fn stop(&self) {
        self.stopping.start();
        if !self.drain.is_zero() {
            tracing::info!(
                drain_ms = self.drain.as_millis() as u64,
                "shutting down: draining, with /health/ready answering 503"
            );
            tokio::time::sleep(self.drain).await;
        }
        tracing::info!("shutting down: finishing the requests in flight");
        self.handle.stop(true).await;
    }

    /// Stops at once: the connections are closed, requests in flight or not.
    pub async fn force(&self) {
        self.handle.stop(false).await;
    }
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
        "nothing lives at {}",
        req.path()
    )))
}
