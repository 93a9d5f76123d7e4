//! Checks for phase 4, security and API best practices (topics 4.1 to 4.9).
//!
//! The contract a phase-4 server keeps, beyond its routes: the demo users `admin` /
//! `correct-horse-admin` (role admin) and `ada` / `correct-horse-ada` (role user); the public OAuth
//! client `demo-client` registered with the redirect URI `http://localhost:3000/callback`; and the
//! server itself as the `local` "Login with" provider. A run stays inside the default rate limit
//! (300 requests a minute for each user, and for the grader's address without a token); graded
//! with a lower one, the checks fail saying the server answered 429.
//!
//! What the checks create (users, orders, books) stays: phase 4 has no route that deletes them.

use std::collections::HashMap;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::check::{
    Check, Target, expect_json, expect_problem, expect_status, header, not_limited, unique,
};
use crate::{checks, conventions};

const ADMIN: (&str, &str) = ("admin", "correct-horse-admin");
const ADA: (&str, &str) = ("ada", "correct-horse-ada");
const DEMO_CLIENT: &str = "demo-client";
const DEMO_REDIRECT: &str = "http://localhost:3000/callback";

pub fn checks() -> Vec<Check> {
    let mut checks = checks![
        "4.1", "a login gives an ES256 access token whose key is in the JWKS" => login_and_jwks,
        "4.1", "refresh rotates; a reused refresh token revokes the login's refresh tokens" => refresh_rotation,
        "4.1", "forged tokens get 401 with a Bearer challenge" => forged_tokens,
        "4.2", "no hash is shown; unknown user and wrong password fail alike" => passwords,
        "4.3", "discovery names the endpoints, ES256 and S256" => discovery,
        "4.3", "code with PKCE: a signed ID token with the nonce; a code works once" => provider_flow,
        "4.3", "an unregistered redirect URI is refused, never redirected to" => exact_redirect,
        "4.3", "Login with local: state cookie, code exchange, tokens" => login_with_local,
        "4.4", "admin routes: 401 without a token, 403 for a user, 200 for an admin" => roles,
        "4.5", "a books:read token reads and cannot write" => scopes,
        "4.5", "the OpenAPI document declares the scopes per route" => openapi_scopes,
        "4.6", "v1 and v2 differ in shape; v1 announces Deprecation and Sunset" => url_versions,
        "4.6", "one URL, the version chosen by header" => header_versions,
        "4.7", "an order's links follow its state and the caller's role" => order_links,
        "4.8", "a retry replays the response; another body with the key is refused" => idempotent_replay,
        "4.8", "concurrent requests with one key create one order" => idempotent_concurrency,
        "4.9", "rate-limit headers everywhere; 429 with Retry-After past the limit" => rate_limited,
    ];
    checks.extend(conventions::checks(
        |target| Box::pin(methods_as_admin(target)),
        |target| Box::pin(errors_as_admin(target)),
    ));
    checks
}

/// HEAD, OPTIONS and 405 on every route, with an admin's token, so that HEAD is compared with
/// GET where GET answers, not only at the 401.
async fn methods_as_admin(target: &Target) -> anyhow::Result<()> {
    let admin = access(&login(target, ADMIN, None).await?)?.to_owned();
    conventions::methods_on_every_route(target, Some(&admin)).await
}

/// The corpus of bad requests, sent with an admin's token so that it reaches every route's
/// parameters and bodies rather than stopping at a 401.
async fn errors_as_admin(target: &Target) -> anyhow::Result<()> {
    let admin = access(&login(target, ADMIN, None).await?)?.to_owned();
    conventions::errors_in_the_apis_words(target, Some(&admin)).await
}

/// Logs in with the password grant; the token response.
async fn login(
    target: &Target,
    (username, password): (&str, &str),
    scope: Option<&str>,
) -> anyhow::Result<Value> {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ];
    form.extend(scope.map(|scope| ("scope", scope)));
    let response = target
        .request(Method::POST, "/auth/token")?
        .form(&form)
        .send()
        .await?;
    let tokens = expect_json(response, 200, &format!("logging in as {username}")).await?;
    ensure!(
        tokens["access_token"].is_string() && tokens["refresh_token"].is_string(),
        "the token response lacks access_token or refresh_token: {tokens}"
    );
    Ok(tokens)
}

