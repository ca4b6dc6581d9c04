//go:build bench

package bench

import (
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
	// Last: its database is the biggest, and dropping it is the slowest.
	service(runSpec{name: "stored", hooks: 1, history: sz.history, events: sz.events, clients: sz.clients}, &res.stored)

	res.printTable(sz)
}
