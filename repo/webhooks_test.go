package repo_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

// mustPatch applies a patch to the fixture's webhook.
func (f *hookFixture) mustPatch(tb testing.TB, p repo.WebhookPatch) repo.UpdatedWebhook {
	tb.Helper()
	w, err := f.store.UpdateWebhook(context.Background(), f.ws.ID, f.hook.ID, p)
	if err != nil {
		tb.Fatalf("UpdateWebhook: %v", err)
	}
	return w
}

// wantHealth checks the fixture's webhook's stored health; when says after what.
func (f *hookFixture) wantHealth(tb testing.TB, when string, want delivery.Health) {
	tb.Helper()
	if diff := cmp.Diff(want, f.health(tb, f.hook.ID)); diff != "" {
		tb.Errorf("stored health %s (-want +got):\n%s", when, diff)
	}
}

func TestUpdateWebhookReactivation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t0 := pgTime(time.Now().Add(-time.Hour))
	yes, no := true, false

	// failingHook is a webhook whose streak began at t0 and that a 410
	// disabled at t0+1m.
	failingHook := func(t *testing.T, name string) *hookFixture {
		t.Helper()
		f := f.withHook(t, name)
		d := f.mustDeliveries(t, 2)
		f.record(t, failure(d[0], 1, t0))
		if rec := f.record(t, gone(d[1], t0.Add(time.Minute))); !rec.Disabled {
			t.Fatal("the 410 did not disable the webhook")
		}
		return f
	}

	t.Run("re-activation resets the streak and returns its start", func(t *testing.T) {
		t.Parallel()
		f := failingHook(t, "reactivate")
		w := f.mustPatch(t, repo.WebhookPatch{Active: &yes})
		want := delivery.Health{Active: true, FailureCount: 2, LastFailureAt: new(t0.Add(time.Minute)), FailingSince: new(t0)}
		if diff := cmp.Diff(want, w.Health); diff != "" || !w.Reactivated {
			t.Errorf("returned webhook, reactivated %v (-want +got):\n%s", w.Reactivated, diff)
		}
		want.FailingSince = nil
		f.wantHealth(t, "after re-activation", want)
		// The streak really is over: the next failure starts a new one.
		next := pgTime(time.Now())
		f.record(t, failure(f.mustDelivery(t, newEvent(f.ws.ID, "post.created")), 1, next))
		if h := f.health(t, f.hook.ID); h.ConsecutiveFailures != 1 || h.FailingSince == nil || !h.FailingSince.Equal(next) {
			t.Errorf("after a new failure: consecutive %d since %v; want 1 since %v", h.ConsecutiveFailures, h.FailingSince, next)
		}
	})

	t.Run("other patches of a disabled webhook keep its state", func(t *testing.T) {
		t.Parallel()
		f := failingHook(t, "describe")
		before := f.health(t, f.hook.ID)
		desc := "still broken"
		w := f.mustPatch(t, repo.WebhookPatch{Description: &desc})
		if w.Active || w.FailingSince == nil || !w.FailingSince.Equal(t0) || w.Description != desc || w.Reactivated {
			t.Errorf("returned webhook active %v failing since %v description %q", w.Active, w.FailingSince, w.Description)
		}
		f.wantHealth(t, "after a description patch", before)
		// Switching it off again keeps the reason it was disabled for.
		f.mustPatch(t, repo.WebhookPatch{Active: &no})
		f.wantHealth(t, "after active=false", before)
	})

	t.Run("active=true on an active failing webhook keeps the streak", func(t *testing.T) {
		t.Parallel()
		f := f.withHook(t, "still active")
		d := f.mustDelivery(t, newEvent(f.ws.ID, "post.created"))
		f.record(t, failure(d, 1, t0))
		f.record(t, failure(d, 2, t0.Add(time.Minute)))
		before := f.health(t, f.hook.ID)
		w := f.mustPatch(t, repo.WebhookPatch{Active: &yes})
		if diff := cmp.Diff(before, w.Health); diff != "" || w.Reactivated {
			t.Errorf("returned webhook, reactivated %v (-want +got):\n%s", w.Reactivated, diff)
		}
		f.wantHealth(t, "after active=true", before)
	})

	t.Run("re-activating a webhook without a streak returns no start", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "switched")
		f := &hookFixture{fixture: f, ws: ws, hook: f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: false})}
		if w := f.mustPatch(t, repo.WebhookPatch{Active: &yes}); !w.Active || w.FailingSince != nil || !w.Reactivated {
			t.Errorf("returned active %v failing since %v reactivated %v, want active and no streak", w.Active, w.FailingSince, w.Reactivated)
		}
	})
}

