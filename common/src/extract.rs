//! Typed extractors whose errors name the field that failed, in the API's words.
//!
//! FastAPI reads `def get_book(book_id: int, limit: int = 20)` and answers `book_id=abc` with an error
//! whose `loc` is `["path", "book_id"]`, and Pydantic reports every failing field of a body at once.
//! actix's `web::Path`, `web::Query` and `web::Json` check types just as strictly, but say "invalid
//! digit found in string" or "expected struct NewBook at line 1 column 2": the words of Rust's
//! parsers, and only the first mistake. These extractors run the same serde deserializers through
//! `serde_path_to_error`, which records where deserialization stopped, and translate serde's
//! message into what the client did wrong ("`id` must be a whole number, 0 or more, not `-1`").
//!
//! The policy, the same in every crate:
//!
//! - `Path<T>` and `Query<T>`: a value that is not of the parameter's type, a required parameter
//!   that is missing, an unknown parameter (a typo such as `?pagesize=` would otherwise be ignored
//!   and return the wrong page) or a single-valued one given twice is a **400** naming it. A list is
//!   sent by repeating its parameter: `?tag=sf&tag=classic`. A value of the right type that breaks a
//!   rule (`page=0` where pages start at 1) is the handler's **422**.
//! - Unknown query parameters are refused on *every* documented route, including those whose
//!   handler reads no query: [`crate::middleware::Conventions`] compares the query string with the
//!   parameters that the OpenAPI document lists for the operation (see [`crate::methods`]). The one
//!   exception is a route that a standard tells to ignore what it does not know, such as OAuth's
//!   authorization endpoint (RFC 6749 §3.1), marked so in its document. Refusing rather than
//!   ignoring is the stricter choice, and the one that helps a client most: a misspelt parameter
//!   is found on the first request, not in production, and the document stays the whole contract.
//! - `Json<T>`, `Form<T>`: a wrong `Content-Type` is a **415**; a body over the limit a **413** that
//!   states it; a body that is not JSON (or a JSON body that is not an object) a **400**; a
//!   well-formed one of the wrong shape a **422** whose `errors` name *every* missing, unknown or
//!   mistyped field, not only the first.
//! - `ValidJson<T>` (feature `validation`): `Json<T>` plus `validator`'s rules, in the same 422, so
//!   the handler only ever sees valid input, as with a Pydantic model.
//!
//! They are used exactly like actix's own: `async fn get(Path(id): Path<BookId>)`.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_router::{ResourceDef, ResourcePath};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::problem::FieldError;

pub use wording::{Explained, explain};

/// The largest body [`Json`] and [`Form`] read when the app sets no [`BodyLimit`]: 256 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The largest body [`Json`] and [`Form`] read, as app data: `cfg.app_data(BodyLimit(64 * 1024))`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `65536` as `64 KiB`: a size as the 413 states it.
pub fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// Where in the request a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Body,
}

impl Location {
    fn name(self) -> &'static str {
        match self {
            Location::Path => "path parameter",
            Location::Query => "query parameter",
            Location::Body => "field",
        }
    }
}

/// A problem with `status` listing `errors`, with a detail that says it in a sentence.
fn problem(status: StatusCode, location: Location, errors: Vec<FieldError>) -> ApiError {
    let detail = match errors.as_slice() {
        [one] => format!("{} `{}` {}", location.name(), one.field, one.message),
        many => format!("{} {}s are wrong", many.len(), location.name()),
    };
    let detail = detail[..1].to_uppercase() + &detail[1..];
    ApiError::new(status, detail).with_errors(errors)
}

/// One deserialization failure as a field error; `root` names the value when serde failed at the
/// top (a path with a single parameter, or the body itself).
fn field_error<E: std::fmt::Display>(
    err: &serde_path_to_error::Error<E>,
    root: &str,
    raw: impl Fn(&str) -> Option<String>,
) -> FieldError {
    let path = err.path().to_string();
    let message = err.inner().to_string();
    let explained = explain(&message);
    let field = match (explained.field.as_deref(), path.as_str()) {
        // `missing field `x``: serde names the field in its message and the path stops at the
        // object that holds it (for an unknown field, the path may already end with it).
        (Some(name), "." | "?") => name.to_owned(),
        (Some(name), path) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "." | "?") => root.to_owned(),
        (None, path) => path.to_owned(),
    };
    let mut text = explained.message;
    if explained.code == "type"
        && let Some(value) = raw(&field)
    {
        text = wording::refine_number(&text, &value);
        text.push_str(&format!(", not `{value}`"));
    }
    FieldError::new(field, explained.code, text)
}

macro_rules! wrapper {
    ($name:ident) => {
        impl<T> $name<T> {
            /// The extracted value.
            pub fn into_inner(self) -> T {
                self.0
            }
        }

        impl<T> Deref for $name<T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.0
            }
        }
    };
}