fn access(tokens: &Value) -> anyhow::Result<&str> {
    tokens["access_token"]
        .as_str()
        .context("no access_token in the token response")
}

/// A user of its own for a check: registered, and logged in. The access token.
async fn new_user(target: &Target) -> anyhow::Result<String> {
    let username = format!("grader-{}", unique());
    let password = "a grader's long passphrase";
    let response = target
        .request(Method::POST, "/auth/register")?
        .json(&json!({"username": username, "password": password}))
        .send()
        .await?;
    expect_status(&response, 201, "registering a user")?;
    Ok(access(&login(target, (&username, password), None).await?)?.to_owned())
}

async fn get(target: &Target, path: &str, token: &str) -> anyhow::Result<Response> {
    Ok(target.get(path)?.bearer_auth(token).send().await?)
}

async fn post(target: &Target, path: &str, token: &str, body: &Value) -> anyhow::Result<Response> {
    Ok(target
        .request(Method::POST, path)?
        .bearer_auth(token)
        .json(body)
        .send()
        .await?)
}

/// The payload of a JWT, unverified.
fn payload(token: &str) -> anyhow::Result<Value> {
    let part = token.split('.').nth(1).context("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
}

async fn jwks(target: &Target) -> anyhow::Result<JwkSet> {
    let response = target.get("/.well-known/jwks.json")?.send().await?;
    let keys = expect_json(response, 200, "GET /.well-known/jwks.json").await?;
    serde_json::from_value(keys.clone()).with_context(|| format!("not a JWK set: {keys}"))
}

async fn login_and_jwks(target: &Target) -> anyhow::Result<()> {
    let tokens = login(target, ADA, None).await?;
    let token = access(&tokens)?;
    let header = jsonwebtoken::decode_header(token).context("the access token is not a JWT")?;
    ensure!(
        header.alg == Algorithm::ES256,
        "signed with {:?}, not ES256",
        header.alg
    );
    let kid = header.kid.context("the access token names no kid")?;
    let keys = jwks(target).await?;
    let jwk = keys
        .find(&kid)
        .context("the token's kid is not in the JWKS")?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)
        .context("the access token does not verify with the published key")?
        .claims;
    for claim in ["iss", "aud", "exp", "nbf", "sub"] {
        ensure!(
            claims.get(claim).is_some(),
            "the access token has no `{claim}`"
        );
    }
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    ensure!(
        (60..=3600).contains(&lifetime),
        "an access token should be short-lived; this one lives {lifetime} s"
    );
    expect_status(
        &get(target, "/v2/books", token).await?,
        200,
        "GET /v2/books with the access token",
    )?;
    Ok(())
}

async fn refresh(target: &Target, refresh_token: &str) -> anyhow::Result<Response> {
    Ok(target
        .request(Method::POST, "/auth/token")?
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await?)
}

async fn refresh_rotation(target: &Target) -> anyhow::Result<()> {
    let first = login(target, ADA, None).await?;
    let first_refresh = first["refresh_token"]
        .as_str()
        .context("no refresh_token")?;
    let second = expect_json(refresh(target, first_refresh).await?, 200, "refreshing").await?;
    let second_refresh = second["refresh_token"]
        .as_str()
        .context("no refresh_token")?;
    ensure!(
        second_refresh != first_refresh,
        "refresh did not rotate the refresh token"
    );
    let reused = expect_problem(
        refresh(target, first_refresh).await?,
        400,
        "reusing a spent refresh token",
    )
    .await?;
    ensure!(
        reused.extensions.get("error") == Some(&json!("invalid_grant")),
        "a reused refresh token should be OAuth's invalid_grant: {reused:?}"
    );
    let revoked = refresh(target, second_refresh).await?;
    not_limited(&revoked, "refreshing after a reuse")?;
    ensure!(
        revoked.status() == 400,
        "after a reuse, the newest refresh token of the login should be revoked too; got {}",
        revoked.status()
    );
    Ok(())
}

async fn expect_refused(target: &Target, token: &str, what: &str) -> anyhow::Result<()> {
    let response = get(target, "/v2/books", token).await?;
    let challenge = header(&response, "www-authenticate", what)?.to_owned();
    ensure!(
        challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
        "{what}: the challenge should be Bearer ... error=\"invalid_token\": {challenge}"
    );
    expect_problem(response, 401, what).await?;
    Ok(())
}

