//! Checks for project 3, the chat (topic P3), spoken over a real WebSocket.
//!
//! The contract: `GET /ws` upgrades; a connection without `Authorization: Bearer` sends
//! `{"v":1,"type":"auth","token":...}` first and gets `welcome`; `join` (with `after`, the last id
//! seen), `send` (`room`, `client_id`, `body`) answered by `ack` (`id`, `duplicate`), and
//! `message` frames to the room; `GET /rooms/{room}/messages?before=&limit=` pages the history.
//! Each check uses rooms of its own, so a run leaves messages behind but never reads another's.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use common::testing::websocket::{Received, Socket};
use reqwest::Method;
use serde_json::{Value, json};

use crate::check::{Check, Target, expect_json, login, unique};
use crate::{checks, conventions};

const ADA: (&str, &str) = ("ada", "correct-horse-ada");
const ADMIN: (&str, &str) = ("admin", "correct-horse-admin");

/// How long a check waits for a frame that should come.
const SOON: Duration = Duration::from_secs(5);

/// How long a check waits to be sure a frame does not come.
const QUIET: Duration = Duration::from_millis(500);

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "P3", "a socket without a valid token is refused and hears nothing" => refused_without_a_token,
        "P3", "a message reaches its room, and not another room" => rooms,
        "P3", "history pages back by cursor, oldest first in each page" => history,
        "P3", "a client that reconnects with the last id it saw gets what it missed" => resume,
        "P3", "a message resent with the same client_id is stored and shown once" => dedup,
        "P3", "a client that stops reading is dropped, and the others get every message" => slow_client,
    ];
    checks.extend(conventions::as_ada());
    checks
}

fn ws_url(target: &Target) -> anyhow::Result<String> {
    let mut url = target.url("/ws")?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| anyhow::anyhow!("cannot make a WebSocket URL of {url}"))?;
    Ok(url.to_string())
}

/// A room of this check's own.
fn room() -> String {
    format!("grader-{}", unique())
}

/// A connection authenticated by its first frame, welcomed.
async fn connect(target: &Target, token: &str) -> anyhow::Result<Socket> {
    let mut socket = match Socket::open(&ws_url(target)?, None).await? {
        Ok(socket) => socket,
        Err(refused) => bail!(
            "GET /ws did not upgrade: {} {}",
            refused.status,
            refused.body
        ),
    };
    socket
        .send(&json!({ "v": 1, "type": "auth", "token": token }))
        .await?;
    socket
        .expect("welcome", SOON)
        .await
        .context("after an `auth` frame with a valid token")?;
    Ok(socket)
}

async fn join(socket: &mut Socket, room: &str, after: Option<i64>) -> anyhow::Result<Value> {
    let mut frame = json!({ "v": 1, "type": "join", "room": room });
    if let Some(after) = after {
        frame["after"] = json!(after);
    }
    socket.send(&frame).await?;
    socket
        .expect("joined", SOON)
        .await
        .with_context(|| format!("after {frame}"))
}

async fn member(target: &Target, token: &str, room: &str) -> anyhow::Result<Socket> {
    let mut socket = connect(target, token).await?;
    join(&mut socket, room, None).await?;
    Ok(socket)
}

/// Sends `body` as `client_id`; the `ack`'s id and whether it was a duplicate.
async fn say(
    socket: &mut Socket,
    room: &str,
    client_id: &str,
    body: &str,
) -> anyhow::Result<(i64, bool)> {
    let frame =
        json!({ "v": 1, "type": "send", "room": room, "client_id": client_id, "body": body });
    socket.send(&frame).await?;
    let ack = socket
        .expect("ack", SOON)
        .await
        .with_context(|| format!("after {frame}"))?;
    let id = ack["id"]
        .as_i64()
        .with_context(|| format!("the ack has no id: {ack}"))?;
    Ok((id, ack["duplicate"] == true))
}

/// The next `message` frame's id and body.
async fn heard(socket: &mut Socket) -> anyhow::Result<(i64, String)> {
    let message = socket.expect("message", SOON).await?;
    Ok((
        message["id"]
            .as_i64()
            .with_context(|| format!("a message without an id: {message}"))?,
        message["body"].as_str().unwrap_or_default().to_owned(),
    ))
}

