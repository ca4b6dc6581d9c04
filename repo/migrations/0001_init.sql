-- Trackelio Webhooks initial schema. Postgres is the source of truth for every
-- delivery; Redis only holds work in flight.

-- uuid_v7 gives time-ordered ids so inserts land at the right edge of the
-- primary-key index instead of at random pages.
CREATE FUNCTION uuid_v7() RETURNS uuid AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid;
$$ LANGUAGE sql VOLATILE;

CREATE TABLE workspaces (
  id         uuid PRIMARY KEY DEFAULT uuid_v7(),
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Keys are high-entropy random strings, so a SHA-256 digest is enough to store
-- them safely and to look them up by equality.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT uuid_v7(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key_hash     bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhooks (
  id                   uuid PRIMARY KEY DEFAULT uuid_v7(),
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  url                  text NOT NULL,
  events               text[] NOT NULL,
  active               boolean NOT NULL DEFAULT true,
  description          text NOT NULL DEFAULT '',
  secret               text NOT NULL,
  failure_count        bigint NOT NULL DEFAULT 0,
  consecutive_failures integer NOT NULL DEFAULT 0,
  disabled_reason      text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  -- Deleted webhooks stay as tombstones so their delivery history and pending
  -- deliveries (which end cancelled) keep a parent.
  deleted_at           timestamptz
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE events (
  id              uuid PRIMARY KEY,
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  type            text NOT NULL,
  -- The exact bytes every attempt sends and every signature covers.
  body            bytea NOT NULL,
  idempotency_key text,
  created_at      timestamptz NOT NULL,
  UNIQUE (workspace_id, idempotency_key)
);

CREATE TABLE deliveries (
  id              uuid PRIMARY KEY DEFAULT uuid_v7(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  event_id        uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  -- Set for a run created by redeliver; the original stays as it ended.
  redelivery_of   uuid REFERENCES deliveries (id) ON DELETE SET NULL,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
  attempts        integer NOT NULL DEFAULT 0,
  status_code     integer,
  last_error      text,
  last_attempt_at timestamptz,
  -- When the next attempt is due; NULL once the delivery is finished. The
  -- outbox sweep looks only at pending rows overdue by a grace period.
  next_attempt_at timestamptz,
  finished_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_webhook_history ON deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_outbox ON deliveries (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
  delivery_id        uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt            integer NOT NULL,
  status_code        integer,
  response_body      bytea NOT NULL DEFAULT '',
  response_truncated boolean NOT NULL DEFAULT false,
  error              text,
  duration_ms        integer NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  -- One row per attempt number: a second worker that ran the same attempt
  -- after a lost lease cannot record it twice.
  PRIMARY KEY (delivery_id, attempt)
);
