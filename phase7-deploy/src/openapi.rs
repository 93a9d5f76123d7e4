//! The OpenAPI document: every route of phase 7. `common` adds the answers every crate shares,
//! `GET /`, `/metrics` and the health checks, and serves it at `/openapi.json` with Swagger UI at
//! `/docs/`.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::{errors, tasks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 7: deployment and operations",
        description = "A to-do list, deployed as production wants: metrics, health, error tracking, JSON logs, graceful shutdown.",
    ),
    paths(
        tasks::list_tasks,
        tasks::create_task,
        tasks::get_task,
        tasks::change_task,
        tasks::delete_task,
    ),
    tags((name = "tasks", description = "The to-do list")),
)]
struct ApiDoc;

#[derive(OpenApi)]
#[openapi(
    paths(errors::panic, errors::fail, errors::slow),
    tags((name = "faults", description = "Failures on purpose (`--fault-routes`): never in production")),
)]
struct FaultsDoc;

/// The document, before `common` completes it; with the fault routes when they are mounted.
pub fn document(fault_routes: bool) -> Document {
    let mut document = ApiDoc::openapi();
    if fault_routes {
        document.merge(FaultsDoc::openapi());
    }
    document
}