async fn forged_tokens(target: &Target) -> anyhow::Result<()> {
    let tokens = login(target, ADA, None).await?;
    let real = access(&tokens)?;
    let mut claims = payload(real)?;
    let signature_of_real = real.rsplit('.').next().unwrap_or_default();

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    expect_refused(target, &none, "a token with alg none").await?;

    let keys = jwks(target).await?;
    let public = keys.keys.first().context("the JWKS is empty")?;
    let hs256 = jsonwebtoken::encode(
        &Header {
            kid: public.common.key_id.clone(),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(serde_json::to_string(public)?.as_bytes()),
    )?;
    expect_refused(target, &hs256, "an HS256 token keyed with the public key").await?;

    claims["role"] = json!("admin");
    claims["scope"] = json!("books:read books:write orders:read orders:write");
    let header = real.split('.').next().unwrap_or_default();
    let tampered = format!(
        "{header}.{}.{signature_of_real}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    expect_refused(target, &tampered, "a token with an edited payload").await?;

    let refresh_token = tokens["refresh_token"]
        .as_str()
        .context("no refresh_token")?;
    expect_refused(
        target,
        refresh_token,
        "a refresh token used as an access token",
    )
    .await?;
    Ok(())
}

async fn passwords(target: &Target) -> anyhow::Result<()> {
    let username = format!("grader-{}", unique());
    let password = "a grader's long passphrase";
    let response = target
        .request(Method::POST, "/auth/register")?
        .json(&json!({"username": username, "password": password}))
        .send()
        .await?;
    expect_status(&response, 201, "registering")?;
    let body = response.text().await?;
    ensure!(
        !body.contains(password) && !body.contains("$argon2") && !body.contains("hash"),
        "the registration response shows the password or its hash: {body}"
    );

    let attempt = |username: String| async move {
        let response = target
            .request(Method::POST, "/auth/token")?
            .form(&[
                ("grant_type", "password"),
                ("username", username.as_str()),
                ("password", "not the password at all"),
            ])
            .send()
            .await?;
        not_limited(&response, "logging in with a wrong password")?;
        let status = response.status().as_u16();
        anyhow::Ok((status, response.text().await?))
    };
    let wrong_password = attempt(username.clone()).await?;
    let unknown_user = attempt(format!("nobody-{}", unique())).await?;
    ensure!(
        (400..500).contains(&wrong_password.0),
        "a wrong password should be refused, got {}",
        wrong_password.0
    );
    ensure!(
        wrong_password == unknown_user,
        "a wrong password and an unknown user should look alike:\n{wrong_password:?}\n{unknown_user:?}"
    );

    let weak = target
        .request(Method::POST, "/auth/register")?
        .json(&json!({"username": format!("grader-{}", unique()), "password": "short"}))
        .send()
        .await?;
    let problem = expect_problem(weak, 422, "registering with a short password").await?;
    crate::check::expect_field_error(&problem, "password", "a short password")
}

async fn discovery(target: &Target) -> anyhow::Result<()> {
    let response = target
        .get("/.well-known/openid-configuration")?
        .send()
        .await?;
    let doc = expect_json(response, 200, "discovery").await?;
    let issuer = doc["issuer"].as_str().context("discovery has no issuer")?;
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        let url = doc[field]
            .as_str()
            .with_context(|| format!("discovery has no {field}"))?;
        ensure!(
            url.starts_with(issuer),
            "{field} {url} is not under the issuer {issuer}"
        );
    }
    for (field, value) in [
        ("code_challenge_methods_supported", "S256"),
        ("id_token_signing_alg_values_supported", "ES256"),
        ("response_types_supported", "code"),
    ] {
        ensure!(
            doc[field]
                .as_array()
                .is_some_and(|values| values.contains(&json!(value))),
            "{field} does not list {value}: {}",
            doc[field]
        );
    }
    Ok(())
}

/// An authorization request of the demo client.
fn authorization(verifier: &str, redirect_uri: &str) -> Vec<(String, String)> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    [
        ("response_type", "code"),
        ("client_id", DEMO_CLIENT),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile books:read"),
        ("state", "grader-state"),
        ("nonce", "grader-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Signs in as ada at the provider's form; the query of the redirect back.
async fn sign_in(
    target: &Target,
    params: &[(String, String)],
) -> anyhow::Result<(Url, HashMap<String, String>)> {
    let mut form = params.to_vec();
    form.push(("username".to_owned(), ADA.0.to_owned()));
    form.push(("password".to_owned(), ADA.1.to_owned()));
    let response = target
        .request(Method::POST, "/oauth/authorize")?
        .form(&form)
        .send()
        .await?;
    expect_status(&response, 303, "signing in at POST /oauth/authorize")?;
    let location = Url::parse(header(&response, "location", "the sign-in")?)
        .context("the sign-in redirects to no URL")?;
    let query = location.query_pairs().into_owned().collect();
    Ok((location, query))
}

async fn redeem(target: &Target, code: &str, verifier: &str) -> anyhow::Result<Response> {
    Ok(target
        .request(Method::POST, "/oauth/token")?
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT),
            ("code_verifier", verifier),
            ("client_id", DEMO_CLIENT),
        ])
        .send()
        .await?)
}

