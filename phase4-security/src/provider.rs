//! 4.3 OAuth 2.0 / OpenID Connect, the provider side: this server is an identity provider.
//!
//! **Roadmap:** "OAuth2 & OpenID Connect: Implementing 'Login with Google/GitHub'." This module is
//! the provider such a button talks to; `login` (the other half of 4.3) is the button.
//!
//! **Python:** Authlib's `AuthorizationServer` with `AuthorizationCodeGrant` and the OpenID Connect
//! extension, or django-oauth-toolkit.
//!
//! **Rust:** the protocol is a handful of routes. Passwords are checked and tokens signed through
//! `auth::PasswordCheck` and `auth::TokenService` (4.2 and 4.1 implement them):
//! - `GET /.well-known/openid-configuration`: discovery, what clients read first;
//! - `GET /.well-known/jwks.json` (4.1): the keys that verify ID tokens;
//! - `GET /oauth/authorize`: checks the client and its redirect URI, *exactly* as registered (never
//!   a prefix: that is how codes get stolen), then shows a login form; a bad client or redirect URI
//!   is an error page, never a redirect (an open redirector otherwise);
//! - `POST /oauth/authorize`: the form's answer; on the right password, a redirect to the client
//!   with a one-time code and the client's `state`;
//! - `POST /oauth/token`: code for tokens. The code must be unused, under a minute old, issued to
//!   this client for this redirect URI, and match the PKCE challenge: PKCE with `S256` is required
//!   of every client, as OAuth 2.1 does. It returns an access token for this API and a signed ID
//!   token (`aud` is the client, `nonce` echoes the one sent to `/oauth/authorize`);
//! - `GET` or `POST /oauth/userinfo` (OpenID Connect Core §5.3 allows both): who the access token
//!   in the `Authorization` header belongs to. (RFC 6750 §2.2 also allows the token in a form
//!   body; OpenID Connect recommends the header, and the header is what this provider reads.)
//!
//! Parameters these endpoints do not know are ignored, as RFC 6749 §3.1 requires of them.
//!
//! Codes are stored as their SHA-256, and spent by the same `UPDATE` that checks they are unspent,
//! so a code works once even under concurrent redemption.
//!
//! **Why:** the authorization code flow keeps tokens out of the browser's address bar; PKCE binds the
//! code to the client that asked for it, so an intercepted code is useless; `state` and `nonce` let
//! the client tell its own login from one an attacker injected.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::ApiError;
use common::db::{Database, blocking, write_transaction};
use common::extract::{Form, Query};
use common::manifest::escape;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use crate::auth::{Caller, PasswordCheck, Scope, Scopes, TokenService};
use crate::oauth::{Ignored, no_store, now, oauth_error, random_token, seconds, sha256};
use crate::schema::authorization_codes;
use crate::users::{self, User};

/// How long a code may wait to be redeemed.
pub const CODE_LIFETIME_SECS: i64 = 60;

/// A client registered with the provider.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub id: String,
    /// `None` for a public client (a single-page or mobile app, which cannot keep a secret).
    pub secret: Option<String>,
    /// Compared exactly, character for character.
    pub redirect_uris: Vec<String>,
}

/// The provider's registered clients.
#[derive(Debug, Clone, Default)]
pub struct Clients(pub Vec<RegisteredClient>);

impl Clients {
    fn find(&self, id: &str) -> Option<&RegisteredClient> {
        self.0.iter().find(|client| client.id == id)
    }
}

/// The demo public client, for trying the flow by hand: nothing needs to listen at its redirect URI,
/// the code is read off the browser's address bar (or curl's `Location`).
pub fn demo_client() -> RegisteredClient {
    RegisteredClient {
        id: "demo-client".to_owned(),
        secret: None,
        redirect_uris: vec!["http://localhost:3000/callback".to_owned()],
    }
}

