package repo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Work is everything the worker needs for one attempt, loaded in one query.
type Work struct {
	DeliveryID     string       `db:"id"`
	Status         string       `db:"status"`
	Attempts       int          `db:"attempts"`
	NextAttemptAt  sql.NullTime `db:"next_attempt_at"`
	EventType      string       `db:"event_type"`
	EventCreatedAt time.Time    `db:"event_created_at"`
	Body           []byte       `db:"body"`
	WebhookID      string       `db:"webhook_id"`
	WebhookURL     string       `db:"url"`
	Secret         string       `db:"secret"`
	WebhookActive  bool         `db:"active"`
	WebhookDeleted bool         `db:"deleted"`
	// ConsecutiveFailures drives the circuit breaker.
	ConsecutiveFailures int `db:"consecutive_failures"`
	// PreviousSecret is set while a rotation's grace period lasts.
	PreviousSecret sql.NullString `db:"previous_secret"`
}

// Work loads a delivery with its event body and webhook.
func (s *Store) Work(ctx context.Context, deliveryID string) (Work, error) {
	var w Work
	err := s.db.GetContext(ctx, &w, `
		SELECT d.id, d.status, d.attempts, d.next_attempt_at, e.type AS event_type, e.created_at AS event_created_at, e.body,
		       d.webhook_id, w.url, w.secret, w.active, w.deleted_at IS NOT NULL AS deleted,
		       w.consecutive_failures,
		       CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret
		FROM deliveries d
		JOIN events e ON e.id = d.event_id
		JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id = $1`, deliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return Work{}, ErrNotFound
	}
	if err != nil {
		return Work{}, fmt.Errorf("load delivery %s: %w", deliveryID, err)
	}
	return w, nil
}

// AttemptResult is the outcome of one HTTP attempt and the delivery state it
// leads to.
type AttemptResult struct {
	DeliveryID        string
	Attempt           int // 1-based; must be the delivery's stored count + 1
	StatusCode        int // 0 when no response arrived
	ResponseBody      []byte
	ResponseTruncated bool
	ResponseHeaders   map[string]string
	// RequestHeaders are the headers the attempt sent, signatures included.
	RequestHeaders map[string]string
	Error          string // empty on success
	Duration       time.Duration
	At             time.Time
	Succeeded      bool
	// NewStatus is pending (another attempt follows at NextAttemptAt),
	// succeeded, or failed (attempts exhausted).
	NewStatus     string
	NextAttemptAt time.Time
	// DisableReason, when set on a failure, disables the webhook at once
	// (for example "gone" after a 410).
	DisableReason string
	// AutoDisable disables the webhook when this failure extends a streak
	// of at least MinFailures that began at least After ago.
	AutoDisable AutoDisable
}

// AutoDisable is the policy for giving up on a failing endpoint.
type AutoDisable struct {
	After       time.Duration
	MinFailures int
}

// Recorded says what RecordAttempt did.
type Recorded struct {
	// Stored is false when the delivery was no longer at the expected
	// attempt (another worker recorded it after a lost lease, or it was
	// cancelled meanwhile); nothing was stored then.
	Stored bool `db:"stored"`
	// Disabled is true when this attempt disabled the webhook.
	Disabled bool `db:"disabled"`
}

// disableNow is true when a failed attempt disables its webhook: a forced
// reason ($13, e.g. "gone"), or a streak of at least $14 failures that began
// $15 seconds ago or earlier. Attempts of concurrent workers may be recorded
// out of time order, hence least/greatest (which skip NULLs) for the times. It reads the row being updated, so of two
// concurrent failures only the one that flips active reports it.
const disableNow = `(NOT $11 AND lk.active AND ($13 <> '' OR (
	lk.consecutive_failures + 1 >= $14 AND
	least(lk.failing_since, $9) <= $9 - make_interval(secs => $15))))`

