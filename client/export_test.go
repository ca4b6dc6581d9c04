package client

import (
	"context"
	"time"
)

// WithClock makes the client read the time from now and wait with sleep,
// so tests choose the waits' outcome without waiting.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.now, c.sleep = now, sleep }
}

// WithJitter makes the backoff's random share always r.
func WithJitter(r float64) Option {
	return func(c *Client) { c.jitter = func() float64 { return r } }
}

// Backoff is RetryPolicy.backoff on the policy with its defaults.
func Backoff(p RetryPolicy, n int, retryAfter time.Duration, r float64) time.Duration {
	return p.withDefaults().backoff(n, retryAfter, r)
}

// The unexported decisions, for table tests.
var (
	Retryable       = retryable
	ParseRetryAfter = retryAfter
	Sleep           = sleep
)
