package inflight

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testclock"
	"github.com/trackelio/webhooks/internal/testwait"
)

// newTestLimiter is a limiter on a fake clock with a ceiling of max per
// endpoint, slots for the worker, and waits that end only by a hand-over
// unless a test shortens them.
func newTestLimiter(max, slots int) (*Limiter, *testclock.Clock) {
	c := testclock.New(t0)
	return New(Config{Slots: slots, MaxWaiting: 1000, MaxWait: time.Minute, Gradient: DefaultGradient(max), Now: c.Now}), c
}

// start takes a slot that must be free at once.
func start(t *testing.T, l *Limiter, key string) Release {
	t.Helper()
	r, retryIn, err := l.Acquire(context.Background(), key)
	if err != nil || r == nil {
		t.Fatalf("%s: no slot (retry in %v, %v), want one at once", key, retryIn, err)
	}
	return r
}

// fill takes n slots for key that must all be free at once.
func fill(t *testing.T, l *Limiter, key string, n int) []Release {
	t.Helper()
	var rs []Release
	for range n {
		rs = append(rs, start(t, l, key))
	}
	return rs
}

// try asks for a slot for a task that gives up waiting after 20 ms.
func try(l *Limiter, key string) Release {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r, _, _ := l.Acquire(ctx, key)
	return r
}

// queue starts n tasks of key that wait for a slot and returns the
// channel their releases arrive on, once each is handed one.
func queue(t *testing.T, l *Limiter, key string, n int) <-chan Release {
	t.Helper()
	got := make(chan Release, n)
	for range n {
		before := waiting(l, key)
		go func() {
			r, _, _ := l.Acquire(context.Background(), key)
			got <- r
		}()
		testwait.For(t, 5*time.Second, "a task of "+key+" waiting", func() bool { return waiting(l, key) == before+1 })
	}
	return got
}

// contest sets up the fight for slots the fairness tests start from: hog
// holds all n of l's slots with n more of its tasks waiting, and each of
// others has n tasks waiting. It returns hog's releases and the channels of
// hog's and then each other's waiting tasks (see queue).
func contest(t *testing.T, l *Limiter, n int, hog string, others ...string) ([]Release, []<-chan Release) {
	t.Helper()
	held := fill(t, l, hog, n)
	var next []<-chan Release
	for _, key := range append([]string{hog}, others...) {
		next = append(next, queue(t, l, key, n))
	}
	return held, next
}

func waiting(l *Limiter, key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.hooks[key]; ok {
		return len(e.waiters)
	}
	return 0
}

func running(l *Limiter, keys ...string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, len(keys))
	for i, k := range keys {
		if e, ok := l.hooks[k]; ok {
			out[i] = e.inFlight
		}
	}
	return out
}

func TestLimiterHandsTheSlotToAWaiter(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(1, 10)
	r := start(t, l, "w")
	handed := queue(t, l, "w", 1)
	r(200*time.Millisecond, false)
	if next := <-handed; next == nil {
		t.Fatal("the waiting task was sent back instead of handed the slot")
	}
	if got := running(l, "w"); got[0] != 1 || l.Stats() != (Stats{Running: 1}) {
		t.Errorf("after the hand-over: %v running, %+v; want 1 and nothing waiting", got, l.Stats())
	}
}

