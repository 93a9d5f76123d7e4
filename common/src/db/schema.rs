//! The tables, as diesel sees them. Written by hand to match `migrations/` after every migration
//! has run; `diesel print-schema` would generate the same. `reviews` and `reviewers` come from the
//! `REVIEWS` migrations, which only phase 3 runs; diesel needs every table that may be joined with
//! another declared in the same crate, so they are declared here.

diesel::table! {
    authors (id) {
        id -> Integer,
        name -> Text,
        bio -> Nullable<Text>,
    }
}

diesel::table! {
    books (id) {
        id -> Integer,
        author_id -> Integer,
        title -> Text,
        year -> Integer,
    }
}

diesel::table! {
    tags (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    book_tags (book_id, tag_id) {
        book_id -> Integer,
        tag_id -> Integer,
    }
}

diesel::table! {
    reviews (id) {
        id -> Integer,
        book_id -> Integer,
        rating -> Integer,
        body -> Text,
        reviewer_id -> Integer,
    }
}

diesel::table! {
    reviewers (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::joinable!(books -> authors (author_id));
diesel::joinable!(reviews -> books (book_id));
diesel::joinable!(reviews -> reviewers (reviewer_id));
diesel::joinable!(book_tags -> books (book_id));
diesel::joinable!(book_tags -> tags (tag_id));

diesel::allow_tables_to_appear_in_same_query!(authors, books, tags, book_tags, reviews, reviewers);
