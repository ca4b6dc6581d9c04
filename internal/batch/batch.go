// Package batch coalesces concurrent calls into shared ones: group commit.
// Each caller hands one item to a Batcher and waits for its own result; the
// Batcher runs Flush once for all the items that arrived while the previous
// flush ran, so N concurrent callers share one round trip and one commit
// instead of paying N. It is modelled on river's BatchCompleter.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("batch: closed")

// Config sets up a Batcher.
type Config[T, R any] struct {
	// Flush handles a batch and returns one result per item, in order. An
	// error fails every item of the batch.
	Flush func(ctx context.Context, items []T) ([]R, error)
	// Max bounds a batch (default 100).
	Max int
	// Linger is how long an item that arrives alone waits for company
	// (default 1 ms): the batch goes when it is full or the linger is
	// over. Under load no one waits: items that queued up during a flush
	// go out together at once.
	Linger time.Duration
	// Timeout bounds one flush (default 30 s).
	Timeout time.Duration
}

type request[T, R any] struct {
	item  T
	reply chan result[R]
}

type result[R any] struct {
	value R
	err   error
}

// Batcher gathers items and flushes them in batches from one goroutine.
type Batcher[T, R any] struct {
	cfg Config[T, R]

	mu     sync.RWMutex // held to read while sending, to write while closing
	closed bool
	in     chan request[T, R] // buffered: callers queue during a flush
	done   chan struct{}
}

// New starts a Batcher; Close stops it.
func New[T, R any](cfg Config[T, R]) *Batcher[T, R] {
	if cfg.Max <= 0 {
		cfg.Max = 100
	}
	if cfg.Linger <= 0 {
		cfg.Linger = time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	b := &Batcher[T, R]{cfg: cfg, in: make(chan request[T, R], cfg.Max), done: make(chan struct{})}
	go b.run()
	return b
}

// Do adds item to the next batch and returns its result once that batch has
// been flushed. When ctx ends first Do returns ctx.Err(), and the item may
// still be flushed: the caller must treat its outcome as unknown.
func (b *Batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	req := request[T, R]{item: item, reply: make(chan result[R], 1)}
	var zero R
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, ErrClosed
	}
	select {
	case b.in <- req:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return zero, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.value, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close stops taking items, flushes every item already taken, and returns
// when that is done.
func (b *Batcher[T, R]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher[T, R]) run() {
	defer close(b.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for first := range b.in {
		b.flush(b.gather([]request[T, R]{first}, linger))
	}
}

// gather adds every item that is already waiting, up to Max. An item that
// found no company waits up to Linger for some.
func (b *Batcher[T, R]) gather(batch []request[T, R], linger *time.Timer) []request[T, R] {
	for ready := true; ready && len(batch) < b.cfg.Max; {
		select {
		case r, ok := <-b.in:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			ready = false
		}
	}
	if len(batch) > 1 || len(batch) == b.cfg.Max {
		return batch
	}
	linger.Reset(b.cfg.Linger)
	defer linger.Stop()
	for len(batch) < b.cfg.Max {
		select {
		case r, ok := <-b.in:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-linger.C:
			return batch
		}
	}
	return batch
}

func (b *Batcher[T, R]) flush(batch []request[T, R]) {
	items := make([]T, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	out, err := b.cfg.Flush(ctx, items)
	if err == nil && len(out) != len(items) {
		err = fmt.Errorf("batch: flush returned %d results for %d items", len(out), len(items))
	}
	for i, r := range batch {
		if err != nil {
			r.reply <- result[R]{err: err}
			continue
		}
		r.reply <- result[R]{value: out[i]}
	}
}
