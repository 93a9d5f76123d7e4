-- A data migration: reviewers move out of the reviews into a table of their own.
-- Schema and data change together, in one transaction, so no review loses its reviewer.

-- 1. The new table, filled with every distinct name the reviews use.
CREATE TABLE reviewers (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO reviewers (name) SELECT DISTINCT reviewer FROM reviews ORDER BY reviewer;

-- 2. SQLite cannot add a NOT NULL foreign key to a table with rows, so the table is rebuilt the
--    SQLite way: create the new shape, copy the rows across (joining in the reviewer's id), drop
--    the old table, rename the new one.
CREATE TABLE reviews_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT NOT NULL DEFAULT '',
    reviewer_id INTEGER NOT NULL REFERENCES reviewers (id)
);
INSERT INTO reviews_new (id, book_id, rating, body, reviewer_id)
    SELECT reviews.id, reviews.book_id, reviews.rating, reviews.body, reviewers.id
    FROM reviews JOIN reviewers ON reviewers.name = reviews.reviewer;
DROP TABLE reviews;
ALTER TABLE reviews_new RENAME TO reviews;
CREATE INDEX reviews_book_id ON reviews (book_id);
CREATE INDEX reviews_reviewer_id ON reviews (reviewer_id);
