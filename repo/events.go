package repo

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
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
	// RequestDigest identifies the request the event came from, kept with
	// its IdempotencyKey: the key replays the event only for a request
	// with the same digest. Nil for none, which replays whatever was
	// stored.
	RequestDigest []byte
	CreatedAt     time.Time
}

// AcceptedEvent is the outcome of CreateEvent.
type AcceptedEvent struct {
	EventID     string
	DeliveryIDs []string
	// Replayed is true when the idempotency key was seen before: EventID is
	// the first event's id and nothing new was stored.
	Replayed      bool
	DeliveryCount int
	// KeyReused is true when the idempotency key was first used, by
	// EventID, for a different request, and nothing was stored. It carries
	// the refusal out of the batch; CreateEvent returns it as a
	// *KeyReusedError.
	KeyReused bool
}

// KeyReusedError refuses an event whose idempotency key was first used for
// a different request: answering that one's event would drop this one.
type KeyReusedError struct {
	Key string
	// EventID is the event the key was first used for.
	EventID string
}

func (e *KeyReusedError) Error() string {
	return fmt.Sprintf("idempotency key %q was already used for a different event (%s)", e.Key, e.EventID)
}

// CreateEvent stores the event and one pending delivery per active webhook of
// the workspace subscribed to its type, atomically, and returns once that is
// committed. Concurrent calls share one transaction (group commit): a busy
// producer pays one commit per batch, not per event. An idempotency key
// already used for a different request is a *KeyReusedError.
func (s *Store) CreateEvent(ctx context.Context, ev NewEvent) (AcceptedEvent, error) {
	acc, err := s.events.Do(ctx, ev)
	if err == nil && acc.KeyReused {
		return AcceptedEvent{}, &KeyReusedError{Key: ev.IdempotencyKey, EventID: acc.EventID}
	}
	return acc, err
}

// keyReused decides whether an event under a taken idempotency key is a
// different request: both digests known and unequal. A digest missing on
// either side (an event stored before digests, a caller without one)
// replays, as every repeated key did before.
func keyReused(stored, sent []byte) bool {
	return len(stored) > 0 && len(sent) > 0 && !bytes.Equal(stored, sent)
}

const createEventsSQL = `
	WITH i AS (
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::text[], $6::bytea[], $7::timestamptz[])
		       AS i(id, workspace_id, type, body, idempotency_key, request_digest, created_at)),
	ev AS (
		INSERT INTO events (id, workspace_id, type, body, idempotency_key, request_digest, created_at)
		SELECT id, workspace_id, type, body, nullif(idempotency_key, ''), nullif(request_digest, ''), created_at FROM i
		ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
		RETURNING id, workspace_id, type, created_at),
	d AS (
		INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, next_attempt_at, created_at)
		SELECT ev.workspace_id, ev.id, ev.type, w.id, ev.created_at, ev.created_at
		FROM ev JOIN webhooks w ON w.workspace_id = ev.workspace_id AND w.active AND w.deleted_at IS NULL
		                       AND ev.type = ANY (w.events)
		RETURNING id, event_id)
	SELECT ev.id::text AS id, ARRAY(SELECT d.id::text FROM d WHERE d.event_id = ev.id) AS delivery_ids FROM ev`

// createEvents is CreateEvent's flush: every event of the batch, with its
// deliveries, in one statement and one commit. An event whose idempotency
// key is taken (by an earlier event, or by an earlier one of the batch)
// answers the first event's id and count, or is refused when it is a
// different request.
func (s *Store) createEvents(ctx context.Context, evs []NewEvent) ([]AcceptedEvent, error) {
	n := len(evs)
	ids, workspaces, types, keys, created := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bodies, digests := make([][]byte, n), make([][]byte, n)
	for i, ev := range evs {
		ids[i], workspaces[i], types[i], keys[i] = ev.ID, ev.WorkspaceID, ev.Type, ev.IdempotencyKey
		bodies[i], created[i] = ev.Body, ev.CreatedAt.Format(time.RFC3339Nano)
		if ev.IdempotencyKey != "" { // a digest means nothing without its key
			digests[i] = ev.RequestDigest
		}
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create events: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	stmt, err := s.insertEvents.get(ctx, s.db)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID          string         `db:"id"`
		DeliveryIDs pq.StringArray `db:"delivery_ids"`
	}
	if err := tx.StmtxContext(ctx, stmt).SelectContext(ctx, &rows, pq.StringArray(ids), pq.StringArray(workspaces),
		pq.StringArray(types), pq.ByteaArray(bodies), pq.StringArray(keys), pq.ByteaArray(digests), pq.StringArray(created)); err != nil {
		return nil, fmt.Errorf("create %d events: %w", n, err)
	}
	inserted := make(map[string][]string, len(rows))
	for _, r := range rows {
		inserted[r.ID] = r.DeliveryIDs
	}
	out := make([]AcceptedEvent, n)
	var replays []int
	for i, ev := range evs {
		if ds, ok := inserted[ev.ID]; ok {
			out[i] = AcceptedEvent{EventID: ev.ID, DeliveryIDs: ds, DeliveryCount: len(ds)}
			continue
		}
		replays = append(replays, i)
	}
	if err := replay(ctx, tx, evs, replays, out); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create events: commit: %w", err)
	}
	return out, nil
}

