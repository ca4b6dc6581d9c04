package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/trackelio/webhooks/catalog"
)

// Webhook is a customer endpoint subscribed to some event types.
type Webhook struct {
	ID                  string         `db:"id"`
	WorkspaceID         string         `db:"workspace_id"`
	URL                 string         `db:"url"`
	Events              pq.StringArray `db:"events"`
	Active              bool           `db:"active"`
	Description         string         `db:"description"`
	Secret              string         `db:"secret"`
	FailureCount        int64          `db:"failure_count"`
	ConsecutiveFailures int            `db:"consecutive_failures"`
	DisabledReason      sql.NullString `db:"disabled_reason"`
	DisabledAt          sql.NullTime   `db:"disabled_at"`
	LastSuccessAt       sql.NullTime   `db:"last_success_at"`
	LastFailureAt       sql.NullTime   `db:"last_failure_at"`
	FailingSince        sql.NullTime   `db:"failing_since"`
	CreatedAt           time.Time      `db:"created_at"`
	UpdatedAt           time.Time      `db:"updated_at"`
}

const webhookColumns = `id, workspace_id, url, events, active, description, secret,
	failure_count, consecutive_failures, disabled_reason, disabled_at, last_success_at,
	last_failure_at, failing_since, created_at, updated_at`

// NewWebhook holds the fields a customer sets on creation.
type NewWebhook struct {
	URL         string
	Events      []string
	Active      bool
	Description string
	Secret      string
}

// CreateWebhook inserts a webhook into the workspace unless it already has
// max live webhooks. The workspace row is locked so concurrent creations
// cannot overshoot the limit together.
func (s *Store) CreateWebhook(ctx context.Context, workspaceID string, in NewWebhook, max int) (Webhook, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	// The lock is its own statement: a statement that waited for the lock
	// would still count with the snapshot it started with.
	var locked int
	if err := tx.GetContext(ctx, &locked, `SELECT count(*) FROM (SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE) ws`, workspaceID); err != nil {
		return Webhook{}, fmt.Errorf("create webhook: lock workspace: %w", err)
	}
	if locked == 0 {
		return Webhook{}, ErrNotFound
	}
	var count int
	err = tx.GetContext(ctx, &count, `SELECT count(*) FROM webhooks WHERE workspace_id = $1 AND deleted_at IS NULL`, workspaceID)
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: count: %w", err)
	}
	if count >= max {
		return Webhook{}, fmt.Errorf("%w: a workspace may have %d webhooks", ErrLimitReached, max)
	}
	var w Webhook
	err = tx.GetContext(ctx, &w, `
		INSERT INTO webhooks (workspace_id, url, events, active, description, secret)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+webhookColumns,
		workspaceID, in.URL, pq.StringArray(in.Events), in.Active, in.Description, in.Secret)
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return Webhook{}, fmt.Errorf("create webhook: commit: %w", err)
	}
	return w, nil
}

// Webhook returns one live webhook of the workspace.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (Webhook, error) {
	var w Webhook
	err := s.db.GetContext(ctx, &w, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL`, id, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// Webhooks lists the workspace's live webhooks, oldest first.
func (s *Store) Webhooks(ctx context.Context, workspaceID string) ([]Webhook, error) {
	ws := []Webhook{}
	err := s.db.SelectContext(ctx, &ws, `SELECT `+webhookColumns+` FROM webhooks
		WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// WebhookPatch holds the fields a PATCH may change; nil leaves a field alone.
type WebhookPatch struct {
	URL         *string
	Events      []string
	Active      *bool
	Description *string
}

// UpdatedWebhook is a webhook as a patch left it.
type UpdatedWebhook struct {
	Webhook
	// Reactivated says the patch turned an inactive webhook back on; its
	// FailingSince is then the streak's start before the reset, so the
	// caller can offer to recover that window.
	Reactivated bool `db:"reactivated"`
}

// UpdateWebhook applies a patch. Re-activating an inactive webhook clears
// its failure streak and disabled reason, since the customer says the
// endpoint is fixed.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, p WebhookPatch) (UpdatedWebhook, error) {
	var events any
	if p.Events != nil {
		events = pq.StringArray(p.Events)
	}
	var w UpdatedWebhook
	err := s.db.GetContext(ctx, &w, `
		WITH old AS (
			SELECT id, failing_since, active FROM webhooks
			WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR NO KEY UPDATE),
		upd AS (
			UPDATE webhooks w SET
				url = coalesce($3, w.url),
				events = coalesce($4, w.events),
				active = coalesce($5, w.active),
				description = coalesce($6, w.description),
				consecutive_failures = CASE WHEN $5 AND NOT old.active THEN 0 ELSE w.consecutive_failures END,
				failing_since = CASE WHEN $5 AND NOT old.active THEN NULL ELSE w.failing_since END,
				disabled_reason = CASE WHEN $5 THEN NULL ELSE w.disabled_reason END,
				disabled_at = CASE WHEN $5 THEN NULL ELSE w.disabled_at END,
				updated_at = now()
			FROM old WHERE w.id = old.id
			RETURNING w.*)
		SELECT upd.id, upd.workspace_id, upd.url, upd.events, upd.active, upd.description, upd.secret,
		       upd.failure_count, upd.consecutive_failures, upd.disabled_reason, upd.disabled_at,
		       upd.last_success_at, upd.last_failure_at, old.failing_since, upd.created_at, upd.updated_at,
		       upd.active AND NOT old.active AS reactivated
		FROM upd JOIN old ON old.id = upd.id`,
		id, workspaceID, p.URL, events, p.Active, p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return UpdatedWebhook{}, ErrNotFound
	}
	if err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", mapErr(err))
	}
	return w, nil
}

// DeleteWebhook tombstones a webhook, forgets its secret, and cancels its
// pending deliveries in the same transaction, so no attempt starts after the
// customer deleted it. The deliveries are locked first, in id order, and the
// webhook last, the order the worker's batches lock them in, so the two never
// wait on each other in a circle.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete webhook: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	if _, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now()
		WHERE id IN (
			SELECT d.id FROM deliveries d
			WHERE d.webhook_id = $1 AND d.workspace_id = $2 AND d.status = 'pending'
			ORDER BY d.id FOR NO KEY UPDATE)`, id, workspaceID); err != nil {
		return fmt.Errorf("delete webhook: cancel deliveries: %w", err)
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE webhooks SET deleted_at = now(), active = false, secret = '', previous_secret = NULL,
		       previous_secret_expires_at = NULL, updated_at = now()
		WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete webhook: commit: %w", err)
	}
	return nil
}

// RotateSecret replaces the webhook's secret. The old one keeps signing
// webhook-signature (next to the new one) until graceEnds.
func (s *Store) RotateSecret(ctx context.Context, workspaceID, id, newSecret string, graceEnds time.Time) (Webhook, error) {
	var w Webhook
	err := s.db.GetContext(ctx, &w, `
		UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $4,
		       secret = $3, updated_at = now()
		WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL
		RETURNING `+webhookColumns, id, workspaceID, newSecret, graceEnds)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("rotate secret: %w", err)
	}
	return w, nil
}

