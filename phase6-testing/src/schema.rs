//! The box office's tables, as diesel sees them (`migrations/` makes them).

diesel::table! {
    events (id) {
        id -> Integer,
        title -> Text,
        time_zone -> Text,
        starts_local -> Text,
        starts_at -> BigInt,
        capacity -> Integer,
        seats_taken -> Integer,
        price_minor -> BigInt,
        currency -> Text,
        version -> Integer,
    }
}

diesel::table! {
    bookings (id) {
        id -> Integer,
        event_id -> Integer,
        email -> Text,
        seats -> Integer,
        total_minor -> BigInt,
        currency -> Text,
        status -> Text,
        payment_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(bookings -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(events, bookings);
