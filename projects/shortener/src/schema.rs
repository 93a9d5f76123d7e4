//! The shortener's tables, as diesel sees them (`migrations/` makes them; `users` is phase 4's).

diesel::table! {
    api_keys (id) {
        id -> Integer,
        public_id -> Text,
        owner_id -> Integer,
        name -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    links (id) {
        id -> Integer,
        code -> Text,
        destination -> Text,
        owner_id -> Integer,
        redirect_status -> Integer,
        valid_until -> Nullable<BigInt>,
        max_visits -> Nullable<Integer>,
        visits_taken -> Integer,
        api_key -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    visit_counts (link_id, hour, referrer, agent, bot) {
        link_id -> Integer,
        hour -> BigInt,
        referrer -> Text,
        agent -> Text,
        bot -> Bool,
        visits -> BigInt,
    }
}

diesel::table! {
    visitors (link_id, day, visitor) {
        link_id -> Integer,
        day -> BigInt,
        visitor -> Text,
    }
}

diesel::table! {
    visitor_salts (day) {
        day -> BigInt,
        salt -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(links, visit_counts, visitors);
