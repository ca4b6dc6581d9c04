package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestRecoverResendsFailed(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	rcv := newReceiver(t, testreceiver.Switch(&up, testreceiver.Always(http.StatusOK, "ok"), testreceiver.Always(http.StatusInternalServerError, "down")))
	sys := startSystem(t, options{retrySchedule: "100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/recover"), "events": []string{"post.status_changed"}})
	recoverPath := "/v1/webhooks/" + wh.ID + "/recover"

	var failedIDs []string // oldest first
	post := func(i int) {
		ws.postEvent(t, "post.status_changed", testfactory.EventData(t, "post.status_changed", map[string]any{"case": i}))
	}
	post(1)
	post(2)
	ws.waitHistory(t, wh.ID, 2)
	mid := time.Now() // between the second and the third delivery
	post(3)
	for _, d := range ws.waitHistory(t, wh.ID, 3) {
		if d.Status != "failed" || d.Attempts != 2 {
			t.Fatalf("delivery %s is %s after %d attempts, want failed after 2", d.ID, d.Status, d.Attempts)
		}
		failedIDs = append([]string{d.ID}, failedIDs...)
	}
	bodies := map[string][]byte{} // delivery id -> body sent
	for _, r := range rcv.Requests() {
		bodies[r.Delivery()] = r.Body
	}
	up.Store(true)

	// counted compares what a recovery counted: the answer's since and
	// until echo the window asked for.
	counted := cmpopts.IgnoreFields(client.RecoverResult{}, "Since", "Until")
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	hourAgo := rfc(time.Now().Add(-time.Hour))

	// Dry runs count and create nothing.
	var dry client.RecoverResult
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo}, http.StatusOK, &dry)
	if diff := cmp.Diff(client.RecoverResult{Deliveries: 3, DryRun: true}, dry, counted); diff != "" {
		t.Errorf("dry run since an hour ago mismatch (-want +got):\n%s", diff)
	}
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo, "until": rfc(mid)}, http.StatusOK, &dry)
	if diff := cmp.Diff(client.RecoverResult{Deliveries: 2, DryRun: true}, dry, counted); diff != "" {
		t.Errorf("dry run until the middle mismatch (-want +got):\n%s", diff)
	}
	if n := len(ws.rows(t, wh.ID)); n != 3 {
		t.Errorf("history has %d deliveries after dry runs, want 3", n)
	}

	// Bad windows.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"since": rfc(time.Now().Add(-15 * 24 * time.Hour))}, "since"},
		{map[string]any{"since": rfc(mid), "until": rfc(mid)}, "until"},
		{map[string]any{"since": rfc(mid), "until": rfc(mid.Add(-time.Minute))}, "until"},
	} {
		status, body := ws.do(t, "POST", recoverPath, c.body)
		var e apiError
		json.Unmarshal(body, &e)
		if status != http.StatusUnprocessableEntity || e.Error.Field != c.field {
			t.Errorf("recover %v: %d %s, want 422 naming %q", c.body, status, body, c.field)
		}
	}

	// The window from the middle holds the third delivery only.
	var res client.RecoverResult
	ws.call(t, "POST", recoverPath, map[string]any{"since": rfc(mid)}, http.StatusAccepted, &res)
	if diff := cmp.Diff(client.RecoverResult{Deliveries: 1, DryRun: false}, res, counted); diff != "" {
		t.Errorf("recover since the middle mismatch (-want +got):\n%s", diff)
	}
	ws.waitHistory(t, wh.ID, 4)
	checkRedelivery := func(d client.Delivery, of string) {
		t.Helper()
		if d.Status != "succeeded" || deref(d.RedeliveryOf) != any(of) {
			t.Errorf("recovered delivery %s is %s, redelivery_of %v; want succeeded, redelivery_of %s", d.ID, d.Status, deref(d.RedeliveryOf), of)
		}
		var got []byte
		for _, r := range rcv.Requests() {
			if r.Delivery() == d.ID {
				got = r.Body
			}
		}
		if string(got) != string(bodies[of]) {
			t.Errorf("recovered delivery %s sent %s, want the original bytes %s", d.ID, got, bodies[of])
		}
	}
	rows := ws.rows(t, wh.ID)
	checkRedelivery(rows[0], failedIDs[2])

	// The contract re-sends every failed delivery created in the window:
	// the three originals are still failed (the third's redelivery is a
	// new delivery, outside the window's statuses as it succeeded), so all
	// three go again.
	ws.call(t, "POST", recoverPath, map[string]any{"since": hourAgo}, http.StatusAccepted, &res)
	if diff := cmp.Diff(client.RecoverResult{Deliveries: 3, DryRun: false}, res, counted); diff != "" {
		t.Errorf("recover since an hour ago mismatch (-want +got):\n%s", diff)
	}
	ws.waitHistory(t, wh.ID, 7)
	rows = ws.rows(t, wh.ID)
	var of []string
	for _, d := range rows[:3] {
		of = append(of, fmt.Sprint(deref(d.RedeliveryOf)))
	}
	slices.Sort(of)
	want := slices.Clone(failedIDs)
	slices.Sort(want)
	if diff := cmp.Diff(want, of); diff != "" {
		t.Errorf("second recovery redelivered (-want +got):\n%s", diff)
	}
	for _, d := range rows[:3] {
		if d.RedeliveryOf != nil {
			checkRedelivery(d, *d.RedeliveryOf)
		}
	}
	var after client.RecoverResult
	ws.call(t, "POST", recoverPath+"?dry_run=true", map[string]any{"since": hourAgo}, http.StatusOK, &after)
	t.Logf("FIGURE recover_dry_run_after_two_recoveries=%d", after.Deliveries)
	t.Logf("FIGURE recover_requests_total=%d", rcv.Count())
}
