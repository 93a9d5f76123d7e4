//! The chat's message protocol: JSON text frames with a version and a type.
//!
//! **Roadmap:** "WebSockets (FastAPI supports this natively)": a socket carries more than one kind
//! of message, so the two ends need a protocol, and one that can change without breaking old
//! clients.
//!
//! **Python:** FastAPI's `websocket.receive_json()` hands over a `dict`, and the handler looks at
//! `data["type"]` in an `if` chain; a missing key is a `KeyError` that closes the socket with 1011
//! unless someone remembered a `try`. Pydantic models per type help, at the price of a union
//! parsed by hand.
//!
//! **Rust:** each direction is an enum, one variant per `type`. A frame is read in two steps, so
//! that every mistake gets its own answer in the protocol's words: is it a JSON object, is `v`
//! a version we speak, is `type` one we know, and only then the variant's fields. Frames going
//! out are serialised once, whatever the number of readers ([`ServerFrame::encode`]).
//!
//! **Why:** a malformed frame is the client's bug, not a reason to drop its connection: it gets
//! an `error` frame naming what was wrong, and the socket stays open. Only what the protocol
//! cannot recover from closes it, each with its own code ([`Close`]).
//!
//! | client → server | fields | |
//! |---|---|---|
//! | `auth` | `token` | the first frame, unless the handshake carried `Authorization: Bearer` |
//! | `join` | `room`, `after`? | `after`: the last id seen there; the missed messages follow |
//! | `leave` | `room` | |
//! | `send` | `room`, `client_id`, `body` | `client_id` makes a resend harmless |
//! | `typing` | `room` | throttled; never stored |
//!
//! The server's frames are [`ServerFrame`]'s variants; the README has both tables.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};

/// The protocol version this server speaks, in every frame's `v`.
pub const VERSION: u8 = 1;

/// The longest frame a client may send, in bytes: a message body of [`MAX_BODY`] characters of
/// four bytes each, and its envelope. A longer one closes the socket with 1009.
pub const MAX_FRAME: usize = 16 * 1024;

/// The longest message body, in characters.
pub const MAX_BODY: usize = 2000;

/// The longest `client_id`.
pub const MAX_CLIENT_ID: usize = 64;

/// The close codes this server uses (RFC 6455 §7.4; 4000–4999 are the application's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// No valid token: at the handshake, in the first frame, or within the time given for it.
    Unauthenticated,
    /// The token the connection was opened with has expired.
    Expired,
    /// The client read its frames too slowly and its queue filled.
    TooSlow,
    /// No frame (not even a pong) within the heartbeat timeout.
    Silent,
    /// A frame longer than [`MAX_FRAME`].
    TooBig,
    /// Too many bad frames in a row: a client that does not speak the protocol.
    Policy,
    /// The server is shutting down.
    GoingAway,
}

impl Close {
    pub fn code(self) -> u16 {
        match self {
            Close::Unauthenticated | Close::Expired => 4401,
            Close::TooSlow => 4408,
            Close::Silent => 4000,
            Close::TooBig => 1009,
            Close::Policy => 1008,
            Close::GoingAway => 1001,
        }
    }

    /// The close frame's reason (at most 123 bytes, RFC 6455 §5.5).
    pub fn reason(self) -> &'static str {
        match self {
            Close::Unauthenticated => "send a valid access token first",
            Close::Expired => "your access token expired: reconnect with a fresh one and resume",
            Close::TooSlow => "your queue of frames was full: reconnect and resume",
            Close::Silent => "no pong within the heartbeat timeout",
            Close::TooBig => "frames are at most 16 KiB",
            Close::Policy => "too many frames this server could not read",
            Close::GoingAway => "the server is restarting: reconnect and resume",
        }
    }

    pub fn frame(self) -> actix_ws::CloseReason {
        actix_ws::CloseReason {
            code: actix_ws::CloseCode::Other(self.code()),
            description: Some(self.reason().to_owned()),
        }
    }
}

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Auth { token: String },
    Join { room: String, after: Option<i64> },
    Leave { room: String },
    Send(Draft),
    Typing { room: String },
}

/// A message as its sender wrote it, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Draft {
    pub room: String,
    pub client_id: String,
    pub body: String,
}

/// Why a client's frame was refused: the `error` frame's `code` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub detail: String,
}

impl Refusal {
    fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a JSON object, or not text.
    Malformed,
    /// `v` missing, or a version this server does not speak.
    UnsupportedVersion,
    /// A `type` this server does not know.
    UnknownType,
    /// A known type with a field missing or out of bounds.
    Invalid,
    /// A `send` or `typing` for a room the connection has not joined.
    NotJoined,
    /// Too many messages: try again after `retry_after_ms`.
    RateLimited,
    /// The store's queue is full: try again shortly.
    Busy,
    /// The database did not take the message: try again (the same `client_id` is safe).
    Unavailable,
    /// An `auth` after the connection was authenticated.
    AlreadyAuthenticated,
}

#[derive(Deserialize)]
struct Room {
    room: String,
}

