package dashboard_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
)

func TestUpdateWebhookSettings(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://old.example/hook", "post.created")
	v, path := f.signedInTo(t, hook)

	// A refused change shows the form again with the error and the typed
	// values, and changes nothing.
	snapshot := f.webhookSnapshot(t, hook.ID)
	bad := v.post(t, path, v.form(t, "url", "https://new.example/hook", "description", "typed"))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	bad.wantText(t, "The settings were not saved: correct the fields marked below.", "events must list at least one event type")
	bad.wantHTML(t, `value="https://new.example/hook"`, `value="typed"`)
	if got := f.webhookSnapshot(t, hook.ID); got != snapshot {
		t.Errorf("a refused change changed the webhook")
	}

	ok := v.post(t, path, v.form(t, "url", "https://new.example/hook", "events", "csat.submitted", "events", "nps.submitted", "description", "new", "active", "on"))
	ok.wantRedirect(t, path+"?notice=saved")
	v.get(t, path+"?notice=saved").wantText(t, "Your changes were saved.")
	got, err := f.store.Webhook(t.Context(), ws, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"https://new.example/hook", []string{"csat.submitted", "nps.submitted"}, true, "new"},
		[]any{got.URL, []string(got.Events), got.Active, got.Description}); diff != "" {
		t.Errorf("saved webhook (-want +got):\n%s", diff)
	}
}

// Turning a webhook off cancels what waits for it, so it asks first and
// says how many; the page that asks changes nothing.
func TestTurnOffAsksFirst(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://old.example/hook", "post.created")
	due := f.mustDeliver(t, hook, "post.created", nil)
	retrying := f.mustDeliver(t, hook, "post.created", nil, answered500Retrying)
	done := f.mustDeliver(t, hook, "post.created", nil, answered200)
	v, path := f.signedInTo(t, hook)
	off := []string{"url", hook.URL, "events", "post.created", "description", "off for maintenance"}

	snapshot := f.webhookSnapshot(t, hook.ID)
	ask := v.post(t, path, v.form(t, off...))
	ask.wantStatus(t, http.StatusOK)
	ask.wantText(t, "Turn this webhook off?", "2 pending deliveries will be cancelled. An attempt already under way finishes and is logged.")
	ask.wantHTML(t, `<input type="hidden" name="description" value="off for maintenance">`, `<input type="hidden" name="confirm" value="yes">`)
	if f.webhookSnapshot(t, hook.ID) != snapshot {
		t.Fatal("asking changed the webhook")
	}

	v.post(t, path, v.form(t, append(off, "confirm", "yes")...)).wantRedirect(t, path+"?notice=deactivated")
	v.get(t, path+"?notice=deactivated").wantText(t, "The webhook is inactive. Its pending deliveries are cancelled.")
	// The one waiting for a retry is cancelled at once; the one due now is
	// the worker's, which cancels it when its task runs.
	for id, want := range map[string]delivery.Status{retrying: delivery.StatusCancelled, due: delivery.StatusPending, done: delivery.StatusSucceeded} {
		if d, err := f.store.Delivery(t.Context(), ws, id); err != nil || d.Status != want {
			t.Errorf("delivery %s is %s (%v), want %s", id, d.Status, err, want)
		}
	}
	// Saving an inactive webhook asks nothing more.
	v.post(t, path, v.form(t, off...)).wantRedirect(t, path+"?notice=saved")
}

