package jobs

import (
	"context"
	"sync"
	"time"
)

// limiter is a worker's in-process, adaptive limit on concurrent attempts
// per webhook, within the share of the webhook's cap this worker leases
// (see WebhookLimits). A healthy endpoint keeps the whole cap; a struggling one
// (timeouts, 429s, 5xx) has its limit halved, at most once per round trip,
// and regains one slot per limit's worth of good answers (AIMD, as TCP
// does). While an endpoint answers fast a task waits here for a slot for a
// few of its round trips instead of being sent back to Redis for hundreds
// of milliseconds; a slow endpoint's tasks go back at once, so they never
// hold the worker's goroutines.
type limiter struct {
	max     float64
	maxWait time.Duration // the longest in-process wait, for the fastest endpoints
	fast    time.Duration // an endpoint slower than this never makes tasks wait
	// askEvery bounds how often a busy webhook asks for a bigger share.
	askEvery time.Duration
	now      func() time.Time
	// share leases a share of the webhook's cap for demand attempts and
	// returns what was granted, while keeping holding slots reserved for
	// this worker whatever the grant; nil grants all that is asked, up to
	// max.
	share func(ctx context.Context, webhookID string, demand, holding int) (int, error)

	mu    sync.Mutex
	hooks map[string]*endpoint
	swept time.Time
}

// endpoint is one webhook's limit, share and the tasks waiting for it.
type endpoint struct {
	limit        float64
	leased       int // the share of the cap granted to this worker
	asked        time.Time
	peak         int // the most attempts wanted at once since the last renewal
	inFlight     int
	rtt          time.Duration // moving average of attempt durations
	lastDecrease time.Time
	lastUsed     time.Time
	waiters      []chan struct{}
	// asking says a lease call is out. One at a time per webhook, so the
	// grants land in the order Redis made them.
	asking bool
}

func newLimiter(maxInFlight int, now func() time.Time) *limiter {
	return &limiter{
		max: float64(max(maxInFlight, 1)), maxWait: 250 * time.Millisecond, fast: 100 * time.Millisecond,
		askEvery: 20 * time.Millisecond, now: now, hooks: map[string]*endpoint{}, swept: now(),
	}
}

// allowed is how many attempts may run at once: the limit, within the share.
func (e *endpoint) allowed() int { return min(int(e.limit), e.leased) }

// wanted is how many attempts would run now if they could.
func (e *endpoint) wanted() int { return e.inFlight + len(e.waiters) }

// startAsk marks a lease call for demand as out and returns how many slots
// Redis must keep for this worker meanwhile: the attempts running, and
// those the share admits until the answer is in, which it first lowers to
// demand. So a share only shrinks in Redis once the attempts above it have
// ended, and the shares of all workers always cover every attempt running.
// l.mu is held.
func (e *endpoint) startAsk(demand int) (holding int) {
	e.asking = true
	e.leased = min(e.leased, demand)
	return max(e.inFlight, e.leased)
}

// acquire takes a slot for the webhook, asking for a bigger share when the
// limit allows more than it holds, and waiting in process while that is
// worth it. ok is false when the task should go back to the queue.
func (l *limiter) acquire(ctx context.Context, webhookID string) (bool, error) {
	l.mu.Lock()
	e := l.endpoint(webhookID)
	if e.inFlight >= e.allowed() && e.leased < int(e.limit) && !e.asking && l.now().Sub(e.asked) >= l.askEvery {
		// The whole limit: renewals trim the share to what was used.
		e.asked = l.now()
		demand := int(e.limit)
		holding := e.startAsk(demand)
		l.mu.Unlock()
		granted, err := l.lease(ctx, webhookID, demand, holding)
		l.mu.Lock()
		e.asking = false
		if err != nil {
			l.mu.Unlock()
			return false, err
		}
		e.leased = granted
		l.handOver(e)
	}
	if e.inFlight < e.allowed() {
		e.inFlight++
		e.peak = max(e.peak, e.wanted())
		l.mu.Unlock()
		return true, nil
	}
	wait := l.waitFor(e)
	if wait <= 0 {
		l.mu.Unlock()
		return false, nil
	}
	ready := make(chan struct{})
	e.waiters = append(e.waiters, ready)
	e.peak = max(e.peak, e.wanted())
	l.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ready:
		return true, nil // a release or a bigger share handed a slot over
	case <-timer.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, w := range e.waiters {
		if w == ready {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			return false, nil
		}
	}
	// Handed a slot just as the wait ended: keep it.
	return true, nil
}