// replay answers the events whose idempotency key was taken with the first
// event's id and its number of deliveries (redeliveries not counted), or
// refuses them when their request differs from the first event's.
func replay(ctx context.Context, tx *sqlx.Tx, evs []NewEvent, replays []int, out []AcceptedEvent) error {
	if len(replays) == 0 {
		return nil
	}
	workspaces, keys := make([]string, len(replays)), make([]string, len(replays))
	for j, i := range replays {
		workspaces[j], keys[j] = evs[i].WorkspaceID, evs[i].IdempotencyKey
	}
	var firsts []struct {
		WorkspaceID string `db:"workspace_id"`
		Key         string `db:"idempotency_key"`
		ID          string `db:"id"`
		Digest      []byte `db:"request_digest"`
		Count       int    `db:"count"`
	}
	err := tx.SelectContext(ctx, &firsts, `
		SELECT e.workspace_id, e.idempotency_key, e.id, e.request_digest,
		       (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.redelivery_of IS NULL) AS count
		FROM events e JOIN unnest($1::uuid[], $2::text[]) AS k(workspace_id, key)
		  ON e.workspace_id = k.workspace_id AND e.idempotency_key = k.key`, pq.StringArray(workspaces), pq.StringArray(keys))
	if err != nil {
		return fmt.Errorf("replay idempotent events: %w", err)
	}
	type wsKey struct{ ws, key string }
	first := make(map[wsKey]int, len(firsts))
	for j, f := range firsts {
		first[wsKey{f.WorkspaceID, f.Key}] = j
	}
	for _, i := range replays {
		j, ok := first[wsKey{evs[i].WorkspaceID, evs[i].IdempotencyKey}]
		if !ok {
			return fmt.Errorf("create event %s: idempotency key conflict without a stored event", evs[i].ID)
		}
		f := firsts[j]
		if keyReused(f.Digest, evs[i].RequestDigest) {
			out[i] = AcceptedEvent{EventID: f.ID, KeyReused: true}
			continue
		}
		out[i] = AcceptedEvent{EventID: f.ID, Replayed: true, DeliveryCount: f.Count}
	}
	return nil
}

// CreateTestEvent stores an event for one webhook only, whatever it is
// subscribed to, and returns the id of its single delivery.
func (s *Store) CreateTestEvent(ctx context.Context, ev NewEvent, webhookID string) (string, error) {
	var id string
	if err := s.getOne(ctx, &id, "create test event", `
		WITH ev AS (
			INSERT INTO events (id, workspace_id, type, body, created_at)
			SELECT $1, $2, $3, $4, $5
			WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $6 AND workspace_id = $2 AND deleted_at IS NULL)
			RETURNING id)
		INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, next_attempt_at, created_at)
		SELECT $2, ev.id, $3, $6, $5, $5 FROM ev
		RETURNING id`, ev.ID, ev.WorkspaceID, ev.Type, ev.Body, ev.CreatedAt, webhookID); err != nil {
		return "", err
	}
	return id, nil
}

// EventBody returns the exact bytes an event's deliveries send and sign.
func (s *Store) EventBody(ctx context.Context, workspaceID, eventID string) ([]byte, error) {
	var body []byte
	if err := s.getOne(ctx, &body, "get event body", `SELECT body FROM events WHERE id = $1 AND workspace_id = $2`, eventID, workspaceID); err != nil {
		return nil, err
	}
	return body, nil
}
