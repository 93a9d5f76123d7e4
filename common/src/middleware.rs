//! [`Conventions`]: the one middleware every crate runs around its routes.
//!
//! What phase 1 teaches, every crate practises, because this middleware does it once for all:
//!
//! - **a request id and a log line:** each request gets a [`RequestId`] (in its tracing span, so
//!   every line logged while serving it carries it, and in its extensions for handlers that take
//!   it), and one access line when it ends: method, path, status, latency;
//! - **the query string:** a parameter the route does not document is a `400` naming it;
//! - **HTTP methods:** `HEAD` is served as `GET`; `OPTIONS` and a method the path lacks answer `204`
//!   or `405` with `Allow`, from the crate's [`MethodTable`];
//! - **one shape for every error:** every 4xx and 5xx leaves as `application/problem+json`
//!   (RFC 9457) with `instance` filled in, whoever produced it: our handlers, actix's extractors and
//!   router, other middleware, and a handler that panics (a 500, where actix would drop the
//!   connection). Flask does this with `@app.errorhandler(HTTPException)`, FastAPI with
//!   `@app.exception_handler(...)`. The cause of a 5xx goes to the log, never to the client.
//!
//! With [`ServeOptions`] it also counts and times each request (`metrics`), tags its error-tracking
//! scope with its id and sends the cause of a 500 (`error-tracking`), and, once the server is
//! stopping, closes each connection after its response.
//!
//! It is one hand-written [`Transform`] rather than three `from_fn` layers, because it runs on every
//! request: on the success path it adds an id, two clock readings and, when the log level lets
//! them through, a span and a line; everything else happens only on an error response or a query
//! string. It costs about a thousand instructions a request, some 3 % of what phase 1 spends on a
//! `GET /books/1` in user space (`valgrind --tool=callgrind`; the README's performance section).

use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::{InternalError, JsonPayloadError, PayloadError, UrlencodedError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use tracing::Instrument;

use crate::error::ApiError;
use crate::methods::MethodTable;
use crate::problem::{CONTENT_TYPE, Problem};
use crate::server::{ServeOptions, Stopping};

/// A request's id: unique within the process, cheap to make, printed as 16 hex digits. Handlers
/// take it as an extractor (`async fn f(id: RequestId)`); logs carry it as `request_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(u64);

impl RequestId {
    /// The next id: a counter, scrambled by a bijection (SplitMix64's finaliser) seeded per process,
    /// so ids look random, never repeat within a process, and differ between runs.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static SEED: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        });
        let mut z = SEED.wrapping_add(
            NEXT.fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self(z ^ (z >> 31))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    /// The id [`Conventions`] gave the request; a new one where it is not mounted (a unit test).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<RequestId>()
            .copied()
            .unwrap_or_else(RequestId::next)))
    }
}

/// The middleware; see the module's documentation. [`crate::server::serve`] mounts it.
#[derive(Debug, Clone)]
pub struct Conventions {
    methods: Arc<MethodTable>,
    stopping: Stopping,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::HttpMetrics>,
    /// Whether an error tracker is mounted, so that requests are tagged only when one is.
    #[cfg(feature = "error-tracking")]
    tracking: bool,
}

impl Conventions {
    /// The middleware for the routes in `methods`, with what `options` switch on.
    pub fn new(methods: Arc<MethodTable>, options: &ServeOptions) -> Self {
        Self {
            methods,
            stopping: options.stopping.clone(),
            #[cfg(feature = "metrics")]
            metrics: options.metrics.clone(),
            #[cfg(feature = "error-tracking")]
            tracking: options.error_tracking.is_some(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Conventions
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ConventionsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ConventionsService {
            service,
            conventions: self.clone(),
        }))
    }
}

/// [`Conventions`] around one worker's app.
/// Left in a request's extensions when the client sent HEAD, which is routed as GET.
#[derive(Debug, Clone, Copy)]
struct AskedForHead;

