//! Links: made, listed, changed and deleted by their owners.
//!
//! **Roadmap:** the project's resources; "redirect status codes" is decided here, per link.
//!
//! **Python:** a FastAPI router with a pydantic `HttpUrl` field (which accepts `ftp:` and
//! `javascript:`-free URLs only if you say so), `Depends(get_current_user)`, and a query filtered
//! by `owner_id`.
//!
//! **Rust:** every route takes phase 4's `Caller` (a bearer token from `POST /auth/token`, or an
//! API key of [`crate::api_keys`], which acts as its user), and
//! the management routes sit behind phase 4's rate limiter (per user; the redirect itself is not
//! limited). A destination ([`check_destination`]) must be an absolute `http` or `https` URL with
//! a host, no user name or password in it (`https://bank.example@evil.example` reads as the bank
//! and goes elsewhere), at most 2,048 characters, and not a link to this service itself (a loop:
//! a short link to a short link to ...). It is stored as the `url` crate writes it back
//! (`https://Example.com` becomes `https://example.com/`), which is also a valid `Location`
//! header. Each link chooses its redirect ([`RedirectStatus`]); an owner may edit and delete their
//! own links, and gets 403 for another's (the code is in every copy of the short URL, so whether
//! a link exists is no secret). Every change is made visible to every instance before it answers
//! ([`crate::tiers::Resolver::forget`]).
//!
//! **Why:** a shortener is an open redirect by design; what keeps it from being a phishing tool
//! is what it refuses to point at.

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, web};
use chrono::{DateTime, Utc};
use common::db::{AnyConnection, blocking, is_unique_violation, write_transaction};
use common::extract::{Path, ValidJson};
use common::{ApiError, FieldError};
use diesel::prelude::*;
use phase4_security::auth::Caller;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::Shortener;
use crate::codes::{ATTEMPTS, check_alias, random_code};
use crate::schema::links;

/// The longest destination accepted.
pub const MAX_URL: usize = 2048;
/// The most visits a limited link may allow.
pub const MAX_VISITS: i32 = 1_000_000;
/// How many links `GET /links` lists: the most recent.
pub const LISTED: i64 = 100;

/// The redirect a link answers with. See [`crate::redirect`] for what each one means to a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "u16")]
pub struct RedirectStatus(u16);

impl RedirectStatus {
    pub const ALLOWED: [u16; 4] = [301, 302, 307, 308];
    pub const DEFAULT: Self = Self(302);

    pub fn get(self) -> u16 {
        self.0
    }
}

impl From<RedirectStatus> for u16 {
    fn from(status: RedirectStatus) -> u16 {
        status.0
    }
}

impl<'de> Deserialize<'de> for RedirectStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let status = u16::deserialize(deserializer)?;
        if Self::ALLOWED.contains(&status) {
            Ok(Self(status))
        } else {
            Err(serde::de::Error::custom("must be 301, 302, 307 or 308"))
        }
    }
}

impl utoipa::PartialSchema for RedirectStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .enum_values(Some(Self::ALLOWED))
            .description(Some(
                "301 or 308 (permanent: browsers keep them), 302 or 307 (temporary: every visit reaches the service); 307 and 308 keep the method",
            ))
            .examples([302])
            .into()
    }
}

impl ToSchema for RedirectStatus {}

/// A new link.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Where the link goes: an http or https URL, not to this service.
    #[validate(length(min = 1, max = 2048), custom(function = "check_destination"))]
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
        example = "https://www.rust-lang.org/learn"
    )]
    pub url: String,
    /// A code of your choosing; a random one when absent.
    #[validate(custom(function = "check_alias"))]
    #[schema(pattern = "^[A-Za-z0-9_-]{3,64}$", example = "rust-book")]
    pub alias: Option<String>,
    /// 302 when absent.
    pub redirect_status: Option<RedirectStatus>,
    /// After this moment the link answers 410 Gone; it must be in the future.
    #[validate(custom(function = "in_the_future"))]
    #[schema(value_type = Option<String>, format = DateTime, example = "2030-01-01T00:00:00Z")]
    pub valid_until: Option<DateTime<Utc>>,
    /// After this many visits the link answers 410 Gone.
    #[validate(range(min = 1, max = 1_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_visits: Option<i32>,
}

