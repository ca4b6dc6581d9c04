package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/trackelio/webhooks/delivery"
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
	// PreviousSecretExpiresAt is the end of a rotation's grace period,
	// while the previous secret still signs webhook-signature.
	PreviousSecretExpiresAt sql.NullTime `db:"previous_secret_expires_at"`
	// RecoverySince and RecoveryUntil are the window of the recovery offer
	// made when the webhook was re-enabled after a failure streak, until it
	// is used or dismissed.
	RecoverySince sql.NullTime `db:"recovery_since"`
	RecoveryUntil sql.NullTime `db:"recovery_until"`
	CreatedAt     time.Time    `db:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at"`
}

const webhookColumns = `id, workspace_id, url, events, active, description, secret,
	failure_count, consecutive_failures, disabled_reason, disabled_at, last_success_at,
	last_failure_at, failing_since, previous_secret_expires_at, recovery_since, recovery_until, created_at, updated_at`

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
	// Cancelled is how many deliveries waiting for a later attempt turning
	// it off cancelled.
	Cancelled int `db:"-"`
}

// UpdateWebhook applies a patch. Re-activating an inactive webhook clears
// its failure streak and disabled reason, since the customer says the
// endpoint is fixed. Turning it off cancels, in the same transaction, its
// deliveries waiting for a later attempt (a test's excepted); those due
// now are the worker's, which cancels them as their tasks run, and an
// attempt already under way finishes and is recorded. The deliveries are
// locked before the webhook, as DeleteWebhook does.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, p WebhookPatch) (UpdatedWebhook, error) {
	var events any
	if p.Events != nil {
		events = pq.StringArray(p.Events)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	cancelled := 0
	if p.Active != nil && !*p.Active {
		if cancelled, err = cancelPending(ctx, tx, workspaceID, id, true); err != nil {
			return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", err)
		}
	}
	var w UpdatedWebhook
	err = tx.GetContext(ctx, &w, `
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
		       upd.last_success_at, upd.last_failure_at, old.failing_since, upd.previous_secret_expires_at,
		       upd.recovery_since, upd.recovery_until,
		       upd.created_at, upd.updated_at, upd.active AND NOT old.active AS reactivated
		FROM upd JOIN old ON old.id = upd.id`,
		id, workspaceID, p.URL, events, p.Active, p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return UpdatedWebhook{}, ErrNotFound
	}
	if err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: commit: %w", err)
	}
	w.Cancelled = cancelled
	return w, nil
}

// cancelPending ends a webhook's pending deliveries cancelled, locking them
// in id order, and returns how many. Waiting ones only are those whose next
// attempt is later, which no attempt can be under way for (an attempt
// starts once it is due, and moves it on when it is recorded), but a
// test's, which goes to inactive webhooks too.
func cancelPending(ctx context.Context, tx *sqlx.Tx, workspaceID, webhookID string, waitingOnly bool) (int, error) {
	res, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now()
		WHERE id IN (
			SELECT d.id FROM deliveries d
			WHERE d.webhook_id = $1 AND d.workspace_id = $2 AND d.status = 'pending'
			  AND (NOT $3 OR (d.next_attempt_at > now() AND d.event_type <> '`+delivery.TestEventType+`'))
			ORDER BY d.id FOR NO KEY UPDATE)`, webhookID, workspaceID, waitingOnly)
	if err != nil {
		return 0, fmt.Errorf("cancel pending deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CountPending counts a webhook's pending deliveries that turning it off
// would cancel, up to limit.
func (s *Store) CountPending(ctx context.Context, workspaceID, webhookID string, limit int) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `
		SELECT count(*) FROM (
			SELECT 1 FROM deliveries
			WHERE webhook_id = $1 AND workspace_id = $2 AND status = 'pending' AND event_type <> $3 LIMIT $4) p`,
		webhookID, workspaceID, delivery.TestEventType, limit)
	if err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}

// SetRecoveryOffer keeps a recovery offer on the webhook; an offer not yet
// used widens to cover both windows.
func (s *Store) SetRecoveryOffer(ctx context.Context, workspaceID, id string, since, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhooks SET recovery_since = least(recovery_since, $3), recovery_until = greatest(recovery_until, $4)
		WHERE id = $1 AND workspace_id = $2`, id, workspaceID, since, until)
	if err != nil {
		return fmt.Errorf("set recovery offer: %w", err)
	}
	return nil
}

// ClearRecoveryOffer removes the webhook's recovery offer (used or
// dismissed).
func (s *Store) ClearRecoveryOffer(ctx context.Context, workspaceID, id string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhooks SET recovery_since = NULL, recovery_until = NULL WHERE id = $1 AND workspace_id = $2`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("clear recovery offer: %w", err)
	}
	return nil
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
	if _, err := cancelPending(ctx, tx, workspaceID, id, false); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
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
	  AND a.created_at > now() - interval '24 hours' AND d.event_type <> '` + delivery.TestEventType + `'
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
