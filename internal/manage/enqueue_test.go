package manage

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// recording is an Enqueuer that records ids and holds the ones in hold
// until release is closed.
type recording struct {
	mu      sync.Mutex
	ids     []string
	hold    map[string]chan struct{} // closed when the held id's enqueue starts
	release chan struct{}
}

func (r *recording) EnqueueNotice(context.Context, string) error { return nil }

func (r *recording) EnqueueDelivery(_ context.Context, id string) error {
	if started, ok := r.hold[id]; ok {
		close(started)
		<-r.release
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return nil
}

// TestEnqueueSoon: enqueues run in the background and Wait waits for them;
// once the backlog is full, the caller enqueues itself before returning.
func TestEnqueueSoon(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	enq := &recording{hold: map[string]chan struct{}{"a": started}, release: make(chan struct{})}
	s := New(Config{Enqueuer: enq})
	s.soon = make(chan struct{}, 1) // a backlog of one

	s.enqueueSoon(context.Background(), []string{"a"}) // returns while "a" is held
	<-started
	inline := make(chan struct{})
	go func() {
		s.enqueueSoon(context.Background(), []string{"b"}) // the backlog is full
		close(inline)
	}()
	select {
	case <-inline:
	case <-time.After(5 * time.Second):
		t.Fatal("with the backlog full, enqueueSoon did not enqueue in the caller")
	}
	enq.mu.Lock()
	got := slices.Clone(enq.ids)
	enq.mu.Unlock()
	if !slices.Equal(got, []string{"b"}) {
		t.Errorf("enqueued %v before the held one ended, want [b]", got)
	}
	close(enq.release)
	s.Wait()
	if !slices.Equal(enq.ids, []string{"b", "a"}) {
		t.Errorf("enqueued %v after Wait, want [b a]", enq.ids)
	}
}
