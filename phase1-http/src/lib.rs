//! Phase 1 of the roadmap: HTTP and the language. One module per topic; each opens with what the
//! roadmap asks, the Python idiom, the Rust idiom here, and why. [`MANIFEST`] lists them; the tour,
//! `GET /` and the README's table are made from it or checked against it.
//!
//! [`build`] turns a [`Config`] into a running [`Application`]; the binary, the tests and the
//! grader all start the phase through it (or through [`serve`], with a state of their own).

use std::io;
use std::net::TcpListener;

use actix_web::web;
use common::extract::BodyLimit;
use common::manifest::{Manifest, Topic};
use common::server::Application;
use serialization::ClosedVariants;
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

pub mod bodies;
pub mod decorators;
pub mod headers;
pub mod methods;
pub mod raw_http;
pub mod serialization;
pub mod status_codes;
pub mod store;
pub mod typed_params;
pub mod validation;

/// The port `cargo run -p phase1-http` listens on.
pub const DEFAULT_PORT: u16 = 8001;
/// The port `cargo run -p phase1-http -- raw` listens on.
pub const RAW_DEFAULT_PORT: u16 = 8010;

/// What phase 1 teaches, where, and what to try.
pub const MANIFEST: Manifest = Manifest {
    package: "phase1-http",
    title: "Phase 1: HTTP and the language",
    port: DEFAULT_PORT,
    topics: &[
        Topic {
            id: "1.1",
            title: "methods, safety, idempotency",
            modules: &["methods.rs"],
            routes: &[
                "GET /books",
                "GET /books/{id}",
                "PUT /books/{id}",
                "PATCH /books/{id}",
                "DELETE /books/{id}",
                "OPTIONS /books/{id}",
            ],
        },
        Topic {
            id: "1.2",
            title: "status codes",
            modules: &["status_codes.rs"],
            routes: &[
                "POST /status/redirect/{code}",
                "GET /status/cached",
                "GET /status/admin",
                "GET /status/limited",
                "GET /status/crash",
            ],
        },
        Topic {
            id: "1.3",
            title: "headers and negotiation",
            modules: &["headers.rs"],
            routes: &["GET /books (Accept)", "GET /headers/echo"],
        },
        Topic {
            id: "1.4",
            title: "JSON, form and multipart bodies",
            modules: &["bodies.rs"],
            routes: &["POST /books", "GET /books/{id}/cover"],
        },
        Topic {
            id: "1.5",
            title: "the protocol by hand",
            modules: &["raw_http.rs"],
            routes: &["-- raw", "-- inspect URL"],
        },
        Topic {
            id: "1.6",
            title: "types at the edge",
            modules: &["typed_params.rs"],
            routes: &["GET /books/abc", "GET /books?limit=ten"],
        },
        Topic {
            id: "1.7",
            title: "serialization",
            modules: &["serialization.rs"],
            routes: &["GET /books/{id}"],
        },
        Topic {
            id: "1.8",
            title: "validation",
            modules: &["validation.rs"],
            routes: &["POST /books with bad fields"],
        },
        Topic {
            id: "1.9",
            title: "decorators and middleware",
            modules: &["decorators.rs"],
            routes: &["GET /hello/{name}", "GET /hello-explicit/{name}"],
        },
    ],
    try_it: &[
        r#"curl -i {base}/books -H 'Content-Type: application/json' -d '{"title":"Dune","author":"Frank Herbert","year":1965}'"#,
        "curl -i {base}/books -d title=Emma -d author=Austen -d year=1815 -d tags=classic -d tags=romance",
        "curl -i {base}/books -F title=Ulysses -F author=Joyce -F year=1922 -F cover=@phase1-http/assets/cover.png",
        "curl -i {base}/books -H 'Accept: text/csv'",
        r#"curl -i -X PUT {base}/books/42 -H 'Content-Type: application/json' -d '{"title":"H","author":"A","year":2000}'"#,
        r#"curl -i {base}/books -H 'Content-Type: application/json' -d '{"title":"","author":"A","year":99}'"#,
        "curl -i -L -d x=1 {base}/status/redirect/302    # then 307: the POST survives",
        "curl -i {base}/status/admin -H 'Authorization: Bearer user-token'",
        "curl -i {base}/headers/echo",
    ],
};

/// What phase 1 runs with. It keeps everything in memory and its limits are part of what it
/// teaches (they are stated in its OpenAPI document), so there is nothing to configure yet; the
/// type is here so that phase 1 starts like every other phase.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Config {}

/// What phase 1's routes share across workers: the library and the rate limiter.
#[derive(Debug, Clone)]
pub struct AppState {
    pub library: web::Data<store::Library>,
    pub limiter: web::Data<status_codes::FixedWindow>,
}