/// Whether the client sent HEAD: the handler runs as for GET (and the body is not sent), so one
/// that counts something (a visit) asks this to leave a HEAD out.
pub fn asked_for_head(req: &HttpRequest) -> bool {
    req.extensions().contains::<AskedForHead>()
}

#[derive(Debug)]
pub struct ConventionsService<S> {
    service: S,
    conventions: Conventions,
}

impl<S, B> Service<ServiceRequest> for ConventionsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::next();
        req.extensions_mut().insert(id);
        #[cfg(feature = "error-tracking")]
        if self.conventions.tracking {
            crate::tracking::tag_request(id);
        }
        let method = req.method().clone();
        // HEAD is GET without the body: route it as GET. The connection remembers that the client
        // asked for HEAD and sends the headers only.
        if method == Method::HEAD {
            req.head_mut().method = Method::GET;
            req.extensions_mut().insert(AskedForHead);
        }
        #[cfg(feature = "metrics")]
        let in_flight = self
            .conventions
            .metrics
            .as_ref()
            .map(crate::metrics::HttpMetrics::start);
        // The route the request matches, looked up once (it walks the router again) and only
        // for whoever needs it: the metrics, and the JSON log's span.
        let span_wants_route =
            crate::telemetry::json_logs() && tracing::enabled!(tracing::Level::INFO);
        #[cfg(feature = "metrics")]
        let wants_route = span_wants_route || in_flight.is_some();
        #[cfg(not(feature = "metrics"))]
        let wants_route = span_wants_route;
        let route = if wants_route {
            req.match_pattern()
        } else {
            None
        };
        let span = request_span(&req, id, &method, route.as_deref());
        let end = End {
            // Kept for an error that escapes as `Err`, which carries no request (the request
            // itself cannot be kept: routing needs it unshared). Cloning a `Uri` copies no bytes.
            uri: req.uri().clone(),
            method,
            started,
            stopping: self.conventions.stopping.clone(),
            #[cfg(feature = "metrics")]
            measured: in_flight.map(|in_flight| (in_flight, route)),
        };
        let methods = self.conventions.methods.clone();
        // A query parameter the route does not document: refused before any handler runs, so
        // that a typo (`?pagesize=3`) is never silently ignored (the policy is in `extract`).
        if !req.query_string().is_empty()
            && let Some(unknown) =
                methods.unknown_query_parameters(req.path(), req.method(), req.query_string())
        {
            let refusal =
                HttpResponse::from_error(crate::extract::unknown_query_parameters(unknown));
            let mut response = finish_error(refusal, None, &end.uri, &end.method, &methods);
            span.in_scope(|| end.finish(&mut response));
            let (request, _) = req.into_parts();
            let response = ServiceResponse::new(request, response).map_into_right_body();
            return Box::pin(std::future::ready(Ok(response)));
        }
        let call = span.in_scope(|| self.service.call(req));
        Box::pin(
            async move {
                // A panic in a handler would drop the connection without an answer: it is caught
                // here and answered as a 500 (the worker thread goes on serving).
                let response = match AssertUnwindSafe(call).catch_unwind().await {
                    Ok(Ok(response)) => response,
                    // A middleware's refusal (an auth check, a rate limit): rendered here, so it
                    // is a problem with an `instance` too, and logged like any other answer.
                    Ok(Err(err)) => {
                        let mut response = finish_error(
                            err.error_response(),
                            Some(&err),
                            &end.uri,
                            &end.method,
                            &methods,
                        );
                        end.finish(&mut response);
                        return Err(InternalError::from_response(err, response).into());
                    }
                    Err(panic) => {
                        let mut response = panicked(panic.as_ref(), &end.uri);
                        end.finish(&mut response);
                        return Err(
                            InternalError::from_response("a handler panicked", response).into()
                        );
                    }
                };
                let status = response.status();
                if status.is_client_error() || status.is_server_error() {
                    let (request, response) = response.into_parts();
                    let mut response = finish_error(
                        response.map_into_boxed_body(),
                        None,
                        &end.uri,
                        &end.method,
                        &methods,
                    );
                    end.finish(&mut response);
                    Ok(ServiceResponse::new(request, response).map_into_right_body())
                } else {
                    let mut response = response;
                    end.finish(response.response_mut());
                    Ok(response.map_into_left_body())
                }
            }
            .instrument(span),
        )
    }
}

