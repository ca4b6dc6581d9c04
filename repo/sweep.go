package repo

import (
	"context"
	"fmt"
	"time"
)

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

// WithSweepLock runs fn while holding the outbox sweep's advisory lock. It
// returns false without running fn when another sweep holds the lock.
func (s *Store) WithSweepLock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	return s.withTryLock(ctx, sweepLockID, "sweep", fn)
}