#[derive(Deserialize)]
struct Join {
    room: String,
    after: Option<i64>,
}

#[derive(Deserialize)]
struct Auth {
    token: String,
}

impl ClientFrame {
    /// Reads a text frame, checking each field the protocol bounds.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) else {
            return Err(Refusal::new(
                ErrorCode::Malformed,
                "a frame is a JSON object with `v` and `type`",
            ));
        };
        match object.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(Refusal::new(
                    ErrorCode::UnsupportedVersion,
                    format!("this server speaks version {VERSION} of the protocol, not {v}"),
                ));
            }
            None => {
                return Err(Refusal::new(
                    ErrorCode::UnsupportedVersion,
                    format!("every frame needs `v`, the protocol version ({VERSION})"),
                ));
            }
        }
        let kind = object
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let value = serde_json::Value::Object(object);
        let fields = |needs: &str| {
            Refusal::new(
                ErrorCode::Invalid,
                format!("a `{kind}` frame needs {needs}"),
            )
        };
        let frame = match kind.as_str() {
            "auth" => {
                let Auth { token } = serde_json::from_value(value)
                    .map_err(|_| fields("`token`, an access token"))?;
                ClientFrame::Auth { token }
            }
            "join" => {
                let Join { room, after } = serde_json::from_value(value).map_err(|_| {
                    fields("`room`, and optionally `after`, the last message id seen there")
                })?;
                if after.is_some_and(|after| after < 0) {
                    return Err(fields("`after` of 0 or more"));
                }
                ClientFrame::Join { room, after }
            }
            "leave" => {
                let Room { room } = serde_json::from_value(value).map_err(|_| fields("`room`"))?;
                ClientFrame::Leave { room }
            }
            "typing" => {
                let Room { room } = serde_json::from_value(value).map_err(|_| fields("`room`"))?;
                ClientFrame::Typing { room }
            }
            "send" => {
                let draft: Draft = serde_json::from_value(value)
                    .map_err(|_| fields("`room`, `client_id` and `body`, three strings"))?;
                check_draft(&draft)?;
                ClientFrame::Send(draft)
            }
            "" => {
                return Err(Refusal::new(
                    ErrorCode::UnknownType,
                    "every frame needs `type`: auth, join, leave, send or typing",
                ));
            }
            _ => {
                return Err(Refusal::new(
                    ErrorCode::UnknownType,
                    format!("`{kind}` is not a frame type: auth, join, leave, send or typing"),
                ));
            }
        };
        if let Some(room) = frame.room() {
            check_room(room)?;
        }
        Ok(frame)
    }

    /// The room the frame is about, if any.
    pub fn room(&self) -> Option<&str> {
        match self {
            ClientFrame::Auth { .. } => None,
            ClientFrame::Join { room, .. }
            | ClientFrame::Leave { room }
            | ClientFrame::Typing { room } => Some(room),
            ClientFrame::Send(draft) => Some(&draft.room),
        }
    }
}

/// Whether `room` is a room's name: 1 to 32 lower-case letters, digits and dashes, starting
/// with a letter or digit (it appears in URLs and in Redis keys as it is).
pub fn is_room_name(room: &str) -> bool {
    let bytes = room.as_bytes();
    (1..=32).contains(&bytes.len())
        && bytes[0] != b'-'
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
}

fn check_room(room: &str) -> Result<(), Refusal> {
    if is_room_name(room) {
        return Ok(());
    }
    Err(Refusal::new(
        ErrorCode::Invalid,
        "`room` is 1 to 32 lower-case letters, digits and dashes, not starting with a dash",
    ))
}

fn check_draft(draft: &Draft) -> Result<(), Refusal> {
    let id_ok = (1..=MAX_CLIENT_ID).contains(&draft.client_id.len())
        && draft
            .client_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
    if !id_ok {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            format!(
                "`client_id` is 1 to {MAX_CLIENT_ID} letters, digits and `-_.:` (a UUID will do)"
            ),
        ));
    }
    let length = draft.body.chars().count();
    let control = draft
        .body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if draft.body.trim().is_empty() || length > MAX_BODY || control {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            format!(
                "`body` is 1 to {MAX_BODY} characters, not only spaces, without control characters but newlines and tabs"
            ),
        ));
    }
    Ok(())
}

/// A stored message, as frames and history show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// The room.
    #[schema(example = "general")]
    pub room: String,
    /// 1, 2, 3, ... within the room.
    #[schema(example = 42, minimum = 1)]
    pub id: i64,
    /// Who sent it.
    #[schema(example = "ada")]
    pub user: String,
    #[schema(example = "hello")]
    pub body: String,
    /// The sender's own id for it.
    #[schema(example = "6f1c0c9e-6a5e-4a4b-8f5f-0d6a3e2b1c7d")]
    pub client_id: String,
    /// When the server took it, RFC 3339 in UTC.
    #[schema(example = "2026-12-03T12:00:00.000Z")]
    pub sent_at: String,
}

