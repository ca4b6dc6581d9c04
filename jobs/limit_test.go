package jobs

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/testenv"
)

func newTestLimiter(max int) (*limiter, *testenv.Clock) {
	c := testenv.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	return newLimiter(max, c.Now), c
}

func TestLimiterStartsAtTheCap(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(3)
	for i := range 3 {
		if ok, _ := l.acquire(context.Background(), "w"); !ok {
			t.Fatalf("slot %d of 3 refused", i+1)
		}
	}
	// Not measured yet: a short wait, then back to the queue.
	l.maxWait = 10 * time.Millisecond
	if ok, _ := l.acquire(context.Background(), "w"); ok {
		t.Fatal("a fourth slot was granted")
	}
	if ok, _ := l.acquire(context.Background(), "other"); !ok {
		t.Fatal("another webhook's slot was refused")
	}
}

func TestLimiterHandsTheSlotToAWaiter(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(1)
	l.acquire(context.Background(), "w")
	l.release("w", 2*time.Millisecond, false) // a fast endpoint: waiting is worth it
	l.acquire(context.Background(), "w")
	got := make(chan bool)
	go func() { ok, _ := l.acquire(context.Background(), "w"); got <- ok }()
	waitForWaiters(t, l, "w", 1)
	l.release("w", 2*time.Millisecond, false)
	if !<-got {
		t.Fatal("the waiter did not get the released slot")
	}
	wantUse(t, l, "w", 1, 0, "the handed slot")
}

func TestLimiterNeverHoldsTasksForASlowEndpoint(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(1)
	l.acquire(context.Background(), "w")
	l.release("w", 5*time.Second, false)
	l.acquire(context.Background(), "w")
	start := time.Now()
	if ok, _ := l.acquire(context.Background(), "w"); ok {
		t.Fatal("a slot beyond the limit was granted")
	}
	if waited := time.Since(start); waited > 50*time.Millisecond {
		t.Errorf("a task waited %v for a slow endpoint, want it sent back at once", waited)
	}
}

func TestLimiterAIMD(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(8)
	limit := func() float64 { l.mu.Lock(); defer l.mu.Unlock(); return l.hooks["w"].limit }
	attempt := func(d time.Duration, congested bool) {
		l.acquire(context.Background(), "w")
		l.release("w", d, congested)
	}
	attempt(10*time.Millisecond, false)
	if got := limit(); got != 8 {
		t.Fatalf("limit %v after a good answer, want the cap 8", got)
	}
	attempt(10*time.Millisecond, true)
	if got := limit(); got != 4 {
		t.Fatalf("limit %v after congestion, want halved to 4", got)
	}
	// Within one round trip of the last cut a second congestion is the same
	// episode: no second cut.
	attempt(10*time.Millisecond, true)
	if got := limit(); got != 4 {
		t.Fatalf("limit %v after congestion within a round trip, want 4", got)
	}
	clock.Advance(time.Second)
	attempt(10*time.Millisecond, true)
	if got := limit(); got != 2 {
		t.Fatalf("limit %v after a later congestion, want 2", got)
	}
	for range 20 {
		clock.Advance(time.Second)
		attempt(10*time.Millisecond, true)
	}
	if got := limit(); got != 1 {
		t.Fatalf("limit %v after long congestion, want the floor 1", got)
	}
	// Additive increase: about one slot per limit's worth of good answers.
	for range 100 {
		attempt(10*time.Millisecond, false)
	}
	if got := limit(); got < 8 || got > 8 {
		t.Errorf("limit %v after 100 good answers, want back at the cap 8", got)
	}
}