/// Path parameters, deserialized into `T` (a struct whose fields are the `{names}` of the route, or
/// a single value for a route with one parameter).
#[derive(Debug)]
pub struct Path<T>(pub T);
wrapper!(Path);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(decode_path(req.match_info()).map(Path))
    }
}

/// Deserializes a route's parameters into `T`, or says which one is wrong.
fn decode_path<T: DeserializeOwned, R: ResourcePath>(
    params: &actix_router::Path<R>,
) -> Result<T, ApiError> {
    // The fast path deserializes once; only a failure is deserialized again, tracking where.
    if let Ok(value) = T::deserialize(actix_router::PathDeserializer::new(params)) {
        return Ok(value);
    }
    let err = match serde_path_to_error::deserialize(actix_router::PathDeserializer::new(params)) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    let names: Vec<&str> = params.iter().map(|(name, _)| name).collect();
    let root = match names.as_slice() {
        [one] => one,
        _ => "path",
    };
    let error = field_error(&err, root, |field| params.get(field).map(str::to_owned));
    if let Some(rewritten) = whole_number_segment(params, &error) {
        return decode_path(&rewritten);
    }
    Err(problem(
        StatusCode::BAD_REQUEST,
        Location::Path,
        vec![error],
    ))
}

/// The whole number that a decimal writes (`1.0` → `1`, `-3.00` → `-3`); `None` for anything
/// else, `1.5` included.
///
/// To JSON Schema, and so to an OpenAPI document, `1.0` *is* an integer: a client or a fuzzer that
/// reads `type: integer` may send `/books/1.0` and mean book 1. Rust's `i32::from_str` refuses
/// it, so a path segment or query value that fails as a whole number is looked at again, and read
/// as the integer it is when it has no fraction. (JSON bodies do the same for `60.0`: see
/// `json::whole_floats_to_integers`.)
fn written_as_decimal(raw: &str) -> Option<&str> {
    let (whole, fraction) = raw.split_once('.')?;
    let digits = whole.strip_prefix(['-', '+']).unwrap_or(whole);
    let whole_number = !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|byte| byte == b'0');
    whole_number.then_some(whole)
}

/// Whether `error` says that a whole number was expected.
fn wants_whole_number(error: &FieldError) -> bool {
    error.code == "type" && error.message.starts_with("must be a whole number")
}

/// The same path parameters with the one that `error` names written as the whole number its
/// decimal stands for, if it is one. actix-router's `Path` can only be filled by matching a
/// route, so the parameters are matched again against a route made of their names.
fn whole_number_segment<R: ResourcePath>(
    params: &actix_router::Path<R>,
    error: &FieldError,
) -> Option<actix_router::Path<String>> {
    if !wants_whole_number(error) {
        return None;
    }
    let (mut route, mut path, mut rewritten) = (String::new(), String::new(), false);
    for (name, value) in params.iter() {
        let value = match written_as_decimal(value) {
            Some(whole) if name == error.field => {
                rewritten = true;
                whole
            }
            _ => value,
        };
        if value.contains('/') {
            return None;
        }
        route.push_str(&format!("/{{{name}}}"));
        path.push('/');
        path.push_str(value);
    }
    let mut matched = actix_router::Path::new(path);
    (rewritten && ResourceDef::new(route).capture_match_info(&mut matched)).then_some(matched)
}

/// The query string, deserialized into `T`. Missing optional fields take their serde default; a
/// list field (`Vec<_>`) takes every value of its repeated parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);
wrapper!(Query);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        ready(
            decode_form(query.as_bytes())
                .map(Query)
                .map_err(|errors| problem(StatusCode::BAD_REQUEST, Location::Query, errors)),
        )
    }
}

/// Decodes `application/x-www-form-urlencoded` input (a query string or a form body) into `T`;
/// every key `T` has no field for is an error.
fn decode_form<T: DeserializeOwned>(input: &[u8]) -> Result<T, Vec<FieldError>> {
    let raw = |field: &str| {
        url::form_urlencoded::parse(input)
            .find(|(key, _)| key == field)
            .map(|(_, value)| value.into_owned())
    };
    let mut unknown = Vec::new();
    let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let deserializer = serde_html_form::Deserializer::from_bytes(input);
    let deserializer = serde_ignored::Deserializer::new(deserializer, &mut note_unknown);
    let value = match serde_path_to_error::deserialize(deserializer) {
        Ok(value) => value,
        Err(err) => {
            let error = field_error(&err, "query", raw);
            return match whole_number_values(input, &error) {
                Some(rewritten) => decode_form(&rewritten),
                None => Err(vec![error]),
            };
        }
    };
    if unknown.is_empty() {
        return Ok(value);
    }
    Err(unknown.into_iter().map(unknown_parameter).collect())
}

