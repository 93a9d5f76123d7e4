ALTER TABLE jobs DROP COLUMN published_at;
