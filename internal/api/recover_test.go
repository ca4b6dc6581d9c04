package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// healthOnly compares webhooks by their health: the members that say what
// the webhook is, not how it fares, are other tests' subject.
var healthOnly = cmpopts.IgnoreFields(client.Webhook{}, "URL", "Events", "Description", "CreatedAt", "UpdatedAt", "NotifyEmails", "NotifyOn")

// healthKeys are the members every webhook object has, null or not.
var healthKeys = []string{"disabled_at", "disabled_reason", "last_failure_at", "last_success_at", "success_rate_24h"}

// mustHealth reads a webhook and checks that it has every health member,
// null or not.
func (f *fixture) mustHealth(tb testing.TB, key, id string) client.Webhook {
	tb.Helper()
	res := f.call(tb, "GET", "/v1/webhooks/"+id, key, "")
	res.wantStatus(tb, http.StatusOK)
	keys := res.keys(tb)
	for _, k := range healthKeys {
		if !slices.Contains(keys, k) {
			tb.Errorf("webhook object lacks %q: %s", k, res.Body)
		}
	}
	var h client.Webhook
	res.decode(tb, &h)
	return h
}

// now is the time as PostgreSQL stores it.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

func TestWebhookHealthFields(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	quiet := f.mustCreateHook(t, ws.APIKey, "comment.created")

	if diff := cmp.Diff(client.Webhook{ID: hook.ID, Active: true}, f.mustHealth(t, ws.APIKey, hook.ID), healthOnly); diff != "" {
		t.Errorf("new webhook health (-want +got):\n%s", diff)
	}

	ok, failed := now(), now().Add(time.Second)
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: f.mustEventDelivery(t, ws.APIKey, "post.created"), Attempt: 1,
		StatusCode: 200, At: ok, Succeeded: true, NewStatus: delivery.StatusSucceeded})
	d := f.mustEventDelivery(t, ws.APIKey, "post.created")
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: d, Attempt: 1, StatusCode: 500, Error: "receiver answered 500",
		At: failed, NewStatus: delivery.StatusPending, NextAttemptAt: failed.Add(time.Minute)})
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: d, Attempt: 2, Error: "timed out",
		At: failed.Add(time.Second), NewStatus: delivery.StatusPending, NextAttemptAt: failed.Add(time.Minute)})
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: f.mustEventDelivery(t, ws.APIKey, "post.created"), Attempt: 1,
		StatusCode: 204, At: failed.Add(2 * time.Second), Succeeded: true, NewStatus: delivery.StatusSucceeded})

	want := client.Webhook{
		ID: hook.ID, Active: true, FailureCount: 2,
		LastSuccessAt: new(failed.Add(2 * time.Second)), LastFailureAt: new(failed.Add(time.Second)),
		SuccessRate24h: new(0.5),
	}
	if diff := cmp.Diff(want, f.mustHealth(t, ws.APIKey, hook.ID), healthOnly); diff != "" {
		t.Errorf("webhook health after 2 of 4 attempts succeeded (-want +got):\n%s", diff)
	}

	// The list shows the same, and null for a webhook without attempts.
	res := f.call(t, "GET", "/v1/webhooks", ws.APIKey, "")
	res.wantStatus(t, http.StatusOK)
	var list struct {
		Data []client.Webhook `json:"data"`
	}
	res.decode(t, &list)
	if diff := cmp.Diff([]client.Webhook{want, {ID: quiet.ID, Active: true}}, list.Data, healthOnly); diff != "" {
		t.Errorf("listed health (-want +got):\n%s", diff)
	}

	// A 410 disables the webhook; GET says why and when.
	gone := failed.Add(3 * time.Second)
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: f.mustEventDelivery(t, ws.APIKey, "post.created"), Attempt: 1,
		StatusCode: 410, Error: "receiver answered 410 Gone", At: gone, NewStatus: delivery.StatusFailed, DisableReason: "gone"})
	want.Active, want.FailureCount, want.ConsecutiveFailures = false, 3, 1
	want.DisabledReason, want.DisabledAt, want.LastFailureAt = new("gone"), new(gone), new(gone)
	want.SuccessRate24h = new(0.4)
	if diff := cmp.Diff(want, f.mustHealth(t, ws.APIKey, hook.ID), healthOnly); diff != "" {
		t.Errorf("disabled webhook health (-want +got):\n%s", diff)
	}
}

