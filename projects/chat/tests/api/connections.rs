//! Connections that stop answering, clients that read too slowly, users that send too much.

use std::time::{Duration, Instant};

use common::testing::websocket::{Received, Socket};
use serde_json::json;

use crate::support::{App, SOON, join, say, send};

#[tokio::test]
async fn a_connection_that_stops_answering_pings_is_dropped_within_the_timeout() {
    let app = App::start_with(|config| {
        config.heartbeat_ms = 100;
        config.timeout_ms = 400;
    })
    .await;
    let mut ada = app.member("ada", "general").await;
    // admin joins, then never reads again: no pongs.
    let _admin = app.member("admin", "general").await;
    ada.expect("presence", SOON).await.unwrap();
    let started = Instant::now();
    let gone = ada.expect("presence", SOON).await.unwrap();
    assert_eq!(
        (&gone["user"], &gone["online"]),
        (&json!("admin"), &json!(false))
    );
    // timeout + one heartbeat, and some slack for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // ada, who reads (and so pongs), is still connected well past the timeout.
    assert!(
        ada.next(Duration::from_millis(800)).await.is_err(),
        "a frame came"
    );
    assert_eq!(
        say(&mut ada, "general", "c-1", "still here").await["duplicate"],
        false
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_and_the_others_get_every_message() {
    let app = App::start_with(|config| {
        config.outbox_frames = chat::store::MIN_OUTBOX;
        config.message_rate = 10_000;
    })
    .await;
    app.register("grace").await;
    let mut sender = app.member("ada", "general").await;
    let mut reader = app.member("grace", "general").await;
    let token = app.token("admin").await;
    let mut slow = Socket::open_small(&app.ws(), 4096).await.unwrap();
    slow.send(&json!({ "v": 1, "type": "auth", "token": token }))
        .await
        .unwrap();
    join(&mut slow, "general", None).await;
    // From here on the slow client reads nothing.
    sender.expect("presence", SOON).await.unwrap();
    reader.expect("presence", SOON).await.unwrap();

    // 8 KB a message: the slow client's queue, the WebSocket's and HTTP's buffers and the
    // kernel's hold some 200 of them.
    let body = "\u{1f600}".repeat(2000);
    let count = 300;
    let started = Instant::now();
    let mut last = 0;
    let mut dropped = None;
    for n in 0..count {
        say(&mut sender, "general", &format!("m-{n}"), &body).await;
        // The reader's frames: this message, and perhaps the news that the slow one left.
        loop {
            let Received::Frame(frame) = reader.next(SOON).await.unwrap() else {
                panic!("the reader was disconnected");
            };
            if frame["type"] == "presence" {
                assert_eq!(
                    (&frame["user"], &frame["online"]),
                    (&json!("admin"), &json!(false))
                );
                dropped = Some(n);
            } else if frame["type"] == "message" {
                let id = frame["id"].as_i64().unwrap();
                assert!(id > last, "{id} after {last}");
                last = id;
                break;
            }
        }
    }
    let fanned = started.elapsed();
    let dropped = dropped.expect("the slow client was never dropped");
    println!(
        "the slow client was dropped after {dropped} messages of 8 KB; {count} fanned out in {fanned:?}"
    );
    assert!(fanned < Duration::from_secs(30), "{fanned:?}");

    // When the slow client reads at last: some frames, not all of them, then the close.
    let (close, frames) = slow.until_closed(SOON).await.unwrap();
    let received = frames.iter().filter(|f| f["type"] == "message").count();
    assert!(received < count, "{received} of {count}");
    if let Some((code, _)) = close {
        assert_eq!(code, 4408);
    }
}

#[tokio::test]
async fn a_server_that_shuts_down_tells_its_clients_to_reconnect() {
    let app = App::start().await;
    let mut ada = app.member("ada", "general").await;
    let stopping = tokio::spawn(async move {
        app.stopper.stop().await;
        app
    });
    let (close, _) = ada.until_closed(SOON).await.unwrap();
    assert_eq!(close.unwrap().0, 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_user_past_their_message_rate_is_told_when_to_try_again() {
    // A join counts as a message: one join and three messages.
    let app = App::start_with(|config| config.message_rate = 4).await;
    let mut ada = app.member("ada", "general").await;
    for n in 0..3 {
        say(&mut ada, "general", &format!("m-{n}"), "hi").await;
    }
    send(&mut ada, "general", "m-3", "one too many").await;
    let error = ada.expect("error", SOON).await.unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["client_id"], "m-3");
    let retry = error["retry_after_ms"].as_u64().unwrap();
    assert!((1..=20_000).contains(&retry), "{retry}");
    // The limit is the user's, not the connection's: another tab cannot even join.
    let mut again = app.connect("ada").await;
    again
        .send(&json!({ "v": 1, "type": "join", "room": "general" }))
        .await
        .unwrap();
    let error = again.expect("error", SOON).await.unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert!(error.get("client_id").is_none(), "{error}");
}
