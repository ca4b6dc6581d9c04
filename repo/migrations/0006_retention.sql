-- Data retention deletes finished history in small batches, oldest first.
-- Each batch reads its own rows off these indexes, so its cost stays flat
-- however much history is stored.

-- Finished deliveries by the time they finished. The predicate is the one
-- the retention statements repeat: a pending delivery is never in it.
CREATE INDEX deliveries_retention ON deliveries (finished_at, id)
  WHERE status IN ('succeeded', 'failed', 'cancelled');

-- Events by creation time.
CREATE INDEX events_retention ON events (created_at, id);

-- Deleting a delivery clears redelivery_of on its redeliveries (ON DELETE
-- SET NULL), and retention keeps a delivery while a redelivery of it is
-- pending; without this index each deleted delivery would scan the table.
CREATE INDEX deliveries_redelivery_of ON deliveries (redelivery_of) WHERE redelivery_of IS NOT NULL;
