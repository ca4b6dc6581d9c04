package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// The recovery offer kept on a webhook widens while unused and is cleared
// when used or dismissed.
func TestRecoveryOffer(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	t0 := pgTime(time.Now().Add(-time.Hour))
	steps := []struct{ since, until time.Time }{{t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)}, {t0, t0.Add(15 * time.Minute)}}
	for _, s := range steps {
		if err := f.store.SetRecoveryOffer(ctx, f.ws.ID, f.hook.ID, s.since, s.until); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil || got.RecoverySince == nil || !got.RecoverySince.Equal(t0) || got.RecoveryUntil == nil || !got.RecoveryUntil.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("offer = %v to %v, %v; want %v to %v", got.RecoverySince, got.RecoveryUntil, err, t0, t0.Add(20*time.Minute))
	}
	if err := f.store.ClearRecoveryOffer(ctx, f.ws.ID, f.hook.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID); err != nil || got.RecoverySince != nil || got.RecoveryUntil != nil {
		t.Errorf("after clearing: %v to %v, %v", got.RecoverySince, got.RecoveryUntil, err)
	}
}

func TestRecoverWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws, hook, other := f.ws, f.hook, f.mustWorkspace(t, "other")
	sibling := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"comment.created"}, Active: true})
	since := pgTime(time.Now().Add(-time.Hour))
	until := since.Add(10 * time.Second)

	// deliver creates a delivery of the given type at since+offset and
	// brings it to the given status.
	deliver := func(typ string, offset time.Duration, status delivery.Status) string {
		t.Helper()
		ev := newEvent(ws.ID, typ)
		ev.CreatedAt = since.Add(offset)
		id := f.mustDelivery(t, ev)
		at := pgTime(time.Now())
		switch status {
		case delivery.StatusFailed:
			f.record(t, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: at, NewStatus: delivery.StatusFailed})
		case delivery.StatusSucceeded:
			f.record(t, success(id, 1, at))
		case delivery.StatusCancelled:
			if err := f.store.CancelDelivery(ctx, id); err != nil {
				t.Fatal(err)
			}
		case "retrying":
			f.record(t, failure(id, 1, at))
		}
		return id
	}
	deliver("post.created", -time.Microsecond, delivery.StatusFailed) // before the window
	atSince := deliver("post.created", 0, delivery.StatusFailed)
	cancelled := deliver("post.created", time.Second, delivery.StatusCancelled)
	deliver("post.created", 2*time.Second, delivery.StatusSucceeded)
	deliver("post.created", 3*time.Second, delivery.StatusPending)
	deliver("post.created", 4*time.Second, "retrying")
	lastFailed := deliver("post.created", 5*time.Second, delivery.StatusFailed)
	deliver("comment.created", 6*time.Second, delivery.StatusFailed) // the sibling webhook's
	deliver("post.created", 10*time.Second, delivery.StatusFailed)   // at until: after the window

	win := repo.RecoverWindow{Since: since, Until: until, Limit: 100}
	count := func(t *testing.T, workspaceID, webhookID string, win repo.RecoverWindow) int {
		t.Helper()
		n, err := f.store.CountRecoverable(ctx, workspaceID, webhookID, win)
		if err != nil {
			t.Fatalf("CountRecoverable: %v", err)
		}
		return n
	}
	if n := count(t, ws.ID, hook.ID, win); n != 3 {
		t.Errorf("CountRecoverable = %d, want 3 (failed at since, cancelled, failed)", n)
	}
	if n := count(t, ws.ID, hook.ID, repo.RecoverWindow{Since: since, Until: until, Limit: 2}); n != 2 {
		t.Errorf("CountRecoverable with limit 2 = %d, want 2", n)
	}
	if n := count(t, ws.ID, sibling.ID, win); n != 1 {
		t.Errorf("CountRecoverable of the sibling webhook = %d, want 1", n)
	}
	if n := count(t, other.ID, hook.ID, win); n != 0 {
		t.Errorf("CountRecoverable from another workspace = %d, want 0", n)
	}

	before := f.mustCount(t, `SELECT count(*) FROM deliveries`)
	if ids, err := f.store.Recover(ctx, other.ID, hook.ID, win); err != nil || len(ids) != 0 {
		t.Errorf("Recover from another workspace = %v, %v; want nothing", ids, err)
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != before {
		t.Errorf("Recover from another workspace created %d deliveries", n-before)
	}

	// The limit takes the oldest first.
	start := time.Now()
	ids, err := f.store.Recover(ctx, ws.ID, hook.ID, repo.RecoverWindow{Since: since, Until: until, Limit: 2})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	var sources []string
	for _, id := range ids {
		d := f.mustGetDelivery(t, ws.ID, id)
		if d.Status != delivery.StatusPending || d.Attempts != 0 || d.WebhookID != hook.ID ||
			d.NextAttemptAt == nil || d.NextAttemptAt.Before(start.Add(-time.Minute)) || d.NextAttemptAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("recovered delivery = %+v, want pending, due now, to the webhook", d)
		}
		if d.RedeliveryOf == nil {
			t.Errorf("recovered delivery %s names no source", d.ID)
			continue
		}
		src := f.mustGetDelivery(t, ws.ID, *d.RedeliveryOf)
		if src.EventID != d.EventID {
			t.Errorf("recovered delivery sends event %s, its source sent %s", d.EventID, src.EventID)
		}
		sources = append(sources, *d.RedeliveryOf)
	}
	if diff := cmp.Diff(sorted([]string{atSince, cancelled}), sorted(sources)); diff != "" {
		t.Errorf("recovered sources (-want +got):\n%s", diff)
	}
	for _, id := range []string{atSince, cancelled, lastFailed} {
		if d := f.mustGetDelivery(t, ws.ID, id); d.Status != delivery.StatusFailed && d.Status != delivery.StatusCancelled {
			t.Errorf("source %s is %s after Recover, want it left as it ended", id, d.Status)
		}
	}
	if n := f.mustCount(t, `SELECT count(*) FROM deliveries`); n != before+2 {
		t.Errorf("Recover created %d deliveries, want 2", n-before)
	}
}
