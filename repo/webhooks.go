package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
)

// Webhook is a customer endpoint subscribed to some event types.
type Webhook struct {
	ID          string `db:"id"`
	WorkspaceID string `db:"workspace_id"`
	URL         string `db:"url"`
	// Events is scanned by webhookRow: PostgreSQL's arrays need pq's type.
	Events      []string `db:"-"`
	Description string   `db:"description"`
	Secret      string   `db:"secret"`
	// Health is its delivery health; webhookRow scans it, as delivery
	// names no columns.
	delivery.Health `db:"-"`
	// NoticeStage is how far its trouble has gone as its owners were told.
	NoticeStage delivery.Stage `db:"notice_stage"`
	// NotifyEmails get the notices NotifyOn names by mail.
	NotifyEmails []string `db:"-"`
	NotifyOn     []string `db:"-"`
	// PreviousSecretExpiresAt is the end of a rotation's grace period,
	// while the previous secret still signs webhook-signature.
	PreviousSecretExpiresAt *time.Time `db:"previous_secret_expires_at"`
	// RecoverySince and RecoveryUntil are the window of the recovery offer
	// made when the webhook was re-enabled after a failure streak, until it
	// is used or dismissed.
	RecoverySince *time.Time `db:"recovery_since"`
	RecoveryUntil *time.Time `db:"recovery_until"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
}

// webhookRow is a webhook as webhookColumns read it.
type webhookRow struct {
	Webhook
	Events       pq.StringArray `db:"events"`
	NotifyEmails pq.StringArray `db:"notify_emails"`
	NotifyOn     pq.StringArray `db:"notify_on"`
	healthRow
}

func (r webhookRow) webhook() Webhook {
	w := r.Webhook
	w.Events, w.Health, w.NotifyEmails, w.NotifyOn = r.Events, r.health(), r.NotifyEmails, r.NotifyOn
	return w
}

// webhookColumns read a webhook w as webhookRow scans it.
const webhookColumns = `w.id, w.workspace_id, w.url, w.events, w.description, w.secret, ` + healthColumns + `,
	w.previous_secret_expires_at, w.recovery_since, w.recovery_until, w.created_at, w.updated_at,
	w.notice_stage, w.notify_emails, w.notify_on`

// NewWebhook holds the fields a customer sets on creation.
type NewWebhook struct {
	URL         string
	Events      []string
	Active      bool
	Description string
	Secret      string
	// NotifyEmails get by mail the notices NotifyOn names (nil: the
	// health notices).
	NotifyEmails []string
	NotifyOn     []string
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
	var w webhookRow
	err = tx.GetContext(ctx, &w, `
		INSERT INTO webhooks AS w (workspace_id, url, events, active, description, secret, notify_emails, notify_on)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, '{}'::text[]), coalesce($8, `+defaultNotifyOn+`)) RETURNING `+webhookColumns,
		workspaceID, in.URL, pq.StringArray(in.Events), in.Active, in.Description, in.Secret, nullArray(in.NotifyEmails), nullArray(in.NotifyOn))
	if err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", mapErr(err))
	}
	if err := addNotifyAddresses(ctx, tx, workspaceID, in.NotifyEmails); err != nil {
		return Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Webhook{}, fmt.Errorf("create webhook: commit: %w", err)
	}
	return w.webhook(), nil
}

// Webhook returns one live webhook of the workspace.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (Webhook, error) {
	var w webhookRow
	if err := s.getOne(ctx, &w, "get webhook", `SELECT `+webhookColumns+` FROM webhooks w
		WHERE w.id = $1 AND w.workspace_id = $2 AND w.deleted_at IS NULL`, id, workspaceID); err != nil {
		return Webhook{}, err
	}
	return w.webhook(), nil
}

// Webhooks lists the workspace's live webhooks, oldest first.
func (s *Store) Webhooks(ctx context.Context, workspaceID string) ([]Webhook, error) {
	var rows []webhookRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+webhookColumns+` FROM webhooks w
		WHERE w.workspace_id = $1 AND w.deleted_at IS NULL ORDER BY w.created_at, w.id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	ws := make([]Webhook, len(rows))
	for i, r := range rows {
		ws[i] = r.webhook()
	}
	return ws, nil
}