// TestLimiterSharesSlotsMaxMinFairly: an endpoint alone takes every slot;
// when two more become busy, the slots its attempts free go to them until
// all three hold an equal share, and stay shared.
func TestLimiterSharesSlotsMaxMinFairly(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(100, 12)
	a, next := contest(t, l, 12, "a", "b", "c")
	aNext, bNext, cNext := next[0], next[1], next[2]
	var b, c []Release
	for i := range 8 {
		a[i](200*time.Millisecond, false)
		select {
		case r := <-bNext:
			b = append(b, r)
		case r := <-cNext:
			c = append(c, r)
		case <-aNext:
			t.Fatalf("release %d: a, holding the most slots, was handed another", i+1)
		}
	}
	if got := running(l, "a", "b", "c"); got[0] != 4 || got[1] != 4 || got[2] != 4 {
		t.Fatalf("after 8 of a's attempts ended: a, b, c run %v, want 4 each", got)
	}
	// From here each end hands the slot back to an endpoint with the
	// fewest running: the shares stay within one of each other.
	for i := range 12 {
		switch i % 3 {
		case 0:
			b[0](200*time.Millisecond, false)
			b = b[1:]
		case 1:
			c[0](200*time.Millisecond, false)
			c = c[1:]
		case 2:
			a[8](200*time.Millisecond, false)
			a = append(a[:8], a[9:]...)
		}
		select {
		case r := <-aNext:
			a = append(a, r)
		case r := <-bNext:
			b = append(b, r)
		case r := <-cNext:
			c = append(c, r)
		}
		got := running(l, "a", "b", "c")
		if hi, lo := max(got[0], got[1], got[2]), min(got[0], got[1], got[2]); hi-lo > 1 {
			t.Fatalf("step %d: a, b, c run %v, want shares within one of each other", i+1, got)
		}
	}
}

// TestLimiterHoldsAHangingEndpointToItsShare: an endpoint that took every
// slot and hangs gets none of them back while the others wait with fewer,
// and its limit is cut when its attempts time out.
func TestLimiterHoldsAHangingEndpointToItsShare(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(100, 10)
	h, next := contest(t, l, 10, "hang", "a", "b")
	hNext, aNext, bNext := next[0], next[1], next[2]
	clock.Advance(10 * time.Second)
	for i, r := range h {
		r(10*time.Second, true) // timed out
		select {
		case <-aNext:
		case <-bNext:
		case <-hNext:
			if got := running(l, "hang", "a", "b"); got[0] > min(got[1], got[2])+1 {
				t.Fatalf("timeout %d: the hanging endpoint was handed a slot while running %v", i+1, got)
			}
		}
	}
	got := running(l, "hang", "a", "b")
	if got[0] > 4 || got[0]+got[1]+got[2] != 10 {
		t.Errorf("after the timeouts: hang, a, b run %v; want the hanging endpoint at most its share of 4 of 10", got)
	}
	l.mu.Lock()
	limit := l.hooks["hang"].limit.Value
	l.mu.Unlock()
	if limit > 10 {
		t.Errorf("the hanging endpoint's limit is %v after its attempts timed out, want cut from 20 to at most 10", limit)
	}
}

// TestLimiterSendsBackWhatWouldWaitLong: a task whose turn is further off
// than MaxWait, or two of the endpoint's round trips if that is longer,
// goes back to the queue at once, for about as long as its turn takes. The
// round trip is measured, or before the first answer, how long the first
// attempt has run.
func TestLimiterSendsBackWhatWouldWaitLong(t *testing.T) {
	t.Parallel()
	for _, answered := range []bool{true, false} {
		l, clock := newTestLimiter(1, 10)
		l.cfg.MaxWait = 5 * time.Second
		if answered {
			start(t, l, "slow")(3*time.Second, false) // the endpoint answers in 3 s
			start(t, l, "slow")
		} else {
			start(t, l, "slow")
			clock.Advance(3 * time.Second) // and still no answer
		}
		// Tasks wait up to two round trips (6 s) for their turn: two of
		// them; the third would wait 9 s.
		queue(t, l, "slow", 2)
		wantSentBack(t, l, "slow", 9*time.Second)
	}
}

// wantSentBack checks that a task of key goes back to the queue at once,
// for about d.
func wantSentBack(t *testing.T, l *Limiter, key string, d time.Duration) {
	t.Helper()
	began := time.Now()
	got, retryIn, err := l.Acquire(context.Background(), key)
	if err != nil || got != nil {
		t.Fatalf("a task was given a slot (%v) beyond the limit", err)
	}
	if waited := time.Since(began); waited > time.Second {
		t.Errorf("the task waited %v before going back, want at once", waited)
	}
	if lo, hi := d*8/10, d*12/10; retryIn < lo || retryIn > hi {
		t.Errorf("retry in %v, want about the %v its turn takes", retryIn, d)
	}
}