/// The same form with every value of the key that `error` names written as the whole number its
/// decimal stands for (see [`written_as_decimal`]), if any is one.
fn whole_number_values(input: &[u8], error: &FieldError) -> Option<Vec<u8>> {
    if !wants_whole_number(error) {
        return None;
    }
    // A list parameter is named with its index: `ids[1]`.
    let key = error.field.split('[').next().unwrap_or(&error.field);
    let mut rewritten = false;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(input) {
        match written_as_decimal(&value) {
            Some(whole) if name == key => {
                rewritten = true;
                form.append_pair(&name, whole);
            }
            _ => {
                form.append_pair(&name, &value);
            }
        }
    }
    rewritten.then(|| form.finish().into_bytes())
}

fn unknown_parameter(name: String) -> FieldError {
    FieldError::new(name, "unknown", "is not a parameter of this route")
}

/// The 400 for query parameters that a route does not document, which
/// [`crate::middleware::Conventions`] answers from the crate's OpenAPI document before any handler
/// runs: the errors [`Query`] would give, and a detail that names what the route does take, so that
/// a typo (`?limt=`) is answered with the right spelling.
pub(crate) fn unknown_query_parameters(found: crate::methods::UnknownQuery) -> ApiError {
    let errors: Vec<FieldError> = found.unknown.into_iter().map(unknown_parameter).collect();
    let what = match errors.as_slice() {
        [one] => format!("Query parameter `{}` {}", one.field, one.message),
        many => format!(
            "{} query parameters are not parameters of this route",
            many.len()
        ),
    };
    let takes = match found.takes.as_slice() {
        [] => "it takes none".to_owned(),
        names => {
            let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            format!("it takes {}", names.join(", "))
        }
    };
    ApiError::new(StatusCode::BAD_REQUEST, format!("{what}; {takes}")).with_errors(errors)
}

/// A JSON request body (`application/json` or any `+json` type) holding an object, deserialized
/// into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);
wrapper!(Json);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = body::BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        body::decode(req, payload, is_json, "application/json", |bytes| {
            decode_json(bytes).map(Json)
        })
    }
}

/// What [`Json<T>`] reads from a JSON body, once its media type and size have been checked: for
/// tests that compare what the server accepts with what its document promises.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    json::decode::<T>(bytes).map_err(json::Failure::into_error)
}

/// An `application/x-www-form-urlencoded` request body, deserialized into `T`.
#[derive(Debug)]
pub struct Form<T>(pub T);
wrapper!(Form);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = body::BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let expected = "application/x-www-form-urlencoded";
        body::decode(
            req,
            payload,
            |mime| mime.essence_str() == expected,
            expected,
            |bytes| {
                decode_form(bytes).map(Form).map_err(|errors| {
                    problem(StatusCode::UNPROCESSABLE_ENTITY, Location::Body, errors)
                })
            },
        )
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive), if any.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether a media type is JSON: `application/json` or any `+json` type (`application/problem+json`).
pub fn is_json(mime: &mime::Mime) -> bool {
    mime.essence_str() == "application/json" || mime.suffix().is_some_and(|s| s == "json")
}

mod body {
    //! The body half shared by `Json` and `Form`: check the content type, read the body within the
    //! limit, then decode.

    use std::future::Future;
    use std::pin::Pin;

    use actix_web::http::header;
    use futures_util::StreamExt;

    use super::*;

    pub(super) type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

    pub(super) fn decode<T: 'static>(
        req: &HttpRequest,
        payload: &mut Payload,
        accepts: impl Fn(&mime::Mime) -> bool,
        expected: &'static str,
        parse: impl FnOnce(&[u8]) -> Result<T, ApiError> + 'static,
    ) -> BodyFuture<T> {
        let content_type = req.mime_type().ok().flatten();
        if !content_type.as_ref().is_some_and(&accepts) {
            let got = content_type.map_or_else(|| "no Content-Type".to_owned(), |m| m.to_string());
            let err = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body must be {expected}, not {got}"),
            );
            return Box::pin(async move { Err(err.into()) });
        }
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(DEFAULT_BODY_LIMIT, |limit| limit.0);
        let too_large = move || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {}", size(limit)),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            let err = too_large();
            return Box::pin(async move { Err(err.into()) });
        }
        let mut stream = payload.take();
        Box::pin(async move {
            let mut bytes = web_bytes(declared.unwrap_or(0).min(limit));
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if bytes.len() + chunk.len() > limit {
                    return Err(too_large().into());
                }
                bytes.extend_from_slice(&chunk);
            }
            parse(&bytes).map_err(Into::into)
        })
    }

    fn web_bytes(capacity: usize) -> Vec<u8> {
        Vec::with_capacity(capacity)
    }
}

mod json {
    //! JSON bodies: the fast path deserializes once; a body of the wrong shape is looked at again
    //! to report every mistake in it.

