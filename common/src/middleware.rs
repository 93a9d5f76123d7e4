//! The middleware every phase runs: one log line a request, and problem+json for every error.
//!
//! [`access_log`] writes a line when a request ends: method, path, status and latency, inside the
//! request's tracing span (so JSON logs also carry its request id and route).
//!
//! [`problem_details`] makes every error a problem, whoever produced it.
//! Handlers return [`ApiError`], but many errors are born elsewhere: actix's own extractors (bad
//! JSON, a body over the limit, a wrong content type), its router (no route: 404, no method: 405),
//! other middleware. Their default bodies are plain text. Flask solves this with
//! `@app.errorhandler(HTTPException)`, FastAPI with `@app.exception_handler(...)`; here one
//! `from_fn` middleware sees every response on its way out and re-renders any 4xx/5xx that is not
//! already a problem. It also fills in `instance` (the request path), which an error value on its own
//! does not know, and logs the cause of every 5xx, which the client never sees.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::error::ApiError;
use crate::problem::{CONTENT_TYPE, Problem};

/// Logs one line a request, at `info` (`warn` for a 5xx, which the cause's own line explains).
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let result = next.call(req).await;
    // A middleware's refusal arrives as `Err`; it is a response all the same, so it is logged too.
    let status = match &result {
        Ok(response) => response.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let code = status.as_u16();
    if status.is_server_error() {
        tracing::warn!(%method, %path, status = code, latency_ms, "request");
    } else {
        tracing::info!(%method, %path, status = code, latency_ms, "request");
    }
    result
}

/// Renders every error response as `application/problem+json`. Mount it with
/// `App::new().wrap(actix_web::middleware::from_fn(problem_details))`; [`crate::server::serve`] does.
pub async fn problem_details(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // An error that escapes the inner services as `Err` (a middleware's refusal, such as an auth
    // check) is passed on unchanged when it is ours; actix renders it with `error_response`, headers
    // and all. Any other becomes a problem here. (The request cannot be kept to add `instance`:
    // routing needs it unshared.)
    let response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(err) if err.as_error::<ApiError>().is_some() => return Err(err),
        Err(err) => {
            let status = err.as_response_error().status_code();
            let problem = problem_for(&err, status);
            return Err(match problem.detail {
                Some(detail) => ApiError::new(status, detail),
                None => ApiError::internal(anyhow::anyhow!("{err}")),
            }
            .into());
        }
    };
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }

    let (request, mut response) = response.into_parts();
    let problem = match response.error() {
        Some(err) => {
            if status.is_server_error() {
                log_server_error(&request, err);
            }
            problem_for(err, status)
        }
        // An error response without an error value: a 404 from the router, a 405 from a resource,
        // or a body some handler wrote by hand. A problem body already written is left alone.
        None if is_problem(&response) => return Ok(ServiceResponse::new(request, response)),
        None => Problem::from_status(status),
    };
    let problem = Problem {
        instance: Some(request.path().to_owned()),
        ..problem
    };

    let status = StatusCode::from_u16(problem.status).unwrap_or(status);
    let mut rendered = HttpResponse::build(status);
    // Keep headers that give the error meaning: `Allow`, `WWW-Authenticate`, `Retry-After`, ...
    // but none that describe the old body: the new one is plain JSON, whatever the old encoding.
    for (name, value) in response.headers_mut().drain() {
        if let Some(name) = name
            && name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
            && name != header::TRANSFER_ENCODING
        {
            rendered.append_header((name, value));
        }
    }
    rendered.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)));
    Ok(ServiceResponse::new(request, rendered.json(problem)))
}

fn is_problem(response: &HttpResponse) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(CONTENT_TYPE.as_bytes()))
}

fn log_server_error(request: &actix_web::HttpRequest, err: &Error) {
    let cause = err.as_error::<ApiError>().and_then(ApiError::cause);
    match cause {
        // `{:#}` prints the whole chain of causes on one line, without a backtrace.
        Some(cause) => {
            tracing::error!(path = request.path(), error = %format_args!("{cause:#}"), "request failed");
        }
        None => tracing::error!(path = request.path(), error = %err, "request failed"),
    }
}

/// The problem for an error value. Our own errors know their problem; actix's are translated, with
/// the status corrected where actix's choice is not the precise one.
fn problem_for(err: &Error, status: StatusCode) -> Problem {
    if let Some(api_error) = err.as_error::<ApiError>() {
        return api_error.problem();
    }
    let status = corrected_status(err).unwrap_or(status);
    let mut problem = Problem::from_status(status);
    if status.is_client_error() {
        problem.detail = Some(err.to_string());
    }
    problem
}

