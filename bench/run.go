//go:build bench

package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testreceiver"
)

// runSpec is one measurement of the service on a fresh system.
type runSpec struct {
	name    string
	hooks   int // webhooks subscribed to post.created, bad ones included
	history int // deliveries seeded before the load
	events  int // saturated: events to send as fast as clients allow
	clients int
	// paced: rate events per second for duration instead of saturating.
	paced    bool
	rate     int
	duration time.Duration
	// warmup, when set on a paced run, measures the steady window: from
	// this long after the first POST to the end of offering.
	warmup time.Duration
	// steadyOnly: the service cannot keep up by design, so the run stops
	// after offering, measures the steady window and leaves the backlog.
	steadyOnly bool

	// The receivers: each webhook on its own listener (else all on one),
	// over HTTPS, answering after latency() (nil: at once). The last
	// len(bad) webhooks answer as bad says; the run waits for and measures
	// the others, the healthy ones.
	ownListeners bool
	tls          bool
	latency      func() time.Duration
	bad          []testreceiver.Reply

	// The system: workers worker processes (0 means 1), and env over
	// serviceEnv for every process.
	workers int
	env     map[string]string
}

func (s runSpec) healthyHooks() int { return s.hooks - len(s.bad) }

// serviceRun is what one run measured.
type serviceRun struct {
	spec       runSpec
	events     int
	deliveries int           // of the healthy webhooks
	elapsed    time.Duration // first POST → all healthy ones succeeded in PostgreSQL and received
	postsTook  time.Duration // first POST → last 202
	latency    latencies     // 202 → receipt, healthy webhooks
	apiP50     time.Duration // POST /v1/events round trip
	apiP99     time.Duration
	duplicates int     // deliveries received more than once
	workerRSS  float64 // MiB, the largest worker's peak over its life
	cpu        cpuUsage
	waits      string // the workers' trackelio_delivery_waits_total
	seedTook   time.Duration
	// peakInFlight is the most requests the healthy receivers held at once.
	peakInFlight int
	// paced runs only
	achievedRate float64       // events accepted per second while sending
	maxBacklog   int           // most events due but not yet sent
	drain        time.Duration // last 202 → last delivery received
	window       *steady       // with a warm-up shorter than the offering
	// healthyWindow is window at the healthy webhooks' receiver only.
	healthyWindow *steady
}

func (r serviceRun) perSecond() float64 { return float64(r.deliveries) / r.elapsed.Seconds() }

// deliveredRatio is the healthy deliveries received per second in the
// steady window over the healthy deliveries offered per second: whether
// the service keeps up with them while bad endpoints compete. (Over the
// whole run the last answers' latency, up to 5 s, would count as falling
// behind.)
func (r serviceRun) deliveredRatio() float64 {
	if r.healthyWindow == nil {
		return 0
	}
	return r.healthyWindow.perSecond() / (float64(r.deliveries) / r.spec.duration.Seconds())
}

// keptPace: the pacer never fell more than 100 ms of events behind and
// the api accepted at least 95% of the target rate.
func (r serviceRun) keptPace() bool {
	return r.maxBacklog <= r.spec.rate/10 && r.achievedRate >= 0.95*float64(r.spec.rate)
}

func (r serviceRun) keptUp() bool { return r.drain <= keptUpWithin }

// runService starts the receivers and a system, creates a workspace and
// the webhooks through the API, seeds history if asked, sends the load
// and waits until every healthy delivery succeeded and was received (a
// steadyOnly run instead stops once the load is sent).
func runService(t *testing.T, binDir string, spec runSpec) serviceRun {
	ctx := t.Context()
	// Before the system, so they stop after it: the workers' last attempts
	// on SIGTERM still reach a live endpoint.
	rcvs := startReceivers(t, spec)
	env, err := runEnv(t.TempDir(), spec, rcvs)
	if err != nil {
		t.Fatal(err)
	}
	sys := startSystem(t, binDir, max(spec.workers, 1), env)
	api := newAPIClient(sys.apiURL)
	t.Cleanup(api.http.CloseIdleConnections)
	wsID, key, hooks, err := createWebhooks(ctx, api, sys.adminToken, rcvs)
	if err != nil {
		t.Fatal(err)
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
	accepts, err := run.offer(ctx, api, key)
	if err != nil {
		t.Fatal(err)
	}
	lastPost, err := run.count(accepts)
	if err != nil {
		t.Fatal(err)
	}
	run.postsTook = lastPost.Sub(start)
	if err := run.finish(ctx, sys, rcvs[0], hooks, start); err != nil {
		t.Fatalf("%s: %v", spec.name, err)
	}
	run.cpu = before.until(snapshotCPU(sys))
	if err := run.measure(ctx, sys, rcvs, accepts, start, lastPost); err != nil {
		t.Fatal(err)
	}
	return run
}

// startReceivers starts the healthy webhooks' receiver and, when the run
// has bad webhooks, theirs: the healthy one first.
func startReceivers(t *testing.T, spec runSpec) []*receiver {
	e := endpoints{hooks: spec.healthyHooks(), own: spec.ownListeners, tls: spec.tls, delay: spec.latency}
	rcvs := []*receiver{startReceiver(t, e)}
	if len(spec.bad) > 0 {
		e.hooks, e.replies = len(spec.bad), spec.bad
		rcvs = append(rcvs, startReceiver(t, e))
	}
	return rcvs
}

// runEnv is the run's env over serviceEnv, with DELIVERY_CA_FILE trusting
// the receivers of an HTTPS run; the file is written into dir.
func runEnv(dir string, spec runSpec, rcvs []*receiver) (map[string]string, error) {
	env := maps.Clone(spec.env)
	if !spec.tls {
		return env, nil
	}
	file, err := writeTrust(dir, rcvs)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = map[string]string{}
	}
	env["DELIVERY_CA_FILE"] = file
	return env, nil
}