async fn provider_flow(target: &Target) -> anyhow::Result<()> {
    let verifier = format!(
        "grader-verifier-{}-with-enough-characters-for-pkce",
        unique()
    );
    let params = authorization(&verifier, DEMO_REDIRECT);
    let form = target
        .get("/oauth/authorize")?
        .query(&params)
        .send()
        .await?;
    expect_status(&form, 200, "GET /oauth/authorize")?;
    ensure!(
        form.text().await?.contains("<form"),
        "GET /oauth/authorize shows no login form"
    );
    let (back, query) = sign_in(target, &params).await?;
    ensure!(
        back.as_str().starts_with(DEMO_REDIRECT),
        "the sign-in sent the browser to {back}, not the registered redirect URI"
    );
    ensure!(
        query.get("state").map(String::as_str) == Some("grader-state"),
        "the state was not sent back: {back}"
    );
    let code = query.get("code").context("no code in the redirect")?;

    let wrong = redeem(
        target,
        code,
        "not-the-verifier-but-long-enough-to-look-like-one",
    )
    .await?;
    expect_status(&wrong, 400, "redeeming a code with the wrong PKCE verifier")?;
    // A failed redemption may have spent the code: sign in again for a fresh one.
    let (_, query) = sign_in(target, &params).await?;
    let code = query.get("code").context("no code in the redirect")?;
    let tokens = expect_json(
        redeem(target, code, &verifier).await?,
        200,
        "redeeming the code",
    )
    .await?;
    let id_token = tokens["id_token"].as_str().context("no id_token")?;
    let kid = jsonwebtoken::decode_header(id_token)?
        .kid
        .context("the ID token names no kid")?;
    let keys = jwks(target).await?;
    let key = DecodingKey::from_jwk(
        keys.find(&kid)
            .context("the ID token's kid is not in the JWKS")?,
    )?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[DEMO_CLIENT]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .context("the ID token does not verify for the demo client")?
        .claims;
    ensure!(
        claims["nonce"] == "grader-nonce",
        "the ID token's nonce is {}",
        claims["nonce"]
    );

    let info = get(target, "/oauth/userinfo", access(&tokens)?).await?;
    let info = expect_json(info, 200, "GET /oauth/userinfo").await?;
    ensure!(
        info["sub"] == claims["sub"],
        "userinfo's sub differs from the ID token's"
    );

    let again = redeem(target, code, &verifier).await?;
    expect_status(&again, 400, "redeeming a code a second time")?;
    Ok(())
}

async fn exact_redirect(target: &Target) -> anyhow::Result<()> {
    for redirect in [
        "http://localhost:3000/callback/../evil",
        "http://evil.example/callback",
    ] {
        let params = authorization(
            "a-verifier-long-enough-for-pkce-to-accept-it-here",
            redirect,
        );
        let response = target
            .get("/oauth/authorize")?
            .query(&params)
            .send()
            .await?;
        ensure!(
            response.headers().get("location").is_none(),
            "an unregistered redirect URI ({redirect}) was redirected to"
        );
        expect_problem(response, 400, "an unregistered redirect URI").await?;
    }
    let mut params = authorization(
        "a-verifier-long-enough-for-pkce-to-accept-it-here",
        DEMO_REDIRECT,
    );
    params.retain(|(name, _)| !name.starts_with("code_challenge"));
    let response = target
        .get("/oauth/authorize")?
        .query(&params)
        .send()
        .await?;
    expect_status(&response, 303, "an authorization request without PKCE")?;
    let back = header(
        &response,
        "location",
        "an authorization request without PKCE",
    )?;
    ensure!(
        back.starts_with(DEMO_REDIRECT) && back.contains("error=invalid_request"),
        "a request without PKCE should go back with error=invalid_request: {back}"
    );
    Ok(())
}

