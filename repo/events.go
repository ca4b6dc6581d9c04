package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// NewEvent is an event accepted from the producer, with its outgoing body
// already rendered: the same bytes are stored, sent and signed on every attempt.
type NewEvent struct {
	ID             string
	WorkspaceID    string
	Type           string
	Body           []byte
	IdempotencyKey string // empty for none
	CreatedAt      time.Time
}

// AcceptedEvent is the outcome of CreateEvent.
type AcceptedEvent struct {
	EventID     string
	DeliveryIDs []string
	// Replayed is true when the idempotency key was seen before: EventID is
	// the first event's id and nothing new was stored.
	Replayed      bool
	DeliveryCount int
}

// CreateEvent stores the event and one pending delivery per active webhook of
// the workspace subscribed to its type, atomically in one statement.
func (s *Store) CreateEvent(ctx context.Context, ev NewEvent) (AcceptedEvent, error) {
	var key sql.NullString
	if ev.IdempotencyKey != "" {
		key = sql.NullString{String: ev.IdempotencyKey, Valid: true}
	}
	var row struct {
		Inserted    int            `db:"inserted"`
		DeliveryIDs pq.StringArray `db:"delivery_ids"`
	}
	err := s.db.GetContext(ctx, &row, `
		WITH ev AS (
			INSERT INTO events (id, workspace_id, type, body, idempotency_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
			RETURNING id),
		d AS (
			INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, next_attempt_at, created_at)
			SELECT $2, ev.id, $3, w.id, $6, $6
			FROM ev JOIN webhooks w ON w.workspace_id = $2 AND w.active AND w.deleted_at IS NULL
			                       AND $3 = ANY (w.events)
			RETURNING id)
		SELECT (SELECT count(*) FROM ev) AS inserted, ARRAY(SELECT id::text FROM d) AS delivery_ids`,
		ev.ID, ev.WorkspaceID, ev.Type, ev.Body, key, ev.CreatedAt)
	if err != nil {
		return AcceptedEvent{}, fmt.Errorf("create event: %w", err)
	}
	if row.Inserted == 1 {
		return AcceptedEvent{EventID: ev.ID, DeliveryIDs: row.DeliveryIDs, DeliveryCount: len(row.DeliveryIDs)}, nil
	}
	first := AcceptedEvent{Replayed: true}
	err = s.db.QueryRowxContext(ctx, `
		SELECT e.id, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.redelivery_of IS NULL)
		FROM events e WHERE e.workspace_id = $1 AND e.idempotency_key = $2`,
		ev.WorkspaceID, ev.IdempotencyKey).Scan(&first.EventID, &first.DeliveryCount)
	if errors.Is(err, sql.ErrNoRows) {
		return AcceptedEvent{}, fmt.Errorf("create event: idempotency key conflict without a stored event")
	}
	if err != nil {
		return AcceptedEvent{}, fmt.Errorf("replay idempotent event: %w", err)
	}
	return first, nil
}

// CreateTestEvent stores an event for one webhook only, whatever it is
// subscribed to, and returns the id of its single delivery.
func (s *Store) CreateTestEvent(ctx context.Context, ev NewEvent, webhookID string) (string, error) {
	var id string
	err := s.db.GetContext(ctx, &id, `
		WITH ev AS (
			INSERT INTO events (id, workspace_id, type, body, created_at)
			SELECT $1, $2, $3, $4, $5
			WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $6 AND workspace_id = $2 AND deleted_at IS NULL)
			RETURNING id)
		INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, next_attempt_at, created_at)
		SELECT $2, ev.id, $3, $6, $5, $5 FROM ev
		RETURNING id`, ev.ID, ev.WorkspaceID, ev.Type, ev.Body, ev.CreatedAt, webhookID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("create test event: %w", err)
	}
	return id, nil
}

// EventBody returns the exact bytes an event's deliveries send and sign.
func (s *Store) EventBody(ctx context.Context, workspaceID, eventID string) ([]byte, error) {
	var body []byte
	err := s.db.GetContext(ctx, &body, `SELECT body FROM events WHERE id = $1 AND workspace_id = $2`, eventID, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get event body: %w", err)
	}
	return body, nil
}
