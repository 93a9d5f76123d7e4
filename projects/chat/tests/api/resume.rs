//! Acknowledgements, a resent message stored once, and resuming after a reconnect.

use serde_json::{Value, json};

use crate::support::{App, SOON, hears, join, say};

#[tokio::test]
async fn a_resent_message_is_acknowledged_with_its_first_id_and_not_shown_twice() {
    let app = App::start().await;
    let mut ada = app.member("ada", "general").await;
    let mut admin = app.member("admin", "general").await;

    let first = say(&mut ada, "general", "same-id", "only once").await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(
        admin.expect("message", SOON).await.unwrap()["body"],
        "only once"
    );

    // The sender reconnects, unsure whether it was stored, and sends it again.
    ada.close().await;
    let mut ada = app.member("ada", "general").await;
    let again = say(&mut ada, "general", "same-id", "only once").await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);
    assert!(!hears(&mut admin, "message").await);

    // Another user's same client_id is their own message.
    let other = say(&mut admin, "general", "same-id", "mine").await;
    assert_eq!(other["duplicate"], false);
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn a_client_that_reconnects_gets_what_it_missed_in_order_then_live_messages() {
    let app = App::start().await;
    let mut ada = app.member("ada", "general").await;
    let mut admin = app.member("admin", "general").await;
    let seen = say(&mut ada, "general", "m-0", "before").await["id"]
        .as_i64()
        .unwrap();
    admin.expect("message", SOON).await.unwrap();
    admin.close().await;

    for n in 1..=3 {
        say(
            &mut ada,
            "general",
            &format!("m-{n}"),
            &format!("missed {n}"),
        )
        .await;
    }
    let mut admin = app.connect("admin").await;
    let joined = join(&mut admin, "general", Some(seen)).await;
    assert_eq!(joined["latest"], seen + 3);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let message = admin.expect("message", SOON).await.unwrap();
        bodies.push(message["body"].as_str().unwrap().to_owned());
    }
    assert_eq!(bodies, ["missed 1", "missed 2", "missed 3"]);
    say(&mut ada, "general", "m-4", "live").await;
    assert_eq!(admin.expect("message", SOON).await.unwrap()["body"], "live");
    assert!(!hears(&mut admin, "message").await, "a message came twice");
}

#[tokio::test]
async fn a_gap_larger_than_a_resume_replays_is_a_reload() {
    let app = App::start_with(|config| config.message_rate = 1000).await;
    let mut ada = app.member("ada", "general").await;
    for n in 0..101 {
        say(&mut ada, "general", &format!("m-{n}"), "filler").await;
    }
    let mut admin = app.connect("admin").await;
    let joined = join(&mut admin, "general", Some(0)).await;
    assert_eq!(joined["latest"], 101);
    let reload = admin.expect("reload", SOON).await.unwrap();
    assert_eq!(
        reload,
        json!({ "v": 1, "type": "reload", "room": "general", "latest": 101 })
    );
    assert!(!hears(&mut admin, "message").await);

    // 100 missed is still a resume.
    let mut admin = app.connect("admin").await;
    join(&mut admin, "general", Some(1)).await;
    let mut ids: Vec<Value> = Vec::new();
    for _ in 0..100 {
        ids.push(admin.expect("message", SOON).await.unwrap()["id"].clone());
    }
    assert_eq!(ids.first(), Some(&json!(2)));
    assert_eq!(ids.last(), Some(&json!(101)));
}
