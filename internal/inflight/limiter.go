// Package inflight decides how many delivery attempts run at once, and
// which task runs next: per endpoint an adaptive limit that follows the
// endpoint's latency and errors (Gradient); per worker a number of slots
// shared max-min fairly among the endpoints that want them (pickNext); and
// between the two a bounded wait in the worker, so a task that cannot start
// now waits for its turn here rather than going back to the queue and coming
// back whole seconds later (admit). The limiter knows nothing of Redis: the
// share of an endpoint's ceiling that other workers leave to this one comes
// through Config.Share.
package inflight

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// DefaultMaxWait is how long a task waits for a slot unless configured:
// long enough to wait out a few round trips of slow endpoints, short beside
// the lease asynq keeps on a running task (30 s, renewed every 5 s).
const DefaultMaxWait = 5 * time.Second

// Config sets a Limiter.
type Config struct {
	// Slots is how many attempts the worker runs at once.
	Slots int
	// MaxWaiting bounds the tasks waiting for a slot at once (Slots).
	MaxWaiting int
	// MaxWait is the longest a task waits for a slot before it goes back
	// to the queue (DefaultMaxWait).
	MaxWait time.Duration
	// Gradient adapts each endpoint's limit; its Max is the ceiling of one
	// endpoint.
	Gradient Gradient
	// Share leases a share of an endpoint's ceiling for demand attempts and
	// returns what was granted, keeping holding slots for this worker
	// whatever the grant; nil grants what is asked, up to the ceiling.
	Share func(ctx context.Context, key string, demand, holding int) (int, error)
	// AskEvery bounds how often a busy endpoint asks for a bigger share
	// (20 ms).
	AskEvery time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Limiter hands out attempt slots. It is safe for concurrent use.
type Limiter struct {
	cfg Config

	mu       sync.Mutex
	hooks    map[string]*endpoint
	queued   map[*endpoint]string // endpoints with waiting tasks, and their keys
	running  int
	waiting  int
	draining bool
	drain    chan struct{}
	swept    time.Time
	// reserved is, per period, the slots the busy endpoints' fair shares
	// keep: Σ min(demand, slots / busy endpoints), and equal that share.
	reserved, equal int
	// waitShare is an equal share of MaxWaiting among the busy endpoints.
	waitShare  int
	reservedAt time.Time
	// stale says an endpoint became busy since: the reserve is counted
	// again before the next admission.
	stale bool
}

// reserveEvery is how often the busy endpoints' reserve is counted: the
// period over which an endpoint counts as busy.
const reserveEvery = time.Second

// endpoint is one endpoint's limit, share, attempts and waiting tasks.
type endpoint struct {
	limit Limit
	// firstStart is when the endpoint's first attempt began, until one
	// ends: its age is the least the endpoint's round trip can be.
	firstStart time.Time
	leased     int // the share of the ceiling granted to this worker
	inFlight   int
	waiters    []*waiter
	asked      time.Time
	peak       int // the most attempts wanted at once since the last renewal
	// busy and busyBefore are the most attempts wanted at once in this
	// and the last period of the fair shares (reserveEvery).
	busy, busyBefore int
	// counted is what the reserve last counted for the endpoint.
	counted  int
	lastUsed time.Time
	// asking says a lease call is out; one at a time per endpoint, so the
	// grants land in the order they were made.
	asking bool
}

// waiter is a task waiting for a slot; ready closes when it has one.
type waiter struct {
	ready chan struct{}
	since time.Time
}

// New builds a Limiter.
func New(cfg Config) *Limiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AskEvery <= 0 {
		cfg.AskEvery = 20 * time.Millisecond
	}
	cfg.Slots = max(cfg.Slots, 1)
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = cfg.Slots
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	return &Limiter{cfg: cfg, hooks: map[string]*endpoint{}, queued: map[*endpoint]string{}, drain: make(chan struct{}), swept: cfg.Now()}
}

// Release gives a slot back after an attempt that took d; congested says
// the endpoint struggled. A second call does nothing.
type Release func(d time.Duration, congested bool)