// Turning a webhook off cancels, in the same transaction, its deliveries
// waiting for a later attempt; one due now may have an attempt under way,
// which must finish and be recorded, so it is the worker's to cancel. A
// test's goes to inactive webhooks too.
func TestUpdateWebhookTurningOffCancelsPending(t *testing.T) {
	t.Parallel()
	f := setupHook(t)
	ctx := context.Background()
	f.mustWebhook(t, f.ws.ID, repo.NewWebhook{Events: []string{"nps.submitted"}, Active: true}) // theirs goes to it
	ids := f.mustDeliveries(t, 4)
	waiting, due, done := ids[:2], ids[2], ids[3]
	for _, id := range waiting {
		f.record(t, failure(id, 1, pgTime(time.Now())))
	}
	f.record(t, success(done, 1, pgTime(time.Now())))
	theirs := f.mustDelivery(t, newEvent(f.ws.ID, "nps.submitted"))
	testID, err := f.store.CreateTestEvent(ctx, newEvent(f.ws.ID, "webhook.test"), f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.store.CountPending(ctx, f.ws.ID, f.hook.ID, 100); err != nil || n != 3 {
		t.Errorf("CountPending = %d, %v; want 3", n, err)
	}
	if n, err := f.store.CountPending(ctx, f.ws.ID, f.hook.ID, 1); err != nil || n != 1 {
		t.Errorf("CountPending up to 1 = %d, %v; want 1", n, err)
	}

	off := false
	if upd := f.mustPatch(t, repo.WebhookPatch{Active: &off}); upd.Cancelled != 2 || upd.Active {
		t.Fatalf("UpdateWebhook(off) = active %v, cancelled %d; want off, 2", upd.Active, upd.Cancelled)
	}
	want := map[string]delivery.Status{waiting[0]: "cancelled", waiting[1]: "cancelled", due: "pending", done: "succeeded", theirs: "pending", testID: "pending"}
	for id, status := range want {
		if d := f.mustGetDelivery(t, f.ws.ID, id); d.Status != status {
			t.Errorf("delivery %s is %s, want %s", id, d.Status, status)
		}
	}
	// Saving it off again cancels nothing more.
	if upd := f.mustPatch(t, repo.WebhookPatch{Active: &off}); upd.Cancelled != 0 {
		t.Errorf("second UpdateWebhook(off) cancelled %d", upd.Cancelled)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ws, other := setupWorkspaces(t)
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, Secret: "whsec_first"})
	id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	graceEnds := pgTime(time.Now().Add(time.Hour))
	w, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_second", graceEnds)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if w.ID != hook.ID || w.Secret != "whsec_second" || !w.UpdatedAt.After(hook.UpdatedAt) || w.PreviousSecretExpiresAt == nil || !w.PreviousSecretExpiresAt.Equal(graceEnds) {
		t.Errorf("RotateSecret returned id %s secret %q updated %v grace until %v; want the webhook with the new secret, updated", w.ID, w.Secret, w.UpdatedAt, w.PreviousSecretExpiresAt)
	}
	want := testfactory.StoredSecrets{Secret: "whsec_second", Previous: new("whsec_first"), PreviousExpiry: new(graceEnds)}
	if diff := cmp.Diff(want, testfactory.Secrets(t, f.db, hook.ID)); diff != "" {
		t.Errorf("stored secrets (-want +got):\n%s", diff)
	}
	if work := testfactory.Work(t, f.store, id); work.Secret != "whsec_second" || work.PreviousSecret != "whsec_first" {
		t.Errorf("Work during the grace period = secret %q previous %v; want the new secret and the old one", work.Secret, work.PreviousSecret)
	}

	// A second rotation whose grace period is already over: the previous
	// secret is the second one, and the worker no longer signs with it.
	ended := pgTime(time.Now().Add(-time.Second))
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_third", ended); err != nil {
		t.Fatal(err)
	}
	want = testfactory.StoredSecrets{Secret: "whsec_third", Previous: new("whsec_second"), PreviousExpiry: new(ended)}
	if diff := cmp.Diff(want, testfactory.Secrets(t, f.db, hook.ID)); diff != "" {
		t.Errorf("stored secrets after the second rotation (-want +got):\n%s", diff)
	}
	if work := testfactory.Work(t, f.store, id); work.Secret != "whsec_third" || work.PreviousSecret != "" {
		t.Errorf("Work after the grace period = secret %q previous %v; want only the new secret", work.Secret, work.PreviousSecret)
	}

	before := testfactory.Secrets(t, f.db, hook.ID)
	if _, err := f.store.RotateSecret(ctx, other.ID, hook.ID, "whsec_attacker", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret from another workspace = %v, want ErrNotFound", err)
	}
	if _, err := f.store.RotateSecret(ctx, ws.ID, uuid.NewString(), "whsec_x", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret of an unknown webhook = %v, want ErrNotFound", err)
	}
	if diff := cmp.Diff(before, testfactory.Secrets(t, f.db, hook.ID)); diff != "" {
		t.Errorf("refused rotations changed the secrets (-before +after):\n%s", diff)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_x", graceEnds); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("RotateSecret of a deleted webhook = %v, want ErrNotFound", err)
	}
}

func TestDeleteWebhookCancelsPendingDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupHook(t)
	ws, hook := f.ws, f.hook
	other := f.mustWorkspace(t, "other")
	keep := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.deleted"}, Active: true})

	ids := f.mustDeliveries(t, 3)
	done, pending := ids[0], ids[1:]
	at := pgTime(time.Now())
	f.record(t, success(done, 1, at))
	untouched := f.mustDelivery(t, newEvent(ws.ID, "post.deleted"))

	if err := f.store.DeleteWebhook(ctx, other.ID, hook.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("DeleteWebhook from another workspace = %v, want ErrNotFound", err)
	}
	if d := f.mustGetDelivery(t, ws.ID, pending[0]); d.Status != delivery.StatusPending {
		t.Fatalf("a refused delete changed delivery status to %s", d.Status)
	}

	before := time.Now()
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	for _, id := range pending {
		d := f.mustGetDelivery(t, ws.ID, id)
		if d.Status != delivery.StatusCancelled || d.NextAttemptAt != nil || d.FinishedAt == nil || d.FinishedAt.Before(before.Add(-time.Second)) {
			t.Errorf("delivery after delete = status %s, next %v, finished %v; want cancelled, no next attempt, finished now",
				d.Status, d.NextAttemptAt, d.FinishedAt)
		}
	}
	if d := f.mustGetDelivery(t, ws.ID, done); d.Status != delivery.StatusSucceeded || d.FinishedAt == nil || !d.FinishedAt.Equal(at) {
		t.Errorf("finished delivery changed by delete: status %s finished %v", d.Status, d.FinishedAt)
	}
	if d := f.mustGetDelivery(t, ws.ID, untouched); d.Status != delivery.StatusPending {
		t.Errorf("another webhook's delivery = %s, want pending", d.Status)
	}

	if _, err := f.store.Webhook(ctx, ws.ID, hook.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Webhook after delete = %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("second DeleteWebhook = %v, want ErrNotFound", err)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, uuid.NewString()); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("DeleteWebhook of unknown id = %v, want ErrNotFound", err)
	}
	if active, secret := f.health(t, hook.ID).Active, testfactory.Secrets(t, f.db, hook.ID).Secret; active || secret != "" {
		t.Errorf("tombstone keeps active=%v secret=%q, want inactive and secret forgotten", active, secret)
	}
	if hooks, err := f.store.Webhooks(ctx, ws.ID); err != nil || len(hooks) != 1 || hooks[0].ID != keep.ID {
		t.Errorf("Webhooks after delete = %v, %v; want only %s", hooks, err, keep.ID)
	}
}

// TestDeleteWebhookForgetsPreviousSecret: deleting a webhook forgets its
// secret, and since migration 0003 a webhook may hold two.
func TestDeleteWebhookForgetsPreviousSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, Secret: "whsec_first"})
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_second", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if s := testfactory.Secrets(t, f.db, hook.ID); s.Secret != "" || s.Previous != nil {
		t.Errorf("deleted webhook still stores secret %q and previous secret %v", s.Secret, s.Previous)
	}
}

func TestCreateWebhookLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, ws, other := setupWorkspaces(t)
	const limit = 3
	in := repo.NewWebhook{URL: "https://receiver.example/hook", Events: []string{"post.created"}, Active: true, Secret: "s"}

	// Concurrent creations cannot overshoot the limit together.
	const callers = 10
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { _, errs[i] = f.store.CreateWebhook(ctx, ws.ID, in, limit) })
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, repo.ErrLimitReached):
			t.Errorf("CreateWebhook = %v, want nil or ErrLimitReached", err)
		}
	}
	if created != limit {
		t.Fatalf("%d webhooks created concurrently, want %d", created, limit)
	}

	// A deleted webhook frees its place; other workspaces are unaffected.
	hooks, err := f.store.Webhooks(ctx, ws.ID)
	if err != nil || len(hooks) != limit {
		t.Fatalf("Webhooks = %d, %v; want %d", len(hooks), err, limit)
	}
	if err := f.store.DeleteWebhook(ctx, ws.ID, hooks[0].ID); err != nil {
		t.Fatal(err)
	}
	in.Events = []string{"a"}
	if _, err := f.store.CreateWebhook(ctx, ws.ID, in, limit); err != nil {
		t.Errorf("CreateWebhook after a delete: %v", err)
	}
	if _, err := f.store.CreateWebhook(ctx, ws.ID, in, limit); !errors.Is(err, repo.ErrLimitReached) {
		t.Errorf("CreateWebhook past the limit = %v, want ErrLimitReached", err)
	}
	if _, err := f.store.CreateWebhook(ctx, other.ID, in, limit); err != nil {
		t.Errorf("CreateWebhook in another workspace: %v", err)
	}
}
