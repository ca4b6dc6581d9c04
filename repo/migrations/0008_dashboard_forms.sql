-- The dashboard's forms answer with a redirect (post/redirect/get), so a
-- reload never repeats a change. What the next page must show once, such
-- as a new webhook's secret, is a flash: single use, short lived, and
-- bound to the session that made the change. It names what to show; the
-- secret itself stays in its webhook's row.
CREATE TABLE dashboard_flashes (
  token_hash   bytea PRIMARY KEY,
  session_hash bytea NOT NULL REFERENCES dashboard_sessions (token_hash) ON DELETE CASCADE,
  webhook_id   uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  kind         text NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX dashboard_flashes_expiry ON dashboard_flashes (expires_at);

-- Re-enabling a webhook after a failure streak offers to recover what
-- failed in it; the offer stays on the webhook's page until it is used or
-- dismissed.
ALTER TABLE webhooks ADD COLUMN recovery_since timestamptz, ADD COLUMN recovery_until timestamptz;

-- How many of a response's headers did not fit the stored bounds.
ALTER TABLE delivery_attempts ADD COLUMN response_headers_dropped int NOT NULL DEFAULT 0;
