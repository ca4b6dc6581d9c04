package e2e

import (
	"fmt"
	"testing"

	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/internal/testreceiver"
)

// TestHostileReceiversKeepWorkerMemoryBounded runs a worker of 64 slots
// against receivers that answer with a 9 MB header, with a body without
// end, and with headers or a body dripped a byte at a time, until every slot
// holds an attempt facing one of them, and bounds the worker's resident
// memory meanwhile. The drips hold their slots; the others come and go.
func TestHostileReceiversKeepWorkerMemoryBounded(t *testing.T) {
	t.Parallel()
	const (
		slots = 64
		// maxRSSMB bounds the worker's resident set. Measured with all 64
		// slots held: 50 to 53 MB idle and 112 to 161 MB at the peak for
		// the race-detector build this package runs, whose shadow memory
		// follows the collector's timing (19 and 32 to 40 MB for a plain
		// build). Without HeaderLimit the race build passed 1000 MB, and a
		// plain one 150 MB with 9 attempts in flight.
		maxRSSMB = 256
	)
	host := testreceiver.NewHostile(t, 0)
	// A webhook's adaptive limit starts at 20 attempts in flight and only
	// answers grow it, which drips never give: four dripping webhooks hold
	// every slot between them.
	receivers := map[string]*receiver{
		"huge headers":  newReceiver(t, testreceiver.Writes(host.HugeHeaders())),
		"endless body":  newReceiver(t, testreceiver.Writes(host.EndlessBody())),
		"header drip":   newReceiver(t, testreceiver.Writes(host.DripHeaders())),
		"header drip 2": newReceiver(t, testreceiver.Writes(host.DripHeaders())),
		"body drip":     newReceiver(t, testreceiver.Writes(host.DripBody())),
		"body drip 2":   newReceiver(t, testreceiver.Writes(host.DripBody())),
	}
	sys := newSystem(t, options{retrySchedule: "1h", env: map[string]string{
		"WORKER_CONCURRENCY": fmt.Sprint(slots),
		// Failures open no breaker: nothing but the slots and the
		// webhooks' limits bounds the attempts in flight.
		"WEBHOOK_MAX_IN_FLIGHT": fmt.Sprint(slots),
		"BREAKER_THRESHOLD":     "0",
		// Longer than the test: the drips hold their attempts until released.
		"DELIVERY_TIMEOUT": "2m",
	}})
	sys.startAPI(t)
	worker := sys.startWorker(t)
	sys.startScheduler(t)
	// Stopping the worker waits for its attempts, so the drips end first.
	t.Cleanup(host.Release)

	ws := sys.newWorkspace(t)
	hooks := map[string]string{}
	for name, r := range receivers {
		hooks[name] = ws.createWebhook(t, map[string]any{"url": r.URL("/hook"), "events": []string{"post.created"}}).ID
	}
	pid := worker.Cmd.Process.Pid
	idle := rssKB(t, pid)

	// Each event is a delivery to each receiver: enough drips for every slot.
	for i := range slots {
		ws.postEvent(t, "post.created", testfactory.EventData(t, "post.created", map[string]any{"case": fmt.Sprintf("hostile_%d", i)}))
	}
	// Sampled until every slot is held, or the bound is broken.
	peak := idle
	sys.waitFor(t, fmt.Sprintf("%d attempts in flight at the hostile receivers", slots), func() (bool, string) {
		peak = max(peak, rssKB(t, pid))
		return host.PeakInFlight() >= slots || peak > maxRSSMB<<10, fmt.Sprintf("at most %d in flight; the worker's resident set at most %.1f MB",
			host.PeakInFlight(), float64(peak)/1024)
	})
	t.Logf("FIGURE hostile_worker_idle_rss_mb=%.1f hostile_worker_peak_rss_mb=%.1f in_flight=%d huge_header_requests=%d endless_body_requests=%d drip_requests=%d",
		float64(idle)/1024, float64(peak)/1024, host.PeakInFlight(),
		receivers["huge headers"].Count(), receivers["endless body"].Count(),
		receivers["header drip"].Count()+receivers["header drip 2"].Count()+receivers["body drip"].Count()+receivers["body drip 2"].Count())
	if peak > maxRSSMB<<10 {
		t.Fatalf("the worker's resident set reached %.1f MB with %d hostile attempts in flight, want at most %d MB",
			float64(peak)/1024, host.PeakInFlight(), maxRSSMB)
	}

	// The customer reads why the huge headers failed, in our words.
	const want = "the response headers were larger than 32 KiB"
	sys.waitFor(t, "a failed attempt at the huge headers", func() (bool, string) {
		for _, d := range ws.rows(t, hooks["huge headers"]) {
			if d.LastError != nil {
				return *d.LastError == want, fmt.Sprintf("last_error %q, want %q", *d.LastError, want)
			}
		}
		return false, "no attempt recorded"
	})
}
