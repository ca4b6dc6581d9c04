package jobs

import (
	"context"
	"sync"
	"time"
)

// limiter is a worker's in-process, adaptive limit on concurrent attempts
// per webhook, bounded by the configured cap. A healthy endpoint keeps the
// whole cap; a struggling one (timeouts, 429s, 5xx) has its limit halved,
// at most once per round trip, and regains one slot per limit's worth of
// good answers (AIMD, as TCP does). While an endpoint answers fast a task
// waits here for a slot for a few of its round trips instead of being sent
// back to Redis for hundreds of milliseconds; a slow endpoint's tasks go
// back at once, so they never hold the worker's goroutines.
type limiter struct {
	max     float64
	maxWait time.Duration // the longest in-process wait, for the fastest endpoints
	fast    time.Duration // an endpoint slower than this never makes tasks wait
	now     func() time.Time

	mu    sync.Mutex
	hooks map[string]*endpoint
	swept time.Time
}

// endpoint is one webhook's limit and the tasks waiting for it.
type endpoint struct {
	limit        float64
	inFlight     int
	rtt          time.Duration // moving average of attempt durations
	lastDecrease time.Time
	lastUsed     time.Time
	waiters      []chan struct{}
}

func newLimiter(maxInFlight int, now func() time.Time) *limiter {
	return &limiter{
		max: float64(max(maxInFlight, 1)), maxWait: 250 * time.Millisecond, fast: 100 * time.Millisecond,
		now: now, hooks: map[string]*endpoint{}, swept: now(),
	}
}

// acquire takes a slot for the webhook, waiting in process while that is
// worth it. ok is false when the task should go back to the queue.
func (l *limiter) acquire(ctx context.Context, webhookID string) (ok bool) {
	l.mu.Lock()
	e := l.endpoint(webhookID)
	if e.inFlight < int(e.limit) {
		e.inFlight++
		l.mu.Unlock()
		return true
	}
	wait := l.waitFor(e)
	if wait <= 0 {
		l.mu.Unlock()
		return false
	}
	ready := make(chan struct{})
	e.waiters = append(e.waiters, ready)
	l.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ready:
		return true // release handed its slot over
	case <-timer.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, w := range e.waiters {
		if w == ready {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			return false
		}
	}
	// Handed a slot just as the wait ended: keep it.
	return true
}

// waitFor is how long a task may wait in process for a slot: a few round
// trips of a fast endpoint (a short while for one not measured yet),
// nothing for a slow one, and nothing when enough tasks wait already to
// fill the limit twice over.
func (l *limiter) waitFor(e *endpoint) time.Duration {
	switch {
	case e.rtt > l.fast || len(e.waiters) >= 2*int(e.limit):
		return 0
	case e.rtt == 0:
		return l.maxWait / 5
	}
	return min(l.maxWait, 4*e.rtt*time.Duration(1+len(e.waiters)/max(int(e.limit), 1))+5*time.Millisecond)
}

// release returns the slot after an attempt that took d, and adapts the
// limit to how the endpoint answered.
func (l *limiter) release(webhookID string, d time.Duration, congested bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.endpoint(webhookID)
	now := l.now()
	if e.rtt == 0 {
		e.rtt = d
	} else {
		e.rtt = (7*e.rtt + d) / 8
	}
	switch {
	case congested && now.Sub(e.lastDecrease) > e.rtt:
		e.limit = max(1, e.limit/2)
		e.lastDecrease = now
	case !congested:
		e.limit = min(l.max, e.limit+1/e.limit)
	}
	l.giveBack(e)
}

// cancel returns a slot that made no attempt, learning nothing from it.
func (l *limiter) cancel(webhookID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.giveBack(l.endpoint(webhookID))
}

// giveBack hands the slot to the next waiter while the limit allows it, or
// frees it. l.mu is held.
func (l *limiter) giveBack(e *endpoint) {
	if len(e.waiters) > 0 && e.inFlight <= int(e.limit) {
		next := e.waiters[0]
		e.waiters = e.waiters[1:]
		close(next)
		return
	}
	e.inFlight--
}

// endpoint returns the webhook's state, creating it at the full limit.
// States idle for ten minutes are dropped, so the map stays the size of the
// webhooks in use. l.mu is held.
func (l *limiter) endpoint(webhookID string) *endpoint {
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		for id, e := range l.hooks {
			if e.inFlight == 0 && len(e.waiters) == 0 && now.Sub(e.lastUsed) > 10*time.Minute {
				delete(l.hooks, id)
			}
		}
		l.swept = now
	}
	e, ok := l.hooks[webhookID]
	if !ok {
		e = &endpoint{limit: l.max}
		l.hooks[webhookID] = e
	}
	e.lastUsed = now
	return e
}
