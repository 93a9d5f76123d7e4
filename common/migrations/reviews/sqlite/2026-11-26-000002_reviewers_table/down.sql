-- The reverse: names go back into the reviews (the same rebuild), then the table goes.
CREATE TABLE reviews_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    reviewer TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT NOT NULL DEFAULT ''
);
INSERT INTO reviews_old (id, book_id, reviewer, rating, body)
    SELECT reviews.id, reviews.book_id, reviewers.name, reviews.rating, reviews.body
    FROM reviews JOIN reviewers ON reviewers.id = reviews.reviewer_id;
DROP TABLE reviews;
ALTER TABLE reviews_old RENAME TO reviews;
CREATE INDEX reviews_book_id ON reviews (book_id);
DROP TABLE reviewers;