// Stats is what a Limiter holds now, for metrics.
type Stats struct {
	Running, Waiting int
}

// Stats returns the attempts running and the tasks waiting.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Running: l.running, Waiting: l.waiting}
}

// allowed is how many attempts may run at once: the limit, within the share.
func (e *endpoint) allowed() int { return min(int(e.limit.Value), e.leased) }

// demand is what the endpoint wanted at most in the last two periods.
func (e *endpoint) demand() int { return max(e.busy, e.busyBefore, e.wanted()) }

// want notes what the endpoint wants now; one that was idle marks the
// reserve stale. l.mu is held.
func (l *Limiter) want(e *endpoint) {
	if e.demand() == 0 {
		l.stale = true
	}
	e.busy = max(e.busy, e.wanted()+1)
	e.peak = max(e.peak, e.wanted()+1)
}

// fairCap is the most slots the endpoint may hold: all but what the other
// busy endpoints' fair shares keep (at most an equal share each, less if
// they want less), so that an endpoint whose attempts hang cannot take the
// slots the others will need in the next moment, while one alone, or one
// among endpoints that want little, may use nearly all of them. l.mu is
// held.
func (l *Limiter) fairCap(e *endpoint) int {
	now := l.cfg.Now()
	if l.stale || now.Sub(l.reservedAt) >= reserveEvery {
		l.countReserve(now)
	}
	return max(l.cfg.Slots-(l.reserved-e.counted), 1)
}

// countReserve counts the busy endpoints' reserve, and starts a new period
// when the last one is over. l.mu is held.
func (l *Limiter) countReserve(now time.Time) {
	newPeriod := now.Sub(l.reservedAt) >= reserveEvery
	n := 0
	for _, e := range l.hooks {
		if e.demand() > 0 {
			n++
		}
	}
	l.equal = max(l.cfg.Slots/max(n, 1), 1)
	l.waitShare = max(l.cfg.MaxWaiting/max(n, 1), 1)
	l.reserved = 0
	for _, e := range l.hooks {
		e.counted = min(e.demand(), l.equal)
		l.reserved += e.counted
		if newPeriod {
			e.busyBefore, e.busy = e.busy, e.wanted()
		}
	}
	if newPeriod {
		l.reservedAt = now
	}
	l.stale = false
}

// wanted is how many attempts would run now if they could.
func (e *endpoint) wanted() int { return e.inFlight + len(e.waiters) }

// Acquire takes a slot for an attempt to the endpoint key, waiting in the
// worker while its turn is expected soon. Without a slot, release is nil
// and retryIn is when the task should be tried again from the queue.
func (l *Limiter) Acquire(ctx context.Context, key string) (release Release, retryIn time.Duration, err error) {
	l.mu.Lock()
	e := l.endpoint(key)
	l.want(e)
	if err := l.askIfShort(ctx, key, e); err != nil {
		l.mu.Unlock()
		return nil, 0, err
	}
	v := admit(l.state(e))
	switch {
	case v.start:
		l.startLocked(e)
		l.mu.Unlock()
		return l.releaser(key), 0, nil
	case !v.wait:
		l.mu.Unlock()
		return nil, jitter(v.retryIn), nil
	}
	w := &waiter{ready: make(chan struct{}), since: l.cfg.Now()}
	e.waiters = append(e.waiters, w)
	l.queued[e] = key
	l.waiting++
	l.mu.Unlock()

	timer := time.NewTimer(v.waitFor)
	defer timer.Stop()
	for {
		select {
		case <-w.ready:
			return l.releaser(key), 0, nil
		case <-timer.C:
		case <-ctx.Done():
		case <-l.drain:
		}
		l.mu.Lock()
		ahead := slices.Index(e.waiters, w)
		if ahead < 0 {
			// Handed a slot just as the wait ended: take it.
			l.mu.Unlock()
			return l.releaser(key), 0, nil
		}
		s := l.state(e)
		s.waiting = ahead
		v := recheck(s, l.cfg.Now().Sub(w.since))
		if v.wait && ctx.Err() == nil {
			l.mu.Unlock()
			timer.Reset(v.waitFor)
			continue
		}
		l.leave(e, w)
		l.mu.Unlock()
		return nil, jitter(backIn(expectedWait(s))), nil
	}
}