/// The discovery document (OpenID Connect Discovery 1.0), the fields clients need.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// `GET /.well-known/openid-configuration`.
#[utoipa::path(
    tag = "openid",
    responses((
        status = 200,
        description = "What an OpenID Connect client needs to know of this provider; cacheable for five minutes",
        body = Discovery,
        headers(("Cache-Control" = String, description = "`max-age=300`")),
    ))
)]
#[get("/.well-known/openid-configuration")]
pub(crate) async fn discovery(tokens: web::Data<dyn TokenService>) -> HttpResponse {
    let issuer = tokens.issuer();
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::MaxAge(300)]))
        .json(Discovery {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}/oauth/authorize"),
            token_endpoint: format!("{issuer}/oauth/token"),
            userinfo_endpoint: format!("{issuer}/oauth/userinfo"),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            response_types_supported: strings(&["code"]),
            grant_types_supported: strings(&["authorization_code"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&["ES256"]),
            token_endpoint_auth_methods_supported: strings(&[
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]),
            code_challenge_methods_supported: strings(&["S256"]),
            scopes_supported: Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
            claims_supported: strings(&[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
            ]),
        })
}

/// The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1).
/// Only a bad client or redirect URI is refused with an error page; every other mistake is sent
/// back to the client, so the document marks only those two required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationRequest {
    /// `code`: anything else is sent back as `unsupported_response_type`.
    #[serde(default)]
    pub response_type: String,
    /// A registered client: the demo client, `demo-client`. (The server's own "Login with"
    /// client is registered too.)
    #[serde(default)]
    #[schema(pattern = "^demo-client$", required = true)]
    pub client_id: String,
    /// Exactly as the client registered it.
    #[serde(default)]
    #[schema(pattern = "^http://localhost:3000/callback$", required = true)]
    pub redirect_uri: String,
    /// Space-separated; must include `openid`.
    #[serde(default)]
    pub scope: String,
    /// Sent back to the client as it came.
    pub state: Option<String>,
    /// Put in the ID token as it came.
    pub nonce: Option<String>,
    /// PKCE, required: the base64url SHA-256 of the verifier, 43 to 128 characters.
    pub code_challenge: Option<String>,
    /// `S256`.
    pub code_challenge_method: Option<String>,
    /// Anything else: ignored, as OAuth requires.
    #[serde(flatten, skip_serializing)]
    #[schema(ignore)]
    pub other: Ignored,
}

/// The login form's answer: the request again (never trusted: checked again) and the credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    #[serde(flatten)]
    pub request: AuthorizationRequest,
    pub username: String,
    pub password: String,
}

/// A request that was refused: shown as a page when the client or redirect URI is wrong, sent back
/// to the client otherwise.
enum Refusal {
    Page(ApiError),
    Redirect(Box<HttpResponse>),
}

impl From<Refusal> for Result<HttpResponse, ApiError> {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Page(error) => Err(error),
            Refusal::Redirect(response) => Ok(*response),
        }
    }
}

/// A 303 to `redirect_uri` with `params` (and `state`, when the client sent one).
fn redirect_to(redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> HttpResponse {
    // Registered URIs are URLs; were one not, there would be nowhere to send the browser.
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return HttpResponse::BadRequest().finish();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.as_str()))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .finish()
}

/// Checks an authorization request; the client and the scopes it may get when it is valid.
fn check(
    clients: &Clients,
    request: &AuthorizationRequest,
) -> Result<(RegisteredClient, String), Refusal> {
    let client = clients.find(&request.client_id).ok_or_else(|| {
        Refusal::Page(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "no client is registered with this client_id",
        ))
    })?;
    if !client.redirect_uris.contains(&request.redirect_uri) {
        return Err(Refusal::Page(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not one this client registered",
        )));
    }
    let refuse = |error: &str, description: &str| {
        Refusal::Redirect(Box::new(redirect_to(
            &request.redirect_uri,
            request.state.as_deref(),
            &[("error", error), ("error_description", description)],
        )))
    };
    if request.response_type != "code" {
        return Err(refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let challenge_ok = request
        .code_challenge
        .as_deref()
        .is_some_and(|challenge| (43..=128).contains(&challenge.len()));
    if !challenge_ok || request.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: code_challenge with code_challenge_method=S256",
        ));
    }
    let scopes = Scopes::parse(&request.scope)
        .map_err(|name| refuse("invalid_scope", &format!("no scope called `{name}`")))?;
    if !scopes.contains(Scope::OpenId) {
        return Err(refuse("invalid_scope", "the scope must include openid"));
    }
    Ok((client.clone(), scopes.to_string()))
}

