package repo_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/trackelio/webhooks/delivery"
	"github.com/trackelio/webhooks/repo"
)

// health is a webhook's health columns (migration 0003 and the counters),
// read straight from the row.
type health struct {
	Active              bool           `db:"active"`
	FailureCount        int64          `db:"failure_count"`
	ConsecutiveFailures int            `db:"consecutive_failures"`
	LastSuccessAt       sql.NullTime   `db:"last_success_at"`
	LastFailureAt       sql.NullTime   `db:"last_failure_at"`
	FailingSince        sql.NullTime   `db:"failing_since"`
	DisabledReason      sql.NullString `db:"disabled_reason"`
	DisabledAt          sql.NullTime   `db:"disabled_at"`
}

func (f *fixture) health(tb testing.TB, webhookID string) health {
	tb.Helper()
	var h health
	err := f.db.Get(&h, `SELECT active, failure_count, consecutive_failures, last_success_at,
		last_failure_at, failing_since, disabled_reason, disabled_at FROM webhooks WHERE id = $1`, webhookID)
	if err != nil {
		tb.Fatalf("read webhook health %s: %v", webhookID, err)
	}
	return h
}

func mustRecorded(tb testing.TB, store *repo.Store, r repo.AttemptResult) repo.Recorded {
	tb.Helper()
	rec, err := store.RecordAttempt(context.Background(), r)
	if err != nil {
		tb.Fatalf("RecordAttempt(delivery %s, attempt %d): %v", r.DeliveryID, r.Attempt, err)
	}
	if !rec.Stored {
		tb.Fatalf("RecordAttempt(delivery %s, attempt %d) stored nothing", r.DeliveryID, r.Attempt)
	}
	return rec
}

// failure is a failed attempt with another attempt to come.
func failure(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 500, Error: "receiver answered 500",
		At: at, NewStatus: delivery.StatusPending, NextAttemptAt: at.Add(time.Minute),
	}
}

// success is a successful attempt.
func success(deliveryID string, attempt int, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{
		DeliveryID: deliveryID, Attempt: attempt, StatusCode: 200, At: at, Succeeded: true, NewStatus: delivery.StatusSucceeded,
	}
}

func validTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }

func TestRecordAttemptHealthTimestamps(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	t0 := pgTime(time.Now().Add(-time.Hour))
	d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	steps := []struct {
		name   string
		result repo.AttemptResult
		want   health
	}{
		{"first failure starts the streak", failure(d1, 1, t0), health{
			Active: true, FailureCount: 1, ConsecutiveFailures: 1,
			LastFailureAt: validTime(t0), FailingSince: validTime(t0),
		}},
		{"second failure keeps the streak's start", failure(d1, 2, t0.Add(time.Minute)), health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 2,
			LastFailureAt: validTime(t0.Add(time.Minute)), FailingSince: validTime(t0),
		}},
		{"success ends the streak", success(d1, 3, t0.Add(2*time.Minute)), health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 0,
			LastSuccessAt: validTime(t0.Add(2 * time.Minute)), LastFailureAt: validTime(t0.Add(time.Minute)),
		}},
		{"a new failure starts a new streak", failure(d2, 1, t0.Add(3*time.Minute)), health{
			Active: true, FailureCount: 3, ConsecutiveFailures: 1,
			LastSuccessAt: validTime(t0.Add(2 * time.Minute)), LastFailureAt: validTime(t0.Add(3 * time.Minute)),
			FailingSince: validTime(t0.Add(3 * time.Minute)),
		}},
	}
	for _, s := range steps {
		rec := mustRecorded(t, f.store, s.result)
		if rec.Disabled {
			t.Errorf("%s: Recorded.Disabled = true without a disable policy", s.name)
		}
		if diff := cmp.Diff(s.want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("%s: webhook health (-want +got):\n%s", s.name, diff)
		}
	}

	// Store.Webhook shows the same columns.
	w, err := f.store.Webhook(context.Background(), ws.ID, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := health{w.Active, w.FailureCount, w.ConsecutiveFailures, w.LastSuccessAt, w.LastFailureAt, w.FailingSince, w.DisabledReason, w.DisabledAt}
	if diff := cmp.Diff(steps[len(steps)-1].want, got); diff != "" {
		t.Errorf("Store.Webhook health (-want +got):\n%s", diff)
	}
}

