//! Two instances, one service: a message sent through one reaches the clients of the other.

use std::collections::BTreeSet;
use std::time::Duration;

use common::redis::SUBSCRIPTION_PING;
use common::testing::partition::Partition;
use common::testing::websocket::Received;
use serde_json::json;

use crate::support::{SOON, hears, join, pair, say, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_to_one_instance_reaches_the_clients_of_the_other() {
    let Some((a, b)) = pair(|_| {}).await else {
        return;
    };
    let mut ada = a.member("ada", "general").await;
    let mut admin = b.member("admin", "general").await;
    let mut elsewhere = b.member("admin", "random").await;

    // Presence is shared: each sees the other, whichever instance they are on.
    let arrived = ada.expect("presence", SOON).await.unwrap();
    assert_eq!(arrived["user"], "admin");
    let joined = join(&mut elsewhere, "general", None).await;
    assert_eq!(joined["members"], json!(["ada", "admin"]));
    // And so is the count of who is online in each room.
    let (status, rooms) = a.get("/rooms", &a.token("ada").await).await;
    assert_eq!(status, 200);
    let general = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|room| room["name"] == "general");
    assert_eq!(general.unwrap()["online"], 2, "{rooms}");

    let ack = say(&mut ada, "general", "a-1", "from instance A").await;
    let message = admin.expect("message", SOON).await.unwrap();
    assert_eq!(message["body"], "from instance A");
    assert_eq!(message["id"], ack["id"]);

    let typing = json!({ "v": 1, "type": "typing", "room": "general" });
    admin.send(&typing).await.unwrap();
    assert_eq!(ada.expect("typing", SOON).await.unwrap()["user"], "admin");

    say(&mut admin, "general", "b-1", "from instance B").await;
    assert_eq!(
        ada.expect("message", SOON).await.unwrap()["body"],
        "from instance B"
    );

    // A room nobody on B is in stays quiet there.
    let mut quiet = b.member("admin", "quiet").await;
    say(&mut ada, "general", "a-2", "not for quiet").await;
    assert!(!hears(&mut quiet, "message").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_to_one_room_give_each_message_its_own_id_in_order() {
    let Some((a, b)) = pair(|config| config.message_rate = 1000).await else {
        return;
    };
    let mut ada = a.member("ada", "general").await;
    let mut admin = b.member("admin", "general").await;
    let count = 100;
    for n in 0..count {
        send(&mut ada, "general", &format!("a-{n}"), "from A").await;
        send(&mut admin, "general", &format!("b-{n}"), "from B").await;
    }
    // ada hears all 200, from both instances; the ids are 1..=200, each once.
    let mut ids = BTreeSet::new();
    let mut acks = 0;
    while ids.len() < 2 * count || acks < count {
        let Received::Frame(frame) = ada.next(SOON).await.unwrap() else {
            panic!("the connection closed");
        };
        match frame["type"].as_str().unwrap() {
            "message" => assert!(ids.insert(frame["id"].as_i64().unwrap()), "{frame}"),
            "ack" => acks += 1,
            _ => {}
        }
    }
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&(2 * count as i64)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_whose_redis_goes_silent_notice_and_tell_their_clients_to_reload() {
    let Some(redis) = common::testing::service_url("REDIS_URL") else {
        return;
    };
    // Both instances reach Redis through a proxy that the test stalls: the connections stay
    // open and carry nothing, as when Redis's host vanishes without closing them.
    let proxy = Partition::to_redis(&redis).await.unwrap();
    let url = proxy.redis_url();
    let Some((a, b)) = pair(|config| config.redis_url = Some(url.clone().into())).await else {
        return;
    };
    let mut ada = a.member("ada", "general").await;
    let mut admin = b.member("admin", "general").await;

    proxy.stall();
    // A subscriber pings Redis every SUBSCRIPTION_PING and gives up on an answer after 5 s.
    tokio::time::sleep(SUBSCRIPTION_PING + Duration::from_secs(8)).await;
    proxy.resume();

    // Subscribed again, each instance tells its clients that frames may have been lost.
    for socket in [&mut ada, &mut admin] {
        let reload = socket.expect("reload", Duration::from_secs(15)).await;
        assert_eq!(reload.unwrap()["room"], "general");
    }
    say(&mut ada, "general", "after-silence", "back again").await;
    let message = admin.expect("message", SOON).await.unwrap();
    assert_eq!(message["body"], "back again");
}
