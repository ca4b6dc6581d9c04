package repo_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/delivery"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/repo"
)

func TestUpdateWebhookReactivation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	t0 := pgTime(time.Now().Add(-time.Hour))
	yes, no := true, false

	// failingHook is a webhook whose streak began at t0 and that a 410
	// disabled at t0+1m.
	failingHook := func(t *testing.T, name string) (repo.Workspace, repo.Webhook) {
		t.Helper()
		ws := f.mustWorkspace(t, name)
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d1 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		d2 := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		mustRecorded(t, f.store, failure(d1, 1, t0))
		r := failure(d2, 1, t0.Add(time.Minute))
		r.NewStatus, r.StatusCode, r.DisableReason = delivery.StatusFailed, 410, "gone"
		if rec := mustRecorded(t, f.store, r); !rec.Disabled {
			t.Fatal("the 410 did not disable the webhook")
		}
		return ws, hook
	}

	t.Run("re-activation resets the streak and returns its start", func(t *testing.T) {
		t.Parallel()
		ws, hook := failingHook(t, "reactivate")
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatalf("UpdateWebhook: %v", err)
		}
		got := health{w.Active, w.FailureCount, w.ConsecutiveFailures, w.LastSuccessAt, w.LastFailureAt, w.FailingSince, w.DisabledReason, w.DisabledAt}
		want := health{Active: true, FailureCount: 2, LastFailureAt: validTime(t0.Add(time.Minute)), FailingSince: validTime(t0)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned webhook (-want +got):\n%s", diff)
		}
		want.FailingSince = sql.NullTime{}
		if diff := cmp.Diff(want, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored webhook (-want +got):\n%s", diff)
		}
		// The streak really is over: the next failure starts a new one.
		d := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		next := pgTime(time.Now())
		mustRecorded(t, f.store, failure(d, 1, next))
		if h := f.health(t, hook.ID); h.ConsecutiveFailures != 1 || !h.FailingSince.Time.Equal(next) {
			t.Errorf("after a new failure: consecutive %d since %v; want 1 since %v", h.ConsecutiveFailures, h.FailingSince.Time, next)
		}
	})

	t.Run("other patches of a disabled webhook keep its state", func(t *testing.T) {
		t.Parallel()
		ws, hook := failingHook(t, "describe")
		before := f.health(t, hook.ID)
		desc := "still broken"
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		if w.Active || !w.FailingSince.Time.Equal(t0) || w.Description != desc {
			t.Errorf("returned webhook active %v failing since %v description %q", w.Active, w.FailingSince, w.Description)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health changed by a description patch (-before +after):\n%s", diff)
		}
		// Switching it off again keeps the reason it was disabled for.
		if _, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &no}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health changed by active=false (-before +after):\n%s", diff)
		}
	})

	t.Run("active=true on an active failing webhook keeps the streak", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "still active")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		d := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
		mustRecorded(t, f.store, failure(d, 1, t0))
		mustRecorded(t, f.store, failure(d, 2, t0.Add(time.Minute)))
		before := f.health(t, hook.ID)
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if w.ConsecutiveFailures != 2 || !w.FailingSince.Time.Equal(t0) {
			t.Errorf("returned consecutive %d failing since %v, want 2 since %v", w.ConsecutiveFailures, w.FailingSince, t0)
		}
		if diff := cmp.Diff(before, f.health(t, hook.ID)); diff != "" {
			t.Errorf("stored health (-before +after):\n%s", diff)
		}
	})

	t.Run("re-activating a webhook without a streak returns no start", func(t *testing.T) {
		t.Parallel()
		ws := f.mustWorkspace(t, "switched")
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: false})
		w, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Active || w.FailingSince.Valid {
			t.Errorf("returned active %v failing since %v, want active and no streak", w.Active, w.FailingSince)
		}
	})
}

