package repo

import (
	"context"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
)

// Trouble is what a failing or disabled webhook's page says beyond its
// health: the attempt that failed last, what waits for a retry, and what
// the failure streak ended without success, which a recovery re-sends.
type Trouble struct {
	// LastFailure is the latest failed attempt of the failure streak (see
	// troubleSQL); nil when no streak is under way or retention removed
	// its deliveries.
	LastFailure *FailedAttempt
	// Pending counts the deliveries waiting for an attempt, tests
	// excepted; NextAttemptAt is the earliest of their next attempts, nil
	// when none waits.
	Pending       int
	NextAttemptAt *time.Time
	// RecoverSince is where a recovery of the streak starts, as
	// RecoveryStart says; nil when no delivery ended without success since
	// the streak began. Ended counts the deliveries a recovery from then
	// until now would re-send.
	RecoverSince *time.Time
	Ended        int
}

// FailedAttempt is a delivery's failed latest attempt.
type FailedAttempt struct {
	DeliveryID string
	// StatusCode is nil when no response arrived; Error says why it failed.
	StatusCode *int
	Error      *string
	At         time.Time
}

// The statement reads four things of the webhook w, each through an index
// that starts at w. The last failure of the streak is looked for among the
// newest lastFailureScan deliveries (deliveries_webhook_history, walked in
// order): while a webhook fails, its newest deliveries are attempted first,
// so the latest failed attempt is among them; one only an older delivery's
// retry made is missed, and an earlier failure of the streak shown instead.
// Pending deliveries are counted from the same index, or from the outbox
// index of every pending delivery when the planner finds that narrower;
// recovery reads the index of ended deliveries (deliveries_webhook_ended),
// as RecoveryStart and CountRecoverable do. The page asks only about a
// webhook in trouble.
const troubleSQL = `
	SELECT f.id AS failed_delivery, f.status_code, f.last_error, f.last_attempt_at,
	       p.pending, p.next_attempt_at, r.since AS recover_since, coalesce(e.ended, 0) AS ended
	FROM webhooks w
	LEFT JOIN LATERAL (
		SELECT c.id, c.status_code, c.last_error, c.last_attempt_at FROM (
			SELECT d.id, d.status_code, d.last_error, d.last_attempt_at, d.event_type FROM deliveries d
			WHERE d.webhook_id = w.id ORDER BY d.created_at DESC, d.id DESC LIMIT ` + lastFailureScan + `) c
		WHERE c.last_error IS NOT NULL AND c.last_attempt_at >= w.failing_since AND c.event_type <> $3
		ORDER BY c.last_attempt_at DESC, c.id DESC LIMIT 1) f ON true
	CROSS JOIN LATERAL (
		SELECT count(*) AS pending, min(d.next_attempt_at) AS next_attempt_at FROM deliveries d
		WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.event_type <> $3) p
	LEFT JOIN LATERAL (
		SELECT least(w.failing_since, min(d.created_at)) AS since FROM deliveries d
		WHERE d.webhook_id = w.id AND d.status IN ('failed', 'cancelled') AND d.finished_at >= w.failing_since
		HAVING count(*) > 0) r ON true
	LEFT JOIN LATERAL (
		SELECT count(*) AS ended FROM deliveries d
		WHERE d.webhook_id = w.id AND d.status IN ('failed', 'cancelled') AND d.created_at >= r.since) e ON r.since IS NOT NULL
	WHERE w.id = $1 AND w.workspace_id = $2 AND w.deleted_at IS NULL`

// lastFailureScan is how many of the newest deliveries the last failure is
// looked for in.
const lastFailureScan = "100"

// WebhookTrouble reads, in one statement, what the page of a webhook in
// trouble shows about it; ErrNotFound when the workspace has no such live
// webhook.
func (s *Store) WebhookTrouble(ctx context.Context, workspaceID, webhookID string) (Trouble, error) {
	var row struct {
		FailedDelivery *string    `db:"failed_delivery"`
		StatusCode     *int       `db:"status_code"`
		LastError      *string    `db:"last_error"`
		FailedAt       *time.Time `db:"last_attempt_at"`
		Pending        int        `db:"pending"`
		NextAttemptAt  *time.Time `db:"next_attempt_at"`
		RecoverSince   *time.Time `db:"recover_since"`
		Ended          int        `db:"ended"`
	}
	if err := s.getOne(ctx, &row, "read webhook trouble", troubleSQL, webhookID, workspaceID, delivery.TestEventType); err != nil {
		return Trouble{}, err
	}
	t := Trouble{Pending: row.Pending, NextAttemptAt: row.NextAttemptAt, RecoverSince: row.RecoverSince, Ended: row.Ended}
	if row.FailedDelivery != nil && row.FailedAt != nil {
		t.LastFailure = &FailedAttempt{DeliveryID: *row.FailedDelivery, StatusCode: row.StatusCode, Error: row.LastError, At: *row.FailedAt}
	}
	return t, nil
}