async fn login_with_local(target: &Target) -> anyhow::Result<()> {
    let start = target.get("/login/local")?.send().await?;
    expect_status(&start, 303, "GET /login/local")?;
    let cookie = header(&start, "set-cookie", "GET /login/local")?;
    ensure!(
        cookie.contains("HttpOnly"),
        "the state cookie is not HttpOnly: {cookie}"
    );
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let authorize = Url::parse(header(&start, "location", "GET /login/local")?)?;
    let params: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    for needed in ["state", "nonce", "code_challenge"] {
        ensure!(
            params.iter().any(|(name, _)| name == needed),
            "the login does not send {needed}: {authorize}"
        );
    }
    let (callback, _) = sign_in(target, &params).await?;
    let without_cookie = target.client.get(callback.as_str()).send().await?;
    expect_status(
        &without_cookie,
        400,
        "the callback from another browser (no state cookie)",
    )?;
    let response = target
        .client
        .get(callback.as_str())
        .header("cookie", &cookie)
        .send()
        .await?;
    let logged_in = expect_json(response, 200, "the callback").await?;
    let token = logged_in["tokens"]["access_token"]
        .as_str()
        .context("the callback gives no access token")?;
    expect_status(
        &get(target, "/v2/books", token).await?,
        200,
        "the token from Login with",
    )?;
    Ok(())
}

async fn roles(target: &Target) -> anyhow::Result<()> {
    let anonymous = target.get("/admin/users")?.send().await?;
    header(
        &anonymous,
        "www-authenticate",
        "GET /admin/users without a token",
    )?;
    expect_problem(anonymous, 401, "GET /admin/users without a token").await?;
    let user = access(&login(target, ADA, None).await?)?.to_owned();
    expect_problem(
        get(target, "/admin/users", &user).await?,
        403,
        "GET /admin/users as a user",
    )
    .await?;
    let admin = access(&login(target, ADMIN, None).await?)?.to_owned();
    let users = expect_json(
        get(target, "/admin/users", &admin).await?,
        200,
        "GET /admin/users as admin",
    )
    .await?;
    ensure!(
        users
            .as_array()
            .is_some_and(|users| users.iter().any(|u| u["username"] == "admin")),
        "the admin's list of users does not list the admin"
    );
    ensure!(
        !users.to_string().contains("argon2"),
        "the list of users shows password hashes"
    );
    Ok(())
}

async fn scopes(target: &Target) -> anyhow::Result<()> {
    let book = json!({"title": format!("Grader {}", unique()), "year": 2001, "author_id": 1});
    let read_only = login(target, ADMIN, Some("books:read")).await?;
    let token = access(&read_only)?;
    expect_status(
        &get(target, "/v2/books", token).await?,
        200,
        "reading with books:read",
    )?;
    let refused = post(target, "/v2/books", token, &book).await?;
    let challenge = header(&refused, "www-authenticate", "writing with books:read")?.to_owned();
    ensure!(
        challenge.contains("insufficient_scope"),
        "the challenge should say insufficient_scope: {challenge}"
    );
    expect_problem(refused, 403, "writing with books:read").await?;
    let full = login(target, ADMIN, None).await?;
    let created = post(target, "/v2/books", access(&full)?, &book).await?;
    expect_status(&created, 201, "writing with books:write")?;
    let orphan =
        json!({"title": format!("Grader {}", unique()), "year": 2001, "author_id": 999_999});
    expect_problem(
        post(target, "/v2/books", access(&full)?, &orphan).await?,
        404,
        "a book by an author who does not exist",
    )
    .await?;
    Ok(())
}

