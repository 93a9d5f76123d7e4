//! Typed extractors whose errors name the field that failed.
//!
//! FastAPI reads `def get_book(book_id: int, limit: int = 20)` and answers `book_id=abc` with an error
//! that says `loc: ["path", "book_id"]`. actix's `web::Path`, `web::Query` and `web::Json` check types
//! just as strictly, but their errors say only "invalid digit found in string". These wrappers run the
//! same serde deserializers through `serde_path_to_error`, which records where deserialization
//! stopped, so the problem names the parameter:
//!
//! - `Path<T>` and `Query<T>`: a wrong type is a 400 whose `errors` name the parameter;
//! - `Json<T>` and `Form<T>`: malformed input is a 400, well-formed input of the wrong shape (wrong
//!   type, missing or unknown field) is a 422 naming the field, a wrong `Content-Type` is a 415, and a
//!   body over the `web::PayloadConfig` limit is a 413;
//! - `ValidJson<T>` (feature `validation`): `Json<T>` plus `validator`'s rules, so the handler only
//!   ever sees valid input, as with a Pydantic model.
//!
//! They are used exactly like actix's own: `async fn get(Path(id): Path<BookId>)`.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::problem::FieldError;

/// Where in the request a value came from; named in the problem when the failure is at the top level.
#[derive(Debug, Clone, Copy)]
enum Location {
    Path,
    Query,
    Body,
}

impl Location {
    fn name(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Body => "body",
        }
    }
}

/// A deserialization failure as a problem: `status`, and the field that failed with serde's reason.
fn deserialize_error<E: std::fmt::Display>(
    err: &serde_path_to_error::Error<E>,
    location: Location,
    status: StatusCode,
) -> ApiError {
    let path = err.path().to_string();
    let field = if path == "." || path == "?" {
        location.name().to_owned()
    } else {
        path
    };
    let message = err.inner().to_string();
    let detail = format!("invalid {} parameter `{field}`: {message}", location.name());
    ApiError::new(status, detail).with_errors(vec![FieldError::new(field, "type", message)])
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

/// Path parameters, deserialized into `T` (a struct whose fields are the `{names}` of the route).
#[derive(Debug)]
pub struct Path<T>(pub T);
wrapper!(Path);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let deserializer = actix_router::PathDeserializer::new(req.match_info());
        ready(
            serde_path_to_error::deserialize(deserializer)
                .map(Path)
                .map_err(|err| deserialize_error(&err, Location::Path, StatusCode::BAD_REQUEST)),
        )
    }
}

/// The query string, deserialized into `T`. Missing optional fields take their serde default.
#[derive(Debug)]
pub struct Query<T>(pub T);
wrapper!(Query);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            decode_urlencoded(req.query_string().as_bytes())
                .map(Query)
                .map_err(|err| deserialize_error(&err, Location::Query, StatusCode::BAD_REQUEST)),
        )
    }
}

fn decode_urlencoded<T: DeserializeOwned>(
    input: &[u8],
) -> Result<T, serde_path_to_error::Error<serde_urlencoded::de::Error>> {
    let deserializer = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(input));
    serde_path_to_error::deserialize(deserializer)
}

/// A JSON request body (`application/json` or any `+json` type), deserialized into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);
wrapper!(Json);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = body::BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        body::decode(req, payload, is_json, "application/json", |bytes| {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(&mut deserializer)
                .map(Json)
                .map_err(|err| {
                    let status = if err.inner().is_data() {
                        StatusCode::UNPROCESSABLE_ENTITY
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    if status == StatusCode::BAD_REQUEST {
                        ApiError::bad_request(format!("malformed JSON: {}", err.inner()))
                    } else {
                        deserialize_error(&err, Location::Body, status)
                    }
                })
        })
    }
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
                decode_urlencoded(bytes).map(Form).map_err(|err| {
                    deserialize_error(&err, Location::Body, StatusCode::UNPROCESSABLE_ENTITY)
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
    //! `web::PayloadConfig` limit, then decode.

    use std::future::Future;
    use std::pin::Pin;

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
                format!("expected a {expected} body, got {got}"),
            );
            return Box::pin(async move { Err(err.into()) });
        }
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            parse(&bytes).map_err(Into::into)
        })
    }
}

#[cfg(feature = "validation")]
pub use validated::ValidJson;

#[cfg(feature = "validation")]
mod validated {
    use validator::Validate;

    use super::*;

    /// A JSON body that has passed its `#[derive(Validate)]` rules; otherwise a 422 listing every
    /// failing field.
    #[derive(Debug)]
    pub struct ValidJson<T>(pub T);
    wrapper!(ValidJson);

    impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
        type Error = actix_web::Error;
        type Future = body::BodyFuture<Self>;

        fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
            let json = Json::<T>::from_request(req, payload);
            Box::pin(async move {
                let Json(value) = json.await?;
                value.validate().map_err(ApiError::from)?;
                Ok(ValidJson(value))
            })
        }
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
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Params,
    }

    fn first_field(err: &ApiError) -> String {
        err.problem().errors[0].field.clone()
    }

    #[actix_web::test]
    async fn a_query_of_the_wrong_type_names_the_parameter() {
        let (req, mut payload) = TestRequest::get().uri("/?page=two").to_http_parts();
        let err = Query::<Params>::from_request(&req, &mut payload)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(first_field(&err), "page");

        let (req, mut payload) = TestRequest::get().uri("/?page=2&tag=x").to_http_parts();
        let Query(params) = Query::<Params>::from_request(&req, &mut payload)
            .await
            .unwrap();
        assert_eq!((params.page, params.tag.as_deref()), (2, Some("x")));
    }

    async fn json<T: DeserializeOwned + 'static>(
        content_type: &str,
        body: &'static str,
    ) -> Result<Json<T>, ApiError> {
        let (req, mut payload) = TestRequest::post()
            .insert_header(("content-type", content_type))
            .set_payload(body)
            .to_http_parts();
        Json::<T>::from_request(&req, &mut payload)
            .await
            .map_err(|err| match err.as_error::<ApiError>() {
                Some(api) => {
                    ApiError::new(api.status(), api.to_string()).with_errors(api.problem().errors)
                }
                None => panic!("not an ApiError: {err}"),
            })
    }

    #[actix_web::test]
    async fn json_errors_separate_syntax_shape_and_media_type() {
        let nested = json::<Outer>("application/json", r#"{"inner": {"page": "x"}}"#)
            .await
            .unwrap_err();
        assert_eq!(nested.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(first_field(&nested), "inner.page");

        let unknown = json::<Params>("application/json", r#"{"page": 1, "nope": 2}"#)
            .await
            .unwrap_err();
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let broken = json::<Params>("application/json", r#"{"page": "#)
            .await
            .unwrap_err();
        assert_eq!(broken.status(), StatusCode::BAD_REQUEST);

        let wrong_type = json::<Params>("text/plain", r#"{"page": 1}"#)
            .await
            .unwrap_err();
        assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let Json(ok) = json::<Params>("application/merge-patch+json", r#"{"page": 3}"#)
            .await
            .unwrap();
        assert_eq!(ok.page, 3);
    }

    #[actix_web::test]
    async fn a_path_of_the_wrong_type_names_the_segment() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Id {
            id: u64,
        }
        let req = TestRequest::get()
            .uri("/books/abc")
            .param("id", "abc")
            .to_http_request();
        let err = Path::<Id>::from_request(&req, &mut Payload::None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(first_field(&err), "id");
    }
}
