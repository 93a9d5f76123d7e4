-- The box office: events with a capacity, and the bookings that take their seats.
-- Times are milliseconds since 1970 (UTC); an event also keeps the wall-clock time and the zone it
-- was given in, since that is what the venue announced. Money is in minor units (cents; yen).
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title TEXT NOT NULL UNIQUE,
    time_zone TEXT NOT NULL,
    starts_local TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    seats_taken INTEGER NOT NULL DEFAULT 0 CHECK (seats_taken >= 0),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    seats INTEGER NOT NULL,
    total_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    payment_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX bookings_event ON bookings (event_id);
