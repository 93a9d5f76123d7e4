//! The handshake, authentication, bad frames, rooms and typing, as a client sees them.

use common::testing::websocket::Socket;
use phase4_security::auth::{API_AUDIENCE, AccessClaims};
use phase4_security::tokens::{KeyRing, Tokens};
use serde_json::json;

use crate::support::{App, QUIET, SOON, hears, join, say, send};

#[tokio::test]
async fn a_socket_without_a_valid_token_gets_nothing_and_is_closed_with_4401() {
    let app = App::start().await;

    // No token at the handshake, and a first frame that is not `auth`.
    let mut socket = Socket::open(&app.ws(), None).await.unwrap().unwrap();
    socket
        .send(&json!({ "v": 1, "type": "join", "room": "general" }))
        .await
        .unwrap();
    let (close, frames) = socket.until_closed(SOON).await.unwrap();
    assert_eq!(close.unwrap().0, 4401);
    assert!(frames.is_empty(), "{frames:?}");

    // A forged token in the first frame.
    let mut socket = Socket::open(&app.ws(), None).await.unwrap().unwrap();
    socket
        .send(&json!({ "v": 1, "type": "auth", "token": "eyJhbGciOiJub25lIn0.e30." }))
        .await
        .unwrap();
    let (close, frames) = socket.until_closed(SOON).await.unwrap();
    assert_eq!(close.unwrap().0, 4401);
    assert!(frames.is_empty(), "{frames:?}");

    // A bad bearer token is refused at the handshake itself, as a problem document.
    let refused = Socket::open(&app.ws(), Some("not-a-token"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("\"status\":401"), "{}", refused.body);

    // A good one there is enough.
    let token = app.token("ada").await;
    let mut socket = Socket::open(&app.ws(), Some(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(socket.expect("welcome", SOON).await.unwrap()["user"], "ada");
}

#[tokio::test]
async fn silence_after_the_handshake_is_closed_with_4401() {
    let app = App::start().await;
    let mut socket = Socket::open(&app.ws(), None).await.unwrap().unwrap();
    // The server waits 10 s for `auth` by default.
    let (close, _) = socket
        .until_closed(std::time::Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(close.unwrap().0, 4401);
}

#[tokio::test]
async fn http_that_is_not_a_handshake_is_refused() {
    let app = App::start().await;
    let response = app.http.get(app.url("/ws")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .http
        .get(app.url("/ws"))
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .header("Upgrade", "h2c")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["upgrade"], "websocket");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app.http.post(app.url("/ws")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let app = App::start().await;
    let mut socket = app.connect("ada").await;
    let cases = [
        ("hello", "malformed"),
        (r#"{"type":"join","room":"general"}"#, "unsupported_version"),
        (r#"{"v":1,"type":"shout"}"#, "unknown_type"),
        (r#"{"v":1,"type":"join","room":"Not A Room"}"#, "invalid"),
        (
            r#"{"v":1,"type":"send","room":"general","client_id":"c1","body":"hi"}"#,
            "not_joined",
        ),
    ];
    for (text, code) in cases {
        socket.send_text(text).await.unwrap();
        let error = socket.expect("error", SOON).await.unwrap();
        assert_eq!(error["code"], code, "{text}: {error}");
        assert_eq!(error["v"], 1);
        let detail = error["detail"].as_str().unwrap();
        for word in ["serde", "invalid type", "expected", "line 1"] {
            assert!(!detail.contains(word), "{text}: {detail}");
        }
    }
    socket.send_binary(vec![1, 2, 3]).await.unwrap();
    assert_eq!(
        socket.expect("error", SOON).await.unwrap()["code"],
        "malformed"
    );
    // Still a working connection.
    join(&mut socket, "general", None).await;
    assert_eq!(
        say(&mut socket, "general", "c1", "still here").await["id"],
        1
    );
}

#[tokio::test]
async fn a_frame_over_16_kib_closes_the_socket_with_1009() {
    let app = App::start().await;
    let mut socket = app.connect("ada").await;
    socket.send_text(&"x".repeat(17 * 1024)).await.unwrap();
    let (close, _) = socket.until_closed(SOON).await.unwrap();
    assert_eq!(close.unwrap().0, 1009);
    // The server is fine.
    app.connect("ada").await;
}

#[tokio::test]
async fn ten_bad_frames_in_a_row_close_the_socket_with_1008() {
    let app = App::start().await;
    let mut socket = app.connect("ada").await;
    for _ in 0..10 {
        socket.send_text("nonsense").await.unwrap();
    }
    let (close, frames) = socket.until_closed(SOON).await.unwrap();
    assert_eq!(close.unwrap().0, 1008);
    assert_eq!(frames.len(), 10, "{frames:?}");
}

#[tokio::test]
async fn a_message_reaches_its_room_and_no_other() {
    let app = App::start().await;
    let mut ada = app.member("ada", "general").await;
    let mut admin = app.member("admin", "general").await;
    let mut elsewhere = app.member("admin", "random").await;

    // Stored, then published (the sender gets it as every reader does), then acknowledged.
    send(&mut ada, "general", "m-1", "hello, general").await;
    let own = ada.expect("message", SOON).await.unwrap();
    let ack = ada.expect("ack", SOON).await.unwrap();
    assert_eq!(ack["duplicate"], false);
    assert_eq!(own["id"], ack["id"]);
    let message = admin.expect("message", SOON).await.unwrap();
    assert_eq!(message["body"], "hello, general");
    assert_eq!(message["user"], "ada");
    assert_eq!(message["room"], "general");
    assert_eq!(message["id"], ack["id"]);
    assert!(message["sent_at"].as_str().unwrap().ends_with('Z'));
    assert!(!hears(&mut elsewhere, "message").await);

    // Once left, the room's messages stop.
    admin
        .send(&json!({ "v": 1, "type": "leave", "room": "general" }))
        .await
        .unwrap();
    admin.expect("left", SOON).await.unwrap();
    say(&mut ada, "general", "m-2", "anyone?").await;
    assert!(!hears(&mut admin, "message").await);
}

#[tokio::test]
async fn presence_and_typing_reach_the_others() {
    let app = App::start().await;
    let mut ada = app.member("ada", "general").await;
    let mut admin = app.connect("admin").await;
    let joined = join(&mut admin, "general", None).await;
    assert_eq!(joined["members"], json!(["ada", "admin"]));
    let arrived = ada.expect("presence", SOON).await.unwrap();
    assert_eq!(
        (&arrived["user"], &arrived["online"]),
        (&json!("admin"), &json!(true))
    );

    let typing = json!({ "v": 1, "type": "typing", "room": "general" });
    ada.send(&typing).await.unwrap();
    assert_eq!(admin.expect("typing", SOON).await.unwrap()["user"], "ada");
    // Not to the typist, and not again within 2 s.
    assert!(!hears(&mut ada, "typing").await);
    ada.send(&typing).await.unwrap();
    assert!(!hears(&mut admin, "typing").await);

    admin.close().await;
    let left = ada.expect("presence", SOON).await.unwrap();
    assert_eq!(
        (&left["user"], &left["online"]),
        (&json!("admin"), &json!(false))
    );
}

#[tokio::test]
async fn an_auth_frame_on_an_authenticated_socket_is_refused() {
    let app = App::start().await;
    let mut socket = app.connect("ada").await;
    socket
        .send(&json!({ "v": 1, "type": "auth", "token": "x" }))
        .await
        .unwrap();
    let error = socket.expect("error", SOON).await.unwrap();
    assert_eq!(error["code"], "already_authenticated");
    join(&mut socket, "general", None).await;
}

#[tokio::test]
async fn a_connection_ends_with_its_token_closed_with_4401() {
    // The server's signing key, so that the test can make it a token that expires soon.
    let pem = KeyRing::new_pem().unwrap();
    let app = App::start_with(|config| config.signing_key = Some(pem.clone())).await;
    let tokens = Tokens::with_keys(app.base.clone(), KeyRing::from_pem(&pem).unwrap());
    let mut claims: AccessClaims = tokens
        .verify(&app.token("ada").await, API_AUDIENCE)
        .unwrap();
    claims.exp = phase4_security::oauth::now() + 2;
    let short = tokens.keys.sign(&claims).unwrap();

    // In the handshake's header, and in the first frame.
    let by_header = Socket::open(&app.ws(), Some(&short))
        .await
        .unwrap()
        .unwrap();
    let mut by_frame = Socket::open(&app.ws(), None).await.unwrap().unwrap();
    by_frame
        .send(&json!({ "v": 1, "type": "auth", "token": short }))
        .await
        .unwrap();
    let mut sockets = [by_header, by_frame];
    for socket in &mut sockets {
        let welcome = socket.expect("welcome", SOON).await.unwrap();
        let expires_in = welcome["expires_in"].as_u64().unwrap();
        assert!(expires_in <= 2, "{welcome}");
        join(socket, "general", None).await;
    }
    for socket in &mut sockets {
        let (close, _) = socket.until_closed(SOON).await.unwrap();
        let (code, reason) = close.expect("a close frame");
        assert_eq!(code, 4401);
        assert!(reason.contains("expired"), "{reason}");
    }

    // A token a whole login long keeps its socket open (15 minutes).
    let mut socket = app.connect("ada").await;
    join(&mut socket, "general", None).await;
    assert!(socket.until_closed(QUIET).await.is_err(), "closed early");
}
