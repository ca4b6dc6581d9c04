package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/sender"
	"github.com/trackelio/webhooks/internal/testfactory"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/repo"
)

// policy is a schedule long enough that nothing in these tests becomes due by
// itself: every run is driven by calling ProcessTask.
var policy = delivery.RetryPolicy{Schedule: []time.Duration{time.Minute, 5 * time.Minute}}

// handler is the production handler around p and pol; each set adjusts
// its config first, as the worker's configuration would.
func (f *fixture) handler(tb testing.TB, p *fakeSender, pol delivery.RetryPolicy, set ...func(*jobs.DeliverConfig)) *jobs.DeliverHandler {
	tb.Helper()
	cfg := jobs.DeliverConfig{Store: f.store, Sender: p, Policy: pol, Metrics: f.metrics, Log: discardLog}
	for _, s := range set {
		s(&cfg)
	}
	h := jobs.NewDeliverHandler(cfg)
	tb.Cleanup(h.Close)
	return h
}

// retriesVia schedules retries through e, as the worker does with Redis.
func retriesVia(e jobs.TaskEnqueuer) func(*jobs.DeliverConfig) {
	return func(c *jobs.DeliverConfig) { c.Retries = e }
}

// autoDisable sets the auto-disable policy.
func autoDisable(a delivery.AutoDisable) func(*jobs.DeliverConfig) {
	return func(c *jobs.DeliverConfig) { c.AutoDisable = a }
}

// counts is the delivery metrics of eventType, by label.
type counts struct {
	Attempts map[delivery.Outcome]float64
	Finished map[delivery.Status]float64
}

func (f *fixture) counts() counts {
	c := counts{Attempts: map[delivery.Outcome]float64{}, Finished: map[delivery.Status]float64{}}
	for _, o := range delivery.Outcomes {
		if v := testutil.ToFloat64(f.metrics.Attempts.WithLabelValues(eventType, string(o))); v != 0 {
			c.Attempts[o] = v
		}
	}
	for _, s := range delivery.Statuses {
		if v := testutil.ToFloat64(f.metrics.Finished.WithLabelValues(eventType, string(s))); v != 0 {
			c.Finished[s] = v
		}
	}
	return c
}

func (f *fixture) wantCounts(tb testing.TB, want counts) {
	tb.Helper()
	if want.Attempts == nil {
		want.Attempts = map[delivery.Outcome]float64{}
	}
	if want.Finished == nil {
		want.Finished = map[delivery.Status]float64{}
	}
	if diff := cmp.Diff(want, f.counts()); diff != "" {
		tb.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
}

func TestDeliverSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id := setupOne(t)
	work := testfactory.Work(t, f.store, id)
	p := &fakeSender{SendFunc: answer(sender.Result{
		Outcome: delivery.Success, StatusCode: 200, Body: []byte(`{"ok":true}`), Duration: 7 * time.Millisecond,
		Headers: map[string]string{"X-Request-Id": "req-1"},
	})}

	before := time.Now()
	if err := f.handler(t, p, policy).ProcessTask(ctx, mustDeliverTask(t, id)); err != nil {
		t.Fatalf("ProcessTask = %v, want nil", err)
	}

	wantReq := []sender.Request{{
		URL: f.hook.URL, Body: work.Body, Secret: f.hook.Secret, EventType: eventType, DeliveryID: id,
	}}
	if diff := cmp.Diff(wantReq, p.requests()); diff != "" {
		t.Errorf("posted requests (-want +got):\n%s", diff)
	}
	d := f.mustGetDelivery(t, id)
	if d.Status != delivery.StatusSucceeded || d.Attempts != 1 || d.StatusCode == nil || *d.StatusCode != 200 ||
		d.NextAttemptAt != nil || d.FinishedAt == nil || d.FinishedAt.Before(before.Add(-time.Second)) {
		t.Errorf("delivery = %+v, want succeeded after 1 attempt, finished now", d)
	}
	as := f.mustAttempts(t, id)
	if len(as) != 1 || string(as[0].ResponseBody) != `{"ok":true}` || as[0].DurationMS != 7 || as[0].Error != nil {
		t.Fatalf("attempts = %+v, want one 200 with the response body and 7ms", as)
	}
	var headers map[string]string
	if err := json.Unmarshal(as[0].ResponseHeaders, &headers); err != nil {
		t.Fatalf("stored response headers %q: %v", as[0].ResponseHeaders, err)
	}
	if diff := cmp.Diff(map[string]string{"X-Request-Id": "req-1"}, headers); diff != "" {
		t.Errorf("stored response headers (-want +got):\n%s", diff)
	}
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.Success: 1},
		Finished: map[delivery.Status]float64{delivery.StatusSucceeded: 1},
	})
	if n := testutil.CollectAndCount(f.metrics.DeliveryLatency); n != 1 {
		t.Errorf("delivery latency series = %d, want 1", n)
	}
}

func TestDeliverFailureSchedulesRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id := setupOne(t)
	p := &fakeSender{SendFunc: answer(sender.Result{
		Outcome: delivery.HTTPError, StatusCode: 500, Body: []byte("boom"),
		Error: "receiver answered 500 Internal Server Error", Duration: 3 * time.Millisecond,
	})}

	err := f.handler(t, p, policy).ProcessTask(ctx, mustDeliverTask(t, id))

	var ra *jobs.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("ProcessTask = %v, want a *RetryAfterError", err)
	}
	if !ra.Failure || ra.Delay != time.Minute {
		t.Errorf("RetryAfterError = %+v, want Failure with the policy's first delay 1m", ra)
	}
	// asynq keeps due times in whole seconds, so the delay is stretched to
	// end on one: never shorter than the policy's, less than a second longer.
	if d := jobs.RetryDelay(0, err, nil); !jobs.IsFailure(err) || d < time.Minute || d >= time.Minute+time.Second {
		t.Errorf("IsFailure = %v, RetryDelay = %v; want true, 1m rounded up to a whole second", jobs.IsFailure(err), d)
	}
	if errors.Is(err, asynq.SkipRetry) {
		t.Error("a retryable failure wraps SkipRetry")
	}
	d := f.mustGetDelivery(t, id)
	if d.Status != delivery.StatusPending || d.Attempts != 1 || d.FinishedAt != nil ||
		d.LastError == nil || *d.LastError != "receiver answered 500 Internal Server Error" {
		t.Errorf("delivery = %+v, want pending after 1 attempt with the error", d)
	}
	if d.NextAttemptAt == nil || d.LastAttemptAt == nil || d.NextAttemptAt.Sub(*d.LastAttemptAt) != time.Minute {
		t.Errorf("next attempt %v, last attempt %v; want exactly 1m apart", d.NextAttemptAt, d.LastAttemptAt)
	}
	f.wantCounts(t, counts{Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 1}})
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil || hook.ConsecutiveFailures != 1 || hook.FailureCount != 1 {
		t.Errorf("webhook counters = %d/%d, %v; want 1/1", hook.ConsecutiveFailures, hook.FailureCount, err)
	}
}

func TestDeliverLastAttemptFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, id := setupOne(t)
	p := &fakeSender{SendFunc: answer(sender.Result{Outcome: delivery.Timeout, Error: "timed out after 10s", Duration: 10 * time.Second})}
	// Two attempts; the second is due at once.
	h := f.handler(t, p, delivery.RetryPolicy{Schedule: []time.Duration{time.Millisecond}})

	var ra *jobs.RetryAfterError
	if err := h.ProcessTask(ctx, mustDeliverTask(t, id)); !errors.As(err, &ra) {
		t.Fatalf("attempt 1: ProcessTask = %v, want a *RetryAfterError", err)
	}
	err := h.ProcessTask(ctx, mustDeliverTask(t, id))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("attempt 2: ProcessTask = %v, want an error wrapping asynq.SkipRetry", err)
	}
	if errors.As(err, &ra) {
		t.Errorf("the last attempt's error is a *RetryAfterError: %v", err)
	}

	d := f.mustGetDelivery(t, id)
	if d.Status != delivery.StatusFailed || d.Attempts != 2 || d.NextAttemptAt != nil || d.FinishedAt == nil {
		t.Errorf("delivery = %+v, want failed after 2 attempts, finished, no next attempt", d)
	}
	p.wantSent(t, 2)
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.Timeout: 2},
		Finished: map[delivery.Status]float64{delivery.StatusFailed: 1},
	})

	// A rerun of the archived task's last run changes nothing.
	processOK(t, h, id)
	p.wantSent(t, 2)
}

// TestDeliverWithNothingToSend: a task for a finished or unknown delivery,
// or for a webhook deleted or switched off, ends without an error and
// without a request; a pending delivery to such a webhook is cancelled.
func TestDeliverWithNothingToSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// before changes the fixture around its delivery id and returns
		// the delivery the task names.
		before   func(t *testing.T, f *fixture, id string) string
		status   delivery.Status
		attempts int
		counts   counts
	}{
		{"finished delivery", func(t *testing.T, f *fixture, id string) string {
			testfactory.Record(t, f.store, repo.AttemptResult{
				DeliveryID: id, Attempt: 1, StatusCode: 200, At: time.Now(), Succeeded: true, NewStatus: delivery.StatusSucceeded,
			})
			return id
		}, delivery.StatusSucceeded, 1, counts{}},
		{"unknown delivery", func(*testing.T, *fixture, string) string {
			return uuid.NewString()
		}, delivery.StatusPending, 0, counts{}},
		// Deleting the webhook cancels its deliveries itself.
		{"deleted webhook", func(t *testing.T, f *fixture, id string) string {
			if err := f.store.DeleteWebhook(ctx, f.ws.ID, f.hook.ID); err != nil {
				t.Fatal(err)
			}
			return id
		}, delivery.StatusCancelled, 0, counts{}},
		{"inactive webhook", func(t *testing.T, f *fixture, id string) string {
			inactive := false
			if _, err := f.store.UpdateWebhook(ctx, f.ws.ID, f.hook.ID, repo.WebhookPatch{Active: &inactive}); err != nil {
				t.Fatal(err)
			}
			return id
		}, delivery.StatusCancelled, 0, counts{Finished: map[delivery.Status]float64{delivery.StatusCancelled: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, id := setupOne(t)
			p := &fakeSender{}
			processOK(t, f.handler(t, p, policy), tt.before(t, f, id))
			p.wantSent(t, 0)
			f.wantStatus(t, id, tt.status, tt.attempts)
			if n := len(f.mustAttempts(t, id)); n != tt.attempts {
				t.Errorf("attempts stored = %d, want %d", n, tt.attempts)
			}
			d := f.mustGetDelivery(t, id)
			if finished := tt.status != delivery.StatusPending; (d.FinishedAt != nil) != finished || (finished && d.NextAttemptAt != nil) {
				t.Errorf("delivery finished at %v, next attempt at %v; want finished %v, and nothing next once finished", d.FinishedAt, d.NextAttemptAt, finished)
			}
			f.wantCounts(t, tt.counts)
		})
	}
}

func TestDeliverNotYetDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	id := f.mustDelivery(t, time.Now().Add(time.Hour))
	p := &fakeSender{}

	err := f.handler(t, p, policy).ProcessTask(ctx, mustDeliverTask(t, id))

	var ra *jobs.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("ProcessTask = %v, want a *RetryAfterError", err)
	}
	if ra.Failure || jobs.IsFailure(err) {
		t.Errorf("RetryAfterError = %+v counts as a failure; waiting is not one", ra)
	}
	if ra.Delay < time.Hour-time.Minute || ra.Delay > time.Hour {
		t.Errorf("Delay = %v, want the time until the attempt is due (about 1h)", ra.Delay)
	}
	p.wantSent(t, 0)
	f.wantStatus(t, id, delivery.StatusPending, 0)
	f.wantCounts(t, counts{})
}

func TestDeliverAttemptRecordedByAnotherRun(t *testing.T) {
	t.Parallel()
	f, id := setupOne(t)
	// While this run posts, a run that lost its lease records the same
	// attempt first.
	p := &fakeSender{SendFunc: func(ctx context.Context, r sender.Request) sender.Result {
		recs, err := f.store.RecordAttempts(ctx, []repo.AttemptResult{{
			DeliveryID: r.DeliveryID, Attempt: 1, StatusCode: 200, At: time.Now(), Succeeded: true, NewStatus: delivery.StatusSucceeded,
		}})
		if err != nil || !recs[0].Stored {
			t.Errorf("concurrent RecordAttempts = %+v, %v", recs, err)
		}
		return sender.Result{Outcome: delivery.HTTPError, StatusCode: 500, Error: "receiver answered 500"}
	}}

	processOK(t, f.handler(t, p, policy), id)
	as := f.mustAttempts(t, id)
	if len(as) != 1 || as[0].StatusCode == nil || *as[0].StatusCode != 200 {
		t.Errorf("attempts = %+v, want only the other run's 200", as)
	}
	if d := f.mustGetDelivery(t, id); d.Status != delivery.StatusSucceeded {
		t.Errorf("delivery = %s, want succeeded", d.Status)
	}
	f.wantCounts(t, counts{})
}

func TestDeliverOutcomeLabels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	results := []sender.Result{
		{Outcome: delivery.HTTPError, StatusCode: 503, Error: "receiver answered 503"},
		{Outcome: delivery.Timeout, Error: "timed out after 10s"},
		{Outcome: delivery.ConnectionError, Error: "connection refused"},
		{Outcome: delivery.Success, StatusCode: 204},
	}
	for _, res := range results {
		id := f.mustDelivery(t, time.Now())
		// Errors are checked by the tests above; here only the labels matter.
		f.handler(t, &fakeSender{SendFunc: answer(res)}, policy).ProcessTask(ctx, mustDeliverTask(t, id)) //nolint:errcheck
	}
	f.wantCounts(t, counts{
		Attempts: map[delivery.Outcome]float64{delivery.HTTPError: 1, delivery.Timeout: 1, delivery.ConnectionError: 1, delivery.Success: 1},
		Finished: map[delivery.Status]float64{delivery.StatusSucceeded: 1},
	})
	// Three failures in a row, then a success: the streak is reset.
	hook, err := f.store.Webhook(ctx, f.ws.ID, f.hook.ID)
	if err != nil || hook.ConsecutiveFailures != 0 || hook.FailureCount != 3 {
		t.Errorf("webhook counters consecutive %d total %d, %v; want 0 and 3", hook.ConsecutiveFailures, hook.FailureCount, err)
	}
}

func TestDeliverStoreUnavailable(t *testing.T) {
	t.Parallel()
	f, id := setupOne(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &fakeSender{}
	// A load that fails for reasons other than "not found" is retried by
	// asynq with the short fallback backoff, not dropped.
	err := f.handler(t, p, policy).ProcessTask(ctx, mustDeliverTask(t, id))
	var ra *jobs.RetryAfterError
	if err == nil || errors.Is(err, asynq.SkipRetry) || errors.As(err, &ra) {
		t.Errorf("ProcessTask with the store unreachable = %v, want a plain retryable error", err)
	}
	p.wantSent(t, 0)
}
