//! 4.3 OAuth 2.0 / OpenID Connect, the client side: "Login with <provider>".
//!
//! **Roadmap:** "OAuth2 & OpenID Connect: Implementing 'Login with Google/GitHub'."
//!
//! **Python:** Authlib's Starlette integration: `oauth.register(name="google",
//! server_metadata_url=...)`, then `authorize_redirect` and `authorize_access_token`, which check
//! `state` and the ID token.
//!
//! **Rust:** the `openidconnect` crate, over the workspace's reqwest (the crate's own reqwest
//! feature would compile a second HTTP stack; [`Http`] is the few lines that plug reqwest in).
//! Providers come from configuration, each an issuer URL whose discovery document says the rest:
//! the server's own provider (4.3, `local`) always, and any other (`--oidc-issuer
//! https://accounts.google.com --oidc-client-id ... --oidc-client-secret ...`; the workspace's
//! reqwest speaks HTTPS through rustls).
//! - `GET /login` lists the providers; `GET /login/{provider}` redirects to the provider with a
//!   fresh `state`, `nonce` and PKCE challenge, remembered server-side for ten minutes, and the
//!   `state` in an `HttpOnly`, `SameSite=Lax` cookie;
//! - `GET /login/{provider}/callback?code=..&state=..`: the `state` must match the cookie's (so the
//!   login was started by this browser) and a pending login (used once); the code is exchanged with
//!   the PKCE verifier; the ID token's signature (by the provider's JWKS), issuer, audience, expiry
//!   and `nonce` are verified. The account `provider:subject` is found or created, and the answer is
//!   this API's own token pair (4.1's, through `auth::TokenService`). A callback without its
//!   `state` or cookie is a 400, one whose cookie is another login's a 403 (the CSRF check), one
//!   whose login is over or never began a 404; a refusal in the redirect is believed only after
//!   the state checks out.
//!
//! A provider's discovery document and keys are read once every five minutes (the `max-age` this
//! server's own discovery sends), and again at once when an ID token does not verify with them, so
//! a provider's key rotation costs one extra read. Against its own provider the server calls itself
//! over HTTP, as any client would: those calls count against the limit of its own address (4.9). GitHub does not speak OpenID Connect (no
//! discovery, no ID token), so it is not among the providers this module can configure.
//!
//! **Why:** the client trusts nothing in the redirect: `state` stops login CSRF (an attacker's code
//! pushed into your browser), PKCE stops a stolen code, `nonce` stops a replayed ID token.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use common::ApiError;
use common::db::{Database, blocking};
use common::extract::{Path, Query};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpClientError, HttpRequest as OidcRequest,
    HttpResponse as OidcResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope as OidcScope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Scopes, TokenResponse as Tokens4, TokenService};
use crate::oauth::{Ignored, no_store};
use crate::users::{self, Role, UserView};

/// How long a started login may take to come back.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// How many logins may be in progress at once.
const MAX_PENDING: usize = 10_000;
/// How long a provider's discovery document and keys are used before being read again (what this
/// server's own discovery response allows caches: `max-age=300`).
const DISCOVERY_FOR: Duration = Duration::from_secs(300);
/// The cookie that ties a callback to the browser that started the login.
const STATE_COOKIE: &str = "login_state";

/// A provider to log in with.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// In URLs: `/login/{name}`. Letters, digits and `-`.
    pub name: String,
    /// Its discovery document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// openidconnect's HTTP client, over reqwest. Redirects are not followed: a token endpoint that
/// redirects is misconfigured or hostile.
#[derive(Debug, Clone)]
pub struct Http(reqwest::Client);

impl Http {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()?,
        ))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<OidcResponse, Self::Error>> + 'c>>;

    fn call(&'c self, request: OidcRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?;
            builder.body(body.to_vec()).map_err(HttpClientError::Http)
        })
    }
}

/// A discovered client: authorization and token endpoints known, the others maybe.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A login between the redirect to the provider and the callback.
#[derive(Debug)]
struct Pending {
    provider: String,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    started: Instant,
}