async fn openapi_scopes(target: &Target) -> anyhow::Result<()> {
    let doc = expect_json(
        target.get("/openapi.json")?.send().await?,
        200,
        "GET /openapi.json",
    )
    .await?;
    let schemes = &doc["components"]["securitySchemes"];
    let flows = schemes
        .as_object()
        .into_iter()
        .flat_map(|schemes| schemes.values())
        .find(|scheme| scheme["type"] == "oauth2")
        .context("no OAuth2 security scheme")?;
    let scopes = flows["flows"]
        .as_object()
        .and_then(|flows| flows.values().next())
        .map(|flow| flow["scopes"].clone())
        .context("the OAuth2 scheme has no flow")?;
    ensure!(
        scopes.get("books:read").is_some() && scopes.get("books:write").is_some(),
        "the OAuth2 scheme does not declare books:read and books:write: {scopes}"
    );
    let write = doc["paths"]["/v2/books"]["post"]["security"].to_string();
    ensure!(
        write.contains("books:write"),
        "POST /v2/books does not declare books:write: {write}"
    );
    Ok(())
}

async fn url_versions(target: &Target) -> anyhow::Result<()> {
    let token = access(&login(target, ADA, None).await?)?.to_owned();
    let v1 = get(target, "/v1/books/1", &token).await?;
    header(&v1, "deprecation", "GET /v1/books/1")?;
    header(&v1, "sunset", "GET /v1/books/1")?;
    let v1 = expect_json(v1, 200, "GET /v1/books/1").await?;
    let v2 = get(target, "/v2/books/1", &token).await?;
    ensure!(
        v2.headers().get("deprecation").is_none(),
        "v2 announces a deprecation"
    );
    let v2 = expect_json(v2, 200, "GET /v2/books/1").await?;
    ensure!(
        v1["author"].is_string(),
        "v1's author should be a name: {v1}"
    );
    ensure!(
        v2["author"]["name"] == v1["author"],
        "v2's author should be an object with the name: {v2}"
    );
    Ok(())
}

async fn header_versions(target: &Target) -> anyhow::Result<()> {
    let token = access(&login(target, ADA, None).await?)?.to_owned();
    let token = token.as_str();
    let ask = |version: &'static str| async move {
        anyhow::Ok(
            target
                .get("/books/1")?
                .bearer_auth(token)
                .header("api-version", version)
                .send()
                .await?,
        )
    };
    let v1 = ask("1").await?;
    header(&v1, "deprecation", "Api-Version: 1")?;
    let v1 = expect_json(v1, 200, "GET /books/1 with Api-Version: 1").await?;
    let v2 = expect_json(ask("2").await?, 200, "GET /books/1 with Api-Version: 2").await?;
    ensure!(
        v1["author"].is_string() && v2["author"].is_object(),
        "the version header does not choose the shape:\n{v1}\n{v2}"
    );
    expect_problem(ask("99").await?, 400, "Api-Version: 99").await?;
    Ok(())
}

