package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackelio/webhooks/internal/dbtest"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/redistest"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

const eventType = "post.created"

// fakeSender records every request; SendFunc decides the result (a 204
// success when nil).
type fakeSender struct {
	SendFunc func(ctx context.Context, r sender.Request) sender.Result

	mu   sync.Mutex
	reqs []sender.Request
}

var _ jobs.Sender = (*fakeSender)(nil)

func (p *fakeSender) Send(ctx context.Context, r sender.Request) sender.Result {
	p.mu.Lock()
	p.reqs = append(p.reqs, r)
	fn := p.SendFunc
	p.mu.Unlock()
	if fn == nil {
		return sender.Result{Outcome: delivery.Success, StatusCode: 204, Duration: time.Millisecond}
	}
	return fn(ctx, r)
}

func (p *fakeSender) requests() []sender.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

// wantSent checks that p was asked to send n requests in all.
func (p *fakeSender) wantSent(tb testing.TB, n int) {
	tb.Helper()
	if got := len(p.requests()); got != n {
		tb.Errorf("sender called %d times, want %d", got, n)
	}
}

// answer is a SendFunc that always returns res.
func answer(res sender.Result) func(context.Context, sender.Request) sender.Result {
	return func(context.Context, sender.Request) sender.Result { return res }
}

// failingSender is a sender whose receiver answers every request with the
// HTTP status.
func failingSender(status int) *fakeSender {
	return &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: status, Error: fmt.Sprintf("receiver answered %d", status)})}
}

// isFailedAttempt reports whether err is what a failed attempt returns: a
// *RetryAfterError that counts as a failure.
func isFailedAttempt(err error) bool {
	var ra *jobs.RetryAfterError
	return errors.As(err, &ra) && ra.Failure
}