func TestRecordAttemptAutoDisable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := pgTime(time.Now())
	policy := delivery.AutoDisable{After: time.Hour, MinFailures: 3}

	tests := []struct {
		name     string
		policy   delivery.AutoDisable
		failures []time.Duration // attempt times relative to now, in order
		// disabledBy is the 1-based failure that disables the webhook, 0 for none.
		disabledBy int
	}{
		{"old streak reaching the count", policy, []time.Duration{-2 * time.Hour, -90 * time.Minute, 0}, 3},
		{"streak exactly After old", policy, []time.Duration{-time.Hour, -30 * time.Minute, 0}, 3},
		{"count reached but streak too young", policy, []time.Duration{-59 * time.Minute, -30 * time.Minute, 0}, 0},
		{"old streak below the count", policy, []time.Duration{-3 * time.Hour, 0}, 0},
		{"disables once", policy, []time.Duration{-3 * time.Hour, -2 * time.Hour, -2 * time.Hour, -time.Minute}, 3},
		{"no policy", delivery.AutoDisable{}, []time.Duration{-72 * time.Hour, -48 * time.Hour, -24 * time.Hour, 0}, 0},
		{"After zero disables on the count alone", delivery.AutoDisable{MinFailures: 2}, []time.Duration{-time.Second, 0}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := f.mustWorkspace(t, tt.name)
			hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
			id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
			want := health{Active: true}
			for i, rel := range tt.failures {
				at := now.Add(rel)
				r := failure(id, i+1, at)
				r.AutoDisable = tt.policy
				rec := mustRecorded(t, f.store, r)
				if rec.Disabled != (i+1 == tt.disabledBy) {
					t.Errorf("failure %d: Recorded.Disabled = %v, want %v", i+1, rec.Disabled, i+1 == tt.disabledBy)
				}
				want.FailureCount++
				want.ConsecutiveFailures++
				want.LastFailureAt = validTime(at)
				if i == 0 {
					want.FailingSince = validTime(at)
				}
				if i+1 == tt.disabledBy {
					want.Active = false
					want.DisabledReason = sql.NullString{String: "failing", Valid: true}
					want.DisabledAt = validTime(at)
				}
			}
			if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
				t.Errorf("webhook health (-want +got):\n%s", diff)
			}
		})
	}
}

// A test event's attempts are stored like any other but are not the
// webhook's health: neither its failures nor a success move the counters,
// the streak or the timestamps, and a 410 or a long streak disables nothing.
func TestRecordAttemptExcludedFromHealth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	t0 := pgTime(time.Now().Add(-time.Hour))
	streak := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	tests := []string{f.mustDelivery(t, newEvent(ws.ID, "post.created")), f.mustDelivery(t, newEvent(ws.ID, "post.created")),
		f.mustDelivery(t, newEvent(ws.ID, "post.created"))}
	mustRecorded(t, f.store, failure(streak, 1, t0))
	want := f.health(t, hook.ID)

	policy := delivery.AutoDisable{MinFailures: 1}
	for i, r := range []repo.AttemptResult{
		{StatusCode: 500, Error: "receiver answered 500", NewStatus: delivery.StatusFailed, AutoDisable: policy},
		{StatusCode: 410, Error: "receiver answered 410 Gone", NewStatus: delivery.StatusFailed, DisableReason: "gone"},
		{StatusCode: 200, Succeeded: true, NewStatus: delivery.StatusSucceeded},
	} {
		r.DeliveryID, r.Attempt, r.At, r.ExcludeFromHealth = tests[i], 1, t0.Add(time.Duration(i+1)*time.Minute), true
		if rec := mustRecorded(t, f.store, r); rec.Disabled {
			t.Errorf("attempt %d (%d) disabled the webhook", i, r.StatusCode)
		}
		if d := f.mustGetDelivery(t, ws.ID, r.DeliveryID); d.Status != r.NewStatus || d.Attempts != 1 {
			t.Errorf("attempt %d: delivery %s after %d attempts, want %s after 1", i, d.Status, d.Attempts, r.NewStatus)
		}
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("attempt %d (%d) changed the webhook's health (-want +got):\n%s", i, r.StatusCode, diff)
		}
	}
}

