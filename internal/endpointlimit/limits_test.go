package endpointlimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/trackelio/webhooks/internal/endpointlimit"
	"github.com/trackelio/webhooks/internal/endpointlimit/endpointlimittest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/testwait"
)

// wantNoKeys checks that Redis holds nothing: what a worker leaves behind
// once it has stopped, or a breaker that never opened.
func wantNoKeys(tb testing.TB, rdb *redis.Client, after string) {
	tb.Helper()
	n, err := rdb.DBSize(context.Background()).Result()
	if err != nil {
		tb.Fatalf("DBSIZE: %v", err)
	}
	if n != 0 {
		tb.Errorf("%d keys left in Redis %s, want 0", n, after)
	}
}

// concurrently calls call from n goroutines at once and returns how many
// calls returned true.
func concurrently(n int, call func(i int) bool) int {
	ok := make(chan bool, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			ok <- call(i)
		}()
	}
	close(start)
	yes := 0
	for range n {
		if <-ok {
			yes++
		}
	}
	return yes
}

// wantNotBefore checks that what a period frees (a share, a probe) was not
// freed before the period had passed since start, give or take 50 ms.
func wantNotBefore(tb testing.TB, start time.Time, period time.Duration, what string) {
	tb.Helper()
	if waited := time.Since(start); waited < period-50*time.Millisecond {
		tb.Errorf("%s after %v, before the period of %v", what, waited, period)
	}
}

func TestAcquireCapsInFlight(t *testing.T) {
	t.Parallel()
	rdb := redistest.NewClient(t)
	limits := endpointlimittest.New(t, rdb, endpointlimit.Config{MaxInFlight: 3, LeaseTTL: time.Minute})
	hook, other := uuid.NewString(), uuid.NewString()

	var releases []func()
	for i := range 3 {
		release, ok := endpointlimittest.MustAcquire(t, limits, hook)
		if !ok {
			t.Fatalf("Acquire %d of 3 refused", i+1)
		}
		releases = append(releases, release)
	}
	if _, ok := endpointlimittest.MustAcquire(t, limits, hook); ok {
		t.Fatal("a fourth slot was granted with MaxInFlight 3")
	}
	// Slots are per webhook.
	otherRelease, ok := endpointlimittest.MustAcquire(t, limits, other)
	if !ok {
		t.Fatal("another webhook was refused a slot")
	}

	releases[0]()
	release, ok := endpointlimittest.MustAcquire(t, limits, hook)
	if !ok {
		t.Fatal("a released slot was not granted again")
	}
	if _, ok := endpointlimittest.MustAcquire(t, limits, hook); ok {
		t.Fatal("a fourth slot was granted after one release and one acquire")
	}
	// Releasing twice frees one slot, not two.
	releases[0]()
	if _, ok := endpointlimittest.MustAcquire(t, limits, hook); ok {
		t.Fatal("releasing the same slot twice freed a second one")
	}

	for _, r := range append(releases[1:], release, otherRelease) {
		r()
	}
	// A worker that stops returns its shares.
	limits.Close()
	wantNoKeys(t, rdb, "after the worker stopped")
}

func TestAcquireConcurrent(t *testing.T) {
	t.Parallel()
	limits := endpointlimittest.New(t, redistest.NewClient(t), endpointlimit.Config{MaxInFlight: 3, LeaseTTL: time.Minute})
	hook := uuid.NewString()
	const workers = 20
	granted := concurrently(workers, func(int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r, _, err := limits.Acquire(ctx, hook)
		if err != nil {
			t.Errorf("Acquire: %v", err)
		}
		return r != nil
	})
	if granted != 3 {
		t.Errorf("%d of %d concurrent Acquire calls got a slot, want 3", granted, workers)
	}
}

