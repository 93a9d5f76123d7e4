-- The catalogue's offers (5.1): one per book, with a version that every write increments (the
-- ETag) and the time of that write in milliseconds since 1970 (Last-Modified).
CREATE TABLE listings (
    book_id INTEGER PRIMARY KEY NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What the expensive report (5.2) reads: many rows, no index to help it.
CREATE TABLE sales (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    customer TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    sold_at BIGINT NOT NULL
);
CREATE INDEX sales_customer ON sales (customer);

-- The durable job queue (5.3). Times are milliseconds since 1970.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    worker TEXT,
    result TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);

-- The emails the `email` job has sent: one per job, whatever the number of attempts.
CREATE TABLE sent_emails (
    job_id INTEGER PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
