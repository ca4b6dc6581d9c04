package repo_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/delivery"
	"github.com/trackelio/webhooks/repo"
)

func TestDeliveriesPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
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

func TestOverdueDeliveriesPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	now := pgTime(time.Now())

	var want []repo.Overdue
	for i := range 5 {
		ev := newEvent(ws.ID, "post.created")
		ev.CreatedAt = now.Add(-time.Duration(10-i) * time.Minute)
		want = append(want, repo.Overdue{ID: f.mustDelivery(t, ev), NextAttemptAt: ev.CreatedAt})
	}
	// Two due at the same instant are ordered by id.
	tie := now.Add(-2 * time.Minute)
	var ties []repo.Overdue
	for range 2 {
		ev := newEvent(ws.ID, "post.created")
		ev.CreatedAt = tie
		ties = append(ties, repo.Overdue{ID: f.mustDelivery(t, ev), NextAttemptAt: tie})
	}
	slices.SortFunc(ties, func(a, b repo.Overdue) int { return strings.Compare(a.ID, b.ID) })
	want = append(want, ties...)

	// Not yet due, and due but finished: neither is listed.
	future := newEvent(ws.ID, "post.created")
	future.CreatedAt = now.Add(time.Minute)
	f.mustDelivery(t, future)
	finished := newEvent(ws.ID, "post.created")
	finished.CreatedAt = now.Add(-time.Hour)
	if err := f.store.CancelDelivery(ctx, f.mustDelivery(t, finished)); err != nil {
		t.Fatal(err)
	}

	var got []repo.Overdue
	var after *repo.Overdue
	for range 10 {
		page, err := f.store.OverdueDeliveries(ctx, now, after, 2)
		if err != nil {
			t.Fatalf("OverdueDeliveries: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, want at most 2", len(page))
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = &page[len(page)-1]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overdue deliveries (-want +got):\n%s", diff)
	}

	// dueBefore is exclusive and bounds the scan.
	page, err := f.store.OverdueDeliveries(ctx, want[1].NextAttemptAt, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:1], page); diff != "" {
		t.Errorf("overdue before the second due time (-want +got):\n%s", diff)
	}
}

// TestAdvisoryLocksExcludeSecondCaller: each maintenance lock admits one
// caller at a time, and the sweep's and retention's do not block each other.
func TestAdvisoryLocksExcludeSecondCaller(t *testing.T) {
	t.Parallel()
	type withLock func(context.Context, func(context.Context) error) (bool, error)
	f := setup(t)
	for _, tt := range []struct {
		name        string
		lock, other withLock
	}{
		{"sweep", f.store.WithSweepLock, f.store.WithRetentionLock},
		{"retention", f.store.WithRetentionLock, f.store.WithSweepLock},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			holding := make(chan struct{})
			release := make(chan struct{})
			var wg sync.WaitGroup
			var firstRan bool
			var firstErr error
			wg.Go(func() {
				firstRan, firstErr = tt.lock(ctx, func(context.Context) error {
					close(holding)
					<-release
					return nil
				})
			})
			<-holding

			secondCalled := false
			ran, err := tt.lock(ctx, func(context.Context) error {
				secondCalled = true
				return nil
			})
			if ran || err != nil || secondCalled {
				t.Errorf("second caller = %v, %v (fn called %v); want false, nil, fn not called", ran, err, secondCalled)
			}
			if ran, err := tt.other(ctx, func(context.Context) error { return nil }); !ran || err != nil {
				t.Errorf("the other lock meanwhile = %v, %v; want true, nil", ran, err)
			}
			close(release)
			wg.Wait()
			if !firstRan || firstErr != nil {
				t.Errorf("first caller = %v, %v; want true, nil", firstRan, firstErr)
			}

			// Released: the next caller runs, and fn's error comes back.
			boom := errors.New("boom")
			ran, err = tt.lock(ctx, func(context.Context) error { return boom })
			if !ran || !errors.Is(err, boom) {
				t.Errorf("after release = %v, %v; want true, boom", ran, err)
			}
			// An error inside fn still releases the lock.
			ran, err = tt.lock(ctx, func(context.Context) error { return nil })
			if !ran || err != nil {
				t.Errorf("after an error = %v, %v; want true, nil", ran, err)
			}
		})
	}
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	ev := newEvent(ws.ID, "post.created")
	ev.CreatedAt = pgTime(time.Now().Add(-time.Hour))
	orig := f.mustDelivery(t, ev)
	at := pgTime(time.Now().Add(-30 * time.Minute))
	f.mustRecord(t, repo.AttemptResult{
		DeliveryID: orig, Attempt: 1, StatusCode: 500, Error: "boom", At: at, NewStatus: delivery.StatusFailed,
	}, true)
	origBefore := f.mustGetDelivery(t, ws.ID, orig)

	before := time.Now()
	id, err := f.store.Redeliver(ctx, ws.ID, orig)
	if err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	d := f.mustGetDelivery(t, ws.ID, id)
	want := repo.Delivery{
		ID: id, EventID: ev.ID, EventType: "post.created", WebhookID: hook.ID,
		RedeliveryOf: sql.NullString{String: orig, Valid: true}, Status: delivery.StatusPending,
		ResponseBody: []byte{}, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("redelivery (-want +got):\n%s", diff)
	}
	if !d.NextAttemptAt.Valid || d.NextAttemptAt.Time.Before(before.Add(-time.Minute)) || d.NextAttemptAt.Time.After(time.Now().Add(time.Minute)) {
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
