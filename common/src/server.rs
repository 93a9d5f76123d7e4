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
/// all inside the [`Conventions`] middleware.
macro_rules! app {
    ($manifest:expr, $openapi:expr, $methods:expr, $configure:expr) => {{
        let (manifest, openapi, methods) = ($manifest, $openapi, $methods.clone());
        App::new()
            .app_data(web::Data::from(methods.clone()))
            .configure(|cfg| manifest.routes(cfg))
            .configure(|cfg| crate::openapi::swagger_ui(cfg, openapi))
            .configure($configure.clone())
            .default_service(web::to(not_found))
            .wrap(Conventions::new(methods))
    }};
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
    actix_web::test::init_service(app!(manifest, openapi, methods, configure)).await
}

/// Serves `configure`'s routes on `listener`, documented by `openapi` and described by `manifest`.
/// The returned server runs when awaited or spawned; [`run_until_stopped`] adds graceful shutdown
/// on Ctrl-C, `Server::handle()` stops it from code.
pub fn serve<F>(
    listener: TcpListener,
    manifest: &'static Manifest,
    openapi: OpenApi,
    configure: F,
) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    serve_with_workers(listener, manifest, openapi, None, configure)
}

/// [`serve`] with `workers` worker threads (each its own event loop) instead of one per core.
pub fn serve_with_workers<F>(
    listener: TcpListener,
    manifest: &'static Manifest,
    openapi: OpenApi,
    workers: Option<usize>,
    configure: F,
) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let openapi = crate::openapi::complete(openapi, manifest);
    let methods = method_table(&openapi);
    let mut server = HttpServer::new(move || app!(manifest, openapi.clone(), methods, configure));
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    let server = server
        .listen(listener)?
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        // actix would treat Ctrl-C (SIGINT) as a forced stop; `run_until_stopped` makes it graceful.
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
    /// [`Application::run_until_stopped`] waits for it after the server has stopped.
    background: Vec<tokio::task::JoinHandle<()>>,
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
        let address = listener.local_addr()?;
        let server = serve_with_workers(listener, manifest, openapi, workers, configure)?;
        Ok(Self {
            server,
            address,
            manifest,
            notes,
            background: Vec::new(),
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

    /// Serves until Ctrl-C or SIGTERM, then stops gracefully.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        run_until_stopped(self.server).await?;
        for task in self.background {
            if let Err(err) = task.await {
                tracing::error!("a background task failed: {err}");
            }
        }
        Ok(())
    }
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
        "nothing lives at {}",
        req.path()
    )))
}
