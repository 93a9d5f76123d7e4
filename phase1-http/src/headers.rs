//! 1.3 Headers: content negotiation, credentials, caching and the client's identity.
//!
//! **Roadmap:** "Headers: Content-Type, Accept, Authorization, Cache-Control, User-Agent."
//!
//! **Python:** Flask hands you `request.headers["Accept"]` and `request.accept_mimetypes.best_match`;
//! FastAPI has `Header()` parameters. Parsing quality values and credentials is left to you.
//!
//! **Rust:** actix-web has typed headers: [`Accept`] parses `Accept: text/csv;q=0.9, */*;q=0.1` into
//! media types ranked by `q` and specificity, so [`negotiate`] only picks the first one the server can
//! produce, or answers 406. The chosen representation varies with `Accept`, so responses say
//! `Vary: Accept` (a cache must not give a CSV to a client that asked for JSON). [`credentials`]
//! parses `Authorization` into a typed value. `Cache-Control` is set where it matters: the book list
//! may be revalidated (`no-cache`), the echo is personal and never stored (`no-store`).
//! `GET /headers/echo` shows what the server received, with credentials redacted. The OpenAPI
//! document lists `GET /books` under each media type it can be negotiated into, with the `Vary`
//! and `Cache-Control` headers that come with it.
//!
//! **Why:** headers are where HTTP keeps its semantics; a typed header is parsed once, correctly, and
//! a client sending `Accept: image/png` learns at once that it will not get one.

use std::collections::BTreeMap;

use actix_web::http::header::{self, Accept, CacheControl, CacheDirective, Header, Quality};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::methods::{read, resource};
use crate::serialization::Book;
use crate::status_codes::ANY_ALLOW;

/// A representation the server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    Csv,
    Text,
}

impl Representation {
    fn mime(self) -> mime::Mime {
        match self {
            Representation::Json => mime::APPLICATION_JSON,
            Representation::Csv => mime::TEXT_CSV_UTF_8,
            Representation::Text => mime::TEXT_PLAIN_UTF_8,
        }
    }
}

/// The first of `offered` that the client's `Accept` allows, in the client's order of preference.
/// No `Accept` header means anything goes: the first offered. Nothing acceptable is a 406.
pub fn negotiate(
    req: &HttpRequest,
    offered: &[Representation],
) -> Result<Representation, ApiError> {
    if !req.headers().contains_key(header::ACCEPT)
        && let Some(&first) = offered.first()
    {
        return Ok(first);
    }
    let accept = Accept::parse(req)
        .map_err(|_| ApiError::bad_request("the Accept header is not a list of media types"))?;
    // `q=0` refuses a type; compare essences, since we offer `text/csv; charset=utf-8`.
    let refused = |m: &mime::Mime| {
        accept
            .iter()
            .any(|item| item.quality == Quality::ZERO && item.item.essence_str() == m.essence_str())
    };
    let acceptable = accept
        .ranked()
        .into_iter()
        .filter(|wanted| !refused(wanted))
        .find_map(|wanted| {
            offered.iter().copied().find(|rep| {
                let mime = rep.mime();
                (wanted.type_() == mime::STAR || wanted.type_() == mime.type_())
                    && (wanted.subtype() == mime::STAR || wanted.subtype() == mime.subtype())
                    && !refused(&mime)
            })
        });
    acceptable.ok_or_else(|| {
        let types: Vec<String> = offered
            .iter()
            .map(|rep| rep.mime().essence_str().to_owned())
            .collect();
        ApiError::new(
            actix_web::http::StatusCode::NOT_ACCEPTABLE,
            format!("this resource is available as {}", types.join(", ")),
        )
    })
}

/// The book list in the chosen representation.
pub fn render_books(
    representation: Representation,
    books: &[Book],
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .content_type(representation.mime());
    Ok(match representation {
        Representation::Json => response.json(books),
        Representation::Csv => response.body(books_csv(books).map_err(ApiError::internal)?),
        Representation::Text => response.body(books_text(books)),
    })
}

