//! Topic 3.5: the reviewers migration moves data both ways without losing a reviewer, on every
//! backend.

use common::db::schema::{reviewers, reviews};
use common::db::testing::TestDatabase;
use common::db::{AnyConnection, Database};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use phase3_db::migrations::SCHEMA;

#[derive(Debug, QueryableByName, PartialEq, Eq)]
struct OldReview {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    book_id: i32,
    #[diesel(sql_type = Text)]
    reviewer: String,
    #[diesel(sql_type = Integer)]
    rating: i32,
    #[diesel(sql_type = Text)]
    body: String,
}

/// The reviews as the old schema holds them: a name in each review.
fn old_reviews(conn: &mut AnyConnection) -> Vec<OldReview> {
    diesel::sql_query("SELECT id, book_id, reviewer, rating, body FROM reviews ORDER BY id")
        .load(conn)
        .expect("the old shape")
}

/// Rows written by raw SQL, as the code of the old schema would have written them.
fn fill_old_schema(database: &Database) {
    let mut conn = database.conn().expect("a connection");
    diesel::sql_query("INSERT INTO authors (name) VALUES ('A')")
        .execute(&mut conn)
        .expect("author");
    diesel::sql_query("INSERT INTO books (author_id, title, year) VALUES (1, 'B', 2000)")
        .execute(&mut conn)
        .expect("book");
    for (name, rating, body) in [
        ("Ged", 5, "true names"),
        ("Tenar", 4, ""),
        ("Ged", 3, "again"),
    ] {
        diesel::sql_query(
            "INSERT INTO reviews (book_id, reviewer, rating, body) VALUES (1, $1, $2, $3)",
        )
        .bind::<Text, _>(name)
        .bind::<Integer, _>(rating)
        .bind::<Text, _>(body)
        .execute(&mut conn)
        .expect("review");
    }
}

#[test]
fn reviewers_move_to_their_own_table_and_back() {
    for test_db in TestDatabase::all_with(&SCHEMA) {
        let database = &test_db.database;
        let backend = database.backend;
        // Back to the schema before the data migration, filled as the old code would have.
        assert_eq!(
            database.revert_last().unwrap(),
            "2026-11-26-000002_reviewers_table"
        );
        fill_old_schema(database);
        let mut conn = database.conn().unwrap();
        let before = old_reviews(&mut conn);
        assert_eq!(before.len(), 3);

        // Up: a reviewer a name, every review pointing at its reviewer.
        assert_eq!(
            database.migrate().unwrap(),
            ["2026-11-26-000002_reviewers_table"]
        );
        let names: Vec<String> = reviewers::table
            .select(reviewers::name)
            .order(reviewers::name)
            .load(&mut conn)
            .unwrap();
        assert_eq!(names, ["Ged", "Tenar"], "{backend:?}");
        let joined: Vec<(i32, String)> = reviews::table
            .inner_join(reviewers::table)
            .select((reviews::id, reviewers::name))
            .order(reviews::id)
            .load(&mut conn)
            .unwrap();
        let expected: Vec<(i32, String)> =
            before.iter().map(|r| (r.id, r.reviewer.clone())).collect();
        assert_eq!(joined, expected, "{backend:?}");

        // Down: the names are back in the reviews, exactly as they were, and the column is as it
        // was: required, with no default.
        database.revert_last().unwrap();
        assert_eq!(old_reviews(&mut conn), before, "{backend:?}");
        let nameless = diesel::sql_query("INSERT INTO reviews (book_id, rating) VALUES (1, 3)")
            .execute(&mut conn);
        assert!(
            nameless.is_err(),
            "{backend:?}: a review without a reviewer was accepted"
        );
    }
}
