//! The demo events an empty database starts with, so that a learner has something to book.

use common::db::{Database, write_transaction};
use diesel::prelude::*;

use crate::money::Currency;
use crate::schedule;
use crate::schema::events;

/// The demo events: title, zone, wall-clock start, capacity, price, currency, seats taken.
const DEMO: &[(&str, &str, &str, i32, i64, Currency, i32)] = &[
    (
        "Jazz at the Philharmonie",
        "Europe/Berlin",
        "2027-03-28T20:00",
        120,
        3500,
        Currency::Eur,
        0,
    ),
    (
        "Tokyo Tech Talks",
        "Asia/Tokyo",
        "2027-05-12T19:00",
        60,
        2000,
        Currency::Jpy,
        0,
    ),
    (
        "Sold-out Symphony",
        "America/New_York",
        "2027-11-07T01:30",
        2,
        9900,
        Currency::Usd,
        2,
    ),
];

/// Adds [`DEMO`] to an empty database; does nothing to one that has events.
pub fn demo(database: &Database) -> anyhow::Result<()> {
    let mut conn = database.conn()?;
    write_transaction(&mut conn, |conn| {
        let existing: i64 = events::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(());
        }
        for &(title, zone, local, capacity, price, currency, taken) in DEMO {
            let schedule = schedule::schedule(zone, local)
                .map_err(|err| anyhow::anyhow!("demo event {title}: {err:?}"))?;
            diesel::insert_into(events::table)
                .values((
                    events::title.eq(title),
                    events::time_zone.eq(zone),
                    events::starts_local.eq(schedule::local_text(schedule.local)),
                    events::starts_at.eq(schedule::millis(schedule.starts_at.timestamp())),
                    events::capacity.eq(capacity),
                    events::seats_taken.eq(taken),
                    events::price_minor.eq(price),
                    events::currency.eq(currency.code()),
                    events::version.eq(1),
                ))
                .execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })
}
