package e2e

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestIdempotencyAndRedeliver(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))
	sys := startSystem(t, options{})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/idem"), "events": []string{"nps.submitted"}})

	data := testfactory.EventData(t, "nps.submitted", map[string]any{"id": "nps_42", "score": 10})
	first := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-42")
	again := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-42")
	if diff := cmp.Diff(client.Event{ID: first.ID, Deliveries: 1}, again); diff != "" {
		t.Errorf("repeated Idempotency-Key answer mismatch (-want +got):\n%s", diff)
	}
	history := ws.waitHistory(t, wh.ID, 1)
	original := rcv.waitRequests(t, sys, 1)[0]
	if original.Delivery() != history[0].ID {
		t.Errorf("receiver got delivery %s, history has %s", original.Delivery(), history[0].ID)
	}

	var redelivered client.Delivery
	ws.call(t, "POST", "/v1/deliveries/"+history[0].ID+"/redeliver", nil, http.StatusAccepted, &redelivered)
	if redelivered.ID == "" || redelivered.ID == history[0].ID || redelivered.EventID != first.ID || redelivered.WebhookID != wh.ID {
		t.Errorf("redeliver answered %+v, want a new delivery of event %s to webhook %s", redelivered, first.ID, wh.ID)
	}
	reqs := rcv.waitRequests(t, sys, 2)
	type head struct{ Body, Delivery, Signature string }
	if diff := cmp.Diff(
		head{string(original.Body), redelivered.ID, original.Header.Get("X-Trackelio-Signature")},
		head{string(reqs[1].Body), reqs[1].Delivery(), reqs[1].Header.Get("X-Trackelio-Signature")}); diff != "" {
		t.Errorf("redelivered request mismatch (-want +got):\n%s", diff)
	}

	// Another key is another event.
	other := ws.postEvent(t, "nps.submitted", data, "Idempotency-Key", "nps-43")
	if other.ID == first.ID || other.Deliveries != 1 {
		t.Errorf("a new Idempotency-Key answered %+v, want a new event with 1 delivery", other)
	}
	history = ws.waitHistory(t, wh.ID, 3)
	type row struct {
		ID, EventID string
		Status      client.DeliveryStatus
	}
	wantRows := []row{
		{history[0].ID, other.ID, "succeeded"},
		{redelivered.ID, first.ID, "succeeded"},
		{original.Delivery(), first.ID, "succeeded"},
	}
	var gotRows []row
	for _, d := range history {
		gotRows = append(gotRows, row{d.ID, d.EventID, d.Status})
	}
	if diff := cmp.Diff(wantRows, gotRows); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if n := len(rcv.Requests()); n != 3 {
		t.Errorf("receiver got %d requests, want 3 (original, redelivery, new key)", n)
	}
}