/// A change to a link: the fields given, and only those; `null` removes an expiry or a limit.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkChange {
    #[validate(length(min = 1, max = 2048), custom(function = "check_destination"))]
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://"
    )]
    pub url: Option<String>,
    pub redirect_status: Option<RedirectStatus>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 1_000_000, nullable)]
    pub max_visits: Option<Option<i32>>,
}

/// A field that was sent, `null` or not (absent stays `None`, by `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl LinkChange {
    /// The rules `validator` cannot state on a field that may be `null`.
    fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        if let Some(Some(until)) = self.valid_until
            && let Err(err) = in_the_future(&until)
        {
            errors.push(FieldError::new("valid_until", "future", message(&err)));
        }
        if let Some(Some(max)) = self.max_visits
            && !(1..=MAX_VISITS).contains(&max)
        {
            errors.push(FieldError::new(
                "max_visits",
                "range",
                "must be 1 to 1000000",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unprocessable(errors))
        }
    }
}

fn message(err: &ValidationError) -> String {
    err.message
        .as_ref()
        .map_or_else(|| err.code.to_string(), ToString::to_string)
}

/// A link, as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Link {
    #[schema(example = "rust-book")]
    pub code: String,
    /// The link to hand out.
    #[schema(example = "http://127.0.0.1:8101/rust-book")]
    pub short_url: String,
    pub url: String,
    pub redirect_status: u16,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<DateTime<Utc>>,
    pub max_visits: Option<i32>,
    /// Visits left before 410, for a limited link.
    pub visits_left: Option<i32>,
    /// The id of the API key that made the link; null when a user's token did.
    pub api_key: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Where to go next: `stats`, `stats_page`, `qr_png`, `qr_svg`.
    #[serde(rename = "_links")]
    pub links: LinkLinks,
}

/// The routes about one link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkLinks {
    pub stats: String,
    /// A page with a chart, for a person: add `#token=` and an access token.
    pub stats_page: String,
    pub qr_png: String,
    pub qr_svg: String,
}

