package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/queuetest"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testwait"
	"github.com/trackelio/webhooks/jobs"
)

// etiquettePolicy retries twice, a minute and ten minutes after a failure,
// and waits at least three minutes after a 429 or a timeout.
var etiquettePolicy = delivery.RetryPolicy{Schedule: []time.Duration{time.Minute, 10 * time.Minute}, MinAfterThrottle: 3 * time.Minute}

func TestDeliverHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	tests := []struct {
		name string
		res  sender.Result
		want time.Duration
	}{
		{"429 with Retry-After", sender.Result{Outcome: delivery.HTTPError, StatusCode: 429, RetryAfter: 5 * time.Minute}, 5 * time.Minute},
		{"429 with a short Retry-After", sender.Result{Outcome: delivery.HTTPError, StatusCode: 429, RetryAfter: 30 * time.Second}, 3 * time.Minute},
		{"429 without Retry-After", sender.Result{Outcome: delivery.HTTPError, StatusCode: 429}, 3 * time.Minute},
		{"429 with a Retry-After past the cap", sender.Result{Outcome: delivery.HTTPError, StatusCode: 429, RetryAfter: 48 * time.Hour}, 10 * time.Minute},
		{"503 with Retry-After", sender.Result{Outcome: delivery.HTTPError, StatusCode: 503, RetryAfter: 2 * time.Minute}, 2 * time.Minute},
		{"503 without Retry-After", sender.Result{Outcome: delivery.HTTPError, StatusCode: 503}, time.Minute},
		{"500", sender.Result{Outcome: delivery.HTTPError, StatusCode: 500}, time.Minute},
		{"timeout", sender.Result{Outcome: delivery.Timeout}, 3 * time.Minute},
		{"connection refused", sender.Result{Outcome: delivery.ConnectionError}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := f.mustDelivery(t, time.Now())
			res := tt.res
			res.Error = "failed: " + tt.name
			err := f.handler(t, &fakeSender{SendFunc: answer(res)}, etiquettePolicy).ProcessTask(ctx, mustDeliverTask(t, id))
			var ra *jobs.RetryAfterError
			if !errors.As(err, &ra) || !ra.Failure {
				t.Fatalf("ProcessTask = %v, want a failed attempt's *RetryAfterError", err)
			}
			if ra.Delay != tt.want {
				t.Errorf("retry delay = %v, want %v", ra.Delay, tt.want)
			}
			d := f.mustGetDelivery(t, id)
			if d.Status != delivery.StatusPending || d.NextAttemptAt == nil || d.LastAttemptAt == nil || d.NextAttemptAt.Sub(*d.LastAttemptAt) != tt.want {
				t.Errorf("delivery %s, next attempt %v, last %v; want pending, %v after", d.Status, d.NextAttemptAt, d.LastAttemptAt, tt.want)
			}
		})
	}
}

func TestDeliverGoneDisablesWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	first, second := f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now())
	enq := &fakeEnqueuer{EnqueueContextFunc: func(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
		t.Error("a retry task was enqueued after a 410")
		return nil, nil
	}}
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: http.StatusGone, Error: "receiver answered 410 Gone"})}
	h := f.handler(t, p, etiquettePolicy, retriesVia(enq), autoDisable(delivery.AutoDisable{After: time.Hour, MinFailures: 100}))

	before := time.Now()
	err := h.ProcessTask(ctx, mustDeliverTask(t, first))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("ProcessTask after a 410 = %v, want an error wrapping asynq.SkipRetry", err)
	}
	var ra *jobs.RetryAfterError
	if errors.As(err, &ra) {
		t.Errorf("a 410 asks for a retry: %v", err)
	}
	d := f.mustGetDelivery(t, first)
	if d.Status != delivery.StatusFailed || d.Attempts != 1 || d.NextAttemptAt != nil || d.FinishedAt == nil {
		t.Errorf("delivery = %+v, want failed after its first attempt although two more were allowed", d)
	}
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.Active || hook.DisabledReason != "gone" || hook.DisabledAt == nil || hook.DisabledAt.Before(before.Add(-time.Second)) {
		t.Errorf("webhook active %v reason %v at %v; want disabled as gone now", hook.Active, hook.DisabledReason, hook.DisabledAt)
	}
	if n := testutil.ToFloat64(f.metrics.Disabled); n != 1 {
		t.Errorf("disabled webhooks metric = %v, want 1", n)
	}
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 1},
		Finished: map[delivery.Status]float64{delivery.StatusFailed: 1},
	})

	// The webhook's other pending delivery is cancelled, not attempted.
	processOK(t, h, second)
	p.wantSent(t, 1)
	f.wantStatus(t, second, delivery.StatusCancelled, 0)
}

