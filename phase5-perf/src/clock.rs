//! Time as the tables keep it: milliseconds since 1970 in a `BIGINT`, the same on SQLite and
//! PostgreSQL, and never a time zone to get wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since 1970.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A time in milliseconds since 1970 as a `SystemTime`, for HTTP dates.
pub fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A `SystemTime` as whole seconds since 1970: HTTP dates have no finer resolution, so
/// `If-Modified-Since` is compared at this one.
pub fn whole_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