// Turning a webhook off cancels, in the same transaction, its deliveries
// waiting for a later attempt; one due now may have an attempt under way,
// which must finish and be recorded, so it is the worker's to cancel. A
// test's goes to inactive webhooks too.
func TestUpdateWebhookTurningOffCancelsPending(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"nps.submitted"}, Active: true}) // theirs goes to it
	waiting := []string{f.mustDelivery(t, newEvent(ws.ID, "post.created")), f.mustDelivery(t, newEvent(ws.ID, "post.created"))}
	for _, id := range waiting {
		mustRecorded(t, f.store, failure(id, 1, pgTime(time.Now())))
	}
	due := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	done := f.mustDelivery(t, newEvent(ws.ID, "post.created"))
	mustRecorded(t, f.store, success(done, 1, pgTime(time.Now())))
	theirs := f.mustDelivery(t, newEvent(ws.ID, "nps.submitted"))
	test := newEvent(ws.ID, "webhook.test")
	testID, err := f.store.CreateTestEvent(ctx, test, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.store.CountPending(ctx, ws.ID, hook.ID, 100); err != nil || n != 3 {
		t.Errorf("CountPending = %d, %v; want 3", n, err)
	}
	if n, err := f.store.CountPending(ctx, ws.ID, hook.ID, 1); err != nil || n != 1 {
		t.Errorf("CountPending up to 1 = %d, %v; want 1", n, err)
	}

	off := false
	upd, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &off})
	if err != nil || upd.Cancelled != 2 || upd.Active {
		t.Fatalf("UpdateWebhook(off) = active %v, cancelled %d, %v; want off, 2", upd.Active, upd.Cancelled, err)
	}
	want := map[string]delivery.Status{waiting[0]: "cancelled", waiting[1]: "cancelled", due: "pending", done: "succeeded", theirs: "pending", testID: "pending"}
	for id, status := range want {
		if d := f.mustGetDelivery(t, ws.ID, id); d.Status != status {
			t.Errorf("delivery %s is %s, want %s", id, d.Status, status)
		}
	}
	// Saving it off again cancels nothing more.
	if upd, err := f.store.UpdateWebhook(ctx, ws.ID, hook.ID, repo.WebhookPatch{Active: &off}); err != nil || upd.Cancelled != 0 {
		t.Errorf("second UpdateWebhook(off) cancelled %d, %v", upd.Cancelled, err)
	}
}

