package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Data retention deletes finished history: deliveries that ended (succeeded,
// failed or cancelled) before a cutoff, with their attempts, then events
// created before it that have no delivery left. A pending delivery is never
// deleted, whatever its age, nor is its event.
//
// The work is cut into batches, each its own short transaction, so no lock
// is held for long and a run can stop between any two batches. Each walk
// goes oldest first along an index and keeps a cursor, so a row it passes
// over (locked by someone else, or kept) is read once per run, not once per
// batch.
//
// Concurrent writers that reference a row being deleted are the edge to
// get right: a redelivery (or recovery) inserts a delivery that points at
// an old delivery and at its event. Every row a batch deletes is first
// locked FOR UPDATE, which conflicts with the FOR KEY SHARE lock such an
// insert's foreign-key check takes, and rows locked by someone else are
// skipped rather than waited for. The delete statement then checks again,
// with a snapshot taken after the locks were granted, that nothing still
// needs the row: an insert that committed meanwhile is seen, one that comes
// later waits for the batch and then fails its foreign-key check (Redeliver
// answers ErrNotFound, as for any delivery that is gone). So neither a
// pending delivery nor the event or original it points at is ever deleted.
//
// Failure notices older than the cutoff go too, with their mails, once
// they are dispatched and none of their mails still waits to be sent.

// Retention says what one retention run deletes.
type Retention struct {
	// Before is the cutoff: deliveries that finished before it and events
	// created before it are deleted.
	Before time.Time
	// BatchSize bounds the rows one batch locks and deletes (deliveries,
	// or events); 0 means 500.
	BatchSize int
}

// Deleted counts the rows a retention run deleted, per table.
type Deleted struct {
	Deliveries int `db:"deliveries"`
	Attempts   int `db:"attempts"`
	Events     int `db:"events"`
	Notices    int `db:"notices"`
}

func (d *Deleted) add(o Deleted) {
	d.Deliveries += o.Deliveries
	d.Attempts += o.Attempts
	d.Events += o.Events
	d.Notices += o.Notices
}

const defaultRetentionBatch = 500

// WithRetentionLock runs fn while holding data retention's advisory lock.
// It returns false without running fn when another run holds the lock.
func (s *Store) WithRetentionLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	return s.withTryLock(ctx, retentionLockID, "retention", fn)
}

// DeleteExpired deletes finished deliveries, their attempts, and events
// with no delivery left, older than r.Before, as the comment at the top of
// this file describes. It stops between batches when ctx ends, and returns
// what the committed batches deleted together with any error.
func (s *Store) DeleteExpired(ctx context.Context, r Retention) (Deleted, error) {
	size := r.BatchSize
	if size <= 0 {
		size = defaultRetentionBatch
	}
	var total Deleted
	// Deliveries first: an event goes only once its deliveries have.
	err := s.walk(ctx, &total, "deliveries", func(ctx context.Context, tx *sqlx.Tx, after walkKey) (batchResult, error) {
		return finishedBatch(ctx, tx, r.Before, after, size)
	})
	if err != nil {
		return total, err
	}
	err = s.walk(ctx, &total, "events", func(ctx context.Context, tx *sqlx.Tx, after walkKey) (batchResult, error) {
		return eventsBatch(ctx, tx, r.Before, after, size)
	})
	if err != nil {
		return total, err
	}
	err = s.walk(ctx, &total, "notices", func(ctx context.Context, tx *sqlx.Tx, after walkKey) (batchResult, error) {
		return noticesBatch(ctx, tx, r.Before, after, size)
	})
	return total, err
}

// deleteNoticesSQL deletes the next batch of notices older than $1 after
// the cursor that are dispatched with no mail waiting (their mails go by
// the foreign key's cascade), and returns the batch's rows read, deleted
// or not, so the walk moves past the ones kept.
const deleteNoticesSQL = `
	WITH page AS (
		SELECT n.created_at AS at, n.id FROM webhook_notices n
		WHERE n.created_at < $1 AND (n.created_at, n.id) > ($2, $3)
		ORDER BY n.created_at, n.id LIMIT $4),
	gone AS (
		DELETE FROM webhook_notices n USING page
		WHERE n.id = page.id AND n.dispatched_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM notice_mails m WHERE m.notice_id = n.id AND m.status = 'pending')
		RETURNING n.id)
	SELECT page.at, page.id, page.id IN (SELECT id FROM gone) AS deleted FROM page ORDER BY page.at, page.id`

func noticesBatch(ctx context.Context, tx *sqlx.Tx, before time.Time, after walkKey, size int) (batchResult, error) {
	var page []struct {
		walkKey
		Deleted bool `db:"deleted"`
	}
	if err := tx.SelectContext(ctx, &page, deleteNoticesSQL, before, after.At, after.ID, size); err != nil {
		return batchResult{}, fmt.Errorf("delete old notices: %w", err)
	}
	if len(page) == 0 {
		return batchResult{}, nil
	}
	res := batchResult{last: page[len(page)-1].walkKey, full: len(page) == size}
	for _, p := range page {
		if p.Deleted {
			res.deleted.Notices++
		}
	}
	return res, nil
}

// walkKey is a position in a walk, oldest first: a row's time and its id.
type walkKey struct {
	At time.Time `db:"at"`
	ID string    `db:"id"`
}

