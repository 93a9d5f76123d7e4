//! Error tracking with Sentry (feature `error-tracking`): every 500 and every panic becomes an event
//! at the configured DSN, carrying the request, the release, the environment and the request id.
//!
//! Phase 7 (topic 7.3) teaches it; this module is the machinery any crate switches on in its
//! [`ServeOptions`](crate::server::ServeOptions). Three pieces:
//!
//! - [`options`] makes the client's options: the workspace's reqwest (rustls, no OpenSSL) carries
//!   the envelopes, and [`scrub`] removes what must never leave the process before an event is
//!   sent: credentials and cookies in headers, the query string, the body.
//! - [`ErrorTracking`] is the hub an app reports to: the process's (after `sentry::init`, in a
//!   binary) or one of its own (a test, the grader), and the `sentry-actix` middleware around the
//!   app, which gives each request a scope with the request in it and the matched route as the
//!   event's transaction.
//! - [`Conventions`](crate::middleware::Conventions) reports: it tags each request's scope with its
//!   request id, sends the cause of a 500 ([`capture`]), and, when a handler panics, answers a 500
//!   problem instead of dropping the connection; sentry's panic hook has already sent the panic.
//!
//! Python's `sentry-sdk` does the same with `sentry_sdk.init(dsn=..., integrations=[
//! FastApiIntegration()])`: a global client, request data from the framework, and a scrubber
//! (`send_default_pii=False`, `before_send`).

use std::sync::Arc;

use sentry::protocol::Event;
use sentry::transports::ReqwestHttpTransportOptions;
use sentry::types::{Dsn, Uuid};
use sentry::{ClientOptions, Hub, Transport, TransportFactory, TransportOptions};

/// The request headers an event may carry; every other header is dropped, whatever its name
/// (a custom `X-Api-Key` is as secret as `Authorization`).
const KEPT_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "content-length",
    "content-type",
    "host",
    "user-agent",
];

/// What the client is told about this process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where events go: `https://KEY@o0.ingest.sentry.io/PROJECT`, or a local receiver.
    pub dsn: Dsn,
    /// `production`, `staging`, `development`: events are filtered by it.
    pub environment: String,
    /// The build that is running, `package@version` (`sentry::release_name!()`).
    pub release: String,
}

/// The client's options for `settings`: a transport over the workspace's reqwest, no personal data,
/// stack traces on every event, and [`scrub`] before anything is sent.
pub fn options(settings: &Settings) -> ClientOptions {
    // `ClientOptions` is non-exhaustive: it is changed field by field.
    let mut options = ClientOptions::default();
    options.dsn = Some(settings.dsn.clone());
    options.environment = Some(settings.environment.clone().into());
    options.release = Some(settings.release.clone().into());
    options.send_default_pii = false;
    options.attach_stacktrace = true;
    options.max_request_body_size = sentry::MaxRequestBodySize::None;
    options.before_send = Some(Arc::new(|event| Some(scrub(event))));
    // A tracker that stops answering must not hold the transport's queue for ever.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    options.transport = Some(Arc::new(WorkspaceTransport(client)));
    options
}

/// Sentry's reqwest transport, given the workspace's client instead of building its own.
struct WorkspaceTransport(reqwest::Client);

impl TransportFactory for WorkspaceTransport {
    fn create_transport_with_options(&self, options: TransportOptions) -> Arc<dyn Transport> {
        Arc::new(
            ReqwestHttpTransportOptions::from(options)
                .with_client(self.0.clone())
                .build(),
        )
    }
}

/// Removes from an event's request what must not leave the process: every header not in
/// [`KEPT_HEADERS`], cookies, the query string (in the URL too), the body and the environment.
/// `send_default_pii = false` already drops `Authorization` and `Cookie`; this also drops what it
/// cannot know is secret. It does not read the exception's text: a cause that quotes a secret (an
/// error message with a URL and its password in it) must not be written that way in the first
/// place (`common::config::SecretUrl` prints itself redacted).
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = event.request.as_mut() {
        request
            .headers
            .retain(|name, _| KEPT_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        request.cookies = None;
        request.query_string = None;
        request.data = None;
        request.env.clear();
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
    }
    event
}

/// Where an app's events go, and the middleware that gives each request its scope.
#[derive(Clone)]
pub struct ErrorTracking {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for ErrorTracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dsn = self.hub.client().and_then(|client| {
            client
                .dsn()
                .map(|dsn| format!("{}:{}", dsn.host(), dsn.port()))
        });
        f.debug_struct("ErrorTracking")
            .field("sends_to", &dsn)
            .finish()
    }
}

impl ErrorTracking {
    /// The process's hub, which `sentry::init` (at the top of `main`, before any thread starts)
    /// bound to its client.
    pub fn global() -> Self {
        Self { hub: Hub::main() }
    }

    /// A hub of its own, for an app in a process that hosts others (a test, the grader): its
    /// events go to `settings.dsn`, whatever the process's hub does.
    pub fn for_app(settings: &Settings) -> Self {
        let client = sentry::Client::from(sentry::apply_defaults(options(settings)));
        Self {
            hub: Arc::new(Hub::new(
                Some(Arc::new(client)),
                Arc::new(sentry::Scope::default()),
            )),
        }
    }

    /// The middleware that opens each request's scope. `Conventions` reports the 500s (with the
    /// cause it keeps), so sentry-actix is told not to report them a second time.
    pub(crate) fn middleware(&self) -> sentry_actix::Sentry {
        sentry_actix::Sentry::builder()
            .with_hub(self.hub.clone())
            .capture_server_errors(false)
            .finish()
    }
}

