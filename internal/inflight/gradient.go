package inflight

import "time"

// Gradient is how an endpoint's limit on attempts in flight follows its
// answers, in the spirit of Netflix's concurrency-limits Gradient2 and of
// TCP: while answers come back as fast as they usually do and the limit is
// in use, it grows by about four fifths of itself per round trip; when they
// come back slower than Tolerance times the long-term average it shrinks in
// proportion (down to half per answer, smoothed); and an answer that says
// the endpoint struggles (a timeout, 429, 5xx or a failed connection) halves
// it, once per round trip (AIMD). An endpoint that does not use half its
// limit does not move it: an idle limit says nothing about the endpoint.
type Gradient struct {
	// Initial is a new endpoint's limit; Min and Max bound it. Max is the
	// ceiling for one endpoint (WEBHOOK_MAX_IN_FLIGHT).
	Initial, Min, Max float64
	// Tolerance is how much slower than usual answers may get before the
	// limit shrinks (Gradient2's default is 1.5; 2 leaves room for the
	// spread of real endpoints' latencies).
	Tolerance float64
	// Smoothing is the weight of one answer in the limit (0.2).
	Smoothing float64
	// Queue is the growth allowance: the limit's target is Queue above
	// the limit times the gradient (4, as Gradient2's).
	Queue float64
	// Backoff multiplies the limit on a congestion signal (0.5).
	Backoff float64
}

// DefaultGradient returns the settings the worker runs with, for a
// ceiling of max attempts at once to one endpoint.
func DefaultGradient(max int) Gradient {
	m := float64(max)
	return Gradient{Initial: min(20, m), Min: 1, Max: m, Tolerance: 2, Smoothing: 0.2, Queue: 4, Backoff: 0.5}
}

// Limit is one endpoint's adaptive limit and the latencies it rests on.
type Limit struct {
	// Value is the limit; attempts may run while fewer than int(Value) do.
	Value float64
	// short and long are averages of good answers' durations, over about
	// the last 10 and the last 500; rtt averages every attempt, good or
	// not, for how long a waiting task should expect to wait.
	short, long, rtt time.Duration
	lastCut          time.Time
}

// RTT is the average duration of the endpoint's recent attempts, good or
// not; zero before the first one ended.
func (l Limit) RTT() time.Duration { return l.rtt }

// Sample is the end of one attempt.
type Sample struct {
	Took time.Duration
	// Congested says the endpoint struggled: a timeout, 429, 5xx or a
	// connection that failed.
	Congested bool
	// InFlight is how many attempts were running when it ended, this one
	// included.
	InFlight int
	At       time.Time
}

// Start is a new endpoint's limit.
func (g Gradient) Start() Limit { return Limit{Value: g.Initial} }

// Next is the limit after an attempt ended.
func (g Gradient) Next(l Limit, s Sample) Limit {
	l.rtt = ewma(l.rtt, s.Took, 0.25)
	if s.Congested {
		// The attempts that were running when the first bad answer came
		// belong to the same episode: one cut per round trip.
		if l.lastCut.IsZero() || s.At.Sub(l.lastCut) >= l.rtt {
			l.Value = max(g.Min, l.Value*g.Backoff)
			l.lastCut = s.At
		}
		return l
	}
	l.short = ewma(l.short, s.Took, 0.2)
	l.long = ewma(l.long, s.Took, 0.002)
	if l.long > 2*l.short {
		// Latency is back to normal after a long slow spell: let the
		// long-term average follow at once rather than over 500 answers,
		// or it would pass every answer as fast for a long while.
		l.long = l.short * 2
	}
	if float64(s.InFlight) < l.Value/2 {
		return l
	}
	gradient := 1.0
	if l.short > 0 {
		gradient = min(1, max(0.5, g.Tolerance*float64(l.long)/float64(l.short)))
	}
	target := l.Value*gradient + g.Queue
	l.Value = min(g.Max, max(g.Min, l.Value*(1-g.Smoothing)+target*g.Smoothing))
	return l
}

// ewma moves avg toward x by weight w; the first sample is taken whole.
func ewma(avg, x time.Duration, w float64) time.Duration {
	if avg == 0 {
		return x
	}
	return avg + time.Duration(w*float64(x-avg))
}