// failingHook creates a webhook and lets the worker fail it the way it
// would: a delivery that fails twice, a delivery cancelled, and a 410 that
// disables the webhook. It returns the ids of those three deliveries.
func (f *fixture) failingHook(tb testing.TB, key string) (client.Webhook, []string) {
	tb.Helper()
	hook := f.mustCreateHook(tb, key, "post.created")
	ok := f.mustEventDelivery(tb, key, "post.created")
	f.mustRecordAttempt(tb, repo.AttemptResult{DeliveryID: ok, Attempt: 1, StatusCode: 200, At: now(), Succeeded: true, NewStatus: delivery.StatusSucceeded})

	failed := f.mustEventDelivery(tb, key, "post.created")
	f.mustRecordAttempt(tb, repo.AttemptResult{DeliveryID: failed, Attempt: 1, StatusCode: 500, Error: "HTTP 500",
		At: now(), NewStatus: delivery.StatusPending, NextAttemptAt: now()})
	f.mustRecordAttempt(tb, repo.AttemptResult{DeliveryID: failed, Attempt: 2, StatusCode: 500, Error: "HTTP 500",
		At: now(), NewStatus: delivery.StatusFailed})
	cancelled := f.mustEventDelivery(tb, key, "post.created")
	gone := f.mustEventDelivery(tb, key, "post.created")
	f.mustRecordAttempt(tb, repo.AttemptResult{DeliveryID: gone, Attempt: 1, StatusCode: 410, Error: "HTTP 410",
		At: now(), NewStatus: delivery.StatusFailed, DisableReason: "gone"})
	// The worker finds the webhook disabled and cancels the next one.
	if _, err := f.db.Exec(`UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now() WHERE id = $1`, cancelled); err != nil {
		tb.Fatal(err)
	}
	return hook, []string{failed, cancelled, gone}
}

func TestReenableOffersRecovery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	hook, missed := f.failingHook(t, ws.APIKey)
	if h := f.mustHealth(t, ws.APIKey, hook.ID); h.Active || h.DisabledReason == nil {
		t.Fatalf("webhook %+v, want disabled", h)
	}

	before := time.Now()
	res := f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":true}`)
	res.wantStatus(t, http.StatusOK)
	var got client.Webhook
	res.decode(t, &got)
	if !got.Active || got.ConsecutiveFailures != 0 || got.DisabledReason != nil || got.DisabledAt != nil {
		t.Errorf("re-enabled webhook active %v consecutive %d reason %v at %v; want active with the streak reset",
			got.Active, got.ConsecutiveFailures, got.DisabledReason, got.DisabledAt)
	}
	if got.Recovery == nil {
		t.Fatalf("no recovery offer: %s", res.Body)
	}
	if got.Recovery.FailedDeliveries != len(missed) {
		t.Errorf("recovery offers %d failed deliveries, want %d (every delivery that failed or was cancelled during the streak)",
			got.Recovery.FailedDeliveries, len(missed))
	}
	if got.Recovery.Until.Before(before.Add(-time.Second)) || got.Recovery.Until.After(time.Now().Add(time.Second)) {
		t.Errorf("recovery until %v, want now", got.Recovery.Until)
	}
	if keys := (response{Body: f.fieldsOf(t, res, "recovery")}).keys(t); !slices.Equal(keys, []string{"failed_deliveries", "since", "until"}) {
		t.Errorf("recovery offer keys %v, want failed_deliveries, since, until", keys)
	}

	// Taking up the offer re-sends exactly those deliveries.
	enqueued := len(f.enq.Enqueued())
	body, _ := json.Marshal(map[string]time.Time{"since": got.Recovery.Since, "until": got.Recovery.Until})
	res = f.call(t, "POST", "/v1/webhooks/"+hook.ID+"/recover", ws.APIKey, string(body))
	res.wantStatus(t, http.StatusAccepted)
	if diff := cmp.Diff(sorted(missed), f.redeliveredSources(t, f.enq.Enqueued()[enqueued:])); diff != "" {
		t.Errorf("recovered sources (-want +got):\n%s", diff)
	}

	// The webhook is active now: activating it again offers nothing.
	f.mustPatchOffersNothing(t, ws.APIKey, hook.ID, `{"active":true}`)
}

