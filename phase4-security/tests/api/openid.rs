//! 4.3: the OpenID Connect provider, and "Login with" it, over real HTTP.

use crate::support;

use std::collections::HashMap;

use common::db::testing::TestDatabase;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use phase4_security::SCHEMA;
use phase4_security::login::LoggedIn;
use phase4_security::oauth::sha256;
use reqwest::StatusCode;
use serde_json::Value;
use support::Phase4;
use url::Url;

const DEMO_CLIENT: &str = "demo-client";
const DEMO_REDIRECT: &str = "http://localhost:3000/callback";
const VERIFIER: &str = "a-pkce-code-verifier-of-at-least-forty-three-characters";

fn location(response: &reqwest::Response) -> Url {
    let location = response.headers()["location"]
        .to_str()
        .expect("Location is text");
    Url::parse(location).expect("Location is a URL")
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The demo client's authorization request, with `changes` applied.
fn authorization(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let challenge = sha256(VERIFIER);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT),
        ("redirect_uri", DEMO_REDIRECT),
        ("scope", "openid profile books:read"),
        ("state", "the-state"),
        ("nonce", "the-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if let Some(value) = value {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

/// Signs in at the provider's form; returns where the provider sends the browser.
async fn sign_in(phase: &Phase4, params: &[(String, String)], password: &str) -> reqwest::Response {
    let mut form = params.to_vec();
    form.push(("username".to_owned(), "ada".to_owned()));
    form.push(("password".to_owned(), password.to_owned()));
    phase
        .http
        .post(phase.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("POST /oauth/authorize")
}

/// POSTs `form` to the token endpoint, authenticated as `client` (id and secret, HTTP Basic) or,
/// without one, as a public client that names itself in the form.
async fn token_request(
    phase: &Phase4,
    form: &[(&str, &str)],
    client: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = phase.http.post(phase.url("/oauth/token")).form(form);
    if let Some((id, secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("POST /oauth/token")
}

/// An authorization code exchange: `code` for tokens, proven by `verifier`, for `redirect_uri`.
fn exchange<'a>(
    code: &'a str,
    verifier: &'a str,
    redirect_uri: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]
}

/// The demo client redeems `code` with `verifier`.
async fn redeem(phase: &Phase4, code: &str, verifier: &str) -> reqwest::Response {
    let mut form = exchange(code, verifier, DEMO_REDIRECT).to_vec();
    form.push(("client_id", DEMO_CLIENT));
    token_request(phase, &form, None).await
}

/// A code for the demo client, through the login form.
async fn code(phase: &Phase4) -> String {
    let response = sign_in(phase, &authorization(&[]), "correct-horse-ada").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert_eq!(back.as_str().split('?').next(), Some(DEMO_REDIRECT));
    let params = query(&back);
    assert_eq!(params["state"], "the-state");
    params["code"].clone()
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_signing_algorithm() {
    let phase = Phase4::sqlite().await;
    let (status, discovery) = phase.get("/.well-known/openid-configuration", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(discovery["issuer"], phase.base.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("userinfo_endpoint", "/oauth/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(discovery[field], phase.url(path), "{field}");
    }
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
}

#[tokio::test]
async fn the_provider_issues_a_signed_id_token_for_a_code_and_its_verifier() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let form = phase
            .http
            .get(phase.url("/oauth/authorize"))
            .query(&authorization(&[("state", Some("<script>"))]))
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::OK);
        assert_eq!(form.headers()["x-frame-options"], "DENY");
        let page = form.text().await.unwrap();
        assert!(
            page.contains(r#"name="state" value="&lt;script&gt;""#),
            "{page}"
        );

        let wrong = sign_in(&phase, &authorization(&[]), "not her password").await;
        assert_eq!(wrong.status(), StatusCode::OK, "the form again");
        assert!(
            wrong
                .text()
                .await
                .unwrap()
                .contains("Wrong username or password")
        );

        let code = code(&phase).await;
        let response = redeem(&phase, &code, VERIFIER).await;
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "books:read openid profile");

        // The ID token verifies with the published keys, for this client, with the nonce sent.
        let id_token = tokens["id_token"].as_str().unwrap();
        let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
        let jwks: JwkSet = phase
            .http
            .get(phase.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[DEMO_CLIENT]);
        validation.set_issuer(&[&phase.base]);
        let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["nonce"], "the-nonce");
        assert_eq!(claims["preferred_username"], "ada");

        // The access token reads books and the user's info.
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(phase.get("/v2/books", access).await.0, StatusCode::OK);
        let (status, info) = phase.get("/oauth/userinfo", access).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(info["preferred_username"], "ada");
        assert_eq!(info["sub"], claims["sub"]);
        // OpenID Connect Core §5.3: POST answers as GET does.
        let by_post = phase
            .http
            .post(phase.url("/oauth/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(by_post.status(), StatusCode::OK);
        assert_eq!(by_post.json::<Value>().await.unwrap(), info);

        // A code works once.
        let again = redeem(&phase, &code, VERIFIER).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        let problem: Value = again.json().await.unwrap();
        assert_eq!(problem["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn a_code_needs_its_verifier_its_client_and_its_minute() {
    let phase = Phase4::sqlite().await;
    let wrong_verifier = redeem(
        &phase,
        &code(&phase).await,
        "another-verifier-of-forty-three-characters-long",
    )
    .await;
    assert_eq!(wrong_verifier.status(), StatusCode::BAD_REQUEST);
    let problem: Value = wrong_verifier.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_grant");
    assert_eq!(
        problem["detail"],
        "code_verifier does not match the code_challenge"
    );

    // Another client, whose secret is wrong: invalid_client, with a Basic challenge.
    let code = code(&phase).await;
    let foreign = token_request(
        &phase,
        &exchange(&code, VERIFIER, DEMO_REDIRECT),
        Some(("phase4-login", "not-the-secret")),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    assert!(
        foreign.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    // A code a minute old is dead.
    let db = phase.database.database.clone();
    let hash = sha256(&code);
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use phase4_security::schema::authorization_codes as codes;
        diesel::update(codes::table.find(hash))
            .set(codes::expires_at.eq(phase4_security::oauth::now() - 1))
            .execute(&mut *db.conn().unwrap())
            .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(
        redeem(&phase, &code, VERIFIER).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_bad_client_or_redirect_uri_is_an_error_page_and_other_errors_go_back_to_the_client() {
    let phase = Phase4::sqlite().await;
    for changes in [
        [("client_id", Some("no-such-client"))],
        [(
            "redirect_uri",
            Some("http://localhost:3000/callback/../steal"),
        )],
        [("redirect_uri", Some("http://localhost:3000/"))],
    ] {
        let response = phase
            .http
            .get(phase.url("/oauth/authorize"))
            .query(&authorization(&changes))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(
            response.headers().get("location").is_none(),
            "never redirected"
        );
    }
    for (changes, error) in [
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
        ),
        (vec![("code_challenge", None)], "invalid_request"),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (vec![("scope", Some("books:read"))], "invalid_scope"),
    ] {
        let response = phase
            .http
            .get(phase.url("/oauth/authorize"))
            .query(&authorization(&changes))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{changes:?}");
        let back = query(&location(&response));
        assert_eq!(back["error"], error, "{changes:?}");
        assert_eq!(back["state"], "the-state");
    }
}

/// "Login with local" up to the provider's redirect back: the callback URL, and the cookie the
/// client set when the login started.
async fn login_with_local(phase: &Phase4) -> (Url, String) {
    let start = phase
        .http
        .get(phase.url("/login/local"))
        .send()
        .await
        .expect("GET /login/local");
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .expect("Set-Cookie is text")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let cookie = cookie
        .split(';')
        .next()
        .expect("a cookie is name=value")
        .to_owned();
    let authorize = location(&start);
    let params: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let query: HashMap<_, _> = params.iter().cloned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let back = sign_in(phase, &params, "correct-horse-ada").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    (location(&back), cookie)
}

#[tokio::test]
async fn login_with_the_local_provider_completes_over_http() {
    for database in TestDatabase::all_with(&SCHEMA) {
        let phase = Phase4::start(database, |_| {}, |_| {}).await;
        let (providers_status, providers) = phase.get("/login", "").await;
        assert_eq!(providers_status, StatusCode::OK);
        assert_eq!(providers[0]["name"], "local");

        let (callback, cookie) = login_with_local(&phase).await;
        let response = phase
            .http
            .get(callback.as_str())
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let logged_in: LoggedIn = response.json().await.unwrap();
        assert_eq!(logged_in.provider, "local");
        assert_eq!(
            logged_in.user.username,
            format!("local:{}", logged_in.subject)
        );
        let (status, _) = phase.get("/orders", &logged_in.tokens.access_token).await;
        assert_eq!(status, StatusCode::OK);

        // The same callback again: the login is over, no login with that state is in progress.
        let replay = phase
            .http
            .get(callback.as_str())
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_callback_whose_state_is_not_this_browsers_is_refused() {
    let phase = Phase4::sqlite().await;
    let (callback, _) = login_with_local(&phase).await;
    let (_, other_cookie) = login_with_local(&phase).await;
    // No cookie: the request lacks what the login needs (400). Another browser's cookie: the
    // login CSRF check refuses it (403).
    for (cookie, expected) in [
        (None, StatusCode::BAD_REQUEST),
        (Some(other_cookie.as_str()), StatusCode::FORBIDDEN),
    ] {
        let mut request = phase.http.get(callback.as_str());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{cookie:?}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("state does not match")
        );
    }
    // An unknown provider, and a state nobody issued.
    assert_eq!(
        phase.get("/login/nowhere", "").await.0,
        StatusCode::NOT_FOUND
    );
    let forged = phase
        .http
        .get(phase.url("/login/local/callback?code=x&state=forged"))
        .header("cookie", "login_state=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let problem: Value = forged.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "no login with this state is in progress (expired or used)"
    );
    // A provider's refusal is believed only for this browser's own login: with a forged state it
    // is the state that is refused.
    let refusal = phase
        .http
        .get(phase.url("/login/local/callback?error=access_denied&state=forged"))
        .header("cookie", "login_state=other")
        .send()
        .await
        .unwrap();
    assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
    // Whatever else a provider adds to its redirect is ignored, as OAuth asks.
    let (callback, cookie) = login_with_local(&phase).await;
    let response = phase
        .http
        .get(format!("{callback}&iss=x&session_state=y"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_is_redeemed_only_by_its_client_and_for_its_redirect_uri() {
    let database = TestDatabase::sqlite_with(&SCHEMA);
    let phase = Phase4::start(
        database,
        |_| {},
        |state| state.clients.0[0].secret = Some("the-login-secret".to_owned()),
    )
    .await;
    // The confidential client, with its right secret, presents the demo client's code.
    let first = code(&phase).await;
    let foreign = token_request(
        &phase,
        &exchange(&first, VERIFIER, DEMO_REDIRECT),
        Some(("phase4-login", "the-login-secret")),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    let problem: Value = foreign.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_grant");
    // It did not even spend it: the demo client still can.
    assert_eq!(
        redeem(&phase, &first, VERIFIER).await.status(),
        StatusCode::OK
    );

    // The right client, another redirect URI than the authorization request's.
    let second = code(&phase).await;
    let mut form = exchange(&second, VERIFIER, "http://localhost:3000/other").to_vec();
    form.push(("client_id", DEMO_CLIENT));
    let elsewhere = token_request(&phase, &form, None).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    let problem: Value = elsewhere.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "redirect_uri differs from the authorization request's"
    );

    // A token request without a grant type is OAuth's invalid_request.
    let empty = token_request(&phase, &[("client_id", DEMO_CLIENT)], None).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let problem: Value = empty.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_request");
}

#[tokio::test]
async fn login_with_local_still_works_after_a_key_rotation() {
    let phase = Phase4::sqlite().await;
    let (callback, cookie) = login_with_local(&phase).await;
    let first = phase
        .http
        .get(callback.as_str())
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // The client has the provider's keys cached now; the provider signs with a new one.
    phase.keys.rotate().unwrap();
    let (callback, cookie) = login_with_local(&phase).await;
    let second = phase
        .http
        .get(callback.as_str())
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
}

#[tokio::test]
async fn userinfo_by_post_needs_a_token_with_the_openid_scope() {
    let phase = Phase4::sqlite().await;
    let anonymous = phase
        .http
        .post(phase.url("/oauth/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        r#"Bearer realm="phase4""#
    );
    // A password login asks for the API's scopes, not `openid`.
    let ada = phase.ada().await.access_token;
    let refused = phase
        .http
        .post(phase.url("/oauth/userinfo"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let openid = phase
        .login("ada", "correct-horse-ada", Some("openid profile"))
        .await
        .access_token;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = phase
            .http
            .request(method.clone(), phase.url("/oauth/userinfo"))
            .bearer_auth(&openid)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let info: Value = response.json().await.unwrap();
        assert_eq!(info["preferred_username"], "ada", "{method}");
    }
}

#[tokio::test]
async fn the_token_endpoints_ignore_parameters_they_do_not_know() {
    let phase = Phase4::sqlite().await;
    // RFC 6749 §3.2: unrecognized parameters are ignored; one sent empty counts as not sent.
    let login = phase
        .http
        .post(phase.url("/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", "correct-horse-ada"),
            ("client_id", ""),
            ("extra", "one"),
            ("extra", "two"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let code = code(&phase).await;
    let mut form = exchange(&code, VERIFIER, DEMO_REDIRECT).to_vec();
    form.extend([
        ("client_id", DEMO_CLIENT),
        ("resource", "https://api.example"),
    ]);
    assert_eq!(
        token_request(&phase, &form, None).await.status(),
        StatusCode::OK
    );
    let empty_grant = token_request(
        &phase,
        &[("client_id", DEMO_CLIENT), ("grant_type", "")],
        None,
    )
    .await;
    assert_eq!(empty_grant.status(), StatusCode::BAD_REQUEST);
    let problem: Value = empty_grant.json().await.unwrap();
    assert_eq!(problem["error"], "invalid_request");
}
