package repo_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/repo"
)

func TestOverdueDeliveriesPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws := f.ws
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
