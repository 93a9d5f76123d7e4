//! Bookings: seats taken in a transaction, paid through the provider, cancelled and refunded
//! until the start of the event's day.
//!
//! The seats are taken by one conditional `UPDATE ... WHERE seats_taken + seats <= capacity`, so
//! that two buyers of the last seat cannot both get it, on SQLite or PostgreSQL, without a lock
//! held across the request. The charge happens after that transaction commits: a transaction
//! never waits on another company's server. If the charge fails, the seats are given back.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use common::ApiError;
use common::db::{AnyConnection, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::bugs::{self, Bug};
use crate::events::{self, BoxOffice, no_event};
use crate::money::{self, Currency, Money, Quote};
use crate::payments::{ChargeRequest, PaymentError};
use crate::schema::{bookings, events as events_table};

/// The most seats one booking takes.
pub const SEATS_MAX: u32 = 10;

/// 1 to [`SEATS_MAX`] seats.
pub fn check_seats(seats: u32) -> Result<(), ValidationError> {
    let max = if bugs::planted(Bug::DroppedValidation) {
        u32::MAX
    } else {
        SEATS_MAX
    };
    if (1..=max).contains(&seats) {
        Ok(())
    } else {
        Err(ValidationError::new("range")
            .with_message(format!("must be from 1 to {SEATS_MAX}").into()))
    }
}

/// A booking to make.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBooking {
    #[validate(email(message = "must be an email address"))]
    #[schema(format = Email, example = "ada@example.com")]
    pub email: String,
    #[validate(custom(function = "check_seats"))]
    #[schema(minimum = 1, maximum = 10)]
    pub seats: u32,
}

/// Where a booking is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Seats taken, the charge under way.
    Pending,
    /// Paid.
    Confirmed,
    /// The charge failed; the seats went back.
    Failed,
    /// Cancelled and refunded; the seats went back.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "confirmed" => Status::Confirmed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => Status::Pending,
        }
    }
}

/// A booking, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    pub id: i32,
    pub event_id: i32,
    pub email: String,
    pub seats: u32,
    /// What was charged: the seats and a 7.5 % fee, rounded half up to a minor unit.
    pub total: Money,
    pub status: Status,
    /// The provider's id for the charge.
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bookings)]
struct BookingRow {
    id: i32,
    event_id: i32,
    email: String,
    seats: i32,
    total_minor: i64,
    currency: String,
    status: String,
    payment_id: Option<String>,
}

impl BookingRow {
    fn view(&self) -> Booking {
        Booking {
            id: self.id,
            event_id: self.event_id,
            email: self.email.clone(),
            seats: u32::try_from(self.seats).unwrap_or(0),
            total: Money::new(
                self.total_minor,
                Currency::from_code(&self.currency).unwrap_or(Currency::Eur),
            ),
            status: Status::parse(&self.status),
            payment_id: self.payment_id.clone(),
        }
    }
}

fn find(conn: &mut AnyConnection, id: i32) -> QueryResult<Option<BookingRow>> {
    bookings::table
        .find(id)
        .select(BookingRow::as_select())
        .first(conn)
        .optional()
}

fn no_booking(id: i32) -> ApiError {
    ApiError::not_found(format!("no booking has the id {id}"))
}

/// Gives `seats` seats of `event_id` back and sets the booking's `status`.
fn release(
    conn: &mut AnyConnection,
    booking: i32,
    event_id: i32,
    seats: i32,
    status: Status,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        diesel::update(events_table::table.find(event_id))
            .set(events_table::seats_taken.eq(events_table::seats_taken - seats))
            .execute(conn)?;
        diesel::update(bookings::table.find(booking))
            .set(bookings::status.eq(status.as_str()))
            .execute(conn)?;
        Ok(())
    })
}

/// What a failed payment means to the client.
fn payment_problem(err: PaymentError) -> ApiError {
    match err {
        PaymentError::Declined(reason) => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            format!("the payment was declined ({reason}): nothing was booked"),
        ),
        PaymentError::Unavailable { attempts, last } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the payment provider is unavailable ({last}, after {attempts} tries): nothing was \
                 charged or booked; try again later"
            ),
        )
        .with_header((header::RETRY_AFTER, "30")),
        PaymentError::Malformed(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "the payment provider's answer could not be read: nothing was booked",
        ),
    }
}

