-- An idempotency key answers its first event again only for the same
-- request: the SHA-256 of the event's type and compacted data is kept
-- beside the key, and another request under the key is refused rather than
-- answered with an event it did not send. Events stored before this have
-- no digest, and their keys replay whatever is sent, as they did.
-- Nullable without a default, the column is added without rewriting the table.
ALTER TABLE events ADD COLUMN request_digest bytea;