fn link_names(order: &Value) -> Vec<&str> {
    order["_links"]
        .as_object()
        .map(|links| links.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

async fn order_links(target: &Target) -> anyhow::Result<()> {
    let user = new_user(target).await?;
    let admin = access(&login(target, ADMIN, None).await?)?.to_owned();
    expect_problem(
        post(
            target,
            "/orders",
            &user,
            &json!({"book_id": 999_999, "quantity": 1}),
        )
        .await?,
        404,
        "an order for a book that does not exist",
    )
    .await?;
    let order = expect_json(
        post(
            target,
            "/orders",
            &user,
            &json!({"book_id": 1, "quantity": 1}),
        )
        .await?,
        201,
        "POST /orders",
    )
    .await?;
    let links = link_names(&order);
    ensure!(
        links.contains(&"self")
            && links.contains(&"pay")
            && links.contains(&"cancel")
            && !links.contains(&"ship"),
        "a placed order, seen by its owner, links self, pay and cancel, not ship: {links:?}"
    );
    let pay = order["_links"]["pay"]["href"]
        .as_str()
        .context("no pay href")?;
    let paid = expect_json(
        post(target, pay, &user, &json!({})).await?,
        200,
        "following pay",
    )
    .await?;
    ensure!(
        !link_names(&paid).contains(&"pay"),
        "a paid order still links pay"
    );
    let self_link = order["_links"]["self"]["href"]
        .as_str()
        .context("no self href")?;
    let seen = expect_json(
        get(target, self_link, &admin).await?,
        200,
        "the order, as admin",
    )
    .await?;
    let ship = seen["_links"]["ship"]["href"]
        .as_str()
        .context("a paid order, seen by an admin, should link ship")?;
    let shipped = expect_json(
        post(target, ship, &admin, &json!({})).await?,
        200,
        "following ship",
    )
    .await?;
    ensure!(
        !link_names(&shipped).contains(&"cancel"),
        "a shipped order still links cancel: {:?}",
        link_names(&shipped)
    );
    let cancel = format!("{self_link}/cancel");
    expect_problem(
        post(target, &cancel, &user, &json!({})).await?,
        409,
        "cancelling a shipped order",
    )
    .await?;
    Ok(())
}

async fn idempotent_post(
    target: &Target,
    token: &str,
    key: &str,
    body: &Value,
) -> anyhow::Result<Response> {
    Ok(target
        .request(Method::POST, "/orders")?
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await?)
}

async fn idempotent_replay(target: &Target) -> anyhow::Result<()> {
    let token = new_user(target).await?;
    let key = format!("grader-{}", unique());
    let body = json!({"book_id": 2, "quantity": 1});
    let first = expect_json(
        idempotent_post(target, &token, &key, &body).await?,
        201,
        "the first POST",
    )
    .await?;
    let retry = idempotent_post(target, &token, &key, &body).await?;
    let replayed = header(&retry, "idempotent-replayed", "the retried POST")?.to_owned();
    ensure!(replayed == "true", "Idempotent-Replayed: {replayed}");
    let retry = expect_json(retry, 201, "the retried POST").await?;
    ensure!(
        retry == first,
        "the replay differs from the first response:\n{first}\n{retry}"
    );
    let other =
        idempotent_post(target, &token, &key, &json!({"book_id": 2, "quantity": 5})).await?;
    expect_problem(other, 409, "the same key with another body").await?;
    let orders = expect_json(get(target, "/orders", &token).await?, 200, "GET /orders").await?;
    ensure!(
        orders["count"] == 1,
        "one order expected, the list says {}",
        orders["count"]
    );
    Ok(())
}

async fn idempotent_concurrency(target: &Target) -> anyhow::Result<()> {
    let token = new_user(target).await?;
    let key = format!("grader-{}", unique());
    let body = json!({"book_id": 3, "quantity": 1});
    let attempts = (0..8).map(|_| idempotent_post(target, &token, &key, &body));
    for response in futures_util::future::join_all(attempts).await {
        let response = response?;
        not_limited(&response, "a concurrent POST /orders")?;
        let status = response.status().as_u16();
        ensure!(
            status == 201 || status == 409,
            "a concurrent retry answered {status}"
        );
    }
    let orders = expect_json(get(target, "/orders", &token).await?, 200, "GET /orders").await?;
    ensure!(
        orders["count"] == 1,
        "8 concurrent requests with one key created {} orders",
        orders["count"]
    );
    Ok(())
}

async fn rate_limited(target: &Target) -> anyhow::Result<()> {
    let token = new_user(target).await?;
    let first = get(target, "/v2/books", &token).await?;
    let limit: u32 = header(&first, "ratelimit-limit", "a response")?.parse()?;
    header(&first, "ratelimit-remaining", "a response")?;
    header(&first, "ratelimit-reset", "a response")?;
    ensure!(
        limit <= 1000,
        "a limit of {limit} is too high to grade in a few seconds"
    );
    // The bucket refills while we empty it: a few more requests than the limit are allowed for.
    for _ in 0..limit + 20 {
        let response = get(target, "/v2/books", &token).await?;
        if response.status() == 429 {
            let retry_after: u64 = header(&response, "retry-after", "the 429")?.parse()?;
            ensure!(retry_after >= 1, "Retry-After: {retry_after}");
            ensure!(
                header(&response, "ratelimit-remaining", "the 429")? == "0",
                "a 429 should say nothing remains"
            );
            expect_problem(response, 429, "the 429").await?;
            return Ok(());
        }
        header(&response, "ratelimit-remaining", "a response")?;
    }
    bail!(
        "{} requests within the limit of {limit} were all answered",
        limit + 20
    )
}
