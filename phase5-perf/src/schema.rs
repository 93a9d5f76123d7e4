//! Phase 5's tables, as diesel sees them (`migrations/` makes them). The library's own tables
//! (authors, books, tags) are `common`'s.

diesel::table! {
    listings (book_id) {
        book_id -> Integer,
        price_cents -> Integer,
        stock -> Integer,
        version -> Integer,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sales (id) {
        id -> Integer,
        book_id -> Integer,
        customer -> Text,
        quantity -> Integer,
        price_cents -> Integer,
        sold_at -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> Integer,
        kind -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> BigInt,
        lease_until -> Nullable<BigInt>,
        worker -> Nullable<Text>,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        published_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sent_emails (job_id) {
        job_id -> Integer,
        recipient -> Text,
        subject -> Text,
        sent_at -> BigInt,
    }
}

// diesel's join declarations need a table of this crate on each side of a pair; `listings` and
// `sales` refer to `common`'s `books`, and the code reads the books in a query of their own.
diesel::allow_tables_to_appear_in_same_query!(listings, sales, jobs, sent_emails);