/// What the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// After a valid token; `expires_in` is when the token expires, and the connection with it.
    Welcome {
        user: &'a str,
        heartbeat_seconds: u64,
        timeout_seconds: u64,
        expires_in: u64,
    },
    /// In the room; `latest` is its newest id, `members` who is there now.
    Joined {
        room: &'a str,
        latest: i64,
        members: Vec<String>,
    },
    Left {
        room: &'a str,
    },
    Message(&'a Message),
    /// To the sender, once stored; `duplicate` when the `client_id` was stored before.
    Ack {
        room: &'a str,
        client_id: &'a str,
        id: i64,
        duplicate: bool,
    },
    Presence {
        room: &'a str,
        user: &'a str,
        online: bool,
    },
    Typing {
        room: &'a str,
        user: &'a str,
    },
    /// More was missed than a resume replays: fetch the newest page over HTTP.
    Reload {
        room: &'a str,
        latest: i64,
    },
    Error {
        code: ErrorCode,
        detail: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u8,
    #[serde(flatten)]
    frame: &'a ServerFrame<'a>,
}

impl ServerFrame<'_> {
    /// The frame as the text sent: serialised once, then shared by every reader (cloning a
    /// [`Text`] copies a pointer, not the text).
    pub fn encode(&self) -> Text {
        let json = serde_json::to_string(&Versioned {
            v: VERSION,
            frame: self,
        })
        .unwrap_or_default();
        Text(ByteString::from(json))
    }
}

/// A frame's text, serialised: cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(ByteString);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A frame received from another instance, already serialised by it.
    pub fn relayed(text: String) -> Self {
        Text(ByteString::from(text))
    }
}

impl From<Text> for ByteString {
    fn from(text: Text) -> Self {
        text.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> ErrorCode {
        ClientFrame::parse(text).unwrap_err().code
    }

    #[test]
    fn each_mistake_has_its_own_code() {
        assert_eq!(refusal("not json"), ErrorCode::Malformed);
        assert_eq!(refusal("[1,2]"), ErrorCode::Malformed);
        assert_eq!(
            refusal(r#"{"type":"join","room":"a"}"#),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(
            refusal(r#"{"v":2,"type":"join","room":"a"}"#),
            ErrorCode::UnsupportedVersion
        );
        assert_eq!(refusal(r#"{"v":1,"type":"shout"}"#), ErrorCode::UnknownType);
        assert_eq!(refusal(r#"{"v":1}"#), ErrorCode::UnknownType);
        assert_eq!(refusal(r#"{"v":1,"type":"join"}"#), ErrorCode::Invalid);
        assert_eq!(
            refusal(r#"{"v":1,"type":"join","room":"Shouting"}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            refusal(r#"{"v":1,"type":"join","room":"a","after":-1}"#),
            ErrorCode::Invalid
        );
        let body = "x".repeat(MAX_BODY + 1);
        let long = format!(r#"{{"v":1,"type":"send","room":"a","client_id":"c","body":"{body}"}}"#);
        assert_eq!(refusal(&long), ErrorCode::Invalid);
        assert_eq!(
            refusal(r#"{"v":1,"type":"send","room":"a","client_id":"c","body":"  "}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            refusal(r#"{"v":1,"type":"send","room":"a","client_id":"a b","body":"hi"}"#),
            ErrorCode::Invalid
        );
    }

    #[test]
    fn the_details_speak_of_fields_not_of_parsers() {
        let detail = ClientFrame::parse(r#"{"v":1,"type":"send","room":"a","body":3}"#)
            .unwrap_err()
            .detail;
        assert_eq!(
            detail,
            "a `send` frame needs `room`, `client_id` and `body`, three strings"
        );
    }

    #[test]
    fn good_frames_are_read() {
        assert_eq!(
            ClientFrame::parse(r#"{"v":1,"type":"join","room":"general","after":41}"#),
            Ok(ClientFrame::Join {
                room: "general".to_owned(),
                after: Some(41)
            })
        );
        // A field this version does not know is left alone: a newer client still works.
        assert_eq!(
            ClientFrame::parse(r#"{"v":1,"type":"typing","room":"r-2","mood":"happy"}"#),
            Ok(ClientFrame::Typing {
                room: "r-2".to_owned()
            })
        );
        let body = "é".repeat(MAX_BODY);
        let text =
            format!(r#"{{"v":1,"type":"send","room":"a","client_id":"c-1","body":"{body}"}}"#);
        assert!(text.len() < MAX_FRAME);
        assert!(matches!(
            ClientFrame::parse(&text),
            Ok(ClientFrame::Send(_))
        ));
    }

    #[test]
    fn frames_carry_the_version_and_type() {
        let text = ServerFrame::Left { room: "general" }.encode();
        assert_eq!(text.as_str(), r#"{"v":1,"type":"left","room":"general"}"#);
    }

    #[test]
    fn room_names() {
        assert!(is_room_name("general"));
        assert!(is_room_name("rust-2026"));
        assert!(!is_room_name(""));
        assert!(!is_room_name("-x"));
        assert!(!is_room_name("a/b"));
        assert!(!is_room_name(&"a".repeat(33)));
    }
}