async fn refused_without_a_token(target: &Target) -> anyhow::Result<()> {
    let url = ws_url(target)?;
    let mut socket = match Socket::open(&url, None).await? {
        Ok(socket) => socket,
        Err(refused) => bail!(
            "GET /ws did not upgrade without a token (the token may come in the first frame): {} {}",
            refused.status,
            refused.body
        ),
    };
    socket
        .send(&json!({ "v": 1, "type": "join", "room": room() }))
        .await?;
    let (close, frames) = socket
        .until_closed(Duration::from_secs(15))
        .await
        .context("a socket whose first frame is `join`, not `auth`")?;
    ensure!(
        frames.is_empty(),
        "a socket without a token was sent {frames:?}"
    );
    ensure!(
        close.as_ref().is_some_and(|(code, _)| *code == 4401),
        "a socket without a token should be closed with 4401, not {close:?}"
    );
    match Socket::open(&url, Some("not-a-token")).await? {
        Ok(_) => bail!("GET /ws with `Authorization: Bearer not-a-token` upgraded"),
        Err(refused) => ensure!(
            refused.status == 401,
            "GET /ws with a bad bearer token answered {}, not 401",
            refused.status
        ),
    }
    Ok(())
}

async fn rooms(target: &Target) -> anyhow::Result<()> {
    let (ada, admin) = (login(target, ADA).await?, login(target, ADMIN).await?);
    let (here, there) = (room(), room());
    let mut sender = member(target, &ada, &here).await?;
    let mut reader = member(target, &admin, &here).await?;
    let mut elsewhere = member(target, &admin, &there).await?;
    let (id, _) = say(&mut sender, &here, "rooms-1", "for this room").await?;
    let (heard_id, body) = heard(&mut reader)
        .await
        .context("the room's other member")?;
    ensure!(
        (heard_id, body.as_str()) == (id, "for this room"),
        "the room heard message {heard_id} {body:?}, not {id} \"for this room\""
    );
    if let Ok(frame) = elsewhere.expect("message", QUIET).await {
        bail!("a member of another room heard {frame}");
    }
    Ok(())
}

