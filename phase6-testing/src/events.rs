//! Events: the box office's catalogue, created, listed a page at a time, changed under `If-Match`
//! and deleted. The service under test; the tests in `tests/api/` are the chapters.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use common::ApiError;
use common::conditional::Precondition;
use common::db::{AnyConnection, Database, blocking, write_transaction};
use common::extract::{Path, Query, ValidJson};
use common::problem::FieldError;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::bugs::{self, Bug};
use crate::clock::Clock;
use crate::money::{Currency, Money};
use crate::payments::PaymentGateway;
use crate::schedule::{self, Schedule};
use crate::schema::{bookings, events};

/// What the routes share: the database, the clock and the payment provider.
#[derive(Clone)]
pub struct BoxOffice {
    pub database: Database,
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentGateway>,
}

impl std::fmt::Debug for BoxOffice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxOffice")
            .field("database", &self.database)
            .field("clock", &self.clock)
            .field("payments", &self.payments.describe())
            .finish()
    }
}

/// The longest title, in characters (not bytes: `Café` is 4).
pub const TITLE_MAX: usize = 100;

/// A title is 1 to [`TITLE_MAX`] characters, and not only spaces.
pub fn check_title(title: &str) -> Result<(), ValidationError> {
    let length = if bugs::planted(Bug::BytesNotCharacters) {
        title.len()
    } else {
        title.chars().count()
    };
    if title.trim().is_empty() {
        return Err(ValidationError::new("length").with_message("must not be empty".into()));
    }
    if length > TITLE_MAX {
        return Err(ValidationError::new("length")
            .with_message(format!("must be at most {TITLE_MAX} characters").into()));
    }
    Ok(())
}

/// A new event.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Unique; 1 to 100 characters.
    #[validate(custom(function = "check_title"))]
    #[schema(min_length = 1, max_length = 100, example = "Jazz at the Philharmonie")]
    pub title: String,
    /// The venue's IANA time zone.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// The venue's wall-clock time, without an offset: a time the clocks skip is refused.
    #[schema(example = "2027-03-28T20:00")]
    pub starts_local: String,
    #[validate(range(min = 1, max = 100_000))]
    #[schema(minimum = 1, maximum = 100_000)]
    pub capacity: u32,
    /// The price of a seat, in minor units of `currency` (cents; yen).
    #[validate(range(min = 0, max = 100_000_000))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub price_minor: i64,
    pub currency: Currency,
}

/// A change to an event: the fields to change, and only those.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChange {
    #[validate(custom(function = "check_title"))]
    #[schema(min_length = 1, max_length = 100)]
    pub title: Option<String>,
    /// At least the seats already booked.
    #[validate(range(min = 1, max = 100_000))]
    #[schema(minimum = 1, maximum = 100_000)]
    pub capacity: Option<u32>,
    #[validate(range(min = 0, max = 100_000_000))]
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub price_minor: Option<i64>,
}

/// An event, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: i32,
    pub title: String,
    pub time_zone: String,
    /// The venue's wall-clock time, as announced.
    #[schema(example = "2027-03-28T20:00:00")]
    pub starts_local: String,
    /// The instant, in RFC 3339 with the venue's offset at that instant.
    #[schema(format = DateTime, example = "2027-03-28T20:00:00+02:00")]
    pub starts_at: String,
    /// Bookings can be cancelled and refunded until the start of the event's day, venue time.
    #[schema(format = DateTime, example = "2027-03-28T00:00:00+01:00")]
    pub refunds_until: String,
    pub capacity: u32,
    pub seats_left: u32,
    pub price: Money,
    /// Increases with every change; the `ETag` is `"v{version}"`.
    pub version: i32,
}

/// An event's row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i32,
    pub title: String,
    pub time_zone: String,
    pub starts_local: String,
    pub starts_at: i64,
    pub capacity: i32,
    pub seats_taken: i32,
    pub price_minor: i64,
    pub currency: String,
    pub version: i32,
}

impl EventRow {
    pub fn price(&self) -> Result<Money, ApiError> {
        let currency = Currency::from_code(&self.currency).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("unknown currency {}", self.currency))
        })?;
        Ok(Money::new(self.price_minor, currency))
    }

    pub fn schedule(&self) -> Result<Schedule, ApiError> {
        schedule::schedule(&self.time_zone, &self.starts_local).map_err(|err| {
            ApiError::internal(anyhow::anyhow!("stored event {} has {err:?}", self.id))
        })
    }

    pub fn etag(&self) -> EntityTag {
        EntityTag::new_strong(format!("v{}", self.version))
    }

    pub fn view(&self) -> Result<Event, ApiError> {
        let schedule = self.schedule()?;
        Ok(Event {
            id: self.id,
            title: self.title.clone(),
            time_zone: self.time_zone.clone(),
            starts_local: self.starts_local.clone(),
            starts_at: schedule::rfc3339(&schedule.starts_at),
            refunds_until: schedule::rfc3339(&schedule.refunds_until),
            capacity: count(self.capacity),
            seats_left: count(self.capacity - self.seats_taken),
            price: self.price()?,
            version: self.version,
        })
    }
}

