-- Endpoint health, auto-disable and secret rotation.
ALTER TABLE webhooks
  ADD COLUMN last_success_at timestamptz,
  ADD COLUMN last_failure_at timestamptz,
  -- First failure after the last success: the streak's age decides auto-disable.
  ADD COLUMN failing_since timestamptz,
  ADD COLUMN disabled_at timestamptz,
  -- During a rotation's grace period deliveries carry a signature with the
  -- previous secret too (webhook-signature only).
  ADD COLUMN previous_secret text,
  ADD COLUMN previous_secret_expires_at timestamptz;

-- Recover looks up ended deliveries of one webhook by creation time.
CREATE INDEX deliveries_webhook_ended ON deliveries (webhook_id, created_at) WHERE status IN ('failed', 'cancelled');
