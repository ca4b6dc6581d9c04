package inflight

import (
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	t.Parallel()
	// base: an endpoint answering in 200 ms, 5 of its 10 running, in a
	// worker with free slots and room to wait.
	base := state{inFlight: 5, allowed: 10, limit: 10, rtt: 200 * time.Millisecond, running: 50, slots: 100,
		waitingAll: 10, maxWaiting: 100, waitShare: 1000, maxWait: 5 * time.Second}
	tests := []struct {
		name   string
		change func(*state)
		want   verdict
	}{
		{"its share of the waiting room full: back to the queue",
			func(s *state) { s.inFlight, s.waiting, s.waitShare = 10, 25, 25 }, verdict{retryIn: time.Second}},
		{"a share smaller than its limit still lets a limit's worth wait",
			func(s *state) { s.inFlight, s.waiting, s.waitShare = 10, 9, 2 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"below its limit with a free slot: start", func(*state) {}, verdict{start: true}},
		{"at its limit: wait for one round trip", func(s *state) { s.inFlight = 10 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"behind its own waiting tasks: wait, first come first served", func(s *state) { s.waiting = 3 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"the worker's slots all taken: wait", func(s *state) { s.running = 100 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"25 rounds of tasks ahead (5 s): still waits", func(s *state) { s.inFlight, s.waiting = 10, 240 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"26 rounds ahead: back to the queue for the 5.2 s its turn takes",
			func(s *state) { s.inFlight, s.waiting = 10, 250 }, verdict{retryIn: 5200 * time.Millisecond}},
		{"an endpoint slower than maxWait: wait two of its round trips",
			func(s *state) { s.inFlight, s.waiting, s.rtt = 10, 10, 8*time.Second }, verdict{wait: true, waitFor: 16 * time.Second}},
		{"but not three: back to the queue for the 24 s its turn takes",
			func(s *state) { s.inFlight, s.waiting, s.rtt = 10, 20, 8*time.Second }, verdict{retryIn: 24 * time.Second}},
		{"never away for more than a minute",
			func(s *state) { s.inFlight, s.allowed, s.rtt = 1, 1, 10*time.Second; s.waiting = 20 }, verdict{retryIn: time.Minute}},
		{"an unmeasured endpoint's tasks wait a limit's worth deep",
			func(s *state) { s.inFlight, s.rtt, s.waiting = 10, 0, 9 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"and no deeper", func(s *state) { s.inFlight, s.rtt, s.waiting = 10, 0, 10 }, verdict{retryIn: time.Second}},
		{"while its share is on its way, as deep as its limit",
			func(s *state) { s.inFlight, s.allowed, s.rtt, s.waiting = 0, 0, 0, 9 }, verdict{wait: true, waitFor: 5 * time.Second}},
		{"no room left to wait in the worker", func(s *state) { s.inFlight, s.waitingAll = 10, 100 }, verdict{retryIn: time.Second}},
		{"a stopping worker keeps no task waiting", func(s *state) { s.inFlight, s.draining = 10, true }, verdict{retryIn: time.Second}},
		{"but still starts what can start", func(s *state) { s.draining = true }, verdict{start: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			tt.change(&s)
			if got := admit(s); got != tt.want {
				t.Errorf("admit(%+v) = %+v, want %+v", s, got, tt.want)
			}
		})
	}
}

func TestPickNext(t *testing.T) {
	t.Parallel()
	early, late := t0, t0.Add(time.Second)
	tests := []struct {
		name string
		cs   []candidate
		want int
	}{
		{"none waiting", nil, -1},
		{"the endpoint with the fewest running", []candidate{{5, 10, early}, {2, 10, late}, {3, 10, early}}, 1},
		{"of equals, the one waiting longest", []candidate{{2, 10, late}, {2, 10, early}}, 1},
		{"never one at its own limit", []candidate{{1, 1, early}, {7, 10, late}}, 1},
		{"none below its limit", []candidate{{1, 1, early}, {4, 4, late}}, -1},
		{"a hanging endpoint holding many slots waits for the others", []candidate{{20, 40, early}, {19, 40, late}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := pickNext(tt.cs); got != tt.want {
				t.Errorf("pickNext(%v) = %d, want %d", tt.cs, got, tt.want)
			}
		})
	}
}

func TestRecheck(t *testing.T) {
	t.Parallel()
	// A task with 15 tasks ahead of it, its endpoint's limit 10 and round
	// trip 2 s: its turn comes in the second round, 4 s away.
	base := state{inFlight: 10, allowed: 10, limit: 10, waiting: 15, rtt: 2 * time.Second, maxWait: 5 * time.Second}
	tests := []struct {
		name   string
		change func(*state)
		waited time.Duration
		want   verdict
	}{
		{"its turn still expected within its patience: waits on", func(*state) {}, 10 * time.Second, verdict{wait: true, waitFor: 5 * time.Second}},
		{"not yet answered: waits on", func(s *state) { s.rtt = 0 }, 10 * time.Second, verdict{wait: true, waitFor: 5 * time.Second}},
		{"a minute in all: back to the queue", func(*state) {}, time.Minute, verdict{retryIn: 4 * time.Second}},
		{"the endpoint slowed to 8 s: two rounds (16 s) are worth waiting", func(s *state) { s.rtt = 8 * time.Second }, time.Second, verdict{wait: true, waitFor: 16 * time.Second}},
		{"three are not: back for as long as its turn takes", func(s *state) { s.rtt, s.waiting = 8*time.Second, 25 }, time.Second, verdict{retryIn: 24 * time.Second}},
		{"the worker drains: back to the queue", func(s *state) { s.draining = true }, time.Second, verdict{retryIn: 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			tt.change(&s)
			if got := recheck(s, tt.waited); got != tt.want {
				t.Errorf("recheck(%+v, %v) = %+v, want %+v", s, tt.waited, got, tt.want)
			}
		})
	}
}