#[utoipa::path(
    tag = "bookings",
    params(("id" = i32, Path, description = "The event")),
    request_body = NewBooking,
    responses(
        (status = 201, description = "Booked and paid: the booking, and how its total was made", body = BookingQuote,
            headers(("Location" = String, description = "`/bookings/{id}`"))),
        (status = 402, description = "The payment was declined; nothing was booked", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No event has this id", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "Not enough seats are left (the problem says how many are)", content_type = "application/problem+json", body = common::Problem),
        (status = 502, description = "The payment provider's answer could not be read; nothing was booked", content_type = "application/problem+json", body = common::Problem),
        (status = 503, description = "The payment provider is unavailable; nothing was charged", content_type = "application/problem+json", body = common::Problem,
            headers(("Retry-After" = String, description = "Seconds"))),
    )
)]
#[post("/events/{id}/bookings")]
pub(crate) async fn book(
    office: web::Data<BoxOffice>,
    Path(event_id): Path<i32>,
    ValidJson(new): ValidJson<NewBooking>,
) -> Result<HttpResponse, ApiError> {
    let seats = i32::try_from(new.seats).unwrap_or(i32::MAX);
    let database = office.database.clone();
    let now = office.clock.now().as_millisecond();
    let (booking, quote) = blocking(move || {
        let mut conn = database.conn()?;
        write_transaction(&mut conn, |conn| {
            let event = events::find(conn, event_id)?.ok_or_else(|| no_event(event_id))?;
            let quote = money::quote(event.price()?, new.seats);
            // One statement checks and takes, so two buyers of the last seat cannot both get it.
            let event_row = events_table::table.find(event_id);
            let take = events_table::seats_taken.eq(events_table::seats_taken + seats);
            let taken = if bugs::planted(Bug::Overbooking) {
                // The planted bug: "is any seat left?" instead of "are `seats` seats left?".
                diesel::update(
                    event_row.filter(events_table::seats_taken.lt(events_table::capacity)),
                )
                .set(take)
                .execute(conn)?
            } else {
                diesel::update(
                    event_row.filter(events_table::seats_taken.le(events_table::capacity - seats)),
                )
                .set(take)
                .execute(conn)?
            };
            if taken == 0 {
                let left = event.capacity - event.seats_taken;
                return Err(ApiError::conflict(format!(
                    "{} left, {seats} asked for",
                    match left {
                        0 => "the event is sold out: no seat is".to_owned(),
                        1 => "1 seat is".to_owned(),
                        n => format!("{n} seats are"),
                    }
                ))
                .with_member("seats_left", left.max(0)));
            }
            let values = (
                bookings::event_id.eq(event_id),
                bookings::email.eq(&new.email),
                bookings::seats.eq(seats),
                bookings::total_minor.eq(quote.total.amount_minor),
                bookings::currency.eq(quote.total.currency.code()),
                bookings::status.eq(Status::Pending.as_str()),
                bookings::created_at.eq(now),
            );
            let id: i32 = common::with_backend!(&mut *conn, |c| {
                diesel::insert_into(bookings::table)
                    .values(values)
                    .returning(bookings::id)
                    .get_result(c)
            })?;
            Ok::<_, ApiError>((id, quote))
        })
    })
    .await?;
    let charged = office
        .payments
        .charge(&ChargeRequest {
            amount: quote.total,
            reference: format!("booking-{booking}"),
            idempotency_key: format!("booking-{booking}"),
        })
        .await;
    let database = office.database.clone();
    let row = blocking(move || {
        let mut conn = database.conn()?;
        match charged {
            Ok(charge) => {
                diesel::update(bookings::table.find(booking))
                    .set((
                        bookings::status.eq(Status::Confirmed.as_str()),
                        bookings::payment_id.eq(&charge.id),
                    ))
                    .execute(&mut conn)?;
                find(&mut conn, booking)?.ok_or_else(|| no_booking(booking))
            }
            Err(err) => {
                release(&mut conn, booking, event_id, seats, Status::Failed)?;
                Err(payment_problem(err))
            }
        }
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/bookings/{booking}")))
        .json(BookingQuote {
            booking: row.view(),
            quote,
        }))
}

/// A new booking, with how its total was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingQuote {
    #[serde(flatten)]
    pub booking: Booking,
    pub quote: Quote,
}

#[utoipa::path(
    tag = "bookings",
    params(("id" = i32, Path, description = "The booking")),
    responses(
        (status = 200, description = "The booking", body = Booking),
        (status = 404, description = "No booking has this id", content_type = "application/problem+json", body = common::Problem),
    )
)]
#[get("/bookings/{id}")]
pub(crate) async fn get_booking(
    office: web::Data<BoxOffice>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let row = blocking(move || Ok::<_, ApiError>(find(&mut *office.database.conn()?, id)?)).await?;
    let row = row.ok_or_else(|| no_booking(id))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(row.view()))
}

#[utoipa::path(
    tag = "bookings",
    params(("id" = i32, Path, description = "The booking")),
    responses(
        (status = 200, description = "Cancelled and refunded; the seats are free again", body = Booking),
        (status = 404, description = "No booking has this id", content_type = "application/problem+json", body = common::Problem),
        (status = 409, description = "Not confirmed, or refunds have closed (at the start of the event's day, venue time)", content_type = "application/problem+json", body = common::Problem),
        (status = 503, description = "The payment provider is unavailable; nothing changed", content_type = "application/problem+json", body = common::Problem,
            headers(("Retry-After" = String, description = "Seconds"))),
    )
)]
#[post("/bookings/{id}/cancel")]
pub(crate) async fn cancel(
    office: web::Data<BoxOffice>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let database = office.database.clone();
    let (row, event) = blocking(move || {
        let mut conn = database.conn()?;
        let row = find(&mut conn, id)?.ok_or_else(|| no_booking(id))?;
        let event = events::find(&mut conn, row.event_id)?.ok_or_else(|| no_event(row.event_id))?;
        Ok::<_, ApiError>((row, event))
    })
    .await?;
    let booking = row.view();
    if booking.status != Status::Confirmed {
        return Err(ApiError::conflict(format!(
            "the booking is {}: only a confirmed booking can be cancelled",
            booking.status.as_str()
        )));
    }
    let refunds_until = event.schedule()?.refunds_until;
    if office.clock.now() >= refunds_until.timestamp() {
        return Err(ApiError::conflict(format!(
            "refunds for this event closed at {}",
            crate::schedule::rfc3339(&refunds_until)
        )));
    }
    let charge = booking.payment_id.clone().unwrap_or_default();
    office
        .payments
        .refund(&charge, booking.total)
        .await
        .map_err(payment_problem)?;
    let database = office.database.clone();
    let seats = if bugs::planted(Bug::SeatsNotReleased) {
        0
    } else {
        row.seats
    };
    let row = blocking(move || {
        let mut conn = database.conn()?;
        release(&mut conn, id, row.event_id, seats, Status::Cancelled)?;
        find(&mut conn, id)?.ok_or_else(|| no_booking(id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(row.view()))
}
