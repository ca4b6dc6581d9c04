-- Failure notices. notice_stage is how far a webhook's trouble has gone as
-- its owners were told ('', failing, at_risk, disabled); it is written with
-- the health, under the same row lock, so each notice is decided once.
ALTER TABLE webhooks
  ADD COLUMN notice_stage text NOT NULL DEFAULT '',
  -- Where and which notices go by mail.
  ADD COLUMN notify_emails text[] NOT NULL DEFAULT '{}',
  ADD COLUMN notify_on text[] NOT NULL DEFAULT '{webhook.failing,webhook.at_risk,webhook.disabled,webhook.recovered}';

-- The operator's own endpoints for operational webhooks live in one
-- workspace no customer reaches; its webhooks never produce notices, so a
-- notice can never be about a notice.
ALTER TABLE workspaces ADD COLUMN operational boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX workspaces_operational ON workspaces (operational) WHERE operational;

-- Every notice decided, with the figures it was decided on. It is the
-- outbox of the operational event and the mail: dispatched_at is set once
-- both are handed on, and the sweep dispatches what a crash left.
CREATE TABLE webhook_notices (
  id            uuid PRIMARY KEY DEFAULT uuid_v7(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  webhook_id    uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  kind          text NOT NULL,
  figures       jsonb NOT NULL,
  created_at    timestamptz NOT NULL,
  dispatched_at timestamptz
);
CREATE INDEX webhook_notices_webhook ON webhook_notices (webhook_id, created_at DESC);
CREATE INDEX webhook_notices_undispatched ON webhook_notices (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_notices_created ON webhook_notices (created_at);

-- A notification address of a workspace, with the token of its
-- unsubscribe link. Unsubscribing deletes the row (the link works once)
-- and takes the address off every webhook of the workspace.
CREATE TABLE notify_addresses (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  address      text NOT NULL,
  token        text NOT NULL UNIQUE,
  PRIMARY KEY (workspace_id, address)
);

-- One mail of a notice to one address: retried with backoff until sent.
-- A workspace's due mails to one address go out together, as a digest
-- when there are several.
CREATE TABLE notice_mails (
  notice_id       uuid NOT NULL REFERENCES webhook_notices (id) ON DELETE CASCADE,
  address         text NOT NULL,
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
  attempts        int NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL,
  sent_at         timestamptz,
  PRIMARY KEY (notice_id, address)
);
CREATE INDEX notice_mails_due ON notice_mails (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notice_mails_workspace ON notice_mails (workspace_id, address) WHERE status = 'pending';
