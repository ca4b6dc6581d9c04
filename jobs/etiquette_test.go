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
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/sender"
)

func TestTaskLocation(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tests := []struct {
		attempts    int
		queue, task string
	}{
		{0, jobs.QueueDeliveries, id},
		{1, jobs.QueueRetries, id + ":2"},
		{2, jobs.QueueRetries, id + ":3"},
		{9, jobs.QueueRetries, id + ":10"},
	}
	for _, tt := range tests {
		queue, task := jobs.TaskLocation(id, tt.attempts)
		if queue != tt.queue || task != tt.task {
			t.Errorf("TaskLocation(id, %d) = %s, %s; want %s, %s", tt.attempts, queue, task, tt.queue, tt.task)
		}
	}
}

// TestNewDeliverTask enqueues the tasks NewDeliverTask builds and reads them
// back with the Inspector.
func TestNewDeliverTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opt := newRedis(t)
	client, insp := newClient(t, opt), newInspector(t, opt)
	id := uuid.NewString()
	later := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(300 * time.Millisecond)

	tests := []struct {
		name      string
		attempts  int
		processAt time.Time
		queue     string
		taskID    string
		state     asynq.TaskState
	}{
		{"first attempt, due now", 0, time.Time{}, jobs.QueueDeliveries, id, asynq.TaskStatePending},
		{"second attempt, later", 1, later, jobs.QueueRetries, id + ":2", asynq.TaskStateScheduled},
		{"fourth attempt, later", 3, later, jobs.QueueRetries, id + ":4", asynq.TaskStateScheduled},
	}
	for _, tt := range tests {
		task, err := jobs.NewDeliverTask(id, tt.attempts, tt.processAt)
		if err != nil {
			t.Fatalf("%s: NewDeliverTask: %v", tt.name, err)
		}
		if task.Type() != jobs.TypeDeliver {
			t.Errorf("%s: type %q, want %q", tt.name, task.Type(), jobs.TypeDeliver)
		}
		var p jobs.DeliverPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil || p.DeliveryID != id {
			t.Errorf("%s: payload %s, %v; want the delivery id only", tt.name, task.Payload(), err)
		}
		if _, err := client.EnqueueContext(ctx, task); err != nil {
			t.Fatalf("%s: enqueue: %v", tt.name, err)
		}
		info, err := insp.GetTaskInfo(tt.queue, tt.taskID)
		if err != nil {
			t.Fatalf("%s: GetTaskInfo(%s, %s): %v", tt.name, tt.queue, tt.taskID, err)
		}
		if info.State != tt.state || info.Type != jobs.TypeDeliver {
			t.Errorf("%s: task state %v type %s, want %v %s", tt.name, info.State, info.Type, tt.state, jobs.TypeDeliver)
		}
		if info.MaxRetry < 1000 || info.Timeout <= 0 {
			t.Errorf("%s: MaxRetry %d Timeout %v; want a large retry backstop and a timeout", tt.name, info.MaxRetry, info.Timeout)
		}
		if !tt.processAt.IsZero() {
			// asynq keeps whole seconds; the task must never come early.
			if info.NextProcessAt.Before(tt.processAt) || info.NextProcessAt.After(tt.processAt.Add(time.Second)) {
				t.Errorf("%s: NextProcessAt %v, want %v rounded up to a second", tt.name, info.NextProcessAt, tt.processAt)
			}
		}
		// The same attempt's task is one task.
		if _, err := client.EnqueueContext(ctx, task); !errors.Is(err, asynq.ErrTaskIDConflict) {
			t.Errorf("%s: enqueueing it again = %v, want ErrTaskIDConflict", tt.name, err)
		}
	}
}

func TestRetryPolicyCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schedule []time.Duration
		want     time.Duration
	}{
		{[]time.Duration{time.Second}, time.Second},
		{[]time.Duration{time.Minute, 10 * time.Minute, 5 * time.Minute}, 10 * time.Minute},
		{[]time.Duration{24 * time.Hour, time.Hour}, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := (jobs.RetryPolicy{Schedule: tt.schedule}).Cap(); got != tt.want {
			t.Errorf("Cap of %v = %v, want %v", tt.schedule, got, tt.want)
		}
	}
	def, err := jobs.ParseSchedule(jobs.DefaultSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if got := (jobs.RetryPolicy{Schedule: def}).Cap(); got != 24*time.Hour {
		t.Errorf("Cap of the default schedule = %v, want 24h", got)
	}
}

func TestRetryPolicyAfter(t *testing.T) {
	t.Parallel()
	p := jobs.RetryPolicy{Schedule: []time.Duration{time.Minute, 10 * time.Minute, 5 * time.Minute}, MinAfterThrottle: 3 * time.Minute}
	tests := []struct {
		name       string
		n          int
		retryAfter time.Duration
		throttled  bool
		want       time.Duration
	}{
		{"schedule alone", 1, 0, false, time.Minute},
		{"schedule alone, later attempt", 2, 0, false, 10 * time.Minute},
		{"Retry-After shorter than the schedule", 2, time.Minute, false, 10 * time.Minute},
		{"Retry-After longer than the schedule", 1, 7 * time.Minute, false, 7 * time.Minute},
		{"Retry-After capped at the longest delay", 1, time.Hour, false, 10 * time.Minute},
		{"Retry-After exactly the cap", 1, 10 * time.Minute, false, 10 * time.Minute},
		{"throttled waits at least MinAfterThrottle", 1, 0, true, 3 * time.Minute},
		{"throttled with a longer Retry-After", 1, 4 * time.Minute, true, 4 * time.Minute},
		{"throttled with a shorter Retry-After", 1, 30 * time.Second, true, 3 * time.Minute},
		{"throttled on a longer scheduled delay", 2, 0, true, 10 * time.Minute},
		{"MinAfterThrottle ignored unless throttled", 1, 30 * time.Second, false, time.Minute},
	}
	for _, tt := range tests {
		if got := p.After(tt.n, tt.retryAfter, tt.throttled); got != tt.want {
			t.Errorf("%s: After(%d, %v, %v) = %v, want %v", tt.name, tt.n, tt.retryAfter, tt.throttled, got, tt.want)
		}
	}
}

// etiquettePolicy retries twice, a minute and ten minutes after a failure,
// and waits at least three minutes after a 429 or a timeout.
var etiquettePolicy = jobs.RetryPolicy{Schedule: []time.Duration{time.Minute, 10 * time.Minute}, MinAfterThrottle: 3 * time.Minute}

func TestDeliverHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	tests := []struct {
		name string
		res  sender.Result
		want time.Duration
	}{
		{"429 with Retry-After", sender.Result{Outcome: sender.HTTPError, StatusCode: 429, RetryAfter: 5 * time.Minute}, 5 * time.Minute},
		{"429 with a short Retry-After", sender.Result{Outcome: sender.HTTPError, StatusCode: 429, RetryAfter: 30 * time.Second}, 3 * time.Minute},
		{"429 without Retry-After", sender.Result{Outcome: sender.HTTPError, StatusCode: 429}, 3 * time.Minute},
		{"429 with a Retry-After past the cap", sender.Result{Outcome: sender.HTTPError, StatusCode: 429, RetryAfter: 48 * time.Hour}, 10 * time.Minute},
		{"503 with Retry-After", sender.Result{Outcome: sender.HTTPError, StatusCode: 503, RetryAfter: 2 * time.Minute}, 2 * time.Minute},
		{"503 without Retry-After", sender.Result{Outcome: sender.HTTPError, StatusCode: 503}, time.Minute},
		{"500", sender.Result{Outcome: sender.HTTPError, StatusCode: 500}, time.Minute},
		{"timeout", sender.Result{Outcome: sender.Timeout}, 3 * time.Minute},
		{"connection refused", sender.Result{Outcome: sender.ConnectionError}, time.Minute},
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
			if d.Status != repo.StatusPending || !d.NextAttemptAt.Valid || d.NextAttemptAt.Time.Sub(d.LastAttemptAt.Time) != tt.want {
				t.Errorf("delivery %s, next attempt %v after the last; want pending, %v after", d.Status, d.NextAttemptAt.Time.Sub(d.LastAttemptAt.Time), tt.want)
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
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: sender.HTTPError, StatusCode: http.StatusGone, Error: "receiver answered 410 Gone"})}
	h := f.handler(t, p, etiquettePolicy, retriesVia(enq), autoDisable(repo.AutoDisable{After: time.Hour, MinFailures: 100}))

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
	if d.Status != repo.StatusFailed || d.Attempts != 1 || d.NextAttemptAt.Valid || !d.FinishedAt.Valid {
		t.Errorf("delivery = %+v, want failed after its first attempt although two more were allowed", d)
	}
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.Active || hook.DisabledReason.String != "gone" || !hook.DisabledAt.Valid || hook.DisabledAt.Time.Before(before.Add(-time.Second)) {
		t.Errorf("webhook active %v reason %v at %v; want disabled as gone now", hook.Active, hook.DisabledReason, hook.DisabledAt)
	}
	if n := testutil.ToFloat64(f.metrics.Disabled); n != 1 {
		t.Errorf("disabled webhooks metric = %v, want 1", n)
	}
	f.wantCounts(t, counts{
		Attempts: map[sender.Outcome]float64{sender.HTTPError: 1},
		Finished: map[string]float64{repo.StatusFailed: 1},
	})

	// The webhook's other pending delivery is cancelled, not attempted.
	if err := h.ProcessTask(ctx, mustDeliverTask(t, second)); err != nil {
		t.Errorf("ProcessTask for the disabled webhook = %v, want nil", err)
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("poster called %d times, want 1", n)
	}
	if d := f.mustGetDelivery(t, second); d.Status != repo.StatusCancelled || d.Attempts != 0 {
		t.Errorf("other delivery %s after %d attempts, want cancelled after 0", d.Status, d.Attempts)
	}
}

