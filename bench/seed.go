//go:build bench

package bench

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// seedHistorySQL writes the deliveries numbered $4..$3 of a webhook's
// history, each with its event and one attempt, oldest first: delivery i was
// made i * $5 seconds before the end of the history, $6 seconds ago. One in
// fifty failed (500), the others succeeded; none is pending, so the outbox
// sweep leaves the history alone. Ids are UUIDv7 of their creation time, as
// the service makes them, so the history sorts before the run's rows and
// index inserts are sequential; they are built from i rather than from
// gen_random_uuid(), which costs a random read per call.
const seedHistorySQL = `
WITH t AS (
	SELECT i, at, lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') AS ms
	FROM (SELECT i, now() - make_interval(secs => $6::float8 + i * $5::float8) AS at FROM generate_series($3::int, $4::int, -1) i) g),
src AS (
	SELECT i, at, (ms || '7e00' || '8' || lpad(to_hex(i), 15, '0'))::uuid AS ev,
	              (ms || '7d00' || '8' || lpad(to_hex(i), 15, '0'))::uuid AS id,
	       CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END AS code
	FROM t),
e AS (
	INSERT INTO events (id, workspace_id, type, body, created_at)
	SELECT ev, $1::uuid, 'post.created',
	       convert_to('{"id":"' || ev || '","type":"post.created","created_at":"' || at || '","workspace_id":"' || $1::uuid ||
	                  '","data":{"post_id":"h' || i || '","title":"Historical post","author":{"id":"u_bench","name":"Bench"}}}', 'UTF8'),
	       at
	FROM src),
d AS (
	INSERT INTO deliveries (id, workspace_id, event_id, event_type, webhook_id, status, attempts, status_code,
	                        last_error, created_at, last_attempt_at, finished_at)
	SELECT id, $1::uuid, ev, 'post.created', $2::uuid, CASE WHEN code = 200 THEN 'succeeded' ELSE 'failed' END, 1, code,
	       CASE WHEN code = 200 THEN NULL ELSE 'HTTP 500' END, at, at, at
	FROM src)
INSERT INTO delivery_attempts (delivery_id, attempt, status_code, response_body, duration_ms, created_at)
SELECT id, 1, code, convert_to('{"ok":true}', 'UTF8'), 5, at FROM src`

// seedHistory gives a webhook n historical deliveries, one statement per
// core at once, each on a slice of the history, then vacuums, analyzes and
// checkpoints so the run meets a settled database: planner statistics of
// the big tables, no autovacuum of millions of fresh rows and no write-back
// of the seed's dirty pages competing with the measurement.
func seedHistory(ctx context.Context, db *sql.DB, workspaceID, webhookID string, n int) (time.Duration, error) {
	start := time.Now()
	parts := min(runtime.NumCPU(), n)
	var wg sync.WaitGroup
	errs := make([]error, parts)
	for p := range parts {
		lo, hi := n*p/parts+1, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = seedPart(ctx, db, workspaceID, webhookID, lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	if _, err := db.ExecContext(ctx, `VACUUM (ANALYZE) events, deliveries, delivery_attempts`); err != nil {
		return 0, fmt.Errorf("vacuum analyze after seeding: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return 0, fmt.Errorf("checkpoint after seeding: %w", err)
	}
	return time.Since(start), nil
}

func seedPart(ctx context.Context, db *sql.DB, workspaceID, webhookID string, lo, hi int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed deliveries %d..%d: %w", lo, hi, err)
	}
	defer tx.Rollback()
	// The rows are consistent by construction, so skip the per-row foreign
	// key triggers as pg_restore does: they more than double the time. SET
	// LOCAL ends with the transaction; it needs a superuser, which the
	// default postgres role is.
	if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		return fmt.Errorf("seed deliveries %d..%d: skip foreign key checks (needs a superuser): %w", lo, hi, err)
	}
	if _, err := tx.ExecContext(ctx, seedHistorySQL, workspaceID, webhookID, hi, lo,
		historySpacing.Seconds(), historyEnd.Seconds()); err != nil {
		return fmt.Errorf("seed deliveries %d..%d: %w", lo, hi, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed deliveries %d..%d: commit: %w", lo, hi, err)
	}
	return nil
}
