package repo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// A failure streak as the webhook's page reads it, step by step: the last
// failure is the streak's latest failed attempt even when an older
// delivery made it, pending deliveries count without the test event's, and
// what ended without success since the streak began is what a recovery
// re-sends.
func TestWebhookTrouble(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	created := pgTime(time.Now()).UTC()
	newest := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ev := newEvent(f.ws.ID, "post.created")
			ev.CreatedAt = created.Add(time.Duration(i) * time.Millisecond)
			ids[i] = f.mustDelivery(t, ev)
		}
		return ids
	}
	d := newest(3) // oldest first; d[2] never gets an attempt
	test := newEvent(f.ws.ID, delivery.TestEventType)
	test.CreatedAt = created
	if _, err := f.store.CreateTestEvent(ctx, test, f.hook.ID); err != nil {
		t.Fatal(err)
	}
	t0 := created.Add(time.Second)
	refused := failure(d[1], 1, t0.Add(5*time.Minute))
	refused.StatusCode, refused.Error = 0, "connection refused"
	gaveUp := failure(d[0], 2, t0.Add(10*time.Minute))
	gaveUp.StatusCode, gaveUp.Error, gaveUp.NewStatus = 503, "receiver answered 503", delivery.StatusFailed
	// A delivery without an attempt is due at its creation.
	d1Due, d2Due := created.Add(time.Millisecond), created.Add(2*time.Millisecond)

	steps := []struct {
		name   string
		record []repo.AttemptResult
		want   repo.Trouble
	}{
		{"nothing attempted: all three wait, the test event aside", nil,
			repo.Trouble{Pending: 3, NextAttemptAt: &created}},
		{"the first failure starts the streak", []repo.AttemptResult{failure(d[0], 1, t0)},
			repo.Trouble{LastFailure: &repo.FailedAttempt{DeliveryID: d[0], StatusCode: new(500), Error: new("receiver answered 500"), At: t0},
				Pending: 3, NextAttemptAt: &d1Due}},
		{"a newer delivery without an answer fails later", []repo.AttemptResult{refused},
			repo.Trouble{LastFailure: &repo.FailedAttempt{DeliveryID: d[1], Error: new("connection refused"), At: refused.At},
				Pending: 3, NextAttemptAt: &d2Due}},
		{"the older delivery gives up last: its attempt is the last failure, and it is to recover", []repo.AttemptResult{gaveUp},
			repo.Trouble{LastFailure: &repo.FailedAttempt{DeliveryID: d[0], StatusCode: new(503), Error: new("receiver answered 503"), At: gaveUp.At},
				Pending: 2, NextAttemptAt: &d2Due, RecoverSince: &created, Ended: 1}},
		{"a success ends the streak: no failure of it, nothing to recover", []repo.AttemptResult{success(d[2], 1, t0.Add(11*time.Minute))},
			repo.Trouble{Pending: 1, NextAttemptAt: new(refused.NextAttemptAt)}},
	}
	for _, s := range steps {
		for _, r := range s.record {
			f.record(t, r)
		}
		got, err := f.store.WebhookTrouble(ctx, f.ws.ID, f.hook.ID)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: trouble (-want +got):\n%s", s.name, diff)
		}
	}
}

// A recovery of a streak starts at the oldest delivery the streak ended,
// created before the streak began, and counts every ended delivery since.
func TestWebhookTroubleRecoversFromTheOldestEnded(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	created := pgTime(time.Now().Add(-time.Hour)).UTC()
	ev := newEvent(f.ws.ID, "post.created")
	ev.CreatedAt = created
	old := f.mustDelivery(t, ev)
	fresh := f.mustDeliveries(t, 2)
	t0 := pgTime(time.Now()).UTC().Add(time.Second)
	f.record(t, failure(fresh[0], 1, t0))
	exhausted := failure(old, 1, t0.Add(time.Minute))
	exhausted.NewStatus = delivery.StatusFailed
	f.record(t, exhausted)
	if err := f.store.CancelDelivery(context.Background(), fresh[1]); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.WebhookTrouble(context.Background(), f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RecoverSince == nil || !got.RecoverSince.Equal(created) || got.Ended != 2 || got.Pending != 1 {
		t.Errorf("trouble = recover since %v, %d ended, %d pending; want since %s, the failed and the cancelled, 1 pending",
			got.RecoverSince, got.Ended, got.Pending, created)
	}
}

func TestWebhookTroubleOfAnotherWorkspace(t *testing.T) {
	t.Parallel()
	f, ws, other := setupWorkspaces(t)
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	for name, ids := range map[string][2]string{
		"another workspace's webhook": {other.ID, hook.ID},
		"an unknown webhook":          {ws.ID, uuid.NewString()},
	} {
		if _, err := f.store.WebhookTrouble(context.Background(), ids[0], ids[1]); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if err := f.store.DeleteWebhook(context.Background(), ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.WebhookTrouble(context.Background(), ws.ID, hook.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("a deleted webhook: err = %v, want ErrNotFound", err)
	}
}
