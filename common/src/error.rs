//! `ApiError`: the one error type every handler returns.
//!
//! In FastAPI you `raise HTTPException(status_code=404, detail="...")` and the framework turns the
//! exception into a response. Rust has no exceptions: a handler returns `Result<T, ApiError>`, the `?`
//! operator propagates failures, and actix calls [`ResponseError::error_response`] to render the error.
//! The type system makes every failure visible in the handler's signature.
//!
//! A 5xx keeps its cause in `source`, which goes to the log and never to the client.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue, TryIntoHeaderPair};
use actix_web::{HttpResponse, ResponseError};

use crate::problem::{CONTENT_TYPE, FieldError, Problem};

/// An error a handler returns; its response is an `application/problem+json` body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: Option<String>,
    errors: Vec<FieldError>,
    /// Boxed: rare, and an `ApiError` travels in every `Result` of a request path.
    extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    source: Option<anyhow::Error>,
}

impl ApiError {
    /// An error with this status and a human-readable detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: Some(detail.into()),
            errors: Vec::new(),
            extensions: None,
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: no usable credentials. `challenge` is the `WWW-Authenticate` value that tells the client
    /// how to authenticate (RFC 9110 §11.6.1 requires it on every 401).
    pub fn unauthorized(challenge: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
            .with_header((header::WWW_AUTHENTICATE, challenge))
    }

    /// 403: the caller is known and is not allowed. Sending new credentials will not help.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405: the resource exists but not this method; `allow` lists the methods it has.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this resource allows {allow}"),
        )
        .with_header((header::ALLOW, allow))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 422: the input parsed but broke the rules; `errors` lists every failing field.
    pub fn unprocessable(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field failed validation".to_owned(),
            n => format!("{n} fields failed validation"),
        };
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_errors(errors)
    }

    /// 429: slow down, and come back after `retry_after_secs` seconds.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {retry_after_secs} s"),
        )
        .with_header((header::RETRY_AFTER, retry_after_secs))
    }

    /// 500: something broke on our side. The client sees a generic message; `cause` is logged.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: None,
            errors: Vec::new(),
            extensions: None,
            headers: Vec::new(),
            source: Some(cause.into()),
        }
    }

    /// Adds per-field errors (shown in the problem's `errors` member).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds an extension member to the problem document: `("error", "invalid_grant")` makes an OAuth
    /// token endpoint's error readable by OAuth clients, which look for that member.
    ///
    /// RFC 9457's own members (`type`, `title`, `status`, `detail`, `instance`) and `errors` cannot
    /// be extensions: a second `title` would make the document invalid JSON for strict parsers. Such
    /// a name is dropped and logged.
    pub fn with_member(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        const RESERVED: [&str; 6] = ["type", "title", "status", "detail", "instance", "errors"];
        if RESERVED.contains(&name) {
            tracing::error!(name, "a problem extension cannot be called this: dropped");
            return self;
        }
        self.extensions
            .get_or_insert_default()
            .insert(name.to_owned(), value.into());
        self
    }

    /// Adds a response header, such as `Allow` on a 405 or `Retry-After` on a 429.
    ///
    /// A header that cannot be encoded is dropped and logged rather than turning the error into a panic.
    pub fn with_header(mut self, header: impl TryIntoHeaderPair) -> Self {
        match header.try_into_pair() {
            Ok(pair) => self.headers.push(pair),
            Err(err) => tracing::warn!(error = %err.into(), "dropped an invalid error header"),
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The cause of a 5xx, for the log.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }

    /// The problem document this error is shown as. An internal error's cause is never part of it;
    /// a detail written on purpose (a 503 saying what to configure) is.
    pub fn problem(&self) -> Problem {
        let mut problem = Problem::from_status(self.status);
        problem.detail.clone_from(&self.detail);
        problem.errors.clone_from(&self.errors);
        if let Some(extensions) = &self.extensions {
            problem.extensions.clone_from(extensions);
        }
        problem
    }

    /// Renders `problem` with this error's status and headers.
    pub fn render(&self, problem: &Problem) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type(CONTENT_TYPE);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(problem)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// An unexpected failure, such as a lost database connection, is a 500 with the cause logged.
impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        ApiError::internal(cause)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render(&self.problem())
    }
}

