// Package testclock provides Clock, a clock that tests move by hand.
package testclock

import (
	"sync"
	"time"
)

// Clock is an injected clock that tests move by hand, so time-dependent
// behaviour (expiry, backoff, limits) is tested without sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
