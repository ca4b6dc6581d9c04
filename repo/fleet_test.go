package repo_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

func TestFleetStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)

	h, err := f.store.FleetStatus(ctx)
	if err != nil {
		t.Fatalf("FleetStatus: %v", err)
	}
	if diff := cmp.Diff(repo.FleetStatus{}, h); diff != "" {
		t.Errorf("FleetStatus of an empty database (-want +got):\n%s", diff)
	}

	ws := f.mustWorkspace(t, "acme")
	failing := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"a"}, Active: true})
	recovered := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"b"}, Active: true})
	disabled := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"c"}, Active: true})
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"d"}, Active: false}) // paused by the customer: neither
	deleted := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"e"}, Active: true})

	fail := func(typ string, createdAgo time.Duration) string {
		ev := newEvent(ws.ID, typ)
		ev.CreatedAt = pgTime(time.Now().Add(-createdAgo))
		id := f.mustDelivery(t, ev)
		f.record(t, repo.AttemptResult{
			DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: pgTime(time.Now()),
			NewStatus: delivery.StatusPending, NextAttemptAt: time.Now().Add(time.Hour),
		})
		return id
	}
	fail("a", 0)
	fail("b", 0)
	rec := f.mustDelivery(t, newEvent(ws.ID, "b"))
	f.record(t, success(rec, 1, pgTime(time.Now())))
	fail("e", 0)
	if err := f.store.DeleteWebhook(ctx, ws.ID, deleted.ID); err != nil {
		t.Fatal(err)
	}
	// The store has no method that disables a webhook with a reason yet.
	if _, err := f.db.Exec(`UPDATE webhooks SET active = false, disabled_reason = 'too many failures' WHERE id = $1`, disabled.ID); err != nil {
		t.Fatal(err)
	}
	// The oldest overdue delivery is an hour late; a later one is not counted.
	overdue := newEvent(ws.ID, "a")
	overdue.CreatedAt = pgTime(time.Now().Add(-time.Hour))
	f.mustDelivery(t, overdue)
	later := newEvent(ws.ID, "a")
	later.CreatedAt = pgTime(time.Now().Add(-time.Minute))
	f.mustDelivery(t, later)

	h, err = f.store.FleetStatus(ctx)
	if err != nil {
		t.Fatalf("FleetStatus: %v", err)
	}
	if h.FailingWebhooks != 1 || h.DisabledWebhooks != 1 {
		t.Errorf("FleetStatus = failing %d disabled %d, want 1 and 1 (failing %s, recovered %s)",
			h.FailingWebhooks, h.DisabledWebhooks, failing.ID, recovered.ID)
	}
	if h.OutboxLag < time.Hour-time.Minute || h.OutboxLag > time.Hour+time.Minute {
		t.Errorf("OutboxLag = %v, want about 1h", h.OutboxLag)
	}
}