// TestSharesExpireWhenAWorkerDies: a worker that dies mid-attempt never
// returns its share of the cap; the share frees itself after LeaseTTL for
// the other workers, and Redis is left clean.
func TestSharesExpireWhenAWorkerDies(t *testing.T) {
	t.Parallel()
	const ttl = 500 * time.Millisecond
	rdb := redistest.NewClient(t)
	// The dying worker has a connection of its own to lose.
	deadRedis := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, DB: rdb.Options().DB})
	t.Cleanup(func() { deadRedis.Close() })
	dead := endpointlimittest.New(t, deadRedis, endpointlimit.Config{MaxInFlight: 1, LeaseTTL: ttl, Slots: 1})
	alive := endpointlimittest.New(t, rdb, endpointlimit.Config{MaxInFlight: 1, LeaseTTL: ttl})
	hook := uuid.NewString()

	taken := time.Now()
	if _, ok := endpointlimittest.MustAcquire(t, dead, hook); !ok {
		t.Fatal("first Acquire refused")
	}
	// Killed mid-attempt: its connection to Redis is gone, so it neither
	// renews its share nor returns it, even when it is closed.
	deadRedis.Close()
	dead.Close()
	if _, ok := endpointlimittest.MustAcquire(t, alive, hook); ok {
		t.Fatal("another worker was granted a slot while the only one is held")
	}
	var release func()
	testwait.For(t, 5*time.Second, "the dead worker's share to expire", func() bool {
		var ok bool
		release, ok = endpointlimittest.MustAcquire(t, alive, hook)
		return ok
	})
	wantNotBefore(t, taken, ttl, "the dead worker's share was free")
	// The live worker's attempt ends, and it returns its share when it
	// stops (as the worker does, after asynq's Shutdown has waited for the
	// running attempts).
	release()
	alive.Close()
	wantNoKeys(t, rdb, "after the last worker stopped")
}

// TestSharesTheCap: two workers busy on one webhook run at most the cap
// between them, and the second gets its even share once the first's
// attempts above that share have ended.
func TestSharesTheCap(t *testing.T) {
	t.Parallel()
	rdb := redistest.NewClient(t)
	cfg := endpointlimit.Config{MaxInFlight: 4, LeaseTTL: 300 * time.Millisecond}
	first, second := endpointlimittest.New(t, rdb, cfg), endpointlimittest.New(t, rdb, cfg)
	hook := uuid.NewString()
	var held []func()
	for range 4 {
		r, ok := endpointlimittest.MustAcquire(t, first, hook)
		if !ok {
			t.Fatal("the first worker was refused a slot of the cap")
		}
		held = append(held, r)
	}
	if _, ok := endpointlimittest.MustAcquire(t, second, hook); ok {
		t.Fatal("the second worker got a slot while the first holds the whole cap")
	}
	// The second's demand shrinks the first's share to an even 2 when it
	// renews, but its four attempts still run: they stay held, over three
	// lease periods (nine renewals), and the second gets nothing.
	for end := time.Now().Add(3 * cfg.LeaseTTL); time.Now().Before(end); {
		if _, ok := endpointlimittest.MustAcquire(t, second, hook); ok {
			t.Fatal("the second worker got a slot while the first still runs four attempts in a cap of 4")
		}
	}
	// Two attempts end: the second worker gets its even share, 2, and the
	// cap is full.
	held[0]()
	held[1]()
	got := 0
	testwait.For(t, 5*time.Second, "the second worker's share of 2", func() bool {
		if _, ok := endpointlimittest.MustAcquire(t, second, hook); ok {
			got++
		}
		return got == 2
	})
	for name, limits := range map[string]*endpointlimit.Limits{"first": first, "second": second} {
		if _, ok := endpointlimittest.MustAcquire(t, limits, hook); ok {
			t.Errorf("the %s worker got a fifth slot of a cap of 4", name)
		}
	}
}

// TestReleaseAfterCancel: the task's context is often done by the time the
// attempt ends; the slot is released all the same.
func TestReleaseAfterCancel(t *testing.T) {
	t.Parallel()
	limits := endpointlimittest.New(t, redistest.NewClient(t), endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute})
	hook := uuid.NewString()
	ctx, cancel := context.WithCancel(context.Background())
	release, _, err := limits.Acquire(ctx, hook)
	if err != nil || release == nil {
		t.Fatalf("Acquire = %v, %v", release != nil, err)
	}
	cancel()
	release(time.Millisecond, false)
	if _, ok := endpointlimittest.MustAcquire(t, limits, hook); !ok {
		t.Error("the slot released after the context ended is still held")
	}
}

func TestRedisUnavailable(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	limits := endpointlimittest.New(t, rdb, endpointlimit.Config{MaxInFlight: 1, LeaseTTL: time.Minute, BreakerThreshold: 1, ProbeInterval: time.Minute})
	if release, _, err := limits.Acquire(context.Background(), uuid.NewString()); err == nil || release != nil {
		t.Errorf("Acquire without Redis = %v, %v; want an error", release != nil, err)
	}
	if _, err := limits.BreakerWait(context.Background(), uuid.NewString(), 5); err == nil {
		t.Error("BreakerWait without Redis = nil error, want an error")
	}
}
