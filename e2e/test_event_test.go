package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestTestEventAnswersLiveResponse(t *testing.T) {
	t.Parallel()
	pong := newReceiver(t, testreceiver.Always(http.StatusCreated, "pong"))
	broken := newReceiver(t, testreceiver.Always(http.StatusInternalServerError, "boom"))
	stuck := newReceiver(t, testreceiver.Hangs())
	const timeout = time.Second
	sys := startSystem(t, options{env: map[string]string{"DELIVERY_TIMEOUT": timeout.String()}})
	ws := sys.newWorkspace(t)
	good := ws.createWebhook(t, map[string]any{"url": pong.URL("/pong"), "events": []string{"nps.submitted"}})
	bad := ws.createWebhook(t, map[string]any{"url": broken.URL("/boom"), "events": []string{"nps.submitted"}})
	slow := ws.createWebhook(t, map[string]any{"url": stuck.URL("/stuck"), "events": []string{"nps.submitted"}})

	var got client.TestResult
	// The contract, checked on every answer, requires duration_ms as an
	// integer, so TestResult's 0 is a real duration, not a missing one.
	ws.call(t, "POST", "/v1/webhooks/"+good.ID+"/test", nil, http.StatusOK, &got)
	t.Logf("FIGURE test_event_duration_ms=%d", got.DurationMS)
	if got.DeliveryID == "" || got.EventID == "" {
		t.Errorf("POST /test answered %+v, want delivery_id, event_id and duration_ms", got)
	}
	type view struct {
		Succeeded    bool
		StatusCode   any
		ResponseBody string
		Truncated    bool
		Error        any
	}
	if diff := cmp.Diff(view{true, 201, "pong", false, nil},
		view{got.Succeeded, deref(got.StatusCode), got.ResponseBody, got.ResponseTruncated, deref(got.Error)}); diff != "" {
		t.Errorf("POST /test to a 201 endpoint mismatch (-want +got):\n%s", diff)
	}
	reqs := pong.Requests()
	if len(reqs) != 1 {
		t.Fatalf("endpoint got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	var body struct {
		ID          string          `json:"id"`
		Type        string          `json:"type"`
		WorkspaceID string          `json:"workspace_id"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("test event body is not JSON: %v\n%s", err, r.Body)
	}
	type head struct{ Event, Delivery, Signature, Type, ID, Workspace string }
	if diff := cmp.Diff(head{"webhook.test", got.DeliveryID, sign(good.Secret, r.Body), "webhook.test", got.EventID, ws.ID},
		head{r.Header.Get("X-Trackelio-Event"), r.Delivery(), r.Header.Get("X-Trackelio-Signature"), body.Type, body.ID, body.WorkspaceID}); diff != "" {
		t.Errorf("test event request mismatch (-want +got):\n%s", diff)
	}
	if err := verifyStandard(t, good.Secret, r); err != nil {
		t.Errorf("standardwebhooks rejected the test event: %v", err)
	}
	hist := ws.rows(t, good.ID)
	if len(hist) != 1 || hist[0].ID != got.DeliveryID || hist[0].EventType != "webhook.test" || hist[0].Status != "succeeded" ||
		deref(hist[0].StatusCode) != any(201) {
		t.Errorf("history after the test: %+v, want the succeeded webhook.test delivery %s", hist, got.DeliveryID)
	}
	// A test is not the webhook's health.
	h := ws.webhook(t, good.ID)
	if h.LastSuccessAt != nil || h.SuccessRate24h != nil {
		t.Errorf("health after a successful test: last_success_at %v success_rate_24h %v, want neither", deref(h.LastSuccessAt), deref(h.SuccessRate24h))
	}
	// The test reached that webhook only.
	for _, other := range []client.Webhook{bad, slow} {
		if n := len(ws.rows(t, other.ID)); n != 0 {
			t.Errorf("webhook %s got %d deliveries from another webhook's test", other.URL, n)
		}
	}

	ws.call(t, "POST", "/v1/webhooks/"+bad.ID+"/test", map[string]any{}, http.StatusOK, &got)
	if diff := cmp.Diff(view{false, 500, "boom", false, "receiver answered 500 Internal Server Error"},
		view{got.Succeeded, deref(got.StatusCode), got.ResponseBody, got.ResponseTruncated, deref(got.Error)}); diff != "" {
		t.Errorf("POST /test to a 500 endpoint mismatch (-want +got):\n%s", diff)
	}

	// A timeout is answered once DELIVERY_TIMEOUT has passed.
	start := time.Now()
	ws.call(t, "POST", "/v1/webhooks/"+slow.ID+"/test", nil, http.StatusOK, &got)
	took := time.Since(start)
	t.Logf("FIGURE test_event_timeout_answer_ms=%d delivery_timeout_ms=%d", took.Milliseconds(), timeout.Milliseconds())
	if got.Succeeded || got.StatusCode != nil || got.Error == nil || took < timeout || took > timeout+5*time.Second {
		t.Errorf("POST /test to a hanging endpoint answered %+v (error %v) after %v, want a failure without status and an error after about %v",
			got, deref(got.Error), took, timeout)
	}

	// The failed tests were not retried and do not count as failures.
	for _, hist := range ws.rows(t, bad.ID) {
		if hist.Status != "failed" || hist.Attempts != 1 || hist.NextAttemptAt != nil {
			t.Errorf("failed test delivery %s: %s after %d attempts, next %v; want failed after its one attempt", hist.ID, hist.Status, hist.Attempts, deref(hist.NextAttemptAt))
		}
	}
	if h := ws.webhook(t, bad.ID); h.FailureCount != 0 || h.ConsecutiveFailures != 0 || h.LastFailureAt != nil {
		t.Errorf("after failed tests the webhook shows %d failures (%d in a row, last %v), want none", h.FailureCount, h.ConsecutiveFailures, deref(h.LastFailureAt))
	}

	// An inactive webhook can be tested, to check a fix before re-enabling it.
	ws.call(t, "PATCH", "/v1/webhooks/"+bad.ID, map[string]any{"active": false}, http.StatusOK, nil)
	before := broken.Count()
	ws.call(t, "POST", "/v1/webhooks/"+bad.ID+"/test", nil, http.StatusOK, &got)
	if got.Succeeded || deref(got.StatusCode) != any(500) || broken.Count() != before+1 {
		t.Errorf("POST /test to an inactive webhook answered %+v after %d requests, want the endpoint's 500 after one", got, broken.Count()-before)
	}
	if h := ws.webhook(t, bad.ID); h.Active {
		t.Errorf("testing an inactive webhook activated it")
	}
}
