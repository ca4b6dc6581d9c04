//go:build bench

package bench

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// serviceEnv is the whole environment of the api, worker and scheduler. It
// is built from nothing rather than from the caller's environment, so a
// WORKER_CONCURRENCY or RETRY_SCHEDULE left in someone's shell cannot change
// the figures: everything not listed here is the default a new user gets.
func serviceEnv(databaseURL, redisURL, adminToken string) map[string]string {
	return map[string]string{
		"DATABASE_URL": databaseURL,
		"REDIS_URL":    redisURL,
		// The receiver listens on loopback, which the destination guard
		// refuses by default.
		"DELIVERY_ALLOW_CIDRS": "127.0.0.0/8,::1/128",
		// The per-workspace limit (500/s by default) would cap the load
		// generator instead of measuring the service.
		"API_RATE_LIMIT": "0",
		// Port 0: the kernel picks free ports, found through /proc (see
		// listenAddr), so runs never collide with anything on the machine.
		"API_ADDR":       "127.0.0.1:0",
		"WORKER_ADDR":    "127.0.0.1:0",
		"SCHEDULER_ADDR": "127.0.0.1:0",
		"ADMIN_TOKEN":    adminToken,
		"LOG_LEVEL":      "warn",
	}
}

// Fixed parts of the method; the sizes below are what a run may change.
const (
	// pollInterval is how often completion is checked (in PostgreSQL once
	// the receiver has every delivery; see waitDelivered).
	pollInterval = 50 * time.Millisecond
	// stallTimeout fails a run when neither PostgreSQL nor the receiver
	// saw progress for this long; waits otherwise last as long as the
	// system needs, since a slow system is what is being measured.
	stallTimeout = 60 * time.Second
	// keptUpWithin is how soon after the last POST of the paced run every
	// delivery must have arrived for the run to count as keeping up.
	keptUpWithin = 5 * time.Second
	// pacedSenders is the number of goroutines the pacer hands events to;
	// enough that a slow answer from the api does not hold the pace back.
	pacedSenders = 128
	// baselineConcurrency is what the baselines run with: 64 keeps this
	// machine's cores busy against a receiver that answers at once (it was
	// the worker's default WORKER_CONCURRENCY when they were set), and it
	// stays so that their figures compare across runs.
	baselineConcurrency = 64
	// historySpacing is the time between two seeded deliveries: 2,000,000
	// of them span about two weeks, ending historyEnd before the run.
	historySpacing = 600 * time.Millisecond
	historyEnd     = time.Hour
)

// The latency-bound runs. Their rates are fixed whatever BENCH_SCALE, which
// scales their durations and the burst; rates are deliveries per second,
// spread evenly over the run's webhooks (every webhook gets every event).
const (
	slowLatency = 200 * time.Millisecond // the slow1 and slowfleet receivers
	slow1Rate   = 200                    // to 1 webhook
	fleetHooks  = 100                    // webhooks of slowfleet, mixed and mixed_clean
	fleetRate   = 500
	mixedRate   = 400
	// The mixed runs' receivers answer in log-normal time, capped so a
	// healthy one never meets the default DELIVERY_TIMEOUT (10 s).
	mixedMedian = 150 * time.Millisecond
	mixedP99    = 2 * time.Second
	mixedCap    = 5 * time.Second
	// The scale runs cannot keep up by design: 10 webhooks answering in 1 s
	// take what one worker's 100 slots give, about 100/s.
	scaleHooks       = 10
	scaleLatency     = time.Second
	scaleRate        = 600
	scaleConcurrency = 100
	// scaleTimeout is the scale runs' DELIVERY_TIMEOUT: a worker drains its
	// attempts within it + 5 s of SIGTERM, so stopping on a backlog is quick.
	scaleTimeout = 2 * time.Second
	// The in-flight run: a burst to 50 webhooks answering in 5 s, with
	// worker slots for every attempt it should hold at once.
	inflightHooks       = 50
	inflightLatency     = 5 * time.Second
	inflightConcurrency = 2500
)