    use serde_json::Value;

    use super::*;

    /// Why a JSON body was refused.
    #[derive(Debug)]
    pub(super) enum Failure {
        /// Not JSON, or not an object: 400.
        Malformed(String),
        /// An object of the wrong shape: 422 listing every field.
        Shape(Vec<FieldError>),
    }

    impl Failure {
        pub(super) fn into_error(self) -> ApiError {
            match self {
                Failure::Malformed(detail) => ApiError::bad_request(detail),
                Failure::Shape(errors) => {
                    problem(StatusCode::UNPROCESSABLE_ENTITY, Location::Body, errors)
                }
            }
        }
    }

    /// The body as `T`, or why not.
    pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
        // serde reads a JSON array into a struct field by field (`["T", "A", 2000]` would be a
        // book): the API's bodies are objects, and this says so.
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(match serde_json::from_slice::<Value>(bytes) {
                Ok(_) => Failure::Shape(vec![FieldError::new(
                    "body",
                    "type",
                    "must be a JSON object",
                )]),
                Err(_) => Failure::Malformed(malformed()),
            });
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Ok(value) => deserializer
                .end()
                .map(|()| value)
                .map_err(|_| Failure::Malformed(malformed())),
            Err(err) if err.inner().is_data() => {
                let mut value: Value =
                    serde_json::from_slice(bytes).map_err(|_| Failure::Malformed(malformed()))?;
                // JSON has one kind of number: `60.0` is the integer 60 to JSON Schema and to
                // JavaScript, though serde refuses it for an integer field. Whole floats are read
                // as the integers they are; `1.5` stays a mistake.
                if whole_floats_to_integers(&mut value)
                    && let Ok(found) = serde_json::from_value::<T>(value.clone())
                {
                    return Ok(found);
                }
                Err(Failure::Shape(every_error::<T>(value).errors))
            }
            Err(_) => Err(Failure::Malformed(malformed())),
        }
    }

    /// Rewrites every float without a fraction (`60.0`, `1e3`) as an integer; true if any was.
    pub(super) fn whole_floats_to_integers(value: &mut Value) -> bool {
        match value {
            Value::Number(number) if number.is_f64() => {
                let float = number.as_f64().unwrap_or(f64::NAN);
                // Exactly representable integers only: below 2^53 a float is a whole number exactly.
                let exact = float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0;
                if exact {
                    #[allow(clippy::cast_possible_truncation)] // whole and below 2^53: exact
                    let integer = float as i64;
                    *value = Value::from(integer);
                }
                exact
            }
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                whole_floats_to_integers(item) | changed
            }),
            Value::Object(map) => map.values_mut().fold(false, |changed, item| {
                whole_floats_to_integers(item) | changed
            }),
            _ => false,
        }
    }

    fn malformed() -> String {
        "the body is not valid JSON".to_owned()
    }

    /// What looking at a body again found: every error, and the value it could still build with
    /// stand-ins for the wrong fields (so that `ValidJson` can check the rules of the others).
    pub(super) struct Findings<T> {
        pub(super) errors: Vec<FieldError>,
        #[cfg_attr(not(feature = "validation"), allow(dead_code))]
        pub(super) value: Option<T>,
    }

    /// serde stops at the first mistake. To find them all, the body is deserialized again and
    /// again: each time serde names a field, the error is kept and the field is mended in the
    /// JSON (a stand-in of the expected type for a missing or mistyped field, an unknown one
    /// removed), until `T` can be built or nothing can be mended.
    pub(super) fn every_error<T: DeserializeOwned>(mut value: Value) -> Findings<T> {
        let mut errors: Vec<FieldError> = Vec::new();
        let mut found = None;
        // Each round mends one field; a body has fewer fields than this.
        for _ in 0..64 {
            let err = match serde_path_to_error::deserialize::<_, T>(&value) {
                Ok(value) => {
                    found = Some(value);
                    break;
                }
                Err(err) => err,
            };
            let error = field_error(&err, "body", |field| raw(&value, field));
            let seen = errors
                .iter()
                .filter(|known| known.field == error.field)
                .count();
            // A missing field is first mended with `null`; serde then names its type, and the
            // second mending uses that. A third failure of one field means it cannot be mended.
            if seen >= 2 || !mend(&mut value, &err, &error) {
                if seen == 0 {
                    errors.push(error);
                }
                break;
            }
            if seen == 0 {
                errors.push(error);
            } else {
                // Counted, so that the next failure of this field stops the search.
                errors.push(FieldError::new(error.field, "", ""));
            }
        }
        errors.retain(|error| !error.code.is_empty());
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Findings {
            errors,
            value: found,
        }
    }

    /// The JSON text of the value at a dotted `field`, for the message ("not `"abc"`").
    fn raw(value: &Value, field: &str) -> Option<String> {
        let mut current = value;
        for part in field.split('.') {
            current = current.get(part)?;
        }
        Some(match current {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    /// Changes `value` so that the next round gets past `error`; false when it cannot.
    fn mend(
        value: &mut Value,
        err: &serde_path_to_error::Error<serde_json::Error>,
        error: &FieldError,
    ) -> bool {
        use serde_path_to_error::Segment;
        let mut parent = value;
        let segments: Vec<&Segment> = err.path().iter().collect();
        let (parents, last) = match (error.code.as_str(), segments.split_last()) {
            // Missing and unknown fields: the path ends at the object, serde's message names the key.
            ("required" | "unknown", _) => (segments.as_slice(), None),
            (_, Some((last, parents))) => (parents, Some(*last)),
            (_, None) => return false,
        };
        for segment in parents {
            parent = match (segment, parent) {
                (Segment::Map { key }, Value::Object(map)) => match map.get_mut(key) {
                    Some(next) => next,
                    None => return false,
                },
                (Segment::Seq { index }, Value::Array(items)) => match items.get_mut(*index) {
                    Some(next) => next,
                    None => return false,
                },
                _ => return false,
            };
        }
        let key = match last {
            Some(Segment::Map { key }) => key.clone(),
            Some(_) => return false,
            None => match error.field.rsplit('.').next() {
                Some(key) => key.to_owned(),
                None => return false,
            },
        };
        let Value::Object(map) = parent else {
            return false;
        };
        if error.code == "unknown" {
            return map.remove(&key).is_some();
        }
        match wording::stand_in(&err.inner().to_string()) {
            Some(stand_in) => {
                map.insert(key, stand_in);
                true
            }
            // A missing field whose type the message does not say: try `null` first; serde then
            // says what it expected, and the next round mends that.
            None if error.code == "required" && !map.contains_key(&key) => {
                map.insert(key, Value::Null);
                true
            }
            None => false,
        }
    }
}

mod wording {
    //! serde's messages, in the API's words.
    //!
    //! serde and its formats describe a failure in terms of Rust: "invalid type: string "x",
    //! expected u64", "invalid digit found in string", "missing field `title`". A client knows
    //! neither `u64` nor that the server is written in Rust; it needs to know which value to
    //! send. Each known form of message is rewritten; anything else passes through.

    use serde_json::Value;

    /// A serde message, explained: the rule it breaks (`type`, `required`, `unknown`, ...), what to
    /// do instead, and the field when serde names it in the message.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Explained {
        pub code: &'static str,
        pub message: String,
        pub field: Option<String>,
    }

    fn explained(code: &'static str, message: impl Into<String>) -> Explained {
        Explained {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Rewrites one of serde's messages (any format's: JSON, query strings, path segments).
    pub fn explain(message: &str) -> Explained {
        // serde_json appends where in the text it was: the field is named already.
        let message = match message.rfind(" at line ") {
            Some(at) if message[at..].contains(" column ") => &message[..at],
            _ => message,
        };
        if let Some(name) = quoted_after(message, "missing field ") {
            return Explained {
                field: Some(name),
                ..explained("required", "is required")
            };
        }
        if let Some(name) = quoted_after(message, "unknown field ") {
            let known = message
                .split_once("expected ")
                .map(|(_, rest)| rest.replace("one of ", "").replace('`', ""));
            let text = match known {
                Some(known) if !known.is_empty() && known != "nothing" => {
                    format!("is not a field here; the fields are {known}")
                }
                _ => "is not a field here".to_owned(),
            };
            return Explained {
                field: Some(name),
                ..explained("unknown", text)
            };
        }
        if let Some(name) = quoted_after(message, "duplicate field ") {
            return Explained {
                field: Some(name),
                ..explained("duplicate", "is given more than once")
            };
        }
        if let Some(variant) = quoted_after(message, "unknown variant ") {
            let allowed = message
                .split_once("expected ")
                .map_or_else(String::new, |(_, rest)| {
                    rest.replace("one of ", "").replace('`', "")
                });
            return explained("enum", format!("must be one of {allowed}, not `{variant}`"));
        }
        for prefix in ["invalid type: ", "invalid value: "] {
            if let Some(rest) = message.strip_prefix(prefix)
                && let Some((_, expected)) = rest.rsplit_once(", expected ")
            {
                return explained("type", format!("must be {}", expected_words(expected)));
            }
        }
        if let Some(rest) = message.strip_prefix("invalid length ")
            && let Some((_, expected)) = rest.split_once(", expected ")
        {
            return explained("length", format!("must be {}", expected_words(expected)));
        }
        // actix-router's path segments: `can not parse "-1" to a u64`.
        if let Some(rest) = message.strip_prefix("can not parse ")
            && let Some((_, ty)) = rest.rsplit_once(" to a ")
        {
            return explained("type", format!("must be {}", expected_words(ty)));
        }
        // `FromStr` errors, as query strings, forms and path segments report them.
        let from_str = [
            ("invalid digit found in string", "must be a whole number"),
            (
                "cannot parse integer from empty string",
                "must be a whole number",
            ),
            ("number too large to fit in target type", "is too large"),
            ("number too small to fit in target type", "is too small"),
            ("invalid float literal", "must be a number"),
            (
                "provided string was not `true` or `false`",
                "must be true or false",
            ),
            ("input contains invalid characters", DATE_TIME),
            ("premature end of input", DATE_TIME),
            ("input is out of range", DATE_TIME),
            ("trailing input", DATE_TIME),
            ("input is not enough for unique date and time", DATE_TIME),
        ];
        // serde_html_form, for a single-valued parameter given twice (`?page=1&page=2`).
        if message == "unsupported value" {
            return explained("duplicate", "is given more than once");
        }
        for (serde, ours) in from_str {
            if message == serde {
                return explained("type", ours);
            }
        }
        explained("invalid", message)
    }

    const DATE_TIME: &str =
        "must be a date and time in RFC 3339 form, such as 2026-12-01T09:30:00Z";

    /// `-1` sent where only 0 or more fit: "must be a whole number" says too little.
    pub(super) fn refine_number(message: &str, raw: &str) -> String {
        let negative =
            raw.starts_with('-') && raw[1..].chars().all(|c| c.is_ascii_digit()) && raw.len() > 1;
        if message == "must be a whole number" && negative {
            return "must be a whole number, 0 or more".to_owned();
        }
        message.to_owned()
    }

    /// The text between the backticks after `prefix`: "missing field `title`" → `title`.
    fn quoted_after(message: &str, prefix: &str) -> Option<String> {
        let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
        let end = rest.find('`')?;
        Some(rest[..end].to_owned())
    }

    /// What serde's "expected ..." means to a client.
    fn expected_words(expected: &str) -> String {
        let expected = expected.trim();
        let words = match expected {
            "u8" => "a whole number from 0 to 255",
            "u16" => "a whole number from 0 to 65535",
            "u32" => "a whole number from 0 to 4294967295",
            "u64" | "u128" | "usize" => "a whole number, 0 or more",
            "i8" => "a whole number from -128 to 127",
            "i16" => "a whole number from -32768 to 32767",
            "i32" => "a whole number from -2147483648 to 2147483647",
            "i64" | "i128" | "isize" => "a whole number",
            "f32" | "f64" => "a number",
            "a string" | "a borrowed string" | "a string slice" | "a char" | "a character" => {
                "a string"
            }
            "a boolean" | "bool" => "true or false",
            "a sequence" | "a tuple" => "a list",
            "unit" => "null",
            "a map" | "map" => "an object",
            _ if expected.starts_with("struct ") => "an object",
            _ if expected.starts_with("a tuple of size")
                || expected.starts_with("tuple struct ") =>
            {
                "a list"
            }
            _ if expected.starts_with("enum ") || expected.contains("variant") => {
                "one of the allowed values"
            }
            _ if expected.contains("tagged enum") => "an object with a known kind",
            _ if expected.contains("RFC 3339") || expected.contains("date") => {
                return DATE_TIME.trim_start_matches("must be ").to_owned();
            }
            other => other,
        };
        words.to_owned()
    }

    /// A value of the type serde expected, to stand in for a wrong field while the rest of the body
    /// is checked.
    pub(super) fn stand_in(message: &str) -> Option<Value> {
        let expected = message.rsplit_once("expected ")?.1;
        let expected = match expected.find(" at line ") {
            Some(at) => &expected[..at],
            None => expected,
        };
        let words = expected_words(expected);
        Some(match words.as_str() {
            w if w.starts_with("a whole number") => Value::from(0),
            "a number" => Value::from(0.0),
            "a string" => Value::from(""),
            "true or false" => Value::from(false),
            "a list" => Value::Array(Vec::new()),
            "an object" => Value::Object(serde_json::Map::new()),
            "null" => Value::Null,
            w if w.starts_with("a date and time") => Value::from("1970-01-01T00:00:00Z"),
            _ => return None,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn rust_words_become_the_apis() {
            let cases = [
                (
                    "invalid type: string \"abc\", expected i32 at line 1 column 12",
                    "must be a whole number from -2147483648 to 2147483647",
                ),
                (
                    "invalid value: integer `-1`, expected u64",
                    "must be a whole number, 0 or more",
                ),
                (
                    "invalid type: sequence, expected struct NewBook",
                    "must be an object",
                ),
                (
                    "invalid type: floating point `1e20`, expected i32",
                    "must be a whole number from -2147483648 to 2147483647",
                ),
                ("invalid digit found in string", "must be a whole number"),
                (
                    "can not parse \"-1\" to a u64",
                    "must be a whole number, 0 or more",
                ),
                (
                    "provided string was not `true` or `false`",
                    "must be true or false",
                ),
            ];
            for (serde, ours) in cases {
                assert_eq!(explain(serde).message, ours, "{serde}");
            }
        }

        #[test]
        fn named_fields_come_out_of_the_message() {
            let missing = explain("missing field `author` at line 1 column 13");
            assert_eq!(
                (missing.code, missing.field.as_deref()),
                ("required", Some("author"))
            );
            let unknown = explain("unknown field `nope`, expected one of `title`, `year`");
            assert_eq!(
                unknown.message,
                "is not a field here; the fields are title, year"
            );
            assert_eq!(explain("duplicate field `page`").code, "duplicate");
        }

        #[test]
        fn a_negative_number_for_a_count_says_so() {
            assert_eq!(
                refine_number("must be a whole number", "-1"),
                "must be a whole number, 0 or more"
            );
            assert_eq!(
                refine_number("must be a whole number", "ten"),
                "must be a whole number"
            );
        }
    }
}

#[cfg(feature = "validation")]
pub use validated::{ValidJson, decode_valid_json};

#[cfg(feature = "validation")]
mod validated {
    use validator::Validate;

    use super::json::{Failure, decode, every_error, whole_floats_to_integers};
    use super::*;

    /// A JSON body that has passed its `#[derive(Validate)]` rules; otherwise a 422 listing every
    /// failing field: those of the wrong shape, and the rules the others break.
    #[derive(Debug)]
    pub struct ValidJson<T>(pub T);
    wrapper!(ValidJson);

    impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
        type Error = actix_web::Error;
        type Future = body::BodyFuture<Self>;

        fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
            body::decode(req, payload, is_json, "application/json", |bytes| {
                decode_valid_json(bytes).map(ValidJson)
            })
        }
    }

    /// What [`ValidJson<T>`] reads from a JSON body: [`decode_json`] and then `T`'s rules.
    pub fn decode_valid_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
        let failure = match decode::<T>(bytes) {
            Ok(value) => return value.validate().map(|()| value).map_err(ApiError::from),
            Err(failure) => failure,
        };
        let Failure::Shape(shape) = failure else {
            return Err(failure.into_error());
        };
        // The shape's errors, and the rules broken by the fields that had the right shape
        // (the mended ones hold stand-ins, whose rules mean nothing).
        let mut errors = shape;
        let mended = serde_json::from_slice(bytes).ok().and_then(|mut value| {
            whole_floats_to_integers(&mut value);
            every_error::<T>(value).value
        });
        if let Some(mended) = mended
            && let Err(rules) = mended.validate()
        {
            let mended_fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            let mended = |field: &str| {
                mended_fields.iter().any(|known| {
                    field == known
                        || field
                            .strip_prefix(known.as_str())
                            .is_some_and(|rest| rest.starts_with(['.', '[']))
                })
            };
            let broken = ApiError::from(rules).problem().errors;
            errors.extend(broken.into_iter().filter(|rule| !mended(&rule.field)));
            errors.sort_by(|a, b| a.field.cmp(&b.field));
        }
        Err(Failure::Shape(errors).into_error())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        page: u32,
        tag: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Book {
        title: String,
        author: String,
        year: i32,
        #[serde(default)]
        inner: Option<Params>,
    }

    fn fields(err: &ApiError) -> Vec<(String, String)> {
        err.problem()
            .errors
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn query<T: DeserializeOwned>(uri: &str) -> Result<T, ApiError> {
        let (req, mut payload) = TestRequest::get().uri(uri).to_http_parts();
        futures_util::FutureExt::now_or_never(Query::<T>::from_request(&req, &mut payload))
            .expect("ready")
            .map(Query::into_inner)
    }

    #[test]
    fn a_query_of_the_wrong_type_names_the_parameter_in_the_apis_words() {
        let err = query::<Params>("/?page=two").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            fields(&err),
            [("page".into(), "must be a whole number, not `two`".into())]
        );
        let err = query::<Params>("/?page=-1").unwrap_err();
        assert_eq!(
            fields(&err)[0].1,
            "must be a whole number, 0 or more, not `-1`"
        );
        let params = query::<Params>("/?page=2&tag=x&tags=a&tags=b").unwrap();
        assert_eq!((params.page, params.tags.len()), (2, 2));
    }

    #[test]
    fn unknown_and_repeated_single_parameters_are_refused() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Loose {
            page: Option<u32>,
        }
        let err = query::<Loose>("/?pagesize=3").unwrap_err();
        assert_eq!(
            fields(&err),
            [("pagesize".into(), "is not a parameter of this route".into())]
        );
        assert!(query::<Loose>("/?page=1&page=2").is_err());
    }

    async fn json<T: DeserializeOwned + 'static>(
        content_type: &str,
        body: &'static str,
    ) -> Result<T, ApiError> {
        let (req, mut payload) = TestRequest::post()
            .insert_header(("content-type", content_type))
            .set_payload(body)
            .to_http_parts();
        Json::<T>::from_request(&req, &mut payload)
            .await
            .map(Json::into_inner)
            .map_err(|err| match err.as_error::<ApiError>() {
                Some(api) => {
                    ApiError::new(api.status(), api.to_string()).with_errors(api.problem().errors)
                }
                None => panic!("not an ApiError: {err}"),
            })
    }

    #[actix_web::test]
    async fn every_missing_and_mistyped_field_is_named_at_once() {
        let err = json::<Book>("application/json", r#"{"year": "abc", "extra": 1}"#)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let named: Vec<String> = fields(&err).into_iter().map(|(field, _)| field).collect();
        assert_eq!(named, ["author", "title", "year"]);
        let err = json::<Book>(
            "application/json",
            r#"{"title":"T","author":"A","year":1,"inner":{"page":"x"}}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(fields(&err)[0].0, "inner.page");
    }

    #[actix_web::test]
    async fn json_errors_separate_syntax_shape_and_media_type() {
        let array = json::<Book>("application/json", r#"["T", "A", 2000]"#)
            .await
            .unwrap_err();
        assert_eq!(
            (array.status(), fields(&array)[0].0.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "body")
        );
        let broken = json::<Book>("application/json", r#"{"title": "#)
            .await
            .unwrap_err();
        assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
        let wrong_type = json::<Book>("text/plain", "{}").await.unwrap_err();
        assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let ok = json::<Book>(
            "application/merge-patch+json",
            r#"{"title":"T","author":"A","year":3}"#,
        )
        .await
        .unwrap();
        assert_eq!(ok.year, 3);
    }

    #[actix_web::test]
    async fn a_whole_number_written_as_a_float_is_a_whole_number() {
        let book = json::<Book>(
            "application/json",
            r#"{"title":"T","author":"A","year":1965.0}"#,
        )
        .await
        .unwrap();
        assert_eq!(book.year, 1965);
        let err = json::<Book>(
            "application/json",
            r#"{"title":"T","author":"A","year":1965.5}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(fields(&err)[0].0, "year");
    }

    #[test]
    fn a_path_of_the_wrong_type_names_the_segment() {
        let req = TestRequest::get()
            .uri("/books/-1")
            .param("id", "-1")
            .to_http_request();
        let err = futures_util::FutureExt::now_or_never(Path::<u64>::from_request(
            &req,
            &mut Payload::None,
        ))
        .expect("ready")
        .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            fields(&err),
            [(
                "id".into(),
                "must be a whole number, 0 or more, not `-1`".into()
            )]
        );
    }

    fn path<T: DeserializeOwned>(params: &[(&'static str, &'static str)]) -> Result<T, ApiError> {
        let req = params
            .iter()
            .fold(TestRequest::get(), |req, (name, value)| {
                req.param(*name, *value)
            })
            .to_http_request();
        futures_util::FutureExt::now_or_never(Path::<T>::from_request(&req, &mut Payload::None))
            .expect("ready")
            .map(Path::into_inner)
    }

    #[test]
    fn a_whole_number_written_as_a_decimal_is_that_number() {
        assert_eq!(path::<i32>(&[("id", "1.0")]).unwrap(), 1);
        assert_eq!(path::<i32>(&[("id", "-3.00")]).unwrap(), -3);
        #[derive(Debug, Deserialize, PartialEq)]
        struct Step {
            id: i32,
            action: String,
        }
        let step = path::<Step>(&[("id", "7.0"), ("action", "2.0")]).unwrap();
        assert_eq!(
            step,
            Step {
                id: 7,
                action: "2.0".into()
            },
            "only the integer is rewritten"
        );
        for fraction in ["1.5", "1.", ".0", "1.0.0", "1e3"] {
            let err = path::<i32>(&[("id", fraction)]).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{fraction}");
            assert!(
                fields(&err)[0].1.ends_with(&format!("not `{fraction}`")),
                "{fraction}: {:?}",
                fields(&err)
            );
        }

        let params = query::<Params>("/?page=2.0&tag=1.0").unwrap();
        assert_eq!((params.page, params.tag.as_deref()), (2, Some("1.0")));
        #[derive(Debug, Deserialize)]
        struct Ids {
            #[serde(default)]
            id: Vec<u32>,
        }
        assert_eq!(query::<Ids>("/?id=1&id=2.00").unwrap().id, [1, 2]);
        let err = query::<Params>("/?page=2.5").unwrap_err();
        assert_eq!(
            fields(&err),
            [("page".into(), "must be a whole number, not `2.5`".into())]
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(2 * 1024 * 1024), "2 MiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
