package batch

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestItemsWaitingDuringAFlushGoTogether: while one flush runs, callers
// queue up; the next flush takes them all at once, without lingering.
func TestItemsWaitingDuringAFlushGoTogether(t *testing.T) {
	t.Parallel()
	started, release := make(chan int, 10), make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	flush := func(_ context.Context, items []int) ([]int, error) {
		started <- len(items)
		<-release
		mu.Lock()
		sizes = append(sizes, len(items))
		mu.Unlock()
		return items, nil
	}
	b := New(Config[int, int]{Flush: flush, Max: 100, Linger: time.Millisecond})
	defer b.Close()
	var wg sync.WaitGroup
	wg.Go(func() { b.Do(context.Background(), 0) })
	if n := <-started; n != 1 {
		t.Fatalf("first batch of %d, want the lone item after its linger", n)
	}
	for i := 1; i < 11; i++ {
		wg.Go(func() { b.Do(context.Background(), i) })
	}
	// Every caller is queued while the first flush is still running.
	deadline := time.Now().Add(10 * time.Second)
	for len(b.in) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want 10", len(b.in))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != 10 {
		t.Errorf("batch sizes %v, want [1 10]", sizes)
	}
}
