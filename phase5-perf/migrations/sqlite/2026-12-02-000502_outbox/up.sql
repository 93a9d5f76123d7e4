-- The jobs table is also the outbox of the RabbitMQ queue (5.3): a job that is due and has no
-- `published_at` has not been handed to the broker yet. The relay publishes it, then sets the
-- time; a retry clears it again, for its next delivery. The database queue never reads it.
ALTER TABLE jobs ADD COLUMN published_at BIGINT;
