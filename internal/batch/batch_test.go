package batch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/batch"
)

// recorder is a Flush that doubles its items and remembers batch sizes.
type recorder struct {
	mu    sync.Mutex
	sizes []int
	gate  chan struct{} // when set, each flush waits for it to close
	err   error
}

func (r *recorder) flush(_ context.Context, items []int) ([]int, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.sizes = append(r.sizes, len(items))
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	out := make([]int, len(items))
	for i, v := range items {
		out[i] = 2 * v
	}
	return out, nil
}

func TestEachCallerGetsItsOwnResult(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := batch.New(batch.Config[int, int]{Flush: rec.flush, Max: 16})
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			if err != nil || got != 2*i {
				errs <- fmt.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, n := range rec.sizes {
		if n > 16 {
			t.Errorf("a batch of %d items, over Max", n)
		}
		total += n
	}
	if total != 200 {
		t.Errorf("flushed %d items, want 200", total)
	}
}

func TestAFailedFlushFailsEveryItem(t *testing.T) {
	t.Parallel()
	boom := errors.New("database down")
	b := batch.New(batch.Config[int, int]{Flush: (&recorder{err: boom}).flush})
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := b.Do(context.Background(), i); !errors.Is(err, boom) {
				t.Errorf("Do(%d) error = %v, want the flush's", i, err)
			}
		})
	}
	wg.Wait()
}

func TestAShortFlushResultIsAnError(t *testing.T) {
	t.Parallel()
	b := batch.New(batch.Config[int, int]{Flush: func(context.Context, []int) ([]int, error) { return nil, nil }})
	defer b.Close()
	if _, err := b.Do(context.Background(), 1); err == nil {
		t.Error("a flush that returned no result for the item did not fail it")
	}
}

func TestCloseFlushesWhatItTook(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := batch.New(batch.Config[int, int]{Max: 4, Flush: func(_ context.Context, items []int) ([]int, error) {
		<-release
		return items, nil
	}})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if got, err := b.Do(context.Background(), i); err != nil && !errors.Is(err, batch.ErrClosed) || err == nil && got != i {
				t.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		})
	}
	go func() { time.Sleep(5 * time.Millisecond); close(release) }()
	wg.Wait()
	b.Close()
}

func TestDoAfterClose(t *testing.T) {
	t.Parallel()
	b := batch.New(batch.Config[int, int]{Flush: (&recorder{}).flush})
	if got, err := b.Do(context.Background(), 4); err != nil || got != 8 {
		t.Fatalf("Do = %d, %v", got, err)
	}
	b.Close()
	if _, err := b.Do(context.Background(), 1); !errors.Is(err, batch.ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	b.Close() // twice is fine
}

func TestDoHonoursItsContext(t *testing.T) {
	t.Parallel()
	rec := &recorder{gate: make(chan struct{})}
	b := batch.New(batch.Config[int, int]{Flush: rec.flush})
	defer func() { close(rec.gate); b.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := b.Do(ctx, 1); res <- err }()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context = %v, want context.Canceled", err)
	}
}
