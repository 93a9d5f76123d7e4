-- Rooms and their messages. Times are Unix milliseconds (BIGINT), the same on SQLite and
-- PostgreSQL. `users` is phase 4's.

-- A room exists from its first message. `last_id` is the id its newest message took: the writer
-- takes the next ids from it inside its transaction, so ids increase in the order they commit,
-- whichever instance writes (the row is locked until then).
CREATE TABLE rooms (
    name TEXT PRIMARY KEY NOT NULL,
    last_id BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    room TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    -- 1, 2, 3, ... within the room: the cursor of history and of resuming.
    id BIGINT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Kept with the message: history is read without a join, and shows who wrote it then.
    username TEXT NOT NULL,
    -- The sender's own id for the message: a resend after a reconnect finds the first one.
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (room, id),
    UNIQUE (room, user_id, client_id)
);