// RecordAttempt stores an attempt, the delivery's new state and the webhook's
// health (counters, last success or failure, auto-disable) in one statement.
func (s *Store) RecordAttempt(ctx context.Context, r AttemptResult) (Recorded, error) {
	var statusCode sql.NullInt32
	if r.StatusCode != 0 {
		statusCode = sql.NullInt32{Int32: int32(r.StatusCode), Valid: true}
	}
	var errText sql.NullString
	if r.Error != "" {
		errText = sql.NullString{String: r.Error, Valid: true}
	}
	var next sql.NullTime
	if r.NewStatus == StatusPending {
		next = sql.NullTime{Time: r.NextAttemptAt, Valid: true}
	}
	body := r.ResponseBody
	if body == nil {
		body = []byte{}
	}
	headers, err := headerJSON(r.ResponseHeaders)
	if err != nil {
		return Recorded{}, fmt.Errorf("encode response headers: %w", err)
	}
	sent, err := headerJSON(r.RequestHeaders)
	if err != nil {
		return Recorded{}, fmt.Errorf("encode request headers: %w", err)
	}
	minFailures := r.AutoDisable.MinFailures
	if minFailures <= 0 {
		minFailures = math.MaxInt32 // no auto-disable
	}
	// A success touches the webhook row only when it ends a failure streak
	// or last_success_at is more than a second old, so a busy endpoint's
	// deliveries do not queue on that row's lock.
	var rec Recorded
	err = s.db.GetContext(ctx, &rec, `
		WITH d AS (
			UPDATE deliveries SET attempts = $2, status = $3, status_code = $4, last_error = $7,
			       last_attempt_at = $9, next_attempt_at = $10,
			       finished_at = CASE WHEN $3 <> 'pending' THEN $9::timestamptz END
			WHERE id = $1 AND status = 'pending' AND attempts = $2 - 1
			RETURNING id, webhook_id),
		a AS (
			INSERT INTO delivery_attempts (delivery_id, attempt, status_code, response_body,
			                               response_truncated, error, duration_ms, created_at, response_headers,
			                               request_headers)
			SELECT id, $2, $4, $5, $6, $7, $8, $9, $12, $16 FROM d),
		lk AS (
			SELECT wh.id, wh.active, wh.consecutive_failures, wh.failing_since
			FROM webhooks wh JOIN d ON wh.id = d.webhook_id
			WHERE NOT $11 OR wh.consecutive_failures <> 0 OR wh.last_success_at IS NULL
			      OR wh.last_success_at < $9 - interval '1 second'
			FOR UPDATE OF wh),
		w AS (
			UPDATE webhooks SET
				failure_count = webhooks.failure_count + CASE WHEN $11 THEN 0 ELSE 1 END,
				consecutive_failures = CASE WHEN $11 THEN 0 ELSE webhooks.consecutive_failures + 1 END,
				last_success_at = CASE WHEN $11 THEN greatest(webhooks.last_success_at, $9) ELSE webhooks.last_success_at END,
				last_failure_at = CASE WHEN $11 THEN webhooks.last_failure_at ELSE greatest(webhooks.last_failure_at, $9) END,
				failing_since = CASE WHEN $11 THEN NULL ELSE least(webhooks.failing_since, $9) END,
				active = webhooks.active AND NOT (`+disableNow+`),
				disabled_reason = CASE WHEN `+disableNow+` THEN CASE WHEN $13 <> '' THEN $13 ELSE 'failing' END
				                       ELSE webhooks.disabled_reason END,
				disabled_at = CASE WHEN `+disableNow+` THEN $9 ELSE webhooks.disabled_at END
			FROM lk
			WHERE webhooks.id = lk.id
			RETURNING `+disableNow+` AS disabled)
		SELECT (SELECT count(*) FROM d) = 1 AS stored, coalesce((SELECT disabled FROM w), false) AS disabled`,
		r.DeliveryID, r.Attempt, r.NewStatus, statusCode, body, r.ResponseTruncated, errText,
		r.Duration.Milliseconds(), r.At, next, r.Succeeded, headers,
		r.DisableReason, minFailures, r.AutoDisable.After.Seconds(), sent)
	if err != nil {
		return Recorded{}, fmt.Errorf("record attempt %d of delivery %s: %w", r.Attempt, r.DeliveryID, err)
	}
	return rec, nil
}