// mustPatchOffersNothing patches a webhook and checks that the answer
// offers no recovery.
func (f *fixture) mustPatchOffersNothing(tb testing.TB, key, id, patch string) response {
	tb.Helper()
	res := f.call(tb, "PATCH", "/v1/webhooks/"+id, key, patch)
	res.wantStatus(tb, http.StatusOK)
	if _, ok := res.fields(tb)["recovery"]; ok {
		tb.Errorf("PATCH %s offers a recovery: %s", patch, res.Body)
	}
	return res
}

func TestReenableWithoutStreakOffersNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)

	// Each case has its own workspace, so events fan out to its webhook only.
	t.Run("switched off by the customer", func(t *testing.T) {
		t.Parallel()
		ws := f.mustCreateWorkspace(t, "Switched")
		hook := f.mustCreateHook(t, ws.APIKey, "post.created")
		f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":false}`).wantStatus(t, http.StatusOK)
		f.mustPatchOffersNothing(t, ws.APIKey, hook.ID, `{"active":true}`)
	})

	t.Run("other patches of a disabled webhook", func(t *testing.T) {
		t.Parallel()
		ws := f.mustCreateWorkspace(t, "Disabled")
		hook, _ := f.failingHook(t, ws.APIKey)
		res := f.mustPatchOffersNothing(t, ws.APIKey, hook.ID, `{"description":"looking into it"}`)
		var h client.Webhook
		res.decode(t, &h)
		if h.Active || h.DisabledReason == nil || *h.DisabledReason != "gone" || h.DisabledAt == nil || h.ConsecutiveFailures == 0 {
			t.Errorf("webhook after a description patch %+v, want still disabled as gone", h)
		}
	})
}

// fieldsOf returns the raw JSON of one member of the answer.
func (f *fixture) fieldsOf(tb testing.TB, res response, name string) []byte {
	tb.Helper()
	raw, ok := res.fields(tb)[name]
	if !ok {
		tb.Fatalf("answer has no %q: %s", name, res.Body)
	}
	return raw
}

// redeliveredSources returns, sorted, the deliveries the given new
// deliveries re-send, checking each is a pending, untried run.
func (f *fixture) redeliveredSources(tb testing.TB, ids []string) []string {
	tb.Helper()
	var sources []string
	for _, id := range ids {
		var row struct {
			Status       delivery.Status `db:"status"`
			Attempts     int             `db:"attempts"`
			RedeliveryOf *string         `db:"redelivery_of"`
		}
		if err := f.db.Get(&row, `SELECT status, attempts, redelivery_of::text AS redelivery_of FROM deliveries WHERE id = $1`, id); err != nil {
			tb.Fatalf("read delivery %s: %v", id, err)
		}
		if row.Status != delivery.StatusPending || row.Attempts != 0 || row.RedeliveryOf == nil {
			tb.Errorf("delivery %s = %+v, want a pending redelivery", id, row)
			continue
		}
		sources = append(sources, *row.RedeliveryOf)
	}
	return sorted(sources)
}

// mustDryRun counts, without changing anything, the deliveries that
// POST /v1/webhooks/{id}/recover with body would send again.
func (f *fixture) mustDryRun(tb testing.TB, key, id, body string) client.RecoverResult {
	tb.Helper()
	return answerAs[client.RecoverResult](tb, f.call(tb, "POST", "/v1/webhooks/"+id+"/recover?dry_run=true", key, body), http.StatusOK)
}

