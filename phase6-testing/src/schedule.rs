//! When an event happens: a wall-clock time in the venue's time zone, and the instant it names.
//!
//! A venue announces "20:00 on 28 March, Paris time", not an instant. Python turns that into one
//! with `datetime(..., tzinfo=ZoneInfo("Europe/Paris"))`, which quietly accepts 02:30 on the night
//! the clocks skip from 02:00 to 03:00, and quietly picks one of the two 02:30s on the night they
//! go back (`fold=0`). jiff makes both cases visible ([`jiff::tz::AmbiguousOffset`]): a time that
//! does not exist is refused, naming the gap, and a time that happens twice is the first of the two,
//! as most calendars read it. The zone rules are jiff's bundled copy of the IANA database, so the
//! answers do not depend on the machine's `/usr/share/zoneinfo` (a slim container has none).

use common::problem::FieldError;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, Zoned};

use crate::bugs::{self, Bug};

/// When an event starts, and until when its bookings can be refunded.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The venue's wall-clock time, as announced.
    pub local: DateTime,
    /// The instant it names, in the venue's zone.
    pub starts_at: Zoned,
    /// The start of the event's day in the venue's zone: refunds close then.
    pub refunds_until: Zoned,
}

/// Why a time zone and a wall-clock time do not make a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// Not a name in the IANA database (`Europe/Paris`, `Asia/Tokyo`, `UTC`).
    UnknownZone,
    /// Not `YYYY-MM-DDTHH:MM[:SS]`.
    NotADateTime,
    /// The clocks skip this time that day.
    Skipped { before: String, after: String },
}

impl ScheduleError {
    /// The 422's entry for this error, naming the field that must change.
    pub fn field_error(&self, time_zone: &str, starts_local: &str) -> FieldError {
        match self {
            ScheduleError::UnknownZone => FieldError::new(
                "time_zone",
                "time_zone",
                format!("must be an IANA time zone such as `Europe/Paris`, not `{time_zone}`"),
            ),
            ScheduleError::NotADateTime => FieldError::new(
                "starts_local",
                "date_time",
                format!(
                    "must be a wall-clock time such as `2027-03-28T20:00`, without an offset, not `{starts_local}`"
                ),
            ),
            ScheduleError::Skipped { before, after } => FieldError::new(
                "starts_local",
                "skipped",
                format!(
                    "does not exist in {time_zone}: the clocks go from {before} to {after} that night"
                ),
            ),
        }
    }
}

/// The schedule of an event at `starts_local` in `time_zone`.
pub fn schedule(time_zone: &str, starts_local: &str) -> Result<Schedule, ScheduleError> {
    let zone = TimeZone::get(time_zone).map_err(|_| ScheduleError::UnknownZone)?;
    let local = wall_clock(starts_local).ok_or(ScheduleError::NotADateTime)?;
    // The planted slip: the wall-clock time read in UTC, then shown in the venue's zone.
    let read_in = if bugs::planted(Bug::TimeZoneSlip) {
        TimeZone::UTC
    } else {
        zone.clone()
    };
    let ambiguous = read_in.to_ambiguous_zoned(local);
    if let AmbiguousOffset::Gap { before, after } = ambiguous.offset() {
        return Err(ScheduleError::Skipped {
            before: before.to_string(),
            after: after.to_string(),
        });
    }
    let starts_at = ambiguous
        .earlier()
        .map_err(|_| ScheduleError::NotADateTime)?
        .with_time_zone(zone);
    // Midnight does not exist everywhere every day (Santiago skips from 00:00 to 01:00 in
    // September): `start_of_day` is the first instant of the day, whatever its clock reads.
    let refunds_until = starts_at
        .start_of_day()
        .map_err(|_| ScheduleError::NotADateTime)?;
    Ok(Schedule {
        local,
        starts_at,
        refunds_until,
    })
}

/// `YYYY-MM-DDTHH:MM[:SS]` and nothing else. jiff's parser is kinder: it reads a date alone as
/// its midnight and ignores an offset (`20:00+01:00` would be 20:00 in the venue's zone, whatever
/// `+01:00` meant). Here both are mistakes a client should hear about.
fn wall_clock(text: &str) -> Option<DateTime> {
    let (_, time) = text.split_once('T')?;
    let plain = time
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b':');
    if !plain || !(5..=8).contains(&time.len()) {
        return None;
    }
    text.parse().ok()
}

/// `2027-03-28T20:00:00+02:00`: RFC 3339, with the offset the venue had at that instant.
pub fn rfc3339(zoned: &Zoned) -> String {
    zoned
        .timestamp()
        .display_with_offset(zoned.offset())
        .to_string()
}

/// The wall-clock time as stored and shown: `2027-03-28T20:00:00`.
pub fn local_text(local: DateTime) -> String {
    local.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Milliseconds since 1970, as the database keeps instants.
pub fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}
