//! 4.4 to 4.7: roles, scopes, versions, and links that follow state and role.

use crate::support;

use phase4_security::versioning::{V1_DEPRECATED, V1_SUNSET};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Phase4;

#[tokio::test]
async fn admin_routes_say_401_to_strangers_and_403_to_users() {
    let phase = Phase4::sqlite().await;
    let ada = phase.ada().await.access_token;
    let admin = phase.admin().await.access_token;
    for (path, post) in [("/admin/users", false), ("/admin/keys/rotate", true)] {
        let request = |token: Option<&str>| {
            let mut request = if post {
                phase.http.post(phase.url(path))
            } else {
                phase.http.get(phase.url(path))
            };
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let anonymous = request(None).await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(anonymous.headers().contains_key("www-authenticate"));
        let user = request(Some(&ada)).await.unwrap();
        assert_eq!(user.status(), StatusCode::FORBIDDEN, "{path}");
        let problem: Value = user.json().await.unwrap();
        assert_eq!(problem["detail"], "this needs the admin role");
        assert_eq!(
            request(Some(&admin)).await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let (_, users) = phase.get("/admin/users", &admin).await;
    assert_eq!(
        users[0],
        json!({"id": 1, "username": "admin", "role": "admin"})
    );
}

#[tokio::test]
async fn a_token_does_only_what_its_scopes_allow() {
    let phase = Phase4::sqlite().await;
    let book = json!({"title": "Mort", "year": 1987, "author_id": 3});

    let read_only = phase
        .login("admin", "correct-horse-admin", Some("books:read"))
        .await;
    assert_eq!(read_only.scope, "books:read");
    assert_eq!(
        phase.get("/v2/books", &read_only.access_token).await.0,
        StatusCode::OK
    );
    let refused = phase
        .http
        .post(phase.url("/v2/books"))
        .bearer_auth(&read_only.access_token)
        .json(&book)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer realm="phase4", error="insufficient_scope", scope="books:write""#
    );
    assert_eq!(
        phase.get("/orders", &read_only.access_token).await.0,
        StatusCode::FORBIDDEN
    );

    let admin = phase.admin().await;
    let response = phase
        .http
        .post(phase.url("/v2/books"))
        .bearer_auth(&admin.access_token)
        .json(&book)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v2/books/{}", created["id"]));
    assert_eq!(created["author"]["name"], "Terry Pratchett");

    // Users may not even ask for books:write.
    let asked = phase
        .http
        .post(phase.url("/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", "correct-horse-ada"),
            ("scope", "books:read books:write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
    let problem: Value = asked.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_scope");
    let ada = phase.ada().await.access_token;
    assert_eq!(
        phase.post("/v2/books", &ada, &book).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn scopes_are_in_the_openapi_document_for_swagger_ui() {
    let phase = Phase4::sqlite().await;
    let (status, doc) = phase.get("/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/auth/token");
    assert!(flow["scopes"]["books:write"].is_string(), "{flow}");
    let post = &doc["paths"]["/v2/books"]["post"]["security"];
    assert!(
        post.as_array()
            .unwrap()
            .contains(&json!({"oauth2": ["books:write"]})),
        "{post}"
    );
    let docs = phase.http.get(phase.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn v1_and_v2_differ_in_shape_and_v1_announces_its_end() {
    let phase = Phase4::sqlite().await;
    let token = phase.ada().await.access_token;
    let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut request = phase.http.get(phase.url(path)).bearer_auth(&token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };

    let v1 = get("/v1/books/1", &[]).await.unwrap();
    assert_eq!(v1.headers()["deprecation"], V1_DEPRECATED);
    assert_eq!(v1.headers()["sunset"], V1_SUNSET);
    assert_eq!(
        v1.headers()["link"],
        r#"</v2/books/1>; rel="successor-version""#
    );
    let v1: Value = v1.json().await.unwrap();
    assert_eq!(v1["author"], "Ursula K. Le Guin");
    let v2 = get("/v2/books/1", &[]).await.unwrap();
    assert!(v2.headers().get("deprecation").is_none());
    let v2: Value = v2.json().await.unwrap();
    assert_eq!(v2["author"], json!({"id": 1, "name": "Ursula K. Le Guin"}));

    let v1_list: Value = get("/v1/books", &[]).await.unwrap().json().await.unwrap();
    let v2_list: Value = get("/v2/books", &[]).await.unwrap().json().await.unwrap();
    assert_eq!(v1_list.as_array().unwrap().len(), 7);
    assert_eq!(v2_list["count"], 7);
    assert_eq!(v2_list["items"].as_array().unwrap().len(), 7);

    // One URL, the version in a header.
    let by_header = get("/books/1", &[("api-version", "1")]).await.unwrap();
    assert_eq!(by_header.headers()["api-version"], "1");
    assert_eq!(by_header.headers()["deprecation"], V1_DEPRECATED);
    assert_eq!(by_header.headers()["vary"], "Accept, Api-Version");
    assert_eq!(by_header.json::<Value>().await.unwrap(), v1);
    let by_media_type = get("/books/1", &[("accept", "application/vnd.phase4.v1+json")])
        .await
        .unwrap();
    assert_eq!(
        by_media_type.headers()["content-type"],
        "application/vnd.phase4.v1+json"
    );
    assert_eq!(by_media_type.json::<Value>().await.unwrap(), v1);
    let latest = get("/books/1", &[]).await.unwrap();
    assert_eq!(latest.headers()["api-version"], "2");
    assert_eq!(latest.json::<Value>().await.unwrap(), v2);
    assert_eq!(
        get("/books/1", &[("api-version", "3")])
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = get("/books/1", &[("accept", "application/vnd.phase4.v9+json")])
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_ACCEPTABLE);
    let (status, problem) = phase.get("/v2/books/999", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["detail"], "no book has this id");
}

fn links(order: &Value) -> Vec<String> {
    order["_links"]
        .as_object()
        .expect("`_links` is an object")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_orders_links_follow_its_state_and_the_callers_role() {
    let phase = Phase4::sqlite().await;
    let ada = phase.ada().await.access_token;
    let admin = phase.admin().await.access_token;

    let (status, order) = phase
        .post("/orders", &ada, &json!({"book_id": 2, "quantity": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["status"], "placed");
    assert_eq!(links(&order), ["book", "cancel", "pay", "self"]);
    let id = order["id"].as_i64().unwrap();
    assert_eq!(
        order["_links"]["pay"],
        json!({"href": format!("/orders/{id}/pay"), "method": "POST"})
    );

    // The admin sees the same order with the admin's links.
    let (_, seen_by_admin) = phase.get(&format!("/orders/{id}"), &admin).await;
    assert_eq!(links(&seen_by_admin), ["book", "cancel", "self"]);

    // Shipping is for admins: refused to the owner even where the state allows it.
    let (_, paid) = phase
        .post(&format!("/orders/{id}/pay"), &ada, &json!({}))
        .await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(links(&paid), ["book", "cancel", "self"]);
    let (status, _) = phase
        .post(&format!("/orders/{id}/ship"), &ada, &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, paid_for_admin) = phase.get(&format!("/orders/{id}"), &admin).await;
    assert_eq!(links(&paid_for_admin), ["book", "cancel", "self", "ship"]);

    let (status, shipped) = phase
        .post(&format!("/orders/{id}/ship"), &admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        links(&shipped),
        ["book", "self"],
        "no cancel link on a shipped order"
    );
    let (status, problem) = phase
        .post(&format!("/orders/{id}/cancel"), &ada, &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["detail"], "a shipped order cannot be cancelled");

    // Someone else's order does not exist, as far as another user can tell.
    let grace = phase.new_user("grace").await.access_token;
    assert_eq!(
        phase.get(&format!("/orders/{id}"), &grace).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = phase.get("/orders", &grace).await;
    assert_eq!(list["count"], 0);
    assert_eq!(list["_links"]["create"]["href"], "/orders");
    assert_eq!(
        phase.post("/orders/1/refund", &ada, &json!({})).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn of_two_concurrent_steps_on_one_order_one_wins() {
    for database in common::db::testing::TestDatabase::all_with(&phase4_security::SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let ada = phase.ada().await.access_token;
        let admin = phase.admin().await.access_token;
        for round in 0..5 {
            let (_, order) = phase
                .post("/orders", &ada, &json!({"book_id": 1, "quantity": 1}))
                .await;
            let id = order["id"].as_i64().unwrap();
            phase
                .post(&format!("/orders/{id}/pay"), &ada, &json!({}))
                .await;
            let ship = format!("/orders/{id}/ship");
            let cancel = format!("/orders/{id}/cancel");
            let empty = json!({});
            let ((shipped, _), (cancelled, _)) = tokio::join!(
                phase.post(&ship, &admin, &empty),
                phase.post(&cancel, &ada, &empty),
            );
            let winners = [shipped, cancelled]
                .iter()
                .filter(|status| **status == StatusCode::OK)
                .count();
            assert_eq!(winners, 1, "round {round}: {shipped} and {cancelled}");
            let (_, now) = phase.get(&format!("/orders/{id}"), &ada).await;
            let expected = if shipped == StatusCode::OK {
                "shipped"
            } else {
                "cancelled"
            };
            assert_eq!(now["status"], expected);
        }
    }
}

#[tokio::test]
async fn a_book_of_an_author_who_does_not_exist_is_a_404_and_whole_numbers_may_have_a_point() {
    let phase = Phase4::sqlite().await;
    let admin = phase.admin().await.access_token;
    let (status, problem) = phase
        .post(
            "/v2/books",
            &admin,
            &json!({"title": "Nobody's", "year": 2000, "author_id": 999}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["detail"], "no author has this `author_id`");
    // JSON Schema's integers include 1987.0; 1987.5 is no year.
    let (status, book) = phase
        .post(
            "/v2/books",
            &admin,
            &json!({"title": "Mort", "year": 1987.0, "author_id": 3.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{book}");
    assert_eq!(book["year"], 1987);
    let (status, problem) = phase
        .post(
            "/v2/books",
            &admin,
            &json!({"title": "Mort", "year": 1987.5, "author_id": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "year");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("must be a whole number"), "{message}");
    assert!(!message.contains("i32"), "{message}");
}

#[tokio::test]
async fn a_path_of_the_wrong_type_is_named_as_the_route_names_it() {
    let phase = Phase4::sqlite().await;
    let ada = phase.ada().await.access_token;
    for path in ["/orders/abc", "/orders/abc/pay", "/v2/books/abc"] {
        let response = if path.ends_with("/pay") {
            phase.post(path, &ada, &json!({})).await
        } else {
            phase.get(path, &ada).await
        };
        let (status, problem) = response;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(problem["errors"][0]["field"], "id", "{path}: {problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("must be a whole number"), "{message}");
    }
}
