package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestOutboxRecoversAfterRedisLoss(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, testreceiver.Always(http.StatusOK, "ok"))
	sys := newSystem(t, options{sweepInterval: "500ms", outboxGrace: "200ms"})
	sys.startAPI(t)
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": rcv.URL("/outbox"), "events": []string{"comment.created"}})

	const n = 20
	events := map[string]bool{}
	for i := range n {
		a := ws.postEvent(t, "comment.created", testfactory.EventData(t, "comment.created", map[string]any{"case": i}))
		if a.Deliveries != 1 {
			t.Fatalf("event %d: %d deliveries, want 1", i, a.Deliveries)
		}
		events[a.ID] = true
	}

	// Redis restarts empty: every enqueued task is gone.
	opt, err := redis.ParseURL(sys.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush redis: %v", err)
	}

	sys.startWorker(t)
	sys.startScheduler(t)
	delivered := map[string]int{} // delivery id -> requests
	gotEvents := map[string]bool{}
	sys.waitFor(t, fmt.Sprintf("%d distinct deliveries at the receiver", n), func() (bool, string) {
		clear(delivered)
		clear(gotEvents)
		for _, r := range rcv.Requests() {
			delivered[r.Delivery()]++
			var body struct {
				ID string `json:"id"`
			}
			json.Unmarshal(r.Body, &body)
			gotEvents[body.ID] = true
		}
		return len(delivered) >= n, fmt.Sprintf("%d distinct deliveries", len(delivered))
	})
	for id, count := range delivered {
		if count > 1 {
			t.Logf("delivery %s arrived %d times (allowed: delivery is at-least-once)", id, count)
		}
	}
	if diff := cmp.Diff(events, gotEvents); diff != "" {
		t.Errorf("events at the receiver mismatch (-posted +received):\n%s", diff)
	}
	history := ws.waitHistory(t, wh.ID, n)
	historyIDs := map[string]bool{}
	for _, d := range history {
		if d.Status != "succeeded" {
			t.Errorf("delivery %s is %s, want succeeded", d.ID, d.Status)
		}
		historyIDs[d.ID] = true
	}
	receivedIDs := map[string]bool{}
	for id := range delivered {
		receivedIDs[id] = true
	}
	if diff := cmp.Diff(historyIDs, receivedIDs); diff != "" {
		t.Errorf("delivery ids mismatch (-history +received):\n%s", diff)
	}
}