func TestDeliverAutoDisable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	ids := []string{f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now()), f.mustDelivery(t, time.Now())}
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: sender.HTTPError, StatusCode: 500, Error: "receiver answered 500"})}
	h := f.handler(t, p, etiquettePolicy, autoDisable(repo.AutoDisable{MinFailures: 2}))

	for i, id := range ids[:2] {
		var ra *jobs.RetryAfterError
		if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !errors.As(err, &ra) || !ra.Failure {
			t.Fatalf("delivery %d: ProcessTask = %v, want a failed attempt to retry", i, err)
		}
	}
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.Active || hook.DisabledReason.String != "failing" || hook.ConsecutiveFailures != 2 {
		t.Errorf("webhook active %v reason %v after %d failures; want disabled as failing after 2", hook.Active, hook.DisabledReason, hook.ConsecutiveFailures)
	}
	if n := testutil.ToFloat64(f.metrics.Disabled); n != 1 {
		t.Errorf("disabled webhooks metric = %v, want 1", n)
	}
	if err := h.ProcessTask(ctx, mustDeliverTask(t, ids[2])); err != nil {
		t.Errorf("ProcessTask for the disabled webhook = %v, want nil", err)
	}
	if n := len(p.requests()); n != 2 {
		t.Errorf("poster called %d times, want 2", n)
	}
	if d := f.mustGetDelivery(t, ids[2]); d.Status != repo.StatusCancelled {
		t.Errorf("third delivery %s, want cancelled", d.Status)
	}
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
	return &retryFixture{fixture: setup(tb), client: newClient(tb, opt), insp: newInspector(tb, opt)}
}

