package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
)

// Delivery is one run of an event to one webhook, as the history shows it.
type Delivery struct {
	ID                string          `db:"id"`
	EventID           string          `db:"event_id"`
	EventType         string          `db:"event_type"`
	WebhookID         string          `db:"webhook_id"`
	RedeliveryOf      *string         `db:"redelivery_of"` // the delivery this one runs again, if any
	Status            delivery.Status `db:"status"`
	Attempts          int             `db:"attempts"`
	StatusCode        *int            `db:"status_code"` // nil when no response arrived
	ResponseBody      []byte          `db:"response_body"`
	ResponseTruncated bool            `db:"response_truncated"`
	LastError         *string         `db:"last_error"`
	LastAttemptAt     *time.Time      `db:"last_attempt_at"`
	NextAttemptAt     *time.Time      `db:"next_attempt_at"` // nil once finished
	FinishedAt        *time.Time      `db:"finished_at"`
	CreatedAt         time.Time       `db:"created_at"`
}

// The latest attempt's response is read from delivery_attempts rather than
// copied onto the delivery, so a 64 KiB body is stored once.
const deliverySelect = `
	SELECT d.id, d.event_id, d.event_type, d.webhook_id, d.redelivery_of, d.status,
	       d.attempts, d.status_code, coalesce(a.response_body, ''::bytea) AS response_body,
	       coalesce(a.response_truncated, false) AS response_truncated, d.last_error,
	       d.last_attempt_at, d.next_attempt_at, d.finished_at, d.created_at
	FROM deliveries d
	LEFT JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt = d.attempts`

// Cursor is a position in a newest-first delivery history: the page after
// it (older deliveries), or with Newer the page before it.
type Cursor struct {
	CreatedAt time.Time
	ID        string
	Newer     bool
}

// DeliveryFilter narrows a delivery history; empty fields match everything.
type DeliveryFilter struct {
	Status    delivery.Status // empty for every status
	EventType string
}

// Deliveries returns up to limit deliveries of a webhook that match the
// filter, newest first: from the newest, or the ones just older than the
// cursor, or with a Newer cursor the ones just newer than it. It walks the
// history index from the cursor and never counts the history.
func (s *Store) Deliveries(ctx context.Context, workspaceID, webhookID string, f DeliveryFilter, at *Cursor, limit int) ([]Delivery, error) {
	query, args := deliveriesQuery(workspaceID, webhookID, f, at, limit)
	ds := []Delivery{}
	if err := s.db.SelectContext(ctx, &ds, query, args...); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	if at != nil && at.Newer {
		slices.Reverse(ds)
	}
	return ds, nil
}

// deliveriesQuery builds the history query: only the filters given, so
// each form is a plain walk down the history index.
func deliveriesQuery(workspaceID, webhookID string, f DeliveryFilter, at *Cursor, limit int) (string, []any) {
	where := ` WHERE d.webhook_id = $1 AND d.workspace_id = $2`
	args := []any{webhookID, workspaceID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Status != "" {
		where += ` AND d.status = ` + arg(f.Status)
	}
	if f.EventType != "" {
		where += ` AND d.event_type = ` + arg(f.EventType)
	}
	order := ` ORDER BY d.created_at DESC, d.id DESC`
	switch {
	case at != nil && at.Newer:
		// Up the index from the cursor; the caller reverses the rows.
		where += ` AND (d.created_at, d.id) > (` + arg(at.CreatedAt) + `, ` + arg(at.ID) + `)`
		order = ` ORDER BY d.created_at, d.id`
	case at != nil:
		where += ` AND (d.created_at, d.id) < (` + arg(at.CreatedAt) + `, ` + arg(at.ID) + `)`
	}
	return deliverySelect + where + order + ` LIMIT ` + arg(limit), args
}

// Delivery returns one delivery of the workspace.
func (s *Store) Delivery(ctx context.Context, workspaceID, id string) (Delivery, error) {
	var d Delivery
	if err := s.getOne(ctx, &d, "get delivery", deliverySelect+` WHERE d.id = $1 AND d.workspace_id = $2`, id, workspaceID); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// Redeliver creates a new pending run of a delivery's event to the same live
// webhook and returns its id.
func (s *Store) Redeliver(ctx context.Context, workspaceID, id string) (string, error) {
	var newID string
	err := s.db.GetContext(ctx, &newID, `
		INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, redelivery_of, next_attempt_at)
		SELECT d.workspace_id, d.event_id, d.event_type, d.webhook_id, d.id, now()
		FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.deleted_at IS NULL
		WHERE d.id = $1 AND d.workspace_id = $2
		RETURNING id`, id, workspaceID)
	// A foreign-key violation: data retention deleted the delivery (and
	// with it, perhaps, its event) after this statement read it.
	var pqErr *pq.Error
	if errors.Is(err, sql.ErrNoRows) || errors.As(err, &pqErr) && pqErr.Code == "23503" {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redeliver: %w", err)
	}
	return newID, nil
}

// Work is everything the worker needs for one attempt, loaded in one query.
type Work struct {
	DeliveryID     string          `db:"id"`
	Status         delivery.Status `db:"status"`
	Attempts       int             `db:"attempts"`
	NextAttemptAt  *time.Time      `db:"next_attempt_at"`
	EventID        string          `db:"event_id"`
	EventType      string          `db:"event_type"`
	EventCreatedAt time.Time       `db:"event_created_at"`
	Body           []byte          `db:"body"`
	WebhookID      string          `db:"webhook_id"`
	WebhookURL     string          `db:"url"`
	Secret         string          `db:"secret"`
	WebhookActive  bool            `db:"active"`
	WebhookDeleted bool            `db:"deleted"`
	// ConsecutiveFailures drives the circuit breaker.
	ConsecutiveFailures int `db:"consecutive_failures"`
	// PreviousSecret is set while a rotation's grace period lasts.
	PreviousSecret string `db:"previous_secret"`
}

const worksSQL = `
	SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.event_id, d.event_type, e.created_at AS event_created_at, e.body,
	       d.webhook_id, w.url, w.secret, w.active, w.deleted_at IS NOT NULL AS deleted, w.consecutive_failures,
	       coalesce(CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END, '') AS previous_secret
	FROM deliveries d
	JOIN events e ON e.id = d.event_id
	JOIN webhooks w ON w.id = d.webhook_id
	WHERE d.id = ANY($1::uuid[])`

// Works loads deliveries with their event bodies and webhooks in one query:
// the worker's handlers batch their loads. Unknown ids are absent.
func (s *Store) Works(ctx context.Context, deliveryIDs []string) (map[string]Work, error) {
	stmt, err := s.works.get(ctx, s.db)
	if err != nil {
		return nil, err
	}
	var ws []Work
	if err := stmt.SelectContext(ctx, &ws, pq.StringArray(deliveryIDs)); err != nil {
		return nil, fmt.Errorf("load %d deliveries: %w", len(deliveryIDs), err)
	}
	out := make(map[string]Work, len(ws))
	for _, w := range ws {
		out[w.DeliveryID] = w
	}
	return out, nil
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
