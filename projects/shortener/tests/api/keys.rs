//! API keys: made with a user's token, acting as that user, revoked at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{App, header, to};

/// `POST /api-keys` as `token`'s holder; the response.
async fn make_key(app: &App, token: &str, name: &str) -> reqwest::Response {
    let body = json!({ "name": name });
    app.send(Method::POST, "/api-keys", token, Some(body)).await
}

#[tokio::test]
async fn a_key_makes_and_edits_its_users_links_and_the_links_say_which_key() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let admin = app.token("admin").await;

    let response = make_key(&app, &ada, "newsletter").await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();
    assert!(key.starts_with(&format!("shk_{id}_")), "{created}");
    assert_eq!(created["name"], "newsletter");

    let made = app.create(&key, to("https://example.com/issue-1")).await;
    assert_eq!(made.status(), 201);
    let link: Value = made.json().await.unwrap();
    assert_eq!(link["api_key"], id, "{link}");
    let code = link["code"].as_str().unwrap();
    assert_eq!(app.visit(code).await.status(), 302);

    // The key is ada: her token edits the link, and the key edits hers.
    let by_token = app.link(&ada, to("https://example.com/by-hand")).await;
    let link: Value = app.get_link(&ada, code).await.json().await.unwrap();
    assert_eq!(link["api_key"], id);
    let edited = app
        .send(
            Method::PATCH,
            &format!("/links/{by_token}"),
            &key,
            Some(json!({ "redirect_status": 307 })),
        )
        .await;
    assert_eq!(edited.status(), 200);
    let link: Value = edited.json().await.unwrap();
    assert_eq!(link["api_key"], Value::Null, "made with a token: {link}");

    // Nobody else's: the admin's link is out of the key's reach.
    let theirs = app.link(&admin, to("https://example.com/admin")).await;
    let refused = app
        .send(Method::DELETE, &format!("/links/{theirs}"), &key, None)
        .await;
    assert_eq!(refused.status(), 403);

    // The list shows the key without its secret.
    let keys: Value = app
        .send(Method::GET, "/api-keys", &ada, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
    assert_eq!(keys[0]["id"], id);
    assert!(!keys.to_string().contains(&key[20..]), "{keys}");
}

#[tokio::test]
async fn a_key_cannot_make_keys_and_a_revoked_or_forged_key_is_refused() {
    let app = App::start().await;
    let ada = app.token("ada").await;
    let created: Value = make_key(&app, &ada, "script").await.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let code = app.link(&key, to("https://example.com/kept")).await;

    let successor = make_key(&app, &key, "successor").await;
    assert_eq!(successor.status(), 403);
    assert_eq!(
        header(&successor, "content-type"),
        "application/problem+json"
    );

    // The right id with another secret, and a key of the wrong shape.
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    for bad in [forged.as_str(), "shk_nothing"] {
        let refused = app.create(bad, to("https://example.com/")).await;
        assert_eq!(refused.status(), 401, "{bad}");
        assert!(
            header(&refused, "www-authenticate").contains("invalid_token"),
            "{bad}: {:?}",
            refused.headers()
        );
    }

    let revoked = app
        .send(Method::DELETE, &format!("/api-keys/{id}"), &ada, None)
        .await;
    assert_eq!(revoked.status(), 204);
    let after = app.create(&key, to("https://example.com/")).await;
    assert_eq!(after.status(), 401);
    let problem: Value = after.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("revoked"),
        "{problem}"
    );
    // Its links stay, and still say where they came from.
    assert_eq!(app.visit(&code).await.status(), 302);
    let link: Value = app.get_link(&ada, &code).await.json().await.unwrap();
    assert_eq!(link["api_key"], id.as_str());

    let again = app
        .send(Method::DELETE, &format!("/api-keys/{id}"), &ada, None)
        .await;
    assert_eq!(again.status(), 404);
}