// WebhookPatch holds the fields a PATCH may change; nil leaves a field alone.
type WebhookPatch struct {
	URL          *string
	Events       []string
	Active       *bool
	Description  *string
	NotifyEmails []string // an empty non-nil list removes every address
	NotifyOn     []string
}

// UpdatedWebhook is a webhook as a patch left it.
type UpdatedWebhook struct {
	Webhook
	// Reactivated says the patch turned an inactive webhook back on; its
	// FailingSince is then the streak's start before the reset, so the
	// caller can offer to recover that window.
	Reactivated bool
	// Cancelled is how many deliveries waiting for a later attempt turning
	// it off cancelled.
	Cancelled int
	// Notices are the ids of the notices the patch decided (re-enabling
	// after a told streak is webhook.recovered), to be dispatched.
	Notices []string
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
	var row struct {
		webhookRow
		Reactivated bool `db:"reactivated"`
		// StreakBegan and StreakLength are the streak before the patch,
		// which a re-activation resets; Told is its notice stage.
		StreakBegan  *time.Time     `db:"streak_began"`
		StreakLength int            `db:"streak_length"`
		Told         delivery.Stage `db:"told"`
	}
	err = tx.GetContext(ctx, &row, `
		WITH old AS (
			SELECT id, failing_since, active, consecutive_failures, notice_stage FROM webhooks
			WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR NO KEY UPDATE),
		upd AS (
			UPDATE webhooks w SET
				url = coalesce($3, w.url),
				events = coalesce($4, w.events),
				active = coalesce($5, w.active),
				description = coalesce($6, w.description),
				notify_emails = coalesce($7, w.notify_emails),
				notify_on = coalesce($8, w.notify_on),
				consecutive_failures = CASE WHEN $5 AND NOT old.active THEN 0 ELSE w.consecutive_failures END,
				failing_since = CASE WHEN $5 AND NOT old.active THEN NULL ELSE w.failing_since END,
				disabled_reason = CASE WHEN $5 THEN NULL ELSE w.disabled_reason END,
				disabled_at = CASE WHEN $5 THEN NULL ELSE w.disabled_at END,
				updated_at = now()
			FROM old WHERE w.id = old.id
			RETURNING w.*)
		SELECT `+webhookColumns+`, w.active AND NOT old.active AS reactivated, old.failing_since AS streak_began,
		       old.consecutive_failures AS streak_length, old.notice_stage AS told
		FROM upd w JOIN old ON old.id = w.id`,
		id, workspaceID, p.URL, events, p.Active, p.Description, nullArray(p.NotifyEmails), nullArray(p.NotifyOn))
	if errors.Is(err, sql.ErrNoRows) {
		return UpdatedWebhook{}, ErrNotFound
	}
	if err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", mapErr(err))
	}
	if err := addNotifyAddresses(ctx, tx, workspaceID, p.NotifyEmails); err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", err)
	}
	w := UpdatedWebhook{Webhook: row.webhook(), Reactivated: row.Reactivated, Cancelled: cancelled}
	if row.Reactivated {
		if w.NoticeStage, w.Notices, err = reactivationNotice(ctx, tx, row.webhookRow, row.Told, row.StreakBegan, row.StreakLength); err != nil {
			return UpdatedWebhook{}, fmt.Errorf("update webhook: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return UpdatedWebhook{}, fmt.Errorf("update webhook: commit: %w", err)
	}
	w.FailingSince = row.StreakBegan
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
	var w webhookRow
	if err := s.getOne(ctx, &w, "rotate secret", `
		UPDATE webhooks w SET previous_secret = secret, previous_secret_expires_at = $4,
		       secret = $3, updated_at = now()
		WHERE w.id = $1 AND w.workspace_id = $2 AND w.deleted_at IS NULL
		RETURNING `+webhookColumns, id, workspaceID, newSecret, graceEnds); err != nil {
		return Webhook{}, err
	}
	return w.webhook(), nil
}
