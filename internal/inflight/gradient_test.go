package inflight

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// feed gives the limit n answers that each took took, with the limit in
// full use (used) or a few attempts running, 10 ms apart.
func feed(g Gradient, l Limit, n int, took time.Duration, congested, used bool, at *time.Time) Limit {
	for range n {
		*at = at.Add(10 * time.Millisecond)
		inFlight := 2
		if used {
			inFlight = int(l.Value)
		}
		l = g.Next(l, Sample{Took: took, Congested: congested, InFlight: inFlight, At: *at})
	}
	return l
}

func TestGradient(t *testing.T) {
	t.Parallel()
	g := DefaultGradient(256)
	tests := []struct {
		name     string
		run      func(l Limit, at *time.Time) Limit
		min, max float64
	}{
		{"a healthy endpoint in full use grows about 1.8 times per round trip",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 20, 200*time.Millisecond, false, true, at) }, 35, 37},
		{"and reaches what 200/s at 200 ms needs (40) within two round trips",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 20+36, 200*time.Millisecond, false, true, at) }, 60, 70},
		{"but never past the ceiling",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 5000, 200*time.Millisecond, false, true, at) }, 256, 256},
		{"an endpoint using less than half its limit leaves it alone",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 500, 200*time.Millisecond, false, false, at) }, 20, 20},
		{"answers within twice the usual latency do not shrink it",
			func(l Limit, at *time.Time) Limit {
				l = feed(g, l, 200, 100*time.Millisecond, false, false, at)
				return feed(g, l, 10, 190*time.Millisecond, false, true, at)
			}, 27.9, 28.1},
		{"answers four times slower than usual about halve it within two round trips",
			func(l Limit, at *time.Time) Limit {
				l = feed(g, l, 200, 100*time.Millisecond, false, false, at)
				return feed(g, l, 40, 400*time.Millisecond, false, true, at)
			}, 1, 11},
		{"a 5xx halves it",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 1, 50*time.Millisecond, true, true, at) }, 10, 10},
		{"once per round trip: answers of the same episode do not cut again",
			func(l Limit, at *time.Time) Limit {
				l = feed(g, l, 1, 10*time.Second, true, true, at) // a timeout: the round trip is now 10 s
				return feed(g, l, 19, 10*time.Second, true, true, at)
			}, 10, 10},
		{"fast failures keep cutting, down to the floor of 1",
			func(l Limit, at *time.Time) Limit { return feed(g, l, 40, 5*time.Millisecond, true, true, at) }, 1, 1},
		{"after a cut, good answers grow it back",
			func(l Limit, at *time.Time) Limit {
				l = feed(g, l, 40, 5*time.Millisecond, true, true, at)
				return feed(g, l, 30, 5*time.Millisecond, false, true, at)
			}, 15, 30},
		{"a slow spell that ends lets the limit grow again at once",
			func(l Limit, at *time.Time) Limit {
				l = feed(g, l, 300, 2*time.Second, false, false, at)
				return feed(g, l, 20, 100*time.Millisecond, false, true, at)
			}, 35, 37},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := t0
			got := tt.run(g.Start(), &at)
			if got.Value < tt.min || got.Value > tt.max {
				t.Errorf("limit %.2f, want within [%v, %v]", got.Value, tt.min, tt.max)
			}
		})
	}
}

func TestGradientRTTAveragesEveryAttempt(t *testing.T) {
	t.Parallel()
	g := DefaultGradient(10)
	at := t0
	l := feed(g, g.Start(), 1, 10*time.Second, true, true, &at)
	if l.RTT() != 10*time.Second {
		t.Errorf("RTT %v after one timeout of 10s, want 10s", l.RTT())
	}
	l = feed(g, l, 30, 100*time.Millisecond, false, true, &at)
	if l.RTT() > 200*time.Millisecond {
		t.Errorf("RTT %v after 30 answers of 100ms, want back near 100ms", l.RTT())
	}
}
