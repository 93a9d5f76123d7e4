-- The reverse: names go back into the reviews, then the table goes.
DROP INDEX reviews_reviewer_id;
ALTER TABLE reviews ADD COLUMN reviewer TEXT;
UPDATE reviews SET reviewer = reviewers.name FROM reviewers WHERE reviewers.id = reviews.reviewer_id;
ALTER TABLE reviews ALTER COLUMN reviewer SET NOT NULL;
ALTER TABLE reviews DROP COLUMN reviewer_id;
DROP TABLE reviewers;
