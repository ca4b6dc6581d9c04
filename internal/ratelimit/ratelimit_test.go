package ratelimit_test

import (
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/ratelimit"
	"github.com/trackelio/webhooks/internal/testclock"
)

func TestKeyed(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	k := ratelimit.New(1.0/60, 3, clock.Now) // 3 at once, then one a minute
	for i := range 3 {
		if wait := k.Wait("a"); wait != 0 {
			t.Fatalf("before take %d: Wait = %v, want 0", i+1, wait)
		}
		if _, ok := k.Allow("a"); !ok {
			t.Fatalf("take %d refused within the burst", i+1)
		}
	}
	if wait, ok := k.Allow("a"); ok || wait != time.Minute {
		t.Errorf("take 4 = %v, %v; want refused for a minute", wait, ok)
	}
	if wait := k.Wait("a"); wait != time.Minute {
		t.Errorf("Wait after the burst = %v, want a minute", wait)
	}
	if _, ok := k.Allow("b"); !ok {
		t.Errorf("another key is refused")
	}
	clock.Advance(30 * time.Second)
	if wait := k.Wait("a"); wait != 30*time.Second {
		t.Errorf("Wait half a minute on = %v, want 30s", wait)
	}
	clock.Advance(30 * time.Second)
	if _, ok := k.Allow("a"); !ok {
		t.Errorf("take refused after the refill")
	}
	var none *ratelimit.Keyed
	if _, ok := none.Allow("a"); !ok || none.Wait("a") != 0 || ratelimit.New(0, 1, nil) != nil {
		t.Errorf("no limit limits")
	}
}