/// What is done when a request has its answer, whichever way it came: the access line, the
/// metrics, and `Connection: close` once the server is stopping.
struct End {
    method: Method,
    uri: actix_web::http::Uri,
    started: Instant,
    stopping: Stopping,
    /// The request's in-flight guard and the route it matched, when metrics are on.
    #[cfg(feature = "metrics")]
    measured: Option<(crate::metrics::InFlight, Option<String>)>,
}

impl End {
    fn finish<B>(self, response: &mut HttpResponse<B>) {
        let status = response.status();
        if self.stopping.is_stopping() {
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        #[cfg(feature = "metrics")]
        if let Some((in_flight, route)) = self.measured {
            in_flight.finish(&self.method, route.as_deref(), status);
        }
        access_log(&self.method, &self.uri, status, self.started);
    }
}

/// The answer to a request whose handler panicked: a 500 problem, and a log line with the panic's
/// message (and the id of the event sentry's panic hook sent, when it did).
fn panicked(panic: &(dyn std::any::Any + Send), uri: &actix_web::http::Uri) -> HttpResponse {
    let message = crate::telemetry::panic_message(panic);
    #[cfg(feature = "error-tracking")]
    let event = crate::tracking::panic_event().map(|id| id.to_string());
    #[cfg(not(feature = "error-tracking"))]
    let event: Option<String> = None;
    tracing::error!(
        path = uri.path(),
        panic = message,
        sentry_event_id = event.as_deref(),
        "a request handler panicked"
    );
    let problem = Problem {
        instance: Some(uri.path().to_owned()),
        ..Problem::from_status(StatusCode::INTERNAL_SERVER_ERROR)
    };
    render(HttpResponse::InternalServerError().finish(), problem)
}

/// The span every line logged while serving the request sits in. People get a short one; a log
/// collector (`--log-format json`) gets the OpenTelemetry HTTP fields as well.
fn request_span(
    req: &ServiceRequest,
    id: RequestId,
    method: &Method,
    route: Option<&str>,
) -> tracing::Span {
    if !tracing::enabled!(tracing::Level::INFO) {
        return tracing::Span::none();
    }
    if crate::telemetry::json_logs() {
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let client = req.peer_addr().map(|peer| peer.ip().to_string());
        tracing::info_span!(
            "request",
            request_id = %id,
            "http.request.method" = %method,
            "url.path" = req.path(),
            "http.route" = route.unwrap_or(""),
            "user_agent.original" = user_agent,
            "client.address" = client.as_deref().unwrap_or(""),
            "otel.kind" = "server",
        )
    } else {
        tracing::info_span!("request", request_id = %id)
    }
}

/// One line a request, at `info` (`warn` for a 5xx, whose cause has its own line at `error`).
fn access_log(method: &Method, uri: &actix_web::http::Uri, status: StatusCode, started: Instant) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let path = uri.path();
    let code = status.as_u16();
    match (status.is_server_error(), crate::telemetry::json_logs()) {
        (false, true) => tracing::info!(%method, path, status = code, latency_ms, "request"),
        (true, true) => tracing::warn!(%method, path, status = code, latency_ms, "request"),
        (false, false) => tracing::info!("{method} {path} {code} {latency_ms:.2}ms"),
        (true, false) => tracing::warn!("{method} {path} {code} {latency_ms:.2}ms"),
    }
}

