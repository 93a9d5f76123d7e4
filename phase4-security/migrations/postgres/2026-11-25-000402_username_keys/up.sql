-- Usernames are compared in one form (NFKC, then lower case: `users::key` in the code), so that
-- `Grace`, `grace` and `ｇｒａｃｅ` are one account; the unique index moves to that form.
ALTER TABLE users ADD COLUMN username_key TEXT NOT NULL DEFAULT '';

-- Local names so far are ASCII (letters, digits, `_`, `-`), whose key is their lower case; an
-- account of another provider (`provider:subject`) is compared exactly.
UPDATE users SET username_key = CASE WHEN username LIKE '%:%' THEN username ELSE lower(username) END;

-- Names that already differ only in case cannot all keep them: the oldest account keeps its name,
-- each younger one becomes `name#id` (a name it can log in with, and that no one can register).
UPDATE users
SET username = username || '#' || id, username_key = username_key || '#' || id
WHERE username NOT LIKE '%:%'
  AND EXISTS (SELECT 1 FROM users AS older WHERE older.username_key = users.username_key AND older.id < users.id);

-- Every insert sets the key: no default to fall back on.
ALTER TABLE users ALTER COLUMN username_key DROP DEFAULT;
CREATE UNIQUE INDEX users_unique_username_key ON users (username_key);
