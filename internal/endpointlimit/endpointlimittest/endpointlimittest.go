// Package endpointlimittest sets up endpointlimit for the tests of
// endpointlimit and of the code that uses it: Limits that tell a test at
// once that no slot is free, and taking a slot. It is for tests only.
package endpointlimittest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/endpointlimit"
)

// New builds Limits that are closed when the test ends. Unless cfg says
// otherwise, the worker has 100 slots and a task waits only 10 ms for one,
// so a test learns at once that none is free.
func New(tb testing.TB, rdb redis.UniversalClient, cfg endpointlimit.Config) *endpointlimit.Limits {
	tb.Helper()
	if cfg.Slots == 0 {
		cfg.Slots = 100
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Millisecond
	}
	l := endpointlimit.New(rdb, cfg)
	tb.Cleanup(l.Close)
	return l
}

// MustAcquire takes a slot for a task that gives up waiting for one after
// 50 ms. A refusal must send the task away for at least 0.8 s, so that it
// is not fetched again and again. The release reports a quick, good answer.
func MustAcquire(tb testing.TB, l *endpointlimit.Limits, webhookID string) (release func(), ok bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, retryIn, err := l.Acquire(ctx, webhookID)
	if err != nil {
		tb.Fatalf("Acquire(%s): %v", webhookID, err)
	}
	if r == nil {
		if retryIn < 800*time.Millisecond {
			tb.Fatalf("Acquire(%s) refused with a retry in %v; want at least 0.8 s, so the task is not fetched again and again", webhookID, retryIn)
		}
		return nil, false
	}
	return func() { r(time.Millisecond, false) }, true
}