/// Turns an error response into what the client sees: a 404 or 405 from the router becomes the
/// path's `OPTIONS` answer or a 405 with `Allow`; every error becomes a problem with `instance`.
/// `escaped` is the error of a response that came back as `Err`; others carry theirs.
fn finish_error(
    response: HttpResponse,
    escaped: Option<&Error>,
    uri: &actix_web::http::Uri,
    method: &Method,
    methods: &MethodTable,
) -> HttpResponse {
    let path = uri.path();
    let status = response.status();
    let routed_nowhere = matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    );
    if routed_nowhere
        && let Some(allow) = methods.allow(path)
        && (*method == Method::OPTIONS || !methods.allows(path, method))
    {
        if *method == Method::OPTIONS {
            return HttpResponse::NoContent()
                .insert_header((header::ALLOW, allow))
                .finish();
        }
        let problem = Problem {
            detail: Some(format!("{path} does not take {method}; it takes {allow}")),
            instance: Some(path.to_owned()),
            ..Problem::from_status(StatusCode::METHOD_NOT_ALLOWED)
        };
        return render(
            HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED)
                .insert_header((header::ALLOW, allow))
                .finish(),
            problem,
        );
    }

    let problem = match escaped.or(response.error()) {
        Some(err) => {
            if status.is_server_error() {
                log_server_error(path, err);
            }
            problem_for(err, status)
        }
        // An error response without an error value: a 404 from the router, or a body some handler
        // wrote by hand. A problem body already written is left alone.
        None if is_problem(&response) => return response,
        None => match status {
            StatusCode::NOT_FOUND => Problem {
                detail: Some(format!("nothing lives at {path}")),
                ..Problem::from_status(status)
            },
            _ => Problem::from_status(status),
        },
    };
    let problem = Problem {
        instance: Some(path.to_owned()),
        ..problem
    };
    render(response, problem)
}

/// `problem` as the body of `response`, whose headers that give the error meaning (`Allow`,
/// `WWW-Authenticate`, `Retry-After`, ...) are kept, and none that describe the old body.
fn render(mut response: HttpResponse, problem: Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(response.status());
    let mut rendered = HttpResponse::build(status);
    for (name, value) in response.headers_mut().drain() {
        if let Some(name) = name
            && name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
            && name != header::TRANSFER_ENCODING
        {
            rendered.append_header((name, value));
        }
    }
    rendered.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)));
    rendered.json(problem)
}

fn is_problem(response: &HttpResponse) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(CONTENT_TYPE.as_bytes()))
}

/// The cause of a 5xx, at `error`, and (with error tracking) sent as an event whose id the line
/// carries. A 5xx an API chose on purpose, without a cause (503 "not ready"), is a warning and is
/// not sent: it is not a bug.
fn log_server_error(path: &str, err: &Error) {
    match err.as_error::<ApiError>() {
        Some(api_error) => match api_error.cause() {
            // `{:#}` prints the whole chain of causes on one line, without a backtrace.
            Some(cause) => {
                #[cfg(feature = "error-tracking")]
                let event = crate::tracking::capture(cause.as_ref()).map(|id| id.to_string());
                #[cfg(not(feature = "error-tracking"))]
                let event: Option<String> = None;
                tracing::error!(
                    path,
                    error = %format_args!("{cause:#}"),
                    sentry_event_id = event.as_deref(),
                    "request failed"
                );
            }
            // Chosen, not a failure of ours (a readiness probe's 503): a warning.
            None => tracing::warn!(path, error = %err, "request refused"),
        },
        None => {
            #[cfg(feature = "error-tracking")]
            let event =
                crate::tracking::capture(&ActixError(err.to_string())).map(|id| id.to_string());
            #[cfg(not(feature = "error-tracking"))]
            let event: Option<String> = None;
            tracing::error!(path, error = %err, sentry_event_id = event.as_deref(), "request failed");
        }
    }
}