/// The login page: the request's parameters as hidden fields, and the credentials to fill in.
fn login_page(request: &AuthorizationRequest, client: &str, message: Option<&str>) -> HttpResponse {
    let hidden: String = [
        ("response_type", Some(request.response_type.as_str())),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("scope", Some(request.scope.as_str())),
        ("state", request.state.as_deref()),
        ("nonce", request.nonce.as_deref()),
        ("code_challenge", request.code_challenge.as_deref()),
        (
            "code_challenge_method",
            request.code_challenge_method.as_deref(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value.map(|value| {
            format!(
                r#"    <input type="hidden" name="{name}" value="{}">
"#,
                escape(value)
            )
        })
    })
    .collect();
    let message = message
        .map(|message| format!(r#"  <p role="alert">{}</p>"#, escape(message)))
        .unwrap_or_default();
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
  <h1>Sign in to phase 4</h1>
  <p><strong>{client}</strong> asks for: {scope}</p>
{message}
  <form method="post" action="/oauth/authorize">
{hidden}    <label>Username <input name="username" autocomplete="username" required></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
  </form>
</body>
</html>
"#,
        client = escape(client),
        scope = escape(&request.scope),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        // Nobody may frame the login form (clickjacking).
        .insert_header(("content-security-policy", "frame-ancestors 'none'"))
        .insert_header(("x-frame-options", "DENY"))
        .body(page)
}

/// `GET /oauth/authorize`: checks the request, then shows the login form.
#[utoipa::path(
    tag = "openid",
    // What a client or provider adds beyond these is ignored, as OAuth requires (RFC 6749 §3.1).
    extensions(("x-unknown-query-parameters" = json!("ignored"))),
    params(
        ("client_id" = String, Query, pattern = "^demo-client$",
            description = "A registered client: the demo client. (The server's own \"Login with\" client is registered too.)"),
        ("redirect_uri" = String, Query, pattern = "^http://localhost:3000/callback$",
            description = "Exactly as the client registered it"),
        ("response_type" = Option<String>, Query,
            description = "`code`. Every mistake but a bad client or redirect URI is sent back to the client"),
        ("scope" = Option<String>, Query, description = "Space-separated; must include `openid`"),
        ("state" = Option<String>, Query, description = "Sent back to the client as it came"),
        ("nonce" = Option<String>, Query, description = "Put in the ID token as it came"),
        ("code_challenge" = Option<String>, Query,
            description = "PKCE, required: the base64url SHA-256 of the verifier, 43 to 128 characters"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
    ),
    responses(
        (status = 200, description = "The login form", content_type = "text/html"),
        (status = 303, description = "Back to the client with `error` and `error_description`",
            headers(("Location" = String, description = "The client's redirect URI"))),
        (status = 400, description = "An unknown client, or a redirect URI it did not register: an error page, never a redirect"),
    )
)]
#[get("/oauth/authorize")]
pub(crate) async fn authorize(
    clients: web::Data<Clients>,
    Query(request): Query<AuthorizationRequest>,
) -> Result<HttpResponse, ApiError> {
    match check(&clients, &request) {
        Ok((client, _)) => Ok(login_page(&request, &client.id, None)),
        Err(refusal) => refusal.into(),
    }
}

/// `POST /oauth/authorize`: the login form. The right password sends the browser back to the
/// client with a code; a wrong one shows the form again.
#[utoipa::path(
    tag = "openid",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded",
        description = "The authorization request again (checked again), and the credentials"),
    responses(
        (status = 200, description = "The form again, saying the username or password was wrong", content_type = "text/html"),
        (status = 303, description = "Back to the client, with `code` and `state` (or `error`)",
            headers(("Location" = String, description = "The client's redirect URI"))),
        (status = 400, description = "An unknown client, or a redirect URI it did not register"),
    )
)]
#[post("/oauth/authorize")]
pub(crate) async fn sign_in(
    clients: web::Data<Clients>,
    database: web::Data<Database>,
    passwords: web::Data<dyn PasswordCheck>,
    Form(form): Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let request = form.request;
    let (client, scope) = match check(&clients, &request) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into(),
    };
    let authenticated = passwords
        .authenticate(database.get_ref().clone(), form.username, form.password)
        .await?;
    let Some(user) = authenticated else {
        return Ok(login_page(
            &request,
            &client.id,
            Some("Wrong username or password."),
        ));
    };
    // Only what the user's role allows, whatever the client asked for.
    let scope = Scopes::parse(&scope)
        .unwrap_or_default()
        .allowed_for(user.role())
        .to_string();
    let code = random_token();
    let row = (
        authorization_codes::code_hash.eq(sha256(&code)),
        authorization_codes::client_id.eq(client.id),
        authorization_codes::redirect_uri.eq(request.redirect_uri.clone()),
        authorization_codes::user_id.eq(user.id),
        authorization_codes::scope.eq(scope),
        authorization_codes::nonce.eq(request.nonce.clone()),
        authorization_codes::code_challenge.eq(request.code_challenge.clone().unwrap_or_default()),
        authorization_codes::expires_at.eq(now() + CODE_LIFETIME_SECS),
    );
    blocking(move || {
        diesel::insert_into(authorization_codes::table)
            .values(row)
            .execute(&mut *database.conn()?)
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(redirect_to(
        &request.redirect_uri,
        request.state.as_deref(),
        &[("code", &code)],
    ))
}

/// `POST /oauth/token`, form-encoded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeExchange {
    /// `authorization_code`. (Every field is optional to the parser, so that a missing one is
    /// OAuth's 400 `invalid_request`, not a generic 422.)
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    /// For public clients, and confidential ones that send their secret in the body.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Anything else: ignored, as OAuth requires.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Ignored,
}

