// Package queuetest provides Recorder, the manage.Enqueuer of tests that
// look at what was enqueued instead of delivering it, and the asynq client
// and inspector of tests that look at the real queues in Redis.
package queuetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/repo"
)

// Recorder is the manage.Enqueuer of tests of the api, the client and the
// dashboard: it records every delivery and notice id handed to it instead
// of queueing.
// Its zero value is ready to use.
type Recorder struct {
	mu      sync.Mutex
	ids     []string
	notices []string
	then    func(ctx context.Context, deliveryID string) error
}

// Then sets what runs after each id is recorded and decides the error
// returned (nil: none): a test can make it fail like Redis, or record an
// attempt as the worker would.
func (f *Recorder) Then(fn func(ctx context.Context, deliveryID string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.then = fn
}

// WorkerRecords makes the queue act as a worker that makes each enqueued
// delivery's first attempt at once and records result for it in store.
func (f *Recorder) WorkerRecords(tb testing.TB, store *repo.Store, result repo.AttemptResult) {
	tb.Helper()
	f.Then(func(ctx context.Context, deliveryID string) error {
		r := result
		r.DeliveryID, r.Attempt, r.At = deliveryID, 1, time.Now()
		if recs, err := store.RecordAttempts(ctx, []repo.AttemptResult{r}); err != nil || !recs[0].Stored {
			tb.Errorf("queuetest: the worker's RecordAttempts = %+v, %v", recs, err)
		}
		return nil
	})
}

var _ manage.Enqueuer = (*Recorder)(nil)

// EnqueueDelivery records the id.
func (f *Recorder) EnqueueDelivery(ctx context.Context, deliveryID string) error {
	f.mu.Lock()
	f.ids = append(f.ids, deliveryID)
	fn := f.then
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, deliveryID)
	}
	return nil
}

// EnqueueNotice records the notice's id.
func (f *Recorder) EnqueueNotice(_ context.Context, noticeID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices = append(f.notices, noticeID)
	return nil
}

// Notices returns the notice ids enqueued so far, in order.
func (f *Recorder) Notices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notices)
}

// Enqueued returns the ids enqueued so far, in order.
func (f *Recorder) Enqueued() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}
