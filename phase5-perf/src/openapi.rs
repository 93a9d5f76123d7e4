//! The OpenAPI document: every route of phase 5. `common` adds the answers every crate shares,
//! `GET /`, and serves it at `/openapi.json` with Swagger UI at `/docs/`.

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::{Modify, OpenApi};

use crate::jobs::routes;
use crate::{blocking, client_cache, proxy, server_cache};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 5: performance and scalability",
        description = "HTTP caching, a two-tier server cache, a durable job queue with workers, blocking against async, and what changes behind a reverse proxy.",
    ),
    paths(
        client_cache::catalogue,
        client_cache::get_listing,
        client_cache::put_listing,
        client_cache::patch_listing,
        client_cache::delete_listing,
        client_cache::purchases,
        client_cache::download_token,
        client_cache::asset,
        server_cache::sales_report,
        server_cache::stats,
        server_cache::record_sale,
        server_cache::get_sale,
        routes::submit,
        routes::status,
        routes::cancel,
        routes::monitor,
        blocking::stall,
        blocking::fast,
        proxy::whoami,
    ),
    modifiers(&ClosedTasks),
    tags(
        (name = "client caching", description = "Cache-Control per resource, ETag and Last-Modified, conditional reads and writes (5.1)"),
        (name = "server caching", description = "The expensive report in two tiers, invalidated by writes (5.2)"),
        (name = "background tasks", description = "Jobs: 202 Accepted, a durable queue, retries, a monitor (5.3)"),
        (name = "blocking vs async", description = "What a blocking call does to its worker, and the fixes (5.4)"),
        (name = "reverse proxy", description = "Forwarding headers believed from the proxy only, and which instance answered (5.5)"),
    )
)]
struct ApiDoc;

/// Each kind of task takes only its own fields (`deny_unknown_fields`), which utoipa does not
/// write for the variants of a tagged enum: written here, so that a client knows.
struct ClosedTasks;

impl Modify for ClosedTasks {
    fn modify(&self, doc: &mut Document) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::OneOf(task))) = components.schemas.get_mut("Task") else {
            return;
        };
        for variant in &mut task.items {
            if let RefOr::T(Schema::Object(object)) = variant {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// The document, before `common` completes it.
pub fn document() -> Document {
    ApiDoc::openapi()
}
