package endpointlimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/internal/endpointlimit"
	"github.com/trackelio/webhooks/internal/endpointlimit/endpointlimittest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testwait"
)

func mustBreakerWait(tb testing.TB, limits *endpointlimit.Limits, webhookID string, consecutiveFailures int) time.Duration {
	tb.Helper()
	wait, err := limits.BreakerWait(context.Background(), webhookID, consecutiveFailures)
	if err != nil {
		tb.Fatalf("BreakerWait(%s, %d): %v", webhookID, consecutiveFailures, err)
	}
	return wait
}

// TestBreakerWaitClosed: below the threshold, or with the breaker off,
// every delivery goes ahead and Redis is not touched.
func TestBreakerWaitClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		threshold int
		failures  int
	}{
		{"below the threshold", 3, 2},
		{"breaker off", 0, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.NewClient(t)
			limits := endpointlimittest.New(t, rdb, endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: tt.threshold, ProbeInterval: time.Hour})
			hook := uuid.NewString()
			for range 3 {
				if w := mustBreakerWait(t, limits, hook, tt.failures); w != 0 {
					t.Fatalf("BreakerWait(%d failures) = %v, want 0", tt.failures, w)
				}
			}
			wantNoKeys(t, rdb, "by a closed breaker")
		})
	}
}

func TestBreakerWait(t *testing.T) {
	t.Parallel()
	const interval = 300 * time.Millisecond
	limits := endpointlimittest.New(t, redistest.NewClient(t), endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 3, ProbeInterval: interval})
	hook, other := uuid.NewString(), uuid.NewString()

	probed := time.Now()
	if w := mustBreakerWait(t, limits, hook, 3); w != 0 {
		t.Fatalf("first BreakerWait at the threshold = %v, want 0 (the probe)", w)
	}
	for _, failures := range []int{3, 10, 1000} {
		w := mustBreakerWait(t, limits, hook, failures)
		if w <= 0 || w > interval+interval/10 {
			t.Errorf("BreakerWait(%d failures) during the interval = %v, want a wait in (0, %v]", failures, w, interval+interval/10)
		}
	}
	if w := mustBreakerWait(t, limits, other, 5); w != 0 {
		t.Errorf("BreakerWait of another webhook = %v, want 0: breakers are per webhook", w)
	}
	if w := mustBreakerWait(t, limits, hook, 0); w != 0 {
		t.Errorf("BreakerWait after the streak ended = %v, want 0: the breaker is closed", w)
	}

	// The next probe is allowed once the interval has passed, not before.
	testwait.For(t, 5*time.Second, "the next probe", func() bool { return mustBreakerWait(t, limits, hook, 3) == 0 })
	wantNotBefore(t, probed, interval, "the next probe was allowed")
}

func TestBreakerWaitConcurrent(t *testing.T) {
	t.Parallel()
	limits := endpointlimittest.New(t, redistest.NewClient(t), endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 1, ProbeInterval: time.Minute})
	hook := uuid.NewString()
	const workers = 10
	waits := make([]time.Duration, workers)
	probes := concurrently(workers, func(i int) bool {
		w, err := limits.BreakerWait(context.Background(), hook, 5)
		if err != nil {
			t.Errorf("BreakerWait: %v", err)
		}
		waits[i] = w
		return err == nil && w == 0
	})
	if probes != 1 {
		t.Errorf("%d of %d concurrent BreakerWait calls may go ahead, want 1 (waits %v)", probes, workers, waits)
	}
}
