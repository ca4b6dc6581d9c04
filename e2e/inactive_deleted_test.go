package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestInactiveAndDeletedWebhooks(t *testing.T) {
	t.Parallel()
	idle := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))
	down := newReceiver(t, testreceiver.Always(http.StatusServiceUnavailable, "down"))
	sys := startSystem(t, options{retrySchedule: "1s,1s,1s,1s"})
	ws := sys.newWorkspace(t)

	// Inactive webhooks, whether created so or switched off, get nothing.
	createdOff := ws.createWebhook(t, map[string]any{"url": idle.URL("/created-off"), "events": []string{"csat.submitted"}, "active": false})
	switchedOff := ws.createWebhook(t, map[string]any{"url": idle.URL("/switched-off"), "events": []string{"csat.submitted"}})
	var patched client.Webhook
	ws.call(t, "PATCH", "/v1/webhooks/"+switchedOff.ID, map[string]any{"active": false}, http.StatusOK, &patched)
	if patched.ID != switchedOff.ID || patched.Active {
		t.Errorf("PATCH {\"active\": false} answered %+v", patched)
	}
	a := ws.postEvent(t, "csat.submitted", testfactory.EventData(t, "csat.submitted", map[string]any{"id": "csat_2", "rating": 2}))
	type inactive struct {
		Active  bool
		History int
	}
	for _, wh := range []client.Webhook{createdOff, switchedOff} {
		if diff := cmp.Diff(inactive{false, 0}, inactive{ws.webhook(t, wh.ID).Active, len(ws.history(t, wh.ID, 10))}); diff != "" {
			t.Errorf("inactive webhook %s mismatch (-want +got):\n%s", wh.URL, diff)
		}
	}
	if a.Deliveries != 0 {
		t.Errorf("event for inactive webhooks only: %d deliveries, want 0", a.Deliveries)
	}

	// A webhook deleted while its delivery waits for a retry ends it.
	doomed := ws.createWebhook(t, map[string]any{"url": down.URL("/deleted"), "events": []string{"conversation.completed"}})
	ws.postEvent(t, "conversation.completed", testfactory.EventData(t, "conversation.completed", nil))
	id := down.waitRequests(t, sys, 1)[0].Delivery()
	ws.call(t, "DELETE", "/v1/webhooks/"+doomed.ID, nil, http.StatusNoContent, nil)
	atDelete := len(down.Requests())
	ws.call(t, "GET", "/v1/webhooks/"+doomed.ID, nil, http.StatusNotFound, nil)
	var listed []string
	for _, wh := range ws.webhooks(t) {
		listed = append(listed, wh.ID)
	}
	slices.Sort(listed)
	wantListed := []string{createdOff.ID, switchedOff.ID}
	slices.Sort(wantListed)
	if diff := cmp.Diff(wantListed, listed); diff != "" {
		t.Errorf("GET /v1/webhooks after the delete mismatch (-want +got):\n%s", diff)
	}

	// The contract (README, API): a deleted webhook's deliveries stay
	// readable by id, and the delete ends the pending one as cancelled.
	d := ws.waitFinished(t, id)
	if d.Status != "cancelled" || d.AttemptCount >= 5 {
		t.Errorf("delivery of the deleted webhook ended %s after %d attempts, want cancelled before attempt 5", d.Status, d.AttemptCount)
	}

	// Its task leaves the queue and the receiver hears no more.
	insp := queuetest.NewInspector(t, queuetest.RedisOpt(t, sys.redisURL))
	// The first attempt's task is "deliveries"/<id>, the retry for attempt
	// n is "retries"/<id>:<n>.
	locations := [][2]string{{"deliveries", id}}
	for n := 2; n <= 6; n++ {
		locations = append(locations, [2]string{"retries", fmt.Sprintf("%s:%d", id, n)})
	}
	sys.waitFor(t, "the deleted webhook's tasks to leave the queues", func() (bool, string) {
		for _, loc := range locations {
			info, err := insp.GetTaskInfo(loc[0], loc[1])
			if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
				continue
			}
			if err != nil {
				return false, err.Error()
			}
			if info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived {
				return false, loc[0] + "/" + loc[1] + " is " + info.State.String()
			}
		}
		return true, ""
	})
	// The delete cancels the pending delivery in the transaction that
	// tombstones the webhook, so only an attempt already in flight then
	// may still reach the URL.
	if late := len(down.Requests()) - atDelete; late > 1 {
		t.Errorf("%d requests reached the deleted webhook's URL after the delete, want at most the one in flight", late)
	}
}
