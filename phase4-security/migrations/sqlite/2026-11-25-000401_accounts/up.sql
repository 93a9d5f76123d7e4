-- Accounts, the tokens issued to them, the OpenID Connect provider's codes, and orders.
-- Times are Unix seconds (BIGINT), the same on SQLite and PostgreSQL.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- Local accounts: letters, digits, `_`, `-`. Accounts from another provider: `provider:subject`
    -- (a local name cannot contain `:`, so the two never meet).
    username TEXT NOT NULL UNIQUE,
    -- An argon2id PHC string; NULL for accounts that sign in through another provider.
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at BIGINT NOT NULL
);

-- One row per refresh token issued (the token itself is a signed JWT; its `jti` is the id).
-- Tokens rotated from one login share a family; reusing a used token revokes the family.
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Authorization codes of the OpenID Connect provider: single use, short-lived, bound to a client,
-- a redirect URI and a PKCE challenge. The code itself is stored as its SHA-256.
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    book_id INTEGER NOT NULL REFERENCES books (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    status TEXT NOT NULL CHECK (status IN ('placed', 'paid', 'shipped', 'cancelled')),
    created_at BIGINT NOT NULL
);
CREATE INDEX orders_user_id ON orders (user_id);