func (l *limiter) lease(ctx context.Context, webhookID string, demand, holding int) (int, error) {
	if l.share == nil {
		return min(demand, int(l.max)), nil
	}
	return l.share(ctx, webhookID, demand, holding)
}

// waitFor is how long a task may wait in process for a slot: nothing for a
// slow endpoint, a short while for one not measured yet, and otherwise a
// few times the wait its place in the queue should take (the tasks ahead
// of it, over the slots, in round trips), when that is well below
// maxWait: more tasks than that go back to the queue.
func (l *limiter) waitFor(e *endpoint) time.Duration {
	switch {
	case e.rtt > l.fast:
		return 0
	case e.rtt == 0:
		return l.maxWait / 5
	}
	expected := e.rtt * time.Duration(len(e.waiters)+1) / time.Duration(max(e.allowed(), 1))
	if expected > l.maxWait/2 {
		return 0
	}
	return min(l.maxWait, 4*expected+5*time.Millisecond)
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
	e.inFlight--
	l.handOver(e)
}

// handOver gives free slots to waiting tasks, first come first served.
// l.mu is held.
func (l *limiter) handOver(e *endpoint) {
	for len(e.waiters) > 0 && e.inFlight < e.allowed() {
		next := e.waiters[0]
		e.waiters = e.waiters[1:]
		e.inFlight++
		close(next)
	}
}

// renew asks again for the share each webhook in use needs: the most it
// wanted at once since the last renewal. A webhook that wanted nothing
// returns its share.
func (l *limiter) renew(ctx context.Context) {
	l.mu.Lock()
	type ask struct {
		e               *endpoint
		id              string
		demand, holding int
	}
	var asks []ask
	for id, e := range l.hooks {
		if (e.leased == 0 && e.peak == 0) || e.asking {
			continue
		}
		demand := min(int(e.limit), max(e.peak, e.wanted()))
		asks = append(asks, ask{e, id, demand, e.startAsk(demand)})
		e.peak = e.wanted()
	}
	l.mu.Unlock()
	for _, a := range asks {
		granted, err := l.lease(ctx, a.id, a.demand, a.holding)
		l.mu.Lock()
		a.e.asking = false
		if err == nil { // else Redis keeps the old share until it expires; the next renewal tries again
			a.e.leased = granted
			l.handOver(a.e)
		}
		l.mu.Unlock()
	}
}

// returnShares gives every share back, for a worker that stops.
func (l *limiter) returnShares(ctx context.Context) {
	l.mu.Lock()
	holding := map[string]int{}
	for id, e := range l.hooks {
		if e.leased > 0 && !e.asking {
			holding[id] = e.startAsk(0)
		}
	}
	l.mu.Unlock()
	for id, h := range holding {
		l.lease(ctx, id, 0, h) //nolint:errcheck // an unreturned share expires on its own
		l.mu.Lock()
		l.hooks[id].asking = false
		l.mu.Unlock()
	}
}

// endpoint returns the webhook's state, creating it at the full limit
// without a share. States idle for ten minutes, holding no share, are
// dropped, so the map stays the size of the webhooks in use. l.mu is held.
func (l *limiter) endpoint(webhookID string) *endpoint {
	now := l.now()
	if now.Sub(l.swept) > time.Minute {
		for id, e := range l.hooks {
			if e.inFlight == 0 && len(e.waiters) == 0 && e.leased == 0 && !e.asking && now.Sub(e.lastUsed) > 10*time.Minute {
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