/// What the token endpoint answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CodeTokens {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
}

/// The claims of an ID token (OpenID Connect Core §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

/// The client's id and secret from HTTP Basic (`id:secret`, each form-urlencoded, RFC 6749 §2.3.1).
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |text: &str| {
        url::form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Authenticates the client of a token request: its secret if it has one (Basic or in the body), its
/// id alone if it is public.
fn authenticate_client(
    clients: &Clients,
    req: &HttpRequest,
    exchange: &CodeExchange,
) -> Result<RegisteredClient, ApiError> {
    let (id, secret) = match basic_credentials(req) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (exchange.client_id.clone(), exchange.client_secret.clone()),
    };
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
        .with_header((header::WWW_AUTHENTICATE, r#"Basic realm="phase4""#))
    };
    let client = id
        .as_deref()
        .and_then(|id| clients.find(id))
        .ok_or_else(invalid)?;
    match (&client.secret, secret) {
        (None, _) => Ok(client.clone()),
        // Comparing digests: the time taken says nothing about the secret.
        (Some(expected), Some(given)) if sha256(expected) == sha256(&given) => Ok(client.clone()),
        _ => Err(invalid()),
    }
}

/// A code row, once spent.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = authorization_codes)]
struct CodeRow {
    redirect_uri: String,
    user_id: i32,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
}

/// `POST /oauth/token`: redeems an authorization code.
#[utoipa::path(
    tag = "openid",
    request_body(content = CodeExchange, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token for this API and a signed ID token; never cached", body = CodeTokens,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "The `error` member says why: `invalid_grant` (a used, expired or foreign code, or a PKCE mismatch), `invalid_request`, `unsupported_grant_type`"),
        (status = 401, description = "`invalid_client`: an unknown client, or a wrong secret",
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"phase4\"`"))),
    )
)]
#[post("/oauth/token")]
pub(crate) async fn redeem(
    req: HttpRequest,
    clients: web::Data<Clients>,
    database: web::Data<Database>,
    tokens: web::Data<dyn TokenService>,
    Form(exchange): Form<CodeExchange>,
) -> Result<HttpResponse, ApiError> {
    let client = authenticate_client(&clients, &req, &exchange)?;
    let invalid_grant =
        |detail: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", detail);
    // A parameter sent without a value counts as not sent (RFC 6749 §3.2).
    let given = |value: Option<String>| value.filter(|value| !value.is_empty());
    let Some(grant_type) = given(exchange.grant_type) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ));
    };
    if grant_type != "authorization_code" {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this endpoint redeems authorization codes only",
        ));
    }
    let (Some(code), Some(verifier)) = (given(exchange.code), given(exchange.code_verifier)) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and code_verifier are required",
        ));
    };
    let code_hash = sha256(&code);
    let client_id = client.id.clone();
    let db = database.clone();
    let spent: Option<(CodeRow, Option<User>)> = blocking(move || -> Result<_, ApiError> {
        let mut conn = db.conn()?;
        write_transaction(&mut conn, |conn| {
            // Only this client's code: another client cannot even spend it.
            let updated = diesel::update(
                authorization_codes::table
                    .find(&code_hash)
                    .filter(authorization_codes::client_id.eq(&client_id))
                    .filter(authorization_codes::used.eq(false))
                    .filter(authorization_codes::expires_at.gt(now())),
            )
            .set(authorization_codes::used.eq(true))
            .execute(conn)?;
            if updated == 0 {
                return Ok(None);
            }
            let row: CodeRow = authorization_codes::table
                .find(&code_hash)
                .select(CodeRow::as_select())
                .first(conn)?;
            let user = users::find(conn, row.user_id)?;
            Ok(Some((row, user)))
        })
    })
    .await?;
    let (row, user) = spent
        .ok_or_else(|| invalid_grant("the code is unknown, used, expired, or another client's"))?;
    let user = user.ok_or_else(|| invalid_grant("the code's user no longer exists"))?;
    if exchange.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if sha256(&verifier) != row.code_challenge {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let scopes = Scopes::parse(&row.scope).unwrap_or_default();
    let issued_at = now();
    let lifetime = seconds(tokens.access_ttl());
    let id_claims = IdClaims {
        iss: tokens.issuer().to_owned(),
        sub: user.id.to_string(),
        aud: client.id.clone(),
        exp: issued_at + lifetime,
        iat: issued_at,
        nbf: issued_at,
        auth_time: issued_at,
        nonce: row.nonce,
        preferred_username: scopes
            .contains(Scope::Profile)
            .then(|| user.username.clone()),
    };
    let id_token = tokens.sign(&serde_json::to_value(id_claims).map_err(ApiError::internal)?)?;
    Ok(no_store().json(CodeTokens {
        access_token: tokens.access_token(&user, &scopes, Some(&client.id))?,
        token_type: "Bearer".to_owned(),
        expires_in: lifetime,
        id_token,
        scope: scopes.to_string(),
    }))
}

