//! The OpenAPI document: every route of phase 6. `common` adds the answers every crate shares,
//! `GET /`, and serves it at `/openapi.json` with Swagger UI at `/docs/`.

use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::{bookings, events};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Phase 6: testing",
        description = "A box office worth testing: events in a venue's time zone, bookings that take seats and are paid through an external provider, refunds until the event's day.",
    ),
    paths(
        events::list_events,
        events::create_event,
        events::get_event,
        events::change_event,
        events::delete_event,
        bookings::book,
        bookings::get_booking,
        bookings::cancel,
    ),
    tags(
        (name = "events", description = "Events: pages, time zones, If-Match"),
        (name = "bookings", description = "Bookings: seats, payment, refunds"),
    )
)]
struct ApiDoc;

/// The document, before `common` completes it.
pub fn document() -> Document {
    ApiDoc::openapi()
}