func TestReenableOffersRecovery(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWebhook(t, "https://flaky.example/hook", "post.created")
	failed := []string{
		f.mustDeliver(t, hook, "post.created", map[string]any{"n": 1}, answered500),
		f.mustDeliver(t, hook, "post.created", map[string]any{"n": 2}, answered500),
	}
	// The worker disabled it after the streak.
	f.mustDisable(t, hook.ID, "failing")
	v, path := f.signedInTo(t, hook)
	p := v.get(t, path)
	p.wantText(t, "Trackelio disabled this webhook: it kept failing", "Re-enable webhook")
	// It can be tested, to check a fix before re-enabling it.
	p.wantHTML(t, `<button type="submit" class="button" aria-describedby="test-inactive">Send test event</button>`)

	v.post(t, path, v.form(t, "form", "enable")).wantRedirect(t, path+"?notice=enabled")
	offer := v.get(t, path+"?notice=enabled")
	offer.wantText(t, "The webhook is active again.", "Recover what failed", "Recover 2 deliveries")
	// The offer stays while there is something to recover, after the
	// customer navigated away and back.
	v.getOK(t, "/dashboard/webhooks")
	v.get(t, path).wantText(t, "Recover what failed", "Recover 2 deliveries")
	since := regexp.MustCompile(`name="since" value="([^"]+)"`).FindStringSubmatch(offer.Body)
	until := regexp.MustCompile(`name="until" value="([^"]+)"`).FindStringSubmatch(offer.Body)
	if since == nil || until == nil {
		t.Fatal("the offer has no window")
	}
	got, err := f.store.Webhook(t.Context(), ws, hook.ID)
	if err != nil || !got.Active || got.DisabledReason != "" || got.ConsecutiveFailures != 0 {
		t.Fatalf("after re-enabling: active %v reason %v streak %d, %v", got.Active, got.DisabledReason, got.ConsecutiveFailures, err)
	}

	rec := v.post(t, path+"/recover", v.form(t, "since", since[1], "until", until[1]))
	rec.wantRedirect(t, path+"?notice=recovered#history")
	var redelivered []string
	if err := f.db.Select(&redelivered, `SELECT redelivery_of::text FROM deliveries WHERE redelivery_of IS NOT NULL ORDER BY redelivery_of`); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(failed, redelivered); diff != "" {
		t.Errorf("recovered deliveries (-want +got):\n%s", diff)
	}
	if len(f.enq.Enqueued()) != 2 {
		t.Errorf("enqueued %v, want the 2 new deliveries", f.enq.Enqueued())
	}
	// Used, the offer is gone.
	if p := v.get(t, path); strings.Contains(p.Body, "Recover what failed") {
		t.Error("the offer stays after the recovery")
	}

	bad := v.post(t, path+"/recover", v.form(t, "since", time.Now().Add(-15*24*time.Hour).Format(time.RFC3339)))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	bad.wantText(t, "Nothing was recovered: since may be at most 14 days ago.")
}

func TestDismissRecoveryOffer(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://flaky.example/hook", "post.created")
	f.mustDeliver(t, hook, "post.created", nil, answered500)
	f.mustDisable(t, hook.ID, "failing")
	v, path := f.signedInTo(t, hook)
	v.post(t, path, v.form(t, "form", "enable")).wantRedirect(t, path+"?notice=enabled")
	v.get(t, path).wantText(t, "Recover 1 delivery")
	v.post(t, path+"/recover/dismiss", v.form(t)).wantRedirect(t, path+"?notice=dismissed")
	p := v.get(t, path+"?notice=dismissed")
	p.wantText(t, "The offer to recover was dismissed.")
	if strings.Contains(p.Body, "Recover what failed") || len(f.enq.Enqueued()) != 0 {
		t.Errorf("after dismissing: offer shown %v, %d enqueued", strings.Contains(p.Body, "Recover what failed"), len(f.enq.Enqueued()))
	}
}

func TestRecoverNeedsAnActiveWebhook(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://flaky.example/hook", "post.created")
	f.mustDeliver(t, hook, "post.created", nil, answered500)
	f.mustTurnOff(t, hook)
	v, path := f.signedInTo(t, hook)
	before := f.rowCounts(t)
	p := v.post(t, path+"/recover", v.form(t, "since", time.Now().Add(-time.Hour).Format(time.RFC3339)))
	p.wantStatus(t, http.StatusConflict)
	p.wantText(t, "The webhook is inactive; activate it before recovering.")
	dbtest.WantRowCounts(t, f.db, before, "a refused recovery")
}

func TestDeleteWebhook(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://bye.example/hook", "post.created")
	pending := f.mustDeliver(t, hook, "post.created", nil)
	v, path := f.signedInTo(t, hook)

	// Deleting asks first, in a page of its own, so it works without script.
	confirm := v.getOK(t, path+"/delete")
	confirm.wantText(t, "Delete this webhook?", "https://bye.example/hook", "This cannot be undone.")
	confirm.wantHTML(t, `<form method="post" action="`+path+`/delete"`, `<a class="button subtle" href="`+path+`">Cancel</a>`)

	v.post(t, path+"/delete", v.form(t)).wantRedirect(t, "/dashboard/webhooks?notice=deleted")
	v.get(t, "/dashboard/webhooks?notice=deleted").wantText(t, "The webhook was deleted. Its pending deliveries were cancelled.", "No webhooks yet")
	v.get(t, path).wantStatus(t, http.StatusNotFound)
	var status delivery.Status
	if err := f.db.Get(&status, `SELECT status FROM deliveries WHERE id = $1`, pending); err != nil || status != delivery.StatusCancelled {
		t.Errorf("pending delivery after the delete = %q, %v; want cancelled", status, err)
	}
}