func TestDeliverAutoDisable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ids := []string{f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now())}
	p := failingSender(500)
	h := f.handler(t, p, etiquettePolicy, autoDisable(delivery.AutoDisable{MinFailures: 2}))

	for i, id := range ids[:2] {
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !isFailedAttempt(err) {
			t.Fatalf("delivery %d: ProcessTask = %v, want a failed attempt to retry", i, err)
		}
	}
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.Active || hook.DisabledReason != "failing" || hook.ConsecutiveFailures != 2 {
		t.Errorf("webhook active %v reason %v after %d failures; want disabled as failing after 2", hook.Active, hook.DisabledReason, hook.ConsecutiveFailures)
	}
	if n := testutil.ToFloat64(f.metrics.Disabled); n != 1 {
		t.Errorf("disabled webhooks metric = %v, want 1", n)
	}
	processOK(t, h, ids[2])
	p.wantSent(t, 2)
	f.wantStatus(t, ids[2], delivery.StatusCancelled, 0)
}

// retryFixture is a fixture with an asynq client and inspector on a private
// Redis database.
type retryFixture struct {
	*fixture
	client *asynq.Client
	insp   *asynq.Inspector
}

func setupRetry(tb testing.TB) *retryFixture {
	tb.Helper()
	opt := newRedis(tb)
	return &retryFixture{fixture: setup(tb), client: queuetest.NewClient(tb, opt), insp: queuetest.NewInspector(tb, opt)}
}

func TestDeliverRetryQueueSchedulesNextTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rf := setupRetry(t)
	id := rf.mustDelivery(t, time.Now())
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.HTTPError, StatusCode: 429, RetryAfter: 5 * time.Minute, Error: "receiver answered 429"})}
	h := rf.handler(t, p, etiquettePolicy, retriesVia(rf.client))

	if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
		t.Fatalf("ProcessTask = %v, want nil: the retry is its own task", err)
	}
	d := rf.mustGetDelivery(t, id)
	if d.Status != delivery.StatusPending || d.Attempts != 1 || d.NextAttemptAt == nil || d.LastAttemptAt == nil || d.NextAttemptAt.Sub(*d.LastAttemptAt) != 5*time.Minute {
		t.Fatalf("delivery = %+v, want pending after 1 attempt, next in 5m", d)
	}
	info := findTask(t, rf.insp, jobs.QueueRetries, id+":2")
	if info == nil {
		t.Fatalf("no task %s:2 on the %s queue", id, jobs.QueueRetries)
	}
	var payload jobs.DeliverPayload
	if err := json.Unmarshal(info.Payload, &payload); err != nil || payload.DeliveryID != id || info.Type != jobs.TypeDeliver {
		t.Errorf("retry task type %s payload %s, want %s for the delivery", info.Type, info.Payload, jobs.TypeDeliver)
	}
	next := *d.NextAttemptAt
	if info.State != asynq.TaskStateScheduled || info.NextProcessAt.Before(next) || info.NextProcessAt.After(next.Add(time.Second)) {
		t.Errorf("retry task %v at %v, want scheduled at the delivery's next attempt %v (rounded up to a second)", info.State, info.NextProcessAt, next)
	}
	if info := findTask(t, rf.insp, jobs.QueueDeliveries, id); info != nil {
		t.Errorf("a task under the bare id is on the deliveries queue: %+v", info)
	}
	rf.wantCounts(t, counts{Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 1}})
}

