-- A data migration: reviewers move out of the reviews into a table of their own.
-- Schema and data change together, in one transaction, so no review loses its reviewer.

-- 1. The new table, filled with every distinct name the reviews use.
CREATE TABLE reviewers (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO reviewers (name) SELECT DISTINCT reviewer FROM reviews ORDER BY reviewer;

-- 2. Each review points at its reviewer; once all do, the column may not be empty.
ALTER TABLE reviews ADD COLUMN reviewer_id INTEGER REFERENCES reviewers (id);
UPDATE reviews SET reviewer_id = reviewers.id FROM reviewers WHERE reviewers.name = reviews.reviewer;
ALTER TABLE reviews ALTER COLUMN reviewer_id SET NOT NULL;

-- 3. The old column goes.
ALTER TABLE reviews DROP COLUMN reviewer;
CREATE INDEX reviews_reviewer_id ON reviews (reviewer_id);
