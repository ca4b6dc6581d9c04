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
	// baselineConcurrency matches the worker's default WORKER_CONCURRENCY.
	baselineConcurrency = 64
	// historySpacing is the time between two seeded deliveries: 2,000,000
	// of them span about two weeks, ending historyEnd before the run.
	historySpacing = 600 * time.Millisecond
	historyEnd     = time.Hour
)

// sizes are the counts of one benchmark run. BENCH_SCALE multiplies every
// count (and the paced run's duration, not its rate); a variable of its
// own overrides one size after scaling.
type sizes struct {
	events        int           // BENCH_EVENTS: events of each saturated run with 1 webhook
	clients       int           // BENCH_CLIENTS: concurrent POSTers of the saturated runs
	fanoutEvents  int           // BENCH_FANOUT_EVENTS: events of the fan-out run
	fanoutHooks   int           // BENCH_FANOUT_WEBHOOKS: webhooks of the fan-out run
	history       int           // BENCH_HISTORY: deliveries seeded before the stored run
	pacedRate     int           // BENCH_PACED_RATE: events per second of the paced run
	pacedDuration time.Duration // BENCH_PACED_DURATION: how long the paced run sends
	baselineTasks int           // BENCH_BASELINE_TASKS: tasks of each baseline
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
	s := sizes{
		events:        count(20_000),
		clients:       32,
		fanoutEvents:  count(4_000),
		fanoutHooks:   5,
		history:       count(2_000_000),
		pacedRate:     1_000,
		pacedDuration: time.Duration(float64(20*time.Second) * scale).Round(time.Millisecond),
		baselineTasks: count(20_000),
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
	if v := os.Getenv("BENCH_PACED_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return sizes{}, fmt.Errorf("BENCH_PACED_DURATION=%q: want a positive duration like 20s", v)
		}
		s.pacedDuration = d
	}
	if s.pacedDuration < 100*time.Millisecond {
		s.pacedDuration = 100 * time.Millisecond
	}
	return s, nil
}

func (s sizes) String() string {
	return fmt.Sprintf("events=%d clients=%d fanout=%dx%d history=%d paced=%d/s for %v baseline_tasks=%d",
		s.events, s.clients, s.fanoutEvents, s.fanoutHooks, s.history, s.pacedRate, s.pacedDuration, s.baselineTasks)
}