// The recovery offer kept on a webhook widens while unused and is cleared
// when used or dismissed.
func TestRecoveryOffer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ws := f.mustWorkspace(t, "acme")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
	t0 := pgTime(time.Now().Add(-time.Hour))
	steps := []struct{ since, until time.Time }{{t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)}, {t0, t0.Add(15 * time.Minute)}}
	for _, s := range steps {
		if err := f.store.SetRecoveryOffer(ctx, ws.ID, hook.ID, s.since, s.until); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.store.Webhook(ctx, ws.ID, hook.ID)
	if err != nil || !got.RecoverySince.Time.Equal(t0) || !got.RecoveryUntil.Time.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("offer = %v to %v, %v; want %v to %v", got.RecoverySince, got.RecoveryUntil, err, t0, t0.Add(20*time.Minute))
	}
	if err := f.store.ClearRecoveryOffer(ctx, ws.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.store.Webhook(ctx, ws.ID, hook.ID); err != nil || got.RecoverySince.Valid || got.RecoveryUntil.Valid {
		t.Errorf("after clearing: %v to %v, %v", got.RecoverySince, got.RecoveryUntil, err)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true, Secret: "whsec_first"})
	id := f.mustDelivery(t, newEvent(ws.ID, "post.created"))

	graceEnds := pgTime(time.Now().Add(time.Hour))
	w, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_second", graceEnds)
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if w.ID != hook.ID || w.Secret != "whsec_second" || !w.UpdatedAt.After(hook.UpdatedAt) {
		t.Errorf("RotateSecret returned id %s secret %q updated %v; want the webhook with the new secret, updated", w.ID, w.Secret, w.UpdatedAt)
	}
	want := testfactory.StoredSecrets{Secret: "whsec_second", Previous: sql.NullString{String: "whsec_first", Valid: true}, PreviousExpiry: validTime(graceEnds)}
	if diff := cmp.Diff(want, testfactory.Secrets(t, f.db, hook.ID)); diff != "" {
		t.Errorf("stored secrets (-want +got):\n%s", diff)
	}
	work, err := f.store.Work(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if work.Secret != "whsec_second" || work.PreviousSecret != "whsec_first" {
		t.Errorf("Work during the grace period = secret %q previous %v; want the new secret and the old one", work.Secret, work.PreviousSecret)
	}

	// A second rotation whose grace period is already over: the previous
	// secret is the second one, and the worker no longer signs with it.
	ended := pgTime(time.Now().Add(-time.Second))
	if _, err := f.store.RotateSecret(ctx, ws.ID, hook.ID, "whsec_third", ended); err != nil {
		t.Fatal(err)
	}
	want = testfactory.StoredSecrets{Secret: "whsec_third", Previous: sql.NullString{String: "whsec_second", Valid: true}, PreviousExpiry: validTime(ended)}
	if diff := cmp.Diff(want, testfactory.Secrets(t, f.db, hook.ID)); diff != "" {
		t.Errorf("stored secrets after the second rotation (-want +got):\n%s", diff)
	}
	if work, err := f.store.Work(ctx, id); err != nil || work.Secret != "whsec_third" || work.PreviousSecret != "" {
		t.Errorf("Work after the grace period = secret %q previous %v, %v; want only the new secret", work.Secret, work.PreviousSecret, err)
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
	if s := testfactory.Secrets(t, f.db, hook.ID); s.Secret != "" || s.Previous.Valid {
		t.Errorf("deleted webhook still stores secret %q and previous secret %v", s.Secret, s.Previous)
	}
}

func TestSuccessRates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	now := time.Now()

	// hookWith makes a webhook in its own workspace with one delivery per
	// attempt result; each attempt is made at its time offset from now.
	type attempt struct {
		status int // 0 for no response
		ago    time.Duration
	}
	hookWith := func(name string, attempts ...attempt) string {
		ws := f.mustWorkspace(t, name)
		hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
		for _, a := range attempts {
			ev := newEvent(ws.ID, "post.created")
			ev.CreatedAt = pgTime(now.Add(-a.ago - time.Minute))
			id := f.mustDelivery(t, ev)
			r := repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: a.status, At: pgTime(now.Add(-a.ago))}
			if a.status >= 200 && a.status <= 299 {
				r.Succeeded, r.NewStatus = true, delivery.StatusSucceeded
			} else {
				r.Error, r.NewStatus = "failed", delivery.StatusFailed
			}
			mustRecorded(t, f.store, r)
		}
		return hook.ID
	}
	mixed := hookWith("mixed",
		attempt{200, time.Hour}, attempt{299, 2 * time.Hour}, attempt{500, 3 * time.Hour}, attempt{0, 4 * time.Hour},
		attempt{302, 5 * time.Hour}, attempt{410, 6 * time.Hour}, attempt{204, 7 * time.Hour}, attempt{199, 8 * time.Hour},
		attempt{500, 25 * time.Hour}, attempt{500, 30 * time.Hour}) // older than a day: not counted
	allGood := hookWith("all good", attempt{204, time.Minute})
	allBad := hookWith("all bad", attempt{503, time.Minute}, attempt{0, 2 * time.Minute})
	stale := hookWith("stale", attempt{200, 25 * time.Hour})
	quiet := hookWith("quiet")

	got, err := f.store.SuccessRates(ctx, []string{mixed, allGood, allBad, stale, quiet, uuid.NewString()})
	if err != nil {
		t.Fatalf("SuccessRates: %v", err)
	}
	want := map[string]float64{mixed: 0.375, allGood: 1, allBad: 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SuccessRates (-want +got):\n%s", diff)
	}

	got, err = f.store.SuccessRates(ctx, []string{allGood})
	if diff := cmp.Diff(map[string]float64{allGood: 1}, got); err != nil || diff != "" {
		t.Errorf("SuccessRates of one webhook = %v; (-want +got):\n%s", err, diff)
	}
	got, err = f.store.SuccessRates(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("SuccessRates(nil) = %v, %v; want an empty map", got, err)
	}
}

func TestRecoverWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ws := f.mustWorkspace(t, "acme")
	other := f.mustWorkspace(t, "other")
	hook := f.mustWebhook(t, ws.ID, repo.NewWebhook{Events: []string{"post.created"}, Active: true})
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
			mustRecorded(t, f.store, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "boom", At: at, NewStatus: delivery.StatusFailed})
		case delivery.StatusSucceeded:
			mustRecorded(t, f.store, success(id, 1, at))
		case delivery.StatusCancelled:
			if err := f.store.CancelDelivery(ctx, id); err != nil {
				t.Fatal(err)
			}
		case "retrying":
			mustRecorded(t, f.store, failure(id, 1, at))
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
			!d.NextAttemptAt.Valid || d.NextAttemptAt.Time.Before(start.Add(-time.Minute)) || d.NextAttemptAt.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("recovered delivery = %+v, want pending, due now, to the webhook", d)
		}
		src := f.mustGetDelivery(t, ws.ID, d.RedeliveryOf.String)
		if src.EventID != d.EventID {
			t.Errorf("recovered delivery sends event %s, its source sent %s", d.EventID, src.EventID)
		}
		sources = append(sources, d.RedeliveryOf.String)
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
