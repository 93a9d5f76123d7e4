//! Fan-out: every frame for a room reaches each connection in it, on this instance and the others.
//!
//! **Roadmap:** a chat's frames go to many sockets at once, and with two instances behind a load
//! balancer the sender and the readers are often on different ones.
//!
//! **Python:** FastAPI's docs keep a `ConnectionManager` with a list of sockets and
//! `await connection.send_text(...)` for each in turn: one reader that does not read stalls the
//! loop, and everyone after it waits. Across processes, `broadcaster` or a Redis subscriber task.
//!
//! **Rust:** each connection has a bounded queue of frames ([`Outbox`]), drained by its own task
//! onto the socket. Delivering is `try_send` on each queue: it never waits, so a reader that
//! falls behind costs the others nothing. When its queue is full the connection is told it is
//! too slow, and closes (4408); its client reconnects and resumes from the last id it saw. A frame
//! is serialised once and shared ([`Text`] clones a pointer). Across instances, each frame is
//! also published to one Redis channel, and every instance delivers what the others publish.
//!
//! **Why:** Redis pub/sub, and not NATS (which also runs here), because the chat already uses Redis
//! for presence and rate limits, so it adds no service. Pub/sub is at most once, and that is enough
//! because it is never the record: messages are stored before they are published, their ids say
//! when one was missed, and a client told `reload`, or that sees a gap, reads the database. When
//! an instance loses its subscription it tells its clients to reload, rather than leave a hole.
//! NATS core is also at most once; JetStream would add a second store to keep in step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};

use crate::protocol::{Close, ServerFrame, Text};

/// A connection's number on this instance.
pub type ConnectionId = u64;

/// What a connection's writer puts on its socket.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A frame for this connection alone, or one not stored (presence, typing).
    Frame(Text),
    /// A stored message: its room and id let the connection skip what a resume already sent.
    Message {
        room: Arc<str>,
        id: i64,
        text: Text,
    },
    /// The connection is joining `room`: live messages for it wait until [`Outgoing::Joined`].
    Joining(Arc<str>),
    /// The `joined` frame, and what follows it.
    Joined {
        room: Arc<str>,
        joined: Text,
        replay: Replay,
    },
    Left(Arc<str>),
    Ping,
    Pong(actix_web::web::Bytes),
    Close(Close),
}

/// What follows a `joined` frame.
#[derive(Debug, Clone)]
pub enum Replay {
    /// The messages after `after` the client missed, oldest first.
    Missed {
        after: i64,
        messages: Vec<(i64, Text)>,
    },
    /// Too many were missed: this `reload` frame.
    Reload(Text),
}

impl Replay {
    /// A `reload` for `room`, whose newest id is `latest`.
    pub fn reload(room: &str, latest: i64) -> Self {
        Replay::Reload(ServerFrame::Reload { room, latest }.encode())
    }
}

/// A connection's queue of frames, as the rest of the server sees it.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub id: ConnectionId,
    pub user: Arc<str>,
    sender: mpsc::Sender<Outgoing>,
    slow: Arc<Notify>,
}

impl Outbox {
    /// A queue for `user`'s connection `id`, of `capacity` frames; the receiver is its writer's, and
    /// `slow` is notified when the queue overflows.
    pub fn new(
        id: ConnectionId,
        user: &str,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<Outgoing>, Arc<Notify>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let slow = Arc::new(Notify::new());
        let outbox = Self {
            id,
            user: Arc::from(user),
            sender,
            slow: slow.clone(),
        };
        (outbox, receiver, slow)
    }

