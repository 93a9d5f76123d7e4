//! History by cursor over HTTP, and the list of rooms.

use serde_json::{Value, json};

use crate::support::{App, say};

#[tokio::test]
async fn history_pages_by_cursor_back_to_the_first_message() {
    let app = App::start().await;
    let token = app.token("ada").await;
    let mut ada = app.member("ada", "general").await;
    for n in 1..=5 {
        say(
            &mut ada,
            "general",
            &format!("m-{n}"),
            &format!("message {n}"),
        )
        .await;
    }
    let bodies = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = app.get("/rooms/general/messages?limit=2", &token).await;
    assert_eq!(status, 200);
    assert_eq!(bodies(&page), ["message 4", "message 5"]);
    assert_eq!(page["next"], "/rooms/general/messages?before=4&limit=2");

    // A message written meanwhile does not move the pages.
    say(&mut ada, "general", "m-6", "message 6").await;
    let (_, page) = app.get(page["next"].as_str().unwrap(), &token).await;
    assert_eq!(bodies(&page), ["message 2", "message 3"]);
    let (_, page) = app.get(page["next"].as_str().unwrap(), &token).await;
    assert_eq!(bodies(&page), ["message 1"]);
    assert_eq!(page["next"], Value::Null);

    let response = app
        .http
        .get(app.url("/rooms/general/messages?limit=2"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["link"],
        "</rooms/general/messages?before=5&limit=2>; rel=\"next\""
    );
    let message = &response.json::<Value>().await.unwrap()["messages"][0];
    assert_eq!(message["user"], "ada");
    assert_eq!(message["client_id"], "m-5");
}

#[tokio::test]
async fn history_refuses_what_it_cannot_answer() {
    let app = App::start().await;
    let token = app.token("ada").await;
    let response = app
        .http
        .get(app.url("/rooms/general/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    for (path, status, field) in [
        ("/rooms/general/messages?limit=0", 400, Some("limit")),
        ("/rooms/general/messages?limit=101", 400, Some("limit")),
        ("/rooms/general/messages?before=0", 400, Some("before")),
        ("/rooms/general/messages?before=x", 400, Some("before")),
        ("/rooms/general/messages?page=2", 400, Some("page")),
        ("/rooms/Not%20A%20Room/messages", 404, None),
    ] {
        let (got, problem) = app.get(path, &token).await;
        assert_eq!(got, status, "{path}: {problem}");
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        }
    }
    let (status, page) = app.get("/rooms/empty/messages", &token).await;
    assert_eq!(status, 200);
    assert_eq!(page, json!({ "messages": [], "next": null }));
}

#[tokio::test]
async fn rooms_are_listed_with_their_latest_id_and_who_is_online() {
    let app = App::start().await;
    let token = app.token("ada").await;
    let mut ada = app.member("ada", "general").await;
    say(&mut ada, "general", "m-1", "hi").await;
    let _admin = app.member("admin", "random").await;
    let (status, rooms) = app.get("/rooms", &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        rooms,
        json!([
            { "name": "general", "latest": 1, "online": 1 },
            { "name": "random", "latest": 0, "online": 1 },
        ])
    );
}
