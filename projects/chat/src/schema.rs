//! The chat's tables, as diesel sees them (`migrations/` makes them; `users` is phase 4's).

diesel::table! {
    rooms (name) {
        name -> Text,
        last_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    messages (room, id) {
        room -> Text,
        id -> BigInt,
        user_id -> Integer,
        username -> Text,
        client_id -> Text,
        body -> Text,
        sent_at -> BigInt,
    }
}

diesel::joinable!(messages -> rooms (room));
diesel::allow_tables_to_appear_in_same_query!(rooms, messages);
