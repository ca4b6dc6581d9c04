-- Response headers of each attempt, bounded by the sender (50 headers, 8 KiB).
ALTER TABLE delivery_attempts ADD COLUMN response_headers jsonb NOT NULL DEFAULT '{}';
