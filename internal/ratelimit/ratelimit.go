// Package ratelimit keeps a token bucket per key (a workspace, a client's
// address), for limits that hold per process.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed keeps one token bucket per key. Buckets idle for longer than they
// take to refill are dropped, so the map stays bounded by the active keys.
// A nil *Keyed allows everything. It is safe for concurrent use.
type Keyed struct {
	rps     rate.Limit
	burst   int
	idle    time.Duration
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns buckets that refill at rps and hold burst tokens, on the
// clock now (time.Now when nil); rps 0 or less is no limit (nil).
func New(rps float64, burst int, now func() time.Time) *Keyed {
	if rps <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	burst = max(burst, 1)
	return &Keyed{
		rps: rate.Limit(rps), burst: burst, now: now, buckets: map[string]*bucket{}, swept: now(),
		idle: time.Duration(float64(burst)/rps*float64(time.Second)) + time.Minute,
	}
}

// Allow takes a token of the key's bucket, or says how long until one is
// there and takes none.
func (k *Keyed) Allow(key string) (time.Duration, bool) {
	if k == nil {
		return 0, true
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.bucket(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// Wait says how long until the key's bucket holds a token, without taking
// it: zero when one is there.
func (k *Keyed) Wait(key string) time.Duration {
	if k == nil {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	tokens := k.bucket(key, now).TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(k.rps) * float64(time.Second))
}

// bucket is the key's bucket, full when it is new; idle buckets are swept
// on the way. k.mu is held.
func (k *Keyed) bucket(key string, now time.Time) *rate.Limiter {
	if now.Sub(k.swept) > k.idle {
		for key, b := range k.buckets {
			if now.Sub(b.seen) > k.idle {
				delete(k.buckets, key)
			}
		}
		k.swept = now
	}
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.rps, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	return b.lim
}