/// A row of `links`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = links)]
pub struct LinkRow {
    pub id: i32,
    pub code: String,
    pub destination: String,
    pub owner_id: i32,
    pub redirect_status: i32,
    pub valid_until: Option<i64>,
    pub max_visits: Option<i32>,
    pub visits_taken: i32,
    pub api_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

impl Link {
    pub fn from_row(row: LinkRow, public_url: &str) -> Self {
        let code = &row.code;
        Link {
            short_url: format!("{public_url}/{code}"),
            links: LinkLinks {
                stats: format!("/links/{code}/stats"),
                stats_page: format!("/links/{code}/stats.html"),
                qr_png: format!("/links/{code}/qr.png"),
                qr_svg: format!("/links/{code}/qr.svg"),
            },
            code: row.code.clone(),
            url: row.destination,
            redirect_status: u16::try_from(row.redirect_status).unwrap_or(302),
            valid_until: row.valid_until.map(at),
            max_visits: row.max_visits,
            visits_left: row.max_visits.map(|max| (max - row.visits_taken).max(0)),
            api_key: row.api_key,
            created_at: at(row.created_at),
            updated_at: at(row.updated_at),
        }
    }
}

/// The rule for a destination, as far as it can be judged alone (the loop is judged with the
/// request: see [`not_a_loop`]).
pub fn check_destination(text: &str) -> Result<(), ValidationError> {
    let refuse = |code: &'static str, message: &str| {
        Err(ValidationError::new(code).with_message(Cow::Owned(message.to_owned())))
    };
    let Ok(url) = url::Url::parse(text) else {
        return refuse("url", "must be an absolute http or https URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse(
            "scheme",
            &format!(
                "only http and https links are allowed, not `{}:`",
                url.scheme()
            ),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return refuse("url", "must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(
            "credentials",
            "must not hold a user name or password (`https://bank.example@evil.example` goes to evil.example)",
        );
    }
    if url.as_str().len() > MAX_URL {
        return refuse("length", "must be at most 2048 characters once normalised");
    }
    Ok(())
}

fn in_the_future(until: &DateTime<Utc>) -> Result<(), ValidationError> {
    if *until > Utc::now() {
        Ok(())
    } else {
        Err(ValidationError::new("future").with_message(Cow::Borrowed("must be in the future")))
    }
}

/// `host:port` of a URL, lower case, with the scheme's default port when it has none.
fn authority(url: &url::Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

/// The destination, normalised, unless it points at this service: at its public URL or at the
/// host the request was sent to (a proxy's name for it).
fn not_a_loop(text: &str, shortener: &Shortener, req: &HttpRequest) -> Result<String, ApiError> {
    let url = url::Url::parse(text)
        .map_err(|_| refused("url", "url", "must be an absolute http or https URL"))?;
    let target = authority(&url);
    let info = req.connection_info();
    let requested = url::Url::parse(&format!("{}://{}", info.scheme(), info.host()))
        .ok()
        .and_then(|url| authority(&url));
    let ours = [shortener.public_authority.clone(), requested];
    if target.is_some() && ours.contains(&target) {
        return Err(refused(
            "url",
            "loop",
            "must not point at this shortener (a short link to a short link loops)",
        ));
    }
    Ok(url.into())
}

fn refused(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::unprocessable(vec![FieldError::new(field, code, message)])
}

fn no_link(code: &str) -> ApiError {
    ApiError::not_found(format!("no link has the code `{code}`"))
}

/// 404 unless a link has the code: asked of the tiers, as a redirect would ask.
pub(crate) async fn must_exist(shortener: &Shortener, code: &str) -> Result<(), ApiError> {
    if !crate::codes::plausible(code) || shortener.resolver.resolve(code).await?.0.is_none() {
        return Err(no_link(code));
    }
    Ok(())
}

fn find(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<LinkRow>> {
    links::table
        .filter(links::code.eq(code))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()
}

/// The link `code`, if `caller` owns it: 404 when there is none, 403 when it is someone else's.
pub(crate) fn owned(
    conn: &mut AnyConnection,
    code: &str,
    caller: &Caller,
) -> Result<LinkRow, ApiError> {
    let row = find(conn, code)?.ok_or_else(|| no_link(code))?;
    if row.owner_id != caller.user_id {
        return Err(ApiError::forbidden(format!(
            "the link `{code}` belongs to someone else"
        )));
    }
    Ok(row)
}

#[utoipa::path(
    post,
    path = "/links",
    tag = "links",
    request_body = NewLink,
    responses(
        (status = 201, description = "Created", body = Link,
            headers(("Location" = String, description = "`/links/{code}`"))),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The alias is taken", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
        (status = 503, description = "Redis cannot be reached, so no instance could be told: nothing was changed", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
pub(crate) async fn create_link(
    req: HttpRequest,
    caller: Caller,
    shortener: web::Data<Shortener>,
    ValidJson(new): ValidJson<NewLink>,
) -> Result<HttpResponse, ApiError> {
    let destination = not_a_loop(&new.url, &shortener, &req)?;
    shortener.resolver.ready_for_change()?;
    let api_key = crate::api_keys::via_key(&req);
    let state = shortener.clone();
    let row = blocking(move || {
        let mut conn = state.database.conn()?;
        let now = Utc::now().timestamp();
        for _ in 0..ATTEMPTS {
            let code = new
                .alias
                .clone()
                .unwrap_or_else(|| random_code(state.code_length));
            let inserted = diesel::insert_into(links::table)
                .values((
                    links::code.eq(&code),
                    links::destination.eq(&destination),
                    links::owner_id.eq(caller.user_id),
                    links::redirect_status.eq(i32::from(
                        new.redirect_status.unwrap_or(RedirectStatus::DEFAULT).get(),
                    )),
                    links::valid_until.eq(new.valid_until.map(|until| until.timestamp())),
                    links::max_visits.eq(new.max_visits),
                    links::api_key.eq(&api_key),
                    links::created_at.eq(now),
                    links::updated_at.eq(now),
                ))
                .execute(&mut *conn);
            match inserted {
                Ok(_) => return find(&mut conn, &code)?.ok_or_else(|| no_link(&code)),
                Err(err) if is_unique_violation(&err) && new.alias.is_some() => {
                    return Err(ApiError::conflict(format!("the alias `{code}` is taken")));
                }
                Err(err) if is_unique_violation(&err) => {
                    tracing::info!("the random code {code} was taken; drawing another");
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(ApiError::internal(anyhow::anyhow!(
            "no free code in {ATTEMPTS} attempts"
        )))
    })
    .await?;
    // The code may be cached as unknown somewhere: a negative entry would hide the new link.
    shortener.resolver.forget(&row.code).await?;
    let link = Link::from_row(row, &shortener.public_url);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/links/{}", link.code)))
        .json(link))
}

#[utoipa::path(
    get,
    path = "/links",
    tag = "links",
    responses(
        (status = 200, description = "Your 100 most recent links, newest first", body = [Link]),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
pub(crate) async fn list_links(
    caller: Caller,
    shortener: web::Data<Shortener>,
) -> Result<HttpResponse, ApiError> {
    let state = shortener.clone();
    let rows = blocking(move || {
        links::table
            .filter(links::owner_id.eq(caller.user_id))
            .order(links::id.desc())
            .limit(LISTED)
            .select(LinkRow::as_select())
            .load(&mut *state.database.conn()?)
            .map_err(ApiError::from)
    })
    .await?;
    let links: Vec<Link> = rows
        .into_iter()
        .map(|row| Link::from_row(row, &shortener.public_url))
        .collect();
    Ok(HttpResponse::Ok().json(links))
}

#[utoipa::path(
    tag = "links",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 200, description = "The link", body = Link),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Someone else's link", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
#[get("/links/{code}")]
pub(crate) async fn get_link(
    caller: Caller,
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let state = shortener.clone();
    let row = blocking(move || owned(&mut *state.database.conn()?, &code, &caller)).await?;
    Ok(HttpResponse::Ok().json(Link::from_row(row, &shortener.public_url)))
}

#[utoipa::path(
    tag = "links",
    params(("code" = String, Path, description = "The link's code")),
    request_body = LinkChange,
    responses(
        (status = 200, description = "The link, changed; every instance redirects to the new destination", body = Link),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Someone else's link", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
        (status = 422, description = "A field breaks its rule: `errors` says which", content_type = "application/problem+json", body = common::Problem),
        (status = 503, description = "Redis cannot be reached, so no instance could be told: nothing was changed", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
#[patch("/links/{code}")]
pub(crate) async fn change_link(
    req: HttpRequest,
    caller: Caller,
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
    ValidJson(change): ValidJson<LinkChange>,
) -> Result<HttpResponse, ApiError> {
    change.check()?;
    let destination = match &change.url {
        Some(url) => Some(not_a_loop(url, &shortener, &req)?),
        None => None,
    };
    shortener.resolver.ready_for_change()?;
    let state = shortener.clone();
    let row = blocking(move || {
        let mut conn = state.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let row = owned(conn, &code, &caller)?;
            let target = links::table.find(row.id);
            let now = Utc::now().timestamp();
            diesel::update(target)
                .set(links::updated_at.eq(now))
                .execute(conn)?;
            if let Some(destination) = &destination {
                diesel::update(target)
                    .set(links::destination.eq(destination))
                    .execute(conn)?;
            }
            if let Some(status) = change.redirect_status {
                diesel::update(target)
                    .set(links::redirect_status.eq(i32::from(status.get())))
                    .execute(conn)?;
            }
            if let Some(until) = change.valid_until {
                diesel::update(target)
                    .set(links::valid_until.eq(until.map(|until| until.timestamp())))
                    .execute(conn)?;
            }
            if let Some(max) = change.max_visits {
                diesel::update(target)
                    .set(links::max_visits.eq(max))
                    .execute(conn)?;
            }
            find(conn, &code)?.ok_or_else(|| no_link(&code))
        })
    })
    .await?;
    shortener.resolver.forget(&row.code).await?;
    Ok(HttpResponse::Ok().json(Link::from_row(row, &shortener.public_url)))
}

#[utoipa::path(
    tag = "links",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 204, description = "Deleted, with its statistics; every instance answers 404 for it"),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Someone else's link", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
        (status = 503, description = "Redis cannot be reached, so no instance could be told: nothing was changed", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
#[delete("/links/{code}")]
pub(crate) async fn delete_link(
    caller: Caller,
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    shortener.resolver.ready_for_change()?;
    let state = shortener.clone();
    let forgotten = code.clone();
    blocking(move || {
        let mut conn = state.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let row = owned(conn, &code, &caller)?;
            diesel::delete(links::table.find(row.id)).execute(conn)?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    shortener.resolver.forget(&forgotten).await?;
    Ok(HttpResponse::NoContent().finish())
}
