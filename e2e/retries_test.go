package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// attemptRow is the part of an attempt a test can predict.
type attemptRow struct {
	Attempt      int
	StatusCode   *int
	ResponseBody string
}

func attemptRows(as []client.Attempt) []attemptRow {
	rows := []attemptRow{}
	for _, a := range as {
		rows = append(rows, attemptRow{a.Attempt, a.StatusCode, a.ResponseBody})
	}
	return rows
}

// counters are a webhook's failure counts.
type counters struct {
	FailureCount        int64
	ConsecutiveFailures int
}

// checkSameDelivery checks that requests are attempts of one delivery:
// identical bodies, the same delivery id, each validly signed.
func checkSameDelivery(t testing.TB, reqs []testreceiver.Received, secret string) {
	t.Helper()
	for i, r := range reqs {
		type attemptHead struct{ Body, Delivery, Signature string }
		want := attemptHead{string(reqs[0].Body), reqs[0].Delivery(), sign(secret, reqs[0].Body)}
		got := attemptHead{string(r.Body), r.Delivery(), r.Header.Get("X-Trackelio-Signature")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("request %d differs from the first (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Statuses(500, 500, 200))
	const delay = 200 * time.Millisecond
	sys := startSystem(t, options{retrySchedule: "200ms,200ms,200ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/retry"), "events": []string{"post.assigned"}})
	ev := ws.postEvent(t, "post.assigned", testfactory.EventData(t, "post.assigned", map[string]any{"case": "retry"}))

	reqs := rcv.waitRequests(t, sys, 3)
	d := ws.waitFinished(t, reqs[0].Delivery())
	want := []attemptRow{
		{1, new(500), "answer 1: 500"},
		{2, new(500), "answer 2: 500"},
		{3, new(200), "answer 3: 200"},
	}
	if diff := cmp.Diff(want, attemptRows(d.Attempts)); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
	type summary struct {
		EventID      string
		Status       client.DeliveryStatus
		AttemptCount int
		StatusCode   *int
		ResponseBody string
	}
	if diff := cmp.Diff(summary{ev.ID, "succeeded", 3, new(200), "answer 3: 200"},
		summary{d.EventID, d.Status, d.AttemptCount, d.StatusCode, d.ResponseBody}); diff != "" {
		t.Errorf("delivery mismatch (-want +got):\n%s", diff)
	}
	got := ws.webhook(t, wh.ID)
	if diff := cmp.Diff(counters{2, 0}, counters{got.FailureCount, got.ConsecutiveFailures}); diff != "" {
		t.Errorf("webhook counters mismatch (-want +got):\n%s", diff)
	}

	reqs = rcv.Requests()
	if len(reqs) != 3 {
		t.Errorf("receiver got %d requests, want 3", len(reqs))
	}
	checkSameDelivery(t, reqs, wh.Secret)
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < delay {
			t.Errorf("attempt %d came %v after attempt %d; the schedule says %v", i+1, gap, i, delay)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Always(http.StatusInternalServerError, "down"))
	sys := startSystem(t, options{retrySchedule: "100ms,100ms"})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/down"), "events": []string{"post.status_changed"}})
	ws.postEvent(t, "post.status_changed", testfactory.EventData(t, "post.status_changed", map[string]any{"case": "down"}))

	id := rcv.waitRequests(t, sys, 1)[0].Delivery()
	d := ws.waitFinished(t, id)
	want := []attemptRow{{1, new(500), "down"}, {2, new(500), "down"}, {3, new(500), "down"}}
	if diff := cmp.Diff(want, attemptRows(d.Attempts)); diff != "" {
		t.Errorf("attempts mismatch (-want +got):\n%s", diff)
	}
	if d.Status != "failed" || d.AttemptCount != 3 {
		t.Errorf("delivery ended %s after %d attempts, want failed after 3", d.Status, d.AttemptCount)
	}

	// The exhausted task is archived where the last retry ran: the retries
	// queue, under "<delivery id>:<attempt>".
	insp := queuetest.NewInspector(t, queuetest.RedisOpt(t, sys.redisURL))
	var task *asynq.TaskInfo
	taskID := id + ":3"
	sys.waitFor(t, "the task to be archived", func() (bool, string) {
		tasks, err := insp.ListArchivedTasks("retries")
		if err != nil {
			return false, err.Error()
		}
		for _, ti := range tasks {
			if ti.ID == taskID {
				task = ti
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d archived tasks, none with id %s", len(tasks), taskID)
	})
	type taskView struct {
		Queue, Type string
		Payload     map[string]any
	}
	var payload map[string]any
	if err := json.Unmarshal(task.Payload, &payload); err != nil {
		t.Errorf("task payload %q is not JSON: %v", task.Payload, err)
	}
	if diff := cmp.Diff(taskView{"retries", "webhook:deliver", map[string]any{"delivery_id": id}},
		taskView{task.Queue, task.Type, payload}); diff != "" {
		t.Errorf("archived task mismatch (-want +got):\n%s", diff)
	}

	reqs := rcv.Requests()
	if len(reqs) != 3 {
		t.Errorf("receiver got %d requests, want exactly 3", len(reqs))
	}
	checkSameDelivery(t, reqs, wh.Secret)
	got := ws.webhook(t, wh.ID)
	if diff := cmp.Diff(counters{3, 3}, counters{got.FailureCount, got.ConsecutiveFailures}); diff != "" {
		t.Errorf("webhook counters mismatch (-want +got):\n%s", diff)
	}
}