/// A count from the database, where the schema keeps it 0 or more.
fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// The event `id`, if there is one.
pub fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<EventRow>> {
    events::table
        .find(id)
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// The 404 for an event that does not exist.
pub fn no_event(id: i32) -> ApiError {
    ApiError::not_found(format!("no event has the id {id}"))
}

/// A taken title is the client's 409; any other database error is ours.
fn title_conflict(title: &str) -> impl FnOnce(DieselError) -> ApiError + '_ {
    move |err| match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            if bugs::planted(Bug::LeakyErrors) {
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, info.message());
            }
            ApiError::conflict(format!("an event called `{title}` already exists"))
        }
        other => ApiError::internal(other),
    }
}

/// The response for one event: its JSON, its `ETag` and where it lives.
fn event_response(
    mut response: actix_web::HttpResponseBuilder,
    row: &EventRow,
) -> Result<HttpResponse, ApiError> {
    Ok(response
        .insert_header(header::ETag(row.etag()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(row.view()?))
}

#[utoipa::path(
    tag = "events",
    request_body = NewEvent,
    responses(
        (status = 201, description = "Created", body = Event,
            headers(("Location" = String, description = "`/events/{id}`"), ("ETag" = String, description = "`\"v1\"`"))),
        (status = 409, description = "An event has this title already", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[post("/events")]
pub(crate) async fn create_event(
    office: web::Data<BoxOffice>,
    ValidJson(new): ValidJson<NewEvent>,
) -> Result<HttpResponse, ApiError> {
    let schedule = schedule::schedule(&new.time_zone, &new.starts_local).map_err(|err| {
        ApiError::unprocessable(vec![err.field_error(&new.time_zone, &new.starts_local)])
    })?;
    let row = blocking(move || {
        let mut conn = office.database.conn()?;
        let values = (
            events::title.eq(&new.title),
            events::time_zone.eq(&new.time_zone),
            events::starts_local.eq(schedule::local_text(schedule.local)),
            events::starts_at.eq(schedule::millis(schedule.starts_at.timestamp())),
            events::capacity.eq(i32::try_from(new.capacity).unwrap_or(i32::MAX)),
            events::seats_taken.eq(0),
            events::price_minor.eq(new.price_minor),
            events::currency.eq(new.currency.code()),
            events::version.eq(1),
        );
        let id: i32 = common::with_backend!(&mut *conn, |c| {
            diesel::insert_into(events::table)
                .values(values.clone())
                .returning(events::id)
                .get_result(c)
        })
        .map_err(title_conflict(&new.title))?;
        find(&mut conn, id)?.ok_or_else(|| no_event(id))
    })
    .await?;
    let mut created = HttpResponse::Created();
    created.insert_header((header::LOCATION, format!("/events/{}", row.id)));
    event_response(created, &row)
}

/// Which page of the listing.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1.
    #[serde(default = "first_page")]
    #[param(minimum = 1, maximum = 100_000, default = 1)]
    pub page: u32,
    /// 1 to 100.
    #[serde(default = "twenty")]
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: u32,
}

// Defaults rather than `Option`s: an empty `?page=` is then a 400, not the first page.
fn first_page() -> u32 {
    1
}

fn twenty() -> u32 {
    20
}

/// One page of events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    pub page: u32,
    pub per_page: u32,
    /// Events in all.
    pub total: u64,
    /// Pages in all: `ceil(total / per_page)`.
    pub pages: u64,
}

#[utoipa::path(
    tag = "events",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of events, oldest first", body = EventPage),
        (status = 422, description = "`page` or `per_page` out of range", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[get("/events")]
pub(crate) async fn list_events(
    office: web::Data<BoxOffice>,
    Query(query): Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let PageQuery { page, per_page } = query;
    let mut errors = Vec::new();
    if !(1..=100_000).contains(&page) {
        errors.push(FieldError::new("page", "range", "must be from 1 to 100000"));
    }
    if !(1..=100).contains(&per_page) {
        errors.push(FieldError::new(
            "per_page",
            "range",
            "must be from 1 to 100",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::unprocessable(errors));
    }
    let (rows, total) = blocking(move || {
        let mut conn = office.database.conn()?;
        let skipped = if bugs::planted(Bug::PageOffByOne) {
            page
        } else {
            page - 1
        };
        let rows: Vec<EventRow> = events::table
            .order(events::id)
            .offset(i64::from(skipped) * i64::from(per_page))
            .limit(i64::from(per_page))
            .select(EventRow::as_select())
            .load(&mut conn)?;
        let total: i64 = events::table.count().get_result(&mut conn)?;
        Ok::<_, ApiError>((rows, total))
    })
    .await?;
    let items = rows.iter().map(EventRow::view).collect::<Result<_, _>>()?;
    let total = u64::try_from(total).unwrap_or(0);
    Ok(HttpResponse::Ok().json(EventPage {
        items,
        page,
        per_page,
        total,
        pages: total.div_ceil(u64::from(per_page)),
    }))
}

#[utoipa::path(
    tag = "events",
    params(("id" = i32, Path, description = "The event")),
    responses(
        (status = 200, description = "The event", body = Event, headers(("ETag" = String, description = "`\"v{version}\"`: send it in `If-Match` to change the event"))),
        (status = 404, description = "No event has this id", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[get("/events/{id}")]
pub(crate) async fn get_event(
    office: web::Data<BoxOffice>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let row = blocking(move || Ok::<_, ApiError>(find(&mut *office.database.conn()?, id)?)).await?;
    match row {
        Some(row) => event_response(HttpResponse::Ok(), &row),
        None if bugs::planted(Bug::Missing404) => Ok(HttpResponse::Ok().json(())),
        None => Err(no_event(id)),
    }
}

#[utoipa::path(
    tag = "events",
    params(
        ("id" = i32, Path, description = "The event"),
        ("If-Match" = String, Header, description = "The `ETag` you read"),
    ),
    request_body = EventChange,
    responses(
        (status = 200, description = "Changed", body = Event, headers(("ETag" = String, description = "The new version's tag"))),
        (status = 404, description = "No event has this id", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The title is taken, or the capacity is below the seats booked", content_type = "application/problem+json", body = common::Problem),
        (status = 412, description = "`If-Match` names an older version: someone changed the event since you read it", content_type = "application/problem+json", body = common::Problem),
        (status = 428, description = "No `If-Match`: a change must say which version it read", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[patch("/events/{id}")]
pub(crate) async fn change_event(
    req: HttpRequest,
    office: web::Data<BoxOffice>,
    Path(id): Path<i32>,
    ValidJson(change): ValidJson<EventChange>,
) -> Result<HttpResponse, ApiError> {
    let precondition = Precondition::of(&req);
    let row = blocking(move || {
        let mut conn = office.database.conn()?;
        write_transaction(&mut conn, |conn| {
            let seen = find(conn, id)?.ok_or_else(|| no_event(id))?;
            let lost_update = bugs::planted(Bug::LostUpdate);
            if lost_update {
                // The planted bug: it still asks for If-Match, and never reads which version.
                if precondition == Precondition::Missing {
                    precondition.require(&seen.etag())?;
                }
            } else {
                precondition.require(&seen.etag())?;
            }
            let capacity = change
                .capacity
                .map_or(seen.capacity, |c| i32::try_from(c).unwrap_or(i32::MAX));
            if capacity < seen.seats_taken {
                return Err(ApiError::conflict(format!(
                    "{} seats are booked already: the capacity cannot be less",
                    seen.seats_taken
                )));
            }
            let title = change.title.clone().unwrap_or_else(|| seen.title.clone());
            // The version in the WHERE makes the check and the write one step: a writer that
            // slipped in between changes nothing here, and is told so.
            let changes = (
                events::title.eq(&title),
                events::capacity.eq(capacity),
                events::price_minor.eq(change.price_minor.unwrap_or(seen.price_minor)),
                events::version.eq(seen.version + 1),
            );
            let this = events::table.filter(events::id.eq(id));
            let changed = if lost_update {
                diesel::update(this).set(changes).execute(conn)
            } else {
                diesel::update(this.filter(events::version.eq(seen.version)))
                    .set(changes)
                    .execute(conn)
            }
            .map_err(title_conflict(&title))?;
            if changed == 0 {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "the event changed while this change was being made: GET it again and retry",
                ));
            }
            find(conn, id)?.ok_or_else(|| no_event(id))
        })
    })
    .await?;
    event_response(HttpResponse::Ok(), &row)
}

#[utoipa::path(
    tag = "events",
    params(("id" = i32, Path, description = "The event")),
    responses(
        (status = 204, description = "Deleted, with its cancelled and failed bookings"),
        (status = 404, description = "No event has this id", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "The event has confirmed bookings: cancel them first", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[delete("/events/{id}")]
pub(crate) async fn delete_event(
    office: web::Data<BoxOffice>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    blocking(move || {
        let mut conn = office.database.conn()?;
        write_transaction(&mut conn, |conn| {
            find(conn, id)?.ok_or_else(|| no_event(id))?;
            let confirmed: i64 = bookings::table
                .filter(bookings::event_id.eq(id))
                .filter(bookings::status.eq(crate::bookings::Status::Confirmed.as_str()))
                .count()
                .get_result(conn)?;
            if confirmed > 0 {
                return Err(ApiError::conflict(format!(
                    "the event has {confirmed} confirmed bookings: cancel them first"
                )));
            }
            diesel::delete(events::table.find(id)).execute(conn)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