// task returns the task stored at queue/id, or nil when there is none.
func (rf *retryFixture) task(tb testing.TB, queue, id string) *asynq.TaskInfo {
	tb.Helper()
	info, err := rf.insp.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("GetTaskInfo(%s, %s): %v", queue, id, err)
	}
	return info
}

func TestDeliverRetryQueueSchedulesNextTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rf := setupRetry(t)
	id := rf.mustDelivery(t, time.Now())
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: sender.HTTPError, StatusCode: 429, RetryAfter: 5 * time.Minute, Error: "receiver answered 429"})}
	h := rf.handler(t, p, etiquettePolicy, retriesVia(rf.client))

	if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
		t.Fatalf("ProcessTask = %v, want nil: the retry is its own task", err)
	}
	d := rf.mustGetDelivery(t, id)
	if d.Status != repo.StatusPending || d.Attempts != 1 || d.NextAttemptAt.Time.Sub(d.LastAttemptAt.Time) != 5*time.Minute {
		t.Fatalf("delivery = %+v, want pending after 1 attempt, next in 5m", d)
	}
	info := rf.task(t, jobs.QueueRetries, id+":2")
	if info == nil {
		t.Fatalf("no task %s:2 on the %s queue", id, jobs.QueueRetries)
	}
	var payload jobs.DeliverPayload
	if err := json.Unmarshal(info.Payload, &payload); err != nil || payload.DeliveryID != id || info.Type != jobs.TypeDeliver {
		t.Errorf("retry task type %s payload %s, want %s for the delivery", info.Type, info.Payload, jobs.TypeDeliver)
	}
	next := d.NextAttemptAt.Time
	if info.State != asynq.TaskStateScheduled || info.NextProcessAt.Before(next) || info.NextProcessAt.After(next.Add(time.Second)) {
		t.Errorf("retry task %v at %v, want scheduled at the delivery's next attempt %v (rounded up to a second)", info.State, info.NextProcessAt, next)
	}
	if info := rf.task(t, jobs.QueueDeliveries, id); info != nil {
		t.Errorf("a task under the bare id is on the deliveries queue: %+v", info)
	}
	rf.wantCounts(t, counts{Attempts: map[sender.Outcome]float64{sender.HTTPError: 1}})
}

// TestDeliverRetryQueueChain runs each attempt's task in turn until the
// attempts run out: every failure but the last schedules exactly the next
// task, and the last schedules none.
func TestDeliverRetryQueueChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rf := setupRetry(t)
	id := rf.mustDelivery(t, time.Now())
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: sender.HTTPError, StatusCode: 500, Error: "receiver answered 500"})}
	pol := jobs.RetryPolicy{Schedule: []time.Duration{time.Millisecond, time.Millisecond}}
	h := rf.handler(t, p, pol, retriesVia(rf.client))

	for attempts := range 3 {
		task, err := jobs.NewDeliverTask(id, attempts, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if attempts > 0 {
			d := rf.mustGetDelivery(t, id)
			waitFor(t, 5*time.Second, "the retry to be due", func() bool { return time.Now().After(d.NextAttemptAt.Time) })
		}
		err = h.ProcessTask(ctx, task)
		last := attempts == 2
		if last != errors.Is(err, asynq.SkipRetry) || (!last && err != nil) {
			t.Fatalf("attempt %d: ProcessTask = %v", attempts+1, err)
		}
		next := fmt.Sprintf("%s:%d", id, attempts+2)
		if got := rf.task(t, jobs.QueueRetries, next) != nil; got != !last {
			t.Errorf("after attempt %d: task %s present = %v, want %v", attempts+1, next, got, !last)
		}
	}
	if d := rf.mustGetDelivery(t, id); d.Status != repo.StatusFailed || d.Attempts != 3 {
		t.Errorf("delivery %s after %d attempts, want failed after 3", d.Status, d.Attempts)
	}
	info, err := rf.insp.GetQueueInfo(jobs.QueueRetries)
	if err != nil || info.Size != 2 {
		t.Errorf("retries queue holds %v tasks, %v; want the two retry tasks", info, err)
	}
}

func TestDeliverRetryQueueEnqueueErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: sender.HTTPError, StatusCode: 500, Error: "receiver answered 500"})}

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
		if err := f.handler(t, p, etiquettePolicy, retriesVia(enq)).ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
			t.Errorf("ProcessTask = %v, want nil", err)
		}
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
		if d := f.mustGetDelivery(t, id); d.Status != repo.StatusPending || d.Attempts != 1 {
			t.Errorf("delivery %s after %d attempts, want pending after 1", d.Status, d.Attempts)
		}
	})

	t.Run("a success enqueues nothing", func(t *testing.T) {
		t.Parallel()
		id := f.mustDelivery(t, time.Now())
		enq := &fakeEnqueuer{EnqueueContextFunc: func(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
			t.Error("a task was enqueued after a success")
			return nil, nil
		}}
		if err := f.handler(t, &fakeSender{}, etiquettePolicy, retriesVia(enq)).ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
			t.Errorf("ProcessTask = %v, want nil", err)
		}
	})
}

// TestSweepUsesTaskLocation: a delivery that has made attempts has its task
// on the retries queue under "<id>:<attempt>", and the sweep looks there.
func TestSweepUsesTaskLocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sf := setupSweep(t)
	hourAgo := time.Now().Add(-time.Hour)
	// retrying makes a delivery that failed attempts times and was due an hour ago.
	retrying := func(attempts int) string {
		id := sf.mustDelivery(t, hourAgo.Add(-time.Hour))
		for n := 1; n <= attempts; n++ {
			rec, err := sf.store.RecordAttempt(ctx, repo.AttemptResult{
				DeliveryID: id, Attempt: n, StatusCode: 500, Error: "boom", At: hourAgo.Add(-time.Hour),
				NewStatus: repo.StatusPending, NextAttemptAt: hourAgo,
			})
			if err != nil || !rec.Stored {
				t.Fatalf("RecordAttempt: %+v, %v", rec, err)
			}
		}
		return id
	}
	missing := retrying(1)
	scheduled := retrying(2)
	archived := retrying(1)

	enqueue := func(id string, attempts int, at time.Time) {
		task, err := jobs.NewDeliverTask(id, attempts, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sf.client.EnqueueContext(ctx, task); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}
	enqueue(scheduled, 2, time.Now().Add(time.Hour))
	enqueue(archived, 1, time.Time{})
	if err := sf.insp.ArchiveTask(jobs.QueueRetries, archived+":2"); err != nil {
		t.Fatalf("ArchiveTask: %v", err)
	}

	sf.sweep(t, time.Minute)

	state := func(queue, id string) string {
		info, err := sf.insp.GetTaskInfo(queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return "absent"
		}
		if err != nil {
			t.Fatalf("GetTaskInfo(%s, %s): %v", queue, id, err)
		}
		return info.State.String()
	}
	got := map[string]string{
		"missing on retries":     state(jobs.QueueRetries, missing+":2"),
		"missing on deliveries":  state(jobs.QueueDeliveries, missing),
		"scheduled on retries":   state(jobs.QueueRetries, scheduled+":3"),
		"archived on retries":    state(jobs.QueueRetries, archived+":2"),
		"archived on deliveries": state(jobs.QueueDeliveries, archived),
	}
	want := map[string]string{
		"missing on retries":     "pending",
		"missing on deliveries":  "absent",
		"scheduled on retries":   "scheduled",
		"archived on retries":    "pending",
		"archived on deliveries": "absent",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task states after the sweep (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(sf.metrics.OutboxRequeued); n != 2 {
		t.Errorf("outbox requeued = %v, want 2 (the missing and the archived task)", n)
	}
}
