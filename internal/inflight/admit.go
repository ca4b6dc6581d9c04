package inflight

import "time"

// Bounds on the time a task sent back to the queue stays away: long enough
// that a task is not fetched again before a slot can have come free, short
// enough that a recovered endpoint is not kept waiting.
const (
	minRetryIn = time.Second
	maxRetryIn = time.Minute
)

// state is what admit reads: an endpoint's use and limit, and the worker's.
type state struct {
	inFlight, allowed, waiting int           // the endpoint's
	limit                      int           // the endpoint's own, before its share of the ceiling
	rtt                        time.Duration // the endpoint's; 0 before its first answer
	running, slots             int           // the worker's attempts and slots
	waitingAll, maxWaiting     int           // the worker's waiting tasks and their bound
	waitShare                  int           // the endpoint's fair share of maxWaiting
	maxWait                    time.Duration
	draining                   bool
}

// verdict is what a task does: start an attempt now, wait in the worker
// for a slot (for at most waitFor), or go back to the queue for retryIn.
type verdict struct {
	start, wait bool
	waitFor     time.Duration
	retryIn     time.Duration
}

// admit decides for a task that wants a slot. It starts when the endpoint
// is below its limit, the worker has a free slot and no earlier task of the
// endpoint waits. Otherwise it waits here if its turn is expected within
// maxWait and the worker has room for one more waiting task; a task of an
// endpoint that has not answered yet may wait too, behind at most its
// limit's worth of tasks (its share of the ceiling may still be on its way). Else it goes back to the queue for about the
// time its turn is expected to take, so it is not fetched again and again
// before it can start.
func admit(s state) verdict {
	if s.inFlight < s.allowed && s.running < s.slots && s.waiting == 0 {
		return verdict{start: true}
	}
	expected, patience := expectedWait(s), patience(s)
	roomy := s.waitingAll < s.maxWaiting && s.waiting < max(s.waitShare, s.allowed) && !s.draining
	switch {
	case roomy && s.rtt == 0 && s.waiting < max(s.limit, 1):
		return verdict{wait: true, waitFor: patience}
	case roomy && s.rtt > 0 && expected <= patience:
		return verdict{wait: true, waitFor: patience}
	}
	return verdict{retryIn: backIn(expected)}
}

// recheck decides for a task whose wait ran out, with s.waiting the tasks
// still ahead of it: it waits on while its turn is still expected within
// the patience (the endpoint may have answered meanwhile, or its tasks
// moved up) and it has not waited maxRetryIn in all; else it goes back to
// the queue.
func recheck(s state, waited time.Duration) verdict {
	expected := expectedWait(s)
	if !s.draining && waited < maxRetryIn && (s.rtt == 0 || expected <= patience(s)) {
		return verdict{wait: true, waitFor: patience(s)}
	}
	return verdict{retryIn: backIn(expected)}
}

// patience is how long a task may expect to wait in the worker: maxWait, or
// two of the endpoint's round trips for endpoints slower than that.
func patience(s state) time.Duration { return max(s.maxWait, 2*s.rtt) }

// backIn is how long a task sent back to the queue stays away: about as
// long as its turn is expected to take, within bounds.
func backIn(expected time.Duration) time.Duration {
	return min(maxRetryIn, max(minRetryIn, expected))
}

// expectedWait is how long a task joining the endpoint's queue should
// expect to wait: the tasks ahead of it, a limit's worth per round trip.
func expectedWait(s state) time.Duration {
	rounds := (s.waiting + max(s.allowed, 1)) / max(s.allowed, 1)
	return time.Duration(rounds) * s.rtt
}

// candidate is an endpoint with tasks waiting, as pickNext sees it.
type candidate struct {
	inFlight, allowed int
	since             time.Time // when its oldest waiting task began to wait
}

// pickNext chooses whose waiting task gets a free slot of the worker: among
// the endpoints below their own limit, the one with the fewest attempts
// running, and of those the one waiting longest. Handing every free slot
// this way shares the worker's slots max-min fairly: an endpoint alone may
// use them all, busy endpoints converge to equal shares of what each can
// use, and one that holds more than its share (a hanging endpoint that
// took slots before the others came) gets none until it is back to it. -1
// when no candidate may start.
func pickNext(cs []candidate) int {
	best := -1
	for i, c := range cs {
		if c.inFlight >= c.allowed {
			continue
		}
		if best < 0 || c.inFlight < cs[best].inFlight ||
			(c.inFlight == cs[best].inFlight && c.since.Before(cs[best].since)) {
			best = i
		}
	}
	return best
}
