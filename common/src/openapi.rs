//! What every crate's OpenAPI document shares: the errors the shared layer answers with, the
//! index at `/`, the bearer scheme, and Swagger UI at `/docs/`.
//!
//! A document is a contract only if it lists every answer a route can give. Many answers do not
//! come from the handler at all: a body that is not JSON is a 400, too large a 413, of the wrong
//! type a 415, of the wrong shape a 422, all from `common::extract`; a missing or bad token a 401
//! from the crate's auth extractor. [`complete`] adds those to every operation whose shape makes
//! them possible, as problem documents, so that each handler documents only what it decides.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, OpenApi, Ref, RefOr, ResponsesBuilder};
use utoipa_swagger_ui::SwaggerUi;

use crate::manifest::Manifest;
use crate::problem::CONTENT_TYPE;

/// `Authorization: Bearer <JWT>`, as a security scheme Swagger UI can fill in.
pub fn bearer_scheme() -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build(),
    )
}

/// A document modifier that adds [`bearer_scheme`] as `bearer`, the name the routes' `security`
/// gives it: `#[openapi(modifiers(&common::openapi::Bearer))]`.
#[derive(Debug, Clone, Copy)]
pub struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", bearer_scheme());
    }
}

/// `doc` at `/openapi.json`, Swagger UI at `/docs/` (compiled in by utoipa-swagger-ui's `vendored`
/// feature: nothing is downloaded) and `/docs` redirecting there.
pub fn swagger_ui(cfg: &mut web::ServiceConfig, doc: OpenApi) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        );
}

/// A problem document (`application/problem+json`) as a response with `description`.
pub fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(CONTENT_TYPE, problem_content())
        .build()
}

fn problem_content() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

/// `doc` with the shared layer's answers on every operation, and `GET /` (the crate's index);
/// [`crate::server::serve`] applies it to every crate's document.
pub fn complete(mut doc: OpenApi, manifest: &Manifest) -> OpenApi {
    add_index(&mut doc, manifest);
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .entry("Problem".to_owned())
        .or_insert_with(<crate::Problem as utoipa::PartialSchema>::schema);
    components
        .schemas
        .entry("FieldError".to_owned())
        .or_insert_with(<crate::FieldError as utoipa::PartialSchema>::schema);
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            add_shared_errors(operation);
            headers_are_never_null(operation);
        }
    }
    unique_operation_ids(&mut doc);
    doc
}

/// OpenAPI wants every operation id unique, but `#[utoipa::path(method(get, post), ...)]` gives
/// each of its operations the function's name: the method is appended where a name repeats
/// (`echo_get`, `echo_post`, ...).
fn unique_operation_ids(doc: &mut OpenApi) {
    let mut uses: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in doc.paths.paths.values_mut() {
        for (_, operation) in named_operations(item) {
            if let Some(id) = &operation.operation_id {
                *uses.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for (method, operation) in named_operations(item) {
            if let Some(id) = operation.operation_id.as_mut()
                && uses.get(id.as_str()).is_some_and(|count| *count > 1)
            {
                id.push('_');
                id.push_str(method);
            }
        }
    }
}

fn named_operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
}

/// An optional request header is absent or a string, never `null`: utoipa writes an
/// `Option<String>` header as "string or null", and a fuzzer then sends the text `null`.
fn headers_are_never_null(operation: &mut Operation) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.parameter_in != ParameterIn::Header {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
            && let SchemaType::Array(types) = &schema.schema_type
        {
            let types: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            if let [only] = types.as_slice() {
                schema.schema_type = SchemaType::Type(only.clone());
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    named_operations(item).map(|(_, operation)| operation)
}

/// What `common::extract` and the auth extractors answer, added where the operation's shape makes
/// it possible; every error response becomes a problem document, whatever the handler declared.
fn add_shared_errors(operation: &mut Operation) {
    let parameters = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(parameter) => Some(parameter.parameter_in.clone()),
            RefOr::Ref(_) => None,
        });
    let (mut path, mut query) = (false, false);
    for place in parameters {
        path |= place == ParameterIn::Path;
        query |= place == ParameterIn::Query;
    }
    let body = operation.request_body.is_some();
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem_response(description)));
    };
    if path || query || body {
        add(
            "400",
            "A parameter or the body is malformed, or a parameter is unknown",
        );
    }
    if path {
        add("404", "Nothing has this id");
    }
    if body {
        add("413", "The body is larger than this route accepts");
        add("415", "The body is not of a media type this route accepts");
        add(
            "422",
            "The body is well-formed but breaks this route's rules",
        );
    }
    if secured {
        add(
            "401",
            "No usable credentials: see the WWW-Authenticate header",
        );
        add("403", "The credentials do not allow this");
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            response.content.clear();
            response
                .content
                .insert(CONTENT_TYPE.to_owned(), RefOr::T(problem_content()));
        }
    }
}

/// `GET /`: the index, as HTML or JSON.
fn add_index(doc: &mut OpenApi, manifest: &Manifest) {
    let html = ContentBuilder::new()
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String),
        ))
        .build();
    let json = ContentBuilder::new()
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Object),
        ))
        .build();
    let operation = OperationBuilder::new()
        .summary(Some(format!("The index of {}", manifest.title)))
        .description(Some(
            "Its topics with links to their routes, as HTML, or as JSON for `Accept: application/json`.",
        ))
        .operation_id(Some("index"))
        .tag("index")
        .responses(
            ResponsesBuilder::new().response(
                "200",
                ResponseBuilder::new()
                    .description("The index")
                    .content("text/html", html)
                    .content("application/json", json)
                    .build(),
            ),
        )
        .build();
    doc.paths
        .paths
        .entry("/".to_owned())
        .or_insert_with(|| PathItem::new(HttpMethod::Get, operation));
}