// TestLimiterEndsWaitsAfterAMinuteAndOnDrain: a task whose wait runs out
// waits on while its turn is still expected soon, but a minute at most in
// all; and every waiting task leaves at once when the worker drains.
func TestLimiterEndsWaitsAfterAMinuteAndOnDrain(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(1, 10)
	start(t, l, "w")
	l.cfg.MaxWait = 20 * time.Millisecond
	back := queue(t, l, "w", 1)
	time.Sleep(100 * time.Millisecond) // several waits ran out and were renewed
	select {
	case <-back:
		t.Fatal("the task left although its turn is still expected within its wait")
	default:
	}
	clock.Advance(61 * time.Second)
	if r := <-back; r != nil {
		t.Fatal("the task was handed a slot that never came free")
	}
	l.cfg.MaxWait = time.Minute
	back = queue(t, l, "w", 1)
	l.Drain()
	if r := <-back; r != nil {
		t.Error("a waiting task kept waiting through the drain")
	}
	if r, _, _ := l.Acquire(context.Background(), "w"); r != nil {
		t.Error("a draining worker gave a slot beyond the limit")
	}
	if l.Stats() != (Stats{Running: 1}) {
		t.Errorf("stats %+v, want 1 running and nothing waiting", l.Stats())
	}
}

func TestLimiterKeepsWithinItsShare(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(4, 100)
	l.cfg.Gradient.Initial = 4
	granted := 1
	var asked []int
	l.cfg.Share = func(_ context.Context, _ string, demand, _ int) (int, error) {
		asked = append(asked, demand)
		return min(demand, granted), nil
	}
	r := start(t, l, "w")
	if got := try(l, "w"); got != nil {
		t.Fatal("a slot beyond the share of 1 was granted")
	}
	// A renewal sizes the share to the most wanted at once: 2.
	granted = 3
	l.Renew(context.Background())
	start(t, l, "w")
	if got := try(l, "w"); got != nil {
		t.Fatal("a third slot was granted within a share of 2, before asking again")
	}
	// Busy past its share, the endpoint asks for its whole limit.
	clock.Advance(time.Second)
	start(t, l, "w")
	if got := asked[len(asked)-1]; got != 4 {
		t.Errorf("asked for %d, want the whole limit 4", got)
	}
	// Idle, the share is returned at the second renewal.
	r(time.Millisecond, false)
	for range 2 {
		l.release("w", time.Millisecond, false)
	}
	clock.Advance(time.Second)
	l.Renew(context.Background()) // the peak of this period was 3
	l.Renew(context.Background()) // nothing wanted since
	if got := asked[len(asked)-1]; got != 0 {
		t.Errorf("an idle endpoint asked for %d, want 0 (its share returned)", got)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.hooks["w"]; e.leased != 0 {
		t.Errorf("an idle endpoint keeps a share of %d", e.leased)
	}
}

// TestLimiterHoldsRunningAttempts: a share that shrinks below the attempts
// running keeps them reserved until they end, so no other worker is granted
// their slots meanwhile.
func TestLimiterHoldsRunningAttempts(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(4, 100)
	granted, holding := 4, -1
	l.cfg.Share = func(_ context.Context, _ string, _, h int) (int, error) {
		holding = h
		return granted, nil
	}
	l.Renew(context.Background()) // nothing in use: no call
	if holding != -1 {
		t.Fatalf("an unused endpoint was leased, holding %d", holding)
	}
	rs := fill(t, l, "w", 3)
	granted = 1 // another worker's demand shrinks this one's share
	l.Renew(context.Background())
	if holding != 3 {
		t.Errorf("renewed holding %d with 3 attempts running, want 3", holding)
	}
	rs[0](time.Millisecond, false)
	rs[1](time.Millisecond, false)
	l.Renew(context.Background())
	if holding != 1 {
		t.Errorf("renewed holding %d with 1 attempt running in a share of 1, want 1", holding)
	}
	rs[2](time.Millisecond, false)
	l.Renew(context.Background()) // the peak of the last period was 1
	l.Renew(context.Background())
	if holding != 0 {
		t.Errorf("an idle endpoint renewed holding %d, want 0", holding)
	}
}

// TestLimiterUnderConcurrentUse runs acquires, waits, releases that shrink
// and grow the limit, share changes and renewals at once, for the race
// detector, and checks that the ceiling and the slots hold throughout and
// that every running attempt is covered by the share held for the worker.
func TestLimiterUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	const ceiling, slots = 4, 6
	l := New(Config{Slots: slots, MaxWaiting: 8, MaxWait: 2 * time.Millisecond, Gradient: DefaultGradient(ceiling), AskEvery: time.Nanosecond})
	// mu guards the test's view: the attempts running and the slots the
	// ledger (Redis, in production) holds for this worker.
	var mu sync.Mutex
	var inFlight, held, uncovered int
	var asks atomic.Int64
	l.cfg.Share = func(_ context.Context, _ string, demand, holding int) (int, error) {
		grant := min(demand, 1+int(asks.Add(1)%ceiling)) // shares shrink and grow
		mu.Lock()
		held = max(grant, holding)
		mu.Unlock()
		return grant, nil
	}
	var granted atomic.Int64
	var peak int
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		for {
			select {
			case <-stop:
				return
			default:
				l.Renew(context.Background())
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				r, _, err := l.Acquire(context.Background(), "w")
				if err != nil || r == nil {
					continue
				}
				granted.Add(1)
				mu.Lock()
				inFlight++
				peak = max(peak, inFlight)
				if inFlight > held {
					uncovered++
				}
				mu.Unlock()
				runtime.Gosched() // hold the slot while others run
				mu.Lock()
				inFlight--
				mu.Unlock()
				r(time.Duration(g+1)*time.Microsecond, (g+i)%5 == 0)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-renewed
	if granted.Load() == 0 {
		t.Fatal("no slot was ever granted")
	}
	if peak > ceiling {
		t.Errorf("%d attempts ran at once, want at most %d", peak, ceiling)
	}
	if uncovered > 0 {
		t.Errorf("%d times an attempt started beyond the slots held for the worker", uncovered)
	}
	if l.Stats() != (Stats{}) {
		t.Errorf("after the last release: %+v, want nothing running or waiting", l.Stats())
	}
}

func TestLimiterForgetsIdleEndpoints(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(2, 10)
	start(t, l, "old")(time.Millisecond, false)
	l.Renew(context.Background()) // sized to the period's peak
	l.Renew(context.Background()) // idle: returned
	clock.Advance(11 * time.Minute)
	start(t, l, "new")
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.hooks["old"]; ok {
		t.Error("an idle endpoint's state was kept")
	}
}

// TestLimiterKeepsSlotsForTheOtherBusyEndpoints: with slots free, an
// endpoint may still not take the slots that the other endpoints busy in
// the last moments will need, so one whose attempts hang cannot fill the
// worker between two of theirs; alone, it may use every slot.
func TestLimiterKeepsSlotsForTheOtherBusyEndpoints(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(100, 10)
	for _, k := range []string{"a", "b", "c"} {
		start(t, l, k)(50*time.Millisecond, false) // one quick attempt each
	}
	hung := 0
	for range 10 {
		if try(l, "hang") != nil {
			hung++
		}
	}
	if hung != 7 {
		t.Errorf("the hanging endpoint took %d of 10 free slots, want 7: one kept for each of the 3 other busy endpoints", hung)
	}
	for _, k := range []string{"a", "b", "c"} {
		start(t, l, k) // its slot is there at once
	}

	alone, _ := newTestLimiter(100, 10)
	if got := len(fill(t, alone, "hang", 10)); got != 10 {
		t.Errorf("alone, the endpoint took %d of 10 slots, want all", got)
	}
}
