package testfactory

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// SeedHistory gives a webhook n finished deliveries, one every spacing back
// from now, each with its own event and one attempt: a third succeeded
// (200), a third failed and a third are waiting for a retry (500). It writes
// rows directly, in one statement, for tests and benchmarks of pages and
// plans over a long history; dbtest.Analyze afterwards.
func SeedHistory(tb testing.TB, db *sqlx.DB, workspaceID, webhookID string, n int, spacing time.Duration) {
	tb.Helper()
	_, err := db.Exec(`
		WITH src AS (
			SELECT gen_random_uuid() AS ev, gen_random_uuid() AS id, i, now() - make_interval(secs => i * $4) AS at
			FROM generate_series(1, $3) i),
		e AS (
			INSERT INTO events (id, workspace_id, type, body, created_at)
			SELECT ev, $1, 'post.created', convert_to('{"id":"' || ev || '","type":"post.created","data":{}}', 'UTF8'), at FROM src),
		d AS (
			INSERT INTO deliveries (id, workspace_id, event_id, event_type, webhook_id, status, attempts, status_code, created_at, last_attempt_at, finished_at)
			SELECT id, $1, ev, 'post.created', $2, (ARRAY['succeeded','failed','pending'])[1 + i % 3], 1,
			       CASE WHEN i % 3 = 0 THEN 200 ELSE 500 END, at, at, CASE WHEN i % 3 < 2 THEN at END FROM src)
		INSERT INTO delivery_attempts (delivery_id, attempt, status_code, response_body, duration_ms, created_at)
		SELECT id, 1, CASE WHEN i % 3 = 0 THEN 200 ELSE 500 END, '{"ok":true}', 5, at FROM src`,
		workspaceID, webhookID, n, spacing.Seconds())
	if err != nil {
		tb.Fatalf("testfactory: seed history of webhook %s: %v", webhookID, err)
	}
}