// walkStart comes before every row.
var walkStart = walkKey{ID: "00000000-0000-0000-0000-000000000000"}

// batchResult is what one batch did and where the next one starts.
type batchResult struct {
	deleted Deleted
	last    walkKey
	// full says the batch read as many rows as it could take, so more
	// may follow.
	full bool
}

// walk runs batch in its own transaction after another, each starting
// where the last one ended, until one is not full. Only committed batches
// are added to total.
func (s *Store) walk(ctx context.Context, total *Deleted, what string, batch func(context.Context, *sqlx.Tx, walkKey) (batchResult, error)) error {
	after := walkStart
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("retention of %s: %w", what, err)
		}
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("retention of %s: begin: %w", what, err)
		}
		res, err := batch(ctx, tx, after)
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that matters is err
			return fmt.Errorf("retention of %s: %w", what, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("retention of %s: commit: %w", what, err)
		}
		total.add(res.deleted)
		if !res.full {
			return nil
		}
		after = res.last
	}
}

// lockFinishedSQL takes the next batch of finished deliveries older than
// $1 after the cursor ($2, $3), skipping rows another transaction holds
// (a redelivery being inserted holds its original FOR KEY SHARE). The
// status predicate is deliveries_retention's, so a pending delivery cannot
// be read, let alone locked.
const lockFinishedSQL = `
	SELECT finished_at AS at, id FROM deliveries
	WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1
	  AND (finished_at, id) > ($2, $3)
	ORDER BY finished_at, id LIMIT $4
	FOR UPDATE SKIP LOCKED`

// deleteFinishedSQL deletes the locked deliveries that no pending
// redelivery points at, and their attempts, counting both. The attempts are
// deleted here rather than by the foreign key's cascade so they are counted.
const deleteFinishedSQL = `
	WITH gone AS (
		SELECT d.id FROM deliveries d
		WHERE d.id = ANY($1::uuid[])
		  AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.redelivery_of = d.id AND r.status = 'pending')),
	attempts AS (
		DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM gone) RETURNING 1),
	deliveries AS (
		DELETE FROM deliveries WHERE id IN (SELECT id FROM gone) RETURNING 1)
	SELECT (SELECT count(*) FROM deliveries) AS deliveries, (SELECT count(*) FROM attempts) AS attempts`

func finishedBatch(ctx context.Context, tx *sqlx.Tx, before time.Time, after walkKey, size int) (batchResult, error) {
	var locked []walkKey
	if err := tx.SelectContext(ctx, &locked, lockFinishedSQL, before, after.At, after.ID, size); err != nil {
		return batchResult{}, fmt.Errorf("lock finished deliveries: %w", err)
	}
	if len(locked) == 0 {
		return batchResult{}, nil
	}
	var n Deleted
	if err := tx.GetContext(ctx, &n, deleteFinishedSQL, keyIDs(locked)); err != nil {
		return batchResult{}, fmt.Errorf("delete finished deliveries: %w", err)
	}
	return batchResult{deleted: n, last: locked[len(locked)-1], full: len(locked) == size}, nil
}

// eventsPageSQL reads the next page of events older than $1 after the
// cursor. It locks nothing: most old events of a page may still have
// deliveries, and those must not wait for retention.
const eventsPageSQL = `
	SELECT created_at AS at, id FROM events
	WHERE created_at < $1 AND (created_at, id) > ($2, $3)
	ORDER BY created_at, id LIMIT $4`

// lockEventsSQL locks the events of a page that have no delivery left,
// skipping those a delivery insert holds FOR KEY SHARE.
const lockEventsSQL = `
	SELECT e.id FROM events e
	WHERE e.id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
	FOR UPDATE OF e SKIP LOCKED`

// deleteEventsSQL deletes the locked events that still have no delivery,
// as seen after the locks were granted.
const deleteEventsSQL = `
	DELETE FROM events e
	WHERE e.id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`

func eventsBatch(ctx context.Context, tx *sqlx.Tx, before time.Time, after walkKey, size int) (batchResult, error) {
	var page []walkKey
	if err := tx.SelectContext(ctx, &page, eventsPageSQL, before, after.At, after.ID, size); err != nil {
		return batchResult{}, fmt.Errorf("read old events: %w", err)
	}
	if len(page) == 0 {
		return batchResult{}, nil
	}
	res := batchResult{last: page[len(page)-1], full: len(page) == size}
	var locked []string
	if err := tx.SelectContext(ctx, &locked, lockEventsSQL, keyIDs(page)); err != nil {
		return batchResult{}, fmt.Errorf("lock events without deliveries: %w", err)
	}
	if len(locked) == 0 {
		return res, nil
	}
	out, err := tx.ExecContext(ctx, deleteEventsSQL, pq.StringArray(locked))
	if err != nil {
		return batchResult{}, fmt.Errorf("delete events: %w", err)
	}
	n, err := out.RowsAffected()
	if err != nil {
		return batchResult{}, fmt.Errorf("delete events: %w", err)
	}
	res.deleted.Events = int(n)
	return res, nil
}

func keyIDs(keys []walkKey) pq.StringArray {
	ids := make(pq.StringArray, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}