    /// Queues `frame` without waiting. A full queue means the client is not reading: it is told
    /// to go (once; `Notify` keeps the signal until the connection looks), and the frame is
    /// dropped, which the client learns of from the ids when it resumes.
    pub fn push(&self, frame: Outgoing) -> bool {
        match self.sender.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.slow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The rooms of this instance and who is in them.
#[derive(Debug, Default)]
pub struct Hub {
    rooms: RwLock<HashMap<Arc<str>, HashMap<ConnectionId, Outbox>>>,
    next_id: AtomicU64,
}

/// Who a frame is for, in its room.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    Everyone,
    /// Not `user`'s connections (a typing indicator is not shown to the typist).
    AllBut(&'a str),
}

impl Hub {
    /// A number for a new connection.
    pub fn connection_id(&self) -> ConnectionId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds `outbox` to `room`; whether its user was not there before on this instance.
    pub fn join(&self, room: &str, outbox: &Outbox) -> bool {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let members = rooms.entry(Arc::from(room)).or_default();
        let first = !members.values().any(|other| other.user == outbox.user);
        members.insert(outbox.id, outbox.clone());
        first
    }

    /// Takes connection `id` out of `room`; whether that was its user's last connection there.
    pub fn leave(&self, room: &str, id: ConnectionId) -> Option<Arc<str>> {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let members = rooms.get_mut(room)?;
        let gone = members.remove(&id)?;
        let last = !members.values().any(|other| other.user == gone.user);
        if members.is_empty() {
            rooms.remove(room);
        }
        last.then_some(gone.user)
    }

    /// The users in `room` on this instance, each once, sorted.
    pub fn members(&self, room: &str) -> Vec<String> {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        let mut users: Vec<String> = rooms
            .get(room)
            .map(|members| members.values().map(|m| m.user.to_string()).collect())
            .unwrap_or_default();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// Every room with someone in it on this instance, and who.
    pub fn occupied(&self) -> Vec<(String, Vec<String>)> {
        let names: Vec<String> = {
            let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            rooms.keys().map(ToString::to_string).collect()
        };
        names
            .into_iter()
            .map(|room| {
                let members = self.members(&room);
                (room, members)
            })
            .collect()
    }

    /// Queues `frame` for `audience` in `room`, on this instance; how many queues took it.
    pub fn deliver(&self, room: &str, audience: Audience<'_>, frame: &Outgoing) -> usize {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = rooms.get(room) else {
            return 0;
        };
        members
            .values()
            .filter(|member| match audience {
                Audience::Everyone => true,
                Audience::AllBut(user) => &*member.user != user,
            })
            .filter(|member| member.push(frame.clone()))
            .count()
    }
}

/// A frame as it travels between instances.
#[derive(Debug, Serialize, Deserialize)]
struct Relayed {
    /// The instance that published it, which has delivered it already.
    origin: String,
    room: String,
    /// A stored message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    /// A user not to show it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    except: Option<String>,
    frame: String,
}

/// One frame to fan out.
#[derive(Debug, Clone)]
pub struct Broadcast<'a> {
    pub room: &'a str,
    /// A stored message's id; `None` for frames that are not stored.
    pub id: Option<i64>,
    pub audience: Audience<'a>,
    pub text: Text,
}

/// The hub, and the other instances through Redis when there are any.
#[derive(Debug)]
pub struct Fanout {
    pub hub: Arc<Hub>,
    relay: Option<Relay>,
}

#[derive(Debug)]
struct Relay {
    /// Frames for [`publish`].
    queue: mpsc::Sender<String>,
    origin: String,
}

impl Fanout {
    /// Within this instance only.
    pub fn local(hub: Arc<Hub>) -> Self {
        Self { hub, relay: None }
    }

    /// Across the instances listening on `channel` of the Redis at `url` as well: subscribes, and
    /// delivers here what the others publish. After the subscription was lost and made again,
    /// `resubscribed` is called: frames may have been missed meanwhile.
    pub async fn redis(
        hub: Arc<Hub>,
        url: &str,
        connection: redis::aio::ConnectionManager,
        channel: &str,
        origin: &str,
        resubscribed: impl Fn() + Send + 'static,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let listening = Arc::default();
        let mut events = common::redis::subscribe(&client, channel, listening).await?;
        let receiver = hub.clone();
        let own = origin.to_owned();
        tokio::spawn(async move {
            let mut first = true;
            while let Some(event) = events.recv().await {
                match event {
                    common::redis::Event::Resubscribed if first => first = false,
                    common::redis::Event::Resubscribed => resubscribed(),
                    common::redis::Event::Message(payload) => {
                        deliver_relayed(&receiver, &own, &payload);
                    }
                }
            }
        });
        let (queue, pending) = mpsc::channel(RELAY_QUEUE);
        tokio::spawn(publish(connection, channel.to_owned(), pending));
        Ok(Self {
            hub,
            relay: Some(Relay {
                queue,
                origin: origin.to_owned(),
            }),
        })
    }

    /// Whether other instances hear of this one's frames.
    pub fn kind(&self) -> &'static str {
        if self.relay.is_some() {
            "this instance and the others, through Redis pub/sub"
        } else {
            "this instance"
        }
    }

