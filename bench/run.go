//go:build bench

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runSpec is one measurement of the service on a fresh system.
type runSpec struct {
	name    string
	hooks   int // webhooks subscribed to post.created
	history int // deliveries seeded before the load
	events  int // saturated: events to send as fast as clients allow
	clients int
	// paced: rate events per second for duration instead of saturating.
	paced    bool
	rate     int
	duration time.Duration
}

// serviceRun is what one run measured.
type serviceRun struct {
	spec       runSpec
	deliveries int
	elapsed    time.Duration // first POST → all succeeded in PostgreSQL and received
	postsTook  time.Duration // first POST → last 202
	latency    latencies     // 202 → receipt
	apiP50     time.Duration // POST /v1/events round trip
	apiP99     time.Duration
	duplicates int     // deliveries received more than once
	workerRSS  float64 // MiB, peak over the worker's life
	cpu        cpuUsage
	waits      string // the worker's trackelio_delivery_waits_total
	seedTook   time.Duration
	// paced runs only
	achievedRate float64       // events accepted per second while sending
	maxBacklog   int           // most events due but not yet sent
	drain        time.Duration // last 202 → last delivery received
}

func (r serviceRun) perSecond() float64 { return float64(r.deliveries) / r.elapsed.Seconds() }

// keptPace: the pacer never fell more than 100 ms of events behind and
// the api accepted at least 95% of the target rate.
func (r serviceRun) keptPace() bool {
	return r.maxBacklog <= r.spec.rate/10 && r.achievedRate >= 0.95*float64(r.spec.rate)
}

func (r serviceRun) keptUp() bool { return r.drain <= keptUpWithin }

// runService starts a system, creates a workspace and the webhooks through
// the API, seeds history if asked, sends the load and waits until every
// delivery succeeded and was received.
func runService(t *testing.T, binDir string, spec runSpec) serviceRun {
	ctx := t.Context()
	sys := startSystem(t, binDir)
	rcv := startReceiver(t)
	api := newAPIClient(sys.apiURL)
	t.Cleanup(api.http.CloseIdleConnections)

	wsID, key, err := api.createWorkspace(ctx, sys.adminToken)
	if err != nil {
		t.Fatal(err)
	}
	hooks := make([]string, spec.hooks)
	for i := range hooks {
		name := strconv.Itoa(i)
		id, secret, err := api.createWebhook(ctx, key, rcv.url(name))
		if err != nil {
			t.Fatal(err)
		}
		rcv.setSecret(name, secret)
		hooks[i] = id
	}
	run := serviceRun{spec: spec}
	if spec.history > 0 {
		say("%s: seeding %d historical deliveries of the webhook...", spec.name, spec.history)
		if run.seedTook, err = seedHistory(ctx, sys.db, wsID, hooks[0], spec.history); err != nil {
			t.Fatal(err)
		}
		say("%s: seeded in %.1fs", spec.name, run.seedTook.Seconds())
	}

	before := snapshotCPU(sys)
	start := time.Now()
	var accepts []accepted
	if spec.paced {
		load, err := api.pace(ctx, key, spec.rate, spec.duration)
		if err != nil {
			t.Fatalf("paced load: %v", err)
		}
		accepts = load.accepts
		run.maxBacklog = load.maxBacklog
		run.achievedRate = float64(len(accepts)) / load.lastAt.Sub(load.start).Seconds()
	} else if accepts, err = api.saturate(ctx, key, spec.events, spec.clients); err != nil {
		t.Fatalf("saturating load: %v", err)
	}
	var lastPost time.Time
	for _, a := range accepts {
		if a.deliveries != spec.hooks {
			t.Fatalf("event %s answered %d deliveries, want %d", a.eventID, a.deliveries, spec.hooks)
		}
		run.deliveries += a.deliveries
		lastPost = maxTime(lastPost, a.at)
	}
	run.postsTook = lastPost.Sub(start)
	end, err := waitDelivered(ctx, sys, rcv, hooks, start.Add(-time.Minute), run.deliveries)
	if err != nil {
		t.Fatalf("%s: %v", spec.name, err)
	}
	run.elapsed = end.Sub(start)
	run.cpu = before.until(snapshotCPU(sys))
	if run.workerRSS, err = peakRSSMB(sys.worker.Cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	run.waits = workerWaits(ctx, sys.worker.addr)

	receipts, dups, err := rcv.receipts()
	if err != nil {
		t.Fatal(err)
	}
	run.duplicates = dups
	if run.latency, err = acceptToReceipt(accepts, receipts); err != nil {
		t.Fatal(err)
	}
	run.apiP50, run.apiP99 = roundTrips(accepts)
	var lastReceipt time.Time
	for _, rc := range receipts {
		lastReceipt = maxTime(lastReceipt, rc.at)
	}
	run.drain = max(lastReceipt.Sub(lastPost), 0)
	return run
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// workerWaits reads the worker's count of deliveries put back without an
// attempt (in-flight cap, open breaker): with one busy webhook it shows
// how often the per-webhook cap turned a free worker slot away.
func workerWaits(ctx context.Context, addr string) string {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return "unknown: " + err.Error()
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer resp.Body.Close()
	var found []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "trackelio_delivery_waits_total{reason=\""); ok {
			reason, value, _ := strings.Cut(rest, "\"} ")
			found = append(found, reason+"="+value)
		}
	}
	if len(found) == 0 {
		return "not exported"
	}
	return strings.Join(found, " ")
}

// say prints a line of the report plainly, so it reads the same with or
// without go test's -v prefixes.
func say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
