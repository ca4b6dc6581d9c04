package repo

import (
	"context"
	"fmt"
)

// The advisory lock keys, one per job that must not run twice at once.
// They share PostgreSQL's one key space, so they are kept together.
const (
	// migrationLockID serialises migrations across api replicas starting
	// together.
	migrationLockID = 0x7472_6163_6b65_6c69 // "trackeli"
	// sweepLockID keeps two outbox sweeps from running at once.
	sweepLockID = 0x7377_6565_70 // "sweep"
	// retentionLockID keeps two retention runs from walking the same rows.
	retentionLockID = 0x7265_7461_696e // "retain"
)

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