// createWebhooks creates a workspace and, through its API key, one
// webhook per endpoint of each receiver, handing the receivers their
// secrets; healthy are the ids of the first receiver's webhooks.
func createWebhooks(ctx context.Context, api *apiClient, adminToken string, rcvs []*receiver) (wsID, key string, healthy []string, err error) {
	if wsID, key, err = api.createWorkspace(ctx, adminToken); err != nil {
		return "", "", nil, err
	}
	for _, r := range rcvs {
		for i := range r.hooks {
			id, secret, err := api.createWebhook(ctx, key, r.url(i))
			if err != nil {
				return "", "", nil, err
			}
			r.setSecret(i, secret)
			if r == rcvs[0] {
				healthy = append(healthy, id)
			}
		}
	}
	return wsID, key, healthy, nil
}

// offer sends the run's load, paced or saturating, and keeps the pacer's
// figures.
func (r *serviceRun) offer(ctx context.Context, api *apiClient, key string) ([]accepted, error) {
	s := r.spec
	if !s.paced {
		accepts, err := api.saturate(ctx, key, s.events, s.clients)
		if err != nil {
			return nil, fmt.Errorf("saturating load: %w", err)
		}
		return accepts, nil
	}
	load, err := api.pace(ctx, key, s.rate, s.duration)
	if err != nil {
		return nil, fmt.Errorf("paced load: %w", err)
	}
	r.maxBacklog = load.maxBacklog
	r.achievedRate = float64(len(load.accepts)) / load.lastAt.Sub(load.start).Seconds()
	return load.accepts, nil
}

// count checks that every event went to every webhook, counts the events
// and the healthy deliveries, and returns when the last 202 arrived.
func (r *serviceRun) count(accepts []accepted) (lastPost time.Time, err error) {
	for _, a := range accepts {
		if a.deliveries != r.spec.hooks {
			return time.Time{}, fmt.Errorf("event %s answered %d deliveries, want %d", a.eventID, a.deliveries, r.spec.hooks)
		}
		lastPost = maxTime(lastPost, a.at)
	}
	r.events = len(accepts)
	r.deliveries = r.events * r.spec.healthyHooks()
	return lastPost, nil
}

// finish waits until every healthy delivery succeeded and was received,
// or, for a steadyOnly run, only checks that nothing failed so far.
func (r *serviceRun) finish(ctx context.Context, sys *system, healthy *receiver, hooks []string, start time.Time) error {
	if r.spec.steadyOnly {
		return errors.Join(healthy.Err(), sys.dead())
	}
	end, err := waitDelivered(ctx, sys, healthy, hooks, start.Add(-time.Minute), r.deliveries)
	r.elapsed = end.Sub(start)
	return err
}

// measure reads what the run left: the workers' memory and waits, the
// healthy receiver's latencies and peak, and the steady window of a paced
// run with a warm-up. A bad webhook's receiver refusing a signature fails
// the run too.
func (r *serviceRun) measure(ctx context.Context, sys *system, rcvs []*receiver, accepts []accepted, start, lastPost time.Time) error {
	var err error
	if r.workerRSS, err = sys.workerRSS(); err != nil {
		return err
	}
	r.waits = sys.workerWaits(ctx)
	healthy := rcvs[0]
	r.peakInFlight = healthy.PeakInFlight()
	receipts, dups, err := healthy.receipts()
	if err != nil {
		return err
	}
	r.duplicates = dups
	if r.latency, err = acceptToReceipt(accepts, receipts); err != nil {
		return err
	}
	r.apiP50, r.apiP99 = roundTrips(accepts)
	var lastReceipt time.Time
	for _, rc := range receipts {
		lastReceipt = maxTime(lastReceipt, rc.at)
	}
	r.drain = max(lastReceipt.Sub(lastPost), 0)
	for _, rc := range rcvs[1:] {
		if err := rc.Err(); err != nil {
			return err
		}
	}
	if from := start.Add(r.spec.warmup); r.spec.paced && r.spec.warmup > 0 && lastPost.After(from) {
		w, err := steadyWindow(from, lastPost, rcvs)
		if err != nil {
			return err
		}
		h, err := steadyWindow(from, lastPost, rcvs[:1])
		if err != nil {
			return err
		}
		r.window, r.healthyWindow = &w, &h
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// workerWaits sums the workers' counts of deliveries put back without an
// attempt (in-flight cap, open breaker): with one busy webhook it shows
// how often the per-webhook cap turned a free worker slot away.
func (s *system) workerWaits(ctx context.Context) string {
	sums := map[string]float64{}
	for _, w := range s.workers {
		if err := addWaits(ctx, w.addr, sums); err != nil {
			return "unknown: " + err.Error()
		}
	}
	if len(sums) == 0 {
		return "not exported"
	}
	var found []string
	for _, reason := range slices.Sorted(maps.Keys(sums)) {
		found = append(found, reason+"="+strconv.FormatFloat(sums[reason], 'f', -1, 64))
	}
	return strings.Join(found, " ")
}

// addWaits adds one worker's trackelio_delivery_waits_total, by reason,
// to sums.
func addWaits(ctx context.Context, addr string, sums map[string]float64) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return fmt.Errorf("metrics request: %w", err)
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "trackelio_delivery_waits_total{reason=\""); ok {
			reason, value, _ := strings.Cut(rest, "\"} ")
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("parse waits of %s: %w", reason, err)
			}
			sums[reason] += n
		}
	}
	return sc.Err()
}

// say prints a line of the report plainly, so it reads the same with or
// without go test's -v prefixes.
func say(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
