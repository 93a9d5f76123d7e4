//! 4.1 and 4.2: logging in, refreshing, forged tokens, key rotation, and what a password becomes.

use crate::support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::db::testing::TestDatabase;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use phase4_security::SCHEMA;
use phase4_security::oauth::now;
use phase4_security::tokens::{API_AUDIENCE, AccessClaims, KeyRing, TokenResponse};
use phase4_security::users::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Phase4;

/// The claims of a token, read without verifying it.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

async fn refresh(phase: &Phase4, refresh_token: &str) -> reqwest::Response {
    phase
        .http
        .post(phase.url("/auth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("POST /auth/token")
}

#[tokio::test]
async fn a_login_gives_a_short_lived_access_token_and_a_refresh_token() {
    let phase = Phase4::sqlite().await;
    let response = phase
        .http
        .post(phase.url("/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", "correct-horse-ada"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: TokenResponse = response.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);

    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let (_, jwks) = phase.get("/.well-known/jwks.json", "").await;
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "the private key is never published"
    );

    let access = claims(&tokens.access_token);
    assert_eq!(access["iss"], phase.base.as_str());
    assert_eq!(access["aud"], API_AUDIENCE);
    assert_eq!(access["preferred_username"], "ada");
    assert_eq!(access["scope"], "books:read orders:read orders:write");
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        900
    );
    let refresh = claims(&tokens.refresh_token);
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        14 * 86_400
    );

    let (status, _) = phase.get("/v2/books", &tokens.access_token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_every_refresh_token_of_the_login() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let first = phase.ada().await;

        let response = refresh(&phase, &first.refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let second: TokenResponse = response.json().await.unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(
            claims(&second.refresh_token)["fam"],
            claims(&first.refresh_token)["fam"]
        );
        assert_eq!(
            phase.get("/v2/books", &second.access_token).await.0,
            StatusCode::OK
        );

        // The first token again: someone else has it. Refused, and the family with it.
        let reused = refresh(&phase, &first.refresh_token).await;
        assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
        let problem: Value = reused.json().await.unwrap();
        assert_eq!(problem["error"], "invalid_grant");
        let revoked = refresh(&phase, &second.refresh_token).await;
        assert_eq!(
            revoked.status(),
            StatusCode::BAD_REQUEST,
            "the newest token is revoked too"
        );
        // What the message says happens: the login's refresh tokens are revoked, its access tokens
        // are not (they are checked by signature alone) and last until they expire.
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("every refresh token of this login is revoked"),
            "{detail}"
        );
        assert!(
            detail.contains("Access tokens already issued to it keep working until they expire, within 15 minutes"),
            "{detail}"
        );
        assert_eq!(
            phase.get("/v2/books", &second.access_token).await.0,
            StatusCode::OK,
            "an access token of the revoked login works until it expires"
        );

        // Another login is another family.
        let again = phase.ada().await;
        assert_eq!(
            refresh(&phase, &again.refresh_token).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let tokens = phase.ada().await;
        let attempts = (0..8).map(|_| refresh(&phase, &tokens.refresh_token));
        let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
            .await
            .iter()
            .map(reqwest::Response::status)
            .collect();
        let succeeded = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(succeeded, 1, "{statuses:?}");
    }
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token_nor_the_reverse() {
    let phase = Phase4::sqlite().await;
    let tokens = phase.ada().await;
    let (status, problem) = phase.get("/v2/books", &tokens.refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["detail"], "the token is not meant for this API");
    let response = refresh(&phase, &tokens.access_token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// `token` with its payload replaced, its header and signature kept.
fn with_payload(token: &str, payload: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    parts.join(".")
}

fn access_claims(phase: &Phase4, edit: impl FnOnce(&mut AccessClaims)) -> AccessClaims {
    let now = now();
    let mut claims = AccessClaims {
        iss: phase.base.clone(),
        sub: "2".to_owned(),
        aud: API_AUDIENCE.to_owned(),
        exp: now + 300,
        nbf: now,
        iat: now,
        jti: "forged".to_owned(),
        scope: "books:read".to_owned(),
        role: Role::User,
        preferred_username: "ada".to_owned(),
        client_id: None,
    };
    edit(&mut claims);
    claims
}

#[tokio::test]
async fn forged_tokens_are_refused_with_401_and_a_challenge() {
    let phase = Phase4::sqlite().await;
    let real = phase.ada().await.access_token;
    let mut payload = claims(&real);

    // The server's own key, the wrong claims.
    let sign = |claims: &AccessClaims| phase.keys.sign(claims).unwrap();
    let expired = sign(&access_claims(&phase, |c| c.exp = now() - 60));
    let not_yet = sign(&access_claims(&phase, |c| c.nbf = now() + 600));
    let other_issuer = sign(&access_claims(&phase, |c| {
        c.iss = "https://evil.example".into();
    }));
    let other_audience = sign(&access_claims(&phase, |c| c.aud = "another-api".into()));
    // A well-formed token from a key this server never had.
    let stranger = KeyRing::generate()
        .unwrap()
        .sign(&access_claims(&phase, |_| {}))
        .unwrap();

    // `alg: none`, and HS256 "signed" with the published public key (algorithm confusion).
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", real.split('.').nth(1).unwrap());
    let (_, jwks) = phase.get("/.well-known/jwks.json", "").await;
    let public_key = jwks["keys"][0].to_string();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let hs256 = jsonwebtoken::encode(
        &Header {
            kid: Some(kid),
            ..Header::new(Algorithm::HS256)
        },
        &payload,
        &EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap();

    // A real token, its payload edited: an admin now, or so it says.
    payload["role"] = json!("admin");
    let tampered = with_payload(&real, &payload);

    for (token, reason) in [
        (alg_none.as_str(), "the token is not a well-formed JWT"),
        (hs256.as_str(), "the token is not signed with ES256"),
        (tampered.as_str(), "the token's signature does not match"),
        (expired.as_str(), "the token has expired"),
        (not_yet.as_str(), "the token is not valid yet"),
        (
            other_issuer.as_str(),
            "the token was issued by someone else",
        ),
        (
            other_audience.as_str(),
            "the token is not meant for this API",
        ),
        (stranger.as_str(), "the token names no key of this server"),
    ] {
        let response = phase
            .http
            .get(phase.url("/admin/users"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with(r#"Bearer realm="phase4", error="invalid_token""#),
            "{challenge}"
        );
        assert!(challenge.contains(reason), "{challenge}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["detail"], reason);
    }

    // No token at all: a challenge without an error (RFC 6750 §3.1).
    let response = phase.http.get(phase.url("/v2/books")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="phase4""#
    );
}

#[tokio::test]
async fn a_rotated_key_logs_nobody_out_until_it_leaves_the_ring() {
    let phase = Phase4::sqlite().await;
    let admin = phase.admin().await.access_token;
    let before = phase.ada().await.access_token;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    let (status, rotation) = phase.post("/admin/keys/rotate", &admin, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let new_kid = rotation["signing"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotation["verifying"], json!([new_kid, old_kid]));

    assert_eq!(phase.get("/v2/books", &before).await.0, StatusCode::OK);
    let after = phase.ada().await.access_token;
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.unwrap(),
        new_kid
    );
    let (_, jwks) = phase.get("/.well-known/jwks.json", "").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    // Two more rotations push the first key out: its tokens stop working.
    for _ in 0..2 {
        assert_eq!(
            phase.post("/admin/keys/rotate", &after, &json!({})).await.0,
            StatusCode::FORBIDDEN
        );
        phase.keys.rotate().unwrap();
    }
    assert_eq!(phase.get("/v2/books", &after).await.0, StatusCode::OK);
    let (status, problem) = phase.get("/v2/books", &before).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["detail"], "the token names no key of this server");
}

#[tokio::test]
async fn a_password_is_stored_as_argon2id_and_never_shown() {
    let phase = Phase4::sqlite().await;
    let response = phase
        .http
        .post(phase.url("/auth/register"))
        .json(&json!({"username": "grace", "password": "a long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("passphrase") && !body.contains("argon2"),
        "{body}"
    );
    let user: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(user["role"], "user");

    let db = phase.database.database.clone();
    let stored = tokio::task::spawn_blocking(move || {
        phase4_security::users::find_by_name(&mut db.conn().unwrap(), "grace").unwrap()
    })
    .await
    .unwrap()
    .unwrap()
    .password_hash
    .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );

    let (_, users) = phase
        .get("/admin/users", &phase.admin().await.access_token)
        .await;
    assert!(!users.to_string().contains("argon2"), "{users}");

    // Taken, and invalid.
    let taken = phase
        .http
        .post(phase.url("/auth/register"))
        .json(&json!({"username": "grace", "password": "another long one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let invalid = phase
        .http
        .post(phase.url("/auth/register"))
        .json(&json!({"username": "no:colons", "password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = invalid.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["password", "username"]);
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_fail_alike() {
    let phase = Phase4::sqlite().await;
    let mut answers = Vec::new();
    for (username, password) in [("ada", "not her password"), ("nobody", "not her password")] {
        let response = phase
            .http
            .post(phase.url("/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        answers.push((response.status(), response.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(answers[0], answers[1]);

    // A request without a grant type says what is missing, as OAuth does.
    let empty = phase
        .http
        .post(phase.url("/auth/token"))
        .form(&[("username", "ada")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let problem: Value = empty.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_request");
    assert!(
        answers[0].1.contains(r#""error":"invalid_grant""#),
        "{}",
        answers[0].1
    );
}

#[tokio::test]
async fn of_concurrent_registrations_of_one_name_exactly_one_succeeds() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let attempts = (0..8).map(|i| {
            phase
                .http
                .post(phase.url("/auth/register"))
                .json(&json!({"username": "twin", "password": format!("a long passphrase {i}")}))
                .send()
        });
        let mut statuses: Vec<u16> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(|response| response.unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    }
}

async fn register(phase: &Phase4, username: &str) -> (StatusCode, Value) {
    let response = phase
        .http
        .post(phase.url("/auth/register"))
        .json(&json!({"username": username, "password": "a long passphrase"}))
        .send()
        .await
        .expect("POST /auth/register");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn names_that_differ_only_in_case_or_width_are_one_account() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let (status, grace) = register(&phase, "Grace").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(grace["username"], "Grace", "shown as registered");
        for look_alike in ["grace", "GRACE", "ｇｒａｃｅ", "Ｇｒａｃｅ"] {
            let (status, problem) = register(&phase, look_alike).await;
            assert_eq!(status, StatusCode::CONFLICT, "{look_alike}");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("case or width"),
                "{problem}"
            );
        }
        // Any of the forms logs in, as the same account.
        for spelling in ["Grace", "grace", "ｇｒａｃｅ"] {
            let tokens = phase.login(spelling, "a long passphrase", None).await;
            let access = claims(&tokens.access_token);
            assert_eq!(access["sub"], grace["id"].to_string(), "{spelling}");
            assert_eq!(access["preferred_username"], "Grace", "{spelling}");
        }
        // A full-width name is kept as the ASCII it stands for.
        let (status, user) = register(&phase, "ｌｏｖｅｌａｃｅ").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(user["username"], "lovelace");
    }
}

#[tokio::test]
async fn a_bad_username_is_told_the_rule() {
    let phase = Phase4::sqlite().await;
    for bad in ["gr", "no:colons", "аdmin", "grace hopper", &"x".repeat(33)] {
        let (status, problem) = register(&phase, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(problem["errors"][0]["field"], "username", "{bad}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("must be 3 to 32 letters (a-z, A-Z), digits, `_` or `-`"),
            "{bad}: {message}"
        );
        assert!(
            message.contains("differ only in case or width"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn keys_rotate_at_most_every_seven_and_a_half_minutes() {
    let phase = Phase4::sqlite().await;
    let admin = phase.admin().await.access_token;
    let (status, _) = phase.post("/admin/keys/rotate", &admin, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let response = phase
        .http
        .post(phase.url("/admin/keys/rotate"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((440..=450).contains(&retry_after), "{retry_after}");
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no access token outlives the keys that verify it"),
        "{problem}"
    );
    // The admin's token, signed by the key before, still works.
    assert_eq!(phase.get("/admin/users", &admin).await.0, StatusCode::OK);
}

/// The migration that moved the unique index to the compared form, on rows written before it.
#[tokio::test]
async fn the_username_migration_keys_existing_rows_and_renames_clashes() {
    use diesel::prelude::*;
    for database in TestDatabase::all_with(&SCHEMA) {
        let db = database.database.clone();
        let rows = tokio::task::spawn_blocking(move || {
            let reverted = db.revert_last().unwrap();
            assert_eq!(reverted, "2026-11-25-000402_username_keys");
            let mut conn = db.conn().unwrap();
            for name in ["Grace", "grace", "GRACE", "ada", "local:AbC", "local:abc"] {
                diesel::sql_query(format!(
                    "INSERT INTO users (username, role, created_at) VALUES ('{name}', 'user', 0)"
                ))
                .execute(&mut *conn)
                .unwrap();
            }
            drop(conn);
            db.migrate().unwrap();
            let mut conn = db.conn().unwrap();
            phase4_security::schema::users::table
                .order(phase4_security::schema::users::id)
                .select((
                    phase4_security::schema::users::id,
                    phase4_security::schema::users::username,
                    phase4_security::schema::users::username_key,
                ))
                .load::<(i32, String, String)>(&mut *conn)
                .unwrap()
        })
        .await
        .unwrap();
        let named: Vec<(String, String)> = rows
            .iter()
            .map(|(_, name, key)| (name.clone(), key.clone()))
            .collect();
        let (second, third) = (rows[1].0, rows[2].0);
        assert_eq!(
            named,
            [
                ("Grace".to_owned(), "grace".to_owned()),
                (format!("grace#{second}"), format!("grace#{second}")),
                (format!("GRACE#{third}"), format!("grace#{third}")),
                ("ada".to_owned(), "ada".to_owned()),
                ("local:AbC".to_owned(), "local:AbC".to_owned()),
                ("local:abc".to_owned(), "local:abc".to_owned()),
            ]
        );
        // The index is on the key now: a name of another case is refused by the database.
        let db = database.database.clone();
        let inserted = tokio::task::spawn_blocking(move || {
            phase4_security::users::insert(&mut db.conn().unwrap(), "ADA", None, Role::User)
                .unwrap()
        })
        .await
        .unwrap();
        assert!(inserted.is_none());
    }
}
