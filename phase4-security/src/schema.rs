//! Phase 4's tables, as diesel sees them (`migrations/` creates them). Orders name a book of the
//! library every phase shares; no query joins them, so they can be declared here, in the phase.

diesel::table! {
    users (id) {
        id -> Integer,
        username -> Text,
        /// The name as it is compared (`users::key`), unique.
        username_key -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family -> Text,
        user_id -> Integer,
        scope -> Text,
        expires_at -> BigInt,
        used -> Bool,
        revoked -> Bool,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        user_id -> Integer,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Text,
        expires_at -> BigInt,
        used -> Bool,
    }
}

diesel::table! {
    orders (id) {
        id -> Integer,
        user_id -> Integer,
        book_id -> Integer,
        quantity -> Integer,
        status -> Text,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, refresh_tokens, authorization_codes, orders);
