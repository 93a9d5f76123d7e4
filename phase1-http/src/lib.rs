//! Phase 1 of the roadmap: HTTP and the language. One module per topic; each opens with what the
//! roadmap asks, the Python idiom, the Rust idiom here, and why.
//!
//! | ID | topic | module |
//! |---|---|---|
//! | 1.1 | methods, safety, idempotency | [`methods`] |
//! | 1.2 | status codes | [`status_codes`] |
//! | 1.3 | headers | [`headers`] |
//! | 1.4 | bodies | [`bodies`] |
//! | 1.5 | the protocol by hand | [`raw_http`] |
//! | 1.6 | types at the edge | [`typed_params`] |
//! | 1.7 | serialization | [`serialization`] |
//! | 1.8 | validation | [`validation`] |
//! | 1.9 | decorators | [`decorators`] |
//!
//! [`serve`] starts the phase on any listener; the binary, the tests and the grader all use it.

use std::io;
use std::net::TcpListener;

use actix_multipart::form::MultipartFormConfig;
use actix_web::dev::Server;
use actix_web::web;

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

/// What phase 1's routes share across workers: the library and the rate limiter.
#[derive(Debug, Clone)]
pub struct State {
    pub library: web::Data<store::Library>,
    pub limiter: web::Data<status_codes::FixedWindow>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            library: web::Data::new(store::Library::default()),
            limiter: status_codes::limiter(),
        }
    }
}

/// Every route of phase 1, around one shared state.
pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(state.library)
        .app_data(state.limiter)
        .app_data(web::PayloadConfig::new(bodies::BODY_LIMIT))
        .app_data(
            MultipartFormConfig::default()
                .total_limit(bodies::MULTIPART_LIMIT)
                .memory_limit(bodies::MULTIPART_LIMIT)
                .error_handler(bodies::multipart_error),
        )
        .configure(methods::routes)
        .configure(status_codes::routes)
        .configure(headers::routes)
        .configure(decorators::routes);
}

/// Phase 1's app on `listener`, with an empty library.
pub fn serve(listener: TcpListener) -> io::Result<Server> {
    let state = State::default();
    common::server::serve(listener, move |cfg| configure(cfg, state.clone()))
}
