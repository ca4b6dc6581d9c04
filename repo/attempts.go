package repo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/delivery"
)

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	Attempt           int    `db:"attempt"`
	StatusCode        *int   `db:"status_code"` // nil when no response arrived
	ResponseBody      []byte `db:"response_body"`
	ResponseTruncated bool   `db:"response_truncated"`
	ResponseHeaders   []byte `db:"response_headers"` // a JSON object
	// ResponseHeadersDropped counts the response headers not stored.
	ResponseHeadersDropped int       `db:"response_headers_dropped"`
	RequestHeaders         []byte    `db:"request_headers"` // a JSON object
	Error                  *string   `db:"error"`           // nil on success
	DurationMS             int       `db:"duration_ms"`
	CreatedAt              time.Time `db:"created_at"`
}

// Attempts lists a delivery's attempts in order. The caller has already
// checked that the delivery belongs to its workspace.
func (s *Store) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	as := []Attempt{}
	err := s.db.SelectContext(ctx, &as, `
		SELECT attempt, status_code, response_body, response_truncated, response_headers, response_headers_dropped,
		       request_headers, error, duration_ms, created_at
		FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return as, nil
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
	// ResponseHeadersDropped counts the response headers that did not fit
	// the stored bounds.
	ResponseHeadersDropped int
	// RequestHeaders are the headers the attempt sent, signatures included.
	RequestHeaders map[string]string
	Error          string // empty on success
	Duration       time.Duration
	At             time.Time
	Succeeded      bool
	// NewStatus is pending (another attempt follows at NextAttemptAt),
	// succeeded, or failed (attempts exhausted).
	NewStatus     delivery.Status
	NextAttemptAt time.Time
	// DisableReason, when set on a failure, disables the webhook at once
	// (for example "gone" after a 410).
	DisableReason string
	// AutoDisable and Notices are the worker's policies; the attempts of
	// one batch to one webhook are folded with the first one's.
	AutoDisable delivery.AutoDisable
	Notices     delivery.NoticePolicy
	// EventID and EventType name the delivery's event in a
	// delivery.exhausted notice.
	EventID, EventType string
	// ExcludeFromHealth stores the attempt without folding it into the
	// webhook's health: a test event's attempt moves no counter, streak or
	// timestamp and disables nothing.
	ExcludeFromHealth bool
}

// Recorded says what recording an attempt did.
type Recorded struct {
	// Stored is false when the delivery was no longer at the expected
	// attempt (another worker recorded it after a lost lease, or it was
	// cancelled meanwhile); nothing was stored then.
	Stored bool
	// Disabled is true when this attempt disabled the webhook.
	Disabled bool
	// Notices are the ids of the notices this attempt decided, to be
	// dispatched once the batch is committed.
	Notices []string
}

const recordSQL = `
	WITH i AS (
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::bytea[], $6::bool[], $7::text[],
		                     $8::int[], $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::int[])
		       AS i(delivery_id, attempt, status, status_code, body, truncated, error, duration_ms, at, next_at,
		            response_headers, request_headers, headers_dropped)),
	d AS (
		UPDATE deliveries SET attempts = i.attempt, status = i.status, status_code = nullif(i.status_code, 0),
		       last_error = nullif(i.error, ''), last_attempt_at = i.at, next_attempt_at = nullif(i.next_at, '')::timestamptz,
		       finished_at = CASE WHEN i.status <> 'pending' THEN i.at END
		FROM i
		-- By id from the batch, never through the pending index: a plan
		-- cached while few deliveries were pending must not walk them all.
		-- finished_at IS NULL is "still pending" (it is set with every
		-- other status).
		WHERE deliveries.id = ANY($1::uuid[]) AND deliveries.id = i.delivery_id
		  AND deliveries.finished_at IS NULL AND deliveries.attempts = i.attempt - 1
		RETURNING deliveries.id, deliveries.webhook_id),
	a AS (
		INSERT INTO delivery_attempts (delivery_id, attempt, status_code, response_body, response_truncated, error,
		                               duration_ms, created_at, response_headers, request_headers, response_headers_dropped)
		SELECT i.delivery_id, i.attempt, nullif(i.status_code, 0), i.body, i.truncated, nullif(i.error, ''),
		       i.duration_ms, i.at, i.response_headers::jsonb, i.request_headers::jsonb, i.headers_dropped
		FROM i JOIN d ON d.id = i.delivery_id)
	SELECT d.id AS delivery_id, w.id, ` + healthColumns + `
	FROM d JOIN webhooks w ON w.id = d.webhook_id`

// recordedRow is a recorded attempt's webhook and its health as read for
// the fold.
type recordedRow struct {
	DeliveryID string `db:"delivery_id"`
	WebhookID  string `db:"id"`
	healthRow
}

// RecordAttempts stores a batch of attempts in one transaction: each
// attempt row and its delivery's new state, for the deliveries still at the
// expected attempt, then each webhook's health folded once from its stored
// attempts. No row is locked per attempt: a busy webhook's row is written
// once per batch at most, and only when its health changed, under FOR NO KEY
// UPDATE, which the deliveries' foreign-key checks do not wait for.
func (s *Store) RecordAttempts(ctx context.Context, rs []AttemptResult) ([]Recorded, error) {
	out := make([]Recorded, len(rs))
	// One attempt per delivery: a duplicate (the same task run twice after
	// a lost lease) would insert the attempt twice; it is not stored.
	first := make(map[string]int, len(rs))
	var batch []int
	for i, r := range rs {
		if _, dup := first[r.DeliveryID]; !dup {
			first[r.DeliveryID] = i
			batch = append(batch, i)
		}
	}
	// Rows are locked in id order, so two batches never wait on each other
	// in a circle.
	slices.SortFunc(batch, func(a, b int) int { return cmp.Compare(rs[a].DeliveryID, rs[b].DeliveryID) })
	args, err := recordArgs(rs, batch)
	if err != nil {
		return nil, err
	}
	stmt, err := s.record.get(ctx, s.db)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record attempts: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	var stored []recordedRow
	if err := tx.StmtxContext(ctx, stmt).SelectContext(ctx, &stored, args...); err != nil {
		return nil, fmt.Errorf("record %d attempts: %w", len(batch), err)
	}
	if err := s.foldHealth(ctx, tx, rs, first, stored, out); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record attempts: commit: %w", err)
	}
	return out, nil
}

// recordArgs lays the attempts out as the columns recordSQL unnests.
func recordArgs(rs []AttemptResult, batch []int) ([]any, error) {
	n := len(batch)
	var (
		ids, statuses, errs, nexts, resp, req = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts, codes, durations, dropped   = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		bodies                                = make([][]byte, n)
		truncated                             = make([]bool, n)
		ats                                   = make([]string, n)
	)
	for j, i := range batch {
		r := rs[i]
		h, err := headerJSON(r.ResponseHeaders)
		if err != nil {
			return nil, fmt.Errorf("encode response headers: %w", err)
		}
		q, err := headerJSON(r.RequestHeaders)
		if err != nil {
			return nil, fmt.Errorf("encode request headers: %w", err)
		}
		ids[j], attempts[j], statuses[j], codes[j] = r.DeliveryID, int64(r.Attempt), string(r.NewStatus), int64(r.StatusCode)
		bodies[j], truncated[j], errs[j], durations[j] = r.ResponseBody, r.ResponseTruncated, r.Error, r.Duration.Milliseconds()
		dropped[j] = int64(r.ResponseHeadersDropped)
		if bodies[j] == nil {
			bodies[j] = []byte{}
		}
		ats[j], resp[j], req[j] = r.At.Format(time.RFC3339Nano), string(h), string(q)
		if r.NewStatus == delivery.StatusPending {
			nexts[j] = r.NextAttemptAt.Format(time.RFC3339Nano)
		}
	}
	return []any{pq.StringArray(ids), pq.Int64Array(attempts), pq.StringArray(statuses), pq.Int64Array(codes),
		pq.ByteaArray(bodies), pq.BoolArray(truncated), pq.StringArray(errs), pq.Int64Array(durations),
		pq.StringArray(ats), pq.StringArray(nexts), pq.StringArray(resp), pq.StringArray(req), pq.Int64Array(dropped)}, nil
}

// headerJSON encodes a header map as the JSON object stored for it.
func headerJSON(h map[string]string) ([]byte, error) {
	if len(h) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(h)
}