func TestRecordAttemptDisableReason(t *testing.T) {
	t.Parallel()
	f := setup(t)
	at := pgTime(time.Now())

	t.Run("gone disables at once, before any auto-disable policy", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "gone")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		rec := mustRecorded(t, f.store, repo.AttemptResult{
			DeliveryID: d1, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone", At: at,
			NewStatus: delivery.StatusFailed, DisableReason: "gone", AutoDisable: delivery.AutoDisable{After: time.Hour, MinFailures: 100},
		})
		if !rec.Disabled {
			t.Error("Recorded.Disabled = false for a gone failure, want true")
		}
		want := health{
			FailureCount: 1, ConsecutiveFailures: 1, LastFailureAt: validTime(at), FailingSince: validTime(at),
			DisabledReason: sql.NullString{String: "gone", Valid: true}, DisabledAt: validTime(at),
		}
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("webhook health (-want +got):\n%s", diff)
		}

		// A delivery already in flight fails later: the webhook stays
		// disabled as it was, and this attempt did not disable it.
		later := at.Add(time.Second)
		r := repo.AttemptResult{
			DeliveryID: d2, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone", At: later,
			NewStatus: delivery.StatusFailed, DisableReason: "gone",
		}
		if rec := mustRecorded(t, f.store, r); rec.Disabled {
			t.Error("Recorded.Disabled = true for a webhook that was already disabled")
		}
		want.FailureCount, want.ConsecutiveFailures, want.LastFailureAt = 2, 2, validTime(later)
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("webhook health after a second gone (-want +got):\n%s", diff)
		}
	})

	t.Run("a webhook the customer switched off keeps no reason", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "switched off")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		off := false
		if _, err := f.store.UpdateWebhook(context.Background(), ws.ID, hook.ID, repo.WebhookPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		rec := mustRecorded(t, f.store, repo.AttemptResult{
			DeliveryID: id, Attempt: 1, StatusCode: 410, Error: "gone", At: at, NewStatus: delivery.StatusFailed, DisableReason: "gone",
		})
		if rec.Disabled {
			t.Error("Recorded.Disabled = true for an inactive webhook")
		}
		if h := f.health(t, hook.ID); h.Active || h.DisabledReason.Valid || h.DisabledAt.Valid {
			t.Errorf("health = %+v, want inactive without a disabled reason or time", h)
		}
	})

	t.Run("a success never disables", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "success")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		r := success(id, 1, at)
		r.AutoDisable = delivery.AutoDisable{MinFailures: 1}
		if rec := mustRecorded(t, f.store, r); rec.Disabled {
			t.Error("Recorded.Disabled = true for a success")
		}
		if h := f.health(t, hook.ID); !h.Active || h.DisabledReason.Valid {
			t.Errorf("health = %+v, want active", h)
		}
	})
}

// TestRecordAttemptConcurrentFailures has two workers record failures for
// two deliveries of the same webhook at the same moment, as happens when a
// webhook with several attempts in flight loses its endpoint. The webhook
// row is held so both statements start before either updates it. Exactly
// one of them disables the webhook and says so (the worker counts
// Recorded.Disabled in the disabled-webhooks metric and logs it), and the
// streak both of them make counts towards MinFailures.
func TestRecordAttemptConcurrentFailures(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		result func(id string, at time.Time) repo.AttemptResult
		reason string
	}{
		{"two 410s", func(id string, at time.Time) repo.AttemptResult {
			return repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone",
				At: at, NewStatus: delivery.StatusFailed, DisableReason: "gone"}
		}, "gone"},
		{"two failures reaching MinFailures", func(id string, at time.Time) repo.AttemptResult {
			r := failure(id, 1, at)
			r.AutoDisable = delivery.AutoDisable{MinFailures: 2}
			return r
		}, "failing"},
	}
	// Sequential: each case holds one of the fixture's two assertion
	// connections in a transaction and polls on the other.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ws := f.mustWorkspace(t, tt.name)
			hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
			ids := []string{f.mustDelivery(t, newEvent(ws.ID, "post.created")), f.mustDelivery(t, newEvent(ws.ID, "post.created"))}

			tx, err := f.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // a no-op after commit
			if _, err := tx.Exec(`SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, hook.ID); err != nil {
				t.Fatal(err)
			}
			at := pgTime(time.Now())
			recs := make([]repo.Recorded, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() {
					recs[i], errs[i] = f.store.RecordAttempt(ctx, tt.result(id, at))
				})
			}
			waitLockWaiters(t, f.db, hook.ID, len(ids))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			disabled := 0
			for i := range ids {
				if errs[i] != nil || !recs[i].Stored {
					t.Fatalf("RecordAttempt %d = %+v, %v", i, recs[i], errs[i])
				}
				if recs[i].Disabled {
					disabled++
				}
			}
			if disabled != 1 {
				t.Errorf("%d of 2 concurrent failures report disabling the webhook, want exactly 1", disabled)
			}
			h := f.health(t, hook.ID)
			if h.Active || h.DisabledReason.String != tt.reason || h.ConsecutiveFailures != 2 || h.FailureCount != 2 {
				t.Errorf("health = %+v, want disabled as %q after 2 failures", h, tt.reason)
			}
		})
	}
}

// waitLockWaiters waits until n sessions of the database wait for a lock.
// It must not run inside the transaction holding the lock: a transaction
// sees one snapshot of pg_stat_activity.
func waitLockWaiters(tb testing.TB, db *sqlx.DB, what string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			tb.Fatal(err)
		}
		if waiting == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d sessions waiting for the lock on %s", waiting, n, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