// headerJSON encodes a header map as the JSON object stored for it.
func headerJSON(h map[string]string) ([]byte, error) {
	if len(h) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(h)
}

// CancelDelivery ends a pending delivery without an attempt.
func (s *Store) CancelDelivery(ctx context.Context, deliveryID string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now()
		WHERE id = $1 AND status = 'pending'`, deliveryID)
	if err != nil {
		return fmt.Errorf("cancel delivery %s: %w", deliveryID, err)
	}
	return nil
}

// Overdue is a pending delivery whose task should have run by now.
type Overdue struct {
	ID            string    `db:"id"`
	Attempts      int       `db:"attempts"`
	NextAttemptAt time.Time `db:"next_attempt_at"`
}

// OverdueDeliveries pages through pending deliveries due before the given
// time, in due order, after the given position (nil for the start).
func (s *Store) OverdueDeliveries(ctx context.Context, dueBefore time.Time, after *Overdue, limit int) ([]Overdue, error) {
	os := []Overdue{}
	var err error
	if after == nil {
		err = s.db.SelectContext(ctx, &os, `
			SELECT id, attempts, next_attempt_at FROM deliveries
			WHERE status = 'pending' AND next_attempt_at < $1
			ORDER BY next_attempt_at, id LIMIT $2`, dueBefore, limit)
	} else {
		err = s.db.SelectContext(ctx, &os, `
			SELECT id, attempts, next_attempt_at FROM deliveries
			WHERE status = 'pending' AND next_attempt_at < $1 AND (next_attempt_at, id) > ($2, $3)
			ORDER BY next_attempt_at, id LIMIT $4`, dueBefore, after.NextAttemptAt, after.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list overdue deliveries: %w", err)
	}
	return os, nil
}

// sweepLockID keeps two outbox sweeps from running at once.
const sweepLockID = 0x7377_6565_70 // "sweep"

// WithSweepLock runs fn while holding the outbox sweep's advisory lock. It
// returns false without running fn when another sweep holds the lock.
func (s *Store) WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return false, fmt.Errorf("sweep lock: get connection: %w", err)
	}
	defer conn.Close()
	var got bool
	if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock($1)`, sweepLockID); err != nil {
		return false, fmt.Errorf("sweep lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, sweepLockID) //nolint:errcheck // released with the session on failure
	return true, fn(ctx)
}

// Health is a snapshot of fleet health for gauges.
type Health struct {
	FailingWebhooks  int           `db:"failing"`
	DisabledWebhooks int           `db:"disabled"`
	OutboxLag        time.Duration `db:"-"`
}

// Health counts failing and disabled webhooks and how overdue the oldest
// pending delivery is.
func (s *Store) Health(ctx context.Context) (Health, error) {
	var h Health
	err := s.db.GetContext(ctx, &h, `
		SELECT count(*) FILTER (WHERE active AND consecutive_failures > 0) AS failing,
		       count(*) FILTER (WHERE NOT active AND disabled_reason IS NOT NULL) AS disabled
		FROM webhooks WHERE deleted_at IS NULL`)
	if err != nil {
		return Health{}, fmt.Errorf("webhook health: %w", err)
	}
	var lagSeconds float64
	err = s.db.GetContext(ctx, &lagSeconds, `
		SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0)
		FROM deliveries WHERE status = 'pending' AND next_attempt_at < now()`)
	if err != nil {
		return Health{}, fmt.Errorf("outbox lag: %w", err)
	}
	h.OutboxLag = time.Duration(lagSeconds * float64(time.Second))
	return h, nil
}
