//! `GET /ws`: one WebSocket connection, from the handshake to its last frame.
//!
//! **Roadmap:** "WebSockets (FastAPI supports this natively)", authenticated, in rooms, kept
//! alive, and never the reason the server or another client slows down.
//!
//! **Python:** `@app.websocket("/ws")` with `await websocket.accept()`, then `while True: data =
//! await websocket.receive_json()`. Sending happens in the same coroutine, or in the
//! `ConnectionManager`'s loop over everyone; the token often arrives as `?token=` in the URL, where
//! every proxy log keeps it.
//!
//! **Rust:** actix-ws hands over the socket as two halves. This module reads one in a loop
//! ([`Connection::serve`]); a second task, the writer, owns the other and is the only one that
//! writes, taking frames from the connection's bounded [`Outbox`]. The reader never waits for the
//! socket or another client, and for the database only when it joins a room (to read what was
//! missed); a message it hands on and forgets:
//!
//! - **Authentication** comes from `Authorization: Bearer` at the handshake (refused there with
//!   401 when the token is bad), or, for browsers, which cannot set that header on a WebSocket,
//!   from the first frame, `auth`, within [`Settings::auth_within`]; otherwise the socket closes
//!   with 4401. Never from the URL, and not from a cookie: a cookie goes with every request to
//!   the host, a cross-site page's WebSocket included, and is shared by every port of it.
//! - **Heartbeats:** a ping every [`Settings::heartbeat`]; a connection that has sent nothing,
//!   not even a pong, for [`Settings::timeout`] is dropped (at most `timeout + heartbeat` after
//!   its last frame). When the server begins to shut down, each connection closes with 1001, so
//!   that its client reconnects.
//! - **A slow client** is one whose outbox fills ([`crate::fanout`]): it is closed with 4408,
//!   and its frames are dropped, not queued without end.
//! - **Messages** go to the store's queue ([`crate::store`]), after the sender's rate limit
//!   (phase 4's GCRA, per user, in Redis when there is one, so a user's limit holds across
//!   instances and connections). A `join` counts against the same limit: it reads the database.
//! - **Tokens** are checked when the connection is made, and the connection ends when its token
//!   expires, with 4401 (`welcome` says when, in `expires_in`): an access token is the only
//!   proof of who the client is, and a socket must not keep a user in after their token would
//!   have let them. The client logs in again, or refreshes its token, and resumes (below).
//! - **Resuming:** `join` with `after` replays what was missed, up to [`Settings::resume_limit`]
//!   messages, or says `reload`. Live messages that arrive meanwhile wait in the writer, so the
//!   client gets `joined`, then the missed messages, then the live ones, each id once.
//!
//! **Why:** two tasks, because with one, a single `await session.text(...)` on a client that does
//! not read would stop the loop, and with it the heartbeat that should notice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseReason, ProtocolError, Session};
use common::ApiError;
use phase4_security::auth::{Caller, TokenService};
use phase4_security::rate_limit::Limiter;
use tokio::sync::{Notify, mpsc};

use crate::fanout::{Audience, Broadcast, Fanout, Outbox, Outgoing, Replay};
use crate::presence::{Presence, TYPING_EVERY};
use crate::protocol::{
    ClientFrame, Close, Draft, ErrorCode, MAX_FRAME, Message, Refusal, ServerFrame, Text,
};
use crate::store::{Store, Submission};

/// How a connection behaves; [`Settings::default`] is what the server runs with.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How often the server pings.
    pub heartbeat: Duration,
    /// How long a connection may be silent before it is dropped.
    pub timeout: Duration,
    /// How long a connection without a token at the handshake has to send `auth`.
    pub auth_within: Duration,
    /// Frames a connection's outbox holds; beyond that the client is too slow.
    pub outbox: usize,
    /// The most messages a `join` with `after` replays; past that, `reload`.
    pub resume_limit: i64,
    /// The most rooms one connection is in.
    pub max_rooms: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            auth_within: Duration::from_secs(10),
            outbox: 128,
            resume_limit: 100,
            max_rooms: 20,
        }
    }
}

/// Bad frames in a row after which the client is taken not to speak the protocol.
const MAX_REFUSALS: u32 = 10;