/// A CSV row: CSV is flat, so nested fields (format, publisher) are left out.
#[derive(Serialize)]
struct CsvRow<'a> {
    id: u64,
    title: &'a str,
    author: &'a str,
    year: i32,
    isbn13: Option<&'a str>,
    tags: String,
}

fn books_csv(books: &[Book]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for book in books {
        writer.serialize(CsvRow {
            id: book.id,
            title: &book.title,
            author: &book.author,
            year: book.year,
            isbn13: book.isbn.as_deref(),
            tags: book.tags.join(" "),
        })?;
    }
    // No books means no rows, and csv then writes no header either; write it ourselves.
    if books.is_empty() {
        writer.write_record(["id", "title", "author", "year", "isbn13", "tags"])?;
    }
    Ok(writer.into_inner()?)
}

fn books_text(books: &[Book]) -> String {
    books
        .iter()
        .map(|book| {
            format!(
                "{}. {} by {} ({})\n",
                book.id, book.title, book.author, book.year
            )
        })
        .collect()
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Bearer(String),
    Basic { user: String, password: String },
    Other { scheme: String },
}

/// Parses `Authorization`; none is `Ok(None)`, an unreadable one is a 400.
pub fn credentials(req: &HttpRequest) -> Result<Option<Credentials>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError::bad_request("the Authorization header is not `<scheme> <credentials>`");
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    // Schemes are case-insensitive (RFC 9110 §11.1).
    Ok(Some(match scheme.to_ascii_lowercase().as_str() {
        "bearer" if !rest.is_empty() => Credentials::Bearer(rest.to_owned()),
        "basic" => {
            let decoded = STANDARD.decode(rest).map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (user, password) = text.split_once(':').ok_or_else(bad)?;
            Credentials::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            }
        }
        "bearer" => return Err(bad()),
        _ => Credentials::Other {
            scheme: scheme.to_owned(),
        },
    }))
}

/// What `GET /headers/echo` shows.
#[derive(Debug, Serialize, ToSchema)]
struct Echo {
    method: String,
    path: String,
    query: String,
    version: String,
    user_agent: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    /// The scheme and who, never the secret.
    #[schema(value_type = Option<Object>)]
    authorization: Option<serde_json::Value>,
    headers: BTreeMap<String, String>,
}

/// Echoes what the server received, whatever the method. Secrets are redacted.
#[utoipa::path(
    method(get, post, put, patch, delete),
    path = "/headers/echo",
    tag = "1.3 headers",
    // An echo takes any query string, to show it back.
    extensions(("x-unknown-query-parameters" = json!("ignored"))),
    responses(
        (status = 200, description = "What the server received", body = Echo,
            headers(("Cache-Control" = String, description = "`no-store`: the echo is personal"))),
        (status = 400, description = "The Authorization header is not `<scheme> <credentials>`"),
    ),
)]
pub(crate) async fn echo(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let header_text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let authorization = credentials(&req)?.map(|credentials| match credentials {
        Credentials::Bearer(token) => {
            serde_json::json!({"scheme": "Bearer", "token_length": token.len()})
        }
        Credentials::Basic { user, .. } => serde_json::json!({"scheme": "Basic", "user": user}),
        Credentials::Other { scheme } => serde_json::json!({"scheme": scheme}),
    });
    let mut headers = BTreeMap::new();
    for (name, value) in req.headers() {
        let shown = match *name {
            header::AUTHORIZATION | header::COOKIE | header::PROXY_AUTHORIZATION => {
                "<redacted>".to_owned()
            }
            _ => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined: &mut String| {
                joined.push_str(", ");
                joined.push_str(&shown);
            })
            .or_insert(shown);
    }
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(Echo {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            version: format!("{:?}", req.version()),
            user_agent: header_text(header::USER_AGENT),
            content_type: header_text(header::CONTENT_TYPE),
            accept: header_text(header::ACCEPT),
            authorization,
            headers,
        }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let echoes = resource("/headers/echo", ANY_ALLOW).route(read().to(echo));
    cfg.service(
        [web::post(), web::put(), web::patch(), web::delete()]
            .into_iter()
            .fold(echoes, |resource, route| resource.route(route.to(echo))),
    );
}