// Attempts of the last day belong to deliveries created at most a few days
// earlier (the retry schedule), which bounds the index scan.
const successRatesSQL = `
	SELECT d.webhook_id,
	       avg(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1.0 ELSE 0.0 END)::float8 AS rate
	FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id
	WHERE d.webhook_id = ANY($1) AND d.created_at > now() - interval '7 days'
	  AND a.created_at > now() - interval '24 hours' AND d.event_type <> '` + catalog.TestType + `'
	GROUP BY d.webhook_id`

// SuccessRates returns, per webhook id, the share of attempts in the last 24
// hours that succeeded; webhooks without attempts are absent. Test events'
// attempts are not the webhook's health and do not count.
func (s *Store) SuccessRates(ctx context.Context, webhookIDs []string) (map[string]float64, error) {
	var rows []struct {
		WebhookID string  `db:"webhook_id"`
		Rate      float64 `db:"rate"`
	}
	err := s.db.SelectContext(ctx, &rows, successRatesSQL, pq.StringArray(webhookIDs))
	if err != nil {
		return nil, fmt.Errorf("success rates: %w", err)
	}
	out := make(map[string]float64, len(rows))
	for _, r := range rows {
		out[r.WebhookID] = r.Rate
	}
	return out, nil
}

// RecoverWindow selects the deliveries of a webhook that ended without
// success (failed, or cancelled when the webhook was disabled) and were
// created in [since, until).
type RecoverWindow struct {
	Since, Until time.Time
	Limit        int
}

// RecoveryStart is where a recovery of a failure streak that began at
// failingSince should start: the creation of the oldest delivery that ended
// without success since then (a delivery is created before its attempts
// fail), or failingSince itself when there is none.
func (s *Store) RecoveryStart(ctx context.Context, workspaceID, webhookID string, failingSince time.Time) (time.Time, error) {
	var since sql.NullTime
	err := s.db.GetContext(ctx, &since, `
		SELECT min(created_at) FROM deliveries
		WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled') AND finished_at >= $3`,
		webhookID, workspaceID, failingSince)
	if err != nil {
		return time.Time{}, fmt.Errorf("recovery start: %w", err)
	}
	if since.Valid && since.Time.Before(failingSince) {
		return since.Time, nil
	}
	return failingSince, nil
}

// CountRecoverable counts what Recover would re-send.
func (s *Store) CountRecoverable(ctx context.Context, workspaceID, webhookID string, win RecoverWindow) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `
		SELECT count(*) FROM (
			SELECT 1 FROM deliveries
			WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled')
			  AND created_at >= $3 AND created_at < $4 LIMIT $5) x`,
		webhookID, workspaceID, win.Since, win.Until, win.Limit)
	if err != nil {
		return 0, fmt.Errorf("count recoverable: %w", err)
	}
	return n, nil
}

// Recover creates a new pending run for every delivery in the window and
// returns the new delivery ids.
func (s *Store) Recover(ctx context.Context, workspaceID, webhookID string, win RecoverWindow) ([]string, error) {
	var ids pq.StringArray
	err := s.db.GetContext(ctx, &ids, `
		WITH src AS (
			SELECT id, event_id, event_type FROM deliveries
			WHERE webhook_id = $1 AND workspace_id = $2 AND status IN ('failed', 'cancelled')
			  AND created_at >= $3 AND created_at < $4
			ORDER BY created_at LIMIT $5),
		ins AS (
			INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, redelivery_of, next_attempt_at)
			SELECT $2, src.event_id, src.event_type, $1, src.id, now() FROM src
			RETURNING id)
		SELECT ARRAY(SELECT id::text FROM ins)`,
		webhookID, workspaceID, win.Since, win.Until, win.Limit)
	if err != nil {
		return nil, fmt.Errorf("recover deliveries: %w", err)
	}
	return ids, nil
}
