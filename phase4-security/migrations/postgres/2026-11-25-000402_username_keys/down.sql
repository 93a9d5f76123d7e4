DROP INDEX users_unique_username_key;
ALTER TABLE users DROP COLUMN username_key;