async fn history(target: &Target) -> anyhow::Result<()> {
    let ada = login(target, ADA).await?;
    let room = room();
    let mut socket = member(target, &ada, &room).await?;
    for n in 1..=5 {
        say(
            &mut socket,
            &room,
            &format!("h-{n}"),
            &format!("message {n}"),
        )
        .await?;
    }
    let mut path = format!("/rooms/{room}/messages?limit=2");
    let mut pages = Vec::new();
    for _ in 0..4 {
        let response = target
            .request(Method::GET, &path)?
            .bearer_auth(&ada)
            .send()
            .await?;
        let page = expect_json(response, 200, &format!("GET {path}")).await?;
        let bodies: Vec<String> = page["messages"]
            .as_array()
            .with_context(|| format!("GET {path}: no `messages` array in {page}"))?
            .iter()
            .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
            .collect();
        pages.push(bodies);
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    let expected = vec![
        vec!["message 4", "message 5"],
        vec!["message 2", "message 3"],
        vec!["message 1"],
    ];
    ensure!(
        pages == expected,
        "following `next` from ?limit=2 gave {pages:?}, not {expected:?}"
    );
    Ok(())
}

async fn resume(target: &Target) -> anyhow::Result<()> {
    let (ada, admin) = (login(target, ADA).await?, login(target, ADMIN).await?);
    let room = room();
    let mut sender = member(target, &ada, &room).await?;
    let mut reader = member(target, &admin, &room).await?;
    let (seen, _) = say(&mut sender, &room, "r-0", "seen").await?;
    heard(&mut reader).await?;
    reader.close().await;
    for n in 1..=3 {
        say(
            &mut sender,
            &room,
            &format!("r-{n}"),
            &format!("missed {n}"),
        )
        .await?;
    }
    let mut reader = connect(target, &admin).await?;
    join(&mut reader, &room, Some(seen)).await?;
    let mut missed = Vec::new();
    for _ in 0..3 {
        missed.push(heard(&mut reader).await.with_context(|| {
            format!("after joining with `after: {seen}`, having heard {missed:?}")
        })?);
    }
    let bodies: Vec<&str> = missed.iter().map(|(_, body)| body.as_str()).collect();
    ensure!(
        bodies == ["missed 1", "missed 2", "missed 3"],
        "a reconnect after {seen} got {missed:?}"
    );
    if let Ok(frame) = reader.expect("message", QUIET).await {
        bail!("a reconnect got a message twice, or one it had seen: {frame}");
    }
    Ok(())
}

async fn dedup(target: &Target) -> anyhow::Result<()> {
    let (ada, admin) = (login(target, ADA).await?, login(target, ADMIN).await?);
    let room = room();
    let mut sender = member(target, &ada, &room).await?;
    let mut reader = member(target, &admin, &room).await?;
    let (first, _) = say(&mut sender, &room, "d-1", "once").await?;
    heard(&mut reader).await?;
    sender.close().await;
    let mut sender = member(target, &ada, &room).await?;
    let (again, duplicate) = say(&mut sender, &room, "d-1", "once").await?;
    ensure!(
        again == first && duplicate,
        "the resent message was acknowledged as {again} (duplicate: {duplicate}), not {first} (duplicate: true)"
    );
    if let Ok(frame) = reader.expect("message", QUIET).await {
        bail!("the resent message was shown again: {frame}");
    }
    Ok(())
}

/// A user of the check's own, for more people in a room than the demo users.
async fn fresh_user(target: &Target) -> anyhow::Result<String> {
    let (name, password) = (format!("grader-{}", unique()), "correct-horse-grader");
    let response = target
        .request(Method::POST, "/auth/register")?
        .json(&json!({ "username": name, "password": password }))
        .send()
        .await?;
    expect_json(response, 201, "POST /auth/register").await?;
    login(target, (&name, password)).await
}

async fn slow_client(target: &Target) -> anyhow::Result<()> {
    let room = room();
    // Three senders, each within the default 120 messages a minute, and a reader.
    let senders = [
        login(target, ADMIN).await?,
        fresh_user(target).await?,
        fresh_user(target).await?,
    ];
    let slow_token = fresh_user(target).await?;
    let mut reader = member(target, &login(target, ADA).await?, &room).await?;
    let mut slow = Socket::open_small(&ws_url(target)?, 4096).await?;
    slow.send(&json!({ "v": 1, "type": "auth", "token": slow_token }))
        .await?;
    join(&mut slow, &room, None).await?;
    // From here on the slow client reads nothing. Each message is 8 KB (2,000 four-byte
    // characters): a server's queue for it fills after a few hundred.
    let body = "\u{1f600}".repeat(2000);
    let mut sockets = Vec::new();
    for token in &senders {
        sockets.push(member(target, token, &room).await?);
    }
    let mut sent = 0;
    let mut dropped = false;
    'sending: for round in 0..110 {
        for socket in &mut sockets {
            say(socket, &room, &format!("s-{round}"), &body).await?;
            sent += 1;
            // The reader hears each message before the next is sent, and perhaps that the slow
            // client went.
            loop {
                let frame = match reader.next(SOON).await? {
                    Received::Frame(frame) => frame,
                    Received::Closed(close) => {
                        bail!("the reader was disconnected ({close:?}) after {sent} messages")
                    }
                };
                if frame["type"] == "presence" && frame["online"] == false {
                    dropped = true;
                } else if frame["type"] == "message" {
                    break;
                }
            }
            if dropped {
                break 'sending;
            }
        }
    }
    ensure!(
        dropped,
        "a client that read nothing was still in the room after {sent} messages of 8 KB"
    );
    let (close, frames) = slow
        .until_closed(SOON)
        .await
        .context("the slow client, reading at last")?;
    let received = frames.iter().filter(|f| f["type"] == "message").count();
    ensure!(
        received < sent,
        "the slow client got all {sent} messages: it was not dropped"
    );
    if let Some((code, _)) = close {
        ensure!(
            code == 4408,
            "the slow client was closed with {code}, not 4408"
        );
    }
    Ok(())
}