/// The providers, the HTTP client, and the logins in progress.
#[derive(Debug)]
pub struct LoginWith {
    pub providers: Vec<ProviderConfig>,
    /// This server's base URL, for the callback address.
    pub base_url: String,
    http: Http,
    pending: Mutex<HashMap<String, Pending>>,
    /// Each provider's discovery document and JWKS, and when they were read.
    discovered: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl LoginWith {
    pub fn new(providers: Vec<ProviderConfig>, base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            providers,
            base_url: base_url.to_owned(),
            http: Http::new()?,
            pending: Mutex::new(HashMap::new()),
            discovered: Mutex::new(HashMap::new()),
        })
    }

    fn provider(&self, name: &str) -> Result<&ProviderConfig, ApiError> {
        self.providers
            .iter()
            .find(|provider| provider.name == name)
            .ok_or_else(|| ApiError::not_found(format!("no login provider called `{name}`")))
    }

    fn callback(&self, provider: &str) -> String {
        format!("{}/login/{provider}/callback", self.base_url)
    }

    /// A client for `provider`, from its discovery document (and JWKS) as read within the last
    /// five minutes, or read now when `fresh`.
    async fn client(&self, provider: &ProviderConfig, fresh: bool) -> Result<Client, ApiError> {
        let cached = if fresh {
            None
        } else {
            self.discovered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&provider.name)
                .filter(|(read, _)| read.elapsed() < DISCOVERY_FOR)
                .map(|(_, metadata)| metadata.clone())
        };
        let metadata = match cached {
            Some(metadata) => metadata,
            None => {
                let metadata = self.discover(provider).await?;
                self.discovered
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(provider.name.clone(), (Instant::now(), metadata.clone()));
                metadata
            }
        };
        let redirect = RedirectUrl::new(self.callback(&provider.name)).map_err(|err| {
            ApiError::internal(anyhow::anyhow!(
                "bad callback URL for {}: {err}",
                provider.name
            ))
        })?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Reads the provider's discovery document and its JWKS.
    async fn discover(&self, provider: &ProviderConfig) -> Result<CoreProviderMetadata, ApiError> {
        let unavailable = |what: &str, err: &dyn std::fmt::Display| {
            tracing::warn!(provider = %provider.name, error = %err, "{what}");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the `{}` provider could not be reached", provider.name),
            )
        };
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|err| unavailable("bad issuer URL", &err))?;
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|err| unavailable("discovery failed", &err))
    }

    /// Keeps a started login until its callback, at most [`MAX_PENDING`] at once: anyone can start
    /// logins, and none of them may grow this map without bound.
    fn remember(&self, state: String, pending: Pending) -> Result<(), ApiError> {
        let mut logins = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if logins.len() >= MAX_PENDING {
            logins.retain(|_, login| login.started.elapsed() < PENDING_FOR);
        }
        if logins.len() >= MAX_PENDING {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many logins are in progress; retry in a minute",
            )
            .with_header((header::RETRY_AFTER, 60)));
        }
        logins.insert(state, pending);
        Ok(())
    }

    fn take(&self, state: &str) -> Option<Pending> {
        let mut logins = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        logins
            .remove(state)
            .filter(|login| login.started.elapsed() < PENDING_FOR)
    }
}

/// One provider in `GET /login`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProviderLink {
    pub name: String,
    pub issuer: String,
    /// Open this in a browser to log in.
    pub login: String,
}

/// `GET /login`: the providers you can log in with.
#[utoipa::path(
    tag = "openid",
    responses((status = 200, description = "The providers, each with the URL that starts a login", body = Vec<ProviderLink>))
)]
#[get("/login")]
pub(crate) async fn list_providers(login: web::Data<LoginWith>) -> HttpResponse {
    let links: Vec<ProviderLink> = login
        .providers
        .iter()
        .map(|provider| ProviderLink {
            name: provider.name.clone(),
            issuer: provider.issuer.clone(),
            login: format!("/login/{}", provider.name),
        })
        .collect();
    HttpResponse::Ok().json(links)
}

/// `GET /login/{provider}`: off to the provider.
#[utoipa::path(
    tag = "openid",
    params(("provider" = String, Path, description = "A provider of `GET /login`")),
    responses(
        (status = 303, description = "To the provider's authorization endpoint, with a `login_state` cookie",
            headers(
                ("Location" = String, description = "The provider's authorization request"),
                ("Set-Cookie" = String, description = "`login_state`, HttpOnly, SameSite=Lax"),
            )),
        (status = 404, description = "No provider has this name"),
        (status = 502, description = "The provider's discovery failed"),
        (status = 503, description = "Too many logins are in progress",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[get("/login/{provider}")]
pub(crate) async fn start(
    login: web::Data<LoginWith>,
    Path(name): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = login.provider(&name)?;
    let client = login.client(provider, false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(OidcScope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    login.remember(
        state.secret().clone(),
        Pending {
            provider: name.clone(),
            verifier,
            nonce,
            started: Instant::now(),
        },
    )?;
    let cookie = Cookie::build(STATE_COOKIE, state.secret().clone())
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(PENDING_FOR.as_secs()).unwrap_or(600),
        ))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.as_str()))
        .cookie(cookie)
        .finish())
}

/// The provider's answer.
#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Whatever else a provider adds (`scope`, `iss`, `session_state`, ...): ignored.
    #[serde(flatten)]
    pub other: Ignored,
}

/// What a completed login answers: who you are here, and this API's tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoggedIn {
    pub provider: String,
    /// The user's id at the provider.
    pub subject: String,
    pub user: UserView,
    pub tokens: Tokens4,
}

fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(detail)
}