// askIfShort asks for a bigger share of the endpoint's ceiling when its
// limit allows more than its share and the share is in use. l.mu is held,
// and released during the call.
func (l *Limiter) askIfShort(ctx context.Context, key string, e *endpoint) error {
	now := l.cfg.Now()
	if e.inFlight < e.allowed() || e.leased >= int(e.limit.Value) || e.asking || now.Sub(e.asked) < l.cfg.AskEvery {
		return nil
	}
	e.asked = now
	demand := int(e.limit.Value)
	holding := e.startAsk(demand)
	l.mu.Unlock()
	granted, err := l.lease(ctx, key, demand, holding)
	l.mu.Lock()
	e.asking = false
	if err != nil {
		return err
	}
	e.leased = granted
	l.handOver()
	return nil
}

// state is what admit reads about the endpoint and the worker. Before its
// first answer, an endpoint's round trip is taken to be at least as long as
// its first attempt has run, so that the tasks of an endpoint slow to
// answer the first time are not fetched again and again meanwhile. l.mu is
// held.
func (l *Limiter) state(e *endpoint) state {
	rtt := e.limit.RTT()
	if rtt == 0 && !e.firstStart.IsZero() {
		rtt = max(l.cfg.Now().Sub(e.firstStart), time.Nanosecond)
	}
	allowed := min(e.allowed(), l.fairCap(e)) // counts the reserve and waitShare first
	return state{
		inFlight: e.inFlight, allowed: allowed, limit: int(e.limit.Value), waiting: len(e.waiters), rtt: rtt,
		running: l.running, slots: l.cfg.Slots, waitingAll: l.waiting, maxWaiting: l.cfg.MaxWaiting, waitShare: l.waitShare,
		maxWait: l.cfg.MaxWait, draining: l.draining,
	}
}

// startLocked counts an attempt that starts. l.mu is held.
func (l *Limiter) startLocked(e *endpoint) {
	if e.limit.RTT() == 0 && e.firstStart.IsZero() {
		e.firstStart = l.cfg.Now()
	}
	e.inFlight++
	l.running++
}

// leave takes a waiter out of its endpoint's queue; false when it was
// handed a slot first. l.mu is held.
func (l *Limiter) leave(e *endpoint, w *waiter) bool {
	for i, x := range e.waiters {
		if x == w {
			e.waiters = append(e.waiters[:i], e.waiters[i+1:]...)
			l.waiting--
			if len(e.waiters) == 0 {
				delete(l.queued, e)
			}
			return true
		}
	}
	return false
}

// releaser returns the Release of one attempt to key.
func (l *Limiter) releaser(key string) Release {
	var once sync.Once
	return func(d time.Duration, congested bool) {
		once.Do(func() { l.release(key, d, congested) })
	}
}

// release ends an attempt: the endpoint's limit learns from it, and the
// slot goes to the next waiting task.
func (l *Limiter) release(key string, d time.Duration, congested bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.endpoint(key)
	e.limit = l.cfg.Gradient.Next(e.limit, Sample{Took: d, Congested: congested, InFlight: e.inFlight, At: l.cfg.Now()})
	e.firstStart = time.Time{}
	e.inFlight--
	l.running--
	l.handOver()
}

// handOver gives the worker's free slots to waiting tasks, by pickNext.
// l.mu is held.
func (l *Limiter) handOver() {
	if l.running >= l.cfg.Slots || len(l.queued) == 0 {
		return
	}
	type queue struct {
		e   *endpoint
		key string
	}
	qs := make([]queue, 0, len(l.queued))
	cs := make([]candidate, 0, len(l.queued))
	for e, key := range l.queued {
		qs = append(qs, queue{e, key})
		cs = append(cs, candidate{inFlight: e.inFlight, allowed: min(e.allowed(), l.fairCap(e)), since: e.waiters[0].since})
	}
	for l.running < l.cfg.Slots {
		i := pickNext(cs)
		if i < 0 {
			return
		}
		e := qs[i].e
		w := e.waiters[0]
		e.waiters = e.waiters[1:]
		l.waiting--
		l.startLocked(e)
		close(w.ready)
		if len(e.waiters) == 0 {
			delete(l.queued, e)
			cs[i].allowed = 0 // nothing left to start
			continue
		}
		cs[i].inFlight, cs[i].since = e.inFlight, e.waiters[0].since
	}
}

