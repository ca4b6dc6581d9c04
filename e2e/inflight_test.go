package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// percentile returns the q-quantile (nearest rank) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestInFlightCapKeepsHealthyLatency is not parallel: it measures latency,
// so no other test of this package (the browser's above all) may compete for
// the CPU while it runs.
func TestInFlightCapKeepsHealthyLatency(t *testing.T) {
	const (
		healthyCount = 5
		events       = 40
		pace         = 25 * time.Millisecond
		maxInFlight  = 2
		timeout      = 3 * time.Second
	)
	var healthy []*receiver
	for range healthyCount {
		healthy = append(healthy, newReceiver(t, testreceiver.Always(http.StatusOK, "ok")))
	}
	bad := newReceiver(t, testreceiver.Hangs())

	sys := startSystem(t, options{retrySchedule: "10s", env: map[string]string{
		"WORKER_CONCURRENCY":    "10",
		"WEBHOOK_MAX_IN_FLIGHT": fmt.Sprint(maxInFlight),
		"DELIVERY_TIMEOUT":      timeout.String(),
	}})
	ws := sys.newWorkspace(t)
	for i, e := range healthy {
		ws.createWebhook(t, map[string]any{"url": e.URL(fmt.Sprintf("/healthy-%d", i)), "events": []string{"comment.created"}})
	}

	// phase posts the events at a steady pace and returns every healthy
	// delivery's latency: receive time minus when POST /v1/events returned.
	phase := func(name string, wantDeliveries int) []time.Duration {
		posted := map[string]time.Time{}
		start := time.Now()
		for i := range events {
			time.Sleep(time.Until(start.Add(time.Duration(i) * pace)))
			a := ws.postEvent(t, "comment.created", testfactory.EventData(t, "comment.created", map[string]any{"case": fmt.Sprintf("%s_%d", name, i)}))
			posted[a.ID] = time.Now()
			if a.Deliveries != wantDeliveries {
				t.Fatalf("%s: event %d answered %d deliveries, want %d", name, i, a.Deliveries, wantDeliveries)
			}
		}
		var lat []time.Duration
		sys.waitFor(t, name+": every healthy delivery", func() (bool, string) {
			lat = lat[:0]
			for _, e := range healthy {
				seen := map[string]bool{} // a redelivery counts once, by its first arrival
				for _, r := range e.Requests() {
					var ev struct {
						ID string `json:"id"`
					}
					json.Unmarshal(r.Body, &ev)
					if postedAt, ok := posted[ev.ID]; ok && !seen[ev.ID] {
						seen[ev.ID] = true
						lat = append(lat, r.At.Sub(postedAt))
					}
				}
			}
			return len(lat) == healthyCount*events, fmt.Sprintf("%d of %d", len(lat), healthyCount*events)
		})
		return lat
	}

	latA := phase("phase_a", healthyCount)
	badHook := ws.createWebhook(t, map[string]any{"url": bad.URL("/hangs"), "events": []string{"comment.created"}})
	badBefore := bad.Count()
	latB := phase("phase_b", healthyCount+1)

	p50A, p99A := percentile(latA, 0.5), percentile(latA, 0.99)
	p50B, p99B := percentile(latB, 0.5), percentile(latB, 0.99)
	t.Logf("FIGURE inflight_phase_a_p50_ms=%d inflight_phase_a_p99_ms=%d inflight_phase_a_max_ms=%d",
		p50A.Milliseconds(), p99A.Milliseconds(), percentile(latA, 1).Milliseconds())
	t.Logf("FIGURE inflight_phase_b_p50_ms=%d inflight_phase_b_p99_ms=%d inflight_phase_b_max_ms=%d",
		p50B.Milliseconds(), p99B.Milliseconds(), percentile(latB, 1).Milliseconds())
	t.Logf("FIGURE inflight_p99_ratio_b_over_a=%.2f", float64(p99B)/float64(max(p99A, time.Millisecond)))
	if p99B >= 1500*time.Millisecond {
		t.Errorf("with a hanging webhook, healthy p99 latency is %v, want below 1.5s", p99B)
	}

	// The hanging endpoint was reached and never held more than the cap.
	bad.waitRequests(t, sys, badBefore+1)
	peak := bad.PeakInFlight()
	t.Logf("FIGURE inflight_bad_peak_concurrent=%d cap=%d bad_requests=%d", peak, maxInFlight, bad.Count())
	if peak > maxInFlight {
		t.Errorf("the hanging endpoint held %d requests at once, want at most %d", peak, maxInFlight)
	}

	// Waiting for a slot is not an attempt: once the bad webhook is switched
	// off and its last attempts have timed out and been recorded, its
	// deliveries record exactly the requests its endpoint got.
	ws.call(t, "PATCH", "/v1/webhooks/"+badHook.ID, map[string]any{"active": false}, http.StatusOK, nil)
	sys.waitFor(t, "every request to the hanging endpoint recorded as one attempt", func() (bool, string) {
		recorded := 0
		for _, d := range ws.rows(t, badHook.ID) {
			recorded += d.Attempts
		}
		got := bad.Count()
		return recorded == got, fmt.Sprintf("%d attempts recorded, %d requests received", recorded, got)
	})
}
