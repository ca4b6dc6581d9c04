package repo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/trackelio/webhooks/delivery"
)

// Work is everything the worker needs for one attempt, loaded in one query.
type Work struct {
	DeliveryID     string          `db:"id"`
	Status         delivery.Status `db:"status"`
	Attempts       int             `db:"attempts"`
	NextAttemptAt  *time.Time      `db:"next_attempt_at"`
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
	SELECT d.id, d.status, d.attempts, d.next_attempt_at, d.event_type, e.created_at AS event_created_at, e.body,
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

// Work loads one delivery with its event body and webhook.
func (s *Store) Work(ctx context.Context, deliveryID string) (Work, error) {
	ws, err := s.Works(ctx, []string{deliveryID})
	if err != nil {
		return Work{}, err
	}
	w, ok := ws[deliveryID]
	if !ok {
		return Work{}, ErrNotFound
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
	// AutoDisable is the worker's policy; the attempts of one batch to one
	// webhook are folded with the first one's.
	AutoDisable delivery.AutoDisable
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

// RecordAttempt records one attempt; see RecordAttempts.
func (s *Store) RecordAttempt(ctx context.Context, r AttemptResult) (Recorded, error) {
	recs, err := s.RecordAttempts(ctx, []AttemptResult{r})
	if err != nil {
		return Recorded{}, err
	}
	return recs[0], nil
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

// foldHealth folds the stored attempts into each webhook's health and
// writes the webhooks whose health changed, marking in out which attempts
// were stored and which disabled their webhook.
func (s *Store) foldHealth(ctx context.Context, tx *sqlx.Tx, rs []AttemptResult, first map[string]int, stored []recordedRow, out []Recorded) error {
	hooks := map[string]*hookEvents{}
	var order []string
	for _, row := range stored {
		i := first[row.DeliveryID]
		out[i].Stored = true
		r := rs[i]
		if r.ExcludeFromHealth {
			continue
		}
		h := hooks[row.WebhookID]
		if h == nil {
			h = &hookEvents{read: row.health()}
			hooks[row.WebhookID] = h
			order = append(order, row.WebhookID)
		}
		h.events = append(h.events, delivery.HealthEvent{At: r.At, Succeeded: r.Succeeded, DisableReason: r.DisableReason})
		h.owners = append(h.owners, i)
	}
	// Only the webhooks whose health changes are locked and written; the
	// fold is repeated on the locked row, which may have moved since it was
	// read.
	var changed []string
	for _, id := range order {
		h := hooks[id]
		h.sortByTime()
		if next, _ := h.read.Apply(h.events, rs[h.owners[0]].AutoDisable); worthWriting(h.read, next) {
			changed = append(changed, id)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	var locked []struct {
		ID string `db:"id"`
		healthRow
	}
	if err := tx.SelectContext(ctx, &locked, `SELECT w.id, `+healthColumns+` FROM webhooks w
		WHERE w.id = ANY($1::uuid[]) ORDER BY w.id FOR NO KEY UPDATE`, pq.StringArray(changed)); err != nil {
		return fmt.Errorf("lock webhook health: %w", err)
	}
	var u healthUpdate
	for _, l := range locked {
		h := hooks[l.ID]
		read := l.health()
		next, disabledBy := read.Apply(h.events, rs[h.owners[0]].AutoDisable)
		if disabledBy >= 0 {
			out[h.owners[disabledBy]].Disabled = true
		}
		if !read.Equal(next) {
			u.add(l.ID, next)
		}
	}
	return u.exec(ctx, tx)
}

// hookEvents are one webhook's stored attempts of a batch.
type hookEvents struct {
	read   delivery.Health // as the batch's statement read it
	events []delivery.HealthEvent
	owners []int // the index in the batch of each event
}

// sortByTime puts the events, and their owners with them, in time order, as
// fold takes them.
func (h *hookEvents) sortByTime() {
	idx := make([]int, len(h.events))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return h.events[a].At.Compare(h.events[b].At) })
	events, owners := make([]delivery.HealthEvent, len(idx)), make([]int, len(idx))
	for i, j := range idx {
		events[i], owners[i] = h.events[j], h.owners[j]
	}
	h.events, h.owners = events, owners
}

// healthUpdate writes new health to webhooks, many in one statement.
type healthUpdate struct {
	ids, reasons                         []string
	active                               []bool
	failures, streaks                    []int64
	successes, failed, since, disabledAt []string
}

func (u *healthUpdate) add(id string, h delivery.Health) {
	u.ids, u.active, u.failures, u.streaks = append(u.ids, id), append(u.active, h.Active), append(u.failures, h.FailureCount), append(u.streaks, int64(h.ConsecutiveFailures))
	u.successes, u.failed, u.since = append(u.successes, timeText(h.LastSuccessAt)), append(u.failed, timeText(h.LastFailureAt)), append(u.since, timeText(h.FailingSince))
	u.reasons, u.disabledAt = append(u.reasons, h.DisabledReason), append(u.disabledAt, timeText(h.DisabledAt))
}

func (u *healthUpdate) exec(ctx context.Context, tx *sqlx.Tx) error {
	if len(u.ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE webhooks w SET active = n.active, failure_count = n.failure_count, consecutive_failures = n.streak,
		       last_success_at = nullif(n.success, '')::timestamptz, last_failure_at = nullif(n.failure, '')::timestamptz,
		       failing_since = nullif(n.since, '')::timestamptz, disabled_reason = nullif(n.reason, ''),
		       disabled_at = nullif(n.disabled_at, '')::timestamptz
		FROM unnest($1::uuid[], $2::bool[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
		     AS n(id, active, failure_count, streak, success, failure, since, reason, disabled_at)
		WHERE w.id = n.id`,
		pq.StringArray(u.ids), pq.BoolArray(u.active), pq.Int64Array(u.failures), pq.Int64Array(u.streaks),
		pq.StringArray(u.successes), pq.StringArray(u.failed), pq.StringArray(u.since), pq.StringArray(u.reasons), pq.StringArray(u.disabledAt))
	if err != nil {
		return fmt.Errorf("write webhook health: %w", err)
	}
	return nil
}

// timeText is a nullable time as the text arrays carry it ("" for NULL).
func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
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
	overdue := []Overdue{}
	var err error
	if after == nil {
		err = s.db.SelectContext(ctx, &overdue, `
			SELECT id, attempts, next_attempt_at FROM deliveries
			WHERE status = 'pending' AND next_attempt_at < $1
			ORDER BY next_attempt_at, id LIMIT $2`, dueBefore, limit)
	} else {
		err = s.db.SelectContext(ctx, &overdue, `
			SELECT id, attempts, next_attempt_at FROM deliveries
			WHERE status = 'pending' AND next_attempt_at < $1 AND (next_attempt_at, id) > ($2, $3)
			ORDER BY next_attempt_at, id LIMIT $4`, dueBefore, after.NextAttemptAt, after.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list overdue deliveries: %w", err)
	}
	return overdue, nil
}

// sweepLockID keeps two outbox sweeps from running at once.
const sweepLockID = 0x7377_6565_70 // "sweep"

// WithSweepLock runs fn while holding the outbox sweep's advisory lock. It
// returns false without running fn when another sweep holds the lock.
func (s *Store) WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	return s.withTryLock(ctx, sweepLockID, "sweep", fn)
}

// withTryLock runs fn while holding the session advisory lock key on a
// connection of its own, or returns false without running fn when another
// session holds it. The lock is released when fn returns, or with the
// session if the connection dies.
func (s *Store) withTryLock(ctx context.Context, key int64, name string, fn func(context.Context) error) (bool, error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return false, fmt.Errorf("%s lock: get connection: %w", name, err)
	}
	defer conn.Close()
	var got bool
	if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		return false, fmt.Errorf("%s lock: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key) //nolint:errcheck // released with the session on failure
	return true, fn(ctx)
}