/// Tags the request's scope with its id, so that the event and the log lines can be joined.
pub(crate) fn tag_request(id: crate::RequestId) {
    sentry::configure_scope(|scope| scope.set_tag("request_id", id));
}

/// Sends `error`, the cause of a 500, as an event of the request's scope; its id, when a client
/// took it.
pub(crate) fn capture(error: &(dyn std::error::Error + 'static)) -> Option<Uuid> {
    let mut id = None;
    Hub::with_active(|hub| id = Some(hub.capture_error(error)));
    id.filter(|id| !id.is_nil())
}

/// The id of the event sentry's panic hook sent for the panic being handled.
pub(crate) fn panic_event() -> Option<Uuid> {
    sentry::last_event_id()
}

/// A stand-in for Sentry on `127.0.0.1`, for tests and the grader: it takes envelopes at
/// `POST /api/{project}/envelope/`, the DSN `http://public@127.0.0.1:PORT/1` points at it, and it
/// keeps what it got, as sent and as events.
#[derive(Debug)]
pub struct Receiver {
    server: crate::testing::TestServer,
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1, on the current Tokio runtime.
    pub fn start() -> std::io::Result<Self> {
        use actix_web::{App, HttpResponse, HttpServer, web};

        let received: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let store = received.clone();
        let server = crate::testing::TestServer::start(move |listener| {
            Ok(HttpServer::new(move || {
                let store = store.clone();
                App::new().route(
                    "/api/{project}/envelope/",
                    web::post().to(move |body: web::Bytes| {
                        let store = store.clone();
                        async move {
                            store
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(String::from_utf8_lossy(&body).into_owned());
                            HttpResponse::Ok().json(serde_json::json!({}))
                        }
                    }),
                )
            })
            .workers(1)
            .listen(listener)?
            .disable_signals()
            .run())
        })?;
        Ok(Self { server, received })
    }

    /// The DSN that sends here.
    pub fn dsn(&self) -> Dsn {
        format!("http://public@{}/1", self.server.address())
            .parse()
            .unwrap_or_else(|err| unreachable!("a local DSN always parses: {err}"))
    }

    /// Every envelope received, as sent.
    pub fn envelopes(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every event received, as JSON.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.envelopes()
            .iter()
            .flat_map(|envelope| events_in(envelope))
            .collect()
    }

    /// Waits up to `timeout` for an event that `wanted` picks, and returns it.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.events().into_iter().find(|event| wanted(event)) {
                return Some(event);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The line of a JSON `log` that carries `event`'s id (`sentry_event_id`; Sentry writes ids
/// without hyphens, a `Uuid` prints them with): how a log line and an error are joined.
pub fn line_of_event<'l>(
    log: &'l [serde_json::Value],
    event: &serde_json::Value,
) -> Option<&'l serde_json::Value> {
    let event_id = event["event_id"].as_str()?.replace('-', "");
    log.iter().find(|line| {
        line["sentry_event_id"]
            .as_str()
            .is_some_and(|id| id.replace('-', "") == event_id)
    })
}

/// The events in an envelope: a header line, then for each item a header line and its payload,
/// `length` bytes long when the header says so, else up to the next newline.
fn events_in(envelope: &str) -> Vec<serde_json::Value> {
    let mut rest = envelope.split_once('\n').map_or("", |(_, items)| items);
    let mut events = Vec::new();
    while let Some((header, after)) = rest.split_once('\n') {
        let Ok(header) = serde_json::from_str::<serde_json::Value>(header) else {
            break;
        };
        let length = header["length"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok());
        let (payload, next) = match length {
            Some(n) if n <= after.len() && after.is_char_boundary(n) => {
                let (payload, next) = after.split_at(n);
                (payload, next.strip_prefix('\n').unwrap_or(next))
            }
            _ => after.split_once('\n').unwrap_or((after, "")),
        };
        if header["type"] == "event"
            && let Ok(event) = serde_json::from_str(payload)
        {
            events.push(event);
        }
        rest = next;
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Map, Request};

    #[test]
    fn an_envelope_is_read_item_by_item_with_or_without_a_length() {
        let envelope = concat!(
            "{\"event_id\":\"a\"}\n",
            "{\"type\":\"attachment\",\"length\":7}\n",
            "two\nlns\n",
            "{\"type\":\"event\"}\n",
            "{\"message\":\"first\"}\n",
            "{\"type\":\"event\",\"length\":20}\n",
            "{\"message\":\"second\"}",
        );
        let events = events_in(envelope);
        let messages: Vec<&str> = events
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn nothing_secret_survives_the_scrubber() {
        let mut headers = Map::new();
        for (name, value) in [
            ("Authorization", "Bearer eyJ.secret.token"),
            ("Cookie", "session=s3cret"),
            ("X-Api-Key", "k3y"),
            ("User-Agent", "curl/8"),
        ] {
            headers.insert(name.to_owned(), value.to_owned());
        }
        let event = Event {
            request: Some(Request {
                url: "http://127.0.0.1:8007/tasks?password=hunter2".parse().ok(),
                query_string: Some("password=hunter2".to_owned()),
                cookies: Some("session=s3cret".to_owned()),
                data: Some(r#"{"password":"hunter2"}"#.to_owned()),
                headers,
                ..Request::default()
            }),
            ..Event::default()
        };
        let sent = serde_json::to_string(&scrub(event)).expect("an event serializes");
        for secret in ["eyJ.secret.token", "s3cret", "k3y", "hunter2"] {
            assert!(!sent.contains(secret), "{secret} in {sent}");
        }
        assert!(sent.contains("curl/8") && sent.contains("/tasks"), "{sent}");
    }
}