    /// Delivers `frames` here at once, and queues them for the other instances; never waits.
    /// The relay publishes what has gathered in one round trip, in order. Redis down, or the
    /// relay's queue full, costs the other instances the frames, not this one: their clients see
    /// the gap in the ids and read the history.
    pub fn send(&self, frames: &[Broadcast<'_>]) {
        for frame in frames {
            let outgoing = match frame.id {
                Some(id) => Outgoing::Message {
                    room: Arc::from(frame.room),
                    id,
                    text: frame.text.clone(),
                },
                None => Outgoing::Frame(frame.text.clone()),
            };
            self.hub.deliver(frame.room, frame.audience, &outgoing);
        }
        let Some(relay) = &self.relay else {
            return;
        };
        for frame in frames {
            let relayed = Relayed {
                origin: relay.origin.clone(),
                room: frame.room.to_owned(),
                id: frame.id,
                except: match frame.audience {
                    Audience::Everyone => None,
                    Audience::AllBut(user) => Some(user.to_owned()),
                },
                frame: frame.text.as_str().to_owned(),
            };
            let Ok(payload) = serde_json::to_string(&relayed) else {
                continue;
            };
            if relay.queue.try_send(payload).is_err() {
                tracing::warn!("the relay to the other instances is behind: a frame was dropped");
            }
        }
    }
}

/// Frames the relay holds for Redis; past that (Redis slow or gone), frames are dropped.
const RELAY_QUEUE: usize = 8192;

/// The relay's task: publishes the queued frames in order, all that has gathered in one round
/// trip, until every [`Fanout`] is gone.
async fn publish(
    mut connection: redis::aio::ConnectionManager,
    channel: String,
    mut queue: mpsc::Receiver<String>,
) {
    let mut batch = Vec::with_capacity(256);
    while queue.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for payload in &batch {
            pipe.publish(&channel, payload).ignore();
        }
        if let Err(err) = common::redis::within(pipe.query_async::<()>(&mut connection)).await {
            tracing::warn!(
                "cannot publish {} frames to the other instances: {err:#}",
                batch.len()
            );
        }
        batch.clear();
    }
}

fn deliver_relayed(hub: &Hub, own: &str, payload: &str) {
    let Ok(relayed) = serde_json::from_str::<Relayed>(payload) else {
        tracing::warn!("a frame on the chat's channel that no instance sends; ignored");
        return;
    };
    if relayed.origin == own {
        return;
    }
    let text = Text::relayed(relayed.frame);
    let outgoing = match relayed.id {
        Some(id) => Outgoing::Message {
            room: Arc::from(relayed.room.as_str()),
            id,
            text,
        },
        None => Outgoing::Frame(text),
    };
    let audience = match &relayed.except {
        Some(user) => Audience::AllBut(user),
        None => Audience::Everyone,
    };
    hub.deliver(&relayed.room, audience, &outgoing);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Outgoing {
        Outgoing::Frame(Text::relayed(s.to_owned()))
    }

    #[test]
    fn a_full_queue_drops_the_frame_and_says_so() {
        let hub = Hub::default();
        let (fast, mut fast_rx, _) = Outbox::new(hub.connection_id(), "ada", 4);
        let (slow, _slow_rx, slow_signal) = Outbox::new(hub.connection_id(), "bob", 2);
        hub.join("r", &fast);
        hub.join("r", &slow);
        for n in 0..3 {
            let reached = hub.deliver("r", Audience::Everyone, &text(&n.to_string()));
            assert_eq!(reached, if n < 2 { 2 } else { 1 });
        }
        // The slow one was told, the fast one got all three.
        assert!(
            futures_util::FutureExt::now_or_never(slow_signal.notified()).is_some(),
            "the slow connection was not told"
        );
        for _ in 0..3 {
            assert!(fast_rx.try_recv().is_ok());
        }
    }

    #[test]
    fn members_are_users_and_leaving_says_when_the_last_one_went() {
        let hub = Hub::default();
        let (one, _r1, _) = Outbox::new(hub.connection_id(), "ada", 4);
        let (two, _r2, _) = Outbox::new(hub.connection_id(), "ada", 4);
        assert!(hub.join("r", &one));
        assert!(!hub.join("r", &two));
        assert_eq!(hub.members("r"), ["ada"]);
        assert_eq!(hub.leave("r", one.id), None);
        assert_eq!(hub.leave("r", two.id).as_deref(), Some("ada"));
        assert!(hub.occupied().is_empty());
    }

    #[test]
    fn the_typist_is_left_out() {
        let hub = Hub::default();
        let (ada, mut ada_rx, _) = Outbox::new(hub.connection_id(), "ada", 4);
        let (bob, mut bob_rx, _) = Outbox::new(hub.connection_id(), "bob", 4);
        hub.join("r", &ada);
        hub.join("r", &bob);
        hub.deliver("r", Audience::AllBut("ada"), &text("typing"));
        assert!(ada_rx.try_recv().is_err());
        assert!(bob_rx.try_recv().is_ok());
    }
}