/// What every connection shares.
pub struct Chat {
    pub database: common::db::Database,
    pub fanout: Arc<Fanout>,
    pub store: Store,
    pub presence: Presence,
    /// Messages per user.
    pub limiter: Limiter,
    pub tokens: Arc<dyn TokenService>,
    pub settings: Settings,
    /// Set when the server begins to shut down: each connection then closes with 1001, so that
    /// its client reconnects (to another instance, or to this one once it is back).
    pub stopping: common::server::Stopping,
    pub metrics: SocketMetrics,
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What the connections count, at `/metrics`.
#[derive(Debug, Clone)]
pub struct SocketMetrics {
    open: prometheus::IntGauge,
    closed: prometheus::IntCounterVec,
}

impl SocketMetrics {
    pub fn new(registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let open = prometheus::IntGauge::new("chat_connections", "WebSocket connections open.")?;
        let closed = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "chat_connections_closed_total",
                "WebSocket connections closed, by why.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(closed.clone()))?;
        Ok(Self { open, closed })
    }
}

/// The WebSocket endpoint.
#[utoipa::path(
    tag = "chat",
    params(
        ("Sec-WebSocket-Key" = String, Header, description = "RFC 6455's key: 16 random bytes in base64"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`"),
        ("Upgrade" = Option<String>, Header, description = "`websocket` (with `Connection: Upgrade`); without it, 426"),
    ),
    responses(
        (status = 101, description = "Switching to the chat's protocol (see the README): frames of JSON text with `v` and `type`"),
        (status = 400, description = "Not a WebSocket handshake: `Sec-WebSocket-Key` or `Sec-WebSocket-Version: 13` missing, or no `Connection: Upgrade`", content_type = "application/problem+json", body = common::Problem),
        (status = 401, description = "The `Authorization` header's token is not valid (without the header, the first frame must be `auth`)", content_type = "application/problem+json", body = common::Problem),
        (status = 426, description = "A handshake that asks for no upgrade, or for another protocol than WebSocket", content_type = "application/problem+json", body = common::Problem),
    ),
    security((), ("bearer" = [])),
)]
#[get("/ws")]
pub(crate) async fn connect(
    req: HttpRequest,
    body: web::Payload,
    chat: web::Data<Chat>,
) -> Result<HttpResponse, ApiError> {
    let has = |name| req.headers().contains_key(name);
    if !has(header::SEC_WEBSOCKET_KEY) || !has(header::SEC_WEBSOCKET_VERSION) {
        return Err(ApiError::bad_request(NOT_A_HANDSHAKE));
    }
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "this path speaks WebSocket only: ask for `Upgrade: websocket`",
        )
        .with_header((header::UPGRADE, "websocket"))
        .with_header((header::CONNECTION, "Upgrade")));
    }
    // A bad token in the header is 401 here, before the upgrade (`ApiError` from `TokenError`).
    let caller = match common::extract::bearer_token(&req) {
        Some(token) => Some(Caller::from_token(chat.tokens.as_ref(), token)?),
        None => None,
    };
    let (response, session, stream) =
        actix_ws::handle(&req, body).map_err(|_| ApiError::bad_request(NOT_A_HANDSHAKE))?;
    let stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    actix_web::rt::spawn(run(chat.into_inner(), caller, session, stream));
    Ok(response)
}

/// What a request to `/ws` that is not a handshake is told.
const NOT_A_HANDSHAKE: &str = "this path speaks WebSocket only: open it with a WebSocket client (a handshake has `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`)";

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client closed it, or its TCP connection went.
    Client,
    /// The server did, with this code.
    Server(Close),
}

async fn run(
    chat: Arc<Chat>,
    caller: Option<(Caller, SystemTime)>,
    mut session: Session,
    mut stream: AggregatedMessageStream,
) {
    let (caller, expires) = match caller {
        Some(caller) => caller,
        None => match authenticate(&chat, &mut session, &mut stream).await {
            Ok(caller) => caller,
            Err(reason) => {
                chat.metrics
                    .closed
                    .with_label_values(&["unauthenticated"])
                    .inc();
                let _ = session.close(reason).await;
                return;
            }
        },
    };
    // Tokens are accepted a few seconds past their `exp` (clocks differ); such a one has no time
    // left for a connection.
    let expires_in = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    if expires_in.is_zero() {
        chat.metrics.closed.with_label_values(&["expired"]).inc();
        let _ = session.close(Some(Close::Expired.frame())).await;
        return;
    }
    chat.metrics.open.inc();
    let id = chat.fanout.hub.connection_id();
    let (outbox, frames, slow) = Outbox::new(id, &caller.username, chat.settings.outbox);
    let writer = actix_web::rt::spawn(write(session.clone(), frames, chat.settings.outbox));
    let mut connection = Connection {
        chat: chat.clone(),
        caller,
        expires: tokio::time::Instant::now() + expires_in,
        outbox,
        rooms: HashMap::new(),
        refusals: 0,
    };
    connection.push(
        ServerFrame::Welcome {
            user: &connection.caller.username,
            heartbeat_seconds: chat.settings.heartbeat.as_secs(),
            timeout_seconds: chat.settings.timeout.as_secs(),
            expires_in: expires_in.as_secs(),
        }
        .encode(),
    );
    let ending = connection.serve(&mut stream, &slow).await;
    connection.leave_all().await;
    let label = match ending {
        Ending::Client => "client",
        Ending::Server(Close::TooSlow) => "too_slow",
        Ending::Server(Close::Silent) => "silent",
        Ending::Server(Close::TooBig) => "too_big",
        Ending::Server(Close::GoingAway) => "going_away",
        Ending::Server(Close::Expired) => "expired",
        Ending::Server(_) => "protocol",
    };
    chat.metrics.closed.with_label_values(&[label]).inc();
    chat.metrics.open.dec();
    tracing::debug!(connection = id, reason = label, "WebSocket closed");
    match ending {
        // The client is not reading: whatever is queued would wait for ever. Its writer goes, and
        // the close frame is given a moment to get past the frames ahead of it.
        Ending::Server(close @ (Close::TooSlow | Close::Silent)) => {
            writer.abort();
            let close = session.close(Some(close.frame()));
            let _ = tokio::time::timeout(Duration::from_millis(100), close).await;
        }
        Ending::Server(close) => {
            connection.outbox.push(Outgoing::Close(close));
            drop(connection);
            // The writer sends what is queued, then the close; a client that does not read
            // meanwhile is not waited for longer.
            let abort = writer.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), writer)
                .await
                .is_err()
            {
                abort.abort();
                tracing::debug!(connection = id, "the writer did not finish in 5 s");
            }
        }
        Ending::Client => {
            writer.abort();
            let _ = session.close(None).await;
        }
    }
}

/// The caller from the first frame, `auth`, and when its token expires; a close reason when it
/// is not one, or does not come.
async fn authenticate(
    chat: &Chat,
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
) -> Result<(Caller, SystemTime), Option<CloseReason>> {
    let refused = |detail: &str| {
        Some(CloseReason {
            code: actix_ws::CloseCode::Other(Close::Unauthenticated.code()),
            description: Some(detail.to_owned()),
        })
    };
    let deadline = tokio::time::sleep(chat.settings.auth_within);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Err(refused("no `auth` frame in time")),
            frame = stream.recv() => match frame {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    return match ClientFrame::parse(&text) {
                        Ok(ClientFrame::Auth { token }) => {
                            Caller::from_token(chat.tokens.as_ref(), &token)
                                .map_err(|err| refused(err.describe()))
                        }
                        _ => Err(refused("the first frame must be `auth`, with an access token")),
                    };
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    let _ = session.pong(&bytes).await;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {}
                Some(Ok(AggregatedMessage::Close(_))) | None => return Err(None),
                Some(Ok(AggregatedMessage::Binary(_))) | Some(Err(_)) => {
                    return Err(refused("the first frame must be `auth`, with an access token"));
                }
            },
        }
    }
}

/// The reader's side of one authenticated connection.
struct Connection {
    chat: Arc<Chat>,
    caller: Caller,
    /// When the caller's token expires, and the connection with it.
    expires: tokio::time::Instant,
    outbox: Outbox,
    /// The rooms joined, and when a typing frame was last passed on for each.
    rooms: HashMap<String, Option<Instant>>,
    /// Bad frames in a row.
    refusals: u32,
}

impl Connection {
    fn push(&self, text: Text) {
        self.outbox.push(Outgoing::Frame(text));
    }

    fn refuse(&self, code: ErrorCode, detail: &str, client_id: Option<&str>, retry: Option<u64>) {
        self.push(
            ServerFrame::Error {
                code,
                detail,
                client_id,
                retry_after_ms: retry,
            }
            .encode(),
        );
    }

    async fn serve(&mut self, stream: &mut AggregatedMessageStream, slow: &Notify) -> Ending {
        let settings = self.chat.settings;
        let mut heartbeat = tokio::time::interval(settings.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut last_heard = Instant::now();
        // Made once: each poll of a new one would take the shared `Notify`'s lock.
        let stopping = self.chat.stopping.clone();
        let stopped = stopping.stopped();
        let expired = tokio::time::sleep_until(self.expires);
        tokio::pin!(stopped, expired);
        loop {
            tokio::select! {
                biased;
                () = slow.notified() => return Ending::Server(Close::TooSlow),
                () = &mut stopped => return Ending::Server(Close::GoingAway),
                () = &mut expired => return Ending::Server(Close::Expired),
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > settings.timeout {
                        return Ending::Server(Close::Silent);
                    }
                    self.outbox.push(Outgoing::Ping);
                }
                frame = stream.recv() => {
                    last_heard = Instant::now();
                    match frame {
                        None | Some(Ok(AggregatedMessage::Close(_))) => return Ending::Client,
                        Some(Err(ProtocolError::Overflow)) => return Ending::Server(Close::TooBig),
                        Some(Err(ProtocolError::Io(_))) => return Ending::Client,
                        Some(Err(_)) => return Ending::Server(Close::Policy),
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            self.outbox.push(Outgoing::Pong(bytes));
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            let refusal = Refusal {
                                code: ErrorCode::Malformed,
                                detail: "frames are JSON text, not binary".to_owned(),
                            };
                            if !self.refused(&refusal) {
                                return Ending::Server(Close::Policy);
                            }
                        }
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            match ClientFrame::parse(&text) {
                                Ok(frame) => {
                                    self.refusals = 0;
                                    self.handle(frame).await;
                                }
                                Err(refusal) => {
                                    if !self.refused(&refusal) {
                                        return Ending::Server(Close::Policy);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Answers a bad frame; false once there have been too many in a row.
    fn refused(&mut self, refusal: &Refusal) -> bool {
        self.refusals += 1;
        self.refuse(refusal.code, &refusal.detail, None, None);
        self.refusals < MAX_REFUSALS
    }

    async fn handle(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Auth { .. } => self.refuse(
                ErrorCode::AlreadyAuthenticated,
                "this connection is authenticated already",
                None,
                None,
            ),
            ClientFrame::Join { room, after } => self.join(room, after).await,
            ClientFrame::Leave { room } => {
                if self.rooms.remove(&room).is_none() {
                    return self.not_joined(None);
                }
                // Out of the hub first: nothing for the room follows `left`.
                self.depart(&room).await;
                self.outbox.push(Outgoing::Left(Arc::from(room.as_str())));
            }
            ClientFrame::Send(draft) => self.send(draft).await,
            ClientFrame::Typing { room } => {
                let Some(last) = self.rooms.get_mut(&room) else {
                    return self.not_joined(None);
                };
                if last.is_some_and(|at| at.elapsed() < TYPING_EVERY) {
                    return;
                }
                *last = Some(Instant::now());
                let user = &self.caller.username;
                let text = ServerFrame::Typing { room: &room, user }.encode();
                self.chat.fanout.send(&[Broadcast {
                    room: &room,
                    id: None,
                    audience: Audience::AllBut(user),
                    text,
                }]);
            }
        }
    }

    fn not_joined(&self, client_id: Option<&str>) {
        self.refuse(ErrorCode::NotJoined, "join the room first", client_id, None);
    }

    async fn join(&mut self, room: String, after: Option<i64>) {
        let settings = self.chat.settings;
        // Each join reads the database and may replay 100 messages: it counts as a message.
        if !self.within_rate(None).await {
            return;
        }
        let new = !self.rooms.contains_key(&room);
        if new && self.rooms.len() >= settings.max_rooms {
            let detail = format!("a connection is in at most {} rooms", settings.max_rooms);
            return self.refuse(ErrorCode::Invalid, &detail, None, None);
        }
        let name: Arc<str> = Arc::from(room.as_str());
        // Before the hub can hand the writer a live message for the room: it holds them from here.
        self.outbox.push(Outgoing::Joining(name.clone()));
        if new {
            self.rooms.insert(room.clone(), None);
            let first = self.chat.fanout.hub.join(&room, &self.outbox);
            if first {
                self.chat
                    .presence
                    .arrived(&room, &self.caller.username)
                    .await;
                self.announce(&room, true);
            }
        }
        let members = self.chat.presence.members(&room).await;
        let database = self.chat.database.clone();
        let limit = settings.resume_limit;
        let looked_up = {
            let room = room.clone();
            common::db::blocking(move || {
                let mut conn = database.conn()?;
                let latest = crate::store::latest(&mut conn, &room)?;
                let missed = match after {
                    Some(after) if after < latest => {
                        crate::store::since(&mut conn, &room, after, limit + 1)?
                    }
                    _ => Vec::new(),
                };
                Ok::<_, anyhow::Error>((latest, missed))
            })
            .await
        };
        let (latest, missed) = match looked_up {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!("cannot look up room {room}: {err}");
                self.refuse(
                    ErrorCode::Unavailable,
                    "the history could not be read: join again in a moment",
                    None,
                    Some(1000),
                );
                (after.unwrap_or(0), Vec::new())
            }
        };
        let reload = after.is_some_and(|after| after > latest)
            || i64::try_from(missed.len()).unwrap_or(i64::MAX) > limit;
        let joined = ServerFrame::Joined {
            room: &room,
            latest,
            members,
        }
        .encode();
        let replay = if reload {
            Replay::reload(&room, latest)
        } else {
            Replay::Missed {
                after: after.unwrap_or(latest),
                messages: missed.iter().map(encode_message).collect(),
            }
        };
        self.outbox.push(Outgoing::Joined {
            room: name,
            joined,
            replay,
        });
    }

    async fn send(&mut self, draft: Draft) {
        if !self.rooms.contains_key(&draft.room) {
            return self.not_joined(Some(&draft.client_id));
        }
        if !self.within_rate(Some(&draft.client_id)).await {
            return;
        }
        let submission = Submission {
            draft,
            user_id: self.caller.user_id,
            username: self.caller.username.clone(),
            reply: self.outbox.clone(),
        };
        if let Err(submission) = self.chat.store.submit(submission) {
            self.refuse(
                ErrorCode::Busy,
                "the server has too many messages to store: send this one again in a moment",
                Some(&submission.draft.client_id),
                Some(200),
            );
        }
    }

    /// Takes one from the user's allowance of messages and joins; when there is none left, says
    /// so (about `client_id`'s message, if it is one) and returns false.
    async fn within_rate(&self, client_id: Option<&str>) -> bool {
        let key = format!("user:{}", self.caller.user_id);
        match self.chat.limiter.take(&key).await {
            Ok(decision) if !decision.allowed => {
                let retry = u64::try_from(decision.retry_after.as_millis()).unwrap_or(u64::MAX);
                self.refuse(
                    ErrorCode::RateLimited,
                    "too many messages and joins: send this again later",
                    client_id,
                    Some(retry.max(1)),
                );
                false
            }
            Ok(_) => true,
            // Redis down: the limit is not kept for a moment, rather than the chat stopping.
            Err(err) => {
                tracing::warn!("cannot check the message rate limit: {err}");
                true
            }
        }
    }

    /// Tells the room that this connection's user arrived or left.
    fn announce(&self, room: &str, online: bool) {
        let user = &self.caller.username;
        let text = ServerFrame::Presence { room, user, online }.encode();
        self.chat.fanout.send(&[Broadcast {
            room,
            id: None,
            audience: Audience::AllBut(user),
            text,
        }]);
    }

    /// This connection left `room`: the room hears of it if no other connection of its user is
    /// there on this instance.
    async fn depart(&self, room: &str) {
        let left = self.chat.fanout.hub.leave(room, self.outbox.id);
        if let Some(user) = left {
            self.chat.presence.departed(room, &user).await;
            self.announce(room, false);
        }
    }

    async fn leave_all(&mut self) {
        let rooms: Vec<String> = self.rooms.drain().map(|(room, _)| room).collect();
        for room in rooms {
            self.depart(&room).await;
        }
    }
}

fn encode_message(message: &Message) -> (i64, Text) {
    (message.id, ServerFrame::Message(message).encode())
}

/// What the writer knows of a room this connection is in.
#[derive(Debug, Default)]
struct View {
    /// Live messages held while the replay is read; `None` once it has been sent.
    held: Option<Vec<(i64, Text)>>,
    /// The newest id the client has had: the replay's last, or its `after`. Live messages up
    /// to it are not sent again.
    replayed: i64,
    /// More live messages arrived during the replay than it may hold: the client is told to
    /// reload instead.
    overflowed: bool,
}

/// The writer: the only one to write to the socket, in the order of the outbox.
async fn write(mut session: Session, mut frames: mpsc::Receiver<Outgoing>, hold_at_most: usize) {
    let mut views: HashMap<Arc<str>, View> = HashMap::new();
    while let Some(frame) = frames.recv().await {
        let sent = match frame {
            Outgoing::Frame(text) => session.text(text).await,
            Outgoing::Message { room, id, text } => match views.get_mut(&room) {
                Some(View {
                    held: Some(held),
                    overflowed,
                    ..
                }) => {
                    if held.len() < hold_at_most {
                        held.push((id, text));
                    } else {
                        *overflowed = true;
                    }
                    Ok(())
                }
                // Seen already: the client said so (`after`), or the replay sent it.
                Some(View { replayed: last, .. }) if id <= *last => Ok(()),
                _ => session.text(text).await,
            },
            Outgoing::Joining(room) => {
                views.insert(
                    room,
                    View {
                        held: Some(Vec::new()),
                        replayed: 0,
                        overflowed: false,
                    },
                );
                Ok(())
            }
            Outgoing::Joined {
                room,
                joined,
                replay,
            } => {
                let view = views.entry(room.clone()).or_default();
                let held = view.held.take().unwrap_or_default();
                let replay = if view.overflowed {
                    view.overflowed = false;
                    let latest = held.iter().map(|(id, _)| *id).max().unwrap_or_default();
                    Replay::reload(&room, latest)
                } else {
                    replay
                };
                replay_to(&mut session, view, joined, replay, held).await
            }
            Outgoing::Left(room) => {
                views.remove(&room);
                session
                    .text(ServerFrame::Left { room: &room }.encode())
                    .await
            }
            Outgoing::Ping => session.ping(b"").await,
            Outgoing::Pong(bytes) => session.pong(&bytes).await,
            Outgoing::Close(close) => {
                let _ = session.close(Some(close.frame())).await;
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// `joined`, then what was missed, then what arrived meanwhile, each id once and in order.
async fn replay_to(
    session: &mut Session,
    view: &mut View,
    joined: Text,
    replay: Replay,
    mut held: Vec<(i64, Text)>,
) -> Result<(), actix_ws::Closed> {
    session.text(joined).await?;
    let (after, missed) = match replay {
        Replay::Reload(text) => {
            // The client reads the history itself; the live messages held are newer than it.
            session.text(text).await?;
            (i64::MAX, Vec::new())
        }
        Replay::Missed { after, messages } => (after, messages),
    };
    let last = missed.last().map_or(after, |(id, _)| *id);
    for (_, text) in missed {
        session.text(text).await?;
    }
    held.sort_by_key(|(id, _)| *id);
    held.dedup_by_key(|(id, _)| *id);
    let mut newest = if after == i64::MAX { 0 } else { last };
    for (id, text) in held {
        if id > newest {
            session.text(text).await?;
            newest = id;
        }
    }
    view.replayed = newest;
    Ok(())
}
