package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
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
	CreatedAt           time.Time      `db:"created_at"`
	UpdatedAt           time.Time      `db:"updated_at"`
}

const webhookColumns = `id, workspace_id, url, events, active, description, secret,
	failure_count, consecutive_failures, disabled_reason, created_at, updated_at`

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
	if err := tx.GetContext(ctx, &locked, `SELECT count(*) FROM (SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE) ws`, workspaceID); err != nil {
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

// UpdateWebhook applies a patch. Re-activating a webhook clears its failure
// streak and disabled reason, since the customer says the endpoint is fixed.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, p WebhookPatch) (Webhook, error) {
	var events any
	if p.Events != nil {
		events = pq.StringArray(p.Events)
	}
	var w Webhook
	err := s.db.GetContext(ctx, &w, `
		UPDATE webhooks SET
			url = coalesce($3, url),
			events = coalesce($4, events),
			active = coalesce($5, active),
			description = coalesce($6, description),
			consecutive_failures = CASE WHEN $5 AND NOT active THEN 0 ELSE consecutive_failures END,
			disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END,
			updated_at = now()
		WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL
		RETURNING `+webhookColumns,
		id, workspaceID, p.URL, events, p.Active, p.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("update webhook: %w", mapErr(err))
	}
	return w, nil
}

// DeleteWebhook tombstones a webhook, forgets its secret, and cancels its
// pending deliveries in the same statement, so no attempt starts after the
// customer deleted it.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string) error {
	var n int
	err := s.db.GetContext(ctx, &n, `
		WITH w AS (
			UPDATE webhooks SET deleted_at = now(), active = false, secret = '', updated_at = now()
			WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL RETURNING id),
		d AS (
			UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now()
			WHERE webhook_id IN (SELECT id FROM w) AND status = 'pending')
		SELECT count(*) FROM w`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
