-- The customer dashboard. Portal links (single use) and sessions are stored
-- as SHA-256 digests of their tokens, so reading the table grants nothing, and
-- in PostgreSQL, so any api replica serves them and signing out revokes one.
CREATE TABLE dashboard_links (
  token_hash   bytea PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_links_expiry ON dashboard_links (expires_at);

CREATE TABLE dashboard_sessions (
  token_hash   bytea PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- A delivery's event type never changes; keeping it on the row lets the
-- history be filtered by type while walking its index, with no join.
ALTER TABLE deliveries ADD COLUMN event_type text;
UPDATE deliveries d SET event_type = e.type FROM events e WHERE e.id = d.event_id;
ALTER TABLE deliveries ALTER COLUMN event_type SET NOT NULL;

-- The headers each attempt sent, signatures included, so the delivery page
-- shows the exact request even after the secret was rotated.
ALTER TABLE delivery_attempts ADD COLUMN request_headers jsonb NOT NULL DEFAULT '{}';
