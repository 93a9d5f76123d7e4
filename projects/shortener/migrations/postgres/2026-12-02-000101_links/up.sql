-- Links, and what is known of their visits. Times are Unix seconds (BIGINT), the same on SQLite
-- and PostgreSQL. `users` is phase 4's.

-- API keys: a credential for a program, made by a user and acting as them. Only a hash of the
-- secret is kept; `public_id` is the part of the key that finds the row.
CREATE TABLE api_keys (
    id SERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- SHA-256 of the secret, in hex.
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys (owner_id, id);

CREATE TABLE links (
    id SERIAL PRIMARY KEY,
    -- A random code or an alias; case matters (`abc` and `ABC` are two links).
    code TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_status INTEGER NOT NULL CHECK (redirect_status IN (301, 302, 307, 308)),
    -- After this, 410 Gone; NULL: never.
    valid_until BIGINT,
    -- After this many visits, 410 Gone; NULL: no limit. `visits_taken` counts them only then.
    max_visits INTEGER CHECK (max_visits > 0),
    visits_taken INTEGER NOT NULL DEFAULT 0,
    -- The `public_id` of the API key that made the link; NULL when a user's token did. Kept
    -- when the key is revoked, to say where the link came from.
    api_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX links_owner ON links (owner_id, id);

-- Visits counted, not stored one by one: one row per link, hour, referring host, browser family
-- and bot or not. No address, no full user agent, no full referrer.
CREATE TABLE visit_counts (
    link_id INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    -- The hour's first second (UTC).
    hour BIGINT NOT NULL,
    -- The referrer's host; '' when there was none.
    referrer TEXT NOT NULL,
    agent TEXT NOT NULL,
    bot BOOLEAN NOT NULL,
    visits BIGINT NOT NULL,
    PRIMARY KEY (link_id, hour, referrer, agent, bot)
);

-- Unique visitors: a hash of the day's salt, the address and the user agent, once per link and
-- day. The salt is forgotten after two days, and with it any way back to the address.
CREATE TABLE visitors (
    link_id INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    -- Days since 1970 (UTC).
    day BIGINT NOT NULL,
    visitor TEXT NOT NULL,
    PRIMARY KEY (link_id, day, visitor)
);

CREATE TABLE visitor_salts (
    day BIGINT PRIMARY KEY NOT NULL,
    salt TEXT NOT NULL
);