impl AppState {
    /// An empty library and a fresh limiter.
    pub fn new(_config: &Config) -> Self {
        Self {
            library: web::Data::new(store::Library::default()),
            limiter: status_codes::limiter(),
        }
    }
}

/// Phase 1, running on `listener`, from its configuration.
pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Application> {
    Ok(serve(AppState::new(&config), listener)?)
}

/// Phase 1's app on `listener`, around `state`.
pub fn serve(state: AppState, listener: TcpListener) -> io::Result<Application> {
    Application::new(listener, &MANIFEST, openapi(), Vec::new(), move |cfg| {
        configure(cfg, state.clone());
    })
}

/// Every route of phase 1, around one shared state.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    cfg.app_data(state.library)
        .app_data(state.limiter)
        .app_data(BodyLimit(bodies::BODY_LIMIT))
        .app_data(bodies::multipart_config())
        .configure(methods::routes)
        .configure(status_codes::routes)
        .configure(headers::routes)
        .configure(decorators::routes);
}

/// The OpenAPI document of phase 1's routes (the hand-written server of 1.5 has none).
/// `common::server` adds what every crate shares: the index, and the errors its extractors answer.
pub fn openapi() -> Document {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 1: HTTP and the language",
        description = "A small library of books, kept in memory, showing methods, status codes, \
            headers, bodies, typed parameters, serialization, validation and middleware. \
            Every error is an `application/problem+json` document (RFC 9457).",
    ),
    paths(
        methods::list_books,
        methods::get_book,
        methods::put_book,
        methods::patch_book,
        methods::delete_book,
        bodies::create_from_json,
        bodies::get_cover,
        status_codes::redirect,
        status_codes::which_method,
        status_codes::cached,
        status_codes::admin_only,
        status_codes::limited,
        status_codes::crash,
        headers::echo,
        decorators::hello,
        decorators::hello_explicit,
    ),
    modifiers(&Bearer, &ClosedVariants),
    tags(
        (name = "1.1 methods", description = "One resource, every method: safety and idempotency"),
        (name = "1.2 status codes", description = "Each code returned on purpose"),
        (name = "1.3 headers", description = "Negotiation, credentials, caching"),
        (name = "1.4 bodies", description = "JSON, forms and multipart on one route"),
        (name = "1.9 decorators", description = "An attribute macro and an explicit route"),
    )
)]
struct ApiDoc;

/// The bearer scheme `/status/admin` names (its tokens are stand-ins: `admin-token`, `user-token`).
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut Document) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", common::openapi::bearer_scheme());
    }
}

#[cfg(test)]
mod tests {
    use common::methods::MethodTable;

    use super::*;

    /// 1.1 answers OPTIONS and 405 by hand; `common`'s middleware answers them from the document.
    /// Both must say the same, or a client would see two APIs.
    #[test]
    fn the_hand_written_allow_headers_agree_with_the_document() {
        let document = common::openapi::complete(openapi(), &MANIFEST);
        let table = MethodTable::from_openapi(&document);
        for (path, allow) in [
            ("/books", methods::COLLECTION_ALLOW),
            ("/books/7", methods::ITEM_ALLOW),
            ("/books/7/cover", methods::READ_ALLOW),
            ("/status/redirect/307", status_codes::REDIRECT_ALLOW),
            ("/status/method", status_codes::ANY_ALLOW),
            ("/status/cached", methods::READ_ALLOW),
            ("/status/admin", methods::READ_ALLOW),
            ("/status/limited", methods::READ_ALLOW),
            ("/status/crash", methods::READ_ALLOW),
            ("/headers/echo", status_codes::ANY_ALLOW),
            ("/hello/Ada", methods::READ_ALLOW),
            ("/hello-explicit/Ada", methods::READ_ALLOW),
        ] {
            assert_eq!(table.allow(path).as_deref(), Some(allow), "{path}");
        }
    }

    #[test]
    fn every_operation_id_is_unique() {
        let document = common::openapi::complete(openapi(), &MANIFEST);
        let document = serde_json::to_value(&document).expect("the document serializes");
        let mut ids: Vec<String> = document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(|item| item.as_object())
            .flat_map(|item| item.values())
            .filter_map(|operation| operation["operationId"].as_str().map(str::to_owned))
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
        assert!(ids.contains(&"echo_post".to_owned()), "{ids:?}");
    }

    #[test]
    fn every_topic_names_modules_that_exist() {
        for topic in MANIFEST.topics {
            for module in topic.modules {
                let path = format!("{}/src/{module}", env!("CARGO_MANIFEST_DIR"));
                assert!(
                    std::path::Path::new(&path).is_file(),
                    "{}: {path}",
                    topic.id
                );
            }
        }
        assert_eq!(MANIFEST.topic_ids().len(), 9);
    }
}
