//! The tables, as diesel sees them. Written by hand to match `migrations/`; `diesel print-schema`
//! would generate the same.

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

diesel::joinable!(books -> authors (author_id));
diesel::joinable!(book_tags -> books (book_id));
diesel::joinable!(book_tags -> tags (tag_id));

diesel::allow_tables_to_appear_in_same_query!(authors, books, tags, book_tags);