// Drain sends every waiting task back to the queue and every later one that
// cannot start at once, for a worker that stops.
func (l *Limiter) Drain() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.draining {
		l.draining = true
		close(l.drain)
	}
}

// jitter spreads tasks sent back together by ±20 %, so they do not come
// back in lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// lease asks for a share of the endpoint's ceiling.
func (l *Limiter) lease(ctx context.Context, key string, demand, holding int) (int, error) {
	if l.cfg.Share == nil {
		return min(demand, int(l.cfg.Gradient.Max)), nil
	}
	return l.cfg.Share(ctx, key, demand, holding)
}

// startAsk marks a lease call for demand as out and returns how many slots
// the share must keep for this worker meanwhile: the attempts running, and
// those the share admits until the answer is in, which it first lowers to
// demand. So a share only shrinks once the attempts above it have ended,
// and the shares of all workers always cover every attempt running.
func (e *endpoint) startAsk(demand int) (holding int) {
	e.asking = true
	e.leased = min(e.leased, demand)
	return max(e.inFlight, e.leased)
}

// Renew asks again for the share each endpoint in use needs: the most it
// wanted at once since the last renewal, within its limit. An endpoint that
// wanted nothing returns its share.
func (l *Limiter) Renew(ctx context.Context) {
	l.mu.Lock()
	type ask struct {
		e               *endpoint
		key             string
		demand, holding int
	}
	var asks []ask
	for key, e := range l.hooks {
		if (e.leased == 0 && e.peak == 0) || e.asking {
			continue
		}
		demand := min(int(e.limit.Value), max(e.peak, e.wanted()))
		asks = append(asks, ask{e, key, demand, e.startAsk(demand)})
		e.peak = e.wanted()
	}
	l.mu.Unlock()
	for _, a := range asks {
		granted, err := l.lease(ctx, a.key, a.demand, a.holding)
		l.mu.Lock()
		a.e.asking = false
		if err == nil { // else the old share stays until it expires; the next renewal tries again
			a.e.leased = granted
			l.handOver()
		}
		l.mu.Unlock()
	}
}

// ReturnShares gives every share back, for a worker that stops.
func (l *Limiter) ReturnShares(ctx context.Context) {
	l.mu.Lock()
	holding := map[string]int{}
	for key, e := range l.hooks {
		if e.leased > 0 && !e.asking {
			holding[key] = e.startAsk(0)
		}
	}
	l.mu.Unlock()
	for key, h := range holding {
		l.lease(ctx, key, 0, h) //nolint:errcheck // an unreturned share expires on its own
		l.mu.Lock()
		l.hooks[key].asking = false
		l.mu.Unlock()
	}
}

// endpoint returns the endpoint's state, creating it at the initial limit
// without a share. States idle for ten minutes, holding no share, are
// dropped, so the map stays the size of the endpoints in use. l.mu is held.
func (l *Limiter) endpoint(key string) *endpoint {
	now := l.cfg.Now()
	if now.Sub(l.swept) > time.Minute {
		for k, e := range l.hooks {
			if e.inFlight == 0 && len(e.waiters) == 0 && e.leased == 0 && !e.asking && now.Sub(e.lastUsed) > 10*time.Minute {
				delete(l.hooks, k)
			}
		}
		l.swept = now
	}
	e, ok := l.hooks[key]
	if !ok {
		e = &endpoint{limit: l.cfg.Gradient.Start()}
		l.hooks[key] = e
	}
	e.lastUsed = now
	return e
}