#[cfg(feature = "validation")]
mod validation {
    use std::borrow::Cow;

    use validator::{ValidationErrors, ValidationErrorsKind};

    use super::{ApiError, FieldError};

    /// Every failing rule of a `#[derive(Validate)]` struct, nested ones included, becomes a 422.
    impl From<ValidationErrors> for ApiError {
        fn from(errors: ValidationErrors) -> Self {
            let mut fields = Vec::new();
            flatten(&errors, "", &mut fields);
            fields.sort_by(|a, b| a.field.cmp(&b.field));
            ApiError::unprocessable(fields)
        }
    }

    /// Walks validator's tree of errors into a flat list with dotted paths (`publisher.email`, `tags[1]`).
    fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
        for (field, kind) in errors.errors() {
            let path = match prefix {
                "" => field.to_string(),
                _ => format!("{prefix}.{field}"),
            };
            match kind {
                ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|error| {
                    let message = error
                        .message
                        .clone()
                        .unwrap_or_else(|| Cow::Owned(describe(error)));
                    FieldError::new(path.clone(), error.code.clone(), message)
                })),
                ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
                ValidationErrorsKind::List(items) => {
                    for (index, inner) in items {
                        flatten(inner, &format!("{path}[{index}]"), out);
                    }
                }
            }
        }
    }

    /// A readable message for a rule that did not set one, built from the rule's parameters.
    fn describe(error: &validator::ValidationError) -> String {
        let param = |name: &str| error.params.get(name).map(ToString::to_string);
        match error.code.as_ref() {
            "length" => match (param("min"), param("max")) {
                (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
                (Some(min), None) => format!("length must be at least {min}"),
                (None, Some(max)) => format!("length must be at most {max}"),
                (None, None) => "wrong length".to_owned(),
            },
            "range" => match (param("min"), param("max")) {
                (Some(min), Some(max)) => format!("must be between {min} and {max}"),
                (Some(min), None) => format!("must be at least {min}"),
                (None, Some(max)) => format!("must be at most {max}"),
                (None, None) => "out of range".to_owned(),
            },
            "email" => "must be an email address".to_owned(),
            "url" => "must be a URL".to_owned(),
            "regex" => "has the wrong format".to_owned(),
            "required" => "is required".to_owned(),
            code => format!("failed the `{code}` rule"),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn an_extension_cannot_take_a_member_of_the_rfc() {
        let response = ApiError::conflict("taken")
            .with_member("title", "Flow")
            .with_member("event", "Flow")
            .error_response();
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(text.matches("\"title\"").count(), 1, "{text}");
        assert!(text.contains("\"event\":\"Flow\""), "{text}");
    }

    #[actix_web::test]
    async fn an_error_renders_as_a_problem_with_its_headers() {
        let response = ApiError::too_many_requests(7).error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "7");
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            CONTENT_TYPE
        );
        let body = to_bytes(response.into_body()).await.unwrap();
        let problem: Problem = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem.title, "Too Many Requests");
        assert_eq!(problem.type_uri, "about:blank");
    }

    #[test]
    fn a_server_error_keeps_its_cause_for_the_log_only() {
        let error = ApiError::internal(anyhow::anyhow!("disk on fire"));
        assert!(error.problem().detail.is_none());
        assert!(error.to_string().contains("disk on fire"));
        assert!(error.cause().is_some());
    }

    #[test]
    fn unauthorized_always_carries_a_challenge() {
        let response = ApiError::unauthorized("Bearer", "no token").error_response();
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
    }
}