/// An actix error's text, as a `std::error::Error` to send (actix's errors are not one).
#[cfg(feature = "error-tracking")]
#[derive(Debug)]
struct ActixError(String);

#[cfg(feature = "error-tracking")]
impl std::fmt::Display for ActixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "error-tracking")]
impl std::error::Error for ActixError {}

/// The problem for an error value. Our own errors know their problem; actix's are translated, with
/// the status corrected where actix's choice is not the precise one, and in our words.
fn problem_for(err: &Error, status: StatusCode) -> Problem {
    if let Some(api_error) = err.as_error::<ApiError>() {
        return api_error.problem();
    }
    let (status, detail) = translate(err).unwrap_or((status, None));
    let mut problem = Problem::from_status(status);
    if status.is_client_error() {
        problem.detail = Some(detail.unwrap_or_else(|| err.to_string()));
    }
    problem
}

/// actix answers a wrong `Content-Type` with 400 and a body that fails to deserialize with 400; the
/// precise codes are 415 and, when the JSON is well-formed but of the wrong shape, 422. Its texts
/// name Rust's parsers; ours name what the client sent. (`common::extract`'s extractors make their
/// own errors; these are for actix's, used by the odd route that needs them.)
fn translate(err: &Error) -> Option<(StatusCode, Option<String>)> {
    if let Some(json) = err.as_error::<JsonPayloadError>() {
        return Some(match json {
            JsonPayloadError::ContentType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("the body must be application/json".to_owned()),
            ),
            JsonPayloadError::Overflow { limit }
            | JsonPayloadError::OverflowKnownLength { limit, .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(format!("the body is over {}", crate::extract::size(*limit))),
            ),
            JsonPayloadError::Deserialize(inner) if inner.is_data() => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("the body is not the object this route takes".to_owned()),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                Some("the body is not valid JSON".to_owned()),
            ),
        });
    }
    if let Some(form) = err.as_error::<UrlencodedError>() {
        return Some(match form {
            UrlencodedError::ContentType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("the body must be application/x-www-form-urlencoded".to_owned()),
            ),
            UrlencodedError::Overflow { limit, .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(format!("the body is over {}", crate::extract::size(*limit))),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                Some("the form is malformed".to_owned()),
            ),
        });
    }
    if let Some(PayloadError::Overflow) = err.as_error::<PayloadError>() {
        return Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("the body is larger than this route accepts".to_owned()),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use actix_web::body::BoxBody;
    use actix_web::{App, HttpResponse, test, web};
    use serde_json::Value;

    use super::*;

    fn methods() -> Arc<MethodTable> {
        Arc::new(
            MethodTable::default()
                .with("/json", &[Method::POST])
                .with("/only-get", &[Method::GET])
                .with("/fails", &[Method::GET])
                .with("/macro", &[Method::GET]),
        )
    }

    #[actix_web::get("/macro")]
    async fn macro_route() -> HttpResponse {
        HttpResponse::Ok().body("from the macro")
    }

    async fn call(req: test::TestRequest) -> (StatusCode, Option<String>, Option<String>, Value) {
        let app = test::init_service(
            App::new()
                .wrap(Conventions::new(methods(), &ServeOptions::default()))
                .route(
                    "/json",
                    web::post().to(|_: web::Json<Value>| async { "ok" }),
                )
                .route(
                    "/teapot",
                    web::get().to(|| async { HttpResponse::ImATeapot().body("plain text") }),
                )
                .route(
                    "/fails",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(ApiError::internal(anyhow::anyhow!("secret cause")))
                    }),
                )
                .service(macro_route)
                .service(web::resource("/only-get").route(web::get().to(|| async { "ok" }))),
        )
        .await;
        let response = test::call_service(&app, req.to_request()).await;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let content_type = header(header::CONTENT_TYPE);
        let allow = header(header::ALLOW);
        let body = test::read_body(response).await;
        (
            status,
            content_type,
            allow,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    #[actix_web::test]
    async fn errors_become_problems_with_precise_statuses() {
        let cases = [
            (
                test::TestRequest::post()
                    .uri("/json")
                    .insert_header(("content-type", "text/plain")),
                415,
            ),
            (
                test::TestRequest::post()
                    .uri("/json")
                    .insert_header(("content-type", "application/json"))
                    .set_payload("{"),
                400,
            ),
            (test::TestRequest::get().uri("/nowhere"), 404),
            (test::TestRequest::get().uri("/teapot"), 418),
        ];
        for (req, expected) in cases {
            let (status, content_type, _, body) = call(req).await;
            assert_eq!(status.as_u16(), expected, "{body}");
            assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
            assert_eq!(body["status"], expected);
            assert!(
                body["instance"]
                    .as_str()
                    .is_some_and(|i| i.starts_with('/')),
                "{body}"
            );
        }
    }

    #[actix_web::test]
    async fn a_method_the_path_lacks_is_a_405_with_allow_even_on_a_macro_route() {
        for path in ["/only-get", "/macro"] {
            let (status, content_type, allow, body) =
                call(test::TestRequest::post().uri(path)).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
            assert_eq!(allow.as_deref(), Some("GET, HEAD, OPTIONS"), "{path}");
            assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
            assert!(body["detail"].as_str().unwrap().contains("POST"), "{body}");
        }
    }

    #[actix_web::test]
    async fn options_and_head_answer_on_every_documented_path() {
        let (status, _, allow, _) = call(
            test::TestRequest::default()
                .method(Method::OPTIONS)
                .uri("/json"),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(allow.as_deref(), Some("POST, OPTIONS"));
        let (status, _, _, _) = call(
            test::TestRequest::default()
                .method(Method::HEAD)
                .uri("/macro"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _, _) = call(
            test::TestRequest::default()
                .method(Method::OPTIONS)
                .uri("/nowhere"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[actix_web::test]
    async fn a_server_error_shows_no_cause() {
        let (status, _, _, body) = call(test::TestRequest::get().uri("/fails")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret"), "{body}");
        assert_eq!(body["title"], "Internal Server Error");
    }

    #[actix_web::test]
    async fn a_refusal_from_a_middleware_keeps_its_headers_and_gets_an_instance() {
        use actix_web::middleware::{Next, from_fn};
        let app = test::init_service(
            App::new()
                .wrap(Conventions::new(methods(), &ServeOptions::default()))
                .service(
                    web::scope("/guarded")
                        .wrap(from_fn(
                            |_req: ServiceRequest, _next: Next<BoxBody>| async {
                                Err::<ServiceResponse<BoxBody>, _>(
                                    ApiError::unauthorized("Bearer", "no token").into(),
                                )
                            },
                        ))
                        .route("", web::get().to(|| async { "never" })),
                ),
        )
        .await;
        let response =
            test::try_call_service(&app, test::TestRequest::get().uri("/guarded").to_request())
                .await;
        let response = match response {
            Ok(response) => response.into_parts().1.map_into_boxed_body(),
            Err(err) => err.error_response(),
        };
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
        let body: Value = serde_json::from_slice(
            &actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(body["instance"], "/guarded");
    }

    #[actix_web::test]
    async fn a_compressed_error_is_rendered_uncompressed() {
        let app = test::init_service(
            App::new()
                .wrap(Conventions::new(methods(), &ServeOptions::default()))
                .service(
                    web::scope("/api")
                        .wrap(actix_web::middleware::Compress::default())
                        .route(
                            "/gone",
                            web::get().to(|| async {
                                Err::<HttpResponse, _>(ApiError::not_found("x".repeat(2000)))
                            }),
                        ),
                ),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/api/gone")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request();
        let response = test::call_service(&app, req).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
        assert_eq!(body["instance"], "/api/gone");
    }
}