func TestRecover(t *testing.T) {
	t.Parallel()
	f, ws, hook := setupWithHook(t, "post.created")
	sibling := f.mustCreateHook(t, ws.APIKey, "comment.created")
	start := time.Now().Add(-time.Minute).UTC()

	var ended []string
	for range 2 {
		id := f.mustEventDelivery(t, ws.APIKey, "post.created")
		f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: id, Attempt: 1, StatusCode: 500, Error: "HTTP 500", At: now(), NewStatus: delivery.StatusFailed})
		ended = append(ended, id)
	}
	cancelled := f.mustEventDelivery(t, ws.APIKey, "post.created")
	if _, err := f.db.Exec(`UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, finished_at = now() WHERE id = $1`, cancelled); err != nil {
		t.Fatal(err)
	}
	ended = append(ended, cancelled)
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: f.mustEventDelivery(t, ws.APIKey, "post.created"), Attempt: 1,
		StatusCode: 200, At: now(), Succeeded: true, NewStatus: delivery.StatusSucceeded})
	f.mustEventDelivery(t, ws.APIKey, "post.created") // still pending
	other := f.mustEventDelivery(t, ws.APIKey, "comment.created")
	f.mustRecordAttempt(t, repo.AttemptResult{DeliveryID: other, Attempt: 1, StatusCode: 500, Error: "HTTP 500", At: now(), NewStatus: delivery.StatusFailed})
	since := fmt.Sprintf(`{"since":%q}`, start.Format(time.RFC3339Nano))
	path := "/v1/webhooks/" + hook.ID + "/recover"
	enqueuedBefore := len(f.enq.Enqueued())

	t.Run("dry run counts and changes nothing", func(t *testing.T) {
		left := f.footprint(t)
		before := time.Now()
		got := f.mustDryRun(t, ws.APIKey, hook.ID, since)
		if got.Deliveries != 3 || !got.DryRun || !got.Since.Equal(start) ||
			got.Until.Before(before.Add(-time.Second)) || got.Until.After(time.Now().Add(time.Second)) {
			t.Errorf("dry run = %+v, want 3 deliveries from %v until now", got, start)
		}
		f.wantNoFootprint(t, left, "a dry run")
	})

	t.Run("a window before the deliveries", func(t *testing.T) {
		body := fmt.Sprintf(`{"since":%q,"until":%q}`, start.Add(-time.Hour).Format(time.RFC3339), start.Format(time.RFC3339Nano))
		if got := f.mustDryRun(t, ws.APIKey, hook.ID, body); got.Deliveries != 0 || !got.Until.Equal(start) {
			t.Errorf("dry run of an earlier window = %+v, want 0 deliveries until %v", got, start)
		}
	})

	t.Run("recover re-sends what ended without success", func(t *testing.T) {
		counts := f.rowCounts(t)
		got := answerAs[client.RecoverResult](t, f.call(t, "POST", path, ws.APIKey, since), http.StatusAccepted)
		if got.Deliveries != 3 || got.DryRun || !got.Since.Equal(start) {
			t.Errorf("recover = %+v, want 3 deliveries from %v, not a dry run", got, start)
		}
		enqueued := f.enq.Enqueued()[enqueuedBefore:]
		if diff := cmp.Diff(sorted(ended), f.redeliveredSources(t, enqueued)); diff != "" {
			t.Errorf("recovered sources (-want +got):\n%s", diff)
		}
		counts["deliveries"] += 3
		if diff := cmp.Diff(counts, f.rowCounts(t)); diff != "" {
			t.Errorf("row counts (-want +got):\n%s", diff)
		}
		for _, id := range ended {
			var status delivery.Status
			if err := f.db.Get(&status, `SELECT status FROM deliveries WHERE id = $1`, id); err != nil || status == delivery.StatusPending {
				t.Errorf("source %s is %q after recovery, %v; want it left as it ended", id, status, err)
			}
		}
	})

	t.Run("the sibling's failure is its own", func(t *testing.T) {
		if got := f.mustDryRun(t, ws.APIKey, sibling.ID, since); got.Deliveries != 1 {
			t.Errorf("sibling dry run = %d deliveries, want 1", got.Deliveries)
		}
	})
}

func TestRecoverInactiveWebhook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	hook, missed := f.failingHook(t, ws.APIKey)
	since := fmt.Sprintf(`{"since":%q}`, time.Now().Add(-time.Hour).Format(time.RFC3339))
	before := f.footprint(t)

	res := f.call(t, "POST", "/v1/webhooks/"+hook.ID+"/recover", ws.APIKey, since)
	res.wantError(t, apiError{Status: http.StatusConflict, Code: "webhook_inactive"})
	f.wantNoFootprint(t, before, "a refused recovery")
	// Counting is allowed, so a customer can see what re-enabling would offer.
	if got := f.mustDryRun(t, ws.APIKey, hook.ID, since); got.Deliveries != len(missed) || !got.DryRun {
		t.Errorf("dry run on an inactive webhook = %+v, want %d deliveries", got, len(missed))
	}
}

func TestRecoverRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ws := f.mustCreateWorkspace(t, "Acme")
	other := f.mustCreateWorkspace(t, "Other")
	hook, _ := f.failingHook(t, ws.APIKey)
	f.call(t, "PATCH", "/v1/webhooks/"+hook.ID, ws.APIKey, `{"active":true}`).wantStatus(t, http.StatusOK)
	deleted := f.mustDeletedHook(t, ws.APIKey)
	ts := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
	hourAgo := ts(-time.Hour)
	path := "/v1/webhooks/" + hook.ID + "/recover"

	tests := []struct {
		name, key, path, body string
		want                  apiError
	}{
		{"no since", ws.APIKey, path, `{}`, apiError{Status: 422, Code: "validation_failed", Field: "since"}},
		{"null since", ws.APIKey, path, `{"since":null}`, apiError{Status: 422, Code: "validation_failed", Field: "since"}},
		{"since not a time", ws.APIKey, path, `{"since":"yesterday"}`, apiError{Status: 422, Code: "validation_failed", Field: "since"}},
		{"since a number", ws.APIKey, path, `{"since":1700000000}`, apiError{Status: 422, Code: "validation_failed", Field: "since"}},
		{"since more than 14 days ago", ws.APIKey, path, fmt.Sprintf(`{"since":%q}`, ts(-15*24*time.Hour)), apiError{Status: 422, Code: "validation_failed", Field: "since"}},
		{"since in the future", ws.APIKey, path, fmt.Sprintf(`{"since":%q}`, ts(time.Hour)), apiError{Status: 422, Code: "validation_failed", Field: "until"}},
		{"until equal to since", ws.APIKey, path, fmt.Sprintf(`{"since":%q,"until":%q}`, hourAgo, hourAgo), apiError{Status: 422, Code: "validation_failed", Field: "until"}},
		{"until before since", ws.APIKey, path, fmt.Sprintf(`{"since":%q,"until":%q}`, ts(-time.Hour), ts(-2*time.Hour)), apiError{Status: 422, Code: "validation_failed", Field: "until"}},
		{"unknown field", ws.APIKey, path, fmt.Sprintf(`{"since":%q,"limit":5}`, ts(-time.Hour)), apiError{Status: 422, Code: "validation_failed", Field: "limit"}},
		{"dry_run=1", ws.APIKey, path + "?dry_run=1", fmt.Sprintf(`{"since":%q}`, hourAgo), apiError{Status: 422, Code: "validation_failed", Field: "dry_run"}},
		{"dry_run=True", ws.APIKey, path + "?dry_run=True", fmt.Sprintf(`{"since":%q}`, hourAgo), apiError{Status: 422, Code: "validation_failed", Field: "dry_run"}},
		{"empty body", ws.APIKey, path, ``, apiError{Status: 400, Code: "invalid_json"}},
		{"not an object", ws.APIKey, path, `[]`, apiError{Status: 400, Code: "invalid_json"}},
		{"unknown webhook", ws.APIKey, "/v1/webhooks/" + uuid.NewString() + "/recover", fmt.Sprintf(`{"since":%q}`, ts(-time.Hour)), apiError{Status: 404, Code: "not_found"}},
		{"not a uuid", ws.APIKey, "/v1/webhooks/nope/recover", fmt.Sprintf(`{"since":%q}`, ts(-time.Hour)), apiError{Status: 404, Code: "not_found"}},
		{"deleted webhook", ws.APIKey, "/v1/webhooks/" + deleted.ID + "/recover", fmt.Sprintf(`{"since":%q}`, ts(-time.Hour)), apiError{Status: 404, Code: "not_found"}},
		{"another workspace's webhook", other.APIKey, path, fmt.Sprintf(`{"since":%q}`, ts(-time.Hour)), apiError{Status: 404, Code: "not_found"}},
		{"another workspace's webhook, dry run", other.APIKey, path + "?dry_run=true", fmt.Sprintf(`{"since":%q}`, ts(-time.Hour)), apiError{Status: 404, Code: "not_found"}},
	}
	before := f.footprint(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.call(t, "POST", tt.path, tt.key, tt.body).wantError(t, tt.want)
		})
	}
	f.wantNoFootprint(t, before, "refused recoveries")
}
