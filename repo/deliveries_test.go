package repo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestDeliveriesPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws, hook, other := f.ws, f.hook, f.mustWorkspace(t, "other")
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true}) // its deliveries must not leak in

	base := pgTime(time.Now().Add(-time.Hour))
	type key struct {
		CreatedAt time.Time
		ID        string
	}
	var all []key
	add := func(at time.Time) {
		ev := newEvent(ws.ID, "post.created")
		ev.CreatedAt = at
		for _, id := range f.mustEvent(t, ev).DeliveryIDs {
			if d := f.mustGetDelivery(t, ws.ID, id); d.WebhookID == hook.ID {
				all = append(all, key{at, id})
			}
		}
	}
	for i := range 5 {
		add(base.Add(time.Duration(i) * time.Second))
	}
	// Three deliveries created in the same microsecond are ordered by id.
	for range 3 {
		add(base.Add(10 * time.Second))
	}
	// Newest first, ties broken by id descending.
	slices.SortFunc(all, func(a, b key) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var want []string
	for _, k := range all {
		want = append(want, k.ID)
	}

	var got []string
	var after *repo.Cursor
	pages := 0
	for {
		page, err := f.store.Deliveries(ctx, ws.ID, hook.ID, repo.DeliveryFilter{}, after, 3)
		if err != nil {
			t.Fatalf("Deliveries: %v", err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d, want at most 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		pages++
		got = append(got, deliveryIDs(page)...)
		last := page[len(page)-1]
		after = &repo.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged delivery ids (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3 for 8 deliveries in pages of 3", pages)
	}

	// Back up from the oldest: each newer page is the three just above the
	// cursor, still newest first, ties and all.
	var back []string
	before := &repo.Cursor{CreatedAt: all[len(all)-1].CreatedAt, ID: all[len(all)-1].ID, Newer: true}
	for {
		page, err := f.store.Deliveries(ctx, ws.ID, hook.ID, repo.DeliveryFilter{}, before, 3)
		if err != nil {
			t.Fatalf("Deliveries newer: %v", err)
		}
		if len(page) == 0 {
			break
		}
		back = append(deliveryIDs(page), back...)
		first := page[0]
		before = &repo.Cursor{CreatedAt: first.CreatedAt, ID: first.ID, Newer: true}
		if len(back) > len(want) {
			t.Fatal("newer pagination does not end")
		}
	}
	if diff := cmp.Diff(want[:len(want)-1], back); diff != "" {
		t.Errorf("paged newer delivery ids (-want +got):\n%s", diff)
	}

	if ds, err := f.store.Deliveries(ctx, other.ID, hook.ID, repo.DeliveryFilter{}, nil, 10); err != nil || len(ds) != 0 {
		t.Errorf("Deliveries from another workspace = %d rows, %v; want none", len(ds), err)
	}
	if _, err := f.store.Delivery(ctx, other.ID, want[0]); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Delivery from another workspace = %v, want ErrNotFound", err)
	}
}

func deliveryIDs(ds []repo.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws, hook, other := f.ws, f.hook, f.mustWorkspace(t, "other")
	ev := newEvent(ws.ID, "post.created")
	ev.CreatedAt = pgTime(time.Now().Add(-time.Hour))
	orig := f.mustDelivery(t, ev)
	at := pgTime(time.Now().Add(-30 * time.Minute))
	f.record(t, repo.AttemptResult{
		DeliveryID: orig, Attempt: 1, StatusCode: 500, Error: "boom", At: at, NewStatus: delivery.StatusFailed,
	})
	origBefore := f.mustGetDelivery(t, ws.ID, orig)

	before := time.Now()
	id, err := f.store.Redeliver(ctx, ws.ID, orig)
	if err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	d := f.mustGetDelivery(t, ws.ID, id)
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: hook.ID,
		RedeliveryOf: &orig, Status: delivery.StatusPending,
		ResponseBody: []byte{}, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("redelivery (-want +got):\n%s", diff)
	}
	if d.NextAttemptAt == nil || d.NextAttemptAt.Before(before.Add(-time.Minute)) || d.NextAttemptAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("redelivery next_attempt_at = %v, want about now", d.NextAttemptAt)
	}
	if diff := cmp.Diff(origBefore, f.mustGetDelivery(t, ws.ID, orig)); diff != "" {
		t.Errorf("original changed by redeliver (-want +got):\n%s", diff)
	}
	// A redelivery can itself be redelivered.
	if _, err := f.store.Redeliver(ctx, ws.ID, id); err != nil {
		t.Errorf("Redeliver of a redelivery: %v", err)
	}

	if _, err := f.store.Redeliver(ctx, other.ID, orig); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Redeliver from another workspace = %v, want ErrNotFound", err)
	}
	if _, err := f.store.Redeliver(ctx, ws.ID, uuid.NewString()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Redeliver of unknown id = %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Redeliver(ctx, ws.ID, orig); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Redeliver to a deleted webhook = %v, want ErrNotFound", err)
	}
}

func TestCancelDeliveryLeavesFinishedAlone(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	id := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
	at := pgTime(time.Now().Add(-time.Hour))
	f.record(t, success(id, 1, at))

	if err := f.store.CancelDelivery(context.Background(), id); err != nil {
		t.Fatalf("CancelDelivery: %v", err)
	}
	if d := f.mustGetDelivery(t, f.ws.ID, id); d.Status != delivery.StatusSucceeded || d.FinishedAt == nil || !d.FinishedAt.Equal(at) {
		t.Errorf("CancelDelivery changed a finished delivery: status %s finished %v", d.Status, d.FinishedAt)
	}
}

func TestWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{URL: "https://example.test/in", Events: []string{"post.created"}, Active: true, Secret: "whsec_abc"})
	ev := newEvent(ws.ID, "post.created")
	id := f.mustDelivery(t, ev)
	unknown := uuid.NewString()

	want := map[string]repo.Work{id: {
		DeliveryID: id, Status: delivery.StatusPending,
		NextAttemptAt: &ev.CreatedAt,
		EventID:       ev.ID, EventType: "post.created", EventCreatedAt: ev.CreatedAt, Body: ev.Body,
		WebhookID: hook.ID, WebhookURL: "https://example.test/in", Secret: "whsec_abc", WebhookActive: true,
	}}
	got, err := f.store.Works(ctx, []string{id, unknown})
	if err != nil {
		t.Fatalf("Works: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Works of a delivery and an unknown one (-want +got):\n%s", diff)
	}

	active := false
	if _, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &active}); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	if w := testfactory.Work(t, f.store, id); w.WebhookActive || w.WebhookDeleted {
		t.Errorf("Work after deactivation = active %v deleted %v; want inactive, not deleted", w.WebhookActive, w.WebhookDeleted)
	}
}
