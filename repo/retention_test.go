package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

const day = 24 * time.Hour

// history writes events, deliveries and attempts with exact times straight
// into the tables, as retention finds them after weeks of service, and
// names every row so results read as names.
type history struct {
	f        *fixture
	ws, hook string
	names    map[string]string // row id → name
	ids      map[string]string // name → row id
}

func newHistory(tb testing.TB) *history {
	tb.Helper()
	f := setup(tb)
	ws := f.mustWorkspace(tb, "acme")
	hook := f.mustWebhook(tb, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	return &history{f: f, ws: ws.ID, hook: hook.ID, names: map[string]string{}, ids: map[string]string{}}
}

func (h *history) name(id, name string) string {
	h.names[id], h.ids[name] = name, id
	return id
}

func (h *history) event(tb testing.TB, name string, createdAt time.Time) string {
	tb.Helper()
	id := uuid.NewString()
	if _, err := h.f.db.Exec(`INSERT INTO events (id, workspace_id, type, body, created_at)
		VALUES ($1, $2, 'post.created', '{}', $3)`, id, h.ws, createdAt); err != nil {
		tb.Fatalf("seed event %s: %v", name, err)
	}
	return h.name(id, name)
}

// seeded is one delivery of an event with its attempts. A pending one
// (finished zero) is due an hour after its last attempt.
type seeded struct {
	name, event       string
	status            delivery.Status
	created, finished time.Time
	attempts          int
	redeliveryOf      string // a name
}

func (h *history) seed(tb testing.TB, d seeded) string {
	tb.Helper()
	var finished, next *time.Time
	if !d.finished.IsZero() {
		finished = &d.finished
	}
	if d.status == delivery.StatusPending {
		next = new(d.created.Add(time.Hour))
	}
	var id string
	err := h.f.db.Get(&id, `INSERT INTO deliveries (workspace_id, event_id, event_type, webhook_id, redelivery_of,
		                                          status, attempts, created_at, finished_at, next_attempt_at)
		VALUES ($1, $2, 'post.created', $3, nullif($4, '')::uuid, $5, $6, $7, $8, $9) RETURNING id`,
		h.ws, h.ids[d.event], h.hook, h.ids[d.redeliveryOf], d.status, d.attempts, d.created, finished, next)
	if err != nil {
		tb.Fatalf("seed delivery %s: %v", d.name, err)
	}
	if _, err := h.f.db.Exec(`INSERT INTO delivery_attempts (delivery_id, attempt, status_code, duration_ms, created_at)
		SELECT $1, n, 500, 5, $2 FROM generate_series(1, $3) n`, id, d.created, d.attempts); err != nil {
		tb.Fatalf("seed attempts of %s: %v", d.name, err)
	}
	return h.name(id, d.name)
}

// oldEvent is a history holding one event, "old event", 40 days before
// the time it returns.
func oldEvent(tb testing.TB) (*history, time.Time) {
	tb.Helper()
	h, now := newHistory(tb), time.Now()
	h.event(tb, "old event", now.Add(-40*day))
	return h, now
}

// failed is a delivery of event that failed at finished, an hour after it
// was created, after attempts attempts.
func failed(name, event string, finished time.Time, attempts int) seeded {
	return seeded{name: name, event: event, status: delivery.StatusFailed, created: finished.Add(-time.Hour), finished: finished, attempts: attempts}
}

// remaining is every delivery left, by name with its number of attempts,
// and every event left, by name.
func (h *history) remaining(tb testing.TB) (map[string]int, []string) {
	tb.Helper()
	var ds []struct {
		ID       string `db:"id"`
		Attempts int    `db:"attempts"`
	}
	if err := h.f.db.Select(&ds, `SELECT d.id, count(a.attempt) AS attempts FROM deliveries d
		LEFT JOIN delivery_attempts a ON a.delivery_id = d.id GROUP BY d.id`); err != nil {
		tb.Fatalf("read deliveries: %v", err)
	}
	deliveries := map[string]int{}
	for _, d := range ds {
		deliveries[h.names[d.ID]] = d.Attempts
	}
	var ids []string
	if err := h.f.db.Select(&ids, `SELECT id FROM events`); err != nil {
		tb.Fatalf("read events: %v", err)
	}
	var events []string
	for _, id := range ids {
		events = append(events, h.names[id])
	}
	slices.Sort(events)
	return deliveries, events
}

// pendingRows is each pending delivery's row version: an UPDATE of the row
// (even one that only cleared redelivery_of) would change it.
func (h *history) pendingRows(tb testing.TB) map[string]string {
	tb.Helper()
	var rows []struct {
		ID   string `db:"id"`
		XMin string `db:"xmin"`
	}
	if err := h.f.db.Select(&rows, `SELECT id, xmin::text AS xmin FROM deliveries WHERE status = 'pending'`); err != nil {
		tb.Fatalf("read pending deliveries: %v", err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[h.names[r.ID]] = r.XMin
	}
	return out
}

func (h *history) redeliveryOf(tb testing.TB, name string) string {
	tb.Helper()
	var of *string
	if err := h.f.db.Get(&of, `SELECT redelivery_of FROM deliveries WHERE id = $1`, h.ids[name]); err != nil {
		tb.Fatalf("read redelivery_of of %s: %v", name, err)
	}
	if of == nil {
		return ""
	}
	return h.names[*of]
}

// seedRetentionHistory is a history with a row in every situation retention
// must tell apart, around the cutoff now - 30 days.
func seedRetentionHistory(tb testing.TB, now time.Time) *history {
	tb.Helper()
	h := newHistory(tb)
	cutoff := now.Add(-30 * day)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }

	h.event(tb, "old, all finished long ago", ago(40*day))
	h.seed(tb, seeded{name: "old succeeded", event: "old, all finished long ago", status: delivery.StatusSucceeded,
		created: ago(40 * day), finished: ago(40*day - time.Minute), attempts: 2})
	h.seed(tb, seeded{name: "old cancelled", event: "old, all finished long ago", status: delivery.StatusCancelled,
		created: ago(40 * day), finished: ago(35 * day)})

	h.event(tb, "old, finished just before the cutoff", ago(31*day))
	h.seed(tb, failed("failed just before the cutoff", "old, finished just before the cutoff", cutoff.Add(-time.Microsecond), 3))

	h.event(tb, "old, finished at the cutoff", ago(31*day))
	h.seed(tb, failed("failed at the cutoff", "old, finished at the cutoff", cutoff, 1))

	h.event(tb, "old, finished recently", ago(31*day))
	h.seed(tb, seeded{name: "succeeded 29 days ago", event: "old, finished recently", status: delivery.StatusSucceeded,
		created: ago(31 * day), finished: ago(29 * day), attempts: 1})

	h.event(tb, "old, one delivery pending", ago(45*day))
	h.seed(tb, seeded{name: "old pending", event: "old, one delivery pending", status: delivery.StatusPending,
		created: ago(45 * day), attempts: 4})
	h.seed(tb, failed("old failed beside a pending one", "old, one delivery pending", ago(44*day), 1))

	h.event(tb, "old, redelivery pending", ago(40*day))
	h.seed(tb, failed("original of a pending redelivery", "old, redelivery pending", ago(40*day), 1))
	h.seed(tb, seeded{name: "pending redelivery", event: "old, redelivery pending", status: delivery.StatusPending,
		created: ago(day), attempts: 1, redeliveryOf: "original of a pending redelivery"})

	h.event(tb, "old, redelivered recently", ago(40*day))
	h.seed(tb, failed("original of a recent redelivery", "old, redelivered recently", ago(40*day), 1))
	h.seed(tb, seeded{name: "recent redelivery", event: "old, redelivered recently", status: delivery.StatusSucceeded,
		created: ago(day), finished: ago(day - time.Minute), attempts: 1, redeliveryOf: "original of a recent redelivery"})

	h.event(tb, "old, redelivered long ago", ago(50*day))
	h.seed(tb, failed("old original", "old, redelivered long ago", ago(50*day), 2))
	old := failed("old redelivery", "old, redelivered long ago", ago(45*day), 1)
	old.redeliveryOf = "old original"
	h.seed(tb, old)

	h.event(tb, "old, no subscribers", ago(40*day))
	h.event(tb, "at the cutoff, no subscribers", cutoff)
	h.event(tb, "recent, no subscribers", ago(day))
	return h
}

func TestDeleteExpired(t *testing.T) {
	t.Parallel()
	wantDeliveries := map[string]int{ // name → attempts
		"failed at the cutoff":             1,
		"succeeded 29 days ago":            1,
		"old pending":                      4,
		"original of a pending redelivery": 1,
		"pending redelivery":               1,
		"recent redelivery":                1,
	}
	wantEvents := []string{
		"at the cutoff, no subscribers",
		"old, finished at the cutoff",
		"old, finished recently",
		"old, one delivery pending",
		"old, redelivered recently",
		"old, redelivery pending",
		"recent, no subscribers",
	}
	// Gone: old succeeded (2 attempts), old cancelled (0), failed just
	// before the cutoff (3), old failed beside a pending one (1), original
	// of a recent redelivery (1), old original (2), old redelivery (1); and
	// the events all finished long ago, finished just before the cutoff,
	// redelivered long ago, no subscribers.
	wantDeleted := repo.Deleted{Deliveries: 7, Attempts: 10, Events: 4}

	// Eight deliveries and nine events are older than the cutoff, so
	// every size but the default (0) needs several batches, some of them
	// ending on a row that is kept.
	for _, size := range []int{1, 2, 3, 8, 0} {
		t.Run(fmt.Sprintf("batches of %d", size), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := testclock.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
			h := seedRetentionHistory(t, clock.Now())
			f := h.f
			pendingBefore := h.pendingRows(t)
			r := repo.Retention{Before: clock.Now().Add(-30 * day), BatchSize: size}

			got, err := f.store.DeleteExpired(ctx, r)
			if err != nil {
				t.Fatalf("DeleteExpired: %v", err)
			}
			if diff := cmp.Diff(wantDeleted, got); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
			deliveries, events := h.remaining(t)
			if diff := cmp.Diff(wantDeliveries, deliveries); diff != "" {
				t.Errorf("deliveries left, with their attempts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantEvents, events); diff != "" {
				t.Errorf("events left (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(pendingBefore, h.pendingRows(t)); diff != "" {
				t.Errorf("pending delivery rows were written (-before +after):\n%s", diff)
			}
			if of := h.redeliveryOf(t, "pending redelivery"); of != "original of a pending redelivery" {
				t.Errorf("pending redelivery's redelivery_of = %q, want its original", of)
			}
			if of := h.redeliveryOf(t, "recent redelivery"); of != "" {
				t.Errorf("recent redelivery's redelivery_of = %q, want NULL once its original is gone", of)
			}

			// A second run finds nothing more.
			got, err = f.store.DeleteExpired(ctx, r)
			if err != nil || got != (repo.Deleted{}) {
				t.Errorf("second DeleteExpired = %+v, %v; want nothing deleted", got, err)
			}
			// A month later the rest has aged too, except what is pending,
			// the original of a pending redelivery, and their events.
			clock.Advance(30 * day)
			got, err = f.store.DeleteExpired(ctx, repo.Retention{Before: clock.Now().Add(-30 * day), BatchSize: size})
			if diff := cmp.Diff(repo.Deleted{Deliveries: 3, Attempts: 3, Events: 5}, got); diff != "" || err != nil {
				t.Errorf("DeleteExpired a month later = %v (-want +got):\n%s", err, diff)
			}
			deliveries, events = h.remaining(t)
			want := map[string]int{"old pending": 4, "pending redelivery": 1, "original of a pending redelivery": 1}
			if diff := cmp.Diff(want, deliveries); diff != "" {
				t.Errorf("deliveries left a month later (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"old, one delivery pending", "old, redelivery pending"}, events); diff != "" {
				t.Errorf("events left a month later (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeleteExpiredSkipsRowsOthersHold: an old delivery or event that a
// concurrent insert's foreign-key check holds FOR KEY SHARE (a redelivery
// of it under way) is passed over at once, not waited for, and goes on a
// later run.
func TestDeleteExpiredSkipsRowsOthersHold(t *testing.T) {
	t.Parallel()
	h, now := oldEvent(t)
	f := h.f
	h.seed(t, failed("held delivery", "old event", now.Add(-40*day), 2))
	h.seed(t, seeded{name: "free delivery", event: "old event", status: delivery.StatusSucceeded,
		created: now.Add(-40 * day), finished: now.Add(-39 * day), attempts: 1})
	h.event(t, "held event", now.Add(-40*day))
	h.event(t, "free event", now.Add(-40*day))

	tx, err := f.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []struct{ table, name string }{{"deliveries", "held delivery"}, {"events", "held event"}} {
		if _, err := tx.Exec(`SELECT 1 FROM `+q.table+` WHERE id = $1 FOR KEY SHARE`, h.ids[q.name]); err != nil {
			t.Fatal(err)
		}
	}
	// Waiting on a lock would run into this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := repo.Retention{Before: now.Add(-30 * day), BatchSize: 1}
	got, err := f.store.DeleteExpired(ctx, r)
	if err != nil {
		t.Fatalf("DeleteExpired while rows are held: %v", err)
	}
	if diff := cmp.Diff(repo.Deleted{Deliveries: 1, Attempts: 1, Events: 1}, got); diff != "" {
		t.Errorf("deleted while rows are held (-want +got):\n%s", diff)
	}
	deliveries, events := h.remaining(t)
	if diff := cmp.Diff([]any{map[string]int{"held delivery": 2}, []string{"held event", "old event"}}, []any{deliveries, events}); diff != "" {
		t.Errorf("left while rows are held (-want +got):\n%s", diff)
	}

	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err = f.store.DeleteExpired(ctx, r)
	if diff := cmp.Diff(repo.Deleted{Deliveries: 1, Attempts: 2, Events: 2}, got); diff != "" || err != nil {
		t.Errorf("DeleteExpired after release = %v (-want +got):\n%s", err, diff)
	}
}

func TestDeleteExpiredStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	h, now := oldEvent(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := h.f.store.DeleteExpired(ctx, repo.Retention{Before: now})
	if !errors.Is(err, context.Canceled) || got != (repo.Deleted{}) {
		t.Errorf("DeleteExpired on a cancelled context = %+v, %v; want nothing deleted and context.Canceled", got, err)
	}
	if _, events := h.remaining(t); len(events) != 1 {
		t.Errorf("events left = %v, want the old event", events)
	}
}

// TestRedeliverOfADeliveryRetentionDeletes: a redelivery whose original is
// deleted (as a retention batch does) between Redeliver's read and its
// foreign-key check answers ErrNotFound, as for any delivery that is gone.
func TestRedeliverOfADeliveryRetentionDeletes(t *testing.T) {
	t.Parallel()
	h, now := oldEvent(t)
	h.seed(t, failed("old", "old event", now.Add(-40*day), 1))

	retention, err := h.f.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer retention.Rollback()
	if _, err := retention.Exec(`DELETE FROM delivery_attempts WHERE delivery_id = $1`, h.ids["old"]); err != nil {
		t.Fatal(err)
	}
	if _, err := retention.Exec(`DELETE FROM deliveries WHERE id = $1`, h.ids["old"]); err != nil {
		t.Fatal(err)
	}
	var redeliverErr error
	var wg sync.WaitGroup
	wg.Go(func() { _, redeliverErr = h.f.store.Redeliver(context.Background(), h.ws, h.ids["old"]) })
	// Redeliver has read the delivery (the delete is not committed) and
	// waits in its foreign-key check for the deleting transaction.
	waitLockWaiters(t, h.f.db, "the deleted delivery", 1)
	if err := retention.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(redeliverErr, repo.ErrNotFound) {
		t.Errorf("Redeliver of a delivery deleted meanwhile = %v, want ErrNotFound", redeliverErr)
	}
	if n := h.f.mustCount(t, `SELECT count(*) FROM deliveries`); n != 0 {
		t.Errorf("%d deliveries after the failed redelivery, want 0", n)
	}
}

// TestRetentionUsesItsIndexes: with thousands of deliveries and events
// stored, every retention statement, and the foreign-key actions its
// deletes fire, reads its rows through an index, as the service's
// connections (enable_seqscan off) must be able to.
func TestRetentionUsesItsIndexes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	testfactory.SeedHistory(t, f.db, ws.ID, hook.ID, 5000, 10*time.Minute)
	dbtest.Analyze(t, f.db)
	before, start, ids := time.Now().Add(-7*day), time.Time{}, pq.StringArray{uuid.NewString(), uuid.NewString()}
	for _, q := range []struct {
		name, sql string
		args      []any
		index     string // the index the statement must walk, if any
	}{
		{"lock finished deliveries", repo.LockFinishedSQL, []any{before, start, uuid.Nil.String(), 500}, "deliveries_retention"},
		{"delete finished deliveries", repo.DeleteFinishedSQL, []any{ids}, "deliveries_redelivery_of"},
		{"read old events", repo.EventsPageSQL, []any{before, start, uuid.Nil.String(), 500}, "events_retention"},
		{"lock events", repo.LockEventsSQL, []any{ids}, "deliveries_event"},
		{"delete events", repo.DeleteEventsSQL, []any{ids}, "deliveries_event"},
		// What the foreign keys do for each deleted delivery and event.
		{"redelivery_of SET NULL", `UPDATE ONLY deliveries SET redelivery_of = NULL WHERE redelivery_of = $1`, []any{ids[0]}, "deliveries_redelivery_of"},
		{"attempts CASCADE", `DELETE FROM ONLY delivery_attempts WHERE delivery_id = $1`, []any{ids[0]}, "delivery_attempts_pkey"},
		{"deliveries of an event CASCADE", `DELETE FROM ONLY deliveries WHERE event_id = $1`, []any{ids[0]}, "deliveries_event"},
	} {
		t.Run(q.name, func(t *testing.T) {
			nodes, raw := mustPlan(t, f.db, q.sql, q.args...)
			used := false
			for _, n := range nodes {
				if strings.Contains(n.Type, "Seq Scan") {
					t.Errorf("scans the whole %s table:\n%s", n.Relation, raw)
				}
				used = used || n.Index == q.index
			}
			if !used {
				t.Errorf("does not use %s:\n%s", q.index, raw)
			}
		})
	}
}

// mustPlan is the plan of a statement as the service's connections make it
// (sequential scans off), as a flat list of its nodes and as EXPLAIN wrote it.
func mustPlan(tb testing.TB, db *sqlx.DB, query string, args ...any) ([]planNode, []byte) {
	tb.Helper()
	tx, err := db.Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL enable_seqscan = off`); err != nil {
		tb.Fatal(err)
	}
	var raw []byte
	if err := tx.Get(&raw, `EXPLAIN (FORMAT JSON) `+query, args...); err != nil {
		tb.Fatalf("explain: %v", err)
	}
	var plan []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &plan); err != nil {
		tb.Fatal(err)
	}
	return plan[0].Plan.all(), raw
}
