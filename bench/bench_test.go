//go:build bench

package bench

import (
	"fmt"
	"strconv"
	"testing"
)

// TestBench runs every measurement, each on a fresh system (database,
// Redis DB, processes) in its own subtest so nothing of one run is left
// to disturb the next, then prints the table and the RESULT line.
// A subset runs with -run, e.g. -run 'TestBench/(noop|deliveries)'.
func TestBench(t *testing.T) {
	sz, err := loadSizes()
	if err != nil {
		t.Fatal(err)
	}
	say("bench: %v", sz)
	binDir := buildBinaries(t)
	var res results

	// The baselines first: they are short and show what the machine can
	// do before anything else has warmed or filled PostgreSQL.
	t.Run("noop", func(t *testing.T) {
		b := runNoop(t, sz.baselineTasks)
		printBaseline("noop", b)
		res.noop = &b
	})
	t.Run("naive", func(t *testing.T) {
		b := runNaive(t, sz.baselineTasks)
		printBaseline("naive", b)
		res.naive = &b
	})
	service := func(spec runSpec, dst **serviceRun) {
		t.Run(spec.name, func(t *testing.T) {
			r := runService(t, binDir, spec)
			printRun(r)
			*dst = &r
		})
	}
	service(runSpec{name: "deliveries", hooks: 1, events: sz.events, clients: sz.clients}, &res.deliveries)
	service(runSpec{name: "fanout", hooks: sz.fanoutHooks, events: sz.fanoutEvents, clients: sz.clients}, &res.fanout)
	service(runSpec{name: "paced", hooks: 1, paced: true, rate: sz.pacedRate, duration: sz.pacedDuration}, &res.paced)

	// Against slow, mixed and many endpoints, as customers' are: waiting
	// on receivers rather than on PostgreSQL.
	slow := func(name string, hooks, rate int) runSpec {
		return runSpec{name: name, hooks: hooks, ownListeners: true, tls: true, latency: fixedLatency(slowLatency),
			paced: true, rate: rate / hooks, duration: sz.slowDuration, warmup: sz.warmup}
	}
	service(slow("slow1", 1, slow1Rate), &res.slow1)
	service(slow("slowfleet", fleetHooks, fleetRate), &res.slowFleet)
	mixed := slow("mixed_clean", fleetHooks, mixedRate)
	mixed.latency = mixedLatency
	service(mixed, &res.mixedClean)
	mixed.name, mixed.bad = "mixed", badEndpoints()
	service(mixed, &res.mixed)
	for i, w := range scaleWorkers {
		service(runSpec{name: fmt.Sprintf("scale_%dw", w.n), hooks: scaleHooks, ownListeners: true, latency: fixedLatency(scaleLatency),
			paced: true, rate: scaleRate / scaleHooks, duration: sz.scaleDuration, warmup: sz.warmup, steadyOnly: true, workers: w.n,
			env: map[string]string{"WORKER_CONCURRENCY": strconv.Itoa(scaleConcurrency), "DELIVERY_TIMEOUT": scaleTimeout.String()}},
			&res.scale[i])
	}
	service(runSpec{name: "inflight", hooks: inflightHooks, ownListeners: true, tls: true, latency: fixedLatency(inflightLatency),
		events: sz.burst, clients: sz.burst, env: map[string]string{"WORKER_CONCURRENCY": strconv.Itoa(inflightConcurrency)}},
		&res.inflight)
	// Last: its database is the biggest, and dropping it is the slowest.
	service(runSpec{name: "stored", hooks: 1, history: sz.history, events: sz.events, clients: sz.clients}, &res.stored)

	res.printTable(sz)
}