/// What `GET /oauth/userinfo` answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    /// With the `profile` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

fn user_info(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::OpenId)?;
    Ok(HttpResponse::Ok().json(UserInfo {
        sub: caller.user_id.to_string(),
        preferred_username: caller
            .scopes
            .contains(Scope::Profile)
            .then_some(caller.username),
    }))
}

/// `GET /oauth/userinfo`: the user behind an access token that has the `openid` scope.
#[utoipa::path(
    tag = "openid",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who the token belongs to", body = UserInfo),
        (status = 403, description = "The token lacks the `openid` scope"),
    )
)]
#[get("/oauth/userinfo")]
pub(crate) async fn userinfo(caller: Caller) -> Result<HttpResponse, ApiError> {
    user_info(caller)
}

/// `POST /oauth/userinfo`: the same as `GET` (OpenID Connect Core §5.3), the token in the
/// `Authorization` header.
#[utoipa::path(
    tag = "openid",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who the token belongs to", body = UserInfo),
        (status = 403, description = "The token lacks the `openid` scope"),
    )
)]
#[post("/oauth/userinfo")]
pub(crate) async fn userinfo_by_post(caller: Caller) -> Result<HttpResponse, ApiError> {
    user_info(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_client_is_the_demo_client() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(AuthorizationRequest::schema()).unwrap();
        let demo = demo_client();
        let matches = |field: &str, value: &str| {
            let pattern = schema["properties"][field]["pattern"].as_str().unwrap();
            regex::Regex::new(pattern).unwrap().is_match(value)
        };
        assert!(matches("client_id", &demo.id));
        assert!(matches("redirect_uri", &demo.redirect_uris[0]));
        assert!(!matches("client_id", "phase4-login2"));
    }
}