// sizes are the counts of one benchmark run. BENCH_SCALE multiplies every
// count (and every duration, not the rates); a variable of its own
// overrides one size after scaling.
type sizes struct {
	events        int           // BENCH_EVENTS: events of each saturated run with 1 webhook
	clients       int           // BENCH_CLIENTS: concurrent POSTers of the saturated runs
	fanoutEvents  int           // BENCH_FANOUT_EVENTS: events of the fan-out run
	fanoutHooks   int           // BENCH_FANOUT_WEBHOOKS: webhooks of the fan-out run
	history       int           // BENCH_HISTORY: deliveries seeded before the stored run
	pacedRate     int           // BENCH_PACED_RATE: events per second of the paced run
	pacedDuration time.Duration // BENCH_PACED_DURATION: how long the paced run sends
	baselineTasks int           // BENCH_BASELINE_TASKS: tasks of each baseline
	slowDuration  time.Duration // BENCH_SLOW_DURATION: how long slow1, slowfleet and the mixed runs send
	scaleDuration time.Duration // BENCH_SCALE_DURATION: how long each scale run sends
	// warmup: the steady window of a paced run starts this long after its
	// first POST (and ends with the offering).
	warmup time.Duration
	// burst is BENCH_BURST, the events the in-flight run sends at once:
	// 150 per webhook, so that by the third round trip the limits (20,
	// then about 36, then about 65 in flight each) want more than the
	// worker's slots; with 100, the peak fell on either side of 2,000 with
	// the timing of the rounds.
	burst int
	// inflightWant is how many attempts the in-flight run must see held at
	// once for its RSS to count: 40 per webhook.
	inflightWant int
}

func loadSizes() (sizes, error) {
	scale := 1.0
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return sizes{}, fmt.Errorf("BENCH_SCALE=%q: want a positive number", v)
		}
		scale = f
	}
	count := func(n int) int { return max(1, int(math.Round(float64(n)*scale))) }
	span := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale).Round(time.Millisecond) }
	s := sizes{
		events:        count(20_000),
		clients:       32,
		fanoutEvents:  count(4_000),
		fanoutHooks:   5,
		history:       count(2_000_000),
		pacedRate:     1_000,
		pacedDuration: span(20 * time.Second),
		baselineTasks: count(20_000),
		slowDuration:  span(30 * time.Second),
		// At least three of the scale runs' answers and one before the
		// window, so a smoke run still measures deliveries in it.
		scaleDuration: max(span(20*time.Second), 3*scaleLatency),
		warmup:        max(span(5*time.Second), scaleLatency),
		burst:         count(150),
		inflightWant:  count(2_000),
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"BENCH_EVENTS", &s.events},
		{"BENCH_CLIENTS", &s.clients},
		{"BENCH_FANOUT_EVENTS", &s.fanoutEvents},
		{"BENCH_FANOUT_WEBHOOKS", &s.fanoutHooks},
		{"BENCH_HISTORY", &s.history},
		{"BENCH_PACED_RATE", &s.pacedRate},
		{"BENCH_BASELINE_TASKS", &s.baselineTasks},
		{"BENCH_BURST", &s.burst},
	}
	for _, o := range ints {
		v := os.Getenv(o.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return sizes{}, fmt.Errorf("%s=%q: want a positive integer", o.name, v)
		}
		*o.dst = n
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"BENCH_PACED_DURATION", &s.pacedDuration},
		{"BENCH_SLOW_DURATION", &s.slowDuration},
		{"BENCH_SCALE_DURATION", &s.scaleDuration},
	}
	for _, o := range durations {
		if v := os.Getenv(o.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return sizes{}, fmt.Errorf("%s=%q: want a positive duration like 20s", o.name, v)
			}
			*o.dst = d
		}
		*o.dst = max(*o.dst, 100*time.Millisecond)
	}
	return s, nil
}

func (s sizes) String() string {
	return fmt.Sprintf("events=%d clients=%d fanout=%dx%d history=%d paced=%d/s for %v baseline_tasks=%d "+
		"slow runs for %v, scale runs for %v, steady window from +%v, burst=%d events",
		s.events, s.clients, s.fanoutEvents, s.fanoutHooks, s.history, s.pacedRate, s.pacedDuration, s.baselineTasks,
		s.slowDuration, s.scaleDuration, s.warmup, s.burst)
}
