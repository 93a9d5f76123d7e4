//! The tables, as diesel sees them (what `diesel print-schema` writes).

diesel::table! {
    tasks (id) {
        id -> Integer,
        title -> Text,
        done -> Bool,
    }
}