// TestDeliverRetryQueueChain runs each attempt's task in turn until the
// attempts run out: every failure but the last schedules exactly the next
// task, and the last schedules none.
func TestDeliverRetryQueueChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rf := setupRetry(t)
	id := rf.mustDelivery(t, time.Now())
	p := failingSender(500)
	pol := delivery.RetryPolicy{Schedule: []time.Duration{time.Millisecond, time.Millisecond}}
	h := rf.handler(t, p, pol, retriesVia(rf.client))

	for attempts := range 3 {
		task, err := jobs.NewDeliverTask(id, attempts, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if attempts > 0 {
			d := rf.mustGetDelivery(t, id)
			testwait.For(t, 5*time.Second, "the retry to be due", func() bool { return d.NextAttemptAt == nil || time.Now().After(*d.NextAttemptAt) })
		}
		err = h.ProcessTask(ctx, task)
		last := attempts == 2
		if last != errors.Is(err, asynq.SkipRetry) || (!last && err != nil) {
			t.Fatalf("attempt %d: ProcessTask = %v", attempts+1, err)
		}
		next := fmt.Sprintf("%s:%d", id, attempts+2)
		if got := findTask(t, rf.insp, jobs.QueueRetries, next) != nil; got != !last {
			t.Errorf("after attempt %d: task %s present = %v, want %v", attempts+1, next, got, !last)
		}
	}
	rf.wantStatus(t, id, delivery.StatusFailed, 3)
	info, err := rf.insp.GetQueueInfo(jobs.QueueRetries)
	if err != nil || info.Size != 2 {
		t.Errorf("retries queue holds %v tasks, %v; want the two retry tasks", info, err)
	}
}

func TestDeliverRetryQueueEnqueueErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	p := failingSender(500)

	t.Run("a task already there is fine", func(t *testing.T) {
		t.Parallel()
		id := f.mustDelivery(t, time.Now())
		var mu sync.Mutex
		var got []string
		enq := &fakeEnqueuer{EnqueueContextFunc: func(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
			mu.Lock()
			got = append(got, string(task.Payload()))
			mu.Unlock()
			return nil, fmt.Errorf("enqueue: %w", asynq.ErrTaskIDConflict)
		}}
		processOK(t, f.handler(t, p, etiquettePolicy, retriesVia(enq)), id)
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]string{fmt.Sprintf(`{"delivery_id":%q}`, id)}, got); diff != "" {
			t.Errorf("enqueued payloads (-want +got):\n%s", diff)
		}
	})

	t.Run("Redis down keeps the retry on this task", func(t *testing.T) {
		t.Parallel()
		id := f.mustDelivery(t, time.Now())
		enq := &fakeEnqueuer{EnqueueContextFunc: func(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
			return nil, errors.New("dial tcp: connection refused")
		}}
		err := f.handler(t, p, etiquettePolicy, retriesVia(enq)).ProcessTask(ctx, mustDeliverTask(t, id))
		var ra *jobs.RetryAfterError
		if !errors.As(err, &ra) || !ra.Failure || ra.Delay != time.Minute {
			t.Errorf("ProcessTask = %v, want a failed attempt retried by this task in 1m", err)
		}
		f.wantStatus(t, id, delivery.StatusPending, 1)
	})

	t.Run("a success enqueues nothing", func(t *testing.T) {
		t.Parallel()
		id := f.mustDelivery(t, time.Now())
		enq := &fakeEnqueuer{EnqueueContextFunc: func(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
			t.Error("a task was enqueued after a success")
			return nil, nil
		}}
		processOK(t, f.handler(t, &fakeSender{}, etiquettePolicy, retriesVia(enq)), id)
	})
}
