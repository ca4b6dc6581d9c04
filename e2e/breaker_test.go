package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/client"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

func TestBreakerProbesDeadEndpoint(t *testing.T) {
	t.Parallel()
	dead := newReceiver(t, testreceiver.Always(http.StatusInternalServerError, "dead"))
	const (
		events   = 20
		probes   = 4
		interval = time.Second
		attempts = 11 // 10 schedule entries + 1
	)
	sys := startSystem(t, options{
		retrySchedule: "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
		env: map[string]string{
			"BREAKER_THRESHOLD":      "3",
			"BREAKER_PROBE_INTERVAL": interval.String(),
		},
	})
	ws := sys.newWorkspace(t)
	wh := ws.createWebhook(t, map[string]any{"url": dead.URL("/dead"), "events": []string{"csat.submitted"}})
	for i := range events {
		ws.postEvent(t, "csat.submitted", testfactory.EventData(t, "csat.submitted", map[string]any{"id": fmt.Sprintf("csat_%d", i)}))
	}

	// The breaker opens after 3 consecutive failures; deliveries already
	// past the check finish their attempt. The window starts once the
	// endpoint has been quiet for 300 ms (probes come once a second).
	dead.waitRequests(t, sys, 3)
	sys.waitFor(t, "3 consecutive failures", func() (bool, string) {
		h := ws.webhook(t, wh.ID)
		return h.ConsecutiveFailures >= 3, fmt.Sprintf("%d consecutive failures", h.ConsecutiveFailures)
	})
	sys.waitFor(t, "the first burst to end", func() (bool, string) {
		reqs := dead.Requests()
		quiet := time.Since(reqs[len(reqs)-1].At)
		return quiet >= 300*time.Millisecond, fmt.Sprintf("last request %v ago", quiet)
	})
	burst := dead.Count()

	// With the breaker open only probes arrive: wait for a few of them (no
	// fixed sleep) and check their spacing. At most one per interval; at
	// least one per interval plus the scheduling lag: asynq keeps due
	// times in whole seconds (up to 1 s of rounding) and forwards them
	// every 250 ms.
	sys.waitFor(t, fmt.Sprintf("%d probes after the burst", probes), func() (bool, string) {
		n := dead.Count() - burst
		return n >= probes, fmt.Sprintf("%d probes", n)
	})
	reqs := dead.Requests()[burst-1 : burst+probes]
	most := interval + time.Second + 250*time.Millisecond
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].At.Sub(reqs[i-1].At)
		t.Logf("FIGURE breaker_probe_gap_%d_ms=%d", i, gap.Milliseconds())
		// The first gap starts at the burst's last request, not a probe.
		if i > 1 && gap < interval-100*time.Millisecond {
			t.Errorf("probe %d came %v after the one before, want at most one per %v", i, gap.Round(time.Millisecond), interval)
		}
		if gap > most {
			t.Errorf("probe %d came %v after the request before, want at most %v (probes continue)", i, gap.Round(time.Millisecond), most)
		}
	}
	// Without the breaker the same time would have seen every delivery
	// retried ten times a second.
	span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
	storm := events * int(span/(100*time.Millisecond))
	t.Logf("FIGURE breaker_burst_requests=%d", burst)
	t.Logf("FIGURE breaker_requests_in_%s=%d without_breaker_about=%d (%d deliveries x 10 attempts/s)", span.Round(time.Millisecond), probes, storm, events)

	// Breaker waits are not attempts: every delivery's attempts are exactly
	// the requests the endpoint got for it, numbered 1..n, all 500.
	var hist []client.Delivery
	sys.waitFor(t, "recorded attempts to match the requests", func() (bool, string) {
		perDelivery := map[string]int{}
		for _, r := range dead.Requests() {
			perDelivery[r.Delivery()]++
		}
		hist = ws.rows(t, wh.ID)
		recorded := map[string]int{}
		for _, d := range hist {
			if d.Attempts > 0 {
				recorded[d.ID] = d.Attempts
			}
		}
		diff := cmp.Diff(perDelivery, recorded)
		return diff == "", "requests vs recorded attempts (-requests +recorded):\n" + diff
	})
	if len(hist) != events {
		t.Errorf("history has %d deliveries, want %d", len(hist), events)
	}
	total := 0
	for _, row := range hist {
		d := ws.delivery(t, row.ID)
		total += len(d.Attempts)
		for i, a := range d.Attempts {
			if a.Attempt != i+1 || deref(a.StatusCode) != any(500) {
				t.Errorf("delivery %s attempt %d: number %d status %v, want %d and 500", d.ID, i+1, a.Attempt, deref(a.StatusCode), i+1)
			}
		}
		if d.AttemptCount != len(d.Attempts) || d.AttemptCount > attempts {
			t.Errorf("delivery %s: attempt_count %d, %d attempts listed", d.ID, d.AttemptCount, len(d.Attempts))
		}
	}
	t.Logf("FIGURE breaker_recorded_attempts=%d endpoint_requests=%d", total, dead.Count())
}