func TestLimiterKeepsWithinItsShare(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(4)
	granted := 1
	var asked []int
	l.share = func(_ context.Context, _ string, demand, _ int) (int, error) {
		asked = append(asked, demand)
		return min(demand, granted), nil
	}
	l.maxWait = 10 * time.Millisecond
	if ok, _ := l.acquire(context.Background(), "w"); !ok {
		t.Fatal("the first slot was refused")
	}
	if ok, _ := l.acquire(context.Background(), "w"); ok {
		t.Fatal("a slot beyond the share of 1 was granted")
	}
	// A renewal sizes the share to the most wanted at once: 2.
	granted = 3
	l.renew(context.Background())
	if ok, _ := l.acquire(context.Background(), "w"); !ok {
		t.Fatal("the second slot of a share of 2 was refused")
	}
	if ok, _ := l.acquire(context.Background(), "w"); ok {
		t.Fatal("a third slot was granted within a share of 2, before asking again")
	}
	// Busy past its share, the webhook asks for its whole limit.
	clock.Advance(time.Second)
	if ok, _ := l.acquire(context.Background(), "w"); !ok {
		t.Fatal("the third slot was refused after asking for more")
	}
	if got := asked[len(asked)-1]; got != 4 {
		t.Errorf("asked for %d, want the whole limit 4", got)
	}
	// Idle, the share is returned at the next renewal.
	for range 3 {
		l.release("w", time.Millisecond, false)
	}
	clock.Advance(time.Second)
	l.renew(context.Background()) // the peak of this period was 3
	l.renew(context.Background()) // nothing wanted since
	if got := asked[len(asked)-1]; got != 0 {
		t.Errorf("an idle webhook asked for %d, want 0 (its share returned)", got)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.hooks["w"]; e.leased != 0 {
		t.Errorf("an idle webhook keeps a share of %d", e.leased)
	}
}

// TestLimiterHoldsRunningAttempts: a share that shrinks below the attempts
// running keeps them reserved until they end, so no other worker is granted
// their slots meanwhile.
func TestLimiterHoldsRunningAttempts(t *testing.T) {
	t.Parallel()
	l, _ := newTestLimiter(4)
	granted, holding := 4, -1
	l.share = func(_ context.Context, _ string, _, h int) (int, error) {
		holding = h
		return granted, nil
	}
	l.renew(context.Background()) // nothing in use: no call
	if holding != -1 {
		t.Fatalf("an unused webhook was leased, holding %d", holding)
	}
	for range 3 {
		if ok, _ := l.acquire(context.Background(), "w"); !ok {
			t.Fatal("a slot of the share of 4 was refused")
		}
	}
	granted = 1 // another worker's demand shrinks this one's share
	l.renew(context.Background())
	if holding != 3 {
		t.Errorf("renewed holding %d with 3 attempts running, want 3", holding)
	}
	l.release("w", time.Millisecond, false)
	l.release("w", time.Millisecond, false)
	l.renew(context.Background())
	if holding != 1 {
		t.Errorf("renewed holding %d with 1 attempt running in a share of 1, want 1", holding)
	}
	l.release("w", time.Millisecond, false)
	l.renew(context.Background()) // the peak of the last period was 1
	l.renew(context.Background())
	if holding != 0 {
		t.Errorf("an idle webhook renewed holding %d, want 0", holding)
	}
}

// TestLimiterUnderConcurrentUse runs acquires, releases that shrink and
// grow the limit, share changes and renewals at once, for the race
// detector, and checks that the cap holds throughout and that every
// running attempt is covered by the slots the ledger holds for the worker.
func TestLimiterUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	const maxInFlight = 4
	l := newLimiter(maxInFlight, time.Now)
	l.askEvery = 0 // ask for a share whenever the limit allows more
	l.maxWait = 2 * time.Millisecond
	// mu guards the test's view: the attempts running and the slots the
	// ledger (Redis, in production) holds for this worker.
	var mu sync.Mutex
	var inFlight, held, uncovered int
	var asks atomic.Int64
	l.share = func(_ context.Context, _ string, demand, holding int) (int, error) {
		grant := min(demand, 1+int(asks.Add(1)%maxInFlight)) // shares shrink and grow
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
				l.renew(context.Background())
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				ok, err := l.acquire(context.Background(), "w")
				if err != nil || !ok {
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
				l.release("w", time.Duration(g+1)*time.Microsecond, (g+i)%5 == 0)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-renewed
	if granted.Load() == 0 {
		t.Fatal("no slot was ever granted")
	}
	if peak > maxInFlight {
		t.Errorf("%d attempts ran at once, want at most %d", peak, maxInFlight)
	}
	if uncovered > 0 {
		t.Errorf("%d times an attempt started beyond the slots held for the worker", uncovered)
	}
	wantUse(t, l, "w", 0, 0, "after the last release")
}

func TestLimiterForgetsIdleWebhooks(t *testing.T) {
	t.Parallel()
	l, clock := newTestLimiter(2)
	l.acquire(context.Background(), "old")
	l.release("old", time.Millisecond, false)
	l.renew(context.Background()) // sized to the period's peak
	l.renew(context.Background()) // idle: returned
	clock.Advance(11 * time.Minute)
	l.acquire(context.Background(), "new")
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.hooks["old"]; ok {
		t.Error("an idle webhook's state was kept")
	}
}

// wantUse checks a webhook's attempts in flight and tasks waiting.
func wantUse(t *testing.T, l *limiter, id string, inFlight, waiters int, when string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.hooks[id]; e.inFlight != inFlight || len(e.waiters) != waiters {
		t.Errorf("%s: %d in flight, %d waiting; want %d and %d", when, e.inFlight, len(e.waiters), inFlight, waiters)
	}
}

func waitForWaiters(t *testing.T, l *limiter, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.hooks[id].waiters)
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
