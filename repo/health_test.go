package repo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// health reads a webhook's health columns straight from its row, tombstones
// included. A webhook without a disabled reason must store NULL, not an
// empty one: the fleet gauge counts the reasons that are not NULL.
func (f *fixture) health(tb testing.TB, webhookID string) delivery.Health {
	tb.Helper()
	var h delivery.Health
	var reason *string
	err := f.db.QueryRow(`SELECT active, failure_count, consecutive_failures, last_success_at, last_failure_at,
		failing_since, disabled_reason, disabled_at FROM webhooks WHERE id = $1`, webhookID).Scan(&h.Active, &h.FailureCount,
		&h.ConsecutiveFailures, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince, &reason, &h.DisabledAt)
	if err != nil {
		tb.Fatalf("read webhook health %s: %v", webhookID, err)
	}
	if reason != nil {
		if *reason == "" {
			tb.Errorf("webhook %s stores an empty disabled reason, not NULL", webhookID)
		}
		h.DisabledReason = *reason
	}
	return h
}

func TestRecordAttemptHealthTimestamps(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	t0 := pgTime(time.Now().Add(-time.Hour))
	d := f.mustDeliveries(t, 2)

	steps := []struct {
		name   string
		result repo.AttemptResult
		want   delivery.Health
	}{
		{"first failure starts the streak", failure(d[0], 1, t0), delivery.Health{
			Active: true, FailureCount: 1, ConsecutiveFailures: 1,
			LastFailureAt: new(t0), FailingSince: new(t0),
		}},
		{"second failure keeps the streak's start", failure(d[0], 2, t0.Add(time.Minute)), delivery.Health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 2,
			LastFailureAt: new(t0.Add(time.Minute)), FailingSince: new(t0),
		}},
		{"success ends the streak", success(d[0], 3, t0.Add(2*time.Minute)), delivery.Health{
			Active: true, FailureCount: 2, ConsecutiveFailures: 0,
			LastSuccessAt: new(t0.Add(2 * time.Minute)), LastFailureAt: new(t0.Add(time.Minute)),
		}},
		{"a new failure starts a new streak", failure(d[1], 1, t0.Add(3*time.Minute)), delivery.Health{
			Active: true, FailureCount: 3, ConsecutiveFailures: 1,
			LastSuccessAt: new(t0.Add(2 * time.Minute)), LastFailureAt: new(t0.Add(3 * time.Minute)),
			FailingSince: new(t0.Add(3 * time.Minute)),
		}},
	}
	for _, s := range steps {
		if rec := f.record(t, s.result); rec.Disabled {
			t.Errorf("%s: Recorded.Disabled = true without a disable policy", s.name)
		}
		if diff := cmp.Diff(s.want, f.health(t, f.hook.ID)); diff != "" {
			t.Errorf("%s: webhook health (-want +got):\n%s", s.name, diff)
		}
	}

	// Store.Webhook shows the same columns.
	w, err := f.store.Webhook(context.Background(), f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(steps[len(steps)-1].want, w.Health); diff != "" {
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
			f := f.withHook(t, tt.name)
			id := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
			want := delivery.Health{Active: true}
			for i, rel := range tt.failures {
				at := now.Add(rel)
				r := failure(id, i+1, at)
				r.AutoDisable = tt.policy
				if rec := f.record(t, r); rec.Disabled != (i+1 == tt.disabledBy) {
					t.Errorf("failure %d: Recorded.Disabled = %v, want %v", i+1, rec.Disabled, i+1 == tt.disabledBy)
				}
				want.FailureCount++
				want.ConsecutiveFailures++
				want.LastFailureAt = new(at)
				if i == 0 {
					want.FailingSince = new(at)
				}
				if i+1 == tt.disabledBy {
					want.Active, want.DisabledReason, want.DisabledAt = false, "failing", new(at)
				}
			}
			if diff := cmp.Diff(want, f.health(t, f.hook.ID)); diff != "" {
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
	f := setupHook(t)
	t0 := pgTime(time.Now().Add(-time.Hour))
	ids := f.mustDeliveries(t, 4)
	streak, tests := ids[0], ids[1:]
	f.record(t, failure(streak, 1, t0))
	want := f.health(t, f.hook.ID)

	policy := delivery.AutoDisable{MinFailures: 1}
	for i, r := range []repo.AttemptResult{
		{StatusCode: 500, Error: "receiver answered 500", NewStatus: delivery.StatusFailed, AutoDisable: policy},
		{StatusCode: 410, Error: "receiver answered 410 Gone", NewStatus: delivery.StatusFailed, DisableReason: "gone"},
		{StatusCode: 200, Succeeded: true, NewStatus: delivery.StatusSucceeded},
	} {
		r.DeliveryID, r.Attempt, r.At, r.ExcludeFromHealth = tests[i], 1, t0.Add(time.Duration(i+1)*time.Minute), true
		if rec := f.record(t, r); rec.Disabled {
			t.Errorf("attempt %d (%d) disabled the webhook", i, r.StatusCode)
		}
		if d := f.mustGetDelivery(t, f.ws.ID, r.DeliveryID); d.Status != r.NewStatus || d.Attempts != 1 {
			t.Errorf("attempt %d: delivery %s after %d attempts, want %s after 1", i, d.Status, d.Attempts, r.NewStatus)
		}
		if diff := cmp.Diff(want, f.health(t, f.hook.ID)); diff != "" {
			t.Errorf("attempt %d (%d) changed the webhook's health (-want +got):\n%s", i, r.StatusCode, diff)
		}
	}
}

// gone is a 410 Gone: the delivery fails for good and the webhook is
// disabled at once.
func gone(deliveryID string, at time.Time) repo.AttemptResult {
	return repo.AttemptResult{DeliveryID: deliveryID, Attempt: 1, StatusCode: 410, Error: "receiver answered 410 Gone",
		At: at, NewStatus: delivery.StatusFailed, DisableReason: delivery.DisabledGone}
}

func TestRecordAttemptDisableReason(t *testing.T) {
	t.Parallel()
	f := setup(t)
	at := pgTime(time.Now())

	t.Run("gone disables at once, before any auto-disable policy", func(t *testing.T) {
		t.Parallel()
		f := f.withHook(t, "gone")
		d := f.mustDeliveries(t, 2)
		r := gone(d[0], at)
		r.AutoDisable = delivery.AutoDisable{After: time.Hour, MinFailures: 100}
		if rec := f.record(t, r); !rec.Disabled {
			t.Error("Recorded.Disabled = false for a gone failure, want true")
		}
		want := delivery.Health{
			FailureCount: 1, ConsecutiveFailures: 1, LastFailureAt: new(at), FailingSince: new(at),
			DisabledReason: "gone", DisabledAt: new(at),
		}
		if diff := cmp.Diff(want, f.health(t, f.hook.ID)); diff != "" {
			t.Errorf("webhook health (-want +got):\n%s", diff)
		}

		// A delivery already in flight fails later: the webhook stays
		// disabled as it was, and this attempt did not disable it.
		later := at.Add(time.Second)
		if rec := f.record(t, gone(d[1], later)); rec.Disabled {
			t.Error("Recorded.Disabled = true for a webhook that was already disabled")
		}
		want.FailureCount, want.ConsecutiveFailures, want.LastFailureAt = 2, 2, new(later)
		if diff := cmp.Diff(want, f.health(t, f.hook.ID)); diff != "" {
			t.Errorf("webhook health after a second gone (-want +got):\n%s", diff)
		}
	})

	t.Run("a webhook the customer switched off keeps no reason", func(t *testing.T) {
		t.Parallel()
		f := f.withHook(t, "switched off")
		id := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
		off := false
		if _, err := f.store.UpdateWebhook(context.Background(), f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		if rec := f.record(t, gone(id, at)); rec.Disabled {
			t.Error("Recorded.Disabled = true for an inactive webhook")
		}
		if h := f.health(t, f.hook.ID); h.Active || h.DisabledReason != "" || h.DisabledAt != nil {
			t.Errorf("health = %+v, want inactive without a disabled reason or time", h)
		}
	})

	t.Run("a success never disables", func(t *testing.T) {
		t.Parallel()
		f := f.withHook(t, "success")
		r := success(f.mustDelivery(t, newEvent(f.ws.ID, "post.created")), 1, at)
		r.AutoDisable = delivery.AutoDisable{MinFailures: 1}
		if rec := f.record(t, r); rec.Disabled {
			t.Error("Recorded.Disabled = true for a success")
		}
		if h := f.health(t, f.hook.ID); !h.Active || h.DisabledReason != "" {
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
		{"two 410s", gone, "gone"},
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
			f := f.withHook(t, tt.name)
			ids := f.mustDeliveries(t, 2)

			tx, err := f.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // a no-op after commit
			if _, err := tx.Exec(`SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE`, f.hook.ID); err != nil {
				t.Fatal(err)
			}
			at := pgTime(time.Now())
			recs := make([][]repo.Recorded, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() {
					recs[i], errs[i] = f.store.RecordAttempts(ctx, []repo.AttemptResult{tt.result(id, at)})
				})
			}
			waitLockWaiters(t, f.db, f.hook.ID, len(ids))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			disabled := 0
			for i := range ids {
				if errs[i] != nil || !recs[i][0].Stored {
					t.Fatalf("RecordAttempts %d = %+v, %v", i, recs[i], errs[i])
				}
				if recs[i][0].Disabled {
					disabled++
				}
			}
			if disabled != 1 {
				t.Errorf("%d of 2 concurrent failures report disabling the webhook, want exactly 1", disabled)
			}
			h := f.health(t, f.hook.ID)
			if h.Active || h.DisabledReason != tt.reason || h.ConsecutiveFailures != 2 || h.FailureCount != 2 {
				t.Errorf("health = %+v, want disabled as %q after 2 failures", h, tt.reason)
			}
		})
	}
}
