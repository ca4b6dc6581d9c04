package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/trackelio/webhooks/internal/testreceiver"
)

// eventID returns the "id" of a delivered body.
func eventID(t testing.TB, body []byte) string {
	t.Helper()
	var b struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("delivered body is not JSON: %v\n%s", err, body)
	}
	return b.ID
}

// verifyStandard checks a request's Standard Webhooks headers with the
// published library and the given secret.
func verifyStandard(t testing.TB, secret string, r testreceiver.Received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	return wh.Verify(r.Body, r.Header)
}

func TestStandardWebhooksAcceptsEveryDelivery(t *testing.T) {
	t.Parallel()
	// Every delivery fails once, then succeeds.
	rcv := newReceiver(t, func(_ testreceiver.Received, _, k int) testreceiver.Answer {
		if k == 1 {
			return testreceiver.Answer{Status: http.StatusInternalServerError, Body: "not yet"}
		}
		return testreceiver.Answer{Status: http.StatusOK, Body: "ok"}
	})
	sys := startSystem(t, options{retrySchedule: "100ms,100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/std"), "events": allTypes()})
	const n = 5
	types := allTypes()[:n]
	for _, typ := range types {
		ws.postEvent(t, typ, eventData[typ])
	}
	ws.waitHistory(t, wh.ID, n)
	reqs := rcv.Requests()
	if len(reqs) != 2*n {
		t.Errorf("endpoint got %d requests, want %d (each delivery twice)", len(reqs), 2*n)
	}

	idsByEvent := map[string]map[string]bool{} // event id -> webhook-id values
	timestamps := map[string][]int64{}         // webhook-id -> timestamps in order
	for i, r := range reqs {
		if err := verifyStandard(t, wh.Secret, r); err != nil {
			t.Errorf("request %d: standardwebhooks rejected it: %v", i+1, err)
		}
		if got := r.Header.Get("X-Trackelio-Signature"); got != sign(wh.Secret, r.Body) {
			t.Errorf("request %d: bad X-Trackelio-Signature", i+1)
		}
		id := r.Header.Get("webhook-id")
		if id == "" || id != r.Delivery() {
			t.Errorf("request %d: webhook-id %q, X-Trackelio-Delivery %q; want equal", i+1, id, r.Delivery())
		}
		ev := eventID(t, r.Body)
		if idsByEvent[ev] == nil {
			idsByEvent[ev] = map[string]bool{}
		}
		idsByEvent[ev][id] = true
		var ts int64
		if _, err := fmt.Sscan(r.Header.Get("webhook-timestamp"), &ts); err != nil {
			t.Errorf("request %d: webhook-timestamp %q is not unix seconds", i+1, r.Header.Get("webhook-timestamp"))
		}
		if d := r.At.Unix() - ts; d < -1 || d > 1 {
			t.Errorf("request %d: webhook-timestamp %d is %ds away from when it arrived", i+1, ts, d)
		}
		timestamps[id] = append(timestamps[id], ts)
	}
	ids := map[string]bool{}
	for ev, set := range idsByEvent {
		if len(set) != 1 {
			t.Errorf("event %s came with %d different webhook-id values over its retries, want 1", ev, len(set))
		}
		for id := range set {
			ids[id] = true
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct webhook-id values, want %d", len(ids), n)
	}
	for id, ts := range timestamps {
		if !slices.IsSorted(ts) {
			t.Errorf("delivery %s: webhook-timestamp goes back between attempts: %v", id, ts)
		}
	}
	// A body changed after signing is rejected.
	if len(reqs) > 0 {
		tampered := reqs[0]
		tampered.Body = append(slices.Clone(tampered.Body[:len(tampered.Body)-1]), []byte(`,"x":1}`)...)
		if verifyStandard(t, wh.Secret, tampered) == nil {
			t.Errorf("standardwebhooks accepted a tampered body")
		}
	}
	t.Logf("FIGURE standard_webhooks_verified_requests=%d", len(reqs))
}