// fakeEnqueuer is a TaskEnqueuer whose EnqueueContextFunc decides the outcome.
type fakeEnqueuer struct {
	EnqueueContextFunc func(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

var _ jobs.TaskEnqueuer = (*fakeEnqueuer)(nil)

func (e *fakeEnqueuer) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	return e.EnqueueContextFunc(ctx, task, opts...)
}

// fixture is a workspace with one active webhook subscribed to eventType on a
// fresh database, and a second pool for looking at raw rows.
type fixture struct {
	store   *repo.Store
	db      *sqlx.DB
	ws      repo.Workspace
	hook    repo.Webhook
	metrics *metrics.Metrics
}

func setup(tb testing.TB) *fixture {
	tb.Helper()
	return setupWithURL(tb, "https://receiver.example/hook")
}

// setupOne is setup with one delivery, due now; it returns the delivery's
// id too.
func setupOne(tb testing.TB) (*fixture, string) {
	tb.Helper()
	f := setup(tb)
	return f, f.mustDelivery(tb, time.Now())
}

// setupWithURL is setup with the webhook pointing at url.
func setupWithURL(tb testing.TB, url string) *fixture {
	tb.Helper()
	store, db := dbtest.NewStoreAndDB(tb)
	f := &fixture{store: store, db: db, ws: testfactory.Workspace(tb, store, "acme"), metrics: metrics.New(prometheus.NewRegistry())}
	f.hook = f.mustWebhook(tb, url)
	return f
}

func (f *fixture) mustWebhook(tb testing.TB, url string) repo.Webhook {
	tb.Helper()
	return testfactory.Webhook(tb, f.store, f.ws.ID, repo.NewWebhook{URL: url, Events: []string{eventType}, Active: true})
}

// mustDelivery creates one event due at the given time and returns the id of
// its single delivery.
func (f *fixture) mustDelivery(tb testing.TB, due time.Time) string {
	tb.Helper()
	return testfactory.Delivery(tb, f.store, repo.NewEvent{WorkspaceID: f.ws.ID, Type: eventType, CreatedAt: due}, `{"title":"hello"}`)
}

// mustTestDelivery creates a webhook.test event for the webhook, as
// POST /v1/webhooks/{id}/test does, and returns its delivery's id.
func (f *fixture) mustTestDelivery(tb testing.TB) string {
	tb.Helper()
	ev := repo.NewEvent{ID: uuid.NewString(), WorkspaceID: f.ws.ID, Type: delivery.TestEventType, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	ev.Body = fmt.Appendf(nil, `{"id":%q,"type":%q,"data":{}}`, ev.ID, ev.Type)
	id, err := f.store.CreateTestEvent(context.Background(), ev, f.hook.ID)
	if err != nil {
		tb.Fatalf("CreateTestEvent: %v", err)
	}
	return id
}

func (f *fixture) mustGetDelivery(tb testing.TB, id string) repo.Delivery {
	tb.Helper()
	d, err := f.store.Delivery(context.Background(), f.ws.ID, id)
	if err != nil {
		tb.Fatalf("Delivery: %v", err)
	}
	return d
}

// wantStatus checks that the delivery id is in status after attempts
// attempts.
func (f *fixture) wantStatus(tb testing.TB, id string, status delivery.Status, attempts int) {
	tb.Helper()
	if d := f.mustGetDelivery(tb, id); d.Status != status || d.Attempts != attempts {
		tb.Errorf("delivery %s after %d attempts, want %s after %d", d.Status, d.Attempts, status, attempts)
	}
}

func (f *fixture) mustAttempts(tb testing.TB, id string) []repo.Attempt {
	tb.Helper()
	as, err := f.store.Attempts(context.Background(), id)
	if err != nil {
		tb.Fatalf("Attempts: %v", err)
	}
	return as
}

func mustDeliverTask(tb testing.TB, deliveryID string) *asynq.Task {
	tb.Helper()
	task, err := jobs.NewDeliverTask(deliveryID, 0, time.Time{})
	if err != nil {
		tb.Fatalf("NewDeliverTask: %v", err)
	}
	return task
}

// processOK runs the task of delivery id through h, which must end it
// without an error.
func processOK(tb testing.TB, h *jobs.DeliverHandler, id string) {
	tb.Helper()
	if err := h.ProcessTask(context.Background(), mustDeliverTask(tb, id)); err != nil {
		tb.Errorf("ProcessTask(%s) = %v, want nil", id, err)
	}
}

func mustSweepTask(tb testing.TB, grace time.Duration) *asynq.Task {
	tb.Helper()
	task, err := jobs.NewOutboxSweepTask(grace)
	if err != nil {
		tb.Fatalf("NewOutboxSweepTask: %v", err)
	}
	return task
}

// newRedis claims a private Redis database and returns its asynq connection
// options.
func newRedis(tb testing.TB) asynq.RedisConnOpt {
	tb.Helper()
	return queuetest.RedisOpt(tb, redistest.NewDB(tb))
}

// findTask returns the task insp finds at queue/id, or nil when there is
// none.
func findTask(tb testing.TB, insp *asynq.Inspector, queue, id string) *asynq.TaskInfo {
	tb.Helper()
	info, err := insp.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("GetTaskInfo(%s, %s): %v", queue, id, err)
	}
	return info
}

func setupMetrics() *metrics.Metrics { return metrics.New(prometheus.NewRegistry()) }

// holdLock holds a lock of the store's (WithSweepLock, WithRetentionLock)
// in the background until the returned release is called, as a concurrent
// run of that task would.
func holdLock(tb testing.TB, with func(context.Context, func(context.Context) error) (bool, error)) (release func()) {
	tb.Helper()
	holding, done, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ran, err := with(context.Background(), func(context.Context) error {
			close(holding)
			<-done
			return nil
		})
		if !ran || err != nil {
			tb.Errorf("holding the lock = %v, %v; want true, nil", ran, err)
		}
	}()
	select {
	case <-holding:
	case <-finished:
		tb.Fatal("the lock was not taken")
	}
	return func() { close(done); <-finished }
}