/// `GET /login/{provider}/callback`: checks `state`, redeems the code, verifies the ID token.
#[utoipa::path(
    tag = "openid",
    // What a client or provider adds beyond these is ignored, as OAuth requires (RFC 6749 §3.1).
    extensions(("x-unknown-query-parameters" = json!("ignored"))),
    params(
        ("provider" = String, Path, description = "A provider of `GET /login`"),
        ("code" = Option<String>, Query, description = "The provider's authorization code"),
        ("state" = String, Query, min_length = 1, description = "What the login sent the provider, and the `login_state` cookie holds"),
        ("login_state" = String, Cookie, min_length = 1, description = "Set by `GET /login/{provider}` in the browser that started the login"),
        ("error" = Option<String>, Query, description = "The provider's refusal, instead of a code"),
        ("error_description" = Option<String>, Query, description = "Its reason"),
    ),
    responses(
        (status = 200, description = "Logged in: the account, and this API's tokens", body = LoggedIn,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "No state, no `login_state` cookie, a refusal from the provider, a refused code, a bad ID token"),
        (status = 403, description = "The state is not this browser's login"),
        (status = 404, description = "No provider has this name, or no login with this state is in progress (expired or used)"),
        (status = 502, description = "The provider could not be reached"),
    )
)]
#[get("/login/{provider}/callback")]
pub(crate) async fn callback(
    req: HttpRequest,
    login: web::Data<LoginWith>,
    database: web::Data<Database>,
    tokens: web::Data<dyn TokenService>,
    Path(name): Path<String>,
    Query(answer): Query<Callback>,
) -> Result<HttpResponse, ApiError> {
    // The provider first: a callback for one that does not exist is about nothing (404). Then the
    // state, before anything the redirect says is believed, a refusal included.
    let provider = login.provider(&name)?.clone();
    let state = answer
        .state
        .filter(|state| !state.is_empty())
        .ok_or_else(|| refused("the callback has no state"))?;
    let Some(cookie) = req.cookie(STATE_COOKIE) else {
        return Err(refused(
            "state does not match this browser's login: it sent no login_state cookie; start \
             again at /login/{provider}",
        ));
    };
    if cookie.value() != state {
        // Someone else's login pushed into this browser (login CSRF): refused, as a CSRF check is.
        return Err(ApiError::forbidden(
            "state does not match this browser's login: start again at /login/{provider}",
        ));
    }
    let pending = login
        .take(&state)
        .filter(|pending| pending.provider == name)
        .ok_or_else(|| {
            ApiError::not_found("no login with this state is in progress (expired or used)")
        })?;
    if let Some(error) = answer.error {
        return Err(refused(format!(
            "the provider refused: {error} ({})",
            answer.error_description.unwrap_or_default()
        )));
    }
    let code = answer
        .code
        .ok_or_else(|| refused("the callback has no code"))?;
    let client = login.client(&provider, false).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|err| {
            tracing::warn!(provider = %name, error = %err, "the provider names no token endpoint");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the `{name}` provider has no token endpoint"),
            )
        })?
        .set_pkce_verifier(pending.verifier)
        .request_async(&login.http)
        .await
        .map_err(|err| {
            tracing::warn!(provider = %name, error = %err, "code exchange refused");
            refused("the provider refused the code")
        })?;
    let id_token = response
        .id_token()
        .ok_or_else(|| refused("the provider sent no ID token"))?;
    // With the keys read within five minutes; if they fail, once more with the provider's keys as
    // they are now (it may have rotated them since).
    let claims = match id_token.claims(&client.id_token_verifier(), &pending.nonce) {
        Ok(claims) => claims,
        Err(_) => {
            let fresh = login.client(&provider, true).await?;
            id_token
                .claims(&fresh.id_token_verifier(), &pending.nonce)
                .map_err(|err| refused(format!("the ID token failed verification: {err}")))?
        }
    };
    let subject = claims.subject().as_str().to_owned();
    // Accounts from a provider are `provider:subject`: a local username cannot contain `:`.
    let username = format!("{name}:{subject}");
    let db = database.clone();
    let issuer = tokens.clone();
    let (user, pair) = blocking(move || -> Result<_, ApiError> {
        let mut conn = db.conn()?;
        // Found, created, or created by a concurrent first login of the same person.
        let existing = users::find_by_name(&mut conn, &username)?;
        let user = match existing {
            Some(user) => user,
            None => match users::insert(&mut conn, &username, None, Role::User)? {
                Some(user) => user,
                None => users::find_by_name(&mut conn, &username)?
                    .ok_or_else(|| ApiError::conflict("the account is being created; retry"))?,
            },
        };
        let scope = Scopes::requested(None, user.role())?;
        let pair = issuer.issue(&mut conn, &user, &scope)?;
        Ok((user, pair))
    })
    .await?;
    let mut removal = Cookie::build(STATE_COOKIE, "").path("/login").finish();
    removal.make_removal();
    Ok(no_store().cookie(removal).json(LoggedIn {
        provider: name,
        subject,
        user: UserView::from(&user),
        tokens: pair,
    }))
}