/// actix answers a wrong `Content-Type` with 400 and a body that fails to deserialize with 400; the
/// precise codes are 415 and, when the JSON is well-formed but of the wrong shape, 422. (actix's own
/// `web::Path` answers a segment of the wrong type with 404; `common::extract::Path` says 400 and
/// names the parameter.)
fn corrected_status(err: &Error) -> Option<StatusCode> {
    if let Some(json) = err.as_error::<JsonPayloadError>() {
        return Some(match json {
            JsonPayloadError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            JsonPayloadError::Deserialize(inner) if inner.is_data() => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        });
    }
    if let Some(form) = err.as_error::<UrlencodedError>() {
        return Some(match form {
            UrlencodedError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UrlencodedError::Overflow { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        });
    }
    if let Some(PayloadError::Overflow) = err.as_error::<PayloadError>() {
        return Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    None
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};
    use serde_json::Value;

    use super::*;

    async fn call(req: test::TestRequest) -> (StatusCode, Option<String>, Value) {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(problem_details))
                .route(
                    "/json",
                    web::post().to(|_: web::Json<Value>| async { "ok" }),
                )
                .route(
                    "/number/{n}",
                    web::get().to(|_: web::Path<u32>| async { "ok" }),
                )
                .route(
                    "/teapot",
                    web::get().to(|| async { HttpResponse::ImATeapot().body("plain text") }),
                )
                .route(
                    "/fails",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(ApiError::internal(anyhow::anyhow!("secret cause")))
                    }),
                )
                .service(web::resource("/only-get").route(web::get().to(|| async { "ok" }))),
        )
        .await;
        let response = test::call_service(&app, req.to_request()).await;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = test::read_body(response).await;
        (
            status,
            content_type,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    #[actix_web::test]
    async fn actix_errors_become_problems_with_precise_statuses() {
        let cases = [
            (
                test::TestRequest::post()
                    .uri("/json")
                    .insert_header(("content-type", "text/plain")),
                415,
            ),
            (
                test::TestRequest::post()
                    .uri("/json")
                    .insert_header(("content-type", "application/json"))
                    .set_payload("{"),
                400,
            ),
            (test::TestRequest::get().uri("/number/abc"), 404),
            (test::TestRequest::get().uri("/nowhere"), 404),
            (test::TestRequest::post().uri("/only-get"), 405),
            (test::TestRequest::get().uri("/teapot"), 418),
        ];
        for (req, expected) in cases {
            let (status, content_type, body) = call(req).await;
            assert_eq!(status.as_u16(), expected, "{body}");
            assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE));
            assert_eq!(body["status"], expected);
            assert!(
                body["instance"]
                    .as_str()
                    .is_some_and(|i| i.starts_with('/')),
                "{body}"
            );
        }
    }

    #[actix_web::test]
    async fn a_compressed_error_is_rendered_uncompressed() {
        let app = test::init_service(
            App::new().wrap(from_fn(problem_details)).service(
                web::scope("/api")
                    .wrap(actix_web::middleware::Compress::default())
                    .route(
                        "/gone",
                        web::get().to(|| async {
                            Err::<HttpResponse, _>(ApiError::not_found("x".repeat(2000)))
                        }),
                    ),
            ),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/api/gone")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request();
        let response = test::call_service(&app, req).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
        assert_eq!(body["instance"], "/api/gone");
    }

    #[actix_web::test]
    async fn a_refusal_from_a_middleware_keeps_its_headers() {
        let app = test::init_service(
            App::new().wrap(from_fn(problem_details)).service(
                web::scope("/guarded")
                    .wrap(from_fn(
                        |_req: ServiceRequest, _next: Next<BoxBody>| async {
                            Err::<ServiceResponse<BoxBody>, _>(
                                ApiError::unauthorized("Bearer", "no token").into(),
                            )
                        },
                    ))
                    .route("", web::get().to(|| async { "never" })),
            ),
        )
        .await;
        let response =
            test::try_call_service(&app, test::TestRequest::get().uri("/guarded").to_request())
                .await;
        let response = match response {
            Ok(response) => response.into_parts().1,
            Err(err) => err.error_response(),
        };
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
    }

    #[actix_web::test]
    async fn a_server_error_shows_no_cause() {
        let (status, _, body) = call(test::TestRequest::get().uri("/fails")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret"), "{body}");
        assert_eq!(body["title"], "Internal Server Error");
    }
}
