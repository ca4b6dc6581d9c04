package e2e

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestGoneDisablesWebhook(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	rcv := newReceiver(t, testreceiver.Switch(&healed, testreceiver.Always(http.StatusOK, "back"), testreceiver.Always(http.StatusGone, "gone")))
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/gone"), "events": []string{"post.created"}})

	before := time.Now()
	ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": "gone"}))
	id := rcv.waitRequests(t, sys, 1)[0].Delivery()
	d := ws.waitFinished(t, id)
	if diff := cmp.Diff([]attemptRow{{1, new(410), "gone"}}, attemptRows(d.Attempts)); d.Status != "failed" || diff != "" {
		t.Errorf("delivery after a 410 is %s; attempts mismatch (-want +got):\n%s", d.Status, diff)
	}
	if n := rcv.Count(); n != 1 {
		t.Errorf("receiver got %d requests, want exactly 1", n)
	}

	h := ws.webhook(t, wh.ID)
	type state struct {
		Active              bool
		DisabledReason      any
		DisabledAt          bool
		LastFailureAt       bool
		LastSuccessAt       bool
		SuccessRate24h      any
		FailureCount        int64
		ConsecutiveFailures int
	}
	view := func(h client.Webhook) state {
		return state{h.Active, deref(h.DisabledReason), h.DisabledAt != nil, h.LastFailureAt != nil,
			h.LastSuccessAt != nil, deref(h.SuccessRate24h), h.FailureCount, h.ConsecutiveFailures}
	}
	if diff := cmp.Diff(state{false, "gone", true, true, false, 0.0, 1, 1}, view(h)); diff != "" {
		t.Errorf("webhook after a 410 mismatch (-want +got):\n%s", diff)
	}
	if h.DisabledAt != nil && (h.DisabledAt.Before(before.Add(-time.Second)) || h.DisabledAt.After(time.Now().Add(time.Second))) {
		t.Errorf("disabled_at %s is not when the 410 came", h.DisabledAt)
	}

	if a := ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": "after gone"})); a.Deliveries != 0 {
		t.Errorf("event for a gone webhook: %d deliveries, want 0", a.Deliveries)
	}

	// Re-enabling answers the webhook and an offer to recover the streak.
	healed.Store(true)
	var patched client.Webhook
	patchedAt := time.Now()
	ws.call(t, "PATCH", "/v1/webhooks/"+wh.ID, map[string]any{"active": true}, http.StatusOK, &patched)
	if !patched.Active || patched.DisabledReason != nil || patched.DisabledAt != nil || patched.ConsecutiveFailures != 0 {
		t.Errorf("PATCH {\"active\": true} answered active=%v disabled_reason=%v disabled_at=%v consecutive_failures=%d, want true, null, null, 0",
			patched.Active, deref(patched.DisabledReason), deref(patched.DisabledAt), patched.ConsecutiveFailures)
	}
	switch r := patched.Recovery; {
	case r == nil:
		t.Errorf("PATCH {\"active\": true} answered no recovery offer")
	default:
		t.Logf("recovery offer: since %s until %s failed_deliveries %d (delivery created %s)",
			r.Since.Format(time.RFC3339Nano), r.Until.Format(time.RFC3339Nano), r.FailedDeliveries, d.CreatedAt.Format(time.RFC3339Nano))
		if r.FailedDeliveries != 1 {
			t.Errorf("recovery offer counts %d failed deliveries, want 1 (the delivery the 410 failed, created %s; offer window [%s, %s))",
				r.FailedDeliveries, d.CreatedAt.Format(time.RFC3339Nano), r.Since.Format(time.RFC3339Nano), r.Until.Format(time.RFC3339Nano))
		}
		if r.Until.Before(patchedAt.Add(-time.Second)) || r.Until.After(time.Now().Add(time.Second)) {
			t.Errorf("recovery offer until %s is not now", r.Until)
		}
		// The offer is ready for POST /recover: the same window, dry run.
		var dry client.RecoverResult
		ws.call(t, "POST", "/v1/webhooks/"+wh.ID+"/recover?dry_run=true",
			map[string]any{"since": r.Since.Format(time.RFC3339Nano), "until": r.Until.Format(time.RFC3339Nano)}, http.StatusOK, &dry)
		if dry.Deliveries != r.FailedDeliveries || !dry.DryRun {
			t.Errorf("dry-run recover of the offered window answered %+v, want %d deliveries", dry, r.FailedDeliveries)
		}
	}

	// Recover the gone delivery: it succeeds now, which shows in the health.
	var rec client.RecoverResult
	ws.call(t, "POST", "/v1/webhooks/"+wh.ID+"/recover",
		map[string]any{"since": before.Add(-time.Minute).Format(time.RFC3339Nano)}, http.StatusAccepted, &rec)
	if rec.Deliveries != 1 || rec.DryRun {
		t.Errorf("recover answered %+v, want 1 delivery, not a dry run", rec)
	}
	reqs := rcv.waitRequests(t, sys, 2)
	ws.waitFinished(t, reqs[1].Delivery())
	h = ws.webhook(t, wh.ID)
	if diff := cmp.Diff(state{true, nil, false, true, true, 0.5, 1, 0}, view(h)); diff != "" {
		t.Errorf("webhook after a recovered success mismatch (-want +got):\n%s", diff)
	}
	t.Logf("FIGURE gone_requests=%d", rcv.Count())
}
